package controller

// Changing a dynamic quorum's voters (KIP-853): AddRaftVoter (key 80),
// RemoveRaftVoter (81) and UpdateRaftVoter (82) land here on the Raft
// leader and become etcd raft configuration changes (raft/membership.go):
//
//	AddRaftVoter ──▶ learner (replicates, no vote; Kafka's observer)
//	             ──▶ caught up with the commit index ──▶ voter ──▶ answer
//	RemoveRaftVoter ──▶ removed (a removed leader resigns) ──▶ answer
//
// The answer comes once the change is committed and applied here, as
// Kafka's leader answers once the VotersRecord commits. Errors are
// Kafka's, with its messages:
//
//	static quorum (controller.quorum.voters)   UNSUPPORTED_VERSION
//	not the Raft leader                        NOT_LEADER_OR_FOLLOWER
//	already a voter                            DUPLICATE_VOTER
//	no such voter / directory id               VOTER_NOT_FOUND
//	another change not yet applied, or the
//	new voter not caught up in time            REQUEST_TIMED_OUT
//	the last voter, no endpoint                INVALID_REQUEST

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/raft"
	"github.com/gregor-streaming/gregor/internal/uuid"
)

// Voter is a controller as AddRaftVoter and UpdateRaftVoter name it.
type Voter struct {
	ID          int32
	DirectoryID [16]byte
	// Listener and Addr (host:port) are its controller endpoint: Gregor
	// keeps one per voter, the one on the listener the quorum uses.
	Listener string
	Addr     string
}

func (v Voter) member() raft.Member {
	return raft.Member{ID: v.ID, DirectoryID: v.DirectoryID, Listener: v.Listener, Addr: v.Addr}
}

// replicaKey formats a voter as Kafka's ReplicaKey.toString does.
func replicaKey(id int32, dir [16]byte) string {
	if dir == ([16]byte{}) {
		return fmt.Sprintf("ReplicaKey(id=%d, directoryId=<undefined>)", id)
	}
	return fmt.Sprintf("ReplicaKey(id=%d, directoryId=%s)", id, uuid.Format(dir))
}

// voterKeys formats the current voters as Kafka's VoterSet.voterKeys.
func (c *Controller) voterKeys() string {
	members, _ := c.QuorumMembers()
	var keys []string
	for _, m := range members {
		if m.Voter {
			keys = append(keys, replicaKey(m.ID, m.DirectoryID))
		}
	}
	return "[" + strings.Join(keys, ", ") + "]"
}

// AddRaftVoter adds v to the voters and returns once the change is
// committed, or an *apierror.Error with Kafka's code. ctx bounds the
// whole operation, the new voter's catch-up included.
func (c *Controller) AddRaftVoter(ctx context.Context, v Voter) error {
	node, err := c.dynamicNode("adding")
	if err != nil {
		return err
	}
	if v.Addr == "" {
		return apierror.New(kerr.InvalidRequest, "The voter %s has no endpoint on the controller listener.", replicaKey(v.ID, v.DirectoryID))
	}
	err = node.AddVoter(ctx, v.member())
	if errors.Is(err, raft.ErrDuplicateVoter) {
		return apierror.New(kerr.DuplicateVoter, "The voter id for %s is already part of the set of voters %s.", replicaKey(v.ID, v.DirectoryID), c.voterKeys())
	}
	if err == nil {
		c.cfg.Logger.Info("controller added to the metadata quorum", "voter", v.ID, "endpoint", v.Addr)
	}
	return voterError(err, "add voter")
}

// RemoveRaftVoter removes voter id with directory id dir.
func (c *Controller) RemoveRaftVoter(ctx context.Context, id int32, dir [16]byte) error {
	node, err := c.dynamicNode("removing")
	if err != nil {
		return err
	}
	err = node.RemoveVoter(ctx, id, dir)
	if errors.Is(err, raft.ErrVoterNotFound) {
		return apierror.New(kerr.VoterNotFound, "Cannot remove voter %s from the set of voters %s", replicaKey(id, dir), c.voterKeys())
	}
	if err == nil {
		c.cfg.Logger.Info("controller removed from the metadata quorum", "voter", id)
	}
	return voterError(err, "remove voter")
}

// UpdateRaftVoter moves voter v.ID's endpoint to v's.
func (c *Controller) UpdateRaftVoter(ctx context.Context, v Voter) error {
	node, err := c.dynamicNode("updating")
	if err != nil {
		return err
	}
	err = node.UpdateVoter(ctx, v.member())
	if errors.Is(err, raft.ErrVoterNotFound) {
		return apierror.New(kerr.VoterNotFound, "Voter %s is not one of the voters %s", replicaKey(v.ID, v.DirectoryID), c.voterKeys())
	}
	return voterError(err, "update voter")
}

// dynamicNode returns the Raft node of a dynamic quorum, or Kafka's
// answer for a cluster at kraft.version 0.
func (c *Controller) dynamicNode(verb string) (*raft.Node, error) {
	if c.quorum == nil || !c.quorum.journal.Node().Dynamic() {
		return nil, apierror.New(kerr.UnsupportedVersion, "Cluster doesn't support %s voter because the kraft.version feature is 0", verb)
	}
	return c.quorum.journal.Node(), nil
}

// voterError maps a membership change's error to Kafka's code.
func voterError(err error, what string) error {
	var nl *raft.NotLeaderError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nl), errors.Is(err, raft.ErrStopped):
		return apierror.Wrap(kerr.NotLeaderForPartition, err)
	case errors.Is(err, raft.ErrMembershipChangePending), errors.Is(err, raft.ErrProposalDropped):
		return apierror.New(kerr.RequestTimedOut, "Request timed out waiting for leader to handle previous %s request", what)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.Is(err, raft.ErrProposalUnknown):
		return apierror.Wrap(kerr.RequestTimedOut, err)
	case errors.Is(err, raft.ErrInvalidMember):
		return apierror.Wrap(kerr.InvalidRequest, err)
	}
	return apierror.Wrap(kerr.UnknownServerError, err)
}
