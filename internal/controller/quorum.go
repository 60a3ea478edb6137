package controller

// The quorum side of the Controller: the metadata log is a raft.Journal,
// every member applies it to its image, and the Raft leader is the active
// controller (Kafka's QuorumController over KRaft).
//
//	request ──▶ Controller (mu) ──ready?──▶ NOT_CONTROLLER unless this node
//	               │                        leads the current term
//	               │ plan against Image()
//	               ▼
//	            raft.Journal.AppendContext ──▶ Raft commit ──▶ every member:
//	               │                                  quorum.HandleCommit
//	               │                                    Image.Apply, install
//	               ◀── returns after the local apply ───┘ (publish)
//	            answer
//
// The Raft apply goroutine calls the Listener methods and never takes
// Controller.mu (a proposer holds it while waiting for that goroutine);
// it takes pubMu to install each image. Two goroutines of our own: the
// tick loop (session expiry, unclean elections, leader balance, driven
// by the real clock while this node is active) and the snapshotter
// (metadata.log.max.record.bytes.between.snapshots).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/invariants"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/raft"
)

// QuorumConfig configures the Raft side of a Controller (OpenQuorum).
type QuorumConfig struct {
	// Raft configures this member: NodeID, Voters (controller.quorum.voters),
	// Dir (<metadata.log.dir>/__cluster_metadata-0), ClusterID, timing,
	// and the Listen/Dial functions of its transport.
	Raft raft.Config
	// SnapshotBytes is metadata.log.max.record.bytes.between.snapshots:
	// the member snapshots its image once this many bytes of records
	// were applied since the last snapshot. Default 20 MiB.
	SnapshotBytes int64
	// AppendTimeout bounds one commit (Kafka: the request's deadline).
	// Default 30 s.
	AppendTimeout time.Duration
	// TickInterval bounds how long the active controller's periodic work
	// waits between runs when nothing is due sooner. Default 1 s.
	TickInterval time.Duration
}

func (qc *QuorumConfig) ensureDefaults() {
	if qc.SnapshotBytes <= 0 {
		qc.SnapshotBytes = 20 << 20
	}
	if qc.AppendTimeout <= 0 {
		qc.AppendTimeout = 30 * time.Second
	}
	if qc.TickInterval <= 0 {
		qc.TickInterval = time.Second
	}
}

// quorum is the raft.Listener of a Controller and its committer.
type quorum struct {
	c       *Controller
	cfg     QuorumConfig
	self    int32
	journal *raft.Journal // set once OpenJournal returns

	// applied is the Raft index of the last batch or snapshot handled;
	// failedAt the index of the last committed batch that did not apply
	// (skipped on every member alike). Written by the apply goroutine.
	applied  atomic.Uint64
	failedAt atomic.Uint64
	// appliedc has a value after each batch or snapshot (capacity 1).
	appliedc chan struct{}
	// sinceSnapshot counts record bytes applied since the last snapshot;
	// apply goroutine only.
	sinceSnapshot int64

	// observers are the brokers fetching the log from this member while
	// it leads (metadatalog.go).
	observers observerTracker

	tickc chan struct{}    // capacity 1: wake the tick loop
	snapc chan snapshotJob // capacity 1: the latest snapshot to take
	stopc chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	mu struct {
		sync.Mutex
		leader int32 // as reported by HandleLeaderChange; -1 none
		term   uint64
		// A commit whose outcome is unknown (timeout, lost proposal)
		// leaves uncertainIndex (the Raft log's last index then) in
		// uncertainTerm: this node decides nothing more in that term
		// until it has applied that far, so it never plans on an image
		// that may lack its own earlier write.
		uncertainTerm  uint64
		uncertainIndex uint64
	}
}

type snapshotJob struct {
	index uint64
	im    *metadata.Image
}

