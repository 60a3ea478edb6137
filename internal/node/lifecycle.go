package node

// The broker side of a quorum node: how it finds the active controller
// (controllerChannel), and its lifecycle there (brokerLifecycle, Kafka's
// BrokerLifecycleManager):
//
//	STARTING ──BrokerRegistration ok──▶ RECOVERY (fenced; heartbeats carry
//	   ▲  retry with backoff on           the image offset) ──controller
//	   │  NOT_CONTROLLER / no answer       unfences once offset ≥ broker epoch──▶ RUNNING
//	   └──────── STALE_BROKER_EPOCH (the registration is gone) ◀──────────────────┘
//	RUNNING ──Close: heartbeats want_shut_down──▶ PENDING_CONTROLLED_SHUTDOWN
//	   (leaderships move away) ──should_shut_down──▶ SHUTTING_DOWN
//
// Heartbeats go every broker.heartbeat.interval.ms; failed ones are
// retried with backoff (100 ms doubling to 1 s) and never more often.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
)

// controllerChannel is one connection to the active controller's
// controller listener (Kafka's NodeToControllerChannelManager, one per
// purpose). It targets the active controller this node's Raft member
// knows of, or walks the voters while none is known, and reconnects when
// that changes or a request fails. Requests on one channel are sent one
// at a time; the version set on each request is the one sent. Safe for
// concurrent use.
type controllerChannel struct {
	clientID string
	voters   map[int32]string
	ids      []int32 // voters, sorted
	active   func() int32
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)

	// mu is held across a request's round trip; it is a leaf.
	mu struct {
		sync.Mutex
		conn   replica.Conn
		target int32
		next   int // the voter to try next while no leader is known
		closed bool
	}
}

func newControllerChannel(clientID string, voters map[int32]string, active func() int32, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *controllerChannel {
	ch := &controllerChannel{
		clientID: clientID,
		voters:   voters,
		ids:      slices.Sorted(maps.Keys(voters)),
		active:   active,
		dial:     dial,
	}
	ch.mu.target = -1
	return ch
}

// Request sends req to the active controller and returns its response.
// An error means no response: the caller may retry.
func (ch *controllerChannel) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.mu.closed {
		return nil, net.ErrClosed
	}
	target := ch.active()
	if _, ok := ch.voters[target]; !ok {
		target = ch.ids[ch.mu.next%len(ch.ids)]
		ch.mu.next++
	}
	if ch.mu.conn != nil && ch.mu.target != target {
		ch.mu.conn.Close()
		ch.mu.conn = nil
	}
	if ch.mu.conn == nil {
		nc, err := ch.dial(ctx, "tcp", ch.voters[target])
		if err != nil {
			return nil, fmt.Errorf("node: dial controller %d at %s: %w", target, ch.voters[target], err)
		}
		ch.mu.conn, ch.mu.target = replica.NewConn(nc, ch.clientID, 0), target
	}
	resp, err := ch.mu.conn.Request(ctx, req)
	if err != nil {
		ch.mu.conn.Close()
		ch.mu.conn = nil
		return nil, fmt.Errorf("node: %s to controller %d: %w", kmsg.NameForKey(req.Key()), target, err)
	}
	return resp, nil
}

// Forward implements server.Forwarder.
func (ch *controllerChannel) Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	return ch.Request(ctx, req)
}

// Close closes the connection; later requests fail.
func (ch *controllerChannel) Close() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.mu.closed = true
	if ch.mu.conn != nil {
		ch.mu.conn.Close()
		ch.mu.conn = nil
	}
}

// Lifecycle request versions (the highest both sides serve).
const (
	brokerRegistrationVersion = 4
	brokerHeartbeatVersion    = 1
)

// Backoff after a failed registration or heartbeat.
const (
	lifecycleBackoff    = 100 * time.Millisecond
	lifecycleBackoffMax = time.Second
)

// brokerLifecycle registers this broker and keeps its session. One
// goroutine (run) owns the protocol state; the mutex guards what others
// read.
type brokerLifecycle struct {
	log            *slog.Logger
	ch             *controllerChannel
	nodeID         int32
	clusterID      string
	rack           string
	incarnation    metadata.IncarnationID
	endpoints      []metadata.Endpoint
	metadataOffset func() int64
	interval       time.Duration
	sessionTimeout time.Duration

	shutdownc    chan struct{} // closed by controlledShutdown
	shutdownDone chan struct{} // closed once the controller lets us go
	ctx          context.Context
	stopRequests context.CancelFunc // with stopc: ends requests in flight
	stopc        chan struct{}      // closed by stop
	donec        chan struct{}      // closed when run returns
	shutdownOnce sync.Once
	stopOnce     sync.Once

	mu struct {
		sync.Mutex
		epoch  int64 // -1 while unregistered
		fenced bool
	}
}

