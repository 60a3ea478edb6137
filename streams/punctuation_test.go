package streams_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Punctuation (Kafka's ProcessorContext.schedule) on the TestDriver and in
// an App. The expected firing times follow Kafka's PunctuationQueue and
// PunctuationSchedule.next: stream-time schedules are aligned to the
// epoch and fire once per advance, however many intervals it passed.

// punctuator counts records per key in a store and, on each punctuation,
// forwards ("<type>@<ms>", number of keys) and, by stream time, every
// count.
type punctuator struct {
	typ      streams.PunctuationType
	interval time.Duration
	ctx      streams.ProcessorContext[string, int64]
	counts   streams.KeyValueStore[string, int64]
	cancel   streams.Cancellable
	// stopAfter cancels the schedule from inside the punctuator after
	// that many punctuations (0: never).
	stopAfter int
	fired     int
	panicAt   int
}

func (p *punctuator) Init(ctx streams.ProcessorContext[string, int64]) error {
	p.ctx = ctx
	p.counts = ctx.StateStore("pcounts").(streams.KeyValueStore[string, int64])
	p.cancel = ctx.Schedule(p.interval, p.typ, p.punctuate)
	return nil
}

func (p *punctuator) punctuate(ts time.Time) {
	p.fired++
	if p.panicAt > 0 && p.fired == p.panicAt {
		panic("punctuator failure")
	}
	n, err := p.counts.ApproximateNumEntries()
	if err != nil {
		panic(err)
	}
	// A store write from a punctuation goes to the changelog too.
	if err := p.counts.Put("punctuations", int64(p.fired)); err != nil {
		panic(err)
	}
	p.ctx.Forward(streams.Record[string, int64]{Key: fmt.Sprintf("%v@%d", p.typ, ts.UnixMilli()), Value: n, Timestamp: ts})
	if p.stopAfter > 0 && p.fired == p.stopAfter {
		p.cancel.Cancel()
		p.cancel.Cancel() // twice is fine
	}
}

func (p *punctuator) Process(rec streams.Record[string, string]) error {
	n, _, err := p.counts.Get(rec.Key)
	if err != nil {
		return err
	}
	return p.counts.Put(rec.Key, n+1)
}

func (p *punctuator) Close() error { return nil }

func punctuationTopology(t *testing.T, p func() *punctuator) *streams.Topology {
	t.Helper()
	b := streams.NewBuilder()
	streams.AddSource(b, "src", serde.String(), serde.String(), "pin")
	streams.AddProcessor(b, "punct", func() streams.Processor[string, string, string, int64] { return p() }, "src")
	b.AddStateStore(streams.KeyValueStoreBuilder(state.InMemoryKeyValueStore("pcounts"), serde.String(), serde.Int64()), "punct")
	streams.AddSink(b, "out", "pout", serde.String(), serde.Int64(), nil, "punct")
	topo, err := b.Build()
	must(t, err)
	return topo
}

func punctuationKeys(t *testing.T, out *streams.TestOutputTopic[string, int64]) []string {
	t.Helper()
	kvs, err := out.ReadKeyValuesToList()
	must(t, err)
	var keys []string
	for _, kv := range kvs {
		keys = append(keys, kv.Key)
	}
	return keys
}

func TestPunctuationStreamTime(t *testing.T) {
	start := time.UnixMilli(0)
	topo := punctuationTopology(t, func() *punctuator {
		return &punctuator{typ: streams.PunctuationStreamTime, interval: 10 * time.Second}
	})
	d, err := streams.NewTestDriver(topo, streams.Logger(quiet), streams.StateDir(t.TempDir()), streams.Clock(func() time.Time { return start }))
	must(t, err)
	defer d.Close()
	in := streams.CreateInputTopic(d, "pin", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "pout", serde.String(), serde.Int64())

	at := func(ms int64) { must(t, in.PipeInputAt("k", "v", time.UnixMilli(ms))) }
	steps := []struct {
		ms   int64
		want []string
	}{
		// The first punctuation is due at 0: it fires as soon as
		// there is a stream time, with that time; next due at 10 s.
		{1000, []string{"STREAM_TIME@1000"}},
		{5000, nil},
		{10000, []string{"STREAM_TIME@10000"}},
		{19999, nil},
		// 45 s passes the 20, 30 and 40 s boundaries: one
		// punctuation; next due at 50 s, not 30 s.
		{45000, []string{"STREAM_TIME@45000"}},
		// Out of order: stream time stays at 45 s.
		{30000, nil},
		{49999, nil},
		{50000, []string{"STREAM_TIME@50000"}},
	}
	for _, s := range steps {
		at(s.ms)
		if got := punctuationKeys(t, out); !slices.Equal(got, s.want) {
			t.Fatalf("after a record at %d ms: punctuations %v, want %v", s.ms, got, s.want)
		}
	}
	// Wall-clock time does not drive stream-time punctuation.
	must(t, d.AdvanceWallClockTime(time.Hour))
	if got := punctuationKeys(t, out); len(got) != 0 {
		t.Fatalf("wall clock fired stream-time punctuation: %v", got)
	}
	// The punctuator's store write was logged like any other.
	kv, err := streams.GetKeyValueStore[string, int64](d, "pcounts")
	must(t, err)
	if n, _, _ := kv.Get("punctuations"); n != 4 {
		t.Fatalf("punctuations in store = %d, want 4", n)
	}
	cl := streams.CreateOutputTopic(d, "topology-test-driver-pcounts-changelog", serde.String(), serde.Int64())
	m, err := streams.ReadKeyValuesToMap(cl)
	must(t, err)
	if m["punctuations"] != 4 || m["k"] != 8 {
		t.Fatalf("changelog %v", m)
	}
}

func TestPunctuationWallClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	topo := punctuationTopology(t, func() *punctuator {
		return &punctuator{typ: streams.PunctuationWallClockTime, interval: time.Minute, stopAfter: 3}
	})
	d, err := streams.NewTestDriver(topo, streams.Logger(quiet), streams.StateDir(t.TempDir()), streams.Clock(func() time.Time { return start }))
	must(t, err)
	defer d.Close()
	in := streams.CreateInputTopic(d, "pin", serde.String(), serde.String())
	out := streams.CreateOutputTopic(d, "pout", serde.String(), serde.Int64())
	w := func(d time.Duration) string { return fmt.Sprintf("WALL_CLOCK_TIME@%d", start.Add(d).UnixMilli()) }

	// Records do not drive wall-clock punctuation.
	must(t, in.PipeInputAt("a", "v", start.Add(time.Hour)))
	must(t, in.PipeInputAt("b", "v", start.Add(2*time.Hour)))
	if got := punctuationKeys(t, out); len(got) != 0 {
		t.Fatalf("records fired wall-clock punctuation: %v", got)
	}
	steps := []struct {
		by   time.Duration
		want []string
	}{
		{30 * time.Second, nil},
		// Due one interval after Schedule.
		{30 * time.Second, []string{w(time.Minute)}},
		{59 * time.Second, nil},
		{time.Second, []string{w(2 * time.Minute)}},
		// Late by several intervals: fired once, with the time of
		// the check; the next is due at the next boundary (4 min).
		{90 * time.Second, []string{w(210 * time.Second)}},
		// The third punctuation cancelled the schedule.
		{10 * time.Minute, nil},
	}
	for i, s := range steps {
		must(t, d.AdvanceWallClockTime(s.by))
		got := punctuationKeys(t, out)
		if !slices.Equal(got, s.want) {
			t.Fatalf("step %d: punctuations %v, want %v", i, got, s.want)
		}
	}
}

