package raft

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	etcdraft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Entry is one committed log entry. Data is what was proposed; it is nil
// for the entries raft appends itself (the empty entry a new leader
// appends at the start of its term, configuration changes). Callers must
// not modify Data.
type Entry struct {
	Index uint64
	Term  uint64
	Data  []byte
}

// Snapshot is the state machine's state at Index (whose entry has Term),
// as the caller of Compact encoded it in Data.
type Snapshot struct {
	Index uint64
	Term  uint64
	Data  []byte
}

// StateMachine receives the committed log. Its methods are called from
// one goroutine, in log order, never concurrently; they may call Propose,
// Compact, Leader and Status, but must not block on a proposal they make
// (its commit is delivered through Apply, after the call returns).
// An error from Restore or Apply stops the node (Err reports it): the
// state machine and the log would otherwise disagree.
type StateMachine interface {
	// Restore replaces the whole state with a snapshot: at Open when the
	// log starts with one, and when the leader sends one because this
	// node fell behind the leader's compacted log. Entries delivered
	// before it are superseded.
	Restore(s Snapshot) error
	// Apply applies committed entries, in order, without gaps, starting
	// after the last snapshot. At Open the entries after the snapshot are
	// delivered again: applying must be a pure function of the log.
	// The slice is owned by the callee.
	Apply(ents []Entry) error
	// LeaderChange reports a new leader (-1: none known) or term, as
	// Kafka's RaftClient.Listener.handleLeaderChange does: when this node
	// is the leader the call comes only after every entry committed in
	// earlier terms has been passed to Apply, so a leader that sees
	// itself here has a complete state. Terms never decrease.
	LeaderChange(leader int32, term uint64)
}

// Node is one member of a Raft group: etcd raft's RawNode driven by one
// goroutine (the Ready loop), with a WAL under Config.Dir, a TCP
// transport, and a goroutine that feeds the StateMachine. Safe for
// concurrent use. Every goroutine it starts is stopped by Close.
type Node struct {
	cfg     Config
	log     *slog.Logger
	id      uint64 // raft id
	sm      StateMachine
	storage *etcdraft.MemoryStorage // has its own lock; written by the Ready loop only
	tr      *transport

	propc    chan *proposal
	recvc    chan *pb.Message
	compactc chan *compactReq
	statusc  chan chan Status
	readc    chan *readReq
	stopc    chan struct{} // closed by stop
	donec    chan struct{} // closed when every goroutine has exited
	stopOnce sync.Once
	wg       sync.WaitGroup // the Ready loop and the apply goroutine

	// Owned by the Ready loop.
	rn          *etcdraft.RawNode
	wal         *wal
	ticker      Ticker
	seq         uint64
	unindexed   map[uint64]*proposal // proposed, index not seen yet, by seq
	confState   *pb.ConfState
	lastLead    uint64
	lastTerm    uint64
	lastContact map[uint64]time.Time
	// members is the applied membership (membership.go); confHistory the
	// configurations since the snapshot, for Compact.
	members     memberSet
	confHistory []confPoint
	// handed is the last committed index handed to the apply goroutine
	// (raft's applied after Advance); pendingConfIndex the last index a
	// membership change may sit at (raft's pendingConfIndex, which we
	// mirror so that a change is never proposed only to be refused).
	handed           uint64
	pendingConfIndex uint64
	becameLeader     bool
	// confQueue holds membership changes waiting for the pending one.
	confQueue []*proposal
	// campaignAlone asks the loop to campaign at once: this node became
	// the only voter.
	campaignAlone bool

	// applied is the index of the last entry (or snapshot) handed to the
	// StateMachine; written by the apply goroutine.
	applied atomic.Uint64
	// appliedWake's channel is closed and replaced whenever applied
	// moves (WaitApplied, read.go).
	appliedWake struct {
		sync.Mutex
		c chan struct{}
	}
	queue applyQueue

	// membersWake publishes the applied membership to other goroutines
	// (Members, MembersChanged); c is closed and replaced at each change.
	membersWake struct {
		sync.Mutex
		members memberSet
		c       chan struct{}
	}

	mu struct {
		sync.Mutex
		leader  int32
		term    uint64
		err     error                // why the node stopped; nil while running
		waiters map[uint64]*proposal // indexed proposals by log index
	}
}

