package storage

import (
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gregor-streaming/gregor/internal/uuid"
)

// Flush fsyncs everything appended so far, index files and the partition
// dir included, and moves the recovery point to the log end offset
// (Kafka's UnifiedLog.flush). The fsyncs run without the log lock.
func (l *Log) Flush() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.flushFlushMuLocked(math.MaxInt64, false)
}

// flushRolled flushes the segments before the active one, after a roll.
func (l *Log) flushRolled() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.RLock()
	upTo := l.activeLocked().base
	l.mu.RUnlock()
	return l.flushFlushMuLocked(upTo, false)
}

// lastFlushMs is when the log was last flushed, for flush.ms.
func (l *Log) lastFlushMs() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.lastFlushMs
}

type syncJob struct {
	seg                        *segment
	idxPath, timePath, txnPath string
	idxLen, timeLen, txnLen    int // index bytes to sync, -1 if already synced
	err                        error
}

// flushFlushMuLocked fsyncs the data in [recovery point, upTo) and any
// index bytes not yet synced, then advances the recovery point to upTo.
// With closing it runs on a log already marked closed and also adds the
// active segment's final time index entry. flushMu must be held; mu must
// not be.
func (l *Log) flushFlushMuLocked(upTo int64, closing bool) error {
	l.mu.Lock()
	err := l.dirSt.get()
	if err == nil && !closing && l.mu.closed {
		err = ErrClosed
	}
	if err != nil {
		l.mu.Unlock()
		return err
	}
	nowMs := l.nowMs()
	upTo = min(upTo, l.logEndOffsetLocked())
	rp := l.mu.recoveryPoint
	if closing {
		l.activeLocked().appendFinalTimeIndexEntry()
	}
	var jobs []syncJob
	for i, s := range l.mu.segments {
		if !s.loaded.Load() {
			continue // nothing was written to it since it was loaded
		}
		if err := s.persistIndexes(); err != nil {
			l.mu.Unlock()
			return l.failLocked("flush", err)
		}
		j := syncJob{seg: s, idxPath: s.path(indexSuffix), timePath: s.path(timeIndexSuffix), txnPath: s.path(txnIndexSuffix), idxLen: -1, timeLen: -1, txnLen: -1}
		if s.index.persisted > s.index.synced {
			j.idxLen = s.index.persisted
		}
		if s.timeIndex.persisted > s.timeIndex.synced {
			j.timeLen = s.timeIndex.persisted
		}
		if s.txnIndex.persisted > s.txnIndex.synced {
			j.txnLen = s.txnIndex.persisted
		}
		hasData := s.base < upTo && l.segmentEndLocked(i) > rp && s.size > 0
		if hasData || j.idxLen >= 0 || j.timeLen >= 0 || j.txnLen >= 0 {
			s.acquire()
			jobs = append(jobs, j)
		}
	}
	dirDirty := l.mu.dirDirty
	l.mu.dirDirty = false
	l.mu.Unlock()

	for i := range jobs {
		j := &jobs[i]
		j.err = j.seg.file.Sync()
		if j.err == nil && j.idxLen >= 0 {
			j.err = syncFile(j.idxPath)
		}
		if j.err == nil && j.timeLen >= 0 {
			j.err = syncFile(j.timePath)
		}
		if j.err == nil && j.txnLen >= 0 {
			j.err = syncFile(j.txnPath)
		}
		j.seg.release()
	}
	var dirErr error
	if dirDirty {
		dirErr = syncDir(l.dir)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	for _, j := range jobs {
		if j.err != nil && !j.seg.deleted {
			// A segment removed meanwhile (an empty active segment replaced
			// by a roll) may fail to sync; that loses nothing.
			l.mu.dirDirty = l.mu.dirDirty || dirDirty
			return l.failLocked("flush", fmt.Errorf("segment %d: %w", j.seg.base, j.err))
		}
	}
	if dirErr != nil {
		l.mu.dirDirty = true
		return l.failLocked("flush", dirErr)
	}
	for _, j := range jobs {
		s := j.seg
		if j.idxLen >= 0 {
			s.index.synced = min(max(s.index.synced, j.idxLen), len(s.index.buf))
		}
		if j.timeLen >= 0 {
			s.timeIndex.synced = min(max(s.timeIndex.synced, j.timeLen), len(s.timeIndex.buf))
		}
		if j.txnLen >= 0 {
			s.txnIndex.synced = min(max(s.txnIndex.synced, j.txnLen), len(s.txnIndex.buf))
		}
	}
	l.mu.recoveryPoint = max(l.mu.recoveryPoint, upTo)
	l.mu.lastFlushMs = nowMs
	return nil
}

// Close flushes the log (unless its dir is offline) and closes its files;
// segments waiting for deletion are removed now. It waits for background
// flushes. Close is idempotent; the error is the flush's or the dir's.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	l.mu.Unlock()
	l.bg.Wait()

	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	err := l.flushFlushMuLocked(math.MaxInt64, true)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.mu.segments {
		_ = s.file.Close()
	}
	if rerr := l.sweepLocked(l.nowMs(), true); err == nil {
		err = rerr
	}
	return err
}

