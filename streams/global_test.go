package streams_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
)

// Global tables on the TestDriver: records piped into the global topic
// update the table at once; every task reads it.

func TestStreamGlobalTableJoins(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		products := streams.GlobalTable(b, "products", serde.String(), serde.String(), streams.As("products-store"))
		orders := streams.Stream(b, "orders", serde.String(), serde.String())
		productOf := func(_ string, v string) string { return strings.Split(v, ":")[0] }
		streams.StreamGlobalTableJoin(orders, products, productOf,
			func(_ string, o, p string) string { return o + " is " + p }).
			To("inner", streams.WithValueSerde(serde.String()))
		streams.StreamGlobalTableLeftJoin(orders, products, productOf,
			func(_ string, o string, p *string) string { return o + " is " + str(p) }).
			To("left-join", streams.WithValueSerde(serde.String()))
	})
	products := streams.CreateInputTopic(d, "products", serde.String(), serde.String())
	orders := streams.CreateInputTopic(d, "orders", serde.String(), serde.String())
	inner := streams.CreateOutputTopic(d, "inner", serde.String(), serde.String())
	left := streams.CreateOutputTopic(d, "left-join", serde.String(), serde.String())

	must(t, orders.PipeInput("o1", "p1:2"))
	must(t, products.PipeInput("p1", "book"))
	must(t, orders.PipeInput("o2", "p1:1"))
	must(t, products.PipeInput("p1", "ebook"))
	must(t, orders.PipeInput("o3", "p1:5"))
	must(t, products.PipeTombstone("p1"))
	must(t, orders.PipeInput("o4", "p1:1"))
	must(t, orders.PipeTombstone("o5"))    // null value: dropped by both
	must(t, orders.PipeValue("p1:9"))      // null key: dropped by the inner join
	must(t, products.PipeValue("ignored")) // null key: not a row
	eq(t, "inner", readAll(t, inner), []string{"o2=p1:1 is book", "o3=p1:5 is ebook"})
	eq(t, "left", readAll(t, left), []string{"o1=p1:2 is null", "o2=p1:1 is book", "o3=p1:5 is ebook", "o4=p1:1 is null", "<null>=p1:9 is null"})

	store, err := streams.GetTimestampedKeyValueStore[string, string](d, "products-store")
	must(t, err)
	if _, ok, err := store.Get("p1"); err != nil || ok {
		t.Fatalf("deleted row: %v %v", ok, err)
	}
}

// Any processor reads a global store without connecting it, and cannot
// write it.
func TestGlobalStoreReadableFromProcessors(t *testing.T) {
	var writeErr error
	d := driver(t, func(b *streams.Builder) {
		g := streams.GlobalTable(b, "rates", serde.String(), serde.Int64())
		s := streams.Stream(b, "amounts", serde.String(), serde.Int64())
		store := g.StoreName()
		streams.Process(s, streams.ProcessorFunc(func(ctx streams.ProcessorContext[string, int64], rec streams.Record[string, int64]) error {
			rates := ctx.StateStore(store).(streams.TimestampedKeyValueStore[string, int64])
			r, ok, err := rates.Get(rec.Key)
			if err != nil || !ok {
				return err
			}
			writeErr = rates.Put(rec.Key, streams.ValueAndTimestamp[int64]{Value: 0})
			ctx.Forward(rec.WithValue(rec.Value * r.Value))
			return nil
		})).To("converted", streams.WithKeySerde(serde.String()), streams.WithValueSerde(serde.Int64()))
	})
	rates := streams.CreateInputTopic(d, "rates", serde.String(), serde.Int64())
	amounts := streams.CreateInputTopic(d, "amounts", serde.String(), serde.Int64())
	out := streams.CreateOutputTopic(d, "converted", serde.String(), serde.Int64())
	must(t, rates.PipeInput("eur", 3))
	must(t, amounts.PipeInput("eur", 5))
	must(t, amounts.PipeInput("usd", 5))
	eq(t, "converted", readAll(t, out), []string{"eur=15"})
	if writeErr == nil {
		t.Fatal("a processor wrote to a global store")
	}
	// A global record that does not deserialize goes to the
	// deserialization handler (LogAndFail by default).
	if err := rates.PipeRaw([]byte("usd"), []byte{1}); !errors.Is(err, streams.ErrDeserialization) {
		t.Fatalf("bad global record: %v", err)
	}
}

func TestGlobalTableBuildErrors(t *testing.T) {
	b := streams.NewBuilder()
	streams.GlobalTable(b, "t", serde.String(), serde.String())
	streams.Stream(b, "t", serde.String(), serde.String()).To("out")
	if _, err := b.Build(); !errors.Is(err, streams.ErrTopology) {
		t.Fatalf("global topic read twice: %v", err)
	}
	b = streams.NewBuilder()
	streams.Table(b, "a", serde.String(), serde.String(), streams.As("s"))
	streams.GlobalTable(b, "b", serde.String(), serde.String(), streams.As("s"))
	if _, err := b.Build(); !errors.Is(err, streams.ErrTopology) {
		t.Fatalf("duplicate store name: %v", err)
	}
}

func TestDescribeGlobalTable(t *testing.T) {
	b := streams.NewBuilder()
	g := streams.GlobalTable(b, "regions", serde.String(), serde.String())
	s := streams.Stream(b, "clicks", serde.String(), serde.String())
	streams.StreamGlobalTableJoin(s, g, func(k, _ string) string { return k },
		func(_ string, v, r string) string { return v + r }).To("out")
	topo, err := b.Build()
	must(t, err)
	want := `   Sub-topology: 1 for global store (will not generate tasks)
    Source: KSTREAM-SOURCE-0000000001 (topics: [regions])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000002 (stores: [regions-STATE-STORE-0000000000])
      --> none
      <-- KSTREAM-SOURCE-0000000001
`
	if desc := topo.Describe(); !strings.Contains(desc, want) || !strings.Contains(desc, "Processor: KSTREAM-JOIN-0000000004 (stores: [])") {
		t.Fatalf("describe:\n%s", desc)
	}
}