// proposal is one Propose call, or one membership change, in flight.
type proposal struct {
	payload []byte
	// conf is a membership change (payload is then unused); confCtx the
	// member it names, tagged with seq when proposed.
	conf      *pb.ConfChangeV2
	confCtx   memberContext
	seq       uint64
	index     uint64 // set by the Ready loop before the proposal is registered
	term      uint64
	done      chan error // capacity 1; receives the outcome once
	abandoned atomic.Bool
}

type compactReq struct {
	index uint64
	data  []byte
	done  chan error
}

// The proposal tag prefixes every proposed entry's data, so the leader can
// find its proposals' indexes in the next Ready:
//
//	version byte (1) | proposer node id int32 | sequence uint64 | payload
const (
	tagVersion = 1
	tagLen     = 13
)

func tagData(node int32, seq uint64, payload []byte) []byte {
	b := make([]byte, tagLen, tagLen+len(payload))
	b[0] = tagVersion
	binary.BigEndian.PutUint32(b[1:5], uint32(node))
	binary.BigEndian.PutUint64(b[5:13], seq)
	return append(b, payload...)
}

// untag splits an entry's data. ok is false for data this package did
// not write.
func untag(data []byte) (node int32, seq uint64, payload []byte, ok bool) {
	if len(data) < tagLen || data[0] != tagVersion {
		return 0, 0, nil, false
	}
	return int32(binary.BigEndian.Uint32(data[1:5])), binary.BigEndian.Uint64(data[5:13]), data[tagLen:], true
}

// Open starts a node: it replays Dir's WAL (creating it, with the
// configured members, on first start), hands the last snapshot (if any)
// to sm.Restore, starts listening for peers and starts the Ready loop.
// Committed entries after the snapshot are delivered to sm.Apply again.
func Open(cfg Config, sm StateMachine) (*Node, error) {
	n, err := newNode(cfg, sm)
	if err != nil {
		return nil, err
	}
	n.start()
	return n, nil
}

