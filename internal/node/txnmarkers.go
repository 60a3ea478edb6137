package node

// The transaction marker sender, Kafka's TransactionMarkerChannelManager:
// it takes the markers of decided transactions from the transaction
// coordinator's shards (txn.Config.WriteMarkers, never blocking them),
// sends WriteTxnMarkers (API 27) to each partition's leader, retries
// what did not get written, and reports what did with
// txn.Coordinator.CompleteMarkers, so that the shard writes the
// transaction's completion.
//
//	submit(MarkerRequest) ──▶ pending (per transactional id)
//	      run: every wake-up (submit, new image, retry due, answer)
//	      ├─ transaction no longer coordinated here at its epoch ─▶ dropped
//	      ├─ partition's topic gone ─▶ written (Kafka: likely deleted)
//	      ├─ no leader ─▶ retried after markerRetryBackoff
//	      └─ grouped by leader; one request in flight per broker:
//	           leader is this node ─▶ server.WriteTxnMarkers (no socket)
//	           another broker     ─▶ TCP to its inter-broker listener
//	answer per partition:
//	   NONE, UNSUPPORTED_FOR_MESSAGE_FORMAT, UNSUPPORTED_VERSION ─▶ written
//	   UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER,
//	   NOT_ENOUGH_REPLICAS(_AFTER_APPEND), REQUEST_TIMED_OUT,
//	   KAFKA_STORAGE_ERROR, a failed request ─▶ retried after the backoff
//	   INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED ─▶ the
//	       transaction is stale: its markers are dropped (its next
//	       coordinator asks again)
//	   anything else ─▶ logged as unexpected and retried
//
// One goroutine (run) decides; each request runs on a goroutine of its
// own; close cancels them and waits for all.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/internal/txn"
)

// markerRetryBackoff is the wait before a marker is sent again (Kafka's
// retry.backoff.ms for the marker channel).
const markerRetryBackoff = 100 * time.Millisecond

// writeTxnMarkersVersion is the version sent: v2, which carries each
// marker's transaction version (KIP-890), so that the partition leader
// checks TV2 markers by the TV2 rule.
const writeTxnMarkersVersion = 2

// markerSender sends transaction markers. submit, wake and close are
// safe for concurrent use.
type markerSender struct {
	self int32
	log  *slog.Logger
	// leader returns the leader of a partition in the current image;
	// exists is false when the partition is not in it.
	leader func(tp txn.TopicPartition) (id int32, exists bool)
	// owned reports whether this node still coordinates a
	// __transaction_state partition at a coordinator epoch.
	owned func(txnPartition, coordinatorEpoch int32) bool
	// send delivers a request to broker id and returns its answer.
	send func(ctx context.Context, id int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error)
	// complete reports markers written to the transaction coordinator;
	// set before start.
	complete func(txnPartition int32, done txn.MarkersDone)
	now      func() time.Time

	wakeC  chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // run and the requests in flight

	mu struct {
		sync.Mutex
		// pending are the transactions with markers left to write.
		pending map[markerKey]*pendingMarkers
		// busy are the brokers with a request in flight.
		busy    map[int32]bool
		started bool
		closed  bool
	}
}

// markerKey names a transaction: its coordinator partition and id.
type markerKey struct {
	txnPartition int32
	id           string
}

// pendingMarkers is one transaction's markers left to write.
type pendingMarkers struct {
	req txn.MarkerRequest
	// left are the partitions without a marker yet, each with the time
	// before which it is not sent again and whether a request for it is
	// in flight.
	left map[txn.TopicPartition]*markerPartition
}

type markerPartition struct {
	retryAt  time.Time
	inflight bool
}

func newMarkerSender(self int32, log *slog.Logger, now func() time.Time) *markerSender {
	m := &markerSender{self: self, log: log, now: now, wakeC: make(chan struct{}, 1)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.pending = map[markerKey]*pendingMarkers{}
	m.mu.busy = map[int32]bool{}
	return m
}

// submit takes the markers of a decided transaction (txn.Config's
// WriteMarkers). It never blocks. A request for a transaction already
// pending replaces it (a reloaded shard asks again at its new epoch).
func (m *markerSender) submit(req txn.MarkerRequest) {
	p := &pendingMarkers{req: req, left: make(map[txn.TopicPartition]*markerPartition, len(req.Partitions))}
	for _, tp := range req.Partitions {
		p.left[tp] = &markerPartition{}
	}
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return
	}
	m.mu.pending[markerKey{req.TxnPartition, req.TransactionalID}] = p
	m.mu.Unlock()
	m.wake()
}

