package server

// ConsumerGroupDescribe (key 69), versions 0-1 (KIP-848).
//
//	v1: member_type (KIP-1099): 1 for members using the consumer
//	    protocol.
//
// A group that does not exist, or is a classic group, is
// GROUP_ID_NOT_FOUND ("Group … is not a consumer group."); Kafka's admin
// client then describes it with DescribeGroups.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/group"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	register(handler{key: 69, min: 0, max: 1, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleConsumerGroupDescribe(c, r.(*kmsg.ConsumerGroupDescribeRequest)), nil
	}})
}

// KIP-1099's member types: a member using the classic protocol inside a
// consumer group (after an online upgrade), and a KIP-848 member.
const (
	memberTypeClassic  = 0
	memberTypeConsumer = 1
)

func (s *Server) handleConsumerGroupDescribe(c *conn, req *kmsg.ConsumerGroupDescribeRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	ops := int32(authorizedOpsUnset)
	if req.IncludeAuthorizedOperations {
		ops = groupAuthorizedOps
	}
	if s.deps.Groups == nil {
		for _, id := range req.Groups {
			g := kmsg.NewConsumerGroupDescribeResponseGroup()
			g.Group, g.ErrorCode, g.AuthorizedOperations = id, kerr.CoordinatorNotAvailable.Code, ops
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}
	im := s.image()
	// DESCRIBE on each group; a group with members on topics the
	// principal may not DESCRIBE answers TOPIC_AUTHORIZATION_FAILED
	// (KafkaApis.handleConsumerGroupDescribe).
	var allowed []string
	for _, id := range req.Groups {
		if c.authorized(acl.OpDescribe, acl.ResourceGroup, id) {
			allowed = append(allowed, id)
			continue
		}
		g := kmsg.NewConsumerGroupDescribeResponseGroup()
		g.Group, g.ErrorCode, g.AuthorizedOperations = id, kerr.GroupAuthorizationFailed.Code, authorizedOpsUnset
		resp.Groups = append(resp.Groups, g)
	}
	if len(allowed) == 0 {
		return resp
	}
	mayDescribe := c.authorizedTopics(acl.OpDescribe)
	for _, d := range s.deps.Groups.ConsumerGroupDescribe(c.ctx, allowed) {
		g := kmsg.NewConsumerGroupDescribeResponseGroup()
		g.Group, g.ErrorCode, g.ErrorMessage = d.Group, d.ErrorCode, d.ErrorMessage
		if req.IncludeAuthorizedOperations {
			ops = c.authorizedOperations(acl.ResourceGroup, d.Group)
		}
		g.AuthorizedOperations = ops
		if d.ErrorCode == 0 && !groupTopicsDescribable(im, d, mayDescribe) {
			g.ErrorCode = kerr.TopicAuthorizationFailed.Code
			g.ErrorMessage = kmsg.StringPtr("The group has described topic(s) that the client is not authorized to describe.")
		}
		if g.ErrorCode != 0 {
			resp.Groups = append(resp.Groups, g)
			continue
		}
		g.State, g.Epoch, g.AssignmentEpoch, g.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.AssignorName
		for _, m := range d.Members {
			rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.RackID, rm.MemberEpoch = m.MemberID, m.InstanceID, m.RackID, m.MemberEpoch
			rm.ClientID, rm.ClientHost = m.ClientID, m.ClientHost
			rm.SubscribedTopics, rm.SubscribedTopicRegex = m.SubscribedTopicNames, m.SubscribedTopicRegex
			if rm.SubscribedTopics == nil {
				rm.SubscribedTopics = []string{}
			}
			rm.Assignment = describedAssignment(im, m.Assignment)
			rm.TargetAssignment = describedAssignment(im, m.TargetAssignment)
			rm.MemberType = memberTypeConsumer
			if m.Classic {
				rm.MemberType = memberTypeClassic
			}
			g.Members = append(g.Members, rm)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}

func describedAssignment(im *metadata.Image, tps []group.TopicPartitions) kmsg.Assignment {
	a := kmsg.NewAssignment()
	a.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	for _, tp := range tps {
		t := kmsg.NewAssignmentTopicPartition()
		t.TopicID, t.Partitions = tp.TopicID, tp.Partitions
		if mt, ok := im.TopicByID(metadata.TopicID(tp.TopicID)); ok {
			t.Topic = mt.Name
		}
		a.TopicPartitions = append(a.TopicPartitions, t)
	}
	return a
}

// groupTopicsDescribable reports whether the principal may DESCRIBE
// every topic the group's members subscribe to or are assigned.
func groupTopicsDescribable(im *metadata.Image, d group.DescribedConsumerGroup, mayDescribe func(string) bool) bool {
	for _, m := range d.Members {
		for _, t := range m.SubscribedTopicNames {
			if !mayDescribe(t) {
				return false
			}
		}
		for _, tps := range [][]group.TopicPartitions{m.Assignment, m.TargetAssignment} {
			for _, tp := range tps {
				if mt, ok := im.TopicByID(metadata.TopicID(tp.TopicID)); ok && !mayDescribe(mt.Name) {
					return false
				}
			}
		}
	}
	return true
}
