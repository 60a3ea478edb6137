package storage

import (
	"fmt"
	"io"
	"math"
	"slices"
)

// TruncateTo removes every batch that holds an offset >= offset, for a
// follower whose log diverged from the leader's (Kafka's
// UnifiedLog.truncateTo). If offset falls inside a batch the whole batch
// goes, so LogEndOffset may end below offset. Truncating to or past the end
// keeps every batch but drops a leader epoch entry that starts at the log
// end; truncating below the first segment empties the log and
// restarts it at offset. The high watermark and recovery point follow the
// log end offset down and leader epoch entries from the new end on are
// dropped, and so are the transaction index entries of the markers cut
// off. The producer state, open transactions included, is rebuilt for the
// new end (from the latest producer snapshot at or below it and the
// batches after it).
func (l *Log) TruncateTo(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: truncate to %d", ErrOffsetOutOfRange, offset)
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if leo := l.logEndOffsetLocked(); offset >= leo {
		// The log keeps its batches, but a leader epoch entry starting at
		// the log end goes: a node that became leader (recording its
		// epoch at its log end) and failed before appending anything must
		// not keep that epoch as a follower, or every fetch would find
		// it diverging again (Kafka's UnifiedLog.truncateTo does the same).
		if l.mu.epochs.truncateFromEnd(leo) {
			return l.persistEpochsLocked()
		}
		return nil
	}
	nowMs := l.nowMs()
	l.generation.Add(1)
	if offset < l.mu.segments[0].base {
		return l.truncateFullyLocked(offset, nowMs)
	}
	i := l.segmentIndexLocked(offset)
	if err := l.ensureLoadedLocked(i); err != nil {
		return err
	}
	doomed := slices.Clone(l.mu.segments[i+1:])
	l.mu.segments = slices.Clone(l.mu.segments[:i+1])
	for _, s := range doomed {
		if err := l.removeSegmentLocked(s, nowMs, l.mu.cfg.FileDeleteDelayMs); err != nil {
			return l.failLocked("truncate", err)
		}
	}
	s := l.mu.segments[i]
	if err := s.truncateTo(offset); err != nil {
		if IsCorruption(err) {
			return err
		}
		return l.failLocked("truncate", err)
	}
	if s.rollAtMs < 0 && s.size > 0 {
		s.rollAtMs = nowMs // a formerly inactive segment is active again
	}
	leo := s.nextOffset
	l.mu.logStartOffset = min(l.mu.logStartOffset, leo)
	l.mu.highWatermark = min(l.mu.highWatermark, leo)
	l.mu.recoveryPoint = min(l.mu.recoveryPoint, leo)
	if err := l.rebuildProducerStateLocked(leo, math.MaxInt64, leo); err != nil {
		if IsCorruption(err) {
			return err
		}
		return l.failLocked("truncate", err)
	}
	if l.mu.epochs.truncateFromEnd(leo) {
		return l.persistEpochsLocked()
	}
	return nil
}

// TruncateFullyAndStartAt empties the log and restarts it at offset, which
// becomes the log start offset, log end offset and high watermark; the
// leader epoch cache, the producer state and its snapshots are cleared. A follower does this when the leader's
// log start offset is past its log end offset.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: start at %d", ErrOffsetOutOfRange, offset)
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	l.generation.Add(1)
	return l.truncateFullyLocked(offset, l.nowMs())
}

func (l *Log) truncateFullyLocked(offset, nowMs int64) error {
	doomed := l.mu.segments
	l.mu.segments = nil
	for _, s := range doomed {
		if err := l.removeSegmentLocked(s, nowMs, l.mu.cfg.FileDeleteDelayMs); err != nil {
			l.mu.segments = doomed[len(doomed)-1:]
			return l.failLocked("truncate", err)
		}
	}
	s, err := createSegment(l.dir, offset)
	if err != nil {
		// Keep the invariant that a log has a segment; the dir is offline.
		l.mu.segments = doomed[len(doomed)-1:]
		return l.failLocked("truncate", err)
	}
	l.mu.segments = []*segment{s}
	l.mu.dirDirty = true
	l.mu.logStartOffset, l.mu.highWatermark, l.mu.recoveryPoint = offset, offset, offset
	if err := l.truncateProducersFullyLocked(offset); err != nil {
		return l.failLocked("truncate", err)
	}
	l.mu.epochs.entries = nil
	return l.persistEpochsLocked()
}

// truncateTo cuts the segment before the batch holding offset (or leaves
// it whole if no batch reaches offset) and recomputes its end offset, max
// timestamp and index tails, dropping the transaction index entries of
// the markers cut off. The segment must be loaded.
func (s *segment) truncateTo(offset int64) error {
	pos := int64(0)
	if offset > s.base {
		pos = s.index.lookupPosition(s.rel(offset))
	}
	cut := s.size
	sc := newScannerChunk(s.file, pos, s.size, lookupChunk)
	for {
		h, _, p, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if isBadData(err) {
				return MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", s.base, p, err))
			}
			return err
		}
		if h.LastOffset() >= offset {
			cut = p
			break
		}
	}
	if cut < s.size {
		if err := s.file.Truncate(cut); err != nil {
			return fmt.Errorf("truncate segment %d: %w", s.base, err)
		}
		s.size = cut
		s.index.truncateToPosition(cut)
	}
	from, expect := int64(0), s.base
	if n := s.index.len(); n > 0 {
		rel, p := s.index.at(n - 1)
		from, expect = int64(p), s.base+int64(rel)
	}
	next, tailMax, tailOff, err := s.scanTail(from, expect, -1, s.base)
	if err != nil {
		return MarkCorruption(err)
	}
	s.timeIndex.truncateToOffset(s.rel(next))
	s.maxTimestamp, s.offsetOfMaxTimestamp = -1, s.base
	if ts, rel, ok := s.timeIndex.last(); ok {
		s.maxTimestamp, s.offsetOfMaxTimestamp = ts, s.base+int64(rel)
	}
	if tailMax > s.maxTimestamp {
		s.maxTimestamp, s.offsetOfMaxTimestamp = tailMax, tailOff
	}
	s.nextOffset = next
	s.bytesSinceIndex = s.size - from
	if s.size == 0 {
		s.rollAtMs = -1
	}
	s.txnIndex.truncateTo(next)
	if err := truncateIndexFile(s.path(indexSuffix), s.index.persisted); err != nil {
		return err
	}
	if err := s.truncateTxnIndexFile(); err != nil {
		return err
	}
	return truncateIndexFile(s.path(timeIndexSuffix), s.timeIndex.persisted)
}
