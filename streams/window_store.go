package streams

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
)

// WindowStore is a typed window store (Kafka's WindowStore): values by key
// and window start. The DSL's windowed aggregations keep their windows in
// one, as a TimestampedWindowStore; stream–stream joins buffer each side
// in one that retains duplicates.
//
// A window is kept for the store's retention after its start, in the
// store's stream time (the largest window start put so far): older
// windows are neither stored nor fetched, and are dropped from the local
// store without changelog writes (the changelog topic, compact,delete,
// drops them by its retention.ms). Time ranges are inclusive. A store
// belongs to one task and is used from its goroutine only.
type WindowStore[K, V any] interface {
	StateStore
	// Put sets the value of key's window starting at windowStart (adds
	// one more, in a store that retains duplicates).
	Put(key K, value V, windowStart time.Time) error
	// FetchWindow returns the value of key's window starting at
	// windowStart.
	FetchWindow(key K, windowStart time.Time) (V, bool, error)
	// Fetch iterates key's windows starting in [timeFrom, timeTo], by
	// start time; the iterator's keys are the window starts.
	Fetch(key K, timeFrom, timeTo time.Time) (KeyValueIterator[time.Time, V], error)
	// FetchAll iterates every key's windows starting in [timeFrom,
	// timeTo], by start time, then key.
	FetchAll(timeFrom, timeTo time.Time) (KeyValueIterator[Windowed[K], V], error)
	// All iterates every window, by start time, then key.
	All() (KeyValueIterator[Windowed[K], V], error)
	// Retention is how long windows are kept after their start.
	Retention() time.Duration
}

// TimestampedWindowStore is the store of a windowed aggregation (Kafka's
// TimestampedWindowStore): each value carries the timestamp of its last
// update, kept locally as an 8-byte prefix and in the changelog as the
// record's timestamp.
type TimestampedWindowStore[K, V any] = WindowStore[K, ValueAndTimestamp[V]]

// SessionStore is a typed session store (Kafka's SessionStore): the
// aggregate of each session [start, end] of each key. A session is kept
// for the store's retention after its end, in the store's stream time
// (the largest session end put so far). A store belongs to one task and
// is used from its goroutine only.
type SessionStore[K, V any] interface {
	StateStore
	// FindSessions iterates key's sessions that end at or after
	// earliestSessionEnd and start at or before latestSessionStart, by
	// end time.
	FindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) (KeyValueIterator[Windowed[K], V], error)
	// FetchSession returns the aggregate of key's session [start, end].
	FetchSession(key K, sessionStart, sessionEnd time.Time) (V, bool, error)
	// Fetch iterates every session of key.
	Fetch(key K) (KeyValueIterator[Windowed[K], V], error)
	// Put sets the aggregate of a session.
	Put(session Windowed[K], aggregate V) error
	// Remove deletes a session.
	Remove(session Windowed[K]) error
	// Retention is how long sessions are kept after their end.
	Retention() time.Duration
}

// windowChangelogAdditionalRetention is Kafka's
// windowstore.changelog.additional.retention.ms default: the changelog of
// a window or session store keeps records a day longer than the store.
const windowChangelogAdditionalRetention = 24 * time.Hour

// windowChangelogConfig is the changelog config of a window or session
// store (Kafka's WindowedChangelogTopicConfig) with the user's on top.
func windowChangelogConfig(retention time.Duration, user map[string]string) map[string]string {
	cfg := map[string]string{
		"cleanup.policy": "compact,delete",
		"retention.ms":   strconv.FormatInt((retention + windowChangelogAdditionalRetention).Milliseconds(), 10),
	}
	for k, v := range user {
		cfg[k] = v
	}
	return cfg
}

// WindowBuilder builds WindowStore[K, V]s; make one with
// WindowStoreBuilder or TimestampedWindowStoreBuilder and add it with
// AddStateStore.
type WindowBuilder[K, V any] struct {
	sup        state.WindowSupplier
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	logging    bool
	config     map[string]string
	ts         bool
	// suppressGrace is, for the store of a windowed aggregation, how
	// long after a window's end it closes (Suppress reads it).
	suppressGrace int64
}

