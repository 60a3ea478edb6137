package storage

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/gregor-streaming/gregor/internal/record"
)

// What the cleaner does with transactions (Kafka's
// CleanedTransactionMetadata and the transactional half of
// Cleaner.cleanInto):
//
//   - It never cleans at or above the last stable offset (cleaner.go's
//     upper bound), so every transaction it meets is decided.
//   - Records of aborted transactions go: they never enter the offset map
//     (they must not shadow an older committed value of their key) and
//     their batches are dropped, or kept empty when they are a producer's
//     last batch or the last of a cleaned segment.
//   - Records of committed transactions are cleaned like any others.
//   - A marker stays while its transaction still has batches in the log,
//     and an ABORT marker that stays keeps its transaction index entry,
//     which moves to the cleaned segment. Once a cleaning finds no batch
//     of its transaction, the marker gets a delete horizon (KIP-534: now
//     + delete.retention.ms, in the batch header as for tombstones), and
//     the first cleaning after the horizon removes it (or leaves it empty
//     if it is its producer's last batch: the producer's epoch lives in
//     it).
//
// The cleaner walks the log in offset order, so a transaction's batches
// come before its marker; which transactions were aborted it learns from
// the transaction indexes, before their batches.

// cleanedTxns follows the transactions of the batches a cleaning walks
// through (Kafka's CleanedTransactionMetadata). Not safe for concurrent
// use.
type cleanedTxns struct {
	// pending are aborted transactions not yet reached, by first offset.
	pending []AbortedTxn
	// aborted are the reached aborted transactions whose marker is still
	// ahead, by producer id, and whether one of their batches was seen.
	aborted map[int64]*abortedState
	// committed are the producers with a batch of a transaction not
	// aborted, whose marker is still ahead.
	committed map[int64]bool
	// index, if set, receives the entries of the ABORT markers kept.
	index *txnIndex
}

type abortedState struct {
	txn      AbortedTxn
	observed bool
}

func newCleanedTxns() *cleanedTxns {
	return &cleanedTxns{aborted: map[int64]*abortedState{}, committed: map[int64]bool{}}
}

// add makes txns known; a transaction may be added more than once (each
// segment's lookup returns those overlapping it).
func (c *cleanedTxns) add(txns []AbortedTxn) {
	c.pending = append(c.pending, txns...)
	slices.SortStableFunc(c.pending, func(a, b AbortedTxn) int {
		switch {
		case a.FirstOffset < b.FirstOffset:
			return -1
		case a.FirstOffset > b.FirstOffset:
			return 1
		}
		return 0
	})
}

// reach makes the aborted transactions that start at or before offset
// current (Kafka's consumeAbortedTxnsUpTo).
func (c *cleanedTxns) reach(offset int64) {
	n := 0
	for n < len(c.pending) && c.pending[n].FirstOffset <= offset {
		t := c.pending[n]
		if _, ok := c.aborted[t.ProducerID]; !ok {
			c.aborted[t.ProducerID] = &abortedState{txn: t}
		}
		n++
	}
	c.pending = c.pending[n:]
}

// onDataBatch follows a data batch and reports whether it belongs to an
// aborted transaction (Kafka's onBatchRead).
func (c *cleanedTxns) onDataBatch(h record.Header) (aborted bool) {
	c.reach(h.LastOffset())
	if !h.IsTransactional() {
		return false
	}
	if st, ok := c.aborted[h.ProducerID]; ok {
		st.observed = true
		return true
	}
	c.committed[h.ProducerID] = true
	return false
}

// onControlBatch follows a control batch and reports whether it may go,
// once its delete horizon has passed: its transaction has no batch left
// (Kafka's onControlBatchRead). An ABORT marker that stays adds its
// transaction to index. batch is the whole batch.
func (c *cleanedTxns) onControlBatch(h record.Header, batch []byte) (discardable bool, err error) {
	c.reach(h.LastOffset())
	meta := metaOf(h, len(batch))
	mk, ok, err := parseEndTxnMarker(batch, &meta)
	if err != nil {
		return false, err
	}
	if !ok {
		return true, nil // emptied by an earlier cleaning
	}
	if mk.commit {
		had := c.committed[h.ProducerID]
		delete(c.committed, h.ProducerID)
		return !had, nil
	}
	st, ok := c.aborted[h.ProducerID]
	delete(c.aborted, h.ProducerID)
	if ok && st.observed {
		if c.index != nil {
			if err := c.index.appendEntry(st.txn); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	return true, nil
}

// lastRecord is an active producer's last write as the cleaner must keep
// it (Kafka's LastRecord): the last offset of its last data batch, or -1
// if its last write is a marker, with the producer's epoch.
type lastRecord struct {
	lastDataOffset int64
	epoch          int16
}

// keepsProducerState reports whether h is the batch that holds the
// producer's last sequence or epoch (Kafka's isBatchLastRecordOfProducer):
// the cleaner keeps it, emptied if need be.
func (r lastRecord) keepsProducerState(h record.Header) bool {
	if r.lastDataOffset >= 0 {
		return h.LastOffset() == r.lastDataOffset
	}
	return h.IsControl() && h.ProducerEpoch == r.epoch
}

// Where a RecordBatch v2 header keeps the fields withDeleteHorizon sets.
const (
	batchOffCRC             = 17
	batchOffAttributes      = 21
	batchOffLastOffsetDelta = 23
	batchOffMaxTimestamp    = 35
)

// withDeleteHorizon appends to dst a copy of batch with delete horizon
// horizon (KIP-534: attribute bit 6, the base timestamp set to the
// horizon and the records' timestamp deltas made relative to it), as
// Kafka writes a marker whose transaction has no data left. Everything
// else, the max timestamp and last offset delta included, stays.
func withDeleteHorizon(dst, batch []byte, h record.Header, horizon int64) ([]byte, error) {
	var recs []record.Record
	err := record.Records(batch, func(r record.Record) error {
		r.Key, r.Value = cloneNullable(r.Key), cloneNullable(r.Value)
		hs := make([]record.RecordHeader, len(r.Headers))
		for i, rh := range r.Headers {
			hs[i] = record.RecordHeader{Key: cloneNullable(rh.Key), Value: cloneNullable(rh.Value)}
		}
		r.Headers = hs
		r.TimestampDelta = h.BaseTimestamp + r.TimestampDelta - horizon
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst, err = record.AppendBatch(dst, record.BuildOptions{
		BaseOffset: h.BaseOffset, PartitionLeaderEpoch: h.PartitionLeaderEpoch, Codec: h.Codec(),
		BaseTimestamp: horizon, LogAppendTime: h.IsLogAppendTime(), Transactional: h.IsTransactional(), Control: h.IsControl(),
		ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, BaseSequence: h.BaseSequence, KeepOffsetDeltas: true,
	}, recs)
	if err != nil {
		return dst, fmt.Errorf("set delete horizon: %w", err)
	}
	b := dst[start:]
	attrs := binary.BigEndian.Uint16(b[batchOffAttributes:]) | record.AttrDeleteHorizonFlag
	binary.BigEndian.PutUint16(b[batchOffAttributes:], attrs)
	binary.BigEndian.PutUint32(b[batchOffLastOffsetDelta:], uint32(h.LastOffsetDelta))
	binary.BigEndian.PutUint64(b[batchOffMaxTimestamp:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint32(b[batchOffCRC:], record.ComputeCRC(b))
	return dst, nil
}

func cloneNullable(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
