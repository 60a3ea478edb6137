package replica

import (
	"errors"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// This file drives the leader side of a Partition: the transitions from
// metadata (becomeLeader, becomeFollower), follower fetches
// (ReadForFollower), the high watermark, and ISR changes through
// AlterPartition. The decisions are leaderState's; this code takes the
// locks, reads the log and the clock, and acts on the outputs outside the
// locks (purgatory, waiters, AlterPartition).

// defaultReplicaLagTimeMaxMs is replica.lag.time.max.ms's default.
const defaultReplicaLagTimeMaxMs = 30000

// partitionEnv is what every Partition of a Manager shares.
type partitionEnv struct {
	self           int32
	now            func() time.Time
	logger         *slog.Logger
	lagTimeMaxMs   int64
	brokers        func(id int32) (BrokerInfo, bool)
	brokerEpoch    func() int64
	alterPartition func(*AlterPartitionRequest)
	purgatory      *Purgatory
}

func (e *partitionEnv) nowMs() int64 { return e.now().UnixMilli() }

func (e *partitionEnv) selfEpoch() int64 {
	if e.brokerEpoch == nil {
		return -1
	}
	return e.brokerEpoch()
}

// update applies the partition's registration and config, as leader or as
// follower. It reports whether this node now follows reg.Leader at a
// leader epoch it did not know before, so its fetcher must (re)start.
func (p *Partition) update(reg metadata.Partition, tc TopicConfig) (startFetching bool) {
	p.log.SetConfig(tc.Log)
	if reg.Leader == p.env.self {
		p.becomeLeader(reg, tc)
		return false
	}
	return p.becomeFollower(reg, tc) && reg.Leader >= 0
}

// storeConfigLocked swaps in tc, keeping the applied registration.
func (p *Partition) storeConfigLocked(tc TopicConfig) {
	st := *p.state.Load()
	st.config = tc
	p.state.Store(&st)
	if p.mu.leader != nil {
		p.mu.leader.minISR = tc.MinInsyncReplicas
	}
}

// becomeLeader makes this node the partition's leader per reg (Kafka's
// Partition.makeLeader). A registration older than the one applied
// (smaller partition epoch) changes nothing but the config; the same one
// again changes nothing either, so an AlterPartition in flight survives
// unrelated metadata. A new leader epoch records its start offset (the log
// end offset) in the leader epoch cache, larger than any epoch a follower
// may ask about, and resets the followers' progress; a new partition epoch
// at the same leader epoch (a committed ISR change) replaces the ISR.
func (p *Partition) becomeLeader(reg metadata.Partition, tc TopicConfig) {
	p.appendMu.Lock()
	p.mu.Lock()
	if p.state.Load() != nil && (reg.PartitionEpoch < p.mu.partitionEpoch ||
		(p.mu.leader != nil && reg.LeaderEpoch == p.mu.leaderEpoch && reg.PartitionEpoch == p.mu.partitionEpoch)) {
		p.storeConfigLocked(tc)
		advanced := p.maybeIncrementHighWatermarkLocked(p.env.nowMs()) // min ISR may have changed
		p.mu.Unlock()
		p.appendMu.Unlock()
		p.afterLeaderChange(advanced)
		return
	}
	nowMs := p.env.nowMs()
	leo := p.log.LogEndOffset()
	isNewLeader := p.mu.leader == nil
	isNewEpoch := reg.LeaderEpoch > p.mu.leaderEpoch
	switch {
	case isNewLeader:
		p.mu.leader = newLeaderState(p.env.self, reg, leo, nowMs)
	case isNewEpoch:
		p.mu.leader.newLeaderEpoch(reg, leo, nowMs)
	default:
		p.mu.leader.setAssignment(reg)
		p.mu.leader.partitionEpoch = reg.PartitionEpoch
	}
	l := p.mu.leader
	l.lagTimeMaxMs = p.env.lagTimeMaxMs
	l.minISR = tc.MinInsyncReplicas
	l.brokers = p.env.brokers
	l.selfEpoch = p.env.selfEpoch()
	if isNewLeader || isNewEpoch {
		if e, ok := p.log.LatestEpoch(); !ok || e < reg.LeaderEpoch {
			if err := p.log.AssignEpoch(reg.LeaderEpoch, leo); err != nil {
				p.env.logger.Error("record leader epoch start offset", "topic", p.Topic, "partition", p.Index, "epoch", reg.LeaderEpoch, "offset", leo, "err", err)
			}
		}
		p.env.logger.Info("became leader", "topic", p.Topic, "partition", p.Index,
			"leader_epoch", reg.LeaderEpoch, "partition_epoch", reg.PartitionEpoch, "epoch_start_offset", leo,
			"high_watermark", p.log.HighWatermark(), "isr", reg.ISR)
	}
	p.mu.leaderEpoch, p.mu.partitionEpoch = reg.LeaderEpoch, reg.PartitionEpoch
	p.state.Store(&partitionState{
		leader:      reg.Leader,
		leaderEpoch: reg.LeaderEpoch,
		replicas:    reg.Replicas,
		isr:         reg.ISR,
		isLeader:    true,
		config:      tc,
	})
	advanced := p.maybeIncrementHighWatermarkLocked(nowMs)
	p.mu.Unlock()
	p.appendMu.Unlock()
	p.afterLeaderChange(advanced)
}

// becomeFollower makes this node a follower of reg.Leader (-1: no leader)
// per reg (Kafka's Partition.makeFollower). It drops any leader state, so
// that waiting acks=all produces complete with NOT_LEADER_OR_FOLLOWER and
// long-polling fetches return. It reports whether the leader epoch is new.
func (p *Partition) becomeFollower(reg metadata.Partition, tc TopicConfig) bool {
	p.appendMu.Lock()
	p.mu.Lock()
	if p.state.Load() != nil && reg.PartitionEpoch < p.mu.partitionEpoch {
		p.storeConfigLocked(tc)
		p.mu.Unlock()
		p.appendMu.Unlock()
		return false
	}
	isNewEpoch := reg.LeaderEpoch > p.mu.leaderEpoch
	wasLeader := p.mu.leader != nil
	p.mu.leader = nil
	p.mu.leaderEpoch, p.mu.partitionEpoch = reg.LeaderEpoch, reg.PartitionEpoch
	p.state.Store(&partitionState{
		leader:      reg.Leader,
		leaderEpoch: reg.LeaderEpoch,
		replicas:    reg.Replicas,
		isr:         reg.ISR,
		isLeader:    false,
		config:      tc,
	})
	if isNewEpoch {
		p.env.logger.Info("became follower", "topic", p.Topic, "partition", p.Index,
			"leader", reg.Leader, "leader_epoch", reg.LeaderEpoch, "log_end_offset", p.log.LogEndOffset(),
			"high_watermark", p.log.HighWatermark())
	}
	p.mu.Unlock()
	p.appendMu.Unlock()
	if wasLeader {
		p.afterLeaderChange(true)
	}
	return isNewEpoch
}

// afterLeaderChange tells the purgatory and the fetch waiters, with no
// lock held, that the high watermark or the leadership moved.
func (p *Partition) afterLeaderChange(changed bool) {
	if !changed {
		return
	}
	if p.env.purgatory != nil {
		p.env.purgatory.checkPartition(p)
	}
	p.wake()
}

// checkMinISRForAcksAll returns NOT_ENOUGH_REPLICAS when the committed
// ISR is smaller than the effective min.insync.replicas (checked before
// an acks=all append, as Kafka's appendRecordsToLeader does).
func (p *Partition) checkMinISRForAcksAll() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.mu.leader
	if l == nil {
		return apierror.New(kerr.NotLeaderForPartition, "")
	}
	if l.underMinISR() {
		return apierror.New(kerr.NotEnoughReplicas, "The size of the current ISR %v is insufficient to satisfy the min.isr requirement of %d for partition %s-%d", l.isr, l.effectiveMinISR(), p.Topic, p.Index)
	}
	return nil
}

