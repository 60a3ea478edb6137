// Package fault is the cluster fault harness: it runs a three-node Gregor
// cluster as three real `gregor server` processes (each node broker and
// controller, as config/cluster/ does) on loopback ports of its own,
// writes to a topic with replication factor 3 and min.insync.replicas=2
// with acks=all while it SIGKILLs and restarts nodes (the active
// controller among them), SIGSTOPs/SIGCONTs them and cuts them off the
// network (a random node, a partition's leader, the active controller),
// and then checks the log against what was acknowledged and what a
// concurrent consumer saw.
//
// The default run is short (about 40 s) and runs with `go test`. Set
// GREGOR_FAULT_DURATION (a Go duration, e.g. 5m) for a soak run, and
// GREGOR_FAULT_SEED to replay a run's fault schedule (the interleaving
// with the client still varies).
//
// Network partitions: every connection one node opens to another goes
// through a fault proxy (internal/faultproxy) of that directed link, so
// the harness can cut a node off from its peers while clients still
// reach every node directly. Two kinds of traffic cross between nodes:
//
//   - Raft and the controller RPCs (BrokerRegistration, BrokerHeartbeat,
//     AlterPartition, forwarded admin requests) go to the controller
//     listener named in controller.quorum.voters. That list is each
//     node's own config, so node i names, for every peer j, the proxy of
//     link i→j (its own entry stays its real listener).
//
//   - Replica fetches go to the leader's endpoint on the follower's
//     inter.broker.listener.name, as advertised in the leader's broker
//     registration (the same for every reader). So each node binds one
//     replication listener per source node, REPLICATION_FROM_k, and
//     advertises it at the proxy of link k→i; node k sets
//     inter.broker.listener.name=REPLICATION_FROM_k, so its fetches from
//     node i take link k→i. Kafka allows the inter-broker listener to
//     differ between brokers; each looks its own name up in the others'
//     registrations.
//
// So node i's listeners are reached like this:
//
//	                      ┌──────────── node i ─────────────────────────┐
//	clients ─────────────▶│ PLAINTEXT (direct, advertised as itself)    │
//	node k ─▶ proxy k→i ─▶│ CONTROLLER (voters of node k name the proxy)│
//	node k ─▶ proxy k→i ─▶│ REPLICATION_FROM_k (advertised as the proxy)│
//	                      └─────────────────────────────────────────────┘
//
// A link is the connections one node dials to another, and a cut link
// stops them in both directions. What the harness can make, then
// (faultproxy.Network.Isolate with a Direction, in any Mode):
//
//   - full isolation of one node from the other two (Both): no Raft
//     either way, no heartbeats, no fetches to or from it, while
//     clients still produce to it and fetch from it. Isolating a
//     partition leader this way is Kafka's classic case: the old leader
//     keeps taking acks=all writes that no follower fetches, which must
//     time out and never be acknowledged, while the controller fences it
//     (broker.session.timeout.ms) and elects a new leader from the ISR;
//     after the heal it truncates to the new leader's log and rejoins
//     the ISR. Isolating the active controller makes its Raft leadership
//     lapse (CheckQuorum) and the other two elect a new one.
//   - a one-way cut, outbound (the node's own dials: its Raft messages,
//     heartbeats, AlterPartition and fetches fail, while the others'
//     Raft messages and fetches reach it) or inbound (the reverse: it
//     heartbeats and fetches but nobody fetches from it or reaches its
//     Raft listener).
//   - by mode: connections stall (Stall, resuming on heal), or are reset
//     and new ones stall (Blackhole), or are reset and refused (Refuse).
//
// The wiring cannot cut a node off from the clients (they dial it
// directly). It could do more than the schedule does: cut a single pair
// of nodes (faultproxy.Network.Cut: a partial partition where 1 and 2
// each still reach 3), or a pair's controller traffic apart from its
// replication traffic (each is its own proxy).
//
// TestMain builds the gregor binary once (with -race when the test binary
// has it). Each node's stderr (slog text) is kept and checked for panics
// and race reports.
package fault

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/faultproxy"
	"github.com/gregor-streaming/gregor/internal/testnet"
	"github.com/gregor-streaming/gregor/internal/testproc"
)

// gregorBin is the binary TestMain built.
var gregorBin string

func TestMain(m *testing.M) {
	testproc.Main(m, "fault", testproc.Binary{Name: "gregor-faulttest", Package: testproc.GregorPackage, Path: &gregorBin})
}

// startDeadline bounds how long a start may take; a safety net, not a
// timing assertion.
const startDeadline = 90 * time.Second

// node is one cluster member: a gregor server process that can be killed,
// stopped and restarted on the same ports and log dir.
type node struct {
	t          *testing.T
	id         int
	clientAddr string
	ctrlAddr   string
	// replAddr[k] is the bound address of listener REPLICATION_FROM_k.
	replAddr map[int]string
	logDir   string
	props    string
	runs     []*run
}

