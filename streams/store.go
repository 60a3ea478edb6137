package streams

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
)

// KeyValueStore is a typed key-value state store (Kafka's KeyValueStore),
// as a processor gets it from ProcessorContext.StateStore. Every write
// also goes to the store's changelog topic (unless logging is disabled),
// so the store survives the loss of its instance.
//
// Keys are ordered by their serialized bytes. A store belongs to one task
// and is used from its goroutine only.
type KeyValueStore[K, V any] interface {
	StateStore
	// Get returns the value of key and whether there is one.
	Get(key K) (V, bool, error)
	// Put sets key to value.
	Put(key K, value V) error
	// PutIfAbsent sets key to value if it has no value, and returns the
	// value it had (and true) otherwise.
	PutIfAbsent(key K, value V) (V, bool, error)
	// Delete removes key and returns the value it had.
	Delete(key K) (V, bool, error)
	// Range iterates the keys in [from, to], in serialized-key order.
	Range(from, to K) (KeyValueIterator[K, V], error)
	// All iterates every key.
	All() (KeyValueIterator[K, V], error)
	// ApproximateNumEntries estimates the number of keys.
	ApproximateNumEntries() (int64, error)
}

// KeyValueIterator walks a store's entries; call Next first, and Close.
// A key or value that cannot be deserialized stops the iteration with
// Err set.
type KeyValueIterator[K, V any] interface {
	Next() bool
	Key() K
	Value() V
	Err() error
	Close() error
}

// ValueAndTimestamp is a value with the timestamp of its last update, as
// the stores of tables and aggregations keep them (Kafka's
// ValueAndTimestamp).
type ValueAndTimestamp[V any] struct {
	Value     V
	Timestamp time.Time
}

// TimestampedKeyValueStore is the store of a KTable or an aggregation
// (Kafka's TimestampedKeyValueStore). Its bytes on disk are
//
//	+----------------------+------------------------+
//	| timestamp (8, BE ms) | serialized value       |
//	+----------------------+------------------------+
//
// and its changelog record has the serialized value as value and the
// timestamp as record timestamp, as Kafka writes them.
type TimestampedKeyValueStore[K, V any] = KeyValueStore[K, ValueAndTimestamp[V]]

// StoreBuilder describes a state store of a topology; AddStateStore adds
// one. Make one with KeyValueStoreBuilder or
// TimestampedKeyValueStoreBuilder.
type StoreBuilder interface {
	// Name is the store's name.
	Name() string
	// LoggingEnabled reports whether the store has a changelog.
	LoggingEnabled() bool
	// ChangelogConfig is the extra config of the changelog topic.
	ChangelogConfig() map[string]string

	supplier() state.Supplier
	timestamped() bool
	// wrap returns the typed store over inner; topic is the name given
	// to the serdes (the changelog topic, or the store name).
	wrap(inner state.KeyValueStore, topic string) StateStore
}

// KVStoreBuilder builds KeyValueStore[K, V]s.
type KVStoreBuilder[K, V any] struct {
	sup        state.Supplier
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	logging    bool
	config     map[string]string
	ts         bool
}

