package txncrash

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	txnTopic      = "txns"
	txnPartitions = 6
	txnProducers  = 4
	// txnsPerRun bounds how many transactions must end on a run of
	// the broker before it may be killed (at least one: the producers
	// got going again).
	txnsPerRun = 15
)

// TestTransactionsUnderKills runs concurrent transactional producers
// against one node that is killed with SIGKILL and restarted at random
// points, and checks what read_committed consumers see (KIP-98: "a
// consumer in read_committed mode sees every committed transaction whole
// and nothing of an aborted one").
//
// Each producer (its own transactional.id) loops: begin, produce a known
// set of records to a few partitions, then commit or abort at random
// (abort whenever a record failed), or now and then abandon the
// transaction: close the client without ending it, and start a new one
// whose InitProducerId fences and aborts it. The commit's answer is the
// transaction's client-side outcome. A producer whose transaction ended
// in an error first lets kgo recover (EndTransaction(abort) after the
// error re-initializes its producer id at its old epoch, KIP-360); after
// a second error in a row, or when fenced, it starts a new client with
// the same transactional.id (InitProducerId fences and aborts whatever
// the old one left open).
func TestTransactionsUnderKills(t *testing.T) {
	t.Parallel()
	sched := newSchedule(t)
	rng := rand.New(rand.NewPCG(sched.seed, 0x7c5))
	kills := 3 + rng.IntN(2)
	if testing.Short() {
		kills = 2
	}
	c := newCluster(t, 1)
	c.start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	adm := c.admin()
	c.createTopic(ctx, adm, txnTopic, txnPartitions, rollOften())

	tr := newTxnTracker()
	watcher := startWatcher(t, c, txnTopic, txnPartitions)
	defer watcher.close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range txnProducers {
		p := &txnProducer{t: t, c: c, g: g, rng: rand.New(rand.NewPCG(sched.seed, uint64(g)+1)), tr: tr}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(stop)
		}()
	}
	stopped := false
	stopProducers := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer stopProducers()

	began := time.Now()
	for k := 0; k < kills || (sched.duration > 0 && time.Since(began) < sched.duration); k++ {
		// Sometimes soon after the restart, while the coordinators
		// load and resend markers; sometimes later.
		tr.awaitEnded(t, c, tr.ended()+1+rng.IntN(txnsPerRun))
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		tr.kills.Add(1)
		c.restart(c.nodes[0], time.Duration(rng.IntN(500))*time.Millisecond)
		t.Logf("kill %d: %s", k+1, tr.summary())
	}
	tr.awaitEnded(t, c, tr.ended()+txnsPerRun)
	stopProducers()
	t.Logf("producers stopped: %s", tr.summary())

	// Every transaction has ended (each producer's last one cleanly), so
	// once their markers are written the last stable offset reaches the
	// high watermark everywhere.
	awaitStable(t, ctx, adm, txnTopic)
	sentinels := writeSentinels(t, ctx, c, txnTopic, txnPartitions)
	seen := watcher.await(t, sentinels)

	// One more kill: the final read is served by a broker that rebuilt
	// its transaction state (producer state, aborted transaction index,
	// last stable offset) from the log.
	c.restart(c.nodes[0], 0)
	final := readCommitted(t, c, txnTopic, sentinels)

	figures, problems := tr.verify(final, seen)
	t.Logf("%d kills; %s; %s; the concurrent read_committed consumer saw %d records, the final one %d",
		c.kills, tr.summary(), figures, countRecords(seen), countRecords(final))
	for i, p := range problems {
		if i == 30 {
			t.Errorf("... and %d more problems", len(problems)-i)
			break
		}
		t.Error(p)
	}
	reportErrorLines(t, checkFatal(t, c.processes()...))
}

// outcome is what the producer was told about a transaction.
type outcome int

const (
	pending   outcome = iota
	committed         // EndTransaction(commit) returned nil
	aborted           // the commit was never asked for
	unknown           // EndTransaction(commit) returned an error
)

func (o outcome) String() string {
	return [...]string{"pending", "committed", "aborted", "unknown"}[o]
}

