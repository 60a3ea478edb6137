package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gregor-streaming/gregor/internal/record"
)

// File name suffixes of a segment, and of a segment waiting for deletion.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	deletedSuffix   = ".deleted"
)

// segmentSuffixes are the files of a segment (txnIndexSuffix, in
// txnindex.go, only for segments with aborted transactions).
var segmentSuffixes = []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix}

// segmentFileName is Kafka's name for a segment file: the base offset as
// 20 zero-padded digits, then the suffix.
func segmentFileName(base int64, suffix string) string {
	return fmt.Sprintf("%020d%s", base, suffix)
}

// parseSegmentFileName returns the base offset of a segment file name with
// the given suffix.
func parseSegmentFileName(name, suffix string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(digits, 10, 64)
	return base, err == nil && base >= 0
}

// errNeedsRecovery says a segment loaded without a scan turned out not to
// be trustworthy (missing or malformed index, bad tail) and must be
// recovered.
var errNeedsRecovery = errors.New("segment needs recovery")

// segment is one .log file with its two indexes. The Log owns its
// segments; see the Log type for which lock guards what.
type segment struct {
	base int64
	dir  string
	file *os.File // opened read-write; closed only once refs drop to zero after removal, or on Log close

	// refs counts readers and flushers using file outside Log.mu. A
	// removed segment is closed and its files deleted only when it is 0.
	refs atomic.Int32

	// loaded reports that index and timeIndex hold the index files. The
	// active segment is always loaded; older ones are loaded on first use
	// under loadMu (possibly by readers holding Log.mu only for reading).
	loaded atomic.Bool
	loadMu sync.Mutex

	// The fields below are guarded by Log.mu, except that index and
	// timeIndex of a segment that is not yet loaded are filled under loadMu.
	size                 int64 // bytes of whole batches in the file
	nextOffset           int64 // offset after the last batch; -1 if unknown (inactive segments loaded without a scan)
	maxTimestamp         int64 // largest batch max timestamp, -1 if none
	offsetOfMaxTimestamp int64 // base offset of the first batch with maxTimestamp, from headers only; MaxTimestampAndOffset decodes that batch for the record
	rollAtMs             int64 // wall time of the first append, for segment.ms; -1 while empty
	bytesSinceIndex      int64 // bytes appended since (and including) the last indexed batch
	index                offsetIndex
	timeIndex            timeIndex
	// txnIndex lists the aborted transactions whose marker is in the
	// segment (txnindex.go). Unlike the other two it is loaded for every
	// segment when the log opens: the file exists only for segments with
	// aborted transactions.
	txnIndex   txnIndex
	deleted    bool  // files renamed to *.deleted, waiting for removal
	deleteAtMs int64 // when the files may be removed
}

func (s *segment) path(suffix string) string {
	p := filepath.Join(s.dir, segmentFileName(s.base, suffix))
	if s.deleted {
		p += deletedSuffix
	}
	return p
}

func (s *segment) rel(offset int64) int32 { return int32(offset - s.base) }

func (s *segment) acquire() *segment { s.refs.Add(1); return s }
func (s *segment) release()          { s.refs.Add(-1) }

// createSegment creates the files of a new empty segment, replacing any
// leftovers with the same base offset.
func createSegment(dir string, base int64) (*segment, error) {
	s := &segment{base: base, dir: dir, nextOffset: base, maxTimestamp: -1, offsetOfMaxTimestamp: base, rollAtMs: -1}
	f, err := os.OpenFile(s.path(logSuffix), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment %d: %w", base, err)
	}
	s.file = f
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		if err := truncateIndexFile(s.path(suffix), 0); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("create segment %d: %w", base, err)
		}
	}
	s.loaded.Store(true)
	return s, nil
}

