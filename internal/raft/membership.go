package raft

// Dynamic membership (Kafka's KIP-853 voter set) on etcd raft.
//
// etcd raft's ConfState holds member ids only. A dynamic quorum also
// needs each member's endpoint and directory id, and every member must
// learn them from the replicated log, so they travel with the
// configuration changes themselves:
//
//   - every ConfChangeV2 this package writes carries a memberContext (JSON)
//     in its Context: the member's id, directory id, controller listener
//     name and address, and the proposer's tag (node, sequence) that
//     matches the entry to its Propose call;
//   - a snapshot of a dynamic quorum wraps the state machine's data with
//     the member set as of the snapshot's index (wrapSnapshot), since the
//     entries that carried it are gone;
//   - the initial voters (kafka-storage format --standalone or
//     --initial-controllers) are the first entries of the log, written by
//     Bootstrap: index i (1..n) is ConfChangeV2{AddNode} of the i-th
//     voter in id order, term 1, committed. Every initial voter formats
//     the same entries, so their logs agree (Raft's Log Matching), and a
//     controller that joins later receives them from the leader like any
//     other entries and so learns every member's endpoint.
//
// Snapshot data of a dynamic quorum:
//
//	+--------+-------------+-------------------+--------------+-------------------+
//	| "GRMS" | version (1) | members len (u32) | members JSON | state machine data|
//	+--------+-------------+-------------------+--------------+-------------------+
//
// Changes follow KIP-853's rules, one at a time (etcd raft's simple
// changes, never a joint configuration): AddVoter adds the controller as
// a learner (it receives the log but does not vote: Kafka's observer),
// waits until its log has caught up with the commit index, and promotes
// it; RemoveVoter removes a voter (the leader steps down if it removed
// itself, etcd raft's StepDownOnRemoval); UpdateVoter changes a member's
// endpoint.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	etcdraft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Member is one member of the quorum, as the replicated log records it
// (Kafka's VoterSet entry).
type Member struct {
	ID int32
	// DirectoryID is the directory.id of the member's metadata log
	// directory (KIP-853's replica directory id); zero in a static
	// quorum.
	DirectoryID [16]byte
	// Listener names the controller listener Addr belongs to
	// ("CONTROLLER"); empty in a static quorum.
	Listener string
	// Addr is host:port of the member's controller listener: the Raft
	// transport's address and the controller APIs'.
	Addr string
	// Voter is false for a learner (a controller being added, which
	// replicates the log but does not vote).
	Voter bool
}

// memberSet is a membership by node id. A memberSet is never modified
// once shared: changes make a new one.
type memberSet map[int32]Member

// sorted returns the members by id.
func (s memberSet) sorted() []Member {
	out := make([]Member, 0, len(s))
	for _, id := range slices.Sorted(maps.Keys(s)) {
		out = append(out, s[id])
	}
	return out
}

// staticMembers is the membership of a static quorum (Config.Voters and
// Learners).
func staticMembers(cfg *Config) memberSet {
	s := memberSet{}
	for id, a := range cfg.Voters {
		s[id] = Member{ID: id, Addr: a, Voter: true}
	}
	for id, a := range cfg.Learners {
		s[id] = Member{ID: id, Addr: a}
	}
	return s
}

// memberContextVersion is the memberContext format version.
const memberContextVersion = 1

// memberContext is the Context of every ConfChangeV2 this package writes.
type memberContext struct {
	Version int `json:"v"`
	// Proposer and Seq tag the entry for the Propose call that wrote it
	// (-1 and 0 for Bootstrap's entries).
	Proposer int32  `json:"proposer"`
	Seq      uint64 `json:"seq,omitempty"`
	// The member the change is about.
	ID       int32  `json:"id"`
	Dir      []byte `json:"dir,omitempty"`
	Listener string `json:"listener,omitempty"`
	Addr     string `json:"addr,omitempty"`
}

func encodeMemberContext(c memberContext) []byte {
	c.Version = memberContextVersion
	b, _ := json.Marshal(c) // cannot fail: plain fields
	return b
}

