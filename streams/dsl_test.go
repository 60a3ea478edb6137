package streams_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/examples/wordcount"
	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// quiet is the tests' logger: discarded, unless STREAMS_TEST_LOG is set.
var quiet = func() *slog.Logger {
	if os.Getenv("STREAMS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}()

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// driver builds the topology that build adds and starts a driver on it.
func driver(t *testing.T, build func(b *streams.Builder), opts ...streams.Opt) *streams.TestDriver {
	t.Helper()
	b := streams.NewBuilder()
	build(b)
	topo, err := b.Build()
	must(t, err)
	d, err := streams.NewTestDriver(topo, append([]streams.Opt{streams.Logger(quiet), streams.StateDir(t.TempDir())}, opts...)...)
	must(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

func readAll[K, V any](t *testing.T, o *streams.TestOutputTopic[K, V]) []string {
	t.Helper()
	recs, err := o.ReadRecordsToList()
	must(t, err)
	var out []string
	for _, r := range recs {
		k := fmt.Sprint(r.Key)
		if r.IsNullKey() {
			k = "<null>"
		}
		v := fmt.Sprint(r.Value)
		if r.IsNullValue() {
			v = "<null>"
		}
		out = append(out, k+"="+v)
	}
	return out
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func TestWordCount(t *testing.T) {
	d := driver(t, func(b *streams.Builder) { wordcount.Build(b, "in", "out") }, streams.ApplicationID("wc"))
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "out", serde.String(), serde.Int64())
	must(t, in.PipeValue("Hello Kafka Streams"))
	must(t, in.PipeValue("All streams lead to Kafka"))
	must(t, in.PipeValue("Join Kafka Summit"))
	got, err := streams.ReadKeyValuesToMap(out)
	must(t, err)
	want := map[string]int64{"hello": 1, "kafka": 3, "streams": 2, "all": 1, "lead": 1, "to": 1, "join": 1, "summit": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	// The repartition topic carries the words keyed by themselves.
	rep := streams.CreateOutputTopic(d, "wc-counts-store-repartition", serde.String(), serde.String())
	if rep.QueueSize() != 11 {
		t.Fatalf("repartition topic holds %d records, want 11", rep.QueueSize())
	}
	// The changelog holds the counts as plain longs (Kafka's timestamped
	// changelog format: no timestamp prefix).
	cl := streams.CreateOutputTopic(d, "wc-counts-store-changelog", serde.String(), serde.Int64())
	m, err := streams.ReadKeyValuesToMap(cl)
	must(t, err)
	if m["kafka"] != 3 {
		t.Fatalf("changelog: %v", m)
	}
	store, err := streams.GetTimestampedKeyValueStore[string, int64](d, wordcount.StoreName)
	must(t, err)
	v, ok, err := store.Get("kafka")
	must(t, err)
	if !ok || v.Value != 3 {
		t.Fatalf("store kafka = %v %v", v, ok)
	}
}

func TestDescribeWordCount(t *testing.T) {
	topo, err := wordcount.Topology("streams-plaintext-input", "streams-wordcount-output")
	must(t, err)
	want := `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])
      --> KSTREAM-FLATMAPVALUES-0000000001
    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])
      --> KSTREAM-KEY-SELECT-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
      --> counts-store-repartition-filter
      <-- KSTREAM-FLATMAPVALUES-0000000001
    Processor: counts-store-repartition-filter (stores: [])
      --> counts-store-repartition-sink
      <-- KSTREAM-KEY-SELECT-0000000002
    Sink: counts-store-repartition-sink (topic: counts-store-repartition)
      <-- counts-store-repartition-filter

   Sub-topology: 1
    Source: counts-store-repartition-source (topics: [counts-store-repartition])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])
      --> KTABLE-TOSTREAM-0000000004
      <-- counts-store-repartition-source
    Processor: KTABLE-TOSTREAM-0000000004 (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- KSTREAM-AGGREGATE-0000000003
    Sink: KSTREAM-SINK-0000000005 (topic: streams-wordcount-output)
      <-- KTABLE-TOSTREAM-0000000004

`
	if got := topo.Describe(); got != want {
		t.Fatalf("Describe:\n%s\nwant:\n%s", got, want)
	}
	if got := topo.SourceTopics(); !slices.Equal(got, []string{"streams-plaintext-input"}) {
		t.Fatalf("SourceTopics = %v", got)
	}
}

func TestStatelessOperators(t *testing.T) {
	var peeked, each []string
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.Int64())
		s.Filter(func(_ string, v int64) bool { return v%2 == 0 }).To("even")
		s.FilterNot(func(_ string, v int64) bool { return v%2 == 0 }).To("odd")
		streams.Map(s, func(k string, v int64) (int64, string) { return v, strings.ToUpper(k) }).To("mapped")
		streams.MapValues(s, func(k string, v int64) string { return fmt.Sprintf("%s:%d", k, v*10) }).To("mapvalues")
		streams.FlatMap(s, func(k string, v int64) []streams.KeyValue[string, int64] {
			var out []streams.KeyValue[string, int64]
			for i := int64(0); i < v; i++ {
				out = append(out, streams.Pair(fmt.Sprintf("%s%d", k, i), i))
			}
			return out
		}).To("flatmap")
		streams.FlatMapValues(s, func(_ string, v int64) []string { return strings.Split(strings.Repeat("x", int(v)), "") }).To("flatmapvalues")
		streams.SelectKey(s, func(k string, v int64) string { return k + k }).
			Peek(func(k string, v int64) { peeked = append(peeked, k) }).
			To("selected")
		s.Foreach(func(k string, v int64) { each = append(each, fmt.Sprintf("%s %d", k, v)) })
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	must(t, in.PipeInput("a", 1))
	must(t, in.PipeInput("b", 2))
	must(t, in.PipeInput("c", 3))

	eq(t, "even", readAll(t, streams.CreateOutputTopic(d, "even", serde.String(), serde.Int64())), []string{"b=2"})
	eq(t, "odd", readAll(t, streams.CreateOutputTopic(d, "odd", serde.String(), serde.Int64())), []string{"a=1", "c=3"})
	eq(t, "map", readAll(t, streams.CreateOutputTopic(d, "mapped", serde.Int64(), serde.String())), []string{"1=A", "2=B", "3=C"})
	eq(t, "mapValues", readAll(t, streams.CreateOutputTopic(d, "mapvalues", serde.String(), serde.String())), []string{"a=a:10", "b=b:20", "c=c:30"})
	eq(t, "flatMap", readAll(t, streams.CreateOutputTopic(d, "flatmap", serde.String(), serde.Int64())),
		[]string{"a0=0", "b0=0", "b1=1", "c0=0", "c1=1", "c2=2"})
	eq(t, "flatMapValues", readAll(t, streams.CreateOutputTopic(d, "flatmapvalues", serde.String(), serde.String())),
		[]string{"a=x", "b=x", "b=x", "c=x", "c=x", "c=x"})
	eq(t, "selectKey", readAll(t, streams.CreateOutputTopic(d, "selected", serde.String(), serde.Int64())), []string{"aa=1", "bb=2", "cc=3"})
	eq(t, "peek", peeked, []string{"aa", "bb", "cc"})
	eq(t, "foreach", each, []string{"a 1", "b 2", "c 3"})
}

func TestTimestampsAndHeadersPass(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		streams.MapValues(s, func(_ string, v string) string { return v + "!" }).To("out")
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	ts := time.UnixMilli(1_700_000_000_123)
	h := []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}}
	must(t, in.PipeRecord(streams.Record[string, string]{Key: "k", Value: "v", Timestamp: ts, Headers: h}))
	r, err := streams.CreateOutputTopic(d, "out", serde.String(), serde.String()).ReadRecord()
	must(t, err)
	if !r.Timestamp.Equal(ts) || r.Value != "v!" || len(r.Headers) != 1 || string(r.Headers[0].Value) != "t1" {
		t.Fatalf("record %+v", r)
	}
}

func TestNullsPassThroughStreams(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		s.Filter(func(string, string) bool { return true }).To("out")
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeTombstone("k"))
	must(t, in.PipeValue("v"))
	must(t, in.PipeInput("", ""))
	eq(t, "out", readAll(t, streams.CreateOutputTopic(d, "out", serde.String(), serde.String())),
		[]string{"k=<null>", "<null>=v", "="})
}

func TestSplitAndMerge(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.Int64())
		branches := s.Split(streams.Named("n-")).
			Branch(func(_ string, v int64) bool { return v < 0 }, streams.Named("neg")).
			Branch(func(_ string, v int64) bool { return v == 0 }).
			DefaultBranch(streams.Named("pos"))
		var names []string
		for n := range branches {
			names = append(names, n)
		}
		sort.Strings(names)
		if !slices.Equal(names, []string{"n-2", "n-neg", "n-pos"}) {
			t.Errorf("branch names %v", names)
		}
		branches["n-neg"].To("neg")
		branches["n-2"].To("zero")
		branches["n-pos"].Merge(branches["n-neg"]).To("merged")
		other := streams.Stream(b, "in2", serde.String(), serde.Int64())
		s.Merge(other).To("both")
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	in2 := streams.CreateInputTopic(d, "in2", serde.String(), serde.Int64())
	for _, v := range []int64{-1, 0, 5, -2, 7} {
		must(t, in.PipeInput(fmt.Sprint(v), v))
	}
	must(t, in2.PipeInput("x", 100))
	out := func(topic string) []string {
		return readAll(t, streams.CreateOutputTopic(d, topic, serde.String(), serde.Int64()))
	}
	eq(t, "neg", out("neg"), []string{"-1=-1", "-2=-2"})
	eq(t, "zero", out("zero"), []string{"0=0"})
	eq(t, "merged", out("merged"), []string{"-1=-1", "5=5", "-2=-2", "7=7"})
	eq(t, "both", out("both"), []string{"-1=-1", "0=0", "5=5", "-2=-2", "7=7", "x=100"})
}

