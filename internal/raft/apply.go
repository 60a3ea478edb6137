package raft

import (
	"fmt"
	"runtime/debug"
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
)

// applyEvent is one step of the ordered stream the Ready loop hands to
// the apply goroutine: a snapshot, committed entries, or a leader change.
type applyEvent struct {
	snap *pb.Snapshot
	ents []*pb.Entry

	leader bool // a leader change: lead, term
	lead   int32
	term   uint64
}

// applyQueue is unbounded so that the Ready loop never waits for the
// state machine; raft's MaxCommittedSizePerReady and the log's own
// growth bound it in practice.
type applyQueue struct {
	notify chan struct{} // capacity 1
	mu     struct {
		sync.Mutex
		events []applyEvent
	}
}

func (q *applyQueue) push(ev applyEvent) {
	q.mu.Lock()
	q.mu.events = append(q.mu.events, ev)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *applyQueue) take() []applyEvent {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.mu.events
	q.mu.events = nil
	return evs
}

// applier is the apply goroutine's own state.
type applier struct {
	// pendingSelf is the term in which this node became leader, while the
	// LeaderChange telling the state machine so waits for the first entry
	// of that term to be applied (0: none pending).
	pendingSelf uint64
	lastTerm    uint64 // term of the last applied entry
}

// runApply feeds the state machine, in order, and resolves proposals.
func (n *Node) runApply() {
	defer func() {
		if r := recover(); r != nil {
			n.stop(fmt.Errorf("raft: state machine panic: %v\n%s", r, debug.Stack()))
		}
	}()
	var a applier
	for {
		select {
		case <-n.queue.notify:
		case <-n.stopc:
			return
		}
		for _, ev := range n.queue.take() {
			select {
			case <-n.stopc:
				return
			default:
			}
			if err := n.applyEvent(&a, ev); err != nil {
				n.stop(err)
				return
			}
		}
	}
}

func (n *Node) applyEvent(a *applier, ev applyEvent) error {
	switch {
	case ev.snap != nil:
		md := ev.snap.GetMetadata()
		data, err := n.snapshotData(ev.snap)
		if err != nil {
			return err
		}
		s := Snapshot{Index: md.GetIndex(), Term: md.GetTerm(), Data: data}
		n.setApplied(s.Index)
		if err := n.sm.Restore(s); err != nil {
			return fmt.Errorf("raft: state machine restore at %d: %w", s.Index, err)
		}
		a.lastTerm = max(a.lastTerm, s.Term)
		n.resolveSnapshot(s)
		n.maybeAnnounceSelf(a)
	case ev.leader:
		if ev.lead == n.cfg.NodeID && a.lastTerm < ev.term {
			a.pendingSelf = ev.term
			return nil
		}
		a.pendingSelf = 0
		n.sm.LeaderChange(ev.lead, ev.term)
	default:
		ents := make([]Entry, 0, len(ev.ents))
		for _, e := range ev.ents {
			ent := Entry{Index: e.GetIndex(), Term: e.GetTerm()}
			if e.GetType() == pb.EntryNormal && len(e.GetData()) > 0 {
				_, _, payload, ok := untag(e.GetData())
				if !ok {
					return fmt.Errorf("raft: entry %d has data this package did not write", e.GetIndex())
				}
				ent.Data = payload
			}
			ents = append(ents, ent)
		}
		// Deliver up to and including the first entry of a term this node
		// leads, then announce the leadership, then the rest.
		for len(ents) > 0 {
			k := len(ents)
			if a.pendingSelf != 0 {
				for i, e := range ents {
					if e.Term >= a.pendingSelf {
						k = i + 1
						break
					}
				}
			}
			batch := ents[:k:k]
			ents = ents[k:]
			last := batch[len(batch)-1]
			n.setApplied(last.Index)
			if err := n.sm.Apply(batch); err != nil {
				return fmt.Errorf("raft: state machine apply %d..%d: %w", batch[0].Index, last.Index, err)
			}
			a.lastTerm = max(a.lastTerm, last.Term)
			n.resolveEntries(batch)
			n.maybeAnnounceSelf(a)
		}
	}
	return nil
}

func (n *Node) maybeAnnounceSelf(a *applier) {
	if a.pendingSelf != 0 && a.lastTerm >= a.pendingSelf {
		term := a.pendingSelf
		a.pendingSelf = 0
		n.sm.LeaderChange(n.cfg.NodeID, term)
	}
}

// resolveEntries answers the proposals at the indexes of applied entries:
// committed if the entry there has the term the proposal was appended in
// (one leader per term, and a leader never overwrites its own entries),
// dropped otherwise.
func (n *Node) resolveEntries(ents []Entry) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.mu.waiters) == 0 {
		return
	}
	for _, e := range ents {
		p, ok := n.mu.waiters[e.Index]
		if !ok {
			continue
		}
		delete(n.mu.waiters, e.Index)
		p.done <- proposalOutcome(p.index, p.term, e.Index, e.Term, false)
	}
}

// resolveSnapshot answers the proposals a snapshot covers.
func (n *Node) resolveSnapshot(s Snapshot) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for idx, p := range n.mu.waiters {
		if idx > s.Index {
			continue
		}
		delete(n.mu.waiters, idx)
		p.done <- proposalOutcome(p.index, p.term, s.Index, s.Term, true)
	}
}

// proposalOutcome decides a proposal appended at (index, term) from the
// committed entry or snapshot at (atIndex, atTerm), atIndex >= index.
// For an entry (snap false) atIndex == index. Raft's Log Matching
// property (Raft paper §5.3) says a committed entry with the proposal's
// term at or after its index means the proposal is in the committed log;
// a lower term at or after it means it is not (terms never decrease along
// a log, and the proposal's entry would sit before it); a higher term
// after it cannot tell.
func proposalOutcome(index, term, atIndex, atTerm uint64, snap bool) error {
	switch {
	case atTerm == term:
		return nil
	case !snap || atIndex == index:
		return ErrProposalDropped
	case atTerm < term:
		return ErrProposalDropped
	default:
		return ErrProposalUnknown
	}
}
