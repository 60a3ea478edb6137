package txncrash

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sentinelValue is the value of the record writeSentinels appends to a
// partition once every transaction has ended: a read_committed consumer
// that returns it has read everything before it.
func sentinelValue(p int32) string { return fmt.Sprintf("sentinel-%d", p) }

// writeSentinels appends one non-transactional record to every
// partition of topic with acks=all and returns their offsets.
func writeSentinels(t *testing.T, ctx context.Context, c *cluster, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	cl := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	out := map[int32]int64{}
	for p := range partitions {
		r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(sentinelValue(p))}).First()
		if err != nil {
			t.Fatalf("sentinel of %s-%d: %v", topic, p, err)
		}
		out[p] = r.Offset
	}
	return out
}

// awaitStable waits until topic's last stable offset equals its high
// watermark on every partition: no transaction is open and every
// decided one has its markers.
func awaitStable(t *testing.T, ctx context.Context, adm *kadm.Client, topic string) {
	t.Helper()
	waitFor(t, "no open transaction on "+topic, func() (bool, string) {
		end, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		why := ""
		end.Each(func(o kadm.ListedOffset) {
			s, ok := stable.Lookup(topic, o.Partition)
			switch {
			case o.Err != nil:
				why += fmt.Sprintf(" %s-%d: %v", topic, o.Partition, o.Err)
			case !ok || s.Err != nil:
				why += fmt.Sprintf(" %s-%d: no stable offset (%v)", topic, o.Partition, s.Err)
			case s.Offset != o.Offset:
				why += fmt.Sprintf(" %s-%d: last stable offset %d, high watermark %d", topic, o.Partition, s.Offset, o.Offset)
			}
		})
		return why == "", why
	})
}

// watcher is a read_committed consumer of a whole topic running in the
// background from offset 0.
type watcher struct {
	topic  string
	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		records  map[int32][]consumed
		n        int
		sentinel map[int32]int64 // offsets of the sentinels seen
		errs     map[string]int  // fetch errors by text
	}
}

func startWatcher(t *testing.T, c *cluster, topic string, partitions int32) *watcher {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[p] = kgo.NewOffset().At(0)
	}
	cl := c.client(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(300*time.Millisecond),
	)
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{topic: topic, cancel: cancel, done: make(chan struct{})}
	w.mu.records = map[int32][]consumed{}
	w.mu.sentinel = map[int32]int64{}
	w.mu.errs = map[string]int{}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			w.mu.Lock()
			fs.EachError(func(_ string, _ int32, err error) {
				if ctx.Err() == nil {
					w.mu.errs[err.Error()]++
				}
			})
			fs.EachRecord(func(r *kgo.Record) { w.addLocked(r) })
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *watcher) addLocked(r *kgo.Record) {
	if string(r.Value) == sentinelValue(r.Partition) {
		w.mu.sentinel[r.Partition] = r.Offset
		return
	}
	w.mu.records[r.Partition] = append(w.mu.records[r.Partition], consumed{offset: r.Offset, value: string(r.Value)})
	w.mu.n++
}

// count returns how many records the watcher has returned so far.
func (w *watcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.n
}

// await waits until the watcher has returned every sentinel, stops it and
// returns what it consumed before them.
func (w *watcher) await(t *testing.T, sentinels map[int32]int64) map[int32][]consumed {
	t.Helper()
	waitFor(t, "the concurrent consumer reads up to the sentinels", func() (bool, string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return maps.Equal(w.mu.sentinel, sentinels), fmt.Sprintf("sentinels seen %v of %v; fetch errors %v", w.mu.sentinel, sentinels, w.mu.errs)
	})
	w.close()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.mu.errs) > 0 {
		t.Logf("concurrent consumer's fetch errors (retried): %v", w.mu.errs)
	}
	return w.mu.records
}

func (w *watcher) close() {
	w.cancel()
	<-w.done
}

// readCommitted reads topic with a new read_committed consumer from
// offset 0 up to the sentinels and returns the records before them.
func readCommitted(t *testing.T, c *cluster, topic string, sentinels map[int32]int64) map[int32][]consumed {
	t.Helper()
	w := startWatcher(t, c, topic, int32(len(sentinels)))
	out := w.await(t, sentinels)
	for _, p := range slices.Sorted(maps.Keys(out)) {
		rs := out[p]
		for i := 1; i < len(rs); i++ {
			if rs[i].offset <= rs[i-1].offset {
				t.Errorf("%s-%d: offset %d returned after %d", topic, p, rs[i].offset, rs[i-1].offset)
			}
		}
	}
	return out
}