// WindowStoreBuilder returns a builder of window stores from supplier
// (Kafka's Stores.windowStoreBuilder). Changelogging is on.
func WindowStoreBuilder[K, V any](supplier state.WindowSupplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *WindowBuilder[K, V] {
	return &WindowBuilder[K, V]{sup: supplier, keySerde: keySerde, valueSerde: valueSerde, logging: true}
}

// TimestampedWindowStoreBuilder returns a builder of timestamped window
// stores (Kafka's Stores.timestampedWindowStoreBuilder).
func TimestampedWindowStoreBuilder[K, V any](supplier state.WindowSupplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *WindowBuilder[K, ValueAndTimestamp[V]] {
	return &WindowBuilder[K, ValueAndTimestamp[V]]{sup: supplier, keySerde: keySerde, valueSerde: timestampedSerde(valueSerde), logging: true, ts: true}
}

// WithLoggingDisabled turns the changelog off.
func (b *WindowBuilder[K, V]) WithLoggingDisabled() *WindowBuilder[K, V] {
	b.logging = false
	return b
}

// WithLoggingEnabled turns the changelog on with extra topic configs.
func (b *WindowBuilder[K, V]) WithLoggingEnabled(config map[string]string) *WindowBuilder[K, V] {
	b.logging, b.config = true, config
	return b
}

// Name implements StoreBuilder.
func (b *WindowBuilder[K, V]) Name() string { return b.sup.Name() }

// LoggingEnabled implements StoreBuilder.
func (b *WindowBuilder[K, V]) LoggingEnabled() bool { return b.logging }

// ChangelogConfig implements StoreBuilder: compact,delete with the
// store's retention plus a day, and the configs given.
func (b *WindowBuilder[K, V]) ChangelogConfig() map[string]string {
	return windowChangelogConfig(b.sup.Retention(), b.config)
}

func (b *WindowBuilder[K, V]) supplier() state.Supplier { return b.sup }
func (b *WindowBuilder[K, V]) windowCloseAfter() int64  { return b.suppressGrace }
func (b *WindowBuilder[K, V]) timestamped() bool        { return b.ts }

func (b *WindowBuilder[K, V]) wrap(inner state.KeyValueStore, topic string) StateStore {
	return &windowStore[K, V]{
		inner: inner, topic: topic, keySerde: b.keySerde, valueSerde: b.valueSerde,
		retention: b.sup.Retention().Milliseconds(), size: b.sup.WindowSize().Milliseconds(),
		duplicates: b.sup.RetainDuplicates(),
	}
}

// SessionBuilder builds SessionStore[K, V]s; make one with
// SessionStoreBuilder.
type SessionBuilder[K, V any] struct {
	sup        state.SessionSupplier
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	logging    bool
	config     map[string]string
	// suppressGrace is, for the store of a session aggregation, how
	// long after a session's end it closes: gap + grace.
	suppressGrace int64
}

// SessionStoreBuilder returns a builder of session stores from supplier
// (Kafka's Stores.sessionStoreBuilder). Changelogging is on.
func SessionStoreBuilder[K, V any](supplier state.SessionSupplier, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *SessionBuilder[K, V] {
	return &SessionBuilder[K, V]{sup: supplier, keySerde: keySerde, valueSerde: valueSerde, logging: true}
}

// WithLoggingDisabled turns the changelog off.
func (b *SessionBuilder[K, V]) WithLoggingDisabled() *SessionBuilder[K, V] {
	b.logging = false
	return b
}

// WithLoggingEnabled turns the changelog on with extra topic configs.
func (b *SessionBuilder[K, V]) WithLoggingEnabled(config map[string]string) *SessionBuilder[K, V] {
	b.logging, b.config = true, config
	return b
}

// Name implements StoreBuilder.
func (b *SessionBuilder[K, V]) Name() string { return b.sup.Name() }

// LoggingEnabled implements StoreBuilder.
func (b *SessionBuilder[K, V]) LoggingEnabled() bool { return b.logging }

// ChangelogConfig implements StoreBuilder, as for window stores.
func (b *SessionBuilder[K, V]) ChangelogConfig() map[string]string {
	return windowChangelogConfig(b.sup.Retention(), b.config)
}

func (b *SessionBuilder[K, V]) supplier() state.Supplier { return b.sup }
func (b *SessionBuilder[K, V]) windowCloseAfter() int64  { return b.suppressGrace }
func (b *SessionBuilder[K, V]) timestamped() bool        { return false }

func (b *SessionBuilder[K, V]) wrap(inner state.KeyValueStore, topic string) StateStore {
	return &sessionStore[K, V]{
		inner: inner, topic: topic, keySerde: b.keySerde, valueSerde: b.valueSerde,
		retention: b.sup.Retention().Milliseconds(),
	}
}

// expiringStore is the part window and session stores share: the store's
// stream time, found by a scan on first use (after restoration), and the
// purge of expired entries from the local store, once per segment
// interval of stream time (Kafka drops whole segments, each
// max(retention/2, 60s) long).
type expiringStore struct {
	inner     state.KeyValueStore
	retention int64 // ms
	observed  int64 // largest time put; MinInt64 until scanned
	scanned   bool
	lastPurge int64
	// timeOf extracts the time that expires from a store key.
	timeOf func(b []byte) (int64, bool)
	// seen, if set, is shown every key by the first scan.
	seen func(b []byte)
}

// raw returns the byte store without change logging: purges do not go to
// the changelog.
func (s *expiringStore) raw() state.KeyValueStore {
	if l, ok := s.inner.(*loggedStore); ok {
		return l.KeyValueStore
	}
	return s.inner
}

func (s *expiringStore) scan() error {
	if s.scanned {
		return nil
	}
	it, err := s.inner.Range(nil, nil)
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		if t, ok := s.timeOf(it.Key()); ok && t > s.observed {
			s.observed = t
		}
		if s.seen != nil {
			s.seen(it.Key())
		}
	}
	s.scanned = true
	s.lastPurge = s.observed
	return it.Err()
}

// expiredBefore returns the time at or before which entries are expired.
func (s *expiringStore) expiredBefore() int64 {
	if s.observed == math.MinInt64 {
		return math.MinInt64
	}
	return s.observed - s.retention
}

// observe advances the store's stream time to t and purges if a segment
// interval has passed since the last purge.
func (s *expiringStore) observe(t int64) error {
	if t <= s.observed {
		return nil
	}
	s.observed = t
	interval := max(s.retention/2, 60_000)
	if s.observed-s.lastPurge < interval {
		return nil
	}
	s.lastPurge = s.observed
	limit := s.expiredBefore()
	raw := s.raw()
	it, err := raw.Range(nil, nil)
	if err != nil {
		return err
	}
	var dead []state.KeyValue
	for it.Next() {
		if t, ok := s.timeOf(it.Key()); ok && t <= limit {
			dead = append(dead, state.KeyValue{Key: append([]byte(nil), it.Key()...)})
		}
	}
	err = it.Err()
	it.Close()
	if err != nil || len(dead) == 0 {
		return err
	}
	return raw.PutAll(dead)
}

// windowStore is the typed window store over a (logged) byte store.
type windowStore[K, V any] struct {
	inner      state.KeyValueStore
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	retention  int64 // ms
	size       int64 // ms
	duplicates bool
	seq        uint32
	exp        *expiringStore
}

func (s *windowStore[K, V]) Name() string     { return s.inner.Name() }
func (s *windowStore[K, V]) Persistent() bool { return s.inner.Persistent() }
func (s *windowStore[K, V]) Retention() time.Duration {
	return time.Duration(s.retention) * time.Millisecond
}

func (s *windowStore[K, V]) init() error {
	if s.exp == nil {
		s.exp = &expiringStore{inner: s.inner, retention: s.retention, observed: math.MinInt64,
			timeOf: func(b []byte) (int64, bool) {
				_, t, _, ok := state.SplitWindowKey(b)
				return t, ok
			}}
		if s.duplicates {
			// Carry on numbering after the entries restored, so that
			// a put after a restart cannot replace one of them.
			s.exp.seen = func(b []byte) {
				if _, _, seq, ok := state.SplitWindowKey(b); ok && seq > s.seq {
					s.seq = seq
				}
			}
		}
	}
	return s.exp.scan()
}

func (s *windowStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.keySerde.Serialize(s.topic, k)
	if err != nil {
		return nil, fmt.Errorf("streams: store %s: serialize key: %w", s.Name(), err)
	}
	return b, nil
}

func (s *windowStore[K, V]) Put(key K, value V, windowStart time.Time) error {
	if err := s.init(); err != nil {
		return err
	}
	kb, err := s.key(key)
	if err != nil {
		return err
	}
	start := windowStart.UnixMilli()
	if err := s.exp.observe(start); err != nil {
		return err
	}
	if start <= s.exp.expiredBefore() {
		return nil // Kafka: "Skipping record for expired segment."
	}
	vb, err := s.valueSerde.Serialize(s.topic, value)
	if err != nil {
		return fmt.Errorf("streams: store %s: serialize value: %w", s.Name(), err)
	}
	var seq uint32
	if s.duplicates {
		s.seq++
		seq = s.seq
	}
	return s.inner.Put(state.WindowKey(kb, start, seq), nonNil(vb))
}

func (s *windowStore[K, V]) FetchWindow(key K, windowStart time.Time) (V, bool, error) {
	var zero V
	it, err := s.Fetch(key, windowStart, windowStart)
	if err != nil {
		return zero, false, err
	}
	defer it.Close()
	if it.Next() {
		return it.Value(), true, nil
	}
	return zero, false, it.Err()
}

// entry is one decoded entry of a window or session store.
type windowEntry[K, V any] struct {
	keyBytes   []byte
	start, end int64
	seq        uint32
	key        K
	value      V
}

func (s *windowStore[K, V]) decode(kb []byte, start int64, seq uint32, vb []byte) (windowEntry[K, V], error) {
	k, err := s.keySerde.Deserialize(s.topic, kb)
	if err != nil {
		return windowEntry[K, V]{}, fmt.Errorf("streams: store %s: deserialize key: %w", s.Name(), err)
	}
	v, err := s.valueSerde.Deserialize(s.topic, vb)
	if err != nil {
		return windowEntry[K, V]{}, fmt.Errorf("streams: store %s: deserialize value: %w", s.Name(), err)
	}
	return windowEntry[K, V]{keyBytes: kb, start: start, seq: seq, key: k, value: v}, nil
}

// scan collects the live entries in the byte range [from, to] (nil:
// open) that match: a key (if not nil) and start times in [tFrom, tTo].
func (s *windowStore[K, V]) scan(from, to, key []byte, tFrom, tTo int64) ([]windowEntry[K, V], error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	tFrom = max(tFrom, s.exp.expiredBefore()+1)
	if tFrom > tTo {
		return nil, nil
	}
	it, err := s.inner.Range(from, to)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []windowEntry[K, V]
	for it.Next() {
		kb, start, seq, ok := state.SplitWindowKey(it.Key())
		if !ok || start < tFrom || start > tTo || (key != nil && !bytes.Equal(kb, key)) {
			continue
		}
		e, err := s.decode(append([]byte(nil), kb...), start, seq, it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, it.Err()
}

func (s *windowStore[K, V]) Fetch(key K, timeFrom, timeTo time.Time) (KeyValueIterator[time.Time, V], error) {
	kb, err := s.key(key)
	if err != nil {
		return nil, err
	}
	from, to := max(timeFrom.UnixMilli(), 0), timeTo.UnixMilli()
	if to < 0 {
		return &sliceIter[time.Time, V]{}, nil
	}
	es, err := s.scan(state.WindowKey(kb, from, 0), state.WindowKey(kb, to, math.MaxUint32), kb, from, to)
	if err != nil {
		return nil, err
	}
	it := &sliceIter[time.Time, V]{}
	for _, e := range es {
		it.add(time.UnixMilli(e.start), e.value)
	}
	return it, nil
}

func (s *windowStore[K, V]) FetchAll(timeFrom, timeTo time.Time) (KeyValueIterator[Windowed[K], V], error) {
	return s.all(timeFrom.UnixMilli(), timeTo.UnixMilli())
}

func (s *windowStore[K, V]) All() (KeyValueIterator[Windowed[K], V], error) {
	return s.all(math.MinInt64, math.MaxInt64)
}

func (s *windowStore[K, V]) all(from, to int64) (KeyValueIterator[Windowed[K], V], error) {
	es, err := s.scan(nil, nil, nil, from, to)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].start != es[j].start {
			return es[i].start < es[j].start
		}
		return bytes.Compare(es[i].keyBytes, es[j].keyBytes) < 0
	})
	it := &sliceIter[Windowed[K], V]{}
	for _, e := range es {
		it.add(Windowed[K]{Key: e.key, Window: windowMs(e.start, e.start+s.size)}, e.value)
	}
	return it, nil
}

// sessionStore is the typed session store over a (logged) byte store.
type sessionStore[K, V any] struct {
	inner      state.KeyValueStore
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	retention  int64 // ms
	exp        *expiringStore
}

func (s *sessionStore[K, V]) Name() string     { return s.inner.Name() }
func (s *sessionStore[K, V]) Persistent() bool { return s.inner.Persistent() }
func (s *sessionStore[K, V]) Retention() time.Duration {
	return time.Duration(s.retention) * time.Millisecond
}

func (s *sessionStore[K, V]) init() error {
	if s.exp == nil {
		s.exp = &expiringStore{inner: s.inner, retention: s.retention, observed: math.MinInt64,
			timeOf: func(b []byte) (int64, bool) {
				_, _, end, ok := state.SplitSessionKey(b)
				return end, ok
			}}
	}
	return s.exp.scan()
}

func (s *sessionStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.keySerde.Serialize(s.topic, k)
	if err != nil {
		return nil, fmt.Errorf("streams: store %s: serialize key: %w", s.Name(), err)
	}
	return b, nil
}

func (s *sessionStore[K, V]) Put(session Windowed[K], aggregate V) error {
	if err := s.init(); err != nil {
		return err
	}
	kb, err := s.key(session.Key)
	if err != nil {
		return err
	}
	end := session.Window.End.UnixMilli()
	if err := s.exp.observe(end); err != nil {
		return err
	}
	if end <= s.exp.expiredBefore() {
		return nil
	}
	vb, err := s.valueSerde.Serialize(s.topic, aggregate)
	if err != nil {
		return fmt.Errorf("streams: store %s: serialize value: %w", s.Name(), err)
	}
	return s.inner.Put(state.SessionKey(kb, session.Window.Start.UnixMilli(), end), nonNil(vb))
}

func (s *sessionStore[K, V]) Remove(session Windowed[K]) error {
	if err := s.init(); err != nil {
		return err
	}
	kb, err := s.key(session.Key)
	if err != nil {
		return err
	}
	return s.inner.Delete(state.SessionKey(kb, session.Window.Start.UnixMilli(), session.Window.End.UnixMilli()))
}

func (s *sessionStore[K, V]) FetchSession(key K, sessionStart, sessionEnd time.Time) (V, bool, error) {
	var zero V
	if err := s.init(); err != nil {
		return zero, false, err
	}
	kb, err := s.key(key)
	if err != nil {
		return zero, false, err
	}
	if sessionEnd.UnixMilli() <= s.exp.expiredBefore() {
		return zero, false, nil
	}
	vb, err := s.inner.Get(state.SessionKey(kb, sessionStart.UnixMilli(), sessionEnd.UnixMilli()))
	if err != nil || vb == nil {
		return zero, false, err
	}
	v, err := s.valueSerde.Deserialize(s.topic, vb)
	if err != nil {
		return zero, false, fmt.Errorf("streams: store %s: deserialize value: %w", s.Name(), err)
	}
	return v, true, nil
}

func (s *sessionStore[K, V]) FindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) (KeyValueIterator[Windowed[K], V], error) {
	return s.find(key, earliestSessionEnd.UnixMilli(), latestSessionStart.UnixMilli())
}