// newNode does Open's work but for starting the goroutines (start).
func newNode(cfg Config, sm StateMachine) (n *Node, err error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("node", cfg.NodeID)
	bootstrap := emptySnapshot(&pb.ConfState{Voters: members(cfg.Voters), Learners: members(cfg.Learners)})
	if cfg.Dynamic {
		// A dynamic quorum's members are in its log (Bootstrap); a Dir
		// never formatted starts empty and waits to be added.
		bootstrap = emptySnapshot(&pb.ConfState{})
	}
	w, ms, err := openWAL(cfg.Dir, cfg.NodeID, bootstrap, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	_, cs, _ := ms.InitialState()
	if !cfg.Dynamic && (!slices.Equal(cs.GetVoters(), members(cfg.Voters)) || !slices.Equal(cs.GetLearners(), members(cfg.Learners))) {
		log.Warn("raft: configured members differ from the stored ones; using the stored ones",
			"stored_voters", cs.GetVoters(), "stored_learners", cs.GetLearners())
	}
	snap, _ := ms.Snapshot()
	applied := snap.GetMetadata().GetIndex()
	var ms0 memberSet
	if cfg.Dynamic {
		if ms0, _, err = unwrapSnapshot(snap.GetData()); err != nil {
			return nil, fmt.Errorf("raft: snapshot at %d: %w", applied, err)
		}
	} else {
		ms0 = staticMembers(&cfg)
	}
	n = &Node{
		cfg:         cfg,
		log:         log,
		id:          raftID(cfg.NodeID),
		sm:          sm,
		storage:     ms,
		wal:         w,
		propc:       make(chan *proposal, 64),
		recvc:       make(chan *pb.Message, 1024),
		compactc:    make(chan *compactReq),
		statusc:     make(chan chan Status),
		readc:       make(chan *readReq),
		stopc:       make(chan struct{}),
		donec:       make(chan struct{}),
		unindexed:   map[uint64]*proposal{},
		confState:   cs,
		lastContact: map[uint64]time.Time{},
		confHistory: []confPoint{{index: applied, cs: cs, members: ms0}},
		handed:      applied,
	}
	n.queue.notify = make(chan struct{}, 1)
	n.mu.leader = -1
	n.mu.waiters = map[uint64]*proposal{}
	n.appliedWake.c = make(chan struct{})
	n.membersWake.c = make(chan struct{})
	n.setApplied(applied)

	rn, err := newRawNode(&etcdraft.Config{
		ID:                        n.id,
		ElectionTick:              cfg.electionTicks(),
		HeartbeatTick:             cfg.heartbeatTicks(),
		Storage:                   ms,
		Applied:                   snap.GetMetadata().GetIndex(),
		MaxSizePerMsg:             cfg.MaxSizePerMsg,
		MaxInflightMsgs:           cfg.MaxInflightMsgs,
		MaxUncommittedEntriesSize: cfg.MaxUncommittedBytes,
		CheckQuorum:               true, // a partitioned leader steps down
		PreVote:                   true, // KIP-996: a rejoining node does not disrupt the leader
		DisableProposalForwarding: true, // Propose answers NotLeaderError instead
		StepDownOnRemoval:         true, // KIP-853: a removed leader resigns
		Logger:                    newRaftLogger(log),
	})
	if err != nil {
		return nil, err
	}
	n.rn = rn
	if !etcdraft.IsEmptySnap(snap) {
		n.queue.push(applyEvent{snap: snap})
	}
	hs, _, _ := ms.InitialState()
	n.lastTerm = hs.GetTerm()

	n.tr, err = newTransport(&n.cfg, n.deliver)
	if err != nil {
		return nil, err
	}
	n.setMembers(ms0)
	if cfg.Dynamic {
		// Reach every member the log names, before the committed changes
		// are applied again (the first Readys do that).
		inLog, err := membersInLog(ms, ms0)
		if err != nil {
			n.tr.close()
			return nil, err
		}
		for _, m := range inLog {
			n.tr.setPeer(raftID(m.ID), m.Addr)
		}
	}
	n.ticker = cfg.NewTicker(cfg.TickInterval)
	if len(cs.GetVoters()) == 1 && cs.GetVoters()[0] == n.id {
		// A single voter need not wait out an election timeout.
		_ = n.rn.Campaign()
	}
	log.Info("raft node started", "term", hs.GetTerm(), "commit", hs.GetCommit(),
		"snapshot_index", snap.GetMetadata().GetIndex(), "listen", n.tr.addr().String())
	return n, nil
}

// start starts the Ready loop, the apply goroutine and the one that
// releases everything once they have stopped.
func (n *Node) start() {
	n.goAsync(n.run)
	n.goAsync(n.runApply)
	go func() {
		<-n.stopc
		n.wg.Wait()
		n.ticker.Stop()
		n.tr.close()
		if err := n.wal.close(); err != nil {
			n.log.Warn("raft: close wal", "err", err)
		}
		n.failWaiters()
		close(n.donec)
	}()
}

func newRawNode(c *etcdraft.Config) (rn *etcdraft.RawNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("raft: start: %v", r)
		}
	}()
	return etcdraft.NewRawNode(c)
}

// goAsync starts a goroutine owned by the node.
func (n *Node) goAsync(fn func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn()
	}()
}

// Addr returns the address the node listens on for peers.
func (n *Node) Addr() net.Addr { return n.tr.addr() }

