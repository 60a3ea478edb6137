package connect

import (
	"fmt"
	"time"
)

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String formats tp as Kafka does: "topic-partition".
func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// Header is one record header with its Connect schema and value.
type Header struct {
	Key    string
	Schema *Schema
	Value  any
}

// Headers are a record's headers, in order; keys may repeat.
type Headers []Header

// Add appends a header.
func (h *Headers) Add(key string, schema *Schema, value any) {
	*h = append(*h, Header{Key: key, Schema: schema, Value: value})
}

// AddString appends a STRING header.
func (h *Headers) AddString(key, value string) { h.Add(key, StringSchema, value) }

// Last returns the last header with key, if any.
func (h Headers) Last(key string) (Header, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Key == key {
			return h[i], true
		}
	}
	return Header{}, false
}

// Record is the part common to source and sink records (Kafka's
// ConnectRecord): where the record goes or came from and its key, value
// and headers with their schemas.
type Record struct {
	// Topic is the Kafka topic.
	Topic string
	// KafkaPartition is the partition, or nil to let the producer's
	// partitioner choose (source records).
	KafkaPartition *int32
	// KeySchema and Key are the record's key; both may be nil.
	KeySchema *Schema
	Key       any
	// ValueSchema and Value are the record's value; a nil Value with a
	// nil ValueSchema is a tombstone.
	ValueSchema *Schema
	Value       any
	// Timestamp is the record's timestamp; the zero time means none (the
	// producer stamps the send time).
	Timestamp time.Time
	// Headers are the record's headers.
	Headers Headers
}

// Partition returns a pointer to p, for Record.KafkaPartition.
func Partition(p int32) *int32 { return &p }

// SourceRecord is a record a SourceTask produces (Kafka's SourceRecord):
// a Record plus where it came from in the source system.
//
// SourcePartition identifies a stream of the source (a file, a table)
// and SourceOffset the position within it just after this record. Both
// are small maps of string keys to primitive values (strings, integers,
// floats, booleans); the worker stores the latest offset of each source
// partition once the record is written to Kafka, and hands it back
// through SourceTaskContext.OffsetStorageReader after a restart.
// Integers come back as int64 and floats as float64.
type SourceRecord struct {
	SourcePartition map[string]any
	SourceOffset    map[string]any
	Record
}

// TimestampType says what a Kafka record's timestamp means.
type TimestampType int8

// The timestamp types (Kafka's TimestampType).
const (
	NoTimestampType TimestampType = iota - 1
	CreateTime
	LogAppendTime
)

// String returns Kafka's names: "NoTimestampType", "CreateTime",
// "LogAppendTime".
func (t TimestampType) String() string {
	switch t {
	case CreateTime:
		return "CreateTime"
	case LogAppendTime:
		return "LogAppendTime"
	}
	return "NoTimestampType"
}

// SinkRecord is a record a SinkTask receives (Kafka's SinkRecord): a
// Record read from Kafka, with its offset.
type SinkRecord struct {
	Record
	// KafkaOffset is the record's offset in its partition.
	KafkaOffset int64
	// TimestampType says what Timestamp means.
	TimestampType TimestampType
	// OriginalTopic, OriginalKafkaPartition and OriginalKafkaOffset are
	// where the record was read from, even if a transformation changed
	// Topic or KafkaPartition (KIP-793).
	OriginalTopic          string
	OriginalKafkaPartition int32
	OriginalKafkaOffset    int64
}

// TopicPartition returns the record's original topic and partition.
func (r *SinkRecord) TopicPartition() TopicPartition {
	return TopicPartition{Topic: r.OriginalTopic, Partition: r.OriginalKafkaPartition}
}

// SchemaAndValue pairs a value with its schema (Kafka's SchemaAndValue).
type SchemaAndValue struct {
	Schema *Schema
	Value  any
}

// RecordMetadata describes where Kafka stored a source record.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
}