func TestSplitNoDefaultDrops(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		m := s.Split().Branch(func(k, _ string) bool { return k == "a" }).NoDefaultBranch()
		if len(m) != 1 {
			t.Errorf("branches %v", m)
		}
		for _, br := range m {
			br.To("a")
		}
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeInput("a", "1"))
	must(t, in.PipeInput("b", "2"))
	eq(t, "a", readAll(t, streams.CreateOutputTopic(d, "a", serde.String(), serde.String())), []string{"a=1"})
}

func TestRepartitionAndPartitioner(t *testing.T) {
	var calls []string
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		p := func(topic string, k, v string, n int) int {
			calls = append(calls, topic+"/"+k)
			return 0
		}
		streams.SelectKey(s, func(_ string, v string) string { return v }).
			Repartition(streams.Named("byvalue"), streams.WithPartitioner(p), streams.WithPartitions(3)).
			To("out", streams.WithPartitioner(p))
	}, streams.ApplicationID("app"))
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeInput("k1", "v1"))
	eq(t, "through repartition", readAll(t, streams.CreateOutputTopic(d, "app-byvalue-repartition", serde.String(), serde.String())), []string{"v1=v1"})
	eq(t, "out", readAll(t, streams.CreateOutputTopic(d, "out", serde.String(), serde.String())), []string{"v1=v1"})
	_ = calls // the test driver has one partition per topic and does not call partitioners
}

