package server

// IncrementalAlterConfigs (key 44), versions 0-1 (KIP-339): SET, DELETE,
// APPEND and SUBTRACT on single configs of topics and brokers.
//
//	v1: flexible.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	register(handler{key: 44, min: 0, max: 1, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleIncrementalAlterConfigs(r.(*kmsg.IncrementalAlterConfigsRequest)), nil
	}})
}

func (s *Server) handleIncrementalAlterConfigs(req *kmsg.IncrementalAlterConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		changes := make([]controller.ConfigChange, 0, len(rr.Configs))
		for _, c := range rr.Configs {
			changes = append(changes, controller.ConfigChange{Name: c.Name, Op: controller.ConfigOp(c.Op), Value: c.Value})
		}
		err := s.alterConfigs(rr.ResourceType, rr.ResourceName, changes, false, req.ValidateOnly)
		res.ErrorCode, res.ErrorMessage = codeOf(err), messageOf(err)
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}
