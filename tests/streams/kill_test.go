// Package streams runs Gregor Streams applications as real processes and
// kills them (issue 6: "two instances split the partitions and the
// counts stay exact when one is killed").
//
// TestKillInstance runs WordCount (lines → words → repartition → count,
// 4 partitions, so 8 tasks) as two instance processes, the test binary
// started again with GREGOR_STREAMS_INSTANCE in its environment (see
// instance_test.go), against an in-process broker (kafkatest). Lines are
// produced while, in turn:
//
//  1. the instances split the tasks;
//  2. instance 2 is SIGKILLed mid-stream (no commit, no LeaveGroup; under
//     exactly_once_v2 with a transaction open) and started again on a
//     new, empty state dir, so its tasks come back restored from the
//     changelog;
//  3. instance 1 is SIGKILLed too and restarted on a wiped state dir.
//
// Under exactly_once_v2 the instances also run one standby replica of
// each count task, so the kills exercise standbys taking over.
//
// At the end the latest count of every word, read from the output topic
// (read_committed under exactly_once_v2), must equal the truth under
// exactly_once_v2 and never be below it under at_least_once.
//
//	producer ─▶ lines (4) ─▶ instance 1 ┐ group "kill-<guarantee>",
//	                         instance 2 ┘ SIGKILL and restart
//	                              │
//	                              ▼
//	counts ─▶ read_committed consumer: latest count per word vs the truth
package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/testproc"
	"github.com/gregor-streaming/gregor/kafkatest"
	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(instanceEnv); cfg != "" {
		os.Exit(runInstance(cfg))
	}
	os.Exit(m.Run())
}

// deadline bounds every wait: a liveness safety net, not a timing
// assertion.
const deadline = 60 * time.Second

func TestKillInstanceExactlyOnce(t *testing.T) { killInstance(t, streams.ExactlyOnceV2) }

func TestKillInstanceAtLeastOnce(t *testing.T) { killInstance(t, streams.AtLeastOnce) }

func killInstance(t *testing.T, g streams.Guarantee) {
	t.Parallel()
	c := kafkatest.Start(t,
		kafkatest.Config("group.initial.rebalance.delay.ms", "0"),
		kafkatest.Config("group.min.session.timeout.ms", "1000"),
		kafkatest.Config("num.partitions", "1"),
		kafkatest.Config("transaction.abort.timed.out.transaction.cleanup.interval.ms", "500"))
	addr := c.Addr()
	eos := g == streams.ExactlyOnceV2
	appID := "kill-" + strings.ReplaceAll(string(g), "_", "-")
	adm := admin(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "lines"); err != nil {
		t.Fatal(err)
	}

	// Under exactly_once_v2 each instance also keeps a standby of the
	// other's count tasks, so the kills also promote standbys.
	standbys := 0
	if eos {
		standbys = 1
	}
	cfg := instanceConfig{Brokers: []string{addr}, AppID: appID, Guarantee: g, Input: "lines", Output: "counts", Standbys: standbys}
	p1 := startInstance(t, "instance-1", cfg, t.TempDir())
	p2 := startInstance(t, "instance-2", cfg, t.TempDir())
	p1.waitRunning(t)
	p2.waitRunning(t)
	waitGroup(t, adm, appID, 2)

	prod := newProducer(t, addr)
	prod.send(t, 0, 200)
	waitOutput(t, addr, eos)

	// Kill instance 2 while lines keep coming, and bring it back on an
	// empty state dir.
	done := prod.sendAsync(t, 200, 400)
	p2.kill(t)
	<-done
	p2 = startInstance(t, "instance-2b", cfg, t.TempDir())
	p2.waitRunning(t)
	prod.send(t, 600, 200)

	// Kill instance 1 too; it comes back on a wiped state dir.
	done = prod.sendAsync(t, 800, 300)
	p1.kill(t)
	<-done
	p1 = startInstance(t, "instance-1b", cfg, t.TempDir())
	p1.waitRunning(t)
	waitGroup(t, adm, appID, 2)
	prod.send(t, 1100, 200)

	want := prod.truth()
	got := latestCounts(t, addr, eos, want)
	for w, n := range want {
		if got[w] < n {
			t.Fatalf("%s: %q under-counted: %d < %d", g, w, got[w], n)
		}
	}
	if eos {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("exactly_once_v2 counts\n got  %v\n want %v", got, want)
		}
	} else if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Logf("at_least_once: some records counted twice after the kills, as allowed")
	}
	p1.stop(t)
	p2.stop(t)
}

// instance is a running instance process; it is ready once it printed
// stateRunning.
type instance struct {
	*testproc.Process
}

var badLine = regexp.MustCompile(`panic:|DATA RACE|fatal error:|stopped on error`)

