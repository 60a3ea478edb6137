package group

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// subscriptionOwning is a v1 consumer protocol subscription to t1 that
// reports owned partitions of t1 (as a cooperative member does).
func subscriptionOwning(owned ...int32) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 1
	m.Topics = []string{"t1"}
	if owned != nil {
		m.OwnedPartitions = []kmsg.ConsumerMemberMetadataOwnedPartition{{Topic: "t1", Partitions: owned}}
	}
	return m.AppendTo(nil)
}

func assignmentBytes(partitions ...int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "t1", Partitions: partitions}}
	return a.AppendTo(nil)
}

// syncedPartitions decodes a SyncGroup assignment's partitions of t1.
func syncedPartitions(t *testing.T, b []byte) []int32 {
	t.Helper()
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		t.Fatalf("assignment %x: %v", b, err)
	}
	var out []int32
	for _, tp := range a.Topics {
		if tp.Topic != "t1" {
			t.Fatalf("assignment names topic %q", tp.Topic)
		}
		out = append(out, tp.Partitions...)
	}
	slices.Sort(out)
	return out
}

// classicGroupOnT1 brings classic members A and B of group g to Stable
// generation 1, A owning t1-0,1 and B t1-2,3.
func classicGroupOnT1(t *testing.T, h *harness) (a, b string) {
	t.Helper()
	protocols := []Protocol{{Name: "range", Metadata: subscription("t1")}}
	a, ja := h.joinNew(JoinRequest{ClientID: "a", Protocols: protocols})
	b, jb := h.joinNew(JoinRequest{ClientID: "b", Protocols: protocols})
	h.advance(10 * time.Second)
	if !ja.done || !jb.done || ja.resp.Leader != a {
		t.Fatalf("joins: %+v %+v", ja, jb)
	}
	h.sync(SyncRequest{MemberID: a, Generation: 1, Assignments: []SyncAssignment{
		{MemberID: a, Assignment: assignmentBytes(0, 1)}, {MemberID: b, Assignment: assignmentBytes(2, 3)},
	}})
	h.sync(SyncRequest{MemberID: b, Generation: 1})
	if !h.group("g").is(stateStable) {
		t.Fatalf("state %s", h.group("g").state)
	}
	return a, b
}

func (h *harness) classicHeartbeat(member string, generation int32) int16 {
	return h.s.Heartbeat(h.now, HeartbeatRequest{Group: "g", MemberID: member, Generation: generation})
}

// classicRejoin sends an existing member's JoinGroup and, when it
// succeeds, its SyncGroup; it returns the generation and partitions.
func (h *harness) classicRejoin(t *testing.T, member string, metadata []byte) (int32, []int32) {
	t.Helper()
	j := h.join(JoinRequest{MemberID: member, ClientID: member, Protocols: []Protocol{{Name: "range", Metadata: metadata}}})
	if !j.done || j.resp.ErrorCode != 0 {
		t.Fatalf("rejoin of %s: %+v", member, j)
	}
	if j.resp.Leader != "" || len(j.resp.Members) != 0 || deref(j.resp.ProtocolName) != "range" || deref(j.resp.ProtocolType) != "consumer" {
		t.Fatalf("join response to a classic member of a consumer group %+v", j.resp)
	}
	name, typ := "range", "consumer"
	s := h.sync(SyncRequest{MemberID: member, Generation: j.resp.Generation, ProtocolName: &name, ProtocolType: &typ})
	if !s.done || s.resp.ErrorCode != 0 {
		t.Fatalf("sync of %s: %+v", member, s)
	}
	return j.resp.Generation, syncedPartitions(t, s.resp.Assignment)
}