// txnRecord is one record of a transaction: value "g:n:i:total", record
// i of transaction n of producer g, which has total records.
type txnRecord struct {
	partition int32
	value     string
}

// txnKey names transaction n of producer g.
type txnKey struct{ g, n int }

func (k txnKey) String() string { return fmt.Sprintf("%d:%d", k.g, k.n) }

type txnInfo struct {
	records []txnRecord
	outcome outcome
	// abandoned: the producer closed without ending the transaction,
	// left to its successor's InitProducerId to abort; failed: aborted
	// because a record failed.
	abandoned, failed bool
	err               string // the error that made it aborted or unknown
	// killsAtBegin and killsAtEnd bracket the transaction in kills.
	killsAtBegin, killsAtEnd int64
}

// txnTracker records every transaction and its outcome.
type txnTracker struct {
	kills       atomic.Int64
	recreations atomic.Int64 // new clients after errors

	mu struct {
		sync.Mutex
		txns  map[txnKey]*txnInfo
		ended int
		count [4]int // by outcome
	}
}

func newTxnTracker() *txnTracker {
	tr := &txnTracker{}
	tr.mu.txns = map[txnKey]*txnInfo{}
	return tr
}

func (tr *txnTracker) begin(k txnKey, records []txnRecord) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.mu.txns[k] = &txnInfo{records: records, killsAtBegin: tr.kills.Load()}
}

func (tr *txnTracker) end(k txnKey, o outcome, failed bool, err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	ti := tr.mu.txns[k]
	ti.outcome, ti.failed, ti.killsAtEnd = o, failed, tr.kills.Load()
	if err != nil {
		ti.err = err.Error()
	}
	tr.mu.ended++
	tr.mu.count[o]++
}

// abandon ends transaction k as aborted without a word to the
// coordinator: its producer goes away.
func (tr *txnTracker) abandon(k txnKey, err error) {
	tr.end(k, aborted, err != nil, err)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.mu.txns[k].abandoned = true
}

// errAbandoned is what txn returns for a transaction it abandoned.
var errAbandoned = errors.New("txncrash: transaction abandoned")

func (tr *txnTracker) ended() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.mu.ended
}

func (tr *txnTracker) summary() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	records, failed, abandoned := 0, 0, 0
	for _, ti := range tr.mu.txns {
		records += len(ti.records)
		if ti.failed {
			failed++
		}
		if ti.abandoned {
			abandoned++
		}
	}
	return fmt.Sprintf("%d transactions ended (%d committed, %d aborted of which %d after a failure and %d abandoned, %d unknown), %d records in them, %d new clients after errors",
		tr.mu.ended, tr.mu.count[committed], tr.mu.count[aborted], failed, abandoned, tr.mu.count[unknown], records, tr.recreations.Load())
}

// awaitEnded waits until n transactions have ended, failing the test if
// the broker exits or nothing happens for progressDeadline.
func (tr *txnTracker) awaitEnded(t *testing.T, c *cluster, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d transactions ended", n), func() (bool, string) {
		if r := c.nodes[0].current(); r.Exited() {
			t.Fatalf("%s exited by itself: %v", r.Name, r.State())
		}
		return tr.ended() >= n, tr.summary()
	})
}

// txnProducer is producer g's loop.
type txnProducer struct {
	t   *testing.T
	c   *cluster
	g   int
	rng *rand.Rand
	tr  *txnTracker
}

func (p *txnProducer) newClient() *kgo.Client {
	cl, err := kgo.NewClient(append(p.c.clientOpts(),
		kgo.TransactionalID(fmt.Sprintf("txncrash-%d", p.g)),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		// A record not written within this fails, and its transaction
		// is aborted: a safety net against a hang, longer than a
		// restart takes.
		kgo.RecordDeliveryTimeout(time.Minute),
	)...)
	if err != nil {
		p.t.Error(err)
		return nil
	}
	return cl
}

