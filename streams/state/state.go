// Package state holds the byte-level key-value stores behind Gregor
// Streams' state stores: an in-memory store and a persistent store on
// Pebble, the Go counterparts of Kafka Streams' InMemoryKeyValueStore and
// RocksDBStore.
//
// The streams runtime wraps a store from a Supplier with changelogging
// (every write also goes to the store's compacted changelog topic) and
// with serdes (streams.KeyValueStore[K, V]); applications normally name a
// Supplier and never call a store directly:
//
//	b.AddStateStore(streams.KeyValueStoreBuilder(state.PersistentKeyValueStore("counts"), serde.String(), serde.Int64()))
//
// Keys are ordered bytewise, as Kafka orders them (lexicographically as
// unsigned bytes); ranges are inclusive at both ends, as Kafka's
// ReadOnlyKeyValueStore.range. A nil bound is open.
//
// A persistent store lives in a directory of its own:
//
//	<state.dir>/<application.id>/<task>/pebble/<store>/   Pebble's files (WAL, sstables, MANIFEST)
//
// Writes are not synced one by one: durability comes from the changelog,
// and Flush (called by the runtime before it writes the task's checkpoint
// file) syncs the write-ahead log so that everything written before it
// survives a crash.
//
// A store is used by the one task that owns it, from one goroutine; it is
// not safe for concurrent use. After Close every method returns ErrClosed.
package state

import (
	"bytes"
	"errors"
)

// Errors returned by stores.
var (
	// ErrClosed is returned by a store used after Close.
	ErrClosed = errors.New("state: store closed")
	// ErrNilValue is returned by Put with a nil value: delete instead.
	ErrNilValue = errors.New("state: nil value")
)

// KeyValue is one entry.
type KeyValue struct {
	Key   []byte
	Value []byte
}

// Iterator walks entries in key order. It starts before the first entry:
// call Next first. Key and Value are valid until the next call to Next.
// An iterator over an in-memory store sees the store as it was when the
// iterator was made; one over Pebble sees a consistent snapshot too.
// Always Close it.
type Iterator interface {
	Next() bool
	Key() []byte
	Value() []byte
	// Err returns the error that stopped the iteration, if any.
	Err() error
	Close() error
}

// KeyValueStore is a byte-level key-value store.
type KeyValueStore interface {
	// Name is the store's name, unique in a topology.
	Name() string
	// Persistent reports whether the store keeps its data on disk
	// across Close and Open.
	Persistent() bool
	// Get returns the value of key, or nil if there is none. The
	// caller owns the returned slice.
	Get(key []byte) ([]byte, error)
	// Put sets key to value (which must not be nil). The store copies
	// both.
	Put(key, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key []byte) error
	// PutAll applies entries in order as one batch; a nil Value
	// deletes. The restorer uses it for changelog batches.
	PutAll(entries []KeyValue) error
	// Range iterates the keys in [from, to]; a nil bound is open.
	Range(from, to []byte) (Iterator, error)
	// ApproximateNumEntries estimates the number of keys.
	ApproximateNumEntries() (int64, error)
	// Flush makes every write so far durable (persistent stores).
	Flush() error
	// Close releases the store; its data stays on disk if persistent.
	Close() error
}

// Supplier makes a store for one task. Suppliers are values that a
// topology holds and every task calls.
type Supplier interface {
	// Name is the name of the stores it makes.
	Name() string
	// Persistent reports whether Open makes a persistent store.
	Persistent() bool
	// Open opens (or creates) the store; dir is the task's directory
	// for this store, used only by persistent stores.
	Open(dir string) (KeyValueStore, error)
}

// InMemoryKeyValueStore returns a Supplier of in-memory stores (Kafka's
// Stores.inMemoryKeyValueStore). Their data is rebuilt from the
// changelog whenever a task starts.
func InMemoryKeyValueStore(name string) Supplier { return memorySupplier{name: name} }

// PersistentKeyValueStore returns a Supplier of Pebble stores (Kafka's
// Stores.persistentKeyValueStore, which uses RocksDB).
func PersistentKeyValueStore(name string) Supplier { return pebbleSupplier{name: name} }

type memorySupplier struct{ name string }

func (s memorySupplier) Name() string                           { return s.name }
func (s memorySupplier) Persistent() bool                       { return false }
func (s memorySupplier) Open(string) (KeyValueStore, error)     { return NewInMemory(s.name), nil }
func (s pebbleSupplier) Name() string                           { return s.name }
func (s pebbleSupplier) Persistent() bool                       { return true }
func (s pebbleSupplier) Open(dir string) (KeyValueStore, error) { return OpenPebble(dir, s.name) }

type pebbleSupplier struct{ name string }

// inRange reports whether key is within [from, to] (nil bounds open).
func inRange(key, from, to []byte) bool {
	if from != nil && bytes.Compare(key, from) < 0 {
		return false
	}
	if to != nil && bytes.Compare(key, to) > 0 {
		return false
	}
	return true
}

// clone copies b (nil stays nil).
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
