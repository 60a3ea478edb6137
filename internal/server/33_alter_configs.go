package server

// AlterConfigs (key 33), versions 0-2: replaces a resource's whole set of
// dynamic configs (configs not named are removed).
//
//	v1: no change.   v2: flexible.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	register(handler{key: 33, min: 0, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAlterConfigs(r.(*kmsg.AlterConfigsRequest)), nil
	}})
}

func (s *Server) handleAlterConfigs(req *kmsg.AlterConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		changes := make([]controller.ConfigChange, 0, len(rr.Configs))
		for _, c := range rr.Configs {
			changes = append(changes, controller.ConfigChange{Name: c.Name, Op: controller.OpSet, Value: c.Value})
		}
		err := s.alterConfigs(rr.ResourceType, rr.ResourceName, changes, true, req.ValidateOnly)
		res.ErrorCode, res.ErrorMessage = codeOf(err), messageOf(err)
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

// alterConfigs checks names against the config catalog and hands the
// change to the controller.
func (s *Server) alterConfigs(typ kmsg.ConfigResourceType, name string, changes []controller.ConfigChange, replace, validateOnly bool) error {
	var res metadata.ConfigResource
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		res = metadata.ConfigResource{Type: metadata.ResourceTopic, Name: name}
		for _, c := range changes {
			if !s.deps.Configs.IsTopicConfig(c.Name) {
				return apierror.New(kerr.InvalidConfig, "Unknown topic config name: %s", c.Name)
			}
		}
	case kmsg.ConfigResourceTypeBroker:
		res = metadata.ConfigResource{Type: metadata.ResourceBroker, Name: name}
		for _, c := range changes {
			if !s.deps.Configs.IsBrokerConfig(c.Name) {
				return apierror.New(kerr.InvalidConfig, "Unknown broker config name: %s", c.Name)
			}
		}
	default:
		return apierror.New(kerr.InvalidRequest, "Unsupported resource type %s", typ)
	}
	seen := map[string]bool{}
	for _, c := range changes {
		if seen[c.Name] {
			return apierror.New(kerr.InvalidRequest, "Error due to duplicate config keys")
		}
		seen[c.Name] = true
	}
	return s.deps.Controller.AlterConfigs(res, changes, replace, validateOnly, s.deps.Configs.IsList)
}
