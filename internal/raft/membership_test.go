package raft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// newDynamicCluster makes a dynamic cluster of nodes 0..n-1, none
// started and none bootstrapped.
func newDynamicCluster(t *testing.T, n int) *testCluster {
	c := newTestCluster(t, n)
	c.dynamic = true
	c.voters = nil
	return c
}

// dirID is a test directory id for node id.
func dirID(id int32) [16]byte { return [16]byte{0xd1, byte(id)} }

func memberOf(id int32) Member {
	return Member{ID: id, DirectoryID: dirID(id), Listener: "CONTROLLER", Addr: logicalAddr(id)}
}

// bootstrap formats node id's Dir with the given initial voters, as
// kafka-storage format --standalone / --initial-controllers does.
func (c *testCluster) bootstrap(id int32, voters ...int32) {
	c.t.Helper()
	var ms []Member
	for _, v := range voters {
		ms = append(ms, memberOf(v))
	}
	if err := Bootstrap(c.dirs[id], id, ms); err != nil {
		c.t.Fatalf("bootstrap node %d: %v", id, err)
	}
}

// addVoter adds id through whichever node leads, retrying while
// leadership moves.
func (c *testCluster) addVoter(id int32) {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		leader, _ := c.waitLeader(c.votersRunning())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.nodes[leader].AddVoter(ctx, memberOf(id))
		cancel()
		if err == nil {
			return
		}
		c.t.Logf("add voter %d on %d: %v (retrying)", id, leader, err)
	}
	c.t.Fatalf("could not add voter %d", id)
}

// votersRunning are the running nodes that are voters as their own
// membership says.
func (c *testCluster) votersRunning() []int32 {
	var out []int32
	for _, id := range c.running() {
		for _, m := range c.nodes[id].Members() {
			if m.ID == id && m.Voter {
				out = append(out, id)
			}
		}
	}
	return out
}

// checkMembers waits until node id's applied membership is want.
func (c *testCluster) checkMembers(id int32, want []Member) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("node %d to have members %v", id, want), func() bool {
		return slices.Equal(c.nodes[id].Members(), want)
	})
}

func voter(id int32) Member   { m := memberOf(id); m.Voter = true; return m }
func learner(id int32) Member { return memberOf(id) }

// KIP-853 on etcd raft, over loopback TCP: a controller formatted
// --standalone leads alone; controllers started with empty logs are
// added (learner, caught up, promoted), receive the whole log, including
// the bootstrap entries that name the first voter's endpoint, and vote;
// the quorum survives the first controller's loss; a voter is removed;
// a restart keeps the membership.
func TestDynamicQuorumAddAndRemoveVoters(t *testing.T) {
	c := newDynamicCluster(t, 3)
	c.bootstrap(0, 0)
	c.start(0)
	if leader, _ := c.waitLeader([]int32{0}); leader != 0 {
		t.Fatalf("standalone leader %d", leader)
	}
	c.checkMembers(0, []Member{voter(0)})
	c.propose("before")

	// Joining nodes start with no log and no members: they wait.
	c.start(1)
	c.start(2)
	if st := c.nodes[1].Status(); len(st.Voters) != 0 || st.Leader != -1 || !st.Dynamic {
		t.Fatalf("joining node status %+v", st)
	}
	c.addVoter(1)
	c.checkMembers(0, []Member{voter(0), voter(1)})
	c.checkMembers(1, []Member{voter(0), voter(1)})
	c.addVoter(2)
	last := c.propose("after")
	c.waitApplied(last)
	c.checkSameState([]string{"before", "after"})
	for _, id := range c.ids {
		c.checkMembers(id, []Member{voter(0), voter(1), voter(2)})
	}
	leader, _ := c.waitLeader(c.ids)
	if err := c.nodes[leader].AddVoter(context.Background(), memberOf(1)); !errors.Is(err, ErrDuplicateVoter) {
		t.Fatalf("adding voter 1 again: %v", err)
	}
	if err := c.nodes[leader].RemoveVoter(context.Background(), 1, [16]byte{9}); !errors.Is(err, ErrVoterNotFound) {
		t.Fatalf("removing voter 1 with another directory id: %v", err)
	}
	follower := c.ids[(slices.Index(c.ids, leader)+1)%3]
	var nl *NotLeaderError
	if err := c.nodes[follower].AddVoter(context.Background(), memberOf(7)); !errors.As(err, &nl) {
		t.Fatalf("add voter on a follower: %v", err)
	}

	// The first controller goes away; the two it added carry on.
	c.stop(0)
	last = c.propose("without-0")
	c.waitApplied(last)

	// Remove it for good; two voters remain and commit alone.
	leader, _ = c.waitLeader(c.running())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.nodes[leader].RemoveVoter(ctx, 0, dirID(0)); err != nil {
		t.Fatalf("remove voter 0: %v", err)
	}
	for _, id := range c.running() {
		c.checkMembers(id, []Member{voter(1), voter(2)})
	}
	last = c.propose("removed-0")
	c.waitApplied(last)

	// A restart replays the membership from the WAL.
	c.stop(1)
	c.stop(2)
	c.start(1)
	c.start(2)
	c.checkMembers(1, []Member{voter(1), voter(2)})
	c.checkMembers(2, []Member{voter(1), voter(2)})
	last = c.propose("restarted")
	c.waitApplied(last)
	c.checkSameState([]string{"before", "after", "without-0", "removed-0", "restarted"})
}

