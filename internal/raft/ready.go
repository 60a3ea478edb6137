package raft

import (
	"errors"
	"fmt"
	"runtime/debug"

	etcdraft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// run is the Ready loop: the only goroutine that touches the RawNode, the
// WAL and the unindexed proposals. Each turn takes one input (a tick, a
// message, proposals, transport reports, a compaction, a status request)
// and then drains every Ready the input produced.
func (n *Node) run() {
	defer func() {
		if r := recover(); r != nil {
			n.stop(fmt.Errorf("raft: ready loop panic: %v\n%s", r, debug.Stack()))
		}
	}()
	tick := n.ticker.C()
	for {
		select {
		case <-tick:
			n.rn.Tick()
		case m := <-n.recvc:
			n.step(m)
			// Take what else has arrived before paying for a Ready.
			for i := 0; i < 64; i++ {
				select {
				case m := <-n.recvc:
					n.step(m)
					continue
				default:
				}
				break
			}
		case p := <-n.propc:
			n.propose(p)
			for i := 0; i < 256; i++ {
				select {
				case p := <-n.propc:
					n.propose(p)
					continue
				default:
				}
				break
			}
		case <-n.tr.notify:
			n.handleReports()
		case r := <-n.compactc:
			r.done <- n.compact(r)
		case c := <-n.statusc:
			c <- n.status()
		case r := <-n.readc:
			r.done <- n.readCommitted(r)
		case <-n.stopc:
			return
		}
		n.retryConf()
		if err := n.drainReady(); err != nil {
			n.stop(err)
			return
		}
	}
}

func (n *Node) step(m *pb.Message) {
	n.lastContact[m.GetFrom()] = n.cfg.Now()
	if err := n.rn.Step(m); err != nil {
		n.log.Debug("raft: step", "from", nodeID(m.GetFrom()), "type", m.GetType().String(), "err", err)
	}
}

// propose appends p's entry if this node leads; otherwise it answers p.
func (n *Node) propose(p *proposal) {
	if p.abandoned.Load() {
		return // the caller gave up before the entry was even appended
	}
	if p.conf != nil {
		n.proposeConf(p) // membership.go
		return
	}
	bs := n.rn.BasicStatus()
	if bs.RaftState != etcdraft.StateLeader {
		p.done <- &NotLeaderError{Leader: nodeID(bs.Lead), Term: bs.HardState.GetTerm()}
		return
	}
	n.seq++
	p.seq = n.seq
	if err := n.rn.Propose(tagData(n.cfg.NodeID, p.seq, p.payload)); err != nil {
		if errors.Is(err, etcdraft.ErrProposalDropped) {
			p.done <- fmt.Errorf("%w (%v)", ErrProposalDropped, err)
		} else {
			p.done <- fmt.Errorf("raft: propose: %w", err)
		}
		return
	}
	n.unindexed[p.seq] = p
}

func (n *Node) handleReports() {
	unreachable, snaps := n.tr.takeReports()
	for _, id := range unreachable {
		n.rn.ReportUnreachable(id)
	}
	for _, r := range snaps {
		st := etcdraft.SnapshotFinish
		if r.kind == reportSnapFailure {
			st = etcdraft.SnapshotFailure
		}
		n.rn.ReportSnapshot(r.to, st)
	}
}

// drainReady handles Readys until raft has nothing more to say. An error
// is fatal: the WAL could not be written.
func (n *Node) drainReady() error {
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		if err := n.handleReady(rd); err != nil {
			return err
		}
		n.rn.Advance(rd)
		if n.campaignAlone {
			// The only voter need not wait out an election timeout.
			n.campaignAlone = false
			if n.rn.BasicStatus().RaftState != etcdraft.StateLeader {
				_ = n.rn.Campaign()
			}
		}
	}
	if len(n.unindexed) > 0 {
		// Every entry the leader appends appears in the next Ready, so
		// this cannot happen but for a membership change raft refused
		// (it appends an empty entry instead); the caller must not hang.
		for seq, p := range n.unindexed {
			err := confDropped(p)
			if p.conf == nil {
				n.log.Error("raft: proposal missing from the log", "seq", seq)
			}
			p.done <- err
			delete(n.unindexed, seq)
		}
	}
	return nil
}