func TestPunctuationFailure(t *testing.T) {
	topo := punctuationTopology(t, func() *punctuator {
		return &punctuator{typ: streams.PunctuationWallClockTime, interval: time.Second, panicAt: 2}
	})
	d, err := streams.NewTestDriver(topo, streams.Logger(quiet), streams.StateDir(t.TempDir()))
	must(t, err)
	defer d.Close()
	must(t, d.AdvanceWallClockTime(time.Second))
	if err := d.AdvanceWallClockTime(time.Second); !errors.Is(err, streams.ErrProcessing) || !strings.Contains(err.Error(), "punctuator failure") {
		t.Fatalf("AdvanceWallClockTime after a panicking punctuator = %v, want ErrProcessing", err)
	}

	// With a resuming handler the failed punctuation is dropped and
	// the schedule goes on.
	d2, err := streams.NewTestDriver(topo, streams.Logger(quiet), streams.StateDir(t.TempDir()),
		streams.ProcessingExceptionHandler(streams.LogAndContinueProcessing))
	must(t, err)
	defer d2.Close()
	out := streams.CreateOutputTopic(d2, "pout", serde.String(), serde.Int64())
	for range 3 {
		must(t, d2.AdvanceWallClockTime(time.Second))
	}
	if got := punctuationKeys(t, out); len(got) != 2 {
		t.Fatalf("punctuations %v, want the 1st and the 3rd", got)
	}
}