// Reference: KIP-848 "Upgrade/downgrade" and Kafka's
// GroupMetadataManagerTest (testUpgradeFromClassicGroup...,
// testClassicGroupJoinToConsumerGroup..., testDowngrade...): a
// KIP-848 member joining a classic group with members converts it,
// keeping the classic members, whose JoinGroup/SyncGroup/Heartbeat are
// then served from the reconciliation; when it leaves, the group is
// classic again and rebalances.
func TestOnlineUpgradeThenDowngrade(t *testing.T) {
	h := newConsumerHarness(t, fakeTopics{"t1": {topicID(1), 4}})
	a, b := classicGroupOnT1(t, h)

	// C joins with ConsumerGroupHeartbeat: the group becomes a consumer
	// group at epoch 2, C waits for partitions A and B still own.
	c := joinReq("C", "t1")
	c.Group = "g"
	r := h.cgHeartbeat(c)
	wantHB(t, "C joins", r, 2, []int32{})
	if _, ok := h.s.groups["g"]; ok {
		t.Fatal("classic group kept")
	}
	cg := h.s.consumerGroups["g"]
	if cg == nil || cg.epoch != 2 || len(cg.members) != 3 {
		t.Fatalf("consumer group %+v", cg)
	}
	for _, id := range []string{a, b} {
		m := cg.members[id]
		if m.classic == nil || m.classic.sessionTimeoutMs != 10000 || m.epoch != 1 || m.assigned.size() != 2 {
			t.Fatalf("classic member %s: %+v", id, m)
		}
	}
	d := h.s.DescribeConsumerGroup("g")
	if len(d.Members) != 3 {
		t.Fatalf("describe %+v", d)
	}
	for _, m := range d.Members {
		if m.Classic != (m.MemberID != "C") {
			t.Errorf("described member %s: classic %v", m.MemberID, m.Classic)
		}
	}

	// A classic member's commit carries its member epoch as generation.
	commit := func(member string, gen int32) int16 {
		r := h.commit(CommitRequest{Group: "g", Generation: gen, MemberID: member, RetentionMs: -1, Version: 8,
			Topics: []CommitTopic{{Topic: "t1", Partitions: []CommitPartition{{Partition: 0, Offset: 7}}}}})
		return r.Topics[0].Partitions[0].ErrorCode
	}
	wantCode(t, "classic commit", commit(a, 1), 0)
	wantCode(t, "classic commit, old generation", commit(a, 0), kerr.IllegalGeneration.Code)

	// Both classic members are asked to rejoin.
	wantCode(t, "A heartbeat", h.classicHeartbeat(a, 1), kerr.RebalanceInProgress.Code)
	wantCode(t, "B heartbeat", h.classicHeartbeat(b, 1), kerr.RebalanceInProgress.Code)
	wantCode(t, "A heartbeat, wrong generation", h.classicHeartbeat(a, 5), kerr.IllegalGeneration.Code)

	// B is eager: it revoked everything and rejoins owning nothing; it
	// moves to epoch 2 with what it keeps (the assignor is sticky: all).
	genB, partsB := h.classicRejoin(t, b, subscription("t1"))
	if genB != 2 || !slices.Equal(partsB, []int32{2, 3}) {
		t.Fatalf("B: generation %d partitions %v", genB, partsB)
	}
	wantCode(t, "B reconciled", h.classicHeartbeat(b, 2), 0)

	// A is cooperative: it still owns 0 and 1 and must give one to C,
	// so it keeps its epoch and is told to revoke, then rejoins owning
	// what it kept.
	genA, partsA := h.classicRejoin(t, a, subscriptionOwning(0, 1))
	if genA != 1 || len(partsA) != 1 {
		t.Fatalf("A revoking: generation %d partitions %v", genA, partsA)
	}
	wantCode(t, "A revoking", h.classicHeartbeat(a, 1), kerr.RebalanceInProgress.Code)
	genA, partsA = h.classicRejoin(t, a, subscriptionOwning(partsA...))
	if genA != 2 || len(partsA) != 1 {
		t.Fatalf("A: generation %d partitions %v", genA, partsA)
	}
	wantCode(t, "A reconciled", h.classicHeartbeat(a, 2), 0)

	// C now gets the released partitions: each partition has one owner.
	r = h.cgHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "C", MemberEpoch: 2, RebalanceTimeoutMs: -1, OwnedPartitions: []TopicPartitions{}})
	wantHB(t, "C gets its partitions", r, 2, nil)
	all := slices.Concat(partsA, partsB, partitionsOf(r, topicID(1)))
	slices.Sort(all)
	if !slices.Equal(all, []int32{0, 1, 2, 3}) {
		t.Fatalf("owned A %v B %v C %v", partsA, partsB, partitionsOf(r, topicID(1)))
	}
	if st := h.s.consumerGroups["g"].state(); st != consumerStateStable {
		t.Fatalf("state %s", st)
	}

	// The classic members survive a restart.
	h.restart()
	cg = h.s.consumerGroups["g"]
	if m := cg.members[a]; m == nil || m.classic == nil || m.classic.sessionTimeoutMs != 10000 || len(m.classic.protocols) != 1 || m.epoch != 2 {
		t.Fatalf("classic member after restart: %+v", cg.members[a])
	}

	// C leaves: only classic members are left, so the group is classic
	// again at generation = group epoch, rebalancing.
	wantHB(t, "C leaves", h.cgHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "C", MemberEpoch: -1, RebalanceTimeoutMs: -1}), -1, nil)
	if _, ok := h.s.consumerGroups["g"]; ok {
		t.Fatal("consumer group kept after the downgrade")
	}
	g := h.group("g")
	if !g.is(statePreparingRebalance) || g.generation != 2 || g.numMembers() != 2 || deref(g.protocolName) != "range" {
		t.Fatalf("downgraded group: state %s generation %d members %d", g.state, g.generation, g.numMembers())
	}
	if got := syncedPartitions(t, g.members[a].assignment); !slices.Equal(got, partsA) {
		t.Fatalf("A's classic assignment %v, want %v", got, partsA)
	}
	wantCode(t, "A heartbeat after the downgrade", h.classicHeartbeat(a, 2), kerr.RebalanceInProgress.Code)
	ja := h.join(JoinRequest{MemberID: a, ClientID: a, Protocols: []Protocol{{Name: "range", Metadata: subscription("t1")}}})
	jb := h.join(JoinRequest{MemberID: b, ClientID: b, Protocols: []Protocol{{Name: "range", Metadata: subscription("t1")}}})
	if !ja.done || !jb.done || ja.resp.Generation != 3 || len(ja.resp.Members)+len(jb.resp.Members) != 2 {
		t.Fatalf("rejoins after the downgrade: %+v %+v", ja, jb)
	}
	h.restart()
	if _, ok := h.s.groups["g"]; !ok || h.s.consumerGroups["g"] != nil {
		t.Fatal("group type after restart")
	}
}