// OpenQuorum opens this member's Raft log (creating it on first start),
// replays what it has committed locally into the image (publishing each
// image), and returns a Controller that decides while this node is the
// Raft leader and answers NOT_CONTROLLER otherwise. Close stops it.
func OpenQuorum(cfg Config, qc QuorumConfig, publish func(*metadata.Image)) (*Controller, error) {
	cfg.ensureDefaults()
	if err := cfg.Cluster.Validate(); err != nil {
		return nil, err
	}
	qc.ensureDefaults()
	if qc.Raft.Logger == nil {
		qc.Raft.Logger = cfg.Logger
	}
	c, q := newQuorumController(cfg, qc, publish)
	if err := c.loadBootstrap(); err != nil { // written when first active on an empty log
		return nil, err
	}
	j, err := raft.OpenJournal(qc.Raft, q)
	if err != nil {
		return nil, fmt.Errorf("controller: open metadata quorum: %w", err)
	}
	q.journal = j
	// The log this member had committed before it stopped is replayed
	// now, so the node starts from the image it had (as Kafka's brokers
	// load their local log and snapshot before catching up).
	if err := q.waitApplied(j.Node().Status().Commit); err != nil {
		j.Close()
		return nil, err
	}
	q.wg.Add(2)
	go func() { defer q.wg.Done(); q.runTicks() }()
	go func() { defer q.wg.Done(); q.runSnapshots() }()
	c.startTokenSweeper() // delegation_tokens.go
	im := c.image.Load()
	cfg.Logger.Info("metadata loaded from the quorum log", "raft_index", q.applied.Load(), "batches", im.Offset, "topics", im.NumTopics(), "brokers", im.NumBrokers())
	return c, nil
}

// newQuorumController returns a Controller over an empty image whose
// committer and raft.Listener is the returned quorum; the caller opens
// the journal.
func newQuorumController(cfg Config, qc QuorumConfig, publish func(*metadata.Image)) (*Controller, *quorum) {
	c := &Controller{cfg: cfg, publish: publish}
	c.image.Store(metadata.Empty)
	q := &quorum{
		c:        c,
		cfg:      qc,
		self:     qc.Raft.NodeID,
		appliedc: make(chan struct{}, 1),
		tickc:    make(chan struct{}, 1),
		snapc:    make(chan snapshotJob, 1),
		stopc:    make(chan struct{}),
	}
	q.mu.leader = -1
	c.quorum, c.commits = q, q
	return c, q
}

// waitApplied waits until the apply goroutine has handled index.
func (q *quorum) waitApplied(index uint64) error {
	done := q.journal.Node().Done()
	for q.applied.Load() < index {
		select {
		case <-q.appliedc:
		case <-done:
			return fmt.Errorf("controller: metadata quorum stopped while loading: %w", q.journal.Node().Err())
		}
	}
	return nil
}

func (q *quorum) close() error {
	var err error
	q.once.Do(func() {
		close(q.stopc)
		// Closing the journal fails commits in flight, so a decision
		// holding Controller.mu lets go before the tick loop is waited for.
		err = q.journal.Close()
		q.wg.Wait()
	})
	return err
}

// HandleSnapshot implements raft.Listener: the image becomes the one the
// snapshot encodes.
func (q *quorum) HandleSnapshot(s raft.Snapshot) error {
	im, err := metadata.DecodeImage(s.Data)
	if err != nil {
		return fmt.Errorf("controller: metadata snapshot at %d: %w", s.Index, err)
	}
	q.sinceSnapshot = 0
	q.c.install(im)
	q.markApplied(s.Index)
	return nil
}

// HandleCommit implements raft.Listener: every member applies every
// committed batch. A batch that does not apply (it was planned on an
// image that a concurrent, since-deposed leader's write changed) is
// skipped on every member alike, so images stay identical; the leader
// that proposed it reports the failure.
func (q *quorum) HandleCommit(b raft.Batch) error {
	cur := q.c.image.Load()
	next, err := cur.Apply(b.Records)
	if err != nil {
		q.c.cfg.Logger.Error("skipping a committed metadata batch that does not apply", "raft_index", b.Offset, "epoch", b.Epoch, "err", err)
		q.failedAt.Store(b.Offset)
	} else {
		q.c.install(next)
	}
	if size, err := json.Marshal(b.Records); err == nil {
		q.sinceSnapshot += int64(len(size))
	}
	if q.sinceSnapshot >= q.cfg.SnapshotBytes {
		q.sinceSnapshot = 0
		q.offerSnapshot(snapshotJob{index: b.Offset, im: q.c.image.Load()})
	}
	q.markApplied(b.Offset)
	return nil
}

// HandleLeaderChange implements raft.Listener. When this node is the
// leader the call comes after every earlier batch was applied, so the
// next decision builds its Cluster on a complete image.
func (q *quorum) HandleLeaderChange(leader int32, term uint64) {
	q.mu.Lock()
	was := q.mu.leader
	q.mu.leader, q.mu.term = leader, term
	q.mu.Unlock()
	if leader != was {
		q.c.cfg.Logger.Info("metadata quorum leader", "leader", leader, "term", term, "self", leader == q.self)
	}
	q.kickTicks()
}

