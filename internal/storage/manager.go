package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gregor-streaming/gregor/internal/uuid"
)

// MetadataTopic is the KRaft metadata log's topic. Its partition dir lives
// in a log dir but belongs to the raft package, so the Manager skips it.
const MetadataTopic = "__cluster_metadata"

// sweepInterval is how often the Manager removes deleted segment files
// whose file.delete.delay.ms has passed.
const sweepInterval = 5 * time.Second

// ManagerOptions are the Manager's dependencies and Kafka's log manager
// settings. Zero durations take Kafka's defaults.
type ManagerOptions struct {
	Logger *slog.Logger     // default slog.Default()
	Now    func() time.Time // default time.Now
	// RetentionCheckInterval is log.retention.check.interval.ms (300000).
	RetentionCheckInterval time.Duration
	// FlushCheckInterval is log.flush.scheduler.interval.ms: how often logs
	// are checked against flush.ms. Zero or negative means never, Kafka's
	// default (Long.MAX_VALUE).
	FlushCheckInterval time.Duration
	// CheckpointInterval is log.flush.offset.checkpoint.interval.ms (60000):
	// how often the recovery point, high watermark and log start offset
	// checkpoints are written.
	CheckpointInterval time.Duration
	// Cleaner configures the log cleaner (cleaner.go), which compacts the
	// logs whose Config.Compact is set. The zero value runs no cleaner
	// goroutine; CleanNow still cleans.
	Cleaner CleanerConfig
	// BrokerEpoch, if set, gives the epoch written into the clean shutdown
	// marker on Close (KIP-966); otherwise -1 is written.
	BrokerEpoch func() int64
	// ProducerIDExpiration is producer.id.expiration.ms (86400000): how
	// long a partition remembers an idle producer.
	ProducerIDExpiration time.Duration
	// ProducerIDExpirationCheckInterval is
	// producer.id.expiration.check.interval.ms (600000): how often idle
	// producers are removed.
	ProducerIDExpirationCheckInterval time.Duration
}

// DirInfo describes one log dir, for DescribeLogDirs.
type DirInfo struct {
	Path        string
	DirectoryID string
	TotalBytes  int64 // size of the file system holding the dir
	UsableBytes int64 // bytes available to the broker on it
	Err         error // non-nil (wrapping ErrLogDirOffline) if the dir is offline
}

type logDir struct {
	path             string
	directoryID      string
	state            *dirState
	hadCleanShutdown bool
	brokerEpoch      int64 // from the clean shutdown marker, -1 if none
}

type managedLog struct {
	log *Log
	dir *logDir
}

// Manager owns the log dirs of one node and the logs in them (Kafka's
// LogManager). It loads them on open, creates and deletes logs, and runs
// one background goroutine for retention, flush.ms, checkpoints and
// deleted-file cleanup. It is safe for concurrent use.
type Manager struct {
	logger    *slog.Logger
	now       func() time.Time
	opts      ManagerOptions
	configFor func(topic string) Config
	dirs      []*logDir
	clusterID string
	nodeID    int32
	cleaner   *logCleaner // compacts logs (cleaner.go)

	// createMu serializes GetOrCreate, Delete and Close. Lock order:
	// createMu, then checkpointMu, then mu; Log locks are never taken while
	// mu is held.
	createMu     sync.Mutex
	checkpointMu sync.Mutex
	stop         chan struct{}
	wg           sync.WaitGroup

	mu struct {
		sync.Mutex
		logs   map[TopicPartition]*managedLog
		closed bool
	}
}

