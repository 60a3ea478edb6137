package server

// UpdateRaftVoter (key 82), version 0 (KIP-853): a voter tells the Raft
// leader its controller endpoint moved; the leader commits the new
// endpoint to the dynamic quorum's voter set. Controller listeners only,
// as in Kafka. The request's current_leader_epoch must be the leader's
// (else FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH);
// kraft_version_feature is not checked (Gregor has one kraft version).
// A non-leader answers NOT_LEADER_OR_FOLLOWER with the leader it knows in
// current_leader.

import (
	"context"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	registerController(handler{key: 82, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleUpdateRaftVoter(c, r.(*kmsg.UpdateRaftVoterRequest)), nil
	}})
}

func (s *Server) handleUpdateRaftVoter(c *conn, req *kmsg.UpdateRaftVoterRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.UpdateRaftVoterResponse)
	if req.ClusterID != nil && *req.ClusterID != s.cfg.ClusterID {
		resp.ErrorCode = kerr.InconsistentClusterID.Code
		return resp
	}
	leader, epoch := s.deps.Controller.ActiveController()
	resp.CurrentLeader.LeaderID, resp.CurrentLeader.LeaderEpoch = leader, int32(epoch)
	if addr, ok := s.deps.Controller.QuorumVoters()[leader]; ok {
		if host, port, err := net.SplitHostPort(addr); err == nil {
			p, _ := strconv.Atoi(port)
			resp.CurrentLeader.Host, resp.CurrentLeader.Port = host, int32(p)
		}
	}
	switch {
	case leader != s.cfg.NodeID:
		resp.ErrorCode = kerr.NotLeaderForPartition.Code
		return resp
	case req.CurrentLeaderEpoch < int32(epoch):
		resp.ErrorCode = kerr.FencedLeaderEpoch.Code
		return resp
	case req.CurrentLeaderEpoch > int32(epoch):
		resp.ErrorCode = kerr.UnknownLeaderEpoch.Code
		return resp
	}
	name := s.controllerListenerName(c)
	v := controller.Voter{ID: req.VoterID, DirectoryID: req.VoterDirectoryID, Listener: name}
	for _, l := range req.Listeners {
		if l.Name == name {
			v.Addr = net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
			break
		}
	}
	if v.Addr == "" {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	ctx, cancel := context.WithTimeout(c.ctx, defaultVoterTimeout)
	defer cancel()
	if err := s.deps.Controller.UpdateRaftVoter(ctx, v); err != nil {
		resp.ErrorCode = codeOf(err)
	}
	return resp
}
