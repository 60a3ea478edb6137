package storage

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"

	"github.com/gregor-streaming/gregor/internal/record"
)

// AppendInfo describes an append.
type AppendInfo struct {
	FirstOffset    int64 // offset of the first record appended
	LastOffset     int64 // offset of the last record appended
	MaxTimestamp   int64 // largest batch max timestamp (the log append time for LogAppendTime)
	LogAppendTime  int64 // the broker's timestamp if it stamped the batches, else -1
	LogStartOffset int64 // the log start offset after the append
	// Duplicate is set when Append wrote nothing because a batch repeats
	// one the producer already appended (producerstate.go): FirstOffset
	// and LastOffset are then the original batch's, and LogAppendTime is
	// its max timestamp, as Kafka answers a duplicate.
	Duplicate bool
}

// batchMeta is what an append needs to know of each batch.
type batchMeta struct {
	size       int
	base       int64 // as given (follower) or assigned (leader)
	lastDelta  int32
	maxTs      int64
	epoch      int32
	recordless bool

	// The producer fields of the header (producerstate.go).
	producerID    int64
	producerEpoch int16
	baseSeq       int32
	attributes    int16
}

// metaOf describes the batch of size bytes whose header is h.
func metaOf(h record.Header, size int) batchMeta {
	return batchMeta{size: size, base: h.BaseOffset, lastDelta: h.LastOffsetDelta, maxTs: h.MaxTimestamp, epoch: h.PartitionLeaderEpoch,
		producerID: h.ProducerID, producerEpoch: h.ProducerEpoch, baseSeq: h.BaseSequence, attributes: h.Attributes}
}

func (m *batchMeta) control() bool       { return m.attributes&record.AttrControl != 0 }
func (m *batchMeta) transactional() bool { return m.attributes&record.AttrTransactional != 0 }

// lastSeq is the sequence of the batch's last record (wrapping as
// record.Header.LastSequence does).
func (m *batchMeta) lastSeq() int32 {
	return record.Header{BaseSequence: m.baseSeq, LastOffsetDelta: m.lastDelta}.LastSequence()
}