// OpenManager opens the log dirs of a node: it reads each dir's
// meta.properties (every dir must be formatted, for the same cluster and
// node), removes partition dirs left being deleted, loads every partition
// dir (using the clean-shutdown marker and the checkpoints to decide what
// to recover; see the package doc), removes the clean-shutdown markers,
// and starts the background goroutine. A dir that fails to load is taken
// offline; if none is left, OpenManager fails. configFor gives each
// existing topic's config (nil: DefaultConfig).
func OpenManager(dirs []string, opts ManagerOptions, configFor func(topic string) Config) (*Manager, error) {
	if len(dirs) == 0 {
		return nil, errors.New("storage: no log dirs")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetentionCheckInterval <= 0 {
		opts.RetentionCheckInterval = 300 * time.Second
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = 60 * time.Second
	}
	if opts.ProducerIDExpiration <= 0 {
		opts.ProducerIDExpiration = DefaultProducerIDExpirationMs * time.Millisecond
	}
	if opts.ProducerIDExpirationCheckInterval <= 0 {
		opts.ProducerIDExpirationCheckInterval = 600 * time.Second
	}
	if configFor == nil {
		configFor = func(string) Config { return DefaultConfig() }
	}
	m := &Manager{logger: opts.Logger, now: opts.Now, opts: opts, configFor: configFor, stop: make(chan struct{}), nodeID: -1}
	m.mu.logs = make(map[TopicPartition]*managedLog)

	ids := make(map[string]string)
	for _, path := range dirs {
		d := &logDir{path: path, state: &dirState{}, brokerEpoch: -1}
		m.dirs = append(m.dirs, d)
		meta, err := ReadMetaProperties(path)
		if err != nil {
			if errors.Is(err, ErrNotFormatted) {
				return nil, err
			}
			m.logger.Error("storage: log dir offline", "dir", path, "err", err)
			d.state.fail(err)
			continue
		}
		if m.clusterID == "" {
			m.clusterID, m.nodeID = meta.ClusterID, meta.NodeID
		} else if meta.ClusterID != m.clusterID {
			return nil, fmt.Errorf("%w: %s has cluster.id %s, other dirs %s", ErrInconsistentClusterID, path, meta.ClusterID, m.clusterID)
		} else if meta.NodeID != m.nodeID {
			return nil, fmt.Errorf("storage: %s has node.id %d, other dirs %d", path, meta.NodeID, m.nodeID)
		}
		if meta.DirectoryID == "" {
			meta.Version = 1
			meta.DirectoryID = uuid.Format(uuid.New())
			if err := WriteMetaProperties(path, meta); err != nil {
				d.state.fail(err)
				continue
			}
		}
		if other, dup := ids[meta.DirectoryID]; dup {
			return nil, fmt.Errorf("storage: %s and %s have the same directory.id %s", other, path, meta.DirectoryID)
		}
		ids[meta.DirectoryID] = path
		d.directoryID = meta.DirectoryID
	}
	for _, d := range m.dirs {
		if d.state.get() != nil {
			continue
		}
		if err := m.loadDir(d); err != nil {
			m.closeLogsIn(d)
			var dup *duplicateLogError
			if errors.As(err, &dup) {
				m.closeAllLogs()
				return nil, err
			}
			m.logger.Error("storage: log dir offline", "dir", d.path, "err", err)
			d.state.fail(err)
		}
	}
	online := 0
	for _, d := range m.dirs {
		if d.state.get() == nil {
			online++
		}
	}
	if online == 0 {
		m.closeAllLogs()
		return nil, fmt.Errorf("%w: no log dir could be opened", ErrLogDirOffline)
	}
	m.cleaner = newLogCleaner(m, opts.Cleaner)
	m.cleaner.start()
	m.wg.Add(1)
	go m.run()
	return m, nil
}

type duplicateLogError struct{ tp TopicPartition }

func (e *duplicateLogError) Error() string {
	return fmt.Sprintf("storage: partition %s found in two log dirs", e.tp)
}

// loadDir loads the partitions of one log dir.
func (m *Manager) loadDir(d *logDir) error {
	clean, epoch := readCleanShutdownFile(d.path)
	d.hadCleanShutdown, d.brokerEpoch = clean, epoch
	start := m.now()
	if clean {
		m.logger.Info("storage: clean shutdown file found, skipping recovery", "dir", d.path)
	} else {
		m.logger.Info("storage: no clean shutdown file, recovering logs from their recovery points", "dir", d.path)
	}
	loaded := 0
	defer func() {
		m.logger.Info("storage: loaded log dir", "dir", d.path, "logs", loaded, "took", m.now().Sub(start).Round(time.Millisecond))
	}()
	read := func(name string) (map[TopicPartition]int64, error) {
		offsets, err := readOffsetCheckpoint(filepath.Join(d.path, name))
		if IsCorruption(err) {
			// Kafka resets a bad checkpoint; without a recovery point every
			// log in the dir is recovered in full.
			m.logger.Warn("storage: ignoring bad checkpoint", "dir", d.path, "err", err)
			return map[TopicPartition]int64{}, nil
		}
		return offsets, err
	}
	recoveryPoints, err := read(RecoveryPointCheckpointFile)
	if err != nil {
		return err
	}
	highWatermarks, err := read(ReplicationCheckpointFile)
	if err != nil {
		return err
	}
	startOffsets, err := read(LogStartOffsetCheckpointFile)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		path := filepath.Join(d.path, name)
		if strings.HasSuffix(name, "-delete") {
			if err := os.RemoveAll(path); err != nil {
				return err
			}
			continue
		}
		tp, ok := parseTopicPartition(name)
		if !ok || tp.Topic == MetadataTopic {
			continue
		}
		m.mu.Lock()
		_, dup := m.mu.logs[tp]
		m.mu.Unlock()
		if dup {
			return &duplicateLogError{tp: tp}
		}
		l, err := Open(path, m.configFor(tp.Topic), Options{
			Logger:         m.logger,
			Now:            m.now,
			CleanShutdown:  clean,
			RecoveryPoint:  recoveryPoints[tp],
			LogStartOffset: startOffsets[tp],
			HighWatermark:  highWatermarks[tp],
			dir:            d.state,

			ProducerIDExpirationMs: m.opts.ProducerIDExpiration.Milliseconds(),
		})
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.mu.logs[tp] = &managedLog{log: l, dir: d}
		m.mu.Unlock()
		loaded++
	}
	if clean {
		if err := os.Remove(filepath.Join(d.path, CleanShutdownFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := syncDir(d.path); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) closeLogsIn(d *logDir) {
	m.mu.Lock()
	var logs []*Log
	for tp, ml := range m.mu.logs {
		if ml.dir == d {
			logs = append(logs, ml.log)
			delete(m.mu.logs, tp)
		}
	}
	m.mu.Unlock()
	for _, l := range logs {
		_ = l.Close()
	}
}

func (m *Manager) closeAllLogs() {
	for _, d := range m.dirs {
		m.closeLogsIn(d)
	}
}

// ClusterID returns the cluster.id of the log dirs.
func (m *Manager) ClusterID() string { return m.clusterID }

// NodeID returns the node.id of the log dirs.
func (m *Manager) NodeID() int32 { return m.nodeID }

// PreviousBrokerEpoch returns the broker epoch found in the clean shutdown
// markers when the Manager opened, for the broker registration's
// previousBrokerEpoch (KIP-966); ok is false unless every dir was online
// and cleanly shut down with the same epoch, as in Kafka.
func (m *Manager) PreviousBrokerEpoch() (epoch int64, ok bool) {
	epoch = -1
	for _, d := range m.dirs {
		if !d.hadCleanShutdown || d.state.get() != nil {
			return -1, false
		}
		if epoch != -1 && d.brokerEpoch != epoch {
			return -1, false
		}
		epoch = d.brokerEpoch
	}
	return epoch, true
}

// Get returns the log of a partition, if this node has it.
func (m *Manager) Get(topic string, partition int32) (*Log, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ml, ok := m.mu.logs[TopicPartition{Topic: topic, Partition: partition}]
	if !ok {
		return nil, false
	}
	return ml.log, true
}

// GetOrCreate returns the partition's log, creating it with cfg in the
// online log dir holding the fewest partitions if it does not exist. A
// non-zero topicID is recorded in partition.metadata; a log that already
// has another topic ID yields ErrInconsistentTopicID.
func (m *Manager) GetOrCreate(topic string, partition int32, topicID [16]byte, cfg Config) (*Log, error) {
	tp := TopicPartition{Topic: topic, Partition: partition}
	if err := validTopicPartition(tp); err != nil {
		return nil, err
	}
	m.createMu.Lock()
	defer m.createMu.Unlock()
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	if ml, ok := m.mu.logs[tp]; ok {
		m.mu.Unlock()
		if topicID != ([16]byte{}) {
			if err := ml.log.WriteTopicID(topicID); err != nil {
				return nil, err
			}
		}
		return ml.log, nil
	}
	counts := make(map[*logDir]int)
	for _, ml := range m.mu.logs {
		counts[ml.dir]++
	}
	m.mu.Unlock()
	var dir *logDir
	for _, d := range m.dirs {
		if d.state.get() == nil && (dir == nil || counts[d] < counts[dir]) {
			dir = d
		}
	}
	if dir == nil {
		return nil, fmt.Errorf("%w: no online log dir for %s", ErrLogDirOffline, tp)
	}
	l, err := Open(filepath.Join(dir.path, tp.String()), cfg, Options{Logger: m.logger, Now: m.now, dir: dir.state,
		ProducerIDExpirationMs: m.opts.ProducerIDExpiration.Milliseconds()})
	if err != nil {
		return nil, err
	}
	if err := syncDir(dir.path); err != nil {
		_ = l.Close()
		return nil, dir.state.fail(err)
	}
	if topicID != ([16]byte{}) {
		if err := l.WriteTopicID(topicID); err != nil {
			_ = l.Close()
			return nil, err
		}
	}
	m.mu.Lock()
	m.mu.logs[tp] = &managedLog{log: l, dir: dir}
	m.mu.Unlock()
	m.logger.Info("storage: created log", "topic", topic, "partition", partition, "dir", dir.path)
	return l, nil
}

// validTopicPartition applies Kafka's topic name rules (legal characters,
// at most 249 of them, not "." or "..") so a name cannot escape the log dir.
func validTopicPartition(tp TopicPartition) error {
	t := tp.Topic
	if t == "" || t == "." || t == ".." || len(t) > 249 || tp.Partition < 0 {
		return fmt.Errorf("storage: invalid partition %q/%d", t, tp.Partition)
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("storage: invalid topic name %q", t)
		}
	}
	return nil
}

// Delete closes and removes a partition's log (see Log.Delete) and
// rewrites its dir's checkpoints without it. Deleting an unknown partition
// does nothing.
func (m *Manager) Delete(topic string, partition int32) error {
	tp := TopicPartition{Topic: topic, Partition: partition}
	m.createMu.Lock()
	defer m.createMu.Unlock()
	m.mu.Lock()
	ml, ok := m.mu.logs[tp]
	if ok {
		delete(m.mu.logs, tp)
	}
	m.mu.Unlock()
	if !ok {
		return nil
	}
	m.cleaner.pause(tp) // stops a cleaning of the log first
	defer m.cleaner.resume(tp)
	err := ml.log.Delete()
	m.cleaner.forget(tp, ml.dir)
	if ml.dir.state.get() == nil {
		if cerr := m.writeCheckpoints(ml.dir); err == nil {
			err = cerr
		}
	}
	return err
}

// Logs returns a snapshot of the logs by partition.
func (m *Manager) Logs() map[TopicPartition]*Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[TopicPartition]*Log, len(m.mu.logs))
	for tp, ml := range m.mu.logs {
		out[tp] = ml.log
	}
	return out
}

