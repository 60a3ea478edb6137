package streams

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Standby assignment (Kafka's StandbyTaskAssignor) and the versioned
// user data of the assignor.

func TestAssignStandbys(t *testing.T) {
	tasks := tasksOf(2, 4)
	stateful := func(id TaskID) bool { return id.Subtopology == 1 }
	ms := members("a", "b", "c")
	plan := assignTasks(tasks, ms, nil)
	for _, n := range []int{1, 2, 3} {
		got := assignStandbys(tasks, ms, plan, n, stateful)
		perTask := map[TaskID][]string{}
		for m, ids := range got {
			for _, id := range ids {
				if !stateful(id) {
					t.Fatalf("n=%d: standby of stateless task %s", n, id)
				}
				if slices.Contains(plan[m], id) {
					t.Fatalf("n=%d: %s is active and standby on %s", n, id, m)
				}
				if slices.Contains(perTask[id], m) {
					t.Fatalf("n=%d: %s has two standbys on %s", n, id, m)
				}
				perTask[id] = append(perTask[id], m)
			}
		}
		want := min(n, len(ms)-1) // never more than the other members
		for id := range tasks {
			if stateful(id) && len(perTask[id]) != want {
				t.Fatalf("n=%d: task %s has standbys %v, want %d", n, id, perTask[id], want)
			}
		}
		// Standby load is spread: within one of each other.
		lo, hi := 100, 0
		for _, m := range ms {
			lo, hi = min(lo, len(got[m.id])), max(hi, len(got[m.id]))
		}
		if n < len(ms) && hi-lo > 1 {
			t.Fatalf("n=%d: standbys unbalanced: %v", n, got)
		}
		if again := assignStandbys(tasks, ms, plan, n, stateful); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("not deterministic: %v then %v", got, again)
		}
	}
	// Local state wins: c has a checkpoint of 1_0, whose active is not c.
	ms[2].local[TaskID{1, 0}] = true
	activeOn := ""
	for m, ids := range plan {
		if slices.Contains(ids, TaskID{1, 0}) {
			activeOn = m
		}
	}
	if activeOn != "c" {
		got := assignStandbys(tasks, ms, plan, 1, stateful)
		if !slices.Contains(got["c"], TaskID{1, 0}) {
			t.Fatalf("standby of 1_0 not on c, which has its state: %v", got)
		}
	}
	// One member: nowhere to put standbys.
	one := members("a")
	if got := assignStandbys(tasks, one, assignTasks(tasks, one, nil), 1, stateful); len(got) != 0 {
		t.Fatalf("standbys with one member: %v", got)
	}
}

// TestAssignActiveToStandby: when the active member leaves, its task goes
// to the member that reports local state for it (its standby's
// checkpoint), so that little is restored.
func TestAssignActiveToStandby(t *testing.T) {
	tasks := tasksOf(1, 4)
	ms := members("b", "c", "d")
	// a (gone) owned 0_0 and 0_1; d has the standby state of both.
	ms[2].local[TaskID{0, 0}] = true
	ms[2].local[TaskID{0, 1}] = true
	owned := map[TaskID]string{{0, 0}: "a", {0, 1}: "a", {0, 2}: "b", {0, 3}: "c"}
	got := assignTasks(tasks, ms, owned)
	if !slices.Contains(got["d"], TaskID{0, 0}) && !slices.Contains(got["d"], TaskID{0, 1}) {
		t.Fatalf("the member with standby state got neither orphan: %v", got)
	}
}

func TestSubscriptionInfo(t *testing.T) {
	in := []TaskID{{0, 1}, {3, 7}}
	local, ep, err := decodeSubscriptionInfo(encodeSubscriptionInfo(in, "host-a:8080"))
	if err != nil || !slices.Equal(local, in) || ep != "host-a:8080" {
		t.Fatalf("round trip: %v %q %v", local, ep, err)
	}
	// Version 1, from an older member: tasks, no endpoint.
	local, ep, err = decodeSubscriptionInfo(encodeUserData(in))
	if err != nil || !slices.Equal(local, in) || ep != "" {
		t.Fatalf("v1: %v %q %v", local, ep, err)
	}
	for _, bad := range [][]byte{nil, {3, 0, 0, 0, 0, 0, 0}, {2, 0, 0, 0, 0}, {2, 0, 0, 0, 0, 0, 5, 'a'}, append(encodeSubscriptionInfo(in, "x:1"), 0)} {
		if _, _, err := decodeSubscriptionInfo(bad); err == nil {
			t.Fatalf("decoded %v", bad)
		}
	}
}

func TestAssignmentInfo(t *testing.T) {
	in := &assignmentInfo{
		standbys:   []TaskID{{1, 2}},
		taskCounts: map[int]int32{0: 4, 1: 4},
		hosts: []hostAssignment{
			{endpoint: "a:1", active: []TaskID{{0, 0}, {1, 0}}, standby: []TaskID{{1, 2}}},
			{endpoint: "b:2", active: []TaskID{{0, 1}}},
		},
	}
	out, err := decodeAssignmentInfo(encodeAssignmentInfo(in))
	if err != nil || fmt.Sprint(out) != fmt.Sprint(in) {
		t.Fatalf("round trip\n got  %+v (%v)\n want %+v", out, err, in)
	}
	b := encodeAssignmentInfo(in)
	for i := range b {
		if _, err := decodeAssignmentInfo(b[:i]); err == nil {
			t.Fatalf("decoded a truncation to %d bytes", i)
		}
	}
}

