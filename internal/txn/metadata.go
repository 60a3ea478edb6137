package txn

import (
	"maps"
	"math"

	"github.com/gregor-streaming/gregor/internal/invariants"
)

// txnMetadata is the state of one transactional id (Kafka's
// TransactionMetadata). It changes only by complete, once the record of
// the transition is in the log, or by replay.
type txnMetadata struct {
	id string
	// producerID is the producer id in use; prevProducerID the one
	// before the last transition (KIP-890: a producer that missed an
	// epoch-overflow answer retries with it); nextProducerID the id the
	// producer moves to when the current transaction completes (TV2
	// epoch overflow), else -1.
	producerID, prevProducerID, nextProducerID int64
	// producerEpoch is the current epoch; lastProducerEpoch the epoch
	// before a bump that a producer may retry with (KIP-360), -1 when
	// none. lastProducerEpoch is not written to the log.
	producerEpoch, lastProducerEpoch int16
	// timeoutMs is the transaction timeout (transaction.timeout.ms).
	timeoutMs int32
	state     State
	// partitions are the partitions of the open transaction; while
	// markers are written, those still without a marker.
	partitions map[TopicPartition]struct{}
	// startMs is when the transaction began (its first partition), -1
	// before the first; lastUpdateMs when the id last changed.
	startMs, lastUpdateMs int64
	// clientVersion is the transaction version of the client's last
	// transition (TV0 or TV2).
	clientVersion int16
	// hasFailedEpochFence: an epoch fence bumped the epoch in memory but
	// its record was not written; the next fence does not bump again
	// (the bumped epoch never reached a client).
	hasFailedEpochFence bool
	// pendingComplete is the CompleteCommit/CompleteAbort transition
	// prepared when the markers were handed out (Kafka's
	// PendingCompleteTxn); non-nil exactly while the markers are written.
	pendingComplete *transit
}

// transit is a prepared transition: the metadata an id will have once
// the transition's record is written (Kafka's TxnTransitMetadata).
type transit struct {
	producerID, prevProducerID, nextProducerID int64
	producerEpoch, lastProducerEpoch           int16
	timeoutMs                                  int32
	state                                      State
	partitions                                 map[TopicPartition]struct{}
	startMs, lastUpdateMs                      int64
	clientVersion                              int16
}

// markersPending reports whether markers are being written: Kafka's
// pendingTransitionInProgress, which is set from the time a
// PrepareCommit/PrepareAbort is written until its completion is.
func (m *txnMetadata) markersPending() bool {
	return m.state == PrepareCommit || m.state == PrepareAbort
}

// begin starts a transition to state from the current metadata (Kafka's
// TransitionData): every field as it is now; prevProducerID is the
// current producer id.
func (m *txnMetadata) begin(to State) *transit {
	return &transit{
		producerID:        m.producerID,
		prevProducerID:    m.producerID,
		nextProducerID:    m.nextProducerID,
		producerEpoch:     m.producerEpoch,
		lastProducerEpoch: m.lastProducerEpoch,
		timeoutMs:         m.timeoutMs,
		state:             to,
		partitions:        maps.Clone(m.partitions),
		startMs:           m.startMs,
		lastUpdateMs:      m.lastUpdateMs,
		clientVersion:     m.clientVersion,
	}
}

// check validates a prepared transition as Kafka's prepareTransitionTo:
// a valid producer id and epoch and a transition in the table.
func (s *Shard) check(m *txnMetadata, t *transit) error {
	if t.producerID < 0 {
		return invariants.AssertionFailedf("txn: %s: illegal new producer id %d", m.id, t.producerID)
	}
	if t.state != Dead && t.producerEpoch < 0 {
		return invariants.AssertionFailedf("txn: %s: illegal new producer epoch %d", m.id, t.producerEpoch)
	}
	if !validTransition(m.state, t.state) {
		return invariants.AssertionFailedf("txn: %s: illegal transition %s -> %s", m.id, m.state, t.state)
	}
	if s.observe != nil {
		s.observe(m.state, t.state)
	}
	return nil
}

