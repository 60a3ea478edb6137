package replica

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/invariants"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// Partition is one hosted partition: its log, its leadership state and
// the fetches waiting for new data. Safe for concurrent use.
type Partition struct {
	Topic   string
	Index   int32
	TopicID metadata.TopicID

	log *storage.Log
	now func() time.Time
	env *partitionEnv

	// state is the partition's registration as last applied, swapped
	// whole.
	state atomic.Pointer[partitionState]

	// appendMu serializes appends, so that validation, offset assignment
	// and the high-watermark update happen in log order. Follower appends
	// and truncations and the leadership transitions take it too, so that
	// none of them interleaves with a leader append. Lock order: appendMu,
	// then mu.
	appendMu sync.Mutex
	// txnVerifications are the producers whose transaction this leader
	// is verifying with the transaction coordinator, by producer id
	// (txnverify.go). Guarded by appendMu.
	txnVerifications map[int64]*txnVerification

	mu struct {
		sync.Mutex
		waiters map[*Waiter]struct{}
		closed  bool
		// leaderEpoch and partitionEpoch are those of the registration
		// last applied (-1 before any); partitionEpoch also moves with a
		// committed AlterPartition.
		leaderEpoch    int32
		partitionEpoch int32
		// leader is the leader state while this node leads, else nil.
		leader *leaderState
	}
}

type partitionState struct {
	leader      int32
	leaderEpoch int32
	replicas    []int32
	isr         []int32
	isLeader    bool
	config      TopicConfig
}

func newPartition(tp TopicPartition, id metadata.TopicID, l *storage.Log, env *partitionEnv) *Partition {
	p := &Partition{Topic: tp.Topic, Index: tp.Partition, TopicID: id, log: l, now: env.now, env: env}
	p.mu.waiters = map[*Waiter]struct{}{}
	p.mu.leaderEpoch, p.mu.partitionEpoch = -1, -1
	return p
}

// Leader returns the partition's leader and leader epoch.
func (p *Partition) Leader() (leader, epoch int32) {
	st := p.state.Load()
	return st.leader, st.leaderEpoch
}

// Replicas returns the replicas and ISR. Callers must not modify them.
func (p *Partition) Replicas() (replicas, isr []int32) {
	st := p.state.Load()
	return st.replicas, st.isr
}

// Log returns the partition's log.
func (p *Partition) Log() *storage.Log { return p.log }

// maybeIncrementHighWatermarkLocked moves the high watermark forward to
// what the leader state allows (the smallest log end offset in the ISR;
// see leaderState.highWatermark) and reports whether it moved. It never
// moves back on a leader. p.mu must be held.
func (p *Partition) maybeIncrementHighWatermarkLocked(nowMs int64) bool {
	l := p.mu.leader
	if l == nil {
		return false
	}
	leo, hw := p.log.LogEndOffset(), p.log.HighWatermark()
	if leo < hw {
		// The high watermark never moves backwards on the leader.
		_ = invariants.AssertionFailedf("replica: %s-%d log end offset %d below high watermark %d", p.Topic, p.Index, leo, hw)
		return false
	}
	next, ok := l.highWatermark(leo, nowMs)
	if !ok || next <= hw {
		return false
	}
	p.log.SetHighWatermark(next)
	return true
}

// checkLeaderEpoch implements the current_leader_epoch check of Fetch,
// ListOffsets and OffsetForLeaderEpoch (KIP-320): -1 skips it.
func (p *Partition) checkLeaderEpoch(st *partitionState, current int32) error {
	switch {
	case current < 0 || current == st.leaderEpoch:
		return nil
	case current < st.leaderEpoch:
		return apierror.New(kerr.FencedLeaderEpoch, "")
	default:
		return apierror.New(kerr.UnknownLeaderEpoch, "")
	}
}

func (p *Partition) leaderState(currentLeaderEpoch int32) (*partitionState, error) {
	st := p.state.Load()
	if !st.isLeader {
		return nil, apierror.New(kerr.NotLeaderForPartition, "")
	}
	if err := p.checkLeaderEpoch(st, currentLeaderEpoch); err != nil {
		return nil, err
	}
	return st, nil
}

