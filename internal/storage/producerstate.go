package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"

	"github.com/gregor-streaming/gregor/internal/record"
)

// Producer state is what a partition remembers of every idempotent or
// transactional producer that wrote to it (Kafka's ProducerStateManager,
// ProducerStateEntry and ProducerAppendInfo): per producer id its epoch,
// the last five batches it appended (numBatchesToRetain, the most a
// producer may have in flight), the timestamp of its last write, and, for
// transactions, the epoch of the coordinator that wrote its last marker
// and the first offset of its open transaction.
//
// A leader append (Log.Append) checks each batch that carries a producer
// id against it, as ProducerAppendInfo does for AppendOrigin.CLIENT:
//
//	same epoch, same first and last sequence as a retained batch
//	                                ─▶ duplicate: nothing is written, the
//	                                   original batch's offsets are returned
//	epoch older than the producer's ─▶ ErrInvalidProducerEpoch
//	newer epoch, first sequence ≠ 0 ─▶ ErrOutOfOrderSequence (unless the
//	                                   producer is unknown)
//	same epoch, first sequence not last+1 (MaxInt32 wraps to 0)
//	                                ─▶ ErrOutOfOrderSequence (unless the
//	                                   producer is unknown: since KIP-360 a
//	                                   partition that lost a producer's
//	                                   state, to retention or expiry,
//	                                   accepts any sequence and Kafka no
//	                                   longer answers UNKNOWN_PRODUCER_ID;
//	                                   KIP-890's exception, sequence 0
//	                                   for transaction-verified TV2
//	                                   producers, is checked by the
//	                                   replica layer, replica/txnverify.go)
//	a non-transactional batch while the producer's transaction is open
//	                                ─▶ ErrInvalidTxnState
//
// Follower appends (AppendAsFollower) and replays of the log apply the
// batches without these checks (AppendOrigin.REPLICATION), so a follower
// that becomes leader has the same state. The state is rebuilt on open and
// after truncation from the latest snapshot at or below the log end offset
// (producersnapshot.go) and the batches after it. Producers whose last
// write is producer.id.expiration.ms old (and who have no open
// transaction) are removed by the Manager's expiration task.
//
// For transactions: transactional batches open a transaction
// (CurrentTxnFirstOffset), and control batches (end-transaction markers)
// close it, move the producer to the marker's epoch and record the
// coordinator epoch, as Kafka's appendEndTxnMarker does; a marker from an
// older coordinator epoch is ErrTransactionCoordinatorFenced. The
// producer epoch of a marker is checked by the transaction version the
// coordinator wrote it with (WriteTxnMarkers v2, Log.AppendTxnMarker):
//
//	TV0/TV1 (or unknown)  epoch < current ─▶ ErrInvalidProducerEpoch
//	TV2 (KIP-890 part 2)  epoch ≤ current ─▶ ErrInvalidProducerEpoch,
//	                      except epoch = current with no open
//	                      transaction: a retry of a marker already
//	                      written (KAFKA-19999), written again
//
// With TV2 the coordinator bumps the epoch before writing the markers,
// so the marker moves the partition's producer to the epoch of the next
// transaction, and a zombie's late batch at the old epoch is fenced. The
// broker's own writes (markers, a coordinator's transactional records) go
// through AppendAsCoordinator or AppendTxnMarker (AppendOrigin.COORDINATOR:
// epoch checks only). The transactions opened and completed decide the
// last stable offset (lso.go), and aborted ones get transaction index
// entries (txnindex.go).

// Errors of the producer state checks of a leader append. Handlers map
// them to Kafka's codes: ErrOutOfOrderSequence to
// OUT_OF_ORDER_SEQUENCE_NUMBER, ErrInvalidProducerEpoch to
// INVALID_PRODUCER_EPOCH, ErrInvalidTxnState to INVALID_TXN_STATE,
// ErrTransactionCoordinatorFenced to TRANSACTION_COORDINATOR_FENCED.
var (
	ErrOutOfOrderSequence           = errors.New("storage: out of order sequence number")
	ErrInvalidProducerEpoch         = errors.New("storage: invalid producer epoch")
	ErrInvalidTxnState              = errors.New("storage: invalid transaction state")
	ErrTransactionCoordinatorFenced = errors.New("storage: transaction coordinator fenced")
)

