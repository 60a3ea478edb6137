package server

// AddOffsetsToTxn (key 25), versions 0-4.
//
//	v1: no change.   v2: PRODUCER_FENCED instead of INVALID_PRODUCER_EPOCH
//	(KIP-588).   v3: flexible.   v4: no change (KIP-890 marker).
//
// The group's __consumer_offsets partition joins the transaction, so
// that the producer's TxnOffsetCommit for the group commits or aborts
// with it. As in Kafka, the partition must exist
// (UNKNOWN_TOPIC_OR_PARTITION until __consumer_offsets is created).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/group"
	"github.com/gregor-streaming/gregor/internal/txn"
)

func init() {
	register(handler{key: 25, min: 0, max: 4, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAddOffsetsToTxn(c, r.(*kmsg.AddOffsetsToTxnRequest)), nil
	}})
}

func (s *Server) handleAddOffsetsToTxn(c *conn, req *kmsg.AddOffsetsToTxnRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if s.deps.Txn == nil || s.deps.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	if t, ok := s.image().Topic(group.TopicName); !ok || len(t.Partitions) == 0 {
		resp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return resp
	}
	resp.ErrorCode = s.deps.Txn.AddOffsetsToTxn(c.ctx, txn.AddOffsetsRequest{
		Version: req.Version, TransactionalID: req.TransactionalID,
		ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch, Group: req.Group,
	})
	return resp
}
