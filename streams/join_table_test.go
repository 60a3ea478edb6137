package streams_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
)

// Joins with tables on the TestDriver. The row-by-row tests replay the
// tables of Kafka Streams' developer guide ("Semantics of stream-table
// joins", "Semantics of table-table equi-joins"): every record has the
// key "k", record i has timestamp i, and "<null>" is a tombstone.

func str(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}

// guideRow is one row of a developer-guide table: a record on the left
// or the right side ("null" for a tombstone) and the outputs expected of
// each join variant.
type guideRow struct {
	left, right string
	want        []string // per variant; "" for no output, "<null>" for a tombstone
}

func pipeGuide(t *testing.T, in *streams.TestInputTopic[string, string], v string, ts int) {
	t.Helper()
	at := time.UnixMilli(int64(ts))
	if v == "null" {
		must(t, in.PipeRecord(streams.Tombstone[string, string]("k", at)))
		return
	}
	must(t, in.PipeInputAt("k", v, at))
}

func checkGuide(t *testing.T, rows []guideRow, left, right *streams.TestInputTopic[string, string], outs []*streams.TestOutputTopic[string, string], names []string) {
	t.Helper()
	for i, row := range rows {
		ts := i + 1
		if row.left != "" {
			pipeGuide(t, left, row.left, ts)
		}
		if row.right != "" {
			pipeGuide(t, right, row.right, ts)
		}
		for j, o := range outs {
			got := readAll(t, o)
			var want []string
			if row.want[j] != "" {
				want = []string{"k=" + row.want[j]}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("timestamp %d (left %q, right %q), %s: got %q, want %q", ts, row.left, row.right, names[j], got, want)
			}
		}
	}
}

func TestStreamTableJoinGuide(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "left", serde.String(), serde.String())
		tbl := streams.Table(b, "right", serde.String(), serde.String())
		streams.StreamTableJoin(s, tbl, func(_ string, l, r string) string { return "[" + l + ", " + r + "]" }).
			To("inner", streams.WithValueSerde(serde.String()))
		streams.StreamTableLeftJoin(s, tbl, func(_ string, l string, r *string) string { return "[" + l + ", " + str(r) + "]" }).
			To("left-join", streams.WithValueSerde(serde.String()))
	})
	left := streams.CreateInputTopic(d, "left", serde.String(), serde.String())
	right := streams.CreateInputTopic(d, "right", serde.String(), serde.String())
	outs := []*streams.TestOutputTopic[string, string]{
		streams.CreateOutputTopic(d, "inner", serde.String(), serde.String()),
		streams.CreateOutputTopic(d, "left-join", serde.String(), serde.String()),
	}
	rows := []guideRow{
		{left: "null", want: []string{"", ""}},
		{right: "null", want: []string{"", ""}},
		{left: "A", want: []string{"", "[A, null]"}},
		{right: "a", want: []string{"", ""}},
		{left: "B", want: []string{"[B, a]", "[B, a]"}},
		{right: "b", want: []string{"", ""}},
		{left: "null", want: []string{"", ""}},
		{right: "null", want: []string{"", ""}},
		{left: "C", want: []string{"", "[C, null]"}},
		{right: "c", want: []string{"", ""}},
		{right: "null", want: []string{"", ""}},
		{left: "null", want: []string{"", ""}},
		{right: "null", want: []string{"", ""}},
		{right: "d", want: []string{"", ""}},
		{left: "D", want: []string{"[D, d]", "[D, d]"}},
	}
	checkGuide(t, rows, left, right, outs, []string{"inner", "left"})

	// A null key: dropped by the inner join, joined with no row by the
	// left join (KIP-962); the result keeps the stream record's
	// timestamp.
	must(t, left.PipeValue("E"))
	if got := readAll(t, outs[0]); len(got) != 0 {
		t.Fatalf("inner join of a null key: %q", got)
	}
	recs, err := outs[1].ReadRecordsToList()
	must(t, err)
	if len(recs) != 1 || !recs[0].IsNullKey() || recs[0].Value != "[E, null]" {
		t.Fatalf("left join of a null key: %+v", recs)
	}
}