// HandleApplied implements raft.AppliedListener: entries without a batch
// (a new leader's empty entry, a membership change) count as applied
// too, so that OpenQuorum's wait for the local commit index ends when
// the log ends with one.
func (q *quorum) HandleApplied(index uint64) {
	if index > q.applied.Load() {
		q.markApplied(index)
	}
}

func (q *quorum) markApplied(index uint64) {
	q.applied.Store(index)
	select {
	case q.appliedc <- struct{}{}:
	default:
	}
}

func (q *quorum) offerSnapshot(job snapshotJob) {
	select {
	case q.snapc <- job:
	default:
		select { // replace the one not taken yet: only the latest matters
		case <-q.snapc:
		default:
		}
		q.snapc <- job // the apply goroutine is the only sender
	}
}

func (q *quorum) kickTicks() {
	select {
	case q.tickc <- struct{}{}:
	default:
	}
}

// leader returns the active controller as this member knows it (-1: none)
// and the term.
func (q *quorum) leader() (int32, uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.leader, q.mu.term
}

var errNotController = apierror.New(kerr.NotController, "This node is not the active controller.")

// ready implements committer.
func (q *quorum) ready() (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.leader != q.self {
		return 0, errNotController
	}
	if q.mu.uncertainTerm == q.mu.term && q.applied.Load() < q.mu.uncertainIndex {
		return 0, apierror.New(kerr.NotController, "The active controller is waiting for the outcome of an earlier write.")
	}
	return q.mu.term, nil
}

// commit implements committer: it appends through Raft and returns once
// the batch is committed and applied here.
func (q *quorum) commit(recs []metadata.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), q.cfg.AppendTimeout)
	defer cancel()
	off, err := q.journal.AppendContext(ctx, recs)
	switch {
	case err == nil:
		if q.failedAt.Load() == off {
			return invariants.AssertionFailedf("controller: committed batch at %d did not apply", off)
		}
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrProposalDropped):
		// Definitely not committed: the client may retry elsewhere.
		return apierror.Wrap(kerr.NotController, err)
	}
	// The batch may still commit. Decide nothing more in this term until
	// the log it could be in has been applied.
	st := q.journal.Node().Status()
	q.mu.Lock()
	q.mu.uncertainTerm, q.mu.uncertainIndex = q.mu.term, st.LastIndex
	q.mu.Unlock()
	q.c.cfg.Logger.Warn("metadata write outcome unknown", "err", err, "last_index", st.LastIndex)
	if errors.Is(err, context.DeadlineExceeded) {
		return apierror.Wrap(kerr.RequestTimedOut, err)
	}
	return apierror.Wrap(kerr.NotController, err)
}

// runTicks drives the active controller's periodic work with the real
// clock: it runs Controller.tick when due, when leadership changes and
// after every decision (which may move the next deadline).
func (q *quorum) runTicks() {
	t := time.NewTimer(q.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-q.stopc:
			return
		default:
		}
		wait := q.c.tick(q.cfg.TickInterval)
		if wait <= 0 {
			continue
		}
		t.Reset(wait)
		select {
		case <-q.stopc:
			return
		case <-t.C:
		case <-q.tickc:
			// Reset above needs no drain: timers have not kept stale
			// values since Go 1.23.
		}
	}
}

// runSnapshots takes the snapshots HandleCommit asks for, off the apply
// goroutine (encoding and rewriting the WAL take a while).
func (q *quorum) runSnapshots() {
	for {
		select {
		case <-q.stopc:
			return
		case job := <-q.snapc:
			data, err := metadata.EncodeImage(job.im)
			if err == nil {
				err = q.journal.Snapshot(job.index, data)
			}
			if err != nil {
				q.c.cfg.Logger.Warn("metadata snapshot failed", "raft_index", job.index, "err", err)
				continue
			}
			q.c.cfg.Logger.Info("metadata snapshot taken", "raft_index", job.index, "batches", job.im.Offset, "bytes", len(data))
		}
	}
}

