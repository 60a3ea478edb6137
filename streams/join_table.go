package streams

import (
	"fmt"
	"slices"
	"sort"
)

// Joins with tables: KStream–KTable (the stream side drives, the table is
// looked up at processing time) and KTable–KTable on the primary key
// (either side drives; the result is a table). Kafka's KStreamKTableJoin,
// KTableKTableInnerJoin / LeftJoin / RightJoin / OuterJoin and
// KTableKTableJoinMerger are the model; the developer guide's "Semantics
// of stream-table joins" and "Semantics of table-table equi-joins" tables
// are the specification (join_table_test.go replays them row by row).
//
// Both inputs of these joins must be co-partitioned: the join adds a
// co-partition group of their source topics, which Start checks (and
// uses to size a repartition topic in the group). A stream whose key may
// have changed is repartitioned first, through
// <application.id>-<name>-repartition.
//
// Joiners take the key and both values. Where a side may be missing
// (left and outer joins) the joiner gets a pointer to it, nil for
// missing: Kafka passes null there.

// tableGetter reads a table's current rows from inside a task (Kafka's
// KTableValueGetterSupplier): from the table's own store, or computed
// from the stores of the tables it derives from.
type tableGetter[K, V any] struct {
	// stores are the state stores the getter reads; every processor
	// that uses the getter is connected to them.
	stores []string
	// open binds the getter to one task: store returns a store
	// connected to the calling processor.
	open func(store func(name string) StateStore) (getFunc[K, V], error)
}

// getFunc looks up a key: its value and timestamp, and whether it exists.
type getFunc[K, V any] func(key K) (ValueAndTimestamp[V], bool, error)

// storeGetter reads the timestamped store of a materialized table.
func storeGetter[K, V any](name string) *tableGetter[K, V] {
	return &tableGetter[K, V]{
		stores: []string{name},
		open: func(store func(string) StateStore) (getFunc[K, V], error) {
			s := store(name)
			if s == nil {
				return nil, fmt.Errorf("%w: %q", ErrUnknownStore, name)
			}
			kv, ok := s.(TimestampedKeyValueStore[K, V])
			if !ok {
				return nil, fmt.Errorf("%w: store %q is a %T", ErrTopology, name, s)
			}
			return kv.Get, nil
		},
	}
}

// getterOrNil returns the getter of t's rows, or nil if t is neither
// materialized nor derived from materialized tables.
func (t KTable[K, V]) getterOrNil() *tableGetter[K, V] {
	if t.store != "" {
		return storeGetter[K, V](t.store)
	}
	return t.getter
}

// valueGetter is getterOrNil for an operator that needs the rows: it
// records an error on the builder if there is no getter.
func (t KTable[K, V]) valueGetter() *tableGetter[K, V] {
	g := t.getterOrNil()
	if g == nil {
		t.b.fail(errorf("table %q is not materialized; give it a store with As", t.node))
		return &tableGetter[K, V]{open: func(func(string) StateStore) (getFunc[K, V], error) {
			return nil, errorf("table %q is not materialized", t.node)
		}}
	}
	return g
}

// mapGetter is the getter of a table computed row by row from t (Filter,
// TableMapValues): fn returns false for a row that does not exist. It is
// nil if t has no getter.
func mapGetter[K, V, VR any](t KTable[K, V], fn func(K, V) (VR, bool)) *tableGetter[K, VR] {
	parent := t.getterOrNil()
	if parent == nil {
		return nil
	}
	return &tableGetter[K, VR]{
		stores: parent.stores,
		open: func(store func(string) StateStore) (getFunc[K, VR], error) {
			get, err := parent.open(store)
			if err != nil {
				return nil, err
			}
			return func(k K) (ValueAndTimestamp[VR], bool, error) {
				v, ok, err := get(k)
				if err != nil || !ok {
					return ValueAndTimestamp[VR]{}, false, err
				}
				out, ok := fn(k, v.Value)
				return ValueAndTimestamp[VR]{Value: out, Timestamp: v.Timestamp}, ok, nil
			}, nil
		},
	}
}

// openGetter binds g to the task of the processor whose context is ctx.
func openGetter[K, V, KOut, VOut any](ctx ProcessorContext[KOut, VOut], g *tableGetter[K, V]) (getFunc[K, V], error) {
	return g.open(ctx.StateStore)
}

