package server

// The admin requests a broker forwards to the active controller name
// many resources, each authorized alone (Kafka's ControllerApis, which
// authorizes them at the controller; Gregor does it at the broker that
// received the request, with the client's principal, since it does not
// serve Envelope):
//
//	CreateTopics             CREATE on the CLUSTER or the topic; a created topic's
//	                         configs need DESCRIBE_CONFIGS on it (else none, with
//	                         TOPIC_AUTHORIZATION_FAILED as their error code)
//	DeleteTopics             DELETE on the topic (a topic id no topic has is left
//	                         to the handler: UNKNOWN_TOPIC_ID)
//	CreatePartitions         ALTER on the topic
//	AlterConfigs,            ALTER_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED),
//	IncrementalAlterConfigs  the CLUSTER for broker, broker-logger and client-metrics
//	                         resources (CLUSTER_AUTHORIZATION_FAILED), the group for
//	                         group configs (GROUP_AUTHORIZATION_FAILED)
//
// splitRequest takes the refused resources out of the request; what is
// left is served (or forwarded) as usual, and the refusals are appended
// to its response.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// authorizationFailed is the message of Kafka's per-resource refusals.
const authorizationFailed = "Authorization failed."

// serveAuthorized answers req through its handler h, or forwards it to
// the active controller, after the authorization checks: the
// request-wide one (authorize_requests.go) and the per-resource split
// of forwarded admin requests.
func (c *conn) serveAuthorized(h *handler, req kmsg.Request) (kmsg.Response, error) {
	if denied := c.checkRequest(req); denied != nil {
		return denied, nil
	}
	serve, merge := c.splitRequest(req)
	if serve == nil {
		return merge(req.ResponseKind()), nil
	}
	if c.s.forwards(req.Key()) {
		return merge(c.s.forward(c.ctx, serve)), nil // forward.go
	}
	resp, err := h.fn(c.s, c, serve)
	if err != nil || resp == nil {
		return resp, err
	}
	return merge(resp), nil
}

func keep(r kmsg.Response) kmsg.Response { return r }

// splitRequest returns the part of req to serve (nil: none) and the
// function that adds the refused resources to its response.
func (c *conn) splitRequest(req kmsg.Request) (kmsg.Request, func(kmsg.Response) kmsg.Response) {
	if c.s.deps.Authorizer == nil {
		return req, keep
	}
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		return c.splitCreateTopics(r)
	case *kmsg.DeleteTopicsRequest:
		return c.splitDeleteTopics(r)
	case *kmsg.CreatePartitionsRequest:
		serve := *r
		var denied []kmsg.CreatePartitionsRequestTopic
		serve.Topics, denied = partitionBy(r.Topics, func(t kmsg.CreatePartitionsRequestTopic) bool {
			return c.authorized(acl.OpAlter, acl.ResourceTopic, t.Topic)
		})
		return orNil(&serve, len(serve.Topics) > 0), func(resp kmsg.Response) kmsg.Response {
			out := resp.(*kmsg.CreatePartitionsResponse)
			for _, t := range denied {
				st := kmsg.NewCreatePartitionsResponseTopic()
				st.Topic, st.ErrorCode, st.ErrorMessage = t.Topic, kerr.TopicAuthorizationFailed.Code, kmsg.StringPtr(authorizationFailed)
				out.Topics = append(out.Topics, st)
			}
			return out
		}
	case *kmsg.AlterConfigsRequest:
		serve := *r
		var denied []configRefusal
		serve.Resources, denied = splitConfigResources(c, r.Resources, func(res kmsg.AlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return res.ResourceType, res.ResourceName
		})
		return orNil(&serve, len(serve.Resources) > 0), func(resp kmsg.Response) kmsg.Response {
			out := resp.(*kmsg.AlterConfigsResponse)
			for _, d := range denied {
				res := kmsg.NewAlterConfigsResponseResource()
				res.ResourceType, res.ResourceName, res.ErrorCode = d.typ, d.name, d.code.Code
				out.Resources = append(out.Resources, res)
			}
			return out
		}
	case *kmsg.IncrementalAlterConfigsRequest:
		serve := *r
		var denied []configRefusal
		serve.Resources, denied = splitConfigResources(c, r.Resources, func(res kmsg.IncrementalAlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return res.ResourceType, res.ResourceName
		})
		return orNil(&serve, len(serve.Resources) > 0), func(resp kmsg.Response) kmsg.Response {
			out := resp.(*kmsg.IncrementalAlterConfigsResponse)
			for _, d := range denied {
				res := kmsg.NewIncrementalAlterConfigsResponseResource()
				res.ResourceType, res.ResourceName, res.ErrorCode = d.typ, d.name, d.code.Code
				out.Resources = append(out.Resources, res)
			}
			return out
		}
	}
	return req, keep
}

// partitionBy returns the items of all that keep accepts and the
// others, each in the order of all (nil when there are none). keep is
// called once per item, in order, so it may consume a budget. The
// results share no memory with all's backing array.
func partitionBy[T any](all []T, keep func(T) bool) (kept, rest []T) {
	for _, x := range all {
		if keep(x) {
			kept = append(kept, x)
		} else {
			rest = append(rest, x)
		}
	}
	return kept, rest
}

