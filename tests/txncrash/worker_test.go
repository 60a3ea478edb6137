package txncrash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/testproc"
)

// workerEnv names the environment variable that turns the test binary
// into a transform worker: its value is the worker's JSON config.
const workerEnv = "GREGOR_TXNCRASH_WORKER"

// workerConfig is what a worker process is told.
type workerConfig struct {
	Brokers         []string
	TransactionalID string
	Group           string
	Input, Output   string
	// MaxRecords bounds the records of one transaction; each poll takes
	// a random number up to it.
	MaxRecords int
	Seed       uint64
}

// Lines a worker prints on stderr.
const (
	workerReadyLine = "worker started"
	workerEndFormat = "txn end committed=%t records=%d err=%q"
)

var workerEndRE = regexp.MustCompile(`txn end committed=(true|false) records=(\d+) err="(.*)"$`)

// logf prints a line of the worker's log, timestamped as the brokers'
// are (UTC), so that the two can be read side by side.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "time=%s %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), fmt.Sprintf(format, args...))
}

// transform is the output of input record r: the same partition, the
// value "n@partition/offset".
func transform(r *kgo.Record, output string) *kgo.Record {
	return &kgo.Record{
		Topic:     output,
		Partition: r.Partition,
		Key:       r.Key,
		Value:     fmt.Appendf(nil, "%s@%d/%d", r.Value, r.Partition, r.Offset),
	}
}

// runWorker is the worker process: the consume-transform-produce loop
// of kgo's GroupTransactSession (KIP-447), until SIGTERM. It returns the
// exit status.
func runWorker(raw string) int {
	var cfg workerConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		logf("worker: bad config: %v", err)
		return 2
	}
	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x3a))
	newSession := func() *kgo.GroupTransactSession {
		for {
			s, err := kgo.NewGroupTransactSession(
				kgo.SeedBrokers(cfg.Brokers...),
				kgo.TransactionalID(cfg.TransactionalID),
				kgo.ConsumerGroup(cfg.Group),
				kgo.ConsumeTopics(cfg.Input),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()),
				kgo.RecordPartitioner(kgo.ManualPartitioner()),
				kgo.SessionTimeout(6*time.Second),
				kgo.HeartbeatInterval(time.Second),
				kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
				kgo.RecordDeliveryTimeout(time.Minute),
				kgo.FetchMaxWait(300*time.Millisecond),
				kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelWarn, func() string {
					return "time=" + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " kgo: "
				})),
			)
			if err != nil {
				logf("worker: new session: %v", err)
				time.Sleep(time.Second)
				continue
			}
			// Java's initTransactions: InitProducerId before consuming
			// fences the predecessor with the same transactional.id and
			// aborts its open transaction. Without it, a successor
			// waits for the group's offsets (require_stable answers
			// UNSTABLE_OFFSET_COMMIT while the predecessor's
			// transaction is open) until that transaction times out.
			for stop.Err() == nil {
				ctx, cancel := context.WithTimeout(stop, 30*time.Second)
				id, epoch, err := s.Client().ProducerID(ctx)
				cancel()
				if err == nil {
					logf("producer id %d epoch %d", id, epoch)
					break
				}
				logf("worker: init producer id: %v", err)
				time.Sleep(100 * time.Millisecond)
			}
			return s
		}
	}
	s := newSession()
	logf(workerReadyLine)
	for stop.Err() == nil {
		fs := s.PollRecords(stop, 1+rng.IntN(cfg.MaxRecords))
		if stop.Err() != nil {
			break
		}
		fs.EachError(func(topic string, p int32, err error) {
			logf("fetch %s-%d: %v", topic, p, err)
		})
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		if err := transact(s, recs, cfg.Output); err != nil {
			// kgo: no error End returns is retryable; a new session
			// (InitProducerId with the same transactional.id) fences
			// and aborts whatever the old one left.
			s.Close()
			s = newSession()
		}
	}
	s.Close()
	logf("worker stopped")
	return 0
}

// transact transforms recs in one transaction and reports its end.
func transact(s *kgo.GroupTransactSession, recs []*kgo.Record, output string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Begin(); err != nil {
		logf(workerEndFormat, false, len(recs), "begin: "+err.Error())
		return err
	}
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		produceErr error
	)
	for _, r := range recs {
		wg.Add(1)
		s.Produce(ctx, transform(r, output), func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				produceErr = errors.Join(produceErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	how := kgo.TryCommit
	if produceErr != nil {
		how = kgo.TryAbort
	}
	// After an abort (or a commit End turned into one) the session
	// rewinds to the committed offsets and goes on; only End's own
	// error means a new session.
	committed, endErr := s.End(ctx, how)
	errText := ""
	if err := errors.Join(produceErr, endErr); err != nil {
		errText = err.Error()
	}
	logf(workerEndFormat, committed, len(recs), errText)
	return endErr
}

// worker is a transform worker slot: its processes, one at a time.
type worker struct {
	cfg  workerConfig
	runs []*process
}

func (w *worker) current() *process { return w.runs[len(w.runs)-1] }

// start starts a new process of the worker and waits until it runs.
func (w *worker) start(t *testing.T) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), workerEnv+"="+string(raw))
	name := fmt.Sprintf("worker %s run %d", w.cfg.TransactionalID, len(w.runs))
	p := testproc.Start(t, name, cmd, func(l string) bool { return strings.HasSuffix(l, " "+workerReadyLine) })
	w.runs = append(w.runs, p)
	t.Cleanup(func() { stopAtCleanup(t, p) })
	p.AwaitReady(t, startDeadline)
}

// workerStats sums the transaction ends the workers' processes printed.
type workerStats struct {
	committed, notCommitted, errors, records int
	errs                                     map[string]int
}

func collectWorkerStats(workers []*worker) workerStats {
	st := workerStats{errs: map[string]int{}}
	for _, w := range workers {
		for _, p := range w.runs {
			for _, l := range p.Lines() {
				m := workerEndRE.FindStringSubmatch(l)
				if m == nil {
					continue
				}
				n, _ := strconv.Atoi(m[2])
				if m[1] == "true" {
					st.committed++
					st.records += n
				} else {
					st.notCommitted++
				}
				if m[3] != "" {
					st.errors++
					st.errs[m[3]]++
				}
			}
		}
	}
	return st
}

func (st workerStats) String() string {
	return fmt.Sprintf("workers: %d transactions committed (%d records), %d not committed, %d with errors",
		st.committed, st.records, st.notCommitted, st.errors)
}