// Dirs describes the log dirs, in the order given to OpenManager.
func (m *Manager) Dirs() []DirInfo {
	out := make([]DirInfo, 0, len(m.dirs))
	for _, d := range m.dirs {
		info := DirInfo{Path: d.path, DirectoryID: d.directoryID, Err: d.state.get()}
		var st syscall.Statfs_t
		if err := syscall.Statfs(d.path, &st); err == nil {
			info.TotalBytes = int64(st.Blocks) * int64(st.Bsize)
			info.UsableBytes = int64(st.Bavail) * int64(st.Bsize)
		} else if info.Err == nil {
			info.Err = fmt.Errorf("%w: statfs %s: %w", ErrLogDirOffline, d.path, err)
		}
		out = append(out, info)
	}
	return out
}

// DirOf returns the log dir holding a partition.
func (m *Manager) DirOf(topic string, partition int32) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ml, ok := m.mu.logs[TopicPartition{Topic: topic, Partition: partition}]
	if !ok {
		return "", false
	}
	return ml.dir.path, true
}

// Close stops the background goroutine, closes (and so flushes) every log,
// writes the checkpoints and, in each dir whose logs all closed cleanly,
// the clean-shutdown marker. Later calls return nil.
func (m *Manager) Close() error {
	m.createMu.Lock()
	defer m.createMu.Unlock()
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return nil
	}
	m.mu.closed = true
	m.mu.Unlock()
	close(m.stop)
	m.wg.Wait()

	var errs []error
	for _, d := range m.dirs {
		m.mu.Lock()
		var logs []*Log
		for _, ml := range m.mu.logs {
			if ml.dir == d {
				logs = append(logs, ml.log)
			}
		}
		m.mu.Unlock()
		ok := d.state.get() == nil
		for _, l := range logs {
			if d.state.get() == nil {
				// A snapshot at the log end lets the next open skip
				// rebuilding the producer state (Kafka's close does the same).
				if err := l.SnapshotProducers(); err != nil {
					errs = append(errs, err)
					ok = false
				}
			}
			if err := l.Close(); err != nil {
				errs = append(errs, err)
				ok = false
			}
		}
		if !ok || d.state.get() != nil {
			continue
		}
		if err := m.writeCheckpoints(d); err != nil {
			errs = append(errs, err)
			continue
		}
		epoch := int64(-1)
		if m.opts.BrokerEpoch != nil {
			epoch = m.opts.BrokerEpoch()
		}
		if err := writeCleanShutdownFile(d.path, epoch); err != nil {
			errs = append(errs, d.state.fail(err))
		}
	}
	return errors.Join(errs...)
}

