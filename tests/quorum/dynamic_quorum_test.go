package quorum

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/cli"
	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/node"
	"github.com/gregor-streaming/gregor/internal/storage"
	"github.com/gregor-streaming/gregor/internal/testnet"
	"github.com/gregor-streaming/gregor/internal/uuid"
)

// dynNode is one process of a dynamic-quorum test cluster: its
// properties file and, while running, its node.
type dynNode struct {
	id    int32
	props string // the server.properties path
	dir   string
	addr  string // its one listener's bound address
	ln    net.Listener
	n     *node.Node
	// isBroker: a broker-only node.
	isBroker bool
}

// dynCluster runs nodes of a dynamic quorum (KIP-853) in-process, each
// formatted and configured as an operator would: server.properties
// files, kafka-storage format, kafka-metadata-quorum.
type dynCluster struct {
	t         *testing.T
	dir       string
	clusterID string
	nodes     map[int32]*dynNode
}

func newDynCluster(t *testing.T) *dynCluster {
	// The directory first: cleanups run last-registered first, so the
	// nodes are closed before it is removed.
	c := &dynCluster{t: t, dir: t.TempDir(), clusterID: uuid.Format(uuid.New()), nodes: map[int32]*dynNode{}}
	t.Cleanup(func() {
		// Brokers first, while the controllers can still answer their
		// controlled shutdown.
		ids := slices.Sorted(maps.Keys(c.nodes))
		slices.SortStableFunc(ids, func(a, b int32) int {
			return boolInt(c.nodes[a].isBroker) - boolInt(c.nodes[b].isBroker)
		})
		slices.Reverse(ids)
		for _, id := range ids {
			n := c.nodes[id]
			if n.n != nil {
				n.n.Close()
			}
			if n.ln != nil {
				n.ln.Close()
			}
		}
	})
	return c
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tool runs a Kafka tool in-process and returns its output.
func (c *dynCluster) tool(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdout: &out, Stderr: &errOut}
	code := cli.Run(context.Background(), env, args)
	return out.String(), errOut.String(), code
}