// AppendResult is the outcome of a successful Append.
type AppendResult struct {
	BaseOffset     int64
	LastOffset     int64 // offset of the last record appended
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
	// Duplicate says the batch repeated one the producer had already
	// appended (storage.AppendInfo.Duplicate): nothing was written, the
	// offsets are the original's and LogAppendTime is its max timestamp,
	// as Kafka answers. An acks=all caller waits for the original.
	Duplicate bool
}

// Append validates one produced batch (Kafka 4 produce requests carry
// exactly one RecordBatch v2 per partition) and appends it as leader.
// With acks=-1 it checks min.insync.replicas first (NOT_ENOUGH_REPLICAS);
// the caller then waits for replication with Purgatory.Add and
// RequiredOffset LastOffset+1 (for a duplicate, the original's: it waits
// like the original would). The returned error is an *apierror.Error
// carrying Kafka's code; an idempotent producer's sequence or epoch
// problem is OUT_OF_ORDER_SEQUENCE_NUMBER or INVALID_PRODUCER_EPOCH.
// Transactional batches are not checked against transaction
// verification (see AppendVerified).
func (p *Partition) Append(batch []byte, acks int16) (AppendResult, error) {
	return p.appendLeader(batch, acks, false, nil)
}

// AppendVerified is Append with KIP-890 transaction verification
// (txnverify.go): a transactional batch whose producer has no open
// transaction here at its epoch is appended only under g, the guard of a
// verification the transaction coordinator answered for it, still
// current (INVALID_TXN_STATE otherwise). g may be nil when
// StartTxnVerification found the transaction open.
func (p *Partition) AppendVerified(batch []byte, acks int16, g *TxnGuard) (AppendResult, error) {
	return p.appendLeader(batch, acks, true, g)
}

func (p *Partition) appendLeader(batch []byte, acks int16, verify bool, g *TxnGuard) (AppendResult, error) {
	st, err := p.leaderState(-1)
	if err != nil {
		return AppendResult{}, err
	}
	tc := st.config
	if acks == -1 {
		if err := p.checkMinISRForAcksAll(); err != nil {
			return AppendResult{}, err
		}
	}
	if int64(len(batch)) > int64(tc.MaxMessageBytes) {
		return AppendResult{}, apierror.New(kerr.MessageTooLarge, "The batch size of %d bytes exceeds the maximum configured value of %d.", len(batch), tc.MaxMessageBytes)
	}
	if int64(len(batch)) > tc.Log.SegmentBytes {
		return AppendResult{}, apierror.New(kerr.RecordListTooLarge, "The batch size of %d bytes exceeds segment.bytes %d.", len(batch), tc.Log.SegmentBytes)
	}
	now := p.now()
	info, err := record.Validate(batch, record.ValidateOptions{
		Now:                  now,
		LogAppendTime:        tc.LogAppendTime,
		TimestampBeforeMaxMs: tc.TimestampBeforeMaxMs,
		TimestampAfterMaxMs:  tc.TimestampAfterMaxMs,
		Compacted:            tc.Compacted,
		Topic:                p.Topic,
		Partition:            p.Index,
	})
	if err != nil {
		return AppendResult{}, validationError(err)
	}
	// A topic compression.type other than "producer" recompresses (Kafka's
	// LogValidator does the same).
	if target, ok := record.CodecByName(tc.CompressionType); ok && target != info.Header.Codec() && !info.Control {
		if batch, err = record.Recompress(batch, target); err != nil {
			return AppendResult{}, validationError(err)
		}
		if int64(len(batch)) > int64(tc.MaxMessageBytes) {
			return AppendResult{}, apierror.New(kerr.MessageTooLarge, "The batch size of %d bytes after recompression exceeds the maximum configured value of %d.", len(batch), tc.MaxMessageBytes)
		}
	}
	appendTime := int64(-1)
	if tc.LogAppendTime {
		appendTime = now.UnixMilli()
	}
	p.appendMu.Lock()
	// Leadership may have moved since the check above; transitions take
	// appendMu, so this one holds until the append is done.
	if cur := p.state.Load(); !cur.isLeader || cur.leaderEpoch != st.leaderEpoch {
		p.appendMu.Unlock()
		return AppendResult{}, apierror.New(kerr.NotLeaderForPartition, "")
	}
	if verify {
		if err := p.checkClientTxnLocked(info.Header, st.leaderEpoch, g); err != nil {
			p.appendMu.Unlock()
			return AppendResult{}, err
		}
	}
	ai, err := p.log.Append(batch, st.leaderEpoch, appendTime)
	if err == nil && !ai.Duplicate {
		p.txnAppendedLocked(info.Header)
	}
	if err == nil && ai.Duplicate {
		// Nothing new: no high watermark to move, no fetch to wake.
		p.appendMu.Unlock()
		return AppendResult{BaseOffset: ai.FirstOffset, LastOffset: ai.LastOffset, LogAppendTime: ai.LogAppendTime, LogStartOffset: ai.LogStartOffset, Duplicate: true}, nil
	}
	advanced := false
	if err == nil {
		p.mu.Lock()
		advanced = p.maybeIncrementHighWatermarkLocked(p.env.nowMs())
		p.mu.Unlock()
	}
	p.appendMu.Unlock()
	if err != nil {
		return AppendResult{}, appendError(err)
	}
	if advanced && p.env.purgatory != nil {
		p.env.purgatory.checkPartition(p)
	}
	p.wake()
	return AppendResult{BaseOffset: ai.FirstOffset, LastOffset: ai.LastOffset, LogAppendTime: appendTime, LogStartOffset: ai.LogStartOffset}, nil
}

