package streams

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// Interactive queries over window and session stores (Kafka's
// QueryableStoreTypes.windowStore(), timestampedWindowStore() and
// sessionStore()). They follow the key-value queries of query.go: the
// same errors, the same lock (the App's task lock, held for each call),
// and the same routing. A call for one key goes to the local task of the
// key's partition, found from the plain (un-windowed) key's bytes, which
// is also the key QueryMetadataForKey takes for these stores. A call over
// a time range reads every local task of the store and returns the
// results of each task in turn, copied when the call is made:
//
//	wins, err := streams.QueryWindowStore[string, int64](app, "clicks-store")
//	n, ok, err := wins.FetchWindow("alice", windowStart) // the owner only
//	it, err := wins.FetchAll(from, to)                    // this instance's share

// ReadOnlyWindowStore reads a window store of a running App (Kafka's
// ReadOnlyWindowStore). It is safe for concurrent use; do not call it
// from a processor of the same App. Time ranges are inclusive and apply
// to window starts.
type ReadOnlyWindowStore[K, V any] interface {
	// FetchWindow returns the value of key's window starting at
	// windowStart (Kafka's fetch(key, time)), from the task of the
	// key's partition. It fails with ErrStoreNotLocal if that task is
	// not on this instance, and ErrStoreRebalancing if it is restoring.
	FetchWindow(key K, windowStart time.Time) (V, bool, error)
	// Fetch returns key's windows starting in [timeFrom, timeTo], by
	// start time; the iterator's keys are the window starts (Kafka's
	// fetch(key, timeFrom, timeTo)). Errors as FetchWindow.
	Fetch(key K, timeFrom, timeTo time.Time) (KeyValueIterator[time.Time, V], error)
	// FetchAll returns every local task's windows starting in
	// [timeFrom, timeTo], each task's by start time, then key.
	FetchAll(timeFrom, timeTo time.Time) (KeyValueIterator[Windowed[K], V], error)
	// All returns every window of every local task.
	All() (KeyValueIterator[Windowed[K], V], error)
}

// ReadOnlySessionStore reads a session store of a running App (Kafka's
// ReadOnlySessionStore). It is safe for concurrent use; do not call it
// from a processor of the same App. Every call is for one key and goes
// to the task of the key's partition: it fails with ErrStoreNotLocal if
// that task is not on this instance, and ErrStoreRebalancing if it is
// restoring.
type ReadOnlySessionStore[K, V any] interface {
	// Fetch returns every session of key, by end time.
	Fetch(key K) (KeyValueIterator[Windowed[K], V], error)
	// FindSessions returns key's sessions that end at or after
	// earliestSessionEnd and start at or before latestSessionStart, by
	// end time.
	FindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) (KeyValueIterator[Windowed[K], V], error)
	// FetchSession returns the aggregate of key's session [start, end].
	FetchSession(key K, sessionStart, sessionEnd time.Time) (V, bool, error)
}

// QueryWindowStore returns the local instances of a window store of a
// running App, read-only (Kafka's KafkaStreams.store with
// QueryableStoreTypes.windowStore()). For the store of a windowed
// aggregation (timestamped), V is the plain value type; use
// QueryTimestampedWindowStore to get the timestamps.
func QueryWindowStore[K, V any](a *App, store string) (ReadOnlyWindowStore[K, V], error) {
	sub, err := a.storeSubtopology(store)
	if err != nil {
		return nil, err
	}
	return &windowQuery[K, V]{queryStore[K, V]{a: a, name: store, sub: sub}}, nil
}

// QueryTimestampedWindowStore returns the local instances of the window
// store of a windowed aggregation with the timestamps of the values
// (Kafka's QueryableStoreTypes.timestampedWindowStore()).
func QueryTimestampedWindowStore[K, V any](a *App, store string) (ReadOnlyWindowStore[K, ValueAndTimestamp[V]], error) {
	return QueryWindowStore[K, ValueAndTimestamp[V]](a, store)
}

// QuerySessionStore returns the local instances of a session store of a
// running App, read-only (Kafka's QueryableStoreTypes.sessionStore()).
func QuerySessionStore[K, V any](a *App, store string) (ReadOnlySessionStore[K, V], error) {
	sub, err := a.storeSubtopology(store)
	if err != nil {
		return nil, err
	}
	return &sessionQuery[K, V]{queryStore[K, V]{a: a, name: store, sub: sub}}, nil
}

// keyer is what routes a key: a store that serializes it.
type keyer[K any] interface {
	key(k K) ([]byte, error)
}

