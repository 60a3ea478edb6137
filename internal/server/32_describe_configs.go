package server

// DescribeConfigs (key 32), versions 1-4 (Kafka 4.0 removed v0, KIP-896).
//
//	v1: include_synonyms, source (KIP-226).   v2: no change.
//	v3: include_documentation, config type (KIP-569).   v4: flexible.
//
// Topics report their effective configs (overrides, then broker
// defaults); a broker named by its id reports its configs, and the empty
// broker name reports the cluster-wide dynamic defaults.

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	register(handler{key: 32, min: 1, max: 4, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeConfigs(c, r.(*kmsg.DescribeConfigsRequest)), nil
	}})
}

// Config sources (Kafka's DescribeConfigsResponse.ConfigSource).
const sourceDynamicDefaultBroker = 3

func (s *Server) handleDescribeConfigs(c *conn, req *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	im := s.image()
	for _, rr := range req.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []ConfigEntry
		// DESCRIBE_CONFIGS on the topic, or the cluster for broker
		// resources, before anything else (ConfigHelper).
		if at, an, code := configResourceACL(rr.ResourceType, rr.ResourceName); !c.authorized(acl.OpDescribeConfigs, at, an) {
			res.ErrorCode, res.ErrorMessage = code.Code, kmsg.StringPtr(errorName(code.Code))
			resp.Resources = append(resp.Resources, res)
			continue
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if _, ok := im.Topic(rr.ResourceName); !ok {
				res.ErrorCode = kerr.UnknownTopicOrPartition.Code
				msg := "Topic " + rr.ResourceName + " does not exist."
				res.ErrorMessage = &msg
				resp.Resources = append(resp.Resources, res)
				continue
			}
			entries = s.deps.Configs.DescribeTopic(im.Configs(metadata.ConfigResource{Type: metadata.ResourceTopic, Name: rr.ResourceName}))
		case kmsg.ConfigResourceTypeBroker:
			def := im.Configs(metadata.ConfigResource{Type: metadata.ResourceBroker})
			switch rr.ResourceName {
			case "":
				for _, e := range s.deps.Configs.DescribeBroker(nil, def) {
					if e.Source == sourceDynamicDefaultBroker {
						entries = append(entries, e)
					}
				}
			case strconv.Itoa(int(s.cfg.NodeID)):
				own := im.Configs(metadata.ConfigResource{Type: metadata.ResourceBroker, Name: rr.ResourceName})
				entries = s.deps.Configs.DescribeBroker(own, def)
			default:
				res.ErrorCode = kerr.InvalidRequest.Code
				msg := "Unexpected broker id, expected " + strconv.Itoa(int(s.cfg.NodeID)) + " or empty string, but received " + rr.ResourceName
				res.ErrorMessage = &msg
				resp.Resources = append(resp.Resources, res)
				continue
			}
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
			msg := "Unsupported resource type " + rr.ResourceType.String()
			res.ErrorMessage = &msg
			resp.Resources = append(resp.Resources, res)
			continue
		}
		var names map[string]bool
		if rr.ConfigNames != nil {
			names = map[string]bool{}
			for _, n := range rr.ConfigNames {
				names[n] = true
			}
		}
		for _, e := range entries {
			if names != nil && !names[e.Name] {
				continue
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.Name, e.Value, e.ReadOnly, e.Sensitive
			c.Source = kmsg.ConfigSource(e.Source)
			c.IsDefault = e.Source == 5
			c.ConfigType = kmsg.ConfigType(e.Type)
			if req.IncludeDocumentation {
				c.Documentation = e.Documentation
			}
			if req.IncludeSynonyms {
				for _, syn := range e.Synonyms {
					cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					cs.Name, cs.Value, cs.Source = syn.Name, syn.Value, kmsg.ConfigSource(syn.Source)
					c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
				}
			}
			res.Configs = append(res.Configs, c)
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}
