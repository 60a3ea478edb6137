package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	topic      = "crash"
	partitions = 4
	producers  = 3
)

// TestKillRecovery produces with acks=all while the broker is killed with
// SIGKILL and restarted several times, then checks the log against what
// was acknowledged.
//
// The producers are idempotent (kgo's default: InitProducerId, then
// sequence numbers per partition, up to 5 requests in flight). A batch
// that was appended (and made durable in the page cache, which survives
// SIGKILL) but whose response was lost with the killed connection is
// retried by the client after the restart; the restarted broker rebuilt
// its producer state (snapshot + log) and answers the retry with the
// original offsets, so no record may appear twice. Sequence numbers also
// keep each producer's records in a partition in the order they were
// sent, with gaps only where a record's produce failed.
func TestKillRecovery(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CRASH_SEED"); v != "" {
		if _, err := fmt.Sscan(v, &seed); err != nil {
			t.Fatalf("CRASH_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay the kill schedule with CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0xc4a5))
	kills := 5 + rng.IntN(3)
	if testing.Short() {
		kills = 2
	}
	// After one kill, a torn batch is appended to a partition's active
	// segment before the restart.
	tornAt := rng.IntN(kills)

	b := newBroker(t)
	checkLog(t, b.start())

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := newAdmin(t, b.addr)
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}

	tr := newTracker()
	// abort fails the producers' records only if the test gives up.
	abort, abortCancel := context.WithCancel(context.Background())
	defer abortCancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	clients := make([]*kgo.Client, producers)
	for g := range producers {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(b.addr),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerLinger(2*time.Millisecond),
			kgo.MaxBufferedRecords(2000),
			kgo.ProduceRequestTimeout(30*time.Second),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clients[g] = cl
		prng := rand.New(rand.NewPCG(seed, uint64(g)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			produceLoop(abort, stop, cl, g, prng, tr)
		}()
	}
	defer func() {
		// On a failed test, free the producers before waiting for them.
		abortCancel()
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	for k := range kills {
		// Let the producers make progress on this run, then let it live
		// a random while longer.
		tr.awaitAcks(t, b, tr.acks()+200)
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
		tr.killsStarted.Add(1)
		b.kill()
		tr.killsDone.Add(1)
		if fileExists(filepath.Join(b.logDir, cleanShutdownFile)) {
			t.Fatalf("kill %d: %s exists after SIGKILL: the next start would skip recovery", k+1, cleanShutdownFile)
		}
		torn := ""
		if k == tornAt {
			torn = appendTornBatch(t, filepath.Join(b.logDir, fmt.Sprintf("%s-%d", topic, rng.IntN(partitions))))
		}
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		r := b.start()
		checkLog(t, r)
		if torn != "" {
			// The scan of the unflushed tail finds the torn batch and
			// cuts it off; the acked data before it must survive (checked
			// at the end).
			lines := append(grepLog(r, "storage: truncated"), grepLog(r, "storage: recovering")...)
			if len(lines) == 0 {
				t.Errorf("run %d: no storage line reports recovering the torn batch appended to %s", r.n, torn)
			}
			for _, l := range lines {
				t.Logf("run %d: %s", r.n, l)
			}
		}
		t.Logf("kill %d: %d acked, %d failed so far; run %d started", k+1, tr.acks(), tr.failures(), r.n)
	}
	tr.awaitAcks(t, b, tr.acks()+200)
	close(stop)
	wg.Wait()
	for _, cl := range clients {
		fctx, fcancel := context.WithTimeout(ctx, 60*time.Second)
		if err := cl.Flush(fctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
		fcancel()
	}
	for _, r := range b.runs {
		checkLog(t, r)
	}

	// A clean shutdown, then a start that must trust the log.
	before := endOffsets(t, ctx, adm)
	adm.Close()
	b.term()
	if len(grepLog(b.current(), "gregor stopped")) == 0 {
		t.Errorf("run %d did not log its clean stop", b.current().n)
	}
	if !fileExists(filepath.Join(b.logDir, cleanShutdownFile)) {
		t.Fatalf("no %s after a clean shutdown", cleanShutdownFile)
	}
	rp, err := readCheckpoint(filepath.Join(b.logDir, recoveryPointFile))
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(partitions) {
		tp := fmt.Sprintf("%s-%d", topic, p)
		if rp[tp] != before[p] {
			t.Errorf("%s: recovery point %d after a clean shutdown, want the log end offset %d", tp, rp[tp], before[p])
		}
	}
	clean := b.start()
	checkLog(t, clean)
	for _, l := range clean.Lines() {
		if strings.Contains(l, "msg=\"storage:") && (strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR")) {
			t.Errorf("start after a clean shutdown: %s", l)
		}
	}
	if fileExists(filepath.Join(b.logDir, cleanShutdownFile)) {
		t.Errorf("%s still exists while the broker runs: a crash now would skip recovery", cleanShutdownFile)
	}
	adm = newAdmin(t, b.addr)
	after := endOffsets(t, ctx, adm)
	for p := range int32(partitions) {
		if after[p] != before[p] {
			t.Errorf("partition %d: log end offset %d after a clean restart, %d before", p, after[p], before[p])
		}
	}

	logs := consumeAll(t, ctx, b.addr, after)
	summary, problems := tr.verify(logs)
	t.Log(summary)
	for i, p := range problems {
		if i == 20 {
			t.Errorf("... and %d more problems", len(problems)-i)
			break
		}
		t.Error(p)
	}

	var recovered []string
	for _, r := range b.runs {
		for _, l := range r.Lines() {
			if strings.Contains(l, "msg=\"storage:") && strings.Contains(l, "level=WARN") {
				recovered = append(recovered, fmt.Sprintf("run %d: %s", r.n, l))
			}
		}
	}
	t.Logf("%d storage warnings during the crash restarts (recovery of torn tails)", len(recovered))
	for _, l := range recovered[:min(len(recovered), 10)] {
		t.Log(l)
	}
	b.term()
}

func newAdmin(t *testing.T, addr string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func endOffsets(t *testing.T, ctx context.Context, adm *kadm.Client) map[int32]int64 {
	t.Helper()
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("list end offset of partition %d: %v", o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	if len(out) != partitions {
		t.Fatalf("end offsets of %d partitions, want %d", len(out), partitions)
	}
	return out
}

// key is the key of record seq of producer g: a few distinct keys, and
// no key for some records.
func key(g, seq int) []byte {
	if seq%7 == 3 {
		return nil
	}
	return fmt.Appendf(nil, "key-%d-%d", g, seq%5)
}

// produceLoop produces records to random partitions until stop is
// closed. The value of a record is "g:p:seq", seq counting the records of
// producer g to partition p.
func produceLoop(abort context.Context, stop <-chan struct{}, cl *kgo.Client, g int, rng *rand.Rand, tr *tracker) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		p := int32(rng.IntN(partitions))
		seq := tr.produce(g, p)
		r := &kgo.Record{Topic: topic, Partition: p, Key: key(g, seq), Value: fmt.Appendf(nil, "%d:%d:%d", g, p, seq)}
		cl.Produce(abort, r, func(r *kgo.Record, err error) { tr.done(g, p, seq, r.Offset, err) })
		if i%10 == 9 {
			time.Sleep(5 * time.Millisecond) // ~2000 records/s per producer
		}
	}
}

// tracker records every produced record and its outcome.
type tracker struct {
	// killsStarted counts kills sent, killsDone kills completed (the
	// process reaped). A record whose produce began before kill i was
	// done and ended after it started may have been in flight at the
	// kill.
	killsStarted, killsDone atomic.Int64

	mu struct {
		sync.Mutex
		recs     [producers][partitions][]produced
		acks     int
		failures map[string]int
	}
}

// produced is the life of one record.
type produced struct {
	// killsDoneAtProduce and killsStartedAtAck bracket the record's
	// flight (see tracker).
	killsDoneAtProduce, killsStartedAtAck int64
	ended                                 bool
	err                                   error
	offset                                int64 // if acked
}

func newTracker() *tracker {
	tr := &tracker{}
	tr.mu.failures = map[string]int{}
	return tr
}

func (tr *tracker) produce(g int, p int32) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	recs := &tr.mu.recs[g][p]
	*recs = append(*recs, produced{killsDoneAtProduce: tr.killsDone.Load(), offset: -1})
	return len(*recs) - 1
}

func (tr *tracker) done(g int, p int32, seq int, offset int64, err error) {
	started := tr.killsStarted.Load()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	r := &tr.mu.recs[g][p][seq]
	r.ended, r.err, r.killsStartedAtAck = true, err, started
	if err != nil {
		tr.mu.failures[err.Error()]++
		return
	}
	r.offset = offset
	tr.mu.acks++
}

func (tr *tracker) acks() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.mu.acks
}

func (tr *tracker) failures() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, c := range tr.mu.failures {
		n += c
	}
	return n
}

// awaitAcks waits until n records are acknowledged: the broker serves
// again after a restart. It fails the test if the broker exits, or if that
// does not happen within a minute (a liveness safety net, not a timing
// assertion).
func (tr *tracker) awaitAcks(t *testing.T, b *broker, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for tr.acks() < n {
		if r := b.current(); r.Exited() {
			t.Fatalf("run %d exited by itself (%v) while waiting for %d acks", r.n, r.State(), n)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records acknowledged within a minute; %d failed", tr.acks(), n, tr.failures())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stored is a record read back from the log.
type stored struct {
	offset int64
	key    []byte
	value  string
}

// consumeAll reads every partition from offset 0 to its end offset.
func consumeAll(t *testing.T, ctx context.Context, addr string, end map[int32]int64) map[int32][]stored {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range int32(partitions) {
		offsets[p] = kgo.NewOffset().At(0)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[int32][]stored{}
	next := map[int32]int64{}
	remaining := 0
	for _, e := range end {
		if e > 0 {
			remaining++
		}
	}
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume: %v (read up to %v of %v)", ctx.Err(), next, end)
		}
		fs.EachError(func(tp string, p int32, err error) {
			t.Fatalf("consume %s-%d: %v", tp, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			p := r.Partition
			if r.Offset != next[p] {
				t.Fatalf("partition %d: offset %d follows %d: the log has a hole or is out of order", p, r.Offset, next[p]-1)
			}
			next[p]++
			out[p] = append(out[p], stored{offset: r.Offset, key: r.Key, value: string(r.Value)})
			if next[p] == end[p] {
				remaining--
			}
		})
	}
	return out
}

// verify checks the log against the tracker: every acknowledged record is
// at the offset its acknowledgement gave; per producer and partition,
// first occurrences are in sequence order; no record appears that was
// never produced, or with another key; no record appears twice. It returns a summary and the problems
// found.
func (tr *tracker) verify(logs map[int32][]stored) (summary string, problems []string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	total, acked, failed, duplicates, gaps := 0, 0, 0, 0, 0
	for p := range int32(partitions) {
		log := logs[p]
		seen := [producers]map[int]bool{}
		high := [producers]int{}
		for g := range producers {
			seen[g] = map[int]bool{}
			high[g] = -1
		}
		offsets := map[int64]string{}
		for _, s := range log {
			offsets[s.offset] = s.value
			var g, rp, seq int
			if _, err := fmt.Sscanf(s.value, "%d:%d:%d", &g, &rp, &seq); err != nil || g < 0 || g >= producers ||
				int32(rp) != p || seq < 0 || seq >= len(tr.mu.recs[g][p]) {
				fail("partition %d offset %d: %q was never produced to this partition", p, s.offset, s.value)
				continue
			}
			if want := key(g, seq); string(want) != string(s.key) || (want == nil) != (s.key == nil) {
				fail("partition %d offset %d: %q has key %q, want %q", p, s.offset, s.value, s.key, want)
			}
			rec := tr.mu.recs[g][p][seq]
			if seen[g][seq] {
				duplicates++
				fail("partition %d offset %d: duplicate of %q (produced after kill %d, acked before kill %d): the idempotent producer's retry was appended again",
					p, s.offset, s.value, rec.killsDoneAtProduce, rec.killsStartedAtAck+1)
				continue
			}
			if seq < high[g] {
				fail("partition %d offset %d: %q first appears after record %d of the same producer: out of order", p, s.offset, s.value, high[g])
				seen[g][seq] = true
				continue
			}
			for missing := high[g] + 1; missing < seq; missing++ {
				gaps++
				if m := tr.mu.recs[g][p][missing]; m.err == nil {
					fail("partition %d: record %d:%d:%d (ended=%v, not failed) is missing before %q", p, g, p, missing, m.ended, s.value)
				}
			}
			seen[g][seq], high[g] = true, seq
		}
		for g := range producers {
			for seq, rec := range tr.mu.recs[g][p] {
				total++
				if !rec.ended {
					fail("record %d:%d:%d never completed", g, p, seq)
					continue
				}
				if rec.err != nil {
					failed++
					continue
				}
				acked++
				want := fmt.Sprintf("%d:%d:%d", g, p, seq)
				if got, ok := offsets[rec.offset]; !ok || got != want {
					fail("acked record %s lost: its offset %d holds %q (the record is elsewhere in the log: %v)", want, rec.offset, got, seen[g][seq])
				}
			}
		}
	}
	if acked == 0 {
		fail("nothing was acknowledged")
	}
	summary = fmt.Sprintf("%d records produced: %d acknowledged, %d failed %v; %d duplicates in the log; %d records skipped (all failed)",
		total, acked, failed, tr.mu.failures, duplicates, gaps)
	return summary, problems
}
