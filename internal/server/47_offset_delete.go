package server

// OffsetDelete (key 47), version 0 (KIP-496).
//
// Deletes a group's committed offsets for partitions of topics it is not
// subscribed to (GROUP_SUBSCRIBED_TO_TOPIC otherwise). Topics and
// partitions that do not exist are UNKNOWN_TOPIC_OR_PARTITION; a group
// error (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP for a non-consumer group
// with members, coordinator errors) is the top-level error.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/group"
)

func init() {
	register(handler{key: 47, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleOffsetDelete(c, r.(*kmsg.OffsetDeleteRequest)), nil
	}})
}

func (s *Server) handleOffsetDelete(c *conn, req *kmsg.OffsetDeleteRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if s.deps.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	// KafkaApis.handleOffsetDeleteRequest: DELETE on the group, READ on
	// each topic (before its existence).
	if !c.authorized(acl.OpDelete, acl.ResourceGroup, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	mayRead := c.authorizedTopics(acl.OpRead)
	im := s.image()
	dr := group.OffsetDeleteRequest{Group: req.Group}
	// codes[topic][partition] for partitions answered here.
	codes := map[string]map[int32]int16{}
	for _, rt := range req.Topics {
		t, ok := im.Topic(rt.Topic)
		ft := group.FetchTopic{Topic: rt.Topic}
		for _, rp := range rt.Partitions {
			if !mayRead(rt.Topic) || !ok || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
				if codes[rt.Topic] == nil {
					codes[rt.Topic] = map[int32]int16{}
				}
				codes[rt.Topic][rp.Partition] = kerr.UnknownTopicOrPartition.Code
				if !mayRead(rt.Topic) {
					codes[rt.Topic][rp.Partition] = kerr.TopicAuthorizationFailed.Code
				}
				continue
			}
			ft.Partitions = append(ft.Partitions, rp.Partition)
		}
		if len(ft.Partitions) > 0 {
			dr.Topics = append(dr.Topics, ft)
		}
	}
	r := s.deps.Groups.DeleteOffsets(c.ctx, dr)
	if r.ErrorCode != 0 {
		resp.ErrorCode = r.ErrorCode
		return resp
	}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if codes[t.Topic] == nil {
				codes[t.Topic] = map[int32]int16{}
			}
			codes[t.Topic][p.Partition] = p.ErrorCode
		}
	}
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, codes[rt.Topic][rp.Partition]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