// The leader can remove itself: it steps down once the change is
// applied (StepDownOnRemoval) and the others elect a new leader.
func TestDynamicQuorumRemovesLeader(t *testing.T) {
	c := newDynamicCluster(t, 3)
	for _, id := range c.ids {
		c.bootstrap(id, 0, 1, 2) // --initial-controllers
	}
	c.startAll()
	leader, _ := c.waitLeader(c.ids)
	for _, id := range c.ids {
		c.checkMembers(id, []Member{voter(0), voter(1), voter(2)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.nodes[leader].RemoveVoter(ctx, leader, dirID(leader)); err != nil {
		t.Fatalf("leader %d removes itself: %v", leader, err)
	}
	rest := slices.DeleteFunc(slices.Clone(c.ids), func(id int32) bool { return id == leader })
	newLeader, _ := c.waitLeader(rest)
	if newLeader == leader {
		t.Fatalf("removed leader %d still leads", leader)
	}
	c.stop(leader)
	last := c.propose("after-removal")
	c.waitApplied(last)
	other := rest[0]
	if other == newLeader {
		other = rest[1]
	}
	if err := c.nodes[newLeader].RemoveVoter(ctx, other, dirID(other)); err != nil {
		t.Fatalf("remove %d: %v", other, err)
	}
	c.checkMembers(newLeader, []Member{voter(newLeader)})
	if err := c.nodes[newLeader].RemoveVoter(ctx, newLeader, dirID(newLeader)); !errors.Is(err, ErrInvalidMember) {
		t.Fatalf("removing the last voter: %v", err)
	}
}

// A controller added after the leader compacted its log receives the
// snapshot, whose data carries the member set (their endpoints are no
// longer in any entry), and keeps it across a restart.
func TestDynamicQuorumSnapshotCarriesMembers(t *testing.T) {
	c := newDynamicCluster(t, 3)
	c.bootstrap(0, 0)
	c.start(0)
	c.start(1)
	c.waitLeader([]int32{0})
	c.addVoter(1)
	for i := range 10 {
		c.propose(fmt.Sprintf("e%d", i))
	}
	for _, id := range c.running() {
		idx, data := c.sms[id].snapshot()
		if err := c.nodes[id].Compact(idx, data); err != nil {
			t.Fatalf("compact node %d: %v", id, err)
		}
	}
	snap, err := c.nodes[0].LatestSnapshot()
	if err != nil || snap.Index == 0 {
		t.Fatalf("latest snapshot %+v, %v", snap, err)
	}
	var got []string
	if err := json.Unmarshal(snap.Data, &got); err != nil || len(got) != 10 {
		t.Fatalf("LatestSnapshot data is not the state machine's: %q, %v", snap.Data, err)
	}

	c.start(2)
	c.addVoter(2)
	want := []Member{voter(0), voter(1), voter(2)}
	c.checkMembers(2, want)
	c.sms[2].mu.Lock()
	restores := len(c.sms[2].restores)
	c.sms[2].mu.Unlock()
	if restores != 1 {
		t.Fatalf("node 2 restored %d snapshots, want the leader's", restores)
	}
	last := c.propose("last")
	c.waitApplied(last)
	c.stop(2)
	c.start(2)
	c.checkMembers(2, want)
	c.waitApplied(last)
	data, _ := c.sms[2].state()
	if len(data) != 11 {
		t.Fatalf("node 2 state after restart: %v", data)
	}
}

// A static quorum refuses membership changes (Kafka: kraft.version 0).
func TestStaticQuorumRefusesChanges(t *testing.T) {
	c := newTestCluster(t, 1)
	c.startAll()
	c.waitLeader(c.ids)
	if err := c.nodes[0].AddVoter(context.Background(), memberOf(1)); !errors.Is(err, ErrStaticQuorum) {
		t.Fatalf("AddVoter on a static quorum: %v", err)
	}
	if err := c.nodes[0].RemoveVoter(context.Background(), 0, [16]byte{}); !errors.Is(err, ErrStaticQuorum) {
		t.Fatalf("RemoveVoter on a static quorum: %v", err)
	}
	if m := c.nodes[0].Members(); len(m) != 1 || m[0].Addr != logicalAddr(0) || !m[0].Voter {
		t.Fatalf("static members %+v", m)
	}
}

func TestBootstrap(t *testing.T) {
	dir := t.TempDir()
	if err := Bootstrap(dir, 1, []Member{memberOf(2), memberOf(1)}); err != nil {
		t.Fatal(err)
	}
	if !Bootstrapped(dir) {
		t.Fatal("not bootstrapped")
	}
	if got, err := ReadMembers(dir, 1); err != nil || !slices.Equal(got, []Member{voter(1), voter(2)}) {
		t.Fatalf("ReadMembers: %+v, %v", got, err)
	}
	if err := Bootstrap(dir, 1, nil); !errors.Is(err, ErrBootstrapped) {
		t.Fatalf("bootstrap twice: %v", err)
	}
	for name, vs := range map[string][]Member{
		"duplicate":  {memberOf(1), memberOf(1)},
		"no address": {{ID: 1}},
		"negative":   {{ID: -1, Addr: "a:1"}},
	} {
		if err := Bootstrap(t.TempDir(), 1, vs); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The log holds the voters in id order, committed at term 1.
	w, ms, err := openWAL(dir, 1, emptySnapshot(&pb.ConfState{}), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	hs, _, _ := ms.InitialState()
	if hs.GetTerm() != 1 || hs.GetCommit() != 2 {
		t.Fatalf("hard state %v", hs)
	}
	got, err := membersInLog(ms, memberSet{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{voter(1), voter(2)}
	if !slices.Equal(got.sorted(), want) {
		t.Fatalf("members %+v, want %+v", got.sorted(), want)
	}
	ents, _ := ms.Entries(1, 3, 1<<20)
	for i, e := range ents {
		cc, _, _ := decodeConfChange(e)
		if nodeID(cc.GetChanges()[0].GetNodeId()) != int32(i+1) || e.GetTerm() != 1 {
			t.Fatalf("entry %d: %v", i+1, cc)
		}
	}
}

func TestApplyMembers(t *testing.T) {
	cc := func(typ pb.ConfChangeType, m Member) *pb.ConfChangeV2 {
		return &pb.ConfChangeV2{
			Changes: []*pb.ConfChangeSingle{{Type: typ.Enum(), NodeId: proto.Uint64(raftID(m.ID))}},
			Context: encodeMemberContext(contextOf(m)),
		}
	}
	s := applyMembers(nil, cc(pb.ConfChangeAddLearnerNode, memberOf(3)))
	if !slices.Equal(s.sorted(), []Member{learner(3)}) {
		t.Fatalf("after add learner: %+v", s.sorted())
	}
	prev := s
	s = applyMembers(s, cc(pb.ConfChangeAddNode, Member{ID: 3})) // no endpoint: keeps it
	if !slices.Equal(s.sorted(), []Member{voter(3)}) || prev[3].Voter {
		t.Fatalf("after promote: %+v (the old set changed: %v)", s.sorted(), prev[3].Voter)
	}
	moved := memberOf(3)
	moved.Addr = "elsewhere:1"
	s = applyMembers(s, cc(pb.ConfChangeUpdateNode, moved))
	if s[3].Addr != "elsewhere:1" || !s[3].Voter {
		t.Fatalf("after update: %+v", s[3])
	}
	s = applyMembers(s, cc(pb.ConfChangeUpdateNode, memberOf(4)))
	if _, ok := s[4]; ok {
		t.Fatal("update of an unknown member added it")
	}
	s = applyMembers(s, cc(pb.ConfChangeRemoveNode, Member{ID: 3}))
	if len(s) != 0 {
		t.Fatalf("after remove: %+v", s)
	}
}

func TestWrapSnapshot(t *testing.T) {
	s := memberSet{1: voter(1), 2: learner(2)}
	b := wrapSnapshot(s, []byte("state"))
	got, data, err := unwrapSnapshot(b)
	if err != nil || string(data) != "state" || !slices.Equal(got.sorted(), s.sorted()) {
		t.Fatalf("unwrap: %+v %q %v", got, data, err)
	}
	if got, data, err := unwrapSnapshot(nil); err != nil || len(got) != 0 || data != nil {
		t.Fatalf("empty: %+v %q %v", got, data, err)
	}
	for name, bad := range map[string][]byte{
		"raw data":    []byte("state"),
		"short":       b[:6],
		"long length": append(append([]byte("GRMS\x01"), 0xff, 0xff, 0xff, 0xff), '['),
		"bad json":    append(append([]byte("GRMS\x01"), 0, 0, 0, 1), '{'),
	} {
		if _, _, err := unwrapSnapshot(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzUnwrapSnapshot: the snapshot member-set decoder never panics, and
// what it accepts wraps back to the same bytes' meaning.
func FuzzUnwrapSnapshot(f *testing.F) {
	f.Add(wrapSnapshot(memberSet{1: voter(1)}, []byte("x")))
	f.Add([]byte("GRMS\x01\x00\x00\x00\x02[]"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, data, err := unwrapSnapshot(in)
		if err != nil {
			return
		}
		s2, data2, err := unwrapSnapshot(wrapSnapshot(s, data))
		if err != nil || string(data2) != string(data) || !slices.Equal(s2.sorted(), s.sorted()) {
			t.Fatalf("rewrap: %+v %q %v", s2, data2, err)
		}
	})
}

func TestDynamicConfigValidate(t *testing.T) {
	for name, c := range map[string]struct {
		cfg Config
		ok  bool
	}{
		"dynamic":             {Config{NodeID: 1, Dynamic: true, ListenAddr: "a:1", Dir: "/d"}, true},
		"dynamic with voters": {Config{NodeID: 1, Dynamic: true, ListenAddr: "a:1", Dir: "/d", Voters: map[int32]string{1: "a:1"}}, false},
		"dynamic, no address": {Config{NodeID: 1, Dynamic: true, Dir: "/d"}, false},
	} {
		c.cfg.EnsureDefaults()
		err := c.cfg.Validate()
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("%s: %v", name, err)
		}
		if c.ok && c.cfg.AdvertisedAddr != c.cfg.ListenAddr {
			t.Errorf("%s: advertised %q", name, c.cfg.AdvertisedAddr)
		}
	}
}