// checkEnoughReplicasReachOffset answers the purgatory for one pending
// acks=all append: done when the high watermark has reached
// requiredOffset; NOT_LEADER_OR_FOLLOWER once this node no longer leads.
func (p *Partition) checkEnoughReplicasReachOffset(requiredOffset int64) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.leader == nil || p.mu.closed {
		return false, apierror.New(kerr.NotLeaderForPartition, "")
	}
	return p.mu.leader.enoughReplicas(requiredOffset, p.log.HighWatermark())
}

// ISRState returns, while this node leads the partition, the committed
// ISR, the maximal ISR (with a broker being added), the partition epoch,
// and whether an AlterPartition is in flight. ok is false on a follower.
func (p *Partition) ISRState() (isr, maximal []int32, partitionEpoch int32, inflight, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.mu.leader
	if l == nil {
		return nil, nil, -1, false, false
	}
	return slices.Clone(l.isr), slices.Clone(l.maximalISR()), l.partitionEpoch, l.pending != nil, true
}

// FollowerFetch is one partition of a Fetch request from a follower
// (replica_id, or replica_state from v15, is a broker id).
type FollowerFetch struct {
	ReplicaID          int32
	BrokerEpoch        int64 // replica_state.replica_epoch (v15+); -1 before
	CurrentLeaderEpoch int32 // -1: not checked
	FetchOffset        int64
	LastFetchedEpoch   int32 // v12+; -1: none
	LogStartOffset     int64 // the follower's; -1 if unknown
	MaxBytes           int
	MinOneBatch        bool
	// SkipStateUpdate reads without recording the follower's progress:
	// for the re-reads of a long-polling fetch, whose first read
	// recorded it (Kafka's readFromPurgatory).
	SkipStateUpdate bool
}

