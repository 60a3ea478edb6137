package group

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// fakeTopics is a Topics the tests edit.
type fakeTopics map[string]topicMeta

func (f fakeTopics) TopicByName(name string) ([16]byte, int32, bool) {
	t, ok := f[name]
	return t.id, t.partitions, ok
}

func (f fakeTopics) TopicName(id [16]byte) (string, bool) {
	for n, t := range f {
		if t.id == id {
			return n, true
		}
	}
	return "", false
}

func (f fakeTopics) TopicNames() []string { return slices.Sorted(maps.Keys(f)) }

func topicID(b byte) [16]byte { return [16]byte{b} }

func newConsumerHarness(t *testing.T, topics fakeTopics) *harness {
	cfg := testConfig()
	cfg.topics = func() Topics { return topics }
	return newHarness(t, cfg)
}

func (h *harness) cgHeartbeat(req ConsumerHeartbeatRequest) ConsumerHeartbeatResponse {
	h.t.Helper()
	if req.Group == "" {
		req.Group = "cg"
	}
	if req.Version == 0 {
		req.Version = 1
	}
	var out ConsumerHeartbeatResponse
	done := false
	h.apply(func(res *coordinator.Result) {
		h.s.ConsumerGroupHeartbeat(h.now, req, func(r ConsumerHeartbeatResponse) { out, done = r, true }, res)
	})
	if !done {
		h.t.Fatal("heartbeat not answered")
	}
	return out
}

func joinReq(member string, topics ...string) ConsumerHeartbeatRequest {
	return ConsumerHeartbeatRequest{
		MemberID: member, MemberEpoch: 0, RebalanceTimeoutMs: 30000,
		SubscribedTopicNames: topics, OwnedPartitions: []TopicPartitions{},
	}
}

// hb is a heartbeat reporting owned partitions of topic t1.
func hb(member string, epoch int32, owned ...int32) ConsumerHeartbeatRequest {
	return ConsumerHeartbeatRequest{
		MemberID: member, MemberEpoch: epoch, RebalanceTimeoutMs: -1,
		OwnedPartitions: []TopicPartitions{{TopicID: topicID(1), Partitions: owned}},
	}
}

func partitionsOf(resp ConsumerHeartbeatResponse, topic [16]byte) []int32 {
	for _, tp := range resp.Assignment {
		if tp.TopicID == topic {
			return tp.Partitions
		}
	}
	return nil
}

func wantHB(t *testing.T, what string, r ConsumerHeartbeatResponse, epoch int32, partitions []int32) {
	t.Helper()
	if r.ErrorCode != 0 {
		t.Fatalf("%s: %v %v", what, kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage))
	}
	if r.MemberEpoch != epoch {
		t.Fatalf("%s: epoch %d, want %d", what, r.MemberEpoch, epoch)
	}
	if partitions != nil {
		if !r.HasAssignment || !slices.Equal(partitionsOf(r, topicID(1)), partitions) {
			t.Fatalf("%s: assignment %v (sent %v), want %v", what, partitionsOf(r, topicID(1)), r.HasAssignment, partitions)
		}
	}
}

