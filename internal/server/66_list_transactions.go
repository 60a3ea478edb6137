package server

// ListTransactions (key 66), versions 0-2.
//
//	v0: state and producer id filters (KIP-664).
//	v1: duration_filter_ms: transactions running longer than it
//	    (KIP-994).
//	v2: transactional_id_pattern: an RE2 expression the whole id must
//	    match (KIP-1152); an invalid one is INVALID_REGULAR_EXPRESSION.
//
// Lists the transactional ids of the __transaction_state partitions this
// node leads (clients ask every broker). Unknown state names are echoed
// in unknown_state_filters and match nothing. A partition still loading
// answers COORDINATOR_LOAD_IN_PROGRESS.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/txn"
)

func init() {
	register(handler{key: 66, min: 0, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleListTransactions(c, r.(*kmsg.ListTransactionsRequest)), nil
	}})
}

func (s *Server) handleListTransactions(c *conn, req *kmsg.ListTransactionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	if s.deps.Txn == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	lr := txn.ListRequest{States: req.StateFilters, ProducerIDs: req.ProducerIDFilters, DurationFilterMs: -1}
	if req.Version >= 1 {
		lr.DurationFilterMs = req.DurationFilterMillis
	}
	if req.Version >= 2 && req.TransactionalIDPattern != nil {
		lr.TransactionalIDPattern = *req.TransactionalIDPattern
	}
	r := s.deps.Txn.ListTransactions(c.ctx, lr)
	resp.ErrorCode, resp.UnknownStateFilters = r.ErrorCode, r.UnknownStateFilters
	for _, t := range r.Transactions {
		if !c.authorized(acl.OpDescribe, acl.ResourceTransactionalID, t.TransactionalID) {
			continue // only those the principal may DESCRIBE
		}
		st := kmsg.NewListTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.TransactionState = t.TransactionalID, t.ProducerID, t.State
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp
}
