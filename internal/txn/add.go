package txn

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// addFencedMinVersion: AddPartitionsToTxn and AddOffsetsToTxn v2+
// clients know PRODUCER_FENCED (KIP-588).
const addFencedMinVersion = 2

// AddPartitionsToTxn handles one transaction of an AddPartitionsToTxn
// request: the partitions join the transaction (opening it), or with
// VerifyOnly (v4+, KIP-890 part 1) the answer says for each whether it
// is in the transaction (TRANSACTION_ABORTABLE if not). Every partition
// gets the same code unless verifying. reply is called once, after
// what it answers is written.
func (s *Shard) AddPartitionsToTxn(now time.Time, req AddPartitionsRequest, reply func(AddPartitionsResponse), res *coordinator.Result) {
	parts := distinct(req.Partitions)
	answer := func(code int16, res *coordinator.Result) {
		code = fencedCode(code, req.Version, addFencedMinVersion)
		resp := AddPartitionsResponse{TransactionalID: req.TransactionalID, Partitions: make([]PartitionResult, len(parts))}
		for i, tp := range parts {
			resp.Partitions[i] = PartitionResult{TopicPartition: tp, ErrorCode: code}
		}
		res.Reply(func() { reply(resp) })
	}
	if req.VerifyOnly {
		resp := s.verifyPartitions(req, parts)
		res.Reply(func() { reply(resp) })
		return
	}
	s.addPartitions(now, req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts, AddPartitionsTV(req.Version), res, answer)
}

// AddOffsetsToTxn handles AddOffsetsToTxn: the group's __consumer_offsets
// partition joins the transaction, so that the group's TxnOffsetCommit
// is committed or aborted with it. reply gets the error code, once.
func (s *Shard) AddOffsetsToTxn(now time.Time, req AddOffsetsRequest, reply func(int16), res *coordinator.Result) {
	tp := TopicPartition{Topic: offsetsTopic, Partition: s.cfg.GroupPartition(req.Group)}
	// AddOffsetsToTxn is of the TV0/TV1 protocol: TV2 clients commit
	// offsets without it.
	s.addPartitions(now, req.TransactionalID, req.ProducerID, req.ProducerEpoch, []TopicPartition{tp}, TV0, res, func(code int16, res *coordinator.Result) {
		code = fencedCode(code, req.Version, addFencedMinVersion)
		res.Reply(func() { reply(code) })
	})
}

// addPartitions is Kafka's handleAddPartitionsToTransaction.
func (s *Shard) addPartitions(now time.Time, id string, pid int64, epoch int16, parts []TopicPartition, tv int16, res *coordinator.Result, answer func(code int16, res *coordinator.Result)) {
	if id == "" {
		answer(kerr.InvalidRequest.Code, res)
		return
	}
	m, ok := s.txns[id]
	switch {
	case !ok:
		answer(kerr.InvalidProducerIDMapping.Code, res)
		return
	case m.markersPending():
		// Checked first: with TV2 the producer may already use the
		// producer id its completing transaction moves it to.
		answer(kerr.ConcurrentTransactions.Code, res)
		return
	case m.producerID != pid:
		answer(kerr.InvalidProducerIDMapping.Code, res)
		return
	case m.producerEpoch != epoch:
		answer(kerr.ProducerFenced.Code, res)
		return
	case m.state == Ongoing && containsAll(m.partitions, parts):
		// Nothing new: answer without writing.
		answer(0, res)
		return
	}
	t := m.prepareAddPartitions(parts, ms(now), tv)
	if err := s.check(m, t); err != nil {
		answer(kerr.UnknownServerError.Code, res)
		return
	}
	res.Add(s.record(m, t))
	onAppend(res, func(_ time.Time, err error, next *coordinator.Result) {
		if err != nil {
			answer(coordinator.WriteErrorCode(err), next)
			return
		}
		if err := m.complete(t); err != nil {
			answer(kerr.UnknownServerError.Code, next)
			return
		}
		answer(0, next)
	})
}

// verifyPartitions is Kafka's handleVerifyPartitionsInTransaction: a
// broker asks, before appending a transactional batch, whether its
// partition is in the transaction. Markers in flight do not matter:
// the partition leader validates the append again.
func (s *Shard) verifyPartitions(req AddPartitionsRequest, parts []TopicPartition) AddPartitionsResponse {
	resp := AddPartitionsResponse{TransactionalID: req.TransactionalID, Partitions: make([]PartitionResult, len(parts))}
	all := func(code int16) AddPartitionsResponse {
		for i, tp := range parts {
			resp.Partitions[i] = PartitionResult{TopicPartition: tp, ErrorCode: code}
		}
		return resp
	}
	if req.TransactionalID == "" {
		return all(kerr.InvalidRequest.Code)
	}
	m, ok := s.txns[req.TransactionalID]
	switch {
	case !ok, m.producerID != req.ProducerID:
		return all(kerr.InvalidProducerIDMapping.Code)
	case m.producerEpoch != req.ProducerEpoch:
		return all(kerr.ProducerFenced.Code)
	case m.state == PrepareCommit || m.state == PrepareAbort:
		return all(kerr.ConcurrentTransactions.Code)
	}
	for i, tp := range parts {
		code := kerr.TransactionAbortable.Code
		if _, in := m.partitions[tp]; in {
			code = 0
		}
		resp.Partitions[i] = PartitionResult{TopicPartition: tp, ErrorCode: code}
	}
	return resp
}

// distinct returns parts without repeats, in first-seen order.
func distinct(parts []TopicPartition) []TopicPartition {
	seen := make(map[TopicPartition]struct{}, len(parts))
	out := make([]TopicPartition, 0, len(parts))
	for _, tp := range parts {
		if _, ok := seen[tp]; !ok {
			seen[tp] = struct{}{}
			out = append(out, tp)
		}
	}
	return out
}

func containsAll(set map[TopicPartition]struct{}, parts []TopicPartition) bool {
	for _, tp := range parts {
		if _, ok := set[tp]; !ok {
			return false
		}
	}
	return true
}
