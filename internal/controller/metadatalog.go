package controller

// Serving the metadata log to observers: broker-only nodes fetch the
// committed log from the Raft leader (Fetch and FetchSnapshot of
// __cluster_metadata-0 on the controller listener, as KRaft brokers do,
// KIP-595 and KIP-630), and the leader remembers how far each one got
// (DescribeQuorum's observers).
//
// Offsets are Kafka's: the entry at Raft index i has offset i-1, so
//
//	fetch offset F      the observer has every entry up to index F and
//	                    wants index F+1 on
//	high watermark      the applied index: entries below it are committed
//	log start offset    the latest snapshot's index S (entries from S+1
//	                    on are in the log)
//	snapshot id         EndOffset S, Epoch its term: a fetch with F < S
//	                    gets it instead of records and loads the snapshot
//	                    (metadata.EncodeImage bytes) with FetchSnapshot,
//	                    then fetches from S
//
// Only committed entries are served, so an observer never has to
// truncate: leader changes cannot diverge its log from the new leader's
// (Raft's Leader Completeness), and the leader ignores last_fetched_epoch.

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/raft"
)

// observerSessionTimeout is how long the leader keeps listing an
// observer that stopped fetching (Kafka's LeaderState
// OBSERVER_SESSION_TIMEOUT_MS).
const observerSessionTimeout = 5 * time.Minute

// MetadataFetch is an observer's Fetch of the metadata log.
type MetadataFetch struct {
	// ReplicaID is the observer's node.id; a negative id (a tool) is not
	// recorded as an observer.
	ReplicaID int32
	// FetchOffset is the offset of the first entry wanted.
	FetchOffset int64
	// MaxBytes bounds the entries' encoded size; at least one entry is
	// returned when there is one.
	MaxBytes int
	// MaxWait is how long to wait for an entry when there is none yet.
	MaxWait time.Duration
}

// SnapshotID names a snapshot of the metadata log: the offset that
// follows it and the epoch of its last entry.
type SnapshotID struct {
	EndOffset int64
	Epoch     int32
}

// MetadataFetchResult answers a MetadataFetch.
type MetadataFetchResult struct {
	// Err is nil or an *apierror.Error: NOT_LEADER_OR_FOLLOWER when this
	// controller is not the active one (Leader and Epoch say who is),
	// UNKNOWN_SERVER_ERROR (stopping, or a broken log).
	Err error
	// Leader and Epoch are the metadata log's leader (-1: none known)
	// and leader epoch.
	Leader int32
	Epoch  int32
	// HighWatermark and LogStartOffset bound the entries the leader can
	// serve.
	HighWatermark  int64
	LogStartOffset int64
	// Snapshot is set, and Batches empty, when FetchOffset is below
	// LogStartOffset.
	Snapshot *SnapshotID
	// Batches are the entries from FetchOffset on, in order.
	Batches []metadata.LogBatch
}

var errNotLeader = apierror.New(kerr.NotLeaderForPartition, "This controller is not the leader of __cluster_metadata-0.")

