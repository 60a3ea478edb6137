package raft

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// A 3-voter group elects one leader; proposals from concurrent callers
// commit on every member in one order, each at the index Propose returned;
// a follower answers NotLeaderError naming the leader.
func TestClusterCommitsInOrder(t *testing.T) {
	c := newTestCluster(t, 3)
	c.startAll()
	leader, term := c.waitLeader(c.ids)

	for _, id := range c.ids {
		if id == leader {
			continue
		}
		_, err := c.nodes[id].Propose(context.Background(), []byte("x"))
		var nl *NotLeaderError
		if !errors.As(err, &nl) || !errors.Is(err, ErrNotLeader) || nl.Leader != leader || nl.Term != term {
			t.Fatalf("propose on follower %d: %v, want NotLeaderError{%d, %d}", id, err, leader, term)
		}
	}

	const writers, each = 4, 10
	var mu sync.Mutex
	byIndex := map[uint64]string{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				data := fmt.Sprintf("w%d-%d", w, i)
				idx, err := c.nodes[leader].Propose(context.Background(), []byte(data))
				if err != nil {
					t.Errorf("propose %s: %v", data, err)
					return
				}
				mu.Lock()
				byIndex[idx] = data
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if len(byIndex) != writers*each {
		t.Fatalf("%d distinct indexes for %d proposals", len(byIndex), writers*each)
	}
	indexes := slices.Sorted(func(yield func(uint64) bool) {
		for i := range byIndex {
			if !yield(i) {
				return
			}
		}
	})
	var want []string
	for _, i := range indexes {
		want = append(want, byIndex[i])
	}
	c.waitApplied(indexes[len(indexes)-1])
	c.checkSameState(want)

	// The leader heard of its own leadership only after applying the
	// first entry of its term (Kafka's handleLeaderChange contract).
	sm := c.sms[leader]
	sm.mu.Lock()
	defer sm.mu.Unlock()
	var announced bool
	for _, ev := range sm.leaders {
		if ev.leader == leader {
			announced = true
			if ev.appliedTerm < ev.term {
				t.Fatalf("leader announced at term %d with applied term %d", ev.term, ev.appliedTerm)
			}
		}
	}
	if !announced {
		t.Fatalf("leader %d never told its state machine; events %+v", leader, sm.leaders)
	}
}

// Closing the leader elects another; proposals go on; the old leader,
// reopened from its Dir, catches up from the log.
func TestLeaderFailoverAndCatchUp(t *testing.T) {
	c := newTestCluster(t, 3)
	c.startAll()
	var want []string
	var last uint64
	for i := range 5 {
		want = append(want, fmt.Sprintf("a%d", i))
		last = c.propose(want[len(want)-1])
	}
	old, oldTerm := c.waitLeader(c.ids)
	c.stop(old)

	leader, term := c.waitLeader(c.running())
	if leader == old || term <= oldTerm {
		t.Fatalf("leader %d term %d after closing %d (term %d)", leader, term, old, oldTerm)
	}
	for i := range 5 {
		want = append(want, fmt.Sprintf("b%d", i))
		last = c.propose(want[len(want)-1])
	}
	c.waitApplied(last)
	c.checkSameState(want)

	c.start(old)
	c.waitApplied(last)
	c.checkSameState(want)
	if n := len(c.sms[old].restores); n != 0 {
		t.Fatalf("old leader restored %d snapshots; it should catch up from the log", n)
	}
}

// A follower that misses entries the leader has compacted away receives
// the snapshot, then the entries after it; reopened again it restores its
// own snapshot from Dir and replays the rest.
func TestSnapshotCatchUp(t *testing.T) {
	c := newTestCluster(t, 3)
	c.startAll()
	c.propose("first")
	leader, _ := c.waitLeader(c.ids)
	var lagger int32
	for _, id := range c.ids {
		if id != leader {
			lagger = id
			break
		}
	}
	c.waitApplied(1)
	c.stop(lagger)
	c.waitProbe(leader, lagger)

	for i := range 20 {
		c.propose(fmt.Sprintf("e%d", i))
	}
	// Every running member compacts at what it has applied.
	leader, _ = c.waitLeader(c.running())
	snapIndex, snapData := c.sms[leader].snapshot()
	for _, id := range c.running() {
		waitFor(t, "applied before compaction", func() bool {
			_, applied := c.sms[id].state()
			return applied >= snapIndex
		})
		idx, data := c.sms[id].snapshot()
		if err := c.nodes[id].Compact(idx, data); err != nil {
			t.Fatalf("compact node %d at %d: %v", id, idx, err)
		}
	}
	if st := c.nodes[leader].Status(); st.SnapshotIndex < snapIndex || st.FirstIndex != st.SnapshotIndex+1 {
		t.Fatalf("leader status after compaction: %+v", st)
	}
	// Bad compactions are refused.
	if err := c.nodes[leader].Compact(snapIndex, snapData); !errors.Is(err, ErrCompactIndex) {
		t.Fatalf("compact at the snapshot again: %v", err)
	}
	if err := c.nodes[leader].Compact(1<<40, nil); !errors.Is(err, ErrCompactIndex) {
		t.Fatalf("compact beyond applied: %v", err)
	}

	last := c.propose("after-snapshot")
	want, _ := c.sms[leader].state()
	c.waitApplied(last)

	c.start(lagger)
	c.waitApplied(last)
	c.checkSameState(want)
	restores := c.sms[lagger].restores
	if len(restores) != 1 || restores[0].Index < snapIndex {
		t.Fatalf("lagger restores %+v, want one at >= %d", restores, snapIndex)
	}

	// Reopen the lagger: it restores the snapshot it stored, then replays.
	c.stop(lagger)
	c.start(lagger)
	c.waitApplied(last)
	c.checkSameState(want)
	if r := c.sms[lagger].restores; len(r) != 1 || r[0].Index != restores[0].Index {
		t.Fatalf("after reopen restores %+v, want the stored snapshot at %d", r, restores[0].Index)
	}
}

// A node reopened from its Dir keeps its HardState (term, vote, commit)
// and log, replays its committed entries to the state machine, and cuts a
// torn WAL tail. It is reopened alone, so no election can change the term
// (PreVote keeps a node without a quorum from raising it).
func TestRestartKeepsStateAndCutsTornTail(t *testing.T) {
	c := newTestCluster(t, 3)
	c.startAll()
	var want []string
	var last uint64
	for i := range 8 {
		want = append(want, fmt.Sprintf("r%d", i))
		last = c.propose(want[len(want)-1])
	}
	c.waitApplied(last)
	// Stop the others first: alone, node id can change neither its term
	// (PreVote) nor its log, so its status just before Close is final.
	id := c.ids[0]
	for _, other := range c.ids[1:] {
		c.stop(other)
	}
	before := c.nodes[id].Status()
	c.stop(id)

	walPath := filepath.Join(c.dirs[id], walName)
	f, err := os.OpenFile(walPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	good := st.Size()
	// A torn record: a header that promises more than follows.
	if _, err := f.Write([]byte{1, 2, 3, 4, 0, 0, 1, 0, recEntry, 'x'}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	n := c.start(id)
	after := n.Status()
	if after.Term != before.Term || after.Vote != before.Vote || after.LastIndex != before.LastIndex || after.Commit < last {
		t.Fatalf("status before %+v, after reopen %+v", before, after)
	}
	c.waitApplied(last)
	got, _ := c.sms[id].state()
	if !slices.Equal(got, want) {
		t.Fatalf("replayed %v, want %v", got, want)
	}
	if st, _ := os.Stat(walPath); st.Size() != good {
		t.Fatalf("wal is %d bytes, want the torn tail cut to %d", st.Size(), good)
	}
	// With the others back it commits again.
	for _, other := range c.ids[1:] {
		c.start(other)
	}
	last = c.propose("after-restart")
	c.waitApplied(last)
	c.checkSameState(append(want, "after-restart"))
}

// A leader cut off from the others cannot commit; they elect a new
// leader; the old one steps down (CheckQuorum) while still cut off; once
// healed it catches up and its stranded proposal is reported dropped, not
// committed.
func TestPartitionedLeader(t *testing.T) {
	c := newTestCluster(t, 3)
	c.startAll()
	last := c.propose("before")
	c.waitApplied(last)
	old, oldTerm := c.waitLeader(c.ids)

	// Freeze the old leader's clock so it still leads when it proposes.
	c.ticks[old].paused.Store(true)
	c.net.isolate(old, c.ids)
	type result struct {
		idx uint64
		err error
	}
	stranded := make(chan result, 1)
	go func() {
		idx, err := c.nodes[old].Propose(context.Background(), []byte("stranded"))
		stranded <- result{idx, err}
	}()
	// The proposal is in the old leader's log before its clock restarts.
	waitFor(t, "stranded proposal appended", func() bool {
		return c.nodes[old].Status().LastIndex > last
	})

	var others []int32
	for _, id := range c.ids {
		if id != old {
			others = append(others, id)
		}
	}
	leader, term := c.waitLeader(others)
	if term <= oldTerm {
		t.Fatalf("new leader %d has term %d, old term %d", leader, term, oldTerm)
	}
	next := c.nodes[leader]
	idx, err := next.Propose(context.Background(), []byte("after"))
	if err != nil {
		t.Fatal(err)
	}

	c.ticks[old].paused.Store(false)
	waitFor(t, "the isolated leader to step down", func() bool {
		return c.nodes[old].Status().State != "Leader"
	})
	select {
	case r := <-stranded:
		t.Fatalf("isolated leader's proposal returned while isolated: %+v", r)
	default:
	}

	c.net.heal()
	c.waitApplied(idx)
	r := <-stranded
	if !errors.Is(r.err, ErrProposalDropped) {
		t.Fatalf("stranded proposal: index %d err %v, want ErrProposalDropped", r.idx, r.err)
	}
	c.checkSameState([]string{"before", "after"})
	if l, tm := c.nodes[old].Leader(); l != leader || tm != term {
		t.Fatalf("old leader sees leader %d term %d, want %d term %d", l, tm, leader, term)
	}
}

// A learner (a KRaft observer) receives and applies the log but never
// votes or leads; proposals on it name the leader.
func TestLearnerFollowsLog(t *testing.T) {
	c := newTestCluster(t, 3)
	c.addLearner(3)
	c.startAll()
	voters := c.ids[:3]
	leader, _ := c.waitLeader(voters)
	var want []string
	var last uint64
	for i := range 5 {
		want = append(want, fmt.Sprintf("l%d", i))
		last = c.propose(want[len(want)-1])
	}
	c.waitApplied(last)
	c.checkSameState(want)
	waitFor(t, "learner to learn the leader", func() bool {
		l, _ := c.nodes[3].Leader()
		return l == leader
	})
	if _, err := c.nodes[3].Propose(context.Background(), []byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("propose on learner: %v", err)
	}
	st := c.nodes[leader].Status()
	if !slices.Equal(st.Voters, []int32{0, 1, 2}) || !slices.Equal(st.Learners, []int32{3}) {
		t.Fatalf("members: voters %v learners %v", st.Voters, st.Learners)
	}
	// The learner may apply an entry before the leader has its append
	// response: wait for the leader's view to catch up.
	waitFor(t, "leader to see the learner's progress", func() bool {
		p, ok := c.nodes[leader].Status().Progress[3]
		return ok && p.Match >= last
	})
	// Voters 0..2 keep the quorum without it.
	c.stop(3)
	c.propose("without-learner")
}

// A state machine error stops the node: Err reports it, Propose fails,
// Close returns it.
func TestApplyErrorStopsNode(t *testing.T) {
	c := newTestCluster(t, 1)
	n := c.start(0)
	c.sms[0].failOn = "boom"
	c.waitLeader(c.ids)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := n.Propose(ctx, []byte("boom")); err == nil {
		t.Fatal("proposal applied by a failing state machine succeeded")
	}
	<-n.Done()
	if err := n.Err(); err == nil || errors.Is(err, ErrStopped) {
		t.Fatalf("Err() = %v, want the state machine's error", err)
	}
	if _, err := n.Propose(ctx, []byte("x")); err == nil {
		t.Fatal("propose on a stopped node succeeded")
	}
	if err := n.Close(); err == nil {
		t.Fatal("Close of a failed node returned nil")
	}
	c.nodes[0] = nil
	if st := n.Status(); st.State != "Stopped" {
		t.Fatalf("status of a stopped node: %+v", st)
	}
}

// Close fails pending proposals and leaves no goroutine behind; calls
// after Close fail.
func TestCloseFailsPending(t *testing.T) {
	c := newTestCluster(t, 3)
	n := c.start(0)
	// Alone, node 0 never leads: Propose answers at once.
	if _, err := n.Propose(context.Background(), []byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("propose without a leader: %v", err)
	}
	c.stop(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := n.Propose(ctx, []byte("x")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose after close: %v", err)
	}
	if err := n.Compact(1, nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("compact after close: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
