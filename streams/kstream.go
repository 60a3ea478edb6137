package streams

import (
	"reflect"

	"github.com/gregor-streaming/gregor/streams/serde"
)

// KStream is a stream of records of type (K, V) (Kafka's KStream): every
// record is an independent event. Operators that keep the types are
// methods; those that change them are functions (Map, MapValues,
// FlatMap, FlatMapValues, SelectKey, GroupBy, Process), since Go methods
// cannot take type parameters.
//
// A KStream is a handle on a node of its Builder; it is a small value,
// and operators on it add nodes to the Builder.
type KStream[K, V any] struct {
	b          *Builder
	node       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	// repartitionRequired is set once the key may have changed: a
	// later key-based operator then repartitions first.
	repartitionRequired bool
}

// Builder returns the builder the stream belongs to.
func (s KStream[K, V]) Builder() *Builder { return s.b }

// Name returns the name of the node that emits the stream.
func (s KStream[K, V]) Name() string { return s.node }

func (s KStream[K, V]) keySerdeOrDefault() serde.Serde[K] {
	if s.keySerde != nil {
		return s.keySerde
	}
	return serde.Default[K]()
}

func (s KStream[K, V]) valueSerdeOrDefault() serde.Serde[V] {
	if s.valueSerde != nil {
		return s.valueSerde
	}
	return serde.Default[V]()
}

// addProcessor adds a processor node of the DSL.
func addProcessor[KIn, VIn, KOut, VOut any](b *Builder, name string, parents []string, stores []string, sup ProcessorSupplier[KIn, VIn, KOut, VOut]) {
	b.addNode(&nodeSpec{
		name:     name,
		kind:     kindProcessor,
		parents:  parents,
		inKey:    reflect.TypeFor[KIn](),
		inValue:  reflect.TypeFor[VIn](),
		outKey:   reflect.TypeFor[KOut](),
		outValue: reflect.TypeFor[VOut](),
		make: func() nodeRuntime {
			return &processorNode[KIn, VIn, KOut, VOut]{name: name, proc: sup()}
		},
	})
	for _, s := range stores {
		b.connectStore(s, name)
	}
}

func addSource[K, V any](b *Builder, name string, topics []string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) {
	b.addNode(&nodeSpec{
		name:     name,
		kind:     kindSource,
		topics:   topics,
		outKey:   reflect.TypeFor[K](),
		outValue: reflect.TypeFor[V](),
		make: func() nodeRuntime {
			return &sourceNode[K, V]{name: name, keySerde: keySerde, valueSerde: valueSerde}
		},
	})
	b.addSourceTopics(name, topics)
}

func addSink[K, V any](b *Builder, name, topic string, parents []string, keySerde serde.Serde[K], valueSerde serde.Serde[V], p StreamPartitioner[K, V]) {
	b.addNode(&nodeSpec{
		name:    name,
		kind:    kindSink,
		parents: parents,
		topics:  []string{topic},
		inKey:   reflect.TypeFor[K](),
		inValue: reflect.TypeFor[V](),
		make: func() nodeRuntime {
			return &sinkNode[K, V]{name: name, topic: topic, keySerde: keySerde, valueSerde: valueSerde, partitioner: p}
		},
	})
}

// nameOr returns o.name, or a new generated name with prefix.
func (b *Builder) nameOr(o opOptions, prefix string) string {
	if o.name != "" {
		return o.name
	}
	return b.newName(prefix)
}

// Stream reads topic as a stream (Kafka's StreamsBuilder.stream). Options:
// Named (the source node's name).
func Stream[K, V any](b *Builder, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...OpOpt) KStream[K, V] {
	return StreamFromTopics(b, []string{topic}, keySerde, valueSerde, opts...)
}

// StreamFromTopics reads several topics as one stream.
func StreamFromTopics[K, V any](b *Builder, topics []string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...OpOpt) KStream[K, V] {
	o := collectOpts(opts)
	name := b.nameOr(o, "KSTREAM-SOURCE-")
	addSource(b, name, topics, keySerde, valueSerde)
	return KStream[K, V]{b: b, node: name, keySerde: keySerde, valueSerde: valueSerde}
}

