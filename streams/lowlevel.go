package streams

import "github.com/gregor-streaming/gregor/streams/serde"

// The node-by-node API (Kafka's Topology.addSource / addProcessor /
// addSink / addStateStore). Nodes are named by the caller; a processor's
// parents must be added before it, and their output types must match its
// input types (checked by Build).
//
//	b := streams.NewBuilder()
//	streams.AddSource(b, "src", serde.String(), serde.String(), "input")
//	streams.AddProcessor(b, "count", newCounter, "src")
//	b.AddStateStore(streams.KeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
//	streams.AddSink(b, "out", "output", serde.String(), serde.Int64(), nil, "count")
//	topo, err := b.Build()

// AddSource adds a source node reading topics.
func AddSource[K, V any](b *Builder, name string, keySerde serde.Serde[K], valueSerde serde.Serde[V], topics ...string) {
	addSource(b, name, topics, keySerde, valueSerde)
}

// AddProcessor adds a processor node with the given parents.
func AddProcessor[KIn, VIn, KOut, VOut any](b *Builder, name string, supplier ProcessorSupplier[KIn, VIn, KOut, VOut], parents ...string) {
	if len(parents) == 0 {
		b.fail(errorf("processor %q needs a parent", name))
		return
	}
	addProcessor(b, name, parents, nil, supplier)
}

// AddSink adds a sink node writing to topic; partitioner may be nil (the
// default partitioner).
func AddSink[K, V any](b *Builder, name, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], partitioner StreamPartitioner[K, V], parents ...string) {
	if len(parents) == 0 {
		b.fail(errorf("sink %q needs a parent", name))
		return
	}
	addSink(b, name, topic, parents, keySerde, valueSerde, partitioner)
}

// AddStateStore adds a store and connects it to the named processors
// (more can be connected later with ConnectProcessorAndStateStores, or
// with the WithStores option of Process).
func (b *Builder) AddStateStore(sb StoreBuilder, processors ...string) {
	b.addStore(sb, processors...)
}

// ConnectProcessorAndStateStores gives processor access to stores.
func (b *Builder) ConnectProcessorAndStateStores(processor string, stores ...string) {
	for _, s := range stores {
		b.connectStore(s, processor)
	}
}
