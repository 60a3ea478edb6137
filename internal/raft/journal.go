package raft

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gregor-streaming/gregor/internal/metadata"
)

// Batch is one committed batch of metadata records.
type Batch struct {
	// Offset is the batch's index in the Raft log. Offsets increase but
	// are not dense: raft's own entries (a new leader's empty entry) take
	// indexes too.
	Offset uint64
	// Epoch is the Raft term in which the batch was appended (Kafka's
	// leader epoch of the metadata log).
	Epoch   uint64
	Records []metadata.Record
}

// Listener receives the metadata log on every member, as Kafka's
// RaftClient.Listener does. Calls come from one goroutine, in log order.
// An error stops the Journal's node.
type Listener interface {
	// HandleSnapshot replaces the listener's state with a snapshot whose
	// Data is what some member passed to Journal.Snapshot (an encoded
	// metadata.Image). Batches handled before it are superseded.
	HandleSnapshot(s Snapshot) error
	// HandleCommit applies one committed batch.
	HandleCommit(b Batch) error
	// HandleLeaderChange reports the leader (-1: none known) of epoch.
	// When this node is the leader, the call comes after every batch
	// committed in earlier epochs has been handled: the node may then act
	// as the active controller on a complete image.
	HandleLeaderChange(leader int32, epoch uint64)
}

// AppliedListener is implemented by a Listener that wants to know the
// Raft index it has reached even when the last entries carried no batch
// (a new leader's empty entry, a membership change): HandleApplied
// follows the HandleCommit calls of each group of entries with the index
// of the group's last entry.
type AppliedListener interface {
	HandleApplied(offset uint64)
}

// appendTimeout bounds Journal.Append, as Kafka's request.timeout.ms
// default bounds a controller write.
const appendTimeout = 30 * time.Second

// Journal is the replicated metadata log: batches of metadata.Record
// proposed by the leader (the active controller), committed by the Raft
// quorum and delivered to a Listener on every member. Safe for concurrent
// use.
//
// Each batch is one Raft entry: a format byte (1) and the JSON array of
// records, the encoding of metadata's FileJournal.
type Journal struct {
	node     *Node
	listener Listener
}

const journalFormatJSON = 1

// OpenJournal opens the node described by cfg and delivers its log to l:
// first the last snapshot (if any), then every batch after it, then new
// batches as they commit.
func OpenJournal(cfg Config, l Listener) (*Journal, error) {
	j := &Journal{listener: l}
	n, err := newNode(cfg, journalMachine{j})
	if err != nil {
		return nil, err
	}
	j.node = n // before the listener can be called and call back
	n.start()
	return j, nil
}

// Append commits recs as one batch and returns once it is committed and
// has been passed to HandleCommit on this node, or within 30 s. On a
// member that is not the leader it returns a *NotLeaderError
// (errors.Is ErrNotLeader) naming the leader. An empty batch is not
// written.
func (j *Journal) Append(recs []metadata.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	defer cancel()
	_, err := j.AppendContext(ctx, recs)
	return err
}

// AppendContext is Append bounded by ctx; it returns the batch's offset.
// See Node.Propose for what each error says about the outcome.
func (j *Journal) AppendContext(ctx context.Context, recs []metadata.Record) (uint64, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	body, err := json.Marshal(recs)
	if err != nil {
		return 0, fmt.Errorf("raft: encode metadata records: %w", err)
	}
	data := make([]byte, 0, 1+len(body))
	data = append(data, journalFormatJSON)
	data = append(data, body...)
	return j.node.Propose(ctx, data)
}

// Snapshot records data, the encoded image as of offset (the Offset of a
// batch already handled by the Listener), as the log's snapshot and
// discards the batches it covers (Node.Compact).
func (j *Journal) Snapshot(offset uint64, data []byte) error {
	return j.node.Compact(offset, data)
}

// Leader returns the leader this node knows of (-1 if none) and the epoch.
func (j *Journal) Leader() (int32, uint64) { return j.node.Leader() }

// Node returns the underlying Raft node (Status, Addr).
func (j *Journal) Node() *Node { return j.node }

// Close stops the node; Append fails with ErrStopped afterwards.
func (j *Journal) Close() error { return j.node.Close() }

// decodeBatch decodes a journal entry's data.
func decodeBatch(data []byte) ([]metadata.Record, error) {
	if len(data) == 0 || data[0] != journalFormatJSON {
		return nil, fmt.Errorf("raft: unknown metadata batch format")
	}
	var recs []metadata.Record
	if err := json.Unmarshal(data[1:], &recs); err != nil {
		return nil, fmt.Errorf("raft: decode metadata batch: %w", err)
	}
	return recs, nil
}

// journalMachine adapts a Listener to the StateMachine interface.
type journalMachine struct{ j *Journal }

func (m journalMachine) Restore(s Snapshot) error { return m.j.listener.HandleSnapshot(s) }

func (m journalMachine) Apply(ents []Entry) error {
	for _, e := range ents {
		if e.Data == nil {
			continue
		}
		recs, err := decodeBatch(e.Data)
		if err != nil {
			return fmt.Errorf("offset %d: %w", e.Index, err)
		}
		if err := m.j.listener.HandleCommit(Batch{Offset: e.Index, Epoch: e.Term, Records: recs}); err != nil {
			return err
		}
	}
	if al, ok := m.j.listener.(AppliedListener); ok && len(ents) > 0 {
		al.HandleApplied(ents[len(ents)-1].Index)
	}
	return nil
}

func (m journalMachine) LeaderChange(leader int32, term uint64) {
	m.j.listener.HandleLeaderChange(leader, term)
}

// ReadCommitted returns the committed batches from offset (a Raft index)
// on, as Node.ReadCommitted does: in order, without gaps, at least one
// when offset is not past the applied index, about maxBytes of encoded
// data at most. Raft's own entries (a new leader's empty entry) come back
// as batches without records, so that a reader accounts for every offset.
// It returns ErrCompacted when offset is covered by the latest snapshot
// (read it with Node.LatestSnapshot). The caller owns the batches.
func (j *Journal) ReadCommitted(offset uint64, maxBytes int) ([]Batch, error) {
	ents, err := j.node.ReadCommitted(offset, uint64(max(maxBytes, 0)))
	if err != nil {
		return nil, err
	}
	out := make([]Batch, 0, len(ents))
	for _, e := range ents {
		b := Batch{Offset: e.Index, Epoch: e.Term}
		if e.Data != nil {
			if b.Records, err = decodeBatch(e.Data); err != nil {
				return nil, fmt.Errorf("offset %d: %w", e.Index, err)
			}
		}
		out = append(out, b)
	}
	return out, nil
}
