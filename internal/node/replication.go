package node

// Replication's wiring (Kafka's ReplicaManager setup in BrokerServer):
// the replica manager's configuration from the broker config, the
// connections its follower fetchers open to leaders, and the delivery of
// the ISR changes it proposes as a leader to the active controller.
//
//	replica.Manager ──Fetch.Dial(leader)──▶ TCP to the leader's endpoint on
//	      │                                  inter.broker.listener.name
//	      │                                  (from the applied image)
//	      └──AlterPartition(req)──▶ alterPartitionManager ──batch, v3──▶
//	             AlterPartitionSender (the quorum wiring: in process or to
//	             the active controller) ──answer──▶ HandleAlterPartitionResponse
//
// A single node never follows and never changes an ISR, so none of this
// runs there: fetchers start only for partitions led elsewhere, and
// AlterPartition is only called by leaders with followers.
//
// num.replica.fetchers fetchers run per leader broker; they and the
// replication quotas (KIP-73: leader/follower.replication.throttled.rate
// on the broker, *.replication.throttled.replicas on topics) follow the
// dynamic configs of each image the replica manager applies
// (configAdapter.replicaDynamic, configAdapter.topicConfig).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
)

// AlterPartitionSender delivers an AlterPartition request (key 56, v3:
// topic ids and ISR members with broker epochs, KIP-903) to the active
// controller and returns its answer: in process when this node is the
// active controller, over the network otherwise. It must honour ctx. The
// metadata-quorum wiring provides it (SetAlterPartitionSender); until
// then requests wait.
type AlterPartitionSender interface {
	SendAlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error)
}

// SetAlterPartitionSender installs s as the way this node's ISR changes
// reach the controller (nil: none; they wait). Requests waiting are sent
// at once. Safe to call at any time, from any goroutine.
func (n *Node) SetAlterPartitionSender(s AlterPartitionSender) {
	n.repl.alter.setSender(s)
}

// Inter-broker client settings.
const (
	// alterPartitionVersion is the AlterPartition version sent (Kafka
	// 3.5+: topic ids and broker epochs).
	alterPartitionVersion = 3
	// alterPartitionBackoff and alterPartitionMaxBackoff bound the wait
	// before resending after a failure (Kafka's AlterPartitionManager
	// retries with an exponential backoff).
	alterPartitionBackoff    = 100 * time.Millisecond
	alterPartitionMaxBackoff = 5 * time.Second
)

// replication is the node's replication wiring.
type replication struct {
	self     int32
	listener string // inter.broker.listener.name
	// requestTimeout is replica.socket.timeout.ms, at least the fetch
	// wait: a leader that does not answer within it is given up on.
	requestTimeout time.Duration
	maxResponse    int32
	// image returns the image the replica manager last applied.
	image func() *metadata.Image
	alter *alterPartitionManager

	// dialHook is Options.Dial (nil: a net.Dialer).
	dialHook func(ctx context.Context, network, address string) (net.Conn, error)
}

// replicaConfig builds the replica manager's configuration and the
// wiring behind its hooks (n.repl).
func (n *Node) replicaConfig(topicConfig func(*metadata.Image, string) replica.TopicConfig, opts Options) replica.Config {
	cfg := n.cfg
	log := opts.Logger.With("component", "replica")
	timeout := millis(int64(cfg.ReplicaSocketTimeoutMs))
	if wait := millis(int64(cfg.ReplicaFetchWaitMaxMs)); timeout < 2*wait {
		timeout = 2 * wait
	}
	r := &replication{
		self:           cfg.NodeID,
		listener:       cfg.InterBrokerListenerName,
		requestTimeout: timeout,
		maxResponse:    max(cfg.ReplicaFetchResponseMaxBytes, cfg.SocketRequestMaxBytes),
		dialHook:       n.interBrokerDial(opts.Dial), // TLS, SASL (security.go)
		image: func() *metadata.Image {
			if n.replicas == nil {
				return nil
			}
			return n.replicas.Image()
		},
	}
	r.alter = newAlterPartitionManager(cfg.NodeID, log.With("component", "alter-partition"),
		func(req *replica.AlterPartitionRequest, res replica.AlterPartitionResult) {
			n.replicas.HandleAlterPartitionResponse(req, res)
		})
	r.alter.brokerEpoch = func() int64 {
		if im := r.image(); im != nil {
			if b, ok := im.Broker(cfg.NodeID); ok {
				return b.Epoch
			}
		}
		return -1
	}
	n.repl = r
	return replica.Config{
		NodeID:              cfg.NodeID,
		TopicConfig:         topicConfig,
		Logger:              log,
		Now:                 opts.Now,
		ReplicaLagTimeMaxMs: cfg.ReplicaLagTimeMaxMs,
		AlterPartition:      r.alter.submit,
		Fetch: replica.FetcherConfig{
			Dial:             r.dial,
			MaxWaitMs:        cfg.ReplicaFetchWaitMaxMs,
			MinBytes:         cfg.ReplicaFetchMinBytes,
			ResponseMaxBytes: cfg.ReplicaFetchResponseMaxBytes,
			MaxBytes:         cfg.ReplicaFetchMaxBytes,
			BackoffMs:        int64(cfg.ReplicaFetchBackoffMs),
			NumFetchers:      int(cfg.NumReplicaFetchers),
		},
		ReplicationQuota: replica.QuotaConfig{
			Samples:  int(cfg.ReplicationQuotaWindowNum),
			WindowMs: int64(cfg.ReplicationQuotaWindowSizeSeconds) * 1000,
		},
		// Replication throttle rates and num.replica.fetchers change
		// with the dynamic broker configs of each image applied.
		Dynamic: n.adapter.replicaDynamic,
	}
}

