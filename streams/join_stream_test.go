package streams_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
)

// Stream–stream joins on the TestDriver.

type ssJoinKind int

const (
	ssInner ssJoinKind = iota
	ssLeft
	ssOuter
)

func nilOr[T any](p *T) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// joinDriver builds left ⋈ right → out with w.
func joinDriver(t *testing.T, kind ssJoinKind, w streams.JoinWindows, opts ...streams.OpOpt) (*streams.TestDriver, *streams.TestInputTopic[string, string], *streams.TestInputTopic[string, string], *streams.TestOutputTopic[string, string]) {
	d := driver(t, func(b *streams.Builder) {
		l := streams.Stream(b, "left", serde.String(), serde.String())
		r := streams.Stream(b, "right", serde.String(), serde.String())
		var j streams.KStream[string, string]
		switch kind {
		case ssInner:
			j = streams.Join(l, r, func(_ string, lv, rv string) string { return "[" + lv + ", " + rv + "]" }, w, opts...)
		case ssLeft:
			j = streams.LeftJoin(l, r, func(_ string, lv string, rv *string) string { return "[" + lv + ", " + nilOr(rv) + "]" }, w, opts...)
		case ssOuter:
			j = streams.OuterJoin(l, r, func(_ string, lv, rv *string) string { return "[" + nilOr(lv) + ", " + nilOr(rv) + "]" }, w, opts...)
		}
		j.To("out")
	})
	return d,
		streams.CreateInputTopic(d, "left", serde.String(), serde.String()),
		streams.CreateInputTopic(d, "right", serde.String(), serde.String()),
		streams.CreateOutputTopic(d, "out", serde.String(), serde.String())
}

// TestStreamStreamJoinSemantics replays the table of Kafka's join
// semantics ("Improved Left/Outer Stream-Stream Join (v3.1.x and
// newer)", the developer guide's KStream-KStream join table): all records
// share one key, the window is 15 without grace, records are processed
// in timestamp order; "null" is a record with a null value, which joins
// nothing. No [A, null] is emitted for a record that finds its partner
// later; E, F and f find none and are emitted once their windows close,
// with their own timestamps.
func TestStreamStreamJoinSemantics(t *testing.T) {
	type row struct {
		ts                 int64
		left, right        string // "" none, "null" a null value
		inner, lefts, outs string // results, "|"-separated; "@ts" where not at the row's ts
	}
	table := []row{
		{1, "null", "", "", "", ""},
		{2, "", "null", "", "", ""},
		{3, "A", "", "", "", ""},
		{4, "", "a", "[A, a]", "[A, a]", "[A, a]"},
		{5, "B", "", "[B, a]", "[B, a]", "[B, a]"},
		{6, "", "b", "[A, b]|[B, b]", "[A, b]|[B, b]", "[A, b]|[B, b]"},
		{7, "null", "", "", "", ""},
		{8, "", "null", "", "", ""},
		{9, "C", "", "[C, a]|[C, b]", "[C, a]|[C, b]", "[C, a]|[C, b]"},
		{10, "", "c", "[A, c]|[B, c]|[C, c]", "[A, c]|[B, c]|[C, c]", "[A, c]|[B, c]|[C, c]"},
		{11, "", "null", "", "", ""},
		{12, "null", "", "", "", ""},
		{13, "", "null", "", "", ""},
		{14, "", "d", "[A, d]|[B, d]|[C, d]", "[A, d]|[B, d]|[C, d]", "[A, d]|[B, d]|[C, d]"},
		{15, "D", "", "[D, a]|[D, b]|[D, c]|[D, d]", "[D, a]|[D, b]|[D, c]|[D, d]", "[D, a]|[D, b]|[D, c]|[D, d]"},
		{40, "E", "", "", "", ""},
		{60, "F", "", "", "[E, null]@40", "[E, null]@40"},
		{80, "", "f", "", "[F, null]@60", "[F, null]@60"},
		{100, "G", "", "", "", "[null, f]@80"},
	}
	for _, kind := range []ssJoinKind{ssInner, ssLeft, ssOuter} {
		t.Run([]string{"inner", "left", "outer"}[kind], func(t *testing.T) {
			_, left, right, out := joinDriver(t, kind, streams.JoinWindowsOfTimeDifferenceWithNoGrace(15*time.Millisecond))
			for _, r := range table {
				in, v := left, r.left
				if v == "" {
					in, v = right, r.right
				}
				if v == "null" {
					must(t, in.PipeRecord(streams.Tombstone[string, string]("k", atMs(r.ts))))
				} else {
					must(t, in.PipeInputAt("k", v, atMs(r.ts)))
				}
				var want []string
				if results := []string{r.inner, r.lefts, r.outs}[kind]; results != "" {
					for _, w := range strings.Split(results, "|") {
						if !strings.Contains(w, "@") {
							w = fmt.Sprintf("%s@%d", w, r.ts)
						}
						want = append(want, "k="+w)
					}
				}
				eq(t, fmt.Sprintf("ts %d", r.ts), readTimed(t, out), want)
			}
		})
	}
}

