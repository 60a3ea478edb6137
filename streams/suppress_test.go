package streams_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
)

// Suppression on the TestDriver (Kafka's SuppressScenarioTest).

func TestSuppressUntilWindowClosesEmitsOnce(t *testing.T) {
	size := 10 * time.Millisecond
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		streams.WindowedBy(s.GroupByKey(), streams.TimeWindowsOfSizeAndGrace(size, 5*time.Millisecond)).
			Count(streams.As("counts")).
			Suppress(streams.SuppressUntilWindowCloses(streams.BufferUnbounded()).WithName("final")).
			ToStream().To("out")
	}, streams.ApplicationID("sup"))
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "out", streams.TimeWindowedSerde(serde.String(), size), serde.Int64())
	must(t, in.PipeInputAt("a", "x", atMs(1)))
	must(t, in.PipeInputAt("a", "x", atMs(2)))
	must(t, in.PipeInputAt("b", "x", atMs(3)))
	must(t, in.PipeInputAt("a", "x", atMs(12))) // stream time 12 < 10 + 5: [0,10) still open
	must(t, in.PipeInputAt("a", "x", atMs(4)))  // within grace
	if !out.IsEmpty() {
		t.Fatalf("emitted before the window closed: %v", readTimed(t, out))
	}
	must(t, in.PipeInputAt("c", "x", atMs(15))) // stream time 15: [0,10) closes
	eq(t, "final results", readTimed(t, out), []string{"[a@0/10]=3@4", "[b@0/10]=1@3"})
	must(t, in.PipeInputAt("a", "x", atMs(5))) // late: dropped by the aggregation
	must(t, in.PipeInputAt("c", "x", atMs(24)))
	if !out.IsEmpty() {
		t.Fatalf("emitted again: %v", readTimed(t, out))
	}
	must(t, in.PipeInputAt("c", "x", atMs(25)))
	eq(t, "next window", readTimed(t, out), []string{"[a@10/20]=1@12", "[c@10/20]=1@15"})

	// The buffer is changelogged: held updates, then a tombstone once
	// emitted.
	cl := streams.CreateOutputTopic(d, "sup-final-store-changelog", serde.Bytes(), serde.Bytes())
	recs, err := cl.ReadRecordsToList()
	must(t, err)
	var puts, deletes int
	for _, r := range recs {
		if r.IsNullValue() {
			deletes++
		} else {
			puts++
		}
	}
	if puts != 8 || deletes != 4 {
		t.Fatalf("buffer changelog: %d puts, %d deletes; want 8 and 4", puts, deletes)
	}
}

func TestSuppressSessionsUntilClosed(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		streams.SessionWindowedBy(s.GroupByKey(), streams.SessionWindowsOfInactivityGapWithNoGrace(5*time.Millisecond)).
			Count().
			Suppress(streams.SuppressUntilWindowCloses(streams.BufferMaxRecords(100).ShutDownWhenFull())).
			ToStream().To("out")
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "out", streams.SessionWindowedSerde(serde.String()), serde.Int64())
	must(t, in.PipeInputAt("a", "x", atMs(0)))
	must(t, in.PipeInputAt("a", "x", atMs(3))) // merges: [0,0] deleted, [0,3] held
	must(t, in.PipeInputAt("b", "x", atMs(7))) // [0,3] closes at 3 + 5 = 8
	if !out.IsEmpty() {
		t.Fatalf("emitted early: %v", readTimed(t, out))
	}
	must(t, in.PipeInputAt("b", "x", atMs(8)))
	// The deleted [0,0] is not emitted: a final result never is a delete.
	eq(t, "sessions", readTimed(t, out), []string{"[a@0/3]=2@3"})
}

func TestSuppressUntilTimeLimit(t *testing.T) {
	d := driver(t, func(b *streams.Builder) {
		s := streams.Stream(b, "in", serde.String(), serde.String())
		s.GroupByKey().Count().
			Suppress(streams.SuppressUntilTimeLimit(10*time.Millisecond, streams.BufferUnbounded())).
			ToStream().To("out")
	})
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "out", serde.String(), serde.Int64())
	must(t, in.PipeInputAt("a", "x", atMs(0)))
	must(t, in.PipeInputAt("a", "x", atMs(5)))
	must(t, in.PipeInputAt("b", "x", atMs(8)))
	if !out.IsEmpty() {
		t.Fatalf("emitted early: %v", readTimed(t, out))
	}
	// a has waited 10 ms since its first held update: its latest goes.
	must(t, in.PipeInputAt("a", "x", atMs(10)))
	eq(t, "a", readTimed(t, out), []string{"a=3@10"})
	must(t, in.PipeInputAt("c", "x", atMs(18)))
	eq(t, "b", readTimed(t, out), []string{"b=1@8"})
}

func TestSuppressBufferFull(t *testing.T) {
	build := func(buf streams.BufferConfig) func(b *streams.Builder) {
		return func(b *streams.Builder) {
			s := streams.Stream(b, "in", serde.String(), serde.String())
			s.GroupByKey().Count().
				Suppress(streams.SuppressUntilTimeLimit(time.Hour, buf)).
				ToStream().To("out")
		}
	}
	d := driver(t, build(streams.BufferMaxRecords(2)))
	in := streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "out", serde.String(), serde.Int64())
	must(t, in.PipeInputAt("a", "x", atMs(0)))
	must(t, in.PipeInputAt("b", "x", atMs(1)))
	must(t, in.PipeInputAt("b", "x", atMs(2)))
	if !out.IsEmpty() {
		t.Fatalf("emitted early: %v", readTimed(t, out))
	}
	must(t, in.PipeInputAt("c", "x", atMs(3))) // third key: the oldest goes early
	eq(t, "evicted", readTimed(t, out), []string{"a=1@0"})

	d = driver(t, build(streams.BufferMaxRecords(1).ShutDownWhenFull()))
	in = streams.CreateInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeInputAt("a", "x", atMs(0)))
	if err := in.PipeInputAt("b", "x", atMs(1)); !errors.Is(err, streams.ErrProcessing) || !errors.Is(err, streams.ErrBufferFull) {
		t.Fatalf("full buffer: %v, want a processing failure", err)
	}
}
