package storage

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gregor-streaming/gregor/internal/uuid"

	"github.com/gregor-streaming/gregor/internal/record"
)

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return tp.Topic + "-" + strconv.Itoa(int(tp.Partition)) }

func (tp TopicPartition) less(o TopicPartition) bool {
	if tp.Topic != o.Topic {
		return tp.Topic < o.Topic
	}
	return tp.Partition < o.Partition
}

// parseTopicPartition parses a partition dir name, `<topic>-<partition>`.
// Names of dirs being deleted (`…-delete`), future or stray replicas do not
// parse.
func parseTopicPartition(name string) (TopicPartition, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return TopicPartition{}, false
	}
	digits := name[i+1:]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return TopicPartition{}, false
		}
	}
	p, err := strconv.ParseInt(digits, 10, 32)
	if err != nil {
		return TopicPartition{}, false
	}
	return TopicPartition{Topic: name[:i], Partition: int32(p)}, true
}

// Options are a Log's dependencies and, when the Manager opens it, the
// recovery state read from the log dir's checkpoints.
type Options struct {
	Logger *slog.Logger     // default slog.Default()
	Now    func() time.Time // default time.Now

	// CleanShutdown says the log dir had Kafka's clean-shutdown marker: no
	// segment is scanned (indexes are still sanity-checked).
	CleanShutdown bool
	// RecoveryPoint is the offset below which data is known to be on disk
	// (recovery-point-offset-checkpoint). Without CleanShutdown, segments
	// from the one holding it onwards are scanned; the zero value scans all.
	RecoveryPoint int64
	// LogStartOffset and HighWatermark are the checkpointed values
	// (log-start-offset-checkpoint, replication-offset-checkpoint). They are
	// clamped to the segments found.
	LogStartOffset int64
	HighWatermark  int64
	// ProducerIDExpirationMs is producer.id.expiration.ms: producers idle
	// this long are forgotten (producerstate.go). Zero means the default,
	// DefaultProducerIDExpirationMs.
	ProducerIDExpirationMs int64

	dir *dirState // the log dir's failure state, shared by its logs; nil: private
}

// dirState is the write-failure state of one log dir, shared by all its
// logs: the first write error takes the whole dir offline, as in Kafka.
type dirState struct {
	err atomic.Pointer[error]
}

func (d *dirState) get() error {
	if p := d.err.Load(); p != nil {
		return *p
	}
	return nil
}

// fail records err (the first one wins) and returns the dir's error.
func (d *dirState) fail(err error) error {
	wrapped := fmt.Errorf("%w: %w", ErrLogDirOffline, err)
	d.err.CompareAndSwap(nil, &wrapped)
	return d.get()
}

// Log is one partition's log: segments of RecordBatch v2 bytes with their
// indexes in one partition dir. It is Kafka's UnifiedLog and LocalLog.
//
// A Log is safe for concurrent use. Appends are serialized; reads run in
// parallel with each other and with appends, and hold the lock only to
// locate data (the pread runs unlocked). After Close or Delete every method
// that touches the files returns ErrClosed; the offset getters keep
// returning the last values.
type Log struct {
	dir    string
	tp     TopicPartition
	logger *slog.Logger
	now    func() time.Time
	dirSt  *dirState

	// flushMu serializes operations that fsync segment files outside mu
	// with the ones that rename, truncate or remove them. Lock order:
	// flushMu before mu.
	flushMu sync.Mutex
	// bg counts the goroutines flushing rolled segments; Close waits.
	bg sync.WaitGroup
	// generation changes whenever data is truncated; Read retries a read
	// that raced with a truncation.
	generation atomic.Uint64
	// pendingDeletes mirrors len(mu.pending) for cheap polling.
	pendingDeletes atomic.Int32

	mu struct {
		sync.RWMutex
		cfg            Config
		segments       []*segment // by base offset; the last is the active segment; never empty while open
		logStartOffset int64
		highWatermark  int64
		recoveryPoint  int64 // data (and index entries) below this offset are fsynced
		lastFlushMs    int64
		epochs         epochCache
		topicID        [16]byte
		hasTopicID     bool
		dirDirty       bool       // files created, renamed or removed since the dir was fsynced
		pending        []*segment // removed segments waiting for file.delete.delay.ms and their readers
		producers      *producerStateManager
		closed         bool
		deleted        bool
	}
}

