package group

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// harness drives a Shard as the runtime does, with made-up time and an
// in-memory log, so tests control every timer.
type harness struct {
	t      *testing.T
	cfg    *Config
	now    time.Time
	timers *coordinator.Timers[*Shard]
	s      *Shard
	log    []coordinator.LoggedRecord
	// markers are the transaction markers of the log, by offset (their
	// entry in log has no key).
	markers map[int64]coordinator.Marker
	// failAppend, if set, fails the next appends.
	failAppend error
	ids        int
}

func testConfig() Config {
	return Config{
		InitialRebalanceDelayMs:         3000,
		MinSessionTimeoutMs:             6000,
		MaxSessionTimeoutMs:             1800000,
		OffsetsRetentionMs:              7 * 24 * 3600 * 1000,
		OffsetsRetentionCheckIntervalMs: 600000,
	}
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	c := cfg.withDefaults()
	h := &harness{t: t, cfg: &c, now: time.UnixMilli(1_700_000_000_000)}
	h.start()
	return h
}

// start builds a shard, replays the log into it and loads it.
func (h *harness) start() {
	h.timers = coordinator.NewTimers[*Shard]()
	h.s = NewShard(h.cfg, 0, h.timers)
	h.s.newUUID = func() string { h.ids++; return fmt.Sprintf("uuid-%d", h.ids) }
	for _, r := range h.log {
		var err error
		if m, ok := h.markers[r.Offset]; ok {
			err = h.s.ReplayMarker(r.Offset, m)
		} else {
			err = h.s.Replay(r)
		}
		if err != nil {
			h.t.Fatalf("replay at %d: %v", r.Offset, err)
		}
	}
	h.apply(func(res *coordinator.Result) { h.s.Loaded(h.now, res) })
}

// restart reloads the shard from the log, as a broker restart does.
func (h *harness) restart() {
	h.apply(func(res *coordinator.Result) { h.s.Unloaded(res); res.Records = nil })
	h.start()
}

func (h *harness) apply(op func(res *coordinator.Result)) {
	res := &coordinator.Result{}
	op(res)
	coordinator.Apply(h.s, h.now, res, func(b coordinator.Batch) (int64, error) {
		if h.failAppend != nil {
			return -1, h.failAppend
		}
		base := int64(len(h.log))
		if b.Marker != nil {
			if h.markers == nil {
				h.markers = map[int64]coordinator.Marker{}
			}
			h.markers[base] = *b.Marker
			h.log = append(h.log, coordinator.LoggedRecord{Offset: base, ProducerID: b.Marker.ProducerID})
			return base, nil
		}
		pid := int64(-1)
		if b.Producer != nil {
			pid = b.Producer.ID
		}
		for i, r := range b.Records {
			h.log = append(h.log, coordinator.LoggedRecord{Offset: base + int64(i), ProducerID: pid, Key: r.Key, Value: r.Value})
		}
		return base, nil
	}, func(err error) { h.t.Errorf("replay: %v", err) })
}

// advance moves time forward by d, running each timer at its deadline.
func (h *harness) advance(d time.Duration) {
	end := h.now.Add(d)
	for {
		next, ok := h.timers.Next()
		if !ok || next.After(end) {
			break
		}
		if next.After(h.now) {
			h.now = next
		}
		op, _ := h.timers.PopDue(h.now)
		h.apply(func(res *coordinator.Result) { op(h.s, h.now, res) })
	}
	h.now = end
}

type pendingJoin struct {
	done bool
	resp JoinResponse
}

func (h *harness) join(req JoinRequest) *pendingJoin {
	p := &pendingJoin{}
	if req.Group == "" {
		req.Group = "g"
	}
	if req.ProtocolType == "" {
		req.ProtocolType = consumerProtocolType
	}
	if req.Protocols == nil {
		req.Protocols = []Protocol{{Name: "range", Metadata: subscription("t")}}
	}
	if req.SessionTimeoutMs == 0 {
		req.SessionTimeoutMs = 10000
	}
	if req.RebalanceTimeoutMs == 0 {
		req.RebalanceTimeoutMs = 20000
	}
	if req.ClientID == "" {
		req.ClientID = "client"
	}
	h.apply(func(res *coordinator.Result) {
		h.s.JoinGroup(h.now, req, func(r JoinResponse) {
			if p.done {
				h.t.Errorf("join answered twice: %+v then %+v", p.resp, r)
			}
			p.done, p.resp = true, r
		}, res)
	})
	return p
}