func TestAggregations(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.Int64())
		g := s.GroupByKey()
		g.Count(streams.As("count"), streams.InMemory()).ToStream().To("count")
		g.Reduce(func(agg, v int64) int64 { return agg + v }, streams.As("sum")).ToStream().To("sum")
		streams.Aggregate(g, func() []int64 { return nil },
			func(_ string, v int64, agg []int64) []int64 { return append(agg, v) },
			streams.As("list"), streams.WithValueSerde(serde.JSON[[]int64]())).
			ToStream().To("list", streams.WithValueSerde(serde.JSON[[]int64]()))
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	must(t, in.PipeInput("a", 1))
	must(t, in.PipeInput("b", 10))
	must(t, in.PipeInput("a", 2))
	must(t, in.PipeTombstone("a")) // null values are skipped by aggregations
	must(t, in.PipeRecord(streams.Record[string, int64]{Value: 99}.WithValue(99).WithTimestamp(time.UnixMilli(5)).WithHeaders(nil)))
	must(t, in.PipeInput("a", 3))
	eq(t, "count", readAll(t, streams.CreateOutputTopic(d, "count", serde.String(), serde.Int64())),
		[]string{"a=1", "b=1", "a=2", "=1", "a=3"})
	eq(t, "sum", readAll(t, streams.CreateOutputTopic(d, "sum", serde.String(), serde.Int64())),
		[]string{"a=1", "b=10", "a=3", "=99", "a=6"})
	eq(t, "list", readAll(t, streams.CreateOutputTopic(d, "list", serde.String(), serde.JSON[[]int64]())),
		[]string{"a=[1]", "b=[10]", "a=[1 2]", "=[99]", "a=[1 2 3]"})
}

