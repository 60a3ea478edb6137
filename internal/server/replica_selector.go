package server

// Fetching from the closest replica (KIP-392). With
// replica.selector.class set to Kafka's RackAwareReplicaSelector, the
// leader answers a consumer's Fetch (v11+) that carries a rack_id with
// preferred_read_replica: a follower in the ISR, in the consumer's rack,
// whose log holds the fetch offset, and no records. The consumer then
// fetches from that follower, which serves it up to its own high
// watermark (replica.Partition.ReadFromReplica).
//
//	consumer (rack b) ──Fetch v11+, rack_id=b──▶ leader (rack a)
//	        ◀── preferred_read_replica=2, no records ──┘
//	consumer ──Fetch──▶ follower 2 (rack b): records up to its HW

import (
	"cmp"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
)

// RackAwareReplicaSelector is the replica.selector.class value that turns
// on rack-aware follower fetching, Kafka's class name.
const RackAwareReplicaSelector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"

// readReplica is a replica a consumer could read from: the leader's view
// of its progress and the rack of its broker ("" when unknown).
type readReplica struct {
	replica.ReplicaView
	rack string
}

// selectRackAware is Kafka's RackAwareReplicaSelector.select: without a
// client rack, or with no replica in it, the leader; the leader when it is
// in the client's rack; otherwise the most caught-up replica of the rack
// (largest log end offset, then shortest time since caught up, then lowest
// broker id, so the choice is deterministic).
func selectRackAware(clientRack string, leader readReplica, followers []readReplica) readReplica {
	if clientRack == "" || leader.rack == clientRack {
		return leader
	}
	var best *readReplica
	for i := range followers {
		f := &followers[i]
		if f.rack != clientRack {
			continue
		}
		if best == nil || compareReplicas(*f, *best) > 0 {
			best = f
		}
	}
	if best == nil {
		return leader
	}
	return *best
}

// compareReplicas orders replicas from least to most preferred (Kafka's
// ReplicaView.comparator, with the broker id as the last tie-break).
func compareReplicas(a, b readReplica) int {
	if c := cmp.Compare(a.LogEndOffset, b.LogEndOffset); c != 0 {
		return c
	}
	if c := cmp.Compare(b.TimeSinceLastCaughtUpMs, a.TimeSinceLastCaughtUpMs); c != 0 {
		return c
	}
	return cmp.Compare(b.BrokerID, a.BrokerID)
}

// preferredReadReplica returns the replica a consumer in clientRack
// fetching p at fetchOffset on listener should read from instead of this
// leader, or -1 to read here (Kafka's
// ReplicaManager.findPreferredReadReplica): only with the rack-aware
// selector configured, only on the leader, and only a follower alive on
// the consumer's listener.
func (s *Server) preferredReadReplica(im *metadata.Image, p *replica.Partition, fetchOffset int64, clientRack, listener string) int32 {
	if s.cfg.ReplicaSelectorClass != RackAwareReplicaSelector || clientRack == "" || !clusterImage(im) {
		return -1
	}
	leader, followers, ok := p.ReadReplicas(fetchOffset)
	if !ok {
		return -1
	}
	rackOf := func(id int32) (string, bool) {
		n, ok := s.aliveBroker(im, id, listener)
		if !ok || n.rack == nil {
			return "", ok
		}
		return *n.rack, true
	}
	lr, _ := rackOf(leader.BrokerID)
	l := readReplica{ReplicaView: leader, rack: lr}
	var candidates []readReplica
	for _, f := range followers {
		// A replica without an endpoint on this listener cannot be
		// named (Kafka gives it Node.noNode and never picks it).
		if rack, ok := rackOf(f.BrokerID); ok {
			candidates = append(candidates, readReplica{ReplicaView: f, rack: rack})
		}
	}
	chosen := selectRackAware(clientRack, l, candidates)
	if chosen.BrokerID == leader.BrokerID {
		return -1
	}
	return chosen.BrokerID
}