func (s *sessionStore[K, V]) Fetch(key K) (KeyValueIterator[Windowed[K], V], error) {
	return s.find(key, 0, math.MaxInt64)
}

func (s *sessionStore[K, V]) find(key K, earliestEnd, latestStart int64) (KeyValueIterator[Windowed[K], V], error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	kb, err := s.key(key)
	if err != nil {
		return nil, err
	}
	earliestEnd = max(earliestEnd, s.exp.expiredBefore()+1, 0)
	it, err := s.inner.Range(state.SessionKey(kb, 0, earliestEnd), state.SessionKey(kb, math.MaxInt64, math.MaxInt64))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := &sliceIter[Windowed[K], V]{}
	for it.Next() {
		k, start, end, ok := state.SplitSessionKey(it.Key())
		if !ok || !bytes.Equal(k, kb) || end < earliestEnd || start > latestStart {
			continue
		}
		v, err := s.valueSerde.Deserialize(s.topic, it.Value())
		if err != nil {
			return nil, fmt.Errorf("streams: store %s: deserialize value: %w", s.Name(), err)
		}
		out.add(Windowed[K]{Key: key, Window: windowMs(start, end)}, v)
	}
	return out, it.Err()
}

// sliceIter iterates a materialized result.
type sliceIter[K, V any] struct {
	keys   []K
	values []V
	i      int
}