// KeyValueStoreBuilder returns a builder of key-value stores from
// supplier with the given serdes (Kafka's Stores.keyValueStoreBuilder).
// Changelogging is on.
func KeyValueStoreBuilder[K, V any](supplier state.Supplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *KVStoreBuilder[K, V] {
	return &KVStoreBuilder[K, V]{sup: supplier, keySerde: keySerde, valueSerde: valueSerde, logging: true}
}

// TimestampedKeyValueStoreBuilder returns a builder of timestamped
// key-value stores (Kafka's Stores.timestampedKeyValueStoreBuilder).
func TimestampedKeyValueStoreBuilder[K, V any](supplier state.Supplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *KVStoreBuilder[K, ValueAndTimestamp[V]] {
	return &KVStoreBuilder[K, ValueAndTimestamp[V]]{
		sup: supplier, keySerde: keySerde, valueSerde: timestampedSerde(valueSerde), logging: true, ts: true,
	}
}

// WithLoggingDisabled turns the changelog off.
func (b *KVStoreBuilder[K, V]) WithLoggingDisabled() *KVStoreBuilder[K, V] {
	b.logging = false
	return b
}

// WithLoggingEnabled turns the changelog on with extra topic configs.
func (b *KVStoreBuilder[K, V]) WithLoggingEnabled(config map[string]string) *KVStoreBuilder[K, V] {
	b.logging, b.config = true, config
	return b
}

// Name implements StoreBuilder.
func (b *KVStoreBuilder[K, V]) Name() string { return b.sup.Name() }

// LoggingEnabled implements StoreBuilder.
func (b *KVStoreBuilder[K, V]) LoggingEnabled() bool { return b.logging }

// ChangelogConfig implements StoreBuilder.
func (b *KVStoreBuilder[K, V]) ChangelogConfig() map[string]string { return b.config }

func (b *KVStoreBuilder[K, V]) supplier() state.Supplier { return b.sup }
func (b *KVStoreBuilder[K, V]) timestamped() bool        { return b.ts }

func (b *KVStoreBuilder[K, V]) wrap(inner state.KeyValueStore, topic string) StateStore {
	return &kvStore[K, V]{inner: inner, topic: topic, keySerde: b.keySerde, valueSerde: b.valueSerde}
}

// timestampedSerde is Kafka's ValueAndTimestampSerde.
func timestampedSerde[V any](s serde.Serde[V]) serde.Serde[ValueAndTimestamp[V]] {
	return serde.New(
		func(topic string, v ValueAndTimestamp[V]) ([]byte, error) {
			b, err := s.Serialize(topic, v.Value)
			if err != nil {
				return nil, err
			}
			out := make([]byte, 8, 8+len(b))
			binary.BigEndian.PutUint64(out, uint64(v.Timestamp.UnixMilli()))
			return append(out, b...), nil
		},
		func(topic string, b []byte) (ValueAndTimestamp[V], error) {
			if len(b) < 8 {
				return ValueAndTimestamp[V]{}, fmt.Errorf("%w: timestamped value of %d bytes", serde.ErrSize, len(b))
			}
			v, err := s.Deserialize(topic, b[8:])
			if err != nil {
				return ValueAndTimestamp[V]{}, err
			}
			return ValueAndTimestamp[V]{Value: v, Timestamp: time.UnixMilli(int64(binary.BigEndian.Uint64(b)))}, nil
		},
	)
}

// kvStore is the typed store over a (logged) byte store.
type kvStore[K, V any] struct {
	inner      state.KeyValueStore
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

func (s *kvStore[K, V]) Name() string     { return s.inner.Name() }
func (s *kvStore[K, V]) Persistent() bool { return s.inner.Persistent() }

func (s *kvStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.keySerde.Serialize(s.topic, k)
	if err != nil {
		return nil, fmt.Errorf("streams: store %s: serialize key: %w", s.Name(), err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func (s *kvStore[K, V]) value(b []byte) (V, error) {
	v, err := s.valueSerde.Deserialize(s.topic, b)
	if err != nil {
		return v, fmt.Errorf("streams: store %s: deserialize value: %w", s.Name(), err)
	}
	return v, nil
}

func (s *kvStore[K, V]) Get(key K) (V, bool, error) {
	var zero V
	kb, err := s.key(key)
	if err != nil {
		return zero, false, err
	}
	vb, err := s.inner.Get(kb)
	if err != nil || vb == nil {
		return zero, false, err
	}
	v, err := s.value(vb)
	return v, err == nil, err
}

func (s *kvStore[K, V]) Put(key K, value V) error {
	kb, err := s.key(key)
	if err != nil {
		return err
	}
	vb, err := s.valueSerde.Serialize(s.topic, value)
	if err != nil {
		return fmt.Errorf("streams: store %s: serialize value: %w", s.Name(), err)
	}
	if vb == nil {
		vb = []byte{}
	}
	return s.inner.Put(kb, vb)
}

func (s *kvStore[K, V]) PutIfAbsent(key K, value V) (V, bool, error) {
	old, ok, err := s.Get(key)
	if err != nil || ok {
		return old, ok, err
	}
	return old, false, s.Put(key, value)
}

func (s *kvStore[K, V]) Delete(key K) (V, bool, error) {
	old, ok, err := s.Get(key)
	if err != nil || !ok {
		return old, ok, err
	}
	kb, err := s.key(key)
	if err != nil {
		return old, ok, err
	}
	return old, true, s.inner.Delete(kb)
}

func (s *kvStore[K, V]) Range(from, to K) (KeyValueIterator[K, V], error) {
	fb, err := s.key(from)
	if err != nil {
		return nil, err
	}
	tb, err := s.key(to)
	if err != nil {
		return nil, err
	}
	it, err := s.inner.Range(fb, tb)
	if err != nil {
		return nil, err
	}
	return &kvIterator[K, V]{s: s, it: it}, nil
}

func (s *kvStore[K, V]) All() (KeyValueIterator[K, V], error) {
	it, err := s.inner.Range(nil, nil)
	if err != nil {
		return nil, err
	}
	return &kvIterator[K, V]{s: s, it: it}, nil
}

func (s *kvStore[K, V]) ApproximateNumEntries() (int64, error) {
	return s.inner.ApproximateNumEntries()
}

type kvIterator[K, V any] struct {
	s   *kvStore[K, V]
	it  state.Iterator
	k   K
	v   V
	err error
}

func (i *kvIterator[K, V]) Next() bool {
	if i.err != nil || !i.it.Next() {
		return false
	}
	k, err := i.s.keySerde.Deserialize(i.s.topic, i.it.Key())
	if err != nil {
		i.err = fmt.Errorf("streams: store %s: deserialize key: %w", i.s.Name(), err)
		return false
	}
	v, err := i.s.value(i.it.Value())
	if err != nil {
		i.err = err
		return false
	}
	i.k, i.v = k, v
	return true
}

func (i *kvIterator[K, V]) Key() K   { return i.k }
func (i *kvIterator[K, V]) Value() V { return i.v }
func (i *kvIterator[K, V]) Err() error {
	if i.err != nil {
		return i.err
	}
	return i.it.Err()
}
func (i *kvIterator[K, V]) Close() error { return i.it.Close() }

// loggedStore sends every write of a byte store to its changelog
// partition (Kafka's ChangeLoggingKeyValueBytesStore, and its timestamped
// variant, which logs the value without the timestamp prefix and the
// timestamp as the record's).
type loggedStore struct {
	state.KeyValueStore
	t           *task
	topic       string
	partition   int32
	timestamped bool
}

func (l *loggedStore) log(key, value []byte) {
	ts := l.t.rc.timestamp
	if !l.t.rc.valid {
		ts = l.t.streamTime
	}
	if l.timestamped && value != nil && len(value) >= 8 {
		ts = time.UnixMilli(int64(binary.BigEndian.Uint64(value)))
		value = value[8:]
		if value == nil {
			value = []byte{}
		}
	}
	l.t.sendChangelog(l.topic, l.partition, key, value, ts)
}

func (l *loggedStore) Put(key, value []byte) error {
	if err := l.KeyValueStore.Put(key, value); err != nil {
		return err
	}
	l.log(key, value)
	return nil
}

func (l *loggedStore) Delete(key []byte) error {
	if err := l.KeyValueStore.Delete(key); err != nil {
		return err
	}
	l.log(key, nil)
	return nil
}

func (l *loggedStore) PutAll(entries []state.KeyValue) error {
	if err := l.KeyValueStore.PutAll(entries); err != nil {
		return err
	}
	for _, e := range entries {
		l.log(e.Key, e.Value)
	}
	return nil
}

// restoreEntry turns a changelog record into the store entry it stands
// for: the timestamped form prefixes the record's timestamp.
func restoreEntry(timestamped bool, key, value []byte, ts time.Time) state.KeyValue {
	if value == nil || !timestamped {
		return state.KeyValue{Key: key, Value: value}
	}
	out := make([]byte, 8, 8+len(value))
	binary.BigEndian.PutUint64(out, uint64(ts.UnixMilli()))
	return state.KeyValue{Key: key, Value: append(out, value...)}
}
