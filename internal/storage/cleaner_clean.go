package storage

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gregor-streaming/gregor/internal/record"
)

// This file is one cleaning of one log (Kafka's Cleaner.doClean): build
// the offset map over the dirty range, then rewrite the log from its start
// up to the end of the map, a group of segments at a time, keeping a record
// only if it is its key's latest, and swap each cleaned segment in for its
// group. cleaner.go decides which log to clean and when.

// cleanRange is which part of a log a cleaning covers (Kafka's
// LogToClean and OffsetsToClean).
type cleanRange struct {
	firstDirty       int64 // the cleaner checkpoint, or the log start offset
	firstUncleanable int64 // a segment base: the active segment, the high watermark's segment or the first too recent for min.compaction.lag.ms
	cleanBytes       int64 // bytes of the segments below firstDirty
	cleanableBytes   int64 // bytes of the segments in [firstDirty, firstUncleanable)
	needNow          bool  // dirty data older than max.compaction.lag.ms
	// resetCheckpoint says the checkpoint was outside the log and must be
	// rewritten as firstDirty.
	resetCheckpoint bool
}

func (r cleanRange) totalBytes() int64 { return r.cleanBytes + r.cleanableBytes }

// ratio is the dirty ratio compared with min.cleanable.dirty.ratio.
func (r cleanRange) ratio() float64 {
	if r.totalBytes() == 0 {
		return 0
	}
	return float64(r.cleanableBytes) / float64(r.totalBytes())
}

// cleanerUpperBoundLocked is the offset the cleaner must not clean past:
// the last stable offset, min(first unstable offset, high watermark), as
// in Kafka's LogCleanerManager.cleanableOffsets: only replicated data
// (the replica layer sets the high watermark) and only decided
// transactions are cleaned.
func (l *Log) cleanerUpperBoundLocked() int64 { return l.lastStableOffsetLocked() }

// cleanableRange works out the range the cleaner may clean now (Kafka's
// LogCleanerManager.cleanableOffsets, calculateCleanableBytes and
// maxCompactionDelay). checkpoint is the cleaner checkpoint, if hasCheckpoint.
func (l *Log) cleanableRange(checkpoint int64, hasCheckpoint bool, nowMs int64) (cleanRange, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.writableLocked(); err != nil {
		return cleanRange{}, err
	}
	var r cleanRange
	segs := l.mu.segments
	lso, leo := l.mu.logStartOffset, l.logEndOffsetLocked()
	switch {
	case !hasCheckpoint:
		r.firstDirty = lso
	case checkpoint < lso || checkpoint > leo:
		// Data below the checkpoint went (retention, DeleteRecords) or the
		// log was truncated below it: clean it all again.
		r.firstDirty, r.resetCheckpoint = lso, true
	default:
		r.firstDirty = checkpoint
	}
	cfg := l.mu.cfg
	active := len(segs) - 1
	upper := min(l.cleanerUpperBoundLocked(), segs[active].base)
	if cfg.MinCompactionLagMs > 0 {
		for i := l.segmentIndexLocked(r.firstDirty); i < active; i++ {
			if segs[i].largestTimestamp() > nowMs-cfg.MinCompactionLagMs {
				upper = min(upper, segs[i].base)
				break
			}
		}
	}
	upper = max(upper, r.firstDirty)
	// Only whole segments are cleaned: round down to a segment base.
	if j := l.segmentIndexLocked(upper); j < active {
		r.firstUncleanable = segs[j].base
	} else {
		r.firstUncleanable = segs[active].base
	}
	for _, s := range segs {
		if s.base < r.firstDirty {
			r.cleanBytes += s.size
		}
	}
	for i := l.segmentIndexLocked(min(r.firstDirty, r.firstUncleanable)); i < len(segs) && segs[i].base < r.firstUncleanable; i++ {
		r.cleanableBytes += segs[i].size
	}
	if cleanUntil := nowMs - max(cfg.MaxCompactionLagMs, 0); cleanUntil > 0 {
		for i := l.segmentIndexLocked(r.firstDirty); i < active; i++ {
			if ts, err := segs[i].firstBatchTimestamp(); err == nil && ts > 0 && ts < cleanUntil {
				r.needNow = true
				break
			}
		}
	}
	return r, nil
}

