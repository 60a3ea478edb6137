package group

import (
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

func (s *Shard) putOffset(group, topic string, partition int32, o offsetAndMetadata) {
	topics, ok := s.offsets[group]
	if !ok {
		topics = map[string]map[int32]offsetAndMetadata{}
		s.offsets[group] = topics
	}
	parts, ok := topics[topic]
	if !ok {
		parts = map[int32]offsetAndMetadata{}
		topics[topic] = parts
	}
	parts[partition] = o
}

func (s *Shard) removeOffset(group, topic string, partition int32) {
	topics := s.offsets[group]
	parts := topics[topic]
	if parts == nil {
		return
	}
	delete(parts, partition)
	if len(parts) == 0 {
		delete(topics, topic)
	}
	if len(topics) == 0 {
		delete(s.offsets, group)
	}
}

func (s *Shard) hasOffset(group, topic string, partition int32) bool {
	_, ok := s.offsets[group][topic][partition]
	return ok
}

// validateCommit applies Kafka's ClassicGroup.validateOffsetCommit: a
// commit without generation and member id is accepted only while the
// group is Empty (offsets stored outside group management); otherwise
// the member, its instance id and the generation must match, and not
// while the group completes a rebalance.
func (g *classicGroup) validateCommit(req CommitRequest) int16 {
	if g.is(stateDead) {
		return kerr.CoordinatorNotAvailable.Code
	}
	if req.Generation < 0 && g.is(stateEmpty) {
		return 0
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
			return code
		}
		if req.Generation != g.generation {
			return kerr.IllegalGeneration.Code
		}
	} else if !g.is(stateEmpty) {
		return kerr.UnknownMemberID.Code
	}
	if g.is(stateCompletingRebalance) {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// validateConsumerCommit applies Kafka's ConsumerGroup.validateOffsetCommit:
// a commit outside group management needs an empty group; a member's
// commit must carry its current member epoch, with OffsetCommit v9+; a
// classic member's, its member epoch as the generation, at any version.
func validateConsumerCommit(g *consumerGroup, req CommitRequest) int16 {
	if req.Generation < 0 && g.isEmpty() {
		return 0
	}
	m, ok := g.members[req.MemberID]
	switch {
	case !ok:
		return kerr.UnknownMemberID.Code
	case m.classic != nil:
		if req.Generation != m.epoch {
			return kerr.IllegalGeneration.Code
		}
	case req.Version < 9:
		return kerr.UnsupportedVersion.Code
	case req.Generation != m.epoch:
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// CommitOffsets handles an OffsetCommit request. reply is called once,
// after the commit is written (or failed).
func (s *Shard) CommitOffsets(now time.Time, req CommitRequest, reply func(CommitResponse), res *coordinator.Result) {
	code := int16(0)
	g, ok := s.groups[req.Group]
	if cg, consumer := s.consumerGroups[req.Group]; consumer {
		code = validateConsumerCommit(cg, req)
	} else if !ok {
		// A group that does not exist takes commits outside group
		// management (it is created by the commit's replay); a
		// generation means the member is from an older, lost group.
		if req.Generation >= 0 {
			code = kerr.IllegalGeneration.Code
		}
	} else {
		code = g.validateCommit(req)
	}
	if code != 0 {
		resp := commitErrorResponse(req, code)
		res.Reply(func() { reply(resp) })
		return
	}
	if ok && (g.is(stateStable) || g.is(statePreparingRebalance)) {
		// In the classic protocol a commit also keeps the session.
		s.rescheduleHeartbeat(g, g.members[req.MemberID], now)
	}

	nowMs := ms(now)
	expireMs := int64(-1)
	if req.RetentionMs != -1 {
		expireMs = nowMs + req.RetentionMs
	}
	resp := CommitResponse{Topics: make([]CommitTopicResult, 0, len(req.Topics))}
	for _, t := range req.Topics {
		tr := CommitTopicResult{Topic: t.Topic, Partitions: make([]PartitionError, 0, len(t.Partitions))}
		for _, p := range t.Partitions {
			if p.Metadata != nil && len(*p.Metadata) > int(s.cfg.OffsetMetadataMaxBytes) {
				tr.Partitions = append(tr.Partitions, PartitionError{Partition: p.Partition, ErrorCode: kerr.OffsetMetadataTooLarge.Code})
				continue
			}
			tr.Partitions = append(tr.Partitions, PartitionError{Partition: p.Partition})
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			epoch := p.LeaderEpoch
			if epoch < 0 {
				epoch = -1
			}
			res.Add(offsetCommitRecord(req.Group, t.Topic, p.Partition, offsetAndMetadata{
				offset: p.Offset, leaderEpoch: epoch, metadata: md, commitMs: nowMs, expireMs: expireMs,
			}))
		}
		resp.Topics = append(resp.Topics, tr)
	}
	res.Replay = true
	onAppend(res, func(_ time.Time, err error, next *coordinator.Result) {
		if err != nil {
			resp = commitErrorResponse(req, coordinator.WriteErrorCode(err))
		}
		next.Reply(func() { reply(resp) })
	})
}

func commitErrorResponse(req CommitRequest, code int16) CommitResponse {
	resp := CommitResponse{Topics: make([]CommitTopicResult, 0, len(req.Topics))}
	for _, t := range req.Topics {
		tr := CommitTopicResult{Topic: t.Topic}
		for _, p := range t.Partitions {
			tr.Partitions = append(tr.Partitions, PartitionError{Partition: p.Partition, ErrorCode: code})
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp
}

// FetchOffsets answers one group of an OffsetFetch request. A group that
// does not exist has no offsets (-1), not an error.
func (s *Shard) FetchOffsets(now time.Time, req FetchRequest) FetchResponse {
	resp := FetchResponse{Group: req.Group}
	g, ok := s.groups[req.Group]
	failAll := !ok || g.is(stateDead)
	if cg, consumer := s.consumerGroups[req.Group]; consumer {
		failAll = false
		if req.MemberID != nil || req.MemberEpoch >= 0 {
			// Kafka's ConsumerGroup.validateOffsetFetch.
			m, ok := cg.members[deref(req.MemberID)]
			switch {
			case !ok:
				resp.ErrorCode = kerr.UnknownMemberID.Code
				return resp
			case m.epoch != req.MemberEpoch:
				resp.ErrorCode = kerr.StaleMemberEpoch.Code
				return resp
			}
		}
	}
	var offsets map[string]map[int32]offsetAndMetadata
	if !failAll {
		offsets = s.offsets[req.Group]
	}
	// KIP-447: a partition with a transactional offset pending is
	// UNSTABLE_OFFSET_COMMIT for require_stable fetches.
	result := func(topic string, p int32, o offsetAndMetadata, ok bool) FetchPartitionResult {
		if req.RequireStable && s.hasPendingOffset(req.Group, topic, p) {
			return FetchPartitionResult{Partition: p, Offset: -1, LeaderEpoch: -1, ErrorCode: kerr.UnstableOffsetCommit.Code}
		}
		return fetchResult(p, o, ok)
	}
	if req.Topics == nil {
		for _, topic := range slices.Sorted(maps.Keys(offsets)) {
			parts := offsets[topic]
			tr := FetchTopicResult{Topic: topic}
			for _, p := range slices.Sorted(maps.Keys(parts)) {
				tr.Partitions = append(tr.Partitions, result(topic, p, parts[p], true))
			}
			resp.Topics = append(resp.Topics, tr)
		}
		return resp
	}
	for _, t := range req.Topics {
		tr := FetchTopicResult{Topic: t.Topic, Partitions: make([]FetchPartitionResult, 0, len(t.Partitions))}
		parts := offsets[t.Topic]
		for _, p := range t.Partitions {
			o, ok := parts[p]
			tr.Partitions = append(tr.Partitions, result(t.Topic, p, o, ok))
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp
}

func fetchResult(partition int32, o offsetAndMetadata, ok bool) FetchPartitionResult {
	if !ok {
		return FetchPartitionResult{Partition: partition, Offset: -1, LeaderEpoch: -1}
	}
	return FetchPartitionResult{Partition: partition, Offset: o.offset, LeaderEpoch: o.leaderEpoch, Metadata: o.metadata}
}

// DeleteOffsets handles an OffsetDelete request: offsets of topics the
// group is not subscribed to are deleted (tombstones).
func (s *Shard) DeleteOffsets(now time.Time, req OffsetDeleteRequest, reply func(OffsetDeleteResponse), res *coordinator.Result) {
	g, ok := s.groups[req.Group]
	cg, consumer := s.consumerGroups[req.Group]
	subscribed := func(topic string) bool {
		if consumer {
			return s.consumerSubscribed(cg, topic)
		}
		return g.isSubscribedToTopic(topic)
	}
	code := int16(0)
	switch {
	case consumer:
	case !ok || g.is(stateDead):
		code = kerr.GroupIDNotFound.Code
	case !g.is(stateEmpty) && !g.usesConsumerProtocol():
		code = kerr.NonEmptyGroup.Code
	}
	if code != 0 {
		res.Reply(func() { reply(OffsetDeleteResponse{ErrorCode: code}) })
		return
	}
	resp := OffsetDeleteResponse{}
	for _, t := range req.Topics {
		tr := CommitTopicResult{Topic: t.Topic}
		sub := subscribed(t.Topic)
		for _, p := range t.Partitions {
			pe := PartitionError{Partition: p}
			if sub {
				pe.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else if s.hasOffset(req.Group, t.Topic, p) {
				res.Add(offsetTombstone(req.Group, t.Topic, p))
			}
			tr.Partitions = append(tr.Partitions, pe)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	res.Replay = true
	onAppend(res, func(_ time.Time, err error, next *coordinator.Result) {
		if err != nil {
			resp = OffsetDeleteResponse{ErrorCode: coordinator.WriteErrorCode(err)}
		}
		next.Reply(func() { reply(resp) })
	})
}

// scheduleExpiration starts the next offset expiration cycle.
func (s *Shard) scheduleExpiration(now time.Time) {
	s.timers.Schedule(expirationKey, after(now, s.cfg.OffsetsRetentionCheckIntervalMs), func(s *Shard, now time.Time, res *coordinator.Result) {
		s.cleanupGroupMetadata(now, res)
	})
}

// cleanupGroupMetadata expires offsets (offsets.retention.minutes) and
// deletes groups that are Empty with no offsets left, then schedules the
// next cycle.
func (s *Shard) cleanupGroupMetadata(now time.Time, res *coordinator.Result) {
	var expired, deleted int
	for _, id := range slices.Sorted(maps.Keys(s.groups)) {
		g := s.groups[id]
		n, all := s.cleanupExpiredOffsets(g, now, res)
		expired += n
		if all && g.is(stateEmpty) && !s.hasPendingGroup(id) {
			res.Add(groupTombstone(id))
			deleted++
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.consumerGroups)) {
		cg := s.consumerGroups[id]
		n, all := s.expireOffsets(id, now, func(topic string) bool { return s.consumerSubscribed(cg, topic) },
			func(o offsetAndMetadata) int64 { return o.commitMs }, res)
		expired += n
		if all && cg.isEmpty() && !s.hasPendingGroup(id) {
			s.consumerGroupTombstones(cg, res)
			deleted++
		}
	}
	if len(res.Records) > 0 {
		res.Replay = true
		s.log.Info("expired group metadata", "offsets", expired, "groups", deleted)
	}
	s.scheduleExpiration(now)
}

// cleanupExpiredOffsets writes tombstones for the group's expired
// offsets; all is true when the group has no offsets left.
func (s *Shard) cleanupExpiredOffsets(g *classicGroup, now time.Time, res *coordinator.Result) (n int, all bool) {
	offsets := s.offsets[g.id]
	if len(offsets) == 0 {
		return 0, true
	}
	// The time an offset's retention starts from (Kafka's
	// offsetExpirationCondition): when an Empty group became empty, else
	// the commit; a Stable consumer group only expires offsets of topics
	// it no longer subscribes to; other groups keep theirs.
	var base func(o offsetAndMetadata) int64
	switch {
	case g.protocolType == nil:
		base = func(o offsetAndMetadata) int64 { return o.commitMs }
	case g.is(stateEmpty):
		base = func(o offsetAndMetadata) int64 {
			if g.stateTimestampMs >= 0 {
				return g.stateTimestampMs
			}
			return o.commitMs
		}
	case g.usesConsumerProtocol() && g.subscribedTopics != nil && g.is(stateStable):
		base = func(o offsetAndMetadata) int64 { return o.commitMs }
	default:
		return 0, false
	}
	return s.expireOffsets(g.id, now, g.isSubscribedToTopic, base, res)
}

// expireOffsets writes tombstones for the expired offsets of a group's
// topics that are not subscribed; all is true when none is left.
func (s *Shard) expireOffsets(gid string, now time.Time, subscribed func(string) bool, base func(offsetAndMetadata) int64, res *coordinator.Result) (n int, all bool) {
	offsets := s.offsets[gid]
	if len(offsets) == 0 {
		return 0, true
	}
	nowMs := ms(now)
	all = true
	for _, topic := range slices.Sorted(maps.Keys(offsets)) {
		if subscribed(topic) {
			all = false
			continue
		}
		parts := offsets[topic]
		for _, p := range slices.Sorted(maps.Keys(parts)) {
			o := parts[p]
			var isExpired bool
			if o.expireMs >= 0 {
				isExpired = nowMs >= o.expireMs
			} else {
				isExpired = nowMs-base(o) >= s.cfg.OffsetsRetentionMs
			}
			if isExpired && !s.hasPendingOffset(gid, topic, p) {
				res.Add(offsetTombstone(gid, topic, p))
				n++
			} else {
				all = false
			}
		}
	}
	return n, all
}

// deleteTopicOffsets writes tombstones for every offset of topics.
func (s *Shard) deleteTopicOffsets(topics []string, res *coordinator.Result) {
	for _, gid := range slices.Sorted(maps.Keys(s.offsets)) {
		for _, topic := range topics {
			parts := s.offsets[gid][topic]
			for _, p := range slices.Sorted(maps.Keys(parts)) {
				res.Add(offsetTombstone(gid, topic, p))
			}
		}
	}
	res.Replay = true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