// joinNew joins as a new dynamic member (v4+: two round trips) and
// returns the pending second join.
func (h *harness) joinNew(req JoinRequest) (string, *pendingJoin) {
	h.t.Helper()
	req.RequireKnownMemberID = true
	first := h.join(req)
	if !first.done || first.resp.ErrorCode != kerr.MemberIDRequired.Code || first.resp.MemberID == "" {
		h.t.Fatalf("first join: %+v, want MEMBER_ID_REQUIRED with an id", first)
	}
	req.MemberID = first.resp.MemberID
	return req.MemberID, h.join(req)
}

type pendingSync struct {
	done bool
	resp SyncResponse
}

func (h *harness) sync(req SyncRequest) *pendingSync {
	p := &pendingSync{}
	if req.Group == "" {
		req.Group = "g"
	}
	h.apply(func(res *coordinator.Result) {
		h.s.SyncGroup(h.now, req, func(r SyncResponse) {
			if p.done {
				h.t.Errorf("sync answered twice")
			}
			p.done, p.resp = true, r
		}, res)
	})
	return p
}

func (h *harness) heartbeat(member string, generation int32) int16 {
	return h.s.Heartbeat(h.now, HeartbeatRequest{Group: "g", MemberID: member, Generation: generation})
}

func (h *harness) commit(req CommitRequest) CommitResponse {
	var out CommitResponse
	done := false
	if req.Group == "" {
		req.Group = "g"
	}
	h.apply(func(res *coordinator.Result) {
		h.s.CommitOffsets(h.now, req, func(r CommitResponse) { out, done = r, true }, res)
	})
	if !done {
		h.t.Fatal("commit not answered")
	}
	return out
}

func (h *harness) fetch(group string, topics []FetchTopic) FetchResponse {
	return h.s.FetchOffsets(h.now, FetchRequest{Group: group, MemberEpoch: -1, Topics: topics})
}

func (h *harness) group(id string) *classicGroup {
	h.t.Helper()
	g, ok := h.s.groups[id]
	if !ok {
		h.t.Fatalf("group %s does not exist", id)
	}
	return g
}

func subscription(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 0
	m.Topics = topics
	return m.AppendTo(nil)
}

func wantCode(t *testing.T, what string, got, want int16) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: error %s, want %s", what, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
	}
}

// stableGroup brings two members to Stable generation 1 and returns
// their ids (leader first).
func stableGroup(t *testing.T, h *harness) (string, string) {
	t.Helper()
	a, ja := h.joinNew(JoinRequest{})
	b, jb := h.joinNew(JoinRequest{})
	h.advance(10 * time.Second)
	if !ja.done || !jb.done {
		t.Fatalf("joins not complete after the initial delay: %+v %+v", ja, jb)
	}
	leader := ja.resp.Leader
	follower := a
	if leader == a {
		follower = b
	}
	sl := h.sync(SyncRequest{MemberID: leader, Generation: 1, Assignments: []SyncAssignment{
		{MemberID: leader, Assignment: []byte("L")}, {MemberID: follower, Assignment: []byte("F")},
	}})
	sf := h.sync(SyncRequest{MemberID: follower, Generation: 1})
	if !sl.done || !sf.done || !h.group("g").is(stateStable) {
		t.Fatalf("group not stable after syncs: %+v %+v state %s", sl, sf, h.group("g").state)
	}
	return leader, follower
}

// Reference: KIP-394 (member id required) and Kafka's
// GroupMetadataManagerTest: a first join with no id gets
// MEMBER_ID_REQUIRED; the join with the id waits out
// group.initial.rebalance.delay.ms, then the leader gets the members.
func TestJoinMemberIDRequiredAndInitialDelay(t *testing.T) {
	h := newHarness(t, testConfig())
	id, j := h.joinNew(JoinRequest{ClientID: "c1"})
	if id != "c1-uuid-1" {
		t.Errorf("member id %q, want client id + uuid", id)
	}
	if j.done {
		t.Fatalf("join answered before the initial rebalance delay: %+v", j.resp)
	}
	if st := h.group("g").state; st != statePreparingRebalance {
		t.Fatalf("state %s, want PreparingRebalance", st)
	}
	h.advance(2999 * time.Millisecond)
	if j.done {
		t.Fatal("join answered before the delay passed")
	}
	h.advance(time.Millisecond)
	if !j.done {
		t.Fatal("join not answered after the delay")
	}
	r := j.resp
	wantCode(t, "join", r.ErrorCode, 0)
	if r.Generation != 1 || r.Leader != id || r.MemberID != id || *r.ProtocolName != "range" || *r.ProtocolType != "consumer" {
		t.Fatalf("join response %+v", r)
	}
	if len(r.Members) != 1 || r.Members[0].MemberID != id || !bytes.Equal(r.Members[0].Metadata, subscription("t")) {
		t.Fatalf("leader members %+v", r.Members)
	}
	if st := h.group("g").state; st != stateCompletingRebalance {
		t.Fatalf("state %s, want CompletingRebalance", st)
	}
}