// numBatchesToRetain is how many of a producer's latest batches are kept
// for duplicate detection (Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN,
// matching max.in.flight.requests.per.connection's limit of 5 for
// idempotence).
const numBatchesToRetain = 5

// DefaultProducerIDExpirationMs is producer.id.expiration.ms's default.
const DefaultProducerIDExpirationMs = 86400000

// BatchMetadata is one retained batch of a producer (Kafka's
// BatchMetadata).
type BatchMetadata struct {
	FirstSeq    int32
	LastSeq     int32
	FirstOffset int64
	LastOffset  int64
	Timestamp   int64 // the batch's max timestamp as appended
}

// ProducerState is what a partition knows of one producer (Kafka's
// ProducerStateEntry). Values returned by Log methods are copies owned by
// the caller.
type ProducerState struct {
	ProducerID    int64
	ProducerEpoch int16
	// CoordinatorEpoch is the epoch of the transaction coordinator that
	// wrote the producer's last marker, -1 if none.
	CoordinatorEpoch int32
	// LastTimestamp is the max timestamp of the producer's last batch or
	// marker; expiry counts from it.
	LastTimestamp int64
	// CurrentTxnFirstOffset is the first offset of the producer's open
	// transaction, -1 if none.
	CurrentTxnFirstOffset int64
	// Batches are the latest batches of ProducerEpoch, oldest first, at
	// most numBatchesToRetain.
	Batches []BatchMetadata
}

// LastSequence returns the last sequence number appended, or
// record.NoSequence if no batch is retained.
func (e *ProducerState) LastSequence() int32 {
	if len(e.Batches) == 0 {
		return record.NoSequence
	}
	return e.Batches[len(e.Batches)-1].LastSeq
}

// LastDataOffset returns the last offset of the producer's last batch, or
// -1 if no batch is retained.
func (e *ProducerState) LastDataOffset() int64 {
	if len(e.Batches) == 0 {
		return -1
	}
	return e.Batches[len(e.Batches)-1].LastOffset
}

func newProducerState(pid int64) *ProducerState {
	return &ProducerState{
		ProducerID:            pid,
		ProducerEpoch:         record.NoProducerEpoch,
		CoordinatorEpoch:      -1,
		LastTimestamp:         record.NoTimestamp,
		CurrentTxnFirstOffset: -1,
	}
}

func (e *ProducerState) clone() *ProducerState {
	c := *e
	c.Batches = slices.Clone(e.Batches)
	return &c
}

// findDuplicate returns the retained batch with the same epoch and
// sequence range (Kafka's findDuplicateBatch).
func (e *ProducerState) findDuplicate(epoch int16, firstSeq, lastSeq int32) (BatchMetadata, bool) {
	if epoch != e.ProducerEpoch {
		return BatchMetadata{}, false
	}
	for _, b := range e.Batches {
		if b.FirstSeq == firstSeq && b.LastSeq == lastSeq {
			return b, true
		}
	}
	return BatchMetadata{}, false
}

// updateEpoch moves the producer to epoch; a new epoch forgets the
// batches of the old one.
func (e *ProducerState) updateEpoch(epoch int16) {
	if e.ProducerEpoch != epoch {
		e.Batches = nil
		e.ProducerEpoch = epoch
	}
}

func (e *ProducerState) addBatch(epoch int16, b BatchMetadata) {
	e.updateEpoch(epoch)
	if len(e.Batches) == numBatchesToRetain {
		e.Batches = slices.Delete(e.Batches, 0, 1)
	}
	e.Batches = append(e.Batches, b)
	e.LastTimestamp = b.Timestamp
}

// inSequence reports whether next follows last (Kafka's inSequence).
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}

