package kafkatest

// Multi-node clusters: StartCluster starts n combined (broker,controller)
// nodes in-process, with a static controller quorum over loopback, each
// with its own data directory, as three `gregor server` processes with
// three config files would run:
//
//	c := kafkatest.StartCluster(t, 3)
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
//	...
//	c.StopNode(c.ActiveController()) // a clean stop: controlled shutdown
//	c.KillNode(2)                    // no controlled shutdown: fenced later
//	c.RestartNode(2)                 // same ports and data
//
// Node ids are 1..n. Ports are bound before the nodes start (so the
// quorum's voters can be listed) and handed to each node; a restarted
// node binds the same ports again.
//
// With SeparateControllers(m) the n nodes are broker-only
// (process.roles=broker, ids 1..n) and m controller-only nodes
// (process.roles=controller, ids 3000..3000+m-1, as Kafka's test kit
// numbers them) form the quorum, as Kafka's config/broker.properties and
// config/controller.properties run:
//
//	c := kafkatest.StartCluster(t, 3, kafkatest.SeparateControllers(3))
//	c.BrokerIDs()      // 1 2 3: Addrs lists their broker listeners
//	c.ControllerIDs()  // 3000 3001 3002
//	c.KillNode(c.ActiveController()) // any node, either kind
//
// Controllers start first; a broker's New returns once it has caught up
// with the metadata log.

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/node"
	"github.com/gregor-streaming/gregor/internal/storage"
	"github.com/gregor-streaming/gregor/internal/testnet"
	"github.com/gregor-streaming/gregor/internal/uuid"
)

// member is one node of a multi-node Cluster.
type member struct {
	id    int32
	props map[string]string
	// brokerAddr is "" on a controller-only node, controllerAddr on a
	// broker-only node.
	brokerAddr     string
	controllerAddr string
	// bound are listeners opened before the node starts, by address;
	// the node takes them through node.Options.Listen.
	bound map[string]net.Listener
	n     *node.Node // nil while stopped
}

// readyTimeout bounds how long StartCluster and RestartNode wait for
// the brokers to register and be unfenced.
const readyTimeout = 60 * time.Second

// rebindTimeout bounds how long a restarting node waits for its port
// while something else still holds it.
const rebindTimeout = 10 * time.Second

// firstControllerID is the id of the first controller-only node.
const firstControllerID = 3000

// separateControllers is the SeparateControllers option. NewCluster reads
// it from the options; it sets no property.
type separateControllers int

func (separateControllers) apply(*cfg) {}

// SeparateControllers makes StartCluster's n nodes broker-only and adds m
// controller-only nodes as the quorum (ids 3000..3000+m-1). Only
// StartCluster and NewCluster read it.
func SeparateControllers(m int) Opt { return separateControllers(m) }

// controllersOf holds the controller-only members of the clusters started
// with SeparateControllers. They are kept out of Cluster.members, every
// entry of which is a broker (Addr, Addrs and Restart walk it).
var controllersOf struct {
	sync.Mutex
	m map[*Cluster][]*member
}

// controllerMembers returns c's controller-only members.
func (c *Cluster) controllerMembers() []*member {
	controllersOf.Lock()
	defer controllersOf.Unlock()
	return controllersOf.m[c]
}

// allMembers returns the brokers (or combined nodes), then the
// controller-only nodes.
func (c *Cluster) allMembers() []*member {
	return append(slices.Clone(c.members), c.controllerMembers()...)
}

// StartCluster starts n nodes with a controller quorum of all n, or fails
// tb. It returns once every broker is registered and unfenced in every
// node's metadata. Options apply to every node. The cluster is closed at
// cleanup.
func StartCluster(tb testing.TB, n int, opts ...Opt) *Cluster {
	tb.Helper()
	c, err := NewCluster(n, opts...)
	if err != nil {
		tb.Fatalf("kafkatest: %v", err)
	}
	c.tb = tb
	tb.Cleanup(func() { c.Close() })
	return c
}