func FuzzAssignorUserData(f *testing.F) {
	f.Add(encodeSubscriptionInfo([]TaskID{{0, 1}}, "h:1"))
	f.Add(encodeUserData([]TaskID{{2, 3}}))
	f.Add(encodeAssignmentInfo(&assignmentInfo{standbys: []TaskID{{1, 1}}, taskCounts: map[int]int32{1: 2},
		hosts: []hostAssignment{{endpoint: "x:9", active: []TaskID{{1, 0}}}}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Invariants: never panic; what decodes re-encodes to the same
		// bytes (both formats are canonical).
		if local, ep, err := decodeSubscriptionInfo(b); err == nil && b[0] == 2 {
			if re := encodeSubscriptionInfo(local, ep); string(re) != string(b) {
				t.Fatalf("subscription %x re-encodes as %x", b, re)
			}
		}
		if info, err := decodeAssignmentInfo(b); err == nil {
			sorted := true
			prev := -1
			r := &wireReader{b: b[1:]}
			r.tasks()
			for range r.u32() {
				s := int(r.u32())
				r.u32()
				sorted = sorted && s > prev
				prev = s
			}
			if re := encodeAssignmentInfo(info); sorted && string(re) != string(b) {
				t.Fatalf("assignment %x re-encodes as %x", b, re)
			}
		}
	})
}

// TestBalanceWire runs the balancer as kgo does on the leader, over the
// members' real join metadata, and parses each member's SyncGroup
// assignment as that member would.
func TestBalanceWire(t *testing.T) {
	tasks := func(counts map[string]int32) map[TaskID][]topicPartition {
		out := map[TaskID][]topicPartition{}
		for p := int32(0); p < counts["in"]; p++ {
			out[TaskID{0, p}] = []topicPartition{{"in", p}}
			out[TaskID{1, p}] = []topicPartition{{"app-rep-repartition", p}}
		}
		return out
	}
	mk := func(endpoint string) *taskAssignor {
		return &taskAssignor{tasks: tasks, local: func() []TaskID { return nil },
			stateful: func(id TaskID) bool { return id.Subtopology == 1 }, standbys: 1, endpoint: endpoint}
	}
	assignors := map[string]*taskAssignor{"m1": mk("h1:1"), "m2": mk("h2:2"), "m3": mk("")}
	var members []kmsg.JoinGroupResponseMember
	for _, id := range []string{"m1", "m2", "m3"} {
		m := kmsg.NewJoinGroupResponseMember()
		m.MemberID = id
		m.ProtocolMetadata = assignors[id].JoinGroupMetadata([]string{"in", "app-rep-repartition"}, nil, -1)
		members = append(members, m)
	}
	leader := assignors["m1"]
	bal, _, err := leader.MemberBalancer(members)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := bal.(kgo.GroupMemberBalancerOrError).BalanceOrError(map[string]int32{"in": 3, "app-rep-repartition": 3})
	if err != nil {
		t.Fatal(err)
	}
	active := map[TaskID]string{}
	standby := map[TaskID][]string{}
	for _, sa := range plan.IntoSyncAssignment() {
		a := assignors[sa.MemberID]
		parts, err := a.ParseSyncAssignment(sa.MemberAssignment)
		if err != nil {
			t.Fatal(err)
		}
		// kgo's own parser reads the same partitions.
		if kparts, err := kgo.ParseConsumerSyncAssignment(sa.MemberAssignment); err != nil || fmt.Sprint(kparts) != fmt.Sprint(parts) {
			t.Fatalf("kgo reads %v (%v), we read %v", kparts, err, parts)
		}
		for topic, ps := range parts {
			for _, p := range ps {
				sub := 0
				if topic != "in" {
					sub = 1
				}
				active[TaskID{sub, p}] = sa.MemberID
			}
		}
		info := a.assignment()
		if info.taskCounts[0] != 3 || info.taskCounts[1] != 3 {
			t.Fatalf("task counts %v", info.taskCounts)
		}
		if len(info.hosts) != 2 || info.hosts[0].endpoint != "h1:1" || info.hosts[1].endpoint != "h2:2" {
			t.Fatalf("hosts %+v (m3 has no endpoint)", info.hosts)
		}
		for _, id := range info.standbys {
			standby[id] = append(standby[id], sa.MemberID)
		}
	}
	if len(active) != 6 {
		t.Fatalf("active tasks %v", active)
	}
	for p := int32(0); p < 3; p++ {
		id := TaskID{1, p}
		if len(standby[id]) != 1 || standby[id][0] == active[id] {
			t.Fatalf("standby of %s on %v, active on %s", id, standby[id], active[id])
		}
		if len(standby[TaskID{0, p}]) != 0 {
			t.Fatalf("standby of stateless task 0_%d", p)
		}
	}
	// The hosts of the leader's info agree with the partitions.
	info := leader.assignment()
	for _, h := range info.hosts {
		m := map[string]string{"h1:1": "m1", "h2:2": "m2"}[h.endpoint]
		for _, id := range h.active {
			if active[id] != m {
				t.Fatalf("host %s lists %s, which is on %s", h.endpoint, id, active[id])
			}
		}
	}
}