// parseBatches checks the framing of a concatenation of whole batches and
// returns their metadata, appended to metas.
func parseBatches(b []byte, metas []batchMeta) ([]batchMeta, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: no batches", ErrInvalidAppend)
	}
	err := record.Batches(b, func(h record.Header, batch []byte) error {
		if h.LastOffsetDelta < 0 {
			return fmt.Errorf("%w: last offset delta %d", ErrInvalidAppend, h.LastOffsetDelta)
		}
		metas = append(metas, metaOf(h, len(batch)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidAppend, err)
	}
	return metas, nil
}

// Append appends batches as the partition leader: one or more whole,
// validated RecordBatch v2 batches. It assigns offsets from LogEndOffset by
// rewriting each batch's base offset, stamps leaderEpoch as the partition
// leader epoch and, if logAppendTime >= 0, makes the batches LogAppendTime
// batches with that timestamp (record.SetLogAppendTime, which recomputes
// the CRC). These header edits are made in place in batches; Append keeps
// no reference to it after returning. A non-negative leaderEpoch not yet in
// the leader epoch cache is recorded there, starting at the first offset.
//
// Batches with a producer id are checked against the partition's producer
// state first (producerstate.go), as Kafka checks appends from clients: a
// batch that repeats one of the producer's last five is not written and
// Append returns the original's offsets with Duplicate set; a sequence gap
// fails with ErrOutOfOrderSequence, an older producer epoch with
// ErrInvalidProducerEpoch, and nothing is written.
//
// The bytes are written with one write call. Append rolls a new segment
// first when needed (see the package doc) and fsyncs when flush.messages
// unflushed offsets have accumulated. A write failure takes the log dir
// offline: this and every later Append returns an error wrapping
// ErrLogDirOffline.
func (l *Log) Append(batches []byte, leaderEpoch int32, logAppendTime int64) (AppendInfo, error) {
	return l.appendAsLeader(batches, leaderEpoch, logAppendTime, originClient, txnVersionUnknown)
}

// AppendAsCoordinator is Append for batches this broker writes itself
// (Kafka's AppendOrigin.COORDINATOR): transaction markers and the
// coordinators' transactional records. Producer epochs (and the
// coordinator epochs of markers) are checked, sequences are not, and no
// batch is taken for a duplicate.
func (l *Log) AppendAsCoordinator(batches []byte, leaderEpoch int32, logAppendTime int64) (AppendInfo, error) {
	return l.appendAsLeader(batches, leaderEpoch, logAppendTime, originCoordinator, txnVersionUnknown)
}

// AppendTxnMarker is AppendAsCoordinator for transaction markers written
// with a known transaction version (WriteTxnMarkers v2): the producer
// epoch of a marker of transaction version 2 must be above the
// producer's (producerstate.go); below 2, at least the producer's. A
// negative transactionVersion is unknown, checked as below 2.
func (l *Log) AppendTxnMarker(batches []byte, leaderEpoch int32, logAppendTime int64, transactionVersion int16) (AppendInfo, error) {
	if transactionVersion < 0 {
		transactionVersion = txnVersionUnknown
	}
	return l.appendAsLeader(batches, leaderEpoch, logAppendTime, originCoordinator, transactionVersion)
}

func (l *Log) appendAsLeader(batches []byte, leaderEpoch int32, logAppendTime int64, origin appendOrigin, tv int16) (AppendInfo, error) {
	var arr [4]batchMeta
	metas, err := parseBatches(batches, arr[:0])
	if err != nil {
		return AppendInfo{}, err
	}
	// Edits that do not depend on the offsets are made before locking;
	// SetLogAppendTime recomputes a CRC.
	pos := 0
	maxTs := int64(-1)
	for i := range metas {
		b := batches[pos : pos+metas[i].size]
		record.SetPartitionLeaderEpoch(b, leaderEpoch)
		metas[i].epoch = leaderEpoch
		if logAppendTime >= 0 {
			record.SetLogAppendTime(b, logAppendTime)
			metas[i].maxTs = logAppendTime
		}
		maxTs = max(maxTs, metas[i].maxTs)
		pos += metas[i].size
	}
	nowMs := l.nowMs()

	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		return AppendInfo{}, err
	}
	if int64(len(batches)) > l.mu.cfg.SegmentBytes {
		l.mu.Unlock()
		return AppendInfo{}, fmt.Errorf("%w: %d bytes, segment.bytes is %d", ErrBatchTooLarge, len(batches), l.mu.cfg.SegmentBytes)
	}
	first := l.logEndOffsetLocked()
	next := first
	pos = 0
	for i := range metas {
		record.SetBaseOffset(batches[pos:], next)
		metas[i].base = next
		next += int64(metas[i].lastDelta) + 1
		pos += metas[i].size
	}
	producers, err := l.mu.producers.prepare(batches, metas, origin, tv)
	if err != nil {
		l.mu.Unlock()
		return AppendInfo{}, err
	}
	if d := producers.duplicate; d != nil {
		info := AppendInfo{FirstOffset: d.FirstOffset, LastOffset: d.LastOffset, MaxTimestamp: maxTs, LogAppendTime: d.Timestamp, LogStartOffset: l.mu.logStartOffset, Duplicate: true}
		l.mu.Unlock()
		return info, nil
	}
	rolled, err := l.maybeRollLocked(metas, int64(len(batches)), nowMs)
	if err == nil && leaderEpoch >= 0 {
		err = l.assignEpochLocked(leaderEpoch, first)
	}
	if err == nil {
		err = l.writeLocked(batches, metas, nowMs)
	}
	if err != nil {
		l.mu.Unlock()
		return AppendInfo{}, err
	}
	l.mu.producers.apply(producers)
	l.completeTxnsLocked(producers.completed, l.activeLocked(), true)
	l.mu.producers.mapEndOffset = next
	info := AppendInfo{FirstOffset: first, LastOffset: next - 1, MaxTimestamp: maxTs, LogAppendTime: -1, LogStartOffset: l.mu.logStartOffset}
	if logAppendTime >= 0 {
		info.LogAppendTime = logAppendTime
	}
	flush := next-l.mu.recoveryPoint >= l.mu.cfg.FlushMessages
	bgFlush := rolled && !flush
	if bgFlush {
		l.bg.Add(1) // under mu, so never concurrent with Close's Wait
	}
	l.mu.Unlock()
	return info, l.afterAppend(bgFlush, flush)
}

