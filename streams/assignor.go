package streams

import (
	"encoding/binary"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group balancer: it assigns whole tasks, not partitions.
//
// Each member joins with the consumer protocol's metadata (v3): its topics,
// the partitions it owns and its generation, and as user data (the
// subscription info) the tasks it has local state for and its
// application.server endpoint ("" when not set). Integers are big-endian;
// a task is its sub-topology (4) and partition (4):
//
//	+-------------+-----------+--------------+---------------+------------+
//	| version (1) | count (4) | count × task | endpoint      | endpoint   |
//	| = 2         |           |              | length (2)    | bytes      |
//	+-------------+-----------+--------------+---------------+------------+
//
// Version 1 (Gregor Streams before standbys and interactive queries) is
// the same without the endpoint; the leader reads both.
//
// The leader answers every member with the consumer protocol's
// assignment, whose user data (the assignment info) carries what
// interactive queries and standbys need: the member's standby tasks, the
// number of tasks of each sub-topology (to map a key to its partition),
// and the tasks of every member that has an endpoint:
//
//	+-------------+----------------------------+
//	| version (1) | = 1                        |
//	| standbys    | count (4), count × task    |
//	| sub-topo-   | count (4), count ×         |
//	| logies      |   (sub-topology (4),       |
//	|             |    tasks (4))              |
//	| hosts       | count (4), count ×         |
//	|             |   (endpoint length (2),    |
//	|             |    endpoint bytes,         |
//	|             |    active count (4) × task,|
//	|             |    standby count (4) × task)|
//	+-------------+----------------------------+
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
//
// With num.standby.replicas = n, each stateful task (one with a logged
// store) also gets up to n standby members, never the member it is
// assigned to as active this round (see assignStandbys). The active copy
// is placed first, so a task whose owner left goes to a member with
// local state for it (a standby's checkpoint), which restores little.
type taskAssignor struct {
	// tasks returns the tasks of the topology for the given partition
	// counts of real topic names.
	tasks func(counts map[string]int32) map[TaskID][]topicPartition
	// local returns the tasks with local state on this instance.
	local func() []TaskID
	// stateful reports whether a task has logged stores (standbys are
	// assigned to those only); nil: none has.
	stateful func(TaskID) bool
	// standbys is num.standby.replicas.
	standbys int
	// endpoint is this instance's application.server ("" if none).
	endpoint string

	mu struct {
		sync.Mutex
		// info is the assignment info of the last SyncGroup; nil
		// before the first.
		info *assignmentInfo
	}
}

// assignmentInfo is what the leader tells a member besides its
// partitions.
type assignmentInfo struct {
	// standbys are the member's standby tasks.
	standbys []TaskID
	// taskCounts is the number of tasks of each sub-topology.
	taskCounts map[int]int32
	// hosts are the members that have an application.server endpoint.
	hosts []hostAssignment
}

// hostAssignment is one member's tasks, by its endpoint.
type hostAssignment struct {
	endpoint string
	active   []TaskID
	standby  []TaskID
}

// assignment returns the assignment info of the last SyncGroup, or nil.
func (a *taskAssignor) assignment() *assignmentInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mu.info
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
	meta.UserData = encodeSubscriptionInfo(a.local(), a.endpoint)
	return meta.AppendTo(nil)
}

func (a *taskAssignor) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var kassn kmsg.ConsumerMemberAssignment
	if err := kassn.ReadFrom(assignment); err != nil {
		return nil, err
	}
	out := make(map[string][]int32, len(kassn.Topics))
	for _, t := range kassn.Topics {
		out[t.Topic] = t.Partitions
	}
	info, err := decodeAssignmentInfo(kassn.UserData)
	if err != nil {
		// A leader of another version (or another client): run
		// the active tasks, without standbys or host metadata.
		info = &assignmentInfo{taskCounts: map[int]int32{}}
	}
	a.mu.Lock()
	a.mu.info = info
	a.mu.Unlock()
	return out, nil
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
		if local, endpoint, err := decodeSubscriptionInfo(meta.UserData); err == nil {
			for _, id := range local {
				info.local[id] = true
			}
			info.endpoint = endpoint
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
	var standbys map[string][]TaskID
	if a.standbys > 0 && a.stateful != nil {
		standbys = assignStandbys(tasks, members, plan, a.standbys, a.stateful)
	}

	out := &syncPlan{partitions: map[string]map[string][]int32{}, userData: map[string][]byte{}}
	active := map[string][]TaskID{}
	for i := range members {
		m := members[i].id
		out.partitions[m] = map[string][]int32{}
		for _, id := range plan[m] {
			// Cooperative: a task still claimed by another member
			// waits for that member to give it up.
			if o, ok := owned[id]; ok && o != m {
				continue
			}
			active[m] = append(active[m], id)
			for _, tp := range tasks[id] {
				out.partitions[m][tp.topic] = append(out.partitions[m][tp.topic], tp.partition)
			}
		}
	}
	info := assignmentInfo{taskCounts: map[int]int32{}}
	for id := range tasks {
		info.taskCounts[id.Subtopology] = max(info.taskCounts[id.Subtopology], id.Partition+1)
	}
	for _, m := range members {
		if m.endpoint != "" {
			info.hosts = append(info.hosts, hostAssignment{endpoint: m.endpoint, active: active[m.id], standby: standbys[m.id]})
		}
	}
	for _, m := range members {
		mi := info
		mi.standbys = standbys[m.id]
		out.userData[m.id] = encodeAssignmentInfo(&mi)
	}
	return out
}