// handleReady follows etcd raft's Ready contract (doc.go, "Usage"):
//  1. persist the snapshot, entries and HardState (fsync when MustSync);
//  2. send the messages, which may depend on what step 1 made durable;
//  3. hand the snapshot and the committed entries to the apply goroutine;
//
// and the caller then calls Advance.
func (n *Node) handleReady(rd etcdraft.Ready) error {
	n.noteLeader()

	// 1. Persist.
	if !etcdraft.IsEmptySnap(rd.Snapshot) {
		if err := n.storage.ApplySnapshot(rd.Snapshot); err != nil {
			return fmt.Errorf("raft: apply snapshot %d to storage: %w", rd.Snapshot.GetMetadata().GetIndex(), err)
		}
		if err := n.storage.Append(rd.Entries); err != nil {
			return fmt.Errorf("raft: append to storage: %w", err)
		}
		if !etcdraft.IsEmptyHardState(rd.HardState) {
			_ = n.storage.SetHardState(rd.HardState)
		}
		md := rd.Snapshot.GetMetadata()
		n.confState = md.GetConfState()
		members := staticMembers(&n.cfg)
		if n.cfg.Dynamic {
			var err error
			if members, _, err = unwrapSnapshot(rd.Snapshot.GetData()); err != nil {
				return fmt.Errorf("raft: snapshot %d from the leader: %w", md.GetIndex(), err)
			}
		}
		n.confHistory = []confPoint{{index: md.GetIndex(), cs: n.confState, members: members}}
		n.handed = max(n.handed, md.GetIndex())
		// The snapshot supersedes the log: replace the WAL in one step.
		if err := n.wal.rewrite(n.storage); err != nil {
			return err
		}
		n.setMembers(members)
		n.log.Info("raft: snapshot received", "index", rd.Snapshot.GetMetadata().GetIndex(),
			"term", rd.Snapshot.GetMetadata().GetTerm(), "bytes", len(rd.Snapshot.GetData()))
	} else {
		if err := n.wal.save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
			return err
		}
		if err := n.storage.Append(rd.Entries); err != nil {
			return fmt.Errorf("raft: append to storage: %w", err)
		}
		if !etcdraft.IsEmptyHardState(rd.HardState) {
			_ = n.storage.SetHardState(rd.HardState)
		}
	}
	if n.becameLeader {
		// raft lets a new leader change membership only once it has
		// applied everything in its log at election (pendingConfIndex).
		n.becameLeader = false
		last, _ := n.storage.LastIndex()
		n.pendingConfIndex = max(n.pendingConfIndex, last)
	}
	if len(n.unindexed) > 0 {
		n.indexProposals(rd.Entries)
	}

	// 2. Send.
	if n.cfg.Dynamic {
		n.patchSnapshots(rd.Messages)
	}
	n.tr.send(rd.Messages)

	// 3. Apply (asynchronously, in order).
	if !etcdraft.IsEmptySnap(rd.Snapshot) {
		n.queue.push(applyEvent{snap: rd.Snapshot})
	}
	if len(rd.CommittedEntries) > 0 {
		for _, e := range rd.CommittedEntries {
			if err := n.applyConfChange(e); err != nil {
				return err
			}
		}
		n.handed = rd.CommittedEntries[len(rd.CommittedEntries)-1].GetIndex()
		n.queue.push(applyEvent{ents: rd.CommittedEntries})
	}
	return nil
}

// noteLeader publishes a change of leader or term to Leader() and, in
// order with the committed entries, to the state machine.
func (n *Node) noteLeader() {
	bs := n.rn.BasicStatus()
	lead, term := bs.Lead, bs.HardState.GetTerm()
	if lead == n.lastLead && term == n.lastTerm {
		return
	}
	n.lastLead, n.lastTerm = lead, term
	if lead == n.id && bs.RaftState == etcdraft.StateLeader {
		n.becameLeader = true
	}
	n.mu.Lock()
	n.mu.leader, n.mu.term = nodeID(lead), term
	n.mu.Unlock()
	n.log.Info("raft: leader changed", "leader", nodeID(lead), "term", term, "state", stateName(bs.RaftState))
	n.queue.push(applyEvent{leader: true, lead: nodeID(lead), term: term})
}