// AppendAsFollower appends batches replicated from the leader, keeping
// their offsets and leader epochs. The first batch must start at or after
// LogEndOffset and offsets must increase; gaps (as compaction leaves them)
// stay inside the segment, which rolls only by the rules of a leader
// append (see the package doc). Each batch's epoch is recorded in the
// leader epoch cache if new, and batches with a producer id update the
// producer state without the leader's checks; their transactions move the
// last stable offset and aborted ones get transaction index entries, as on
// the leader. Like Append it does not keep batches and writes them with
// one write call.
func (l *Log) AppendAsFollower(batches []byte) (AppendInfo, error) {
	var arr [8]batchMeta
	metas, err := parseBatches(batches, arr[:0])
	if err != nil {
		return AppendInfo{}, err
	}
	maxTs := int64(-1)
	for i, m := range metas {
		if i > 0 && m.base < metas[i-1].base+int64(metas[i-1].lastDelta)+1 {
			return AppendInfo{}, fmt.Errorf("%w: batch at offset %d follows one ending at %d", ErrUnexpectedAppendOffset, m.base, metas[i-1].base+int64(metas[i-1].lastDelta))
		}
		maxTs = max(maxTs, m.maxTs)
	}
	nowMs := l.nowMs()

	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		return AppendInfo{}, err
	}
	if int64(len(batches)) > l.mu.cfg.SegmentBytes {
		l.mu.Unlock()
		return AppendInfo{}, fmt.Errorf("%w: %d bytes, segment.bytes is %d", ErrBatchTooLarge, len(batches), l.mu.cfg.SegmentBytes)
	}
	leo := l.logEndOffsetLocked()
	if metas[0].base < leo {
		l.mu.Unlock()
		return AppendInfo{}, fmt.Errorf("%w: first offset %d is below the log end offset %d", ErrUnexpectedAppendOffset, metas[0].base, leo)
	}
	var rolled bool
	pos := 0
	for start := 0; start < len(metas); {
		// Normally one chunk: only offsets spanning more than a segment's
		// int32 relative offsets (a gap of 2^31) split the append.
		end, size := start+1, metas[start].size
		for end < len(metas) && metas[end].base+int64(metas[end].lastDelta)-metas[start].base <= math.MaxInt32 {
			size += metas[end].size
			end++
		}
		chunk := metas[start:end]
		r, err := l.maybeRollLocked(chunk, int64(size), nowMs)
		rolled = rolled || r
		for i := 0; err == nil && i < len(chunk); i++ {
			if chunk[i].epoch >= 0 {
				err = l.assignEpochLocked(chunk[i].epoch, chunk[i].base)
			}
		}
		if err == nil {
			err = l.writeLocked(batches[pos:pos+size], chunk, nowMs)
		}
		if err != nil {
			l.mu.Unlock()
			return AppendInfo{}, err
		}
		// Replicated batches update the producer state unchecked, one
		// chunk at a time so that a roll's snapshot covers the chunks
		// before it.
		producers, _ := l.mu.producers.prepare(batches[pos:pos+size], chunk, originReplication, txnVersionUnknown)
		l.mu.producers.apply(producers)
		l.completeTxnsLocked(producers.completed, l.activeLocked(), true)
		l.mu.producers.mapEndOffset = chunk[len(chunk)-1].base + int64(chunk[len(chunk)-1].lastDelta) + 1
		pos += size
		start = end
	}
	last := metas[len(metas)-1]
	next := last.base + int64(last.lastDelta) + 1
	info := AppendInfo{FirstOffset: metas[0].base, LastOffset: next - 1, MaxTimestamp: maxTs, LogAppendTime: -1, LogStartOffset: l.mu.logStartOffset}
	flush := next-l.mu.recoveryPoint >= l.mu.cfg.FlushMessages
	bgFlush := rolled && !flush
	if bgFlush {
		l.bg.Add(1) // under mu, so never concurrent with Close's Wait
	}
	l.mu.Unlock()
	return info, l.afterAppend(bgFlush, flush)
}

// afterAppend runs the fsyncs an append asked for, without the lock: after
// a roll the older segments are flushed in the background (Kafka's
// "flush-log" task; bg was already incremented); when flush.messages is
// reached the caller waits.
func (l *Log) afterAppend(bgFlush, flush bool) error {
	if bgFlush {
		go func() {
			defer l.bg.Done()
			if err := l.flushRolled(); err != nil && !errors.Is(err, ErrClosed) {
				l.logger.Error("storage: flush after roll", "err", err)
			}
		}()
	}
	if flush {
		return l.Flush()
	}
	return nil
}

// maybeRollLocked starts a new active segment when Kafka's
// LogSegment.shouldRoll says so: the append would push the segment past
// segment.bytes, the segment's first append is older than segment.ms, an
// index would exceed segment.index.bytes, or a relative offset would
// overflow int32. An offset gap (a follower's) is no reason to roll. The
// new segment starts at the log end offset, so that segments tile the
// offsets (recovery relies on it) even when the append starts after a
// gap; only if that would overflow its relative offsets does it start at
// metas[0].base. An empty active segment is used as it is, or replaced
// at metas[0].base on such an overflow.
func (l *Log) maybeRollLocked(metas []batchMeta, size, nowMs int64) (bool, error) {
	cfg := l.mu.cfg
	s := l.activeLocked()
	first := metas[0].base
	last := metas[len(metas)-1].base + int64(metas[len(metas)-1].lastDelta)
	if s.size == 0 {
		if last-s.base <= math.MaxInt32 {
			return false, nil
		}
		return false, l.rollLocked(first, nowMs)
	}
	roll := s.size+size > cfg.SegmentBytes ||
		nowMs-s.rollAtMs > cfg.SegmentMs ||
		last-s.base > math.MaxInt32
	if !roll {
		// Count the index entries this append would add.
		added, since := 0, s.bytesSinceIndex
		for _, m := range metas {
			if since > int64(cfg.IndexIntervalBytes) {
				added++
				since = 0
			}
			since += int64(m.size)
		}
		roll = added > 0 && (s.index.len()+added > cfg.maxOffsetIndexEntries() || s.timeIndex.len()+added > cfg.maxTimeIndexEntries())
	}
	if !roll {
		return false, nil
	}
	base := s.nextOffset
	if last-base > math.MaxInt32 {
		base = first
	}
	return true, l.rollLocked(base, nowMs)
}