// sourceTopicsOf returns the source topics feeding node within its
// sub-topology (as named in the topology: repartition topics without the
// application.id prefix), sorted.
func (b *Builder) sourceTopicsOf(node string) []string {
	seen := map[string]bool{}
	var topics []string
	var walk func(string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		n := b.byName[name]
		if n == nil {
			return
		}
		if n.kind == kindSource {
			topics = append(topics, n.topics...)
		}
		for _, p := range n.parents {
			walk(p)
		}
	}
	walk(node)
	sort.Strings(topics)
	return slices.Compact(topics)
}

// copartition declares that the source topics behind the given nodes
// must have the same partition count (Kafka's copartitionSources).
func (b *Builder) copartitionNodes(nodes ...string) {
	var group []string
	for _, n := range nodes {
		group = append(group, b.sourceTopicsOf(n)...)
	}
	sort.Strings(group)
	group = slices.Compact(group)
	if len(group) > 1 {
		b.copartition = append(b.copartition, group)
	}
}

// joinInput returns the node a stream joins from: s itself, or, if its
// key may have changed, a repartition of it through
// <application.id>-<name>-repartition (null keys dropped).
func joinInput[K, V any](s KStream[K, V], name string, o opOptions) string {
	if !s.repartitionRequired {
		return s.node
	}
	ks := serdeOr(s.b, "key", o.keySerde, s.keySerde)
	vs := serdeOr(s.b, "value", o.valueSerde, s.valueSerde)
	return repartitionThrough(s.b, name, s.node, true, ks, vs, nil, 0)
}

// StreamTableJoin joins each record of s with the row of t that has its
// key, at the time the record is processed (Kafka's KStream.join with a
// KTable): a record whose key has no row, or with a null key or value,
// is dropped; updates of t produce nothing. The result has the record's
// key, timestamp and headers. s and t must be co-partitioned; a stream
// whose key may have changed is repartitioned first. Options: Named,
// WithKeySerde and WithValueSerde (the stream's serdes for the
// repartition topic).
func StreamTableJoin[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], joiner func(key K, value V, row VT) VR, opts ...OpOpt) KStream[K, VR] {
	return streamTableJoin(s, t, false, func(k K, v V, row *VT) VR { return joiner(k, v, *row) }, opts)
}

// StreamTableLeftJoin is StreamTableJoin that keeps the records without a
// row: the joiner gets a nil row for them (Kafka's KStream.leftJoin with
// a KTable). Records with a null value are dropped; one with a null key
// is joined with no row (KIP-962).
func StreamTableLeftJoin[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], joiner func(key K, value V, row *VT) VR, opts ...OpOpt) KStream[K, VR] {
	return streamTableJoin(s, t, true, joiner, opts)
}

func streamTableJoin[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], left bool, joiner func(K, V, *VT) VR, opts []OpOpt) KStream[K, VR] {
	b := s.b
	o := collectOpts(opts)
	prefix := "KSTREAM-JOIN-"
	if left {
		prefix = "KSTREAM-LEFTJOIN-"
	}
	name := b.nameOr(o, prefix)
	repName := o.name
	if repName == "" {
		repName = s.node
	}
	input := joinInput(s, repName, o)
	g := t.valueGetter()
	addProcessor(b, name, []string{input}, g.stores, func() Processor[K, V, K, VR] {
		return &streamTableJoinProc[K, V, VT, VR]{getter: g, left: left, joiner: joiner}
	})
	b.copartitionNodes(input, t.node)
	return KStream[K, VR]{b: b, node: name, keySerde: s.keySerde}
}

// streamTableJoinProc is Kafka's KStreamKTableJoinProcessor.
type streamTableJoinProc[K, V, VT, VR any] struct {
	getter *tableGetter[K, VT]
	left   bool
	joiner func(K, V, *VT) VR
	ctx    ProcessorContext[K, VR]
	get    getFunc[K, VT]
}

func (p *streamTableJoinProc[K, V, VT, VR]) Init(ctx ProcessorContext[K, VR]) (err error) {
	p.ctx = ctx
	p.get, err = openGetter(ctx, p.getter)
	return err
}

func (p *streamTableJoinProc[K, V, VT, VR]) Process(rec Record[K, V]) error {
	if rec.nullValue || (rec.nullKey && !p.left) {
		// Kafka drops these and counts them as dropped records.
		return nil
	}
	var row *VT
	if !rec.nullKey {
		v, ok, err := p.get(rec.Key)
		if err != nil {
			return err
		}
		if ok {
			row = &v.Value
		}
	}
	if row == nil && !p.left {
		return nil
	}
	p.ctx.Forward(Record[K, VR]{Key: rec.Key, Value: p.joiner(rec.Key, rec.Value, row), Timestamp: rec.Timestamp, Headers: rec.Headers, nullKey: rec.nullKey})
	return nil
}