// syncPlan is the leader's answer: partitions and assignment info for
// every member (kgo's BalancePlan has no user data).
type syncPlan struct {
	partitions map[string]map[string][]int32
	userData   map[string][]byte
}

func (p *syncPlan) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(p.partitions))
	for member, topics := range p.partitions {
		var kassn kmsg.ConsumerMemberAssignment
		names := make([]string, 0, len(topics))
		for t := range topics {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			at := kmsg.NewConsumerMemberAssignmentTopic()
			at.Topic = t
			at.Partitions = append([]int32(nil), topics[t]...)
			sort.Slice(at.Partitions, func(i, j int) bool { return at.Partitions[i] < at.Partitions[j] })
			kassn.Topics = append(kassn.Topics, at)
		}
		kassn.UserData = p.userData[member]
		sa := kmsg.NewSyncGroupRequestGroupAssignment()
		sa.MemberID = member
		sa.MemberAssignment = kassn.AppendTo(nil)
		out = append(out, sa)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MemberID < out[j].MemberID })
	return out
}

// memberInfo is what the balancer knows of a member.
type memberInfo struct {
	id       string
	local    map[TaskID]bool
	endpoint string
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
	// Only len(ids)%len(members) members may reach quota when it is
	// above the floor; more at quota would leave another member two
	// short (5 tasks on 4 members: 2,1,1,1, never 2,2,1,0).
	floor, extra := len(ids)/len(members), len(ids)%len(members)
	atQuota := 0
	load := map[string]int{}
	subLoad := map[string]map[int]int{}
	present := map[string]bool{}
	for _, m := range members {
		present[m.id] = true
		subLoad[m.id] = map[int]int{}
	}
	full := func(m string) bool {
		return load[m] >= quota || (quota > floor && load[m] >= floor && atQuota >= extra)
	}
	give := func(m string, id TaskID) {
		out[m] = append(out[m], id)
		load[m]++
		subLoad[m][id.Subtopology]++
		if quota > floor && load[m] == quota {
			atQuota++
		}
	}
	var rest []TaskID
	for _, id := range ids {
		if o, ok := owned[id]; ok && present[o] && !full(o) && subLoad[o][id.Subtopology] < ceil(perSub[id.Subtopology]) {
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
			if full(m.id) {
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

// assignStandbys gives each stateful task up to n standby members, never
// the member that plan makes its active one, nor one member twice
// (Kafka's StandbyTaskAssignor). A member with local state for the task
// comes first, then the one with the fewest standbys, then the one with
// the fewest active tasks; ties go to the first member in order. Fewer
// than n standbys are assigned when there are not enough other members.
func assignStandbys(tasks map[TaskID][]topicPartition, members []memberInfo, plan map[string][]TaskID, n int, stateful func(TaskID) bool) map[string][]TaskID {
	out := map[string][]TaskID{}
	activeOf := map[TaskID]string{}
	for m, ids := range plan {
		for _, id := range ids {
			activeOf[id] = m
		}
	}
	ids := make([]TaskID, 0, len(tasks))
	for id := range tasks {
		if stateful(id) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Partition != ids[j].Partition {
			return ids[i].Partition < ids[j].Partition
		}
		return ids[i].Subtopology < ids[j].Subtopology
	})
	load := map[string]int{}
	for _, id := range ids {
		given := map[string]bool{activeOf[id]: true}
		for range n {
			best := -1
			for i, m := range members {
				if given[m.id] {
					continue
				}
				if best < 0 {
					best = i
					continue
				}
				b := members[best]
				switch {
				case m.local[id] != b.local[id]:
					if m.local[id] {
						best = i
					}
				case load[m.id] != load[b.id]:
					if load[m.id] < load[b.id] {
						best = i
					}
				case len(plan[m.id]) < len(plan[b.id]):
					best = i
				}
			}
			if best < 0 {
				break
			}
			m := members[best].id
			given[m] = true
			load[m]++
			out[m] = append(out[m], id)
		}
	}
	for m := range out {
		sort.Slice(out[m], func(i, j int) bool { return out[m][i].less(out[m][j]) })
	}
	return out
}

func appendTasks(b []byte, ids []TaskID) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		b = binary.BigEndian.AppendUint32(b, uint32(id.Subtopology))
		b = binary.BigEndian.AppendUint32(b, uint32(id.Partition))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// wireReader reads the user data formats; the first failure sticks.
type wireReader struct {
	b   []byte
	bad bool
}

func (r *wireReader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *wireReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *wireReader) str() string {
	b := r.take(2)
	if b == nil {
		return ""
	}
	return string(r.take(int(binary.BigEndian.Uint16(b))))
}

func (r *wireReader) tasks() []TaskID {
	n := r.u32()
	if r.bad || uint64(len(r.b)) < uint64(n)*8 {
		r.bad = true
		return nil
	}
	out := make([]TaskID, n)
	for i := range out {
		out[i] = TaskID{Subtopology: int(r.u32()), Partition: int32(r.u32())}
	}
	return out
}

// encodeSubscriptionInfo encodes the subscription info (version 2).
func encodeSubscriptionInfo(local []TaskID, endpoint string) []byte {
	b := appendTasks([]byte{2}, local)
	return appendString(b, endpoint)
}

// encodeUserData encodes the subscription info of version 1, as members
// of an older Gregor Streams send it.
func encodeUserData(local []TaskID) []byte { return appendTasks([]byte{1}, local) }

// decodeUserData returns the local tasks of a subscription info.
func decodeUserData(b []byte) ([]TaskID, error) {
	local, _, err := decodeSubscriptionInfo(b)
	return local, err
}

// decodeSubscriptionInfo decodes the subscription info of version 1 or 2.
func decodeSubscriptionInfo(b []byte) ([]TaskID, string, error) {
	r := &wireReader{b: b}
	v := r.take(1)
	if v == nil || (v[0] != 1 && v[0] != 2) {
		return nil, "", errUserData
	}
	local := r.tasks()
	var endpoint string
	if v[0] >= 2 {
		endpoint = r.str()
	}
	if r.bad || len(r.b) != 0 {
		return nil, "", errUserData
	}
	return local, endpoint, nil
}

// encodeAssignmentInfo encodes the assignment info (version 1).
func encodeAssignmentInfo(info *assignmentInfo) []byte {
	b := appendTasks([]byte{1}, info.standbys)
	subs := make([]int, 0, len(info.taskCounts))
	for s := range info.taskCounts {
		subs = append(subs, s)
	}
	sort.Ints(subs)
	b = binary.BigEndian.AppendUint32(b, uint32(len(subs)))
	for _, s := range subs {
		b = binary.BigEndian.AppendUint32(b, uint32(s))
		b = binary.BigEndian.AppendUint32(b, uint32(info.taskCounts[s]))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(info.hosts)))
	for _, h := range info.hosts {
		b = appendString(b, h.endpoint)
		b = appendTasks(b, h.active)
		b = appendTasks(b, h.standby)
	}
	return b
}

// decodeAssignmentInfo decodes the assignment info.
func decodeAssignmentInfo(b []byte) (*assignmentInfo, error) {
	r := &wireReader{b: b}
	if v := r.take(1); v == nil || v[0] != 1 {
		return nil, errUserData
	}
	info := &assignmentInfo{taskCounts: map[int]int32{}}
	info.standbys = r.tasks()
	n := r.u32()
	for i := uint32(0); i < n && !r.bad; i++ {
		s, c := int(r.u32()), int32(r.u32())
		info.taskCounts[s] = c
	}
	n = r.u32()
	for i := uint32(0); i < n && !r.bad; i++ {
		h := hostAssignment{endpoint: r.str()}
		h.active = r.tasks()
		h.standby = r.tasks()
		info.hosts = append(info.hosts, h)
	}
	if r.bad || len(r.b) != 0 {
		return nil, errUserData
	}
	return info, nil
}