// Reference: KIP-848 "Assignment Process": a new member's partitions are
// given only once their previous owner has revoked them; the owner keeps
// its epoch until it acknowledges the revocation.
func TestConsumerGroupReconciliation(t *testing.T) {
	h := newConsumerHarness(t, fakeTopics{"t1": {topicID(1), 4}})
	r := h.cgHeartbeat(joinReq("A", "t1"))
	wantHB(t, "A joins", r, 1, []int32{0, 1, 2, 3})
	if r.HeartbeatIntervalMs != 5000 {
		t.Errorf("heartbeat interval %d", r.HeartbeatIntervalMs)
	}
	r = h.cgHeartbeat(joinReq("B", "t1"))
	wantHB(t, "B joins", r, 2, []int32{})
	if st := h.s.consumerGroups["cg"].state(); st != consumerStateReconciling {
		t.Fatalf("state %s", st)
	}

	r = h.cgHeartbeat(hb("A", 1, 0, 1, 2, 3))
	wantHB(t, "A asked to revoke", r, 1, []int32{2, 3})
	r = h.cgHeartbeat(hb("B", 2))
	wantHB(t, "B waits for A", r, 2, nil)
	if r.HasAssignment {
		t.Errorf("B got an unchanged assignment: %v", r.Assignment)
	}
	r = h.cgHeartbeat(hb("A", 1, 2, 3))
	wantHB(t, "A revoked", r, 2, nil)
	r = h.cgHeartbeat(hb("B", 2))
	wantHB(t, "B gets the released partitions", r, 2, []int32{0, 1})
	if st := h.s.consumerGroups["cg"].state(); st != consumerStateStable {
		t.Fatalf("state %s", st)
	}

	// Epoch checks.
	r = h.cgHeartbeat(hb("A", 7, 2, 3))
	wantCode(t, "epoch ahead", r.ErrorCode, kerr.FencedMemberEpoch.Code)
	r = h.cgHeartbeat(hb("A", 1, 2, 3))
	wantHB(t, "previous epoch with owned partitions inside the assignment", r, 2, nil)
	r = h.cgHeartbeat(hb("A", 1, 0))
	wantCode(t, "previous epoch owning others' partitions", r.ErrorCode, kerr.FencedMemberEpoch.Code)
	r = h.cgHeartbeat(hb("nobody", 2))
	wantCode(t, "unknown member", r.ErrorCode, kerr.UnknownMemberID.Code)

	// Survives a restart.
	h.restart()
	g := h.s.consumerGroups["cg"]
	if g == nil || g.epoch != 2 || g.targetEpoch != 2 || len(g.members) != 2 || g.state() != consumerStateStable {
		t.Fatalf("reloaded group %+v", g)
	}
	if a := g.members["B"].assigned; !slices.Equal(a[topicID(1)].sorted(), []int32{0, 1}) {
		t.Fatalf("reloaded B assignment %v", a)
	}
	r = h.cgHeartbeat(hb("B", 2, 0, 1))
	wantHB(t, "B after restart", r, 2, nil)

	// B leaves: A gets everything.
	r = h.cgHeartbeat(ConsumerHeartbeatRequest{MemberID: "B", MemberEpoch: -1, RebalanceTimeoutMs: -1})
	if r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave %+v", r)
	}
	r = h.cgHeartbeat(hb("A", 2, 2, 3))
	wantHB(t, "A after B left", r, 3, []int32{0, 1, 2, 3})
}

func TestConsumerGroupTimeouts(t *testing.T) {
	h := newConsumerHarness(t, fakeTopics{"t1": {topicID(1), 2}})
	wantHB(t, "A", h.cgHeartbeat(joinReq("A", "t1")), 1, []int32{0, 1})
	wantHB(t, "B", h.cgHeartbeat(joinReq("B", "t1")), 2, []int32{})
	// A is asked to revoke and never does: fenced at its rebalance
	// timeout (30s), before its session timeout (45s) as it heartbeats.
	wantHB(t, "A", h.cgHeartbeat(hb("A", 1, 0, 1)), 1, []int32{1})
	for range 6 {
		h.advance(5 * time.Second)
		h.cgHeartbeat(hb("A", 1, 0, 1))
		h.cgHeartbeat(hb("B", 2))
	}
	if _, ok := h.s.consumerGroups["cg"].members["A"]; ok {
		t.Fatal("A kept although it did not revoke within its rebalance timeout")
	}
	r := h.cgHeartbeat(hb("B", 3, 0, 1))
	wantHB(t, "B took over", r, 3, nil)
	if a := h.s.consumerGroups["cg"].members["B"].assigned; !slices.Equal(a[topicID(1)].sorted(), []int32{0, 1}) {
		t.Fatalf("B assigned %v", a)
	}

	// B stops heartbeating: fenced after group.consumer.session.timeout.ms.
	h.advance(46 * time.Second)
	if g := h.s.consumerGroups["cg"]; len(g.members) != 0 || g.state() != consumerStateEmpty {
		t.Fatalf("after the session timeout: %d members, %s", len(g.members), g.state())
	}
}