func (s KStream[K, V]) derive(node string) KStream[K, V] {
	s.node = node
	return s
}

// Filter keeps the records for which pred is true. Options: Named.
func (s KStream[K, V]) Filter(pred func(key K, value V) bool, opts ...OpOpt) KStream[K, V] {
	return s.filter("KSTREAM-FILTER-", pred, false, opts)
}

// FilterNot drops the records for which pred is true. Options: Named.
func (s KStream[K, V]) FilterNot(pred func(key K, value V) bool, opts ...OpOpt) KStream[K, V] {
	return s.filter("KSTREAM-FILTER-", pred, true, opts)
}

func (s KStream[K, V]) filter(prefix string, pred func(K, V) bool, not bool, opts []OpOpt) KStream[K, V] {
	name := s.b.nameOr(collectOpts(opts), prefix)
	addProcessor(s.b, name, []string{s.node}, nil, ProcessorFunc(func(ctx ProcessorContext[K, V], rec Record[K, V]) error {
		if pred(rec.Key, rec.Value) != not {
			ctx.Forward(rec)
		}
		return nil
	}))
	return s.derive(name)
}

// Peek calls fn for each record and passes the record on. Options: Named.
func (s KStream[K, V]) Peek(fn func(key K, value V), opts ...OpOpt) KStream[K, V] {
	name := s.b.nameOr(collectOpts(opts), "KSTREAM-PEEK-")
	addProcessor(s.b, name, []string{s.node}, nil, ProcessorFunc(func(ctx ProcessorContext[K, V], rec Record[K, V]) error {
		fn(rec.Key, rec.Value)
		ctx.Forward(rec)
		return nil
	}))
	return s.derive(name)
}

// Foreach calls fn for each record; it ends the stream. Options: Named.
func (s KStream[K, V]) Foreach(fn func(key K, value V), opts ...OpOpt) {
	name := s.b.nameOr(collectOpts(opts), "KSTREAM-FOREACH-")
	addProcessor(s.b, name, []string{s.node}, nil, ProcessorFunc(func(_ ProcessorContext[K, V], rec Record[K, V]) error {
		fn(rec.Key, rec.Value)
		return nil
	}))
}

// Merge returns a stream of the records of both s and other, in the order
// they are processed. Options: Named.
func (s KStream[K, V]) Merge(other KStream[K, V], opts ...OpOpt) KStream[K, V] {
	name := s.b.nameOr(collectOpts(opts), "KSTREAM-MERGE-")
	addProcessor(s.b, name, []string{s.node, other.node}, nil, ProcessorFunc(func(ctx ProcessorContext[K, V], rec Record[K, V]) error {
		ctx.Forward(rec)
		return nil
	}))
	out := s.derive(name)
	out.repartitionRequired = s.repartitionRequired || other.repartitionRequired
	return out
}

// To writes the stream to topic (Kafka's KStream.to). Options: Named,
// WithKeySerde, WithValueSerde (default: the stream's serdes),
// WithPartitioner.
func (s KStream[K, V]) To(topic string, opts ...OpOpt) {
	o := collectOpts(opts)
	name := s.b.nameOr(o, "KSTREAM-SINK-")
	ks := serdeOr(s.b, "key", o.keySerde, s.keySerde)
	vs := serdeOr(s.b, "value", o.valueSerde, s.valueSerde)
	addSink(s.b, name, topic, []string{s.node}, ks, vs, partitionerOf[K, V](s.b, o.partitioner))
}

