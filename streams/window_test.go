package streams_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
)

// Windowed aggregations on the TestDriver. Expected results follow Kafka
// Streams' KStreamWindowAggregateTest, KStreamSlidingWindowAggregateTest
// and KStreamSessionWindowAggregateProcessorTest: window boundaries,
// grace, merges.

func atMs(n int64) time.Time { return time.UnixMilli(n) }

// readTimed reads every record as "key=value@timestamp".
func readTimed[K, V any](t *testing.T, o *streams.TestOutputTopic[K, V]) []string {
	t.Helper()
	recs, err := o.ReadRecordsToList()
	must(t, err)
	var out []string
	for _, r := range recs {
		v := fmt.Sprint(r.Value)
		if r.IsNullValue() {
			v = "<null>"
		}
		out = append(out, fmt.Sprintf("%v=%s@%d", r.Key, v, r.Timestamp.UnixMilli()))
	}
	return out
}

// windowedCounts builds in → WindowedBy(w).Count(As("counts")) → out.
func windowedCounts(t *testing.T, w streams.Windows, opts ...streams.OpOpt) (*streams.TestDriver, *streams.TestInputTopic[string, string]) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		counts := streams.WindowedBy(s.GroupByKey(), w).Count(append([]streams.OpOpt{streams.As("counts")}, opts...)...)
		counts.ToStream().To("out")
	}, streams.ApplicationID("win"))
	return d, streams.CreateInputTopic(d, "in", serde.String(), serde.String())
}

func TestTumblingWindowBoundaries(t *testing.T) {
	size := 10 * time.Millisecond
	// A retention longer than the default (size + grace) keeps closed
	// windows fetchable.
	d, in := windowedCounts(t, streams.TimeWindowsOfSizeWithNoGrace(size), streams.InMemory(), streams.WithRetention(time.Minute))
	out := streams.CreateOutputTopic(d, "out", streams.TimeWindowedSerde(serde.String(), size), serde.Int64())
	must(t, in.PipeInputAt("a", "1", atMs(0)))
	must(t, in.PipeInputAt("a", "2", atMs(9)))
	must(t, in.PipeInputAt("b", "3", atMs(5)))
	// Windows are [start, end): a record exactly at 10 opens the next one.
	must(t, in.PipeInputAt("a", "4", atMs(10)))
	eq(t, "updates", readTimed(t, out), []string{
		"[a@0/10]=1@0", "[a@0/10]=2@9", "[b@0/10]=1@5", "[a@10/20]=1@10",
	})
	// Stream time is 10: window [0,10) is closed (no grace), a record
	// for it is dropped ("Skipping record for expired window").
	must(t, in.PipeInputAt("a", "late", atMs(9)))
	if !out.IsEmpty() {
		t.Fatalf("late record was aggregated: %v", readTimed(t, out))
	}
	ws, err := streams.GetTimestampedWindowStore[string, int64](d, "counts")
	must(t, err)
	v, ok, err := ws.FetchWindow("a", atMs(0))
	must(t, err)
	if !ok || v.Value != 2 || v.Timestamp.UnixMilli() != 9 {
		t.Fatalf("store a@0 = %v %v", v, ok)
	}
	it, err := ws.Fetch("a", atMs(0), atMs(100))
	must(t, err)
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%d:%d", it.Key().UnixMilli(), it.Value().Value))
	}
	must(t, it.Close())
	eq(t, "fetch a", got, []string{"0:2", "10:1"})
	all, err := ws.FetchAll(atMs(0), atMs(5))
	must(t, err)
	got = nil
	for all.Next() {
		got = append(got, fmt.Sprintf("%v:%d", all.Key(), all.Value().Value))
	}
	eq(t, "fetchAll", got, []string{"[a@0/10]:2", "[b@0/10]:1"})
}

func TestHoppingWindowsOverlap(t *testing.T) {
	size := 10 * time.Millisecond
	d, in := windowedCounts(t, streams.TimeWindowsOfSizeWithNoGrace(size).AdvanceBy(5*time.Millisecond))
	out := streams.CreateOutputTopic(d, "out", streams.TimeWindowedSerde(serde.String(), size), serde.Int64())
	must(t, in.PipeInputAt("a", "x", atMs(3)))  // [0,10)
	must(t, in.PipeInputAt("a", "x", atMs(7)))  // [0,10) [5,15)
	must(t, in.PipeInputAt("a", "x", atMs(10))) // [5,15) [10,20)
	eq(t, "updates", readTimed(t, out), []string{
		"[a@0/10]=1@3",
		"[a@0/10]=2@7", "[a@5/15]=1@7",
		"[a@5/15]=2@10", "[a@10/20]=1@10",
	})
}

