package streams_test

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
)

// Foreign-key joins (KIP-213) on the TestDriver.

// fkDriver joins left (key → foreign key as value) with right (foreign
// key → value), inner into "inner" and left into "left-join", values
// printed as "fk,right".
func fkDriver(t *testing.T) (d *streams.TestDriver, left, right *streams.TestInputTopic[string, string], inner, leftJoin *streams.TestOutputTopic[string, string]) {
	d = driver(t, func(b *streams.Builder) {
		l := streams.Table(b, "left", serde.String(), serde.String())
		r := streams.Table(b, "right", serde.String(), serde.String())
		fk := func(_ string, v string) string { return v }
		streams.TableForeignKeyJoin(l, r, fk, func(_ string, v, rv string) string { return v + "," + rv }).
			ToStream().To("inner")
		streams.TableForeignKeyLeftJoin(l, r, fk, func(_ string, v string, rv *string) string { return v + "," + str(rv) }).
			ToStream().To("left-join")
	}, streams.ApplicationID("app"))
	left = streams.CreateInputTopic(d, "left", serde.String(), serde.String())
	right = streams.CreateInputTopic(d, "right", serde.String(), serde.String())
	inner = streams.CreateOutputTopic(d, "inner", serde.String(), serde.String())
	leftJoin = streams.CreateOutputTopic(d, "left-join", serde.String(), serde.String())
	return d, left, right, inner, leftJoin
}

// TestForeignKeyJoinGuide replays the developer guide's table
// ("Semantics of table-table foreign-key joins"): "(k,null)" there is a
// tombstone here.
func TestForeignKeyJoinGuide(t *testing.T) {
	_, left, right, inner, leftJoin := fkDriver(t)
	type row struct {
		side, key, value string // value "null": tombstone
		inner, left      []string
	}
	const tomb = "<null>"
	rows := []row{
		{"right", "1", "foo", nil, nil}, // offset 1 has both sides; the right one first
		{"left", "k", "1", []string{"k=1,foo"}, []string{"k=1,foo"}},
		{"left", "k", "2", []string{"k=" + tomb}, []string{"k=2,null"}},
		{"left", "k", "3", []string{"k=" + tomb}, []string{"k=3,null"}},
		{"right", "3", "bar", []string{"k=3,bar"}, []string{"k=3,bar"}},
		{"left", "k", "null", []string{"k=" + tomb}, []string{"k=" + tomb}},
		{"left", "k", "1", []string{"k=1,foo"}, []string{"k=1,foo"}},
		{"left", "q", "10", nil, []string{"q=10,null"}},
		{"left", "r", "10", nil, []string{"r=10,null"}},
		{"right", "10", "baz", []string{"q=10,baz", "r=10,baz"}, []string{"q=10,baz", "r=10,baz"}},
	}
	for i, r := range rows {
		in := left
		if r.side == "right" {
			in = right
		}
		if r.value == "null" {
			must(t, in.PipeTombstone(r.key))
		} else {
			must(t, in.PipeInput(r.key, r.value))
		}
		eq(t, "row "+string(rune('1'+i))+" inner", readAll(t, inner), r.inner)
		eq(t, "row "+string(rune('1'+i))+" left", readAll(t, leftJoin), r.left)
	}
}

// A changed foreign key moves the row to its new partner; deletes on the
// right side delete (inner) or blank (left) every row that joined it.
func TestForeignKeyJoinChangesAndDeletes(t *testing.T) {
	_, left, right, inner, leftJoin := fkDriver(t)
	must(t, right.PipeInput("a", "A"))
	must(t, right.PipeInput("b", "B"))
	must(t, left.PipeInput("x", "a"))
	must(t, left.PipeInput("y", "a"))
	must(t, left.PipeInput("x", "b")) // FK a → b
	must(t, right.PipeInput("a", "A2"))
	eq(t, "inner", readAll(t, inner), []string{"x=a,A", "y=a,A", "x=b,B", "y=a,A2"})
	eq(t, "left", readAll(t, leftJoin), []string{"x=a,A", "y=a,A", "x=b,B", "y=a,A2"})

	must(t, right.PipeTombstone("a"))
	eq(t, "inner after right delete", readAll(t, inner), []string{"y=<null>"})
	eq(t, "left after right delete", readAll(t, leftJoin), []string{"y=a,null"})

	must(t, left.PipeTombstone("x"))
	eq(t, "inner after left delete", readAll(t, inner), []string{"x=<null>"})
	eq(t, "left after left delete", readAll(t, leftJoin), []string{"x=<null>"})

	// x's subscription to b is gone: an update of b reaches nobody.
	must(t, right.PipeInput("b", "B2"))
	eq(t, "inner after update of an unsubscribed key", readAll(t, inner), nil)
	eq(t, "left after update of an unsubscribed key", readAll(t, leftJoin), nil)
}

