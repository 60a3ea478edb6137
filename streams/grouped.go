package streams

import (
	"github.com/gregor-streaming/gregor/streams/serde"
)

// KGroupedStream is a stream grouped by key, ready to aggregate (Kafka's
// KGroupedStream). If the key may have changed upstream, the aggregation
// first writes the stream through a repartition topic,
// <application.id>-<name>-repartition, where name is the grouping's
// Named option or else the aggregation's store name.
type KGroupedStream[K, V any] struct {
	b                   *Builder
	node                string
	keySerde            serde.Serde[K]
	valueSerde          serde.Serde[V]
	repartitionRequired bool
	name                string
}

// GroupByKey groups the stream by its key (Kafka's KStream.groupByKey).
// Options: Named (the repartition topic's name part), WithKeySerde,
// WithValueSerde (for the repartition topic and the store).
func (s KStream[K, V]) GroupByKey(opts ...OpOpt) KGroupedStream[K, V] {
	o := collectOpts(opts)
	return KGroupedStream[K, V]{
		b:                   s.b,
		node:                s.node,
		keySerde:            serdeOr(s.b, "key", o.keySerde, s.keySerde),
		valueSerde:          serdeOr(s.b, "value", o.valueSerde, s.valueSerde),
		repartitionRequired: s.repartitionRequired,
		name:                o.name,
	}
}

// GroupBy groups the stream by a new key computed from each record
// (Kafka's KStream.groupBy): a key selection, then a repartition at the
// aggregation. Options as GroupByKey.
func GroupBy[K, V, KR any](s KStream[K, V], fn func(key K, value V) KR, opts ...OpOpt) KGroupedStream[KR, V] {
	sel := selectKey(s, "KSTREAM-KEY-SELECT-", fn, nil)
	return sel.GroupByKey(opts...)
}

// Count counts the records of each key (Kafka's KGroupedStream.count).
// Records with a null key or value are skipped. Options: Named, As,
// WithStoreSupplier, InMemory, WithLoggingDisabled, WithChangelogConfig,
// WithKeySerde (for the store).
func (g KGroupedStream[K, V]) Count(opts ...OpOpt) KTable[K, int64] {
	return aggregate(g, "KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", serde.Int64(), opts,
		func() int64 { return 0 },
		func(_ K, _ V, agg int64, _ bool) int64 { return agg + 1 })
}

// Reduce combines the values of each key (Kafka's
// KGroupedStream.reduce): the first value of a key is its aggregate, each
// later one is reducer(aggregate, value). Options as Count, with
// WithValueSerde.
func (g KGroupedStream[K, V]) Reduce(reducer func(aggregate, value V) V, opts ...OpOpt) KTable[K, V] {
	o := collectOpts(opts)
	vs := serdeOr(g.b, "value", o.valueSerde, g.valueSerde)
	return aggregate(g, "KSTREAM-REDUCE-", "KSTREAM-REDUCE-STATE-STORE-", vs, opts,
		func() V { var zero V; return zero },
		func(_ K, v V, agg V, had bool) V {
			if !had {
				return v
			}
			return reducer(agg, v)
		})
}

// Aggregate folds the values of each key into an aggregate of type VA
// (Kafka's KGroupedStream.aggregate): a key's first record starts from
// initializer(). Options as Count, with WithValueSerde (a
// serde.Serde[VA]; default serde.Default[VA]).
func Aggregate[K, V, VA any](g KGroupedStream[K, V], initializer func() VA, aggregator func(key K, value V, aggregate VA) VA, opts ...OpOpt) KTable[K, VA] {
	o := collectOpts(opts)
	vs := serdeOr[VA](g.b, "value", o.valueSerde, nil)
	return aggregate(g, "KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", vs, opts, initializer,
		func(k K, v V, agg VA, _ bool) VA { return aggregator(k, v, agg) })
}

func aggregate[K, V, VA any](g KGroupedStream[K, V], procPrefix, storePrefix string, aggSerde serde.Serde[VA], opts []OpOpt,
	init func() VA, add func(k K, v V, agg VA, had bool) VA) KTable[K, VA] {
	b := g.b
	o := collectOpts(opts)
	procName := b.nameOr(o, procPrefix)
	store := o.storeName
	if store == "" && o.supplier != nil {
		store = o.supplier.Name()
	}
	if store == "" {
		store = b.newName(storePrefix)
	}
	ks := serdeOr(b, "key", o.keySerde, g.keySerde)
	parent := g.node
	if g.repartitionRequired {
		base := g.name
		if base == "" {
			base = store
		}
		parent = repartitionThrough(b, base, parent, true, ks, g.valueSerde, nil, 0)
	}
	b.addStore(tableStoreBuilder(o, store, ks, aggSerde))
	addProcessor(b, procName, []string{parent}, []string{store}, func() Processor[K, V, K, change[VA]] {
		return &aggregateProc[K, V, VA]{store: store, init: init, add: add}
	})
	return KTable[K, VA]{b: b, node: procName, keySerde: ks, valueSerde: aggSerde, store: store}
}

// aggregateProc is Kafka's KStreamAggregate (and KStreamReduce): it
// updates the key's aggregate and forwards the change, stamped with the
// larger of the record's and the old aggregate's timestamps.
type aggregateProc[K, V, VA any] struct {
	store string
	init  func() VA
	add   func(K, V, VA, bool) VA
	ctx   ProcessorContext[K, change[VA]]
	kv    TimestampedKeyValueStore[K, VA]
}

func (p *aggregateProc[K, V, VA]) Init(ctx ProcessorContext[K, change[VA]]) error {
	p.ctx = ctx
	return storeOf(ctx, p.store, &p.kv)
}

func (p *aggregateProc[K, V, VA]) Process(rec Record[K, V]) error {
	if rec.nullKey || rec.nullValue {
		// Kafka skips these too ("Skipping record due to null key or
		// value") and counts them as dropped.
		return nil
	}
	old, had, err := p.kv.Get(rec.Key)
	if err != nil {
		return err
	}
	agg := old.Value
	ts := rec.Timestamp
	if !had {
		agg = p.init()
	} else if old.Timestamp.After(ts) {
		ts = old.Timestamp
	}
	next := p.add(rec.Key, rec.Value, agg, had)
	if err := p.kv.Put(rec.Key, ValueAndTimestamp[VA]{Value: next, Timestamp: ts}); err != nil {
		return err
	}
	c := change[VA]{newValue: next, hasNew: true}
	if had {
		c.oldValue, c.hasOld = old.Value, true
	}
	p.ctx.Forward(Record[K, change[VA]]{Key: rec.Key, Value: c, Timestamp: ts, Headers: rec.Headers})
	return nil
}

func (p *aggregateProc[K, V, VA]) Close() error { return nil }