// openSegment opens an existing segment's .log file. Nothing else is
// loaded: the caller either recovers it or loads it as trusted.
func openSegment(dir string, base int64) (*segment, error) {
	s := &segment{base: base, dir: dir, nextOffset: -1, maxTimestamp: -1, offsetOfMaxTimestamp: base, rollAtMs: -1}
	f, err := os.OpenFile(s.path(logSuffix), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open segment %d: %w", base, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open segment %d: %w", base, err)
	}
	s.file, s.size = f, fi.Size()
	return s, nil
}

// scanResult is what a full scan of a segment learns.
type scanResult struct {
	index           offsetIndex
	timeIndex       timeIndex
	validBytes      int64 // bytes of good batches from the start
	nextOffset      int64
	maxTimestamp    int64
	offsetOfMax     int64
	bytesSinceIndex int64
	firstTimestamp  int64 // max timestamp of the first batch, -1 if none
	stop            error // why the scan stopped before the end; nil if it reached it
}

// isBadData reports whether a scan error means bad bytes in the file (as
// opposed to a failure to read it).
func isBadData(err error) bool {
	return errors.Is(err, errTorn) || errors.Is(err, record.ErrCorrupt) || errors.Is(err, record.ErrTruncated)
}

// scanAll reads the whole segment and rebuilds its indexes as appends
// would have built them. With verify it also checks each batch's CRC.
// Either way it checks framing and offsets: they increase from the base
// offset, possibly with gaps, as the log cleaner and followers copying a
// cleaned leader leave them; a segment followed by another (limit, its
// base; -1 for the last segment) must keep its offsets below limit. The
// base offset is outside the CRC, so a batch after a gap is provisional:
// if the next batch overlaps it, its base offset was damaged and the scan
// stops before it. It stops at the first bad batch (reported in stop). It
// calls onBatch, if not nil, for every good batch.
func (s *segment) scanAll(interval int64, verify bool, limit int64, onBatch func(record.Header)) (scanResult, error) {
	r := scanResult{nextOffset: s.base, maxTimestamp: -1, offsetOfMax: s.base, firstTimestamp: -1}
	var (
		before      scanResult     // r before the provisional batch
		provisional *record.Header // the last batch accepted, if it opened a gap; reported to onBatch once confirmed
	)
	report := func(h *record.Header) {
		if h != nil && onBatch != nil {
			onBatch(*h)
		}
	}
	sc := newScanner(s.file, 0, s.size)
	for {
		h, b, pos, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if isBadData(err) {
				r.stop = fmt.Errorf("at byte %d: %w", pos, err)
				break
			}
			return r, fmt.Errorf("read segment %d: %w", s.base, err)
		}
		gap := h.BaseOffset != r.nextOffset
		if gap && (h.BaseOffset < r.nextOffset || (limit >= 0 && h.LastOffset() >= limit)) {
			if provisional != nil && h.BaseOffset < r.nextOffset {
				r, provisional = before, nil
				r.stop = fmt.Errorf("at byte %d: batch after a gap overlapped by the next one", r.validBytes)
				break
			}
			r.stop = fmt.Errorf("at byte %d: batch base offset %d, want %d", pos, h.BaseOffset, r.nextOffset)
			break
		}
		if h.LastOffsetDelta < 0 || h.LastOffset()-s.base > math.MaxInt32 {
			r.stop = fmt.Errorf("at byte %d: last offset delta %d out of range", pos, h.LastOffsetDelta)
			break
		}
		if verify {
			if err := record.CheckCRC(b); err != nil {
				r.stop = fmt.Errorf("at byte %d: %w", pos, err)
				break
			}
		}
		report(provisional) // confirmed: this batch does not overlap it
		provisional = nil
		if gap {
			before, provisional = r, &h
		}
		if pos == 0 {
			r.firstTimestamp = h.MaxTimestamp
		}
		if h.MaxTimestamp > r.maxTimestamp {
			r.maxTimestamp, r.offsetOfMax = h.MaxTimestamp, h.BaseOffset
		}
		if r.bytesSinceIndex > interval {
			r.index.append(s.rel(h.BaseOffset), int32(pos))
			r.timeIndex.maybeAppend(r.maxTimestamp, s.rel(r.offsetOfMax))
			r.bytesSinceIndex = 0
		}
		r.bytesSinceIndex += int64(h.Size())
		r.validBytes = pos + int64(h.Size())
		r.nextOffset = h.NextOffset()
		if !gap {
			report(&h)
		}
	}
	report(provisional)
	return r, nil
}

