package replica

import (
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// This file is the leader's view of its followers (Kafka's Partition
// leader state and Replica.ReplicaState) as a deterministic state machine:
// no locks, no log, no clock. Its inputs are the partition registration,
// follower fetches and the time in milliseconds; its outputs are the
// offset the high watermark may move to and AlterPartition requests. The
// driver (leader.go) owns it under Partition.mu.

// BrokerInfo is what the leader needs to know of another broker from the
// metadata image (Kafka's KRaftMetadataCache: broker registrations).
type BrokerInfo struct {
	Epoch                int64 // the broker epoch of its current registration; -1 if unknown
	Fenced               bool
	InControlledShutdown bool
}

// ISRMember is one broker of a proposed ISR with the broker epoch the
// leader last saw in its fetches (KIP-903), or -1 when unknown.
type ISRMember struct {
	BrokerID    int32
	BrokerEpoch int64
}

// AlterPartitionRequest is an ISR change a leader proposes to the
// controller (Kafka's AlterPartition, KIP-497). The leader does not change
// its ISR when it proposes one: the controller commits the change to the
// metadata log and the leader applies it from the AlterPartition response
// (Manager.HandleAlterPartitionResponse) or from the next metadata image,
// whichever comes first. Until then the change is in flight and no other
// is proposed. The slices are owned by the receiver.
type AlterPartitionRequest struct {
	Topic               string
	TopicID             metadata.TopicID
	Partition           int32
	LeaderID            int32
	LeaderEpoch         int32
	PartitionEpoch      int32
	NewISR              []ISRMember
	LeaderRecoveryState int8 // always 0, RECOVERED
}

// ISR returns the broker ids of NewISR.
func (r *AlterPartitionRequest) ISR() []int32 {
	ids := make([]int32, len(r.NewISR))
	for i, m := range r.NewISR {
		ids[i] = m.BrokerID
	}
	return ids
}

// AlterPartitionResult is the controller's answer to an
// AlterPartitionRequest for one partition: Err, a *kerr.Error (or any
// error for a request that could not be sent), or the partition's
// committed leader epoch, partition epoch and ISR.
type AlterPartitionResult struct {
	Err            error
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
}

// followerProgress is Kafka's Replica.ReplicaState for one follower, as
// the leader sees it. Offsets are -1 while unknown.
type followerProgress struct {
	logStartOffset int64
	logEndOffset   int64 // the fetch offset of its last fetch
	// lastFetchLeaderLogEndOffset is the leader's log end offset at the
	// follower's previous fetch, and lastFetchTimeMs that fetch's time.
	lastFetchLeaderLogEndOffset int64
	lastFetchTimeMs             int64
	// lastCaughtUpTimeMs is the last time the follower had everything the
	// leader had (see updateFollower).
	lastCaughtUpTimeMs int64
	brokerEpoch        int64 // from its fetches; -1 = fetch without one
	hasBrokerEpoch     bool  // a fetch was seen since this node became leader
}

// caughtUp is Kafka's ReplicaState.isCaughtUp: at the leader's log end
// offset, or caught up within the last lagMs.
func (f *followerProgress) caughtUp(leaderLEO, nowMs, lagMs int64) bool {
	return f.logEndOffset == leaderLEO || nowMs-f.lastCaughtUpTimeMs <= lagMs
}

// leaderState is the state of a partition this node leads.
type leaderState struct {
	self         int32
	lagTimeMaxMs int64
	// minISR is min.insync.replicas as configured.
	minISR int32
	// brokers looks brokers up in the metadata image; nil treats every
	// broker as registered, unfenced and of unknown epoch.
	brokers func(id int32) (BrokerInfo, bool)
	// selfEpoch is this broker's epoch, for its own ISR entry.
	selfEpoch int64

	leaderEpoch    int32
	partitionEpoch int32
	// epochStartOffset is the leader's log end offset when it took
	// leaderEpoch: a follower joins the ISR only once it has reached it.
	epochStartOffset int64
	replicas         []int32
	isr              []int32 // the committed ISR

	// pending is the AlterPartition request in flight, nil if none;
	// adding is the broker it adds to the ISR, -1 for a shrink.
	pending *AlterPartitionRequest
	adding  int32

	followers map[int32]*followerProgress
}

// newLeaderState returns the state of a partition this node has just
// become leader of at reg.LeaderEpoch, its log ending at leo (which
// becomes the epoch start offset). Followers in the ISR count as caught
// up now; the others as never caught up (Kafka's resetReplicaState with
// isNewLeader), so neither holds back the high watermark before fetching.
func newLeaderState(self int32, reg metadata.Partition, leo, nowMs int64) *leaderState {
	s := &leaderState{
		self:             self,
		lagTimeMaxMs:     defaultReplicaLagTimeMaxMs,
		leaderEpoch:      reg.LeaderEpoch,
		partitionEpoch:   reg.PartitionEpoch,
		epochStartOffset: leo,
		adding:           -1,
		followers:        map[int32]*followerProgress{},
		selfEpoch:        -1,
	}
	s.setAssignment(reg)
	for id, f := range s.followers {
		if slices.Contains(s.isr, id) {
			f.lastCaughtUpTimeMs = nowMs
		}
	}
	return s
}

// setAssignment applies the replicas and committed ISR of reg, dropping
// any change in flight. Followers new to the assignment start unknown and
// never caught up; removed ones are forgotten.
func (s *leaderState) setAssignment(reg metadata.Partition) {
	s.replicas = slices.Clone(reg.Replicas)
	s.isr = slices.Clone(reg.ISR)
	s.pending, s.adding = nil, -1
	for id := range s.followers {
		if !slices.Contains(reg.Replicas, id) || id == s.self {
			delete(s.followers, id)
		}
	}
	for _, id := range reg.Replicas {
		if id == s.self {
			continue
		}
		if _, ok := s.followers[id]; !ok {
			s.followers[id] = &followerProgress{logStartOffset: -1, logEndOffset: -1, lastFetchLeaderLogEndOffset: -1, brokerEpoch: -1}
		}
	}
}

// newLeaderEpoch moves the state to a newer leader epoch of a partition
// this node already led (Kafka's makeLeader with a new leader epoch but
// not a new leader): followers keep their offsets and broker epochs, ISR
// members count as caught up and fetched now, the others as neither.
func (s *leaderState) newLeaderEpoch(reg metadata.Partition, leo, nowMs int64) {
	s.setAssignment(reg)
	s.leaderEpoch = reg.LeaderEpoch
	s.partitionEpoch = reg.PartitionEpoch
	s.epochStartOffset = leo
	for id, f := range s.followers {
		inSync := slices.Contains(s.isr, id)
		f.lastFetchLeaderLogEndOffset = leo
		f.lastFetchTimeMs, f.lastCaughtUpTimeMs = 0, 0
		if inSync {
			f.lastFetchTimeMs, f.lastCaughtUpTimeMs = nowMs, nowMs
		}
	}
}

// isFollower reports whether id is a follower this leader tracks.
func (s *leaderState) isFollower(id int32) bool {
	_, ok := s.followers[id]
	return ok
}

// effectiveMinISR is min(min.insync.replicas, replication factor), as
// Kafka uses since 3.7 (KAFKA-15583).
func (s *leaderState) effectiveMinISR() int {
	return min(int(s.minISR), len(s.followers)+1)
}

// underMinISR reports whether the committed ISR is smaller than the
// effective min.insync.replicas.
func (s *leaderState) underMinISR() bool { return len(s.isr) < s.effectiveMinISR() }

// maximalISR is the committed ISR plus a broker being added (KIP-497): a
// larger ISR only makes the high watermark stricter, so an expansion
// counts before it is committed and a shrink only after.
func (s *leaderState) maximalISR() []int32 {
	if s.pending != nil && s.adding >= 0 {
		return append(slices.Clone(s.isr), s.adding)
	}
	return s.isr
}

func (s *leaderState) inMaximalISR(id int32) bool {
	return slices.Contains(s.isr, id) || (s.pending != nil && s.adding == id)
}

// eligible is Kafka's isReplicaIsrEligible: the broker is registered,
// unfenced, not shutting down, and its fetches carried its current broker
// epoch (or none, -1).
func (s *leaderState) eligible(id int32) bool {
	f, ok := s.followers[id]
	if !ok {
		return false
	}
	if s.brokers == nil {
		return true
	}
	info, ok := s.brokers(id)
	if !ok || info.Fenced || info.InControlledShutdown {
		return false
	}
	return f.hasBrokerEpoch && (f.brokerEpoch == -1 || info.Epoch < 0 || f.brokerEpoch == info.Epoch)
}

// updateFollower records a fetch of follower id at fetchOffset, made when
// the leader's log ended at leaderLEO (Kafka's updateFetchStateOrThrow).
// The follower is caught up as of this fetch if it asked for the leader's
// log end offset, or as of its previous fetch if it has now reached what
// the leader had then: so a follower that keeps up with a busy leader is
// in sync even though it never sees the very end. A fetch with a broker
// epoch older than the registered one is refused (errStaleBrokerEpoch).
func (s *leaderState) updateFollower(id int32, fetchOffset, followerLSO, leaderLEO, brokerEpoch, nowMs int64) error {
	f := s.followers[id]
	if brokerEpoch != -1 && s.brokers != nil {
		if info, ok := s.brokers(id); ok && !info.Fenced && info.Epoch > brokerEpoch {
			return errStaleBrokerEpoch
		}
	}
	switch {
	case fetchOffset >= leaderLEO:
		f.lastCaughtUpTimeMs = max(f.lastCaughtUpTimeMs, nowMs)
	case fetchOffset >= f.lastFetchLeaderLogEndOffset:
		f.lastCaughtUpTimeMs = max(f.lastCaughtUpTimeMs, f.lastFetchTimeMs)
	}
	f.logStartOffset = followerLSO
	f.logEndOffset = fetchOffset
	f.lastFetchLeaderLogEndOffset = max(leaderLEO, f.lastFetchLeaderLogEndOffset)
	f.lastFetchTimeMs = nowMs
	f.brokerEpoch, f.hasBrokerEpoch = brokerEpoch, true
	return nil
}

// highWatermark returns the offset the high watermark may advance to
// (Kafka's maybeIncrementLeaderHW; the caller keeps it monotonic): the
// smallest log end offset among the leader, the maximal ISR, and the
// followers caught up and eligible to join the ISR (so that a catching-up
// follower is not left forever behind a racing high watermark). ok is
// false under min ISR, where the high watermark must not move (KIP-966,
// KAFKA-15583).
func (s *leaderState) highWatermark(leaderLEO, nowMs int64) (hw int64, ok bool) {
	if s.underMinISR() {
		return 0, false
	}
	hw = leaderLEO
	for id, f := range s.followers {
		if f.logEndOffset >= hw {
			continue
		}
		if s.inMaximalISR(id) || (f.caughtUp(leaderLEO, nowMs, s.lagTimeMaxMs) && s.eligible(id)) {
			hw = f.logEndOffset
		}
	}
	return hw, true
}

// maybeExpand proposes adding follower id to the ISR (Kafka's
// maybeExpandIsr) when no change is in flight, it is eligible, and its log
// end offset has reached both the high watermark and the start of the
// leader's epoch: a follower short of the epoch start could be elected
// and lose committed records between the HW and its own end.
func (s *leaderState) maybeExpand(id int32, hw int64) *AlterPartitionRequest {
	if s.pending != nil || slices.Contains(s.isr, id) || !s.eligible(id) {
		return nil
	}
	f := s.followers[id]
	if f.logEndOffset < hw || f.logEndOffset < s.epochStartOffset {
		return nil
	}
	s.pending = s.proposal(append(slices.Clone(s.isr), id))
	s.adding = id
	return s.pending
}

// outOfSync returns the ISR followers that are not caught up within
// replica.lag.time.max.ms (Kafka's getOutOfSyncReplicas); none while a
// change is in flight.
func (s *leaderState) outOfSync(leaderLEO, nowMs int64) []int32 {
	if s.pending != nil {
		return nil
	}
	var out []int32
	for _, id := range s.isr {
		if id == s.self {
			continue
		}
		f, ok := s.followers[id]
		if !ok || !f.caughtUp(leaderLEO, nowMs, s.lagTimeMaxMs) {
			out = append(out, id)
		}
	}
	return out
}

// maybeShrink proposes removing the out-of-sync followers from the ISR
// (Kafka's maybeShrinkIsr). Unlike an expansion, the maximal ISR stays the
// committed one until the controller confirms, so a rejected shrink never
// let the high watermark run ahead.
func (s *leaderState) maybeShrink(leaderLEO, nowMs int64) *AlterPartitionRequest {
	out := s.outOfSync(leaderLEO, nowMs)
	if len(out) == 0 {
		return nil
	}
	var isr []int32
	for _, id := range s.isr {
		if !slices.Contains(out, id) {
			isr = append(isr, id)
		}
	}
	s.pending = s.proposal(isr)
	s.adding = -1
	return s.pending
}

// proposal builds an AlterPartition request for isr with the broker
// epochs known (KIP-903): the leader's own, and the followers' from their
// fetches (-1 when none was seen; the controller then skips the check).
func (s *leaderState) proposal(isr []int32) *AlterPartitionRequest {
	req := &AlterPartitionRequest{LeaderID: s.self, LeaderEpoch: s.leaderEpoch, PartitionEpoch: s.partitionEpoch}
	for _, id := range isr {
		m := ISRMember{BrokerID: id, BrokerEpoch: -1}
		if id == s.self {
			m.BrokerEpoch = s.selfEpoch
		} else if f, ok := s.followers[id]; ok && f.hasBrokerEpoch {
			m.BrokerEpoch = f.brokerEpoch
		}
		req.NewISR = append(req.NewISR, m)
	}
	return req
}

// applyAlterPartition applies the controller's answer to req (Kafka's
// handleAlterPartitionUpdate / handleAlterPartitionError). committed
// reports that the ISR or partition epoch moved (the high watermark may
// then advance); retry that req should be sent again. An answer to a
// request that is no longer the one in flight is ignored.
func (s *leaderState) applyAlterPartition(req *AlterPartitionRequest, res AlterPartitionResult) (committed, retry bool) {
	if s.pending == nil || s.pending != req {
		return false, false
	}
	if res.Err != nil {
		var ke *kerr.Error
		if !errors.As(res.Err, &ke) {
			return false, true // not answered (controller unreachable): resend
		}
		switch ke {
		case kerr.OperationNotAttempted, kerr.IneligibleReplica:
			// The controller says the partition epoch is current and the
			// change was not applied: back to the committed state.
			s.pending, s.adding = nil, -1
		case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.FencedLeaderEpoch,
			kerr.InvalidUpdateVersion, kerr.InvalidRequest, kerr.NewLeaderElected:
			// Our state is stale: stay pending until metadata says more.
		default:
			return false, true
		}
		return false, false
	}
	if res.LeaderEpoch != s.leaderEpoch || res.PartitionEpoch < s.partitionEpoch {
		return false, false // stale answer; metadata will sort it out
	}
	s.isr = slices.Clone(res.ISR)
	s.partitionEpoch = res.PartitionEpoch
	s.pending, s.adding = nil, -1
	return true, false
}

// enoughReplicas is Kafka's checkEnoughReplicasReachOffset for acks=all:
// done once the high watermark has reached requiredOffset, with
// NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR has by then shrunk below
// the effective min.insync.replicas.
func (s *leaderState) enoughReplicas(requiredOffset, hw int64) (bool, error) {
	if hw < requiredOffset {
		return false, nil
	}
	if len(s.maximalISR()) < s.effectiveMinISR() {
		return true, apierror.New(kerr.NotEnoughReplicasAfterAppend, "The number of in-sync replicas %d is below min.insync.replicas %d", len(s.maximalISR()), s.effectiveMinISR())
	}
	return true, nil
}