// snapSegment is a segment as the cleaner saw it when it started: the
// cleaner holds a reference so that its file stays open, and replaces it
// only if it is still in the log with this size.
type snapSegment struct {
	seg            *segment
	base, end      int64 // end: the next segment's base
	size           int64
	indexBytes     int64
	timeIndexBytes int64
	dirtyPos       int64        // file position to build the offset map from (the first dirty batch's index entry)
	aborted        []AbortedTxn // the aborted transactions overlapping [base, end)
}

type cleanSnapshot struct {
	cfg  Config
	segs []snapSegment // the non-active segments below firstUncleanable
	// mapAborted are the aborted transactions overlapping the range the
	// offset map covers, [firstDirty, upper).
	mapAborted []AbortedTxn
	upper      int64 // min(firstUncleanable, the end of the last segment)
}

func (s *cleanSnapshot) release() {
	for _, ss := range s.segs {
		ss.seg.release()
	}
	s.segs = nil
}

// cleanerSnapshot takes the non-active segments below firstUncleanable,
// with their indexes loaded, and the aborted transactions the cleaning
// needs to know of.
func (l *Log) cleanerSnapshot(firstDirty, firstUncleanable int64) (*cleanSnapshot, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.writableLocked(); err != nil {
		return nil, err
	}
	snap := &cleanSnapshot{cfg: l.mu.cfg}
	for i := 0; i < len(l.mu.segments)-1 && l.mu.segments[i].base < firstUncleanable; i++ {
		if err := l.ensureLoadedLocked(i); err != nil {
			snap.release()
			return nil, err
		}
		s := l.mu.segments[i]
		ss := snapSegment{seg: s.acquire(), base: s.base, end: l.segmentEndLocked(i), size: s.size,
			indexBytes: int64(len(s.index.buf)), timeIndexBytes: int64(len(s.timeIndex.buf))}
		if firstDirty > s.base {
			ss.dirtyPos = s.index.lookupPosition(s.rel(min(firstDirty, ss.end-1)))
		}
		ss.aborted = l.collectAbortedTxnsLocked(ss.base, ss.end)
		snap.segs = append(snap.segs, ss)
	}
	if len(snap.segs) > 0 {
		snap.upper = min(firstUncleanable, snap.segs[len(snap.segs)-1].end)
		snap.mapAborted = l.collectAbortedTxnsLocked(firstDirty, snap.upper)
	}
	return snap, nil
}

// Steps of a cleaning that change files, reported to cleaner.hook (tests
// stop a cleaning after each to check crash recovery).
const (
	stepCreated    = "created .cleaned"
	stepWritten    = "wrote and fsynced .cleaned"
	stepSwapIndex  = "renamed an index to .swap"
	stepSwapLog    = "renamed the log to .swap"
	stepSwapSynced = "fsynced the dir after .swap"
	stepDeleted    = "renamed an old segment to .deleted"
	stepListed     = "replaced the segments in the log"
	stepFinalIndex = "renamed an index .swap to its name"
	stepFinalLog   = "renamed the log .swap to its name"
	stepDone       = "fsynced the dir after the swap"
)

// cleaner cleans one log at a time; each cleaner thread owns one (Kafka's
// Cleaner). Not safe for concurrent use.
type cleaner struct {
	logger       *slog.Logger
	offsets      *offsetMap
	ioBufferSize int
	buf          []byte // a batch being rewritten
	// hook, if set, is called after each step that changes files; an
	// error stops the cleaning right there, leaving the files as a crash
	// would. Tests only.
	hook func(step string) error
}

func newCleaner(logger *slog.Logger, dedupeBytes int64, loadFactor float64, ioBufferSize int) *cleaner {
	return &cleaner{logger: logger, offsets: newOffsetMap(dedupeBytes, loadFactor), ioBufferSize: max(ioBufferSize, 4096)}
}

func (c *cleaner) step(name string) error {
	if c.hook == nil {
		return nil
	}
	return c.hook(name)
}

// cleanStats describes one cleaning (Kafka's CleanerStats).
type cleanStats struct {
	endOffset         int64 // the new cleaner checkpoint
	bytesRead         int64 // of the segments rewritten
	bytesWritten      int64
	mapBytesRead      int64 // read to build the offset map
	recordsRead       int64
	recordsRetained   int64
	segmentsBefore    int
	segmentsAfter     int
	bufferUtilization float64
	took              time.Duration
}

