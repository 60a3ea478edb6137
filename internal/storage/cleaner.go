package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// The log cleaner (Kafka's LogCleaner and LogCleanerManager) compacts the
// logs whose Config.Compact is set: it keeps, for every key, only the
// latest record, so that a compacted topic holds at least the last value
// of each key in much less space. The Manager owns it: CleanerConfig.Threads
// goroutines each pick the dirtiest log whose dirty ratio (bytes not yet
// cleaned / log bytes) exceeds min.cleanable.dirty.ratio, or whose dirty
// data is older than max.compaction.lag.ms, clean it, and sleep
// log.cleaner.backoff.ms when no log qualifies. CleanNow runs the same
// loop in the caller's goroutine.
//
// What a cleaning may touch: the segments from the log's start up to the
// first uncleanable offset, a segment base that is at most the active
// segment's base, the last stable offset's segment (the cleaner never
// cleans uncommitted data nor undecided transactions) and the first
// segment with records younger than min.compaction.lag.ms. The dirty part starts at the cleaner checkpoint,
// cleaner-offset-checkpoint in each log dir (Kafka's format, "0\n<count>\n"
// then "<topic> <partition> <offset>\n" lines).
//
// What a cleaning keeps: offsets never change; a record survives if it is
// the latest of its key in the cleaned range, and a tombstone (null value)
// only until its batch's delete horizon (KIP-534: set to now +
// delete.retention.ms by the first cleaning that keeps it); records without
// a key go, and so do the records of aborted transactions; a transaction
// marker stays while its transaction has batches left and goes after its
// own delete horizon (cleaner_txn.go). The last batch of every active
// producer is kept (emptied of superseded records), so that idempotent
// producer state survives, and so is the last batch of every cleaned
// segment, so that segments still tile the offsets (recovery relies on
// that). See cleaner_clean.go for the rewrite and the crash-safe swap.

// CleanerCheckpointFile is the name of the cleaner checkpoint in a log dir.
const CleanerCheckpointFile = "cleaner-offset-checkpoint"

// Errors of the cleaner that never leave the package.
var (
	errCleaningAborted = errors.New("storage: cleaning aborted")
	errCleanerCrash    = errors.New("storage: simulated crash") // tests
)

// CleanerConfig configures the log cleaner, with Kafka's broker config
// names. Zero values take Kafka's defaults, except Enable and Threads.
type CleanerConfig struct {
	// Enable is log.cleaner.enable: without it no cleaner goroutine runs
	// (CleanNow still cleans).
	Enable bool
	// Threads is log.cleaner.threads: how many logs are cleaned at once.
	// Zero runs none, as in Kafka.
	Threads int
	// Backoff is log.cleaner.backoff.ms: how long a cleaner goroutine
	// sleeps when no log needs cleaning (default 15s).
	Backoff time.Duration
	// DedupeBufferSize is log.cleaner.dedupe.buffer.size: the memory, in
	// bytes, of the key → offset maps of all threads together (default
	// 128 MiB); it bounds how much of a log one cleaning covers.
	DedupeBufferSize int64
	// DedupeBufferLoadFactor is log.cleaner.io.buffer.load.factor: how
	// full a map may get (default 0.9).
	DedupeBufferLoadFactor float64
	// IOBufferSize is log.cleaner.io.buffer.size: the read and write
	// buffers of all threads together, in bytes (default 512 KiB).
	IOBufferSize int
}

func (c CleanerConfig) withDefaults() CleanerConfig {
	if c.Backoff <= 0 {
		c.Backoff = 15 * time.Second
	}
	if c.DedupeBufferSize <= 0 {
		c.DedupeBufferSize = 128 << 20
	}
	if !(c.DedupeBufferLoadFactor > 0 && c.DedupeBufferLoadFactor <= 1) {
		c.DedupeBufferLoadFactor = 0.9
	}
	if c.IOBufferSize <= 0 {
		c.IOBufferSize = 512 << 10
	}
	c.Threads = max(c.Threads, 0)
	return c
}