// appendOrigin is who appends: it decides which checks apply (Kafka's
// AppendOrigin).
type appendOrigin int8

const (
	// originClient is a produce request: epoch, sequence and duplicate
	// checks.
	originClient appendOrigin = iota
	// originCoordinator is a batch this broker writes (markers, a
	// coordinator's transactional records): epoch checks only.
	originCoordinator
	// originReplication is a follower append or a replay of the log:
	// no checks, a fencing problem is only logged.
	originReplication
)

// producerUpdate is the pending state of one producer during an append.
type producerUpdate struct {
	pid   int64
	entry *ProducerState // a copy, edited by the append
	// currentEpoch is the producer's epoch before the append,
	// record.NoProducerEpoch if it was unknown.
	currentEpoch int16
}

// producerAppend is the outcome of checking one append's batches against
// the producer state (Kafka's analyzeAndValidateProducerState).
type producerAppend struct {
	// updates has one entry per producer id of the append (usually one);
	// nil if no batch has a producer id.
	updates []*producerUpdate
	// duplicate is set when a batch repeats one already appended; the
	// append is then skipped.
	duplicate *BatchMetadata
	// started are the transactions the append opens and completed those
	// it closes, in log order (a follower's append may do both).
	started   []txnMetadata
	completed []completedTxn
}

// txnVersionUnknown is the transaction version of appends that carry
// none (data batches, replication, replays, markers written without
// one): markers are then checked by the TV0/TV1 rule (Kafka's
// TV_UNKNOWN).
const txnVersionUnknown int16 = -1

// producerStateManager is one partition's producer state and its snapshot
// files. It is guarded by Log.mu.
type producerStateManager struct {
	logger       *slog.Logger
	expirationMs int64

	producers map[int64]*ProducerState
	// mapEndOffset is where the state ends: every batch below it has been
	// applied (Kafka's lastMapOffset). On an open log it is the log end
	// offset.
	mapEndOffset int64
	// lastSnapOffset is the offset of the latest snapshot written or
	// loaded (Kafka's lastSnapOffset).
	lastSnapOffset int64
	// snapshots are the offsets of the snapshot files in dir, sorted.
	snapshots []int64

	// ongoing are the open transactions and unreplicated the completed
	// ones whose marker is not yet below the high watermark, each sorted
	// by first offset (Kafka's ongoingTxns and unreplicatedTxns; lso.go).
	ongoing      []txnMetadata
	unreplicated []txnMetadata
}

func newProducerStateManager(logger *slog.Logger, expirationMs int64) *producerStateManager {
	if expirationMs <= 0 {
		expirationMs = DefaultProducerIDExpirationMs
	}
	return &producerStateManager{logger: logger, expirationMs: expirationMs, producers: map[int64]*ProducerState{}}
}

// prepare checks the batches of one append (b, described by metas, with
// their final offsets) against the state and returns the updates to apply
// once they are written. For originClient a batch that duplicates a
// retained one stops the check and is returned as the duplicate, as Kafka
// does; errors are the package's producer errors, wrapped with context.
// tv is the transaction version control batches were written with
// (txnVersionUnknown if none).
func (m *producerStateManager) prepare(b []byte, metas []batchMeta, origin appendOrigin, tv int16) (producerAppend, error) {
	var pa producerAppend
	pos := 0
	for i := range metas {
		meta := &metas[i]
		batch := b[pos : pos+meta.size]
		pos += meta.size
		if meta.producerID < 0 {
			continue
		}
		if origin == originClient && !meta.control() {
			if cur, ok := m.producers[meta.producerID]; ok {
				if dup, ok := cur.findDuplicate(meta.producerEpoch, meta.baseSeq, meta.lastSeq()); ok {
					return producerAppend{duplicate: &dup}, nil
				}
			}
		}
		var u *producerUpdate
		for _, pu := range pa.updates {
			if pu.pid == meta.producerID {
				u = pu
			}
		}
		if u == nil {
			u = &producerUpdate{pid: meta.producerID, currentEpoch: record.NoProducerEpoch}
			if cur, ok := m.producers[meta.producerID]; ok {
				u.entry, u.currentEpoch = cur.clone(), cur.ProducerEpoch
			} else {
				u.entry = newProducerState(meta.producerID)
			}
			pa.updates = append(pa.updates, u)
		}
		var err error
		if meta.control() {
			err = m.appendControlBatch(&pa, u, meta, batch, origin, tv)
		} else {
			err = m.appendDataBatch(&pa, u, meta, origin)
		}
		if err != nil {
			return producerAppend{}, err
		}
	}
	return pa, nil
}