// clean cleans l from rng.firstDirty up to at most rng.firstUncleanable at
// time nowMs (Kafka's Cleaner.doClean). done is polled between batches; its
// error (the cleaning was aborted or the cleaner is stopping) ends the
// cleaning, leaving the log as it was or with some groups already swapped
// in, both of which read the same.
func (c *cleaner) clean(l *Log, rng cleanRange, nowMs int64, done func() error) (cleanStats, error) {
	start := time.Now()
	st := cleanStats{endOffset: -1}
	snap, err := l.cleanerSnapshot(rng.firstDirty, rng.firstUncleanable)
	if err != nil {
		return st, err
	}
	defer snap.release()
	if len(snap.segs) == 0 {
		return st, nil
	}
	upper := snap.upper
	if upper <= rng.firstDirty {
		return st, nil
	}
	end, err := c.buildOffsetMap(snap, rng.firstDirty, upper, done, &st)
	if err != nil {
		return st, err
	}
	if end <= rng.firstDirty {
		return st, fmt.Errorf("offset map too small for one batch at offset %d: raise log.cleaner.dedupe.buffer.size", rng.firstDirty)
	}
	st.bufferUtilization = c.offsets.utilization()

	var segs []snapSegment
	for _, ss := range snap.segs {
		if ss.base < end {
			segs = append(segs, ss)
		}
	}
	lastOfProducer := lastRecordsOfActiveProducers(l)
	txns := newCleanedTxns() // carried from group to group, as transactions span them
	for _, group := range groupSegmentsBySize(segs, snap.cfg.SegmentBytes, int64(snap.cfg.SegmentIndexBytes), upper) {
		if err := done(); err != nil {
			return st, err
		}
		if err := c.cleanGroup(l, snap.cfg, group, lastOfProducer, txns, nowMs, done, &st); err != nil {
			return st, err
		}
		st.segmentsBefore += len(group)
		st.segmentsAfter++
	}
	st.endOffset = end
	st.took = time.Since(start)
	return st, nil
}

// buildOffsetMap maps the keys of the records in [firstDirty, upper) to
// their latest offsets (Kafka's buildOffsetMap). It returns the offset up
// to which the map covers the log: upper, or less if the map filled up.
// Control batches and the batches of aborted transactions add nothing;
// those of committed transactions add their keys like any others.
func (c *cleaner) buildOffsetMap(snap *cleanSnapshot, firstDirty, upper int64, done func() error, st *cleanStats) (int64, error) {
	m := c.offsets
	m.reset(upper - firstDirty)
	errFull := errors.New("offset map full")
	txns := newCleanedTxns()
	txns.add(snap.mapAborted)
	for _, ss := range snap.segs {
		if ss.end <= firstDirty || ss.base >= upper {
			continue
		}
		sc := newScannerChunk(ss.seg.file, ss.dirtyPos, ss.size, c.ioBufferSize)
		full := false
		for !full {
			h, b, pos, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return 0, readError(ss.seg, pos, err)
			}
			if err := done(); err != nil {
				return 0, err
			}
			st.mapBytesRead += int64(len(b))
			aborted := false
			if h.IsControl() {
				if _, err := txns.onControlBatch(h, b); err != nil {
					return 0, MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", ss.base, pos, err))
				}
			} else {
				aborted = txns.onDataBatch(h)
			}
			if h.LastOffset() < firstDirty {
				continue
			}
			if !h.IsControl() && !aborted {
				err := record.Records(b, func(r record.Record) error {
					off := h.BaseOffset + int64(r.OffsetDelta)
					if r.Key == nil || off < firstDirty {
						return nil
					}
					if m.full() {
						return errFull
					}
					m.put(r.Key, off)
					return nil
				})
				if errors.Is(err, errFull) {
					full = true
					break
				}
				if err != nil {
					return 0, MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", ss.base, pos, err))
				}
			}
			m.updateLatest(h.LastOffset())
		}
		if full {
			c.logger.Debug("storage: cleaner offset map full", "segment", ss.base, "latest_offset", m.latest)
			break
		}
		// Over the gaps a previous cleaning left, to the next segment.
		m.updateLatest(ss.end - 1)
	}
	return m.latest + 1, nil
}

