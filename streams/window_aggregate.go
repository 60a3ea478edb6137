package streams

import (
	"fmt"
	"time"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
)

// Windowed aggregations (Kafka's TimeWindowedKStream,
// SlidingWindowedKStream and SessionWindowedKStream) run in event time:
// a record goes to the windows its timestamp falls in, and a window
// takes records until the task's stream time (the largest timestamp it
// has processed) passes the window's end by the grace period. A record
// for a window that has closed is dropped and logged, as Kafka logs it:
// "Skipping record for expired window". The result is a table keyed by
// Windowed[K] whose every update is forwarded (Suppress keeps only the
// final one per window).

// RetentionOpt sets how long a windowed aggregation's store keeps a
// window (Kafka's Materialized.withRetention); see WithRetention.
type RetentionOpt struct{ d time.Duration }

// WithRetention sets how long the store of a windowed aggregation keeps
// windows (Kafka's Materialized.withRetention); it must be at least the
// window size (for sliding windows the time difference, for sessions
// the inactivity gap) plus the grace period. The default is exactly
// that (sliding windows: twice the time difference plus grace).
func WithRetention(d time.Duration) RetentionOpt { return RetentionOpt{d: d} }

func (RetentionOpt) applyOp(*opOptions) {}

func retentionOf(opts []OpOpt) (time.Duration, bool) {
	var d time.Duration
	var ok bool
	for _, o := range opts {
		if r, is := o.(RetentionOpt); is {
			d, ok = r.d, true
		}
	}
	return d, ok
}

// TimeWindowedKStream is a grouped stream windowed by TimeWindows or
// SlidingWindows, ready to aggregate (Kafka's TimeWindowedKStream and
// SlidingWindowedKStream).
type TimeWindowedKStream[K, V any] struct {
	g    KGroupedStream[K, V]
	spec windowsSpec
}

// WindowedBy windows the grouped stream by time (Kafka's
// KGroupedStream.windowedBy): w is TimeWindows (tumbling or hopping) or
// SlidingWindows. It is a function, not a method of KGroupedStream,
// because the windowed table's key type Windowed[K] would make the
// method's instantiation recursive.
func WindowedBy[K, V any](g KGroupedStream[K, V], w Windows) TimeWindowedKStream[K, V] {
	var spec windowsSpec
	if w == nil {
		spec.err = fmt.Errorf("%w: nil windows", ErrTopology)
	} else {
		spec = w.windowsSpec()
	}
	if spec.err != nil {
		g.b.fail(spec.err)
	}
	return TimeWindowedKStream[K, V]{g: g, spec: spec}
}

// Count counts the records of each key in each window (Kafka's
// TimeWindowedKStream.count). Options: Named, As, InMemory,
// WithStoreSupplier (a state.WindowSupplier), WithLoggingDisabled,
// WithChangelogConfig, WithRetention, WithKeySerde.
func (w TimeWindowedKStream[K, V]) Count(opts ...OpOpt) KTable[Windowed[K], int64] {
	return windowAggregate(w, "KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", serde.Int64(), opts,
		func() int64 { return 0 },
		func(_ K, _ V, agg int64, _ bool) int64 { return agg + 1 })
}

// Reduce combines the values of each key in each window (Kafka's
// TimeWindowedKStream.reduce). Options as Count, with WithValueSerde.
func (w TimeWindowedKStream[K, V]) Reduce(reducer func(aggregate, value V) V, opts ...OpOpt) KTable[Windowed[K], V] {
	o := collectOpts(opts)
	vs := serdeOr(w.g.b, "value", o.valueSerde, w.g.valueSerde)
	return windowAggregate(w, "KSTREAM-REDUCE-", "KSTREAM-REDUCE-STATE-STORE-", vs, opts,
		func() V { var zero V; return zero },
		func(_ K, v V, agg V, had bool) V {
			if !had {
				return v
			}
			return reducer(agg, v)
		})
}