// CleanerMetrics are the cleaner's numbers, after Kafka's LogCleaner and
// LogCleanerManager metrics.
type CleanerMetrics struct {
	Cleanings    int64 // cleanings completed
	BytesRead    int64 // bytes of segments rewritten, in total
	BytesWritten int64 // bytes of cleaned segments written, in total
	// MaxDirtyPercent is the dirty ratio of the dirtiest compacted log at
	// the last pick, in percent (max-dirty-percent).
	MaxDirtyPercent int
	// LastRun is when the cleaner last looked for a log to clean
	// (time-since-last-run-ms).
	LastRun time.Time
	// LastCleanTime, LastBufferUtilizationPercent and LastRecopyPercent
	// describe the last cleaning (max-clean-time-secs,
	// max-buffer-utilization-percent, cleaner-recopy-percent).
	LastCleanTime                time.Duration
	LastBufferUtilizationPercent int
	LastRecopyPercent            int
	// UncleanablePartitions counts the partitions a cleaning failed on;
	// they are not cleaned again (uncleanable-partitions-count).
	UncleanablePartitions int
}

// cleaningState is a log being cleaned.
type cleaningState struct {
	aborted atomic.Bool
	done    chan struct{} // closed when the cleaning ends
}

// logCleaner is the Manager's cleaner: the checkpoints, the logs being
// cleaned, paused or given up on, and the goroutines.
type logCleaner struct {
	m      *Manager
	cfg    CleanerConfig
	logger *slog.Logger

	// mu guards the fields in it. Lock order: Manager.createMu, then mu,
	// then Manager.mu (a leaf) or a Log's locks. It is not held during a
	// cleaning.
	mu struct {
		sync.Mutex
		inProgress  map[TopicPartition]*cleaningState
		paused      map[TopicPartition]int
		uncleanable map[TopicPartition]bool
		checkpoints map[*logDir]map[TopicPartition]int64
		metrics     CleanerMetrics
	}
}

// newLogCleaner reads the cleaner checkpoints of the online dirs. A bad
// checkpoint is ignored (every log is then cleaned from its start).
func newLogCleaner(m *Manager, cfg CleanerConfig) *logCleaner {
	c := &logCleaner{m: m, cfg: cfg.withDefaults(), logger: m.logger.With("component", "cleaner")}
	c.mu.inProgress = map[TopicPartition]*cleaningState{}
	c.mu.paused = map[TopicPartition]int{}
	c.mu.uncleanable = map[TopicPartition]bool{}
	c.mu.checkpoints = map[*logDir]map[TopicPartition]int64{}
	for _, d := range m.dirs {
		if d.state.get() != nil {
			continue
		}
		cp, err := readOffsetCheckpoint(filepath.Join(d.path, CleanerCheckpointFile))
		if err != nil {
			c.logger.Warn("storage: ignoring unreadable cleaner checkpoint", "dir", d.path, "err", err)
			cp = nil
		}
		if cp == nil {
			cp = map[TopicPartition]int64{}
		}
		c.mu.checkpoints[d] = cp
	}
	return c
}

// start starts the cleaner goroutines; Manager.Close stops them.
func (c *logCleaner) start() {
	if !c.cfg.Enable {
		return
	}
	for i := range c.cfg.Threads {
		c.m.wg.Add(1)
		go c.run(i)
	}
}

// threadCleaner returns a cleaner with one thread's share of the buffers.
func (c *logCleaner) threadCleaner(id int) *cleaner {
	n := max(c.cfg.Threads, 1)
	return newCleaner(c.logger.With("thread", id), c.cfg.DedupeBufferSize/int64(n), c.cfg.DedupeBufferLoadFactor, c.cfg.IOBufferSize/n/2)
}

// run is a cleaner goroutine (Kafka's CleanerThread.doWork).
func (c *logCleaner) run(id int) {
	defer c.m.wg.Done()
	cl := c.threadCleaner(id)
	timer := time.NewTimer(c.cfg.Backoff)
	defer timer.Stop()
	for {
		select {
		case <-c.m.stop:
			return
		default:
		}
		cleaned, _ := c.cleanFilthiest(cl)
		if cleaned {
			continue
		}
		timer.Reset(c.cfg.Backoff)
		select {
		case <-c.m.stop:
			return
		case <-timer.C:
		}
	}
}

// CleanNow runs the cleaner once in the caller's goroutine, without
// waiting for log.cleaner.backoff.ms: it cleans, one after the other, the
// logs that qualify (as the cleaner goroutines pick them) until none does.
// It works whether or not the cleaner goroutines run. It returns how many
// cleanings completed and the errors of those that failed (those logs are
// then marked uncleanable). After Close it returns ErrClosed.
func (m *Manager) CleanNow() (int, error) {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return 0, ErrClosed
	}
	m.wg.Add(1) // under mu: never concurrent with Close's Wait
	m.mu.Unlock()
	defer m.wg.Done()
	cl := m.cleaner.threadCleaner(-1)
	var errs []error
	n := 0
	for range 1000 { // bounds the loop should aborted cleanings repeat
		cleaned, err := m.cleaner.cleanFilthiest(cl)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !cleaned {
			break
		}
		n++
	}
	return n, errors.Join(errs...)
}