func TestConsumerGroupValidation(t *testing.T) {
	h := newConsumerHarness(t, fakeTopics{"t1": {topicID(1), 2}})
	bad := func(what string, req ConsumerHeartbeatRequest, want *kerr.Error) {
		t.Helper()
		r := h.cgHeartbeat(req)
		if r.ErrorCode != want.Code || r.ErrorMessage == nil {
			t.Errorf("%s: %v %v, want %v", what, kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage), want)
		}
	}
	req := joinReq("", "t1")
	bad("v1 without member id", req, kerr.InvalidRequest)
	req = joinReq("A", "t1")
	req.RebalanceTimeoutMs = -1
	bad("join without rebalance timeout", req, kerr.InvalidRequest)
	req = joinReq("A")
	req.SubscribedTopicNames = nil
	bad("join without subscription", req, kerr.InvalidRequest)
	req = joinReq("A", "t1")
	re := "t1["
	req.SubscribedTopicRegex = &re
	bad("bad regex", req, kerr.InvalidRegularExpression)
	req = joinReq("A", "t1")
	assignor := "sticky"
	req.ServerAssignor = &assignor
	bad("unknown assignor", req, kerr.UnsupportedAssignor)
	bad("heartbeat to a missing group", hb("A", 3), kerr.GroupIDNotFound)

	// v0: the coordinator names the member.
	req = joinReq("", "t1")
	var out ConsumerHeartbeatResponse
	h.apply(func(res *coordinator.Result) {
		req.Group = "cg"
		h.s.ConsumerGroupHeartbeat(h.now, req, func(r ConsumerHeartbeatResponse) { out = r }, res)
	})
	if out.ErrorCode != 0 || out.MemberID == "" || out.MemberEpoch != 1 {
		t.Fatalf("v0 join %+v", out)
	}
}

func TestConsumerGroupRegexAndNewTopics(t *testing.T) {
	topics := fakeTopics{"orders-1": {topicID(1), 1}, "other": {topicID(9), 1}}
	h := newConsumerHarness(t, topics)
	req := joinReq("A")
	re := "orders-.*"
	req.SubscribedTopicRegex = &re
	r := h.cgHeartbeat(req)
	wantHB(t, "regex join", r, 1, []int32{0})
	if len(r.Assignment) != 1 {
		t.Fatalf("regex matched %v", r.Assignment)
	}
	topics["orders-2"] = topicMeta{topicID(2), 2}
	r = h.cgHeartbeat(hb("A", 1, 0))
	if r.MemberEpoch != 2 || len(r.Assignment) != 2 || !slices.Equal(partitionsOf(r, topicID(2)), []int32{0, 1}) {
		t.Fatalf("after a matching topic was created: %+v", r)
	}
	g := h.s.consumerGroups["cg"]
	if rr := g.regexes[re]; !slices.Equal(rr.topics, []string{"orders-1", "orders-2"}) {
		t.Fatalf("resolved regex %+v", rr)
	}
	// A partition count change also rebalances.
	topics["orders-1"] = topicMeta{topicID(1), 3}
	r = h.cgHeartbeat(ConsumerHeartbeatRequest{MemberID: "A", MemberEpoch: 2, RebalanceTimeoutMs: -1,
		OwnedPartitions: []TopicPartitions{{TopicID: topicID(1), Partitions: []int32{0}}, {TopicID: topicID(2), Partitions: []int32{0, 1}}}})
	if r.MemberEpoch != 3 || !slices.Equal(partitionsOf(r, topicID(1)), []int32{0, 1, 2}) {
		t.Fatalf("after partitions were added: %+v", r)
	}
}

// Reference: KIP-848 static membership: a static member leaving with
// epoch -2 keeps its assignment for its instance, which a new member id
// with the same instance id takes over; another member id cannot take an
// instance that has not left (UNRELEASED_INSTANCE_ID).
func TestConsumerGroupStaticMember(t *testing.T) {
	h := newConsumerHarness(t, fakeTopics{"t1": {topicID(1), 2}})
	inst := "i1"
	req := joinReq("A", "t1")
	req.InstanceID = &inst
	wantHB(t, "A joins", h.cgHeartbeat(req), 1, []int32{0, 1})
	req2 := joinReq("A2", "t1")
	req2.InstanceID = &inst
	wantCode(t, "second member for the instance", h.cgHeartbeat(req2).ErrorCode, kerr.UnreleasedInstanceID.Code)

	leave := ConsumerHeartbeatRequest{MemberID: "A", MemberEpoch: -2, InstanceID: &inst, RebalanceTimeoutMs: -1}
	if r := h.cgHeartbeat(leave); r.ErrorCode != 0 || r.MemberEpoch != -2 {
		t.Fatalf("static leave %+v", r)
	}
	r := h.cgHeartbeat(req2)
	if r.ErrorCode != 0 || !slices.Equal(partitionsOf(r, topicID(1)), []int32{0, 1}) {
		t.Fatalf("static rejoin %+v", r)
	}
	g := h.s.consumerGroups["cg"]
	if _, ok := g.members["A"]; ok || g.staticMembers[inst] != "A2" {
		t.Fatalf("members %v static %v", slices.Collect(maps.Keys(g.members)), g.staticMembers)
	}
	hbA := hb("A", 2, 0, 1)
	hbA.InstanceID = &inst
	wantCode(t, "old member id", h.cgHeartbeat(hbA).ErrorCode, kerr.FencedInstanceID.Code)
}

