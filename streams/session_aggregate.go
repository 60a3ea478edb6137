package streams

import (
	"time"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
)

// SessionWindowedKStream is a grouped stream windowed by SessionWindows,
// ready to aggregate (Kafka's SessionWindowedKStream).
type SessionWindowedKStream[K, V any] struct {
	g KGroupedStream[K, V]
	w SessionWindows
}

// SessionWindowedBy windows the grouped stream into sessions (Kafka's
// KGroupedStream.windowedBy(SessionWindows)).
func SessionWindowedBy[K, V any](g KGroupedStream[K, V], w SessionWindows) SessionWindowedKStream[K, V] {
	if w.err != nil {
		g.b.fail(w.err)
	}
	return SessionWindowedKStream[K, V]{g: g, w: w}
}

// Count counts the records of each session (Kafka's
// SessionWindowedKStream.count). When a record merges sessions, the
// merged sessions are deleted downstream (a null value for their
// Windowed key) and the new one is emitted. Options: Named, As,
// InMemory, WithStoreSupplier (a state.SessionSupplier),
// WithLoggingDisabled, WithChangelogConfig, WithRetention, WithKeySerde.
func (s SessionWindowedKStream[K, V]) Count(opts ...OpOpt) KTable[Windowed[K], int64] {
	return sessionAggregate(s, "KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", serde.Int64(), opts,
		func() int64 { return 0 },
		func(_ K, _ V, agg int64, _ bool) int64 { return agg + 1 },
		func(_ K, a, b int64) int64 { return a + b })
}

// Reduce combines the values of each session (Kafka's
// SessionWindowedKStream.reduce); merging sessions reduces their
// aggregates. Options as Count, with WithValueSerde.
func (s SessionWindowedKStream[K, V]) Reduce(reducer func(aggregate, value V) V, opts ...OpOpt) KTable[Windowed[K], V] {
	o := collectOpts(opts)
	vs := serdeOr(s.g.b, "value", o.valueSerde, s.g.valueSerde)
	// The merger sees "no aggregate" as the zero value with had false;
	// sessions in the store always hold one.
	return sessionAggregateHad(s, "KSTREAM-REDUCE-", "KSTREAM-REDUCE-STATE-STORE-", vs, opts,
		func() V { var zero V; return zero },
		func(_ K, v V, agg V, had bool) V {
			if !had {
				return v
			}
			return reducer(agg, v)
		},
		func(_ K, agg V, had bool, session V) V {
			if !had {
				return session
			}
			return reducer(agg, session)
		})
}

// SessionAggregate folds the values of each session into an aggregate
// (Kafka's SessionWindowedKStream.aggregate): a new session starts from
// initializer(); when a record bridges sessions, merger combines their
// aggregates. Options as Count, with WithValueSerde (a
// serde.Serde[VA]).
func SessionAggregate[K, V, VA any](s SessionWindowedKStream[K, V], initializer func() VA, aggregator func(key K, value V, aggregate VA) VA, merger func(key K, aggOne, aggTwo VA) VA, opts ...OpOpt) KTable[Windowed[K], VA] {
	o := collectOpts(opts)
	vs := serdeOr[VA](s.g.b, "value", o.valueSerde, nil)
	return sessionAggregate(s, "KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", vs, opts, initializer,
		func(k K, v V, agg VA, _ bool) VA { return aggregator(k, v, agg) }, merger)
}

func sessionAggregate[K, V, VA any](s SessionWindowedKStream[K, V], procPrefix, storePrefix string, aggSerde serde.Serde[VA], opts []OpOpt,
	init func() VA, add func(K, V, VA, bool) VA, merge func(K, VA, VA) VA) KTable[Windowed[K], VA] {
	return sessionAggregateHad(s, procPrefix, storePrefix, aggSerde, opts, init, add,
		func(k K, agg VA, _ bool, session VA) VA { return merge(k, agg, session) })
}

