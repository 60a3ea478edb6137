package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// TopicConfig is what the replica layer needs of a topic's effective
// configuration. Units are in the field names.
type TopicConfig struct {
	Log                  storage.Config
	MaxMessageBytes      int32
	LogAppendTime        bool // message.timestamp.type=LogAppendTime
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64
	Compacted            bool // cleanup.policy contains compact
	MinInsyncReplicas    int32
	// CompressionType is compression.type: "producer" keeps the batch's
	// codec, a codec name recompresses to it.
	CompressionType string
	// LeaderThrottledReplicas and FollowerThrottledReplicas are
	// leader.replication.throttled.replicas and
	// follower.replication.throttled.replicas: "partition:broker" pairs,
	// or "*" (KIP-73). The pairs naming this node select the partitions
	// its leader and follower quotas throttle.
	LeaderThrottledReplicas   []string
	FollowerThrottledReplicas []string
}

// DynamicConfig is the part of the broker config that the replica layer
// follows while running (KIP-226 dynamic broker configs).
type DynamicConfig struct {
	// LeaderReplicationThrottledRate and FollowerReplicationThrottledRate
	// are leader.replication.throttled.rate and
	// follower.replication.throttled.rate in bytes/s (Unthrottled: none).
	LeaderReplicationThrottledRate   int64
	FollowerReplicationThrottledRate int64
	// NumReplicaFetchers is num.replica.fetchers: fetchers per leader
	// broker (at least 1).
	NumReplicaFetchers int
}

// Config configures a Manager. The fields after Now are for replication;
// their zero values give a node that leads every partition alone.
type Config struct {
	NodeID int32
	// TopicConfig returns the effective config of a topic in an image.
	TopicConfig func(im *metadata.Image, topic string) TopicConfig
	Logger      *slog.Logger
	Now         func() time.Time

	// AfterFunc runs f once after d unless stopped, as time.AfterFunc
	// (the default); it times out acks=all produces and runs the ISR
	// expiration task, so tests can pass a fake clock.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// ReplicaLagTimeMaxMs is replica.lag.time.max.ms: a follower that has
	// not caught up with the leader for this long leaves the ISR
	// (default 30000).
	ReplicaLagTimeMaxMs int64
	// BrokerEpoch returns this broker's epoch (its registration's); sent
	// in follower fetches (KIP-903) and AlterPartition. nil: this node's
	// registration in the last image applied, -1 if none.
	BrokerEpoch func() int64
	// Brokers looks up another broker: its epoch and whether it is fenced
	// or in controlled shutdown; ok is false for an unregistered broker.
	// Only registered, unfenced brokers not shutting down, fetching with
	// their current epoch, join an ISR. nil: the registrations of the last
	// image applied; while it has none, every broker counts as eligible.
	Brokers func(id int32) (info BrokerInfo, ok bool)
	// AlterPartition receives the ISR changes this node proposes as a
	// leader. It must hand them off without blocking and without
	// answering synchronously; the answer comes back through
	// HandleAlterPartitionResponse (or as a metadata image). nil: changes
	// are never sent and an ISR change waits for metadata.
	AlterPartition func(*AlterPartitionRequest)
	// Fetch configures the follower fetchers; a nil Fetch.Dial runs none.
	Fetch FetcherConfig
	// ReplicationQuota is the sampling of both replication quotas.
	ReplicationQuota QuotaConfig
	// Dynamic returns the dynamic broker settings in effect as of an
	// image; ApplyImage applies them (rates, number of fetchers). nil:
	// unthrottled, Fetch.NumFetchers fetchers.
	Dynamic func(im *metadata.Image) DynamicConfig
}

// TopicPartition names a partition.
type TopicPartition = storage.TopicPartition

// Manager is the set of partitions hosted on this node. Safe for
// concurrent use.
type Manager struct {
	cfg       Config
	logs      *storage.Manager
	env       *partitionEnv
	purgatory *Purgatory
	fetchers  *fetcherManager // nil without Config.Fetch.Dial
	// leaderQuota and followerQuota are the replication quotas (KIP-73).
	leaderQuota, followerQuota *ReplicationQuota
	// manualFetch leaves fetchers without goroutines (tests drive them).
	manualFetch bool
	// image is the last image applied, for broker lookups.
	image atomic.Pointer[metadata.Image]

	mu struct {
		sync.RWMutex
		partitions map[TopicPartition]*Partition
		started    bool
		closed     bool
		stopISR    func() bool // stops the ISR expiration timer
	}
}