func TestConsumerGroupRangeAssignor(t *testing.T) {
	h := newConsumerHarness(t, fakeTopics{"t1": {topicID(1), 5}})
	rng := "range"
	a := joinReq("A", "t1")
	a.ServerAssignor = &rng
	b := joinReq("B", "t1")
	b.ServerAssignor = &rng
	h.cgHeartbeat(a)
	h.cgHeartbeat(b)
	g := h.s.consumerGroups["cg"]
	if ta, tb := g.target["A"][topicID(1)].sorted(), g.target["B"][topicID(1)].sorted(); !slices.Equal(ta, []int32{0, 1, 2}) || !slices.Equal(tb, []int32{3, 4}) {
		t.Fatalf("range targets %v %v", ta, tb)
	}
}

func TestConsumerGroupOffsetsAndAdmin(t *testing.T) {
	h := newConsumerHarness(t, fakeTopics{"t1": {topicID(1), 2}})
	wantHB(t, "A", h.cgHeartbeat(joinReq("A", "t1")), 1, []int32{0, 1})
	commit := func(gen int32, member string, version int16) int16 {
		r := h.commit(CommitRequest{Group: "cg", Generation: gen, MemberID: member, RetentionMs: -1, Version: version,
			Topics: []CommitTopic{{Topic: "t1", Partitions: []CommitPartition{{Partition: 0, Offset: 5}}}}})
		return r.Topics[0].Partitions[0].ErrorCode
	}
	wantCode(t, "commit", commit(1, "A", 9), 0)
	wantCode(t, "stale epoch", commit(0, "A", 9), kerr.StaleMemberEpoch.Code)
	wantCode(t, "old version", commit(1, "A", 8), kerr.UnsupportedVersion.Code)
	wantCode(t, "unknown member", commit(1, "Z", 9), kerr.UnknownMemberID.Code)
	wantCode(t, "no member in a non-empty group", commit(-1, "", 9), kerr.UnknownMemberID.Code)

	member := "A"
	f := h.s.FetchOffsets(h.now, FetchRequest{Group: "cg", MemberID: &member, MemberEpoch: 0, Topics: []FetchTopic{{Topic: "t1", Partitions: []int32{0}}}})
	wantCode(t, "fetch with a stale epoch", f.ErrorCode, kerr.StaleMemberEpoch.Code)
	f = h.s.FetchOffsets(h.now, FetchRequest{Group: "cg", MemberID: &member, MemberEpoch: 1, Topics: []FetchTopic{{Topic: "t1", Partitions: []int32{0}}}})
	if f.ErrorCode != 0 || f.Topics[0].Partitions[0].Offset != 5 {
		t.Fatalf("fetch %+v", f)
	}

	if got := h.s.ListGroups(ListRequest{Types: []string{"consumer"}}); len(got) != 1 || got[0].State != "Stable" || got[0].Type != "consumer" {
		t.Fatalf("list %+v", got)
	}
	if d := h.s.DescribeConsumerGroup("cg"); d.ErrorCode != 0 || d.Epoch != 1 || len(d.Members) != 1 || d.AssignorName != "uniform" {
		t.Fatalf("describe %+v", d)
	}
	if d := h.s.DescribeGroup("cg", true); d.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("classic describe of a consumer group %+v", d)
	}
	// A classic member of another protocol type cannot join a consumer
	// group with members (a consumer one can: migration_test.go).
	j := h.join(JoinRequest{Group: "cg", ProtocolType: "connect"})
	wantCode(t, "classic join", j.resp.ErrorCode, kerr.InconsistentGroupProtocol.Code)

	var del []DeletedGroup
	h.apply(func(res *coordinator.Result) {
		h.s.DeleteGroups(h.now, []string{"cg"}, func(r []DeletedGroup) { del = r }, res)
	})
	wantCode(t, "delete a group with members", del[0].ErrorCode, kerr.NonEmptyGroup.Code)
	h.cgHeartbeat(ConsumerHeartbeatRequest{MemberID: "A", MemberEpoch: -1, RebalanceTimeoutMs: -1})
	h.apply(func(res *coordinator.Result) {
		h.s.DeleteGroups(h.now, []string{"cg"}, func(r []DeletedGroup) { del = r }, res)
	})
	wantCode(t, "delete the emptied group", del[0].ErrorCode, 0)
	if _, ok := h.s.consumerGroups["cg"]; ok || h.s.offsets["cg"] != nil {
		t.Fatal("deleted group still present")
	}
	h.restart()
	if _, ok := h.s.consumerGroups["cg"]; ok {
		t.Fatal("deleted group back after restart")
	}
}