func (it *sliceIter[K, V]) add(k K, v V) {
	it.keys = append(it.keys, k)
	it.values = append(it.values, v)
}

func (it *sliceIter[K, V]) Next() bool {
	if it.i >= len(it.keys) {
		return false
	}
	it.i++
	return true
}
func (it *sliceIter[K, V]) Key() K       { return it.keys[it.i-1] }
func (it *sliceIter[K, V]) Value() V     { return it.values[it.i-1] }
func (it *sliceIter[K, V]) Err() error   { return nil }
func (it *sliceIter[K, V]) Close() error { return nil }

// GetWindowStore returns the named store as a WindowStore[K, V].
func GetWindowStore[K, V any](d *TestDriver, name string) (WindowStore[K, V], error) {
	s := d.StateStore(name)
	if s == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownStore, name)
	}
	ws, ok := s.(WindowStore[K, V])
	if !ok {
		return nil, fmt.Errorf("streams: store %q is a %T", name, s)
	}
	return ws, nil
}

// GetTimestampedWindowStore returns the store of a windowed aggregation.
func GetTimestampedWindowStore[K, V any](d *TestDriver, name string) (TimestampedWindowStore[K, V], error) {
	return GetWindowStore[K, ValueAndTimestamp[V]](d, name)
}

// GetSessionStore returns the named store as a SessionStore[K, V].
func GetSessionStore[K, V any](d *TestDriver, name string) (SessionStore[K, V], error) {
	s := d.StateStore(name)
	if s == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownStore, name)
	}
	ss, ok := s.(SessionStore[K, V])
	if !ok {
		return nil, fmt.Errorf("streams: store %q is a %T", name, s)
	}
	return ss, nil
}
