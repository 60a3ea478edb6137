package kafkatest

// StaticCluster is a test harness for the replicated data path without a
// metadata quorum: N real in-process nodes whose metadata is written
// before they start and never changes while they run.
//
//	c := kafkatest.StartStatic(t,
//		kafkatest.StaticBrokers(3),
//		kafkatest.StaticTopic("orders", []int32{1, 2, 3}, []int32{2, 3, 1}),
//	)
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), ...)
//
// Every node's metadata log is seeded with the same records: each broker
// registered (unfenced, broker epoch 1, its endpoint on the PLAINTEXT
// listener and its broker.rack) and each topic with its replica
// assignment, the first replica leading at leader epoch 0 with every
// replica in the ISR. Followers then fetch from leaders over loopback
// TCP exactly as in a cluster. Nobody elects leaders or fences brokers: a
// stopped leader's partitions stay unavailable. ISR changes the leaders
// propose (AlterPartition) reach the harness, which records them and
// accepts each at the next partition epoch, as a controller would, but
// does not publish them as metadata.
//
// Topics cannot be created while the cluster runs (each node's local
// controller would place them alone), so auto topic creation is off.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/node"
	"github.com/gregor-streaming/gregor/internal/storage"
	"github.com/gregor-streaming/gregor/internal/testnet"
	"github.com/gregor-streaming/gregor/internal/uuid"
)

// StaticOpt configures a StaticCluster.
type StaticOpt interface{ applyStatic(*staticCfg) }

type staticCfg struct {
	brokers int
	racks   map[int32]string
	props   map[string]string
	topics  []staticTopic
	logger  *slog.Logger
}

type staticTopic struct {
	name     string
	replicas [][]int32
	configs  map[string]string
}

type staticOptFunc func(*staticCfg)

func (f staticOptFunc) applyStatic(c *staticCfg) { f(c) }

// StaticBrokers sets the number of brokers, with node ids 1..n (default 3).
func StaticBrokers(n int) StaticOpt { return staticOptFunc(func(c *staticCfg) { c.brokers = n }) }

// StaticRack sets broker.rack of broker id.
func StaticRack(id int32, rack string) StaticOpt {
	return staticOptFunc(func(c *staticCfg) { c.racks[id] = rack })
}

// StaticConfig sets a broker property on every broker.
func StaticConfig(name, value string) StaticOpt {
	return staticOptFunc(func(c *staticCfg) { c.props[name] = value })
}

// StaticTopic adds a topic with one partition per replica list; the
// first replica of each leads it.
func StaticTopic(name string, replicas ...[]int32) StaticOpt {
	return staticOptFunc(func(c *staticCfg) {
		c.topics = append(c.topics, staticTopic{name: name, replicas: replicas, configs: map[string]string{}})
	})
}

// StaticTopicConfig sets a config of a topic added with StaticTopic.
func StaticTopicConfig(topic, name, value string) StaticOpt {
	return staticOptFunc(func(c *staticCfg) {
		for i := range c.topics {
			if c.topics[i].name == topic {
				c.topics[i].configs[name] = value
			}
		}
	})
}

// StaticLogger sends every broker's logs to l.
func StaticLogger(l *slog.Logger) StaticOpt {
	return staticOptFunc(func(c *staticCfg) { c.logger = l })
}

// AlterPartitionCall is an ISR change a leader proposed.
type AlterPartitionCall struct {
	From      int32 // the leader that sent it
	Topic     string
	Partition int32
	// LeaderEpoch and PartitionEpoch are the proposer's; ISR the
	// proposed ISR.
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
}

// StaticCluster is a running static cluster. Its methods are safe for
// concurrent use except Stop, Restart and Close, which the test calls
// from one goroutine.
type StaticCluster struct {
	tb        testing.TB
	cfg       *staticCfg
	clusterID string
	topicIDs  map[metadata.TopicID]string
	recs      []metadata.Record
	brokers   map[int32]*staticBroker

	mu struct {
		sync.Mutex
		alters []AlterPartitionCall
	}
}

type staticBroker struct {
	id    int32
	dir   string
	port  int
	props map[string]string
	n     *node.Node
}