// Repartition writes the stream through a new repartition topic,
// <application.id>-<name>-repartition, and reads it back (Kafka's
// KStream.repartition): records are then partitioned by their current
// key (or the partitioner). Options: Named (the topic's name part),
// WithKeySerde, WithValueSerde, WithPartitioner, WithPartitions.
func (s KStream[K, V]) Repartition(opts ...OpOpt) KStream[K, V] {
	o := collectOpts(opts)
	base := s.b.nameOr(o, "KSTREAM-REPARTITION-")
	ks := serdeOr(s.b, "key", o.keySerde, s.keySerde)
	vs := serdeOr(s.b, "value", o.valueSerde, s.valueSerde)
	src := repartitionThrough(s.b, base, s.node, false, ks, vs, partitionerOf[K, V](s.b, o.partitioner), o.partitions)
	return KStream[K, V]{b: s.b, node: src, keySerde: ks, valueSerde: vs}
}

// repartitionThrough adds parent → [filter of null keys] → sink →
// <base>-repartition → source, and returns the source's name.
func repartitionThrough[K, V any](b *Builder, base, parent string, dropNullKeys bool, ks serde.Serde[K], vs serde.Serde[V], p StreamPartitioner[K, V], partitions int) string {
	topic := base + "-repartition"
	if _, dup := b.internal[topic]; dup {
		b.fail(errorf("repartition topic %q is already used; name the operators apart", topic))
	}
	b.internal[topic] = &internalTopic{name: topic, partitions: partitions}
	if dropNullKeys {
		filter := topic + "-filter"
		addProcessor(b, filter, []string{parent}, nil, ProcessorFunc(func(ctx ProcessorContext[K, V], rec Record[K, V]) error {
			if !rec.nullKey {
				ctx.Forward(rec)
			}
			return nil
		}))
		parent = filter
	}
	addSink(b, topic+"-sink", topic, []string{parent}, ks, vs, p)
	src := topic + "-source"
	addSource(b, src, []string{topic}, ks, vs)
	return src
}

// ToTable turns the stream into a table: each record is an update of its
// key, a null value a delete (Kafka's KStream.toTable). A stream whose key
// may have changed is repartitioned first. Options: Named, As,
// WithStoreSupplier, InMemory, WithLoggingDisabled, WithChangelogConfig,
// WithKeySerde, WithValueSerde.
func (s KStream[K, V]) ToTable(opts ...OpOpt) KTable[K, V] {
	o := collectOpts(opts)
	name := s.b.nameOr(o, "KSTREAM-TOTABLE-")
	ks := serdeOr(s.b, "key", o.keySerde, s.keySerde)
	vs := serdeOr(s.b, "value", o.valueSerde, s.valueSerde)
	parent := s.node
	if s.repartitionRequired {
		parent = repartitionThrough(s.b, name, parent, true, ks, vs, nil, 0)
	}
	store := o.storeName
	if store == "" {
		store = s.b.newName("KSTREAM-TOTABLE-STATE-STORE-")
	}
	s.b.addStore(tableStoreBuilder(o, store, ks, vs))
	addProcessor(s.b, name, []string{parent}, []string{store}, tableSourceProcessor[K, V](store))
	return KTable[K, V]{b: s.b, node: name, keySerde: ks, valueSerde: vs, store: store}
}

// Split starts branching the stream (Kafka's KStream.split): add
// branches with Branch and finish with DefaultBranch or NoDefaultBranch.
// Options: Named (the prefix of the branch names; default: the branch
// node's name).
func (s KStream[K, V]) Split(opts ...OpOpt) *BranchedKStream[K, V] {
	o := collectOpts(opts)
	name := s.b.newName("KSTREAM-BRANCH-")
	prefix := o.name
	if prefix == "" {
		prefix = name + "-"
	}
	bs := &BranchedKStream[K, V]{s: s, node: name, prefix: prefix, out: map[string]KStream[K, V]{}}
	addProcessor(s.b, name, []string{s.node}, nil, func() Processor[K, V, K, V] {
		return &branchProcessor[K, V]{bs: bs}
	})
	return bs
}