// complete applies a transition whose record is written, after checking
// it as Kafka's completeTransitionTo does.
func (m *txnMetadata) complete(t *transit) error {
	ok := true
	switch t.state {
	case Empty: // InitProducerId
		ok = (m.producerEpoch == t.producerEpoch || m.validEpochBump(t)) && len(t.partitions) == 0 && t.startMs == -1
	case Ongoing: // AddPartitionsToTxn
		ok = m.validEpoch(t) && m.timeoutMs == t.timeoutMs && subset(m.partitions, t.partitions)
	case PrepareCommit, PrepareAbort: // EndTxn
		// With TV2 an abort may start from Empty or a completed
		// transaction, with a new start time.
		emptyAbort := t.state == PrepareAbort && supportsEpochBump(t.clientVersion) &&
			(m.state == Empty || m.state == CompleteCommit || m.state == CompleteAbort)
		ok = m.validEpoch(t) && maps.Equal(m.partitions, t.partitions) && m.timeoutMs == t.timeoutMs &&
			(m.startMs == t.startMs || emptyAbort)
	case CompleteCommit, CompleteAbort: // markers written
		ok = m.validEpoch(t) && m.timeoutMs == t.timeoutMs && t.startMs != -1
	default: // PrepareEpochFence and Dead are never completed
		ok = false
	}
	if !ok {
		return invariants.AssertionFailedf("txn: %s: unexpected transition from %s (producer %d epoch %d) to %s (producer %d epoch %d last %d)",
			m.id, m.state, m.producerID, m.producerEpoch, t.state, t.producerID, t.producerEpoch, t.lastProducerEpoch)
	}
	m.producerID = t.producerID
	m.prevProducerID = t.prevProducerID
	m.nextProducerID = t.nextProducerID
	m.producerEpoch = t.producerEpoch
	m.lastProducerEpoch = t.lastProducerEpoch
	m.timeoutMs = t.timeoutMs
	m.state = t.state
	m.partitions = t.partitions
	m.startMs = t.startMs
	m.lastUpdateMs = t.lastUpdateMs
	m.clientVersion = t.clientVersion
	return nil
}

// validEpoch is Kafka's validProducerEpoch: with TV2, a prepare bumps the
// epoch by one and a completion after an epoch overflow moves to a new
// producer id at epoch 0; otherwise producer id and epoch are unchanged.
func (m *txnMetadata) validEpoch(t *transit) bool {
	tv2 := supportsEpochBump(t.clientVersion)
	if tv2 && (t.state == CompleteCommit || t.state == CompleteAbort) && t.producerEpoch == 0 {
		return t.lastProducerEpoch == m.lastProducerEpoch && t.prevProducerID == m.producerID
	}
	if tv2 && (t.state == PrepareCommit || t.state == PrepareAbort) {
		return t.lastProducerEpoch == m.producerEpoch && t.producerID == m.producerID
	}
	return t.producerEpoch == m.producerEpoch && t.producerID == m.producerID
}

// validEpochBump: the epoch goes up by one, or a new producer id starts
// at 0.
func (m *txnMetadata) validEpochBump(t *transit) bool {
	return t.producerEpoch == m.producerEpoch+1 || (t.producerEpoch == 0 && t.producerID != m.producerID)
}

func subset(small, big map[TopicPartition]struct{}) bool {
	for tp := range small {
		if _, ok := big[tp]; !ok {
			return false
		}
	}
	return true
}

// prepareFence bumps the epoch to fence the current producer before its
// transaction is aborted (prepareFenceProducerEpoch). After a fence
// whose record failed, the epoch was bumped already and is not bumped
// again; at Short.MaxValue it cannot be.
func (m *txnMetadata) prepareFence() *transit {
	t := m.begin(PrepareEpochFence)
	if !m.hasFailedEpochFence && m.producerEpoch != math.MaxInt16 {
		t.producerEpoch = m.producerEpoch + 1
	}
	return t
}

