package server

// Controller mutation quotas (KIP-599): controller_mutation_rate limits
// the partitions a client creates (CreateTopics, CreatePartitions) and
// deletes (DeleteTopics) per second, measured with a token bucket
// (quota.MutationQuotas). From CreateTopics v6, CreatePartitions v3 and
// DeleteTopics v5 (strict mode) a topic that finds the client's bucket
// exceeded is refused with THROTTLING_QUOTA_EXCEEDED and the rest of the
// request goes on; older versions (permissive) are only throttled. The
// response's throttle_time_ms is the time to refill the bucket, and the
// connection is muted for it as for the other quotas.
//
// Kafka decides this on the controller, after authorization; Gregor,
// which forwards without Envelope, decides it on the broker that
// receives the request, before the per-topic authorization, so a topic
// the client may not touch can use up its own quota.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/quota"
)

// throttleMutations returns req without the topics its client's
// controller_mutation_rate refuses, and the function that adds their
// refusals to the response; the throttle goes to c.mutationThrottle.
func (c *conn) throttleMutations(req kmsg.Request) (kmsg.Request, func(kmsg.Response) kmsg.Response) {
	none := func(r kmsg.Response) kmsg.Response { return r }
	switch req.Key() {
	case 19, 20, 37:
	default:
		return req, none
	}
	if c.quotaExempt(req) || c.s.deps.Controller == nil {
		return req, none
	}
	look := c.s.quotas.look()
	user, client := c.session.Principal.Name, c.clientID
	if _, _, limited := quota.Resolve(look, quota.ControllerMutationRate, user, client); !limited {
		return req, none
	}
	now := c.s.cfg.Now()
	im := c.s.image()
	var throttle time.Duration
	admit := func(permits int32, strict bool) bool {
		if permits <= 0 {
			return true
		}
		ok, d, _ := c.s.quotas.mutations.Admit(look, user, client, float64(permits), strict, now)
		if !ok || !strict {
			throttle = max(throttle, d)
		}
		return ok
	}
	partitions := func(t *metadata.Topic, ok bool) int32 {
		if !ok {
			return 0
		}
		return int32(len(t.Partitions))
	}
	code, msg := kerr.ThrottlingQuotaExceeded.Code, kmsg.StringPtr(kerr.ThrottlingQuotaExceeded.Description)
	defer func() { c.mutationThrottle = throttle }()
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		if r.ValidateOnly {
			return req, none
		}
		cp := *r
		var refused []kmsg.CreateTopicsRequestTopic
		cp.Topics, refused = partitionBy(r.Topics, func(t kmsg.CreateTopicsRequestTopic) bool { // authorize_split.go
			n := t.NumPartitions
			if len(t.ReplicaAssignment) > 0 {
				n = int32(len(t.ReplicaAssignment))
			} else if n <= 0 && c.s.deps.Configs != nil {
				n, _ = c.s.deps.Configs.TopicDefaults()
			}
			return admit(n, r.Version >= 6)
		})
		return &cp, func(resp kmsg.Response) kmsg.Response {
			out := resp.(*kmsg.CreateTopicsResponse)
			for _, t := range refused {
				st := kmsg.NewCreateTopicsResponseTopic()
				st.Topic, st.ErrorCode, st.ErrorMessage = t.Topic, code, msg
				st.NumPartitions, st.ReplicationFactor = -1, -1
				out.Topics = append(out.Topics, st)
			}
			return out
		}
	case *kmsg.CreatePartitionsRequest:
		if r.ValidateOnly {
			return req, none
		}
		cp := *r
		var refused []kmsg.CreatePartitionsRequestTopic
		cp.Topics, refused = partitionBy(r.Topics, func(t kmsg.CreatePartitionsRequestTopic) bool {
			return admit(t.Count-partitions(im.Topic(t.Topic)), r.Version >= 3)
		})
		return &cp, func(resp kmsg.Response) kmsg.Response {
			out := resp.(*kmsg.CreatePartitionsResponse)
			for _, t := range refused {
				st := kmsg.NewCreatePartitionsResponseTopic()
				st.Topic, st.ErrorCode, st.ErrorMessage = t.Topic, code, msg
				out.Topics = append(out.Topics, st)
			}
			return out
		}
	case *kmsg.DeleteTopicsRequest:
		strict := r.Version >= 5
		cp := *r
		var refused []kmsg.DeleteTopicsRequestTopic
		var refusedNames []string
		cp.Topics, refused = partitionBy(r.Topics, func(t kmsg.DeleteTopicsRequestTopic) bool {
			if t.Topic != nil && *t.Topic != "" {
				return admit(partitions(im.Topic(*t.Topic)), strict)
			}
			return admit(partitions(im.TopicByID(metadata.TopicID(t.TopicID))), strict)
		})
		cp.TopicNames, refusedNames = partitionBy(r.TopicNames, func(name string) bool {
			return admit(partitions(im.Topic(name)), strict)
		})
		return &cp, func(resp kmsg.Response) kmsg.Response {
			out := resp.(*kmsg.DeleteTopicsResponse)
			for _, t := range refused {
				st := kmsg.NewDeleteTopicsResponseTopic()
				st.Topic, st.TopicID, st.ErrorCode, st.ErrorMessage = t.Topic, t.TopicID, code, msg
				out.Topics = append(out.Topics, st)
			}
			for _, name := range refusedNames {
				st := kmsg.NewDeleteTopicsResponseTopic()
				st.Topic, st.ErrorCode, st.ErrorMessage = kmsg.StringPtr(name), code, msg
				out.Topics = append(out.Topics, st)
			}
			return out
		}
	}
	return req, none
}
