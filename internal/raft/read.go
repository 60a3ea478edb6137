package raft

// Reading the committed log, for members' observers (Kafka's KRaft
// brokers, which fetch the metadata log from the leader instead of
// voting). Reads never change the log:
//
//	ReadCommitted(lo, max)  entries lo..Applied() held in the log; lo at or
//	                        before the snapshot: ErrCompacted (read
//	                        LatestSnapshot instead)
//	LatestSnapshot()        the snapshot the log starts after
//	WaitApplied(ctx, i)     long poll: returns once Applied() > i
//
// Only committed entries are ever returned: everything up to the applied
// index was committed, and committed entries never change, so a reader
// that has read up to some index never has to forget it (Raft's Log
// Matching and Leader Completeness properties, Raft paper §5.3-5.4).

import (
	"context"
	"errors"
	"fmt"

	etcdraft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// readReq is one ReadCommitted call, served on the Ready loop, so that
// the storage cannot be compacted or replaced by a snapshot between the
// bounds check and the read.
type readReq struct {
	lo, maxBytes uint64
	done         chan readResult // capacity 1
}

type readResult struct {
	ents []Entry
	err  error
}

// Applied returns the index of the last entry (or snapshot) handed to the
// StateMachine. Every entry up to it is committed. Safe for concurrent
// use.
func (n *Node) Applied() uint64 { return n.applied.Load() }

// setApplied records index as applied and wakes WaitApplied callers.
// Apply goroutine only (and newNode before it starts).
func (n *Node) setApplied(index uint64) {
	n.applied.Store(index)
	n.appliedWake.Lock()
	close(n.appliedWake.c)
	n.appliedWake.c = make(chan struct{})
	n.appliedWake.Unlock()
}

// appliedChanged returns a channel closed at the next setApplied.
func (n *Node) appliedChanged() <-chan struct{} {
	n.appliedWake.Lock()
	defer n.appliedWake.Unlock()
	return n.appliedWake.c
}

// WaitApplied blocks until Applied() is past index, and returns nil; or
// ctx's error when ctx ends first, or the node's error (ErrStopped after
// Close) when it stops. Safe for concurrent use.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	for {
		changed := n.appliedChanged() // before the check: no wake-up is lost
		if n.applied.Load() > index {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.stopc:
			return n.Err()
		}
	}
}

// ReadCommitted returns the entries of the log from index lo on, up to
// the applied index, in order and without gaps: at most maxBytes of entry
// data, but always at least one entry when lo is not past Applied(). It
// returns no entries (and no error) when lo is past Applied(), and
// ErrCompacted when lo is at or before the latest snapshot's index, whose
// entries the log no longer holds (read LatestSnapshot instead). Entries
// raft appends itself (a new leader's empty entry, configuration changes)
// are returned with nil Data. The caller must not modify the entries'
// Data. Safe for concurrent use; the read is served by the Ready loop.
func (n *Node) ReadCommitted(lo, maxBytes uint64) ([]Entry, error) {
	r := &readReq{lo: lo, maxBytes: maxBytes, done: make(chan readResult, 1)}
	select {
	case n.readc <- r:
	case <-n.stopc:
		return nil, n.Err()
	}
	select {
	case res := <-r.done:
		return res.ents, res.err
	case <-n.donec:
		return nil, n.Err()
	}
}

// readCommitted serves a readReq on the Ready loop.
func (n *Node) readCommitted(r *readReq) readResult {
	first, err := n.storage.FirstIndex()
	if err != nil {
		return readResult{err: fmt.Errorf("raft: read: %w", err)}
	}
	if r.lo < first {
		return readResult{err: fmt.Errorf("%w: index %d, log starts at %d", ErrCompacted, r.lo, first)}
	}
	last, err := n.storage.LastIndex()
	if err != nil {
		return readResult{err: fmt.Errorf("raft: read: %w", err)}
	}
	hi := min(n.applied.Load(), last) // inclusive
	if r.lo > hi {
		return readResult{}
	}
	ents, err := n.storage.Entries(r.lo, hi+1, r.maxBytes)
	switch {
	case errors.Is(err, etcdraft.ErrCompacted):
		return readResult{err: fmt.Errorf("%w: index %d", ErrCompacted, r.lo)}
	case err != nil:
		return readResult{err: fmt.Errorf("raft: read %d..%d: %w", r.lo, hi, err)}
	}
	out := make([]Entry, 0, len(ents))
	for _, e := range ents {
		ent := Entry{Index: e.GetIndex(), Term: e.GetTerm()}
		if e.GetType() == pb.EntryNormal && len(e.GetData()) > 0 {
			_, _, payload, ok := untag(e.GetData())
			if !ok {
				return readResult{err: fmt.Errorf("raft: entry %d has data this package did not write", e.GetIndex())}
			}
			ent.Data = payload
		}
		out = append(out, ent)
	}
	return readResult{ents: out}
}

// LatestSnapshot returns the snapshot the log starts after: Index 0 and
// nil Data when the log has never been compacted. The caller must not
// modify Data. Safe for concurrent use.
func (n *Node) LatestSnapshot() (Snapshot, error) {
	snap, err := n.storage.Snapshot()
	if err != nil {
		return Snapshot{}, fmt.Errorf("raft: snapshot: %w", err)
	}
	md := snap.GetMetadata()
	data, err := n.snapshotData(snap)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Index: md.GetIndex(), Term: md.GetTerm(), Data: data}, nil
}

// snapshotData is the state machine's part of snap's data: all of it in
// a static quorum, what follows the member set in a dynamic one.
func (n *Node) snapshotData(snap *pb.Snapshot) ([]byte, error) {
	if !n.cfg.Dynamic {
		return snap.GetData(), nil
	}
	_, data, err := unwrapSnapshot(snap.GetData())
	if err != nil {
		return nil, fmt.Errorf("raft: snapshot at %d: %w", snap.GetMetadata().GetIndex(), err)
	}
	return data, nil
}
