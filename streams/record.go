package streams

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is one record flowing through a topology: a key, a value, a
// timestamp and headers (Kafka's org.apache.kafka.streams.processor.api.Record).
//
// A record read with a null key or value (nil bytes, such as a tombstone)
// carries the zero K or V and reports IsNullKey or IsNullValue; a sink
// writes such a key or value as null again. Operators that compute a new
// key or value (Map, MapValues, ...) produce non-null ones.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp time.Time
	// Headers are the record's headers. Processors that change them
	// should copy the slice first: it may be shared with other
	// records.
	Headers []kgo.RecordHeader

	nullKey, nullValue bool
}

// IsNullKey reports whether the key is null.
func (r Record[K, V]) IsNullKey() bool { return r.nullKey }

// IsNullValue reports whether the value is null: for a table, a delete.
func (r Record[K, V]) IsNullValue() bool { return r.nullValue }

// WithKey returns the record with key k (not null).
func (r Record[K, V]) WithKey(k K) Record[K, V] {
	r.Key, r.nullKey = k, false
	return r
}

// WithValue returns the record with value v (not null).
func (r Record[K, V]) WithValue(v V) Record[K, V] {
	r.Value, r.nullValue = v, false
	return r
}

// WithNullValue returns the record with a null value (a tombstone).
func (r Record[K, V]) WithNullValue() Record[K, V] {
	var zero V
	r.Value, r.nullValue = zero, true
	return r
}

// WithTimestamp returns the record with timestamp ts.
func (r Record[K, V]) WithTimestamp(ts time.Time) Record[K, V] {
	r.Timestamp = ts
	return r
}

// WithHeaders returns the record with headers h.
func (r Record[K, V]) WithHeaders(h []kgo.RecordHeader) Record[K, V] {
	r.Headers = h
	return r
}

// Tombstone returns a record with key and a null value.
func Tombstone[K, V any](key K, ts time.Time) Record[K, V] {
	return Record[K, V]{Key: key, Timestamp: ts, nullValue: true}
}

// KeyValue is a key and a value (Kafka's KeyValue), as returned by FlatMap
// mappers and by the test driver.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// Pair returns KeyValue{k, v}.
func Pair[K, V any](k K, v V) KeyValue[K, V] { return KeyValue[K, V]{Key: k, Value: v} }

// TaskID names a task: the sub-topology it runs and the partition number
// of its input topics. It prints as Kafka prints it: "1_3".
type TaskID struct {
	Subtopology int
	Partition   int32
}

// String returns "subtopology_partition".
func (id TaskID) String() string { return fmt.Sprintf("%d_%d", id.Subtopology, id.Partition) }

// ParseTaskID parses the form String returns.
func ParseTaskID(s string) (TaskID, error) {
	a, b, ok := strings.Cut(s, "_")
	if !ok {
		return TaskID{}, fmt.Errorf("streams: malformed task id %q", s)
	}
	sub, err1 := strconv.Atoi(a)
	p, err2 := strconv.ParseInt(b, 10, 32)
	if err1 != nil || err2 != nil || sub < 0 || p < 0 {
		return TaskID{}, fmt.Errorf("streams: malformed task id %q", s)
	}
	return TaskID{Subtopology: sub, Partition: int32(p)}, nil
}

func (id TaskID) less(o TaskID) bool {
	if id.Subtopology != o.Subtopology {
		return id.Subtopology < o.Subtopology
	}
	return id.Partition < o.Partition
}

// RecordMetadata locates the input record being processed (Kafka's
// RecordMetadata).
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
}

// change is what table nodes pass to each other: a key's new and old
// value (Kafka's Change). A missing value is a delete / not present.
type change[V any] struct {
	newValue, oldValue V
	hasNew, hasOld     bool
}
