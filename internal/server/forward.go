package server

// Forwarding: in a cluster with a controller quorum, a broker listener
// does not decide metadata changes itself. The admin requests below are
// relayed, at the client's version, to the active controller's controller
// listener, and its response is relayed back (Kafka's ForwardingManager,
// without the Envelope: the controller answers the request as if the
// client had sent it there).
//
//	client ──CreateTopics v7──▶ broker listener ──same request──▶ active controller
//	       ◀──── response ────                  ◀── response ───  (controller listener)
//
// A response that says NOT_CONTROLLER anywhere (leadership moved between
// the lookup and the request), or no response at all, is retried with
// backoff until Config.ForwardTimeout; then the client gets
// REQUEST_TIMED_OUT in every result, as Kafka's broker answers a
// forwarded request that timed out.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// Forwarder reaches the active controller. Implementations are safe for
// concurrent use.
type Forwarder interface {
	// Forward sends req, at the version set on it, to the controller
	// this node believes active and returns the response decoded at that
	// version. An error means no response arrived; the caller retries.
	Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
}

// forwardedKeys are the requests a broker listener forwards.
var forwardedKeys = map[int16]bool{
	19: true, // CreateTopics
	20: true, // DeleteTopics
	33: true, // AlterConfigs
	37: true, // CreatePartitions
	43: true, // ElectLeaders
	44: true, // IncrementalAlterConfigs
	45: true, // AlterPartitionReassignments
	46: true, // ListPartitionReassignments
	49: true, // AlterClientQuotas
	51: true, // AlterUserScramCredentials
	55: true, // DescribeQuorum
	57: true, // UpdateFeatures
}

// Backoff between forwarding attempts (Kafka's retry.backoff.ms and
// retry.backoff.max.ms defaults).
const (
	forwardBackoff    = 100 * time.Millisecond
	forwardBackoffMax = time.Second
)

// forwardsToController reports whether this server is a broker listener
// of a node in a controller quorum, which relays the requests only the
// active controller decides instead of deciding them itself.
func (s *Server) forwardsToController() bool {
	return !s.cfg.ControllerEndpoint && s.deps.Forwarder != nil
}

// forwards reports whether this server forwards requests of key before
// their handler runs (serveAuthorized).
func (s *Server) forwards(key int16) bool {
	return s.forwardsToController() && forwardedKeys[key]
}

// forward relays req to the active controller within
// Config.ForwardTimeout (forwardWithin); when that passes it answers
// REQUEST_TIMED_OUT in every result (failedResponse).
func (s *Server) forward(ctx context.Context, req kmsg.Request) kmsg.Response {
	return s.forwardWithin(ctx, req, s.cfg.ForwardTimeout, func() kmsg.Response {
		return failedResponse(req, kerr.RequestTimedOut)
	})
}

// forwardWithin is the one forwarding loop: it sends req to the active
// controller (Forwarder.Forward) and returns the first response that
// notController accepts. No response, or one that says the controller
// asked is not the active one, is retried after a backoff that doubles
// from forwardBackoff to forwardBackoffMax. When timeout has passed or
// ctx is done it logs a warning and returns timedOut(), which is called
// at most once and only then. req must be a type notController knows
// (else any response is accepted); the caller must only use it on a
// server for which forwardsToController is true.
func (s *Server) forwardWithin(ctx context.Context, req kmsg.Request, timeout time.Duration, timedOut func() kmsg.Response) kmsg.Response {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	backoff := forwardBackoff
	for attempt := 1; ; attempt++ {
		resp, err := s.deps.Forwarder.Forward(ctx, req)
		switch {
		case err != nil:
			s.log.Debug("forwarding to the active controller failed", "api", kmsg.NameForKey(req.Key()), "attempt", attempt, "err", err)
		case notController(resp):
			s.log.Debug("forwarded request reached a controller that is not active", "api", kmsg.NameForKey(req.Key()), "attempt", attempt)
		default:
			return resp
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			s.log.Warn("no active controller answered a forwarded request", "api", kmsg.NameForKey(req.Key()), "attempts", attempt)
			return timedOut()
		case <-t.C:
		}
		backoff = min(2*backoff, forwardBackoffMax)
	}
}