// wake makes run look at the pending markers again.
func (m *markerSender) wake() {
	select {
	case m.wakeC <- struct{}{}:
	default:
	}
}

// start starts run.
func (m *markerSender) start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.started || m.mu.closed {
		return
	}
	m.mu.started = true
	m.wg.Add(1)
	go m.run()
}

// close stops sending: requests in flight are cancelled and waited for;
// pending markers are forgotten (the partitions' next coordinators ask
// for them again).
func (m *markerSender) close() {
	m.mu.Lock()
	m.mu.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

func (m *markerSender) run() {
	defer m.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, ok := m.round()
		var timerC <-chan time.Time
		if ok {
			timer.Reset(max(next.Sub(m.now()), 0))
			timerC = timer.C
		} else {
			timer.Stop()
		}
		select {
		case <-m.ctx.Done():
			return
		case <-m.wakeC:
		case <-timerC:
		}
	}
}

// markerBatch is what one request to a broker carries: per transaction,
// the partitions it writes.
type markerBatch struct {
	txns  []*pendingMarkers
	parts [][]txn.TopicPartition
}

// round sends what can be sent now and returns when the next retry is
// due (ok false if none is waiting for time).
func (m *markerSender) round() (next time.Time, ok bool) {
	now := m.now()
	type done struct {
		p     *pendingMarkers
		parts []txn.TopicPartition
	}
	var completed []done
	batches := map[int32]*markerBatch{}

	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return time.Time{}, false
	}
	keys := make([]markerKey, 0, len(m.mu.pending))
	for k := range m.mu.pending {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b markerKey) int {
		if c := cmp.Compare(a.txnPartition, b.txnPartition); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for _, k := range keys {
		p := m.mu.pending[k]
		if !m.owned(p.req.TxnPartition, p.req.CoordinatorEpoch) {
			m.log.Info("dropping the markers of a transaction this node no longer coordinates",
				"transactional_id", p.req.TransactionalID, "txn_partition", p.req.TxnPartition, "coordinator_epoch", p.req.CoordinatorEpoch)
			delete(m.mu.pending, k)
			continue
		}
		var gone []txn.TopicPartition
		byLeader := map[int32][]txn.TopicPartition{}
		for _, tp := range sortedMarkerPartitions(p.left) {
			st := p.left[tp]
			if st.inflight {
				continue
			}
			if st.retryAt.After(now) {
				if !ok || st.retryAt.Before(next) {
					next, ok = st.retryAt, true
				}
				continue
			}
			leader, exists := m.leader(tp)
			switch {
			case !exists:
				// The partition is gone (deleted): nothing to mark.
				gone = append(gone, tp)
				continue
			case leader < 0:
				st.retryAt = now.Add(markerRetryBackoff)
				if !ok || st.retryAt.Before(next) {
					next, ok = st.retryAt, true
				}
				continue
			}
			byLeader[leader] = append(byLeader[leader], tp)
		}
		if len(gone) > 0 {
			for _, tp := range gone {
				delete(p.left, tp)
			}
			completed = append(completed, done{p, gone})
		}
		for leader, parts := range byLeader {
			if m.mu.busy[leader] {
				continue // sent with the broker's next request
			}
			b := batches[leader]
			if b == nil {
				b = &markerBatch{}
				batches[leader] = b
			}
			for _, tp := range parts {
				p.left[tp].inflight = true
			}
			b.txns = append(b.txns, p)
			b.parts = append(b.parts, parts)
		}
		if len(p.left) == 0 {
			delete(m.mu.pending, k)
		}
	}
	for leader, b := range batches {
		m.mu.busy[leader] = true
		m.wg.Add(1)
		go m.sendBatch(leader, b)
	}
	m.mu.Unlock()

	for _, d := range completed {
		m.report(d.p, d.parts)
	}
	return next, ok
}

// report tells the transaction's shard that parts have their marker.
func (m *markerSender) report(p *pendingMarkers, parts []txn.TopicPartition) {
	if len(parts) == 0 || m.complete == nil {
		return
	}
	m.complete(p.req.TxnPartition, txn.MarkersDone{
		TransactionalID:  p.req.TransactionalID,
		ProducerID:       p.req.ProducerID,
		ProducerEpoch:    p.req.ProducerEpoch,
		CoordinatorEpoch: p.req.CoordinatorEpoch,
		Partitions:       parts,
	})
}