func TestAggregateSkipsNullKeysAndStampsMaxTimestamp(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		streams.Stream(b, "in", serde.String(), serde.String()).GroupByKey().Count(streams.As("c")).ToStream().To("out")
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeValue("no key"))
	must(t, in.PipeInputAt("k", "x", time.UnixMilli(2000)))
	must(t, in.PipeInputAt("k", "y", time.UnixMilli(1000))) // out of order
	recs, err := streams.CreateOutputTopic(d, "out", serde.String(), serde.Int64()).ReadRecordsToList()
	must(t, err)
	if len(recs) != 2 || recs[1].Value != 2 || recs[1].Timestamp.UnixMilli() != 2000 {
		t.Fatalf("records %+v", recs)
	}
}

func TestGroupByRepartitions(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		streams.GroupBy(s, func(_ string, v string) string { return v[:1] }, streams.Named("first-letter")).
			Count(streams.As("by-letter")).ToStream().To("out")
	}, streams.ApplicationID("g"))
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	for _, v := range []string{"apple", "avocado", "banana"} {
		must(t, in.PipeInput("k", v))
	}
	eq(t, "out", readAll(t, streams.CreateOutputTopic(d, "out", serde.String(), serde.Int64())), []string{"a=1", "a=2", "b=1"})
	if n := streams.CreateOutputTopic(d, "g-first-letter-repartition", serde.String(), serde.String()).QueueSize(); n != 3 {
		t.Fatalf("repartition topic: %d records", n)
	}
	if names := d.ProducedTopicNames(); !slices.Contains(names, "g-by-letter-changelog") {
		t.Fatalf("produced %v", names)
	}
}

func TestTableTombstones(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		tbl := streams.Table(b, "users", serde.String(), serde.String(), streams.As("users-store"))
		tbl.ToStream().To("all")
		tbl.Filter(func(_ string, v string) bool { return strings.HasPrefix(v, "admin") }).ToStream().To("admins")
		streams.TableMapValues(tbl, func(_ string, v string) int64 { return int64(len(v)) }, streams.As("lens")).
			ToStream().To("lens", streams.WithValueSerde(serde.Int64()))
	}, streams.ApplicationID("t"))
	in := streams.CreateInputTopic(d, "users", serde.String(), serde.String())
	must(t, in.PipeInput("alice", "admin-a"))
	must(t, in.PipeInput("bob", "user-b"))
	must(t, in.PipeInput("bob", "admin-b"))   // starts matching
	must(t, in.PipeInput("alice", "user-a"))  // stops matching: a tombstone downstream
	must(t, in.PipeTombstone("bob"))          // delete
	must(t, in.PipeTombstone("nobody"))       // delete of a missing key: nothing
	must(t, in.PipeValue("null key dropped")) // tables drop null keys

	eq(t, "all", readAll(t, streams.CreateOutputTopic(d, "all", serde.String(), serde.String())),
		[]string{"alice=admin-a", "bob=user-b", "bob=admin-b", "alice=user-a", "bob=<null>"})
	eq(t, "admins", readAll(t, streams.CreateOutputTopic(d, "admins", serde.String(), serde.String())),
		[]string{"alice=admin-a", "bob=admin-b", "alice=<null>", "bob=<null>"})
	eq(t, "lens", readAll(t, streams.CreateOutputTopic(d, "lens", serde.String(), serde.Int64())),
		[]string{"alice=7", "bob=6", "bob=7", "alice=6", "bob=<null>"})

	store, err := streams.GetTimestampedKeyValueStore[string, string](d, "users-store")
	must(t, err)
	if _, ok, _ := store.Get("bob"); ok {
		t.Fatal("bob still in the table")
	}
	if v, ok, _ := store.Get("alice"); !ok || v.Value != "user-a" {
		t.Fatalf("alice = %v %v", v, ok)
	}
	lens, err := streams.GetTimestampedKeyValueStore[string, int64](d, "lens")
	must(t, err)
	if n, _ := lens.ApproximateNumEntries(); n != 1 {
		t.Fatalf("lens store has %d entries", n)
	}
	// The changelog records the delete as a tombstone.
	eq(t, "changelog", readAll(t, streams.CreateOutputTopic(d, "t-users-store-changelog", serde.String(), serde.String())),
		[]string{"alice=admin-a", "bob=user-b", "bob=admin-b", "alice=user-a", "bob=<null>"})
}