// Errors. The apierror ones are answered to clients; the others are
// returned by the package's methods or used inside it.
var (
	errUnknownTopicOrPartition = apierror.New(kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")

	// ErrClosed completes produces still waiting when the Manager closes.
	ErrClosed = errors.New("replica: closed")

	errNotFollower      = errors.New("replica: no longer a follower at this leader epoch")
	errOffsetMismatch   = errors.New("replica: fetch offset does not match the log end offset")
	errStaleBrokerEpoch = errors.New("replica: fetch from a stale broker epoch")
)

// New returns a Manager over logs. Call ApplyImage before serving, Start
// to run the ISR expiration task, and Close when done.
func New(cfg Config, logs *storage.Manager) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if cfg.ReplicaLagTimeMaxMs <= 0 {
		cfg.ReplicaLagTimeMaxMs = defaultReplicaLagTimeMaxMs
	}
	m := &Manager{cfg: cfg, logs: logs, purgatory: newPurgatory(cfg.AfterFunc)}
	m.leaderQuota = NewReplicationQuota(cfg.ReplicationQuota, cfg.Now)
	m.followerQuota = NewReplicationQuota(cfg.ReplicationQuota, cfg.Now)
	if cfg.Brokers == nil {
		cfg.Brokers = m.imageBroker
	}
	if cfg.BrokerEpoch == nil {
		cfg.BrokerEpoch = func() int64 {
			if b, ok := m.imageBroker(cfg.NodeID); ok {
				return b.Epoch
			}
			return -1
		}
	}
	m.cfg = cfg
	m.env = &partitionEnv{
		self:           cfg.NodeID,
		now:            cfg.Now,
		logger:         cfg.Logger,
		lagTimeMaxMs:   cfg.ReplicaLagTimeMaxMs,
		brokers:        cfg.Brokers,
		brokerEpoch:    cfg.BrokerEpoch,
		alterPartition: cfg.AlterPartition,
		purgatory:      m.purgatory,
	}
	if cfg.Fetch.Dial != nil {
		m.fetchers = newFetcherManager(cfg.Fetch, cfg.NodeID, cfg.BrokerEpoch, cfg.Now, cfg.Logger)
		m.fetchers.quota = m.followerQuota
	}
	m.mu.partitions = map[TopicPartition]*Partition{}
	return m
}

// imageBroker looks broker id up in the last image applied. While the
// image has no registrations (a single node, or brokers not registered
// yet) every broker is eligible with an unknown epoch (-1).
func (m *Manager) imageBroker(id int32) (BrokerInfo, bool) {
	im := m.image.Load()
	if im == nil || im.NumBrokers() == 0 {
		return BrokerInfo{Epoch: -1}, true
	}
	b, ok := im.Broker(id)
	if !ok {
		return BrokerInfo{}, false
	}
	return BrokerInfo{Epoch: b.Epoch, Fenced: b.Fenced, InControlledShutdown: b.InControlledShutdown}, true
}

// Image returns the last image applied (nil before the first ApplyImage):
// the brokers and leaders this Manager is acting on.
func (m *Manager) Image() *metadata.Image { return m.image.Load() }

// Purgatory returns the purgatory where acks=all produces wait.
func (m *Manager) Purgatory() *Purgatory { return m.purgatory }

// Start starts the ISR expiration task (Kafka's "isr-expiration"): every
// replica.lag.time.max.ms / 2 each led partition drops the followers that
// have fallen behind (MaybeShrinkISRs). Fetchers start as partitions
// become followers, whether or not Start was called.
func (m *Manager) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.started || m.mu.closed {
		return
	}
	m.mu.started = true
	m.scheduleISRExpirationLocked()
}

func (m *Manager) scheduleISRExpirationLocked() {
	period := time.Duration(m.cfg.ReplicaLagTimeMaxMs/2) * time.Millisecond
	m.mu.stopISR = m.cfg.AfterFunc(period, func() {
		m.MaybeShrinkISRs()
		m.mu.Lock()
		defer m.mu.Unlock()
		if !m.mu.closed {
			m.scheduleISRExpirationLocked()
		}
	})
}

// MaybeShrinkISRs proposes, for every partition this node leads, removing
// the followers that have not caught up within replica.lag.time.max.ms
// from the ISR (an AlterPartitionRequest to Config.AlterPartition).
func (m *Manager) MaybeShrinkISRs() {
	for _, p := range m.Partitions() {
		p.maybeShrinkISR()
	}
}

// HandleAlterPartitionResponse applies the controller's answer to req,
// an AlterPartition request this Manager handed to Config.AlterPartition.
// A retriable failure hands req to Config.AlterPartition again.
func (m *Manager) HandleAlterPartitionResponse(req *AlterPartitionRequest, res AlterPartitionResult) {
	m.mu.RLock()
	p, ok := m.mu.partitions[TopicPartition{Topic: req.Topic, Partition: req.Partition}]
	m.mu.RUnlock()
	if ok && p.TopicID == req.TopicID {
		p.handleAlterPartitionResponse(req, res)
	}
}

// Close stops the fetchers and the ISR expiration task, and completes
// the produces still waiting with ErrClosed. It does not close the logs.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return
	}
	m.mu.closed = true
	if m.mu.stopISR != nil {
		m.mu.stopISR()
	}
	m.mu.Unlock()
	if m.fetchers != nil {
		m.fetchers.close()
	}
	m.purgatory.Close()
}