func TestLeftJoinEmitsUnmatchedWhenWindowCloses(t *testing.T) {
	_, left, right, out := joinDriver(t, ssLeft, streams.JoinWindowsOfTimeDifferenceWithNoGrace(10*time.Millisecond))
	must(t, left.PipeInputAt("k", "A", atMs(0)))
	must(t, right.PipeInputAt("o1", "x", atMs(5)))
	must(t, right.PipeInputAt("o2", "y", atMs(10))) // A's window [−10, 10] is still open
	if !out.IsEmpty() {
		t.Fatalf("emitted before the window closed: %v", readTimed(t, out))
	}
	must(t, right.PipeInputAt("o3", "z", atMs(11)))
	eq(t, "unmatched A", readTimed(t, out), []string{"k=[A, null]@0"})
	// A record matched in time is never emitted unmatched.
	must(t, left.PipeInputAt("m", "B", atMs(12)))
	must(t, right.PipeInputAt("m", "b", atMs(20)))
	eq(t, "matched", readTimed(t, out), []string{"m=[B, b]@20"})
	must(t, right.PipeInputAt("o4", "w", atMs(100)))
	if !out.IsEmpty() {
		t.Fatalf("spurious result: %v", readTimed(t, out))
	}
	// A null key joins nothing, at once (KIP-962).
	must(t, left.PipeValue("N"))
	recs, err := out.ReadRecordsToList()
	must(t, err)
	if len(recs) != 1 || !recs[0].IsNullKey() || recs[0].Value != "[N, null]" {
		t.Fatalf("null-key record: %v", recs)
	}
}

func TestOuterJoinEmitsBothSides(t *testing.T) {
	_, left, right, out := joinDriver(t, ssOuter, streams.JoinWindowsOfTimeDifferenceWithNoGrace(10*time.Millisecond), streams.InMemory())
	must(t, left.PipeInputAt("k", "A", atMs(0)))
	must(t, right.PipeInputAt("x", "a", atMs(5)))
	must(t, right.PipeInputAt("y", "b", atMs(11)))
	eq(t, "A closed", readTimed(t, out), []string{"k=[A, null]@0"})
	must(t, left.PipeInputAt("z", "Z", atMs(30)))
	eq(t, "right side closed", readTimed(t, out), []string{"x=[null, a]@5", "y=[null, b]@11"})
	// An out-of-order record whose window has closed is emitted at once.
	must(t, left.PipeInputAt("late", "L", atMs(1)))
	eq(t, "late", readTimed(t, out), []string{"late=[L, null]@1"})
}

func TestJoinWindowBeforeAfter(t *testing.T) {
	// Right records join a left record at t within [t, t + 10].
	w := streams.JoinWindowsOfTimeDifferenceWithNoGrace(10 * time.Millisecond).Before(0)
	_, left, right, out := joinDriver(t, ssInner, w)
	must(t, right.PipeInputAt("k", "a", atMs(5)))
	must(t, left.PipeInputAt("k", "A", atMs(10)))
	must(t, right.PipeInputAt("k", "b", atMs(15)))
	must(t, right.PipeInputAt("k", "c", atMs(20)))
	must(t, right.PipeInputAt("k", "d", atMs(21)))
	eq(t, "joined", readTimed(t, out), []string{"k=[A, b]@15", "k=[A, c]@20"})
}

func TestJoinStoresAndCopartitionGroup(t *testing.T) {
	b := streams.NewBuilder()
	l := streams.Stream(b, "left", serde.String(), serde.String())
	r := streams.Stream(b, "right", serde.String(), serde.String())
	streams.OuterJoin(l, r, func(_ string, lv, rv *string) string { return "" },
		streams.JoinWindowsOfTimeDifferenceWithNoGrace(time.Second), streams.As("j")).To("out")
	topo, err := b.Build()
	must(t, err)
	got := topo.StoreNames()
	eq(t, "stores", got, []string{"j-other-join-store", "j-outer-shared-join-store", "j-this-join-store"})
	if !strings.Contains(topo.Describe(), "Sub-topology: 0") || strings.Contains(topo.Describe(), "Sub-topology: 1") {
		t.Fatalf("a join must be one sub-topology:\n%s", topo.Describe())
	}
}

func TestJoinGrace(t *testing.T) {
	w := streams.JoinWindowsOfTimeDifferenceAndGrace(10*time.Millisecond, 5*time.Millisecond)
	_, left, right, out := joinDriver(t, ssLeft, w)
	must(t, left.PipeInputAt("k", "A", atMs(0)))
	must(t, right.PipeInputAt("x", "x", atMs(12))) // A's window closes at 0 + 10 + 5
	must(t, right.PipeInputAt("k", "b", atMs(3)))  // out of order, within grace: joins
	eq(t, "joined", readTimed(t, out), []string{"k=[A, b]@3"})
	must(t, left.PipeInputAt("c", "C", atMs(20)))
	must(t, right.PipeInputAt("y", "y", atMs(35)))
	if !out.IsEmpty() {
		t.Fatalf("emitted within grace: %v", readTimed(t, out))
	}
	must(t, right.PipeInputAt("z", "z", atMs(36)))
	eq(t, "C closed", readTimed(t, out), []string{"c=[C, null]@20"})
}