func TestWindowGraceAndLateRecords(t *testing.T) {
	size := 10 * time.Millisecond
	d, in := windowedCounts(t, streams.TimeWindowsOfSizeAndGrace(size, 5*time.Millisecond))
	out := streams.CreateOutputTopic(d, "out", streams.TimeWindowedSerde(serde.String(), size), serde.Int64())
	must(t, in.PipeInputAt("a", "x", atMs(1)))
	must(t, in.PipeInputAt("a", "x", atMs(14))) // stream time 14: [0,10) closes at 15
	must(t, in.PipeInputAt("a", "x", atMs(2)))  // within grace: counted
	must(t, in.PipeInputAt("a", "x", atMs(15))) // stream time 15: [0,10) closed
	must(t, in.PipeInputAt("a", "x", atMs(3)))  // dropped
	eq(t, "updates", readTimed(t, out), []string{
		"[a@0/10]=1@1", "[a@10/20]=1@14", "[a@0/10]=2@2", "[a@10/20]=2@15",
	})
}

func TestWindowOptionsChecked(t *testing.T) {
	for name, build := range map[string]func(b *streams.Builder){
		"zero size": func(b *streams.Builder) {
			s := streams.Stream(b, "in", serde.String(), serde.String())
			streams.WindowedBy(s.GroupByKey(), streams.TimeWindowsOfSizeWithNoGrace(0)).Count()
		},
		"advance above size": func(b *streams.Builder) {
			s := streams.Stream(b, "in", serde.String(), serde.String())
			streams.WindowedBy(s.GroupByKey(), streams.TimeWindowsOfSizeWithNoGrace(time.Second).AdvanceBy(2*time.Second)).Count()
		},
		"retention below size+grace": func(b *streams.Builder) {
			s := streams.Stream(b, "in", serde.String(), serde.String())
			streams.WindowedBy(s.GroupByKey(), streams.TimeWindowsOfSizeAndGrace(time.Second, time.Second)).Count(streams.WithRetention(time.Second))
		},
		"kv supplier for a window store": func(b *streams.Builder) {
			s := streams.Stream(b, "in", serde.String(), serde.String())
			streams.WindowedBy(s.GroupByKey(), streams.TimeWindowsOfSizeWithNoGrace(time.Second)).Count(streams.WithStoreSupplier(state.InMemoryKeyValueStore("x")))
		},
		"suppress a table that is not windowed": func(b *streams.Builder) {
			s := streams.Stream(b, "in", serde.String(), serde.String())
			s.GroupByKey().Count().Suppress(streams.SuppressUntilWindowCloses(streams.BufferUnbounded()))
		},
		"untilWindowCloses with an eager buffer": func(b *streams.Builder) {
			s := streams.Stream(b, "in", serde.String(), serde.String())
			streams.WindowedBy(s.GroupByKey(), streams.TimeWindowsOfSizeWithNoGrace(time.Second)).Count().
				Suppress(streams.SuppressUntilWindowCloses(streams.BufferMaxRecords(3)))
		},
	} {
		b := streams.NewBuilder()
		build(b)
		if _, err := b.Build(); !errors.Is(err, streams.ErrTopology) {
			t.Errorf("%s: Build = %v, want ErrTopology", name, err)
		}
	}
}

