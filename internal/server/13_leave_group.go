package server

// LeaveGroup (key 13), versions 0-5.
//
//	v1: throttle.   v2: no change.
//	v3: a batch of members, each by member id and/or group_instance_id
//	    (KIP-345), with per-member errors.
//	v4: flexible.   v5: reason (KIP-800).
//
// Before v3 the request names one member and the response has only a
// top-level error: the member's error, as Kafka folds it.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/group"
)

func init() {
	register(handler{key: 13, min: 0, max: 5, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleLeaveGroup(c, r.(*kmsg.LeaveGroupRequest)), nil
	}})
}

func (s *Server) handleLeaveGroup(c *conn, req *kmsg.LeaveGroupRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if s.deps.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	lr := group.LeaveRequest{Group: req.Group}
	if req.Version < 3 {
		lr.Members = []group.LeaveMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			lr.Members = append(lr.Members, group.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID, Reason: m.Reason})
		}
	}
	r := s.deps.Groups.LeaveGroup(c.ctx, lr)
	resp.ErrorCode = r.ErrorCode
	if req.Version < 3 {
		for _, m := range r.Members {
			if resp.ErrorCode == 0 && m.ErrorCode != 0 {
				resp.ErrorCode = m.ErrorCode
			}
		}
		return resp
	}
	for _, m := range r.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, m.ErrorCode
		resp.Members = append(resp.Members, rm)
	}
	return resp
}
