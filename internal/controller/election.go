package controller

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// election says where a partition change may look for a new leader
// (Kafka's PartitionChangeBuilder.Election).
type election int8

const (
	// electOnline keeps the partition online from the ISR only.
	electOnline election = iota
	// electPreferred moves leadership to the first replica if it is in
	// the ISR, else keeps or picks an ISR leader as electOnline does.
	electPreferred
	// electUnclean is electOnline that, with no eligible ISR member,
	// takes any acceptable replica and makes it the whole ISR. This can
	// lose acknowledged records; only unclean.leader.election.enable or
	// an explicit UNCLEAN ElectLeaders asks for it.
	electUnclean
)

// partitionChange turns a target ISR, replica set or reassignment into a
// PartitionChangeRecord, electing a leader on the way. It is Kafka's
// PartitionChangeBuilder (metadata/.../controller/PartitionChangeBuilder.java)
// without ELR (KIP-966), directories and leader recovery state:
//
//  1. complete a reassignment whose adding replicas have all joined the
//     target ISR (PartitionReassignmentReplicas.maybeCompleteReassignment);
//  2. elect: keep the leader if it is still in the target ISR and
//     acceptable, else the first acceptable target-ISR replica (preferred
//     election tries replicas[0] first); unclean election falls back to
//     any acceptable replica and sets the ISR to it alone;
//  3. a leader change, or a replica leaving the replica set, bumps the
//     leader epoch; every record bumps the partition epoch;
//  4. an empty target ISR leaves the ISR alone (the last ISR member of a
//     partition whose leader went away stays in it, leaderless).
//
// build returns false when nothing changes.
type partitionChange struct {
	topicID metadata.TopicID
	index   int32
	cur     metadata.Partition
	// acceptable says whether a broker may lead (Kafka's LeaderAcceptor).
	acceptable func(int32) bool
	election   election

	isr, replicas, adding, removing []int32
}

func newPartitionChange(topicID metadata.TopicID, index int32, cur metadata.Partition, acceptable func(int32) bool) *partitionChange {
	return &partitionChange{
		topicID:    topicID,
		index:      index,
		cur:        cur,
		acceptable: acceptable,
		isr:        slices.Clone(cur.ISR),
		replicas:   slices.Clone(cur.Replicas),
		adding:     slices.Clone(cur.AddingReplicas),
		removing:   slices.Clone(cur.RemovingReplicas),
	}
}

func (b *partitionChange) build() (metadata.Record, bool) {
	b.completeReassignment()
	rec := metadata.Record{
		Type:           metadata.TypePartitionChg,
		TopicID:        b.topicID,
		Partition:      b.index,
		Leader:         b.cur.Leader,
		LeaderEpoch:    b.cur.LeaderEpoch,
		PartitionEpoch: b.cur.PartitionEpoch + 1,
	}
	bumpLeaderEpoch := false
	if leader, unclean := b.electLeader(); leader != b.cur.Leader {
		rec.Leader = leader
		bumpLeaderEpoch = true
		if unclean {
			rec.ISR = []int32{leader}
		}
	}
	// triggerLeaderEpochBumpForReplicaReassignmentIfNeeded: a replica
	// leaving the assignment must see a new epoch so it stops fetching.
	if !containsAll(b.replicas, b.cur.Replicas) {
		bumpLeaderEpoch = true
	}
	if rec.ISR == nil && len(b.isr) > 0 && !slices.Equal(b.isr, b.cur.ISR) {
		rec.ISR = slices.Clone(b.isr)
	}
	if len(b.replicas) > 0 && !slices.Equal(b.replicas, b.cur.Replicas) {
		rec.Replicas = slices.Clone(b.replicas)
	}
	if !slices.Equal(b.removing, b.cur.RemovingReplicas) {
		rec.RemovingReplicas = append([]int32{}, b.removing...)
	}
	if !slices.Equal(b.adding, b.cur.AddingReplicas) {
		rec.AddingReplicas = append([]int32{}, b.adding...)
	}
	if !bumpLeaderEpoch && rec.ISR == nil && rec.Replicas == nil && rec.RemovingReplicas == nil && rec.AddingReplicas == nil {
		return rec, false
	}
	if bumpLeaderEpoch {
		rec.LeaderEpoch++
	}
	return rec, true
}