// TestSlidingWindows follows KIP-450: each record makes its left window
// [t-10, t] and the right window of the record before it; an
// out-of-order record within grace updates the windows it falls in and
// makes the ones it defines.
func TestSlidingWindows(t *testing.T) {
	diff := 10 * time.Millisecond
	d, in := windowedCounts(t, streams.SlidingWindowsOfTimeDifferenceAndGrace(diff, 20*time.Millisecond))
	out := streams.CreateOutputTopic(d, "out", streams.TimeWindowedSerde(serde.String(), diff), serde.Int64())
	must(t, in.PipeInputAt("a", "x", atMs(100)))
	eq(t, "r1", readTimed(t, out), []string{"[a@90/100]=1@100"})
	must(t, in.PipeInputAt("a", "x", atMs(105)))
	// The right window of r1 holds r2; r2's left window holds both.
	eq(t, "r2", readTimed(t, out), []string{"[a@101/111]=1@105", "[a@95/105]=2@105"})
	must(t, in.PipeInputAt("a", "x", atMs(120)))
	// 120 is not within 10 of 105: no right window for r2, and r3's
	// left window holds r3 alone.
	eq(t, "r3", readTimed(t, out), []string{"[a@110/120]=1@120"})
	must(t, in.PipeInputAt("a", "x", atMs(108))) // out of order, within grace
	eq(t, "r4", readTimed(t, out), []string{
		"[a@101/111]=2@108", // r2's right window gains r4
		"[a@106/116]=1@108", // r2's right window as seen now: r4 alone
		"[a@98/108]=3@108",  // r4's left window: r1, r2, r4
	})
	// Records earlier than the time difference share [0, 10].
	must(t, in.PipeInputAt("b", "x", atMs(1000)))
	readTimed(t, out)
	must(t, in.PipeInputAt("a", "x", atMs(50))) // stream time 1000: 50+1+10 <= 980: dropped
	if !out.IsEmpty() {
		t.Fatalf("late record aggregated: %v", readTimed(t, out))
	}
}

func TestSlidingWindowsEarlyRecords(t *testing.T) {
	diff := 10 * time.Millisecond
	d, in := windowedCounts(t, streams.SlidingWindowsOfTimeDifferenceWithNoGrace(diff))
	out := streams.CreateOutputTopic(d, "out", streams.TimeWindowedSerde(serde.String(), diff), serde.Int64())
	must(t, in.PipeInputAt("a", "x", atMs(2)))
	must(t, in.PipeInputAt("a", "x", atMs(5)))
	eq(t, "early", readTimed(t, out), []string{
		"[a@0/10]=1@2",
		"[a@3/13]=1@5", // the right window of the record at 2
		"[a@0/10]=2@5",
	})
}

// TestSessionWindowsMerge: records within the gap share a session; a
// record between two sessions merges them, and the merged sessions are
// deleted downstream. Session results carry the session end as
// timestamp.
func TestSessionWindowsMerge(t *testing.T) {
	gap := 5 * time.Millisecond
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		streams.SessionWindowedBy(s.GroupByKey(), streams.SessionWindowsOfInactivityGapAndGrace(gap, 10*time.Millisecond)).
			Count(streams.As("sessions"), streams.WithRetention(time.Minute)).ToStream().To("out")
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "out", streams.SessionWindowedSerde(serde.String()), serde.Int64())
	must(t, in.PipeInputAt("a", "x", atMs(0)))
	must(t, in.PipeInputAt("a", "x", atMs(5))) // gap inclusive: same session
	must(t, in.PipeInputAt("a", "x", atMs(20)))
	must(t, in.PipeInputAt("a", "x", atMs(12))) // more than the gap from both
	must(t, in.PipeInputAt("a", "x", atMs(16))) // bridges [12,12] and [20,20]
	eq(t, "sessions", readTimed(t, out), []string{
		"[a@0/0]=1@0",
		"[a@0/0]=<null>@0", "[a@0/5]=2@5",
		"[a@20/20]=1@20",
		"[a@12/12]=1@12",
		"[a@12/12]=<null>@12", "[a@20/20]=<null>@20", "[a@12/20]=3@20",
	})
	// Stream time 40, gap 5, grace 10: sessions ending before 25 are
	// closed; a record that would only touch them is dropped.
	must(t, in.PipeInputAt("b", "x", atMs(40)))
	eq(t, "b", readTimed(t, out), []string{"[b@40/40]=1@40"})
	must(t, in.PipeInputAt("a", "x", atMs(3)))
	if !out.IsEmpty() {
		t.Fatalf("late record aggregated: %v", readTimed(t, out))
	}
	ss, err := streams.GetSessionStore[string, int64](d, "sessions")
	must(t, err)
	it, err := ss.FindSessions("a", atMs(0), atMs(100))
	must(t, err)
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%v:%d", it.Key(), it.Value()))
	}
	eq(t, "findSessions", got, []string{"[a@0/5]:2", "[a@12/20]:3"})
	v, ok, err := ss.FetchSession("a", atMs(12), atMs(20))
	must(t, err)
	if !ok || v != 3 {
		t.Fatalf("fetchSession = %v %v", v, ok)
	}
}

