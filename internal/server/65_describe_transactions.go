package server

// DescribeTransactions (key 65), version 0 (KIP-664).
//
// Each transactional id is described by its coordinator: state, timeout,
// start time, producer id and epoch, and the partitions of the open
// transaction (while markers are written, those still without one). An
// id this node does not coordinate answers NOT_COORDINATOR (clients
// look the coordinator up with FindCoordinator first), an unknown one
// TRANSACTIONAL_ID_NOT_FOUND.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/txn"
)

func init() {
	register(handler{key: 65, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeTransactions(c, r.(*kmsg.DescribeTransactionsRequest)), nil
	}})
}

func (s *Server) handleDescribeTransactions(c *conn, req *kmsg.DescribeTransactionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	var ds []txn.DescribedTransaction
	// DESCRIBE on each transactional id; the partitions of topics the
	// principal may not DESCRIBE are left out
	// (KafkaApis.handleDescribeTransactionsRequest).
	var ids []string
	for _, id := range req.TransactionalIDs {
		if c.authorized(acl.OpDescribe, acl.ResourceTransactionalID, id) {
			ids = append(ids, id)
		} else {
			ds = append(ds, txn.DescribedTransaction{TransactionalID: id, ErrorCode: kerr.TransactionalIDAuthorizationFailed.Code})
		}
	}
	if s.deps.Txn == nil {
		for _, id := range ids {
			ds = append(ds, txn.DescribedTransaction{TransactionalID: id, ErrorCode: kerr.CoordinatorNotAvailable.Code})
		}
	} else if len(ids) > 0 {
		ds = append(ds, s.deps.Txn.DescribeTransactions(c.ctx, ids)...)
	}
	mayDescribe := c.authorizedTopics(acl.OpDescribe)
	for _, d := range ds {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.ErrorCode, st.TransactionalID = d.ErrorCode, d.TransactionalID
		st.ProducerID, st.ProducerEpoch, st.StartTimestamp = -1, -1, -1
		if d.ErrorCode == 0 {
			st.State, st.TimeoutMillis, st.StartTimestamp = d.State, d.TimeoutMs, d.StartTimestamp
			st.ProducerID, st.ProducerEpoch = d.ProducerID, d.ProducerEpoch
			for _, t := range d.Topics {
				if !mayDescribe(t.Topic) {
					continue
				}
				rt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				rt.Topic, rt.Partitions = t.Topic, t.Partitions
				st.Topics = append(st.Topics, rt)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp
}