// nextBase is the base offset of the segment after segs[i], or -1 if
// segs[i] is the last: the limit scanAll checks a segment's gaps against.
func nextBase(segs []*segment, i int) int64 {
	if i+1 < len(segs) {
		return segs[i+1].base
	}
	return -1
}

// recover is Kafka's LogSegment.recover: verify every batch, cut the file
// after the last good one, rebuild both index files. It returns the number
// of bytes cut and why.
// limit is as for scanAll.
func (s *segment) recover(interval, limit int64, onBatch func(record.Header)) (int64, error, error) {
	r, err := s.scanAll(interval, true, limit, onBatch)
	if err != nil {
		return 0, nil, err
	}
	cut := s.size - r.validBytes
	if cut > 0 {
		if err := s.file.Truncate(r.validBytes); err != nil {
			return 0, nil, fmt.Errorf("truncate segment %d: %w", s.base, err)
		}
	}
	// A cleanly closed segment ends its time index with its max timestamp.
	r.timeIndex.maybeAppend(r.maxTimestamp, s.rel(r.offsetOfMax))
	if err := s.installScan(r); err != nil {
		return 0, nil, err
	}
	return cut, r.stop, nil
}

// installScan makes a scan's results the segment's state and rewrites
// the index files.
func (s *segment) installScan(r scanResult) error {
	s.size = r.validBytes
	s.nextOffset = r.nextOffset
	s.maxTimestamp, s.offsetOfMaxTimestamp = r.maxTimestamp, r.offsetOfMax
	s.bytesSinceIndex = r.bytesSinceIndex
	s.index, s.timeIndex = r.index, r.timeIndex
	if err := s.rewriteIndexFiles(); err != nil {
		return err
	}
	s.loaded.Store(true)
	return nil
}

func (s *segment) rewriteIndexFiles() error {
	var err error
	if err = truncateIndexFile(s.path(indexSuffix), 0); err == nil {
		s.index.persisted, s.index.synced = 0, 0
		s.index.persisted, err = writeIndexTail(s.path(indexSuffix), s.index.buf, 0)
	}
	if err == nil {
		if err = truncateIndexFile(s.path(timeIndexSuffix), 0); err == nil {
			s.timeIndex.persisted, s.timeIndex.synced = 0, 0
			s.timeIndex.persisted, err = writeIndexTail(s.path(timeIndexSuffix), s.timeIndex.buf, 0)
		}
	}
	if err != nil {
		return fmt.Errorf("write indexes of segment %d: %w", s.base, err)
	}
	return nil
}