// QuorumStatus is the metadata quorum as this member sees it, the figures
// of DescribeQuorum (kafka-metadata-quorum.sh describe).
type QuorumStatus struct {
	// IsLeader reports whether this member is the Raft leader; only the
	// leader knows the voters' progress.
	IsLeader bool
	Leader   int32 // -1 if none is known
	// Epoch is the Raft term (Kafka's leader epoch of the metadata log).
	Epoch uint64
	// HighWatermark is the Raft commit index: Raft indexes start at 1,
	// so it is also the count of committed entries, Kafka's exclusive
	// high watermark.
	HighWatermark int64
	// SnapshotIndex is the Raft index of this member's latest snapshot
	// (0: none); its log holds only the entries after it.
	SnapshotIndex uint64
	// Dynamic reports a dynamic quorum (KIP-853: the voter set is in the
	// log and changes with AddRaftVoter and RemoveRaftVoter).
	Dynamic bool
	Voters  []ReplicaState
	// Observers are the Raft learners and, on the leader, the brokers
	// that fetched the log from it in this epoch (metadatalog.go); an
	// observer's LogEndOffset is its last fetch offset and its Addr is
	// empty.
	Observers []ReplicaState
}

// ReplicaState is one member's replication state, known on the leader.
type ReplicaState struct {
	ID int32
	// DirectoryID is the member's metadata directory id (KIP-853); zero
	// in a static quorum and for observer brokers.
	DirectoryID [16]byte
	// Listener names the controller listener of Addr ("CONTROLLER");
	// empty in a static quorum.
	Listener string
	// Addr is the member's controller endpoint (controller.quorum.voters,
	// or the voter set in the log of a dynamic quorum); empty for an
	// observer broker.
	Addr string
	// LogEndOffset is the end of the member's log that the leader knows
	// of (its Raft match index), -1 if unknown.
	LogEndOffset int64
	// LastFetch is when the leader last heard from the member;
	// LastCaughtUp when it last did so with the member's log at the high
	// watermark. Zero when unknown.
	LastFetch, LastCaughtUp time.Time
}

// QuorumStatus returns the quorum's status, and false on a single node.
func (c *Controller) QuorumStatus() (QuorumStatus, bool) {
	q := c.quorum
	if q == nil {
		return QuorumStatus{}, false
	}
	st := q.journal.Node().Status()
	qs := QuorumStatus{
		IsLeader:      st.State == "Leader",
		Leader:        st.Leader,
		Epoch:         st.Term,
		HighWatermark: int64(st.Commit),
		SnapshotIndex: st.SnapshotIndex,
		Dynamic:       st.Dynamic,
	}
	members := map[int32]raft.Member{}
	for _, m := range st.Members {
		members[m.ID] = m
	}
	state := func(id int32) ReplicaState {
		m := members[id]
		rs := ReplicaState{ID: id, DirectoryID: m.DirectoryID, Listener: m.Listener, Addr: m.Addr, LogEndOffset: -1}
		if p, ok := st.Progress[id]; ok {
			rs.LogEndOffset = int64(p.Match)
			rs.LastFetch = p.LastContact
			if p.Match >= st.Commit {
				rs.LastCaughtUp = p.LastContact
			}
		}
		return rs
	}
	voters := map[int32]string{}
	for _, id := range st.Voters {
		qs.Voters = append(qs.Voters, state(id))
		voters[id] = members[id].Addr
	}
	for _, id := range st.Learners {
		qs.Observers = append(qs.Observers, state(id))
		voters[id] = members[id].Addr // listed once, as a learner
	}
	if qs.IsLeader {
		qs.Observers = append(qs.Observers, q.observers.states(st.Term, c.cfg.Now(), voters)...)
	}
	return qs, true
}

// ActiveController returns the active controller as this member knows it
// (-1: none, or a single node) and the metadata log's epoch.
func (c *Controller) ActiveController() (int32, uint64) {
	if c.quorum == nil {
		return -1, 0
	}
	return c.quorum.leader()
}

// QuorumVoters returns the voters' controller endpoints by id:
// controller.quorum.voters, or a dynamic quorum's current voter set; nil
// on a single node. The caller owns the map.
func (c *Controller) QuorumVoters() map[int32]string {
	if c.quorum == nil {
		return nil
	}
	out := map[int32]string{}
	for _, m := range c.quorum.journal.Node().Members() {
		if m.Voter {
			out[m.ID] = m.Addr
		}
	}
	return out
}

// QuorumMembers returns the quorum's members (voters and learners) with
// their endpoints and directory ids, and a channel closed at the next
// change; nil, nil on a single node.
func (c *Controller) QuorumMembers() ([]raft.Member, <-chan struct{}) {
	if c.quorum == nil {
		return nil, nil
	}
	n := c.quorum.journal.Node()
	changed := n.MembersChanged() // before reading: no change is missed
	return n.Members(), changed
}
