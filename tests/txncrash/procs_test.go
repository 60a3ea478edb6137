// Package txncrash checks exactly-once delivery (KIP-98 transactions,
// KIP-447 consume-transform-produce) while real `gregor server`
// processes are killed with SIGKILL and restarted on the same ports and
// log dirs.
//
//   - TestTransactionsUnderKills: transactional producers (franz-go kgo,
//     one transactional.id each) write transactions across several
//     partitions and commit, abort or abandon them at random while the
//     single node is killed and restarted. Each transaction's client-side
//     outcome is tracked (committed: EndTransaction(commit) returned nil;
//     aborted: the commit was never asked for; unknown: the commit
//     returned an error). At the end a read_committed consumer must find
//     every committed transaction whole, nothing of an aborted one, and
//     an unknown one whole or not at all; a read_committed consumer that
//     ran during the kills must have seen exactly the final log (never a
//     record that is later absent, never part of a transaction without
//     the rest).
//   - TestConsumeTransformProduce (one node) and
//     TestConsumeTransformProduceCluster (three nodes, replication
//     factor 3, min.insync.replicas=2, one node killed at a time: in turn
//     a transaction coordinator, the group coordinator, an output
//     partition's leader): two transform workers, each a process of its
//     own running kgo's GroupTransactSession (read_committed input,
//     output records and the group's offsets in one transaction), are fed
//     a known input while nodes and one worker are killed with SIGKILL and
//     restarted. The output read with read_committed must hold every
//     input record transformed exactly once, in the input's order per
//     partition.
//
// The transactional topics roll a segment every second (segment.ms), so
// each restart recovers logs of many segments, producer snapshots and
// aborted transaction indexes; the final read follows one more kill.
//
//	producers (txncrash-N) ──┐          ┌── worker 0, worker 1 (the test binary
//	                         ▼          ▼    run again: GroupTransactSession)
//	                      gregor node(s)  ◀── SIGKILL and restart (nodes, a worker)
//	                            │
//	                            ▼
//	   read_committed consumers: one during the kills, one at the end
//
// The runs are seeded: the seed is logged, and GREGOR_TXNCRASH_SEED
// replays a run's schedule (the interleaving of clients, processes and
// kills still varies). The default run is short; GREGOR_TXNCRASH_DURATION
// (a Go duration, e.g. 5m) keeps killing for that long (a soak run), and
// GREGOR_TXNCRASH_LOGS (a directory) keeps every process's log there.
//
// TestMain builds the gregor binary once (with -race when the test binary
// has it). A worker is the test binary itself, started again with
// GREGOR_TXNCRASH_WORKER in its environment (see worker_test.go). Each
// process's stderr is kept: panics, race reports and fatal errors fail
// the test, level=ERROR lines are reported; the tail is printed when a
// test fails. The tests run in parallel with each other.
package txncrash

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/testnet"
	"github.com/gregor-streaming/gregor/internal/testproc"
)

// gregorBin is the binary TestMain built.
var gregorBin string

func TestMain(m *testing.M) {
	if cfg := os.Getenv(workerEnv); cfg != "" {
		os.Exit(runWorker(cfg))
	}
	testproc.Main(m, "txncrash", testproc.Binary{Name: "gregor-txncrashtest", Package: testproc.GregorPackage, Path: &gregorBin})
}

// startDeadline bounds how long a process start may take; a safety net,
// not a timing assertion.
const startDeadline = 90 * time.Second

// progressDeadline bounds every wait for the clients to make progress or
// for the cluster to settle: a liveness safety net, not a timing
// assertion.
const progressDeadline = 2 * time.Minute

// schedule is a run's seed and length, from the environment.
type schedule struct {
	seed     uint64
	duration time.Duration // 0: the default, short run
}

func newSchedule(t *testing.T) schedule {
	t.Helper()
	s := schedule{seed: uint64(time.Now().UnixNano())}
	if v := os.Getenv("GREGOR_TXNCRASH_SEED"); v != "" {
		if _, err := fmt.Sscan(v, &s.seed); err != nil {
			t.Fatalf("GREGOR_TXNCRASH_SEED=%q: %v", v, err)
		}
	}
	if v := os.Getenv("GREGOR_TXNCRASH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("GREGOR_TXNCRASH_DURATION=%q: %v", v, err)
		}
		s.duration = d
	}
	t.Logf("seed %d (replay the schedule with GREGOR_TXNCRASH_SEED=%d)", s.seed, s.seed)
	return s
}

// process is one run of a program (a broker or a worker) whose stderr
// is kept.
type process = testproc.Process

// stopAtCleanup kills p if it still runs when the test ends, and keeps
// its log in $GREGOR_TXNCRASH_LOGS/<test>/ if that is set.
func stopAtCleanup(t *testing.T, p *process) {
	p.Close()
	if dir := os.Getenv("GREGOR_TXNCRASH_LOGS"); dir != "" {
		dir = filepath.Join(dir, t.Name())
		name := strings.ReplaceAll(p.Name, " ", "-") + ".log"
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(p.Lines(), "\n")+"\n"), 0o644)
		}
		if err != nil {
			t.Logf("keeping the log of %s: %v", p.Name, err)
		}
	}
}