// checkEpoch is Kafka's checkProducerEpoch: an older epoch is fenced for
// appends from clients and coordinators, and only logged for replicated
// data. tv is the transaction version of a marker (txnVersionUnknown for
// data): a TV2 marker needs an epoch above the producer's, except for a
// retry of a marker already written (the same epoch, no open
// transaction).
func (m *producerStateManager) checkEpoch(u *producerUpdate, epoch int16, offset int64, origin appendOrigin, tv int16) error {
	cur := u.entry.ProducerEpoch
	tv2 := tv >= 2
	if epoch > cur || epoch == cur && (!tv2 || u.entry.CurrentTxnFirstOffset < 0) {
		if tv2 && epoch == cur {
			m.logger.Info("storage: transaction marker retry; the transaction already completed", "producer_id", u.entry.ProducerID,
				"epoch", epoch, "offset", offset)
		}
		return nil
	}
	comparison := "smaller than"
	if tv2 {
		comparison = "smaller than or equal to"
	}
	if origin == originReplication {
		m.logger.Warn("storage: producer epoch "+comparison+" the last seen epoch", "producer_id", u.entry.ProducerID,
			"epoch", epoch, "last_epoch", cur, "offset", offset)
		return nil
	}
	return fmt.Errorf("%w: epoch of producer %d at offset %d is %d, which is %s the last seen epoch %d",
		ErrInvalidProducerEpoch, u.entry.ProducerID, offset, epoch, comparison, cur)
}

// checkSequence is Kafka's checkSequence for client appends.
func checkSequence(u *producerUpdate, epoch int16, firstSeq int32, offset int64) error {
	e := u.entry
	if epoch != e.ProducerEpoch {
		if firstSeq != 0 && e.ProducerEpoch != record.NoProducerEpoch {
			return fmt.Errorf("%w: invalid sequence number for new epoch of producer %d at offset %d: %d (request epoch), %d (seq. number), %d (current producer epoch)",
				ErrOutOfOrderSequence, e.ProducerID, offset, epoch, firstSeq, e.ProducerEpoch)
		}
		return nil
	}
	// A producer with no known epoch (its state was lost to retention,
	// DeleteRecords or expiry) may continue with any sequence.
	if u.currentEpoch == record.NoProducerEpoch {
		return nil
	}
	if last := e.LastSequence(); !inSequence(last, firstSeq) {
		return fmt.Errorf("%w: out of order sequence number for producer %d at offset %d: %d (incoming seq. number), %d (current end sequence number)",
			ErrOutOfOrderSequence, e.ProducerID, offset, firstSeq, last)
	}
	return nil
}

// appendDataBatch is Kafka's appendDataBatch.
func (m *producerStateManager) appendDataBatch(pa *producerAppend, u *producerUpdate, meta *batchMeta, origin appendOrigin) error {
	first := meta.base
	if err := m.checkEpoch(u, meta.producerEpoch, first, origin, txnVersionUnknown); err != nil {
		return err
	}
	if origin == originClient {
		if err := checkSequence(u, meta.producerEpoch, meta.baseSeq, first); err != nil {
			return err
		}
	}
	e := u.entry
	last := meta.base + int64(meta.lastDelta)
	e.addBatch(meta.producerEpoch, BatchMetadata{FirstSeq: meta.baseSeq, LastSeq: meta.lastSeq(), FirstOffset: first, LastOffset: last, Timestamp: meta.maxTs})
	switch {
	case e.CurrentTxnFirstOffset >= 0 && !meta.transactional():
		if origin != originReplication {
			return fmt.Errorf("%w: expected transactional write from producer %d at offset %d", ErrInvalidTxnState, e.ProducerID, first)
		}
	case e.CurrentTxnFirstOffset < 0 && meta.transactional():
		e.CurrentTxnFirstOffset = first
		pa.started = append(pa.started, txnMetadata{producerID: e.ProducerID, firstOffset: first, lastOffset: -1})
	}
	return nil
}

