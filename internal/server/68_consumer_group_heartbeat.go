package server

// ConsumerGroupHeartbeat (key 68), versions 0-1 (KIP-848).
//
//	v0: the coordinator names a joining member (empty member_id).
//	v1: Kafka 4.0's stable version: the member names itself (member_id
//	    required), subscribed_topic_regex.
//
// One request joins (member_epoch 0), heartbeats (the member's epoch),
// leaves (-1) or leaves temporarily as a static member (-2); the
// response carries the member's epoch and, when it changed or the
// request was full, its assignment.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/group"
)

func init() {
	register(handler{key: 68, min: 0, max: 1, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleConsumerGroupHeartbeat(c, r.(*kmsg.ConsumerGroupHeartbeatRequest)), nil
	}})
}

func (s *Server) handleConsumerGroupHeartbeat(c *conn, req *kmsg.ConsumerGroupHeartbeatRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	if s.deps.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	hr := group.ConsumerHeartbeatRequest{
		Group:                req.Group,
		MemberID:             req.MemberID,
		MemberEpoch:          req.MemberEpoch,
		InstanceID:           req.InstanceID,
		RackID:               req.RackID,
		RebalanceTimeoutMs:   req.RebalanceTimeoutMillis,
		SubscribedTopicNames: req.SubscribedTopicNames,
		SubscribedTopicRegex: req.SubscribedTopicRegex,
		ServerAssignor:       req.ServerAssignor,
		ClientID:             c.clientID,
		ClientHost:           clientHost(c),
		Version:              req.Version,
	}
	if req.Topics != nil {
		hr.OwnedPartitions = make([]group.TopicPartitions, 0, len(req.Topics))
		for _, t := range req.Topics {
			hr.OwnedPartitions = append(hr.OwnedPartitions, group.TopicPartitions{TopicID: t.TopicID, Partitions: t.Partitions})
		}
	}
	r := s.deps.Groups.ConsumerGroupHeartbeat(c.ctx, hr)
	resp.ErrorCode, resp.ErrorMessage = r.ErrorCode, r.ErrorMessage
	if r.ErrorCode != 0 {
		return resp
	}
	id := r.MemberID
	resp.MemberID, resp.MemberEpoch, resp.HeartbeatIntervalMillis = &id, r.MemberEpoch, r.HeartbeatIntervalMs
	if r.HasAssignment {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
		for _, tp := range r.Assignment {
			t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			t.TopicID, t.Partitions = tp.TopicID, tp.Partitions
			a.Topics = append(a.Topics, t)
		}
		resp.Assignment = &a
	}
	return resp
}
