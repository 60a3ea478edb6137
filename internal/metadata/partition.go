package metadata

import "slices"

// NoLeader is the Leader of a partition without one (Kafka's
// LeaderConstants.NO_LEADER).
const NoLeader int32 = -1

// Merge returns p changed by r, a PartitionChangeRecord, as Kafka's
// PartitionRegistration.merge does, except that epochs are absolute:
//
//	Replicas, ISR                     nil: unchanged
//	AddingReplicas, RemovingReplicas  nil: unchanged; empty: cleared
//	Leader, LeaderEpoch,              always taken from r
//	PartitionEpoch
//
// Merge does not check r against p; Image.Apply rejects a change whose
// PartitionEpoch is not p's plus one. p is not modified, and the returned
// Partition shares r's slices.
func (p Partition) Merge(r Record) Partition {
	if r.Replicas != nil {
		p.Replicas = r.Replicas
	}
	if r.ISR != nil {
		p.ISR = r.ISR
	}
	if r.AddingReplicas != nil {
		p.AddingReplicas = nilIfEmpty(r.AddingReplicas)
	}
	if r.RemovingReplicas != nil {
		p.RemovingReplicas = nilIfEmpty(r.RemovingReplicas)
	}
	p.Leader = r.Leader
	p.LeaderEpoch = r.LeaderEpoch
	p.PartitionEpoch = r.PartitionEpoch
	return p
}

// Reassigning reports whether a reassignment of p is in progress (Kafka's
// PartitionReassignmentReplicas.isReassignmentInProgress).
func (p Partition) Reassigning() bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// PreferredLeader returns the first replica, the leader a balanced
// cluster gives the partition, or NoLeader if there are no replicas.
func (p Partition) PreferredLeader() int32 {
	if len(p.Replicas) == 0 {
		return NoLeader
	}
	return p.Replicas[0]
}

// InISR reports whether broker is in p's ISR.
func (p Partition) InISR(broker int32) bool { return slices.Contains(p.ISR, broker) }

func nilIfEmpty(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return s
}