func TestSessionAggregateWithMerger(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		sw := streams.SessionWindowedBy(s.GroupByKey(), streams.SessionWindowsOfInactivityGapAndGrace(10*time.Millisecond, 20*time.Millisecond))
		streams.SessionAggregate(sw,
			func() string { return "" },
			func(_ string, v, agg string) string { return agg + v },
			func(_ string, a, b string) string { return a + "+" + b },
			streams.InMemory(), streams.WithValueSerde(serde.String())).
			ToStream().Filter(func(_ streams.Windowed[string], v string) bool { return v != "" }).To("out")
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "out", streams.SessionWindowedSerde(serde.String()), serde.String())
	must(t, in.PipeInputAt("k", "a", atMs(0)))
	must(t, in.PipeInputAt("k", "b", atMs(20)))
	must(t, in.PipeInputAt("k", "c", atMs(10))) // merges both
	got := readTimed(t, out)
	if last := got[len(got)-1]; last != "[k@0/20]=+a+bc@20" {
		t.Fatalf("merged session %q (all %q)", last, got)
	}
}

func TestWindowedReduceAndAggregate(t *testing.T) {
	size := 10 * time.Millisecond
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.Int64())
		w := streams.WindowedBy(s.GroupByKey(), streams.TimeWindowsOfSizeWithNoGrace(size))
		w.Reduce(func(a, v int64) int64 { return max(a, v) }, streams.As("max")).ToStream().To("max")
		streams.WindowedAggregate(w, func() string { return "" }, func(_ string, v int64, agg string) string { return agg + fmt.Sprint(v) },
			streams.As("concat")).ToStream().To("concat")
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	must(t, in.PipeInputAt("k", 3, atMs(1)))
	must(t, in.PipeInputAt("k", 7, atMs(2)))
	must(t, in.PipeInputAt("k", 5, atMs(3)))
	maxOut := streams.CreateOutputTopic(d, "max", streams.TimeWindowedSerde(serde.String(), size), serde.Int64())
	eq(t, "max", readTimed(t, maxOut), []string{"[k@0/10]=3@1", "[k@0/10]=7@2", "[k@0/10]=7@3"})
	concat := streams.CreateOutputTopic(d, "concat", streams.TimeWindowedSerde(serde.String(), size), serde.String())
	eq(t, "concat", readTimed(t, concat), []string{"[k@0/10]=3@1", "[k@0/10]=37@2", "[k@0/10]=375@3"})
}

// TestWindowStoreRetention: a window store keeps a window for its
// retention after its start, in the store's stream time.
func TestWindowStoreRetention(t *testing.T) {
	for _, persistent := range []bool{false, true} {
		t.Run(fmt.Sprint("persistent=", persistent), func(t *testing.T) {
			sup := state.InMemoryWindowStore("w", 100*time.Millisecond, 10*time.Millisecond, false)
			if persistent {
				sup = state.PersistentWindowStore("w", 100*time.Millisecond, 10*time.Millisecond, false)
			}
			d := driver(t, func(b *streams.Builder) {
				b.AddStateStore(streams.WindowStoreBuilder(sup, serde.String(), serde.String()))
				s := streams.Stream(b, "in", serde.String(), serde.String())
				streams.Process(s, func() streams.Processor[string, string, string, string] {
					return &windowWriter{}
				}, streams.WithStores("w"))
			})
			in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
			must(t, in.PipeInputAt("a", "v0", atMs(0)))
			must(t, in.PipeInputAt("b", "v50", atMs(50)))
			must(t, in.PipeInputAt("a", "v100", atMs(100)))
			ws, err := streams.GetWindowStore[string, string](d, "w")
			must(t, err)
			// Stream time 100, retention 100: window 0 has expired.
			if _, ok, _ := ws.FetchWindow("a", atMs(0)); ok {
				t.Fatal("expired window still fetched")
			}
			must(t, in.PipeInputAt("c", "v0", atMs(0))) // expired on arrival: not stored
			if _, ok, _ := ws.FetchWindow("c", atMs(0)); ok {
				t.Fatal("expired put stored")
			}
			all, err := ws.All()
			must(t, err)
			var got []string
			for all.Next() {
				got = append(got, fmt.Sprintf("%v=%s", all.Key(), all.Value()))
			}
			eq(t, "all", got, []string{"[b@50/60]=v50", "[a@100/110]=v100"})
			// Keys that are prefixes of each other stay apart.
			must(t, in.PipeInputAt("a\x00", "x", atMs(100)))
			it, err := ws.Fetch("a", atMs(0), atMs(1000))
			must(t, err)
			n := 0
			for it.Next() {
				n++
			}
			if n != 1 {
				t.Fatalf("fetch a found %d windows, want 1", n)
			}
		})
	}
}

