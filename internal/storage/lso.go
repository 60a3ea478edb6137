package storage

import (
	"cmp"
	"slices"

	"github.com/gregor-streaming/gregor/internal/invariants"
)

// The last stable offset (Kafka's UnifiedLog.lastStableOffset and the
// transaction half of ProducerStateManager): the offset below which every
// transaction is decided and its marker replicated, so read_committed
// consumers may read up to it.
//
//	data batch, transactional, producer P has no open transaction
//	    ─▶ P's transaction opens at the batch's first offset (ongoing)
//	control batch (COMMIT or ABORT) from P while P's transaction is open
//	    ─▶ the transaction completes; an ABORT gets a transaction index
//	       entry in the marker's segment (txnindex.go); the transaction
//	       stays unstable (unreplicated) until the high watermark passes
//	       its marker
//	high watermark moves, log start offset moves
//	    ─▶ unreplicated transactions whose marker is below it are dropped
//
//	first unstable offset = min first offset of the ongoing and the
//	                        unreplicated transactions, at least the log
//	                        start offset
//	last stable offset    = min(first unstable offset, high watermark)
//
// A marker of a producer without an open transaction (a retry, or one
// whose data the cleaner removed) changes nothing here. Followers build the
// same state from the replicated batches, and every rebuild of the producer
// state (open, truncation) rebuilds it: a producer snapshot keeps each
// producer's open transaction (CurrentTxnFirstOffset), and the batches
// after the snapshot are replayed. The state lives in the
// producerStateManager, guarded by Log.mu.

// txnMetadata is a transaction the last stable offset waits for (Kafka's
// TxnMetadata).
type txnMetadata struct {
	producerID  int64
	firstOffset int64
	lastOffset  int64 // its marker's offset once completed; -1 while open
}

// completedTxn is a transaction an append completed (Kafka's
// CompletedTxn): the producer's open transaction met its marker.
type completedTxn struct {
	producerID  int64
	firstOffset int64
	lastOffset  int64 // the marker's offset
	aborted     bool
}

// startTxn records a transaction opened at firstOffset. ongoing is kept
// sorted by first offset.
func (m *producerStateManager) startTxn(pid, firstOffset int64) {
	t := txnMetadata{producerID: pid, firstOffset: firstOffset, lastOffset: -1}
	i, found := slices.BinarySearchFunc(m.ongoing, firstOffset, func(t txnMetadata, off int64) int { return cmp.Compare(t.firstOffset, off) })
	if found {
		m.ongoing[i] = t
		return
	}
	m.ongoing = slices.Insert(m.ongoing, i, t)
}

// lastStableOffsetAfter is the first unstable offset right after ct
// completes, the value its transaction index entry records (Kafka's
// ProducerStateManager.lastStableOffset): the first offset of the
// earliest open transaction of another producer, or the offset after the
// marker. A transaction that opened after the marker (a follower appends
// several batches at once) does not count, as it would not have for the
// leader, which appended the marker alone.
func (m *producerStateManager) lastStableOffsetAfter(ct completedTxn) int64 {
	for _, t := range m.ongoing {
		if t.producerID != ct.producerID {
			return min(t.firstOffset, ct.lastOffset+1)
		}
	}
	return ct.lastOffset + 1
}

// completeTxn moves ct from the ongoing transactions to the unreplicated
// ones (Kafka's completeTxn), where it waits for the high watermark.
func (m *producerStateManager) completeTxn(ct completedTxn) {
	i := slices.IndexFunc(m.ongoing, func(t txnMetadata) bool {
		return t.firstOffset == ct.firstOffset && t.producerID == ct.producerID
	})
	if i < 0 {
		_ = invariants.AssertionFailedf("storage: completed transaction %+v was not open", ct)
		m.logger.Error("storage: completed a transaction that was not open", "producer_id", ct.producerID,
			"first_offset", ct.firstOffset, "last_offset", ct.lastOffset)
	} else {
		m.ongoing = slices.Delete(m.ongoing, i, i+1)
	}
	t := txnMetadata{producerID: ct.producerID, firstOffset: ct.firstOffset, lastOffset: ct.lastOffset}
	j, _ := slices.BinarySearchFunc(m.unreplicated, ct.firstOffset, func(t txnMetadata, off int64) int { return cmp.Compare(t.firstOffset, off) })
	m.unreplicated = slices.Insert(m.unreplicated, j, t)
}

// removeUnreplicated drops the completed transactions whose marker is
// below offset (Kafka's removeUnreplicatedTransactions): on a high
// watermark or log start offset move.
func (m *producerStateManager) removeUnreplicated(offset int64) {
	m.unreplicated = slices.DeleteFunc(m.unreplicated, func(t txnMetadata) bool { return t.lastOffset < offset })
}

// firstUnstableOffset is the first offset of the earliest ongoing or
// unreplicated transaction (Kafka's firstUnstableOffset).
func (m *producerStateManager) firstUnstableOffset() (int64, bool) {
	switch {
	case len(m.ongoing) == 0 && len(m.unreplicated) == 0:
		return 0, false
	case len(m.ongoing) == 0:
		return m.unreplicated[0].firstOffset, true
	case len(m.unreplicated) == 0:
		return m.ongoing[0].firstOffset, true
	}
	return min(m.ongoing[0].firstOffset, m.unreplicated[0].firstOffset), true
}

// clearTxns forgets every transaction, with the producers.
func (m *producerStateManager) clearTxns() {
	m.ongoing, m.unreplicated = nil, nil
}

// completeTxnsLocked finishes the transactions an append or a replay
// completed, in order: an aborted one gets its entry in the transaction
// index of s, the segment holding its marker, if index is set (replays of
// data whose index is already on disk pass false); each then waits for
// the high watermark among the unreplicated transactions.
func (l *Log) completeTxnsLocked(completed []completedTxn, s *segment, index bool) {
	ps := l.mu.producers
	for _, ct := range completed {
		if ct.aborted && index {
			t := AbortedTxn{ProducerID: ct.producerID, FirstOffset: ct.firstOffset, LastOffset: ct.lastOffset, LastStableOffset: ps.lastStableOffsetAfter(ct)}
			if err := s.txnIndex.appendEntry(t); err != nil {
				_ = invariants.AssertionFailedf("storage: segment %d: %v", s.base, err)
				l.logger.Error("storage: transaction index entry out of order", "segment", s.base, "err", err)
			}
		}
		ps.completeTxn(ct)
	}
}

// lastStableOffsetLocked is min(first unstable offset, high watermark),
// the first unstable offset taken to be at least the log start offset
// (Kafka's UnifiedLog.lastStableOffset and
// maybeIncrementFirstUnstableOffset).
func (l *Log) lastStableOffsetLocked() int64 {
	hw := l.mu.highWatermark
	if fu, ok := l.mu.producers.firstUnstableOffset(); ok {
		if fu = max(fu, l.mu.logStartOffset); fu < hw {
			return fu
		}
	}
	return hw
}

// LastStableOffset returns the last stable offset: read_committed
// consumers read below it, and ListOffsets answers it for the latest
// offset at isolation level read_committed (see lso.go).
func (l *Log) LastStableOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lastStableOffsetLocked()
}

// FirstUnstableOffset returns the first offset of the earliest
// transaction that is open or whose marker is not yet below the high
// watermark; ok is false if there is none.
func (l *Log) FirstUnstableOffset() (offset int64, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	fu, ok := l.mu.producers.firstUnstableOffset()
	if !ok {
		return -1, false
	}
	return max(fu, l.mu.logStartOffset), true
}
