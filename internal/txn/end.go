package txn

import (
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// endFencedMinVersion: EndTxn v2+ clients know PRODUCER_FENCED (KIP-588).
const endFencedMinVersion = 2

// EndTxn handles an EndTxn request (Kafka's handleEndTransaction): the
// decision (PrepareCommit or PrepareAbort) is written, the client is
// answered, and the markers are handed to Config.WriteMarkers; once
// CompleteMarkers reports them written, the completion is written. Until
// then the id answers CONCURRENT_TRANSACTIONS. With TV2 (EndTxn v5+,
// KIP-890) the epoch is bumped by every EndTxn, the answer carries the
// producer id and epoch for the next transaction, an abort is allowed
// with no transaction open, and a retry of a completed EndTxn is
// recognized by its epoch. reply is called once.
func (s *Shard) EndTxn(now time.Time, req EndTxnRequest, reply func(EndTxnResponse), res *coordinator.Result) {
	tv := EndTxnTV(req.Version)
	fail := func(code int16, res *coordinator.Result) {
		resp := EndTxnResponse{ErrorCode: fencedCode(code, req.Version, endFencedMinVersion), ProducerID: NoProducerID, ProducerEpoch: NoProducerEpoch}
		res.Reply(func() { reply(resp) })
	}
	if req.TransactionalID == "" {
		fail(kerr.InvalidRequest.Code, res)
		return
	}
	m, ok := s.txns[req.TransactionalID]
	if !ok {
		fail(kerr.InvalidProducerIDMapping.Code, res)
		return
	}
	out := s.endTransaction(m, req.ProducerID, req.ProducerEpoch, req.Commit, true, tv, now)
	if out.t == nil {
		if out.code != 0 {
			fail(out.code, res)
			return
		}
		resp := EndTxnResponse{ProducerID: out.producerID, ProducerEpoch: out.producerEpoch}
		res.Reply(func() { reply(resp) })
		return
	}
	if err := s.check(m, out.t); err != nil {
		fail(kerr.UnknownServerError.Code, res)
		return
	}
	s.writeDecision(m, out.t, res, false, func(code int16, c *transit, next *coordinator.Result) {
		if code != 0 {
			fail(code, next)
			return
		}
		resp := EndTxnResponse{ProducerID: NoProducerID, ProducerEpoch: NoProducerEpoch}
		if supportsEpochBump(tv) {
			// What the producer uses next: the bumped epoch, or after an
			// overflow the next producer id at epoch 0.
			resp.ProducerID, resp.ProducerEpoch = c.producerID, c.producerEpoch
		}
		next.Reply(func() { reply(resp) })
	})
}

// endOutcome is what endTransaction decides: a transition to write, or
// an answer without one (code, and for TV2 the current producer id and
// epoch when the code is NONE).
type endOutcome struct {
	t             *transit
	code          int16
	producerID    int64
	producerEpoch int16
}

func endAnswer(code int16) endOutcome {
	return endOutcome{code: code, producerID: NoProducerID, producerEpoch: NoProducerEpoch}
}

// endTransaction validates an end of m's transaction and prepares its
// decision (Kafka's endTransaction). fromClient is false for the aborts
// the coordinator starts itself; m is in state PrepareEpochFence when
// the abort fences the producer, and epoch is then the fenced epoch.
func (s *Shard) endTransaction(m *txnMetadata, pid int64, epoch int16, commit, fromClient bool, tv int16, now time.Time) endOutcome {
	if !supportsEpochBump(tv) {
		return s.endTransactionTV1(m, pid, epoch, commit, fromClient, now)
	}
	fence := m.state == PrepareEpochFence
	current := endOutcome{producerID: m.producerID, producerEpoch: m.producerEpoch}
	// A retry of an EndTxn whose epoch overflow moved the producer to a
	// new id, or of one whose epoch bump is stored.
	retryOnOverflow := !fence && m.prevProducerID == pid && epoch == math.MaxInt16-1 && m.producerEpoch == 0
	retryOnEpochBump := !fence && int32(m.producerEpoch) == int32(epoch)+1
	isRetry := retryOnOverflow || retryOnEpochBump

	// With TV2 the epoch, not only the state, tells a retry from the
	// next EndTxn: same epoch = the next one.
	var validEpoch bool
	switch {
	case fence:
		validEpoch = (!fromClient || epoch == m.producerEpoch) && epoch >= m.producerEpoch
	case m.state == PrepareCommit || m.state == PrepareAbort:
		validEpoch = retryOnEpochBump
	case m.state == CompleteCommit || m.state == CompleteAbort:
		validEpoch = retryOnEpochBump || retryOnOverflow || epoch == m.producerEpoch
	default:
		validEpoch = epoch == m.producerEpoch
	}

	decide := func(to State, noPartitionAdded bool) endOutcome {
		next := NoProducerID
		if !fence && epochExhausted(m.producerEpoch) {
			// The bump exhausts the epochs: the producer moves to a new
			// producer id when the transaction completes.
			id, err := s.cfg.ProducerIDs.GenerateProducerID()
			if err != nil {
				return endAnswer(apierror.Code(err))
			}
			next = id
		}
		if to == PrepareAbort && fence {
			m.producerEpoch, m.lastProducerEpoch = epoch, NoProducerEpoch
		}
		return endOutcome{t: m.prepareAbortOrCommit(to, tv, next, ms(now), noPartitionAdded)}
	}

	// Markers pending is checked before the epoch (KAFKA-18464): the
	// next transaction's EndTxn (an empty abort, at the bumped epoch)
	// may arrive while the previous one's markers are written, and must
	// wait for them, not be fenced.
	switch {
	case m.producerID != pid && !retryOnOverflow:
		return endAnswer(kerr.InvalidProducerIDMapping.Code)
	case m.markersPending():
		return endAnswer(kerr.ConcurrentTransactions.Code)
	case !validEpoch:
		return endAnswer(kerr.ProducerFenced.Code)
	}
	switch m.state {
	case Ongoing, PrepareEpochFence:
		if commit {
			return decide(PrepareCommit, false)
		}
		return decide(PrepareAbort, false)
	case CompleteCommit:
		switch {
		case commit && isRetry:
			return current
		case !commit && !isRetry:
			return decide(PrepareAbort, true)
		}
		return s.invalidState(m, commit)
	case CompleteAbort:
		switch {
		case !commit && isRetry:
			return current
		case !commit:
			return decide(PrepareAbort, true)
		}
		return s.invalidState(m, commit)
	case Empty:
		if !commit {
			return decide(PrepareAbort, true)
		}
		return s.invalidState(m, commit)
	}
	s.log.Error("transactional id in an illegal state for EndTxn", "transactional_id", m.id, "state", m.state)
	return endAnswer(kerr.UnknownServerError.Code)
}

// endTransactionTV1 is endTransaction before KIP-890 part 2: the epoch
// stays, and only the same result repeated on a completed transaction
// is a retry.
func (s *Shard) endTransactionTV1(m *txnMetadata, pid int64, epoch int16, commit, fromClient bool, now time.Time) endOutcome {
	fence := m.state == PrepareEpochFence
	switch {
	case m.producerID != pid:
		return endAnswer(kerr.InvalidProducerIDMapping.Code)
	// A client must send its exact epoch; the coordinator's own aborts
	// carry the fenced (higher) epoch.
	case (fromClient && epoch != m.producerEpoch) || epoch < m.producerEpoch:
		return endAnswer(kerr.ProducerFenced.Code)
	case m.markersPending():
		return endAnswer(kerr.ConcurrentTransactions.Code)
	}
	switch m.state {
	case Ongoing, PrepareEpochFence:
		to := PrepareCommit
		if !commit {
			to = PrepareAbort
		}
		if to == PrepareAbort && fence {
			m.producerEpoch, m.lastProducerEpoch = epoch, NoProducerEpoch
		}
		return endOutcome{t: m.prepareAbortOrCommit(to, TV0, NoProducerID, ms(now), false)}
	case CompleteCommit:
		if commit {
			return endAnswer(0)
		}
	case CompleteAbort:
		if !commit {
			return endAnswer(0)
		}
	case Empty:
	default:
		s.log.Error("transactional id in an illegal state for EndTxn", "transactional_id", m.id, "state", m.state)
		return endAnswer(kerr.UnknownServerError.Code)
	}
	return s.invalidState(m, commit)
}

func (s *Shard) invalidState(m *txnMetadata, commit bool) endOutcome {
	result := "abort"
	if commit {
		result = "commit"
	}
	s.log.Warn("transaction cannot end this way in its state", "transactional_id", m.id, "state", m.state, "result", result)
	return endAnswer(kerr.InvalidTxnState.Code)
}

// fenceAndAbort fences m's producer and aborts its open transaction, at
// the cluster's transaction version (InitProducerId on an Ongoing
// transaction, and timeouts). done learns the outcome once written.
func (s *Shard) fenceAndAbort(m *txnMetadata, now time.Time, res *coordinator.Result, done func(code int16, next *coordinator.Result)) {
	f := m.prepareFence()
	if err := s.check(m, f); err != nil {
		done(kerr.UnknownServerError.Code, res)
		return
	}
	m.state = PrepareEpochFence // for this operation only
	out := s.endTransaction(m, m.producerID, f.producerEpoch, false, false, s.serverTV(), now)
	if out.t == nil {
		m.state = Ongoing
		done(out.code, res)
		return
	}
	if err := s.check(m, out.t); err != nil {
		m.state = Ongoing
		done(kerr.UnknownServerError.Code, res)
		return
	}
	s.writeDecision(m, out.t, res, true, func(code int16, _ *transit, next *coordinator.Result) {
		done(code, next)
	})
}

// writeDecision writes t, the PrepareCommit or PrepareAbort of m, and
// once it is written hands out the markers (or, for a transaction
// without partitions, writes its completion right away). A fence whose
// record fails leaves its epoch bumped in memory (never returned to a
// client) and is not bumped again by the next fence. done learns the
// outcome and, on success, the completion that will follow.
func (s *Shard) writeDecision(m *txnMetadata, t *transit, res *coordinator.Result, fence bool, done func(code int16, c *transit, next *coordinator.Result)) {
	res.Add(s.record(m, t))
	onAppend(res, func(now time.Time, err error, next *coordinator.Result) {
		if err != nil {
			if fence {
				m.state = Ongoing
				m.hasFailedEpochFence = true
				s.log.Warn("failed to write an epoch fence; the epoch was bumped but not returned to the client",
					"transactional_id", m.id, "producer_epoch", m.producerEpoch, "err", err)
			}
			done(coordinator.WriteErrorCode(err), nil, next)
			return
		}
		if err := m.complete(t); err != nil {
			if fence {
				m.state = Ongoing
			}
			done(kerr.UnknownServerError.Code, nil, next)
			return
		}
		c := m.prepareComplete(ms(now))
		if err := s.check(m, c); err != nil {
			done(kerr.UnknownServerError.Code, nil, next)
			return
		}
		m.pendingComplete = c
		done(0, c, next)
		s.sendMarkers(m, next)
	})
}

// sendMarkers hands m's markers out (after the replies already in res),
// or, when m has no partitions, writes its completion right after res
// (after its replies, as Kafka answers before completing).
func (s *Shard) sendMarkers(m *txnMetadata, res *coordinator.Result) {
	if len(m.partitions) == 0 {
		c := m.pendingComplete
		onAppend(res, func(_ time.Time, _ error, next *coordinator.Result) {
			if s.txns[m.id] == m && m.pendingComplete == c {
				s.writeComplete(m, next)
			}
		})
		return
	}
	req := MarkerRequest{
		TxnPartition:       s.partition,
		CoordinatorEpoch:   s.coordinatorEpoch,
		TransactionalID:    m.id,
		ProducerID:         m.producerID,
		ProducerEpoch:      m.producerEpoch,
		Commit:             m.state == PrepareCommit,
		TransactionVersion: m.clientVersion,
		Partitions:         sortedPartitions(m.partitions),
	}
	res.Reply(func() { s.cfg.WriteMarkers(req) })
}

// CompleteMarkers records markers written for some partitions of a
// decided transaction (Kafka's TransactionMarkerRequestCompletionHandler
// removing them); once none is left, the completion (CompleteCommit or
// CompleteAbort) is written. Reports for another producer epoch,
// coordinator epoch or a transaction not waiting for markers are stale
// and ignored.
func (s *Shard) CompleteMarkers(now time.Time, req MarkersDone, res *coordinator.Result) {
	m, ok := s.txns[req.TransactionalID]
	if !ok || m.pendingComplete == nil || req.CoordinatorEpoch != s.coordinatorEpoch ||
		req.ProducerID != m.producerID || req.ProducerEpoch != m.producerEpoch || len(m.partitions) == 0 {
		s.log.Debug("ignoring a stale marker completion", "transactional_id", req.TransactionalID,
			"producer_id", req.ProducerID, "producer_epoch", req.ProducerEpoch, "coordinator_epoch", req.CoordinatorEpoch)
		return
	}
	for _, tp := range req.Partitions {
		delete(m.partitions, tp)
	}
	if len(m.partitions) == 0 {
		s.writeComplete(m, res)
	}
}

// writeComplete writes m's pending completion. If the partition is
// unavailable it is written again after a backoff; other failures mean
// the partition moved, and its next coordinator completes m.
func (s *Shard) writeComplete(m *txnMetadata, res *coordinator.Result) {
	c := m.pendingComplete
	s.timers.Cancel(completeKey(m.id))
	res.Add(s.record(m, c))
	onAppend(res, func(now time.Time, err error, _ *coordinator.Result) {
		if s.txns[m.id] != m || m.pendingComplete != c {
			return
		}
		if err != nil {
			if coordinator.WriteErrorCode(err) == kerr.CoordinatorNotAvailable.Code {
				s.log.Info("retrying the completion of a transaction", "transactional_id", m.id, "err", err)
				s.timers.Schedule(completeKey(m.id), now.Add(completeRetryBackoff), func(s *Shard, _ time.Time, res *coordinator.Result) {
					if s.txns[m.id] == m && m.pendingComplete == c {
						s.writeComplete(m, res)
					}
				})
				return
			}
			s.log.Warn("failed to write the completion of a transaction; leaving it to the partition's next coordinator",
				"transactional_id", m.id, "err", err)
			return
		}
		if err := m.complete(c); err != nil {
			s.log.Error("completing a transaction", "transactional_id", m.id, "err", err)
			return
		}
		m.pendingComplete = nil
		s.log.Debug("transaction complete", "transactional_id", m.id, "state", m.state,
			"producer_id", m.producerID, "producer_epoch", m.producerEpoch)
	})
}