// Reference: Kafka's tryCompleteInitialRebalanceElseSchedule: each member
// joining during the delay extends it by another delay, up to the
// rebalance timeout.
func TestInitialDelayExtendsWhileMembersJoin(t *testing.T) {
	h := newHarness(t, testConfig())
	_, j1 := h.joinNew(JoinRequest{RebalanceTimeoutMs: 10000})
	h.advance(time.Second)
	_, j2 := h.joinNew(JoinRequest{RebalanceTimeoutMs: 10000})
	h.advance(2 * time.Second) // t=3s: extended
	if j1.done || j2.done {
		t.Fatal("join phase completed although a member joined during the delay")
	}
	h.advance(3 * time.Second) // t=6s
	if !j1.done || !j2.done {
		t.Fatal("join phase not complete after the extended delay")
	}
	if j1.resp.Generation != 1 || j2.resp.Generation != 1 || j1.resp.Leader != j2.resp.Leader {
		t.Fatalf("responses %+v %+v", j1.resp, j2.resp)
	}
	if (len(j1.resp.Members) == 2) == (len(j2.resp.Members) == 2) {
		t.Fatalf("exactly the leader gets the members: %d and %d", len(j1.resp.Members), len(j2.resp.Members))
	}
}

func TestSyncPropagatesLeaderAssignment(t *testing.T) {
	h := newHarness(t, testConfig())
	a, ja := h.joinNew(JoinRequest{})
	b, jb := h.joinNew(JoinRequest{})
	h.advance(3 * time.Second) // b joined during the delay: extended
	if ja.done || jb.done {
		t.Fatal("joins complete before the extended delay")
	}
	h.advance(3 * time.Second)
	if !ja.done || !jb.done {
		t.Fatal("joins not complete")
	}
	leader, follower := ja.resp.Leader, b
	if leader == b {
		follower = a
	}
	records := len(h.log)
	sf := h.sync(SyncRequest{MemberID: follower, Generation: 1})
	if sf.done {
		t.Fatal("follower's sync answered before the leader's")
	}
	// Wrong generation and wrong protocol are refused.
	wantCode(t, "sync old generation", h.sync(SyncRequest{MemberID: follower, Generation: 0}).resp.ErrorCode, kerr.IllegalGeneration.Code)
	other := "other"
	wantCode(t, "sync other protocol", h.sync(SyncRequest{MemberID: follower, Generation: 1, ProtocolName: &other}).resp.ErrorCode, kerr.InconsistentGroupProtocol.Code)

	sl := h.sync(SyncRequest{MemberID: leader, Generation: 1, Assignments: []SyncAssignment{{MemberID: follower, Assignment: []byte("F")}}})
	if !sl.done || !sf.done {
		t.Fatal("syncs not answered after the leader's")
	}
	if !bytes.Equal(sf.resp.Assignment, []byte("F")) || len(sl.resp.Assignment) != 0 || *sl.resp.ProtocolName != "range" {
		t.Fatalf("assignments: leader %+v follower %+v", sl.resp, sf.resp)
	}
	if !h.group("g").is(stateStable) {
		t.Fatalf("state %s", h.group("g").state)
	}
	if len(h.log) != records+1 {
		t.Fatalf("%d records written by the leader's sync, want 1", len(h.log)-records)
	}
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(h.log[len(h.log)-1].Value); err != nil {
		t.Fatal(err)
	}
	if v.Version != 3 || v.Generation != 1 || *v.Protocol != "range" || v.ProtocolType != "consumer" || len(v.Members) != 2 {
		t.Fatalf("group metadata record %+v", v)
	}
	// A late sync in Stable gets the stored assignment.
	again := h.sync(SyncRequest{MemberID: follower, Generation: 1})
	if !again.done || !bytes.Equal(again.resp.Assignment, []byte("F")) {
		t.Fatalf("sync in Stable: %+v", again)
	}
}