// checkFatal fails the test on lines no healthy process may print: a
// panic, a race report, a Go runtime fatal error. It returns the
// level=ERROR lines (reported, not failed: a node whose peer or
// coordinator partition is killed can log one).
func checkFatal(t *testing.T, procs ...*process) (errorLines []string) {
	t.Helper()
	for _, p := range procs {
		for _, l := range p.Lines() {
			switch {
			case strings.Contains(l, "DATA RACE"), strings.HasPrefix(l, "panic:"), strings.HasPrefix(l, "fatal error:"):
				t.Errorf("%s logged: %s", p.Name, l)
			case strings.Contains(l, "level=ERROR"):
				errorLines = append(errorLines, p.Name+": "+l)
			}
		}
	}
	return errorLines
}

// node is one gregor server (broker and controller) that can be killed
// and restarted on the same ports and log dir.
type node struct {
	id         int
	clientAddr string
	ctrlAddr   string
	props      string
	runs       []*process
}

func (n *node) current() *process {
	if len(n.runs) == 0 {
		return nil
	}
	return n.runs[len(n.runs)-1]
}

// cluster is one or three gregor nodes, each broker and controller, as
// config/server.properties and config/cluster/ set them up.
type cluster struct {
	t     *testing.T
	nodes []*node
	kills int
}

// newCluster writes the configs of n nodes on free loopback ports and
// formats their log dirs with one cluster id; it starts none. extra
// properties are added to every node's config.
func newCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t}
	var voters []string
	for i := 1; i <= n; i++ {
		nd := &node{id: i, clientAddr: freeAddr(t), ctrlAddr: freeAddr(t),
			props: filepath.Join(t.TempDir(), "server.properties")}
		c.nodes = append(c.nodes, nd)
		voters = append(voters, fmt.Sprintf("%d@%s", i, nd.ctrlAddr))
	}
	rf := strconv.Itoa(min(n, 3))
	minISR := strconv.Itoa(min(n, 2))
	out, err := exec.Command(gregorBin, "kafka-storage", "random-uuid").Output()
	if err != nil {
		t.Fatalf("kafka-storage random-uuid: %v", err)
	}
	clusterID := strings.TrimSpace(string(out))
	for _, nd := range c.nodes {
		listeners := fmt.Sprintf("PLAINTEXT://%s,CONTROLLER://%s", nd.clientAddr, nd.ctrlAddr)
		props := append([]string{
			"process.roles=broker,controller",
			"node.id=" + strconv.Itoa(nd.id),
			"controller.quorum.voters=" + strings.Join(voters, ","),
			"listeners=" + listeners,
			"advertised.listeners=" + listeners,
			"controller.listener.names=CONTROLLER",
			"inter.broker.listener.name=PLAINTEXT",
			"listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
			"log.dirs=" + filepath.Join(filepath.Dir(nd.props), "logs"),
			"default.replication.factor=" + rf,
			"min.insync.replicas=" + minISR,
			"offsets.topic.replication.factor=" + rf,
			"transaction.state.log.replication.factor=" + rf,
			"transaction.state.log.min.isr=" + minISR,
			"group.initial.rebalance.delay.ms=0",
			// A restarted node cannot register again until the session
			// of its previous incarnation expires
			// (DUPLICATE_BROKER_REGISTRATION, as Kafka answers), and is
			// then fenced and unfenced: a shorter session than Kafka's
			// 9 s shortens that gap.
			"broker.session.timeout.ms=3000",
			"broker.heartbeat.interval.ms=500",
			// Fewer internal partitions than Kafka's 50 make each
			// restart's loading shorter and put several ids and
			// groups on one coordinator shard.
			"transaction.state.log.num.partitions=8",
			"offsets.topic.num.partitions=8",
		}, extra...)
		if err := os.WriteFile(nd.props, []byte(strings.Join(props, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		format := exec.Command(gregorBin, "kafka-storage", "format", "-t", clusterID, "-c", nd.props)
		if out, err := format.CombinedOutput(); err != nil {
			t.Fatalf("format node %d: %v\n%s", nd.id, err, out)
		}
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			for _, r := range nd.runs {
				stopAtCleanup(t, r)
			}
		}
		if t.Failed() {
			for _, nd := range c.nodes {
				for _, r := range nd.runs {
					r.Dump(t, 40)
				}
			}
		}
	})
	return c
}

// freeAddr returns a free loopback address whose port lies below the
// kernel's ephemeral range when it can: while a node is down between a
// kill and its restart, a port from the ephemeral range could be handed
// to some client connection, and the restart would fail to bind it.
//
// used holds the addresses handed out by this test binary (tests run in
// parallel): a node down between a kill and its restart leaves its port
// free, and another test must not take it.
var used struct {
	sync.Mutex
	addrs map[string]bool
}

func freeAddr(t *testing.T) string {
	used.Lock()
	defer used.Unlock()
	if used.addrs == nil {
		used.addrs = map[string]bool{}
	}
	for range 100 {
		addr, err := testnet.Addr()
		if err != nil {
			t.Fatal(err)
		}
		if !used.addrs[addr] {
			used.addrs[addr] = true
			return addr
		}
	}
	t.Fatal("no unused free port")
	return ""
}

