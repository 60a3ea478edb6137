package server

// ListGroups (key 16), versions 0-5.
//
//	v1: throttle.   v2: no change.   v3: flexible.
//	v4: states_filter and group_state (KIP-518).
//	v5: types_filter and group_type (KIP-848).
//
// Lists the groups this node coordinates; clients ask every broker.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/group"
)

func init() {
	register(handler{key: 16, min: 0, max: 5, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleListGroups(c, r.(*kmsg.ListGroupsRequest)), nil
	}})
}

func (s *Server) handleListGroups(c *conn, req *kmsg.ListGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	if s.deps.Groups == nil {
		return resp // no groups
	}
	lr := group.ListRequest{}
	if req.Version >= 4 {
		lr.States = req.StatesFilter
	}
	if req.Version >= 5 {
		lr.Types = req.TypesFilter
	}
	r := s.deps.Groups.ListGroups(c.ctx, lr)
	resp.ErrorCode = r.ErrorCode
	if r.ErrorCode != 0 {
		return resp
	}
	// DESCRIBE on the cluster lists every group, else those the
	// principal may DESCRIBE (KafkaApis.handleListGroupsRequest).
	all := c.authorizedCluster(acl.OpDescribe)
	for _, g := range r.Groups {
		if !all && !c.authorized(acl.OpDescribe, acl.ResourceGroup, g.Group) {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.Group, g.ProtocolType, g.State, g.Type
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