func TestTableTableJoinGuide(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		l := streams.Table(b, "left", serde.String(), serde.String())
		r := streams.Table(b, "right", serde.String(), serde.String())
		streams.TableJoin(l, r, func(_ string, lv, rv string) string { return "[" + lv + ", " + rv + "]" }).
			ToStream().To("inner")
		streams.TableLeftJoin(l, r, func(_ string, lv string, rv *string) string { return "[" + lv + ", " + str(rv) + "]" }).
			ToStream().To("left-join")
		streams.TableOuterJoin(l, r, func(_ string, lv, rv *string) string { return "[" + str(lv) + ", " + str(rv) + "]" }, streams.As("outer-store")).
			ToStream().To("outer")
	})
	left := streams.CreateInputTopic(d, "left", serde.String(), serde.String())
	right := streams.CreateInputTopic(d, "right", serde.String(), serde.String())
	outs := []*streams.TestOutputTopic[string, string]{
		streams.CreateOutputTopic(d, "inner", serde.String(), serde.String()),
		streams.CreateOutputTopic(d, "left-join", serde.String(), serde.String()),
		streams.CreateOutputTopic(d, "outer", serde.String(), serde.String()),
	}
	const tomb = "<null>"
	rows := []guideRow{
		{left: "null", want: []string{"", "", ""}},
		{right: "null", want: []string{"", "", ""}},
		{left: "A", want: []string{"", "[A, null]", "[A, null]"}},
		{right: "a", want: []string{"[A, a]", "[A, a]", "[A, a]"}},
		{left: "B", want: []string{"[B, a]", "[B, a]", "[B, a]"}},
		{right: "b", want: []string{"[B, b]", "[B, b]", "[B, b]"}},
		{left: "null", want: []string{tomb, tomb, "[null, b]"}},
		{right: "null", want: []string{"", "", tomb}},
		{left: "C", want: []string{"", "[C, null]", "[C, null]"}},
		{right: "c", want: []string{"[C, c]", "[C, c]", "[C, c]"}},
		{right: "null", want: []string{tomb, "[C, null]", "[C, null]"}},
		{left: "null", want: []string{"", tomb, tomb}},
		{right: "null", want: []string{"", "", ""}},
		{right: "d", want: []string{"", "", "[null, d]"}},
		{left: "D", want: []string{"[D, d]", "[D, d]", "[D, d]"}},
	}
	checkGuide(t, rows, left, right, outs, []string{"inner", "left", "outer"})

	// The materialized outer join holds the latest row, stamped with the
	// larger of the two sides' timestamps.
	store, err := streams.GetTimestampedKeyValueStore[string, string](d, "outer-store")
	must(t, err)
	v, ok, err := store.Get("k")
	must(t, err)
	if !ok || v.Value != "[D, d]" || v.Timestamp.UnixMilli() != 15 {
		t.Fatalf("outer-store k = %+v, %v", v, ok)
	}
}

// The result's timestamp is the larger of the two rows' (Kafka's
// KTableKTableJoin: max(record ts, other ts)).
func TestTableJoinTimestamps(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		l := streams.Table(b, "left", serde.String(), serde.String())
		r := streams.Table(b, "right", serde.String(), serde.String())
		streams.TableJoin(l, r, func(_ string, lv, rv string) string { return lv + rv }).ToStream().To("out")
	})
	left := streams.CreateInputTopic(d, "left", serde.String(), serde.String())
	right := streams.CreateInputTopic(d, "right", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "out", serde.String(), serde.String())
	must(t, right.PipeInputAt("k", "r", time.UnixMilli(50)))
	must(t, left.PipeInputAt("k", "l", time.UnixMilli(10)))
	must(t, right.PipeInputAt("k", "R", time.UnixMilli(20)))
	recs, err := out.ReadRecordsToList()
	must(t, err)
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s@%d", r.Value, r.Timestamp.UnixMilli()))
	}
	eq(t, "results", got, []string{"lr@50", "lR@20"})
}