// group.consumer.migration.policy: disabled refuses the upgrade
// (GROUP_ID_NOT_FOUND, as Kafka); upgrade allows it but never
// downgrades, so the group stays a consumer group of classic members.
func TestMigrationPolicy(t *testing.T) {
	cfg := testConfig()
	cfg.ConsumerMigrationPolicy = "DISABLED"
	cfg.topics = func() Topics { return fakeTopics{"t1": {topicID(1), 4}} }
	h := newHarness(t, cfg)
	classicGroupOnT1(t, h)
	c := joinReq("C", "t1")
	c.Group = "g"
	r := h.cgHeartbeat(c)
	if r.ErrorCode != kerr.GroupIDNotFound.Code || deref(r.ErrorMessage) != "Group g is not a consumer group." {
		t.Fatalf("join with the upgrade disabled: %+v %s", r, deref(r.ErrorMessage))
	}
	if !h.group("g").is(stateStable) {
		t.Fatal("classic group disturbed")
	}

	cfg.ConsumerMigrationPolicy = MigrationUpgrade
	h = newHarness(t, cfg)
	a, _ := classicGroupOnT1(t, h)
	wantHB(t, "C joins", h.cgHeartbeat(c), 2, []int32{})
	h.cgHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "C", MemberEpoch: -1, RebalanceTimeoutMs: -1})
	cg := h.s.consumerGroups["g"]
	if cg == nil || len(cg.members) != 2 || cg.epoch != 3 {
		t.Fatalf("group after C left with the downgrade disabled: %+v", cg)
	}
	// A classic member leaving with LeaveGroup is fenced like any other.
	var lr LeaveResponse
	h.apply(func(res *coordinator.Result) {
		lr = h.s.LeaveGroup(h.now, LeaveRequest{Group: "g", Members: []LeaveMember{{MemberID: a}, {MemberID: "nobody"}}}, res)
	})
	if lr.ErrorCode != 0 || lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave %+v", lr)
	}
	if cg := h.s.consumerGroups["g"]; len(cg.members) != 1 || cg.epoch != 4 {
		t.Fatalf("after A left: %+v", cg)
	}
}