// sendBatch sends one request to broker leader and handles its answer.
func (m *markerSender) sendBatch(leader int32, b *markerBatch) {
	defer m.wg.Done()
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = writeTxnMarkersVersion
	for i, p := range b.txns {
		mk := kmsg.NewWriteTxnMarkersRequestMarker()
		mk.ProducerID, mk.ProducerEpoch, mk.Committed = p.req.ProducerID, p.req.ProducerEpoch, p.req.Commit
		mk.CoordinatorEpoch = p.req.CoordinatorEpoch
		mk.TransactionVersion = int8(p.req.TransactionVersion)
		for _, tp := range b.parts[i] {
			if n := len(mk.Topics); n > 0 && mk.Topics[n-1].Topic == tp.Topic {
				mk.Topics[n-1].Partitions = append(mk.Topics[n-1].Partitions, tp.Partition)
				continue
			}
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic, t.Partitions = tp.Topic, []int32{tp.Partition}
			mk.Topics = append(mk.Topics, t)
		}
		req.Markers = append(req.Markers, mk)
	}
	resp, err := m.send(m.ctx, leader, req)
	if err == nil && len(resp.Markers) != len(req.Markers) {
		err = fmt.Errorf("node: WriteTxnMarkers answered %d markers for %d", len(resp.Markers), len(req.Markers))
	}
	if err != nil && m.ctx.Err() == nil {
		m.log.Info("sending transaction markers failed; retrying", "broker", leader, "err", err)
	}

	type done struct {
		p     *pendingMarkers
		parts []txn.TopicPartition
	}
	var completed []done
	now := m.now()
	m.mu.Lock()
	delete(m.mu.busy, leader)
	for i, p := range b.txns {
		key := markerKey{p.req.TxnPartition, p.req.TransactionalID}
		current := m.mu.pending[key] == p
		codes := map[txn.TopicPartition]int16{}
		if err == nil {
			for _, t := range resp.Markers[i].Topics {
				for _, rp := range t.Partitions {
					codes[txn.TopicPartition{Topic: t.Topic, Partition: rp.Partition}] = rp.ErrorCode
				}
			}
		}
		var written []txn.TopicPartition
		stale := false
		for _, tp := range b.parts[i] {
			st := p.left[tp]
			if st == nil {
				continue
			}
			st.inflight = false
			code, answered := codes[tp]
			switch {
			case err != nil || !answered:
				st.retryAt = now.Add(markerRetryBackoff)
			case code == 0, code == kerr.UnsupportedForMessageFormat.Code, code == kerr.UnsupportedVersion.Code:
				delete(p.left, tp)
				written = append(written, tp)
			case retriableMarkerError(code):
				st.retryAt = now.Add(markerRetryBackoff)
			case code == kerr.InvalidProducerEpoch.Code, code == kerr.TransactionCoordinatorFenced.Code:
				stale = true
				m.log.Info("transaction marker refused as stale; dropping the transaction's markers",
					"transactional_id", p.req.TransactionalID, "partition", tp, "err", kerr.ErrorForCode(code))
			default:
				st.retryAt = now.Add(markerRetryBackoff)
				m.log.Error("unexpected error writing a transaction marker; retrying",
					"transactional_id", p.req.TransactionalID, "partition", tp, "err", kerr.ErrorForCode(code))
			}
		}
		if !current {
			continue // replaced by a newer request for the transaction
		}
		if stale {
			delete(m.mu.pending, key)
			continue
		}
		if len(written) > 0 {
			completed = append(completed, done{p, written})
		}
		if len(p.left) == 0 {
			delete(m.mu.pending, key)
		}
	}
	m.mu.Unlock()
	for _, d := range completed {
		m.report(d.p, d.parts)
	}
	m.wake()
}

// retriableMarkerError: the partition may take the marker later (Kafka's
// TransactionMarkerRequestCompletionHandler retries these).
func retriableMarkerError(code int16) bool {
	switch code {
	case kerr.UnknownTopicOrPartition.Code, kerr.NotLeaderForPartition.Code, kerr.NotEnoughReplicas.Code,
		kerr.NotEnoughReplicasAfterAppend.Code, kerr.RequestTimedOut.Code, kerr.KafkaStorageError.Code:
		return true
	}
	return false
}