func (p *streamTableJoinProc[K, V, VT, VR]) Close() error { return nil }

// joinMode is the kind of a table-table join.
type joinMode int

const (
	joinInner joinMode = iota
	joinLeft
	joinOuter
	// joinRight is the mode of a left join's right-side processor
	// (Kafka's KTableKTableRightJoin): it joins only when the left
	// row exists, and then always, even with a deleted right row.
	joinRight
)

// TableJoin joins two tables on their keys (Kafka's KTable.join): the
// result has a row for each key in both, joiner(key, left, right), and
// an update of either side updates it; a delete on either side deletes
// it. The result's timestamp is the larger of the two rows'. Both must be
// co-partitioned. Options: Named (the merge node; its parts are named
// <name>-join-this and <name>-join-other), As, WithStoreSupplier,
// InMemory, WithLoggingDisabled, WithChangelogConfig, WithValueSerde (to
// materialize the result).
func TableJoin[K, V, VO, VR any](t KTable[K, V], other KTable[K, VO], joiner func(key K, left V, right VO) VR, opts ...OpOpt) KTable[K, VR] {
	return tableJoin(t, other, joinInner, func(k K, l *V, r *VO) VR { return joiner(k, *l, *r) }, opts)
}

// TableLeftJoin is TableJoin keeping every row of t: a key without a row
// in other is joined with a nil right value (Kafka's KTable.leftJoin).
func TableLeftJoin[K, V, VO, VR any](t KTable[K, V], other KTable[K, VO], joiner func(key K, left V, right *VO) VR, opts ...OpOpt) KTable[K, VR] {
	return tableJoin(t, other, joinLeft, func(k K, l *V, r *VO) VR { return joiner(k, *l, r) }, opts)
}

// TableOuterJoin is TableJoin keeping every row of both: the missing
// side is nil (Kafka's KTable.outerJoin).
func TableOuterJoin[K, V, VO, VR any](t KTable[K, V], other KTable[K, VO], joiner func(key K, left *V, right *VO) VR, opts ...OpOpt) KTable[K, VR] {
	return tableJoin(t, other, joinOuter, joiner, opts)
}

func tableJoin[K, V, VO, VR any](t KTable[K, V], other KTable[K, VO], mode joinMode, joiner func(K, *V, *VO) VR, opts []OpOpt) KTable[K, VR] {
	b := t.b
	o := collectOpts(opts)
	thisPrefix, otherPrefix := "KTABLE-JOINTHIS-", "KTABLE-JOINOTHER-"
	switch mode {
	case joinLeft:
		thisPrefix, otherPrefix = "KTABLE-LEFTTHIS-", "KTABLE-LEFTOTHER-"
	case joinOuter:
		thisPrefix, otherPrefix = "KTABLE-OUTERTHIS-", "KTABLE-OUTEROTHER-"
	}
	mergeName := b.nameOr(o, "KTABLE-MERGE-")
	thisName, otherName := o.name+"-join-this", o.name+"-join-other"
	if o.name == "" {
		thisName, otherName = b.newName(thisPrefix), b.newName(otherPrefix)
	}
	leftGetter, rightGetter := t.valueGetter(), other.valueGetter()

	// The left side's updates look up the right side, and the other way
	// round with the joiner's arguments swapped (Kafka's reverseJoiner).
	addProcessor(b, thisName, []string{t.node}, rightGetter.stores, func() Processor[K, change[V], K, change[VR]] {
		return &tableJoinProc[K, V, VO, VR]{getter: rightGetter, mode: mode, join: joiner}
	})
	otherMode := mode
	if mode == joinLeft {
		otherMode = joinRight
	}
	addProcessor(b, otherName, []string{other.node}, leftGetter.stores, func() Processor[K, change[VO], K, change[VR]] {
		return &tableJoinProc[K, VO, V, VR]{getter: leftGetter, mode: otherMode, join: func(k K, r *VO, l *V) VR { return joiner(k, l, r) }}
	})
	vs := serdeOr[VR](b, "value", o.valueSerde, nil)
	out := KTable[K, VR]{b: b, node: mergeName, keySerde: t.keySerde, valueSerde: vs}
	out.store = materializeIf(b, o, t.keySerde, vs)
	if out.store == "" {
		out.getter = joinGetter(leftGetter, rightGetter, mode, joiner)
	}
	// The merger (Kafka's KTableKTableJoinMerger) materializes the
	// result if asked to, and passes the changes on.
	addProcessor(b, mergeName, []string{thisName, otherName}, storeList(out.store), tableMapper(out.store, func(_ K, v VR) (VR, bool) { return v, true }))
	b.copartitionNodes(t.node, other.node)
	return out
}