func readError(s *segment, pos int64, err error) error {
	if isBadData(err) {
		return MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", s.base, pos, err))
	}
	if errors.Is(err, os.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("read segment %d: %w", s.base, err)
}

// lastRecordsOfActiveProducers maps each active producer to its last
// write: the cleaner keeps that batch (empty if need be) so that the
// producer's sequence numbers, or for a producer whose last write is a
// marker its epoch, survive cleaning (Kafka's lastRecordsOfActiveProducers
// and BatchRetention.RETAIN_EMPTY).
func lastRecordsOfActiveProducers(l *Log) map[int64]lastRecord {
	out := map[int64]lastRecord{}
	for _, p := range l.ActiveProducers() {
		out[p.ProducerID] = lastRecord{lastDataOffset: p.LastDataOffset(), epoch: p.ProducerEpoch}
	}
	return out
}

// groupSegmentsBySize groups consecutive segments whose total log bytes
// fit in maxSize and whose index bytes fit in maxIndexSize, each group
// becoming one cleaned segment, as Kafka's groupSegmentsBySize does: the
// offsets of a group must fit the int32 relative offsets of one segment,
// bounded by the next segment's base (or firstUncleanable for the last).
func groupSegmentsBySize(segs []snapSegment, maxSize, maxIndexSize, firstUncleanable int64) [][]snapSegment {
	var groups [][]snapSegment
	for len(segs) > 0 {
		g := segs[:1]
		logSize, indexSize, timeIndexSize := segs[0].size, segs[0].indexBytes, segs[0].timeIndexBytes
		segs = segs[1:]
		for len(segs) > 0 {
			next := segs[0]
			lastOffset := firstUncleanable - 1
			if len(segs) > 1 {
				lastOffset = segs[1].base - 1
			}
			if logSize+next.size > maxSize || indexSize+next.indexBytes > maxIndexSize || timeIndexSize+next.timeIndexBytes > maxIndexSize ||
				(next.size > 0 && lastOffset-g[0].base > math.MaxInt32) {
				break
			}
			g = g[:len(g)+1]
			logSize += next.size
			indexSize += next.indexBytes
			timeIndexSize += next.timeIndexBytes
			segs = segs[1:]
		}
		groups = append(groups, g)
	}
	return groups
}

// cleanGroup writes the retained batches of group into one new segment
// with the first one's base offset and swaps it in for them (Kafka's
// Cleaner.cleanSegments and cleanInto). The new segment is written as
// <base>.log.cleaned (and indexes), fsynced, renamed to .swap; then the old
// segments' files are renamed to .deleted and the .swap files to their
// names, each stage fsynced; completeSwaps finishes the job after a crash.
// txns follows the transactions through the groups of one cleaning; the
// ABORT markers kept in this group go to the new segment's transaction
// index.
func (c *cleaner) cleanGroup(l *Log, cfg Config, group []snapSegment, lastOfProducer map[int64]lastRecord, txns *cleanedTxns, nowMs int64, done func() error, st *cleanStats) (err error) {
	base := group[0].base
	final := func(suffix string) string { return filepath.Join(l.dir, segmentFileName(base, suffix)) }
	all := []string{indexSuffix, timeIndexSuffix, txnIndexSuffix, logSuffix}
	f, err := os.OpenFile(final(logSuffix)+cleanedSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return l.failLocked("create cleaned segment", err)
	}
	swapped := false
	defer func() {
		if swapped {
			return
		}
		_ = f.Close()
		if errors.Is(err, errCleanerCrash) {
			return // the files stay as a crash would leave them
		}
		for _, suffix := range all {
			_ = os.Remove(final(suffix) + cleanedSuffix)
			_ = os.Remove(final(suffix) + swapSuffix)
		}
	}()
	if err := c.step(stepCreated); err != nil {
		return err
	}

	ns := &segment{base: base, dir: l.dir, file: f, nextOffset: base, maxTimestamp: -1, offsetOfMaxTimestamp: base, rollAtMs: -1}
	txns.index = &ns.txnIndex
	defer func() { txns.index = nil }()
	w := bufio.NewWriterSize(f, c.ioBufferSize)
	horizon := nowMs + cfg.DeleteRetentionMs
	if cfg.DeleteRetentionMs > math.MaxInt64-nowMs {
		horizon = math.MaxInt64
	}
	m := c.offsets
	interval := int64(cfg.IndexIntervalBytes)
	dropAll := func(int64, *record.Record) bool { return false }
	for gi, ss := range group {
		txns.add(ss.aborted)
		sc := newScannerChunk(ss.seg.file, 0, ss.size, c.ioBufferSize)
		for {
			h, b, pos, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return readError(ss.seg, pos, err)
			}
			if err := done(); err != nil {
				return err
			}
			st.bytesRead += int64(len(b))
			out := c.buf[:0]
			lastOfGroup := gi == len(group)-1 && pos+int64(len(b)) == ss.size
			lr, active := lastOfProducer[h.ProducerID]
			lastOfPid := h.HasProducerID() && active && lr.keepsProducerState(h)
			hz, hasHorizon := h.DeleteHorizon()
			if h.IsControl() {
				// A marker goes once its transaction has no batch left and
				// its delete horizon has passed (cleaner_txn.go).
				discardable, err := txns.onControlBatch(h, b)
				if err != nil {
					return MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", ss.base, pos, err))
				}
				discardRecords := discardable && hasHorizon && nowMs >= hz
				switch {
				case h.RecordCount > 0 && !discardRecords && discardable && !hasHorizon:
					out, err = withDeleteHorizon(out, b, h, horizon)
				case h.RecordCount > 0 && !discardRecords:
					out = append(out, b...)
				case lastOfGroup || lastOfPid:
					out, _, err = record.FilterBatch(out, b, record.FilterOptions{DeleteHorizonMs: -1, RetainEmpty: true}, dropAll)
				}
				if err != nil {
					return MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", ss.base, pos, err))
				}
			} else {
				aborted := txns.onDataBatch(h)
				keep := func(off int64, r *record.Record) bool {
					if aborted {
						return false // an aborted transaction's
					}
					if off > m.latest {
						return true // beyond the map: dirty, kept
					}
					if r.Key == nil {
						return false // never in a compacted topic
					}
					if off < m.get(r.Key) {
						return false // not the key's latest
					}
					return r.Value != nil || !hasHorizon || nowMs < hz
				}
				var res record.FilterResult
				out, res, err = record.FilterBatch(out, b, record.FilterOptions{DeleteHorizonMs: horizon, RetainEmpty: lastOfGroup || lastOfPid}, keep)
				if err != nil {
					return MarkCorruption(fmt.Errorf("segment %d at byte %d: %w", ss.base, pos, err))
				}
				st.recordsRead += int64(res.RecordsRead)
				st.recordsRetained += int64(res.RecordsRetained)
			}
			c.buf = out
			if len(out) == 0 {
				continue
			}
			if _, err := w.Write(out); err != nil {
				return l.failLocked("write cleaned segment", err)
			}
			oh, _ := record.ParseHeader(out)
			if oh.MaxTimestamp > ns.maxTimestamp {
				ns.maxTimestamp, ns.offsetOfMaxTimestamp = oh.MaxTimestamp, oh.BaseOffset
			}
			if ns.bytesSinceIndex > interval {
				ns.index.append(ns.rel(oh.BaseOffset), int32(ns.size))
				ns.timeIndex.maybeAppend(ns.maxTimestamp, ns.rel(ns.offsetOfMaxTimestamp))
				ns.bytesSinceIndex = 0
			}
			ns.bytesSinceIndex += int64(len(out))
			ns.size += int64(len(out))
			ns.nextOffset = oh.NextOffset()
		}
	}
	if ns.size == 0 {
		// Only possible for a group of empty segments: leave it.
		return nil
	}
	if err := w.Flush(); err != nil {
		return l.failLocked("write cleaned segment", err)
	}
	if err := f.Sync(); err != nil {
		return l.failLocked("fsync cleaned segment", err)
	}
	// Keep the last modification time of the newest segment cleaned, which
	// time retention falls back on without timestamps (as Kafka does).
	if fi, err := group[len(group)-1].seg.file.Stat(); err == nil {
		_ = os.Chtimes(final(logSuffix)+cleanedSuffix, fi.ModTime(), fi.ModTime())
	}
	ns.appendFinalTimeIndexEntry()
	// The files to swap in; the log last: its rename is the commit point.
	suffixes := []string{indexSuffix, timeIndexSuffix, logSuffix}
	indexes := []struct {
		suffix string
		buf    []byte
	}{{indexSuffix, ns.index.buf}, {timeIndexSuffix, ns.timeIndex.buf}}
	if len(ns.txnIndex.buf) > 0 {
		suffixes = []string{indexSuffix, timeIndexSuffix, txnIndexSuffix, logSuffix}
		indexes = append(indexes, struct {
			suffix string
			buf    []byte
		}{txnIndexSuffix, ns.txnIndex.buf})
	}
	for _, x := range indexes {
		path := final(x.suffix) + cleanedSuffix
		err := truncateIndexFile(path, 0)
		if err == nil {
			_, err = writeIndexTail(path, x.buf, 0)
		}
		if err == nil {
			err = syncFile(path)
		}
		if err != nil {
			return l.failLocked("write cleaned index", err)
		}
	}
	ns.index.persisted, ns.index.synced = len(ns.index.buf), len(ns.index.buf)
	ns.timeIndex.persisted, ns.timeIndex.synced = len(ns.timeIndex.buf), len(ns.timeIndex.buf)
	ns.txnIndex.persisted, ns.txnIndex.synced = len(ns.txnIndex.buf), len(ns.txnIndex.buf)
	ns.loaded.Store(true)
	st.bytesWritten += ns.size
	if err := c.step(stepWritten); err != nil {
		return err
	}
	for _, suffix := range suffixes {
		if err := os.Rename(final(suffix)+cleanedSuffix, final(suffix)+swapSuffix); err != nil {
			return l.failLocked("rename cleaned segment", err)
		}
		step := stepSwapIndex
		if suffix == logSuffix {
			step = stepSwapLog
		}
		if err := c.step(step); err != nil {
			return err
		}
	}
	if err := syncDir(l.dir); err != nil {
		return l.failLocked("swap cleaned segment", err)
	}
	if err := c.step(stepSwapSynced); err != nil {
		return err
	}
	swapped, err = l.replaceWithCleaned(ns, group, suffixes, nowMs, c.step)
	return err
}