// prepareIncrementEpoch is InitProducerId on an id without an open
// transaction (prepareIncrementProducerEpoch). expected is the epoch the
// producer says it has (KIP-360), nil when it sent none; fenced reports
// a producer whose epoch is neither the current nor the last one.
func (m *txnMetadata) prepareIncrementEpoch(timeoutMs int32, expected *int16, nowMs int64) (t *transit, fenced bool) {
	t = m.begin(Empty)
	bumped := m.producerEpoch + 1
	switch {
	case expected == nil:
		// A new producer instance: bump and forget the last epoch.
		t.producerEpoch, t.lastProducerEpoch = bumped, NoProducerEpoch
	case m.producerEpoch == NoProducerEpoch || *expected == m.producerEpoch:
		// The producer continues after an error and no other producer
		// was initialized since.
		t.producerEpoch, t.lastProducerEpoch = bumped, m.producerEpoch
	case *expected == m.lastProducerEpoch:
		// A retry of a bump that succeeded: answer the current epoch.
	default:
		return nil, true
	}
	t.timeoutMs = timeoutMs
	t.partitions = map[TopicPartition]struct{}{}
	t.startMs = -1
	t.lastUpdateMs = nowMs
	return t, false
}

// prepareRotation moves the id to a new producer id at epoch 0 when the
// epochs of the current one are exhausted (prepareProducerIdRotation).
func (m *txnMetadata) prepareRotation(newProducerID int64, timeoutMs int32, nowMs int64, recordLastEpoch bool) *transit {
	t := m.begin(Empty)
	t.producerID = newProducerID
	t.producerEpoch = 0
	t.lastProducerEpoch = NoProducerEpoch
	if recordLastEpoch {
		t.lastProducerEpoch = m.producerEpoch
	}
	t.timeoutMs = timeoutMs
	t.partitions = map[TopicPartition]struct{}{}
	t.startMs = -1
	t.lastUpdateMs = nowMs
	return t
}

// prepareAddPartitions opens the transaction or adds to it; a transaction
// starts at its first partition.
func (m *txnMetadata) prepareAddPartitions(parts []TopicPartition, nowMs int64, tv int16) *transit {
	t := m.begin(Ongoing)
	if m.state == Empty || m.state == CompleteCommit || m.state == CompleteAbort {
		t.startMs = nowMs
	}
	for _, tp := range parts {
		t.partitions[tp] = struct{}{}
	}
	t.lastUpdateMs = nowMs
	t.clientVersion = tv
	return t
}

// prepareAbortOrCommit decides the transaction (PrepareCommit or
// PrepareAbort). With TV2 the epoch is bumped (KIP-890) — except an
// abort at Short.MaxValue, which must still go through; nextProducerID
// is the id to move to after an epoch overflow, else -1. An abort
// without partitions (TV2) starts now.
func (m *txnMetadata) prepareAbortOrCommit(to State, tv int16, nextProducerID int64, nowMs int64, noPartitionAdded bool) *transit {
	t := m.begin(to)
	if supportsEpochBump(tv) {
		if !(m.producerEpoch == math.MaxInt16 && to == PrepareAbort) {
			t.producerEpoch = m.producerEpoch + 1
		}
		t.lastProducerEpoch = m.producerEpoch
	}
	if noPartitionAdded {
		t.startMs = nowMs
	}
	t.nextProducerID = nextProducerID
	t.lastUpdateMs = nowMs
	t.clientVersion = tv
	return t
}

// prepareComplete is the completion once every marker is written: with
// TV2 after an epoch overflow the producer moves to the next producer id
// at epoch 0 (the last epoch stays what the client last saw).
func (m *txnMetadata) prepareComplete(nowMs int64) *transit {
	m.hasFailedEpochFence = false // the fence, if any, is written
	to := CompleteAbort
	if m.state == PrepareCommit {
		to = CompleteCommit
	}
	t := m.begin(to)
	if supportsEpochBump(m.clientVersion) && m.nextProducerID != NoProducerID {
		t.producerID = m.nextProducerID
		t.producerEpoch = 0
	}
	t.nextProducerID = NoProducerID
	t.partitions = map[TopicPartition]struct{}{}
	t.lastUpdateMs = nowMs
	return t
}

// prepareDead expires the id.
func (m *txnMetadata) prepareDead() *transit {
	t := m.begin(Dead)
	t.partitions = map[TopicPartition]struct{}{}
	return t
}
