package storage

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gregor-streaming/gregor/internal/record"
)

// ReadInfo is the result of a Read. Data is owned by the caller, who may
// give it back with ReleaseReadData when done with it.
type ReadInfo struct {
	Data             []byte // whole batches as stored; empty if none qualify
	LogStartOffset   int64
	LogEndOffset     int64
	HighWatermark    int64
	LastStableOffset int64
	// AbortedTxns are, for ReadCommitted, the aborted transactions that
	// overlap Data (nil for Read and when Data is empty).
	AbortedTxns []AbortedTxn
}

// Read returns whole batches copied from one segment file, starting with
// the batch that holds offset (or the first one after it), stopping before
// the first batch whose last offset is >= maxOffset (the high watermark or
// last stable offset, exclusive) and before the batches would exceed
// maxBytes. With minOneBatch a first batch larger than maxBytes is returned
// alone. Records are never decoded; data usually comes from one pread.
//
// offset == LogEndOffset returns no data and no error; offset outside
// [LogStartOffset, LogEndOffset] is ErrOffsetOutOfRange (the returned
// ReadInfo still carries the offsets). Reads race benignly with appends; a
// read that races with a truncation is retried.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64, minOneBatch bool) (ReadInfo, error) {
	return l.read(offset, maxBytes, maxOffset, minOneBatch, false)
}

// ReadCommitted is Read for a read_committed consumer (Kafka's
// FetchIsolation.TXN_COMMITTED): batches up to the last stable offset as
// of the read, and in AbortedTxns the aborted transactions with a last
// offset >= offset and a first offset below the end of the data returned
// (Kafka's LocalLog.read with includeAbortedTxns), for the consumer to
// drop their records. The offsets in ReadInfo are those the read used.
func (l *Log) ReadCommitted(offset int64, maxBytes int, minOneBatch bool) (ReadInfo, error) {
	return l.read(offset, maxBytes, -1, minOneBatch, true)
}

func (l *Log) read(offset int64, maxBytes int, maxOffset int64, minOneBatch, committed bool) (ReadInfo, error) {
	for attempt := 0; ; attempt++ {
		gen := l.generation.Load()
		info, err := l.readOnce(offset, maxBytes, maxOffset, minOneBatch, committed)
		if l.generation.Load() == gen || attempt == 3 {
			return info, err
		}
	}
}

func (l *Log) readOnce(offset int64, maxBytes int, maxOffset int64, minOneBatch, committed bool) (ReadInfo, error) {
	var info ReadInfo
	after := int64(-1) // after the first round, look only at segments with a base above this
	for {
		l.mu.RLock()
		if err := l.writableLocked(); err != nil {
			l.mu.RUnlock()
			return info, err
		}
		if after < 0 {
			info = ReadInfo{LogStartOffset: l.mu.logStartOffset, LogEndOffset: l.logEndOffsetLocked(), HighWatermark: l.mu.highWatermark,
				LastStableOffset: l.lastStableOffsetLocked()}
			if committed {
				maxOffset = info.LastStableOffset
			}
			if offset < info.LogStartOffset || offset > info.LogEndOffset {
				l.mu.RUnlock()
				return info, fmt.Errorf("%w: offset %d, log has [%d, %d]", ErrOffsetOutOfRange, offset, info.LogStartOffset, info.LogEndOffset)
			}
			if offset == info.LogEndOffset || maxOffset <= offset || (maxBytes <= 0 && !minOneBatch) {
				l.mu.RUnlock()
				return info, nil
			}
		}
		i := l.segmentIndexLocked(offset)
		for after >= 0 && i < len(l.mu.segments) && l.mu.segments[i].base <= after {
			i++
		}
		if i == len(l.mu.segments) {
			l.mu.RUnlock()
			return info, nil
		}
		if err := l.ensureLoadedLocked(i); err != nil {
			l.mu.RUnlock()
			return info, err
		}
		s := l.mu.segments[i].acquire()
		pos := int64(0)
		if offset > s.base {
			pos = s.index.lookupPosition(s.rel(offset))
		}
		end, slack := s.size, int(l.mu.cfg.IndexIntervalBytes)
		l.mu.RUnlock()

		data, dataEnd, found, err := s.read(pos, end, offset, maxBytes, maxOffset, minOneBatch, slack)
		s.release()
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				err = ErrClosed
			}
			return info, err
		}
		if found {
			info.Data = data
			if committed && len(data) > 0 {
				// A truncation or cleaning racing with this makes Read
				// retry (generation).
				l.mu.RLock()
				info.AbortedTxns = l.collectAbortedTxnsLocked(offset, dataEnd)
				l.mu.RUnlock()
			}
			return info, nil
		}
		after = s.base
	}
}