// decodeMemberContext decodes a ConfChangeV2's Context; ok is false for a
// context this package did not write.
func decodeMemberContext(b []byte) (c memberContext, ok bool) {
	if len(b) == 0 || json.Unmarshal(b, &c) != nil || c.Version != memberContextVersion {
		return memberContext{}, false
	}
	return c, true
}

func (c memberContext) member() Member {
	m := Member{ID: c.ID, Listener: c.Listener, Addr: c.Addr}
	copy(m.DirectoryID[:], c.Dir)
	return m
}

func contextOf(m Member) memberContext {
	c := memberContext{ID: m.ID, Listener: m.Listener, Addr: m.Addr}
	if m.DirectoryID != ([16]byte{}) {
		c.Dir = m.DirectoryID[:]
	}
	return c
}

// decodeConfChange decodes a conf-change entry; ok is false for other
// entries.
func decodeConfChange(e *pb.Entry) (cc *pb.ConfChangeV2, ok bool, err error) {
	switch e.GetType() {
	case pb.EntryConfChange:
		c := &pb.ConfChange{}
		if err := proto.Unmarshal(e.GetData(), c); err != nil {
			return nil, true, fmt.Errorf("raft: decode conf change at %d: %w", e.GetIndex(), err)
		}
		return c.AsV2(), true, nil
	case pb.EntryConfChangeV2:
		c := &pb.ConfChangeV2{}
		if err := proto.Unmarshal(e.GetData(), c); err != nil {
			return nil, true, fmt.Errorf("raft: decode conf change at %d: %w", e.GetIndex(), err)
		}
		return c, true, nil
	}
	return nil, false, nil
}

// applyMembers returns s with cc applied. A change whose context names
// no endpoint keeps what s knows of the member.
func applyMembers(s memberSet, cc *pb.ConfChangeV2) memberSet {
	next := maps.Clone(s)
	if next == nil {
		next = memberSet{}
	}
	ctx, hasCtx := decodeMemberContext(cc.GetContext())
	for _, ch := range cc.GetChanges() {
		id := nodeID(ch.GetNodeId())
		m, known := next[id]
		if !known {
			m = Member{ID: id}
		}
		if hasCtx && ctx.ID == id {
			info := ctx.member()
			if info.Addr != "" {
				m.Addr, m.Listener = info.Addr, info.Listener
			}
			if info.DirectoryID != ([16]byte{}) {
				m.DirectoryID = info.DirectoryID
			}
		}
		switch ch.GetType() {
		case pb.ConfChangeAddNode:
			m.Voter = true
			next[id] = m
		case pb.ConfChangeAddLearnerNode:
			m.Voter = false
			next[id] = m
		case pb.ConfChangeRemoveNode:
			delete(next, id)
		case pb.ConfChangeUpdateNode:
			if known {
				next[id] = m
			}
		}
	}
	return next
}

// Snapshot data wrapping of a dynamic quorum (see the file comment).
const (
	snapMagic       = "GRMS"
	snapWrapVersion = 1
	snapHeaderLen   = 4 + 1 + 4
)

type snapMember struct {
	ID       int32  `json:"id"`
	Dir      []byte `json:"dir,omitempty"`
	Listener string `json:"listener,omitempty"`
	Addr     string `json:"addr,omitempty"`
	Voter    bool   `json:"voter"`
}

// wrapSnapshot prefixes a state machine snapshot with the member set.
func wrapSnapshot(s memberSet, data []byte) []byte {
	ms := make([]snapMember, 0, len(s))
	for _, m := range s.sorted() {
		sm := snapMember{ID: m.ID, Listener: m.Listener, Addr: m.Addr, Voter: m.Voter}
		if m.DirectoryID != ([16]byte{}) {
			sm.Dir = m.DirectoryID[:]
		}
		ms = append(ms, sm)
	}
	js, _ := json.Marshal(ms) // cannot fail: plain fields
	b := make([]byte, 0, snapHeaderLen+len(js)+len(data))
	b = append(b, snapMagic...)
	b = append(b, snapWrapVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(js)))
	b = append(b, js...)
	return append(b, data...)
}

