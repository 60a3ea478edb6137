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
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/faultproxy"
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
// killed, restarted, stopped and continued, and cut off the network, on a
// seeded schedule, then checks the final log:
//
//   - every acknowledged record is there, at the offset its ack returned;
//   - per partition, acknowledged records are in the order they were sent;
//   - every record the concurrent consumer read is still there, at the
//     offset it was read at (no consumer saw a record that was later
//     lost), and the consumer's offsets never went backwards;
//   - exactly once: the producer is idempotent (kgo's default: producer
//     id, epoch and sequences, up to 5 requests in flight), so a batch
//     whose response a fault lost is retried and deduplicated by the
//     leader; every duplicate is a failure. GREGOR_FAULT_IDEMPOTENT=0
//     runs a plain producer instead (one request in flight), whose
//     retries may append a batch twice: duplicates are then counted, and
//     one is a failure only if its record was sent and acknowledged far
//     from any fault;
//   - liveness: once every node is back, every replica rejoins every ISR
//     (within a generous bound, twice replica.lag.time.max.ms).
//
// The fault schedule cycles through six kinds, interleaving network
// partitions with process faults: isolate the leader of a random
// partition; SIGKILL the active controller (found in the nodes' logs)
// and restart it; isolate a random node; SIGSTOP a random node and
// SIGCONT it; isolate the active controller; SIGKILL a random node and
// restart it. An isolation (procs_test.go: what a cut does) cuts the
// node's links both ways most of the time, else one way, in a random
// faultproxy mode, and heals after 1 to 9 s (so sometimes longer than
// replica.lag.time.max.ms and broker.session.timeout.ms, both set to 4 s).
// The nodes, pauses, modes and the starting point come from the seed. One
// fault at a time, and the next only once every ISR is full again, so
// that the cluster always keeps a quorum and two in-sync replicas. The
// run ends with a FIGURES line.
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
	waitFullISR(ctx, t, admCl, 60*time.Second)

	// Producer.
	idempotent := os.Getenv("GREGOR_FAULT_IDEMPOTENT") != "0"
	prodOpts := []kgo.Opt{
		kgo.SeedBrokers(c.bootstrap()...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProduceRequestTimeout(5 * time.Second),
		kgo.RequestTimeoutOverhead(3 * time.Second),
		kgo.ProducerLinger(2 * time.Millisecond),
	}
	if !idempotent {
		// One request in flight keeps a plain producer's retries in
		// order (kgo refuses the option for an idempotent one).
		prodOpts = append(prodOpts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(1))
	}
	prod, err := kgo.NewClient(prodOpts...)
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
		fig     = figures{modes: map[faultproxy.Mode]int{}, dirs: map[faultproxy.Direction]int{}}
	)
	first := rng.IntN(int(numKinds))
	begin := time.Now()
	time.Sleep(time.Duration(1000+rng.IntN(1000)) * time.Millisecond)
	for i := 0; time.Since(begin) < duration; i++ {
		kind := faultKind((i + first) % int(numKinds))
		// Draw every random value of a fault, used or not, so that the
		// schedule replays from the seed whatever the cluster did.
		victim := c.nodes[rng.IntN(len(c.nodes))]
		pause := time.Duration(1000+rng.IntN(3000)) * time.Millisecond
		hold := time.Duration(1000+rng.IntN(8000)) * time.Millisecond
		mode := pickMode(rng.IntN(10))
		dir := pickDirection(rng.IntN(10))
		part := int32(rng.IntN(partitions))
		gap := time.Duration(500+rng.IntN(1500)) * time.Millisecond

		// logf logs a line of this fault, stamped with the time since
		// the faults began.
		logf := func(format string, args ...any) {
			t.Helper()
			t.Logf("%6.1fs fault %d: "+format, append([]any{time.Since(begin).Seconds(), i + 1}, args...)...)
		}
		w := window{from: time.Now()}
		fig.kinds[kind]++
		switch kind {
		case killController, killNode:
			if kind == killController {
				if id := c.activeController(); id > 0 {
					victim = c.nodes[id-1]
				}
			}
			ctl := c.activeController() == victim.id
			logf("%s: SIGKILL node %d (active controller: %v), restart after %v", kind, victim.id, ctl, pause)
			victim.kill()
			if ctl {
				fig.ctlKills++
			}
			time.Sleep(pause)
			victim.start()
		case stopNode:
			logf("%s: SIGSTOP node %d for %v", kind, victim.id, pause)
			victim.signal(syscall.SIGSTOP)
			time.Sleep(pause)
			victim.signal(syscall.SIGCONT)
		case isolateNode, isolateLeader, isolateController:
			what := "random node"
			switch kind {
			case isolateLeader:
				if l, epoch, ok := partitionLeader(ctx, admCl, 0, part); ok && l >= 1 && l <= len(c.nodes) {
					victim = c.nodes[l-1]
					what = fmt.Sprintf("leader of partition %d (epoch %d)", part, epoch)
				} else {
					what = fmt.Sprintf("random node (partition %d has no known leader)", part)
				}
			case isolateController:
				if id := c.activeController(); id > 0 {
					victim = c.nodes[id-1]
					what = "active controller"
				} else {
					what = "random node (no known active controller)"
				}
			}
			logf("%s: cut node %d (%s) off %s, mode %v, for %v", kind, victim.id, what, dir, mode, hold)
			before := c.linkStats(victim.id)
			c.net.Isolate(int32(victim.id), dir, mode)
			fig.modes[mode]++
			fig.dirs[dir]++
			time.Sleep(hold)
			after := c.linkStats(victim.id)
			logf("its links while cut: %d connections dropped, %d refused, %d accepted, %d bytes held at the heal",
				after.Dropped-before.Dropped, after.Refused-before.Refused, after.Accepted-before.Accepted, after.Held)
			if kind == isolateLeader {
				// The partition as a node on the other side sees it,
				// just before the heal.
				other := c.nodes[victim.id%len(c.nodes)]
				if l, epoch, ok := partitionLeader(ctx, admCl, other.id, part); ok {
					logf("before the heal node %d sees partition %d led by %d, epoch %d", other.id, part, l, epoch)
					if l != victim.id {
						fig.leadersReplaced++
					}
				}
			}
			c.net.Rejoin(int32(victim.id))
		}
		w.to = time.Now()
		windows = append(windows, w)
		// Let the victim catch up and rejoin every ISR before the next
		// fault, so that one fault never meets another's leftovers.
		if took, ok := waitFullISR(ctx, t, admCl, 30*time.Second); ok {
			t.Logf("%6.1fs every ISR full again %v after the node was back", time.Since(begin).Seconds(), took.Round(100*time.Millisecond))
		}
		time.Sleep(gap)
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
	if _, ok := waitFullISR(ctx, t, admCl, 60*time.Second); !ok {
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
			if a.err != nil && !idempotent {
				continue
			}
			if !idempotent && nearFault(a, windows) {
				inFlightDup++
				continue
			}
			unexplained++
			if unexplained <= 5 {
				if idempotent {
					t.Errorf("partition %d: %q at offsets %v (acked at %d, err %v) from an idempotent producer", p, v, offs, a.offset, a.err)
				} else {
					t.Errorf("partition %d: %q at offsets %v (acked at %d) although it was produced away from every fault", p, v, offs, a.offset)
				}
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
	t.Logf("FIGURES seed=%d: faults injected %d (%s), idempotent producer %v, records acked %d, produce failures %d, records lost %d, misplaced %d, out of order %d, duplicates %d (copies beyond the first; acked records with a copy: sent near a fault %d, unexplained %d), consumed %d, consumed-then-vanished %d, consumer offsets backwards %d, final log %d records, node ERROR lines %d",
		seed, fig.total(), fig, idempotent, acked.Load(), failed, lost, misplaced, disorder, dups, inFlightDup, unexplained, seenCount, vanished, backwards, total, len(errLines))
	if fig.total() == 0 {
		t.Errorf("no fault injected")
	}
	if acked.Load() == 0 {
		t.Errorf("no record acknowledged")
	}
}

// faultKind is one kind of fault in the schedule, in the order it
// cycles through them.
type faultKind int

const (
	isolateLeader faultKind = iota
	killController
	isolateNode
	stopNode
	isolateController
	killNode
	numKinds
)

func (k faultKind) String() string {
	return [...]string{"isolate a partition leader", "SIGKILL the active controller", "isolate a random node",
		"SIGSTOP a random node", "isolate the active controller", "SIGKILL a random node"}[k]
}

// pickMode maps a draw in [0, 10) to a cut mode: mostly stalls (a real
// partition), then blackholes, then resets.
func pickMode(draw int) faultproxy.Mode {
	switch {
	case draw < 5:
		return faultproxy.Stall
	case draw < 8:
		return faultproxy.Blackhole
	}
	return faultproxy.Refuse
}

// pickDirection maps a draw in [0, 10) to an isolation's direction:
// mostly both ways, sometimes one way.
func pickDirection(draw int) faultproxy.Direction {
	switch {
	case draw < 6:
		return faultproxy.Both
	case draw < 8:
		return faultproxy.Outbound
	}
	return faultproxy.Inbound
}

// figures counts the faults injected.
type figures struct {
	kinds    [numKinds]int
	ctlKills int // SIGKILLs that hit the active controller
	modes    map[faultproxy.Mode]int
	dirs     map[faultproxy.Direction]int
	// leadersReplaced counts the isolated partition leaders that a node
	// on the other side saw replaced before the heal.
	leadersReplaced int
}

func (f *figures) total() int {
	n := 0
	for _, k := range f.kinds {
		n += k
	}
	return n
}

// String renders the counts per kind, mode and direction.
func (f figures) String() string {
	var parts []string
	for k := range numKinds {
		extra := ""
		switch k {
		case killController, killNode:
			if k == killNode {
				continue
			}
			parts = append(parts, fmt.Sprintf("SIGKILL+restart %d (of the active controller %d)", f.kinds[killController]+f.kinds[killNode], f.ctlKills))
			continue
		case isolateLeader:
			extra = fmt.Sprintf(", replaced while cut off %d", f.leadersReplaced)
		}
		parts = append(parts, fmt.Sprintf("%s %d%s", k, f.kinds[k], extra))
	}
	isolations := f.kinds[isolateNode] + f.kinds[isolateLeader] + f.kinds[isolateController]
	parts = append(parts, fmt.Sprintf("isolations by mode: stall %d, blackhole %d, refuse %d; by direction: both ways %d, outbound %d, inbound %d (of %d)",
		f.modes[faultproxy.Stall], f.modes[faultproxy.Blackhole], f.modes[faultproxy.Refuse],
		f.dirs[faultproxy.Both], f.dirs[faultproxy.Outbound], f.dirs[faultproxy.Inbound], isolations))
	return strings.Join(parts, "; ")
}

// topicMetadata asks node (0: any node) for the topic's metadata.
func topicMetadata(ctx context.Context, cl *kgo.Client, node int) (*kmsg.MetadataResponseTopic, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var resp kmsg.Response
	var err error
	if node > 0 {
		resp, err = cl.Broker(node).Request(rctx, req)
	} else {
		resp, err = req.RequestWith(rctx, cl)
	}
	if err != nil {
		return nil, err
	}
	topics := resp.(*kmsg.MetadataResponse).Topics
	if len(topics) != 1 {
		return nil, fmt.Errorf("metadata of node %d: %d topics", node, len(topics))
	}
	if err := kerr.ErrorForCode(topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("metadata of node %d: %w", node, err)
	}
	return &topics[0], nil
}

// partitionLeader returns the leader and leader epoch of partition p of
// the topic as node (0: any node) sees it.
func partitionLeader(ctx context.Context, cl *kgo.Client, node int, p int32) (leader int, epoch int32, ok bool) {
	td, err := topicMetadata(ctx, cl, node)
	if err != nil {
		return 0, 0, false
	}
	for _, mp := range td.Partitions {
		if mp.Partition == p && mp.ErrorCode == 0 {
			return int(mp.Leader), mp.LeaderEpoch, true
		}
	}
	return 0, 0, false
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

// waitFullISR waits until every node's metadata shows every partition
// of the topic with a leader and all three replicas in its ISR, at most
// limit, and returns how long that took; it only logs when the limit
// passes. Every node is asked (not any one): a node back from a
// partition answers from its stale image until it catches up.
func waitFullISR(ctx context.Context, t *testing.T, cl *kgo.Client, limit time.Duration) (time.Duration, bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(limit)
	var last string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		full := true
		for id := 1; id <= 3 && full; id++ {
			var d string
			d, full = fullISR(ctx, cl, id)
			last = fmt.Sprintf("node %d: %s", id, d)
		}
		if full {
			return time.Since(start), true
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the ISR of %s was not full within %v; going on. Last seen: %s", topic, limit, last)
	return limit, false
}

// fullISR asks node id for the topic's metadata and reports whether
// every partition has a leader and a full ISR, with a description.
func fullISR(ctx context.Context, cl *kgo.Client, id int) (string, bool) {
	td, err := topicMetadata(ctx, cl, id)
	if err != nil {
		return err.Error(), false
	}
	full := len(td.Partitions) == partitions
	var parts []string
	for _, p := range td.Partitions {
		err := kerr.ErrorForCode(p.ErrorCode)
		if err != nil || p.Leader < 0 || len(p.ISR) != 3 {
			full = false
		}
		parts = append(parts, fmt.Sprintf("p%d leader %d epoch %d isr %v err %v", p.Partition, p.Leader, p.LeaderEpoch, p.ISR, err))
	}
	return strings.Join(parts, "; "), full
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