func newBrokerLifecycle(n *Node, ch *controllerChannel) *brokerLifecycle {
	l := &brokerLifecycle{
		log:            n.log.With("component", "broker-lifecycle"),
		ch:             ch,
		nodeID:         n.cfg.NodeID,
		clusterID:      n.clusterID,
		rack:           n.cfg.BrokerRack,
		incarnation:    metadata.NewIncarnationID(),
		endpoints:      n.brokerEndpoints(),
		metadataOffset: func() int64 { return n.controller.Image().Offset },
		interval:       time.Duration(n.cfg.BrokerHeartbeatIntervalMs) * time.Millisecond,
		sessionTimeout: time.Duration(n.cfg.BrokerSessionTimeoutMs) * time.Millisecond,
		shutdownc:      make(chan struct{}),
		shutdownDone:   make(chan struct{}),
		stopc:          make(chan struct{}),
		donec:          make(chan struct{}),
	}
	if l.interval <= 0 {
		l.interval = 2 * time.Second
	}
	l.ctx, l.stopRequests = context.WithCancel(context.Background())
	l.mu.epoch = -1
	l.mu.fenced = true
	return l
}

func (l *brokerLifecycle) start() { go l.run() }

// state returns the broker epoch (-1 while unregistered) and whether the
// controller last said this broker is fenced.
func (l *brokerLifecycle) state() (epoch int64, fenced bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.epoch, l.mu.fenced
}

// controlledShutdown asks the controller for a controlled shutdown and
// waits until it allows it, the lifecycle stops, or timeout passes
// (after a session timeout without heartbeats the controller fences the
// broker anyway).
func (l *brokerLifecycle) controlledShutdown(timeout time.Duration) bool {
	l.shutdownOnce.Do(func() { close(l.shutdownc) })
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-l.shutdownDone:
		return true
	case <-l.donec:
		return false
	case <-t.C:
		return false
	}
}

// stop ends the lifecycle goroutine and waits for it.
func (l *brokerLifecycle) stop() {
	l.stopOnce.Do(func() {
		close(l.stopc)
		l.stopRequests()
	})
	<-l.donec
}

func (l *brokerLifecycle) run() {
	defer close(l.donec)
	backoff := lifecycleBackoff
	fail := func() time.Duration {
		d := backoff
		backoff = min(2*backoff, lifecycleBackoffMax)
		return d
	}
	epoch := int64(-1)
	shuttingDown := false
	for {
		select {
		case <-l.shutdownc:
			shuttingDown = true
		default:
		}
		var wait time.Duration
		switch {
		case epoch < 0 && shuttingDown:
			// Never registered (or the registration is gone): nothing
			// to hand over.
			close(l.shutdownDone)
			return
		case epoch < 0:
			e, err := l.register()
			if err != nil {
				// No controller yet (an election) is routine; a refusal
				// (another broker with our id, another cluster) is not.
				level := slog.LevelWarn
				var ke *kerr.Error
				if !errors.As(err, &ke) || ke == kerr.NotController {
					level = slog.LevelDebug
				}
				l.log.Log(l.ctx, level, "broker registration failed; retrying", "err", err)
				wait = fail()
				break
			}
			epoch, backoff = e, lifecycleBackoff
			l.mu.Lock()
			l.mu.epoch = e
			l.mu.Unlock()
			l.log.Info("registered with the controller", "broker_epoch", e, "incarnation", l.incarnation)
			continue // heartbeat at once: catching up may unfence us now
		default:
			resp, err := l.heartbeat(epoch, shuttingDown)
			switch {
			case err != nil:
				l.log.Debug("broker heartbeat failed; retrying", "err", err)
				wait = fail()
			case resp.ErrorCode == kerr.StaleBrokerEpoch.Code:
				l.log.Warn("the controller no longer has this broker's registration; registering again", "broker_epoch", epoch)
				epoch = -1
				l.mu.Lock()
				l.mu.epoch, l.mu.fenced = -1, true
				l.mu.Unlock()
				continue
			case resp.ErrorCode != 0:
				l.log.Debug("broker heartbeat refused; retrying", "err", kerr.ErrorForCode(resp.ErrorCode))
				wait = fail()
			default:
				backoff = lifecycleBackoff
				l.mu.Lock()
				if l.mu.fenced != resp.IsFenced {
					l.log.Info("broker fencing changed", "fenced", resp.IsFenced, "broker_epoch", epoch)
				}
				l.mu.fenced = resp.IsFenced
				l.mu.Unlock()
				if shuttingDown && resp.ShouldShutdown {
					l.log.Info("the controller allows this broker to shut down", "broker_epoch", epoch)
					close(l.shutdownDone)
					return
				}
				wait = l.interval
				if shuttingDown {
					wait = min(wait, 200*time.Millisecond)
				}
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-l.stopc:
			t.Stop()
			return
		case <-t.C:
		case <-l.whenShutdownStarts(shuttingDown):
			t.Stop()
		}
	}
}

// whenShutdownStarts returns shutdownc until the shutdown has started
// (then nil, which never fires), so a wait ends when it starts.
func (l *brokerLifecycle) whenShutdownStarts(started bool) <-chan struct{} {
	if started {
		return nil
	}
	return l.shutdownc
}

// requestContext bounds one lifecycle request by half the session
// timeout (at least a second), so that a request lost to a dead
// controller leaves time to reach the next one before the session
// expires; it ends early when the lifecycle stops.
func (l *brokerLifecycle) requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(l.ctx, max(l.sessionTimeout/2, time.Second))
}