// endTxnMarker is the content of a control batch's record (Kafka's
// EndTransactionMarker): key = version int16, type int16 (0 abort, 1
// commit); value = version int16, coordinator epoch int32.
type endTxnMarker struct {
	commit           bool
	coordinatorEpoch int32
	timestamp        int64
}

// parseEndTxnMarker decodes the marker of a control batch; ok is false for
// a control batch without records (a transaction the cleaner removed).
func parseEndTxnMarker(batch []byte, meta *batchMeta) (mk endTxnMarker, ok bool, err error) {
	h, err := record.ParseHeader(batch)
	if err != nil {
		return mk, false, err
	}
	err = record.Records(batch, func(r record.Record) error {
		if ok {
			return nil
		}
		if len(r.Key) < 4 || len(r.Value) < 6 {
			return fmt.Errorf("%w: control record key of %d bytes, value of %d", record.ErrInvalid, len(r.Key), len(r.Value))
		}
		switch binary.BigEndian.Uint16(r.Key[2:]) {
		case 0:
		case 1:
			mk.commit = true
		default:
			return fmt.Errorf("%w: unknown control record type %d", record.ErrInvalid, binary.BigEndian.Uint16(r.Key[2:]))
		}
		mk.coordinatorEpoch = int32(binary.BigEndian.Uint32(r.Value[2:]))
		mk.timestamp = h.BaseTimestamp + r.TimestampDelta
		if h.IsLogAppendTime() {
			mk.timestamp = meta.maxTs
		}
		ok = true
		return nil
	})
	return mk, ok, err
}

// appendControlBatch is Kafka's appendEndTxnMarker for a control batch:
// it closes the producer's open transaction, if any (a marker without one
// completes nothing: Kafka emits a CompletedTxn only for transactions
// with data).
func (m *producerStateManager) appendControlBatch(pa *producerAppend, u *producerUpdate, meta *batchMeta, batch []byte, origin appendOrigin, tv int16) error {
	mk, ok, err := parseEndTxnMarker(batch, meta)
	if err != nil {
		if origin == originReplication {
			m.logger.Warn("storage: unreadable transaction marker", "producer_id", meta.producerID, "offset", meta.base, "err", err)
			return nil
		}
		return fmt.Errorf("%w: %w", ErrInvalidAppend, err)
	}
	if !ok {
		return nil
	}
	if err := m.checkEpoch(u, meta.producerEpoch, meta.base, origin, tv); err != nil {
		return err
	}
	e := u.entry
	if e.CoordinatorEpoch > mk.coordinatorEpoch {
		if origin != originReplication {
			return fmt.Errorf("%w: invalid coordinator epoch for producer %d at offset %d: %d (zombie), %d (current)",
				ErrTransactionCoordinatorFenced, e.ProducerID, meta.base, mk.coordinatorEpoch, e.CoordinatorEpoch)
		}
		m.logger.Info("storage: transaction marker with an older coordinator epoch", "producer_id", e.ProducerID,
			"offset", meta.base, "coordinator_epoch", mk.coordinatorEpoch, "last_coordinator_epoch", e.CoordinatorEpoch)
	}
	if e.CurrentTxnFirstOffset >= 0 {
		pa.completed = append(pa.completed, completedTxn{producerID: e.ProducerID, firstOffset: e.CurrentTxnFirstOffset, lastOffset: meta.base, aborted: !mk.commit})
	}
	e.updateEpoch(meta.producerEpoch)
	e.CoordinatorEpoch = mk.coordinatorEpoch
	e.LastTimestamp = mk.timestamp
	e.CurrentTxnFirstOffset = -1
	return nil
}