// orNil returns req, or nil when nothing of it is left to serve.
func orNil(req kmsg.Request, any bool) kmsg.Request {
	if !any {
		return nil
	}
	return req
}

// configResourceACL maps a config resource to the ACL resource that
// guards it and the error that refuses it.
func configResourceACL(t kmsg.ConfigResourceType, name string) (acl.ResourceType, string, *kerr.Error) {
	switch t {
	case kmsg.ConfigResourceTypeTopic:
		return acl.ResourceTopic, name, kerr.TopicAuthorizationFailed
	case kmsg.ConfigResourceTypeGroupConfig:
		return acl.ResourceGroup, name, kerr.GroupAuthorizationFailed
	}
	return acl.ResourceCluster, acl.ClusterName, kerr.ClusterAuthorizationFailed
}

// configRefusal is a config resource the principal may not
// ALTER_CONFIGS and the error that refuses it.
type configRefusal struct {
	typ  kmsg.ConfigResourceType
	name string
	code *kerr.Error
}

// splitConfigResources returns the resources of all (AlterConfigs or
// IncrementalAlterConfigs resources, which id names) that the principal
// may ALTER_CONFIGS, and the refusals of the others, each in request
// order; each resource is authorized once.
func splitConfigResources[R any](c *conn, all []R, id func(R) (kmsg.ConfigResourceType, string)) (allowed []R, denied []configRefusal) {
	allowed, _ = partitionBy(all, func(r R) bool {
		t, name := id(r)
		if code := c.alterConfigsRefusal(t, name); code != nil {
			denied = append(denied, configRefusal{t, name, code})
			return false
		}
		return true
	})
	return allowed, denied
}

// alterConfigsRefusal is nil when the principal may ALTER_CONFIGS the
// resource, else the error that refuses it.
func (c *conn) alterConfigsRefusal(t kmsg.ConfigResourceType, name string) *kerr.Error {
	rt, rn, code := configResourceACL(t, name)
	if c.authorized(acl.OpAlterConfigs, rt, rn) {
		return nil
	}
	return code
}

func (c *conn) splitCreateTopics(r *kmsg.CreateTopicsRequest) (kmsg.Request, func(kmsg.Response) kmsg.Response) {
	clusterCreate := c.authorizedCluster(acl.OpCreate)
	serve := *r
	var denied []kmsg.CreateTopicsRequestTopic
	serve.Topics, denied = partitionBy(r.Topics, func(t kmsg.CreateTopicsRequestTopic) bool {
		return clusterCreate || c.authorized(acl.OpCreate, acl.ResourceTopic, t.Topic)
	})
	return orNil(&serve, len(serve.Topics) > 0), func(resp kmsg.Response) kmsg.Response {
		out := resp.(*kmsg.CreateTopicsResponse)
		for i := range out.Topics {
			t := &out.Topics[i]
			if t.ErrorCode == 0 && !c.authorized(acl.OpDescribeConfigs, acl.ResourceTopic, t.Topic) {
				t.Configs, t.ConfigErrorCode = nil, kerr.TopicAuthorizationFailed.Code
			}
		}
		for _, t := range denied {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode, st.ErrorMessage = t.Topic, kerr.TopicAuthorizationFailed.Code, kmsg.StringPtr(authorizationFailed)
			st.NumPartitions, st.ReplicationFactor = -1, -1
			out.Topics = append(out.Topics, st)
		}
		return out
	}
}

func (c *conn) splitDeleteTopics(r *kmsg.DeleteTopicsRequest) (kmsg.Request, func(kmsg.Response) kmsg.Response) {
	im := c.s.image()
	serve := *r
	serve.TopicNames, serve.Topics = nil, nil
	var denied []kmsg.DeleteTopicsResponseTopic
	refuse := func(name *string, id [16]byte) {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID, st.ErrorCode = name, id, kerr.TopicAuthorizationFailed.Code
		st.ErrorMessage = kmsg.StringPtr(authorizationFailed)
		denied = append(denied, st)
	}
	for _, n := range r.TopicNames {
		if c.authorized(acl.OpDelete, acl.ResourceTopic, n) {
			serve.TopicNames = append(serve.TopicNames, n)
		} else {
			refuse(kmsg.StringPtr(n), [16]byte{})
		}
	}
	for _, t := range r.Topics {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		} else if mt, ok := im.TopicByID(metadata.TopicID(t.TopicID)); ok {
			name = mt.Name
		} else {
			serve.Topics = append(serve.Topics, t) // UNKNOWN_TOPIC_ID
			continue
		}
		if c.authorized(acl.OpDelete, acl.ResourceTopic, name) {
			serve.Topics = append(serve.Topics, t)
		} else {
			refuse(t.Topic, t.TopicID) // by id: the name stays hidden
		}
	}
	return orNil(&serve, len(serve.TopicNames)+len(serve.Topics) > 0), func(resp kmsg.Response) kmsg.Response {
		out := resp.(*kmsg.DeleteTopicsResponse)
		out.Topics = append(out.Topics, denied...)
		return out
	}
}