// FollowerReadResult is what ReadForFollower returns. Data is owned by
// the caller.
type FollowerReadResult struct {
	// Data is whole batches from FetchOffset, up to the log end offset:
	// followers read past the high watermark.
	Data []byte
	// The leader's offsets as of before the read.
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	LogEndOffset     int64
	// DivergingEpoch and DivergingEndOffset are set (>= 0) when the
	// follower's log diverges from the leader's at FetchOffset (KIP-320,
	// Fetch v12+): the leader's largest epoch <= LastFetchedEpoch and
	// where it ends. Data is then empty and the follower must truncate.
	DivergingEpoch     int32
	DivergingEndOffset int64
}

// ReadForFollower serves a follower's fetch of this partition (Kafka's
// Partition.fetchRecords for a follower): it checks the leader epoch and
// the replica, detects a diverging log from LastFetchedEpoch, reads up to
// the log end offset, then records the follower's progress, which may
// advance the high watermark (completing acks=all produces) and propose
// adding the follower to the ISR. Errors are *apierror.Error:
// FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER,
// UNKNOWN_LEADER_EPOCH for an unknown replica at the current epoch,
// OFFSET_OUT_OF_RANGE, KAFKA_STORAGE_ERROR.
func (p *Partition) ReadForFollower(f FollowerFetch) (FollowerReadResult, error) {
	res := FollowerReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, LogEndOffset: -1, DivergingEpoch: -1, DivergingEndOffset: -1}
	st := p.state.Load()
	if err := p.checkLeaderEpoch(st, f.CurrentLeaderEpoch); err != nil {
		return res, err
	}
	if !st.isLeader {
		return res, apierror.New(kerr.NotLeaderForPartition, "")
	}
	p.mu.Lock()
	known := p.mu.leader != nil && p.mu.leader.isFollower(f.ReplicaID)
	p.mu.Unlock()
	if !known {
		if f.CurrentLeaderEpoch >= 0 {
			return res, apierror.New(kerr.UnknownLeaderEpoch, "Replica %d is not recognized as a valid replica of %s-%d in leader epoch %d", f.ReplicaID, p.Topic, p.Index, st.leaderEpoch)
		}
		return res, apierror.New(kerr.NotLeaderForPartition, "Replica %d is not recognized as a valid replica of %s-%d", f.ReplicaID, p.Topic, p.Index)
	}

	// The offsets before the read: appends after it must not keep the
	// follower from counting as caught up.
	res.HighWatermark, res.LogStartOffset, res.LogEndOffset = p.log.HighWatermark(), p.log.LogStartOffset(), p.log.LogEndOffset()
	res.LastStableOffset = min(p.log.LastStableOffset(), res.HighWatermark)
	if f.LastFetchedEpoch >= 0 {
		epoch, end := p.log.EndOffsetForEpoch(f.LastFetchedEpoch)
		if epoch < 0 || end < 0 {
			return res, apierror.New(kerr.OffsetOutOfRange, "Could not determine the end offset of the last fetched epoch %d", f.LastFetchedEpoch)
		}
		if f.FetchOffset < res.LogStartOffset {
			return res, apierror.New(kerr.OffsetOutOfRange, "Received request for offset %d for partition %s-%d, but we only have log segments in the range %d to %d.", f.FetchOffset, p.Topic, p.Index, res.LogStartOffset, res.LogEndOffset)
		}
		if epoch < f.LastFetchedEpoch || end < f.FetchOffset {
			res.DivergingEpoch, res.DivergingEndOffset = epoch, end
			return res, nil
		}
	}
	info, err := p.log.Read(f.FetchOffset, f.MaxBytes, math.MaxInt64, f.MinOneBatch)
	if err != nil {
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			return res, apierror.New(kerr.OffsetOutOfRange, "Received request for offset %d for partition %s-%d, but we only have log segments in the range %d to %d.", f.FetchOffset, p.Topic, p.Index, info.LogStartOffset, info.LogEndOffset)
		}
		return res, apierror.New(kerr.KafkaStorageError, "%v", err)
	}
	res.Data = info.Data
	if f.SkipStateUpdate {
		return res, nil
	}

	nowMs := p.env.nowMs()
	p.mu.Lock()
	l := p.mu.leader
	if l == nil || l.leaderEpoch != st.leaderEpoch || !l.isFollower(f.ReplicaID) {
		p.mu.Unlock()
		return FollowerReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, LogEndOffset: -1, DivergingEpoch: -1, DivergingEndOffset: -1},
			apierror.New(kerr.NotLeaderForPartition, "")
	}
	if err := l.updateFollower(f.ReplicaID, f.FetchOffset, f.LogStartOffset, res.LogEndOffset, f.BrokerEpoch, nowMs); err != nil {
		p.mu.Unlock()
		return FollowerReadResult{HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, LogEndOffset: -1, DivergingEpoch: -1, DivergingEndOffset: -1},
			apierror.New(kerr.NotLeaderForPartition, "Received stale fetch state update from replica %d with broker epoch %d", f.ReplicaID, f.BrokerEpoch)
	}
	req := l.maybeExpand(f.ReplicaID, p.log.HighWatermark())
	if req != nil {
		p.fillRequest(req)
	}
	advanced := p.maybeIncrementHighWatermarkLocked(nowMs)
	p.mu.Unlock()
	if req != nil {
		p.env.logger.Info("expanding ISR", "topic", p.Topic, "partition", p.Index, "new_isr", req.ISR(), "leader_epoch", req.LeaderEpoch, "partition_epoch", req.PartitionEpoch)
		p.sendAlterPartition(req)
	}
	p.afterLeaderChange(advanced)
	return res, nil
}