// apply installs the updates of an append that was written and records
// the transactions it opened (Kafka's update). The caller then completes
// pa.completed (Log.completeTxnsLocked), which needs the segment the
// markers went to.
func (m *producerStateManager) apply(pa producerAppend) {
	for _, u := range pa.updates {
		m.producers[u.pid] = u.entry
	}
	for _, t := range pa.started {
		m.startTxn(t.producerID, t.firstOffset)
	}
}

// isExpired is Kafka's isProducerExpired.
func (m *producerStateManager) isExpired(e *ProducerState, nowMs int64) bool {
	return e.CurrentTxnFirstOffset < 0 && nowMs-e.LastTimestamp >= m.expirationMs
}

// removeExpired drops the producers idle for producer.id.expiration.ms and
// returns how many.
func (m *producerStateManager) removeExpired(nowMs int64) int {
	n := 0
	for pid, e := range m.producers {
		if m.isExpired(e, nowMs) {
			delete(m.producers, pid)
			n++
		}
	}
	return n
}

// active returns copies of the producer states, by producer id.
func (m *producerStateManager) active() []ProducerState {
	out := make([]ProducerState, 0, len(m.producers))
	for _, pid := range slices.Sorted(maps.Keys(m.producers)) {
		out = append(out, *m.producers[pid].clone())
	}
	return out
}

// replayBatch applies one batch found in the log (origin replication) and
// returns the transactions it completed, for the caller to complete.
func (m *producerStateManager) replayBatch(h record.Header, batch []byte) []completedTxn {
	if !h.HasProducerID() {
		return nil
	}
	metas := []batchMeta{metaOf(h, len(batch))}
	pa, _ := m.prepare(batch, metas, originReplication, txnVersionUnknown) // never fails for replication
	m.apply(pa)
	return pa.completed
}

// ActiveProducers returns the state of every producer the partition
// remembers, by producer id (for DescribeProducers). The caller owns the
// result.
func (l *Log) ActiveProducers() []ProducerState {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.producers.active()
}

// ProducerState returns a copy of what the partition remembers of one
// producer (ok false if nothing): the produce path asks whether the
// producer's transaction is open here before it asks the transaction
// coordinator (KIP-890 verification).
func (l *Log) ProducerState(producerID int64) (ProducerState, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	e, ok := l.mu.producers.producers[producerID]
	if !ok {
		return ProducerState{}, false
	}
	return *e.clone(), true
}

// removeExpiredProducers drops the producers whose last write is
// producer.id.expiration.ms old (Kafka's removeExpiredProducers, run by
// the Manager every producer.id.expiration.check.interval.ms).
func (l *Log) removeExpiredProducers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return 0
	}
	return l.mu.producers.removeExpired(l.nowMs())
}

// replayProducersLocked applies the batches in [from, to) of the log to
// the producer state (origin replication) and moves its end to `to`.
// Batches that start below from are skipped. ABORT markers at or above
// indexFrom get their transaction index entries (in the segment that
// holds them); below it the entries are already there.
func (l *Log) replayProducersLocked(from, to, indexFrom int64) error {
	ps := l.mu.producers
	segs := l.mu.segments
	for i := l.segmentIndexLocked(from); i < len(segs) && from < to; i++ {
		s := segs[i]
		if s.base >= to {
			break
		}
		sc := newScannerChunk(s.file, 0, s.size, scanChunk)
		for {
			h, b, pos, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if isBadData(err) {
					return MarkCorruption(fmt.Errorf("rebuild producer state: segment %d at byte %d: %w", s.base, pos, err))
				}
				return fmt.Errorf("rebuild producer state: segment %d: %w", s.base, err)
			}
			if h.BaseOffset >= to {
				break
			}
			if h.LastOffset() < from {
				continue
			}
			if completed := ps.replayBatch(h, b); len(completed) > 0 {
				l.completeTxnsLocked(completed, s, h.BaseOffset >= indexFrom)
			}
		}
	}
	ps.mapEndOffset = to
	return nil
}