// loadTrusted loads a segment that needs no recovery (below the recovery
// point, or after a clean shutdown) without reading its batches: the max
// timestamp comes from the time index's last entry. For the last segment it
// also loads both indexes and scans the batches after the last index entry
// to learn the log end offset, as Kafka's readNextOffset does. Anything
// inconsistent returns errNeedsRecovery.
func (s *segment) loadTrusted(last bool) error {
	isize, err := indexFileSize(s.path(indexSuffix), offsetIndexEntrySize)
	if err != nil {
		return err
	}
	tsize, err := indexFileSize(s.path(timeIndexSuffix), timeIndexEntrySize)
	if err != nil {
		return err
	}
	if isize > 0 && s.size == 0 {
		return fmt.Errorf("%w: index entries in an empty segment", errNeedsRecovery)
	}
	if tsize > 0 {
		var e [timeIndexEntrySize]byte
		if err := readAt(s.path(timeIndexSuffix), e[:], tsize-timeIndexEntrySize); err != nil {
			return err
		}
		var t timeIndex
		t.buf = e[:]
		ts, rel, _ := t.last()
		s.maxTimestamp, s.offsetOfMaxTimestamp = ts, s.base+int64(rel)
	}
	if !last {
		return nil
	}
	if err := s.loadIndexes(math.MaxInt32); err != nil {
		return fmt.Errorf("%w: %v", errNeedsRecovery, err)
	}
	from, expect := int64(0), s.base
	if n := s.index.len(); n > 0 {
		rel, pos := s.index.at(n - 1)
		from, expect = int64(pos), s.base+int64(rel)
	}
	next, maxTs, offMax, err := s.scanTail(from, expect, s.maxTimestamp, s.offsetOfMaxTimestamp)
	if err != nil {
		return err
	}
	s.nextOffset, s.maxTimestamp, s.offsetOfMaxTimestamp = next, maxTs, offMax
	s.bytesSinceIndex = s.size - from
	s.loaded.Store(true)
	return nil
}

// initRollTime sets the roll clock of a segment loaded from disk, whose
// first append time is unknown: the first batch's max timestamp if it is
// not in the future, else now (Kafka too rolls by the first batch's
// timestamp).
func (s *segment) initRollTime(nowMs int64) {
	if s.size == 0 || s.rollAtMs >= 0 {
		return
	}
	s.rollAtMs = nowMs
	if first, err := s.firstBatchTimestamp(); err == nil && first >= 0 && first <= nowMs {
		s.rollAtMs = first
	}
}

// scanTail reads the batch headers from file position from to the end,
// checking framing and that offsets increase from expect (-1: from whatever
// the first batch says). It returns the next offset and the max timestamp
// folded into the given one.
func (s *segment) scanTail(from, expect, maxTs, offMax int64) (next, maxTsOut, offMaxOut int64, err error) {
	sc := newScanner(s.file, from, s.size)
	next = expect
	if from == 0 {
		next = s.base
	}
	for {
		h, _, pos, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if isBadData(err) {
				return 0, 0, 0, fmt.Errorf("%w: segment %d at byte %d: %v", errNeedsRecovery, s.base, pos, err)
			}
			return 0, 0, 0, err
		}
		if next >= 0 && h.BaseOffset < next {
			return 0, 0, 0, fmt.Errorf("%w: segment %d at byte %d: base offset %d, want at least %d", errNeedsRecovery, s.base, pos, h.BaseOffset, next)
		}
		if h.LastOffsetDelta < 0 || h.LastOffset()-s.base > math.MaxInt32 {
			return 0, 0, 0, fmt.Errorf("%w: segment %d at byte %d: bad last offset delta", errNeedsRecovery, s.base, pos)
		}
		if h.MaxTimestamp > maxTs {
			maxTs, offMax = h.MaxTimestamp, h.BaseOffset
		}
		next = h.NextOffset()
	}
	if next < 0 { // empty tail after an index entry cannot happen; be safe
		next = s.base
	}
	return next, maxTs, offMax, nil
}

func (s *segment) firstBatchTimestamp() (int64, error) {
	var b [record.HeaderSize]byte
	if _, err := s.file.ReadAt(b[:], 0); err != nil {
		return -1, err
	}
	h, err := record.ParseHeader(b[:])
	if err != nil {
		return -1, err
	}
	return h.MaxTimestamp, nil
}

// loadIndexes reads both index files into memory and validates them.
// maxRel bounds the relative offsets in the time index.
func (s *segment) loadIndexes(maxRel int32) error {
	ibuf, ok, err := readIndexFile(s.path(indexSuffix))
	if err != nil || !ok {
		return fmt.Errorf("read offset index: ok=%v: %v", ok, err)
	}
	tbuf, ok, err := readIndexFile(s.path(timeIndexSuffix))
	if err != nil || !ok {
		return fmt.Errorf("read time index: ok=%v: %v", ok, err)
	}
	idx := offsetIndex{buf: ibuf, persisted: len(ibuf), synced: len(ibuf)}
	tidx := timeIndex{buf: tbuf, persisted: len(tbuf), synced: len(tbuf)}
	if err := idx.validate(s.size); err != nil {
		return err
	}
	if err := tidx.validate(maxRel); err != nil {
		return err
	}
	s.index, s.timeIndex = idx, tidx
	return nil
}

