package server

// EndTxn (key 26), versions 0-5.
//
//	v1: no change.   v2: PRODUCER_FENCED instead of INVALID_PRODUCER_EPOCH
//	(KIP-588).   v3: flexible.   v4: no change (KIP-890 marker).
//	v5: producer_id and producer_epoch in the response: the producer's
//	    id and epoch for its next transaction (transaction version 2,
//	    KIP-890 part 2, where every EndTxn bumps the epoch).
//
// The coordinator answers once the decision (PrepareCommit or
// PrepareAbort) is written; the markers follow (the node's marker
// sender), and until they are all written the transactional id answers
// CONCURRENT_TRANSACTIONS.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/txn"
)

func init() {
	register(handler{key: 26, min: 0, max: 5, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleEndTxn(c, r.(*kmsg.EndTxnRequest)), nil
	}})
}

func (s *Server) handleEndTxn(c *conn, req *kmsg.EndTxnRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = txn.NoProducerID, txn.NoProducerEpoch
	if s.deps.Txn == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	r := s.deps.Txn.EndTxn(c.ctx, txn.EndTxnRequest{
		Version: req.Version, TransactionalID: req.TransactionalID,
		ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch, Commit: req.Commit,
	})
	resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = r.ErrorCode, r.ProducerID, r.ProducerEpoch
	return resp
}