// unwrapSnapshot splits wrapped snapshot data. Empty data (the bootstrap
// snapshot at index 0) is an empty member set.
func unwrapSnapshot(b []byte) (memberSet, []byte, error) {
	if len(b) == 0 {
		return memberSet{}, nil, nil
	}
	if len(b) < snapHeaderLen || string(b[:4]) != snapMagic || b[4] != snapWrapVersion {
		return nil, nil, fmt.Errorf("%w: snapshot lacks the member set", ErrCorrupt)
	}
	n := binary.BigEndian.Uint32(b[5:9])
	if uint64(n) > uint64(len(b)-snapHeaderLen) {
		return nil, nil, fmt.Errorf("%w: snapshot member set of %d bytes in %d", ErrCorrupt, n, len(b))
	}
	var ms []snapMember
	if err := json.Unmarshal(b[snapHeaderLen:snapHeaderLen+int(n)], &ms); err != nil {
		return nil, nil, fmt.Errorf("%w: snapshot member set: %v", ErrCorrupt, err)
	}
	s := memberSet{}
	for _, sm := range ms {
		m := Member{ID: sm.ID, Listener: sm.Listener, Addr: sm.Addr, Voter: sm.Voter}
		copy(m.DirectoryID[:], sm.Dir)
		s[m.ID] = m
	}
	return s, b[snapHeaderLen+int(n):], nil
}

// confPoint is the configuration as of a log index: what a snapshot at
// or after that index (and before the next point) must record.
type confPoint struct {
	index   uint64
	cs      *pb.ConfState
	members memberSet
}

// confAt returns the configuration in force at index: the last point at
// or before it. The history always starts at or before the snapshot.
func (n *Node) confAt(index uint64) confPoint {
	p := n.confHistory[0]
	for _, h := range n.confHistory[1:] {
		if h.index > index {
			break
		}
		p = h
	}
	return p
}

// trimConfHistory drops the points a snapshot at index supersedes.
func (n *Node) trimConfHistory(index uint64) {
	i := 0
	for i+1 < len(n.confHistory) && n.confHistory[i+1].index <= index {
		i++
	}
	n.confHistory = slices.Clone(n.confHistory[i:])
}

// setMembers makes s the applied membership (Ready loop only): readers
// see it, waiters wake, and the transport reaches every member.
func (n *Node) setMembers(s memberSet) {
	n.members = s
	for _, m := range s {
		if m.ID != n.cfg.NodeID && m.Addr != "" {
			n.tr.setPeer(raftID(m.ID), m.Addr)
		}
	}
	n.membersWake.Lock()
	n.membersWake.members = s
	close(n.membersWake.c)
	n.membersWake.c = make(chan struct{})
	n.membersWake.Unlock()
}

// patchSnapshots gives every snapshot message the configuration applied
// now instead of the one stored with the snapshot: a member added after
// the leader's last compaction is not in the stored one, and etcd raft
// refuses a snapshot whose configuration lacks its recipient (etcd's
// server does the same: it builds the snapshot message with its applied
// configuration). The configuration changes after the snapshot's index
// are entries the recipient then applies again, which changes nothing.
// Ready loop only.
func (n *Node) patchSnapshots(msgs []*pb.Message) {
	for _, m := range msgs {
		if m.GetType() != pb.MsgSnap || m.GetSnapshot() == nil {
			continue
		}
		snap := m.GetSnapshot()
		_, data, err := unwrapSnapshot(snap.GetData())
		if err != nil {
			n.log.Error("raft: stored snapshot lacks its member set", "index", snap.GetMetadata().GetIndex(), "err", err)
			continue
		}
		md := proto.Clone(snap.GetMetadata()).(*pb.SnapshotMetadata)
		md.ConfState = proto.Clone(n.confState).(*pb.ConfState)
		// The messages are ours once in a Ready; the stored snapshot they
		// point at is not, so it is replaced, not changed.
		m.Snapshot = &pb.Snapshot{Metadata: md, Data: wrapSnapshot(n.members, data)}
	}
}

// Members returns the applied membership (voters and learners), by id.
// Safe for concurrent use; the caller owns the slice.
func (n *Node) Members() []Member {
	n.membersWake.Lock()
	defer n.membersWake.Unlock()
	return n.membersWake.members.sorted()
}

// MembersChanged returns a channel that is closed at the next change of
// Members. Safe for concurrent use.
func (n *Node) MembersChanged() <-chan struct{} {
	n.membersWake.Lock()
	defer n.membersWake.Unlock()
	return n.membersWake.c
}