func TestScheduleRejectsTinyInterval(t *testing.T) {
	topo := punctuationTopology(t, func() *punctuator {
		return &punctuator{typ: streams.PunctuationStreamTime, interval: time.Microsecond}
	})
	defer func() {
		if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "below 1ms") {
			t.Fatalf("recovered %v, want the interval rejected", v)
		}
	}()
	d, err := streams.NewTestDriver(topo, streams.Logger(quiet), streams.StateDir(t.TempDir()))
	if err == nil {
		d.Close()
	}
	t.Fatal("Schedule accepted a 1µs interval")
}

// TestPunctuationInApp runs both kinds of punctuation in an App under
// exactly_once_v2: the wall-clock punctuator writes with no input at all,
// and its records are committed (a read_committed consumer sees them, so
// they were in a committed transaction); the stream-time punctuator
// fires as input records move the stream time.
func TestPunctuationInApp(t *testing.T) {
	t.Parallel()
	c := startBroker(t)
	requireTransactions(t, c.Addr())
	createTopic(t, c.Addr(), "pin", 1)
	createTopic(t, c.Addr(), "pout", 1)

	b := streams.NewBuilder()
	streams.AddSource(b, "src", serde.String(), serde.String(), "pin")
	streams.AddProcessor(b, "wall", func() streams.Processor[string, string, string, int64] {
		return &punctuator{typ: streams.PunctuationWallClockTime, interval: 50 * time.Millisecond, stopAfter: 3}
	}, "src")
	streams.AddProcessor(b, "stream", func() streams.Processor[string, string, string, int64] {
		return &punctuator{typ: streams.PunctuationStreamTime, interval: 10 * time.Second}
	}, "src")
	b.AddStateStore(streams.KeyValueStoreBuilder(state.InMemoryKeyValueStore("pcounts"), serde.String(), serde.Int64()), "wall", "stream")
	streams.AddSink(b, "out", "pout", serde.String(), serde.Int64(), nil, "wall", "stream")
	topo, err := b.Build()
	must(t, err)
	app, err := streams.New(topo, streams.ApplicationID("punct"), streams.BootstrapServers(c.Addr()),
		streams.StateDir(t.TempDir()), streams.Logger(quiet), streams.ProcessingGuarantee(streams.ExactlyOnceV2))
	must(t, err)
	must(t, app.Start())
	defer app.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ConsumeTopics("pout"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	must(t, err)
	defer cl.Close()
	var got []string
	read := func(want func([]string) bool) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for !want(got) {
			if time.Now().After(deadline) {
				t.Fatalf("punctuations read: %v", got)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Key)) })
			cancel()
		}
	}
	count := func(prefix string) func([]string) int {
		return func(keys []string) int {
			n := 0
			for _, k := range keys {
				if strings.HasPrefix(k, prefix) {
					n++
				}
			}
			return n
		}
	}
	walls, streamPuncts := count("WALL_CLOCK_TIME@"), count("STREAM_TIME@")
	read(func(keys []string) bool { return walls(keys) == 3 })
	if n := streamPuncts(got); n != 0 {
		t.Fatalf("stream-time punctuation without records: %v", got)
	}

	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.DefaultProduceTopic("pin"))
	must(t, err)
	defer pcl.Close()
	for _, ms := range []int64{1000, 5000, 12000, 45000} {
		must(t, pcl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("k"), Value: []byte("v"), Timestamp: time.UnixMilli(ms)}).FirstErr())
	}
	read(func(keys []string) bool { return streamPuncts(keys) == 3 })
	var stream []string
	for _, k := range got {
		if strings.HasPrefix(k, "STREAM_TIME@") {
			stream = append(stream, k)
		}
	}
	if want := []string{"STREAM_TIME@1000", "STREAM_TIME@12000", "STREAM_TIME@45000"}; !slices.Equal(stream, want) {
		t.Fatalf("stream-time punctuations %v, want %v", stream, want)
	}
	if n := walls(got); n != 3 {
		t.Fatalf("%d wall-clock punctuations after the schedule was cancelled at 3", n)
	}
}