// FetchMetadata serves an observer's fetch: the committed entries from
// req.FetchOffset on, waiting up to req.MaxWait (or until ctx ends) for
// one to commit when there is none yet, or the snapshot to load first.
// Safe for concurrent use.
func (c *Controller) FetchMetadata(ctx context.Context, req MetadataFetch) MetadataFetchResult {
	q := c.quorum
	if q == nil {
		return MetadataFetchResult{Err: errNotLeader, Leader: -1, Epoch: -1}
	}
	node := q.journal.Node()
	wait, cancel := context.WithTimeout(ctx, max(req.MaxWait, 0))
	defer cancel()
	for {
		leader, term := q.leader()
		res := MetadataFetchResult{Leader: leader, Epoch: int32(term)}
		if leader != q.self {
			res.Err = errNotLeader
			return res
		}
		snap, err := node.LatestSnapshot()
		if err != nil {
			res.Err = apierror.Wrap(kerr.UnknownServerError, err)
			return res
		}
		applied := node.Applied()
		res.HighWatermark, res.LogStartOffset = int64(applied), int64(snap.Index)
		q.observers.record(req.ReplicaID, req.FetchOffset, res.HighWatermark, term, c.cfg.Now())
		if req.FetchOffset < res.LogStartOffset {
			res.Snapshot = &SnapshotID{EndOffset: int64(snap.Index), Epoch: int32(snap.Term)}
			return res
		}
		if req.FetchOffset < res.HighWatermark {
			batches, err := q.journal.ReadCommitted(uint64(req.FetchOffset)+1, req.MaxBytes)
			if errors.Is(err, raft.ErrCompacted) {
				continue // compacted since LatestSnapshot: answer with the snapshot
			}
			if err != nil {
				res.Err = apierror.Wrap(kerr.UnknownServerError, err)
				return res
			}
			res.Batches = make([]metadata.LogBatch, len(batches))
			for i, b := range batches {
				res.Batches[i] = metadata.LogBatch{Offset: int64(b.Offset) - 1, Epoch: int32(b.Epoch), Control: b.Records == nil, Records: b.Records}
			}
			return res
		}
		// Nothing new: a long poll until the next entry applies.
		if err := node.WaitApplied(wait, uint64(req.FetchOffset)); err != nil {
			if wait.Err() != nil && ctx.Err() == nil {
				return res // max wait passed: an empty answer
			}
			res.Err = apierror.Wrap(kerr.UnknownServerError, err)
			return res
		}
	}
}

// MetadataSnapshot returns the bytes of snapshot id (an encoded
// metadata.Image) for FetchSnapshot, with the leader and its epoch:
// NOT_LEADER_OR_FOLLOWER when this controller is not the leader,
// SNAPSHOT_NOT_FOUND when id is not the latest snapshot (a newer one
// replaced it: fetch again). The caller must not modify the bytes.
func (c *Controller) MetadataSnapshot(id SnapshotID) (data []byte, leader, epoch int32, err error) {
	q := c.quorum
	if q == nil {
		return nil, -1, -1, errNotLeader
	}
	l, term := q.leader()
	if l != q.self {
		return nil, l, int32(term), errNotLeader
	}
	snap, err := q.journal.Node().LatestSnapshot()
	if err != nil {
		return nil, l, int32(term), apierror.Wrap(kerr.UnknownServerError, err)
	}
	if int64(snap.Index) != id.EndOffset || int32(snap.Term) != id.Epoch || snap.Index == 0 {
		return nil, l, int32(term), apierror.New(kerr.SnapshotNotFound, "No snapshot with end offset %d and epoch %d; the latest ends at %d, epoch %d.", id.EndOffset, id.Epoch, snap.Index, snap.Term)
	}
	return snap.Data, l, int32(term), nil
}

// observerTracker is the leader's view of its observers (Kafka's
// LeaderState observer states). Safe for concurrent use.
type observerTracker struct {
	mu struct {
		sync.Mutex
		states map[int32]observerState
	}
}

type observerState struct {
	fetchOffset  int64
	term         uint64 // the leader term the fetch was served in
	lastFetch    time.Time
	lastCaughtUp time.Time
}

// record notes that observer id fetched from offset at now, while the
// high watermark was hw, in term.
func (t *observerTracker) record(id int32, offset, hw int64, term uint64, now time.Time) {
	if id < 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.states == nil {
		t.mu.states = map[int32]observerState{}
	}
	st := t.mu.states[id]
	if st.term != term {
		st = observerState{term: term} // a new leadership starts afresh
	}
	st.fetchOffset, st.lastFetch = offset, now
	if offset >= hw {
		st.lastCaughtUp = now
	}
	t.mu.states[id] = st
}

// states returns the observers that fetched in term within the session
// timeout before now, other than voters, sorted by id.
func (t *observerTracker) states(term uint64, now time.Time, voters map[int32]string) []ReplicaState {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []ReplicaState
	for _, id := range slices.Sorted(maps.Keys(t.mu.states)) {
		st := t.mu.states[id]
		if now.Sub(st.lastFetch) > observerSessionTimeout {
			delete(t.mu.states, id)
			continue
		}
		if _, voter := voters[id]; voter || st.term != term {
			continue
		}
		out = append(out, ReplicaState{ID: id, LogEndOffset: st.fetchOffset, LastFetch: st.lastFetch, LastCaughtUp: st.lastCaughtUp})
	}
	return out
}
