package node

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/txn"
)

// fakeCoordinatorBroker answers the verification client's requests when
// released, recording them.
type fakeCoordinatorBroker struct {
	reqs    chan *kmsg.AddPartitionsToTxnRequest
	release chan func(*kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error)
}

func (f *fakeCoordinatorBroker) send(ctx context.Context, id int32, req *kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error) {
	f.reqs <- req
	select {
	case answer := <-f.release:
		return answer(req)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// answerAll answers every partition of every transaction with code.
func answerAll(code int16) func(*kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error) {
	return func(req *kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error) {
		resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		for _, t := range req.Transactions {
			rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
			rt.TransactionalID = t.TransactionalID
			for _, tt := range t.Topics {
				rtt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				rtt.Topic = tt.Topic
				for _, p := range tt.Partitions {
					rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
					rp.Partition, rp.ErrorCode = p, code
					rtt.Partitions = append(rtt.Partitions, rp)
				}
				rt.Topics = append(rt.Topics, rtt)
			}
			resp.Transactions = append(resp.Transactions, rt)
		}
		return resp, nil
	}
}

func verifyReq(id string, epoch int16, verifyOnly bool) txn.AddPartitionsRequest {
	return txn.AddPartitionsRequest{Version: 5, TransactionalID: id, ProducerID: 7, ProducerEpoch: epoch, VerifyOnly: verifyOnly,
		Partitions: []txn.TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}}
}

func codesOf(r txn.AddPartitionsResponse) []int16 {
	var out []int16
	for _, p := range r.Partitions {
		out = append(out, p.ErrorCode)
	}
	return out
}

// The verification client (Kafka's AddPartitionsToTxnManager): one
// request in flight per coordinator broker, what arrives meanwhile sent
// together next, Kafka's rules for a transactional id already waiting,
// and its error mapping.
func TestTxnVerifierBatches(t *testing.T) {
	f := &fakeCoordinatorBroker{reqs: make(chan *kmsg.AddPartitionsToTxnRequest, 4),
		release: make(chan func(*kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error))}
	v := newTxnVerifier(1, slog.New(slog.DiscardHandler))
	v.coordinator = func(p int32) int32 { return []int32{2, -1, 1}[p] }
	v.send = f.send
	ctx := context.Background()

	if r := v.forward(ctx, 1, verifyReq("x", 0, true)); codesOf(r)[0] != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("no coordinator: %v", codesOf(r))
	}
	if r := v.forward(ctx, 2, verifyReq("x", 0, true)); codesOf(r)[0] != kerr.NotCoordinator.Code {
		t.Fatalf("coordinator here, not loaded: %v", codesOf(r))
	}

	type result struct {
		name string
		r    txn.AddPartitionsResponse
	}
	results := make(chan result, 8)
	call := func(name string, req txn.AddPartitionsRequest) {
		go func() { results <- result{name, v.forward(ctx, 0, req)} }()
	}
	pending := func(id string) bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		_, ok := v.mu.pending[2][id]
		return ok
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not reached", what)
			}
			time.Sleep(time.Millisecond)
		}
	}

	call("a", verifyReq("a", 3, true))
	first := <-f.reqs // in flight
	if len(first.Transactions) != 1 || first.Version != 5 || !first.Transactions[0].VerifyOnly {
		t.Fatalf("first request %+v", first)
	}
	call("b", verifyReq("b", 1, false))
	call("c5", verifyReq("c", 5, false))
	waitUntil("b and c pending", func() bool { return pending("b") && pending("c") })
	call("c6", verifyReq("c", 6, false)) // replaces c5, which is fenced
	r := <-results
	if r.name != "c5" || codesOf(r.r)[0] != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("replaced older epoch: %s %v", r.name, codesOf(r.r))
	}
	// An older epoch than the one waiting is fenced at once.
	if r := v.forward(ctx, 0, verifyReq("c", 4, false)); codesOf(r)[0] != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("older epoch: %v", codesOf(r))
	}
	f.release <- answerAll(kerr.TransactionAbortable.Code)
	if r := <-results; r.name != "a" || codesOf(r.r)[1] != kerr.TransactionAbortable.Code {
		t.Fatalf("first answer: %s %v", r.name, codesOf(r.r))
	}
	second := <-f.reqs
	if len(second.Transactions) != 2 {
		t.Fatalf("second request carries %d transactions, want b and c together", len(second.Transactions))
	}
	for _, tr := range second.Transactions {
		if tr.TransactionalID == "c" && (tr.ProducerEpoch != 6 || tr.VerifyOnly) {
			t.Fatalf("c sent as %+v", tr)
		}
	}
	f.release <- func(req *kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error) {
		resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	for range 2 {
		if r := <-results; codesOf(r.r)[0] != kerr.InvalidTxnState.Code {
			t.Fatalf("top-level CLUSTER_AUTHORIZATION_FAILED: %s %v", r.name, codesOf(r.r))
		}
	}

	// A failed request answers NETWORK_EXCEPTION.
	call("d", verifyReq("d", 0, false))
	<-f.reqs
	f.release <- func(*kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error) {
		return nil, errors.New("connection reset")
	}
	if r := <-results; codesOf(r.r)[0] != kerr.NetworkException.Code {
		t.Fatalf("failed request: %v", codesOf(r.r))
	}

	// Close: the request in flight is cancelled, what waits is answered.
	call("e", verifyReq("e", 0, false))
	<-f.reqs
	call("f", verifyReq("f", 0, false))
	waitUntil("f pending", func() bool { return pending("f") })
	v.close()
	for range 2 {
		if r := <-results; codesOf(r.r)[0] != kerr.NetworkException.Code {
			t.Fatalf("after close: %s %v", r.name, codesOf(r.r))
		}
	}
	if r := v.forward(ctx, 0, verifyReq("g", 0, false)); codesOf(r)[0] != kerr.NetworkException.Code {
		t.Fatalf("after close: %v", codesOf(r))
	}
}