// notController reports whether a controller's response says it is not
// the active one (or, for DescribeQuorum and the Raft voter changes, not
// the Raft leader) in any of its results.
func notController(resp kmsg.Response) bool {
	nc := kerr.NotController.Code
	switch r := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		for _, t := range r.Topics {
			if t.ErrorCode == nc {
				return true
			}
		}
	case *kmsg.DeleteTopicsResponse:
		for _, t := range r.Topics {
			if t.ErrorCode == nc {
				return true
			}
		}
	case *kmsg.AlterConfigsResponse:
		for _, res := range r.Resources {
			if res.ErrorCode == nc {
				return true
			}
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for _, res := range r.Resources {
			if res.ErrorCode == nc {
				return true
			}
		}
	case *kmsg.CreatePartitionsResponse:
		for _, t := range r.Topics {
			if t.ErrorCode == nc {
				return true
			}
		}
	case *kmsg.ElectLeadersResponse:
		if r.ErrorCode == nc {
			return true
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == nc {
					return true
				}
			}
		}
	case *kmsg.AlterPartitionAssignmentsResponse:
		return r.ErrorCode == nc
	case *kmsg.ListPartitionReassignmentsResponse:
		return r.ErrorCode == nc
	case *kmsg.DescribeQuorumResponse:
		if r.ErrorCode == nc {
			return true
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == kerr.NotLeaderForPartition.Code {
					return true
				}
			}
		}
	case *kmsg.CreateACLsResponse:
		for _, res := range r.Results {
			if res.ErrorCode == nc {
				return true
			}
		}
	case *kmsg.DeleteACLsResponse:
		for _, res := range r.Results {
			if res.ErrorCode == nc {
				return true
			}
		}
	case *kmsg.AlterClientQuotasResponse:
		for _, e := range r.Entries {
			if e.ErrorCode == nc {
				return true
			}
		}
	case *kmsg.AlterUserSCRAMCredentialsResponse:
		for _, res := range r.Results {
			if res.ErrorCode == nc {
				return true
			}
		}
	case *kmsg.UpdateFeaturesResponse:
		return r.ErrorCode == nc
	case *kmsg.UnregisterBrokerResponse:
		return r.ErrorCode == nc
	case *kmsg.EnvelopeResponse: // 58_envelope.go
		return r.ErrorCode == nc
	case *kmsg.AddRaftVoterResponse:
		return r.ErrorCode == nc || r.ErrorCode == kerr.NotLeaderForPartition.Code
	case *kmsg.RemoveRaftVoterResponse:
		return r.ErrorCode == nc || r.ErrorCode == kerr.NotLeaderForPartition.Code
	}
	return false
}

