package streams

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"time"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
)

// Errors of suppression (here rather than in errors.go, which another
// change owns; the lead may move them).
var (
	// ErrBufferFull is returned (through the processing handler) when
	// a suppression buffer configured with ShutDownWhenFull is full.
	ErrBufferFull = errors.New("streams: suppression buffer full")

	errBufferFormat = errors.New("streams: malformed suppression buffer entry")
)

// BufferConfig bounds a suppression buffer (Kafka's
// Suppressed.BufferConfig): by records, by bytes (of serialized keys and
// values), or not at all; and says what a full buffer does: emit its
// oldest records early, or stop the application.
type BufferConfig struct {
	maxRecords, maxBytes int64 // 0: unbounded
	shutDown             bool
}

// BufferUnbounded is a buffer without bounds (Kafka's
// BufferConfig.unbounded): it grows until its records are emitted.
func BufferUnbounded() BufferConfig { return BufferConfig{shutDown: true} }

// BufferMaxRecords bounds the buffer to n records, emitting early when it
// is full (Kafka's BufferConfig.maxRecords).
func BufferMaxRecords(n int64) BufferConfig { return BufferConfig{maxRecords: n} }

// BufferMaxBytes bounds the buffer to n bytes of keys and values,
// emitting early when it is full (Kafka's BufferConfig.maxBytes).
func BufferMaxBytes(n int64) BufferConfig { return BufferConfig{maxBytes: n} }

// WithMaxRecords adds a record bound.
func (c BufferConfig) WithMaxRecords(n int64) BufferConfig { c.maxRecords = n; return c }

// WithMaxBytes adds a byte bound.
func (c BufferConfig) WithMaxBytes(n int64) BufferConfig { c.maxBytes = n; return c }

// EmitEarlyWhenFull makes a full buffer emit its oldest records before
// their time (Kafka's emitEarlyWhenFull).
func (c BufferConfig) EmitEarlyWhenFull() BufferConfig { c.shutDown = false; return c }

// ShutDownWhenFull makes a full buffer stop the application with an
// error instead (Kafka's shutDownWhenFull): results are never emitted
// early.
func (c BufferConfig) ShutDownWhenFull() BufferConfig { c.shutDown = true; return c }

func (c BufferConfig) strict() bool { return c.shutDown || (c.maxRecords == 0 && c.maxBytes == 0) }

// Suppressed says which updates of a table Suppress holds back (Kafka's
// Suppressed).
type Suppressed struct {
	finalResults bool
	timeLimit    int64 // ms
	buffer       BufferConfig
	name         string
	err          error
}

// SuppressUntilWindowCloses emits only the final result of each window of
// a windowed table, once stream time passes the window's end plus its
// grace period (for sessions: end + gap + grace) (Kafka's
// Suppressed.untilWindowCloses). The buffer must not emit early:
// BufferUnbounded, or a bound with ShutDownWhenFull.
func SuppressUntilWindowCloses(buffer BufferConfig) Suppressed {
	s := Suppressed{finalResults: true, buffer: buffer}
	if !buffer.strict() {
		s.err = fmt.Errorf("%w: untilWindowCloses needs a buffer that never emits early (unbounded or shutDownWhenFull)", ErrTopology)
	}
	return s
}

// SuppressUntilTimeLimit holds each key's updates back until
// timeToWaitForMoreEvents of stream time has passed since the first one
// held, then emits the latest (Kafka's Suppressed.untilTimeLimit): at
// most one update per key per time limit.
func SuppressUntilTimeLimit(timeToWaitForMoreEvents time.Duration, buffer BufferConfig) Suppressed {
	s := Suppressed{timeLimit: timeToWaitForMoreEvents.Milliseconds(), buffer: buffer}
	if s.timeLimit < 0 {
		s.err = fmt.Errorf("%w: suppression time limit must not be negative", ErrTopology)
	}
	return s
}

// WithName names the suppression's processor; its buffer's store is
// <name>-store (Kafka's Suppressed.withName).
func (s Suppressed) WithName(name string) Suppressed { s.name = name; return s }