func TestHeartbeatAndRebalanceOnNewMember(t *testing.T) {
	h := newHarness(t, testConfig())
	leader, follower := stableGroup(t, h)
	wantCode(t, "heartbeat", h.heartbeat(follower, 1), 0)
	wantCode(t, "heartbeat old generation", h.heartbeat(follower, 0), kerr.IllegalGeneration.Code)
	wantCode(t, "heartbeat unknown member", h.heartbeat("nobody", 1), kerr.UnknownMemberID.Code)

	_, j3 := h.joinNew(JoinRequest{})
	wantCode(t, "heartbeat during rebalance", h.heartbeat(follower, 1), kerr.RebalanceInProgress.Code)
	jl := h.join(JoinRequest{MemberID: leader})
	if j3.done || jl.done {
		t.Fatal("join phase completed before every member rejoined")
	}
	jf := h.join(JoinRequest{MemberID: follower})
	if !j3.done || !jl.done || !jf.done {
		t.Fatal("join phase not completed once everyone rejoined")
	}
	for _, j := range []*pendingJoin{j3, jl, jf} {
		if j.resp.Generation != 2 || j.resp.Leader != leader {
			t.Fatalf("rejoin response %+v", j.resp)
		}
	}
}

// Reference: Kafka's expireClassicGroupMemberHeartbeat: a member that
// stops heartbeating is removed after its session timeout and the group
// rebalances without it.
func TestSessionTimeoutRemovesMember(t *testing.T) {
	h := newHarness(t, testConfig())
	leader, follower := stableGroup(t, h)
	h.advance(5 * time.Second)
	wantCode(t, "leader heartbeat", h.heartbeat(leader, 1), 0)
	h.advance(5 * time.Second)
	// The follower has not heartbeated since it got its generation:
	// longer than its 10s session timeout.
	g := h.group("g")
	if _, ok := g.members[follower]; ok {
		t.Fatal("follower still a member after its session timeout")
	}
	if !g.is(statePreparingRebalance) {
		t.Fatalf("state %s, want PreparingRebalance", g.state)
	}
	wantCode(t, "leader heartbeat", h.heartbeat(leader, 1), kerr.RebalanceInProgress.Code)
	j := h.join(JoinRequest{MemberID: leader})
	if !j.done || j.resp.Generation != 2 || len(j.resp.Members) != 1 {
		t.Fatalf("rejoin of the only member: %+v", j)
	}
}

// Reference: Kafka's completeClassicGroupJoin: dynamic members that have
// not rejoined by the rebalance timeout are removed.
func TestRebalanceTimeoutRemovesMembersThatDidNotRejoin(t *testing.T) {
	h := newHarness(t, testConfig())
	leader, follower := stableGroup(t, h)
	jl := h.join(JoinRequest{MemberID: leader}) // leader rejoin forces a rebalance
	for range 4 {
		h.advance(5 * time.Second)
		h.heartbeat(follower, 1) // heartbeats but never rejoins
	}
	if !jl.done {
		t.Fatal("join not completed at the rebalance timeout")
	}
	if jl.resp.Generation != 2 || len(jl.resp.Members) != 1 {
		t.Fatalf("response %+v", jl.resp)
	}
	wantCode(t, "removed member heartbeat", h.heartbeat(follower, 1), kerr.UnknownMemberID.Code)
}

func TestLeaveGroupUntilEmpty(t *testing.T) {
	h := newHarness(t, testConfig())
	leader, follower := stableGroup(t, h)
	var resp LeaveResponse
	h.apply(func(res *coordinator.Result) {
		resp = h.s.LeaveGroup(h.now, LeaveRequest{Group: "g", Members: []LeaveMember{{MemberID: follower}, {MemberID: "ghost"}}}, res)
	})
	if len(resp.Members) != 2 || resp.Members[0].ErrorCode != 0 || resp.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave response %+v", resp)
	}
	if !h.group("g").is(statePreparingRebalance) {
		t.Fatalf("state %s", h.group("g").state)
	}
	j := h.join(JoinRequest{MemberID: leader})
	if !j.done || j.resp.Generation != 2 {
		t.Fatalf("rejoin %+v", j)
	}
	records := len(h.log)
	h.apply(func(res *coordinator.Result) {
		resp = h.s.LeaveGroup(h.now, LeaveRequest{Group: "g", Members: []LeaveMember{{MemberID: leader}}}, res)
	})
	g := h.group("g")
	if !g.is(stateEmpty) || g.generation != 3 || g.numMembers() != 0 {
		t.Fatalf("after the last member left: state %s generation %d members %d", g.state, g.generation, g.numMembers())
	}
	if len(h.log) != records+1 {
		t.Fatal("empty group not written")
	}
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(h.log[len(h.log)-1].Value); err != nil || len(v.Members) != 0 || v.Generation != 3 || v.Protocol != nil {
		t.Fatalf("empty group record %+v (%v)", v, err)
	}
}