func TestStreamToTable(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		streams.SelectKey(s, func(_ string, v string) string { return strings.ToUpper(v) }).
			ToTable(streams.As("latest")).ToStream().To("out")
	}, streams.ApplicationID("tt"))
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeInput("1", "x"))
	must(t, in.PipeInput("2", "x"))
	eq(t, "out", readAll(t, streams.CreateOutputTopic(d, "out", serde.String(), serde.String())), []string{"X=x", "X=x"})
	if n := streams.CreateOutputTopic(d, "tt-KSTREAM-TOTABLE-0000000002-repartition", serde.String(), serde.String()).QueueSize(); n != 2 {
		t.Fatalf("ToTable after a key change must repartition; got %d records (topics %v)", n, d.ProducedTopicNames())
	}
}

// counter is a processor-API processor with a key-value store.
type counter struct {
	ctx   streams.ProcessorContext[string, int64]
	store streams.KeyValueStore[string, int64]
}

func (c *counter) Init(ctx streams.ProcessorContext[string, int64]) error {
	c.ctx = ctx
	s, ok := ctx.StateStore("counts").(streams.KeyValueStore[string, int64])
	if !ok {
		return errors.New("no counts store")
	}
	c.store = s
	return nil
}

func (c *counter) Process(rec streams.Record[string, string]) error {
	n, _, err := c.store.Get(rec.Value)
	if err != nil {
		return err
	}
	n++
	if err := c.store.Put(rec.Value, n); err != nil {
		return err
	}
	md, ok := c.ctx.RecordMetadata()
	if !ok || md.Topic != "in" {
		return fmt.Errorf("metadata %v %v", md, ok)
	}
	c.ctx.Forward(streams.Record[string, int64]{Key: rec.Value, Value: n, Timestamp: rec.Timestamp})
	return nil
}

func (c *counter) Close() error { return nil }

func TestProcessorAPI(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		streams.AddSource(b, "src", serde.String(), serde.String(), "in")
		streams.AddProcessor(b, "count", func() streams.Processor[string, string, string, int64] { return &counter{} }, "src")
		b.AddStateStore(streams.KeyValueStoreBuilder(state.InMemoryKeyValueStore("counts"), serde.String(), serde.Int64()), "count")
		streams.AddSink(b, "sink", "out", serde.String(), serde.Int64(), nil, "count")
	}, streams.ApplicationID("p"))
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeValue("x"))
	must(t, in.PipeValue("y"))
	must(t, in.PipeValue("x"))
	eq(t, "out", readAll(t, streams.CreateOutputTopic(d, "out", serde.String(), serde.Int64())), []string{"x=1", "y=1", "x=2"})
	store, err := streams.GetKeyValueStore[string, int64](d, "counts")
	must(t, err)
	it, err := store.All()
	must(t, err)
	var all []string
	for it.Next() {
		all = append(all, fmt.Sprint(it.Key(), "=", it.Value()))
	}
	must(t, it.Err())
	it.Close()
	eq(t, "store", all, []string{"x=2", "y=1"})
	// A plain store's changelog record carries the record's value as it
	// is.
	eq(t, "changelog", readAll(t, streams.CreateOutputTopic(d, "p-counts-changelog", serde.String(), serde.Int64())), []string{"x=1", "y=1", "x=2"})
}

