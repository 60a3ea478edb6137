package txncrash

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	ctpInput      = "ctp-in"
	ctpOutput     = "ctp-out"
	ctpGroup      = "ctp"
	ctpPartitions = 6
	ctpRecords    = 20000
	// ctpClusterRecords is the input of the three-node run, whose
	// processes share the same two cores.
	ctpClusterRecords = 10000
	ctpWorkers        = 2
	// ctpMaxRecords bounds one worker transaction.
	ctpMaxRecords = 100
)

// TestConsumeTransformProduce is the consume-transform-produce loop of
// KIP-98/KIP-447 on one node: two workers (processes) each run kgo's
// GroupTransactSession, reading a numbered input with read_committed and
// writing one output record per input record, the group's offsets
// committed in the same transaction. The node is killed with SIGKILL and
// restarted a few times, and one worker is killed and restarted (its
// successor, with the same transactional.id, fences what it left open).
// The output, read with read_committed, must be the input transformed
// exactly once: per partition the same records in the same order, no
// duplicate, no gap.
func TestConsumeTransformProduce(t *testing.T) {
	t.Parallel()
	runCTP(t, 1)
}

// TestConsumeTransformProduceCluster is the same loop on three nodes
// (replication factor 3 everywhere, min.insync.replicas=2), killing one
// node at a time — the transaction and group coordinators and partition
// leaders move — and waiting for it to rejoin every ISR before the next.
func TestConsumeTransformProduceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("three broker processes: not in -short")
	}
	t.Parallel()
	runCTP(t, 3)
}

func runCTP(t *testing.T, nodes int) {
	sched := newSchedule(t)
	rng := rand.New(rand.NewPCG(sched.seed, uint64(0xc7b+nodes)))
	records, brokerKills := ctpRecords, 2+rng.IntN(2)
	if nodes > 1 {
		// Three of the roles victim picks in turn, the leaders
		// moving each time.
		records, brokerKills = ctpClusterRecords, 3
	}
	if testing.Short() {
		brokerKills = 1
	}
	if sched.duration > 0 {
		// A soak run: enough input for about the duration (the loop
		// moves some 1000 records a second under the race detector
		// between kills).
		records = max(records, int(sched.duration.Seconds())*1000)
	}

	began := time.Now()
	c := newCluster(t, nodes)
	c.start()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	adm := c.admin()
	c.createTopic(ctx, adm, ctpInput, ctpPartitions, nil)
	c.createTopic(ctx, adm, ctpOutput, ctpPartitions, rollOften())
	produceInput(t, ctx, c, records)
	t.Logf("%v input written", since(began))

	watcher := startWatcher(t, c, ctpOutput, ctpPartitions)
	defer watcher.close()
	var workers []*worker
	for i := range ctpWorkers {
		w := &worker{cfg: workerConfig{
			Brokers:         c.bootstrap(),
			TransactionalID: fmt.Sprintf("ctp-worker-%d", i),
			Group:           ctpGroup,
			Input:           ctpInput,
			Output:          ctpOutput,
			MaxRecords:      ctpMaxRecords,
			Seed:            sched.seed + uint64(i),
		}}
		w.start(t)
		workers = append(workers, w)
	}

	// The events, at random points of the output's progress: the broker
	// kills and one worker kill.
	events := brokerKills + 1
	workerKillAt := rng.IntN(events)
	workerKills := 0
	for e := range events {
		frac := (float64(e) + 0.5 + 0.6*(rng.Float64()-0.5)) / float64(events+1)
		awaitOutput(t, ctx, c, adm, workers, watcher, int(frac*float64(records)))
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		if e == workerKillAt {
			w := workers[rng.IntN(len(workers))]
			w.current().Kill(t)
			workerKills++
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
			w.start(t)
			t.Logf("%v event %d: killed and restarted %s at %d output records", since(began), e+1, w.cfg.TransactionalID, watcher.count())
			continue
		}
		nd, role := victim(ctx, c, adm, workers, rng, e)
		c.restart(nd, time.Duration(rng.IntN(500))*time.Millisecond)
		t.Logf("%v event %d: killed and restarted node %d (%s) at %d output records", since(began), e+1, nd.id, role, watcher.count())
		if nodes > 1 {
			// One node down at a time: the next kill waits until this
			// one is back in every ISR.
			c.awaitFullISR(ctx, adm)
			t.Logf("%v every ISR full again", since(began))
		}
	}
	// Soak: keep killing until the input is consumed or time is up.
	for soak, e := time.Now(), events; sched.duration > 0 && time.Since(soak) < sched.duration && watcher.count() < records; e++ {
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
		nd, _ := victim(ctx, c, adm, workers, rng, e)
		c.restart(nd, time.Duration(rng.IntN(500))*time.Millisecond)
		if nodes > 1 {
			c.awaitFullISR(ctx, adm)
		}
	}

	// Done once the group's committed offsets reach the input's end.
	awaitConsumed(t, ctx, c, adm, workers)
	t.Logf("%v input consumed", since(began))
	for _, w := range workers {
		w.current().Term(t, startDeadline)
	}
	stats := collectWorkerStats(workers)
	awaitStable(t, ctx, adm, ctpOutput)
	sentinels := writeSentinels(t, ctx, c, ctpOutput, ctpPartitions)
	seen := watcher.await(t, sentinels)
	// On one node, the final read after one more kill, from a node that
	// rebuilt its transaction state from the log (on three, the leaders
	// have moved through restarts already).
	if nodes == 1 {
		c.restart(c.nodes[0], 0)
	}
	final := readCommitted(t, c, ctpOutput, sentinels)
	t.Logf("%v output read", since(began))

	problems := verifyCTP(records, final, seen)
	t.Logf("%d nodes, %d node kills, %d worker kills, %d input records; %v; output: %d records read with read_committed, %d by the concurrent consumer",
		nodes, c.kills, workerKills, records, stats, countRecords(final), countRecords(seen))
	if len(stats.errs) > 0 {
		t.Logf("worker transaction errors: %v", stats.errs)
	}
	for i, p := range problems {
		if i == 30 {
			t.Errorf("... and %d more problems", len(problems)-i)
			break
		}
		t.Error(p)
	}
	var procs []*process
	for _, w := range workers {
		procs = append(procs, w.runs...)
	}
	if t.Failed() {
		for _, p := range procs {
			p.Dump(t, 30)
		}
	}
	reportErrorLines(t, checkFatal(t, append(procs, c.processes()...)...))
}

