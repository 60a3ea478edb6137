package server

// Heartbeat (key 12), versions 0-4.
//
//	v1: throttle.   v2: no change.   v3: group_instance_id (KIP-345).
//	v4: flexible.
//
// A heartbeat keeps a member's session; REBALANCE_IN_PROGRESS tells it
// to rejoin.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/group"
)

func init() {
	register(handler{key: 12, min: 0, max: 4, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleHeartbeat(c, r.(*kmsg.HeartbeatRequest)), nil
	}})
}

func (s *Server) handleHeartbeat(c *conn, req *kmsg.HeartbeatRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if s.deps.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	resp.ErrorCode = s.deps.Groups.Heartbeat(c.ctx, group.HeartbeatRequest{
		Group: req.Group, Generation: req.Generation, MemberID: req.MemberID, InstanceID: req.InstanceID,
	})
	return resp
}