func TestInconsistentProtocols(t *testing.T) {
	h := newHarness(t, testConfig())
	stableGroup(t, h)
	j := h.join(JoinRequest{ProtocolType: "connect"})
	wantCode(t, "other protocol type", j.resp.ErrorCode, kerr.InconsistentGroupProtocol.Code)
	j = h.join(JoinRequest{Protocols: []Protocol{{Name: "roundrobin"}}})
	wantCode(t, "no common protocol", j.resp.ErrorCode, kerr.InconsistentGroupProtocol.Code)
	j = h.join(JoinRequest{Group: "new", Protocols: []Protocol{}})
	wantCode(t, "no protocols", j.resp.ErrorCode, kerr.InconsistentGroupProtocol.Code)
}

func TestProtocolSelectionByVote(t *testing.T) {
	h := newHarness(t, testConfig())
	_, j1 := h.joinNew(JoinRequest{Protocols: []Protocol{{Name: "cooperative-sticky"}, {Name: "range"}}})
	_, j2 := h.joinNew(JoinRequest{Protocols: []Protocol{{Name: "range"}, {Name: "cooperative-sticky"}}})
	_, j3 := h.joinNew(JoinRequest{Protocols: []Protocol{{Name: "range"}, {Name: "roundrobin"}}})
	h.advance(10 * time.Second)
	for _, j := range []*pendingJoin{j1, j2, j3} {
		if !j.done || *j.resp.ProtocolName != "range" {
			t.Fatalf("selected %+v, want range (the only common protocol)", j.resp)
		}
	}
}

func TestGroupMaxSize(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSize = 2
	h := newHarness(t, cfg)
	stableGroup(t, h)
	j := h.join(JoinRequest{RequireKnownMemberID: true})
	wantCode(t, "third member", j.resp.ErrorCode, kerr.GroupMaxSizeReached.Code)
	if h.group("g").numMembers() != 2 {
		t.Fatal("group grew past group.max.size")
	}
}

// Reference: KIP-345. A static member rejoining with an unknown member id
// (a restarted instance) replaces its old id without a rebalance while
// the group is Stable; the old id is fenced.
func TestStaticMemberReplacement(t *testing.T) {
	h := newHarness(t, testConfig())
	inst := "instance-1"
	j := h.join(JoinRequest{InstanceID: &inst, RequireKnownMemberID: true})
	if j.done {
		t.Fatalf("static member asked for a member id: %+v", j.resp)
	}
	h.advance(3 * time.Second)
	if !j.done || j.resp.MemberID != "instance-1-uuid-1" {
		t.Fatalf("static join %+v", j)
	}
	old := j.resp.MemberID
	s := h.sync(SyncRequest{MemberID: old, InstanceID: &inst, Generation: 1, Assignments: []SyncAssignment{{MemberID: old, Assignment: []byte("A")}}})
	if !s.done || s.resp.ErrorCode != 0 {
		t.Fatalf("sync %+v", s)
	}
	j2 := h.join(JoinRequest{InstanceID: &inst, SupportsSkipAssignment: true})
	if !j2.done || j2.resp.ErrorCode != 0 || j2.resp.Generation != 1 || !j2.resp.SkipAssignment || j2.resp.MemberID == old {
		t.Fatalf("static rejoin %+v", j2)
	}
	if !h.group("g").is(stateStable) {
		t.Fatalf("static rejoin rebalanced: state %s", h.group("g").state)
	}
	code := h.s.Heartbeat(h.now, HeartbeatRequest{Group: "g", MemberID: old, InstanceID: &inst, Generation: 1})
	wantCode(t, "fenced heartbeat", code, kerr.FencedInstanceID.Code)
	code = h.s.Heartbeat(h.now, HeartbeatRequest{Group: "g", MemberID: j2.resp.MemberID, InstanceID: &inst, Generation: 1})
	wantCode(t, "new id heartbeat", code, 0)
	// Survives a restart with the new id.
	h.restart()
	g := h.group("g")
	if g.staticMembers[inst] != j2.resp.MemberID || !g.is(stateStable) {
		t.Fatalf("after restart: static members %v state %s", g.staticMembers, g.state)
	}
	// Administrative removal by instance id alone.
	var resp LeaveResponse
	h.apply(func(res *coordinator.Result) {
		resp = h.s.LeaveGroup(h.now, LeaveRequest{Group: "g", Members: []LeaveMember{{InstanceID: &inst}}}, res)
	})
	if resp.Members[0].ErrorCode != 0 || !h.group("g").is(stateEmpty) {
		t.Fatalf("leave by instance id: %+v, state %s", resp, h.group("g").state)
	}
}

