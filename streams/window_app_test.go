package streams_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Windows against an in-process broker: a window store and a suppression
// buffer restored from their changelogs into an empty state dir, and the
// co-partitioning check of a stream–stream join.

func produceAt(t *testing.T, addr, topic string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	must(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

func clickAt(key string, ts int64) *kgo.Record {
	return &kgo.Record{Key: []byte(key), Value: []byte("click"), Timestamp: time.UnixMilli(ts)}
}

// readWindowed reads topic from the start until done accepts what it
// holds, as "key@start=count" in order.
func readWindowed(t *testing.T, addr, topic string, size time.Duration, done func([]string) bool) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err)
	defer cl.Close()
	ks := streams.TimeWindowedSerde(serde.String(), size)
	var got []string
	deadline := time.Now().Add(45 * time.Second)
	for !done(got) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out with %q", topic, got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			w, err := ks.Deserialize(topic, r.Key)
			must(t, err)
			n, err := serde.Int64().Deserialize(topic, r.Value)
			must(t, err)
			got = append(got, fmt.Sprintf("%s@%d=%d", w.Key, w.Window.Start.UnixMilli(), n))
		})
	}
	return got
}

func hasAll(want ...string) func([]string) bool {
	return func(got []string) bool {
		seen := map[string]bool{}
		for _, g := range got {
			seen[g] = true
		}
		for _, w := range want {
			if !seen[w] {
				return false
			}
		}
		return true
	}
}

func TestWindowStoreAndSuppressionRestore(t *testing.T) {
	c := startBroker(t)
	createTopic(t, c.Addr(), "clicks", 1)
	size := 10 * time.Second
	topo := func() *streams.Topology {
		b := streams.NewBuilder()
		s := streams.Stream(b, "clicks", serde.String(), serde.String())
		counts := streams.WindowedBy(s.GroupByKey(), streams.TimeWindowsOfSizeWithNoGrace(size)).Count(streams.As("clicks"))
		counts.ToStream().To("updates")
		counts.Suppress(streams.SuppressUntilWindowCloses(streams.BufferUnbounded())).ToStream().To("final")
		tp, err := b.Build()
		must(t, err)
		return tp
	}
	start := func(dir string) *streams.App {
		app, err := streams.New(topo(),
			streams.ApplicationID("windows"), streams.BootstrapServers(c.Addr()), streams.StateDir(dir),
			streams.CommitInterval(100*time.Millisecond), streams.Logger(quiet))
		must(t, err)
		t.Cleanup(func() { app.Close() })
		must(t, app.Start())
		return app
	}

	app := start(t.TempDir())
	produceAt(t, c.Addr(), "clicks", clickAt("a", 1000), clickAt("b", 2000))
	readWindowed(t, c.Addr(), "updates", size, hasAll("a@0=1", "b@0=1"))
	must(t, app.Close())

	// An empty state dir: the count of window 0 and the held final
	// results come back from the changelogs.
	app = start(t.TempDir())
	produceAt(t, c.Addr(), "clicks", clickAt("a", 3000))
	readWindowed(t, c.Addr(), "updates", size, hasAll("a@0=2"))
	produceAt(t, c.Addr(), "clicks", clickAt("c", 10000)) // closes window 0
	final := readWindowed(t, c.Addr(), "final", size, func(got []string) bool { return len(got) >= 2 })
	eq(t, "final results", final, []string{"a@0=2", "b@0=1"})
	must(t, app.Close())
}

func TestStreamJoinCopartitioning(t *testing.T) {
	c := startBroker(t)
	createTopic(t, c.Addr(), "orders", 1)
	createTopic(t, c.Addr(), "payments", 2)
	b := streams.NewBuilder()
	o := streams.Stream(b, "orders", serde.String(), serde.String())
	p := streams.Stream(b, "payments", serde.String(), serde.String())
	streams.Join(o, p, func(_ string, a, b string) string { return a + b }, streams.JoinWindowsOfTimeDifferenceWithNoGrace(time.Minute)).To("paid")
	topo, err := b.Build()
	must(t, err)
	app, err := streams.New(topo, streams.ApplicationID("copart"), streams.BootstrapServers(c.Addr()),
		streams.StateDir(t.TempDir()), streams.Logger(quiet))
	must(t, err)
	defer app.Close()
	if err := app.Start(); !errors.Is(err, streams.ErrCopartition) {
		t.Fatalf("Start = %v, want ErrCopartition", err)
	}
}