// CleanerMetrics returns the cleaner's numbers.
func (m *Manager) CleanerMetrics() CleanerMetrics {
	c := m.cleaner
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.mu.metrics
	out.UncleanablePartitions = len(c.mu.uncleanable)
	return out
}

// CleanerCheckpoint returns a partition's cleaner checkpoint: the offset
// below which its log is clean.
func (m *Manager) CleanerCheckpoint(topic string, partition int32) (int64, bool) {
	tp := TopicPartition{Topic: topic, Partition: partition}
	m.mu.Lock()
	ml, ok := m.mu.logs[tp]
	m.mu.Unlock()
	if !ok {
		return 0, false
	}
	c := m.cleaner
	c.mu.Lock()
	defer c.mu.Unlock()
	off, ok := c.mu.checkpoints[ml.dir][tp]
	return off, ok
}

// candidate is a log the cleaner may pick.
type candidate struct {
	tp  TopicPartition
	ml  *managedLog
	rng cleanRange
}

// cleanFilthiest picks the dirtiest log that qualifies and cleans it
// (Kafka's grabFilthiestCompactedLog, then Cleaner.clean and
// doneCleaning). cleaned reports whether a log was picked; err is a
// cleaning's failure (the log is then uncleanable).
func (c *logCleaner) cleanFilthiest(cl *cleaner) (cleaned bool, err error) {
	cand, st, ok := c.grab()
	if !ok {
		return false, nil
	}
	l := cand.ml.log
	nowMs := c.m.now().UnixMilli()
	done := func() error {
		select {
		case <-c.m.stop:
			return errCleaningAborted
		default:
		}
		if st.aborted.Load() {
			return errCleaningAborted
		}
		return nil
	}
	l.logger.Info("storage: cleaning log", "first_dirty_offset", cand.rng.firstDirty,
		"first_uncleanable_offset", cand.rng.firstUncleanable, "dirty_ratio", cand.rng.ratio())
	stats, err := cl.clean(l, cand.rng, nowMs, done)
	c.doneCleaning(cand, st, stats, err)
	switch {
	case err == nil, errors.Is(err, errCleaningAborted), errors.Is(err, ErrClosed), errors.Is(err, ErrLogDirOffline):
		return true, nil
	}
	return true, fmt.Errorf("storage: clean %s: %w", cand.tp, err)
}

// grab picks the log to clean and marks it in progress.
func (c *logCleaner) grab() (candidate, *cleaningState, bool) {
	c.m.mu.Lock()
	if c.m.mu.closed {
		c.m.mu.Unlock()
		return candidate{}, nil, false
	}
	var all []candidate
	for tp, ml := range c.m.mu.logs {
		all = append(all, candidate{tp: tp, ml: ml})
	}
	c.m.mu.Unlock()

	now := c.m.now()
	nowMs := now.UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.metrics.LastRun = now
	var best *candidate
	maxRatio := 0.0
	for i := range all {
		cand := &all[i]
		l := cand.ml.log
		cfg := l.Config()
		if !cfg.Compact || c.mu.inProgress[cand.tp] != nil || c.mu.paused[cand.tp] > 0 || c.mu.uncleanable[cand.tp] {
			continue
		}
		cps := c.mu.checkpoints[cand.ml.dir]
		if cps == nil || cand.ml.dir.state.get() != nil {
			continue
		}
		cp, hasCP := cps[cand.tp]
		rng, err := l.cleanableRange(cp, hasCP, nowMs)
		if err != nil {
			continue
		}
		if rng.resetCheckpoint {
			l.logger.Warn("storage: cleaner checkpoint outside the log, cleaning it from its start", "checkpoint", cp, "first_dirty_offset", rng.firstDirty)
			cps[cand.tp] = rng.firstDirty
			c.writeCheckpointLocked(cand.ml.dir)
		}
		cand.rng = rng
		if rng.totalBytes() == 0 {
			continue
		}
		maxRatio = max(maxRatio, rng.ratio())
		if !(rng.needNow && rng.cleanableBytes > 0) && !(rng.ratio() > cfg.MinCleanableDirtyRatio) {
			continue
		}
		if best == nil || rng.ratio() > best.rng.ratio() {
			best = cand
		}
	}
	c.mu.metrics.MaxDirtyPercent = int(math.Round(100 * maxRatio))
	if best == nil {
		return candidate{}, nil, false
	}
	st := &cleaningState{done: make(chan struct{})}
	c.mu.inProgress[best.tp] = st
	return *best, st, true
}