// Dynamic reports whether the membership comes from the log (KIP-853)
// rather than from Config.Voters.
func (n *Node) Dynamic() bool { return n.cfg.Dynamic }

// MaxBootstrapVoters bounds Bootstrap's voters (a sanity limit: Kafka
// quorums have a handful).
const MaxBootstrapVoters = 64

// Bootstrap writes the initial log of a dynamic quorum member into dir,
// as kafka-storage format does (Kafka's bootstrap checkpoint
// 00000000000000000000-0000000000.checkpoint with its VotersRecord):
// a WAL whose first entries add voters, in id order, at term 1, already
// committed. Every initial voter must be formatted with the same voters.
// With no voters the log is empty: the node joins an existing quorum
// once a voter adds it (AddVoter). Bootstrap refuses a dir that holds a
// WAL already (ErrBootstrapped).
func Bootstrap(dir string, nodeID int32, voters []Member) error {
	if nodeID < 0 {
		return fmt.Errorf("%w: node id %d < 0", ErrInvalidConfig, nodeID)
	}
	if len(voters) > MaxBootstrapVoters {
		return fmt.Errorf("%w: %d voters", ErrInvalidConfig, len(voters))
	}
	vs := slices.Clone(voters)
	slices.SortFunc(vs, func(a, b Member) int { return int(a.ID) - int(b.ID) })
	for i, v := range vs {
		if v.ID < 0 || v.Addr == "" {
			return fmt.Errorf("%w: voter %d at %q", ErrInvalidConfig, v.ID, v.Addr)
		}
		if i > 0 && vs[i-1].ID == v.ID {
			return fmt.Errorf("%w: voter %d listed twice", ErrInvalidConfig, v.ID)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, walName)); err == nil {
		return fmt.Errorf("%w: %s", ErrBootstrapped, filepath.Join(dir, walName))
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("raft: bootstrap: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("raft: create %s: %w", dir, err)
	}
	ms := etcdraft.NewMemoryStorage()
	if err := ms.ApplySnapshot(emptySnapshot(&pb.ConfState{})); err != nil {
		return fmt.Errorf("raft: bootstrap: %w", err)
	}
	if len(vs) > 0 {
		ents := make([]*pb.Entry, 0, len(vs))
		for i, v := range vs {
			c := contextOf(v)
			c.Proposer = -1
			cc := &pb.ConfChangeV2{
				Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(raftID(v.ID))}},
				Context: encodeMemberContext(c),
			}
			data, err := proto.Marshal(cc)
			if err != nil {
				return fmt.Errorf("raft: bootstrap: %w", err)
			}
			ents = append(ents, &pb.Entry{Type: pb.EntryConfChangeV2.Enum(), Term: proto.Uint64(1), Index: proto.Uint64(uint64(i + 1)), Data: data})
		}
		if err := ms.Append(ents); err != nil {
			return fmt.Errorf("raft: bootstrap: %w", err)
		}
		if err := ms.SetHardState(&pb.HardState{Term: proto.Uint64(1), Commit: proto.Uint64(uint64(len(ents)))}); err != nil {
			return fmt.Errorf("raft: bootstrap: %w", err)
		}
	}
	w := &wal{dir: dir, nodeID: nodeID}
	if err := w.rewrite(ms); err != nil {
		return err
	}
	return w.close()
}

// Bootstrapped reports whether dir holds a WAL (a formatted or used
// metadata log).
func Bootstrapped(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, walName))
	return err == nil
}

// ReadMembers returns the members a dynamic quorum's log in dir names
// (the snapshot's, then every membership change in the log, committed or
// not), without opening a node: for tools and tests. The node must not be
// running.
func ReadMembers(dir string, nodeID int32) ([]Member, error) {
	f, err := os.Open(filepath.Join(dir, walName))
	if err != nil {
		return nil, fmt.Errorf("raft: %w", err)
	}
	defer f.Close()
	ms, _, err := replayWAL(f, nodeID)
	if err != nil {
		return nil, err
	}
	snap, _ := ms.Snapshot()
	base, _, err := unwrapSnapshot(snap.GetData())
	if err != nil {
		return nil, err
	}
	s, err := membersInLog(ms, base)
	if err != nil {
		return nil, err
	}
	return s.sorted(), nil
}