// run runs transactions until stop is closed and the last one ended
// without an error.
func (p *txnProducer) run(stop <-chan struct{}) {
	cl := p.newClient()
	if cl == nil {
		return
	}
	defer func() { cl.Close() }()
	failures, afterStop := 0, 0
	for n := 0; ; n++ {
		select {
		case <-stop:
			if failures == 0 {
				return
			}
			if afterStop++; afterStop > 20 {
				p.t.Errorf("producer %d: no transaction ended cleanly in 20 tries after the stop", p.g)
				return
			}
		default:
		}
		err := p.txn(cl, n)
		if errors.Is(err, errAbandoned) {
			// A restarted application: a new client whose
			// InitProducerId (Java's initTransactions) fences the
			// abandoned transaction and aborts it.
			cl.Close()
			if cl = p.newClient(); cl == nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), progressDeadline)
			_, _, err = cl.ProducerID(ctx)
			cancel()
			if err == nil {
				continue
			}
		}
		if err == nil {
			failures = 0
			continue
		}
		failures++
		if failures >= 2 || errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
			cl.Close()
			if cl = p.newClient(); cl == nil {
				return
			}
			p.tr.recreations.Add(1)
		}
	}
}

// txn runs transaction n and returns the first error it met.
func (p *txnProducer) txn(cl *kgo.Client, n int) error {
	k := txnKey{p.g, n}
	parts := p.rng.Perm(txnPartitions)[:2+p.rng.IntN(3)]
	var recs []txnRecord
	for _, part := range parts {
		for range 1 + p.rng.IntN(4) {
			recs = append(recs, txnRecord{partition: int32(part)})
		}
	}
	for i := range recs {
		recs[i].value = fmt.Sprintf("%d:%d:%d:%d", p.g, n, i, len(recs))
	}
	// Commit three in four, abort most others, abandon one in forty.
	how := p.rng.IntN(40)
	wantCommit, abandon := how >= 10, how == 0
	p.tr.begin(k, recs)

	ctx, cancel := context.WithTimeout(context.Background(), progressDeadline)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		p.tr.end(k, aborted, true, err)
		return err
	}
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		produceErr error
	)
	for _, r := range recs {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: txnTopic, Partition: r.partition, Value: []byte(r.value)}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				if produceErr == nil {
					produceErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if abandon {
		p.tr.abandon(k, produceErr)
		return errAbandoned
	}
	if produceErr != nil || !wantCommit {
		err := cl.EndTransaction(ctx, kgo.TryAbort)
		if produceErr != nil {
			err = errors.Join(produceErr, err)
		}
		p.tr.end(k, aborted, produceErr != nil, err)
		return err
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		p.tr.end(k, unknown, false, err)
		// kgo's documented recovery: the abort after an unknown outcome
		// re-initializes the producer id, fencing whatever is open.
		return errors.Join(err, cl.EndTransaction(ctx, kgo.TryAbort))
	}
	p.tr.end(k, committed, false, nil)
	return nil
}