// appendError maps a failed log append to Kafka's code: the producer
// state checks (storage/producerstate.go) to theirs, anything else to
// KAFKA_STORAGE_ERROR.
func appendError(err error) error {
	switch {
	case errors.Is(err, storage.ErrOutOfOrderSequence):
		return apierror.Wrap(kerr.OutOfOrderSequenceNumber, err)
	case errors.Is(err, storage.ErrInvalidProducerEpoch):
		return apierror.Wrap(kerr.InvalidProducerEpoch, err)
	case errors.Is(err, storage.ErrInvalidTxnState):
		return apierror.Wrap(kerr.InvalidTxnState, err)
	case errors.Is(err, storage.ErrTransactionCoordinatorFenced):
		return apierror.Wrap(kerr.TransactionCoordinatorFenced, err)
	}
	return apierror.New(kerr.KafkaStorageError, "%v", err)
}

// ActiveProducers returns the producer state of the partition's log
// (DescribeProducers), or NOT_LEADER_OR_FOLLOWER unless this node leads
// it, as Kafka's Partition.activeProducerState.
func (p *Partition) ActiveProducers() ([]storage.ProducerState, error) {
	if _, err := p.leaderState(-1); err != nil {
		return nil, err
	}
	return p.log.ActiveProducers(), nil
}

// validationError maps a record validation failure to Kafka's code.
func validationError(err error) error {
	switch {
	case errors.Is(err, record.ErrInvalidTimestamp):
		return apierror.Wrap(kerr.InvalidTimestamp, err)
	case errors.Is(err, record.ErrUnsupportedCompression):
		return apierror.Wrap(kerr.UnsupportedCompressionType, err)
	case errors.Is(err, record.ErrInvalid):
		return apierror.Wrap(kerr.InvalidRecord, err)
	default:
		return apierror.Wrap(kerr.CorruptMessage, err)
	}
}

// Isolation levels, as in Fetch and ListOffsets. IsolationLogEnd is
// Kafka's FetchIsolation.LOG_END, for requests from replicas (replica_id
// >= 0): ListOffset then answers up to the log end offset.
const (
	ReadUncommitted int8 = 0
	ReadCommitted   int8 = 1
	IsolationLogEnd int8 = -1
)

