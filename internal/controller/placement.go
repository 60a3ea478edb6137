package controller

import (
	"cmp"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// UsableBroker is a broker replicas may be placed on (Kafka's
// placement.UsableBroker).
type UsableBroker struct {
	ID int32
	// Rack is broker.rack, empty for none; brokers without a rack form
	// one rack of their own.
	Rack   string
	Fenced bool
}

// PlacementSpec says which partitions to place (Kafka's PlacementSpec).
type PlacementSpec struct {
	// StartPartition is the index of the first new partition.
	StartPartition    int32
	NumPartitions     int32
	ReplicationFactor int16
}

// Place assigns replicas to spec.NumPartitions new partitions and returns
// each partition's replicas, leader (preferred replica) first. It follows
// the goals of Kafka's StripedReplicaPlacer, in this order:
//
//   - a leader is never fenced, and leaders go round-robin over the
//     unfenced brokers, so every unfenced broker leads within one of
//     every other's share of the new partitions;
//   - followers are unfenced brokers while there are enough of them;
//     fenced brokers are used only when the replication factor cannot be
//     met otherwise (they join the ISR once they catch up);
//   - a partition's replicas spread over as many racks as possible;
//   - replicas spread evenly over brokers, striped from the leader.
//
// Unlike Kafka's placer, which balances leaders only in expectation, the
// round-robin above makes leader balance exact. seed replaces Kafka's
// Random: the starting rack and broker are drawn from it, so a placement
// is a pure function of its inputs.
//
// Errors are *apierror.Error with INVALID_REPLICATION_FACTOR and Kafka's
// placer messages.
func Place(brokers []UsableBroker, spec PlacementSpec, seed uint64) ([][]int32, error) {
	rf := int(spec.ReplicationFactor)
	unfenced := 0
	for _, b := range brokers {
		if !b.Fenced {
			unfenced++
		}
	}
	switch {
	case rf <= 0:
		return nil, apierror.New(kerr.InvalidReplicationFactor, "Invalid replication factor %d: the replication factor must be positive.", rf)
	case rf > len(brokers):
		return nil, apierror.New(kerr.InvalidReplicationFactor, "The target replication factor of %d cannot be reached because only %d broker(s) are registered.", rf, len(brokers))
	case unfenced == 0:
		return nil, apierror.New(kerr.InvalidReplicationFactor, "All brokers are currently fenced.")
	}
	rnd := rand.New(rand.NewPCG(seed, uint64(spec.StartPartition)))

	// Racks in name order, brokers by id, each list rotated by a random
	// offset, then interleaved: one broker of each rack in turn. Leaders
	// walk the unfenced part of this order; followers break ties by
	// distance along it from the leader, which stripes them.
	byRack := map[string][]UsableBroker{}
	for _, b := range brokers {
		byRack[b.Rack] = append(byRack[b.Rack], b)
	}
	racks := rotate(slices.Sorted(maps.Keys(byRack)), rnd.IntN(len(byRack)))
	for _, r := range racks {
		bs := byRack[r]
		slices.SortFunc(bs, func(a, b UsableBroker) int {
			if a.Fenced != b.Fenced {
				if a.Fenced {
					return 1
				}
				return -1
			}
			return cmp.Compare(a.ID, b.ID)
		})
		n := 0
		for n < len(bs) && !bs[n].Fenced {
			n++
		}
		if n > 0 {
			copy(bs, rotate(bs[:n], rnd.IntN(n)))
		}
	}
	var order []UsableBroker
	for i := 0; len(order) < len(brokers); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				order = append(order, byRack[r][i])
			}
		}
	}
	var leaders []int
	for i, b := range order {
		if !b.Fenced {
			leaders = append(leaders, i)
		}
	}

	// load counts each broker's replicas in this placement, its
	// leaderships (known up front) included, so followers even out the
	// total rather than arriving before the leaderships do.
	load := make([]int, len(order))
	for p := range int(spec.NumPartitions) {
		load[leaders[p%len(leaders)]]++
	}
	out := make([][]int32, spec.NumPartitions)
	for p := range out {
		li := leaders[p%len(leaders)]
		replicas := []int32{order[li].ID}
		inRack := map[string]int{order[li].Rack: 1}
		used := map[int]bool{li: true}
		for len(replicas) < rf {
			best := -1
			for i, b := range order {
				if used[i] {
					continue
				}
				if best < 0 || placementLess(b, order[best], inRack, load[i], load[best], dist(li, i, len(order)), dist(li, best, len(order))) {
					best = i
				}
			}
			used[best] = true
			load[best]++
			inRack[order[best].Rack]++
			replicas = append(replicas, order[best].ID)
		}
		out[p] = replicas
	}
	return out, nil
}