// Map computes a new key and value for each record (Kafka's
// KStream.map). The key may change, so a later grouping repartitions.
// Options: Named.
func Map[K, V, KR, VR any](s KStream[K, V], fn func(key K, value V) (KR, VR), opts ...OpOpt) KStream[KR, VR] {
	name := s.b.nameOr(collectOpts(opts), "KSTREAM-MAP-")
	addProcessor(s.b, name, []string{s.node}, nil, ProcessorFunc(func(ctx ProcessorContext[KR, VR], rec Record[K, V]) error {
		k, v := fn(rec.Key, rec.Value)
		ctx.Forward(Record[KR, VR]{Key: k, Value: v, Timestamp: rec.Timestamp, Headers: rec.Headers})
		return nil
	}))
	return KStream[KR, VR]{b: s.b, node: name, repartitionRequired: true}
}

// MapValues computes a new value for each record, keeping the key (Kafka's
// KStream.mapValues with a ValueMapperWithKey). Options: Named.
func MapValues[K, V, VR any](s KStream[K, V], fn func(key K, value V) VR, opts ...OpOpt) KStream[K, VR] {
	name := s.b.nameOr(collectOpts(opts), "KSTREAM-MAPVALUES-")
	addProcessor(s.b, name, []string{s.node}, nil, ProcessorFunc(func(ctx ProcessorContext[K, VR], rec Record[K, V]) error {
		ctx.Forward(Record[K, VR]{Key: rec.Key, Value: fn(rec.Key, rec.Value), Timestamp: rec.Timestamp, Headers: rec.Headers, nullKey: rec.nullKey})
		return nil
	}))
	return KStream[K, VR]{b: s.b, node: name, keySerde: s.keySerde, repartitionRequired: s.repartitionRequired}
}

// FlatMap turns each record into zero or more records (Kafka's
// KStream.flatMap). Options: Named.
func FlatMap[K, V, KR, VR any](s KStream[K, V], fn func(key K, value V) []KeyValue[KR, VR], opts ...OpOpt) KStream[KR, VR] {
	name := s.b.nameOr(collectOpts(opts), "KSTREAM-FLATMAP-")
	addProcessor(s.b, name, []string{s.node}, nil, ProcessorFunc(func(ctx ProcessorContext[KR, VR], rec Record[K, V]) error {
		for _, kv := range fn(rec.Key, rec.Value) {
			ctx.Forward(Record[KR, VR]{Key: kv.Key, Value: kv.Value, Timestamp: rec.Timestamp, Headers: rec.Headers})
		}
		return nil
	}))
	return KStream[KR, VR]{b: s.b, node: name, repartitionRequired: true}
}

// FlatMapValues turns each record into zero or more records with the same
// key (Kafka's KStream.flatMapValues). Options: Named.
func FlatMapValues[K, V, VR any](s KStream[K, V], fn func(key K, value V) []VR, opts ...OpOpt) KStream[K, VR] {
	name := s.b.nameOr(collectOpts(opts), "KSTREAM-FLATMAPVALUES-")
	addProcessor(s.b, name, []string{s.node}, nil, ProcessorFunc(func(ctx ProcessorContext[K, VR], rec Record[K, V]) error {
		for _, v := range fn(rec.Key, rec.Value) {
			ctx.Forward(Record[K, VR]{Key: rec.Key, Value: v, Timestamp: rec.Timestamp, Headers: rec.Headers, nullKey: rec.nullKey})
		}
		return nil
	}))
	return KStream[K, VR]{b: s.b, node: name, keySerde: s.keySerde, repartitionRequired: s.repartitionRequired}
}

// SelectKey gives each record a new key (Kafka's KStream.selectKey).
// Options: Named.
func SelectKey[K, V, KR any](s KStream[K, V], fn func(key K, value V) KR, opts ...OpOpt) KStream[KR, V] {
	return selectKey(s, "KSTREAM-KEY-SELECT-", fn, opts)
}

func selectKey[K, V, KR any](s KStream[K, V], prefix string, fn func(K, V) KR, opts []OpOpt) KStream[KR, V] {
	name := s.b.nameOr(collectOpts(opts), prefix)
	addProcessor(s.b, name, []string{s.node}, nil, ProcessorFunc(func(ctx ProcessorContext[KR, V], rec Record[K, V]) error {
		ctx.Forward(Record[KR, V]{Key: fn(rec.Key, rec.Value), Value: rec.Value, Timestamp: rec.Timestamp, Headers: rec.Headers, nullValue: rec.nullValue})
		return nil
	}))
	return KStream[KR, V]{b: s.b, node: name, valueSerde: s.valueSerde, repartitionRequired: true}
}

