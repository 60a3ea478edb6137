package fault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	topic      = "fault"
	partitions = 6
	// maxInFlight bounds the records produced but not yet acknowledged.
	maxInFlight = 600
	// roundEvery paces the producer: one record to every partition per
	// tick, so that a soak run's bookkeeping stays bounded.
	roundEvery = time.Millisecond
	// dupMargin is how long after a fault ends a retried produce may still
	// land twice (the retry of a request the fault interrupted).
	dupMargin = 15 * time.Second
)

// window is when a fault was in effect, from its injection to the node
// being back (restarted and listening, or continued).
type window struct{ from, to time.Time }

// ack is what the producer learnt of one record.
type ack struct {
	seq         int64
	offset      int64 // -1: not acknowledged
	sent, acked time.Time
	err         error
}

// seen is a record the concurrent consumer read.
type seen struct {
	offset int64
	value  string
}

// TestFaults produces to a replicated topic with acks=all while nodes are
// killed, restarted, stopped and continued on a seeded schedule, then
// checks the final log:
//
//   - every acknowledged record is there, at the offset its ack returned;
//   - per partition, acknowledged records are in the order they were sent;
//   - every record the concurrent consumer read is still there, at the
//     offset it was read at (no consumer saw a record that was later
//     lost), and the consumer's offsets never went backwards;
//   - duplicates: the producer runs without idempotence (InitProducerId is
//     not implemented yet, so kgo.DisableIdempotentWrite), and a batch
//     whose response a fault lost is retried and may be appended twice.
//     Duplicates are counted and reported; one is a failure only if its
//     record was sent and acknowledged far from any fault;
//   - liveness: once every node is back, every replica rejoins every ISR
//     (within a generous bound, twice replica.lag.time.max.ms).
//
// The fault schedule cycles through: SIGKILL the active controller (found
// in the nodes' logs) and restart it, SIGSTOP a random node and SIGCONT it,
// SIGKILL a random node and restart it; the node, the pauses and the
// starting point come from the seed. One fault at a time, and the next
// only once every ISR is full again, so that the cluster always keeps a
// quorum and two in-sync replicas. The run ends with a FIGURES line.
func TestFaults(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("GREGOR_FAULT_SEED"); v != "" {
		if _, err := fmt.Sscan(v, &seed); err != nil {
			t.Fatalf("GREGOR_FAULT_SEED=%q: %v", v, err)
		}
	}
	duration := 25 * time.Second // of faults; about 40 s in all
	if v := os.Getenv("GREGOR_FAULT_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("GREGOR_FAULT_DURATION=%q: %v", v, err)
		}
		duration = d
	}
	t.Logf("seed %d, faults for %v (replay the schedule with GREGOR_FAULT_SEED=%d)", seed, duration, seed)
	rng := rand.New(rand.NewPCG(seed, 0xfa17))

	c := newCluster(t)
	var starting []*run
	for _, n := range c.nodes {
		starting = append(starting, n.startAsync())
	}
	for i, n := range c.nodes {
		n.awaitListening(starting[i])
	}

	ctx, cancel := context.WithTimeout(context.Background(), duration+4*time.Minute)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap()...), kgo.RequestTimeoutOverhead(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	minISR := "2"
	for {
		resp, err := adm.CreateTopic(ctx, partitions, 3, map[string]*string{"min.insync.replicas": &minISR}, topic)
		if err == nil {
			err = resp.Err
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create topic: %v", err)
		}
		time.Sleep(200 * time.Millisecond) // brokers may not be registered yet
	}
	waitFullISR(ctx, t, adm, 60*time.Second)

	// Producer.
	prod, err := kgo.NewClient(
		kgo.SeedBrokers(c.bootstrap()...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(), // InitProducerId is not implemented yet
		kgo.MaxProduceRequestsInflightPerBroker(1),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProduceRequestTimeout(5*time.Second),
		kgo.RequestTimeoutOverhead(3*time.Second),
		kgo.ProducerLinger(2*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	// Concurrent consumer.
	consumeCtx, stopConsume := context.WithCancel(ctx)
	offsets := map[string]map[int32]kgo.Offset{topic: {}}
	for p := range int32(partitions) {
		offsets[topic][p] = kgo.NewOffset().AtStart()
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap()...), kgo.ConsumePartitions(offsets),
		kgo.RequestTimeoutOverhead(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var consumedMu sync.Mutex // guards consumed while the consumer runs
	consumed := make([][]seen, partitions)
	var consumeWG sync.WaitGroup
	consumeWG.Add(1)
	go func() {
		defer consumeWG.Done()
		for consumeCtx.Err() == nil {
			fs := cons.PollFetches(consumeCtx)
			consumedMu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				consumed[r.Partition] = append(consumed[r.Partition], seen{r.Offset, string(r.Value)})
			})
			consumedMu.Unlock()
		}
	}()

	var (
		acksMu sync.Mutex
		acks   = make([][]*ack, partitions)
		sem    = make(chan struct{}, maxInFlight)
		acked  atomic.Int64
	)
	produceCtx, stopProduce := context.WithCancel(ctx)
	var produceWG, loopWG sync.WaitGroup
	loopWG.Add(1)
	go func() {
		defer loopWG.Done()
		tick := time.NewTicker(roundEvery)
		defer tick.Stop()
		for seq := int64(0); ; seq++ {
			select {
			case <-tick.C:
			case <-produceCtx.Done():
				return
			}
			for p := range int32(partitions) {
				select {
				case sem <- struct{}{}:
				case <-produceCtx.Done():
					return
				}
				a := &ack{seq: seq, offset: -1, sent: time.Now()}
				acksMu.Lock()
				acks[p] = append(acks[p], a)
				acksMu.Unlock()
				produceWG.Add(1)
				rec := &kgo.Record{Topic: topic, Partition: p, Value: []byte(value(p, seq))}
				prod.Produce(ctx, rec, func(r *kgo.Record, err error) {
					defer produceWG.Done()
					defer func() { <-sem }()
					acksMu.Lock()
					defer acksMu.Unlock()
					a.acked, a.err = time.Now(), err
					if err == nil {
						a.offset = r.Offset
						acked.Add(1)
					}
				})
			}
		}
	}()

	// Faults.
	var (
		windows []window
		kills   int
		ctlKill int
		stops   int
	)
	first := rng.IntN(3)
	begin := time.Now()
	time.Sleep(time.Duration(1000+rng.IntN(1000)) * time.Millisecond)
	for i := 0; time.Since(begin) < duration; i++ {
		victim := c.nodes[rng.IntN(len(c.nodes))]
		// In turn: kill the active controller, stop a node, kill a node.
		kind := (i + first) % 3
		pause := time.Duration(1000+rng.IntN(3000)) * time.Millisecond
		if kind == 0 {
			if id := c.activeController(); id > 0 {
				victim = c.nodes[id-1]
			}
		}
		w := window{from: time.Now()}
		switch kind {
		case 0, 1:
			ctl := c.activeController() == victim.id
			t.Logf("%6.1fs fault %d: SIGKILL node %d (active controller: %v), restart after %v", time.Since(begin).Seconds(), i+1, victim.id, ctl, pause)
			victim.kill()
			kills++
			if ctl {
				ctlKill++
			}
			time.Sleep(pause)
			victim.start()
		case 2:
			t.Logf("%6.1fs fault %d: SIGSTOP node %d for %v", time.Since(begin).Seconds(), i+1, victim.id, pause)
			victim.signal(syscall.SIGSTOP)
			stops++
			time.Sleep(pause)
			victim.signal(syscall.SIGCONT)
		}
		w.to = time.Now()
		windows = append(windows, w)
		// Let the victim catch up and rejoin every ISR before the next
		// fault, so that one fault never meets another's leftovers.
		if took, ok := waitFullISR(ctx, t, adm, 30*time.Second); ok {
			t.Logf("%6.1fs every ISR full again %v after the node was back", time.Since(begin).Seconds(), took.Round(100*time.Millisecond))
		}
		time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
	}
	t.Logf("%6.1fs faults done; draining", time.Since(begin).Seconds())
	stopProduce()
	loopWG.Wait()
	drained := make(chan struct{})
	go func() { produceWG.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Minute):
		t.Fatalf("produce did not finish within 2m after the last fault (cluster stuck?); acked %d", acked.Load())
	}

	// Every node is back: each must rejoin every ISR. The bound is a
	// liveness net (twice Kafka's replica.lag.time.max.ms), not a timing
	// assertion.
	if _, ok := waitFullISR(ctx, t, adm, 60*time.Second); !ok {
		t.Errorf("STUCK: a restarted node did not rejoin every ISR of %s within 60s after the last fault (seed %d)", topic, seed)
	}

	// The final log, read by a fresh consumer up to the high watermarks.
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	final := readAll(ctx, t, c, ends)
	// Let the concurrent consumer reach the end too, then stop it.
	waitConsumed(&consumedMu, consumed, ends, 30*time.Second)
	stopConsume()
	consumeWG.Wait()

	// Check.
	var lost, misplaced, disorder, dups, unexplained, vanished, backwards, failed, inFlightDup int
	for p := range partitions {
		log := final[p]
		where := map[string][]int64{} // value → offsets in the final log
		for off, v := range log {
			where[v] = append(where[v], int64(off))
		}
		lastOff := int64(-1)
		for _, a := range acks[p] {
			v := value(int32(p), a.seq)
			if a.err != nil {
				failed++
				continue
			}
			if a.offset <= lastOff {
				disorder++
				if disorder <= 5 {
					t.Errorf("partition %d: seq %d acked at offset %d, not after offset %d of an earlier seq", p, a.seq, a.offset, lastOff)
				}
			}
			lastOff = a.offset
			if a.offset >= int64(len(log)) || log[a.offset] != v {
				if len(where[v]) == 0 {
					lost++
					if lost <= 10 {
						t.Errorf("LOST: partition %d seq %d acked at offset %d is not in the final log (log end %d)", p, a.seq, a.offset, len(log))
					}
				} else {
					misplaced++
					if misplaced <= 10 {
						t.Errorf("partition %d seq %d acked at offset %d but found at %v", p, a.seq, a.offset, where[v])
					}
				}
			}
		}
		byValue := map[string]*ack{}
		for _, a := range acks[p] {
			byValue[value(int32(p), a.seq)] = a
		}
		for v, offs := range where {
			if len(offs) < 2 {
				continue
			}
			dups += len(offs) - 1
			a := byValue[v]
			if a == nil {
				t.Errorf("partition %d: value %q at offsets %v was never produced", p, v, offs)
				continue
			}
			if a.err != nil {
				continue
			}
			if nearFault(a, windows) {
				inFlightDup++
				continue
			}
			unexplained++
			if unexplained <= 5 {
				t.Errorf("partition %d: %q at offsets %v (acked at %d) although it was produced away from every fault", p, v, offs, a.offset)
			}
		}
		prev := int64(-1)
		for _, s := range consumed[p] {
			if s.offset <= prev {
				backwards++
				if backwards <= 5 {
					t.Errorf("partition %d: consumer read offset %d after offset %d", p, s.offset, prev)
				}
			}
			prev = s.offset
			if s.offset >= int64(len(log)) || log[s.offset] != s.value {
				vanished++
				if vanished <= 10 {
					t.Errorf("partition %d: consumer read %q at offset %d, the final log has %v there", p, s.value, s.offset, at(log, s.offset))
				}
			}
		}
	}
	var total, seenCount int
	for p := range partitions {
		total += len(final[p])
		seenCount += len(consumed[p])
	}
	errLines := c.checkLogs()
	for i, l := range errLines {
		if i == 5 {
			break
		}
		t.Logf("node error line: %s", l)
	}
	t.Logf("FIGURES seed=%d: faults injected %d (SIGKILL+restart %d, of the active controller %d; SIGSTOP/SIGCONT %d), records acked %d, produce failures %d, records lost %d, misplaced %d, out of order %d, duplicates %d (copies beyond the first; acked records with a copy: sent near a fault %d, unexplained %d), consumed %d, consumed-then-vanished %d, consumer offsets backwards %d, final log %d records, node ERROR lines %d",
		seed, kills+stops, kills, ctlKill, stops, acked.Load(), failed, lost, misplaced, disorder, dups, inFlightDup, unexplained, seenCount, vanished, backwards, total, len(errLines))
	if kills+stops == 0 {
		t.Errorf("no fault injected")
	}
	if acked.Load() == 0 {
		t.Errorf("no record acknowledged")
	}
}

// value is the record value of seq in partition p.
func value(p int32, seq int64) string {
	return "p" + strconv.Itoa(int(p)) + "-" + strconv.FormatInt(seq, 10)
}

func at(log []string, off int64) string {
	if off < int64(len(log)) {
		return strconv.Quote(log[off])
	}
	return fmt.Sprintf("nothing (log end %d)", len(log))
}

// nearFault reports whether a's produce overlapped a fault window
// (widened by dupMargin, for retries the fault caused).
func nearFault(a *ack, windows []window) bool {
	for _, w := range windows {
		if !a.sent.After(w.to.Add(dupMargin)) && !a.acked.Before(w.from) {
			return true
		}
	}
	return false
}

// waitFullISR waits until every partition of the topic has a leader and
// all three replicas in its ISR, at most limit, and returns how long that
// took; it only logs when the limit passes.
func waitFullISR(ctx context.Context, t *testing.T, adm *kadm.Client, limit time.Duration) (time.Duration, bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(limit)
	var last string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		td, err := adm.ListTopics(ctx, topic)
		last = fmt.Sprint(err)
		if err == nil {
			last = describe(td[topic])
			d, ok := td[topic]
			if ok && d.Err == nil && len(d.Partitions) == partitions {
				full := true
				for _, p := range d.Partitions {
					if p.Err != nil || p.Leader < 0 || len(p.ISR) != 3 {
						full = false
					}
				}
				if full {
					return time.Since(start), true
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the ISR of %s was not full within %v; going on. Last seen: %s", topic, limit, last)
	return limit, false
}

// readAll reads every partition from its start up to ends with a fresh
// consumer and returns the values by offset. A gap in the offsets fails
// the test.
func readAll(ctx context.Context, t *testing.T, c *cluster, ends kadm.ListedOffsets) [][]string {
	t.Helper()
	offsets := map[string]map[int32]kgo.Offset{topic: {}}
	want := make([]int64, partitions)
	remaining := 0
	for p := range int32(partitions) {
		lo, ok := ends.Lookup(topic, p)
		if !ok || lo.Err != nil {
			t.Fatalf("end offset of partition %d: %+v", p, lo)
		}
		want[p] = lo.Offset
		if lo.Offset > 0 {
			offsets[topic][p] = kgo.NewOffset().AtStart()
			remaining++
		}
	}
	out := make([][]string, partitions)
	if remaining == 0 {
		return out
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap()...), kgo.ConsumePartitions(offsets))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	done := make([]bool, partitions)
	for remaining > 0 {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			t.Fatalf("final read did not reach the high watermarks %v: got %v", want, lens(out))
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("final read, partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			p := r.Partition
			if r.Offset < int64(len(out[p])) {
				t.Errorf("final read, partition %d: offset %d again after %d", p, r.Offset, len(out[p])-1)
				return
			}
			if r.Offset != int64(len(out[p])) {
				t.Errorf("final read, partition %d: offset %d follows %d (gap)", p, r.Offset, len(out[p])-1)
				for int64(len(out[p])) < r.Offset {
					out[p] = append(out[p], "")
				}
			}
			if r.Offset < want[p] {
				out[p] = append(out[p], string(r.Value))
			}
			if !done[p] && int64(len(out[p])) >= want[p] {
				done[p] = true
				remaining--
			}
		})
	}
	return out
}

func lens(out [][]string) []int {
	var l []int
	for _, o := range out {
		l = append(l, len(o))
	}
	return l
}

// waitConsumed waits, at most limit, until the concurrent consumer has
// read each partition up to ends (it only logs when the limit passes: the
// checks that follow report what it did read).
func waitConsumed(mu *sync.Mutex, consumed [][]seen, ends kadm.ListedOffsets, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		caughtUp := true
		mu.Lock()
		for p := range int32(partitions) {
			lo, _ := ends.Lookup(topic, p)
			if n := len(consumed[p]); lo.Offset > 0 && (n == 0 || consumed[p][n-1].offset < lo.Offset-1) {
				caughtUp = false
			}
		}
		mu.Unlock()
		if caughtUp {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// describe renders a topic's partitions as "p0 leader 1 epoch 3 isr [1 2 3]".
func describe(d kadm.TopicDetail) string {
	if d.Err != nil {
		return d.Err.Error()
	}
	var parts []string
	for _, p := range d.Partitions.Sorted() {
		parts = append(parts, fmt.Sprintf("p%d leader %d epoch %d isr %v err %v", p.Partition, p.Leader, p.LeaderEpoch, p.ISR, p.Err))
	}
	return strings.Join(parts, "; ")
}
