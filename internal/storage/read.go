package storage

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gregor-streaming/gregor/internal/record"
)

// ReadInfo is the result of a Read. Data is freshly allocated and owned by
// the caller.
type ReadInfo struct {
	Data           []byte // whole batches as stored; empty if none qualify
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
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
	for attempt := 0; ; attempt++ {
		gen := l.generation.Load()
		info, err := l.readOnce(offset, maxBytes, maxOffset, minOneBatch)
		if l.generation.Load() == gen || attempt == 3 {
			return info, err
		}
	}
}

func (l *Log) readOnce(offset int64, maxBytes int, maxOffset int64, minOneBatch bool) (ReadInfo, error) {
	var info ReadInfo
	after := int64(-1) // after the first round, look only at segments with a base above this
	for {
		l.mu.RLock()
		if err := l.writableLocked(); err != nil {
			l.mu.RUnlock()
			return info, err
		}
		if after < 0 {
			info = ReadInfo{LogStartOffset: l.mu.logStartOffset, LogEndOffset: l.logEndOffsetLocked(), HighWatermark: l.mu.highWatermark}
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

		data, found, err := s.read(pos, end, offset, maxBytes, maxOffset, minOneBatch, slack)
		s.release()
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				err = ErrClosed
			}
			return info, err
		}
		if found {
			info.Data = data
			return info, nil
		}
		after = s.base
	}
}

// read finds, from file position pos, the first batch whose last offset is
// >= offset and returns the run of batches described at Log.Read, all
// within [0, end). found reports whether such a first batch exists.
func (s *segment) read(pos, end, offset int64, maxBytes int, maxOffset int64, minOneBatch bool, slack int) ([]byte, bool, error) {
	// One read usually covers the index gap (< index.interval.bytes), and
	// maxBytes of batches.
	first := int64(slack) + int64(max(maxBytes, 0)) + record.HeaderSize
	w := window{r: s.file, end: end, chunk: int(min(first, end-pos))}
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
			return nil, false, nil
		}
		h, err := header(p)
		if err != nil {
			return nil, false, err
		}
		if h.LastOffset() >= offset {
			break
		}
		p += int64(h.Size())
	}
	start, q := p, p
	for q < end {
		h, err := header(q)
		if err != nil {
			return nil, true, err
		}
		if h.LastOffset() >= maxOffset {
			break
		}
		size := int64(h.Size())
		if q-start+size > int64(maxBytes) {
			if q == start && minOneBatch {
				q += size
			}
			break
		}
		q += size
	}
	if q == start {
		return nil, true, nil
	}
	data, err := w.at(start, int(q-start))
	if err != nil {
		return nil, true, err
	}
	if cap(w.buf) > 2*len(data)+8192 {
		// Do not pin a buffer much larger than the data returned.
		data = append([]byte(nil), data...)
	}
	return data, true, nil
}

// TimestampOffset is the answer to a timestamp lookup.
type TimestampOffset struct {
	Timestamp   int64
	Offset      int64
	LeaderEpoch int32 // of the batch holding Offset; -1 if unknown
}

// OffsetForTimestamp serves ListOffsets with a timestamp: the first record
// at or after the log start offset whose timestamp is >= ts, found through
// the time indexes of the first segments whose newest timestamp is >= ts.
// Records are decoded in that one batch only. For a compressed CreateTime
// batch, which this package cannot decode, the answer is the batch's base
// offset (or the log start offset, if later) and its max timestamp. ok is
// false if no record qualifies.
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
// timestamp >= ts and offset >= minOffset.
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
		r := TimestampOffset{LeaderEpoch: h.PartitionLeaderEpoch}
		if r.LeaderEpoch < 0 {
			r.LeaderEpoch = -1
		}
		if h.Codec() != record.CodecNone && !h.IsLogAppendTime() {
			r.Offset, r.Timestamp = max(h.BaseOffset, minOffset), h.MaxTimestamp
			return r, true, nil
		}
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

// MaxTimestamp serves ListOffsets MAX_TIMESTAMP (KIP-734): the largest
// timestamp in the log and the offset of the first record carrying it (the
// batch's base offset for compressed CreateTime batches); (-1, -1) if the
// log has no timestamps.
func (l *Log) MaxTimestamp() (timestamp, offset int64) {
	r, err := l.MaxTimestampAndOffset()
	if err != nil {
		return -1, -1
	}
	return r.Timestamp, r.Offset
}

// MaxTimestampAndOffset is MaxTimestamp with the leader epoch and error.
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

	r, found, err := s.findByTimestamp(pos, end, maxTs, offMax)
	if err != nil {
		return none, err
	}
	if !found || r.Timestamp != maxTs {
		return TimestampOffset{Timestamp: maxTs, Offset: offMax, LeaderEpoch: -1}, nil
	}
	return r, nil
}