// rollLocked makes a new empty active segment at base. A producer
// snapshot is written at base first. The old active segment gets its
// final time index entry and its index files written; an empty one is
// removed instead.
func (l *Log) rollLocked(base, nowMs int64) error {
	if err := l.snapshotProducersAtRollLocked(base); err != nil {
		return l.failLocked("roll", err)
	}
	old := l.activeLocked()
	if old.size > 0 {
		old.appendFinalTimeIndexEntry()
		if err := old.persistIndexes(); err != nil {
			return l.failLocked("roll", err)
		}
	}
	s, err := createSegment(l.dir, base)
	if err != nil {
		return l.failLocked("roll", err)
	}
	l.mu.dirDirty = true
	if old.size > 0 {
		l.mu.segments = append(l.mu.segments, s)
	} else {
		l.mu.segments[len(l.mu.segments)-1] = s
		if err := l.removeSegmentLocked(old, nowMs, 0); err != nil {
			return l.failLocked("roll", err)
		}
	}
	l.logger.Debug("storage: rolled segment", "base_offset", base)
	return nil
}

// writeLocked writes one gap-free run of batches to the active segment
// with a single write and does the index bookkeeping, per batch as in
// Kafka's LogSegment.append (entries keyed by batch base offset).
func (l *Log) writeLocked(b []byte, metas []batchMeta, nowMs int64) error {
	s := l.activeLocked()
	if _, err := s.file.WriteAt(b, s.size); err != nil {
		return l.failLocked("append", err)
	}
	if s.size == 0 {
		s.rollAtMs = nowMs
	}
	interval := int64(l.mu.cfg.IndexIntervalBytes)
	pos := s.size
	for _, m := range metas {
		if m.maxTs > s.maxTimestamp {
			s.maxTimestamp, s.offsetOfMaxTimestamp = m.maxTs, m.base
		}
		if s.bytesSinceIndex > interval {
			s.index.append(s.rel(m.base), int32(pos))
			s.timeIndex.maybeAppend(s.maxTimestamp, s.rel(s.offsetOfMaxTimestamp))
			s.bytesSinceIndex = 0
		}
		s.bytesSinceIndex += int64(m.size)
		pos += int64(m.size)
	}
	s.size = pos
	last := metas[len(metas)-1]
	s.nextOffset = last.base + int64(last.lastDelta) + 1
	return nil
}

// AssignEpoch records that leader epoch epoch starts at startOffset in the
// leader epoch cache (Kafka's LeaderEpochFileCache.assign) and persists
// the cache.
func (l *Log) AssignEpoch(epoch int32, startOffset int64) error {
	if epoch < 0 || startOffset < 0 {
		return fmt.Errorf("storage: invalid leader epoch entry (%d, %d)", epoch, startOffset)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	return l.assignEpochLocked(epoch, startOffset)
}

func (l *Log) assignEpochLocked(epoch int32, startOffset int64) error {
	if !l.mu.epochs.assign(epoch, startOffset) {
		return nil
	}
	return l.persistEpochsLocked()
}

func (l *Log) persistEpochsLocked() error {
	if err := writeEpochCheckpoint(filepath.Join(l.dir, LeaderEpochCheckpointFile), l.mu.epochs.entries); err != nil {
		return l.failLocked("write leader epoch checkpoint", err)
	}
	return nil
}

// LatestEpoch returns the latest leader epoch in the cache.
func (l *Log) LatestEpoch() (int32, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	e, ok := l.mu.epochs.latest()
	return e.Epoch, ok
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101, KIP-279): the
// largest known epoch <= epoch and the offset where the next epoch starts,
// or the log end offset if epoch is the latest; (-1, -1) if unknown.
func (l *Log) EndOffsetForEpoch(epoch int32) (foundEpoch int32, endOffset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.epochs.endOffsetFor(epoch, l.logEndOffsetLocked())
}

// EpochForOffset returns the leader epoch of the leader that wrote offset,
// per the cache (for ListOffsets' leader epochs).
func (l *Log) EpochForOffset(offset int64) (int32, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.epochs.epochForOffset(offset)
}

// Epochs returns a copy of the leader epoch cache.
func (l *Log) Epochs() []EpochEntry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.epochs.clone()
}