// Process runs a Processor on each record (Kafka's KStream.process): the
// processor API inside the DSL. Options: Named, WithStores (stores added
// with AddStateStore that the processor uses). The result may have new
// keys, so a later grouping repartitions.
func Process[KIn, VIn, KOut, VOut any](s KStream[KIn, VIn], supplier ProcessorSupplier[KIn, VIn, KOut, VOut], opts ...OpOpt) KStream[KOut, VOut] {
	o := collectOpts(opts)
	name := s.b.nameOr(o, "KSTREAM-PROCESSOR-")
	addProcessor(s.b, name, []string{s.node}, o.stores, supplier)
	return KStream[KOut, VOut]{b: s.b, node: name, repartitionRequired: true}
}

// BranchedKStream collects the branches of a Split.
type BranchedKStream[K, V any] struct {
	s      KStream[K, V]
	node   string
	prefix string
	preds  []func(K, V) bool
	names  []string // child node names, one per predicate, then the default
	def    string   // the default branch's child node, "" if none
	out    map[string]KStream[K, V]
	done   bool
}

// Branch adds a branch taking the records for which pred is true and that
// no earlier branch took. Options: Named (the branch's name after the
// prefix; default: its position, from 1).
func (bs *BranchedKStream[K, V]) Branch(pred func(key K, value V) bool, opts ...OpOpt) *BranchedKStream[K, V] {
	if bs.done {
		bs.s.b.fail(errorf("branch added after DefaultBranch or NoDefaultBranch"))
		return bs
	}
	o := collectOpts(opts)
	suffix := o.name
	if suffix == "" {
		suffix = itoa(len(bs.preds) + 1)
	}
	child := bs.prefix + suffix
	bs.preds = append(bs.preds, pred)
	bs.names = append(bs.names, child)
	bs.addChild(child)
	return bs
}

func (bs *BranchedKStream[K, V]) addChild(child string) {
	addProcessor(bs.s.b, child, []string{bs.node}, nil, ProcessorFunc(func(ctx ProcessorContext[K, V], rec Record[K, V]) error {
		ctx.Forward(rec)
		return nil
	}))
	out := bs.s.derive(child)
	bs.out[child] = out
}

// DefaultBranch adds a branch for the records no branch took and returns
// the branches by name (prefix + branch name). Options: Named (default
// name: "0").
func (bs *BranchedKStream[K, V]) DefaultBranch(opts ...OpOpt) map[string]KStream[K, V] {
	o := collectOpts(opts)
	suffix := o.name
	if suffix == "" {
		suffix = "0"
	}
	if !bs.done {
		bs.def = bs.prefix + suffix
		bs.addChild(bs.def)
	}
	bs.done = true
	return bs.out
}

// NoDefaultBranch drops the records no branch took and returns the
// branches by name.
func (bs *BranchedKStream[K, V]) NoDefaultBranch() map[string]KStream[K, V] {
	bs.done = true
	return bs.out
}

type branchProcessor[K, V any] struct {
	bs  *BranchedKStream[K, V]
	ctx ProcessorContext[K, V]
}

func (p *branchProcessor[K, V]) Init(ctx ProcessorContext[K, V]) error {
	p.ctx = ctx
	return nil
}

func (p *branchProcessor[K, V]) Process(rec Record[K, V]) error {
	for i, pred := range p.bs.preds {
		if pred(rec.Key, rec.Value) {
			p.ctx.ForwardTo(p.bs.names[i], rec)
			return nil
		}
	}
	if p.bs.def != "" {
		p.ctx.ForwardTo(p.bs.def, rec)
	}
	return nil
}

func (p *branchProcessor[K, V]) Close() error { return nil }