// loadProducerStateLocked finds the snapshot files of a log being opened
// and builds the producer state of the batches below leo. txnIndexFrom,
// if >= 0, is where the transaction indexes must be rebuilt from (the
// first segment recovery scanned, or one with a bad index): the state is
// then built from a snapshot at or below it, so that the replay passes
// every marker from there.
func (l *Log) loadProducerStateLocked(leo, txnIndexFrom int64) error {
	snaps, err := listProducerSnapshots(l.dir)
	if err != nil {
		return err
	}
	ps := l.mu.producers
	ps.snapshots = snaps
	ps.mapEndOffset, ps.lastSnapOffset = -1, 0 // force a reload
	if txnIndexFrom < 0 {
		return l.rebuildProducerStateLocked(leo, math.MaxInt64, leo)
	}
	return l.rebuildProducerStateLocked(leo, txnIndexFrom, txnIndexFrom)
}

// rebuildProducerStateLocked makes the producer state, transactions
// included, that of the batches below leo, the log end offset after a
// load or truncation (Kafka's rebuildProducerState and truncateAndReload):
// snapshots above leo or at or below the log start offset are deleted;
// unless the state already ends at leo it is reloaded from the latest
// remaining snapshot at or below maxSnapshot (a corrupt one is deleted
// with a warning and the next older tried) and the batches after it
// replayed, ABORT markers from indexFrom on getting transaction index
// entries; a snapshot at leo is then written.
func (l *Log) rebuildProducerStateLocked(leo, maxSnapshot, indexFrom int64) error {
	ps := l.mu.producers
	lso := l.mu.logStartOffset
	for _, off := range slices.Clone(ps.snapshots) {
		if off > leo || off <= lso {
			if err := l.removeProducerSnapshotLocked(off); err != nil {
				return err
			}
		}
	}
	if leo != ps.mapEndOffset {
		clear(ps.producers)
		ps.clearTxns()
		if err := l.loadProducerSnapshotLocked(lso, maxSnapshot); err != nil {
			return err
		}
	} else if ps.mapEndOffset < lso {
		ps.mapEndOffset = lso
	}
	if ps.mapEndOffset < leo {
		if err := l.replayProducersLocked(ps.mapEndOffset, leo, indexFrom); err != nil {
			return err
		}
	}
	ps.mapEndOffset = leo
	ps.removeUnreplicated(l.mu.highWatermark)
	return l.takeProducerSnapshotLocked()
}

// loadProducerSnapshotLocked loads the latest readable snapshot at or
// below maxOffset, or, if there is none, starts empty at the log start
// offset. Open transactions of the snapshot become ongoing again.
func (l *Log) loadProducerSnapshotLocked(lso, maxOffset int64) error {
	ps := l.mu.producers
	nowMs := l.nowMs()
	for {
		i, found := slices.BinarySearch(ps.snapshots, maxOffset)
		if found {
			i++
		}
		if i == 0 {
			break
		}
		off := ps.snapshots[i-1]
		entries, err := readProducerSnapshot(producerSnapshotPath(l.dir, off))
		if err != nil {
			if !IsCorruption(err) {
				return err
			}
			l.logger.Warn("storage: ignoring corrupt producer snapshot, rebuilding from the log", "offset", off, "err", err)
			if err := l.removeProducerSnapshotLocked(off); err != nil {
				return err
			}
			continue
		}
		for _, e := range entries {
			if !ps.isExpired(e, nowMs) {
				ps.producers[e.ProducerID] = e
				if e.CurrentTxnFirstOffset >= 0 {
					ps.startTxn(e.ProducerID, e.CurrentTxnFirstOffset)
				}
			}
		}
		ps.mapEndOffset, ps.lastSnapOffset = off, off
		return nil
	}
	ps.mapEndOffset, ps.lastSnapOffset = lso, lso
	return nil
}