// taskForKeyLocked returns the local running task of key's partition;
// a.tm is held. open gives a task's store as something that serializes
// keys, or an error wrapping ErrStoreNotLocal if the task has none.
func taskForKeyLocked[K, V any](q *queryStore[K, V], key K, open func(*task) (keyer[K], error)) (*task, error) {
	info := q.a.assignor.assignment()
	if info == nil || info.taskCounts[q.sub.id] == 0 {
		return nil, ErrStoreRebalancing
	}
	var kb []byte
	for _, t := range q.a.sortedTasksLocked() {
		if t.sub != q.sub {
			continue
		}
		k, err := open(t)
		if err != nil {
			if errors.Is(err, ErrStoreNotLocal) {
				continue // not open yet
			}
			return nil, err
		}
		if kb, err = k.key(key); err != nil {
			return nil, err
		}
		break
	}
	if kb == nil {
		return nil, fmt.Errorf("%w: no local task has store %q", ErrStoreNotLocal, q.name)
	}
	id := TaskID{Subtopology: q.sub.id, Partition: keyPartition(kb, info.taskCounts[q.sub.id])}
	t := q.a.tm.tasks[id]
	if t == nil {
		return nil, fmt.Errorf("%w: the key of store %q is in task %s", ErrStoreNotLocal, q.name, id)
	}
	if t.state != taskRunning {
		return nil, fmt.Errorf("%w: task %s", ErrStoreRebalancing, id)
	}
	return t, nil
}

// windowReader is what a query reads from one task's window store.
type windowReader[K, V any] interface {
	FetchWindow(key K, windowStart time.Time) (V, bool, error)
	Fetch(key K, timeFrom, timeTo time.Time) (KeyValueIterator[time.Time, V], error)
	FetchAll(timeFrom, timeTo time.Time) (KeyValueIterator[Windowed[K], V], error)
	All() (KeyValueIterator[Windowed[K], V], error)
	key(k K) ([]byte, error)
}

// plainWindowReader reads a timestamped window store without the
// timestamps.
type plainWindowReader[K, V any] struct {
	s *windowStore[K, ValueAndTimestamp[V]]
}

func (p plainWindowReader[K, V]) FetchWindow(key K, windowStart time.Time) (V, bool, error) {
	v, ok, err := p.s.FetchWindow(key, windowStart)
	return v.Value, ok, err
}

func (p plainWindowReader[K, V]) Fetch(key K, timeFrom, timeTo time.Time) (KeyValueIterator[time.Time, V], error) {
	it, err := p.s.Fetch(key, timeFrom, timeTo)
	if err != nil {
		return nil, err
	}
	return plainIterator[time.Time, V]{it}, nil
}

func (p plainWindowReader[K, V]) FetchAll(timeFrom, timeTo time.Time) (KeyValueIterator[Windowed[K], V], error) {
	it, err := p.s.FetchAll(timeFrom, timeTo)
	if err != nil {
		return nil, err
	}
	return plainIterator[Windowed[K], V]{it}, nil
}

func (p plainWindowReader[K, V]) All() (KeyValueIterator[Windowed[K], V], error) {
	it, err := p.s.All()
	if err != nil {
		return nil, err
	}
	return plainIterator[Windowed[K], V]{it}, nil
}

func (p plainWindowReader[K, V]) key(k K) ([]byte, error) { return p.s.key(k) }

// windowQuery is a ReadOnlyWindowStore over the App's tasks.
type windowQuery[K, V any] struct {
	q queryStore[K, V]
}

// reader returns t's store as a windowReader[K, V].
func (w *windowQuery[K, V]) reader(t *task) (windowReader[K, V], error) {
	ts := t.stores[w.q.name]
	if ts == nil {
		return nil, fmt.Errorf("%w: store %q of task %s", ErrStoreNotLocal, w.q.name, t.id)
	}
	switch s := ts.typed.(type) {
	case *windowStore[K, V]:
		return s, nil
	case *windowStore[K, ValueAndTimestamp[V]]:
		return plainWindowReader[K, V]{s}, nil
	}
	return nil, fmt.Errorf("streams: store %q is a %T, not a window store of the queried types", w.q.name, ts.typed)
}

// forKey runs read on the window store of key's task.
func (w *windowQuery[K, V]) forKey(key K, read func(windowReader[K, V]) error) error {
	if err := w.q.checkRunning(); err != nil {
		return err
	}
	w.q.a.tm.Lock()
	defer w.q.a.tm.Unlock()
	t, err := taskForKeyLocked(&w.q, key, func(t *task) (keyer[K], error) { return w.reader(t) })
	if err != nil {
		return err
	}
	r, err := w.reader(t)
	if err != nil {
		return err
	}
	return read(r)
}

func (w *windowQuery[K, V]) FetchWindow(key K, windowStart time.Time) (V, bool, error) {
	var (
		v  V
		ok bool
	)
	err := w.forKey(key, func(r windowReader[K, V]) error {
		var err error
		v, ok, err = r.FetchWindow(key, windowStart)
		return err
	})
	return v, ok, err
}