// windowCloser is implemented by the store builders of windowed
// aggregations: how long after a window's end it closes.
type windowCloser interface{ windowCloseAfter() int64 }

// windowGraceOf finds the windowed aggregation upstream of node and
// returns how long after a window's end it closes (Kafka's
// findAndVerifyWindowGrace).
func (b *Builder) windowGraceOf(node string) (int64, bool) {
	seen := map[string]bool{}
	queue := []string{node}
	for len(queue) > 0 {
		n := b.byName[queue[0]]
		queue = queue[1:]
		if n == nil || seen[n.name] {
			continue
		}
		seen[n.name] = true
		for _, s := range n.stores {
			if wc, ok := b.stores[s].builder.(windowCloser); ok {
				return wc.windowCloseAfter(), true
			}
		}
		queue = append(queue, n.parents...)
	}
	return 0, false
}

// Suppress holds back the table's updates as s says (Kafka's
// KTable.suppress): SuppressUntilWindowCloses for the final result of
// each window, SuppressUntilTimeLimit to rate-limit updates. Held
// updates live in a buffer backed by the changelog topic
// <application.id>-<store>-changelog, so they survive a restart. The
// result is not materialized. Options: Named (as WithName).
func (t KTable[K, V]) Suppress(s Suppressed, opts ...OpOpt) KTable[K, V] {
	b := t.b
	o := collectOpts(opts)
	if s.name == "" {
		s.name = o.name
	}
	if s.err != nil {
		b.fail(s.err)
	}
	var procName, storeName string
	if s.name != "" {
		procName, storeName = s.name, s.name+"-store"
	} else {
		procName = b.newName("KTABLE-SUPPRESS-")
		storeName = b.newName("KTABLE-SUPPRESS-STATE-STORE-")
	}
	duration := s.timeLimit
	if s.finalResults {
		var zero K
		if _, ok := any(zero).(windowedKey); !ok {
			b.fail(fmt.Errorf("%w: suppress untilWindowCloses of %s: the table's key %v is not Windowed", ErrTopology, t.node, reflect.TypeFor[K]()))
		}
		grace, ok := b.windowGraceOf(t.node)
		if !ok {
			b.fail(fmt.Errorf("%w: suppress untilWindowCloses of %s: no windowed aggregation upstream", ErrTopology, t.node))
		}
		duration = grace
	}
	ks := t.keySerde
	if ks == nil {
		ks = serde.Default[K]()
	}
	vs := t.valueSerde
	if vs == nil {
		vs = serde.Default[V]()
	}
	b.addStore(&suppressBufferBuilder{name: storeName})
	cfg := s
	addProcessor(b, procName, []string{t.node}, []string{storeName}, func() Processor[K, change[V], K, change[V]] {
		return &suppressProc[K, V]{store: storeName, cfg: cfg, duration: duration, keySerde: ks, valueSerde: vs, observed: math.MinInt64}
	})
	return KTable[K, V]{b: b, node: procName, keySerde: t.keySerde, valueSerde: t.valueSerde}
}

// suppressBufferBuilder is the store of a suppression buffer: an
// in-memory byte store with a changelog (Kafka's
// InMemoryTimeOrderedKeyValueBuffer). Its entries are
//
//	key:   serialized table key
//	value: +-------------------+-------------------+-------+------------+---------+------------+---------+
//	       | buffer time (8)   | record time (8)   | flags | new len (4)| new     | old len (4)| old     |
//	       +-------------------+-------------------+-------+------------+---------+------------+---------+
//
// big-endian milliseconds; flags bit 0: has new value, bit 1: has old
// value. The changelog holds the same bytes (Kafka's own buffer format
// differs: it is internal to each implementation).
type suppressBufferBuilder struct{ name string }

func (b *suppressBufferBuilder) Name() string                       { return b.name }
func (b *suppressBufferBuilder) LoggingEnabled() bool               { return true }
func (b *suppressBufferBuilder) ChangelogConfig() map[string]string { return nil }
func (b *suppressBufferBuilder) supplier() state.Supplier           { return state.InMemoryKeyValueStore(b.name) }
func (b *suppressBufferBuilder) timestamped() bool                  { return false }
func (b *suppressBufferBuilder) wrap(inner state.KeyValueStore, _ string) StateStore {
	return &suppressBuffer{inner: inner}
}

