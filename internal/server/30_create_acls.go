package server

// CreateAcls (key 30), versions 1-3 (Kafka 4 removed v0, KIP-896).
//
//	v1: resource pattern type (KIP-290 prefixed ACLs).   v2: flexible.
//	v3: no change (the bump that marks KIP-599's throttling).
//
// The principal needs ALTER on the CLUSTER (else every creation gets
// CLUSTER_AUTHORIZATION_FAILED); without an authorizer every creation
// gets SECURITY_DISABLED, as Kafka's AclApis. The active controller
// validates each binding (INVALID_REQUEST with Kafka's messages) and
// commits AccessControlEntryRecords (controller/acls.go); a broker of a
// controller quorum forwards the request there, authorized here with the
// client's principal (authorize.go).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
)

func init() {
	h := handler{key: 30, min: 1, max: 3, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleCreateAcls(c, r.(*kmsg.CreateACLsRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (s *Server) handleCreateAcls(c *conn, req *kmsg.CreateACLsRequest) kmsg.Response {
	if done := s.gateACLChange(c, req); done != nil {
		return done
	}
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	bindings := make([]acl.Binding, len(req.Creations))
	for i, cr := range req.Creations {
		bindings[i] = acl.Binding{
			ResourceType: acl.ResourceType(cr.ResourceType), ResourceName: cr.ResourceName,
			PatternType: acl.PatternType(cr.ResourcePatternType), Principal: cr.Principal, Host: cr.Host,
			Operation: acl.Operation(cr.Operation), Permission: acl.Permission(cr.PermissionType),
		}
	}
	for _, err := range s.deps.Controller.CreateACLs(bindings) {
		r := kmsg.NewCreateACLsResponseResult()
		r.ErrorCode, r.ErrorMessage = codeOf(err), messageOf(err)
		resp.Results = append(resp.Results, r)
	}
	return resp
}

// gateACLChange runs what CreateAcls and DeleteAcls (req) do before the
// controller applies an ACL change (Kafka's AclApis and ControllerApis).
// It returns nil when this node applies req itself; otherwise the
// response to send, with one result per creation or filter of req:
//
//	no authorizer                  SECURITY_DISABLED, "No Authorizer is configured."
//	no ALTER on the CLUSTER        CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed."
//	broker of a controller quorum  the active controller's response (forwardWithin:
//	                               retried while a result says NOT_CONTROLLER), or
//	                               after Config.ForwardTimeout REQUEST_TIMED_OUT,
//	                               "No active controller answered."
func (s *Server) gateACLChange(c *conn, req kmsg.Request) kmsg.Response {
	switch {
	case s.deps.Authorizer == nil:
		return aclChangeFailed(req, kerr.SecurityDisabled, "No Authorizer is configured.")
	case !c.authorizedCluster(acl.OpAlter):
		return aclChangeFailed(req, kerr.ClusterAuthorizationFailed, "Cluster authorization failed.")
	case s.forwardsToController():
		return s.forwardWithin(c.ctx, req, s.cfg.ForwardTimeout, func() kmsg.Response {
			return aclChangeFailed(req, kerr.RequestTimedOut, "No active controller answered.")
		})
	}
	return nil
}

// aclChangeFailed answers every creation or filter of req, a
// CreateAcls or DeleteAcls request, with code and msg.
func aclChangeFailed(req kmsg.Request, code *kerr.Error, msg string) kmsg.Response {
	switch r := req.(type) {
	case *kmsg.CreateACLsRequest:
		resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
		for range r.Creations {
			res := kmsg.NewCreateACLsResponseResult()
			res.ErrorCode, res.ErrorMessage = code.Code, kmsg.StringPtr(msg)
			resp.Results = append(resp.Results, res)
		}
		return resp
	case *kmsg.DeleteACLsRequest:
		resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
		for range r.Filters {
			res := kmsg.NewDeleteACLsResponseResult()
			res.ErrorCode, res.ErrorMessage = code.Code, kmsg.StringPtr(msg)
			resp.Results = append(resp.Results, res)
		}
		return resp
	}
	panic("server: not an ACL change: " + kmsg.NameForKey(req.Key()))
}