// WindowedAggregate folds the values of each key in each window into an
// aggregate (Kafka's TimeWindowedKStream.aggregate): a window's first
// record starts from initializer(). Options as Count, with
// WithValueSerde (a serde.Serde[VA]).
func WindowedAggregate[K, V, VA any](w TimeWindowedKStream[K, V], initializer func() VA, aggregator func(key K, value V, aggregate VA) VA, opts ...OpOpt) KTable[Windowed[K], VA] {
	o := collectOpts(opts)
	vs := serdeOr[VA](w.g.b, "value", o.valueSerde, nil)
	return windowAggregate(w, "KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", vs, opts, initializer,
		func(k K, v V, agg VA, _ bool) VA { return aggregator(k, v, agg) })
}

// groupedInput names the aggregation's store and returns the node it
// reads from: the grouped stream, repartitioned first if its key may
// have changed.
func groupedInput[K, V any](g KGroupedStream[K, V], o opOptions, storePrefix string, ks serde.Serde[K]) (parent, store string) {
	b := g.b
	store = o.storeName
	if store == "" && o.supplier != nil {
		store = o.supplier.Name()
	}
	if store == "" {
		store = b.newName(storePrefix)
	}
	parent = g.node
	if g.repartitionRequired {
		base := g.name
		if base == "" {
			base = store
		}
		parent = repartitionThrough(b, base, parent, true, ks, g.valueSerde, nil, 0)
	}
	return parent, store
}

func windowAggregate[K, V, VA any](w TimeWindowedKStream[K, V], procPrefix, storePrefix string, aggSerde serde.Serde[VA], opts []OpOpt,
	init func() VA, add func(k K, v V, agg VA, had bool) VA) KTable[Windowed[K], VA] {
	b := w.g.b
	o := collectOpts(opts)
	procName := b.nameOr(o, procPrefix)
	ks := serdeOr(b, "key", o.keySerde, w.g.keySerde)
	parent, store := groupedInput(w.g, o, storePrefix, ks)
	spec := w.spec
	size := time.Duration(spec.size) * time.Millisecond
	grace := time.Duration(spec.grace) * time.Millisecond
	retention := size + grace
	if spec.sliding {
		retention = 2*size + grace
	}
	if r, ok := retentionOf(opts); ok {
		if r < size+grace {
			b.fail(fmt.Errorf("%w: the retention period of window store %s (%v) must be no smaller than its window size plus the grace period (%v)", ErrTopology, store, r, size+grace))
		}
		retention = r
	}
	sup, err := windowSupplierFor(o, store, retention, size, false)
	if err != nil {
		b.fail(err)
		return KTable[Windowed[K], VA]{b: b, node: procName}
	}
	sb := TimestampedWindowStoreBuilder(sup, ks, aggSerde)
	sb.suppressGrace = spec.grace
	if o.loggingDisabled {
		sb.WithLoggingDisabled()
	} else if o.changelogConfig != nil {
		sb.WithLoggingEnabled(o.changelogConfig)
	}
	b.addStore(sb)
	if spec.sliding {
		addProcessor(b, procName, []string{parent}, []string{store}, func() Processor[K, V, Windowed[K], change[VA]] {
			return &slidingAggregateProc[K, V, VA]{store: store, spec: spec, init: init, add: add}
		})
	} else {
		addProcessor(b, procName, []string{parent}, []string{store}, func() Processor[K, V, Windowed[K], change[VA]] {
			return &windowAggregateProc[K, V, VA]{store: store, spec: spec, init: init, add: add}
		})
	}
	return KTable[Windowed[K], VA]{b: b, node: procName, keySerde: TimeWindowedSerde(ks, size), valueSerde: aggSerde, store: store}
}

// windowSupplierFor returns the window store supplier the options ask
// for.
func windowSupplierFor(o opOptions, name string, retention, size time.Duration, duplicates bool) (state.WindowSupplier, error) {
	switch {
	case o.supplier != nil:
		ws, ok := o.supplier.(state.WindowSupplier)
		if !ok {
			return nil, fmt.Errorf("%w: store supplier %q for a window store is a %T, not a state.WindowSupplier", ErrTopology, o.supplier.Name(), o.supplier)
		}
		return ws, nil
	case o.inMemory:
		return state.InMemoryWindowStore(name, retention, size, duplicates), nil
	default:
		return state.PersistentWindowStore(name, retention, size, duplicates), nil
	}
}