func (l *brokerLifecycle) register() (int64, error) {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.Version = brokerRegistrationVersion
	req.BrokerID, req.ClusterID, req.IncarnationID = l.nodeID, l.clusterID, l.incarnation
	for _, e := range l.endpoints {
		rl := kmsg.NewBrokerRegistrationRequestListener()
		rl.Name, rl.Host, rl.Port, rl.SecurityProtocol = e.Listener, e.Host, uint16(e.Port), e.SecurityProtocol
		req.Listeners = append(req.Listeners, rl)
	}
	f := kmsg.NewBrokerRegistrationRequestFeature()
	f.Name, f.MinSupportedVersion, f.MaxSupportedVersion = "metadata.version", 7, 25
	req.Features = append(req.Features, f)
	if l.rack != "" {
		req.Rack = kmsg.StringPtr(l.rack)
	}
	req.PreviousBrokerEpoch = -1
	ctx, cancel := l.requestContext()
	defer cancel()
	resp, err := l.ch.Request(ctx, req)
	if err != nil {
		return -1, err
	}
	r := resp.(*kmsg.BrokerRegistrationResponse)
	if r.ErrorCode != 0 {
		return -1, kerr.ErrorForCode(r.ErrorCode)
	}
	return r.BrokerEpoch, nil
}

func (l *brokerLifecycle) heartbeat(epoch int64, wantShutdown bool) (*kmsg.BrokerHeartbeatResponse, error) {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.Version = brokerHeartbeatVersion
	req.BrokerID, req.BrokerEpoch = l.nodeID, epoch
	req.CurrentMetadataOffset = l.metadataOffset()
	// Fenced until our image holds our own registration (the controller
	// checks the offset too): we then have every partition assignment
	// the controller had when it registered us.
	req.WantFence = req.CurrentMetadataOffset < epoch
	req.WantShutdown = wantShutdown
	ctx, cancel := l.requestContext()
	defer cancel()
	resp, err := l.ch.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.BrokerHeartbeatResponse), nil
}

// brokerEpoch returns this broker's current registration epoch, -1 while
// it is not registered (and on a single node).
func (n *Node) brokerEpoch() int64 {
	if n.quorum == nil || n.quorum.lifecycle == nil {
		return -1
	}
	e, _ := n.quorum.lifecycle.state()
	return e
}

// alterPartitionSender delivers the replica manager's AlterPartition
// requests (replication.go) to the active controller over their own
// channel; the controller's answer, NOT_CONTROLLER included, goes back to
// the AlterPartition manager, which retries what needs retrying.
type alterPartitionSender struct{ ch *controllerChannel }

// SendAlterPartition implements AlterPartitionSender.
func (s alterPartitionSender) SendAlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error) {
	resp, err := s.ch.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.AlterPartitionResponse), nil
}

// createTopics creates topics wherever the active controller is: on a
// single node its controller, in a quorum through the forwarding channel
// (retried like a forwarded CreateTopics). For topics the broker creates
// itself (__consumer_offsets, auto-created topics).
func (n *Node) createTopics(topics []controller.CreateTopic) []controller.CreatedTopic {
	if n.quorum == nil {
		return n.controller.CreateTopics(topics, false)
	}
	return n.server.CreateTopics(topics, false)
}

// stopLifecycle ends the broker's session: with controlled, it first asks
// the controller for a controlled shutdown (controlled.shutdown.enable)
// and waits at most a session timeout for the go-ahead.
func (n *Node) stopLifecycle(controlled bool) {
	if n.quorum == nil || n.quorum.lifecycle == nil {
		return
	}
	l := n.quorum.lifecycle
	select {
	case <-l.donec:
		return // stopped already (Kill)
	default:
	}
	if controlled && n.cfg.ControlledShutdownEnable {
		if !l.controlledShutdown(max(l.sessionTimeout, time.Second)) {
			l.log.Warn("controlled shutdown did not complete; stopping anyway")
		}
	}
	l.stop()
}

// ControlledShutdown runs the broker's controlled shutdown, as Close does
// first, without closing the node: the controller moves this broker's
// leaderships away and fences it. Close then skips it. To stop a whole
// cluster, shut every broker down while the quorum is complete, then
// close the nodes. It does nothing on a single node.
func (n *Node) ControlledShutdown() { n.stopLifecycle(true) }

// Kill stops the node as a crash would, as far as the rest of the
// cluster can tell: no controlled shutdown, so the controller fences the
// broker only when its session expires. Storage is still closed cleanly.
func (n *Node) Kill() error {
	n.stopLifecycle(false)
	return n.Close()
}

// BrokerState returns this broker's registration epoch (-1 if not
// registered) and whether the controller last reported it fenced.
func (n *Node) BrokerState() (epoch int64, fenced bool) {
	if n.quorum == nil || n.quorum.lifecycle == nil {
		return -1, false
	}
	return n.quorum.lifecycle.state()
}
