package replica

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// Where a RecordBatch v2 header keeps its CRC and base sequence (the CRC
// covers everything from the attributes, at 21, to the end).
const (
	batchOffCRC          = 17
	batchOffBaseSequence = 53
)

// AppendCoordinator appends, as leader, a batch this broker writes on
// behalf of a coordinator (Kafka's AppendOrigin.COORDINATOR): a
// transaction marker (a control batch, from WriteTxnMarkers or a group
// coordinator shard), or a coordinator's records, possibly a
// transactional batch of a producer (TxnOffsetCommit). Clients may not
// write control batches; Append refuses them.
//
// The caller waits for acks=all as with Append (min.insync.replicas is
// checked first; then Purgatory.Add with LastOffset+1).
//
// The log checks every batch with a producer id as it checks a client's
// (epochs, and for data batches sequences and duplicates). A
// coordinator's transactional records are not sequenced by their
// producer (Kafka writes them at sequence 0 and does not check it for
// this origin), so their base sequence is set here, under the append
// lock, to the one the producer's state on this partition expects next:
// its last sequence + 1 at the same epoch, 0 at a new epoch. They are
// refused (INVALID_TXN_STATE) while a transaction verification of their
// producer is pending or stale (txnverify.go). Markers are checked as
// Kafka checks them without a transaction version (an older producer
// epoch is INVALID_PRODUCER_EPOCH, an older coordinator epoch
// TRANSACTION_COORDINATOR_FENCED); AppendTxnMarker passes the version.
func (p *Partition) AppendCoordinator(batch []byte) (AppendResult, error) {
	return p.appendCoordinator(batch, txnVersionUnknown)
}

// AppendTxnMarker is AppendCoordinator for a transaction marker written
// by WriteTxnMarkers with its transaction version (v2; -1 unknown): with
// transaction version 2 the marker's producer epoch must be above the
// producer's epoch on this partition, except for a retry of a marker
// already written (storage.Log.AppendTxnMarker).
func (p *Partition) AppendTxnMarker(batch []byte, transactionVersion int16) (AppendResult, error) {
	return p.appendCoordinator(batch, transactionVersion)
}

func (p *Partition) appendCoordinator(batch []byte, tv int16) (AppendResult, error) {
	st, err := p.leaderState(-1)
	if err != nil {
		return AppendResult{}, err
	}
	tc := st.config
	if err := p.checkMinISRForAcksAll(); err != nil {
		return AppendResult{}, err
	}
	if int64(len(batch)) > int64(tc.MaxMessageBytes) {
		return AppendResult{}, apierror.New(kerr.MessageTooLarge, "The batch size of %d bytes exceeds the maximum configured value of %d.", len(batch), tc.MaxMessageBytes)
	}
	if int64(len(batch)) > tc.Log.SegmentBytes {
		return AppendResult{}, apierror.New(kerr.RecordListTooLarge, "The batch size of %d bytes exceeds segment.bytes %d.", len(batch), tc.Log.SegmentBytes)
	}
	now := p.now()
	info, err := record.Validate(batch, record.ValidateOptions{
		Now:                  now,
		LogAppendTime:        tc.LogAppendTime,
		TimestampBeforeMaxMs: tc.TimestampBeforeMaxMs,
		TimestampAfterMaxMs:  tc.TimestampAfterMaxMs,
		Compacted:            tc.Compacted,
		AllowControl:         true,
		Topic:                p.Topic,
		Partition:            p.Index,
	})
	if err != nil {
		return AppendResult{}, validationError(err)
	}
	h := info.Header
	appendTime := int64(-1)
	if tc.LogAppendTime {
		appendTime = now.UnixMilli()
	}
	p.appendMu.Lock()
	if cur := p.state.Load(); !cur.isLeader || cur.leaderEpoch != st.leaderEpoch {
		p.appendMu.Unlock()
		return AppendResult{}, apierror.New(kerr.NotLeaderForPartition, "")
	}
	if h.HasProducerID() && !h.IsControl() {
		if err := p.checkCoordinatorTxnLocked(h, st.leaderEpoch); err != nil {
			p.appendMu.Unlock()
			return AppendResult{}, err
		}
		p.sequenceLocked(batch, h)
	}
	var ai storage.AppendInfo
	if h.IsControl() {
		ai, err = p.log.AppendTxnMarker(batch, st.leaderEpoch, appendTime, tv)
	} else {
		ai, err = p.log.Append(batch, st.leaderEpoch, appendTime)
	}
	if err == nil && !ai.Duplicate {
		p.txnAppendedLocked(h)
	}
	if err == nil && ai.Duplicate {
		p.appendMu.Unlock()
		return AppendResult{BaseOffset: ai.FirstOffset, LastOffset: ai.LastOffset, LogAppendTime: ai.LogAppendTime, LogStartOffset: ai.LogStartOffset, Duplicate: true}, nil
	}
	advanced := false
	if err == nil {
		p.mu.Lock()
		advanced = p.maybeIncrementHighWatermarkLocked(p.env.nowMs())
		p.mu.Unlock()
	}
	p.appendMu.Unlock()
	if err != nil {
		return AppendResult{}, appendError(err)
	}
	if advanced && p.env.purgatory != nil {
		p.env.purgatory.checkPartition(p)
	}
	p.wake()
	return AppendResult{BaseOffset: ai.FirstOffset, LastOffset: ai.LastOffset, LogAppendTime: appendTime, LogStartOffset: ai.LogStartOffset}, nil
}

// sequenceLocked sets the base sequence of a coordinator's
// transactional batch to what the producer's state expects next (see
// AppendCoordinator) and recomputes the CRC. appendMu must be held, so
// that no other leader append moves the state in between.
func (p *Partition) sequenceLocked(batch []byte, h record.Header) {
	seq := int32(0)
	if ps, ok := p.log.ProducerState(h.ProducerID); ok && ps.ProducerEpoch == h.ProducerEpoch && ps.LastSequence() != record.NoSequence {
		seq = ps.LastSequence() + 1
		if ps.LastSequence() == 1<<31-1 {
			seq = 0 // sequences wrap, as producers' do
		}
	}
	if seq == h.BaseSequence {
		return
	}
	binary.BigEndian.PutUint32(batch[batchOffBaseSequence:], uint32(seq))
	binary.BigEndian.PutUint32(batch[batchOffCRC:], record.ComputeCRC(batch))
}