// skipExpired logs and drops a record for a window that has closed
// (Kafka's "Skipping record for expired window", counted in its
// dropped-records metric).
func skipExpired[K, V any](ctx ProcessorContext[K, V], key any, ts, windowStart, windowEnd, closeTime, streamTime int64) {
	attrs := []any{"key", key, "timestamp", ts, "window", fmt.Sprintf("[%d,%d]", windowStart, windowEnd), "expiration", closeTime, "streamTime", streamTime}
	if md, ok := ctx.RecordMetadata(); ok {
		attrs = append(attrs, "topic", md.Topic, "partition", md.Partition, "offset", md.Offset)
	}
	ctx.Logger().Warn("streams: Skipping record for expired window", attrs...)
}

// streamTimeMs is the stream time a windowed processor judges lateness
// by: the task's, which includes the record being processed.
func streamTimeMs[K, V any](ctx ProcessorContext[K, V], ts int64) int64 {
	return max(ctx.StreamTime().UnixMilli(), ts)
}

// windowAggregateProc is Kafka's KStreamWindowAggregate: it updates every
// window the record falls in that is still open.
type windowAggregateProc[K, V, VA any] struct {
	store string
	spec  windowsSpec
	init  func() VA
	add   func(K, V, VA, bool) VA
	ctx   ProcessorContext[Windowed[K], change[VA]]
	ws    TimestampedWindowStore[K, VA]
}

func (p *windowAggregateProc[K, V, VA]) Init(ctx ProcessorContext[Windowed[K], change[VA]]) error {
	p.ctx = ctx
	return storeOf(ctx, p.store, &p.ws)
}

func (p *windowAggregateProc[K, V, VA]) Process(rec Record[K, V]) error {
	if rec.nullKey || rec.nullValue {
		return nil // Kafka: "Skipping record due to null key or value"
	}
	ts := rec.Timestamp.UnixMilli()
	streamTime := streamTimeMs(p.ctx, ts)
	closeTime := streamTime - p.spec.grace
	for _, start := range p.spec.windowsFor(ts) {
		end := start + p.spec.size
		if end <= closeTime {
			skipExpired(p.ctx, rec.Key, ts, start, end, closeTime, streamTime)
			continue
		}
		old, had, err := p.ws.FetchWindow(rec.Key, time.UnixMilli(start))
		if err != nil {
			return err
		}
		agg, newTs := old.Value, rec.Timestamp
		if !had {
			agg = p.init()
		} else if old.Timestamp.After(newTs) {
			newTs = old.Timestamp
		}
		next := p.add(rec.Key, rec.Value, agg, had)
		if err := p.ws.Put(rec.Key, ValueAndTimestamp[VA]{Value: next, Timestamp: newTs}, time.UnixMilli(start)); err != nil {
			return err
		}
		c := change[VA]{newValue: next, hasNew: true}
		if had {
			c.oldValue, c.hasOld = old.Value, true
		}
		p.ctx.Forward(Record[Windowed[K], change[VA]]{
			Key: Windowed[K]{Key: rec.Key, Window: windowMs(start, end)}, Value: c, Timestamp: newTs, Headers: rec.Headers,
		})
	}
	return nil
}

func (p *windowAggregateProc[K, V, VA]) Close() error { return nil }

// slidingAggregateProc is Kafka's KStreamSlidingWindowAggregate (its
// forward-iterating variant): a record updates the windows it falls in,
// creates its own left window [t - d, t] and, where records follow it
// within d, its right window [t + 1, t + 1 + d], and the right window of
// the record before it. Records earlier than d share the window [0, d].
type slidingAggregateProc[K, V, VA any] struct {
	store string
	spec  windowsSpec
	init  func() VA
	add   func(K, V, VA, bool) VA
	ctx   ProcessorContext[Windowed[K], change[VA]]
	ws    TimestampedWindowStore[K, VA]
}