// takeProducerSnapshotLocked writes a snapshot at the state's end offset
// unless one was already written or loaded there (Kafka's takeSnapshot).
func (l *Log) takeProducerSnapshotLocked() error {
	ps := l.mu.producers
	if ps.mapEndOffset <= ps.lastSnapOffset {
		return nil
	}
	off := ps.mapEndOffset
	if err := writeProducerSnapshot(producerSnapshotPath(l.dir, off), ps.producers); err != nil {
		return fmt.Errorf("write producer snapshot %d: %w", off, err)
	}
	l.mu.dirDirty = true
	if i, found := slices.BinarySearch(ps.snapshots, off); !found {
		ps.snapshots = slices.Insert(ps.snapshots, i, off)
	}
	ps.lastSnapOffset = off
	return nil
}

// snapshotProducersAtRollLocked writes the snapshot a roll to a segment at
// base takes (Kafka's roll): the state ends at base, the new segment's
// first offset, so that recovering that segment starts from it.
func (l *Log) snapshotProducersAtRollLocked(base int64) error {
	ps := l.mu.producers
	ps.mapEndOffset = max(ps.mapEndOffset, base)
	return l.takeProducerSnapshotLocked()
}

// removeProducerSnapshotLocked deletes the snapshot at off, if any.
func (l *Log) removeProducerSnapshotLocked(off int64) error {
	ps := l.mu.producers
	i, found := slices.BinarySearch(ps.snapshots, off)
	if !found {
		return nil
	}
	ps.snapshots = slices.Delete(ps.snapshots, i, i+1)
	if err := removeIfExists(producerSnapshotPath(l.dir, off)); err != nil {
		return fmt.Errorf("remove producer snapshot %d: %w", off, err)
	}
	l.mu.dirDirty = true
	return nil
}

// truncateProducersFullyLocked empties the state and deletes every
// snapshot, for a log restarting at offset (Kafka's
// truncateFullyAndStartAt).
func (l *Log) truncateProducersFullyLocked(offset int64) error {
	ps := l.mu.producers
	clear(ps.producers)
	ps.clearTxns()
	for _, off := range slices.Clone(ps.snapshots) {
		if err := l.removeProducerSnapshotLocked(off); err != nil {
			return err
		}
	}
	ps.mapEndOffset, ps.lastSnapOffset = offset, offset
	return nil
}

// SnapshotProducers writes a producer snapshot at the log end offset if
// there is none there yet, as Kafka does when a log closes, so that the
// next open loads the state without reading the log. The Manager calls it
// before closing a log cleanly. A write failure takes the log dir offline.
func (l *Log) SnapshotProducers() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	l.mu.producers.mapEndOffset = l.logEndOffsetLocked()
	if err := l.takeProducerSnapshotLocked(); err != nil {
		return l.failLocked("snapshot producers", err)
	}
	return nil
}

// deleteOldProducerSnapshots deletes the snapshots no recovery or
// truncation will need (Kafka's deleteSnapshotsAfterRecoveryPointCheckpoint):
// those below both the base of the segment before the active one and the
// base of the segment below the recovery point. The Manager calls it
// after checkpointing the recovery points.
func (l *Log) deleteOldProducerSnapshots() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	segs := l.mu.segments
	twoSegments := segs[max(len(segs)-2, 0)].base
	rp := l.mu.recoveryPoint
	recovery := rp
	if i := l.segmentIndexLocked(rp - 1); rp > 0 && segs[i].base < rp {
		recovery = segs[i].base
	}
	keep := min(recovery, twoSegments)
	ps := l.mu.producers
	for _, off := range slices.Clone(ps.snapshots) {
		if off >= keep {
			break
		}
		if err := l.removeProducerSnapshotLocked(off); err != nil {
			return l.failLocked("delete producer snapshot", err)
		}
	}
	return nil
}