// Open opens the log in dir, creating the dir and an empty segment if
// needed, and recovers it (see the package doc). cfg must be valid.
func Open(dir string, cfg Config, opts Options) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.dir == nil {
		opts.dir = &dirState{}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: open log %s: %w", dir, err)
	}
	l := &Log{dir: dir, now: opts.Now, dirSt: opts.dir}
	var attrs []any
	if tp, ok := parseTopicPartition(filepath.Base(dir)); ok {
		l.tp = tp
		attrs = append(attrs, "topic", tp.Topic, "partition", tp.Partition)
	} else {
		attrs = append(attrs, "dir", dir)
	}
	l.logger = opts.Logger.With(attrs...)
	l.mu.cfg = cfg
	l.mu.producers = newProducerStateManager(l.logger, opts.ProducerIDExpirationMs)
	if err := l.load(opts); err != nil {
		for _, s := range l.mu.segments {
			_ = s.file.Close()
		}
		return nil, fmt.Errorf("storage: open log %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) nowMs() int64 { return l.now().UnixMilli() }

// load reads the partition dir, recovering what needs it.
func (l *Log) load(opts Options) error {
	nowMs := l.nowMs()
	cfg := l.mu.cfg
	// Finish or discard a cleaner swap cut short (cleaner_recovery.go).
	if err := completeSwaps(l.dir, l.logger); err != nil {
		return err
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	var bases []int64
	txnIndexes := map[int64]bool{} // segments with a .txnindex file
	for _, e := range entries {
		name := e.Name()
		if base, ok := parseSegmentFileName(name, txnIndexSuffix); ok {
			txnIndexes[base] = true
		}
		switch {
		case strings.HasSuffix(name, deletedSuffix), strings.HasSuffix(name, ".tmp"),
			strings.HasSuffix(name, ".cleaned"), strings.HasSuffix(name, ".swap"):
			// Leftovers of deletions and atomic writes cut short.
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			l.mu.dirDirty = true
		default:
			if base, ok := parseSegmentFileName(name, logSuffix); ok {
				bases = append(bases, base)
			}
		}
	}
	slices.Sort(bases)
	for _, e := range entries {
		name := e.Name()
		for _, suffix := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			if base, ok := parseSegmentFileName(name, suffix); ok {
				if _, found := slices.BinarySearch(bases, base); !found {
					if err := os.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return err
					}
					l.mu.dirDirty = true
				}
			}
		}
	}

	id, ok, err := readPartitionMetadata(filepath.Join(l.dir, PartitionMetadataFile))
	if err != nil {
		return err
	}
	l.mu.topicID, l.mu.hasTopicID = id, ok

	forceRecovery := false
	epochs, err := readEpochCheckpoint(filepath.Join(l.dir, LeaderEpochCheckpointFile))
	if err != nil {
		if !IsCorruption(err) {
			return err
		}
		// Rebuild the cache from the batches' epochs.
		l.logger.Warn("storage: bad leader epoch checkpoint, recovering the whole log", "err", err)
		epochs, forceRecovery = nil, true
	}
	l.mu.epochs.entries = epochs
	epochsChanged := forceRecovery

	segs := make([]*segment, 0, len(bases))
	for _, base := range bases {
		s, err := openSegment(l.dir, base)
		if err != nil {
			l.mu.segments = segs
			return err
		}
		segs = append(segs, s)
	}
	l.mu.segments = segs

	recoverFrom := len(segs)
	switch {
	case forceRecovery:
		recoverFrom = 0
	case !opts.CleanShutdown:
		recoverFrom = 0
		for i, s := range segs {
			if s.base <= opts.RecoveryPoint {
				recoverFrom = i
			}
		}
	}
	onBatch := func(h record.Header) {
		if h.PartitionLeaderEpoch < 0 {
			return
		}
		if last, ok := l.mu.epochs.latest(); !ok || h.PartitionLeaderEpoch > last.Epoch {
			l.mu.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
			epochsChanged = true
		}
	}
	interval := int64(cfg.IndexIntervalBytes)
	recoveredFrom := int64(-1)
	noteRecovered := func(s *segment) {
		if recoveredFrom < 0 || s.base < recoveredFrom {
			recoveredFrom = s.base
		}
	}
	for i := 0; i < recoverFrom; i++ {
		s := segs[i]
		err := s.loadTrusted(i == len(segs)-1)
		if err == nil {
			continue
		}
		if !errors.Is(err, errNeedsRecovery) {
			return err
		}
		l.logger.Warn("storage: recovering segment", "segment", s.base, "reason", err)
		cut, why, err := s.recover(interval, nextBase(segs, i), onBatch)
		if err != nil {
			return err
		}
		noteRecovered(s)
		if why != nil {
			l.logger.Warn("storage: truncated invalid tail of segment", "segment", s.base, "bytes", cut, "reason", why)
		}
	}
	for i := recoverFrom; i < len(segs); i++ {
		s := segs[i]
		if i > 0 && segs[i-1].nextOffset >= 0 && s.base != segs[i-1].nextOffset {
			// Segments scanned here must tile the offsets: a segment that
			// ends short of the next one lost its tail (to a machine crash
			// before fsync), and keeping later data would leave a hole.
			l.logger.Warn("storage: segment does not continue the previous one, dropping it and later segments",
				"segment", s.base, "previous_end", segs[i-1].nextOffset)
			if err := l.dropSegmentsOnLoad(i); err != nil {
				return err
			}
			break
		}
		cut, why, err := s.recover(interval, nextBase(segs, i), onBatch)
		if err != nil {
			return err
		}
		noteRecovered(s)
		if why != nil {
			l.logger.Warn("storage: truncated invalid tail of segment", "segment", s.base, "bytes", cut, "reason", why)
			if err := l.dropSegmentsOnLoad(i + 1); err != nil {
				return err
			}
			break
		}
		if cut > 0 {
			l.logger.Info("storage: truncated torn tail", "segment", s.base, "bytes", cut)
		}
	}
	segs = l.mu.segments

	if len(segs) == 0 {
		s, err := createSegment(l.dir, max(opts.LogStartOffset, 0))
		if err != nil {
			return err
		}
		segs = append(segs, s)
		l.mu.segments = segs
		l.mu.dirDirty = true
	}
	leo := segs[len(segs)-1].nextOffset
	if leo < opts.LogStartOffset {
		// The data ends below the checkpointed log start offset (Kafka:
		// "Deleting all segments because logEndOffset is smaller than
		// logStartOffset").
		l.logger.Warn("storage: log ends below its log start offset, starting afresh",
			"log_end_offset", leo, "log_start_offset", opts.LogStartOffset)
		if err := l.dropSegmentsOnLoad(0); err != nil {
			return err
		}
		s, err := createSegment(l.dir, opts.LogStartOffset)
		if err != nil {
			return err
		}
		l.mu.segments = []*segment{s}
		l.mu.dirDirty = true
		l.mu.epochs.entries = nil
		epochsChanged = true
		segs, leo = l.mu.segments, opts.LogStartOffset
		recoveredFrom = opts.LogStartOffset
	}
	lso := min(max(opts.LogStartOffset, segs[0].base), leo)
	l.mu.logStartOffset = lso
	if l.mu.epochs.truncateFromEnd(leo) {
		epochsChanged = true
	}
	if l.mu.epochs.truncateFromStart(lso) {
		epochsChanged = true
	}
	if epochsChanged {
		if err := writeEpochCheckpoint(filepath.Join(l.dir, LeaderEpochCheckpointFile), l.mu.epochs.entries); err != nil {
			return err
		}
	}
	segs[len(segs)-1].initRollTime(nowMs)
	l.mu.highWatermark = min(max(opts.HighWatermark, lso), leo)
	rp := min(opts.RecoveryPoint, leo)
	if opts.CleanShutdown {
		rp = leo
	}
	if recoveredFrom >= 0 {
		// Rebuilt index files are not fsynced yet.
		rp = min(rp, recoveredFrom)
	}
	l.mu.recoveryPoint = max(rp, 0)
	l.mu.lastFlushMs = nowMs
	txnIndexFrom, err := l.loadTxnIndexesLocked(recoveredFrom, txnIndexes)
	if err != nil {
		return err
	}
	if err := l.loadProducerStateLocked(leo, txnIndexFrom); err != nil {
		return err
	}
	if txnIndexFrom >= 0 {
		// The replay rebuilt these; make the files match.
		for _, s := range l.mu.segments {
			if s.base >= txnIndexFrom {
				if err := s.rewriteTxnIndexFile(); err != nil {
					return err
				}
				l.mu.dirDirty = true
			}
		}
	}
	return nil
}

// loadTxnIndexesLocked loads the transaction index of every segment below
// rebuildFrom (-1: all), the first segment recovery scanned, and empties
// those from there on, which the producer state replay rebuilds. A bad
// index file below it moves the rebuild down to its segment. It returns
// where the rebuild starts, -1 if nothing needs it. present are the
// segments that have a .txnindex file.
func (l *Log) loadTxnIndexesLocked(rebuildFrom int64, present map[int64]bool) (int64, error) {
	segs := l.mu.segments
	for i, s := range segs {
		if rebuildFrom >= 0 && s.base >= rebuildFrom {
			s.txnIndex.reset()
			continue
		}
		if !present[s.base] {
			s.txnIndex.reset()
			continue
		}
		if err := s.loadTxnIndex(); err != nil {
			return -1, err
		}
		end := nextBase(segs, i)
		if end < 0 {
			end = s.nextOffset
		}
		if err := s.txnIndex.validate(s.base, end); err != nil {
			l.logger.Warn("storage: rebuilding a bad transaction index", "segment", s.base, "err", err)
			s.txnIndex.reset()
			rebuildFrom = s.base
		}
	}
	return rebuildFrom, nil
}

// dropSegmentsOnLoad removes segs[i:] and their files while loading.
func (l *Log) dropSegmentsOnLoad(i int) error {
	for _, s := range l.mu.segments[i:] {
		if err := s.removeFiles(); err != nil {
			return err
		}
	}
	l.mu.segments = l.mu.segments[:i]
	l.mu.dirDirty = true
	return nil
}

// Dir returns the partition dir the log was opened in.
func (l *Log) Dir() string { return l.dir }

// TopicPartition returns the partition named by the dir, if it is a
// `<topic>-<partition>` dir.
func (l *Log) TopicPartition() TopicPartition { return l.tp }

func (l *Log) activeLocked() *segment { return l.mu.segments[len(l.mu.segments)-1] }

func (l *Log) logEndOffsetLocked() int64 { return l.activeLocked().nextOffset }

// LogStartOffset returns the first offset that can be read.
func (l *Log) LogStartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.logStartOffset
}

