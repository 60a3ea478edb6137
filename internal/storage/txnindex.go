package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
)

// The transaction index: `<20-digit base offset>.txnindex` next to a
// segment lists the aborted transactions whose ABORT marker is in that
// segment, in Kafka's format (TransactionIndex, AbortedTxn), so that a
// read_committed fetch can tell consumers which records to drop without
// the broker decoding anything. Big endian, one 34-byte entry per aborted
// transaction, in the order the markers were appended (so by last offset):
//
//	0         2             10             18            26                  34
//	+---------+-------------+--------------+-------------+-------------------+
//	| version | producer id | first offset | last offset | last stable offset|
//	| int16=0 | int64       | int64        | int64       | int64             |
//	+---------+-------------+--------------+-------------+-------------------+
//
//	first offset        the transaction's first offset on this partition
//	last offset         the offset of its ABORT marker
//	last stable offset  the partition's first unstable offset once the
//	                    transaction completed: the first offset of the
//	                    earliest transaction of another producer still open,
//	                    or last offset + 1 (Kafka's
//	                    ProducerStateManager.lastStableOffset)
//
// The file exists only once a segment has an entry, as in Kafka. Entries
// are appended in memory when the marker is appended and written to the
// file with the other index entries (at roll, flush and close); flush
// fsyncs them. A segment's entries go with it (retention, truncation of
// the segment, cleaning); truncating a segment drops the entries whose
// marker is cut off. Recovery rebuilds the entries of the segments it
// scans by replaying their batches through the producer state, from the
// latest producer snapshot at or below the first of them.
//
// A fetch from offset F whose data ends before offset U needs every
// aborted transaction with last offset >= F and first offset < U (Kafka's
// TransactionIndex.collectAbortedTxns). Such a transaction's marker is at
// or after F, so the indexes of the segments from F's on are searched; the
// search ends at the first entry whose last stable offset is >= U: every
// transaction aborted later either was still open then, and so started at
// or after that offset, or had not started.

const (
	txnIndexSuffix    = ".txnindex"
	txnIndexEntrySize = 34
	txnIndexVersion   = 0
)

// AbortedTxn is one aborted transaction of a partition, an entry of the
// transaction index (Kafka's AbortedTxn). A read_committed Fetch answers
// the producer id and first offset of those overlapping the fetched data.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64 // the transaction's first offset in the partition
	LastOffset  int64 // the offset of its ABORT marker
	// LastStableOffset is the partition's first unstable offset right
	// after the transaction completed (see the format above).
	LastStableOffset int64
}

// txnIndex is a segment's transaction index, held in memory as the exact
// bytes of the .txnindex file. Not safe for concurrent use (Log.mu guards
// it).
type txnIndex struct {
	buf       []byte
	persisted int // bytes of buf already written to the file
	synced    int // bytes of buf known to be fsynced
}

func (x *txnIndex) len() int { return len(x.buf) / txnIndexEntrySize }

func (x *txnIndex) at(i int) AbortedTxn {
	e := x.buf[i*txnIndexEntrySize:]
	return AbortedTxn{
		ProducerID:       int64(binary.BigEndian.Uint64(e[2:])),
		FirstOffset:      int64(binary.BigEndian.Uint64(e[10:])),
		LastOffset:       int64(binary.BigEndian.Uint64(e[18:])),
		LastStableOffset: int64(binary.BigEndian.Uint64(e[26:])),
	}
}

// appendEntry appends t, whose marker must come after the last entry's
// (Kafka's TransactionIndex.append requires increasing last offsets).
func (x *txnIndex) appendEntry(t AbortedTxn) error {
	if n := x.len(); n > 0 && x.at(n-1).LastOffset >= t.LastOffset {
		return fmt.Errorf("transaction index: last offset %d does not follow %d", t.LastOffset, x.at(n-1).LastOffset)
	}
	x.buf = appendAbortedTxn(x.buf, t)
	return nil
}

// appendAbortedTxn appends the 34-byte entry of t to b.
func appendAbortedTxn(b []byte, t AbortedTxn) []byte {
	b = binary.BigEndian.AppendUint16(b, txnIndexVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(t.ProducerID))
	b = binary.BigEndian.AppendUint64(b, uint64(t.FirstOffset))
	b = binary.BigEndian.AppendUint64(b, uint64(t.LastOffset))
	return binary.BigEndian.AppendUint64(b, uint64(t.LastStableOffset))
}

// truncateTo drops the entries whose marker is at or after offset (Kafka's
// TransactionIndex.truncateTo).
func (x *txnIndex) truncateTo(offset int64) {
	n := 0
	for n < x.len() && x.at(n).LastOffset < offset {
		n++
	}
	x.buf = x.buf[:n*txnIndexEntrySize]
	x.persisted = min(x.persisted, len(x.buf))
	x.synced = min(x.synced, len(x.buf))
}

// reset drops every entry; the file is rewritten by the caller.
func (x *txnIndex) reset() { *x = txnIndex{} }

