package txn

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// initFencedMinVersion: InitProducerId v4+ clients know PRODUCER_FENCED
// (KIP-588).
const initFencedMinVersion = 4

// InitProducerID handles InitProducerId for a transactional id of this
// shard (Kafka's handleInitProducerId): a new id gets a producer id and
// epoch 0; a known one gets its epoch bumped, which fences the producer
// instance that had it, or a new producer id when its epochs are
// exhausted. An open transaction is aborted first: the answer is then
// CONCURRENT_TRANSACTIONS, and the client retries once the abort is
// complete. With ProducerID/ProducerEpoch (KIP-360) a producer recovers
// its own id instead of fencing itself, and a retry after a lost answer
// gets the same epoch again. reply is called once, after what it
// answers is written.
func (s *Shard) InitProducerID(now time.Time, req InitProducerIDRequest, reply func(InitProducerIDResponse), res *coordinator.Result) {
	fail := func(code int16, res *coordinator.Result) {
		resp := InitProducerIDResponse{ErrorCode: fencedCode(code, req.Version, initFencedMinVersion), ProducerID: NoProducerID, ProducerEpoch: NoProducerEpoch}
		res.Reply(func() { reply(resp) })
	}
	if req.TransactionalID == nil || *req.TransactionalID == "" {
		// A null id is answered without a shard (Coordinator); an empty
		// one is invalid, as the Java producer refuses it.
		fail(kerr.InvalidRequest.Code, res)
		return
	}
	id := *req.TransactionalID
	// A producer id without an epoch or the other way round is refused
	// first (Kafka checks it in KafkaApis, before the coordinator).
	var expected *producerIDAndEpoch
	switch {
	case req.ProducerID == NoProducerID && req.ProducerEpoch == NoProducerEpoch:
	case req.ProducerID == NoProducerID || req.ProducerEpoch == NoProducerEpoch:
		fail(kerr.InvalidRequest.Code, res)
		return
	default:
		expected = &producerIDAndEpoch{id: req.ProducerID, epoch: req.ProducerEpoch}
	}
	if !s.validTimeout(req.TransactionTimeoutMs) {
		fail(kerr.InvalidTransactionTimeout.Code, res)
		return
	}

	m, ok := s.txns[id]
	if !ok {
		pid, err := s.cfg.ProducerIDs.GenerateProducerID()
		if err != nil {
			fail(apierror.Code(err), res)
			return
		}
		// The id is known from now on, written or not (Kafka's
		// putTransactionStateIfNotExists): a retry reuses its producer id.
		m = &txnMetadata{
			id: id, producerID: pid, prevProducerID: NoProducerID, nextProducerID: NoProducerID,
			producerEpoch: NoProducerEpoch, lastProducerEpoch: NoProducerEpoch,
			timeoutMs: req.TransactionTimeoutMs, state: Empty,
			partitions: map[TopicPartition]struct{}{}, startMs: -1, lastUpdateMs: ms(now),
			clientVersion: TV0,
		}
		s.txns[id] = m
	}

	if m.markersPending() {
		fail(kerr.ConcurrentTransactions.Code, res)
		return
	}
	if expected != nil && !m.validProducerID(*expected) {
		fail(kerr.ProducerFenced.Code, res)
		return
	}
	switch m.state {
	case Empty, CompleteCommit, CompleteAbort:
		var t *transit
		if epochExhausted(m.producerEpoch) && (expected == nil || expected.epoch == m.producerEpoch) {
			pid, err := s.cfg.ProducerIDs.GenerateProducerID()
			if err != nil {
				fail(apierror.Code(err), res)
				return
			}
			t = m.prepareRotation(pid, req.TransactionTimeoutMs, ms(now), expected != nil)
		} else {
			if epochExhausted(m.producerEpoch) {
				// Kafka refuses to bump an exhausted epoch with an
				// IllegalStateException, an unknown server error.
				s.log.Warn("cannot allocate more producer epochs", "transactional_id", id, "producer_id", m.producerID)
				fail(kerr.UnknownServerError.Code, res)
				return
			}
			var exp *int16
			if expected != nil {
				exp = &expected.epoch
			}
			var fenced bool
			if t, fenced = m.prepareIncrementEpoch(req.TransactionTimeoutMs, exp, ms(now)); fenced {
				s.log.Info("expected producer epoch matches neither the current nor the previous epoch",
					"transactional_id", id, "expected", *exp, "current", m.producerEpoch, "last", m.lastProducerEpoch)
				fail(kerr.ProducerFenced.Code, res)
				return
			}
		}
		if err := s.check(m, t); err != nil {
			fail(kerr.UnknownServerError.Code, res)
			return
		}
		res.Add(s.record(m, t))
		onAppend(res, func(_ time.Time, err error, next *coordinator.Result) {
			if err != nil {
				fail(coordinator.WriteErrorCode(err), next)
				return
			}
			if err := m.complete(t); err != nil {
				fail(kerr.UnknownServerError.Code, next)
				return
			}
			s.log.Info("initialized transactional id", "transactional_id", id, "producer_id", t.producerID, "producer_epoch", t.producerEpoch)
			resp := InitProducerIDResponse{ProducerID: t.producerID, ProducerEpoch: t.producerEpoch}
			next.Reply(func() { reply(resp) })
		})
	case Ongoing:
		// Fence the producer and abort its transaction; the epoch of the
		// fence is never returned: the client retries and gets the next
		// one (or a new producer id if the fence exhausted the epochs).
		s.fenceAndAbort(m, now, res, func(code int16, next *coordinator.Result) {
			if code == 0 {
				code = kerr.ConcurrentTransactions.Code
			}
			fail(code, next)
		})
	default:
		s.log.Error("transactional id in an illegal state for InitProducerId", "transactional_id", id, "state", m.state)
		fail(kerr.UnknownServerError.Code, res)
	}
}

type producerIDAndEpoch struct {
	id    int64
	epoch int16
}

// validProducerID: a producer that names its producer id and epoch
// (KIP-360) is fenced unless the id was just created, it names the
// current producer id (its epoch is checked when bumping), or it names
// the previous one with an exhausted epoch (a retry after a rotation
// whose answer was lost).
func (m *txnMetadata) validProducerID(p producerIDAndEpoch) bool {
	return m.producerEpoch == NoProducerEpoch ||
		p.id == m.producerID ||
		(p.id == m.prevProducerID && epochExhausted(p.epoch))
}