// An empty classic group becomes a consumer group when a KIP-848 member
// joins, keeping its offsets; an empty consumer group becomes classic.
func TestGroupTypeConversion(t *testing.T) {
	h := newConsumerHarness(t, fakeTopics{"t1": {topicID(1), 1}})
	h.commit(CommitRequest{Group: "cg", Generation: -1, RetentionMs: -1, Topics: []CommitTopic{{Topic: "t1", Partitions: []CommitPartition{{Partition: 0, Offset: 3}}}}})
	wantHB(t, "join over a simple group", h.cgHeartbeat(joinReq("A", "t1")), 1, []int32{0})
	if _, ok := h.s.groups["cg"]; ok {
		t.Fatal("classic group kept")
	}
	if f := h.fetch("cg", nil); len(f.Topics) != 1 {
		t.Fatalf("offsets lost in the conversion: %+v", f)
	}
	h.cgHeartbeat(ConsumerHeartbeatRequest{MemberID: "A", MemberEpoch: -1, RebalanceTimeoutMs: -1})
	_, j := h.joinNew(JoinRequest{Group: "cg"})
	h.advance(3 * time.Second)
	if !j.done || j.resp.ErrorCode != 0 {
		t.Fatalf("classic join over an empty consumer group: %+v", j)
	}
	if _, ok := h.s.consumerGroups["cg"]; ok {
		t.Fatal("consumer group kept")
	}
	h.restart()
	if _, ok := h.s.consumerGroups["cg"]; ok {
		t.Fatal("consumer group back after restart")
	}
	if _, ok := h.s.groups["cg"]; !ok {
		t.Fatal("classic group lost after restart")
	}
}

func TestUniformAssignorBalancedAndSticky(t *testing.T) {
	t1, t2 := topicRef{"a", topicID(1), 7}, topicRef{"b", topicID(2), 5}
	in := assignorInput{
		members:       []string{"m1", "m2", "m3"},
		subscriptions: map[string][]topicRef{"m1": {t1, t2}, "m2": {t1, t2}, "m3": {t1, t2}},
	}
	first := assignUniform(in)
	check := func(out map[string]assignment, members []string) {
		t.Helper()
		seen := assignment{}
		lo, hi := 1<<30, 0
		for _, m := range members {
			n := out[m].size()
			lo, hi = min(lo, n), max(hi, n)
			for tp, ps := range out[m] {
				for p := range ps {
					if seen.has(tp, p) {
						t.Fatalf("partition %v-%d assigned twice", tp, p)
					}
					seen.add(tp, p)
				}
			}
		}
		if seen.size() != 12 || hi-lo > 1 {
			t.Fatalf("unbalanced or incomplete: %d partitions, sizes %d..%d", seen.size(), lo, hi)
		}
	}
	check(first, in.members)
	// A fourth member: the others keep all but what it needs.
	in.members = append(in.members, "m4")
	in.subscriptions["m4"] = []topicRef{t1, t2}
	in.current = first
	second := assignUniform(in)
	check(second, in.members)
	moved := 0
	for _, m := range []string{"m1", "m2", "m3"} {
		for tp, ps := range first[m] {
			for p := range ps {
				if !second[m].has(tp, p) {
					moved++
				}
			}
		}
	}
	if moved != 3 {
		t.Errorf("%d partitions moved to make room for one member of 3, want 3", moved)
	}
}

// A member that joins again with epoch 0 under its id (as a fenced
// member does) starts over instead of being fenced again.
func TestConsumerGroupRejoinWithSameID(t *testing.T) {
	h := newConsumerHarness(t, fakeTopics{"t1": {topicID(1), 2}})
	wantHB(t, "A", h.cgHeartbeat(joinReq("A", "t1")), 1, []int32{0, 1})
	wantCode(t, "stale epoch", h.cgHeartbeat(hb("A", 5, 0, 1)).ErrorCode, kerr.FencedMemberEpoch.Code)
	r := h.cgHeartbeat(joinReq("A", "t1"))
	wantHB(t, "rejoin", r, 2, nil)
	r = h.cgHeartbeat(hb("A", 2))
	wantHB(t, "after rejoin", r, 2, nil)
	if a := h.s.consumerGroups["cg"].members["A"].assigned; !slices.Equal(a[topicID(1)].sorted(), []int32{0, 1}) {
		t.Fatalf("assigned after rejoin %v", a)
	}
}
