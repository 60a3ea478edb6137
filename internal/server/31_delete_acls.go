package server

// DeleteAcls (key 31), versions 1-3 (Kafka 4 removed v0, KIP-896).
//
//	v1: resource pattern type filters (KIP-290).   v2: flexible.   v3: no change.
//
// The principal needs ALTER on the CLUSTER (else every filter gets
// CLUSTER_AUTHORIZATION_FAILED); without an authorizer, SECURITY_DISABLED.
// The active controller removes what each filter matches
// (controller/acls.go) and lists it; brokers of a controller quorum
// forward the request there, authorized here (authorize.go).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
)

func init() {
	h := handler{key: 31, min: 1, max: 3, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDeleteAcls(c, r.(*kmsg.DeleteACLsRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (s *Server) handleDeleteAcls(c *conn, req *kmsg.DeleteACLsRequest) kmsg.Response {
	if done := s.gateACLChange(c, req); done != nil { // 30_create_acls.go
		return done
	}
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	filters := make([]acl.Filter, len(req.Filters))
	for i, f := range req.Filters {
		filters[i] = acl.Filter{
			ResourceType: acl.ResourceType(f.ResourceType), ResourceName: f.ResourceName,
			PatternType: acl.PatternType(f.ResourcePatternType), Principal: f.Principal, Host: f.Host,
			Operation: acl.Operation(f.Operation), Permission: acl.Permission(f.PermissionType),
		}
	}
	for _, res := range s.deps.Controller.DeleteACLs(filters) {
		r := kmsg.NewDeleteACLsResponseResult()
		r.ErrorCode, r.ErrorMessage = codeOf(res.Err), messageOf(res.Err)
		for _, b := range res.Deleted {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName = kmsg.ACLResourceType(b.ResourceType), b.ResourceName
			m.ResourcePatternType = kmsg.ACLResourcePatternType(b.PatternType)
			m.Principal, m.Host = b.Principal, b.Host
			m.Operation, m.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
			r.MatchingACLs = append(r.MatchingACLs, m)
		}
		resp.Results = append(resp.Results, r)
	}
	return resp
}
