package node

// The verification client, Kafka's AddPartitionsToTxnManager: the
// broker side of KIP-890. Before a partition leader appends a
// transactional batch of a producer whose transaction is not open on the
// partition (the produce path, TxnOffsetCommit), it asks the
// transactional id's coordinator with AddPartitionsToTxn of the broker
// form (v5): verify_only for producers of transaction versions 0 and 1,
// an implicit add for transaction version 2. A coordinator on this node
// is asked in process (txn.Coordinator.AddPartitionsFromLeader); one on
// another broker through forward, here:
//
//	forward(txn partition, transaction) ──▶ pending[coordinator broker]
//	      at most one request in flight per broker; what arrives
//	      meanwhile goes out together in the next one
//	      same transactional id already pending:
//	        newer epoch    ─▶ the pending one answers INVALID_PRODUCER_EPOCH
//	        same epoch     ─▶ the pending one answers NETWORK_EXCEPTION
//	        older epoch    ─▶ this one answers INVALID_PRODUCER_EPOCH
//	answer: per transaction; a top-level error for all of them
//	        (CLUSTER_AUTHORIZATION_FAILED as INVALID_TXN_STATE); a failed
//	        request NETWORK_EXCEPTION for all
//
// The caller maps the codes for its client (server/00_produce.go,
// 28_txn_offset_commit.go). Requests run on goroutines owned by the
// client; close cancels them and waits.

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/txn"
)

// addPartitionsBrokerVersion is the AddPartitionsToTxn version brokers
// send: v5, the broker form whose non-verify transactions speak
// transaction version 2.
const addPartitionsBrokerVersion = 5