func (p *slidingAggregateProc[K, V, VA]) Init(ctx ProcessorContext[Windowed[K], change[VA]]) error {
	p.ctx = ctx
	return storeOf(ctx, p.store, &p.ws)
}

// slidingWindow is a stored window met while processing a record.
type slidingWindow[VA any] struct {
	start int64
	agg   ValueAndTimestamp[VA]
}

func (p *slidingAggregateProc[K, V, VA]) fetch(key K, from, to int64) ([]slidingWindow[VA], error) {
	it, err := p.ws.Fetch(key, time.UnixMilli(from), time.UnixMilli(to))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []slidingWindow[VA]
	for it.Next() {
		out = append(out, slidingWindow[VA]{start: it.Key().UnixMilli(), agg: it.Value()})
	}
	return out, it.Err()
}

func (p *slidingAggregateProc[K, V, VA]) Process(rec Record[K, V]) error {
	if rec.nullKey || rec.nullValue {
		return nil
	}
	ts := rec.Timestamp.UnixMilli()
	d := p.spec.size
	streamTime := streamTimeMs(p.ctx, ts)
	closeTime := streamTime - p.spec.grace
	if ts+1+d <= closeTime {
		skipExpired(p.ctx, rec.Key, ts, ts-d, ts, closeTime, streamTime)
		return nil
	}
	if ts < d {
		return p.processEarly(rec, ts, closeTime, streamTime)
	}
	windows, err := p.fetch(rec.Key, max(0, ts-2*d), ts+1)
	if err != nil {
		return err
	}
	starts := map[int64]bool{}
	var leftAgg, rightAgg *ValueAndTimestamp[VA]
	leftCreated, rightCreated := false, false
	prevTs, hasPrev := int64(0), false
	for i := range windows {
		w := &windows[i]
		starts[w.start] = true
		end := w.start + d
		maxTs := w.agg.Timestamp.UnixMilli()
		switch {
		case end < ts:
			leftAgg = &w.agg
			prevTs, hasPrev = maxTs, true
		case end == ts:
			leftCreated = true
			if maxTs < ts {
				prevTs, hasPrev = maxTs, true
			}
			if err := p.update(rec, w.start, w.agg, true, true, closeTime, streamTime); err != nil {
				return err
			}
		case end > ts && w.start <= ts:
			rightAgg = &w.agg
			if err := p.update(rec, w.start, w.agg, true, true, closeTime, streamTime); err != nil {
				return err
			}
		case w.start == ts+1:
			rightCreated = true
		default:
			return fmt.Errorf("streams: unexpected sliding window with start %d when processing a record at %d", w.start, ts)
		}
	}
	// The right window of the previous record, if this record is in it.
	if hasPrev {
		prevRight := prevTs + 1
		if !starts[prevRight] && prevRight+d >= ts {
			if err := p.update(rec, prevRight, ValueAndTimestamp[VA]{Value: p.init(), Timestamp: rec.Timestamp}, false, false, closeTime, streamTime); err != nil {
				return err
			}
		}
	}
	// This record's left window.
	if !leftCreated {
		vt := ValueAndTimestamp[VA]{Value: p.init(), Timestamp: rec.Timestamp}
		had := hasPrev && ts-d <= prevTs && leftAgg != nil
		if had {
			vt.Value = leftAgg.Value
		}
		if err := p.update(rec, ts-d, vt, had, false, closeTime, streamTime); err != nil {
			return err
		}
	}
	// This record's right window, if records follow within d.
	if !rightCreated && rightAgg != nil && rightAgg.Timestamp.UnixMilli() > ts {
		return p.createRight(rec, ts, *rightAgg)
	}
	return nil
}

