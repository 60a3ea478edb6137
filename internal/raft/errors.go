package raft

import (
	"errors"
	"fmt"
)

// Errors returned by this package.
var (
	// ErrNotLeader is returned by Propose and Journal.Append on a node that
	// is not the leader. The error is a *NotLeaderError naming the leader.
	ErrNotLeader = errors.New("raft: not the leader")
	// ErrStopped is returned by calls on a closed or failed Node.
	ErrStopped = errors.New("raft: node stopped")
	// ErrProposalDropped is returned by Propose when the proposal was
	// definitely not committed: another entry was committed at its index,
	// or the leader refused it (uncommitted-bytes limit, leader transfer).
	// Proposing again is safe.
	ErrProposalDropped = errors.New("raft: proposal dropped")
	// ErrProposalUnknown is returned by Propose when the node lost track
	// of the proposal (a snapshot from a later leader covered its index)
	// and cannot tell whether it was committed.
	ErrProposalUnknown = errors.New("raft: proposal outcome unknown")
	// ErrInvalidConfig wraps every Config.Validate error.
	ErrInvalidConfig = errors.New("raft: invalid config")
	// ErrCorrupt marks a WAL that cannot be read past its torn tail
	// (a bad first record, a gap in the log, a commit beyond the log).
	ErrCorrupt = errors.New("raft: corrupt wal")
	// ErrWrongNode is returned by Open when Dir belongs to another node id.
	ErrWrongNode = errors.New("raft: dir belongs to another node")
	// ErrCompactIndex is returned by Compact for an index not yet applied,
	// or not after the current snapshot.
	ErrCompactIndex = errors.New("raft: bad compaction index")
	// ErrCompacted is returned by ReadCommitted for an index the log no
	// longer holds: it is covered by the latest snapshot.
	ErrCompacted = errors.New("raft: index compacted into a snapshot")

	// ErrStaticQuorum is returned by the membership changes of a quorum
	// configured with Config.Voters (Kafka's kraft.version 0).
	ErrStaticQuorum = errors.New("raft: the quorum's membership is static")
	// ErrDuplicateVoter is returned by AddVoter for a member that is a
	// voter already (Kafka's DUPLICATE_VOTER).
	ErrDuplicateVoter = errors.New("raft: already a voter")
	// ErrVoterNotFound is returned by RemoveVoter and UpdateVoter for a
	// member that does not exist with that directory id (Kafka's
	// VOTER_NOT_FOUND).
	ErrVoterNotFound = errors.New("raft: no such member")
	// ErrInvalidMember is returned for a change that names no address, a
	// mismatched learner, or would remove the last voter.
	ErrInvalidMember = errors.New("raft: invalid membership change")
	// ErrMembershipChangePending is returned when raft refused a
	// membership change because an earlier one was not yet applied
	// (Kafka answers REQUEST_TIMED_OUT); retrying later is safe.
	ErrMembershipChangePending = errors.New("raft: another membership change is pending")
	// ErrBootstrapped is returned by Bootstrap for a dir that holds a
	// log already.
	ErrBootstrapped = errors.New("raft: log already exists")
)

// NotLeaderError is the ErrNotLeader error: it names the leader this node
// knows of (-1 if none) and the term it knows.
type NotLeaderError struct {
	Leader int32
	Term   uint64
}

func (e *NotLeaderError) Error() string {
	if e.Leader < 0 {
		return fmt.Sprintf("raft: not the leader (no leader known, term %d)", e.Term)
	}
	return fmt.Sprintf("raft: not the leader (leader %d, term %d)", e.Leader, e.Term)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }
