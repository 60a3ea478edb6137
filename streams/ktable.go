package streams

import (
	"fmt"
	"strconv"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
)

// KTable is a changelog stream read as a table (Kafka's KTable): each
// record is the latest value of its key, and a null value deletes the
// key. Every KTable here is materialized in a TimestampedKeyValueStore
// (named with As, or generated), backed by a changelog topic.
type KTable[K, V any] struct {
	b          *Builder
	node       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	store      string
	// getter reads the rows of a table without a store of its own,
	// from the stores it derives from (join_table.go); nil if none.
	getter *tableGetter[K, V]
}

// Name returns the name of the node that emits the table's updates.
func (t KTable[K, V]) Name() string { return t.node }

// StoreName returns the name of the store holding the table, or "" if the
// table is not materialized.
func (t KTable[K, V]) StoreName() string { return t.store }

// Table reads topic as a table (Kafka's StreamsBuilder.table). Records
// with a null key are dropped. Options: Named (the table source
// processor), As, WithStoreSupplier, InMemory, WithLoggingDisabled,
// WithChangelogConfig.
func Table[K, V any](b *Builder, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...OpOpt) KTable[K, V] {
	o := collectOpts(opts)
	src := b.newName("KSTREAM-SOURCE-")
	addSource(b, src, []string{topic}, keySerde, valueSerde)
	name := b.nameOr(o, "KTABLE-SOURCE-")
	store := o.storeName
	if store == "" {
		store = b.newName(topic + "-STATE-STORE-")
	}
	b.addStore(tableStoreBuilder(o, store, keySerde, valueSerde))
	addProcessor(b, name, []string{src}, []string{store}, tableSourceProcessor[K, V](store))
	return KTable[K, V]{b: b, node: name, keySerde: keySerde, valueSerde: valueSerde, store: store}
}

// tableStoreBuilder returns the timestamped store of a table or an
// aggregation, as the options ask.
func tableStoreBuilder[K, V any](o opOptions, name string, ks serde.Serde[K], vs serde.Serde[V]) StoreBuilder {
	var sup state.Supplier
	switch {
	case o.supplier != nil:
		sup = o.supplier
	case o.inMemory:
		sup = state.InMemoryKeyValueStore(name)
	default:
		sup = state.PersistentKeyValueStore(name)
	}
	sb := TimestampedKeyValueStoreBuilder(sup, ks, vs)
	if o.loggingDisabled {
		sb.WithLoggingDisabled()
	} else if o.changelogConfig != nil {
		sb.WithLoggingEnabled(o.changelogConfig)
	}
	return sb
}

// tableSource materializes updates of a stream into a table store and
// forwards them as changes (Kafka's KTableSource / KStreamToTable).
type tableSource[K, V any] struct {
	store string
	ctx   ProcessorContext[K, change[V]]
	kv    TimestampedKeyValueStore[K, V]
}

func tableSourceProcessor[K, V any](store string) ProcessorSupplier[K, V, K, change[V]] {
	return func() Processor[K, V, K, change[V]] { return &tableSource[K, V]{store: store} }
}

func (p *tableSource[K, V]) Init(ctx ProcessorContext[K, change[V]]) error {
	p.ctx = ctx
	return storeOf(ctx, p.store, &p.kv)
}

func (p *tableSource[K, V]) Process(rec Record[K, V]) error {
	if rec.nullKey {
		p.ctx.Logger().Warn("streams: skipping table record with null key")
		return nil
	}
	old, hadOld, err := p.kv.Get(rec.Key)
	if err != nil {
		return err
	}
	var c change[V]
	if hadOld {
		c.oldValue, c.hasOld = old.Value, true
	}
	if rec.nullValue {
		if !hadOld {
			return nil // deleting a missing key changes nothing
		}
		if _, _, err := p.kv.Delete(rec.Key); err != nil {
			return err
		}
	} else {
		if err := p.kv.Put(rec.Key, ValueAndTimestamp[V]{Value: rec.Value, Timestamp: rec.Timestamp}); err != nil {
			return err
		}
		c.newValue, c.hasNew = rec.Value, true
	}
	p.ctx.Forward(Record[K, change[V]]{Key: rec.Key, Value: c, Timestamp: rec.Timestamp, Headers: rec.Headers})
	return nil
}

func (p *tableSource[K, V]) Close() error { return nil }

// storeOf looks up a store connected to the processor and asserts its
// type into *dst.
func storeOf[S any, K, V any](ctx ProcessorContext[K, V], name string, dst *S) error {
	s := ctx.StateStore(name)
	if s == nil {
		return fmt.Errorf("%w: %q", ErrUnknownStore, name)
	}
	typed, ok := s.(S)
	if !ok {
		return fmt.Errorf("%w: store %q is a %T", ErrTopology, name, s)
	}
	*dst = typed
	return nil
}

// Filter keeps the rows for which pred is true: a row that stops matching
// is deleted downstream (Kafka's KTable.filter). Options: Named, As (to
// materialize the result; otherwise it is computed on the fly).
func (t KTable[K, V]) Filter(pred func(key K, value V) bool, opts ...OpOpt) KTable[K, V] {
	return t.filter(pred, false, opts)
}

// FilterNot drops the rows for which pred is true (Kafka's
// KTable.filterNot). Options as Filter.
func (t KTable[K, V]) FilterNot(pred func(key K, value V) bool, opts ...OpOpt) KTable[K, V] {
	return t.filter(pred, true, opts)
}

func (t KTable[K, V]) filter(pred func(K, V) bool, not bool, opts []OpOpt) KTable[K, V] {
	o := collectOpts(opts)
	name := t.b.nameOr(o, "KTABLE-FILTER-")
	keep := func(k K, v V) bool { return pred(k, v) != not }
	out := KTable[K, V]{b: t.b, node: name, keySerde: t.keySerde, valueSerde: t.valueSerde}
	out.store = materializeIf(t.b, o, t.keySerde, t.valueSerde)
	if out.store == "" {
		out.getter = mapGetter(t, func(k K, v V) (V, bool) { return v, keep(k, v) })
	}
	addProcessor(t.b, name, []string{t.node}, storeList(out.store), tableMapper(out.store, func(k K, v V) (V, bool) { return v, keep(k, v) }))
	return out
}

// TableMapValues computes a new value for each row (Kafka's
// KTable.mapValues). Options: Named, As, WithValueSerde (for the store).
func TableMapValues[K, V, VR any](t KTable[K, V], fn func(key K, value V) VR, opts ...OpOpt) KTable[K, VR] {
	o := collectOpts(opts)
	name := t.b.nameOr(o, "KTABLE-MAPVALUES-")
	vs := serdeOr[VR](t.b, "value", o.valueSerde, nil)
	out := KTable[K, VR]{b: t.b, node: name, keySerde: t.keySerde, valueSerde: vs}
	out.store = materializeIf(t.b, o, t.keySerde, vs)
	if out.store == "" {
		out.getter = mapGetter(t, func(k K, v V) (VR, bool) { return fn(k, v), true })
	}
	addProcessor(t.b, name, []string{t.node}, storeList(out.store), tableMapper(out.store, func(k K, v V) (VR, bool) { return fn(k, v), true }))
	return out
}

func storeList(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// materializeIf adds a store when the options name one.
func materializeIf[K, V any](b *Builder, o opOptions, ks serde.Serde[K], vs serde.Serde[V]) string {
	if o.storeName == "" && o.supplier == nil {
		return ""
	}
	name := o.storeName
	if name == "" {
		name = o.supplier.Name()
	}
	if ks == nil {
		ks = serde.Default[K]()
	}
	if vs == nil {
		vs = serde.Default[V]()
	}
	b.addStore(tableStoreBuilder(o, name, ks, vs))
	return name
}

// tableMapper applies fn to a change's new and old values; fn returns
// false for a row that does not exist after it (a filter). With a store,
// the result is materialized.
type tableMapperProc[K, V, VR any] struct {
	store string
	fn    func(K, V) (VR, bool)
	ctx   ProcessorContext[K, change[VR]]
	kv    TimestampedKeyValueStore[K, VR]
}

func tableMapper[K, V, VR any](store string, fn func(K, V) (VR, bool)) ProcessorSupplier[K, change[V], K, change[VR]] {
	return func() Processor[K, change[V], K, change[VR]] {
		return &tableMapperProc[K, V, VR]{store: store, fn: fn}
	}
}

func (p *tableMapperProc[K, V, VR]) Init(ctx ProcessorContext[K, change[VR]]) error {
	p.ctx = ctx
	if p.store == "" {
		return nil
	}
	return storeOf(ctx, p.store, &p.kv)
}

func (p *tableMapperProc[K, V, VR]) Process(rec Record[K, change[V]]) error {
	var out change[VR]
	if rec.Value.hasNew {
		out.newValue, out.hasNew = p.fn(rec.Key, rec.Value.newValue)
	}
	if p.kv != nil {
		old, ok, err := p.kv.Get(rec.Key)
		if err != nil {
			return err
		}
		out.oldValue, out.hasOld = old.Value, ok
		if out.hasNew {
			err = p.kv.Put(rec.Key, ValueAndTimestamp[VR]{Value: out.newValue, Timestamp: rec.Timestamp})
		} else if ok {
			_, _, err = p.kv.Delete(rec.Key)
		}
		if err != nil {
			return err
		}
	} else if rec.Value.hasOld {
		out.oldValue, out.hasOld = p.fn(rec.Key, rec.Value.oldValue)
	}
	if !out.hasNew && !out.hasOld {
		return nil // the row did not exist before and does not now
	}
	p.ctx.Forward(Record[K, change[VR]]{Key: rec.Key, Value: out, Timestamp: rec.Timestamp, Headers: rec.Headers})
	return nil
}

func (p *tableMapperProc[K, V, VR]) Close() error { return nil }

// ToStream returns the table's updates as a stream: a deleted row becomes
// a record with a null value (Kafka's KTable.toStream). Options: Named.
func (t KTable[K, V]) ToStream(opts ...OpOpt) KStream[K, V] {
	name := t.b.nameOr(collectOpts(opts), "KTABLE-TOSTREAM-")
	addProcessor(t.b, name, []string{t.node}, nil, ProcessorFunc(func(ctx ProcessorContext[K, V], rec Record[K, change[V]]) error {
		out := Record[K, V]{Key: rec.Key, Timestamp: rec.Timestamp, Headers: rec.Headers}
		if rec.Value.hasNew {
			out.Value = rec.Value.newValue
		} else {
			out.nullValue = true
		}
		ctx.Forward(out)
		return nil
	}))
	return KStream[K, V]{b: t.b, node: name, keySerde: t.keySerde, valueSerde: t.valueSerde}
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrTopology}, args...)...)
}

func itoa(i int) string { return strconv.Itoa(i) }