// validLeader reports whether r may lead cleanly: in the target ISR and
// acceptable (PartitionChangeBuilder.isValidNewLeader).
func (b *partitionChange) validLeader(r int32) bool {
	return r >= 0 && slices.Contains(b.isr, r) && b.acceptable(r)
}

// electLeader returns the leader after the change and whether choosing it
// was unclean (it is not in the ISR).
func (b *partitionChange) electLeader() (int32, bool) {
	if b.election == electPreferred {
		if len(b.replicas) > 0 && b.validLeader(b.replicas[0]) {
			return b.replicas[0], false
		}
		if b.validLeader(b.cur.Leader) {
			return b.cur.Leader, false
		}
		for _, r := range b.replicas[min(1, len(b.replicas)):] {
			if b.validLeader(r) {
				return r, false
			}
		}
		return metadata.NoLeader, false
	}
	if b.validLeader(b.cur.Leader) {
		return b.cur.Leader, false
	}
	for _, r := range b.replicas {
		if b.validLeader(r) {
			return r, false
		}
	}
	if b.election == electUnclean {
		for _, r := range b.replicas {
			if b.acceptable(r) {
				return r, true
			}
		}
	}
	return metadata.NoLeader, false
}

// completeReassignment finishes a reassignment once the target ISR holds
// every replica the reassignment keeps: the removing replicas leave the
// replica set and the ISR, and the adding/removing lists clear. It does
// nothing if that would leave the ISR or the replicas empty.
func (b *partitionChange) completeReassignment() {
	if len(b.adding) == 0 && len(b.removing) == 0 {
		return
	}
	isr, replicas := b.isr, b.replicas
	if len(b.removing) > 0 {
		isr = without(b.isr, b.removing...)
		replicas = without(b.replicas, b.removing...)
		if len(isr) == 0 || len(replicas) == 0 {
			return
		}
	}
	if !containsAll(isr, replicas) {
		return
	}
	b.isr, b.replicas = isr, replicas
	b.adding, b.removing = nil, nil
}

// without returns s minus the given values, in s's order, as a new slice.
func without(s []int32, drop ...int32) []int32 {
	out := make([]int32, 0, len(s))
	for _, v := range s {
		if !slices.Contains(drop, v) {
			out = append(out, v)
		}
	}
	return out
}

// containsAll reports whether every element of sub is in s.
func containsAll(s, sub []int32) bool {
	for _, v := range sub {
		if !slices.Contains(s, v) {
			return false
		}
	}
	return true
}

// uncleanEnabled returns unclean.leader.election.enable for topic: the
// topic's override, else the dynamic cluster default, else the static
// value (Kafka's ConfigurationControlManager.uncleanLeaderElectionEnabledForTopic).
func (c *Cluster) uncleanEnabled(im *metadata.Image, topic string) bool {
	const name = "unclean.leader.election.enable"
	if v, ok := im.Configs(metadata.ConfigResource{Type: metadata.ResourceTopic, Name: topic})[name]; ok {
		return strings.EqualFold(v, "true")
	}
	if v, ok := im.Configs(metadata.ConfigResource{Type: metadata.ResourceBroker})[name]; ok {
		return strings.EqualFold(v, "true")
	}
	return c.cfg.UncleanLeaderElection
}