// ReadResult is what Read returns: whole batches as stored, and the
// partition's offsets at the time of the read.
type ReadResult struct {
	Data             []byte
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	// AbortedTransactions are, for read_committed, the aborted
	// transactions overlapping Data (storage.Log.ReadCommitted), for the
	// Fetch response's aborted_transactions; the caller owns them.
	AbortedTransactions []storage.AbortedTxn
}

// Read returns batches from offset, up to maxBytes (at least one batch if
// minOneBatch), bounded by the high watermark, or for read_committed by
// the last stable offset, with the aborted transactions the data overlaps
// (Kafka's FetchIsolation.TXN_COMMITTED). currentLeaderEpoch is checked as
// in KIP-320.
func (p *Partition) Read(offset int64, maxBytes int, isolation int8, currentLeaderEpoch int32, minOneBatch bool) (ReadResult, error) {
	if _, err := p.leaderState(currentLeaderEpoch); err != nil {
		return ReadResult{}, err
	}
	return p.readUpToHighWatermark(offset, maxBytes, isolation, minOneBatch)
}

// readUpToHighWatermark reads for a consumer, on a leader or (KIP-392) a
// follower: up to this replica's high watermark, or for read_committed
// its last stable offset. A follower's last stable offset comes from its
// own copy of the transactions (storage/lso.go), bounded by its high
// watermark.
func (p *Partition) readUpToHighWatermark(offset int64, maxBytes int, isolation int8, minOneBatch bool) (ReadResult, error) {
	hw := p.log.HighWatermark()
	res := ReadResult{HighWatermark: hw, LastStableOffset: min(p.log.LastStableOffset(), hw), LogStartOffset: p.log.LogStartOffset()}
	if offset > hw && offset <= p.log.LogEndOffset() {
		// Between the HW and the LEO: nothing visible yet.
		return res, nil
	}
	var info storage.ReadInfo
	var err error
	if isolation == ReadCommitted {
		info, err = p.log.ReadCommitted(offset, maxBytes, minOneBatch)
	} else {
		info, err = p.log.Read(offset, maxBytes, hw, minOneBatch)
	}
	if err != nil {
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			return res, apierror.New(kerr.OffsetOutOfRange, "")
		}
		return res, apierror.New(kerr.KafkaStorageError, "%v", err)
	}
	res.Data = info.Data
	res.LogStartOffset = info.LogStartOffset
	if isolation == ReadCommitted {
		// The offsets the read was bounded by.
		res.HighWatermark, res.LastStableOffset = info.HighWatermark, info.LastStableOffset
		res.AbortedTransactions = info.AbortedTxns
	}
	return res, nil
}

// Special ListOffsets timestamps.
const (
	LatestTimestamp        int64 = -1
	EarliestTimestamp      int64 = -2
	MaxTimestamp           int64 = -3
	EarliestLocalTimestamp int64 = -4
	LatestTieredTimestamp  int64 = -5
)

