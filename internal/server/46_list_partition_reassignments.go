package server

// ListPartitionReassignments (key 46), version 0 (KIP-455; answered by
// the active controller; a broker listener in a quorum forwards it).
//
//	v0: flexible; topics null lists every reassignment in progress.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	register(handler{key: 46, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleListPartitionReassignments(r.(*kmsg.ListPartitionReassignmentsRequest)), nil
	}})
}

func (s *Server) handleListPartitionReassignments(req *kmsg.ListPartitionReassignmentsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	var topics []controller.TopicPartitions
	if req.Topics != nil {
		topics = make([]controller.TopicPartitions, 0, len(req.Topics))
		for _, t := range req.Topics {
			topics = append(topics, controller.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	ongoing, err := s.deps.Controller.ListPartitionReassignments(topics)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = codeOf(err), messageOf(err)
		return resp
	}
	idx := map[string]int{}
	for _, o := range ongoing {
		i, ok := idx[o.Topic]
		if !ok {
			i = len(resp.Topics)
			idx[o.Topic] = i
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = o.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition, rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = o.Partition, o.Replicas, o.AddingReplicas, o.RemovingReplicas
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}