func TestCommitValidation(t *testing.T) {
	h := newHarness(t, testConfig())
	commit := func(group string, gen int32, member string) int16 {
		r := h.commit(CommitRequest{Group: group, Generation: gen, MemberID: member, RetentionMs: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 5, LeaderEpoch: 2}}}}})
		return r.Topics[0].Partitions[0].ErrorCode
	}
	// Outside group management: a simple group is created by the commit.
	wantCode(t, "simple commit", commit("simple", -1, ""), 0)
	if g := h.group("simple"); !g.is(stateEmpty) || g.protocolType != nil {
		t.Fatalf("simple group %+v", g)
	}
	wantCode(t, "generation for a missing group", commit("missing", 3, "m"), kerr.IllegalGeneration.Code)

	_, ja := h.joinNew(JoinRequest{})
	h.advance(3 * time.Second)
	member := ja.resp.MemberID
	wantCode(t, "commit while completing", commit("g", 1, member), kerr.RebalanceInProgress.Code)
	h.sync(SyncRequest{MemberID: member, Generation: 1})
	wantCode(t, "commit", commit("g", 1, member), 0)
	wantCode(t, "old generation", commit("g", 0, member), kerr.IllegalGeneration.Code)
	wantCode(t, "unknown member", commit("g", 1, "ghost"), kerr.UnknownMemberID.Code)
	wantCode(t, "no member in a non-empty group", commit("g", -1, ""), kerr.UnknownMemberID.Code)

	big := string(make([]byte, 4097))
	r := h.commit(CommitRequest{Group: "g", Generation: 1, MemberID: member, RetentionMs: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{
		{Partition: 1, Offset: 1, Metadata: &big}, {Partition: 2, Offset: 9, LeaderEpoch: -1},
	}}}})
	wantCode(t, "metadata too large", r.Topics[0].Partitions[0].ErrorCode, kerr.OffsetMetadataTooLarge.Code)
	wantCode(t, "other partition", r.Topics[0].Partitions[1].ErrorCode, 0)

	f := h.fetch("g", []FetchTopic{{Topic: "t", Partitions: []int32{0, 1, 2}}})
	got := f.Topics[0].Partitions
	if got[0].Offset != 5 || got[0].LeaderEpoch != 2 || got[1].Offset != -1 || got[2].Offset != 9 || got[2].LeaderEpoch != -1 {
		t.Fatalf("fetched %+v", got)
	}
	all := h.fetch("g", nil)
	if len(all.Topics) != 1 || len(all.Topics[0].Partitions) != 2 {
		t.Fatalf("fetch all %+v", all)
	}
	if none := h.fetch("nope", nil); none.ErrorCode != 0 || len(none.Topics) != 0 {
		t.Fatalf("fetch all of a missing group %+v", none)
	}
}

// Groups and offsets are rebuilt from the log after a restart; members
// are kept until their sessions expire.
func TestRestartReplaysGroupsAndOffsets(t *testing.T) {
	h := newHarness(t, testConfig())
	leader, follower := stableGroup(t, h)
	h.commit(CommitRequest{Group: "g", Generation: 1, MemberID: leader, RetentionMs: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 3, Offset: 42, LeaderEpoch: 1}}}}})
	h.restart()
	g := h.group("g")
	if !g.is(stateStable) || g.generation != 1 || g.numMembers() != 2 || g.leader != leader {
		t.Fatalf("reloaded group: state %s generation %d members %d leader %s", g.state, g.generation, g.numMembers(), g.leader)
	}
	s := h.sync(SyncRequest{MemberID: follower, Generation: 1})
	if !bytes.Equal(s.resp.Assignment, []byte("F")) {
		t.Fatalf("assignment after restart: %+v", s.resp)
	}
	f := h.fetch("g", []FetchTopic{{Topic: "t", Partitions: []int32{3}}})
	if p := f.Topics[0].Partitions[0]; p.Offset != 42 || p.LeaderEpoch != 1 {
		t.Fatalf("offset after restart %+v", p)
	}
	// Only the leader comes back: the follower's session expires.
	for range 3 {
		h.advance(5 * time.Second)
		h.heartbeat(leader, 1)
	}
	if _, ok := h.group("g").members[follower]; ok {
		t.Fatal("follower kept after its session expired")
	}
}

