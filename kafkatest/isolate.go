package kafkatest

// Network partitions between the nodes of a multi-node Cluster. Every
// connection a node opens to another node (Raft, the controller RPCs:
// registration, heartbeats, AlterPartition, forwarded admin requests;
// replica fetches) goes through a TCP proxy of that directed link
// (internal/faultproxy), created on the first dial. Clients dial the
// nodes directly, so an isolated node still serves them: that is the
// interesting case, a partition leader that keeps taking writes it can
// no longer replicate.
//
//	c := kafkatest.StartCluster(t, 3)
//	c.IsolateNode(2)                     // both ways; connections stall
//	c.IsolateNode(3, kafkatest.Inbound()) // nobody reaches 3; 3 reaches them
//	c.HealNode(2)
//	c.HealNetwork()
//
// A cut stalls connections by default (no byte and no close passes until
// the heal, as in a real partition); Blackhole resets the open ones and
// stalls new ones; Refuse resets both. A dial through a cut link succeeds
// (the proxy accepts it) and then never answers or is reset. Isolation
// outlasts a node's restart, and Close heals the network before it shuts
// the nodes down.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/gregor-streaming/gregor/internal/faultproxy"
)

// IsolateOpt configures IsolateNode.
type IsolateOpt interface{ applyIsolate(*isolateCfg) }

type isolateCfg struct {
	dir  faultproxy.Direction
	mode faultproxy.Mode
}

type isolateFunc func(*isolateCfg)

func (f isolateFunc) applyIsolate(c *isolateCfg) { f(c) }

// Outbound cuts only the connections the node opens to the others (its
// Raft messages, heartbeats, AlterPartition, its fetches as a follower);
// the others still reach it.
func Outbound() IsolateOpt { return isolateFunc(func(c *isolateCfg) { c.dir = faultproxy.Outbound }) }

// Inbound cuts only the connections the others open to the node (their
// Raft messages to it, their fetches from it as its followers); it still
// reaches them.
func Inbound() IsolateOpt { return isolateFunc(func(c *isolateCfg) { c.dir = faultproxy.Inbound }) }

// Blackhole resets the cut links' open connections (as TCP stacks that
// gave up on them would) and stalls new ones.
func Blackhole() IsolateOpt {
	return isolateFunc(func(c *isolateCfg) { c.mode = faultproxy.Blackhole })
}

// Refuse resets the cut links' open connections and new ones.
func Refuse() IsolateOpt { return isolateFunc(func(c *isolateCfg) { c.mode = faultproxy.Refuse }) }

// errSingleNode is IsolateNode on a Cluster from Start.
var errSingleNode = errors.New("kafkatest: a single-node cluster has no links to cut; use StartCluster")

// IsolateNode cuts node id off from the other nodes (both ways, stalling
// connections, unless opts say otherwise) until HealNode or HealNetwork.
// Clients still reach it. Isolating an isolated node replaces its cut.
func (c *Cluster) IsolateNode(id int32, opts ...IsolateOpt) error {
	if c.members == nil {
		return errSingleNode
	}
	if c.member(id) == nil {
		return fmt.Errorf("kafkatest: no node %d", id)
	}
	ic := isolateCfg{dir: faultproxy.Both, mode: faultproxy.Stall}
	for _, o := range opts {
		o.applyIsolate(&ic)
	}
	nw, err := c.links.network()
	if err != nil {
		return err
	}
	nw.Isolate(id, ic.dir, ic.mode)
	c.log.Info("kafkatest: node isolated", "node", id, "direction", ic.dir, "mode", ic.mode)
	return nil
}

// HealNode ends node id's isolation: held bytes flow again and stalled
// connections resume.
func (c *Cluster) HealNode(id int32) error {
	if c.members == nil {
		return errSingleNode
	}
	nw, err := c.links.network()
	if err != nil {
		return err
	}
	nw.Rejoin(id)
	c.log.Info("kafkatest: node healed", "node", id)
	return nil
}

// HealNetwork ends every isolation.
func (c *Cluster) HealNetwork() {
	c.links.mu.Lock()
	nw := c.links.mu.nw
	c.links.mu.Unlock()
	if nw != nil {
		nw.HealAll()
	}
}

// links is the fault proxies of a multi-node Cluster, created on first
// use.
type links struct {
	mu struct {
		sync.Mutex
		nw     *faultproxy.Network
		closed bool
	}
}

// network returns the proxies, creating them on first use.
func (l *links) network() (*faultproxy.Network, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return nil, faultproxy.ErrClosed
	}
	if l.mu.nw == nil {
		l.mu.nw = faultproxy.NewNetwork(faultproxy.Config{})
	}
	return l.mu.nw, nil
}

// close closes every proxy and waits for their goroutines. Dials after
// it go direct.
func (l *links) close() {
	l.mu.Lock()
	nw := l.mu.nw
	l.mu.closed = true
	l.mu.Unlock()
	if nw != nil {
		nw.Close()
	}
}

// dialFrom returns node from's dialer (node.Options.Dial): a dial of
// another node's address goes through the proxy of that link; any other
// dial (and any dial once the cluster is closing) goes direct.
func (c *Cluster) dialFrom(from int32) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		to := c.nodeAt(address)
		if to < 0 || to == from {
			return d.DialContext(ctx, network, address)
		}
		nw, err := c.links.network()
		if err != nil {
			return d.DialContext(ctx, network, address)
		}
		p, err := nw.Link(from, to, address)
		if err != nil {
			return d.DialContext(ctx, network, address)
		}
		return d.DialContext(ctx, network, p.Addr())
	}
}

// nodeAt returns the node one of whose listeners binds addr, -1 if none.
func (c *Cluster) nodeAt(addr string) int32 {
	for _, id := range c.NodeIDs() {
		if addr == c.BrokerAddr(id) || addr == c.ControllerAddr(id) {
			return id
		}
	}
	return -1
}