// updateLeaderAndISR plans, for every partition want selects, the removal
// of broker remove from the ISR (unless it is metadata.NoLeader) and a
// new leader where the current one is no longer acceptable, judged by the
// plan's view of the brokers (ReplicationControlManager.
// generateLeaderAndIsrUpdates). Topics with unclean leader election
// enabled elect uncleanly when they must.
func (c *Cluster) updateLeaderAndISR(p *plan, remove int32, want func(metadata.Partition) bool) {
	p.forEachPartition(func(t *metadata.Topic, i int32, part metadata.Partition) {
		if !want(part) {
			return
		}
		b := newPartitionChange(t.ID, i, part, p.active)
		if c.uncleanEnabled(p.im, t.Name) {
			b.election = electUnclean
		}
		if remove != metadata.NoLeader {
			b.isr = without(part.ISR, remove)
		}
		if rec, ok := b.build(); ok {
			c.logChange(t.Name, part, rec)
			p.add(rec)
		}
	})
}

func (c *Cluster) logChange(topic string, before metadata.Partition, rec metadata.Record) {
	if rec.Leader == before.Leader {
		return
	}
	unclean := rec.Leader != metadata.NoLeader && !before.InISR(rec.Leader)
	if unclean {
		c.cfg.Logger.Warn("unclean leader election", "topic", topic, "partition", rec.Partition, "leader", rec.Leader, "leader_epoch", rec.LeaderEpoch, "previous_isr", before.ISR)
		return
	}
	c.cfg.Logger.Debug("partition leader changed", "topic", topic, "partition", rec.Partition, "from", before.Leader, "to", rec.Leader, "leader_epoch", rec.LeaderEpoch)
}

// ElectionType is the election_type of an ElectLeaders request (KIP-460).
type ElectionType int8

// Election types, with Kafka's values.
const (
	ElectPreferred ElectionType = 0
	ElectUnclean   ElectionType = 1
)

// TopicPartitions names some partitions of one topic.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// ElectLeadersResponse answers ElectLeaders. Err, when set, fails the whole
// request (INVALID_REQUEST for an unknown election type); otherwise every
// partition has a result.
type ElectLeadersResponse struct {
	Err     error
	Results []ElectionResult
}

// ElectionResult is the outcome for one partition; Err is nil on success.
type ElectionResult struct {
	Topic     string
	Partition int32
	Err       error
}

// ElectLeaders runs preferred or unclean leader elections (ElectLeaders,
// key 43, KIP-183 and KIP-460; ReplicationControlManager.electLeaders).
// partitions nil means every partition, and then partitions that need no
// election are left out of the results. Per partition:
//
//	ELECTION_NOT_NEEDED              preferred: the first replica leads;
//	                                 unclean: the partition has a leader
//	PREFERRED_LEADER_NOT_AVAILABLE   no change possible (preferred)
//	ELIGIBLE_LEADERS_NOT_AVAILABLE   no change possible (unclean)
//	UNKNOWN_TOPIC_OR_PARTITION       no such topic or partition
func (c *Cluster) ElectLeaders(im *metadata.Image, typ ElectionType, partitions []TopicPartitions) Result[ElectLeadersResponse] {
	if typ != ElectPreferred && typ != ElectUnclean {
		return Result[ElectLeadersResponse]{Response: ElectLeadersResponse{Err: apierror.New(kerr.InvalidRequest, "Unknown election type %d", typ)}}
	}
	p := newPlan(im)
	var out []ElectionResult
	if partitions == nil {
		for _, name := range im.TopicNames() {
			t, _ := im.Topic(name)
			for i := range t.Partitions {
				err := c.electLeader(p, name, int32(i), typ)
				if apierror.Code(err) != kerr.ElectionNotNeeded.Code {
					out = append(out, ElectionResult{Topic: name, Partition: int32(i), Err: err})
				}
			}
		}
	} else {
		for _, tp := range partitions {
			for _, i := range tp.Partitions {
				out = append(out, ElectionResult{Topic: tp.Topic, Partition: i, Err: c.electLeader(p, tp.Topic, i, typ)})
			}
		}
	}
	return Result[ElectLeadersResponse]{Records: p.records, Response: ElectLeadersResponse{Results: out}}
}

