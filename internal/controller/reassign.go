package controller

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// ReassignmentsRequest is an AlterPartitionReassignments request (key 45,
// KIP-455; v1 adds allow_replication_factor_change, KIP-860).
type ReassignmentsRequest struct {
	// DisallowReplicationFactorChange is the negation of the request's
	// allow_replication_factor_change (wire default true), so that the
	// zero value behaves as Kafka's default.
	DisallowReplicationFactorChange bool
	Partitions                      []PartitionReassignment
}

// PartitionReassignment is the target of one partition. Replicas nil
// cancels the partition's reassignment.
type PartitionReassignment struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// ReassignmentResult is the outcome for one partition; Err is nil on
// success.
type ReassignmentResult struct {
	Topic     string
	Partition int32
	Err       error
}

// AlterPartitionReassignments starts, changes or cancels reassignments
// (ReplicationControlManager.alterPartitionReassignments). The records of
// all partitions form one batch. A reassignment goes through the stages
// of Kafka's changePartitionReassignment:
//
//  1. replicas become target + removing, with AddingReplicas = target -
//     current and RemovingReplicas = current - target;
//  2. leaders fetch-in the adding replicas and add them to the ISR with
//     AlterPartition;
//  3. once the ISR holds every replica of the target, the same partition
//     change drops the removing replicas from the replicas and the ISR,
//     clears both lists and, if the leader was being removed, elects a
//     new one (partitionChange.completeReassignment).
//
// A reassignment that only reorders or removes replicas completes at
// once. A new target replaces an ongoing reassignment: its adding and
// removing lists are recomputed from the current replicas. Cancelling
// reverts to the original replicas, dropping adding replicas from the
// ISR; if only adding replicas are in sync that needs an unclean election
// and is refused unless the topic allows one. Per partition:
//
//	UNKNOWN_TOPIC_OR_PARTITION   no such topic or partition
//	INVALID_REPLICA_ASSIGNMENT   empty target, duplicate or unregistered
//	                             broker, or a revert needing an unclean
//	                             election
//	INVALID_REPLICATION_FACTOR   replica count changes while disallowed
//	NO_REASSIGNMENT_IN_PROGRESS  cancel with nothing to cancel
func (c *Cluster) AlterPartitionReassignments(im *metadata.Image, req ReassignmentsRequest) Result[[]ReassignmentResult] {
	p := newPlan(im)
	out := make([]ReassignmentResult, len(req.Partitions))
	for i, r := range req.Partitions {
		out[i] = ReassignmentResult{Topic: r.Topic, Partition: r.Partition, Err: c.reassign(p, r, !req.DisallowReplicationFactorChange)}
	}
	return Result[[]ReassignmentResult]{Records: p.records, Response: out}
}

func (c *Cluster) reassign(p *plan, r PartitionReassignment, allowRFChange bool) error {
	t, ok := p.im.Topic(r.Topic)
	if !ok {
		return apierror.New(kerr.UnknownTopicOrPartition, "Unable to find a topic named %s.", r.Topic)
	}
	if r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
		return apierror.New(kerr.UnknownTopicOrPartition, "Unable to find partition %s:%d.", r.Topic, r.Partition)
	}
	part := p.partition(t, r.Partition)
	b := newPartitionChange(t.ID, r.Partition, part, p.active)
	if r.Replicas == nil {
		if !part.Reassigning() {
			return apierror.New(kerr.NoReassignmentInProgress, "")
		}
		// PartitionReassignmentRevert.
		replicas := without(part.Replicas, part.AddingReplicas...)
		isr := without(part.ISR, part.AddingReplicas...)
		unclean := c.uncleanEnabled(p.im, t.Name)
		if len(isr) == 0 {
			if !unclean {
				return apierror.New(kerr.InvalidReplicaAssignment, "Unable to revert partition assignment for %s:%d because it would require an unclean leader election.", r.Topic, r.Partition)
			}
			isr = []int32{replicas[0]}
		}
		if unclean {
			b.election = electUnclean
		}
		b.isr, b.replicas, b.adding, b.removing = isr, replicas, nil, nil
	} else {
		if err := c.validateAssignment(p.im, r.Replicas); err != nil {
			return err
		}
		if !allowRFChange {
			n := len(part.Replicas)
			if part.Reassigning() {
				n = len(without(part.Replicas, part.RemovingReplicas...))
			}
			if n != len(r.Replicas) {
				return apierror.New(kerr.InvalidReplicationFactor, "The replication factor is changed from %d to %d", n, len(r.Replicas))
			}
		}
		// PartitionReassignmentReplicas(current, target).
		removing := without(part.Replicas, r.Replicas...)
		slices.Sort(removing)
		adding := without(r.Replicas, part.Replicas...)
		slices.Sort(adding)
		b.replicas = append(slices.Clone(r.Replicas), removing...)
		b.adding, b.removing = adding, removing
	}
	if rec, ok := b.build(); ok {
		c.logChange(t.Name, part, rec)
		p.add(rec)
	}
	return nil
}

// validateAssignment checks a manual assignment (ReplicationControlManager.
// validateManualPartitionAssignment): not empty, registered brokers, no
// broker twice.
func (c *Cluster) validateAssignment(im *metadata.Image, replicas []int32) error {
	if len(replicas) == 0 {
		return apierror.New(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
	}
	sorted := slices.Sorted(slices.Values(replicas))
	for i, id := range sorted {
		if _, ok := im.Broker(id); !ok {
			return apierror.New(kerr.InvalidReplicaAssignment, "The manual partition assignment includes broker %d, but no such broker is registered.", id)
		}
		if i > 0 && sorted[i-1] == id {
			return apierror.New(kerr.InvalidReplicaAssignment, "The manual partition assignment includes the broker %d more than once.", id)
		}
	}
	return nil
}

// OngoingReassignment is one partition being reassigned.
type OngoingReassignment struct {
	Topic            string
	Partition        int32
	Replicas         []int32
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// ListPartitionReassignments lists reassignments in progress
// (ListPartitionReassignments, key 46). topics nil lists every one;
// otherwise only the named partitions, skipping unknown topics and
// partitions and those not being reassigned, as Kafka does. It needs no
// records. The slices returned are the caller's.
func (c *Cluster) ListPartitionReassignments(im *metadata.Image, topics []TopicPartitions) []OngoingReassignment {
	var out []OngoingReassignment
	add := func(t *metadata.Topic, i int32) {
		if i < 0 || int(i) >= len(t.Partitions) || !t.Partitions[i].Reassigning() {
			return
		}
		part := t.Partitions[i]
		out = append(out, OngoingReassignment{
			Topic: t.Name, Partition: i,
			Replicas:         slices.Clone(part.Replicas),
			AddingReplicas:   append([]int32{}, part.AddingReplicas...),
			RemovingReplicas: append([]int32{}, part.RemovingReplicas...),
		})
	}
	if topics == nil {
		for _, name := range im.TopicNames() {
			t, _ := im.Topic(name)
			for i := range t.Partitions {
				add(t, int32(i))
			}
		}
		return out
	}
	for _, tp := range topics {
		t, ok := im.Topic(tp.Topic)
		if !ok {
			continue
		}
		for _, i := range tp.Partitions {
			add(t, i)
		}
	}
	return out
}