// A classic member joining a consumer group of KIP-848 members gets its
// target assignment from the coordinator; its session is the
// session.timeout.ms it joined with, and the group downgrades when the
// last KIP-848 member's session expires.
func TestClassicMemberJoinsConsumerGroup(t *testing.T) {
	h := newConsumerHarness(t, fakeTopics{"t1": {topicID(1), 2}})
	c := joinReq("C", "t1")
	c.Group = "g"
	wantHB(t, "C joins", h.cgHeartbeat(c), 1, []int32{0, 1})

	connect := h.join(JoinRequest{ProtocolType: "connect", RequireKnownMemberID: true})
	wantCode(t, "other protocol type", connect.resp.ErrorCode, kerr.InconsistentGroupProtocol.Code)
	id, j := h.joinNew(JoinRequest{ClientID: "x", Protocols: []Protocol{{Name: "range", Metadata: subscription("t1")}}})
	if !j.done || j.resp.ErrorCode != 0 || j.resp.Generation != 2 {
		t.Fatalf("classic join: %+v", j)
	}
	name := "range"
	s := h.sync(SyncRequest{MemberID: id, Generation: 2, ProtocolName: &name})
	if !s.done || s.resp.ErrorCode != 0 || len(syncedPartitions(t, s.resp.Assignment)) != 0 {
		t.Fatalf("sync before C released: %+v", s)
	}
	other := "roundrobin"
	s = h.sync(SyncRequest{MemberID: id, Generation: 2, ProtocolName: &other})
	wantCode(t, "sync with another protocol", s.resp.ErrorCode, kerr.InconsistentGroupProtocol.Code)
	wantCode(t, "waiting on C", h.classicHeartbeat(id, 2), 0)

	// C revokes one partition; the classic member is told to rejoin for it.
	r := h.cgHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "C", MemberEpoch: 1, RebalanceTimeoutMs: -1,
		OwnedPartitions: []TopicPartitions{{TopicID: topicID(1), Partitions: []int32{0, 1}}}})
	kept := partitionsOf(r, topicID(1))
	r = h.cgHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "C", MemberEpoch: 1, RebalanceTimeoutMs: -1,
		OwnedPartitions: []TopicPartitions{{TopicID: topicID(1), Partitions: kept}}})
	wantHB(t, "C revoked", r, 2, nil)
	wantCode(t, "partition released", h.classicHeartbeat(id, 2), kerr.RebalanceInProgress.Code)
	gen, parts := h.classicRejoin(t, id, subscription("t1"))
	if gen != 2 || len(parts) != 1 || parts[0] == kept[0] {
		t.Fatalf("classic member after the release: generation %d partitions %v (C keeps %v)", gen, parts, kept)
	}

	// C stops heartbeating; the classic member heartbeats within its
	// own 10 s session until C's 45 s session expires.
	for _, d := range []time.Duration{9, 9, 9, 9, 6} {
		h.advance(d * time.Second)
		wantCode(t, "classic heartbeat", h.classicHeartbeat(id, 2), 0)
	}
	if _, ok := h.s.consumerGroups["g"]; !ok {
		t.Fatal("converted before C's session expired")
	}
	h.advance(4 * time.Second)
	if _, ok := h.s.consumerGroups["g"]; ok {
		t.Fatal("still a consumer group after C's session expired")
	}
	g := h.group("g")
	if !g.is(statePreparingRebalance) || g.numMembers() != 1 {
		t.Fatalf("downgraded group %s with %d members", g.state, g.numMembers())
	}
	// The classic member's heartbeat now comes to the classic group.
	wantCode(t, "heartbeat after the downgrade", h.classicHeartbeat(id, 2), kerr.RebalanceInProgress.Code)
}