func TestDeleteGroups(t *testing.T) {
	h := newHarness(t, testConfig())
	stableGroup(t, h)
	h.commit(CommitRequest{Group: "simple", Generation: -1, RetentionMs: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 1}}}}})
	var out []DeletedGroup
	h.apply(func(res *coordinator.Result) {
		h.s.DeleteGroups(h.now, []string{"g", "simple", "missing"}, func(r []DeletedGroup) { out = r }, res)
	})
	want := []DeletedGroup{{"g", kerr.NonEmptyGroup.Code}, {"simple", 0}, {"missing", kerr.GroupIDNotFound.Code}}
	if !slices.Equal(out, want) {
		t.Fatalf("delete groups %+v, want %+v", out, want)
	}
	if _, ok := h.s.groups["simple"]; ok || h.s.offsets["simple"] != nil {
		t.Fatal("deleted group still present")
	}
	h.restart()
	if _, ok := h.s.groups["simple"]; ok {
		t.Fatal("deleted group back after restart")
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t, testConfig())
	leader, _ := stableGroup(t, h) // subscribed to "t"
	h.commit(CommitRequest{Group: "g", Generation: 1, MemberID: leader, RetentionMs: -1, Topics: []CommitTopic{
		{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 1}}},
		{Topic: "old", Partitions: []CommitPartition{{Partition: 0, Offset: 7}}},
	}})
	var out OffsetDeleteResponse
	h.apply(func(res *coordinator.Result) {
		h.s.DeleteOffsets(h.now, OffsetDeleteRequest{Group: "g", Topics: []FetchTopic{{Topic: "t", Partitions: []int32{0}}, {Topic: "old", Partitions: []int32{0}}}}, func(r OffsetDeleteResponse) { out = r }, res)
	})
	if out.ErrorCode != 0 || out.Topics[0].Partitions[0].ErrorCode != kerr.GroupSubscribedToTopic.Code || out.Topics[1].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete %+v", out)
	}
	f := h.fetch("g", nil)
	if len(f.Topics) != 1 || f.Topics[0].Topic != "t" {
		t.Fatalf("offsets after delete %+v", f)
	}
	h.apply(func(res *coordinator.Result) {
		h.s.DeleteOffsets(h.now, OffsetDeleteRequest{Group: "nope"}, func(r OffsetDeleteResponse) { out = r }, res)
	})
	wantCode(t, "missing group", out.ErrorCode, kerr.GroupIDNotFound.Code)
}

// Reference: KIP-211. Offsets of an Empty group expire
// offsets.retention.minutes after the group became empty; the group goes
// with its last offset.
func TestOffsetExpiration(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetentionMs = 3600 * 1000
	cfg.OffsetsRetentionCheckIntervalMs = 60 * 1000
	h := newHarness(t, cfg)
	h.commit(CommitRequest{Group: "simple", Generation: -1, RetentionMs: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 1}}}}})
	h.advance(30 * time.Minute)
	h.commit(CommitRequest{Group: "simple", Generation: -1, RetentionMs: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 1, Offset: 1}}}}})
	h.advance(31 * time.Minute)
	f := h.fetch("simple", nil)
	if len(f.Topics) != 1 || len(f.Topics[0].Partitions) != 1 || f.Topics[0].Partitions[0].Partition != 1 {
		t.Fatalf("after the first offset's retention: %+v", f)
	}
	h.advance(30 * time.Minute)
	if _, ok := h.s.groups["simple"]; ok {
		t.Fatal("group kept after its last offset expired")
	}
	h.restart()
	if _, ok := h.s.groups["simple"]; ok {
		t.Fatal("expired group back after restart")
	}
}

// A failed write of the leader's assignment is answered with the
// coordinator error and the group rebalances.
func TestSyncWriteFailure(t *testing.T) {
	h := newHarness(t, testConfig())
	_, ja := h.joinNew(JoinRequest{})
	h.advance(3 * time.Second)
	h.failAppend = apierror.New(kerr.KafkaStorageError, "disk gone")
	s := h.sync(SyncRequest{MemberID: ja.resp.MemberID, Generation: 1})
	wantCode(t, "sync", s.resp.ErrorCode, kerr.NotCoordinator.Code)
	if !h.group("g").is(statePreparingRebalance) {
		t.Fatalf("state %s, want PreparingRebalance", h.group("g").state)
	}
	h.failAppend = errors.New("boom")
	r := h.commit(CommitRequest{Group: "x", Generation: -1, RetentionMs: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0}}}}})
	wantCode(t, "commit", r.Topics[0].Partitions[0].ErrorCode, kerr.UnknownServerError.Code)
	if _, ok := h.s.groups["x"]; ok {
		t.Fatal("failed commit created a group")
	}
}