// tableJoinProc processes the updates of one side of a table-table join,
// looking the other side up (Kafka's KTableKTable*Join processors). It
// always computes the old result too, from the update's old value.
type tableJoinProc[K, V, VO, VR any] struct {
	getter *tableGetter[K, VO]
	mode   joinMode
	join   func(K, *V, *VO) VR
	ctx    ProcessorContext[K, change[VR]]
	get    getFunc[K, VO]
}

func (p *tableJoinProc[K, V, VO, VR]) Init(ctx ProcessorContext[K, change[VR]]) (err error) {
	p.ctx = ctx
	p.get, err = openGetter(ctx, p.getter)
	return err
}

func (p *tableJoinProc[K, V, VO, VR]) Process(rec Record[K, change[V]]) error {
	if rec.nullKey {
		return nil
	}
	o, found, err := p.get(rec.Key)
	if err != nil {
		return err
	}
	var other *VO
	ts := rec.Timestamp
	if found {
		other = &o.Value
		if o.Timestamp.After(ts) {
			ts = o.Timestamp
		}
	}
	c := rec.Value
	var newV, oldV *V
	if c.hasNew {
		newV = &c.newValue
	}
	if c.hasOld {
		oldV = &c.oldValue
	}
	var out change[VR]
	switch p.mode {
	case joinInner:
		if !found {
			return nil
		}
		if newV != nil {
			out.newValue, out.hasNew = p.join(rec.Key, newV, other), true
		}
		if oldV != nil {
			out.oldValue, out.hasOld = p.join(rec.Key, oldV, other), true
		}
	case joinLeft, joinOuter:
		if !found && newV == nil && oldV == nil {
			return nil
		}
		if newV != nil || (found && p.mode == joinOuter) {
			out.newValue, out.hasNew = p.join(rec.Key, newV, other), true
		}
		if oldV != nil || (found && p.mode == joinOuter) {
			out.oldValue, out.hasOld = p.join(rec.Key, oldV, other), true
		}
	case joinRight:
		if !found {
			return nil
		}
		out.newValue, out.hasNew = p.join(rec.Key, newV, other), true
		out.oldValue, out.hasOld = p.join(rec.Key, oldV, other), true
	}
	if !out.hasNew && !out.hasOld {
		return nil
	}
	p.ctx.Forward(Record[K, change[VR]]{Key: rec.Key, Value: out, Timestamp: ts, Headers: rec.Headers})
	return nil
}

func (p *tableJoinProc[K, V, VO, VR]) Close() error { return nil }

// joinGetter computes a row of a join result that is not materialized
// from the rows of both sides (Kafka's KTableKTable*JoinValueGetter).
func joinGetter[K, V, VO, VR any](l *tableGetter[K, V], r *tableGetter[K, VO], mode joinMode, joiner func(K, *V, *VO) VR) *tableGetter[K, VR] {
	stores := append(slices.Clone(l.stores), r.stores...)
	sort.Strings(stores)
	return &tableGetter[K, VR]{
		stores: slices.Compact(stores),
		open: func(store func(string) StateStore) (getFunc[K, VR], error) {
			lget, err := l.open(store)
			if err != nil {
				return nil, err
			}
			rget, err := r.open(store)
			if err != nil {
				return nil, err
			}
			return func(k K) (ValueAndTimestamp[VR], bool, error) {
				var none ValueAndTimestamp[VR]
				lv, lok, err := lget(k)
				if err != nil || (!lok && mode != joinOuter) {
					return none, false, err
				}
				rv, rok, err := rget(k)
				if err != nil || (!rok && mode == joinInner) || (!lok && !rok) {
					return none, false, err
				}
				var lp *V
				var rp *VO
				var ts = lv.Timestamp
				if lok {
					lp = &lv.Value
				}
				if rok {
					rp = &rv.Value
					if !lok || rv.Timestamp.After(ts) {
						ts = rv.Timestamp
					}
				}
				return ValueAndTimestamp[VR]{Value: joiner(k, lp, rp), Timestamp: ts}, true, nil
			}, nil
		},
	}
}