// LogEndOffset returns the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.logEndOffsetLocked()
}

// HighWatermark returns the high watermark, which SetHighWatermark sets
// and the Manager checkpoints.
func (l *Log) HighWatermark() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.highWatermark
}

// SetHighWatermark sets the high watermark, clamped to [LogStartOffset,
// LogEndOffset] as Kafka's updateHighWatermark does. It may move it back
// (followers, truncation).
func (l *Log) SetHighWatermark(offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setHighWatermarkLocked(offset)
}

// setHighWatermarkLocked sets the clamped high watermark; completed
// transactions whose markers it passes stop holding the last stable
// offset back (Kafka's onHighWatermarkUpdated).
func (l *Log) setHighWatermarkLocked(offset int64) {
	l.mu.highWatermark = min(max(offset, l.mu.logStartOffset), l.logEndOffsetLocked())
	l.mu.producers.removeUnreplicated(l.mu.highWatermark)
}

// RecoveryPoint returns the offset below which the log is known to be
// fsynced; the Manager checkpoints it.
func (l *Log) RecoveryPoint() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.recoveryPoint
}

// firstSegmentBase is the base offset of the oldest segment.
func (l *Log) firstSegmentBase() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.segments[0].base
}

// Size returns the bytes of all segments (the active one included).
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.mu.segments {
		n += s.size
	}
	return n
}