// Joining with tables that have no store of their own looks the rows up
// through the operators they derive from (Kafka's value getters); joins
// of joins work the same way.
func TestJoinsThroughDerivedTables(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		users := streams.Table(b, "users", serde.String(), serde.String())
		active := users.Filter(func(_ string, v string) bool { return !strings.HasPrefix(v, "-") })
		upper := streams.TableMapValues(active, func(_ string, v string) string { return strings.ToUpper(v) })
		regions := streams.Table(b, "regions", serde.String(), serde.String())
		joined := streams.TableJoin(upper, regions, func(_ string, u, r string) string { return u + "@" + r })
		clicks := streams.Stream(b, "clicks", serde.String(), serde.String())
		streams.StreamTableJoin(clicks, joined, func(_ string, c, u string) string { return c + " by " + u }).
			To("enriched", streams.WithValueSerde(serde.String()))
	})
	users := streams.CreateInputTopic(d, "users", serde.String(), serde.String())
	regions := streams.CreateInputTopic(d, "regions", serde.String(), serde.String())
	clicks := streams.CreateInputTopic(d, "clicks", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "enriched", serde.String(), serde.String())
	must(t, users.PipeInput("u1", "alice"))
	must(t, users.PipeInput("u2", "-bob"))
	must(t, regions.PipeInput("u1", "eu"))
	must(t, regions.PipeInput("u2", "us"))
	must(t, clicks.PipeInput("u1", "c1"))
	must(t, clicks.PipeInput("u2", "c2")) // bob is filtered out
	must(t, users.PipeInput("u2", "bob"))
	must(t, clicks.PipeInput("u2", "c3"))
	must(t, regions.PipeTombstone("u1"))
	must(t, clicks.PipeInput("u1", "c4")) // no region any more
	eq(t, "enriched", readAll(t, out), []string{"u1=c1 by ALICE@eu", "u2=c3 by BOB@us"})
}

// A stream whose key changed is repartitioned before the join, and the
// repartition topic joins the co-partition group.
func TestStreamTableJoinRepartitions(t *testing.T) {
	b := streams.NewBuilder()
	orders := streams.Stream(b, "orders", serde.String(), serde.String())
	byCustomer := streams.SelectKey(orders, func(_ string, v string) string { return strings.Split(v, ":")[0] })
	customers := streams.Table(b, "customers", serde.String(), serde.String())
	streams.StreamTableJoin(byCustomer, customers, func(_ string, o, c string) string { return o + " for " + c },
		streams.Named("orders-by-customer")).
		To("out", streams.WithValueSerde(serde.String()))
	topo, err := b.Build()
	must(t, err)
	desc := topo.Describe()
	if !strings.Contains(desc, "orders-by-customer-repartition") || !strings.Contains(desc, "Sub-topology: 1") {
		t.Fatalf("no repartition before the join:\n%s", desc)
	}
	d, err := streams.NewTestDriver(topo, streams.Logger(quiet), streams.StateDir(t.TempDir()), streams.ApplicationID("app"))
	must(t, err)
	defer d.Close()
	must(t, streams.CreateInputTopic(d, "customers", serde.String(), serde.String()).PipeInput("c1", "Carol"))
	must(t, streams.CreateInputTopic(d, "orders", serde.String(), serde.String()).PipeInput("o1", "c1:book"))
	eq(t, "out", readAll(t, streams.CreateOutputTopic(d, "out", serde.String(), serde.String())), []string{"c1=c1:book for Carol"})
	if !slices.Contains(d.ProducedTopicNames(), "app-orders-by-customer-repartition") {
		t.Fatalf("produced %v", d.ProducedTopicNames())
	}
}