// ensureLoaded loads the indexes of a segment that was loaded as trusted.
// It may run with Log.mu held only for reading; loadMu serializes loaders.
// If the index files are missing or inconsistent they are rebuilt from the
// batches (without truncating anything); a segment whose batches cannot be
// framed yields a corruption error.
func (s *segment) ensureLoaded(interval int64, maxRel int32) error {
	if s.loaded.Load() {
		return nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.loaded.Load() {
		return nil
	}
	if err := s.loadIndexes(maxRel); err == nil {
		s.loaded.Store(true)
		return nil
	}
	r, err := s.scanAll(interval, false, s.base+int64(maxRel)+1, nil)
	if err != nil {
		return err
	}
	if r.stop != nil {
		return MarkCorruption(fmt.Errorf("segment %d: %w", s.base, r.stop))
	}
	r.timeIndex.maybeAppend(r.maxTimestamp, s.rel(r.offsetOfMax))
	s.index, s.timeIndex = r.index, r.timeIndex
	if err := s.rewriteIndexFiles(); err != nil {
		return err
	}
	s.loaded.Store(true)
	return nil
}

// persistIndexes writes index entries not yet in the files, the
// transaction index's included.
func (s *segment) persistIndexes() error {
	var err error
	if s.index.persisted, err = writeIndexTail(s.path(indexSuffix), s.index.buf, s.index.persisted); err != nil {
		return fmt.Errorf("write offset index of segment %d: %w", s.base, err)
	}
	if s.timeIndex.persisted, err = writeIndexTail(s.path(timeIndexSuffix), s.timeIndex.buf, s.timeIndex.persisted); err != nil {
		return fmt.Errorf("write time index of segment %d: %w", s.base, err)
	}
	return s.persistTxnIndex()
}

// appendFinalTimeIndexEntry adds the max timestamp to the time index, as
// Kafka does when a segment stops being active or is closed.
func (s *segment) appendFinalTimeIndexEntry() {
	if s.maxTimestamp >= 0 {
		s.timeIndex.maybeAppend(s.maxTimestamp, s.rel(s.offsetOfMaxTimestamp))
	}
}

// markDeleted renames the segment's files to *.deleted. The open file
// keeps working for readers that still hold it.
func (s *segment) markDeleted(nowMs, delayMs int64) error {
	var firstErr error
	for _, suffix := range segmentSuffixes {
		from := s.path(suffix)
		if err := os.Rename(from, from+deletedSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = err
		}
	}
	s.deleted = true
	s.deleteAtMs = nowMs + delayMs
	if firstErr != nil {
		return fmt.Errorf("rename segment %d for deletion: %w", s.base, firstErr)
	}
	return nil
}

// removeFiles closes the segment and removes its files.
func (s *segment) removeFiles() error {
	_ = s.file.Close()
	var firstErr error
	for _, suffix := range segmentSuffixes {
		if err := os.Remove(s.path(suffix)); err != nil && !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// indexFileSize returns the size of an index file, or errNeedsRecovery if
// it is missing or not a whole number of entries.
func indexFileSize(path string, entrySize int64) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s missing", errNeedsRecovery, filepath.Base(path))
	}
	if err != nil {
		return 0, err
	}
	if fi.Size()%entrySize != 0 {
		return 0, fmt.Errorf("%w: %s has %d bytes", errNeedsRecovery, filepath.Base(path), fi.Size())
	}
	return fi.Size(), nil
}

func readAt(path string, b []byte, off int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.ReadAt(b, off)
	return err
}