// placementLess orders follower candidates: unfenced first, then fewest
// replicas of this partition in the candidate's rack, then least loaded,
// then nearest after the leader in the interleaved order.
func placementLess(a, b UsableBroker, inRack map[string]int, loadA, loadB, distA, distB int) bool {
	if a.Fenced != b.Fenced {
		return !a.Fenced
	}
	if ra, rb := inRack[a.Rack], inRack[b.Rack]; ra != rb {
		return ra < rb
	}
	if loadA != loadB {
		return loadA < loadB
	}
	return distA < distB
}

func dist(from, to, n int) int { return (to - from + n) % n }

func rotate[T any](s []T, k int) []T {
	if len(s) == 0 {
		return s
	}
	k %= len(s)
	return append(slices.Clone(s[k:]), s[:k]...)
}

// replicationError is CreateTopics' and CreatePartitions' answer to a
// failed placement (ReplicationControlManager.createTopic's wording).
func replicationError(rf int, err error) error {
	msg := err.Error()
	if m := apierror.Message(err); m != nil {
		msg = *m
	}
	return apierror.New(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): %s", rf, msg)
}

// placementSeed derives a placement's seed from the topic name, so the
// starting broker differs between topics the way Kafka's random start
// does, while staying reproducible.
func placementSeed(topic string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(topic))
	return h.Sum64()
}

// usableBrokers returns the brokers new replicas may go to: every
// registered broker not in controlled shutdown (Kafka's
// BrokerHeartbeatManager.usableBrokers). Before any broker has registered
// it is self alone (the single-node controller), or none when self < 0
// (a quorum, where brokers must register first).
func usableBrokers(im *metadata.Image, self int32) []UsableBroker {
	if im.NumBrokers() == 0 {
		if self < 0 {
			return nil
		}
		return []UsableBroker{{ID: self}}
	}
	var out []UsableBroker
	for _, b := range im.Brokers() {
		if !b.InControlledShutdown {
			out = append(out, UsableBroker{ID: b.ID, Rack: b.Rack, Fenced: b.Fenced})
		}
	}
	return out
}

// registered reports whether a manual assignment may name broker id.
func registered(im *metadata.Image, self, id int32) bool {
	if im.NumBrokers() == 0 {
		return id == self
	}
	_, ok := im.Broker(id)
	return ok
}

// activeReplicas returns the replicas of a new partition that start in
// its ISR: those on active brokers (ReplicationControlManager.createTopic
// filters with clusterControl::isActive).
func activeReplicas(im *metadata.Image, self int32, replicas []int32) []int32 {
	var isr []int32
	for _, r := range replicas {
		if im.NumBrokers() == 0 && r == self {
			isr = append(isr, r)
		} else if b, ok := im.Broker(r); ok && b.Active() {
			isr = append(isr, r)
		}
	}
	return isr
}

// newPartitionRecord returns the PartitionRecord of a new partition: the
// ISR is its active replicas and the first of them leads. It fails if no
// replica is active.
func newPartitionRecord(im *metadata.Image, self int32, id metadata.TopicID, partition int32, replicas []int32) (metadata.Record, bool) {
	isr := activeReplicas(im, self, replicas)
	if len(isr) == 0 {
		return metadata.Record{}, false
	}
	return metadata.Record{
		Type: metadata.TypePartition, TopicID: id, Partition: partition,
		Replicas: replicas, ISR: isr, Leader: isr[0],
	}, true
}