func TestProcessInDSLWithForwardTo(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		b.AddStateStore(streams.KeyValueStoreBuilder(state.PersistentKeyValueStore("seen"), serde.String(), serde.Bool()).WithLoggingDisabled())
		s := streams.Stream(b, "in", serde.String(), serde.String())
		dedup := streams.Process(s, streams.ProcessorFunc(func(ctx streams.ProcessorContext[string, string], rec streams.Record[string, string]) error {
			seen := ctx.StateStore("seen").(streams.KeyValueStore[string, bool])
			if _, dup, err := seen.PutIfAbsent(rec.Value, true); err != nil || dup {
				return err
			}
			ctx.ForwardTo("first", rec)
			return nil
		}), streams.WithStores("seen"))
		dedup.To("out", streams.Named("first"))
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	for _, v := range []string{"a", "b", "a", "c", "b"} {
		must(t, in.PipeInput("k", v))
	}
	eq(t, "out", readAll(t, streams.CreateOutputTopic(d, "out", serde.String(), serde.String())), []string{"k=a", "k=b", "k=c"})
	if names := d.ProducedTopicNames(); slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, "-changelog") }) {
		t.Fatalf("logging disabled but changelog written: %v", names)
	}
}

func TestBuildErrors(t *testing.T) {
	cases := map[string]func(b *streams.Builder){
		"type mismatch": func(b *streams.Builder) {
			streams.AddSource(b, "src", serde.String(), serde.String(), "in")
			streams.AddProcessor(b, "p", streams.ProcessorFunc(func(streams.ProcessorContext[string, string], streams.Record[string, int64]) error { return nil }), "src")
		},
		"unknown parent": func(b *streams.Builder) {
			streams.AddSink(b, "sink", "out", serde.String(), serde.String(), nil, "nope")
		},
		"duplicate name": func(b *streams.Builder) {
			streams.Stream(b, "a", serde.String(), serde.String())
			streams.Stream(b, "b", serde.String(), serde.String(), streams.Named("KSTREAM-SOURCE-0000000000"))
		},
		"topic read twice": func(b *streams.Builder) {
			streams.Stream(b, "a", serde.String(), serde.String())
			streams.Stream(b, "a", serde.String(), serde.String())
		},
		"unconnected store": func(b *streams.Builder) {
			streams.Stream(b, "a", serde.String(), serde.String()).To("b")
			b.AddStateStore(streams.KeyValueStoreBuilder(state.InMemoryKeyValueStore("s"), serde.String(), serde.String()))
		},
		"wrong serde type": func(b *streams.Builder) {
			streams.Stream(b, "a", serde.String(), serde.String()).To("b", streams.WithValueSerde(serde.Int64()))
		},
		"empty": func(b *streams.Builder) {},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			b := streams.NewBuilder()
			build(b)
			if _, err := b.Build(); !errors.Is(err, streams.ErrTopology) {
				t.Fatalf("Build = %v, want ErrTopology", err)
			}
		})
	}
}

func TestDeserializationHandlers(t *testing.T) {
	build := func(b *streams.Builder) {
		streams.Stream(b, "in", serde.String(), serde.Int64()).To("out")
	}
	// Default: fail.
	d := driver(t, build)
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	if err := in.PipeRaw([]byte("k"), []byte("bad")); !errors.Is(err, streams.ErrDeserialization) || !errors.Is(err, serde.ErrSize) {
		t.Fatalf("default handler: %v", err)
	}
	// Log and continue, with a dead-letter topic.
	d = driver(t, build, streams.DeserializationExceptionHandler(streams.LogAndContinue), streams.DeadLetterQueueTopic("dlq"))
	in = streams.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	must(t, in.PipeRaw([]byte("k"), []byte("bad")))
	must(t, in.PipeInput("k", 7))
	eq(t, "out", readAll(t, streams.CreateOutputTopic(d, "out", serde.String(), serde.Int64())), []string{"k=7"})
	dlq, err := streams.CreateOutputTopic(d, "dlq", serde.String(), serde.String()).ReadRecordsToList()
	must(t, err)
	if len(dlq) != 1 || dlq[0].Key != "k" || dlq[0].Value != "bad" {
		t.Fatalf("dlq %+v", dlq)
	}
	h := map[string]string{}
	for _, x := range dlq[0].Headers {
		h[x.Key] = string(x.Value)
	}
	if h[streams.HeaderErrorsTopic] != "in" || h[streams.HeaderErrorsPartition] != "0" || h[streams.HeaderErrorsOffset] != "0" ||
		!strings.Contains(h[streams.HeaderErrorsMessage], "LongDeserializer") || h[streams.HeaderErrorsException] == "" {
		t.Fatalf("dlq headers %v", h)
	}
}

