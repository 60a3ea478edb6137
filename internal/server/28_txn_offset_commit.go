package server

// TxnOffsetCommit (key 28), versions 0-5.
//
//	v1: no change.   v2: committed_leader_epoch (KIP-320).
//	v3: flexible; generation_id, member_id and group_instance_id
//	    (KIP-447: the producer passes the consumer's group metadata and
//	    is fenced by the group coordinator if it is stale).
//	v4: no change.   v5: no change (KIP-890 marker).
//
// The producer commits its consumer group's offsets inside its
// transaction: the group coordinator writes them as a transactional
// batch of the producer and keeps them pending until the transaction's
// marker reaches the group's __consumer_offsets partition (group
// package, txnoffsets.go). Topics and partitions that do not exist are
// answered UNKNOWN_TOPIC_OR_PARTITION here; the rest per partition by
// the coordinator. A fenced producer epoch is refused by the
// partition's producer state (INVALID_PRODUCER_EPOCH).
//
// Before the group coordinator writes, the group's __consumer_offsets
// partition is verified to be in the transaction, unless the producer's
// transaction is already open on it (KIP-890; Kafka's
// CoordinatorRuntime.scheduleTransactionalWriteOperation): v0-3 and v4
// verify (v0-3 answer TRANSACTION_ABORTABLE as INVALID_TXN_STATE); v5+
// (transaction version 2, no AddOffsetsToTxn from the producer) add the
// partition to the transaction. See 24_add_partitions_to_txn.go. The
// coordinator's errors are answered as Kafka's group coordinator
// answers them (GroupCoordinatorService.handleOperationException):
// NETWORK_EXCEPTION as COORDINATOR_LOAD_IN_PROGRESS; NOT_ENOUGH_REPLICAS
// and REQUEST_TIMED_OUT as COORDINATOR_NOT_AVAILABLE;
// NOT_LEADER_OR_FOLLOWER as NOT_COORDINATOR.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/group"
	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/txn"
)

func init() {
	register(handler{key: 28, min: 0, max: 5, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleTxnOffsetCommit(c, r.(*kmsg.TxnOffsetCommitRequest)), nil
	}})
}

func (s *Server) handleTxnOffsetCommit(c *conn, req *kmsg.TxnOffsetCommitRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	im := s.image()
	// codes[i][j] is the answer for request topic i, partition j; -1
	// until the coordinator answers.
	codes := make([][]int16, len(req.Topics))
	tr := group.TxnCommitRequest{
		TransactionalID: req.TransactionalID, Group: req.Group,
		ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch,
		Generation: -1, Version: req.Version,
	}
	if req.Version >= 3 {
		tr.Generation, tr.MemberID, tr.InstanceID = req.Generation, req.MemberID, req.InstanceID
	}
	var sent []commitPos
	// KafkaApis.handleTxnOffsetCommitRequest: WRITE on the transactional
	// id, READ on the group, READ on each topic.
	whole := authzCode(!c.authorized(acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID), kerr.TransactionalIDAuthorizationFailed,
		!c.authorized(acl.OpRead, acl.ResourceGroup, req.Group), kerr.GroupAuthorizationFailed)
	mayRead := c.authorizedTopics(acl.OpRead)
	for i, rt := range req.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
		denied := whole
		if denied == 0 && !mayRead(rt.Topic) {
			denied = kerr.TopicAuthorizationFailed.Code
		}
		if denied != 0 {
			for j := range codes[i] {
				codes[i][j] = denied
			}
			continue
		}
		t, ok := im.Topic(rt.Topic)
		if !ok {
			for j := range codes[i] {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
			}
			continue
		}
		ct := group.CommitTopic{Topic: t.Name, TopicID: t.ID}
		for j, rp := range rt.Partitions {
			if rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			codes[i][j] = -1
			ct.Partitions = append(ct.Partitions, group.CommitPartition{
				Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: rp.LeaderEpoch, Metadata: rp.Metadata,
			})
			sent = append(sent, commitPos{i, j})
		}
		if len(ct.Partitions) > 0 {
			tr.Topics = append(tr.Topics, ct)
		}
	}
	if len(sent) > 0 && s.deps.Groups != nil && s.deps.Txn != nil && req.Group != "" {
		if code := s.verifyTxnOffsetCommit(c.ctx, req); code != 0 {
			for _, p := range sent {
				codes[p.topic][p.partition] = code
			}
			sent = nil
		}
	}
	commitToCoordinator(tr.Topics, sent, codes, func() group.CommitResponse { return s.deps.Groups.TxnCommitOffsets(c.ctx, tr) }, s.deps.Groups != nil)
	for i, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, codes[i][j]
			if sp.ErrorCode < 0 {
				sp.ErrorCode = kerr.UnknownServerError.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// verifyTxnOffsetCommit makes sure the group's __consumer_offsets
// partition is in the producer's transaction before the group
// coordinator writes the offsets (see the top of this file), and returns
// the error code to answer for every partition, 0 if none. A partition
// this broker does not lead is left to the group coordinator (which
// answers NOT_COORDINATOR).
func (s *Server) verifyTxnOffsetCommit(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) int16 {
	partition := s.deps.Groups.PartitionFor(req.Group)
	p, err := s.deps.Replicas.Partition(group.TopicName, partition)
	if err != nil {
		return 0
	}
	op := txnOffsetCommitOperation(req.Version)
	g, err := p.StartTxnVerification(req.ProducerID, req.ProducerEpoch, record.NoSequence, op == txnAddPartition)
	if err != nil {
		return kerr.NotCoordinator.Code
	}
	if g == nil {
		return 0 // the transaction is open on the partition
	}
	tp := txn.TopicPartition{Topic: group.TopicName, Partition: partition}
	code := s.verifyTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, []txn.TopicPartition{tp}, op)[0]
	switch code {
	case 0:
		p.MarkTxnVerified(g)
	case kerr.NetworkException.Code:
		code = kerr.CoordinatorLoadInProgress.Code
	case kerr.UnknownTopicOrPartition.Code, kerr.NotEnoughReplicas.Code, kerr.RequestTimedOut.Code:
		code = kerr.CoordinatorNotAvailable.Code
	case kerr.NotLeaderForPartition.Code, kerr.KafkaStorageError.Code:
		code = kerr.NotCoordinator.Code
	}
	return code
}