func (c *dynCluster) mustTool(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.tool(args...)
	if code != 0 {
		c.t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

// addNode writes node id's server.properties (roles, its listener bound
// on a free port, the bootstrap servers, which bootstrap returns given
// that port) and formats its log dir with formatFlags.
func (c *dynCluster) addNode(id int32, roles string, bootstrap func(self string) []string, formatFlags ...string) *dynNode {
	c.t.Helper()
	ln, err := testnet.Listen()
	if err != nil {
		c.t.Fatal(err)
	}
	d := &dynNode{id: id, dir: filepath.Join(c.dir, fmt.Sprint(id)), addr: ln.Addr().String(), ln: ln, isBroker: roles == "broker"}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	listener := "CONTROLLER://" + d.addr
	if roles == "broker" {
		listener = "PLAINTEXT://" + d.addr
	}
	props := []string{
		"process.roles=" + roles,
		fmt.Sprintf("node.id=%d", id),
		"listeners=" + listener,
		"controller.listener.names=CONTROLLER",
		"controller.quorum.bootstrap.servers=" + strings.Join(bootstrap(d.addr), ","),
		"controller.quorum.election.timeout.ms=500",
		"broker.heartbeat.interval.ms=250",
		"broker.session.timeout.ms=2500",
		"offsets.topic.replication.factor=1",
		"log.dirs=" + filepath.Join(d.dir, "logs"),
	}
	if roles == "broker" {
		props = append(props, "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT")
	}
	d.props = filepath.Join(d.dir, "server.properties")
	if err := os.WriteFile(d.props, []byte(strings.Join(props, "\n")+"\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.mustTool(append([]string{"kafka-storage", "format", "-t", c.clusterID, "-c", d.props}, formatFlags...)...)
	c.nodes[id] = d
	return d
}

// start starts node id from its properties file.
func (c *dynCluster) start(id int32) {
	c.t.Helper()
	d := c.nodes[id]
	b, err := config.Load(d.props, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	listen := func(network, addr string) (net.Listener, error) {
		if ln := d.ln; ln != nil && addr == d.addr {
			d.ln = nil
			return ln, nil
		}
		return net.Listen(network, addr)
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("KAFKATEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", id)
	}
	n, err := node.New(b, node.Options{Logger: logger, Listen: listen})
	if err != nil {
		c.t.Fatalf("node %d: %v", id, err)
	}
	if err := n.Start(); err != nil {
		n.Close()
		c.t.Fatalf("start node %d: %v", id, err)
	}
	d.n = n
}

func (c *dynCluster) stop(id int32) {
	c.t.Helper()
	if err := c.nodes[id].n.Close(); err != nil {
		c.t.Logf("close node %d: %v", id, err)
	}
	c.nodes[id].n = nil
}

// kill stops node id as a crash would (node.Kill).
func (c *dynCluster) kill(id int32) {
	c.t.Helper()
	if err := c.nodes[id].n.Kill(); err != nil {
		c.t.Logf("kill node %d: %v", id, err)
	}
	c.nodes[id].n = nil
}

// leader waits until the running controllers among ids agree on a
// leader among them, and returns it.
func (c *dynCluster) leader(ids ...int32) int32 {
	c.t.Helper()
	var leader int32
	waitFor(c.t, fmt.Sprintf("a metadata quorum leader among %v", ids), func() (bool, string) {
		leader = c.nodes[ids[0]].n.ActiveController()
		for _, id := range ids {
			if got := c.nodes[id].n.ActiveController(); got != leader {
				return false, fmt.Sprintf("node %d says %d, node %d says %d", ids[0], leader, id, got)
			}
		}
		return slices.Contains(ids, leader), fmt.Sprintf("leader %d", leader)
	})
	return leader
}

// voters returns the voters node id's quorum status lists.
func (c *dynCluster) voters(id int32) []int32 {
	qs, _ := c.nodes[id].n.QuorumStatus()
	var out []int32
	for _, v := range qs.Voters {
		out = append(out, v.ID)
	}
	return out
}

func metaDirID(t *testing.T, d *dynNode) string {
	t.Helper()
	m, err := storage.ReadMetaProperties(filepath.Join(d.dir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	return m.DirectoryID
}

// createTopicVia creates topic through broker addr (forwarded to the active
// controller) and waits until the broker's metadata has it.
func createTopicVia(t *testing.T, addr, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitFor(t, "topic "+topic+" created", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		resp, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
		if err != nil && resp.Err == nil {
			return false, err.Error()
		}
		if resp.Err != nil && !strings.Contains(resp.Err.Error(), "TOPIC_ALREADY_EXISTS") {
			return false, resp.Err.Error()
		}
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		return md.Topics.Has(topic) && md.Topics[topic].Err == nil, fmt.Sprintf("metadata %+v", md.Topics[topic])
	})
}

// The KIP-853 flow end to end, as an operator runs it: controller 1 is
// formatted --standalone and leads alone; controllers 2 and 3 are
// formatted --no-initial-controllers, started, and added with
// kafka-metadata-quorum add-controller; a broker that knows only the
// bootstrap servers follows the metadata log; controller 1 dies and the
// quorum of 2 and 3 carries on; controller 1 is removed with
// remove-controller; a restarted controller keeps the voter set.
func TestDynamicQuorum(t *testing.T) {
	c := newDynCluster(t)
	// The bootstrap servers are the controllers started so far:
	// controller 1 names itself, the later ones name controller 1, as
	// Kafka's documentation does.
	self := func(addr string) []string { return []string{addr} }
	c1 := c.addNode(1, "controller", self, "--standalone")
	c.start(1)
	if l := c.leader(1); l != 1 {
		t.Fatalf("standalone leader %d", l)
	}
	if v := c.voters(1); !slices.Equal(v, []int32{1}) {
		t.Fatalf("voters after --standalone: %v", v)
	}

	first := func(string) []string { return []string{c1.addr} }
	c2 := c.addNode(2, "controller", first, "--no-initial-controllers")
	c3 := c.addNode(3, "controller", first, "--no-initial-controllers")
	c.start(2)
	c.start(3)

	// A broker that knows only the bootstrap servers.
	b := c.addNode(100, "broker", func(string) []string { return []string{c1.addr, c2.addr, c3.addr} })
	c.start(100)

	for _, d := range []*dynNode{c2, c3} {
		out := c.mustTool("kafka-metadata-quorum", "--bootstrap-controller", c1.addr, "--command-config", d.props, "add-controller")
		want := fmt.Sprintf("Added controller %d with directory id %s and endpoints: CONTROLLER://%s\n", d.id, metaDirID(t, d), d.addr)
		if out != want {
			t.Fatalf("add-controller %d = %q, want %q", d.id, out, want)
		}
	}
	waitFor(t, "three voters everywhere", func() (bool, string) {
		for _, id := range []int32{1, 2, 3} {
			if v := c.voters(id); !slices.Equal(v, []int32{1, 2, 3}) {
				return false, fmt.Sprintf("node %d: voters %v", id, v)
			}
		}
		return true, ""
	})
	// Adding a voter twice is Kafka's DUPLICATE_VOTER.
	if out, errOut, code := c.tool("kafka-metadata-quorum", "--bootstrap-controller", c1.addr, "--command-config", c2.props, "add-controller"); code != 1 ||
		!strings.Contains(errOut, "org.apache.kafka.common.errors.DuplicateVoterException: The voter id for ReplicaKey(id=2") {
		t.Fatalf("adding controller 2 again: exit %d\n%s%s", code, out, errOut)
	}

	// describe --status lists the voters with their directory ids and
	// endpoints, through a controller and through the broker.
	var voterJSON []string
	for _, d := range []*dynNode{c1, c2, c3} {
		voterJSON = append(voterJSON, fmt.Sprintf(`{"id": %d, "directoryId": "%s", "endpoints": ["CONTROLLER://%s"]}`, d.id, metaDirID(t, d), d.addr))
	}
	wantVoters := "CurrentVoters:          [" + strings.Join(voterJSON, ", ") + "]\n"
	for _, bs := range [][]string{{"--bootstrap-controller", c3.addr}, {"--bootstrap-server", b.addr}} {
		out := c.mustTool(append(append([]string{"kafka-metadata-quorum"}, bs...), "describe", "--status")...)
		if !strings.Contains(out, wantVoters) || !strings.Contains(out, "ClusterId:              "+c.clusterID+"\n") {
			t.Fatalf("%v describe --status =\n%s\nwant a line\n%s", bs, out, wantVoters)
		}
		if !regexp.MustCompile(`CurrentObservers:       \[.*\{"id": 100\}.*\]`).MatchString(out) {
			t.Errorf("%v describe --status lacks the broker among the observers:\n%s", bs, out)
		}
	}
	createTopicVia(t, b.addr, "before")

	// Controller 1 dies; 2 and 3 elect a leader and the broker follows.
	c.kill(1)
	leader := c.leader(2, 3)
	createTopicVia(t, b.addr, "without-1")
	waitFor(t, "the broker to follow the new leader", func() (bool, string) {
		got := c.nodes[100].n.ActiveController()
		return got == leader, fmt.Sprintf("broker's active controller %d, leader %d", got, leader)
	})

	// Remove controller 1 for good.
	out := c.mustTool("kafka-metadata-quorum", "--bootstrap-controller", c2.addr+","+c3.addr, "remove-controller",
		"--controller-id", "1", "--controller-directory-id", metaDirID(t, c1))
	if want := "Removed  KRaft controller 1 with directory id " + metaDirID(t, c1) + "\n"; out != want {
		t.Fatalf("remove-controller = %q, want %q", out, want)
	}
	waitFor(t, "two voters", func() (bool, string) {
		for _, id := range []int32{2, 3} {
			if v := c.voters(id); !slices.Equal(v, []int32{2, 3}) {
				return false, fmt.Sprintf("node %d: voters %v", id, v)
			}
		}
		return true, ""
	})
	if _, errOut, code := c.tool("kafka-metadata-quorum", "--bootstrap-server", b.addr, "remove-controller",
		"--controller-id", "1", "--controller-directory-id", metaDirID(t, c1)); code != 1 || !strings.Contains(errOut, "VoterNotFoundException") {
		t.Fatalf("removing controller 1 again: exit %d: %s", code, errOut)
	}

	// A restarted controller keeps the voter set, and the quorum its
	// leader.
	other := int32(2)
	if leader == 2 {
		other = 3
	}
	c.stop(other)
	c.start(other)
	c.leader(2, 3)
	if v := c.voters(other); !slices.Equal(v, []int32{2, 3}) {
		t.Fatalf("voters after restarting %d: %v", other, v)
	}
	createTopicVia(t, b.addr, "after-restart")
}
