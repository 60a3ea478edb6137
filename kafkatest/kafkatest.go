// Package kafkatest starts a real, in-process Gregor broker for tests: the
// same node that `gregor server` runs, on a free loopback port, with its
// data in a temporary directory.
//
//	func TestX(t *testing.T) {
//		c := kafkatest.Start(t)
//		cl, _ := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
//		...
//	}
//
// Start registers Close with t.Cleanup. Restart stops the broker and starts
// it again on the same port and data, to test what survives a restart.
// StartCluster (cluster.go) starts several nodes with a controller quorum.
package kafkatest

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/node"
	"github.com/gregor-streaming/gregor/internal/testnet"
)

// Opt configures a Cluster.
type Opt interface{ apply(*cfg) }

type cfg struct {
	props  map[string]string
	logger *slog.Logger
	dir    string
}

type optFunc func(*cfg)

func (f optFunc) apply(c *cfg) { f(c) }

// Config sets a broker property (Kafka's names, as in server.properties).
func Config(name, value string) Opt {
	return optFunc(func(c *cfg) { c.props[name] = value })
}

// Logger sends the broker's logs to l (default: discarded, unless the
// environment sets KAFKATEST_LOG=1, which logs to stderr).
func Logger(l *slog.Logger) Opt { return optFunc(func(c *cfg) { c.logger = l }) }

// Dir keeps the broker's data in dir instead of a new temporary directory.
func Dir(dir string) Opt { return optFunc(func(c *cfg) { c.dir = dir }) }

// Cluster is a running Gregor: one node (Start) or several with a
// controller quorum (StartCluster).
type Cluster struct {
	tb    testing.TB
	props map[string]string
	log   *slog.Logger
	dir   string
	// ownDir is set when the directory is ours to remove.
	ownDir bool
	addr   string
	n      *node.Node

	// members are the nodes of a multi-node cluster (cluster.go); nil
	// for Start's single node.
	members []*member
	mu      sync.Mutex // members' n and bound
	// links are the proxies between members (isolate.go).
	links links
}

// Start starts a broker or fails tb. The broker is closed at cleanup.
func Start(tb testing.TB, opts ...Opt) *Cluster {
	tb.Helper()
	c, err := New(opts...)
	if err != nil {
		tb.Fatalf("kafkatest: %v", err)
	}
	c.tb = tb
	tb.Cleanup(func() { c.Close() })
	return c
}

// New starts a broker without a testing.TB; the caller must Close it.
func New(opts ...Opt) (*Cluster, error) {
	o := &cfg{props: map[string]string{}}
	for _, opt := range opts {
		opt.apply(o)
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
		d, err := os.MkdirTemp("", "kafkatest-")
		if err != nil {
			return nil, err
		}
		o.dir, ownDir = d, true
	}
	props := map[string]string{
		"node.id":                          "1",
		"process.roles":                    "broker,controller",
		"listeners":                        "PLAINTEXT://127.0.0.1:0",
		"log.dirs":                         o.dir,
		"offsets.topic.replication.factor": "1",
	}
	for k, v := range o.props {
		props[k] = v
	}
	c := &Cluster{props: props, log: o.logger, dir: o.dir, ownDir: ownDir}
	if err := c.start(); err != nil {
		if ownDir {
			os.RemoveAll(o.dir)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start() error {
	bc, err := config.NewBroker(c.props)
	if err != nil {
		return err
	}
	n, err := node.New(bc, node.Options{Logger: c.log, Listen: nodeListen})
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		n.Close()
		return err
	}
	c.n = n
	c.addr = n.Addrs()[0].String()
	return nil
}

// nodeListen binds a node's listener: a port of its own outside the
// ephemeral range for "127.0.0.1:0", so that a restart finds the port
// free, and its old port again on a restart.
func nodeListen(network, addr string) (net.Listener, error) {
	if network == "tcp" && addr == "127.0.0.1:0" {
		return testnet.Listen()
	}
	return testnet.Rebind(network, addr, rebindTimeout)
}

// Addr returns the broker's host:port (a multi-node cluster's first
// node's).
func (c *Cluster) Addr() string {
	if c.members != nil {
		return c.members[0].brokerAddr
	}
	return c.addr
}

// Addrs returns the seed addresses of the cluster: every node's broker
// listener.
func (c *Cluster) Addrs() []string {
	if c.members != nil {
		var out []string
		for _, m := range c.members {
			out = append(out, m.brokerAddr)
		}
		return out
	}
	return []string{c.addr}
}

// Dir returns the broker's log dir.
func (c *Cluster) Dir() string { return c.dir }

// Restart closes the broker cleanly and starts it again with the same data
// and port (every node, one at a time, in a multi-node cluster).
func (c *Cluster) Restart() error {
	if c.members != nil {
		for _, m := range c.members {
			if err := c.RestartNode(m.id); err != nil {
				return err
			}
		}
		return nil
	}
	if c.n != nil {
		c.n.Close()
		c.n = nil
	}
	_, port, _ := net.SplitHostPort(c.addr)
	c.props["listeners"] = fmt.Sprintf("PLAINTEXT://127.0.0.1:%s", port)
	return c.start()
}

// Close stops the broker and removes its data, unless the data dir was
// given with Dir.
func (c *Cluster) Close() {
	if c.members != nil {
		c.HealNetwork() // an isolated node could not shut down cleanly
		if err := c.closeMembers(); err != nil {
			c.log.Warn("kafkatest: closing the cluster", "err", err)
		}
		c.links.close()
	}
	if c.n != nil {
		c.n.Close()
		c.n = nil
	}
	if c.ownDir {
		os.RemoveAll(c.dir)
		c.ownDir = false
	}
}
