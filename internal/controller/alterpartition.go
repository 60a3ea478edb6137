package controller

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// AlterPartitionRequest is an AlterPartition request (key 56, KIP-497;
// v2 addresses topics by id, v3 adds broker epochs to the ISR, KIP-903).
// Kafka 4 accepts only v2+, so topics are named by id here.
type AlterPartitionRequest struct {
	// BrokerID and BrokerEpoch are the sending partition leader's.
	BrokerID    int32
	BrokerEpoch int64
	Topics      []AlterPartitionTopic
}

// AlterPartitionTopic is one topic of an AlterPartitionRequest.
type AlterPartitionTopic struct {
	TopicID    metadata.TopicID
	Partitions []AlterPartitionData
}

// AlterPartitionData is the leader's proposal for one partition: the ISR
// it wants, made at the leader and partition epochs it knows.
type AlterPartitionData struct {
	Partition      int32
	LeaderEpoch    int32
	PartitionEpoch int32
	NewISR         []ISRMember
}

// ISRMember is one replica of a proposed ISR. BrokerEpoch is the epoch
// the leader saw the replica fetch with (v3), or -1 to skip the check.
type ISRMember struct {
	BrokerID    int32
	BrokerEpoch int64
}

// AlterPartitionResponse answers an AlterPartition request. Err, when set,
// fails the whole request (STALE_BROKER_EPOCH).
type AlterPartitionResponse struct {
	Err    error
	Topics []AlterPartitionTopicResult
}

// AlterPartitionTopicResult holds the results of one topic.
type AlterPartitionTopicResult struct {
	TopicID    metadata.TopicID
	Partitions []AlterPartitionResult
}

// AlterPartitionResult is the outcome for one partition: on success (Err
// nil) the partition's state once the response's records are committed.
type AlterPartitionResult struct {
	Partition      int32
	Err            error
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
}

// AlterPartition handles a leader's ISR changes (ReplicationControlManager.
// alterPartition and validateAlterPartitionData). For each partition, in
// Kafka's order of checks:
//
//	UNKNOWN_TOPIC_ID / UNKNOWN_TOPIC_OR_PARTITION
//	NOT_CONTROLLER          request epochs newer than ours: this controller
//	                        is behind, the leader should find the new one
//	FENCED_LEADER_EPOCH     leader epoch older than the partition's
//	INVALID_REQUEST         sender is not the leader
//	INVALID_UPDATE_VERSION  partition epoch older than the partition's
//	INVALID_REQUEST         ISR has duplicates, non-replicas, or lacks
//	                        the leader (so it is never empty)
//	INELIGIBLE_REPLICA      an ISR member is unregistered, fenced, in
//	                        controlled shutdown, or at another broker epoch
//
// An accepted ISR becomes a PartitionChangeRecord bumping the partition
// epoch (and completing a reassignment if every adding replica is now in
// sync). If that moves leadership away from the sender, its result is
// NEW_LEADER_ELECTED, although the change is committed. min.insync.replicas
// is not checked here: Kafka enforces it at produce time.
func (c *Cluster) AlterPartition(im *metadata.Image, req AlterPartitionRequest) Result[AlterPartitionResponse] {
	if _, err := checkBrokerEpoch(im, req.BrokerID, req.BrokerEpoch); err != nil {
		return Result[AlterPartitionResponse]{Response: AlterPartitionResponse{Err: err}}
	}
	p := newPlan(im)
	resp := AlterPartitionResponse{Topics: make([]AlterPartitionTopicResult, 0, len(req.Topics))}
	for _, rt := range req.Topics {
		tr := AlterPartitionTopicResult{TopicID: rt.TopicID, Partitions: make([]AlterPartitionResult, 0, len(rt.Partitions))}
		t, ok := im.TopicByID(rt.TopicID)
		for _, rp := range rt.Partitions {
			if !ok {
				tr.Partitions = append(tr.Partitions, AlterPartitionResult{Partition: rp.Partition, Err: apierror.New(kerr.UnknownTopicID, "")})
				continue
			}
			tr.Partitions = append(tr.Partitions, c.alterPartition(p, req.BrokerID, t, rp))
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return Result[AlterPartitionResponse]{Records: p.records, Response: resp}
}

func (c *Cluster) alterPartition(p *plan, sender int32, t *metadata.Topic, rp AlterPartitionData) AlterPartitionResult {
	res := AlterPartitionResult{Partition: rp.Partition}
	fail := func(code *kerr.Error, format string, args ...any) AlterPartitionResult {
		res.Err = apierror.New(code, format, args...)
		return res
	}
	if rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return fail(kerr.UnknownTopicOrPartition, "")
	}
	part := p.partition(t, rp.Partition)
	switch {
	case rp.LeaderEpoch > part.LeaderEpoch, rp.PartitionEpoch > part.PartitionEpoch:
		return fail(kerr.NotController, "")
	case rp.LeaderEpoch < part.LeaderEpoch:
		return fail(kerr.FencedLeaderEpoch, "")
	case sender != part.Leader:
		return fail(kerr.InvalidRequest, "Broker %d is not the leader of %s-%d; %d is", sender, t.Name, rp.Partition, part.Leader)
	case rp.PartitionEpoch < part.PartitionEpoch:
		return fail(kerr.InvalidUpdateVersion, "")
	}
	isr := make([]int32, len(rp.NewISR))
	for i, m := range rp.NewISR {
		isr[i] = m.BrokerID
	}
	if !validISR(part.Replicas, isr) {
		return fail(kerr.InvalidRequest, "Invalid ISR %v for replicas %v", isr, part.Replicas)
	}
	if !slices.Contains(isr, part.Leader) {
		return fail(kerr.InvalidRequest, "The ISR %v does not include the leader %d", isr, part.Leader)
	}
	for _, m := range rp.NewISR {
		b, ok := p.im.Broker(m.BrokerID)
		var why string
		switch {
		case !ok:
			why = "not registered"
		case b.InControlledShutdown:
			why = "shutting down"
		case b.Fenced:
			why = "fenced"
		case m.BrokerEpoch != -1 && m.BrokerEpoch != b.Epoch:
			why = "broker epoch mismatch"
		}
		if why != "" {
			return fail(kerr.IneligibleReplica, "Replica %d is ineligible for the ISR of %s-%d: %s", m.BrokerID, t.Name, rp.Partition, why)
		}
	}

	b := newPartitionChange(t.ID, rp.Partition, part, p.active)
	if c.uncleanEnabled(p.im, t.Name) {
		b.election = electUnclean
	}
	b.isr = isr
	if rec, ok := b.build(); ok {
		c.logChange(t.Name, part, rec)
		p.add(rec)
		part = part.Merge(rec)
		if rec.Leader != sender {
			// Completing a reassignment moved leadership away.
			return fail(kerr.NewLeaderElected, "")
		}
	}
	res.Leader = part.Leader
	res.LeaderEpoch = part.LeaderEpoch
	res.PartitionEpoch = part.PartitionEpoch
	res.ISR = slices.Clone(part.ISR)
	return res
}

// validISR reports whether isr is a set of distinct replicas (Kafka's
// Replicas.validateIsr; an empty ISR passes here and fails the
// includes-the-leader check).
func validISR(replicas, isr []int32) bool {
	for i, r := range isr {
		if r < 0 || !slices.Contains(replicas, r) || slices.Contains(isr[:i], r) {
			return false
		}
	}
	return true
}
