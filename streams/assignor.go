package streams

import (
	"encoding/binary"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group balancer: it assigns whole tasks, not partitions.
//
// Each member joins with the consumer protocol's metadata (v3): its topics,
// the partitions it owns and its generation, and as user data the tasks
// it has local state for:
//
//	+---------+-----------+------------------------------------------+
//	| version | count (4) | count × (sub-topology (4), partition (4)) |
//	| 1 (1)   |           |                                           |
//	+---------+-----------+------------------------------------------+
//
// The leader derives the tasks from the source topics' partition counts
// (task s_p = partition p of every source topic of sub-topology s, Kafka's
// partition grouper) and assigns them:
//
//  1. each task stays with the member that owns it (claiming it at the
//     highest generation), while that member is under its quotas:
//     ceil(tasks / members) in all, and as much of the task's
//     sub-topology;
//  2. every other task goes to a member under quota, preferring one with
//     local state for it, then the one with the fewest tasks of its
//     sub-topology, then the least loaded.
//
// The protocol is cooperative (KIP-429): a task that moves away from a
// member that still owns it is left out of this round, so that the owner
// revokes it (committing and closing the task) and rejoins; the next
// round gives it to its new member. A task is therefore never processed
// by two members at once, and never split between them.
type taskAssignor struct {
	// tasks returns the tasks of the topology for the given partition
	// counts of real topic names.
	tasks func(counts map[string]int32) map[TaskID][]topicPartition
	// local returns the tasks with local state on this instance.
	local func() []TaskID
}

const assignorProtocol = "gregor-streams"

func (a *taskAssignor) ProtocolName() string { return assignorProtocol }
func (a *taskAssignor) IsCooperative() bool  { return true }

func (a *taskAssignor) JoinGroupMetadata(interests []string, current map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = interests
	meta.Generation = generation
	topics := make([]string, 0, len(current))
	for t := range current {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		owned := kmsg.NewConsumerMemberMetadataOwnedPartition()
		owned.Topic = t
		owned.Partitions = current[t]
		meta.OwnedPartitions = append(meta.OwnedPartitions, owned)
	}
	meta.UserData = encodeUserData(a.local())
	return meta.AppendTo(nil)
}

func (a *taskAssignor) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	return kgo.ParseConsumerSyncAssignment(assignment)
}

func (a *taskAssignor) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	b, err := kgo.NewConsumerBalancer(a, members)
	if err != nil {
		return nil, nil, err
	}
	return b, b.MemberTopics(), nil
}

// Balance implements kgo.ConsumerBalancerBalance.
func (a *taskAssignor) Balance(b *kgo.ConsumerBalancer, counts map[string]int32) kgo.IntoSyncAssignment {
	tasks := a.tasks(counts)
	owner := map[topicPartition]string{}
	ownerGen := map[topicPartition]int32{}
	var members []memberInfo
	b.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		info := memberInfo{id: m.MemberID, local: map[TaskID]bool{}}
		if local, err := decodeUserData(meta.UserData); err == nil {
			for _, id := range local {
				info.local[id] = true
			}
		}
		for _, o := range meta.OwnedPartitions {
			for _, p := range o.Partitions {
				tp := topicPartition{o.Topic, p}
				if g, ok := ownerGen[tp]; !ok || meta.Generation > g {
					owner[tp], ownerGen[tp] = m.MemberID, meta.Generation
				}
			}
		}
		members = append(members, info)
	})
	// A task is owned by the member claiming its partitions at the
	// highest generation.
	owned := map[TaskID]string{}
	for id, tps := range tasks {
		for _, tp := range tps {
			if o, ok := owner[tp]; ok {
				owned[id] = o
				break
			}
		}
	}
	plan := assignTasks(tasks, members, owned)

	out := b.NewPlan()
	ids := out.AsMemberIDMap()
	for i := range members {
		m := members[i].id
		for _, id := range plan[m] {
			// Cooperative: a task still claimed by another member
			// waits for that member to give it up.
			if o, ok := owned[id]; ok && o != m {
				continue
			}
			for _, tp := range tasks[id] {
				if ids[m] == nil {
					ids[m] = map[string][]int32{}
				}
				ids[m][tp.topic] = append(ids[m][tp.topic], tp.partition)
			}
		}
	}
	return out
}