// emptySnapshot is the snapshot at index 0 a new log starts from.
func emptySnapshot(cs *pb.ConfState) *pb.Snapshot {
	return &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64), Term: new(uint64), ConfState: cs}}
}

// membersInLog returns the member set of a dynamic log: the snapshot's,
// with every conf change in the log after it applied, committed or not.
// Open uses it to seed the transport (the committed changes are applied
// to raft again by the Ready loop, as every committed entry is).
func membersInLog(ms *etcdraft.MemoryStorage, base memberSet) (memberSet, error) {
	first, _ := ms.FirstIndex()
	last, _ := ms.LastIndex()
	s := base
	if last < first {
		return s, nil
	}
	ents, err := ms.Entries(first, last+1, 1<<62)
	if err != nil {
		return nil, fmt.Errorf("raft: read log: %w", err)
	}
	for _, e := range ents {
		cc, ok, err := decodeConfChange(e)
		if err != nil {
			return nil, err
		}
		if ok {
			s = applyMembers(s, cc)
		}
	}
	return s, nil
}

// Membership changes. Each proposes one ConfChangeV2 through the Ready
// loop and returns once it is committed and applied on this node.

// AddVoter adds m as a voter, KIP-853's AddRaftVoter on etcd raft: m
// becomes a learner (unless it is one already), which the leader brings
// up to date over the transport; once its log has reached the commit
// index it is promoted to voter. It returns ErrStaticQuorum on a static
// quorum, a *NotLeaderError off the leader, ErrDuplicateVoter when m.ID
// is a voter already, ErrMembershipChangePending while another change
// is not yet applied, and ctx's error if m does not catch up in time (it
// stays a learner: calling AddVoter again resumes).
func (n *Node) AddVoter(ctx context.Context, m Member) error {
	if !n.cfg.Dynamic {
		return ErrStaticQuorum
	}
	if m.ID < 0 || m.Addr == "" {
		return fmt.Errorf("%w: voter %d at %q", ErrInvalidMember, m.ID, m.Addr)
	}
	cur, known := n.member(m.ID)
	if known && cur.Voter {
		return fmt.Errorf("%w: node %d", ErrDuplicateVoter, m.ID)
	}
	if known && cur.DirectoryID != m.DirectoryID {
		return fmt.Errorf("%w: node %d is a learner with another directory id", ErrInvalidMember, m.ID)
	}
	if !known {
		if err := n.changeMembers(ctx, pb.ConfChangeAddLearnerNode, m); err != nil {
			return err
		}
	}
	if err := n.waitCaughtUp(ctx, m.ID); err != nil {
		return err
	}
	return n.changeMembers(ctx, pb.ConfChangeAddNode, m)
}

// RemoveVoter removes member id, whose directory id must be dir (a zero
// dir matches a static member's). Removing the leader makes it step down
// once the change is applied. A learner (a controller whose AddVoter did
// not finish) can be removed too. Errors as AddVoter; ErrVoterNotFound
// when no such member exists, ErrInvalidMember for the last voter.
func (n *Node) RemoveVoter(ctx context.Context, id int32, dir [16]byte) error {
	if !n.cfg.Dynamic {
		return ErrStaticQuorum
	}
	cur, known := n.member(id)
	if !known || cur.DirectoryID != dir {
		return fmt.Errorf("%w: node %d with directory id %x", ErrVoterNotFound, id, dir)
	}
	if cur.Voter {
		voters := 0
		for _, m := range n.Members() {
			if m.Voter {
				voters++
			}
		}
		if voters == 1 {
			return fmt.Errorf("%w: node %d is the only voter", ErrInvalidMember, id)
		}
	}
	return n.changeMembers(ctx, pb.ConfChangeRemoveNode, cur)
}

