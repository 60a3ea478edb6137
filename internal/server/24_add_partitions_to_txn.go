package server

// AddPartitionsToTxn (key 24), versions 0-5.
//
//	v1: no change.   v2: PRODUCER_FENCED instead of INVALID_PRODUCER_EPOCH
//	(KIP-588).   v3: flexible.
//	v4: the batched broker form (KIP-890 part 1): several transactions per
//	    request, a top-level error, and verify_only, with which a
//	    partition leader asks whether a partition is in the transaction
//	    before appending a transactional batch (TRANSACTION_ABORTABLE if
//	    not).   v5: no change (KIP-890 part 2: a non-verify request of v4+
//	    speaks transaction version 2).
//
// A request whose partitions include one that does not exist adds none:
// those answer UNKNOWN_TOPIC_OR_PARTITION and the others
// OPERATION_NOT_ATTEMPTED, as in Kafka. The rest goes to the transaction
// coordinator of the id (NOT_COORDINATOR elsewhere). Gregor has no
// authorizer, so v4+ (CLUSTER_ACTION in Kafka) is served to any client.
// In a v4+ request a transactional id listed twice answers
// DUPLICATE_RESOURCE for its second entry. Partition leaders send v5
// (see the end of this file): over the network to a coordinator on
// another broker, in process to one here.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/txn"
)

func init() {
	register(handler{key: 24, min: 0, max: 5, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAddPartitionsToTxn(c, r.(*kmsg.AddPartitionsToTxnRequest)), nil
	}})
}

// addPartitionsTopic is the topics and partitions of one transaction of
// an AddPartitionsToTxn request, in either form.
type addPartitionsTopic struct {
	topic      string
	partitions []int32
}