// ListOffset answers ListOffsets for one partition: the offset and
// timestamp for timestamp, or (-1, -1) when no record is that recent.
// The latest offset is the last fetchable one: the high watermark, the
// last stable offset for read_committed (KIP-98), the log end offset for a
// replica; lookups by timestamp (MAX_TIMESTAMP too) answer only offsets
// below it, as Kafka's Partition.fetchOffsetForTimestamp does. Clients
// (isolation >= 0) get OFFSET_NOT_AVAILABLE for the latest offset or a
// timestamp lookup while a new leader's high watermark is still below the
// start of its epoch (KIP-207), so that the offsets they see never go
// backwards across a leader change.
func (p *Partition) ListOffset(timestamp int64, isolation int8, currentLeaderEpoch int32) (offset, ts int64, epoch int32, err error) {
	st, err := p.leaderState(currentLeaderEpoch)
	if err != nil {
		return -1, -1, -1, err
	}
	epoch = st.leaderEpoch
	hw := p.log.HighWatermark()
	limit := hw // the last fetchable offset
	lagging := false
	switch isolation {
	case IsolationLogEnd:
		limit = p.log.LogEndOffset()
	case ReadCommitted:
		limit = min(p.log.LastStableOffset(), hw)
	}
	if start, ok := p.EpochStartOffset(); ok && start > hw && isolation != IsolationLogEnd {
		lagging = true
	}
	notAvailable := func() error {
		return apierror.New(kerr.OffsetNotAvailable, "Failed to fetch offsets for partition %s-%d with leader epoch %d as this partition's high watermark (%d) is lagging behind the start offset from the beginning of this epoch", p.Topic, p.Index, epoch, hw)
	}
	switch timestamp {
	case LatestTimestamp:
		if lagging {
			return -1, -1, -1, notAvailable()
		}
		return limit, -1, epoch, nil
	case EarliestTimestamp, EarliestLocalTimestamp:
		return p.log.LogStartOffset(), -1, epoch, nil
	case LatestTieredTimestamp:
		return -1, -1, -1, nil
	case MaxTimestamp:
		mts, moff := p.log.MaxTimestamp()
		if moff < 0 || moff >= limit {
			return -1, -1, -1, nil
		}
		return moff, mts, epoch, nil
	}
	if timestamp < 0 {
		return -1, -1, -1, apierror.New(kerr.InvalidRequest, "invalid timestamp %d", timestamp)
	}
	off, fts, ok := p.log.OffsetForTimestamp(timestamp)
	if !ok || off >= limit {
		return -1, -1, -1, nil
	}
	if lagging {
		return -1, -1, -1, notAvailable()
	}
	return off, fts, epoch, nil
}

// DeleteRecords moves the log start offset to offset (-1 = the high
// watermark) and returns the new low watermark.
func (p *Partition) DeleteRecords(offset int64) (int64, error) {
	if _, err := p.leaderState(-1); err != nil {
		return -1, err
	}
	hw := p.log.HighWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return -1, apierror.New(kerr.OffsetOutOfRange, "Cannot increment the log start offset to %d of partition %s-%d since it is larger than the high watermark %d", offset, p.Topic, p.Index, hw)
	}
	lso, err := p.log.DeleteRecordsBefore(offset)
	if err != nil {
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			return -1, apierror.New(kerr.OffsetOutOfRange, "%v", err)
		}
		return -1, apierror.New(kerr.KafkaStorageError, "%v", err)
	}
	return lso, nil
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101/KIP-279).
func (p *Partition) EndOffsetForEpoch(epoch, currentLeaderEpoch int32) (int32, int64, error) {
	if _, err := p.leaderState(currentLeaderEpoch); err != nil {
		return -1, -1, err
	}
	e, off := p.log.EndOffsetForEpoch(epoch)
	return e, off, nil
}

// Waiter is woken when any partition it watches gets new data. Create
// with Manager.Watch and Close it when done.
type Waiter struct {
	// C receives a value (non-blocking, capacity one) after an append.
	C          chan struct{}
	partitions []*Partition
}

// Watch returns a Waiter on partitions.
func (m *Manager) Watch(partitions []*Partition) *Waiter {
	w := &Waiter{C: make(chan struct{}, 1), partitions: partitions}
	for _, p := range partitions {
		p.mu.Lock()
		if !p.mu.closed {
			p.mu.waiters[w] = struct{}{}
		}
		p.mu.Unlock()
	}
	return w
}

// Close unregisters the waiter.
func (w *Waiter) Close() {
	for _, p := range w.partitions {
		p.mu.Lock()
		delete(p.mu.waiters, w)
		p.mu.Unlock()
	}
}

func (p *Partition) wake() {
	p.mu.Lock()
	for w := range p.mu.waiters {
		select {
		case w.C <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
}

// close wakes every waiter (so they notice the partition is gone) and
// refuses new ones.
func (p *Partition) close() {
	p.mu.Lock()
	p.mu.closed = true
	for w := range p.mu.waiters {
		select {
		case w.C <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
}
