// Package streams is Gregor Streams: a stream-processing library in the
// image of Kafka Streams, for any Kafka-protocol cluster (Gregor or
// Kafka), on the franz-go client.
//
// A program builds a Topology with the DSL (or node by node with the
// processor API), tests it with a TestDriver, and runs it with an App:
//
//	b := streams.NewBuilder()
//	lines := streams.Stream(b, "quickstart-events", serde.String(), serde.String())
//	words := streams.FlatMapValues(lines, func(_, line string) []string { return strings.Fields(line) })
//	counts := streams.GroupBy(words, func(_, w string) string { return w }).Count(streams.As("counts"))
//	counts.ToStream().To("output-topic", streams.WithValueSerde(serde.Int64()))
//	topo, err := b.Build()
//
//	app, err := streams.New(topo, streams.ApplicationID("wordcount"), streams.BootstrapServers("localhost:9092"))
//	err = app.Run(ctx) // until ctx ends; then commits and leaves the group
//
// Operators that keep the record types are methods (Filter, Peek, Merge,
// To, Split, Repartition, GroupByKey, Count, Reduce, ToStream); those that
// change them are functions (Map, MapValues, FlatMap, FlatMapValues,
// SelectKey, GroupBy, Aggregate, TableMapValues, Process), because Go
// methods cannot take type parameters. Options (OpOpt) name nodes and
// stores and override serdes. docs/streams.md is the guide.
//
// # Runtime
//
// Build groups the nodes into sub-topologies (parts connected by
// parent links or shared stores; a repartition topic splits them). A
// sub-topology runs as one task per partition number of its source
// topics: task 1_3 reads partition 3 of each of sub-topology 1's topics,
// so co-partitioned topics meet in one task. An App's consumer group
// (group.id = application.id) assigns whole tasks to instances with a
// cooperative, sticky balancer; a task moving to another instance first
// restores its stores from their changelog topics,
// <application.id>-<store>-changelog. Repartition topics,
// <application.id>-<name>-repartition, and changelogs are created by
// Start, with partition counts derived from the source topics.
//
// Under at_least_once an App commits every commit interval: it flushes
// the producer, commits the input offsets, then syncs the stores and
// writes each task's checkpoint file. Under exactly_once_v2 it runs each
// interval's processing in one transaction that also commits the offsets
// (KIP-447), reads with read_committed, and restores stores that were
// not closed cleanly from the committed changelog. docs/design/streams.md
// describes the runtime in detail.
//
// # Nulls
//
// Kafka has null keys and values (a null value in a table is a delete);
// Go types have none. A record read with a null key or value carries the
// zero value and reports Record.IsNullKey / IsNullValue; writing it out
// writes null again. Aggregations skip records with a null key or value,
// tables drop null keys, and KTable.ToStream turns a delete into a record
// with a null value. Serdes never see nulls.
//
// # Concurrency
//
// A Builder is used from one goroutine. A Topology is immutable and may
// back several Apps and drivers. An App's methods are safe for concurrent
// use; its processors and stores run on its one stream thread, so user
// code in a topology needs no locking of its own. A TestDriver is not
// safe for concurrent use.
package streams