var addressRE = regexp.MustCompile(`\baddress=(\S+)`)

// startAsync starts a new process of nd; wait for it with AwaitReady.
func (c *cluster) startAsync(nd *node) *process {
	c.t.Helper()
	cmd := exec.Command(gregorBin, "server", nd.props)
	name := fmt.Sprintf("node %d run %d", nd.id, len(nd.runs))
	p := testproc.Start(c.t, name, cmd, func(l string) bool {
		if !strings.Contains(l, "msg=listening") || !strings.Contains(l, "listener=PLAINTEXT") {
			return false
		}
		m := addressRE.FindStringSubmatch(l)
		return m != nil && m[1] == nd.clientAddr
	})
	nd.runs = append(nd.runs, p)
	return p
}

// start starts every node and waits until each listens.
func (c *cluster) start() {
	c.t.Helper()
	var ps []*process
	for _, nd := range c.nodes {
		ps = append(ps, c.startAsync(nd))
	}
	for _, p := range ps {
		p.AwaitReady(c.t, startDeadline)
	}
}

// restart kills nd with SIGKILL, waits pause, and starts it again. It
// returns once the new process is an unfenced broker: it listens at
// once, but registers only after its previous incarnation's session
// expired (DUPLICATE_BROKER_REGISTRATION until then, as in Kafka).
func (c *cluster) restart(nd *node, pause time.Duration) {
	c.t.Helper()
	nd.current().Kill(c.t)
	c.kills++
	time.Sleep(pause)
	p := c.startAsync(nd)
	p.AwaitReady(c.t, startDeadline)
	waitFor(c.t, p.Name+" unfenced", func() (bool, string) {
		if p.Exited() {
			c.t.Fatalf("%s exited by itself: %v", p.Name, p.State())
		}
		for _, l := range p.Lines() {
			if strings.Contains(l, `msg="broker fencing changed"`) && strings.Contains(l, "fenced=false") {
				return true, ""
			}
		}
		return false, "no unfencing logged"
	})
}

// bootstrap returns the client addresses of all nodes.
func (c *cluster) bootstrap() []string {
	var out []string
	for _, nd := range c.nodes {
		out = append(out, nd.clientAddr)
	}
	return out
}

// processes returns every run of every node.
func (c *cluster) processes() []*process {
	var out []*process
	for _, nd := range c.nodes {
		out = append(out, nd.runs...)
	}
	return out
}

// client is a kgo client of the cluster with short retry backoffs (a
// restarted node is found again soon), closed when the test ends.
func (c *cluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append(c.clientOpts(), opts...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

func (c *cluster) clientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(c.bootstrap()...),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
		kgo.RetryTimeout(progressDeadline),
	}
}

func (c *cluster) admin() *kadm.Client { return kadm.NewClient(c.client()) }

// createTopic creates topic with configs and waits until every
// partition has a leader and a full ISR.
func (c *cluster) createTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) {
	c.t.Helper()
	// A node listens before it has registered as a broker: until then
	// the creation finds too few brokers.
	waitFor(c.t, "create "+topic, func() (bool, string) {
		resp, err := adm.CreateTopic(ctx, partitions, -1, configs, topic)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
			return true, ""
		case errors.Is(err, kerr.InvalidReplicationFactor):
			return false, err.Error()
		}
		c.t.Fatalf("create %s: %v", topic, err)
		return false, ""
	})
	c.awaitFullISR(ctx, adm, topic)
}

// awaitFullISR waits until every partition of topics (all topics, the
// internal ones included, if none is named) has a leader and every
// replica in its ISR: a killed node has caught up again.
func (c *cluster) awaitFullISR(ctx context.Context, adm *kadm.Client, topics ...string) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("full ISRs of %v", topics), func() (bool, string) {
		var td kadm.TopicDetails
		var err error
		if len(topics) == 0 {
			td, err = adm.ListTopicsWithInternal(ctx)
		} else {
			td, err = adm.ListTopics(ctx, topics...)
		}
		if err != nil {
			return false, err.Error()
		}
		for name, d := range td {
			if d.Err != nil {
				return false, fmt.Sprintf("%s: %v", name, d.Err)
			}
			for _, p := range d.Partitions {
				if p.Err != nil || p.Leader < 0 || len(p.ISR) != len(p.Replicas) {
					return false, fmt.Sprintf("%s-%d: leader %d replicas %v isr %v err %v", name, p.Partition, p.Leader, p.Replicas, p.ISR, p.Err)
				}
			}
		}
		return len(td) > 0, "no topics"
	})
}

// rollOften is the config of a topic whose segments roll every
// second or so of appends: restarts then recover logs of many segments,
// each with its producer snapshot and aborted transaction index.
func rollOften() map[string]*string {
	ms := "1000"
	return map[string]*string{"segment.ms": &ms}
}

// waitFor polls cond until it holds, failing the test after
// progressDeadline with cond's last explanation.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(progressDeadline)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v: %s", what, progressDeadline, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
