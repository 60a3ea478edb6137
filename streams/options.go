package streams

import (
	"fmt"
	"reflect"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
)

// OpOpt configures one DSL operator: its name, its serdes, its store.
// Each operator documents which options it reads and ignores the rest.
// Options that carry a type (serdes, partitioners) are checked against
// the operator's types when the topology is built; a mismatch makes
// Build fail with ErrTopology.
type OpOpt interface{ applyOp(*opOptions) }

type opOptions struct {
	name            string
	storeName       string
	keySerde        any
	valueSerde      any
	supplier        state.Supplier
	inMemory        bool
	loggingDisabled bool
	changelogConfig map[string]string
	partitioner     any
	partitions      int
	stores          []string
}

type opFunc func(*opOptions)

func (f opFunc) applyOp(o *opOptions) { f(o) }

func collectOpts(opts []OpOpt) opOptions {
	var o opOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyOp(&o)
		}
	}
	return o
}

// Named names the operator's processor node (Kafka's Named.as). On
// grouping operators (GroupByKey, GroupBy) and Repartition it names the
// repartition topic (Kafka's Grouped.as / Repartitioned.as); on Split it
// is the prefix of the branch names.
func Named(name string) OpOpt { return opFunc(func(o *opOptions) { o.name = name }) }

// As names the state store of a table or an aggregation (Kafka's
// Materialized.as); the store's changelog topic is
// <application.id>-<name>-changelog.
func As(storeName string) OpOpt { return opFunc(func(o *opOptions) { o.storeName = storeName }) }

// WithKeySerde sets the key serde: of a source, a sink, a repartition
// topic, or a store (then the serde of the store's key).
func WithKeySerde[K any](s serde.Serde[K]) OpOpt {
	return opFunc(func(o *opOptions) { o.keySerde = s })
}

// WithValueSerde sets the value serde, as WithKeySerde does for keys.
func WithValueSerde[V any](s serde.Serde[V]) OpOpt {
	return opFunc(func(o *opOptions) { o.valueSerde = s })
}

// WithStoreSupplier makes a table or aggregation keep its state in stores
// from supplier (whose name becomes the store name).
func WithStoreSupplier(supplier state.Supplier) OpOpt {
	return opFunc(func(o *opOptions) { o.supplier = supplier })
}

// InMemory makes a table or aggregation keep its state in an in-memory
// store instead of Pebble (Kafka's default.dsl.store=in_memory for one
// operator).
func InMemory() OpOpt { return opFunc(func(o *opOptions) { o.inMemory = true }) }

// WithLoggingDisabled turns off the changelog of a table's or
// aggregation's store: its state is then lost with the local state dir.
func WithLoggingDisabled() OpOpt { return opFunc(func(o *opOptions) { o.loggingDisabled = true }) }

// WithChangelogConfig adds topic configs to the store's changelog topic
// (on top of cleanup.policy=compact).
func WithChangelogConfig(cfg map[string]string) OpOpt {
	return opFunc(func(o *opOptions) { o.changelogConfig = cfg })
}

// StreamPartitioner picks the partition of a record sent to topic, which
// has numPartitions partitions (Kafka's StreamPartitioner). Return a
// value in [0, numPartitions).
type StreamPartitioner[K, V any] func(topic string, key K, value V, numPartitions int) int

// WithPartitioner sets the partitioner of To or Repartition. Without one
// a record goes where Kafka's default partitioner puts it: murmur2 of the
// serialized key, or any partition for a null key; so does a record for
// which the partitioner returns a number out of range. The TestDriver,
// whose topics have one partition, does not call partitioners.
func WithPartitioner[K, V any](p StreamPartitioner[K, V]) OpOpt {
	return opFunc(func(o *opOptions) { o.partitioner = p })
}

// WithPartitions sets the partition count of Repartition's topic
// (Kafka's Repartitioned.withNumberOfPartitions). Without it the topic
// gets as many partitions as the largest source topic upstream.
func WithPartitions(n int) OpOpt { return opFunc(func(o *opOptions) { o.partitions = n }) }

// WithStores connects the named state stores (added with AddStateStore)
// to a Process operator.
func WithStores(names ...string) OpOpt {
	return opFunc(func(o *opOptions) { o.stores = append(o.stores, names...) })
}

// serdeOr returns the serde in opt (checked to be a Serde[T]), else def,
// else serde.Default[T]. A mismatch is recorded on b.
func serdeOr[T any](b *Builder, what string, opt any, def serde.Serde[T]) serde.Serde[T] {
	if opt != nil {
		if s, ok := opt.(serde.Serde[T]); ok {
			return s
		}
		b.fail(fmt.Errorf("%w: %s serde is for %T, want serde.Serde[%s]", ErrTopology, what, opt, reflect.TypeFor[T]()))
	}
	if def != nil {
		return def
	}
	return serde.Default[T]()
}

func partitionerOf[K, V any](b *Builder, opt any) StreamPartitioner[K, V] {
	if opt == nil {
		return nil
	}
	if p, ok := opt.(StreamPartitioner[K, V]); ok {
		return p
	}
	b.fail(fmt.Errorf("%w: partitioner is %T, want StreamPartitioner[%s, %s]", ErrTopology, opt, reflect.TypeFor[K](), reflect.TypeFor[V]()))
	return nil
}