// suppressBuffer is the typed face of the buffer: Name and Persistent
// for the StateStore interface, and the byte store the processor uses.
type suppressBuffer struct{ inner state.KeyValueStore }

func (s *suppressBuffer) Name() string     { return s.inner.Name() }
func (s *suppressBuffer) Persistent() bool { return false }

// bufferEntry is one held update.
type bufferEntry struct {
	key              []byte
	bufferTime       int64
	recordTime       int64
	newValue         []byte
	oldValue         []byte
	hasNew, hasOld   bool
	serializedLength int64
}

func (e *bufferEntry) encode() []byte {
	out := make([]byte, 0, 8+8+1+8+len(e.newValue)+len(e.oldValue))
	out = binary.BigEndian.AppendUint64(out, uint64(e.bufferTime))
	out = binary.BigEndian.AppendUint64(out, uint64(e.recordTime))
	var flags byte
	if e.hasNew {
		flags |= 1
	}
	if e.hasOld {
		flags |= 2
	}
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, uint32(len(e.newValue)))
	out = append(out, e.newValue...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(e.oldValue)))
	return append(out, e.oldValue...)
}

func decodeBufferEntry(key, b []byte) (*bufferEntry, error) {
	bad := fmt.Errorf("%w of %d bytes", errBufferFormat, len(b))
	if len(b) < 8+8+1+4 {
		return nil, bad
	}
	e := &bufferEntry{key: append([]byte(nil), key...)}
	e.bufferTime = int64(binary.BigEndian.Uint64(b))
	e.recordTime = int64(binary.BigEndian.Uint64(b[8:]))
	e.hasNew, e.hasOld = b[16]&1 != 0, b[16]&2 != 0
	b = b[17:]
	n := int(binary.BigEndian.Uint32(b))
	if len(b) < 4+n+4 {
		return nil, bad
	}
	e.newValue = append([]byte(nil), b[4:4+n]...)
	b = b[4+n:]
	m := int(binary.BigEndian.Uint32(b))
	if len(b) != 4+m {
		return nil, bad
	}
	e.oldValue = append([]byte(nil), b[4:]...)
	e.serializedLength = int64(len(e.key) + len(e.newValue) + len(e.oldValue) + 8)
	return e, nil
}

// suppressProc is Kafka's KTableSuppressProcessor: it buffers each
// update under its key and emits the buffered updates whose time has
// come, as stream time advances.
type suppressProc[K, V any] struct {
	store      string
	cfg        Suppressed
	duration   int64
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	ctx        ProcessorContext[K, change[V]]
	buf        state.KeyValueStore
	// entries by key; order sorts them by (buffer time, key).
	entries  map[string]*bufferEntry
	order    []*bufferEntry
	bytes    int64
	observed int64
}

func (p *suppressProc[K, V]) Init(ctx ProcessorContext[K, change[V]]) error {
	p.ctx = ctx
	var sb *suppressBuffer
	if err := storeOf(ctx, p.store, &sb); err != nil {
		return err
	}
	p.buf = sb.inner
	// The buffer's store is restored; index what it holds.
	p.entries = map[string]*bufferEntry{}
	it, err := p.buf.Range(nil, nil)
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		e, err := decodeBufferEntry(it.Key(), it.Value())
		if err != nil {
			return err
		}
		p.insert(e)
	}
	return it.Err()
}

func entryLess(a, b *bufferEntry) bool {
	if a.bufferTime != b.bufferTime {
		return a.bufferTime < b.bufferTime
	}
	return bytes.Compare(a.key, b.key) < 0
}

func (p *suppressProc[K, V]) insert(e *bufferEntry) {
	i := sort.Search(len(p.order), func(i int) bool { return !entryLess(p.order[i], e) })
	p.order = append(p.order, nil)
	copy(p.order[i+1:], p.order[i:])
	p.order[i] = e
	p.entries[string(e.key)] = e
	p.bytes += e.serializedLength
}