func TestListAndDescribe(t *testing.T) {
	h := newHarness(t, testConfig())
	leader, _ := stableGroup(t, h)
	h.commit(CommitRequest{Group: "simple", Generation: -1, RetentionMs: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0}}}}})
	all := h.s.ListGroups(ListRequest{})
	want := []ListedGroup{{"g", "consumer", "Stable", "classic"}, {"simple", "", "Empty", "classic"}}
	if !slices.Equal(all, want) {
		t.Fatalf("list %+v", all)
	}
	if got := h.s.ListGroups(ListRequest{States: []string{"stable"}}); len(got) != 1 || got[0].Group != "g" {
		t.Fatalf("list stable %+v", got)
	}
	if got := h.s.ListGroups(ListRequest{Types: []string{"Consumer"}}); len(got) != 0 {
		t.Fatalf("list consumer type %+v", got)
	}
	d := h.s.DescribeGroup("g", true)
	if d.State != "Stable" || d.Protocol != "range" || d.ProtocolType != "consumer" || len(d.Members) != 2 {
		t.Fatalf("describe %+v", d)
	}
	if d.Members[0].MemberID != leader || !bytes.Equal(d.Members[0].Assignment, []byte("L")) || !bytes.Equal(d.Members[0].Metadata, subscription("t")) {
		t.Fatalf("described member %+v", d.Members[0])
	}
	if d := h.s.DescribeGroup("nope", false); d.State != "Dead" || d.ErrorCode != 0 {
		t.Fatalf("describe missing (v5) %+v", d)
	}
	if d := h.s.DescribeGroup("nope", true); d.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("describe missing (v6) %+v", d)
	}
}

func TestUnloadAnswersWaitingMembers(t *testing.T) {
	h := newHarness(t, testConfig())
	_, j := h.joinNew(JoinRequest{})
	h.apply(func(res *coordinator.Result) { h.s.Unloaded(res) })
	if !j.done || j.resp.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("waiting join after unload: %+v", j)
	}
}

func TestPendingMemberExpires(t *testing.T) {
	h := newHarness(t, testConfig())
	first := h.join(JoinRequest{RequireKnownMemberID: true})
	id := first.resp.MemberID
	h.advance(11 * time.Second) // session timeout 10s
	if h.group("g").pendingJoin[id] {
		t.Fatal("pending member kept past its session timeout")
	}
}

// Reference: Kafka's GroupCoordinatorServiceTest/partitionFor: the
// partition is abs(String.hashCode) mod the partition count.
func TestPartitionFor(t *testing.T) {
	for _, c := range []struct {
		group string
		n     int32
		want  int32
	}{
		{"abc", 50, 96354 % 50},                       // "abc".hashCode() = 96354
		{"hello", 50, 99162322 % 50},                  // 99162322
		{"polygenelubricants", 50, 0},                 // hashCode() == Integer.MIN_VALUE
		{"", 50, 0},                                   //
		{"Aa", 7, 2112 % 7},                           // "Aa" and "BB" collide in Java
		{"BB", 7, 2112 % 7},                           //
		{"\U0001F600", 50, (0xD83D*31 + 0xDE00) % 50}, // a surrogate pair
		{"group-with-negative-hash", 3, -1},           // checked below
	} {
		got := PartitionFor(c.group, c.n)
		if c.want >= 0 && got != c.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", c.group, c.n, got, c.want)
		}
		if got < 0 || got >= c.n {
			t.Errorf("PartitionFor(%q, %d) = %d out of range", c.group, c.n, got)
		}
	}
}

func TestParseSubscriptionTopics(t *testing.T) {
	for v := int16(0); v <= 3; v++ {
		m := kmsg.NewConsumerMemberMetadata()
		m.Version = v
		m.Topics = []string{"a", "bb"}
		m.UserData = []byte("x")
		got, ok := parseSubscriptionTopics(m.AppendTo(nil))
		if !ok || !slices.Equal(got, []string{"a", "bb"}) {
			t.Errorf("v%d: %v %v", v, got, ok)
		}
	}
	for _, bad := range [][]byte{nil, {0, 0}, {0, 0, 0, 0, 0, 1}, {0, 0, 0x7f, 0, 0, 0}} {
		if _, ok := parseSubscriptionTopics(bad); ok {
			t.Errorf("parsed %v", bad)
		}
	}
}

// A record the coordinator cannot decode (a client may produce to
// __consumer_offsets) is skipped; the rest of the log still loads.
func TestReplaySkipsUndecodableRecords(t *testing.T) {
	h := newHarness(t, testConfig())
	h.commit(CommitRequest{Group: "g", Generation: -1, RetentionMs: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 3}}}}})
	h.log = append([]coordinator.LoggedRecord{
		{Offset: -3, Key: []byte{0, 1, 0xff}, Value: []byte("junk")},
		{Offset: -2, Key: []byte{0}, Value: []byte("short key")},
		{Offset: -1, Key: []byte{0, 2, 0, 1, 'x'}, Value: []byte{0, 3}},
	}, h.log...)
	h.restart()
	if f := h.fetch("g", nil); len(f.Topics) != 1 || f.Topics[0].Partitions[0].Offset != 3 {
		t.Fatalf("offsets after loading past bad records: %+v", f)
	}
}