// replaceWithCleaned swaps ns, written in full as .swap files, in for the
// segments of group (Kafka's UnifiedLog.replaceSegments). It returns
// errCleaningAborted, having changed nothing, if the group is no longer
// what the cleaner read: retention, DeleteRecords or a truncation removed
// or cut one of its segments meanwhile. committed reports that the .swap
// files must stay (the swap started; on error, completeSwaps finishes it
// at the next open). Readers holding an old segment keep reading it; its
// files go after file.delete.delay.ms, as after retention.
func (l *Log) replaceWithCleaned(ns *segment, group []snapSegment, suffixes []string, nowMs int64, step func(string) error) (committed bool, err error) {
	// flushMu keeps out everything else that renames, truncates, fsyncs or
	// removes segment files (flush, retention, truncation, close), so the
	// renames below can run without mu.
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		return false, err
	}
	segs := l.mu.segments
	i := slices.Index(segs, group[0].seg)
	ok := i >= 0 && i+len(group) < len(segs) // never the active segment
	for j := 0; ok && j < len(group); j++ {
		ok = segs[i+j] == group[j].seg && segs[i+j].size == group[j].size
	}
	if !ok {
		l.mu.Unlock()
		return false, errCleaningAborted
	}
	// From here on the .swap files are the data: a failure leaves them for
	// completeSwaps.
	for _, ss := range group {
		if err := l.removeSegmentLocked(ss.seg, nowMs, l.mu.cfg.FileDeleteDelayMs); err != nil {
			l.mu.Unlock()
			return true, l.failLocked("delete cleaned segment", err)
		}
		if err := step(stepDeleted); err != nil {
			l.mu.Unlock()
			return true, err
		}
	}
	l.mu.segments = slices.Concat(segs[:i], []*segment{ns}, segs[i+len(group):])
	l.mu.dirDirty = true
	l.generation.Add(1) // reads racing with the swap retry
	l.mu.Unlock()
	if err := step(stepListed); err != nil {
		return true, err
	}
	// The old names must be gone on disk before the new ones appear.
	if err := syncDir(l.dir); err != nil {
		return true, l.failLocked("swap cleaned segment", err)
	}
	for _, suffix := range suffixes {
		p := filepath.Join(l.dir, segmentFileName(ns.base, suffix))
		if err := os.Rename(p+swapSuffix, p); err != nil {
			return true, l.failLocked("swap cleaned segment", err)
		}
		s := stepFinalIndex
		if suffix == logSuffix {
			s = stepFinalLog
		}
		if err := step(s); err != nil {
			return true, err
		}
	}
	if err := syncDir(l.dir); err != nil {
		return true, l.failLocked("swap cleaned segment", err)
	}
	return true, step(stepDone)
}