// memberInfo is what the balancer knows of a member.
type memberInfo struct {
	id    string
	local map[TaskID]bool
}

// assignTasks assigns every task to a member (see taskAssignor); owned
// maps a task to its current owner. members are in the order kgo gives
// them (sorted by instance and member ID); the result is deterministic.
//
// Quotas apply to each sub-topology as well as to the total, so that the
// tasks of every sub-topology spread over the members (Kafka's assignor
// balances them too): an instance does not end up with all the stateful
// tasks while another gets only stateless ones.
func assignTasks(tasks map[TaskID][]topicPartition, members []memberInfo, owned map[TaskID]string) map[string][]TaskID {
	out := map[string][]TaskID{}
	if len(members) == 0 {
		return out
	}
	ids := make([]TaskID, 0, len(tasks))
	perSub := map[int]int{}
	for id := range tasks {
		ids = append(ids, id)
		perSub[id.Subtopology]++
	}
	// Partition-major order interleaves the sub-topologies.
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Partition != ids[j].Partition {
			return ids[i].Partition < ids[j].Partition
		}
		return ids[i].Subtopology < ids[j].Subtopology
	})
	ceil := func(n int) int { return (n + len(members) - 1) / len(members) }
	quota := ceil(len(ids))
	load := map[string]int{}
	subLoad := map[string]map[int]int{}
	present := map[string]bool{}
	for _, m := range members {
		present[m.id] = true
		subLoad[m.id] = map[int]int{}
	}
	give := func(m string, id TaskID) {
		out[m] = append(out[m], id)
		load[m]++
		subLoad[m][id.Subtopology]++
	}
	var rest []TaskID
	for _, id := range ids {
		if o, ok := owned[id]; ok && present[o] && load[o] < quota && subLoad[o][id.Subtopology] < ceil(perSub[id.Subtopology]) {
			give(o, id)
			continue
		}
		rest = append(rest, id)
	}
	for _, id := range rest {
		best := -1
		better := func(i int) bool {
			m, b := members[i], members[best]
			if m.local[id] != b.local[id] {
				return m.local[id]
			}
			if sm, sb := subLoad[m.id][id.Subtopology], subLoad[b.id][id.Subtopology]; sm != sb {
				return sm < sb
			}
			return load[m.id] < load[b.id]
		}
		for i, m := range members {
			if load[m.id] >= quota {
				continue
			}
			if best < 0 || better(i) {
				best = i
			}
		}
		give(members[best].id, id)
	}
	for _, m := range members {
		sort.Slice(out[m.id], func(i, j int) bool { return out[m.id][i].less(out[m.id][j]) })
	}
	return out
}

func encodeUserData(local []TaskID) []byte {
	b := []byte{1}
	b = binary.BigEndian.AppendUint32(b, uint32(len(local)))
	for _, id := range local {
		b = binary.BigEndian.AppendUint32(b, uint32(id.Subtopology))
		b = binary.BigEndian.AppendUint32(b, uint32(id.Partition))
	}
	return b
}

func decodeUserData(b []byte) ([]TaskID, error) {
	if len(b) < 5 || b[0] != 1 {
		return nil, errUserData
	}
	n := binary.BigEndian.Uint32(b[1:])
	b = b[5:]
	if uint64(len(b)) != uint64(n)*8 {
		return nil, errUserData
	}
	out := make([]TaskID, n)
	for i := range out {
		out[i] = TaskID{Subtopology: int(binary.BigEndian.Uint32(b)), Partition: int32(binary.BigEndian.Uint32(b[4:]))}
		b = b[8:]
	}
	return out, nil
}