// read finds, from file position pos, the first batch whose last offset is
// >= offset and returns the run of batches described at Log.Read, all
// within [0, end), and the offset after the last of them. found reports
// whether such a first batch exists.
func (s *segment) read(pos, end, offset int64, maxBytes int, maxOffset int64, minOneBatch bool, slack int) ([]byte, int64, bool, error) {
	// One read usually covers the index gap (< index.interval.bytes), and
	// maxBytes of batches.
	first := int64(slack) + int64(max(maxBytes, 0)) + record.HeaderSize
	w := window{r: s.file, end: end, chunk: int(min(first, end-pos)), pooled: true}
	bad := func(p int64, err error) error {
		return MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", s.base, p, err))
	}
	header := func(p int64) (record.Header, error) {
		if end-p < record.HeaderSize {
			return record.Header{}, bad(p, errTorn)
		}
		hb, err := w.at(p, record.HeaderSize)
		if err != nil {
			return record.Header{}, err
		}
		h, err := record.ParseHeader(hb)
		if err != nil {
			return h, bad(p, err)
		}
		if p+int64(h.Size()) > end {
			return h, bad(p, errTorn)
		}
		return h, nil
	}
	p := pos
	for {
		if p >= end {
			return nil, -1, false, nil
		}
		h, err := header(p)
		if err != nil {
			return nil, -1, false, err
		}
		if h.LastOffset() >= offset {
			break
		}
		p += int64(h.Size())
	}
	start, q := p, p
	next := int64(-1) // the offset after the last batch taken
	for q < end {
		h, err := header(q)
		if err != nil {
			return nil, -1, true, err
		}
		if h.LastOffset() >= maxOffset {
			break
		}
		size := int64(h.Size())
		if q-start+size > int64(maxBytes) {
			if q == start && minOneBatch {
				q += size
				next = h.NextOffset()
			}
			break
		}
		q += size
		next = h.NextOffset()
	}
	if q == start {
		w.release()
		return nil, -1, true, nil
	}
	data, err := w.at(start, int(q-start))
	if err != nil {
		w.release()
		return nil, -1, true, err
	}
	if start != w.bufPos || cap(w.buf) > 2*len(data)+8192 {
		// Return a buffer that starts at the data (so the caller can
		// release it) and is not much larger than it.
		out := append(getReadBuf(len(data))[:0], data...)
		w.release()
		return out, next, true, nil
	}
	return data, next, true, nil
}

// TimestampOffset is the answer to a timestamp lookup.
type TimestampOffset struct {
	Timestamp   int64
	Offset      int64
	LeaderEpoch int32 // of the batch holding Offset; -1 if unknown
}

// OffsetForTimestamp serves ListOffsets with a timestamp: the first record
// at or after the log start offset whose timestamp is >= ts, with that
// record's own timestamp (Kafka's FileRecords.searchForTimestamp). It
// finds, through the time indexes, the first segment whose newest
// timestamp is >= ts and scans its batches from the indexed position;
// records are decoded (decompressed if need be) only in batches whose max
// timestamp is >= ts, usually just one. In a LogAppendTime batch every
// record has the batch's max timestamp. ok is false if no record
// qualifies.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool) {
	r, ok, err := l.FindOffsetByTimestamp(ts)
	if err != nil || !ok {
		return -1, -1, false
	}
	return r.Offset, r.Timestamp, true
}

// FindOffsetByTimestamp is OffsetForTimestamp with the leader epoch of the
// found batch and the error, if the lookup failed.
func (l *Log) FindOffsetByTimestamp(ts int64) (TimestampOffset, bool, error) {
	after := int64(-1)
	for {
		l.mu.RLock()
		if err := l.writableLocked(); err != nil {
			l.mu.RUnlock()
			return TimestampOffset{}, false, err
		}
		lso := l.mu.logStartOffset
		i := 0
		for ; i < len(l.mu.segments); i++ {
			s := l.mu.segments[i]
			if s.base > after && s.maxTimestamp >= ts && l.segmentEndLocked(i) > lso {
				break
			}
		}
		if i == len(l.mu.segments) {
			l.mu.RUnlock()
			return TimestampOffset{}, false, nil
		}
		if err := l.ensureLoadedLocked(i); err != nil {
			l.mu.RUnlock()
			return TimestampOffset{}, false, err
		}
		s := l.mu.segments[i].acquire()
		minOffset := max(s.base, lso)
		from := minOffset
		if _, rel, ok := s.timeIndex.lookup(ts); ok {
			from = max(from, s.base+int64(rel))
		}
		pos := s.index.lookupPosition(s.rel(from))
		end := s.size
		l.mu.RUnlock()

		r, found, err := s.findByTimestamp(pos, end, ts, minOffset)
		s.release()
		if err != nil || found {
			return r, found, err
		}
		after = s.base
	}
}