// NewCluster starts n nodes without a testing.TB; the caller must Close
// it.
func NewCluster(n int, opts ...Opt) (*Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("kafkatest: a cluster needs at least one node, not %d", n)
	}
	o := &cfg{props: map[string]string{}}
	controllers := 0
	for _, opt := range opts {
		opt.apply(o)
		if m, ok := opt.(separateControllers); ok {
			controllers = int(m)
		}
	}
	if controllers < 0 {
		return nil, fmt.Errorf("kafkatest: SeparateControllers(%d)", controllers)
	}
	if o.logger == nil {
		if os.Getenv("KAFKATEST_LOG") != "" {
			o.logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		} else {
			o.logger = slog.New(slog.DiscardHandler)
		}
	}
	ownDir := false
	if o.dir == "" {
		d, err := os.MkdirTemp("", "kafkatest-cluster-")
		if err != nil {
			return nil, err
		}
		o.dir, ownDir = d, true
	}
	c := &Cluster{log: o.logger, dir: o.dir, ownDir: ownDir}
	fail := func(err error) (*Cluster, error) {
		c.Close()
		return nil, err
	}
	clusterID := uuid.Format(uuid.New())
	bind := func(m *member, addr *string) error {
		ln, err := testnet.Listen()
		if err != nil {
			return err
		}
		*addr = ln.Addr().String()
		m.bound[*addr] = ln
		return nil
	}
	var voters []string
	var ctls []*member
	for i := 1; i <= n; i++ {
		m := &member{id: int32(i), bound: map[string]net.Listener{}}
		c.members = append(c.members, m)
		if err := bind(m, &m.brokerAddr); err != nil {
			return fail(err)
		}
		if controllers == 0 {
			if err := bind(m, &m.controllerAddr); err != nil {
				return fail(err)
			}
			voters = append(voters, fmt.Sprintf("%d@%s", i, m.controllerAddr))
		}
	}
	for i := range controllers {
		m := &member{id: int32(firstControllerID + i), bound: map[string]net.Listener{}}
		ctls = append(ctls, m)
		controllersOf.Lock()
		if controllersOf.m == nil {
			controllersOf.m = map[*Cluster][]*member{}
		}
		controllersOf.m[c] = ctls
		controllersOf.Unlock()
		if err := bind(m, &m.controllerAddr); err != nil {
			return fail(err)
		}
		voters = append(voters, fmt.Sprintf("%d@%s", m.id, m.controllerAddr))
	}
	for _, m := range c.allMembers() {
		logDir := filepath.Join(o.dir, fmt.Sprintf("node-%d", m.id))
		if err := storage.FormatLogDir(logDir, clusterID, m.id); err != nil {
			return fail(err)
		}
		var roles, listeners string
		switch {
		case m.controllerAddr == "":
			roles, listeners = "broker", "PLAINTEXT://"+m.brokerAddr
		case m.brokerAddr == "":
			roles, listeners = "controller", "CONTROLLER://"+m.controllerAddr
		default:
			roles, listeners = "broker,controller", "PLAINTEXT://"+m.brokerAddr+",CONTROLLER://"+m.controllerAddr
		}
		m.props = map[string]string{
			"node.id":                          fmt.Sprint(m.id),
			"process.roles":                    roles,
			"listeners":                        listeners,
			"controller.listener.names":        "CONTROLLER",
			"controller.quorum.voters":         strings.Join(voters, ","),
			"log.dirs":                         logDir,
			"offsets.topic.replication.factor": fmt.Sprint(min(n, 3)),
		}
		for k, v := range o.props {
			m.props[k] = v
		}
	}
	// Controllers first: a broker-only node's New waits for the
	// metadata log, which needs a quorum.
	for _, m := range append(slices.Clone(ctls), c.members...) {
		if err := c.startMember(m); err != nil {
			return fail(fmt.Errorf("node %d: %w", m.id, err))
		}
	}
	if err := c.waitReady(); err != nil {
		return fail(err)
	}
	return c, nil
}

func (c *Cluster) member(id int32) *member {
	for _, m := range c.allMembers() {
		if m.id == id {
			return m
		}
	}
	return nil
}

func (c *Cluster) startMember(m *member) error {
	bc, err := config.NewBroker(m.props)
	if err != nil {
		return err
	}
	listen := func(network, addr string) (net.Listener, error) {
		c.mu.Lock()
		ln, ok := m.bound[addr]
		delete(m.bound, addr)
		c.mu.Unlock()
		if ok {
			return ln, nil
		}
		return testnet.Rebind(network, addr, rebindTimeout)
	}
	n, err := node.New(bc, node.Options{Logger: c.log.With("node", m.id), Listen: listen, Dial: c.dialFrom(m.id)})
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		n.Close()
		return err
	}
	c.mu.Lock()
	m.n = n
	c.mu.Unlock()
	return nil
}