// NumSegments returns how many segments the log has.
func (l *Log) NumSegments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.mu.segments)
}

// Config returns the log's current config.
func (l *Log) Config() Config {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.cfg
}

// SetConfig applies a dynamic config change; it affects the next append,
// roll, flush and retention check. An invalid config is logged and
// ignored (the broker validates configs before they get here).
func (l *Log) SetConfig(cfg Config) {
	if err := cfg.Validate(); err != nil {
		l.logger.Error("storage: ignoring invalid log config", "err", err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.cfg = cfg
}

// TopicID returns the topic ID recorded in partition.metadata.
func (l *Log) TopicID() ([16]byte, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.topicID, l.mu.hasTopicID
}

// WriteTopicID records the partition's topic ID in partition.metadata. It
// is a no-op if the log already has this ID and fails with
// ErrInconsistentTopicID if it has another one.
func (l *Log) WriteTopicID(id [16]byte) error {
	if id == ([16]byte{}) {
		return fmt.Errorf("storage: write topic id: zero uuid")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if l.mu.hasTopicID {
		if l.mu.topicID != id {
			return fmt.Errorf("%w: log %s has topic id %s, not %s", ErrInconsistentTopicID, l.dir, uuid.Format(l.mu.topicID), uuid.Format(id))
		}
		return nil
	}
	if err := writePartitionMetadata(filepath.Join(l.dir, PartitionMetadataFile), id); err != nil {
		return l.failLocked("write partition metadata", err)
	}
	l.mu.topicID, l.mu.hasTopicID = id, true
	return nil
}

// writableLocked returns why the log cannot be changed or read, if so.
func (l *Log) writableLocked() error {
	if l.mu.closed {
		return ErrClosed
	}
	return l.dirSt.get()
}

// failLocked takes the log dir offline because of err (a failed write,
// rename or fsync) and returns the sticky error.
func (l *Log) failLocked(op string, err error) error {
	sticky := l.dirSt.fail(fmt.Errorf("%s %s: %w", op, l.dir, err))
	l.logger.Error("storage: log dir failure", "op", op, "err", err)
	return sticky
}

// segmentIndexLocked returns the index of the segment holding offset: the
// last one whose base is <= offset, or 0.
func (l *Log) segmentIndexLocked(offset int64) int {
	segs := l.mu.segments
	i, found := slices.BinarySearchFunc(segs, offset, func(s *segment, o int64) int { return cmp.Compare(s.base, o) })
	if found {
		return i
	}
	return max(i-1, 0)
}

// segmentEndLocked is an exclusive upper bound of the offsets in segs[i].
func (l *Log) segmentEndLocked(i int) int64 {
	if i+1 < len(l.mu.segments) {
		return l.mu.segments[i+1].base
	}
	return l.logEndOffsetLocked()
}

// maxRelLocked bounds the relative offsets of segs[i], for index checks.
func (l *Log) maxRelLocked(i int) int32 {
	s := l.mu.segments[i]
	end := l.segmentEndLocked(i)
	return int32(min(max(end-s.base-1, 0), int64(1<<31-1)))
}

// ensureLoadedLocked loads segs[i]'s indexes; mu may be held for reading.
func (l *Log) ensureLoadedLocked(i int) error {
	return l.mu.segments[i].ensureLoaded(int64(l.mu.cfg.IndexIntervalBytes), l.maxRelLocked(i))
}
