package server

// SyncGroup (key 14), versions 0-5.
//
//	v1: throttle.   v2: no change.   v3: group_instance_id (KIP-345).
//	v4: flexible.   v5: protocol_type and protocol_name in request and
//	    response (KIP-559); both are required.
//
// A member waits here until the leader's assignment is written; the
// leader's request carries it.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/group"
)

func init() {
	register(handler{key: 14, min: 0, max: 5, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleSyncGroup(c, r.(*kmsg.SyncGroupRequest)), nil
	}})
}

func (s *Server) handleSyncGroup(c *conn, req *kmsg.SyncGroupRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.MemberAssignment = []byte{}
	switch {
	case s.deps.Groups == nil:
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	case req.Version >= 5 && (req.ProtocolType == nil || req.Protocol == nil):
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code
		return resp
	}
	sr := group.SyncRequest{
		Group:        req.Group,
		Generation:   req.Generation,
		MemberID:     req.MemberID,
		InstanceID:   req.InstanceID,
		ProtocolType: req.ProtocolType,
		ProtocolName: req.Protocol,
	}
	for _, a := range req.GroupAssignment {
		sr.Assignments = append(sr.Assignments, group.SyncAssignment{MemberID: a.MemberID, Assignment: a.MemberAssignment})
	}
	r := s.deps.Groups.SyncGroup(c.ctx, sr)
	resp.ErrorCode = r.ErrorCode
	resp.ProtocolType = r.ProtocolType
	resp.Protocol = r.ProtocolName
	resp.MemberAssignment = r.Assignment
	return resp
}