func (s *Server) handleAddPartitionsToTxn(c *conn, req *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if req.Version < 4 {
		topics := make([]addPartitionsTopic, len(req.Topics))
		for i, t := range req.Topics {
			topics[i] = addPartitionsTopic{t.Topic, t.Partitions}
		}
		r := s.addPartitionsToTxn(c, req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch, false, topics)
		for _, t := range groupByTopic(r.Partitions) {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.topic
			for _, p := range t.results {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	if !c.authorizedCluster(acl.OpClusterAction) {
		// The batched form (v4+) is the brokers' (KIP-890).
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	seen := map[string]bool{}
	for _, tr := range req.Transactions {
		topics := make([]addPartitionsTopic, len(tr.Topics))
		for i, t := range tr.Topics {
			topics[i] = addPartitionsTopic{t.Topic, t.Partitions}
		}
		var r txn.AddPartitionsResponse
		if seen[tr.TransactionalID] {
			r = addPartitionsAll(tr.TransactionalID, topics, kerr.DuplicateResource.Code)
		} else {
			seen[tr.TransactionalID] = true
			r = s.addPartitionsToTxn(c, req.Version, tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, tr.VerifyOnly, topics)
		}
		rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rt.TransactionalID = tr.TransactionalID
		for _, t := range groupByTopic(r.Partitions) {
			rtt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			rtt.Topic = t.topic
			for _, p := range t.results {
				rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, p.ErrorCode
				rtt.Partitions = append(rtt.Partitions, rp)
			}
			rt.Topics = append(rt.Topics, rtt)
		}
		resp.Transactions = append(resp.Transactions, rt)
	}
	return resp
}

// addPartitionsToTxn answers one transaction: partitions that do not
// exist fail the whole transaction, otherwise the coordinator decides.
func (s *Server) addPartitionsToTxn(c *conn, version int16, id string, pid int64, epoch int16, verifyOnly bool, topics []addPartitionsTopic) txn.AddPartitionsResponse {
	im := s.image()
	// A client's request (v0-3) needs WRITE on the transactional id and
	// on each topic (KafkaApis.handleAddPartitionsToTxnRequest).
	mayWrite := c.authorizedTopics(acl.OpWrite)
	if version < 4 && !c.authorized(acl.OpWrite, acl.ResourceTransactionalID, id) {
		return addPartitionsAll(id, topics, kerr.TransactionalIDAuthorizationFailed.Code)
	}
	var parts []txn.TopicPartition
	missing := map[txn.TopicPartition]int16{}
	for _, t := range topics {
		for _, p := range t.partitions {
			tp := txn.TopicPartition{Topic: t.topic, Partition: p}
			parts = append(parts, tp)
			if version < 4 && !mayWrite(t.topic) {
				missing[tp] = kerr.TopicAuthorizationFailed.Code
			} else if _, ok := partitionRegistration(im, t.topic, p); !ok {
				missing[tp] = kerr.UnknownTopicOrPartition.Code
			}
		}
	}
	if len(missing) > 0 {
		resp := addPartitionsAll(id, topics, kerr.OperationNotAttempted.Code)
		for i := range resp.Partitions {
			if code, ok := missing[resp.Partitions[i].TopicPartition]; ok {
				resp.Partitions[i].ErrorCode = code
			}
		}
		return resp
	}
	if s.deps.Txn == nil {
		return addPartitionsAll(id, topics, kerr.CoordinatorNotAvailable.Code)
	}
	return s.deps.Txn.AddPartitionsToTxn(c.ctx, txn.AddPartitionsRequest{
		Version: version, TransactionalID: id, ProducerID: pid, ProducerEpoch: epoch,
		VerifyOnly: verifyOnly, Partitions: parts,
	})
}

// addPartitionsAll answers every distinct partition of topics with code.
func addPartitionsAll(id string, topics []addPartitionsTopic, code int16) txn.AddPartitionsResponse {
	resp := txn.AddPartitionsResponse{TransactionalID: id}
	seen := map[txn.TopicPartition]bool{}
	for _, t := range topics {
		for _, p := range t.partitions {
			tp := txn.TopicPartition{Topic: t.topic, Partition: p}
			if !seen[tp] {
				seen[tp] = true
				resp.Partitions = append(resp.Partitions, txn.PartitionResult{TopicPartition: tp, ErrorCode: code})
			}
		}
	}
	return resp
}

type topicResults struct {
	topic   string
	results []txn.PartitionResult
}

// groupByTopic groups partition results by topic, topics in the order
// they first appear.
func groupByTopic(rs []txn.PartitionResult) []topicResults {
	var out []topicResults
	index := map[string]int{}
	for _, r := range rs {
		i, ok := index[r.Topic]
		if !ok {
			i = len(out)
			index[r.Topic] = i
			out = append(out, topicResults{topic: r.Topic})
		}
		out[i].results = append(out[i].results, r)
	}
	return out
}

// Transaction verification by partition leaders (KIP-890; Kafka's
// ReplicaManager.maybeSendPartitionsToTransactionCoordinator and
// AddPartitionsToTxnManager), used by Produce (00_produce.go) and
// TxnOffsetCommit (28_txn_offset_commit.go): before a transactional
// batch of a producer whose transaction is not open on the partition is
// appended, the coordinator is asked with the broker form of this API
// (replica.Partition.StartTxnVerification guards the answer):
//
//	request version          operation      asks
//	Produce ≤ 10, TOC ≤ 3    defaultError   verify_only; TRANSACTION_ABORTABLE
//	                                        answered as INVALID_TXN_STATE
//	Produce 11, TOC 4        genericError   verify_only
//	Produce ≥ 12, TOC ≥ 5    addPartition   add the partition (TV2: the
//	                                        producer sent no AddPartitionsToTxn
//	                                        nor AddOffsetsToTxn)
//
// The coordinator's PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH
// (producers expect it there). One call per request, for all its
// partitions that need it; the partitions that need none are appended
// without waiting.

// txnOperation is what a request's version lets the leader do about a
// partition not in the transaction (Kafka's TransactionSupportedOperation).
type txnOperation int8

const (
	txnDefaultError txnOperation = iota
	txnGenericError
	txnAddPartition
)

// produceTxnOperation is Kafka's
// produceRequestVersionToTransactionSupportedOperation.
func produceTxnOperation(version int16) txnOperation {
	switch {
	case version > 11:
		return txnAddPartition
	case version > 10:
		return txnGenericError
	}
	return txnDefaultError
}

// txnOffsetCommitOperation is Kafka's
// txnOffsetCommitRequestVersionToTransactionSupportedOperation.
func txnOffsetCommitOperation(version int16) txnOperation {
	switch {
	case version > 4:
		return txnAddPartition
	case version > 3:
		return txnGenericError
	}
	return txnDefaultError
}

// addPartitionsBrokerVersion is the version of the broker form a leader
// sends (v5: a non-verify transaction speaks transaction version 2).
const addPartitionsBrokerVersion = 5

// verifyTxn asks the coordinator of id about parts (one attempt) and
// returns each partition's code, in order, mapped as Kafka's
// AddPartitionsToTxnManager maps them. It waits at most
// request.timeout.ms; without a coordinator every code is
// COORDINATOR_NOT_AVAILABLE.
func (s *Server) verifyTxn(ctx context.Context, id string, pid int64, epoch int16, parts []txn.TopicPartition, op txnOperation) []int16 {
	codes := make([]int16, len(parts))
	if s.deps.Txn == nil {
		for i := range codes {
			codes[i] = kerr.CoordinatorNotAvailable.Code
		}
		return codes
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ForwardTimeout)
	defer cancel()
	r := s.deps.Txn.AddPartitionsFromLeader(ctx, txn.AddPartitionsRequest{
		Version: addPartitionsBrokerVersion, TransactionalID: id, ProducerID: pid, ProducerEpoch: epoch,
		VerifyOnly: op != txnAddPartition, Partitions: parts,
	})
	byTP := make(map[txn.TopicPartition]int16, len(r.Partitions))
	for _, p := range r.Partitions {
		byTP[p.TopicPartition] = p.ErrorCode
	}
	for i, tp := range parts {
		code, ok := byTP[tp]
		switch {
		case !ok:
			code = kerr.UnknownServerError.Code
		case code == kerr.ProducerFenced.Code:
			code = kerr.InvalidProducerEpoch.Code
		case code == kerr.TransactionAbortable.Code && op == txnDefaultError:
			code = kerr.InvalidTxnState.Code
		}
		codes[i] = code
	}
	return codes
}