func sortedMarkerPartitions(left map[txn.TopicPartition]*markerPartition) []txn.TopicPartition {
	out := make([]txn.TopicPartition, 0, len(left))
	for tp := range left {
		out = append(out, tp)
	}
	slices.SortFunc(out, func(a, b txn.TopicPartition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
	return out
}

// newMarkerSender builds the node's marker sender: leaders from the
// image the replica manager applied, requests to this node through the
// server's handler, to others over TCP (markerConns).
func (n *Node) newMarkerSender(log *slog.Logger, now func() time.Time) *markerSender {
	m := newMarkerSender(n.cfg.NodeID, log, now)
	m.leader = func(tp txn.TopicPartition) (int32, bool) {
		r := n.replicasReady.Load()
		if r == nil || r.Image() == nil {
			return -1, true
		}
		t, ok := r.Image().Topic(tp.Topic)
		if !ok || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
			return -1, false
		}
		return t.Partitions[tp.Partition].Leader, true
	}
	m.owned = n.ownsTxnPartition
	timeout := millis(int64(n.cfg.RequestTimeoutMs)) + 10*time.Second
	conns := &markerConns{
		markers: newBrokerConns(n, timeout, fmt.Sprintf("broker-%d-txn-marker-sender", n.cfg.NodeID)),
		// Kafka's AddPartitionsToTxnManager has a channel of its own.
		verify: newBrokerConns(n, timeout, fmt.Sprintf("broker-%d-add-partitions-to-txn", n.cfg.NodeID)),
	}
	m.send = func(ctx context.Context, id int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		if id == n.cfg.NodeID {
			if n.server == nil {
				return nil, errors.New("node: no broker server")
			}
			return n.server.WriteTxnMarkers(ctx, req), nil
		}
		resp, err := conns.markers.request(ctx, id, req)
		if err != nil {
			return nil, err
		}
		r, ok := resp.(*kmsg.WriteTxnMarkersResponse)
		if !ok {
			return nil, fmt.Errorf("node: unexpected response %T to WriteTxnMarkers", resp)
		}
		return r, nil
	}
	n.txnMarkerConns = conns
	return m
}

// markerConns are the transaction coordinator's channels to other
// brokers: the marker sender's connections, and the verification
// client (txnverify.go) with its own connections, as Kafka gives the
// marker channel and the AddPartitionsToTxnManager a network client
// each.
type markerConns struct {
	markers *brokerConns
	verify  *brokerConns
	// verifier is set by newTxn.
	verifier *txnVerifier
}

// close stops the verification client and closes the connections (after
// the marker sender stopped).
func (c *markerConns) close() {
	if c.verifier != nil {
		c.verifier.close()
	}
	c.markers.close()
	c.verify.close()
}

// brokerConns are connections to other brokers, one per broker (their
// users have one request in flight per broker), opened on first use to
// the broker's endpoint on inter.broker.listener.name and dropped after a
// failure.
type brokerConns struct {
	n        *Node
	timeout  time.Duration // per request: request.timeout.ms and a margin
	clientID string
	mu       struct {
		sync.Mutex
		conns  map[int32]replica.Conn
		closed bool
	}
}

func newBrokerConns(n *Node, timeout time.Duration, clientID string) *brokerConns {
	c := &brokerConns{n: n, timeout: timeout, clientID: clientID}
	c.mu.conns = map[int32]replica.Conn{}
	return c
}

// request sends req to broker id and returns its answer. Requests to one
// broker are sent one at a time.
func (c *brokerConns) request(ctx context.Context, id int32, req kmsg.Request) (kmsg.Response, error) {
	c.mu.Lock()
	conn := c.mu.conns[id]
	closed := c.mu.closed
	c.mu.Unlock()
	if closed {
		return nil, errors.New("node: broker connections closed")
	}
	if conn == nil {
		var err error
		if conn, err = c.dial(ctx, id); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.mu.closed {
			c.mu.Unlock()
			conn.Close()
			return nil, errors.New("node: broker connections closed")
		}
		c.mu.conns[id] = conn
		c.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := conn.Request(ctx, req)
	if err != nil {
		c.mu.Lock()
		if c.mu.conns[id] == conn {
			delete(c.mu.conns, id)
		}
		c.mu.Unlock()
		conn.Close()
		return nil, err
	}
	return resp, nil
}

// dial connects to broker id's endpoint on inter.broker.listener.name as
// registered in the image the replica manager applied.
func (c *brokerConns) dial(ctx context.Context, id int32) (replica.Conn, error) {
	r := c.n.repl
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
	dial := (&net.Dialer{Timeout: c.timeout}).DialContext
	if r.dialHook != nil {
		dial = r.dialHook
	}
	nc, err := dial(ctx, "tcp", net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))))
	if err != nil {
		return nil, err
	}
	return replica.NewConn(nc, c.clientID, 0), nil
}

// close closes the connections (after their users stopped).
func (c *brokerConns) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.closed = true
	for id, conn := range c.mu.conns {
		conn.Close()
		delete(c.mu.conns, id)
	}
}
