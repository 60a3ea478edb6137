package state

import (
	"encoding/binary"
	"time"
)

// Window and session stores keep their entries in an ordinary byte
// KeyValueStore (in memory or on Pebble) under composite keys, the same
// bytes Kafka Streams writes as the keys of their changelog records, so
// that a changelog restores into a store entry by entry:
//
//	window store key (Kafka's WindowKeySchema.toStoreKeyBinary)
//	+-------------------+---------------------------+----------------+
//	| serialized key    | window start (8, BE ms)   | seqnum (4, BE) |
//	+-------------------+---------------------------+----------------+
//
//	session store key (Kafka's SessionKeySchema.toBinary)
//	+-------------------+---------------------------+---------------------------+
//	| serialized key    | session end (8, BE ms)    | session start (8, BE ms)  |
//	+-------------------+---------------------------+---------------------------+
//
// The seqnum is 0 unless the store retains duplicates (the stores of
// stream–stream joins), where each put takes the next one. Timestamps are
// never negative, so big-endian bytes order like the numbers: the entries
// of one key are ordered by time. Keys of different lengths interleave
// (key "a" + time sorts among keys starting "a\x00".."a\x7f"), so a range
// over one key must check the key of every entry it meets.

// WindowKeySize and SessionKeySize are the bytes a window or session key
// adds after the serialized key.
const (
	WindowKeySize  = 8 + 4
	SessionKeySize = 8 + 8
)

// WindowKey returns the store key of key's window starting at startMs,
// with sequence number seq.
func WindowKey(key []byte, startMs int64, seq uint32) []byte {
	out := make([]byte, len(key), len(key)+WindowKeySize)
	copy(out, key)
	out = binary.BigEndian.AppendUint64(out, uint64(startMs))
	return binary.BigEndian.AppendUint32(out, seq)
}

// SplitWindowKey splits a window store key; ok is false if b is too
// short to be one. The returned key aliases b.
func SplitWindowKey(b []byte) (key []byte, startMs int64, seq uint32, ok bool) {
	if len(b) < WindowKeySize {
		return nil, 0, 0, false
	}
	n := len(b) - WindowKeySize
	return b[:n], int64(binary.BigEndian.Uint64(b[n:])), binary.BigEndian.Uint32(b[n+8:]), true
}

// SessionKey returns the store key of key's session [startMs, endMs].
func SessionKey(key []byte, startMs, endMs int64) []byte {
	out := make([]byte, len(key), len(key)+SessionKeySize)
	copy(out, key)
	out = binary.BigEndian.AppendUint64(out, uint64(endMs))
	return binary.BigEndian.AppendUint64(out, uint64(startMs))
}

// SplitSessionKey splits a session store key; ok is false if b is too
// short to be one. The returned key aliases b.
func SplitSessionKey(b []byte) (key []byte, startMs, endMs int64, ok bool) {
	if len(b) < SessionKeySize {
		return nil, 0, 0, false
	}
	n := len(b) - SessionKeySize
	return b[:n], int64(binary.BigEndian.Uint64(b[n+8:])), int64(binary.BigEndian.Uint64(b[n:])), true
}

// WindowSupplier is a Supplier of the byte stores behind window stores,
// with the window store's parameters (Kafka's WindowBytesStoreSupplier).
type WindowSupplier interface {
	Supplier
	// Retention is how long a window is kept after its start, in
	// stream time; older windows are dropped and no longer fetched.
	Retention() time.Duration
	// WindowSize is the size of the windows the store holds.
	WindowSize() time.Duration
	// RetainDuplicates reports whether every put adds an entry (join
	// buffers) rather than replacing the window's value.
	RetainDuplicates() bool
}

// SessionSupplier is a Supplier of the byte stores behind session stores
// (Kafka's SessionBytesStoreSupplier).
type SessionSupplier interface {
	Supplier
	// Retention is how long a session is kept after its end, in stream
	// time.
	Retention() time.Duration
}

type windowSupplier struct {
	Supplier
	retention, size time.Duration
	duplicates      bool
}

func (s windowSupplier) Retention() time.Duration  { return s.retention }
func (s windowSupplier) WindowSize() time.Duration { return s.size }
func (s windowSupplier) RetainDuplicates() bool    { return s.duplicates }

type sessionSupplier struct {
	Supplier
	retention time.Duration
}

func (s sessionSupplier) Retention() time.Duration { return s.retention }

// PersistentWindowStore returns a supplier of window stores on Pebble
// (Kafka's Stores.persistentTimestampedWindowStore).
func PersistentWindowStore(name string, retention, windowSize time.Duration, retainDuplicates bool) WindowSupplier {
	return windowSupplier{Supplier: pebbleSupplier{name: name}, retention: retention, size: windowSize, duplicates: retainDuplicates}
}

// InMemoryWindowStore returns a supplier of in-memory window stores
// (Kafka's Stores.inMemoryWindowStore).
func InMemoryWindowStore(name string, retention, windowSize time.Duration, retainDuplicates bool) WindowSupplier {
	return windowSupplier{Supplier: memorySupplier{name: name}, retention: retention, size: windowSize, duplicates: retainDuplicates}
}

// PersistentSessionStore returns a supplier of session stores on Pebble
// (Kafka's Stores.persistentSessionStore).
func PersistentSessionStore(name string, retention time.Duration) SessionSupplier {
	return sessionSupplier{Supplier: pebbleSupplier{name: name}, retention: retention}
}

// InMemorySessionStore returns a supplier of in-memory session stores
// (Kafka's Stores.inMemorySessionStore).
func InMemorySessionStore(name string, retention time.Duration) SessionSupplier {
	return sessionSupplier{Supplier: memorySupplier{name: name}, retention: retention}
}