// UpdateVoter changes the endpoint of member m.ID (KIP-853's
// UpdateRaftVoter: a controller's listener moved). The directory id must
// match.
func (n *Node) UpdateVoter(ctx context.Context, m Member) error {
	if !n.cfg.Dynamic {
		return ErrStaticQuorum
	}
	cur, known := n.member(m.ID)
	if !known || cur.DirectoryID != m.DirectoryID {
		return fmt.Errorf("%w: node %d with directory id %x", ErrVoterNotFound, m.ID, m.DirectoryID)
	}
	if m.Addr == "" {
		return fmt.Errorf("%w: node %d without an address", ErrInvalidMember, m.ID)
	}
	if cur.Addr == m.Addr && cur.Listener == m.Listener {
		return nil
	}
	return n.changeMembers(ctx, pb.ConfChangeUpdateNode, m)
}

func (n *Node) member(id int32) (Member, bool) {
	n.membersWake.Lock()
	defer n.membersWake.Unlock()
	m, ok := n.membersWake.members[id]
	return m, ok
}

// changeMembers proposes one change of m and waits for it to apply here.
func (n *Node) changeMembers(ctx context.Context, typ pb.ConfChangeType, m Member) error {
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: typ.Enum(), NodeId: proto.Uint64(raftID(m.ID))}}}
	p := &proposal{conf: cc, confCtx: contextOf(m), done: make(chan error, 1)}
	_, err := n.submit(ctx, p)
	if err != nil {
		return err
	}
	n.log.Info("raft: membership change committed", "change", typ.String(), "member", m.ID, "addr", m.Addr, "index", p.index)
	return nil
}

// catchUpPoll is how often AddVoter checks a learner's progress.
const catchUpPoll = 20 * time.Millisecond

// waitCaughtUp waits until learner id's log has reached this leader's
// commit index (KIP-853: a voter is added only once caught up, so the
// high watermark does not stall behind it).
func (n *Node) waitCaughtUp(ctx context.Context, id int32) error {
	t := time.NewTicker(catchUpPoll)
	defer t.Stop()
	for {
		st := n.Status()
		if st.State == "Stopped" {
			return n.Err()
		}
		if st.State != "Leader" {
			return &NotLeaderError{Leader: st.Leader, Term: st.Term}
		}
		if p, ok := st.Progress[id]; ok && p.Match >= st.Commit {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("raft: node %d has not caught up with the leader: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// confPending reports whether a membership change may not be proposed
// yet: etcd raft takes one at a time, and refuses (turns into an empty
// entry) one proposed while an earlier one, or anything a new leader
// found in its log, is not yet applied (raft's pendingConfIndex).
func (n *Node) confPending() bool { return n.pendingConfIndex > n.handed }

// proposeConf appends p's conf change if this node leads and no change
// is pending; a pending change makes it wait (retryConf). Ready loop only.
func (n *Node) proposeConf(p *proposal) {
	bs := n.rn.BasicStatus()
	if bs.RaftState != etcdraft.StateLeader {
		p.done <- &NotLeaderError{Leader: nodeID(bs.Lead), Term: bs.HardState.GetTerm()}
		return
	}
	if n.confPending() {
		n.confQueue = append(n.confQueue, p)
		return
	}
	n.seq++
	p.seq = n.seq
	c := p.confCtx
	c.Proposer, c.Seq = n.cfg.NodeID, p.seq
	cc := proto.Clone(p.conf).(*pb.ConfChangeV2)
	cc.Context = encodeMemberContext(c)
	if err := n.rn.ProposeConfChange(cc); err != nil {
		if errors.Is(err, etcdraft.ErrProposalDropped) {
			p.done <- fmt.Errorf("%w (%v)", ErrProposalDropped, err)
		} else {
			p.done <- fmt.Errorf("raft: propose conf change: %w", err)
		}
		return
	}
	n.unindexed[p.seq] = p
}

// retryConf proposes the membership changes that waited for an earlier
// one. Ready loop only.
func (n *Node) retryConf() {
	if len(n.confQueue) == 0 || n.confPending() {
		return
	}
	q := n.confQueue
	n.confQueue = nil
	for _, p := range q {
		if p.abandoned.Load() {
			continue
		}
		n.proposeConf(p)
	}
}

// confDropped reports whether an unindexed proposal is a conf change
// raft refused (it appended an empty entry instead).
func confDropped(p *proposal) error {
	if p.conf != nil {
		return fmt.Errorf("%w: raft refused the change", ErrMembershipChangePending)
	}
	return ErrProposalUnknown
}