// StartStatic starts a static cluster or fails tb. It is closed at
// cleanup.
func StartStatic(tb testing.TB, opts ...StaticOpt) *StaticCluster {
	tb.Helper()
	cfg := &staticCfg{brokers: 3, racks: map[int32]string{}, props: map[string]string{}}
	for _, o := range opts {
		o.applyStatic(cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
		if os.Getenv("KAFKATEST_LOG") != "" {
			cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
	}
	c := &StaticCluster{tb: tb, cfg: cfg, clusterID: uuid.Format(uuid.New()), topicIDs: map[metadata.TopicID]string{}, brokers: map[int32]*staticBroker{}}

	// Ports first: the registrations name them.
	listeners := map[int32]net.Listener{}
	for i := 1; i <= cfg.brokers; i++ {
		ln, err := testnet.Listen()
		if err != nil {
			tb.Fatalf("kafkatest: %v", err)
		}
		id := int32(i)
		listeners[id] = ln
		c.brokers[id] = &staticBroker{id: id, dir: tb.TempDir(), port: ln.Addr().(*net.TCPAddr).Port}
	}
	// After the TempDirs: cleanups run last first, so the nodes close
	// before their directories go.
	tb.Cleanup(c.Close)
	c.recs = c.records()
	for i := 1; i <= cfg.brokers; i++ {
		b := c.brokers[int32(i)]
		b.props = c.props(b)
		bc, err := config.NewBroker(b.props)
		if err != nil {
			tb.Fatalf("kafkatest: broker %d config: %v", b.id, err)
		}
		if err := storage.FormatLogDir(b.dir, c.clusterID, b.id); err != nil {
			tb.Fatalf("kafkatest: %v", err)
		}
		if err := node.SeedMetadata(bc, c.recs); err != nil {
			tb.Fatalf("kafkatest: %v", err)
		}
	}
	for i := 1; i <= cfg.brokers; i++ {
		b := c.brokers[int32(i)]
		if err := c.startBroker(b, listeners[b.id]); err != nil {
			for _, ln := range listeners {
				ln.Close()
			}
			tb.Fatalf("kafkatest: start broker %d: %v", b.id, err)
		}
	}
	return c
}

func (c *StaticCluster) props(b *staticBroker) map[string]string {
	p := map[string]string{
		"node.id":                          strconv.Itoa(int(b.id)),
		"process.roles":                    "broker,controller",
		"listeners":                        fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", b.port),
		"log.dirs":                         b.dir,
		"auto.create.topics.enable":        "false",
		"offsets.topic.replication.factor": "1",
	}
	if r := c.cfg.racks[b.id]; r != "" {
		p["broker.rack"] = r
	}
	for k, v := range c.cfg.props {
		p[k] = v
	}
	return p
}

// records is the seeded metadata: registrations, then topics.
func (c *StaticCluster) records() []metadata.Record {
	var recs []metadata.Record
	ids := make([]int32, 0, len(c.brokers))
	for id := range c.brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		b := c.brokers[id]
		recs = append(recs, metadata.Record{Type: metadata.TypeRegisterBroker, Broker: &metadata.BrokerRecord{
			ID:            id,
			Epoch:         1,
			IncarnationID: metadata.NewIncarnationID(),
			Endpoints:     []metadata.Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: int32(b.port), SecurityProtocol: metadata.ProtocolPlaintext}},
			Rack:          c.cfg.racks[id],
		}})
	}
	for _, t := range c.cfg.topics {
		id := metadata.NewTopicID()
		c.topicIDs[id] = t.name
		recs = append(recs, metadata.Record{Type: metadata.TypeTopic, TopicName: t.name, TopicID: id})
		for i, r := range t.replicas {
			recs = append(recs, metadata.Record{
				Type: metadata.TypePartition, TopicID: id, Partition: int32(i),
				Replicas: slices.Clone(r), ISR: slices.Clone(r), Leader: r[0],
			})
		}
		for k, v := range t.configs {
			recs = append(recs, metadata.Record{Type: metadata.TypeConfig, ResourceType: metadata.ResourceTopic, ResourceName: t.name, Name: k, Value: &v})
		}
	}
	return recs
}

// startBroker starts b's node, on ln if given (else on b's port again).
func (c *StaticCluster) startBroker(b *staticBroker, ln net.Listener) error {
	bc, err := config.NewBroker(b.props)
	if err != nil {
		return err
	}
	listen := func(network, address string) (net.Listener, error) {
		if ln != nil {
			l := ln
			ln = nil
			return l, nil
		}
		return testnet.Rebind(network, address, rebindTimeout)
	}
	n, err := node.New(bc, node.Options{Logger: c.cfg.logger.With("node", b.id), Listen: listen})
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	n.SetAlterPartitionSender(staticController{c: c, from: b.id})
	if err := n.Start(); err != nil {
		n.Close()
		return err
	}
	b.n = n
	return nil
}

// Addr returns broker id's host:port.
func (c *StaticCluster) Addr(id int32) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.brokers[id].port))
}

// Addrs returns every broker's host:port, by id.
func (c *StaticCluster) Addrs() []string {
	var out []string
	for i := 1; i <= len(c.brokers); i++ {
		out = append(out, c.Addr(int32(i)))
	}
	return out
}

// Stop closes broker id cleanly, keeping its data.
func (c *StaticCluster) Stop(id int32) {
	b := c.brokers[id]
	if b.n != nil {
		b.n.Close()
		b.n = nil
	}
}

// Restart starts broker id again after Stop, on its port and data.
func (c *StaticCluster) Restart(id int32) error {
	b := c.brokers[id]
	if b.n != nil {
		return fmt.Errorf("kafkatest: broker %d is running", id)
	}
	return c.startBroker(b, nil)
}

// AlterPartitions returns the ISR changes proposed so far, in order.
func (c *StaticCluster) AlterPartitions() []AlterPartitionCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.mu.alters)
}

// Close stops every broker. It is safe to call more than once.
func (c *StaticCluster) Close() {
	for _, b := range c.brokers {
		if b.n != nil {
			b.n.Close()
			b.n = nil
		}
	}
}

// staticController answers AlterPartition for the harness: it records
// each proposed ISR and accepts it at the next partition epoch.
type staticController struct {
	c    *StaticCluster
	from int32
}

func (s staticController) SendAlterPartition(_ context.Context, req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error) {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	for _, t := range req.Topics {
		rt := kmsg.NewAlterPartitionResponseTopic()
		rt.TopidID = t.TopicID
		for _, p := range t.Partitions {
			var isr []int32
			for _, m := range p.NewEpochISR {
				isr = append(isr, m.BrokerID)
			}
			s.c.mu.alters = append(s.c.mu.alters, AlterPartitionCall{
				From: s.from, Topic: s.c.topicIDs[metadata.TopicID(t.TopicID)], Partition: p.Partition,
				LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: isr,
			})
			rp := kmsg.NewAlterPartitionResponseTopicPartition()
			rp.Partition, rp.LeaderID, rp.LeaderEpoch = p.Partition, req.BrokerID, p.LeaderEpoch
			rp.PartitionEpoch, rp.ISR = p.PartitionEpoch+1, isr
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// Dir returns broker id's log dir.
func (c *StaticCluster) Dir(id int32) string { return filepath.Clean(c.brokers[id].dir) }