func sessionAggregateHad[K, V, VA any](s SessionWindowedKStream[K, V], procPrefix, storePrefix string, aggSerde serde.Serde[VA], opts []OpOpt,
	init func() VA, add func(K, V, VA, bool) VA, merge func(K, VA, bool, VA) VA) KTable[Windowed[K], VA] {
	b := s.g.b
	o := collectOpts(opts)
	procName := b.nameOr(o, procPrefix)
	ks := serdeOr(b, "key", o.keySerde, s.g.keySerde)
	parent, store := groupedInput(s.g, o, storePrefix, ks)
	gap := time.Duration(s.w.gap) * time.Millisecond
	grace := time.Duration(s.w.grace) * time.Millisecond
	retention := gap + grace
	if r, ok := retentionOf(opts); ok {
		if r < gap+grace {
			b.fail(errorf("the retention period of session store %s (%v) must be no smaller than its inactivity gap plus the grace period (%v)", store, r, gap+grace))
		}
		retention = r
	}
	var sup state.SessionSupplier
	switch {
	case o.supplier != nil:
		ss, ok := o.supplier.(state.SessionSupplier)
		if !ok {
			b.fail(errorf("store supplier %q for a session store is a %T, not a state.SessionSupplier", o.supplier.Name(), o.supplier))
			return KTable[Windowed[K], VA]{b: b, node: procName}
		}
		sup = ss
	case o.inMemory:
		sup = state.InMemorySessionStore(store, retention)
	default:
		sup = state.PersistentSessionStore(store, retention)
	}
	sb := SessionStoreBuilder(sup, ks, aggSerde)
	sb.suppressGrace = s.w.gap + s.w.grace
	if o.loggingDisabled {
		sb.WithLoggingDisabled()
	} else if o.changelogConfig != nil {
		sb.WithLoggingEnabled(o.changelogConfig)
	}
	b.addStore(sb)
	w := s.w
	addProcessor(b, procName, []string{parent}, []string{store}, func() Processor[K, V, Windowed[K], change[VA]] {
		return &sessionAggregateProc[K, V, VA]{store: store, w: w, init: init, add: add, merge: merge}
	})
	return KTable[Windowed[K], VA]{b: b, node: procName, keySerde: SessionWindowedSerde(ks), valueSerde: aggSerde, store: store}
}

// sessionAggregateProc is Kafka's KStreamSessionWindowAggregate: a record
// finds the sessions within the gap of it, merges them with itself into
// one session, deletes the merged ones and stores and forwards the new
// one. Forwarded records carry the session's end as timestamp.
type sessionAggregateProc[K, V, VA any] struct {
	store string
	w     SessionWindows
	init  func() VA
	add   func(K, V, VA, bool) VA
	merge func(K, VA, bool, VA) VA
	ctx   ProcessorContext[Windowed[K], change[VA]]
	ss    SessionStore[K, VA]
}

func (p *sessionAggregateProc[K, V, VA]) Init(ctx ProcessorContext[Windowed[K], change[VA]]) error {
	p.ctx = ctx
	return storeOf(ctx, p.store, &p.ss)
}

func (p *sessionAggregateProc[K, V, VA]) Process(rec Record[K, V]) error {
	if rec.nullKey || rec.nullValue {
		return nil // Kafka: "Skipping record due to null key"
	}
	ts := rec.Timestamp.UnixMilli()
	streamTime := streamTimeMs(p.ctx, ts)
	closeTime := streamTime - p.w.grace - p.w.gap
	it, err := p.ss.FindSessions(rec.Key, time.UnixMilli(ts-p.w.gap), time.UnixMilli(ts+p.w.gap))
	if err != nil {
		return err
	}
	type session struct {
		key Windowed[K]
		agg VA
	}
	var merged []session
	start, end := ts, ts
	agg, had := p.init(), false
	for it.Next() {
		merged = append(merged, session{it.Key(), it.Value()})
		agg = p.merge(rec.Key, agg, had, it.Value())
		had = true
		start = min(start, it.Key().Window.Start.UnixMilli())
		end = max(end, it.Key().Window.End.UnixMilli())
	}
	err = it.Err()
	it.Close()
	if err != nil {
		return err
	}
	if end < closeTime {
		skipExpired(p.ctx, rec.Key, ts, start, end, closeTime, streamTime)
		return nil
	}
	if start != ts || end != ts {
		for _, s := range merged {
			if err := p.ss.Remove(s.key); err != nil {
				return err
			}
			p.ctx.Forward(Record[Windowed[K], change[VA]]{
				Key: s.key, Value: change[VA]{oldValue: s.agg, hasOld: true},
				Timestamp: s.key.Window.End, Headers: rec.Headers,
			})
		}
	}
	agg = p.add(rec.Key, rec.Value, agg, had)
	key := Windowed[K]{Key: rec.Key, Window: windowMs(start, end)}
	if err := p.ss.Put(key, agg); err != nil {
		return err
	}
	p.ctx.Forward(Record[Windowed[K], change[VA]]{
		Key: key, Value: change[VA]{newValue: agg, hasNew: true}, Timestamp: key.Window.End, Headers: rec.Headers,
	})
	return nil
}

func (p *sessionAggregateProc[K, V, VA]) Close() error { return nil }