// victim picks the node to kill at event e: in turn the transaction
// coordinator of a worker's transactional id, the group's coordinator,
// the leader of an output partition, and a random node. It returns the
// node and what it was picked as.
func victim(ctx context.Context, c *cluster, adm *kadm.Client, workers []*worker, rng *rand.Rand, e int) (*node, string) {
	id := int32(-1)
	role := "random"
	lookup, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch e % 4 {
	case 0:
		txnID := workers[rng.IntN(len(workers))].cfg.TransactionalID
		if ds, err := adm.DescribeTransactions(lookup, txnID); err == nil && ds[txnID].Err == nil {
			id, role = ds[txnID].Coordinator, "transaction coordinator of "+txnID
		}
	case 1:
		if ds, err := adm.DescribeGroups(lookup, ctpGroup); err == nil && ds[ctpGroup].Err == nil {
			id, role = ds[ctpGroup].Coordinator.NodeID, "group coordinator"
		}
	case 2:
		p := int32(rng.IntN(ctpPartitions))
		if td, err := adm.ListTopics(lookup, ctpOutput); err == nil {
			if pd, ok := td[ctpOutput].Partitions[p]; ok && pd.Leader >= 0 {
				id, role = pd.Leader, fmt.Sprintf("leader of %s-%d", ctpOutput, p)
			}
		}
	}
	for _, nd := range c.nodes {
		if int32(nd.id) == id {
			return nd, role
		}
	}
	return c.nodes[rng.IntN(len(c.nodes))], "random"
}