func (p *Partition) fillRequest(req *AlterPartitionRequest) {
	req.Topic, req.TopicID, req.Partition = p.Topic, p.TopicID, p.Index
}

func (p *Partition) sendAlterPartition(req *AlterPartitionRequest) {
	if p.env.alterPartition != nil {
		p.env.alterPartition(req)
	}
}

// maybeShrinkISR proposes removing the followers that have not caught up
// within replica.lag.time.max.ms from the ISR (Kafka's maybeShrinkIsr,
// run by the Manager's isr-expiration task).
func (p *Partition) maybeShrinkISR() {
	p.mu.Lock()
	l := p.mu.leader
	if l == nil || p.mu.closed {
		p.mu.Unlock()
		return
	}
	leo := p.log.LogEndOffset()
	req := l.maybeShrink(leo, p.env.nowMs())
	if req != nil {
		p.fillRequest(req)
	}
	hw := p.log.HighWatermark()
	p.mu.Unlock()
	if req != nil {
		p.env.logger.Info("shrinking ISR", "topic", p.Topic, "partition", p.Index, "new_isr", req.ISR(),
			"high_watermark", hw, "log_end_offset", leo, "leader_epoch", req.LeaderEpoch, "partition_epoch", req.PartitionEpoch)
		p.sendAlterPartition(req)
	}
}

// handleAlterPartitionResponse applies the controller's answer to an
// AlterPartition request this partition sent.
func (p *Partition) handleAlterPartitionResponse(req *AlterPartitionRequest, res AlterPartitionResult) {
	p.mu.Lock()
	l := p.mu.leader
	if l == nil {
		p.mu.Unlock()
		return
	}
	committed, retry := l.applyAlterPartition(req, res)
	if committed {
		p.mu.partitionEpoch = l.partitionEpoch
		st := *p.state.Load()
		st.isr = slices.Clone(l.isr)
		p.state.Store(&st)
		p.maybeIncrementHighWatermarkLocked(p.env.nowMs())
	}
	p.mu.Unlock()
	switch {
	case committed:
		p.env.logger.Info("ISR updated", "topic", p.Topic, "partition", p.Index, "isr", res.ISR, "partition_epoch", res.PartitionEpoch)
		// The ISR changed: NOT_ENOUGH_REPLICAS_AFTER_APPEND may now apply.
		p.afterLeaderChange(true)
	case retry:
		p.sendAlterPartition(req)
	case res.Err != nil:
		p.env.logger.Info("AlterPartition failed", "topic", p.Topic, "partition", p.Index, "new_isr", req.ISR(), "err", res.Err)
	}
}

// EpochStartOffset returns, while this node leads the partition, the
// offset its leader epoch started at.
func (p *Partition) EpochStartOffset() (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.leader == nil {
		return -1, false
	}
	return p.mu.leader.epochStartOffset, true
}