// processEarly handles a record earlier than the time difference: its
// left window would start before 0, so early records share [0, d].
func (p *slidingAggregateProc[K, V, VA]) processEarly(rec Record[K, V], ts, closeTime, streamTime int64) error {
	windows, err := p.fetch(rec.Key, 0, ts+1)
	if err != nil {
		return err
	}
	var combined *slidingWindow[VA]
	var rightAgg *ValueAndTimestamp[VA]
	rightCreated := false
	starts := map[int64]bool{}
	prevTs, hasPrev := int64(0), false
	for i := range windows {
		w := &windows[i]
		starts[w.start] = true
		maxTs := w.agg.Timestamp.UnixMilli()
		switch {
		case w.start == 0:
			combined = w
			if maxTs < ts {
				prevTs, hasPrev = maxTs, true
			}
		case w.start <= ts:
			rightAgg = &w.agg
			if err := p.update(rec, w.start, w.agg, true, true, closeTime, streamTime); err != nil {
				return err
			}
		case w.start == ts+1:
			rightCreated = true
		default:
			return fmt.Errorf("streams: unexpected sliding window with start %d when processing a record at %d", w.start, ts)
		}
	}
	if rightAgg == nil && combined != nil && combined.agg.Timestamp.UnixMilli() > ts {
		rightAgg = &combined.agg
	}
	if !rightCreated && rightAgg != nil && rightAgg.Timestamp.UnixMilli() > ts {
		if err := p.createRight(rec, ts, *rightAgg); err != nil {
			return err
		}
	}
	if hasPrev && !starts[prevTs+1] {
		if err := p.update(rec, prevTs+1, ValueAndTimestamp[VA]{Value: p.init(), Timestamp: rec.Timestamp}, false, false, closeTime, streamTime); err != nil {
			return err
		}
	}
	if combined == nil {
		return p.update(rec, 0, ValueAndTimestamp[VA]{Value: p.init(), Timestamp: rec.Timestamp}, false, false, closeTime, streamTime)
	}
	return p.update(rec, 0, combined.agg, true, true, closeTime, streamTime)
}

// createRight stores the record's right window with the aggregate of the
// records after it, and forwards it.
func (p *slidingAggregateProc[K, V, VA]) createRight(rec Record[K, V], ts int64, agg ValueAndTimestamp[VA]) error {
	start := ts + 1
	if err := p.ws.Put(rec.Key, agg, time.UnixMilli(start)); err != nil {
		return err
	}
	p.ctx.Forward(Record[Windowed[K], change[VA]]{
		Key:   Windowed[K]{Key: rec.Key, Window: windowMs(start, start+p.spec.size)},
		Value: change[VA]{newValue: agg.Value, hasNew: true}, Timestamp: agg.Timestamp, Headers: rec.Headers,
	})
	return nil
}

// update adds the record to the window starting at start whose current
// aggregate is old, if the window is still open, and forwards the
// result (Kafka's updateWindowAndForward). Every window passed here
// holds an aggregate: a new one starts from the initializer.
func (p *slidingAggregateProc[K, V, VA]) update(rec Record[K, V], start int64, old ValueAndTimestamp[VA], had, exists bool, closeTime, streamTime int64) error {
	ts := rec.Timestamp.UnixMilli()
	end := start + p.spec.size
	if end < closeTime {
		skipExpired(p.ctx, rec.Key, ts, start, end, closeTime, streamTime)
		return nil
	}
	next := p.add(rec.Key, rec.Value, old.Value, had)
	newTs := rec.Timestamp
	if old.Timestamp.After(newTs) {
		newTs = old.Timestamp
	}
	if err := p.ws.Put(rec.Key, ValueAndTimestamp[VA]{Value: next, Timestamp: newTs}, time.UnixMilli(start)); err != nil {
		return err
	}
	p.ctx.Forward(Record[Windowed[K], change[VA]]{
		Key:   Windowed[K]{Key: rec.Key, Window: windowMs(start, end)},
		Value: change[VA]{newValue: next, hasNew: true, oldValue: old.Value, hasOld: exists}, Timestamp: newTs, Headers: rec.Headers,
	})
	return nil
}

func (p *slidingAggregateProc[K, V, VA]) Close() error { return nil }