func (p *suppressProc[K, V]) remove(e *bufferEntry) {
	i := sort.Search(len(p.order), func(i int) bool { return !entryLess(p.order[i], e) })
	if i < len(p.order) && p.order[i] == e {
		p.order = append(p.order[:i], p.order[i+1:]...)
	}
	delete(p.entries, string(e.key))
	p.bytes -= e.serializedLength
}

func (p *suppressProc[K, V]) Process(rec Record[K, change[V]]) error {
	ts := rec.Timestamp.UnixMilli()
	p.observed = max(p.observed, ts)
	kb, err := p.keySerde.Serialize("", rec.Key)
	if err != nil {
		return fmt.Errorf("streams: suppress: serialize key: %w", err)
	}
	bufferTime := ts
	if p.cfg.finalResults {
		bufferTime = any(rec.Key).(windowedKey).windowEndMs()
	}
	e := &bufferEntry{key: kb, bufferTime: bufferTime, recordTime: ts, hasNew: rec.Value.hasNew}
	if rec.Value.hasNew {
		if e.newValue, err = p.valueSerde.Serialize("", rec.Value.newValue); err != nil {
			return fmt.Errorf("streams: suppress: serialize value: %w", err)
		}
	}
	if prev := p.entries[string(kb)]; prev != nil {
		// A key keeps its place in the buffer and the value it had
		// before its first held update.
		e.bufferTime, e.hasOld, e.oldValue = prev.bufferTime, prev.hasOld, prev.oldValue
		p.remove(prev)
	} else if rec.Value.hasOld {
		e.hasOld = true
		if e.oldValue, err = p.valueSerde.Serialize("", rec.Value.oldValue); err != nil {
			return fmt.Errorf("streams: suppress: serialize value: %w", err)
		}
	}
	e.serializedLength = int64(len(e.key) + len(e.newValue) + len(e.oldValue) + 8)
	if err := p.buf.Put(e.key, e.encode()); err != nil {
		return err
	}
	p.insert(e)
	return p.enforce()
}

// enforce emits what is due, then what a full buffer must let go.
func (p *suppressProc[K, V]) enforce() error {
	expiry := p.observed - p.duration
	for len(p.order) > 0 && p.order[0].bufferTime <= expiry {
		if err := p.emit(p.order[0]); err != nil {
			return err
		}
	}
	for p.overCapacity() {
		if p.cfg.buffer.shutDown {
			return fmt.Errorf("%w: %s holds %d records, %d bytes, and is configured to shut down", ErrBufferFull, p.store, len(p.order), p.bytes)
		}
		if err := p.emit(p.order[0]); err != nil {
			return err
		}
	}
	return nil
}

func (p *suppressProc[K, V]) overCapacity() bool {
	c := p.cfg.buffer
	return len(p.order) > 0 && ((c.maxRecords > 0 && int64(len(p.order)) > c.maxRecords) || (c.maxBytes > 0 && p.bytes > c.maxBytes))
}

func (p *suppressProc[K, V]) emit(e *bufferEntry) error {
	p.remove(e)
	if err := p.buf.Delete(e.key); err != nil {
		return err
	}
	if !e.hasNew && p.cfg.finalResults {
		return nil // a deleted window's final result is nothing
	}
	k, err := p.keySerde.Deserialize("", e.key)
	if err != nil {
		return fmt.Errorf("streams: suppress: deserialize key: %w", err)
	}
	var c change[V]
	if e.hasNew {
		if c.newValue, err = p.valueSerde.Deserialize("", e.newValue); err != nil {
			return fmt.Errorf("streams: suppress: deserialize value: %w", err)
		}
		c.hasNew = true
	}
	if e.hasOld {
		if c.oldValue, err = p.valueSerde.Deserialize("", e.oldValue); err != nil {
			return fmt.Errorf("streams: suppress: deserialize value: %w", err)
		}
		c.hasOld = true
	}
	p.ctx.Forward(Record[K, change[V]]{Key: k, Value: c, Timestamp: time.UnixMilli(e.recordTime)})
	return nil
}

func (p *suppressProc[K, V]) Close() error { return nil }