// startReplication starts the ISR expiration task and the AlterPartition
// sender.
func (n *Node) startReplication() {
	if n.replicas != nil {
		n.replicas.Start()
	}
	if n.repl != nil {
		n.repl.alter.start()
	}
}

// closeReplication stops the AlterPartition sender, then the replica
// manager's fetchers and timers (waiting acks=all produces fail). It must
// run before the logs close.
func (n *Node) closeReplication() {
	if n.repl != nil {
		n.repl.alter.close()
	}
	if n.replicas != nil {
		n.replicas.Close()
	}
}

// dial connects a follower fetcher to leader id: TCP to its endpoint on
// inter.broker.listener.name as registered in the image the replica
// manager applied.
func (r *replication) dial(ctx context.Context, id int32) (replica.Conn, error) {
	im := r.image()
	if im == nil {
		return nil, errors.New("node: no metadata applied yet")
	}
	b, ok := im.Broker(id)
	if !ok {
		return nil, fmt.Errorf("node: broker %d is not registered", id)
	}
	ep, ok := b.Endpoint(r.listener)
	if !ok {
		return nil, fmt.Errorf("node: broker %d has no endpoint on inter.broker.listener.name %s", id, r.listener)
	}
	dial := (&net.Dialer{Timeout: r.requestTimeout}).DialContext
	if r.dialHook != nil {
		dial = r.dialHook
	}
	nc, err := dial(ctx, "tcp", net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))))
	if err != nil {
		return nil, err
	}
	// Kafka's fetcher client id: broker-<self>-fetcher-<fetcher id>.
	fid, _ := replica.FetcherIDFromContext(ctx)
	clientID := fmt.Sprintf("broker-%d-fetcher-%d", r.self, fid)
	return timeoutConn{Conn: replica.NewConn(nc, clientID, r.maxResponse), timeout: r.requestTimeout}, nil
}

// timeoutConn bounds every request (replica.socket.timeout.ms), so a
// leader that stops answering (paused, partitioned away) is given up on
// and dialed again.
type timeoutConn struct {
	replica.Conn
	timeout time.Duration
}

func (c timeoutConn) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.Conn.Request(ctx, req)
}

// alterPartitionManager is Kafka's AlterPartitionManager: it collects the
// ISR changes the replica manager proposes (at most one per partition;
// the replica layer keeps one in flight), sends them to the controller in
// batches, one request at a time, and hands each partition's answer back.
// A request that could not be sent is answered with the transport error,
// which the replica layer resubmits; the next send waits an exponential
// backoff. Without a sender, proposals wait.
type alterPartitionManager struct {
	self  int32
	log   *slog.Logger
	apply func(*replica.AlterPartitionRequest, replica.AlterPartitionResult)
	// brokerEpoch is this broker's epoch in the image (-1 if none).
	brokerEpoch func() int64

	wakeC  chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		pending map[replica.TopicPartition]*replica.AlterPartitionRequest
		sender  AlterPartitionSender
		started bool
		closed  bool
		// warned is set once the missing sender has been logged.
		warned bool
	}
}

func newAlterPartitionManager(self int32, log *slog.Logger, apply func(*replica.AlterPartitionRequest, replica.AlterPartitionResult)) *alterPartitionManager {
	m := &alterPartitionManager{self: self, log: log, apply: apply, wakeC: make(chan struct{}, 1)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.pending = map[replica.TopicPartition]*replica.AlterPartitionRequest{}
	m.brokerEpoch = func() int64 { return -1 }
	return m
}

// submit queues req; it never blocks (replica.Config.AlterPartition).
func (m *alterPartitionManager) submit(req *replica.AlterPartitionRequest) {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return
	}
	m.mu.pending[replica.TopicPartition{Topic: req.Topic, Partition: req.Partition}] = req
	m.mu.Unlock()
	m.wake()
}

