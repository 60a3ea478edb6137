package streams_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Standby replicas (num.standby.replicas): each instance keeps a standby
// of the other's stateful task; when one instance is killed, the other
// takes its task over with the state already present, restoring (almost)
// nothing, and the counts go on from the right values.

func TestStandbyTakesOver(t *testing.T) {
	t.Parallel()
	for _, g := range []streams.Guarantee{streams.AtLeastOnce, streams.ExactlyOnceV2} {
		t.Run(string(g), func(t *testing.T) {
			t.Parallel()
			standbyTakesOver(t, g)
		})
	}
}

func standbyTakesOver(t *testing.T, g streams.Guarantee) {
	c := startBroker(t)
	eos := g == streams.ExactlyOnceV2
	if eos {
		requireTransactions(t, c.Addr())
	}
	createTopic(t, c.Addr(), "lines", 2)
	const tasks = 4 // 0_0 0_1 split the lines; 1_0 1_1 count (stateful)
	opts := []streams.Opt{streams.NumStandbyReplicas(1), streams.ProcessingGuarantee(g)}
	a := newApp(t, c.Addr(), "sby", t.TempDir(), opts...)
	ks := &killSwitch{}
	b := newApp(t, c.Addr(), "sby", t.TempDir(), append(opts, killable(ks), streams.TransactionTimeout(3e9))...)
	must(t, a.Start())
	must(t, b.Start())
	waitFor(t, "the tasks to split", split(tasks, a, b))
	waitFor(t, "both running", running(a, b))
	waitFor(t, "one standby each", func() bool { return len(a.StandbyTasks()) == 1 && len(b.StandbyTasks()) == 1 })
	for _, p := range [][2]*streams.App{{a, b}, {b, a}} {
		sb := p[0].StandbyTasks()[0]
		if sb.Subtopology != 1 || !slices.Contains(p[1].Tasks(), sb) || slices.Contains(p[0].Tasks(), sb) {
			t.Fatalf("standby %v; this instance runs %v, the other %v", sb, p[0].Tasks(), p[1].Tasks())
		}
	}

	in, want := lines(0, 300)
	produce(t, c.Addr(), "lines", in)
	assertExact(t, latestCounts(t, c.Addr(), "counts", eos, atLeast(want)), want)

	// a's standby follows b's count task: wait until it has read the
	// whole changelog partition.
	sb := a.StandbyTasks()[0]
	end := partitionEnd(t, c.Addr(), "sby-counts-store-changelog", sb.Partition)
	if end < 50 {
		t.Fatalf("changelog partition %d has only %d records", sb.Partition, end)
	}
	// (Under exactly_once_v2 the partition's end counts transaction
	// markers too, which are not records: count the committed records
	// rather than wait for the standby to look settled, which a loaded
	// machine's pause would fake.)
	records := end
	if eos {
		records = committedRecords(t, c.Addr(), "sby-counts-store-changelog", sb.Partition, end)
	}
	waitFor(t, "a's standby to catch up", func() bool {
		return a.RestoreMetrics().StandbyUpdatedRecords >= records
	})
	before := a.RestoreMetrics().RestoredRecords

	ks.kill()
	waitFor(t, "a to own every task", split(tasks, a))
	waitFor(t, "a running", running(a))
	restored := a.RestoreMetrics().RestoredRecords - before
	t.Logf("%s: took over task %v restoring %d of its %d changelog records", g, sb, restored, end)
	if restored > end/10 {
		t.Fatalf("took over %v restoring %d records of %d: the standby's state was not used", sb, restored, end)
	}
	if len(a.StandbyTasks()) != 0 {
		t.Fatalf("a keeps standbys %v alone in the group", a.StandbyTasks())
	}

	// The counts go on from where they were: a stale standby would
	// under-count.
	more, add := lines(300, 100)
	want = addCounts(want, add)
	produce(t, c.Addr(), "lines", more)
	got := latestCounts(t, c.Addr(), "counts", eos, atLeast(want))
	if eos {
		assertExact(t, got, want)
	}
	for w, n := range want {
		if got[w] < n {
			t.Fatalf("%s under-counted after the takeover: %d < %d", w, got[w], n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1e9)
	defer cancel()
	b.Shutdown(ctx)
}

// partitionEnd returns the end offset of one partition.
func partitionEnd(t *testing.T, addr, topic string, p int32) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	must(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	must(t, err)
	o, ok := ends.Lookup(topic, p)
	if !ok || o.Err != nil {
		t.Fatalf("end of %s-%d: %v", topic, p, o.Err)
	}
	return o.Offset
}

// committedRecords counts the committed records (not transaction
// markers, not aborted records) of one partition below end, reading it
// as a read_committed consumer that also sees the markers, so that it
// knows when it has passed end.
func committedRecords(t *testing.T, addr, topic string, p int32, end int64) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	must(t, err)
	defer cl.Close()
	var n, next int64
	deadline := time.Now().Add(45 * time.Second)
	for next < end {
		if time.Now().After(deadline) {
			t.Fatalf("read %s-%d to %d of %d (%d records)", topic, p, next, end, n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end && !r.Attrs.IsControl() {
				n++
			}
			next = max(next, r.Offset+1)
		})
	}
	return n
}