// produceInput writes records numbered 0..n-1 to the input, record i to
// partition i mod ctpPartitions, so that partition p holds p, p+P, p+2P,
// ... at offsets 0, 1, 2, ... (checked against the acknowledgements).
func produceInput(t *testing.T, ctx context.Context, c *cluster, n int) {
	t.Helper()
	cl := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxBufferedRecords(5000))
	var (
		mu   sync.Mutex
		errs []error
	)
	for i := range n {
		r := &kgo.Record{Topic: ctpInput, Partition: int32(i % ctpPartitions), Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err == nil && r.Offset != int64(i/ctpPartitions) {
				err = fmt.Errorf("input %d at %s-%d offset %d, want offset %d", i, r.Topic, r.Partition, r.Offset, i/ctpPartitions)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Fatalf("producing the input: %d errors, first %v", len(errs), errs[0])
	}
}

// awaitOutput waits until the watcher has consumed n output records,
// failing the test if a node or worker exits by itself or the output
// stands still for progressDeadline. When it stands still for a while it
// logs what the cluster says about the output's transactions.
func awaitOutput(t *testing.T, ctx context.Context, c *cluster, adm *kadm.Client, workers []*worker, w *watcher, n int) {
	t.Helper()
	last, lastChange, reported := w.count(), time.Now(), false
	for {
		checkAlive(t, c, workers)
		got := w.count()
		switch {
		case got >= n:
			return
		case got != last:
			last, lastChange, reported = got, time.Now(), false
		case time.Since(lastChange) > progressDeadline:
			t.Fatalf("waiting for %d output records: none for %v at %d; %v; %s",
				n, progressDeadline, got, collectWorkerStats(workers), transactionReport(ctx, adm, workers))
		case !reported && time.Since(lastChange) > stallReportAfter:
			reported = true
			t.Logf("the output has not moved for %v at %d records: %s", stallReportAfter, got, transactionReport(ctx, adm, workers))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stallReportAfter is how long the output may stand still before
// awaitOutput logs the state of its transactions (a diagnostic only).
const stallReportAfter = 15 * time.Second

// transactionReport describes the output's partitions whose last stable
// offset lags the high watermark and the workers' transactions.
func transactionReport(ctx context.Context, adm *kadm.Client, workers []*worker) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out := ""
	end, err1 := adm.ListEndOffsets(ctx, ctpOutput)
	stable, err2 := adm.ListCommittedOffsets(ctx, ctpOutput)
	if err := errors.Join(err1, err2); err != nil {
		out += "offsets: " + err.Error()
	} else {
		end.Each(func(o kadm.ListedOffset) {
			if s, ok := stable.Lookup(ctpOutput, o.Partition); !ok || s.Offset != o.Offset {
				out += fmt.Sprintf("%s-%d: last stable offset %d, high watermark %d; ", ctpOutput, o.Partition, s.Offset, o.Offset)
			}
		})
	}
	var ids []string
	for _, w := range workers {
		ids = append(ids, w.cfg.TransactionalID)
	}
	ds, err := adm.DescribeTransactions(ctx, ids...)
	if err != nil {
		return out + "describe: " + err.Error()
	}
	for _, id := range ids {
		d := ds[id]
		out += fmt.Sprintf("%s: %s on %d, producer %d/%d, %v (err %v); ", id, d.State, d.Coordinator, d.ProducerID, d.ProducerEpoch, d.Topics, d.Err)
	}
	return out
}

func checkAlive(t *testing.T, c *cluster, workers []*worker) {
	t.Helper()
	for _, nd := range c.nodes {
		if r := nd.current(); r.Exited() {
			t.Fatalf("%s exited by itself: %v", r.Name, r.State())
		}
	}
	for _, w := range workers {
		if r := w.current(); r.Exited() {
			t.Fatalf("%s exited by itself: %v", r.Name, r.State())
		}
	}
}

// awaitConsumed waits until the group's committed offsets reach the end
// of every input partition, failing the test if they stand still for
// progressDeadline.
func awaitConsumed(t *testing.T, ctx context.Context, c *cluster, adm *kadm.Client, workers []*worker) {
	t.Helper()
	last, lastChange := int64(-1), time.Now()
	for {
		checkAlive(t, c, workers)
		done, sum, why := groupProgress(ctx, adm)
		switch {
		case done:
			return
		case sum != last:
			last, lastChange = sum, time.Now()
		case time.Since(lastChange) > progressDeadline:
			t.Fatalf("the group's offsets stood still for %v:%s; %v; %s",
				progressDeadline, why, collectWorkerStats(workers), transactionReport(ctx, adm, workers))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// groupProgress reports whether the group's committed offsets are at the end
// of every input partition, their sum, and what is missing.
func groupProgress(ctx context.Context, adm *kadm.Client) (done bool, sum int64, why string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	end, err := adm.ListEndOffsets(ctx, ctpInput)
	if err != nil {
		return false, -1, " " + err.Error()
	}
	committed, err := adm.FetchOffsets(ctx, ctpGroup)
	if err != nil {
		return false, -1, " " + err.Error()
	}
	end.Each(func(o kadm.ListedOffset) {
		got, ok := committed.Lookup(ctpInput, o.Partition)
		if ok && got.Err == nil {
			sum += got.At
		}
		if o.Err != nil || !ok || got.Err != nil || got.At != o.Offset {
			why += fmt.Sprintf(" %s-%d: committed %d of %d (%v %v)", ctpInput, o.Partition, got.At, o.Offset, o.Err, got.Err)
		}
	})
	return why == "", sum, why
}

// verifyCTP checks the output against the input: partition p must hold
// exactly the transforms of input records p, p+P, p+2P, ... in order,
// and the concurrent consumer must have seen exactly that too.
func verifyCTP(n int, final, seen map[int32][]consumed) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	count := make([]int, n)
	for p := range int32(ctpPartitions) {
		var want []string
		for i := int(p); i < n; i += ctpPartitions {
			want = append(want, fmt.Sprintf("%d@%d/%d", i, p, i/ctpPartitions))
		}
		var got []string
		for _, r := range final[p] {
			got = append(got, r.value)
			var i, ip int
			var io int64
			if _, err := fmt.Sscanf(r.value, "%d@%d/%d", &i, &ip, &io); err != nil || i < 0 || i >= n {
				fail("%s-%d offset %d: %q is no transform of an input record", ctpOutput, p, r.offset, r.value)
				continue
			}
			count[i]++
		}
		if !slices.Equal(got, want) {
			j := 0
			for j < min(len(got), len(want)) && got[j] == want[j] {
				j++
			}
			fail("%s-%d: %d records, want %d; first difference at index %d: %s, want %s",
				ctpOutput, p, len(got), len(want), j, at(got, j), at(want, j))
		}
		var seenValues []string
		for _, r := range seen[p] {
			seenValues = append(seenValues, r.value)
		}
		if !slices.Equal(seenValues, got) {
			fail("%s-%d: the concurrent read_committed consumer saw %d records, the final read %d (first difference: %s vs %s)",
				ctpOutput, p, len(seenValues), len(got), firstDiff(seenValues, got), firstDiff(got, seenValues))
		}
	}
	dups, missing := 0, 0
	for i, c := range count {
		switch {
		case c == 0:
			missing++
			if missing <= 5 {
				fail("input record %d has no output", i)
			}
		case c > 1:
			dups++
			if dups <= 5 {
				fail("input record %d has %d outputs", i, c)
			}
		}
	}
	if dups+missing > 0 {
		fail("%d input records with no output, %d with more than one", missing, dups)
	}
	return problems
}

// since is the time since began, for the log.
func since(began time.Time) time.Duration { return time.Since(began).Round(100 * time.Millisecond) }

func at(s []string, i int) string {
	if i < len(s) {
		return strconv.Quote(s[i])
	}
	return "(end)"
}

// firstDiff describes the first element of a that differs from b.
func firstDiff(a, b []string) string {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return fmt.Sprintf("index %d %q", i, a[i])
		}
	}
	return "none"
}
