package storage

import (
	"fmt"
	"slices"
)

// ApplyRetention deletes old segments as Kafka's deleteOldSegments does,
// in this order: segments whose newest timestamp (or, without timestamps,
// file modification time) is more than retention.ms old; then oldest
// segments while the log exceeds retention.bytes by at least their size;
// then segments wholly below the log start offset. Deletion stops at the
// first segment that does not qualify, and never passes the high watermark
// (a segment goes only if every offset in it is below it). The active
// segment can go too if it qualifies and is not empty; a new empty active
// segment is rolled first. The log start offset moves to the first
// remaining segment. Files are renamed to *.deleted and removed after
// file.delete.delay.ms. It returns how many segments it deleted.
func (l *Log) ApplyRetention() (deletedSegments int, err error) {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return 0, err
	}
	nowMs := l.nowMs()
	cfg := l.mu.cfg
	total := 0
	if cfg.RetentionMs >= 0 {
		n, err := l.deleteOldSegmentsLocked(func(s, _ *segment) bool {
			return nowMs-s.largestTimestamp() > cfg.RetentionMs
		}, nowMs, "retention.ms")
		total += n
		if err != nil {
			return total, err
		}
	}
	if cfg.RetentionBytes >= 0 {
		if diff := l.sizeLocked() - cfg.RetentionBytes; diff > 0 {
			n, err := l.deleteOldSegmentsLocked(func(s, _ *segment) bool {
				if diff-s.size >= 0 {
					diff -= s.size
					return true
				}
				return false
			}, nowMs, "retention.bytes")
			total += n
			if err != nil {
				return total, err
			}
		}
	}
	n, err := l.deleteOldSegmentsLocked(func(_, next *segment) bool {
		return next != nil && next.base <= l.mu.logStartOffset
	}, nowMs, "log start offset")
	total += n
	if err != nil {
		return total, err
	}
	if err := l.sweepLocked(nowMs, false); err != nil {
		return total, l.failLocked("delete segment files", err)
	}
	return total, nil
}

// DeleteRecordsBefore serves DeleteRecords: it moves the log start offset
// up to offset (-1 means the high watermark, as in the protocol) and
// deletes the segments wholly below it. An offset above the high watermark
// or below -1 is ErrOffsetOutOfRange; one at or below the log start offset
// changes nothing. It returns the new log start offset.
func (l *Log) DeleteRecordsBefore(offset int64) (newLogStartOffset int64, err error) {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return 0, err
	}
	if offset == -1 {
		offset = l.mu.highWatermark
	}
	if offset < 0 || offset > l.mu.highWatermark {
		return l.mu.logStartOffset, fmt.Errorf("%w: delete records before %d, high watermark is %d", ErrOffsetOutOfRange, offset, l.mu.highWatermark)
	}
	if err := l.incrementLogStartOffsetLocked(offset); err != nil {
		return l.mu.logStartOffset, err
	}
	nowMs := l.nowMs()
	if _, err := l.deleteOldSegmentsLocked(func(_, next *segment) bool {
		return next != nil && next.base <= l.mu.logStartOffset
	}, nowMs, "delete records"); err != nil {
		return l.mu.logStartOffset, err
	}
	if err := l.sweepLocked(nowMs, false); err != nil {
		return l.mu.logStartOffset, l.failLocked("delete segment files", err)
	}
	return l.mu.logStartOffset, nil
}

// incrementLogStartOffsetLocked moves the log start offset up (never
// down), dragging the high watermark and recovery point along and trimming
// the leader epoch cache, as Kafka's maybeIncrementLogStartOffset does.
// Deleted segments take their transaction indexes with them.
func (l *Log) incrementLogStartOffsetLocked(offset int64) error {
	if offset <= l.mu.logStartOffset {
		return nil
	}
	l.mu.logStartOffset = offset
	l.mu.highWatermark = max(l.mu.highWatermark, offset)
	l.mu.recoveryPoint = max(l.mu.recoveryPoint, offset)
	// Kafka's onLogStartOffsetIncremented: completed transactions below
	// it no longer hold the last stable offset back.
	l.mu.producers.removeUnreplicated(l.mu.highWatermark)
	if l.mu.epochs.truncateFromStart(offset) {
		return l.persistEpochsLocked()
	}
	return nil
}

// deleteOldSegmentsLocked deletes the longest prefix of segments for which
// pred holds and whose offsets are all below the high watermark (Kafka's
// deletableSegments: an empty active segment is never deleted).
func (l *Log) deleteOldSegmentsLocked(pred func(s, next *segment) bool, nowMs int64, reason string) (int, error) {
	segs := l.mu.segments
	n := 0
	for i, s := range segs {
		var next *segment
		if i+1 < len(segs) {
			next = segs[i+1]
		}
		if next == nil && s.size == 0 {
			break
		}
		if l.mu.highWatermark < l.segmentEndLocked(i) || !pred(s, next) {
			break
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if n == len(segs) {
		// A log always has a segment: roll an empty one first.
		if err := l.rollLocked(l.logEndOffsetLocked(), nowMs); err != nil {
			return 0, err
		}
	}
	doomed := slices.Clone(l.mu.segments[:n])
	l.mu.segments = slices.Clone(l.mu.segments[n:])
	l.generation.Add(1)
	for _, s := range doomed {
		if err := l.removeSegmentLocked(s, nowMs, l.mu.cfg.FileDeleteDelayMs); err != nil {
			return n, l.failLocked("delete segment", err)
		}
		// The producer snapshot at the segment's base goes with it.
		if err := l.removeProducerSnapshotLocked(s.base); err != nil {
			return n, l.failLocked("delete segment", err)
		}
	}
	l.logger.Info("storage: deleted segments", "reason", reason, "count", n,
		"first_base_offset", doomed[0].base, "last_base_offset", doomed[n-1].base)
	return n, l.incrementLogStartOffsetLocked(l.mu.segments[0].base)
}

// largestTimestamp is the segment's newest batch timestamp or, if it has
// none, its file's modification time (Kafka's LogSegment.largestTimestamp).
func (s *segment) largestTimestamp() int64 {
	if s.maxTimestamp >= 0 {
		return s.maxTimestamp
	}
	if fi, err := s.file.Stat(); err == nil {
		return fi.ModTime().UnixMilli()
	}
	return -1
}

func (l *Log) sizeLocked() int64 {
	var n int64
	for _, s := range l.mu.segments {
		n += s.size
	}
	return n
}