// writeCheckpoints writes a dir's recovery point, high watermark and log
// start offset checkpoints. A failure takes the dir offline.
func (m *Manager) writeCheckpoints(d *logDir) error {
	m.checkpointMu.Lock()
	defer m.checkpointMu.Unlock()
	m.mu.Lock()
	logs := make(map[TopicPartition]*Log)
	for tp, ml := range m.mu.logs {
		if ml.dir == d {
			logs[tp] = ml.log
		}
	}
	m.mu.Unlock()
	rp := make(map[TopicPartition]int64, len(logs))
	hw := make(map[TopicPartition]int64, len(logs))
	lso := make(map[TopicPartition]int64)
	for tp, l := range logs {
		rp[tp] = l.RecoveryPoint()
		hw[tp] = l.HighWatermark()
		if start := l.LogStartOffset(); start > l.firstSegmentBase() {
			lso[tp] = start
		}
	}
	for _, f := range []struct {
		name    string
		offsets map[TopicPartition]int64
	}{
		{RecoveryPointCheckpointFile, rp},
		{ReplicationCheckpointFile, hw},
		{LogStartOffsetCheckpointFile, lso},
	} {
		if err := writeOffsetCheckpoint(filepath.Join(d.path, f.name), f.offsets); err != nil {
			err = d.state.fail(fmt.Errorf("write %s: %w", f.name, err))
			m.logger.Error("storage: log dir offline", "dir", d.path, "err", err)
			return err
		}
	}
	return nil
}