// doneCleaning records a cleaning's end: the new checkpoint (unless it was
// aborted), its statistics and, if it failed, that the log is uncleanable.
func (c *logCleaner) doneCleaning(cand candidate, st *cleaningState, stats cleanStats, err error) {
	l := cand.ml.log
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.mu.inProgress, cand.tp)
	close(st.done)
	switch {
	case err == nil && stats.endOffset >= 0:
		if cps := c.mu.checkpoints[cand.ml.dir]; cps != nil && !st.aborted.Load() {
			cps[cand.tp] = stats.endOffset
			c.writeCheckpointLocked(cand.ml.dir)
		}
		m := &c.mu.metrics
		m.Cleanings++
		m.BytesRead += stats.bytesRead
		m.BytesWritten += stats.bytesWritten
		m.LastCleanTime = stats.took
		m.LastBufferUtilizationPercent = int(math.Round(100 * stats.bufferUtilization))
		if stats.bytesRead > 0 {
			m.LastRecopyPercent = int(100 * stats.bytesWritten / stats.bytesRead)
		}
		l.logger.Info("storage: cleaned log",
			"first_dirty_offset", cand.rng.firstDirty, "end_offset", stats.endOffset,
			"bytes_before", stats.bytesRead, "bytes_after", stats.bytesWritten,
			"segments_before", stats.segmentsBefore, "segments_after", stats.segmentsAfter,
			"records_read", stats.recordsRead, "records_retained", stats.recordsRetained,
			"map_bytes_read", stats.mapBytesRead, "buffer_utilization", fmt.Sprintf("%.1f%%", 100*stats.bufferUtilization),
			"took", stats.took.Round(time.Millisecond))
	case err == nil:
	case errors.Is(err, errCleaningAborted), errors.Is(err, ErrClosed):
		l.logger.Info("storage: cleaning aborted")
	case errors.Is(err, ErrLogDirOffline):
	default:
		// Kafka's LogCleaningException: give up on this partition.
		c.mu.uncleanable[cand.tp] = true
		l.logger.Error("storage: cleaning failed, the log will not be cleaned again until restart", "err", err)
	}
}

// writeCheckpointLocked rewrites a dir's cleaner checkpoint with the
// entries of the logs still in it. A failure takes the dir offline.
func (c *logCleaner) writeCheckpointLocked(d *logDir) {
	cps := c.mu.checkpoints[d]
	c.m.mu.Lock()
	for tp := range cps {
		if ml, ok := c.m.mu.logs[tp]; !ok || ml.dir != d {
			delete(cps, tp)
		}
	}
	c.m.mu.Unlock()
	if err := writeOffsetCheckpoint(filepath.Join(d.path, CleanerCheckpointFile), cps); err != nil {
		err = d.state.fail(fmt.Errorf("write %s: %w", CleanerCheckpointFile, err))
		c.logger.Error("storage: log dir offline", "dir", d.path, "err", err)
		delete(c.mu.checkpoints, d)
	}
}

// pause aborts a cleaning of tp in progress, waits for it to end and keeps
// tp from being cleaned until resume (Kafka's abortAndPauseCleaning).
func (c *logCleaner) pause(tp TopicPartition) {
	c.mu.Lock()
	c.mu.paused[tp]++
	st := c.mu.inProgress[tp]
	c.mu.Unlock()
	if st != nil {
		st.aborted.Store(true)
		<-st.done
	}
}

// resume undoes a pause.
func (c *logCleaner) resume(tp TopicPartition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.paused[tp]--; c.mu.paused[tp] <= 0 {
		delete(c.mu.paused, tp)
	}
}

// forget drops what the cleaner knows of a deleted partition.
func (c *logCleaner) forget(tp TopicPartition, d *logDir) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.mu.uncleanable, tp)
	if cps := c.mu.checkpoints[d]; cps != nil {
		if _, ok := cps[tp]; ok {
			delete(cps, tp)
			c.writeCheckpointLocked(d)
		}
	}
}
