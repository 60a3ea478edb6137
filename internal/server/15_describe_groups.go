package server

// DescribeGroups (key 15), versions 0-6.
//
//	v1: throttle.   v2: no change.
//	v3: authorized operations (KIP-430).   v4: group_instance_id
//	(KIP-345).   v5: flexible.
//	v6: error_message; a group that does not exist is GROUP_ID_NOT_FOUND
//	(KIP-1043) instead of a Dead group without error.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
)

func init() {
	register(handler{key: 15, min: 0, max: 6, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeGroups(c, r.(*kmsg.DescribeGroupsRequest)), nil
	}})
}

// groupAuthorizedOps is every group operation (READ, DELETE, DESCRIBE,
// DESCRIBE_CONFIGS, ALTER_CONFIGS) while there is no authorizer.
const groupAuthorizedOps = 1<<3 | 1<<6 | 1<<8 | 1<<10 | 1<<11

func (s *Server) handleDescribeGroups(c *conn, req *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	ops := int32(authorizedOpsUnset)
	if req.IncludeAuthorizedOperations {
		ops = groupAuthorizedOps
	}
	if s.deps.Groups == nil {
		for _, id := range req.Groups {
			g := kmsg.NewDescribeGroupsResponseGroup()
			g.Group, g.ErrorCode, g.AuthorizedOperations = id, kerr.CoordinatorNotAvailable.Code, ops
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}
	// DESCRIBE on each group (KafkaApis.handleDescribeGroupsRequest);
	// the authorized operations are the principal's on the group.
	var allowed []string
	for _, id := range req.Groups {
		if c.authorized(acl.OpDescribe, acl.ResourceGroup, id) {
			allowed = append(allowed, id)
			continue
		}
		g := kmsg.NewDescribeGroupsResponseGroup()
		g.Group, g.ErrorCode, g.AuthorizedOperations = id, kerr.GroupAuthorizationFailed.Code, authorizedOpsUnset
		if req.Version >= 6 {
			g.ErrorMessage = kmsg.StringPtr(errorName(g.ErrorCode))
		}
		resp.Groups = append(resp.Groups, g)
	}
	if len(allowed) == 0 {
		return resp
	}
	for _, d := range s.deps.Groups.DescribeGroups(c.ctx, allowed, req.Version >= 6) {
		if req.IncludeAuthorizedOperations {
			ops = c.authorizedOperations(acl.ResourceGroup, d.Group)
		}
		g := kmsg.NewDescribeGroupsResponseGroup()
		g.Group, g.ErrorCode, g.ErrorMessage = d.Group, d.ErrorCode, d.ErrorMessage
		if req.Version >= 6 && d.ErrorCode != 0 && d.ErrorMessage == nil {
			msg := errorName(d.ErrorCode)
			g.ErrorMessage = &msg
		}
		g.State, g.ProtocolType, g.Protocol = d.State, d.ProtocolType, d.Protocol
		g.AuthorizedOperations = ops
		for _, m := range d.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			g.Members = append(g.Members, rm)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}