// run is the background goroutine: retention, flush.ms, checkpoints (and
// then old producer snapshots), expiry of idle producers and removal of
// deleted segment files.
func (m *Manager) run() {
	defer m.wg.Done()
	retention := time.NewTicker(m.opts.RetentionCheckInterval)
	defer retention.Stop()
	checkpoint := time.NewTicker(m.opts.CheckpointInterval)
	defer checkpoint.Stop()
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	expireProducers := time.NewTicker(m.opts.ProducerIDExpirationCheckInterval)
	defer expireProducers.Stop()
	var flushC <-chan time.Time
	if m.opts.FlushCheckInterval > 0 {
		flush := time.NewTicker(m.opts.FlushCheckInterval)
		defer flush.Stop()
		flushC = flush.C
	}
	for {
		select {
		case <-m.stop:
			return
		case <-retention.C:
			m.applyRetention()
		case <-flushC:
			m.flushDirtyLogs()
		case <-checkpoint.C:
			for _, d := range m.dirs {
				if d.state.get() == nil && m.writeCheckpoints(d) == nil {
					m.deleteOldProducerSnapshots(d)
				}
			}
		case <-expireProducers.C:
			for _, l := range m.Logs() {
				l.removeExpiredProducers()
			}
		case <-sweep.C:
			for _, l := range m.Logs() {
				l.sweepDeleted()
			}
		}
	}
}

// deleteOldProducerSnapshots deletes, after a dir's recovery points were
// checkpointed, the producer snapshots its logs no longer need.
func (m *Manager) deleteOldProducerSnapshots(d *logDir) {
	m.mu.Lock()
	var logs []*Log
	for _, ml := range m.mu.logs {
		if ml.dir == d {
			logs = append(logs, ml.log)
		}
	}
	m.mu.Unlock()
	for _, l := range logs {
		if err := l.deleteOldProducerSnapshots(); err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrLogDirOffline) {
			m.logger.Error("storage: delete producer snapshots", "dir", d.path, "err", err)
		}
	}
}

func (m *Manager) applyRetention() {
	for tp, l := range m.Logs() {
		n, err := l.ApplyRetention()
		if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrLogDirOffline) {
			m.logger.Error("storage: retention", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		}
		_ = n
	}
}

// flushDirtyLogs flushes the logs whose last flush is flush.ms old
// (Kafka's LogManager.flushDirtyLogs).
func (m *Manager) flushDirtyLogs() {
	nowMs := m.now().UnixMilli()
	for tp, l := range m.Logs() {
		flushMs := l.Config().FlushMs
		if flushMs == math.MaxInt64 || nowMs-l.lastFlushMs() < flushMs {
			continue
		}
		if err := l.Flush(); err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrLogDirOffline) {
			m.logger.Error("storage: flush", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		}
	}
}
