package server

// DeleteGroups (key 42), versions 0-3.
//
//	v1: throttle.   v2: flexible.   v3: error_message.
//
// Only Empty groups can be deleted (NON_EMPTY_GROUP otherwise); their
// committed offsets go with them.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
)

func init() {
	register(handler{key: 42, min: 0, max: 3, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDeleteGroups(c, r.(*kmsg.DeleteGroupsRequest)), nil
	}})
}

func (s *Server) handleDeleteGroups(c *conn, req *kmsg.DeleteGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	add := func(id string, code int16) {
		g := kmsg.NewDeleteGroupsResponseGroup()
		g.Group, g.ErrorCode = id, code
		if req.Version >= 3 && code != 0 {
			msg := errorName(code)
			g.ErrorMessage = &msg
		}
		resp.Groups = append(resp.Groups, g)
	}
	if s.deps.Groups == nil {
		for _, id := range req.Groups {
			add(id, kerr.CoordinatorNotAvailable.Code)
		}
		return resp
	}
	// DELETE on each group (KafkaApis.handleDeleteGroupsRequest).
	var allowed []string
	for _, id := range req.Groups {
		if c.authorized(acl.OpDelete, acl.ResourceGroup, id) {
			allowed = append(allowed, id)
		} else {
			add(id, kerr.GroupAuthorizationFailed.Code)
		}
	}
	if len(allowed) == 0 {
		return resp
	}
	for _, d := range s.deps.Groups.DeleteGroups(c.ctx, allowed) {
		add(d.Group, d.ErrorCode)
	}
	return resp
}