// findByTimestamp scans batches from pos for the first record with
// timestamp >= ts and offset >= minOffset, decoding only batches whose max
// timestamp is >= ts and that end at or after minOffset.
func (s *segment) findByTimestamp(pos, end, ts, minOffset int64) (TimestampOffset, bool, error) {
	sc := newScannerChunk(s.file, pos, end, lookupChunk)
	for {
		h, b, p, err := sc.next()
		if err == io.EOF {
			return TimestampOffset{}, false, nil
		}
		if err != nil {
			return TimestampOffset{}, false, MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", s.base, p, err))
		}
		if h.LastOffset() < minOffset || h.MaxTimestamp < ts {
			continue
		}
		r := TimestampOffset{LeaderEpoch: batchLeaderEpoch(h)}
		found := false
		err = forEachRecord(b, h, func(off, rts int64) bool {
			if rts >= ts && off >= minOffset {
				r.Offset, r.Timestamp, found = off, rts, true
				return false
			}
			return true
		})
		if err != nil {
			return r, false, MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", s.base, p, err))
		}
		if found {
			return r, true, nil
		}
	}
}

// findMaxTimestamp scans batches from pos for the first one whose max
// timestamp is maxTs and returns the first record in it carrying maxTs
// (Kafka's RecordBatch.offsetOfMaxTimestamp; in a LogAppendTime batch that
// is its first record). found is false if there is no such batch or, as
// for a batch whose header does not match its records, no such record.
func (s *segment) findMaxTimestamp(pos, end, maxTs int64) (TimestampOffset, bool, error) {
	sc := newScannerChunk(s.file, pos, end, lookupChunk)
	for {
		h, b, p, err := sc.next()
		if err == io.EOF {
			return TimestampOffset{}, false, nil
		}
		if err != nil {
			return TimestampOffset{}, false, MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", s.base, p, err))
		}
		if h.MaxTimestamp != maxTs {
			continue
		}
		r := TimestampOffset{Timestamp: maxTs, LeaderEpoch: batchLeaderEpoch(h)}
		found := false
		err = forEachRecord(b, h, func(off, rts int64) bool {
			if rts == maxTs {
				r.Offset, found = off, true
				return false
			}
			return true
		})
		if err != nil {
			return r, false, MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", s.base, p, err))
		}
		return r, found, nil
	}
}

// batchLeaderEpoch is h's partition leader epoch, or -1 if it has none.
func batchLeaderEpoch(h record.Header) int32 {
	if h.PartitionLeaderEpoch < 0 {
		return -1
	}
	return h.PartitionLeaderEpoch
}

// MaxTimestamp serves ListOffsets MAX_TIMESTAMP (KIP-734): the largest
// timestamp in the log and the offset of the first record carrying it, in
// the first segment and batch that reached it (Kafka's
// UnifiedLog.fetchOffsetByTimestamp with RecordBatch.offsetOfMaxTimestamp).
// Segments track only the batch that first reached their max timestamp;
// that one batch is decoded (decompressed if need be) at query time to
// find the record. (-1, -1) if the log has no timestamps.
func (l *Log) MaxTimestamp() (timestamp, offset int64) {
	r, err := l.MaxTimestampAndOffset()
	if err != nil {
		return -1, -1
	}
	return r.Timestamp, r.Offset
}

// MaxTimestampAndOffset is MaxTimestamp with the leader epoch of the batch
// holding the record and the error, if the lookup failed. As in Kafka, it
// answers (-1, -1, -1) when the batch holding the max timestamp has no
// record with that timestamp (its header disagrees with its records).
func (l *Log) MaxTimestampAndOffset() (TimestampOffset, error) {
	none := TimestampOffset{Timestamp: -1, Offset: -1, LeaderEpoch: -1}
	l.mu.RLock()
	if err := l.writableLocked(); err != nil {
		l.mu.RUnlock()
		return none, err
	}
	best := -1
	for i, s := range l.mu.segments {
		if s.maxTimestamp >= 0 && (best < 0 || s.maxTimestamp > l.mu.segments[best].maxTimestamp) {
			best = i
		}
	}
	if best < 0 {
		l.mu.RUnlock()
		return none, nil
	}
	if err := l.ensureLoadedLocked(best); err != nil {
		l.mu.RUnlock()
		return none, err
	}
	s := l.mu.segments[best].acquire()
	maxTs, offMax := s.maxTimestamp, s.offsetOfMaxTimestamp
	pos := s.index.lookupPosition(s.rel(offMax))
	end := s.size
	l.mu.RUnlock()
	defer s.release()

	r, found, err := s.findMaxTimestamp(pos, end, maxTs)
	if err != nil || !found {
		return none, err
	}
	return r, nil
}