// verify checks the final read_committed log and what the concurrent
// consumer saw against the transactions' outcomes.
func (tr *txnTracker) verify(final, seen map[int32][]consumed) (figures string, problems []string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// present[k][i] counts record i of transaction k in the final log.
	present := map[txnKey]map[int]int{}
	for p, recs := range final {
		for _, r := range recs {
			var g, n, i, total int
			if _, err := fmt.Sscanf(r.value, "%d:%d:%d:%d", &g, &n, &i, &total); err != nil {
				fail("partition %d offset %d: %q was never produced", p, r.offset, r.value)
				continue
			}
			k := txnKey{g, n}
			ti, ok := tr.mu.txns[k]
			if !ok || i < 0 || i >= len(ti.records) || ti.records[i].partition != p || ti.records[i].value != r.value {
				fail("partition %d offset %d: %q was never produced to this partition", p, r.offset, r.value)
				continue
			}
			if present[k] == nil {
				present[k] = map[int]int{}
			}
			present[k][i]++
			if present[k][i] == 2 {
				fail("partition %d offset %d: %q appears twice (transaction %s, %s)", p, r.offset, r.value, k, ti.outcome)
			}
		}
	}
	// In each partition, a transaction's records keep the order they
	// were produced in.
	for p, recs := range final {
		last := map[txnKey]int{}
		for _, r := range recs {
			var g, n, i, total int
			if _, err := fmt.Sscanf(r.value, "%d:%d:%d:%d", &g, &n, &i, &total); err != nil {
				continue
			}
			k := txnKey{g, n}
			if prev, ok := last[k]; ok && i < prev {
				fail("partition %d offset %d: record %d of transaction %s after its record %d", p, r.offset, i, k, prev)
			}
			last[k] = i
		}
	}
	var unknownPresent, unknownAbsent int
	for _, k := range slices.SortedFunc(maps.Keys(tr.mu.txns), func(a, b txnKey) int {
		if a.g != b.g {
			return a.g - b.g
		}
		return a.n - b.n
	}) {
		ti := tr.mu.txns[k]
		got := len(present[k])
		what := fmt.Sprintf("transaction %s (%s, %d records, kills %d..%d, error %q)", k, ti.outcome, len(ti.records), ti.killsAtBegin, ti.killsAtEnd, ti.err)
		switch ti.outcome {
		case committed:
			if got != len(ti.records) {
				fail("%s: %d of its records are in the log, want all: missing %v", what, got, missingRecords(ti, present[k]))
			}
		case aborted:
			if got != 0 {
				fail("%s: %d of its records are visible to read_committed, want none", what, got)
			}
		case unknown:
			switch got {
			case 0:
				unknownAbsent++
			case len(ti.records):
				unknownPresent++
			default:
				fail("%s: %d of its records are in the log, want all or none: missing %v", what, got, missingRecords(ti, present[k]))
			}
		default:
			fail("%s: never ended", what)
		}
	}

	// The concurrent consumer read the same partitions up to the same
	// sentinels: it must have seen exactly the final log, so it never
	// saw a record that is now absent (an aborted transaction exposed,
	// or a committed offset rewritten) and saw no transaction in part.
	partial := map[txnKey]int{}
	for p := range int32(txnPartitions) {
		byOffset := map[int64]string{}
		for _, r := range final[p] {
			byOffset[r.offset] = r.value
		}
		seenOffsets := map[int64]bool{}
		for _, r := range seen[p] {
			if seenOffsets[r.offset] {
				fail("concurrent consumer: partition %d offset %d (%q) delivered twice", p, r.offset, r.value)
			}
			seenOffsets[r.offset] = true
			if v, ok := byOffset[r.offset]; !ok || v != r.value {
				fail("concurrent consumer saw %q at partition %d offset %d, the final log has %q there (present %v)", r.value, p, r.offset, v, ok)
			}
		}
		for _, r := range final[p] {
			if !seenOffsets[r.offset] {
				fail("concurrent consumer skipped %q at partition %d offset %d, which the final log has", r.value, p, r.offset)
				var g, n, i, total int
				if _, err := fmt.Sscanf(r.value, "%d:%d:%d:%d", &g, &n, &i, &total); err == nil {
					partial[txnKey{g, n}]++
				}
			}
		}
	}
	for k, n := range partial {
		if n < len(present[k]) {
			fail("concurrent consumer saw transaction %s in part: %d of its %d records", k, len(present[k])-n, len(present[k]))
		}
	}
	if tr.mu.count[committed] == 0 {
		fail("no transaction committed")
	}
	figures = fmt.Sprintf("of the unknown transactions %d are in the log whole, %d absent", unknownPresent, unknownAbsent)
	return figures, problems
}

func missingRecords(ti *txnInfo, present map[int]int) []string {
	var out []string
	for i, r := range ti.records {
		if present[i] == 0 {
			out = append(out, fmt.Sprintf("%s@%d", r.value, r.partition))
		}
	}
	return out
}

// consumed is a record a consumer returned.
type consumed struct {
	offset int64
	value  string
}

func countRecords(m map[int32][]consumed) int {
	n := 0
	for _, rs := range m {
		n += len(rs)
	}
	return n
}

// reportErrorLines logs the level=ERROR lines of the processes (a few).
func reportErrorLines(t *testing.T, lines []string) {
	if len(lines) == 0 {
		return
	}
	sort.Strings(lines)
	t.Logf("%d level=ERROR lines in the processes' logs, e.g.:", len(lines))
	for _, l := range lines[:min(len(lines), 10)] {
		t.Log(strings.TrimSpace(l))
	}
}