// failedResponse answers req with code in every result (an
// AlterUserScramCredentials result per user named, in request order;
// UpdateFeatures before v2 per feature too), without messages.
func failedResponse(req kmsg.Request, code *kerr.Error) kmsg.Response {
	resp := req.ResponseKind()
	c := code.Code
	switch r := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		for _, t := range req.(*kmsg.CreateTopicsRequest).Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode = t.Topic, c
			st.NumPartitions, st.ReplicationFactor = -1, -1
			r.Topics = append(r.Topics, st)
		}
	case *kmsg.DeleteTopicsResponse:
		rq := req.(*kmsg.DeleteTopicsRequest)
		if rq.Version >= 6 {
			for _, t := range rq.Topics {
				st := kmsg.NewDeleteTopicsResponseTopic()
				st.Topic, st.TopicID, st.ErrorCode = t.Topic, t.TopicID, c
				r.Topics = append(r.Topics, st)
			}
		} else {
			for _, n := range rq.TopicNames {
				st := kmsg.NewDeleteTopicsResponseTopic()
				st.Topic, st.ErrorCode = kmsg.StringPtr(n), c
				r.Topics = append(r.Topics, st)
			}
		}
	case *kmsg.AlterConfigsResponse:
		for _, rr := range req.(*kmsg.AlterConfigsRequest).Resources {
			res := kmsg.NewAlterConfigsResponseResource()
			res.ResourceType, res.ResourceName, res.ErrorCode = rr.ResourceType, rr.ResourceName, c
			r.Resources = append(r.Resources, res)
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for _, rr := range req.(*kmsg.IncrementalAlterConfigsRequest).Resources {
			res := kmsg.NewIncrementalAlterConfigsResponseResource()
			res.ResourceType, res.ResourceName, res.ErrorCode = rr.ResourceType, rr.ResourceName, c
			r.Resources = append(r.Resources, res)
		}
	case *kmsg.CreatePartitionsResponse:
		for _, t := range req.(*kmsg.CreatePartitionsRequest).Topics {
			st := kmsg.NewCreatePartitionsResponseTopic()
			st.Topic, st.ErrorCode = t.Topic, c
			r.Topics = append(r.Topics, st)
		}
	case *kmsg.ElectLeadersResponse:
		r.ErrorCode = c
		for _, t := range req.(*kmsg.ElectLeadersRequest).Topics {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewElectLeadersResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, c
				rt.Partitions = append(rt.Partitions, rp)
			}
			r.Topics = append(r.Topics, rt)
		}
	case *kmsg.AlterPartitionAssignmentsResponse:
		r.ErrorCode = c
	case *kmsg.ListPartitionReassignmentsResponse:
		r.ErrorCode = c
	case *kmsg.DescribeQuorumResponse:
		r.ErrorCode = c
	case *kmsg.AlterClientQuotasResponse:
		for _, e := range req.(*kmsg.AlterClientQuotasRequest).Entries {
			r.Entries = append(r.Entries, alterQuotasEntry(e.Entity, c, nil))
		}
	case *kmsg.AlterUserSCRAMCredentialsResponse:
		rq := req.(*kmsg.AlterUserSCRAMCredentialsRequest)
		seen := map[string]bool{}
		add := func(user string) {
			if !seen[user] {
				seen[user] = true
				rr := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
				rr.User, rr.ErrorCode = user, c
				r.Results = append(r.Results, rr)
			}
		}
		for _, d := range rq.Deletions {
			add(d.Name)
		}
		for _, u := range rq.Upsertions {
			add(u.Name)
		}
	case *kmsg.UpdateFeaturesResponse:
		return updateFeaturesResponse(req.(*kmsg.UpdateFeaturesRequest), c, nil)
	case *kmsg.UnregisterBrokerResponse:
		r.ErrorCode = c
	case *kmsg.AddRaftVoterResponse:
		r.ErrorCode = c
	case *kmsg.RemoveRaftVoterResponse:
		r.ErrorCode = c
	}
	return resp
}

// CreateTopics creates topics through the active controller: locally on
// a single node, forwarded (with retries) in a quorum. It is the path for
// topics the broker creates itself (auto-creation, internal topics),
// which must work on any node. Results are in request order.
func (s *Server) CreateTopics(topics []controller.CreateTopic, validateOnly bool) []controller.CreatedTopic {
	if !s.forwardsToController() {
		return s.deps.Controller.CreateTopics(topics, validateOnly)
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = int32(s.cfg.ForwardTimeout / time.Millisecond)
	req.ValidateOnly = validateOnly
	for _, t := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = t.Name, t.NumPartitions, t.ReplicationFactor
		for p, replicas := range t.Assignments {
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = p, replicas
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		}
		for k, v := range t.Configs {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, v
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp := s.forward(s.ctx, req).(*kmsg.CreateTopicsResponse)
	byName := map[string]kmsg.CreateTopicsResponseTopic{}
	for _, t := range resp.Topics {
		byName[t.Topic] = t
	}
	out := make([]controller.CreatedTopic, len(topics))
	for i, t := range topics {
		out[i].Name = t.Name
		rt, ok := byName[t.Name]
		switch {
		case !ok:
			out[i].Err = apierror.New(kerr.UnknownServerError, "The controller did not answer for topic %s.", t.Name)
		case rt.ErrorCode != 0:
			msg := ""
			if rt.ErrorMessage != nil {
				msg = *rt.ErrorMessage
			}
			code, ok := kerr.ErrorForCode(rt.ErrorCode).(*kerr.Error)
			if !ok {
				code = kerr.UnknownServerError
			}
			out[i].Err = &apierror.Error{Code: code, Message: msg}
		default:
			out[i].ID = metadata.TopicID(rt.TopicID)
			out[i].NumPartitions, out[i].ReplicationFactor = rt.NumPartitions, rt.ReplicationFactor
		}
	}
	return out
}