// run is one process of a node, named "node <id> run <n>".
type run struct {
	*testproc.Process
	n int
}

// cluster is three quorum nodes and the proxies of the links between
// them.
type cluster struct {
	t     *testing.T
	nodes []*node
	net   *faultproxy.Network
}

// Timeouts the harness sets low, so that a partition of a few seconds
// outlasts them: a follower cut off for longer than replicaLagMs leaves
// the ISR, a broker that cannot heartbeat for sessionMs is fenced.
const (
	replicaLagMs = 4000
	sessionMs    = 4000
	heartbeatMs  = 1000
)

// replListener is the name of node k's replication listener on every
// node (see the package doc).
func replListener(k int) string { return fmt.Sprintf("REPLICATION_FROM_%d", k) }

// newCluster writes the configs of three nodes on free loopback ports,
// starts the proxies of the links between them and formats their log
// dirs with one cluster id. It starts no node.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, net: faultproxy.NewNetwork(faultproxy.Config{})}
	t.Cleanup(func() { c.net.Close() }) // after the nodes' cleanup below
	used := map[string]bool{}
	for i := 1; i <= 3; i++ {
		dir := t.TempDir()
		n := &node{t: t, id: i, clientAddr: freeAddr(t, used), ctrlAddr: freeAddr(t, used),
			replAddr: map[int]string{},
			logDir:   filepath.Join(dir, "logs"), props: filepath.Join(dir, "server.properties")}
		for k := 1; k <= 3; k++ {
			n.replAddr[k] = freeAddr(t, used)
		}
		c.nodes = append(c.nodes, n)
	}
	// link returns the proxy address of link from→to for target.
	link := func(from, to *node, target string) string {
		p, err := c.net.Link(int32(from.id), int32(to.id), target)
		if err != nil {
			t.Fatal(err)
		}
		return p.Addr()
	}
	protocols := []string{"CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"}
	for k := 1; k <= 3; k++ {
		protocols = append(protocols, replListener(k)+":PLAINTEXT")
	}
	out, err := exec.Command(gregorBin, "kafka-storage", "random-uuid").Output()
	if err != nil {
		t.Fatalf("kafka-storage random-uuid: %v", err)
	}
	clusterID := strings.TrimSpace(string(out))
	for _, n := range c.nodes {
		var voters []string
		listeners := []string{"PLAINTEXT://" + n.clientAddr, "CONTROLLER://" + n.ctrlAddr}
		advertised := slices.Clone(listeners)
		for _, peer := range c.nodes {
			ctl := peer.ctrlAddr
			if peer != n {
				ctl = link(n, peer, peer.ctrlAddr) // node n's view of peer
			}
			voters = append(voters, fmt.Sprintf("%d@%s", peer.id, ctl))
			// n's listener for fetches from peer, reached through the
			// proxy of link peer→n.
			repl := n.replAddr[peer.id]
			listeners = append(listeners, replListener(peer.id)+"://"+repl)
			if peer != n {
				repl = link(peer, n, repl)
			}
			advertised = append(advertised, replListener(peer.id)+"://"+repl)
		}
		props := strings.Join([]string{
			"process.roles=broker,controller",
			"node.id=" + strconv.Itoa(n.id),
			"controller.quorum.voters=" + strings.Join(voters, ","),
			"listeners=" + strings.Join(listeners, ","),
			"advertised.listeners=" + strings.Join(advertised, ","),
			"controller.listener.names=CONTROLLER",
			"inter.broker.listener.name=" + replListener(n.id),
			"listener.security.protocol.map=" + strings.Join(protocols, ","),
			"log.dirs=" + n.logDir,
			"default.replication.factor=3",
			"min.insync.replicas=2",
			"offsets.topic.replication.factor=3",
			"group.initial.rebalance.delay.ms=0",
			"replica.lag.time.max.ms=" + strconv.Itoa(replicaLagMs),
			"broker.session.timeout.ms=" + strconv.Itoa(sessionMs),
			"broker.heartbeat.interval.ms=" + strconv.Itoa(heartbeatMs),
		}, "\n") + "\n"
		if err := os.WriteFile(n.props, []byte(props), 0o644); err != nil {
			t.Fatal(err)
		}
		format := exec.Command(gregorBin, "kafka-storage", "format", "-t", clusterID, "-c", n.props)
		if out, err := format.CombinedOutput(); err != nil {
			t.Fatalf("format node %d: %v\n%s", n.id, err, out)
		}
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if r := n.current(); r != nil {
				if !r.Exited() {
					r.Cmd.Process.Signal(syscall.SIGCONT)
				}
				r.Close()
			}
		}
		if t.Failed() {
			for _, n := range c.nodes {
				n.dumpLogs()
			}
		}
	})
	return c
}