// indexProposals finds this node's proposals among newly appended entries
// and registers them, by index, for the apply goroutine to resolve.
func (n *Node) indexProposals(ents []*pb.Entry) {
	for _, e := range ents {
		var node int32
		var seq uint64
		var ok bool
		switch e.GetType() {
		case pb.EntryNormal:
			node, seq, _, ok = untag(e.GetData())
		case pb.EntryConfChangeV2:
			// A membership change: its tag is in the member context.
			if cc, _, err := decodeConfChange(e); err == nil {
				var c memberContext
				c, ok = decodeMemberContext(cc.GetContext())
				node, seq = c.Proposer, c.Seq
				n.pendingConfIndex = max(n.pendingConfIndex, e.GetIndex())
			}
		}
		if !ok || node != n.cfg.NodeID {
			continue
		}
		p, ok := n.unindexed[seq]
		if !ok {
			continue
		}
		delete(n.unindexed, seq)
		p.index, p.term = e.GetIndex(), e.GetTerm()
		if p.abandoned.Load() {
			continue
		}
		n.mu.Lock()
		if old, ok := n.mu.waiters[p.index]; ok {
			// An earlier proposal at this index was overwritten before it
			// committed (we lost and regained leadership).
			old.done <- ErrProposalDropped
		}
		n.mu.waiters[p.index] = p
		n.mu.Unlock()
	}
}

// applyConfChange applies a committed membership change to the RawNode,
// as the Ready contract requires, and to the member set (the endpoints
// of a dynamic quorum, membership.go). Other entries are left alone.
func (n *Node) applyConfChange(e *pb.Entry) error {
	cc, ok, err := decodeConfChange(e)
	if !ok || err != nil {
		return err
	}
	n.confState = n.rn.ApplyConfChange(cc)
	members := n.members
	if n.cfg.Dynamic {
		members = applyMembers(n.members, cc)
		for id := range n.members {
			if _, still := members[id]; !still && id != n.cfg.NodeID {
				n.tr.removePeer(raftID(id))
			}
		}
	}
	n.confHistory = append(n.confHistory, confPoint{index: e.GetIndex(), cs: n.confState, members: members})
	n.setMembers(members)
	v := n.confState.GetVoters()
	n.campaignAlone = len(v) == 1 && v[0] == n.id
	n.log.Info("raft: membership changed", "index", e.GetIndex(),
		"voters", nodeIDs(n.confState.GetVoters()), "learners", nodeIDs(n.confState.GetLearners()))
	return nil
}

// nodeIDs converts raft ids to node ids.
func nodeIDs(ids []uint64) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		out = append(out, nodeID(id))
	}
	return out
}

// compact snapshots the storage at r.index with r.data and rewrites the
// WAL without the entries it covers.
func (n *Node) compact(r *compactReq) error {
	snap, _ := n.storage.Snapshot()
	si := snap.GetMetadata().GetIndex()
	if applied := n.applied.Load(); r.index > applied {
		return fmt.Errorf("%w: index %d not applied yet (applied %d)", ErrCompactIndex, r.index, applied)
	}
	if r.index <= si {
		return fmt.Errorf("%w: index %d not after snapshot %d", ErrCompactIndex, r.index, si)
	}
	// The snapshot records the configuration in force at its index, not
	// the latest one: changes after it are still entries in the log.
	conf := n.confAt(r.index)
	data := r.data
	if n.cfg.Dynamic {
		data = wrapSnapshot(conf.members, data)
	}
	if _, err := n.storage.CreateSnapshot(r.index, conf.cs, data); err != nil {
		return fmt.Errorf("raft: create snapshot at %d: %w", r.index, err)
	}
	if err := n.storage.Compact(r.index); err != nil {
		return fmt.Errorf("raft: compact to %d: %w", r.index, err)
	}
	if err := n.wal.rewrite(n.storage); err != nil {
		// The WAL is unusable (sticky error): stop rather than go on with a
		// log that cannot be persisted.
		n.stop(err)
		return err
	}
	n.trimConfHistory(r.index)
	n.log.Info("raft: log compacted", "index", r.index, "bytes", len(r.data))
	return nil
}
