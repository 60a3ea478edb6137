package server

// RemoveRaftVoter (key 81), version 0 (KIP-853; kafka-metadata-quorum.sh
// remove-controller): the Raft leader removes a voter, named by id and
// directory id, from a dynamic quorum and answers once the change is
// committed. A leader that removes itself resigns after the commit.
// Served on controller listeners, and forwarded from broker listeners of
// a quorum node as AddRaftVoter is (80_add_raft_voter.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	registerController(handler{key: 81, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleRemoveRaftVoter(c, r.(*kmsg.RemoveRaftVoterRequest)), nil
	}})
	register(handler{key: 81, min: 0, max: 0, quorumOnly: true, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.forwardRaftVoter(c.ctx, r, defaultVoterTimeout), nil
	}})
}

func (s *Server) handleRemoveRaftVoter(c *conn, req *kmsg.RemoveRaftVoterRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.RemoveRaftVoterResponse)
	if req.ClusterID != nil && *req.ClusterID != s.cfg.ClusterID {
		resp.ErrorCode = kerr.InconsistentClusterID.Code
		return resp
	}
	ctx, cancel := context.WithTimeout(c.ctx, defaultVoterTimeout)
	defer cancel()
	if err := s.deps.Controller.RemoveRaftVoter(ctx, req.VoterID, req.VoterDirectoryID); err != nil {
		resp.ErrorCode, resp.ErrorMessage = codeOf(err), messageOf(err)
	}
	return resp
}