func (c *Cluster) electLeader(p *plan, topic string, i int32, typ ElectionType) error {
	t, ok := p.im.Topic(topic)
	if !ok {
		return apierror.New(kerr.UnknownTopicOrPartition, "No such topic as %s", topic)
	}
	if i < 0 || int(i) >= len(t.Partitions) {
		return apierror.New(kerr.UnknownTopicOrPartition, "No such partition as %s-%d", topic, i)
	}
	part := p.partition(t, i)
	if typ == ElectPreferred && part.Leader == part.PreferredLeader() ||
		typ == ElectUnclean && part.Leader != metadata.NoLeader {
		return apierror.New(kerr.ElectionNotNeeded, "")
	}
	b := newPartitionChange(t.ID, i, part, p.active)
	b.election = electPreferred
	if typ == ElectUnclean {
		b.election = electUnclean
	}
	rec, ok := b.build()
	if !ok {
		if typ == ElectPreferred {
			return apierror.New(kerr.PreferredLeaderNotAvailable, "")
		}
		return apierror.New(kerr.EligibleLeadersNotAvailable, "")
	}
	c.logChange(topic, part, rec)
	p.add(rec)
	return nil
}

// maxElectionsPerImbalance bounds the elections of one leader balancing
// pass (ReplicationControlManager.MAX_ELECTIONS_PER_IMBALANCE).
const maxElectionsPerImbalance = 1000

// BalanceLeaders is the auto.leader.rebalance.enable check: for every
// broker, the share of the partitions it is the preferred leader of that
// it does not lead is its imbalance; where that exceeds
// leader.imbalance.per.broker.percentage, preferred elections move those
// partitions back to it if it is active and in their ISR. This is the
// ZooKeeper controller's per-broker rule (KafkaController.
// checkAndTriggerAutoLeaderRebalance); Kafka's KRaft controller elects
// every imbalanced partition instead. Partitions being reassigned are
// skipped. The response is true if the pass stopped at
// maxElectionsPerImbalance and more elections may be possible.
func (c *Cluster) BalanceLeaders(im *metadata.Image) Result[bool] {
	p := newPlan(im)
	more := c.balanceLeaders(p)
	return Result[bool]{Records: p.records, Response: more}
}

func (c *Cluster) balanceLeaders(p *plan) bool {
	type ref struct {
		t *metadata.Topic
		i int32
	}
	preferred := map[int32]int{}
	misled := map[int32][]ref{}
	p.forEachPartition(func(t *metadata.Topic, i int32, part metadata.Partition) {
		pl := part.PreferredLeader()
		if pl == metadata.NoLeader {
			return
		}
		preferred[pl]++
		if part.Leader != pl {
			misled[pl] = append(misled[pl], ref{t, i})
		}
	})
	elections := 0
	for _, broker := range sortedKeys(misled) {
		refs := misled[broker]
		if len(refs)*100 <= c.cfg.LeaderImbalancePerBrokerPercentage*preferred[broker] || !p.active(broker) {
			continue
		}
		for _, r := range refs {
			part := p.partition(r.t, r.i)
			if part.Reassigning() || !part.InISR(broker) {
				continue
			}
			if elections >= maxElectionsPerImbalance {
				return true
			}
			b := newPartitionChange(r.t.ID, r.i, part, p.active)
			b.election = electPreferred
			if rec, ok := b.build(); ok {
				c.logChange(r.t.Name, part, rec)
				p.add(rec)
				elections++
			}
		}
	}
	return false
}

// electUncleanLeaders plans unclean elections for the leaderless
// partitions of topics that enable unclean.leader.election.enable (for
// a topic whose config was switched on after its partitions went offline).
func (c *Cluster) electUncleanLeaders(p *plan) {
	p.forEachPartition(func(t *metadata.Topic, i int32, part metadata.Partition) {
		if part.Leader != metadata.NoLeader || !c.uncleanEnabled(p.im, t.Name) {
			return
		}
		b := newPartitionChange(t.ID, i, part, p.active)
		b.election = electUnclean
		if rec, ok := b.build(); ok {
			c.logChange(t.Name, part, rec)
			p.add(rec)
		}
	})
}