// Partition returns a hosted partition.
func (m *Manager) Partition(topic string, partition int32) (*Partition, error) {
	m.mu.RLock()
	p, ok := m.mu.partitions[TopicPartition{Topic: topic, Partition: partition}]
	m.mu.RUnlock()
	if !ok {
		return nil, errUnknownTopicOrPartition
	}
	return p, nil
}

// ApplyImage makes the hosted partitions match im: it opens logs for new
// partitions this node replicates, makes this node leader or follower of
// each at the image's leader epoch (starting and stopping fetchers), sets
// configs and the replication quotas, and deletes the logs of partitions
// no longer in the image (or whose topic was recreated under a new id).
func (m *Manager) ApplyImage(im *metadata.Image) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.image.Store(im)
	var dynamic *DynamicConfig
	if m.cfg.Dynamic != nil {
		d := m.cfg.Dynamic(im)
		dynamic = &d
	}
	if m.fetchers != nil && dynamic != nil {
		m.fetchers.resize(dynamic.NumReplicaFetchers, !m.manualFetch)
	}
	topicConfigs := map[string]TopicConfig{}
	var errs []error
	want := map[TopicPartition]bool{}
	type change struct {
		p   *Partition
		reg metadata.Partition
		tc  TopicConfig
	}
	var changes []change
	for _, name := range im.TopicNames() {
		t, _ := im.Topic(name)
		tc := m.cfg.TopicConfig(im, name)
		topicConfigs[name] = tc
		for i, reg := range t.Partitions {
			if !contains(reg.Replicas, m.cfg.NodeID) {
				continue
			}
			tp := TopicPartition{Topic: name, Partition: int32(i)}
			want[tp] = true
			p, ok := m.mu.partitions[tp]
			if ok && p.TopicID != t.ID {
				m.deleteLocked(p)
				ok = false
			}
			if !ok {
				var err error
				p, err = m.openLocked(tp, t.ID, tc)
				if err != nil {
					errs = append(errs, err)
					continue
				}
			}
			changes = append(changes, change{p, reg, tc})
		}
	}
	for tp, p := range m.mu.partitions {
		if !want[tp] {
			m.deleteLocked(p)
		}
	}
	// Partitions this node now leads, or that have no leader, leave their
	// fetcher before the transition, so no fetched data lands on a leader
	// (Kafka's applyLocalLeadersDelta).
	if m.fetchers != nil {
		for _, c := range changes {
			if c.reg.Leader == m.cfg.NodeID || c.reg.Leader < 0 {
				m.fetchers.remove(c.p)
			}
		}
	}
	m.applyQuotasLocked(topicConfigs, dynamic)
	for _, c := range changes {
		if c.p.update(c.reg, c.tc) && m.fetchers != nil && !m.mu.closed {
			m.fetchers.add(c.reg.Leader, c.p, c.reg.LeaderEpoch, !m.manualFetch)
		}
	}
	if m.fetchers != nil {
		// Fetchers left without partitions stop (Kafka's
		// shutdownIdleFetcherThreads after a metadata delta).
		m.fetchers.shutdownIdle()
	}
	// Logs on disk that no image topic claims (a topic deleted while the
	// node was down, or a recreated one) are removed too.
	for tp, l := range m.logs.Logs() {
		if _, ok := m.mu.partitions[tp]; ok {
			continue
		}
		m.cfg.Logger.Info("deleting log of a partition not in metadata", "topic", tp.Topic, "partition", tp.Partition, "dir", l.Dir())
		if err := m.logs.Delete(tp.Topic, tp.Partition); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) openLocked(tp TopicPartition, id metadata.TopicID, tc TopicConfig) (*Partition, error) {
	if l, ok := m.logs.Get(tp.Topic, tp.Partition); ok {
		if have, ok := l.TopicID(); ok && metadata.TopicID(have) != id {
			m.cfg.Logger.Info("deleting log of a recreated topic", "topic", tp.Topic, "partition", tp.Partition)
			if err := m.logs.Delete(tp.Topic, tp.Partition); err != nil {
				return nil, err
			}
		}
	}
	l, err := m.logs.GetOrCreate(tp.Topic, tp.Partition, id, tc.Log)
	if err != nil {
		return nil, fmt.Errorf("replica: open %s-%d: %w", tp.Topic, tp.Partition, err)
	}
	p := newPartition(tp, id, l, m.env)
	m.mu.partitions[tp] = p
	return p, nil
}

func (m *Manager) deleteLocked(p *Partition) {
	delete(m.mu.partitions, TopicPartition{Topic: p.Topic, Partition: p.Index})
	if m.fetchers != nil {
		m.fetchers.remove(p)
	}
	p.close()
	m.purgatory.checkPartition(p) // waiting produces fail: NOT_LEADER_OR_FOLLOWER
	if err := m.logs.Delete(p.Topic, p.Index); err != nil {
		m.cfg.Logger.Error("delete partition log", "topic", p.Topic, "partition", p.Index, "err", err)
	}
}

// Partitions returns a snapshot of the hosted partitions.
func (m *Manager) Partitions() []*Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Partition, 0, len(m.mu.partitions))
	for _, p := range m.mu.partitions {
		out = append(out, p)
	}
	return out
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
