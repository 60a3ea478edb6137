package server

// JoinGroup (key 11), versions 2-9 (Kafka 4.0 removed 0-1, KIP-896).
//
//	v2: throttle.   v3: no change.
//	v4: a dynamic member without an id gets MEMBER_ID_REQUIRED and an id
//	    to rejoin with (KIP-394).
//	v5: group_instance_id for static members (KIP-345).
//	v6: flexible.   v7: protocol_type in the response (KIP-559).
//	v8: reason (KIP-800).   v9: skip_assignment for a rejoining static
//	    leader (KIP-814).
//
// The request parks its connection until the member's join completes
// (the join phase of a rebalance), as in Kafka.

import (
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/group"
)

func init() {
	register(handler{key: 11, min: 2, max: 9, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleJoinGroup(c, r.(*kmsg.JoinGroupRequest)), nil
	}})
}

func (s *Server) handleJoinGroup(c *conn, req *kmsg.JoinGroupRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	if s.deps.Groups == nil {
		resp.MemberID, resp.ErrorCode = req.MemberID, kerr.CoordinatorNotAvailable.Code
		return resp
	}
	jr := group.JoinRequest{
		Group:                  req.Group,
		MemberID:               req.MemberID,
		InstanceID:             req.InstanceID,
		ProtocolType:           req.ProtocolType,
		SessionTimeoutMs:       req.SessionTimeoutMillis,
		RebalanceTimeoutMs:     req.RebalanceTimeoutMillis,
		Reason:                 req.Reason,
		ClientID:               c.clientID,
		ClientHost:             clientHost(c),
		RequireKnownMemberID:   req.Version >= 4 && req.InstanceID == nil,
		SupportsSkipAssignment: req.Version >= 9,
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	r := s.deps.Groups.JoinGroup(c.ctx, jr)
	resp.ErrorCode = r.ErrorCode
	resp.Generation = r.Generation
	resp.ProtocolType = r.ProtocolType
	resp.Protocol = r.ProtocolName
	resp.LeaderID = r.Leader
	resp.SkipAssignment = r.SkipAssignment
	resp.MemberID = r.MemberID
	for _, m := range r.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, rm)
	}
	return resp
}

// clientHost is the client's address as Kafka shows it ("/127.0.0.1").
func clientHost(c *conn) string {
	addr := c.nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return "/" + addr
}