// Delete closes the log without flushing and removes its dir: the dir is
// first renamed to Kafka's `<topic>-<partition>.<uuid>-delete` (so a crash
// midway leaves a name that Manager's open removes), then removed.
func (l *Log) Delete() error {
	l.mu.Lock()
	if l.mu.deleted {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed, l.mu.deleted = true, true
	l.mu.Unlock()
	l.bg.Wait()

	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.mu.segments {
		_ = s.file.Close()
	}
	for _, s := range l.mu.pending {
		_ = s.file.Close()
	}
	l.mu.pending = nil
	l.pendingDeletes.Store(0)
	parent := filepath.Dir(l.dir)
	doomed := filepath.Join(parent, deleteDirName(filepath.Base(l.dir)))
	if err := os.Rename(l.dir, doomed); err != nil {
		return l.failLocked("delete log", err)
	}
	if err := syncDir(parent); err != nil {
		return l.failLocked("delete log", err)
	}
	if err := os.RemoveAll(doomed); err != nil {
		return l.failLocked("delete log", err)
	}
	return nil
}

// deleteDirName is Kafka's name for a partition dir being deleted:
// `<topic>-<partition>.<32 hex digits>-delete`, the topic shortened so the
// name fits in 255 bytes.
func deleteDirName(dirName string) string {
	id := uuid.New()
	suffix := "." + hex.EncodeToString(id[:]) + "-delete"
	prefix := dirName
	if tp, ok := parseTopicPartition(dirName); ok {
		part := fmt.Sprintf("-%d", tp.Partition)
		topic := tp.Topic
		if n := 255 - len(part) - len(suffix); len(topic) > n {
			topic = topic[:n]
		}
		prefix = topic + part
	} else if n := 255 - len(suffix); len(prefix) > n {
		prefix = prefix[:n]
	}
	return prefix + suffix
}

// removeSegmentLocked schedules the removal of s, which the caller has
// already taken out of mu.segments: its files are renamed to *.deleted now
// and removed after delayMs once no reader holds it (Kafka's
// file.delete.delay.ms).
func (l *Log) removeSegmentLocked(s *segment, nowMs, delayMs int64) error {
	l.mu.dirDirty = true
	err := s.markDeleted(nowMs, delayMs)
	l.mu.pending = append(l.mu.pending, s)
	l.pendingDeletes.Store(int32(len(l.mu.pending)))
	if err != nil {
		return err
	}
	return l.sweepLocked(nowMs, false)
}

// sweepLocked removes the pending segments whose delay has passed and that
// no reader holds (all of them with force).
func (l *Log) sweepLocked(nowMs int64, force bool) error {
	var firstErr error
	kept := l.mu.pending[:0]
	for _, s := range l.mu.pending {
		if force || (nowMs >= s.deleteAtMs && s.refs.Load() == 0) {
			if err := s.removeFiles(); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("remove segment %d: %w", s.base, err)
			}
			continue
		}
		kept = append(kept, s)
	}
	clear(l.mu.pending[len(kept):])
	l.mu.pending = kept
	l.pendingDeletes.Store(int32(len(kept)))
	return firstErr
}

// sweepDeleted removes segments whose file.delete.delay.ms has passed; the
// Manager calls it periodically.
func (l *Log) sweepDeleted() {
	if l.pendingDeletes.Load() == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return
	}
	if err := l.sweepLocked(l.nowMs(), false); err != nil {
		_ = l.failLocked("delete segment files", err)
	}
}