// validate checks what the index promises (Kafka's sanityCheck, and
// more): whole entries of version 0, markers in increasing order within
// [base, end) (end < 0: unknown) and after their transaction's first
// offset.
func (x *txnIndex) validate(base, end int64) error {
	if len(x.buf)%txnIndexEntrySize != 0 {
		return fmt.Errorf("transaction index of %d bytes is not a multiple of %d", len(x.buf), txnIndexEntrySize)
	}
	prev := int64(-1)
	for i := range x.len() {
		if v := int16(binary.BigEndian.Uint16(x.buf[i*txnIndexEntrySize:])); v != txnIndexVersion {
			return fmt.Errorf("transaction index entry %d has version %d", i, v)
		}
		t := x.at(i)
		if t.ProducerID < 0 || t.FirstOffset < 0 || t.FirstOffset > t.LastOffset || t.LastOffset <= prev ||
			t.LastOffset < base || (end >= 0 && t.LastOffset >= end) {
			return fmt.Errorf("transaction index entry %d %+v out of order or outside [%d, %d)", i, t, base, end)
		}
		prev = t.LastOffset
	}
	return nil
}

// collect appends to out the entries overlapping [fetchOffset,
// upperBound) and reports whether the search is complete: an entry's last
// stable offset reached upperBound (Kafka's collectAbortedTxns).
func (x *txnIndex) collect(out []AbortedTxn, fetchOffset, upperBound int64) ([]AbortedTxn, bool) {
	for i := range x.len() {
		t := x.at(i)
		if t.LastOffset >= fetchOffset && t.FirstOffset < upperBound {
			out = append(out, t)
		}
		if t.LastStableOffset >= upperBound {
			return out, true
		}
	}
	return out, false
}

// entries returns a copy of the index's entries.
func (x *txnIndex) entries() []AbortedTxn {
	out := make([]AbortedTxn, x.len())
	for i := range out {
		out[i] = x.at(i)
	}
	return out
}

// loadTxnIndex reads a segment's transaction index file, if any.
func (s *segment) loadTxnIndex() error {
	buf, ok, err := readIndexFile(s.path(txnIndexSuffix))
	if err != nil {
		return err
	}
	if !ok {
		s.txnIndex = txnIndex{}
		return nil
	}
	s.txnIndex = txnIndex{buf: buf, persisted: len(buf), synced: len(buf)}
	return nil
}

// persistTxnIndex writes the entries not yet in the file, creating it for
// the first one.
func (s *segment) persistTxnIndex() error {
	var err error
	if s.txnIndex.persisted, err = writeIndexTail(s.path(txnIndexSuffix), s.txnIndex.buf, s.txnIndex.persisted); err != nil {
		return fmt.Errorf("write transaction index of segment %d: %w", s.base, err)
	}
	return nil
}

// truncateTxnIndexFile cuts the file to the persisted entries; a file
// that does not exist stays so.
func (s *segment) truncateTxnIndexFile() error {
	err := os.Truncate(s.path(txnIndexSuffix), int64(s.txnIndex.persisted))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("truncate transaction index of segment %d: %w", s.base, err)
	}
	return nil
}

// rewriteTxnIndexFile replaces the file with the in-memory entries and
// fsyncs it, or removes it if there are none (after a rebuild).
func (s *segment) rewriteTxnIndexFile() error {
	path := s.path(txnIndexSuffix)
	if len(s.txnIndex.buf) == 0 {
		s.txnIndex = txnIndex{}
		return removeIfExists(path)
	}
	err := truncateIndexFile(path, 0)
	if err == nil {
		_, err = writeIndexTail(path, s.txnIndex.buf, 0)
	}
	if err == nil {
		err = syncFile(path)
	}
	if err != nil {
		return fmt.Errorf("rewrite transaction index of segment %d: %w", s.base, err)
	}
	s.txnIndex.persisted, s.txnIndex.synced = len(s.txnIndex.buf), len(s.txnIndex.buf)
	return nil
}

// CollectAbortedTxns returns the aborted transactions that overlap the
// offsets [fetchOffset, upperBound): last offset >= fetchOffset and first
// offset < upperBound (Kafka's UnifiedLog.collectAbortedTransactions), in
// the order their markers were appended. The caller owns the result.
func (l *Log) CollectAbortedTxns(fetchOffset, upperBound int64) ([]AbortedTxn, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.writableLocked(); err != nil {
		return nil, err
	}
	return l.collectAbortedTxnsLocked(fetchOffset, upperBound), nil
}

// collectAbortedTxnsLocked searches the transaction indexes of the
// segments from fetchOffset's on; mu may be held for reading.
func (l *Log) collectAbortedTxnsLocked(fetchOffset, upperBound int64) []AbortedTxn {
	var out []AbortedTxn
	for i := l.segmentIndexLocked(fetchOffset); i < len(l.mu.segments); i++ {
		var done bool
		if out, done = l.mu.segments[i].txnIndex.collect(out, fetchOffset, upperBound); done {
			break
		}
	}
	return out
}

// AbortedTxns returns every entry of the transaction indexes, by marker
// offset (for tools and tests). The caller owns the result.
func (l *Log) AbortedTxns() []AbortedTxn {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []AbortedTxn
	for _, s := range l.mu.segments {
		out = append(out, s.txnIndex.entries()...)
	}
	return slices.Clip(out)
}