func (w *windowQuery[K, V]) Fetch(key K, timeFrom, timeTo time.Time) (KeyValueIterator[time.Time, V], error) {
	var out []KeyValue[time.Time, V]
	err := w.forKey(key, func(r windowReader[K, V]) error {
		it, err := r.Fetch(key, timeFrom, timeTo)
		if err != nil {
			return err
		}
		return collect(it, &out)
	})
	if err != nil {
		return nil, err
	}
	return &sliceIterator[time.Time, V]{kvs: out, i: -1}, nil
}

// scan collects what open gives for every local task of the store.
func (w *windowQuery[K, V]) scan(open func(windowReader[K, V]) (KeyValueIterator[Windowed[K], V], error)) (KeyValueIterator[Windowed[K], V], error) {
	if err := w.q.checkRunning(); err != nil {
		return nil, err
	}
	w.q.a.tm.Lock()
	defer w.q.a.tm.Unlock()
	tasks, err := w.q.localTasksLocked()
	if err != nil {
		return nil, err
	}
	var out []KeyValue[Windowed[K], V]
	for _, t := range tasks {
		r, err := w.reader(t)
		if err != nil {
			return nil, err
		}
		it, err := open(r)
		if err != nil {
			return nil, err
		}
		if err := collect(it, &out); err != nil {
			return nil, err
		}
	}
	return &sliceIterator[Windowed[K], V]{kvs: out, i: -1}, nil
}

func (w *windowQuery[K, V]) FetchAll(timeFrom, timeTo time.Time) (KeyValueIterator[Windowed[K], V], error) {
	return w.scan(func(r windowReader[K, V]) (KeyValueIterator[Windowed[K], V], error) {
		return r.FetchAll(timeFrom, timeTo)
	})
}

func (w *windowQuery[K, V]) All() (KeyValueIterator[Windowed[K], V], error) {
	return w.scan(func(r windowReader[K, V]) (KeyValueIterator[Windowed[K], V], error) { return r.All() })
}

// sessionQuery is a ReadOnlySessionStore over the App's tasks.
type sessionQuery[K, V any] struct {
	q queryStore[K, V]
}

// reader returns t's store as a *sessionStore[K, V].
func (s *sessionQuery[K, V]) reader(t *task) (*sessionStore[K, V], error) {
	ts := t.stores[s.q.name]
	if ts == nil {
		return nil, fmt.Errorf("%w: store %q of task %s", ErrStoreNotLocal, s.q.name, t.id)
	}
	if st, ok := ts.typed.(*sessionStore[K, V]); ok {
		return st, nil
	}
	return nil, fmt.Errorf("streams: store %q is a %T, not a session store of the queried types", s.q.name, ts.typed)
}

// forKey runs read on the session store of key's task.
func (s *sessionQuery[K, V]) forKey(key K, read func(*sessionStore[K, V]) error) error {
	if err := s.q.checkRunning(); err != nil {
		return err
	}
	s.q.a.tm.Lock()
	defer s.q.a.tm.Unlock()
	t, err := taskForKeyLocked(&s.q, key, func(t *task) (keyer[K], error) { return s.reader(t) })
	if err != nil {
		return err
	}
	st, err := s.reader(t)
	if err != nil {
		return err
	}
	return read(st)
}

// sessions copies the sessions open gives from key's task, by end time.
func (s *sessionQuery[K, V]) sessions(key K, open func(*sessionStore[K, V]) (KeyValueIterator[Windowed[K], V], error)) (KeyValueIterator[Windowed[K], V], error) {
	var out []KeyValue[Windowed[K], V]
	err := s.forKey(key, func(st *sessionStore[K, V]) error {
		it, err := open(st)
		if err != nil {
			return err
		}
		return collect(it, &out)
	})
	if err != nil {
		return nil, err
	}
	// The store keeps a key's sessions by end time already (its byte
	// order); keep it stable whatever the store's order.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key.Window.End.Before(out[j].Key.Window.End) })
	return &sliceIterator[Windowed[K], V]{kvs: out, i: -1}, nil
}

func (s *sessionQuery[K, V]) Fetch(key K) (KeyValueIterator[Windowed[K], V], error) {
	return s.sessions(key, func(st *sessionStore[K, V]) (KeyValueIterator[Windowed[K], V], error) { return st.Fetch(key) })
}

func (s *sessionQuery[K, V]) FindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) (KeyValueIterator[Windowed[K], V], error) {
	return s.sessions(key, func(st *sessionStore[K, V]) (KeyValueIterator[Windowed[K], V], error) {
		return st.FindSessions(key, earliestSessionEnd, latestSessionStart)
	})
}

func (s *sessionQuery[K, V]) FetchSession(key K, sessionStart, sessionEnd time.Time) (V, bool, error) {
	var (
		v  V
		ok bool
	)
	err := s.forKey(key, func(st *sessionStore[K, V]) error {
		var err error
		v, ok, err = st.FetchSession(key, sessionStart, sessionEnd)
		return err
	})
	return v, ok, err
}