func startInstance(t *testing.T, name string, cfg instanceConfig, dir string) *instance {
	t.Helper()
	cfg.StateDir = dir
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), instanceEnv+"="+string(raw))
	p := &instance{testproc.Start(t, name, cmd, func(line string) bool { return line == stateRunning })}
	t.Cleanup(func() {
		p.Close()
		lines := p.Lines()
		for _, l := range lines {
			if badLine.MatchString(l) {
				t.Errorf("%s: %s", p.Name, l)
			}
		}
		if t.Failed() {
			from := max(0, len(lines)-40)
			t.Logf("%s stderr (last lines):\n%s", p.Name, strings.Join(lines[from:], "\n"))
		}
	})
	return p
}

func (p *instance) waitRunning(t *testing.T) {
	t.Helper()
	p.AwaitReady(t, deadline)
}

// kill sends SIGKILL and waits for the process to go.
func (p *instance) kill(t *testing.T) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
}

// stop asks the instance to close cleanly (SIGTERM) and waits.
func (p *instance) stop(t *testing.T) {
	t.Helper()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
	case <-time.After(deadline):
		t.Errorf("%s did not stop on SIGTERM", p.Name)
	}
}

func admin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// waitGroup waits until the group is stable with n members that all have
// partitions.
func waitGroup(t *testing.T, adm *kadm.Client, group string, n int) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		gs, err := adm.DescribeGroups(ctx, group)
		cancel()
		if err == nil {
			if g, ok := gs[group]; ok && g.Err == nil && g.State == "Stable" && len(g.Members) == n {
				all := true
				for _, m := range g.Members {
					if ca, ok := m.Assigned.AsConsumer(); !ok || len(ca.Topics) == 0 {
						all = false
					}
				}
				if all {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s never had %d members sharing the work", group, n)
}

// producer writes numbered lines to "lines" and keeps the truth.
type producer struct {
	cl *kgo.Client
	mu struct {
		sync.Mutex
		counts map[string]int64
	}
}

var vocab = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo", "lima", "mike"}

func line(i int) string {
	return fmt.Sprintf("%s %s %s", vocab[i%len(vocab)], vocab[(i*7+3)%len(vocab)], vocab[(i*i+i/5)%len(vocab)])
}

func newProducer(t *testing.T, addr string) *producer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("lines"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	p := &producer{cl: cl}
	p.mu.counts = map[string]int64{}
	return p
}

// send produces lines from, …, from+n-1 in batches of 20, each batch
// acknowledged before the next (so that a kill lands mid-stream).
func (p *producer) send(t *testing.T, from, n int) {
	if err := p.produce(from, n); err != nil {
		t.Error(err)
	}
}

func (p *producer) sendAsync(t *testing.T, from, n int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.send(t, from, n)
	}()
	return done
}

func (p *producer) produce(from, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for i := from; i < from+n; i += 20 {
		var recs []*kgo.Record
		for j := i; j < min(i+20, from+n); j++ {
			recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "line-%d", j), Value: []byte(line(j))})
		}
		if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return err
		}
		p.mu.Lock()
		for _, r := range recs {
			for _, w := range wordcount.Words(string(r.Value)) {
				p.mu.counts[w]++
			}
		}
		p.mu.Unlock()
	}
	return nil
}

func (p *producer) truth() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.mu.counts))
	for k, v := range p.mu.counts {
		out[k] = v
	}
	return out
}

// waitOutput waits for the first counts in the output topic.
func waitOutput(t *testing.T, addr string, committed bool) {
	t.Helper()
	latestCounts(t, addr, committed, nil)
}

// latestCounts reads the output topic from the start until the latest
// count of every word reaches want and nothing more arrives for a while
// (so that an over-count would show); with want nil, until any count
// arrives.
func latestCounts(t *testing.T, addr string, committed bool, want map[string]int64) map[string]int64 {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumeTopics("counts"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]int64{}
	end := time.Now().Add(deadline)
	var quietSince time.Time
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() > 0 || quietSince.IsZero() {
			quietSince = time.Now()
		}
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != 8 {
				t.Errorf("count of %q is %d bytes, want a long", r.Key, len(r.Value))
				return
			}
			var n int64
			for _, b := range r.Value {
				n = n<<8 | int64(b)
			}
			got[string(r.Key)] = n
		})
		if want == nil {
			if len(got) > 0 {
				return got
			}
			continue
		}
		reached := true
		for w, n := range want {
			if got[w] < n {
				reached = false
				break
			}
		}
		if reached && time.Since(quietSince) > time.Second {
			return got
		}
	}
	t.Fatalf("counts never reached the truth; last seen %v, want %v", got, want)
	return nil
}