// bootstrap returns the client addresses of all nodes.
func (c *cluster) bootstrap() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.clientAddr)
	}
	return out
}

// freeAddr returns a free loopback address whose port lies below the
// kernel's ephemeral range when it can: while a node is down between a
// kill and its restart, a port from the ephemeral range could be handed
// to some connection, and the restart would fail to bind it.
func freeAddr(t *testing.T, used map[string]bool) string {
	for range 100 {
		addr, err := testnet.Addr()
		if err != nil {
			t.Fatal(err)
		}
		if !used[addr] {
			used[addr] = true
			return addr
		}
	}
	t.Fatal("no unused free port")
	return ""
}

func (n *node) current() *run {
	if len(n.runs) == 0 {
		return nil
	}
	return n.runs[len(n.runs)-1]
}

// running reports whether the node's current process is alive.
func (n *node) running() bool {
	r := n.current()
	return r != nil && !r.Exited()
}

var addressRE = regexp.MustCompile(`\baddress=(\S+)`)

// startAsync starts a new process of the node; wait for it with
// awaitListening.
func (n *node) startAsync() *run {
	n.t.Helper()
	r := &run{n: len(n.runs)}
	cmd := exec.Command(gregorBin, "server", n.props)
	r.Process = testproc.Start(n.t, fmt.Sprintf("node %d run %d", n.id, r.n), cmd, func(line string) bool {
		if strings.Contains(line, "msg=listening") && strings.Contains(line, "listener=PLAINTEXT") {
			m := addressRE.FindStringSubmatch(line)
			return m != nil && m[1] == n.clientAddr
		}
		return false
	})
	n.runs = append(n.runs, r)
	return r
}

// awaitListening waits for the "listening" line of the node's client
// listener.
func (n *node) awaitListening(r *run) {
	n.t.Helper()
	r.AwaitReady(n.t, startDeadline)
}

// start starts a new process and waits until it listens.
func (n *node) start() {
	n.t.Helper()
	n.awaitListening(n.startAsync())
}

// kill sends SIGKILL and waits for the process to die of it.
func (n *node) kill() {
	n.t.Helper()
	n.current().Kill(n.t)
}

// signal sends sig (SIGSTOP, SIGCONT) to the running process.
func (n *node) signal(sig syscall.Signal) {
	n.t.Helper()
	n.current().Signal(n.t, sig)
}

// dumpLogs logs the tail of every run's stderr.
func (n *node) dumpLogs() {
	for _, r := range n.runs {
		r.Dump(n.t, 40)
	}
}

// checkLogs fails the test on panics and race reports in any node's
// logs, and returns the level=ERROR lines (reported, not failed: a peer
// being killed can make a node log one).
func (c *cluster) checkLogs() (errorLines []string) {
	c.t.Helper()
	for _, n := range c.nodes {
		for _, r := range n.runs {
			for _, l := range r.Lines() {
				switch {
				case strings.Contains(l, "DATA RACE"), strings.HasPrefix(l, "panic:"), strings.HasPrefix(l, "fatal error:"):
					c.t.Errorf("node %d run %d logged: %s", n.id, r.n, l)
				case strings.Contains(l, "level=ERROR"):
					errorLines = append(errorLines, fmt.Sprintf("node %d run %d: %s", n.id, r.n, l))
				}
			}
		}
	}
	return errorLines
}

var quorumLeaderRE = regexp.MustCompile(`msg="metadata quorum leader".*\bleader=(-?\d+) term=(\d+)`)

// activeController returns the active controller as the nodes' logs tell
// it: the leader of the highest term any node logged (0 if none).
func (c *cluster) activeController() int {
	best, bestTerm := 0, -1
	for _, n := range c.nodes {
		for _, r := range n.runs {
			for _, l := range r.Lines() {
				m := quorumLeaderRE.FindStringSubmatch(l)
				if m == nil {
					continue
				}
				leader, _ := strconv.Atoi(m[1])
				term, _ := strconv.Atoi(m[2])
				if leader > 0 && term > bestTerm {
					best, bestTerm = leader, term
				}
			}
		}
	}
	return best
}

// linkStats sums the counters of the proxies of every link from or to
// node id.
func (c *cluster) linkStats(id int) faultproxy.Stats {
	var sum faultproxy.Stats
	for _, k := range c.net.Links() {
		if k.From != int32(id) && k.To != int32(id) {
			continue
		}
		p, err := c.net.Link(k.From, k.To, k.Target)
		if err != nil {
			continue // closed
		}
		st := p.Stats()
		sum.Accepted += st.Accepted
		sum.Refused += st.Refused
		sum.Dropped += st.Dropped
		sum.Open += st.Open
		sum.Forwarded += st.Forwarded
		sum.Held += st.Held
	}
	return sum
}
