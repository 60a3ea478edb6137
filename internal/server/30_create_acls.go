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
	"context"
	"time"

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
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	fail := func(code *kerr.Error, msg string) kmsg.Response {
		for range req.Creations {
			r := kmsg.NewCreateACLsResponseResult()
			r.ErrorCode, r.ErrorMessage = code.Code, kmsg.StringPtr(msg)
			resp.Results = append(resp.Results, r)
		}
		return resp
	}
	switch {
	case s.deps.Authorizer == nil:
		return fail(kerr.SecurityDisabled, "No Authorizer is configured.")
	case !c.authorizedCluster(acl.OpAlter):
		return fail(kerr.ClusterAuthorizationFailed, "Cluster authorization failed.")
	}
	if s.deps.Forwarder != nil && !s.cfg.ControllerEndpoint {
		return s.forwardACLRequest(c.ctx, req, func(r kmsg.Response) bool {
			for _, res := range r.(*kmsg.CreateACLsResponse).Results {
				if res.ErrorCode == kerr.NotController.Code {
					return true
				}
			}
			return false
		}, func() kmsg.Response { return fail(kerr.RequestTimedOut, "No active controller answered.") })
	}
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

// forwardACLRequest relays req to the active controller until a
// response that retry does not refuse arrives, or Config.ForwardTimeout
// passes (then it answers timedOut()), as forward.go does for the other
// admin requests.
func (s *Server) forwardACLRequest(ctx context.Context, req kmsg.Request, retry func(kmsg.Response) bool, timedOut func() kmsg.Response) kmsg.Response {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ForwardTimeout)
	defer cancel()
	backoff := forwardBackoff
	for {
		resp, err := s.deps.Forwarder.Forward(ctx, req)
		if err == nil && !retry(resp) {
			return resp
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			s.log.Warn("no active controller answered a forwarded request", "api", kmsg.NameForKey(req.Key()))
			return timedOut()
		case <-t.C:
		}
		backoff = min(2*backoff, forwardBackoffMax)
	}
}
