package server

// DescribeAcls (key 29), versions 1-3 (Kafka 4 removed v0, KIP-896).
//
//	v1: resource pattern type filter (KIP-290).   v2: flexible.   v3: no change.
//
// Answered by any node from its metadata image's ACLs, grouped by
// resource pattern. The principal needs DESCRIBE on the CLUSTER (else
// CLUSTER_AUTHORIZATION_FAILED); without an authorizer,
// SECURITY_DISABLED; a filter with an UNKNOWN element, INVALID_REQUEST.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
)

func init() {
	h := handler{key: 29, min: 1, max: 3, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeAcls(c, r.(*kmsg.DescribeACLsRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (s *Server) handleDescribeAcls(c *conn, req *kmsg.DescribeACLsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	f := acl.Filter{
		ResourceType: acl.ResourceType(req.ResourceType), ResourceName: req.ResourceName,
		PatternType: acl.PatternType(req.ResourcePatternType), Principal: req.Principal, Host: req.Host,
		Operation: acl.Operation(req.Operation), Permission: acl.Permission(req.PermissionType),
	}
	switch {
	case s.deps.Authorizer == nil:
		resp.ErrorCode, resp.ErrorMessage = kerr.SecurityDisabled.Code, kmsg.StringPtr("No Authorizer is configured.")
		return resp
	case !c.authorizedCluster(acl.OpDescribe):
		resp.ErrorCode, resp.ErrorMessage = kerr.ClusterAuthorizationFailed.Code, kmsg.StringPtr("Cluster authorization failed.")
		return resp
	case f.ValidateFilter() != nil:
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr("Filter contain UNKNOWN elements")
		return resp
	}
	var cur *kmsg.DescribeACLsResponseResource
	for _, b := range s.image().ACLs().Select(f) { // sorted by pattern
		if cur == nil || int8(cur.ResourceType) != int8(b.ResourceType) || cur.ResourceName != b.ResourceName || int8(cur.ResourcePatternType) != int8(b.PatternType) {
			resp.Resources = append(resp.Resources, kmsg.NewDescribeACLsResponseResource())
			cur = &resp.Resources[len(resp.Resources)-1]
			cur.ResourceType, cur.ResourceName = kmsg.ACLResourceType(b.ResourceType), b.ResourceName
			cur.ResourcePatternType = kmsg.ACLResourcePatternType(b.PatternType)
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host = b.Principal, b.Host
		a.Operation, a.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		cur.ACLs = append(cur.ACLs, a)
	}
	return resp
}
