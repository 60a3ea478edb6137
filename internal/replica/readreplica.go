package replica

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
)

// This file is the replica side of fetching from the closest replica
// (KIP-392): the leader's view of which replicas could serve a consumer
// (ReadReplicas, the input of a replica selector), and consumer reads
// served by a follower (ReadFromReplica).

// ReplicaView is one replica a consumer could read from, as the leader
// sees it (Kafka's ReplicaSelector.ReplicaView).
type ReplicaView struct {
	BrokerID       int32
	LogStartOffset int64
	LogEndOffset   int64
	// TimeSinceLastCaughtUpMs is how long ago the replica last had
	// everything the leader had; 0 for the leader.
	TimeSinceLastCaughtUpMs int64
}

// ReadReplicas returns, while this node leads the partition, the leader's
// own view and those of the followers that could serve a consumer fetching
// at fetchOffset (Kafka's ReplicaManager.findPreferredReadReplica): in the
// committed ISR, with fetchOffset inside their log as of their last fetch.
// Followers are in broker id order. ok is false when this node does not
// lead the partition.
func (p *Partition) ReadReplicas(fetchOffset int64) (leader ReplicaView, followers []ReplicaView, ok bool) {
	nowMs := p.env.nowMs()
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.mu.leader
	if l == nil || p.mu.closed {
		return ReplicaView{}, nil, false
	}
	leader = ReplicaView{BrokerID: p.env.self, LogStartOffset: p.log.LogStartOffset(), LogEndOffset: p.log.LogEndOffset()}
	for _, id := range l.isr {
		f, ok := l.followers[id]
		if !ok || id == p.env.self {
			continue
		}
		if f.logEndOffset < fetchOffset || f.logStartOffset > fetchOffset {
			continue
		}
		followers = append(followers, ReplicaView{
			BrokerID:                id,
			LogStartOffset:          f.logStartOffset,
			LogEndOffset:            f.logEndOffset,
			TimeSinceLastCaughtUpMs: max(0, nowMs-f.lastCaughtUpTimeMs),
		})
	}
	slices.SortFunc(followers, func(a, b ReplicaView) int { return int(a.BrokerID) - int(b.BrokerID) })
	return leader, followers, true
}

// ReadFromReplica serves a consumer fetch that may be answered by any
// replica (Fetch v11+, KIP-392: Kafka's fetchOnlyFromLeader is false once
// the client sends client metadata). On the leader it is Read; on a
// follower it checks currentLeaderEpoch against the leader epoch this
// follower knows (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH, KIP-320)
// and reads up to the follower's own high watermark, which trails the
// leader's by one fetch round trip.
func (p *Partition) ReadFromReplica(offset int64, maxBytes int, isolation int8, currentLeaderEpoch int32, minOneBatch bool) (ReadResult, error) {
	st := p.state.Load()
	if st.isLeader {
		return p.Read(offset, maxBytes, isolation, currentLeaderEpoch, minOneBatch)
	}
	if err := p.checkLeaderEpoch(st, currentLeaderEpoch); err != nil {
		return ReadResult{}, err
	}
	p.mu.Lock()
	closed := p.mu.closed
	p.mu.Unlock()
	if closed {
		return ReadResult{}, apierror.New(kerr.NotLeaderForPartition, "")
	}
	return p.readUpToHighWatermark(offset, maxBytes, isolation, minOneBatch)
}