// The internal topics and the subscription store are named as Kafka
// names them.
func TestForeignKeyJoinTopicNames(t *testing.T) {
	d, left, right, _, _ := fkDriver(t)
	must(t, right.PipeInput("a", "A"))
	must(t, left.PipeInput("x", "a"))
	var sub, resp []string
	for _, topic := range d.ProducedTopicNames() {
		switch {
		case strings.HasPrefix(topic, "app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-") && strings.HasSuffix(topic, "-topic"):
			sub = append(sub, topic)
		case strings.HasPrefix(topic, "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-") && strings.HasSuffix(topic, "-topic"):
			resp = append(resp, topic)
		}
	}
	if len(sub) != 2 || len(resp) != 2 {
		t.Fatalf("topics %v", d.ProducedTopicNames())
	}
	if !slices.ContainsFunc(d.ProducedTopicNames(), func(s string) bool {
		return strings.HasPrefix(s, "app-KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-") && strings.HasSuffix(s, "-changelog")
	}) {
		t.Fatalf("no subscription store changelog in %v", d.ProducedTopicNames())
	}

	b := streams.NewBuilder()
	l := streams.Table(b, "left", serde.String(), serde.String())
	r := streams.Table(b, "right", serde.String(), serde.String())
	streams.TableForeignKeyJoin(l, r, func(_ string, v string) string { return v },
		func(_ string, v, rv string) string { return v + rv }, streams.Named("orders-products"))
	topo, err := b.Build()
	must(t, err)
	desc := topo.Describe()
	for _, want := range []string{"orders-products-subscription-registration-topic", "orders-products-subscription-response-topic", "orders-products-subscription-store"} {
		if !strings.Contains(desc, want) {
			t.Errorf("%q missing from\n%s", want, desc)
		}
	}
}

// A response computed for an older value of the left row is dropped
// (the hash check); one for the current value is joined.
func TestForeignKeyJoinDropsStaleResponses(t *testing.T) {
	d, left, right, inner, _ := fkDriver(t)
	must(t, right.PipeInput("a", "A"))
	must(t, left.PipeInput("x", "a"))
	eq(t, "inner", readAll(t, inner), []string{"x=a,A"})
	var respTopic string
	for _, topic := range d.ProducedTopicNames() {
		if strings.HasPrefix(topic, "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-") {
			respTopic = topic // the inner join's comes first
			break
		}
	}
	raw := streams.CreateOutputTopic(d, respTopic, serde.Bytes(), serde.Bytes())
	recs, err := raw.ReadRecordsToList()
	must(t, err)
	if len(recs) != 1 {
		t.Fatalf("responses: %d", len(recs))
	}
	good := recs[0].Value
	// {version 0, hash present}{16-byte hash}{value}
	if good[0] != 0 || len(good) != 1+16+1 || good[17] != 'A' {
		t.Fatalf("response bytes %x", good)
	}
	in := streams.CreateInputTopic(d, respTopic, serde.String(), serde.Bytes())
	stale := slices.Clone(good)
	binary.BigEndian.PutUint64(stale[1:], binary.BigEndian.Uint64(stale[1:])+1)
	stale[17] = 'S'
	must(t, in.PipeInput("x", stale))
	eq(t, "after a stale response", readAll(t, inner), nil)
	fresh := slices.Clone(good)
	fresh[17] = 'F'
	must(t, in.PipeInput("x", fresh))
	eq(t, "after a current response", readAll(t, inner), []string{"x=a,F"})
}
