package raft

import (
	"strings"
	"time"

	etcdraft "go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"
)

// Status is a node's view of the group, the figures
// kafka-metadata-quorum.sh describe --status and --replication show.
type Status struct {
	NodeID int32
	// State is "Leader", "Follower", "Candidate", "PreCandidate", or
	// "Stopped" once the node has stopped (the other fields are then
	// zero but for NodeID and Leader -1).
	State  string
	Leader int32 // -1 if none is known
	Term   uint64
	Vote   int32 // the candidate voted for in Term, -1 if none
	// Commit is the highest committed index (Kafka's HighWatermark).
	Commit uint64
	// Applied is the last index handed to the StateMachine.
	Applied uint64
	// FirstIndex and LastIndex bound the entries held in the log
	// (FirstIndex = SnapshotIndex+1).
	FirstIndex, LastIndex       uint64
	SnapshotIndex, SnapshotTerm uint64
	Voters, Learners            []int32
	// Members are the applied membership with each member's endpoint
	// and directory id (membership.go), by id.
	Members []Member
	// Dynamic is Config.Dynamic: the membership is the log's.
	Dynamic bool
	// Progress is each member's replication state, on the leader only.
	Progress map[int32]Progress
}

// Progress is the leader's view of one member.
type Progress struct {
	Match, Next uint64
	// State is "Probe", "Replicate" or "Snapshot".
	State        string
	RecentActive bool
	// LastContact is when this node last received a message from the
	// member (Kafka's LastFetchTimestamp); zero if never.
	LastContact time.Time
}

// Status returns the node's current status. Safe for concurrent use.
func (n *Node) Status() Status {
	c := make(chan Status, 1)
	select {
	case n.statusc <- c:
	case <-n.stopc:
		return Status{NodeID: n.cfg.NodeID, State: "Stopped", Leader: -1}
	}
	select {
	case s := <-c:
		return s
	case <-n.donec:
		return Status{NodeID: n.cfg.NodeID, State: "Stopped", Leader: -1}
	}
}

// status builds the Status on the Ready loop.
func (n *Node) status() Status {
	st := n.rn.Status()
	snap, _ := n.storage.Snapshot()
	first, _ := n.storage.FirstIndex()
	last, _ := n.storage.LastIndex()
	s := Status{
		NodeID:        n.cfg.NodeID,
		State:         stateName(st.RaftState),
		Leader:        nodeID(st.Lead),
		Term:          st.HardState.GetTerm(),
		Vote:          nodeID(st.HardState.GetVote()),
		Commit:        st.HardState.GetCommit(),
		Applied:       n.applied.Load(),
		FirstIndex:    first,
		LastIndex:     last,
		SnapshotIndex: snap.GetMetadata().GetIndex(),
		SnapshotTerm:  snap.GetMetadata().GetTerm(),
		Members:       n.members.sorted(),
		Dynamic:       n.cfg.Dynamic,
	}
	for _, id := range n.confState.GetVoters() {
		s.Voters = append(s.Voters, nodeID(id))
	}
	for _, id := range n.confState.GetLearners() {
		s.Learners = append(s.Learners, nodeID(id))
	}
	if len(st.Progress) > 0 {
		s.Progress = map[int32]Progress{}
		for id, pr := range st.Progress {
			p := Progress{
				Match:        pr.Match,
				Next:         pr.Next,
				State:        progressStateName(pr.State),
				RecentActive: pr.RecentActive,
				LastContact:  n.lastContact[id],
			}
			if id == n.id {
				p.LastContact = n.cfg.Now()
			}
			s.Progress[nodeID(id)] = p
		}
	}
	return s
}

func stateName(st etcdraft.StateType) string {
	return strings.TrimPrefix(st.String(), "State")
}

func progressStateName(st tracker.StateType) string {
	return strings.TrimPrefix(st.String(), "State")
}