func (m *alterPartitionManager) wake() {
	select {
	case m.wakeC <- struct{}{}:
	default:
	}
}

func (m *alterPartitionManager) setSender(s AlterPartitionSender) {
	m.mu.Lock()
	m.mu.sender, m.mu.warned = s, false
	m.mu.Unlock()
	m.wake()
}

// start starts the sending goroutine; close stops it.
func (m *alterPartitionManager) start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.started || m.mu.closed {
		return
	}
	m.mu.started = true
	m.wg.Add(1)
	go m.run()
}

func (m *alterPartitionManager) close() {
	m.mu.Lock()
	m.mu.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

func (m *alterPartitionManager) run() {
	defer m.wg.Done()
	backoff := time.Duration(0)
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.wakeC:
		}
		for {
			batch, sender := m.take()
			if len(batch) == 0 {
				break
			}
			if m.send(sender, batch) {
				backoff = 0
				continue
			}
			backoff = min(max(2*backoff, alterPartitionBackoff), alterPartitionMaxBackoff)
			t := time.NewTimer(backoff)
			select {
			case <-m.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// take removes and returns the waiting requests, unless there is no
// sender to give them to.
func (m *alterPartitionManager) take() ([]*replica.AlterPartitionRequest, AlterPartitionSender) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.mu.pending) == 0 {
		return nil, nil
	}
	if m.mu.sender == nil {
		if !m.mu.warned {
			m.mu.warned = true
			m.log.Info("ISR changes wait: no connection to the active controller yet", "partitions", len(m.mu.pending))
		}
		return nil, nil
	}
	out := make([]*replica.AlterPartitionRequest, 0, len(m.mu.pending))
	for tp, req := range m.mu.pending {
		out = append(out, req)
		delete(m.mu.pending, tp)
	}
	return out, m.mu.sender
}

// send sends batch as one AlterPartition request and applies the answer
// per partition. It reports whether the request was answered.
func (m *alterPartitionManager) send(sender AlterPartitionSender, batch []*replica.AlterPartitionRequest) bool {
	req := buildAlterPartition(m.self, m.brokerEpoch(), batch)
	ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
	resp, err := sender.SendAlterPartition(ctx, req)
	cancel()
	if err == nil && resp.ErrorCode != 0 {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		if m.ctx.Err() != nil {
			return false
		}
		m.log.Info("AlterPartition failed; will retry", "partitions", len(batch), "err", err)
		for _, r := range batch {
			m.apply(r, replica.AlterPartitionResult{Err: err})
		}
		return false
	}
	for _, r := range batch {
		m.apply(r, alterPartitionResult(resp, r))
	}
	return true
}

// buildAlterPartition turns proposals into one AlterPartition v3 request.
func buildAlterPartition(self int32, brokerEpoch int64, batch []*replica.AlterPartitionRequest) *kmsg.AlterPartitionRequest {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = alterPartitionVersion
	req.BrokerID, req.BrokerEpoch = self, brokerEpoch
	byTopic := map[metadata.TopicID]int{}
	for _, r := range batch {
		i, ok := byTopic[r.TopicID]
		if !ok {
			t := kmsg.NewAlterPartitionRequestTopic()
			t.TopicID = r.TopicID
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[r.TopicID] = i
		}
		p := kmsg.NewAlterPartitionRequestTopicPartition()
		p.Partition, p.LeaderEpoch, p.PartitionEpoch = r.Partition, r.LeaderEpoch, r.PartitionEpoch
		p.LeaderRecoveryState = r.LeaderRecoveryState
		for _, mem := range r.NewISR {
			e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
			e.BrokerID, e.BrokerEpoch = mem.BrokerID, mem.BrokerEpoch
			p.NewEpochISR = append(p.NewEpochISR, e)
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	return req
}

// errNotAnswered is the result of a partition the controller's response
// leaves out; the replica layer resends it.
var errNotAnswered = errors.New("node: partition missing from the AlterPartition response")

// alterPartitionResult finds r's partition in resp.
func alterPartitionResult(resp *kmsg.AlterPartitionResponse, r *replica.AlterPartitionRequest) replica.AlterPartitionResult {
	for _, t := range resp.Topics {
		if metadata.TopicID(t.TopidID) != r.TopicID {
			continue
		}
		for _, p := range t.Partitions {
			if p.Partition != r.Partition {
				continue
			}
			if p.ErrorCode != 0 {
				return replica.AlterPartitionResult{Err: kerr.ErrorForCode(p.ErrorCode)}
			}
			return replica.AlterPartitionResult{LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: p.ISR}
		}
	}
	return replica.AlterPartitionResult{Err: errNotAnswered}
}