type windowWriter struct {
	ws streams.WindowStore[string, string]
}

func (p *windowWriter) Init(ctx streams.ProcessorContext[string, string]) error {
	p.ws = ctx.StateStore("w").(streams.WindowStore[string, string])
	return nil
}

func (p *windowWriter) Process(rec streams.Record[string, string]) error {
	return p.ws.Put(rec.Key, rec.Value, rec.Timestamp)
}

func (p *windowWriter) Close() error { return nil }

func TestWindowedSerdeLayouts(t *testing.T) {
	tw := streams.TimeWindowedSerde(serde.String(), 10*time.Millisecond)
	b, err := tw.Serialize("t", streams.Windowed[string]{Key: "k", Window: streams.Window{Start: atMs(256), End: atMs(266)}})
	must(t, err)
	if want := "k\x00\x00\x00\x00\x00\x00\x01\x00"; string(b) != want {
		t.Fatalf("time-windowed bytes %q, want %q", b, want)
	}
	w, err := tw.Deserialize("t", b)
	must(t, err)
	if w.Key != "k" || w.Window.Start.UnixMilli() != 256 || w.Window.End.UnixMilli() != 266 {
		t.Fatalf("time-windowed round trip %v", w)
	}
	sw := streams.SessionWindowedSerde(serde.String())
	b, err = sw.Serialize("t", streams.Windowed[string]{Key: "k", Window: streams.Window{Start: atMs(1), End: atMs(2)}})
	must(t, err)
	// Kafka's SessionKeySchema: key, end, start.
	if want := "k\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01"; string(b) != want {
		t.Fatalf("session-windowed bytes %q, want %q", b, want)
	}
	w, err = sw.Deserialize("t", b)
	must(t, err)
	if w.Window.Start.UnixMilli() != 1 || w.Window.End.UnixMilli() != 2 {
		t.Fatalf("session round trip %v", w)
	}
	if _, err := sw.Deserialize("t", []byte("short")); !errors.Is(err, serde.ErrSize) {
		t.Fatalf("short session key: %v", err)
	}
}

// TestWindowChangelog: the window store's changelog has Kafka's key
// layout (key + start + seqnum 0) and the plain aggregate as value.
func TestWindowChangelog(t *testing.T) {
	d, in := windowedCounts(t, streams.TimeWindowsOfSizeWithNoGrace(10*time.Millisecond))
	must(t, in.PipeInputAt("a", "x", atMs(256)))
	cl := streams.CreateOutputTopic(d, "win-counts-changelog", serde.Bytes(), serde.Int64())
	recs, err := cl.ReadRecordsToList()
	must(t, err)
	if len(recs) != 1 || string(recs[0].Key) != "a\x00\x00\x00\x00\x00\x00\x00\xfa\x00\x00\x00\x00" || recs[0].Value != 1 || recs[0].Timestamp.UnixMilli() != 256 {
		t.Fatalf("changelog %v", recs)
	}
}

// TestDuplicateWindowStoreAfterRestart: a store that retains duplicates
// (a join buffer) keeps numbering its entries after a restart instead of
// replacing the ones it had.
func TestDuplicateWindowStoreAfterRestart(t *testing.T) {
	dir := t.TempDir()
	build := func() *streams.Topology {
		b := streams.NewBuilder()
		b.AddStateStore(streams.WindowStoreBuilder(state.PersistentWindowStore("w", time.Hour, time.Millisecond, true), serde.String(), serde.String()))
		s := streams.Stream(b, "in", serde.String(), serde.String())
		streams.Process(s, func() streams.Processor[string, string, string, string] { return &windowWriter{} }, streams.WithStores("w"))
		topo, err := b.Build()
		must(t, err)
		return topo
	}
	for i, v := range []string{"one", "two"} {
		d, err := streams.NewTestDriver(build(), streams.StateDir(dir), streams.Logger(quiet))
		must(t, err)
		in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
		must(t, in.PipeInputAt("k", v, atMs(5)))
		ws, err := streams.GetWindowStore[string, string](d, "w")
		must(t, err)
		it, err := ws.Fetch("k", atMs(0), atMs(10))
		must(t, err)
		var got []string
		for it.Next() {
			got = append(got, it.Value())
		}
		eq(t, fmt.Sprint("run ", i), got, []string{"one", "two"}[:i+1])
		must(t, d.Close())
	}
}
