package streams

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Global tables (Kafka's GlobalKTable and global stores): every instance
// holds the whole of the table's topic, all partitions, in a store that
// every task can read.
//
//	topic (all partitions) ──global consumer──▶ global store ◀── read by every task
//
// The store has no changelog: the topic is its changelog. An App
// restores it from the topic (from its checkpoint, for a persistent
// store) before it joins the group, so that no task processes before the
// table is complete; then one goroutine owned by the App, the global
// thread, keeps applying the topic's new records, concurrently with the
// stream thread. There is no time synchronization between the two: a
// stream record is joined with whatever the table holds when it is
// processed. The TestDriver applies records piped into a global topic at
// once.
//
// The checkpoint, <state.dir>/<application.id>/global/.checkpoint, is
// written when the App closes; replaying the topic from an older
// position is harmless (the latest record of each key wins), so a crash
// only costs time.

// GlobalKTable is a table replicated in full on every instance (Kafka's
// GlobalKTable). Join it with a stream with StreamGlobalTableJoin; read it
// from a processor with ProcessorContext.StateStore(g.StoreName()), as a
// TimestampedKeyValueStore[K, V] that refuses writes.
type GlobalKTable[K, V any] struct {
	b          *Builder
	store      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// StoreName returns the name of the table's store.
func (g GlobalKTable[K, V]) StoreName() string { return g.store }

// globalSpec is a global table of a topology.
type globalSpec struct {
	topic     string
	source    string // node names, for Describe
	processor string
	store     string
	builder   StoreBuilder
	// apply writes one record of the topic into the store (the
	// writable typed store); onDeser decides about a record that
	// does not deserialize.
	apply func(st StateStore, r *kgo.Record, onDeser func(error) error) error
}

// GlobalTable reads every partition of topic into a global table (Kafka's
// StreamsBuilder.globalTable). Records with a null key are dropped; a
// null value deletes. The topic must exist when the App starts; it needs
// no particular partition count. Options: Named (the table's processor),
// As, InMemory, WithStoreSupplier. The store is never changelogged.
func GlobalTable[K, V any](b *Builder, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...OpOpt) GlobalKTable[K, V] {
	o := collectOpts(opts)
	// Kafka names the store first, then the source and the processor.
	store := o.storeName
	if store == "" && o.supplier != nil {
		store = o.supplier.Name()
	}
	if store == "" {
		store = b.newName(topic + "-STATE-STORE-")
	}
	src := b.newName("KSTREAM-SOURCE-")
	proc := b.nameOr(o, "KTABLE-SOURCE-")
	g := GlobalKTable[K, V]{b: b, store: store, keySerde: keySerde, valueSerde: valueSerde}
	if b.built {
		b.fail(fmt.Errorf("%w: builder already built", ErrTopology))
		return g
	}
	if _, dup := b.stores[store]; dup || slices.ContainsFunc(b.globals, func(s *globalSpec) bool { return s.store == store }) {
		b.fail(fmt.Errorf("%w: state store %q is already added", ErrTopology, store))
		return g
	}
	// Reserve the topic: no other source may read it.
	if prev, dup := b.topicSource[topic]; dup {
		b.fail(fmt.Errorf("%w: topic %q is already read by source %q", ErrTopology, topic, prev))
		return g
	}
	b.topicSource[topic] = src
	o.loggingDisabled = true
	sb := tableStoreBuilder(o, store, keySerde, valueSerde)
	b.globals = append(b.globals, &globalSpec{
		topic:     topic,
		source:    src,
		processor: proc,
		store:     store,
		builder:   sb,
		apply: func(st StateStore, r *kgo.Record, onDeser func(error) error) error {
			if r.Key == nil {
				return nil
			}
			kv := st.(TimestampedKeyValueStore[K, V])
			k, err := keySerde.Deserialize(r.Topic, r.Key)
			if err != nil {
				return onDeser(fmt.Errorf("key: %w", err))
			}
			if r.Value == nil {
				_, _, err := kv.Delete(k)
				return err
			}
			v, err := valueSerde.Deserialize(r.Topic, r.Value)
			if err != nil {
				return onDeser(fmt.Errorf("value: %w", err))
			}
			return kv.Put(k, ValueAndTimestamp[V]{Value: v, Timestamp: r.Timestamp})
		},
	})
	return g
}

// StreamGlobalTableJoin joins each record of s with the row of g whose
// key keySelector computes from the record (Kafka's KStream.join with a
// GlobalKTable): records without a row, or with a null key or value, are
// dropped. The stream is not repartitioned and need not be co-partitioned
// with anything. Options: Named.
func StreamGlobalTableJoin[K, V, GK, GV, VR any](s KStream[K, V], g GlobalKTable[GK, GV], keySelector func(key K, value V) GK, joiner func(key K, value V, row GV) VR, opts ...OpOpt) KStream[K, VR] {
	return streamGlobalJoin(s, g, false, keySelector, func(k K, v V, row *GV) VR { return joiner(k, v, *row) }, opts)
}

// StreamGlobalTableLeftJoin is StreamGlobalTableJoin keeping the records
// without a row: the joiner gets a nil row (Kafka's KStream.leftJoin with
// a GlobalKTable). Records with a null value are dropped; for one with a
// null key, keySelector gets the zero key (KIP-962).
func StreamGlobalTableLeftJoin[K, V, GK, GV, VR any](s KStream[K, V], g GlobalKTable[GK, GV], keySelector func(key K, value V) GK, joiner func(key K, value V, row *GV) VR, opts ...OpOpt) KStream[K, VR] {
	return streamGlobalJoin(s, g, true, keySelector, joiner, opts)
}

func streamGlobalJoin[K, V, GK, GV, VR any](s KStream[K, V], g GlobalKTable[GK, GV], left bool, sel func(K, V) GK, joiner func(K, V, *GV) VR, opts []OpOpt) KStream[K, VR] {
	prefix := "KSTREAM-JOIN-"
	if left {
		prefix = "KSTREAM-LEFTJOIN-"
	}
	name := s.b.nameOr(collectOpts(opts), prefix)
	store := g.store
	addProcessor(s.b, name, []string{s.node}, nil, func() Processor[K, V, K, VR] {
		return &streamGlobalJoinProc[K, V, GK, GV, VR]{store: store, left: left, sel: sel, joiner: joiner}
	})
	return KStream[K, VR]{b: s.b, node: name, keySerde: s.keySerde, repartitionRequired: s.repartitionRequired}
}

// streamGlobalJoinProc is Kafka's KStreamKTableJoinProcessor over a
// global store, with a key mapper.
type streamGlobalJoinProc[K, V, GK, GV, VR any] struct {
	store  string
	left   bool
	sel    func(K, V) GK
	joiner func(K, V, *GV) VR
	ctx    ProcessorContext[K, VR]
	kv     TimestampedKeyValueStore[GK, GV]
}

func (p *streamGlobalJoinProc[K, V, GK, GV, VR]) Init(ctx ProcessorContext[K, VR]) error {
	p.ctx = ctx
	return storeOf(ctx, p.store, &p.kv)
}

func (p *streamGlobalJoinProc[K, V, GK, GV, VR]) Process(rec Record[K, V]) error {
	if rec.nullValue || (rec.nullKey && !p.left) {
		return nil
	}
	var row *GV
	v, ok, err := p.kv.Get(p.sel(rec.Key, rec.Value))
	if err != nil {
		return err
	}
	if ok {
		row = &v.Value
	} else if !p.left {
		return nil
	}
	p.ctx.Forward(Record[K, VR]{Key: rec.Key, Value: p.joiner(rec.Key, rec.Value, row), Timestamp: rec.Timestamp, Headers: rec.Headers, nullKey: rec.nullKey})
	return nil
}

func (p *streamGlobalJoinProc[K, V, GK, GV, VR]) Close() error { return nil }

// describeGlobals prints the global tables as Kafka's
// TopologyDescription prints global stores, numbered after the
// sub-topologies.
func (t *Topology) describeGlobals(sb *strings.Builder) {
	for i, g := range t.globals {
		fmt.Fprintf(sb, "   Sub-topology: %d for global store (will not generate tasks)\n", len(t.subtopologies)+i)
		fmt.Fprintf(sb, "    Source: %s (topics: [%s])\n      --> %s\n", g.source, g.topic, g.processor)
		fmt.Fprintf(sb, "    Processor: %s (stores: [%s])\n      --> none\n      <-- %s\n\n", g.processor, g.store, g.source)
	}
}
