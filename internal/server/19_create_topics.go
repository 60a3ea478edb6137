package server

// CreateTopics (key 19), versions 2-7 (Kafka 4.0 removed 0-1, KIP-896).
//
//	v1: validate_only, error_message.   v2: throttle.   v3: no change.
//	v4: -1 partitions/replication factor use the broker defaults
//	(KIP-464).   v5: flexible; the created topic's configs, partitions and
//	replication factor in the response (KIP-525).   v6: no change.
//	v7: topic id in the response (KIP-516).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	register(handler{key: 19, min: 2, max: 7, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleCreateTopics(r.(*kmsg.CreateTopicsRequest)), nil
	}})
}

func (s *Server) handleCreateTopics(req *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	topics := make([]controller.CreateTopic, len(req.Topics))
	preErr := make([]error, len(req.Topics))
	for i, rt := range req.Topics {
		ct := controller.CreateTopic{Name: rt.Topic, NumPartitions: rt.NumPartitions, ReplicationFactor: rt.ReplicationFactor, Configs: map[string]*string{}}
		if req.Version < 4 && (rt.NumPartitions == -1 || rt.ReplicationFactor == -1) && len(rt.ReplicaAssignment) == 0 {
			preErr[i] = apierror.New(kerr.InvalidRequest, "Default partitions and replication factor require CreateTopics v4 or later.")
		}
		if len(rt.ReplicaAssignment) > 0 {
			ct.Assignments = map[int32][]int32{}
			for _, a := range rt.ReplicaAssignment {
				if _, dup := ct.Assignments[a.Partition]; dup {
					preErr[i] = apierror.New(kerr.InvalidReplicaAssignment, "Duplicate partition %d in the manual partition assignment.", a.Partition)
				}
				ct.Assignments[a.Partition] = a.Replicas
			}
		}
		for _, cfg := range rt.Configs {
			if _, dup := ct.Configs[cfg.Name]; dup {
				preErr[i] = apierror.New(kerr.InvalidConfig, "Duplicate config %s.", cfg.Name)
			}
			ct.Configs[cfg.Name] = cfg.Value
		}
		topics[i] = ct
	}
	// Topics rejected here skip the controller; results stay in request
	// order.
	var send []controller.CreateTopic
	var idx []int
	for i, t := range topics {
		if preErr[i] == nil {
			send = append(send, t)
			idx = append(idx, i)
		}
	}
	results := make([]controller.CreatedTopic, len(topics))
	for i, t := range topics {
		results[i] = controller.CreatedTopic{Name: t.Name, Err: preErr[i]}
	}
	for j, r := range s.deps.Controller.CreateTopics(send, req.ValidateOnly) {
		results[idx[j]] = r
	}
	for _, r := range results {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = r.Name
		st.NumPartitions, st.ReplicationFactor = -1, -1
		if r.Err != nil {
			st.ErrorCode = codeOf(r.Err)
			st.ErrorMessage = messageOf(r.Err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.TopicID = r.ID
		st.NumPartitions, st.ReplicationFactor = r.NumPartitions, r.ReplicationFactor
		if req.Version >= 5 {
			for _, e := range s.deps.Configs.DescribeTopic(r.Configs) {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name, c.Value, c.ReadOnly, c.Source, c.IsSensitive = e.Name, e.Value, e.ReadOnly, e.Source, e.Sensitive
				st.Configs = append(st.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