// txnVerifier sends the broker form of AddPartitionsToTxn to coordinators
// on other brokers. forward and close are safe for concurrent use.
type txnVerifier struct {
	self int32
	log  *slog.Logger
	// coordinator returns the leader of a __transaction_state partition
	// (-1: none).
	coordinator func(txnPartition int32) int32
	// send delivers a request to broker id.
	send func(ctx context.Context, id int32, req *kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the requests in flight

	mu struct {
		sync.Mutex
		// pending are the transactions waiting for the next request to
		// their coordinator, by broker, then by transactional id.
		pending map[int32]map[string]*verifyCall
		// busy are the brokers with a request in flight.
		busy   map[int32]bool
		closed bool
	}
}

// verifyCall is one transaction waiting for its coordinator's answer.
type verifyCall struct {
	req  txn.AddPartitionsRequest
	done chan txn.AddPartitionsResponse // buffered: answered once
}

func (c *verifyCall) answer(r txn.AddPartitionsResponse) {
	select {
	case c.done <- r:
	default:
	}
}

func newTxnVerifier(self int32, log *slog.Logger) *txnVerifier {
	v := &txnVerifier{self: self, log: log}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	v.mu.pending = map[int32]map[string]*verifyCall{}
	v.mu.busy = map[int32]bool{}
	return v
}

// allPartitions answers every distinct partition of req with code.
func allPartitions(req txn.AddPartitionsRequest, code int16) txn.AddPartitionsResponse {
	r := txn.AddPartitionsResponse{TransactionalID: req.TransactionalID}
	seen := map[txn.TopicPartition]bool{}
	for _, tp := range req.Partitions {
		if !seen[tp] {
			seen[tp] = true
			r.Partitions = append(r.Partitions, txn.PartitionResult{TopicPartition: tp, ErrorCode: code})
		}
	}
	return r
}

// forward is txn.Options.Forward: it asks the coordinator of
// txnPartition and waits for its answer, at most until ctx ends
// (NETWORK_EXCEPTION then, which the produce path retries).
func (v *txnVerifier) forward(ctx context.Context, txnPartition int32, req txn.AddPartitionsRequest) txn.AddPartitionsResponse {
	leader := v.coordinator(txnPartition)
	switch {
	case leader < 0:
		return allPartitions(req, kerr.CoordinatorNotAvailable.Code)
	case leader == v.self:
		// The image names this node but its shard is not loaded yet.
		return allPartitions(req, kerr.NotCoordinator.Code)
	}
	call := &verifyCall{req: req, done: make(chan txn.AddPartitionsResponse, 1)}
	v.mu.Lock()
	if v.mu.closed {
		v.mu.Unlock()
		return allPartitions(req, kerr.NetworkException.Code)
	}
	pending := v.mu.pending[leader]
	if pending == nil {
		pending = map[string]*verifyCall{}
		v.mu.pending[leader] = pending
	}
	if old := pending[req.TransactionalID]; old != nil {
		if req.ProducerEpoch < old.req.ProducerEpoch {
			v.mu.Unlock()
			return allPartitions(req, kerr.InvalidProducerEpoch.Code)
		}
		code := kerr.NetworkException.Code // likely a retry of the same produce
		if old.req.ProducerEpoch < req.ProducerEpoch {
			code = kerr.InvalidProducerEpoch.Code
		}
		old.answer(allPartitions(old.req, code))
	}
	pending[req.TransactionalID] = call
	if !v.mu.busy[leader] {
		v.startLocked(leader)
	}
	v.mu.Unlock()

	select {
	case r := <-call.done:
		return r
	case <-ctx.Done():
		return allPartitions(req, kerr.NetworkException.Code)
	}
}

// startLocked sends what is pending for broker leader. v.mu must be held.
func (v *txnVerifier) startLocked(leader int32) {
	calls := v.mu.pending[leader]
	delete(v.mu.pending, leader)
	if len(calls) == 0 {
		return
	}
	v.mu.busy[leader] = true
	v.wg.Add(1)
	go v.sendBatch(leader, calls)
}

// sendBatch sends one request to broker leader, answers its calls and
// sends what arrived meanwhile.
func (v *txnVerifier) sendBatch(leader int32, calls map[string]*verifyCall) {
	defer v.wg.Done()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = addPartitionsBrokerVersion
	for _, c := range calls {
		t := kmsg.NewAddPartitionsToTxnRequestTransaction()
		t.TransactionalID, t.ProducerID, t.ProducerEpoch, t.VerifyOnly = c.req.TransactionalID, c.req.ProducerID, c.req.ProducerEpoch, c.req.VerifyOnly
		for _, tp := range c.req.Partitions {
			if n := len(t.Topics); n > 0 && t.Topics[n-1].Topic == tp.Topic {
				t.Topics[n-1].Partitions = append(t.Topics[n-1].Partitions, tp.Partition)
				continue
			}
			rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
			rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
			t.Topics = append(t.Topics, rt)
		}
		req.Transactions = append(req.Transactions, t)
	}
	resp, err := v.send(v.ctx, leader, req)
	switch {
	case err != nil:
		if v.ctx.Err() == nil {
			v.log.Info("AddPartitionsToTxn to the transaction coordinator failed", "broker", leader, "err", err)
		}
		for _, c := range calls {
			c.answer(allPartitions(c.req, kerr.NetworkException.Code))
		}
	case resp.ErrorCode != 0:
		code := resp.ErrorCode
		v.log.Warn("AddPartitionsToTxn to the transaction coordinator answered an error", "broker", leader, "err", kerr.ErrorForCode(code))
		if code == kerr.ClusterAuthorizationFailed.Code {
			// The client must not see it: the verification did not
			// complete (Kafka's AddPartitionsToTxnManager).
			code = kerr.InvalidTxnState.Code
		}
		for _, c := range calls {
			c.answer(allPartitions(c.req, code))
		}
	default:
		answered := map[string]bool{}
		for _, t := range resp.Transactions {
			c := calls[t.TransactionalID]
			if c == nil || answered[t.TransactionalID] {
				continue
			}
			answered[t.TransactionalID] = true
			codes := map[txn.TopicPartition]int16{}
			for _, rt := range t.Topics {
				for _, rp := range rt.Partitions {
					codes[txn.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = rp.ErrorCode
				}
			}
			r := allPartitions(c.req, 0)
			for i := range r.Partitions {
				code, ok := codes[r.Partitions[i].TopicPartition]
				if !ok {
					code = kerr.UnknownServerError.Code
				}
				r.Partitions[i].ErrorCode = code
			}
			c.answer(r)
		}
		for id, c := range calls {
			if !answered[id] {
				v.log.Error(fmt.Sprintf("AddPartitionsToTxn answer from broker %d lacks transactional id %q", leader, id))
				c.answer(allPartitions(c.req, kerr.UnknownServerError.Code))
			}
		}
	}
	v.mu.Lock()
	delete(v.mu.busy, leader)
	if !v.mu.closed {
		v.startLocked(leader)
	}
	v.mu.Unlock()
}

// close fails what is pending, cancels the requests in flight and waits
// for them.
func (v *txnVerifier) close() {
	v.mu.Lock()
	v.mu.closed = true
	for leader, calls := range v.mu.pending {
		for _, c := range calls {
			c.answer(allPartitions(c.req, kerr.NetworkException.Code))
		}
		delete(v.mu.pending, leader)
	}
	v.mu.Unlock()
	v.cancel()
	v.wg.Wait()
}

// newTxnVerifier builds the node's verification client: coordinators
// from the image the replica manager applied, requests over conns.
func (n *Node) newTxnVerifier(log *slog.Logger, conns *brokerConns) *txnVerifier {
	v := newTxnVerifier(n.cfg.NodeID, log)
	v.coordinator = func(p int32) int32 {
		r := n.replicasReady.Load()
		if r == nil || r.Image() == nil {
			return -1
		}
		t, ok := r.Image().Topic(txn.TopicName)
		if !ok || p < 0 || int(p) >= len(t.Partitions) {
			return -1
		}
		return t.Partitions[p].Leader
	}
	v.send = func(ctx context.Context, id int32, req *kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error) {
		resp, err := conns.request(ctx, id, req)
		if err != nil {
			return nil, err
		}
		r, ok := resp.(*kmsg.AddPartitionsToTxnResponse)
		if !ok {
			return nil, fmt.Errorf("node: unexpected response %T to AddPartitionsToTxn", resp)
		}
		return r, nil
	}
	return v
}