// waitReady waits until every running node's image has every running
// broker registered and unfenced.
func (c *Cluster) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	for {
		var missing []string
		c.mu.Lock()
		running := c.runningLocked()
		c.mu.Unlock()
		for _, m := range running {
			im := m.n.Image()
			for _, o := range running {
				if o.brokerAddr == "" {
					continue // a controller-only node registers no broker
				}
				b, ok := im.Broker(o.id)
				if !ok || b.Fenced {
					missing = append(missing, fmt.Sprintf("node %d does not see broker %d unfenced", m.id, o.id))
				}
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kafkatest: cluster not ready after %v: %s", readyTimeout, strings.Join(missing, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *Cluster) runningLocked() []*member {
	var out []*member
	for _, m := range c.allMembers() {
		if m.n != nil {
			out = append(out, m)
		}
	}
	return out
}

// NodeIDs returns the ids of the cluster's nodes, running or not:
// brokers (or combined nodes) first, then controller-only nodes.
func (c *Cluster) NodeIDs() []int32 {
	var ids []int32
	for _, m := range c.allMembers() {
		ids = append(ids, m.id)
	}
	return ids
}

// BrokerIDs returns the ids of the nodes with the broker role, running or
// not.
func (c *Cluster) BrokerIDs() []int32 {
	var ids []int32
	for _, m := range c.members {
		ids = append(ids, m.id)
	}
	return ids
}

// ControllerIDs returns the ids of the nodes with the controller role
// (the quorum's voters), running or not.
func (c *Cluster) ControllerIDs() []int32 {
	var ids []int32
	for _, m := range c.allMembers() {
		if m.controllerAddr != "" {
			ids = append(ids, m.id)
		}
	}
	return ids
}

// Node returns node id, or nil while it is stopped (or on a single-node
// Cluster, whose node is not exposed).
func (c *Cluster) Node(id int32) *node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.member(id); m != nil {
		return m.n
	}
	return nil
}

// BrokerAddr returns node id's broker listener address ("" for a
// controller-only node).
func (c *Cluster) BrokerAddr(id int32) string {
	if m := c.member(id); m != nil {
		return m.brokerAddr
	}
	return ""
}

// ControllerAddr returns node id's controller listener address ("" for
// a broker-only node).
func (c *Cluster) ControllerAddr(id int32) string {
	if m := c.member(id); m != nil {
		return m.controllerAddr
	}
	return ""
}

// ActiveController returns the active controller as the running nodes
// agree on it, or -1 while they do not (an election, a node behind).
func (c *Cluster) ActiveController() int32 {
	c.mu.Lock()
	running := c.runningLocked()
	c.mu.Unlock()
	leader := int32(-1)
	for i, m := range running {
		l := m.n.ActiveController()
		if i > 0 && l != leader {
			return -1
		}
		leader = l
	}
	return leader
}

// StopNode closes node id cleanly (controlled shutdown first). It is a
// no-op for a stopped node.
func (c *Cluster) StopNode(id int32) error { return c.stop(id, false) }

// KillNode stops node id without a controlled shutdown, as a crash looks
// to the others: its broker stays registered until its session expires.
func (c *Cluster) KillNode(id int32) error { return c.stop(id, true) }

func (c *Cluster) stop(id int32, kill bool) error {
	c.mu.Lock()
	m := c.member(id)
	if m == nil {
		c.mu.Unlock()
		return fmt.Errorf("kafkatest: no node %d", id)
	}
	n := m.n
	m.n = nil
	c.mu.Unlock()
	if n == nil {
		return nil
	}
	if kill {
		return n.Kill()
	}
	return n.Close()
}

// RestartNode starts a stopped node again (or stops and starts a running
// one) on the same ports and data, and waits until the running brokers
// are registered and unfenced everywhere.
func (c *Cluster) RestartNode(id int32) error {
	if err := c.StopNode(id); err != nil {
		return err
	}
	m := c.member(id)
	if err := c.startMember(m); err != nil {
		return fmt.Errorf("kafkatest: restart node %d: %w", id, err)
	}
	return c.waitReady()
}

// StartNode starts a stopped node without waiting for it to be ready.
func (c *Cluster) StartNode(id int32) error {
	m := c.member(id)
	if m == nil {
		return fmt.Errorf("kafkatest: no node %d", id)
	}
	c.mu.Lock()
	running := m.n != nil
	c.mu.Unlock()
	if running {
		return nil
	}
	return c.startMember(m)
}

// closeMembers closes every running node.
func (c *Cluster) closeMembers() error {
	all := c.allMembers()
	controllersOf.Lock()
	delete(controllersOf.m, c)
	controllersOf.Unlock()
	c.mu.Lock()
	var nodes []*node.Node
	for _, m := range all {
		if m.n != nil {
			nodes = append(nodes, m.n)
			m.n = nil
		}
		for _, ln := range m.bound {
			ln.Close()
		}
		m.bound = nil
	}
	c.mu.Unlock()
	// Every broker shuts down while the quorum is whole (a node that
	// closed early would leave the last ones without a controller),
	// then every node closes.
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(n.ControlledShutdown)
	}
	wg.Wait()
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.Close() })
	}
	wg.Wait()
	return errors.Join(slices.DeleteFunc(errs, func(e error) bool { return e == nil })...)
}