// ID returns the node's node.id.
func (n *Node) ID() int32 { return n.cfg.NodeID }

// Propose appends data to the log and waits until it is committed and
// has been passed to the StateMachine on this node. It returns the entry's
// index, or:
//   - a *NotLeaderError (errors.Is ErrNotLeader) if this node is not the
//     leader;
//   - ErrProposalDropped if the entry was not and will never be committed;
//   - ErrProposalUnknown, ctx.Err() or ErrStopped (or the error that
//     stopped the node) if the outcome is not known: the entry may still
//     commit.
//
// While the leader is cut off from the quorum Propose waits, since the
// entry may yet commit; pass a ctx with a deadline.
func (n *Node) Propose(ctx context.Context, data []byte) (uint64, error) {
	return n.submit(ctx, &proposal{payload: data, done: make(chan error, 1)})
}

// submit hands p to the Ready loop and waits for its outcome (Propose).
func (n *Node) submit(ctx context.Context, p *proposal) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	select {
	case n.propc <- p:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-n.stopc:
		return 0, n.Err()
	}
	select {
	case err := <-p.done:
		if err != nil {
			return 0, err
		}
		return p.index, nil
	case <-ctx.Done():
		p.abandoned.Store(true)
		return 0, ctx.Err()
	case <-n.donec:
		select {
		case err := <-p.done:
			if err != nil {
				return 0, err
			}
			return p.index, nil
		default:
			return 0, n.Err()
		}
	}
}

// Leader returns the leader this node knows of (-1 if none) and the
// current term.
func (n *Node) Leader() (leader int32, term uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.leader, n.mu.term
}

// Compact records a snapshot whose state machine state, as of index, is
// data, and discards the log up to and including index. index must have
// been passed to the StateMachine already and be after the previous
// snapshot (else ErrCompactIndex). Followers that need compacted entries
// receive the snapshot instead (Kafka:
// metadata.log.max.record.bytes.between.snapshots sets how often the
// caller compacts).
func (n *Node) Compact(index uint64, data []byte) error {
	r := &compactReq{index: index, data: data, done: make(chan error, 1)}
	select {
	case n.compactc <- r:
	case <-n.stopc:
		return n.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-n.donec:
		return n.Err()
	}
}

// Done is closed once the node has stopped (Close, or a fatal error) and
// every goroutine has exited.
func (n *Node) Done() <-chan struct{} { return n.donec }

// Err returns nil while the node runs, ErrStopped after Close, or the
// error that stopped it.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.err
}

// Close stops the node and waits for every goroutine to exit. Pending
// proposals fail with ErrStopped. The durable state stays in Dir for the
// next Open. Close returns the error that had stopped the node, if any.
func (n *Node) Close() error {
	n.stop(ErrStopped)
	<-n.donec
	if err := n.Err(); err != ErrStopped {
		return err
	}
	return nil
}

// stop records why the node stops (the first reason wins) and signals
// every goroutine.
func (n *Node) stop(err error) {
	n.stopOnce.Do(func() {
		n.mu.Lock()
		n.mu.err = err
		n.mu.Unlock()
		if err != ErrStopped {
			n.log.Error("raft node failed", "err", err)
		}
		close(n.stopc)
	})
}

// deliver hands a received message to the Ready loop (the transport's
// readers call it). It returns false once the node stops.
func (n *Node) deliver(m *pb.Message) bool {
	select {
	case n.recvc <- m:
		return true
	case <-n.stopc:
		return false
	}
}

// failWaiters fails every proposal still waiting, after the goroutines
// that resolve them have exited.
func (n *Node) failWaiters() {
	err := n.Err()
	n.mu.Lock()
	ws := n.mu.waiters
	n.mu.waiters = map[uint64]*proposal{}
	n.mu.Unlock()
	for _, p := range ws {
		p.done <- err
	}
	for _, p := range n.unindexed {
		p.done <- err
	}
	n.unindexed = nil
}