func TestProcessingHandler(t *testing.T) {
	build := func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		streams.MapValues(s, func(_ string, v string) string {
			if v == "boom" {
				panic("boom")
			}
			return v
		}).To("out")
	}
	d := driver(t, build)
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	if err := in.PipeInput("k", "boom"); !errors.Is(err, streams.ErrProcessing) {
		t.Fatalf("default processing handler: %v", err)
	}
	var seen []string
	d = driver(t, build, streams.ProcessingExceptionHandler(func(ec streams.ErrorContext, key, value any, err error) streams.HandlerResponse {
		seen = append(seen, fmt.Sprint(ec.ProcessorNode, " ", key, " ", value, " ", err))
		return streams.HandlerResume
	}))
	in = streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeInput("k", "boom"))
	must(t, in.PipeInput("k", "fine"))
	eq(t, "out", readAll(t, streams.CreateOutputTopic(d, "out", serde.String(), serde.String())), []string{"k=fine"})
	eq(t, "handler", seen, []string{"KSTREAM-MAPVALUES-0000000001 k boom panic: boom"})
}

func TestSerializationErrorGoesToProductionHandler(t *testing.T) {
	bad := serde.New(func(string, string) ([]byte, error) { return nil, errors.New("cannot") },
		func(_ string, b []byte) (string, error) { return string(b), nil })
	build := func(b *streams.Builder) {
		streams.Stream(b, "in", serde.String(), serde.String()).To("out", streams.WithValueSerde(bad))
	}
	d := driver(t, build)
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	if err := in.PipeInput("k", "v"); !errors.Is(err, streams.ErrProduction) {
		t.Fatalf("serialization failure: %v", err)
	}
	d = driver(t, build, streams.ProductionExceptionHandler(func(streams.ErrorContext, *kgo.Record, error) streams.HandlerResponse {
		return streams.HandlerResume
	}))
	in = streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeInput("k", "v"))
	if n := streams.CreateOutputTopic(d, "out", serde.String(), serde.String()).QueueSize(); n != 0 {
		t.Fatalf("%d records written", n)
	}
}

func TestInvalidTimestamps(t *testing.T) {
	build := func(b *streams.Builder) { streams.Stream(b, "in", serde.String(), serde.String()).To("out") }
	d := driver(t, build)
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	if err := in.PipeInputAt("k", "v", time.UnixMilli(-1)); !errors.Is(err, streams.ErrInvalidTimestamp) {
		t.Fatalf("negative timestamp: %v", err)
	}
	d = driver(t, build, streams.DefaultTimestampExtractor(streams.LogAndSkipOnInvalidTimestamp))
	in = streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeInputAt("k", "skipped", time.UnixMilli(-1)))
	must(t, in.PipeInputAt("k", "kept", time.UnixMilli(1)))
	eq(t, "out", readAll(t, streams.CreateOutputTopic(d, "out", serde.String(), serde.String())), []string{"k=kept"})
}

func TestInputTopicTimeAdvance(t *testing.T) {
	start := time.UnixMilli(1000)
	d := driver(t, func(b *streams.Builder) { streams.Stream(b, "in", serde.String(), serde.String()).To("out") }, streams.Clock(func() time.Time { return start }))
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	in.AutoAdvance(10 * time.Millisecond)
	must(t, in.PipeKeyValues(streams.Pair("a", "1"), streams.Pair("b", "2")))
	in.AdvanceTime(time.Second)
	must(t, in.PipeInput("c", "3"))
	recs, err := streams.CreateOutputTopic(d, "out", serde.String(), serde.String()).ReadRecordsToList()
	must(t, err)
	var ts []int64
	for _, r := range recs {
		ts = append(ts, r.Timestamp.UnixMilli())
	}
	if !slices.Equal(ts, []int64{1000, 1010, 2020}) {
		t.Fatalf("timestamps %v", ts)
	}
	if _, err := streams.CreateOutputTopic(d, "out", serde.String(), serde.String()).ReadRecord(); !errors.Is(err, streams.ErrNoRecord) {
		t.Fatalf("read past the end: %v", err)
	}
}

func TestUnknownInputTopic(t *testing.T) {
	d := driver(t, func(b *streams.Builder) { streams.Stream(b, "in", serde.String(), serde.String()).To("out") })
	if err := streams.CreateInputTopic(d, "nope", serde.String(), serde.String()).PipeInput("k", "v"); err == nil {
		t.Fatal("piping into an unknown topic succeeded")
	}
}
