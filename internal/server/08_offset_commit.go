package server

// OffsetCommit (key 8), versions 2-10 (Kafka 4.0 removed 0-1, KIP-896).
//
//	v2: retention_time_ms (v2-4; -1 for offsets.retention.minutes).
//	v3: throttle.   v4: no change.   v5: retention_time_ms removed
//	(KIP-211).   v6: committed_leader_epoch (KIP-320).
//	v7: group_instance_id (KIP-345).   v8: flexible.
//	v9: KIP-848 member epochs (STALE_MEMBER_EPOCH).
//	v10: topics by id (KIP-848).
//
// Topics and partitions that do not exist are answered
// UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID by id) here; the rest go
// to the group coordinator, which answers per partition.

import (
	"cmp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/group"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	register(handler{key: 8, min: 2, max: 10, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleOffsetCommit(c, r.(*kmsg.OffsetCommitRequest)), nil
	}})
}

func (s *Server) handleOffsetCommit(c *conn, req *kmsg.OffsetCommitRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	im := s.image()
	useIDs := req.Version >= 10
	// codes[i][j] is the answer for request topic i, partition j; -1
	// until the coordinator answers.
	codes := make([][]int16, len(req.Topics))
	cr := group.CommitRequest{
		Group: req.Group, Generation: req.Generation, MemberID: req.MemberID,
		InstanceID: req.InstanceID, RetentionMs: -1, Version: req.Version,
	}
	if req.Version <= 4 {
		cr.RetentionMs = req.RetentionTimeMillis
	}
	var sent []commitPos
	// KafkaApis.handleOffsetCommitRequest: READ on the group, then READ
	// on each topic (before its existence).
	groupOK := c.authorized(acl.OpRead, acl.ResourceGroup, req.Group)
	mayRead := c.authorizedTopics(acl.OpRead)
	for i, rt := range req.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
		var t *metadata.Topic
		var ok bool
		if useIDs {
			t, ok = im.TopicByID(metadata.TopicID(rt.TopicID))
		} else {
			t, ok = im.Topic(rt.Topic)
		}
		if denied := authzCode(!groupOK, kerr.GroupAuthorizationFailed, (ok || !useIDs) && !mayRead(cmp.Or(topicName(t), rt.Topic)), kerr.TopicAuthorizationFailed); denied != 0 {
			for j := range codes[i] {
				codes[i][j] = denied
			}
			continue
		}
		if !ok {
			code := kerr.UnknownTopicOrPartition.Code
			if useIDs {
				code = kerr.UnknownTopicID.Code
			}
			for j := range codes[i] {
				codes[i][j] = code
			}
			continue
		}
		ct := group.CommitTopic{Topic: t.Name, TopicID: t.ID}
		for j, rp := range rt.Partitions {
			if rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			codes[i][j] = -1
			ct.Partitions = append(ct.Partitions, group.CommitPartition{
				Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: rp.LeaderEpoch, Metadata: rp.Metadata,
			})
			sent = append(sent, commitPos{i, j})
		}
		if len(ct.Partitions) > 0 {
			cr.Topics = append(cr.Topics, ct)
		}
	}
	commitToCoordinator(cr.Topics, sent, codes, func() group.CommitResponse { return s.deps.Groups.CommitOffsets(c.ctx, cr) }, s.deps.Groups != nil)
	for i, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for j, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, codes[i][j]
			if sp.ErrorCode < 0 {
				sp.ErrorCode = kerr.UnknownServerError.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
