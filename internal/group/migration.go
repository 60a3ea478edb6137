package group

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// Online migration between the classic and the consumer (KIP-848)
// protocols, as Kafka 4 does it (GroupMetadataManager's
// convertToConsumerGroup, classicGroupJoinToConsumerGroup and
// convertToClassicGroup), governed by group.consumer.migration.policy:
//
//	classic group, members "consumer" protocol type
//	   │ ConsumerGroupHeartbeat join (policy upgrade|bidirectional,
//	   │ members ≤ group.consumer.max.size)
//	   ▼
//	consumer group: epoch = generation, every classic member kept as a
//	"classic member" (epoch = generation, assignment = its classic one,
//	target = the same), its JoinGroup/SyncGroup/Heartbeat/LeaveGroup
//	served from the reconciliation below
//	   │ the last consumer-protocol member leaves or is fenced (policy
//	   │ downgrade|bidirectional, members left ≤ group.max.size)
//	   ▼
//	classic group: generation = group epoch, members with their target
//	assignment, PreparingRebalance so that every member rejoins
//
// A classic member in a consumer group:
//   - JoinGroup updates it from its subscription (topics, rack, owned
//     partitions) like a heartbeat and reconciles it; the response comes
//     once the records are written, with generation = member epoch, no
//     leader and no member list (the coordinator assigns).
//   - SyncGroup returns its current assignment (ConsumerProtocol
//     assignment, by topic name); REBALANCE_IN_PROGRESS if the group
//     epoch moved past it and it is not revoking.
//   - Heartbeat is REBALANCE_IN_PROGRESS when it must rejoin: the group
//     epoch moved past it, it must revoke partitions, or partitions it
//     waits for were released.
//   - Its session timeout is the session.timeout.ms it joined with.
//
// An empty group of either type is replaced by the other protocol's
// first join whatever the policy (Kafka does the same).

// Values of group.consumer.migration.policy.
const (
	MigrationBidirectional = "bidirectional"
	MigrationUpgrade       = "upgrade"
	MigrationDowngrade     = "downgrade"
	MigrationDisabled      = "disabled"
)

// classicMemberMeta is what a consumer group keeps of a member using the
// classic protocol (Kafka's ClassicMemberMetadata). Never mutated once
// in a member.
type classicMemberMeta struct {
	sessionTimeoutMs int32
	protocols        []Protocol
}

func (c *classicMemberMeta) equal(o *classicMemberMeta) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.sessionTimeoutMs == o.sessionTimeoutMs && slices.EqualFunc(c.protocols, o.protocols, func(a, b Protocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}

// protocolName is the protocol a classic member is answered with: the
// first it supports.
func (c *classicMemberMeta) protocolName() string {
	if len(c.protocols) == 0 {
		return ""
	}
	return c.protocols[0].Name
}

func (s *Shard) upgradeEnabled() bool {
	p := strings.ToLower(s.cfg.ConsumerMigrationPolicy)
	return p == MigrationBidirectional || p == MigrationUpgrade
}

func (s *Shard) downgradeEnabled() bool {
	p := strings.ToLower(s.cfg.ConsumerMigrationPolicy)
	return p == MigrationBidirectional || p == MigrationDowngrade
}

// validateOnlineUpgrade reports whether a classic group with members may
// become a consumer group (Kafka's validateOnlineUpgrade).
func (s *Shard) validateOnlineUpgrade(g *classicGroup) bool {
	switch {
	case !s.upgradeEnabled():
		s.log.Info("cannot upgrade the classic group to a consumer group: the online upgrade is disabled", "group", g.id)
	case !g.usesConsumerProtocol():
		s.log.Info("cannot upgrade the classic group to a consumer group: it does not use the consumer embedded protocol", "group", g.id)
	case g.numMembers() > int(s.cfg.ConsumerMaxSize):
		s.log.Info("cannot upgrade the classic group to a consumer group: it has more members than group.consumer.max.size", "group", g.id)
	default:
		return true
	}
	return false
}

// convertToConsumerGroup writes the records that turn a classic group
// into a consumer group keeping its members, and returns that group as it
// will be once they are replayed. Members waiting on a join or a sync are
// told REBALANCE_IN_PROGRESS: the joining member starts a new rebalance.
func (s *Shard) convertToConsumerGroup(g *classicGroup, res *coordinator.Result) (*consumerGroup, *heartbeatError) {
	topics := s.cfg.topics()
	members := make([]*consumerMember, 0, len(g.order))
	for _, id := range g.order {
		m := g.members[id]
		var md []byte
		if g.protocolName != nil {
			md = m.metadata(*g.protocolName)
		} else if len(m.protocols) > 0 {
			md = m.protocols[0].Metadata
		}
		var sub kmsg.ConsumerMemberMetadata
		if err := sub.ReadFrom(md); err != nil {
			s.log.Warn("cannot upgrade the classic group: malformed subscription", "group", g.id, "member_id", id, "err", err)
			return nil, hbErr(kerr.GroupIDNotFound, "Cannot upgrade the classic group %s to consumer group because the embedded consumer protocol is malformed.", g.id)
		}
		assigned := assignment{}
		if len(m.assignment) > 0 {
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(m.assignment); err != nil {
				s.log.Warn("cannot upgrade the classic group: malformed assignment", "group", g.id, "member_id", id, "err", err)
				return nil, hbErr(kerr.GroupIDNotFound, "Cannot upgrade the classic group %s to consumer group because the embedded consumer protocol is malformed.", g.id)
			}
			for _, t := range a.Topics {
				addByName(assigned, topics, t.Topic, t.Partitions)
			}
		}
		members = append(members, &consumerMember{
			id: id, instanceID: m.instanceID, rackID: sub.Rack, clientID: m.clientID, clientHost: m.clientHost,
			subscribedTopicNames: slices.Clone(sub.Topics), rebalanceTimeoutMs: m.rebalanceTimeoutMs,
			epoch: g.generation, previousEpoch: g.generation, state: memberStable,
			assigned: assigned, pendingRevocation: assignment{},
			classic: &classicMemberMeta{sessionTimeoutMs: m.sessionTimeoutMs, protocols: slices.Clone(m.protocols)},
		})
	}
	s.log.Info("upgrading the classic group to a consumer group", "group", g.id, "generation", g.generation, "members", len(members))
	for _, id := range g.order {
		m := g.members[id]
		s.completeJoin(g, m, JoinResponse{MemberID: id, Generation: -1, ErrorCode: kerr.RebalanceInProgress.Code}, res)
		s.completeSync(m, SyncResponse{ErrorCode: kerr.RebalanceInProgress.Code, Assignment: []byte{}}, res)
	}

	out := newConsumerGroup(g.id)
	out.epoch, out.targetEpoch = g.generation, g.generation
	res.Add(groupTombstone(g.id))
	for _, m := range members {
		out.updateMember(m)
		out.target[m.id] = m.assigned.clone()
		res.Add(consumerMemberMetadataRecord(g.id, m))
	}
	res.Add(consumerGroupEpochRecord(g.id, out.epoch))
	for _, m := range members {
		res.Add(consumerTargetMemberRecord(g.id, m.id, m.assigned))
	}
	res.Add(consumerTargetMetadataRecord(g.id, out.targetEpoch))
	for _, m := range members {
		res.Add(consumerCurrentAssignmentRecord(g.id, m))
	}
	gid := g.id
	onAppend(res, func(now time.Time, err error, _ *coordinator.Result) {
		cg := s.consumerGroups[gid]
		if err != nil || cg == nil {
			return
		}
		for _, m := range members {
			if cm, ok := cg.members[m.id]; ok && cm.classic != nil {
				s.scheduleConsumerSessionAfter(gid, m.id, cm.classic.sessionTimeoutMs, now)
			}
		}
	})
	return out, nil
}

// validateOnlineDowngrade reports whether a consumer group whose members
// leaving are about to be removed should become a classic group instead
// (Kafka's validateOnlineDowngradeWithFencedMember): every member left
// uses the classic protocol, there is one at least, and the policy and
// group.max.size allow it.
func (s *Shard) validateOnlineDowngrade(g *consumerGroup, leaving []string) bool {
	remaining := 0
	for id, m := range g.members {
		if slices.Contains(leaving, id) {
			continue
		}
		if m.classic == nil {
			return false
		}
		remaining++
	}
	switch {
	case remaining == 0:
		return false
	case !s.downgradeEnabled():
		s.log.Info("cannot downgrade the consumer group to a classic group: the online downgrade is disabled", "group", g.id)
		return false
	case remaining > int(s.cfg.MaxSize):
		s.log.Info("cannot downgrade the consumer group to a classic group: it has more members than group.max.size", "group", g.id)
		return false
	}
	return true
}

// convertToClassicGroup writes the records that replace a consumer group
// by a classic group of its members but leaving (Kafka's
// convertToClassicGroup): generation = group epoch, each member's
// assignment its target one. Once written (and replayed), the classic
// group starts a rebalance so that every member rejoins.
func (s *Shard) convertToClassicGroup(g *consumerGroup, leaving []string, now time.Time, res *coordinator.Result) {
	cg := newClassicGroup(g.id, stateStable, ms(now))
	cg.generation = g.epoch
	assignments := map[string][]byte{}
	topics := s.cfg.topics()
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		m := g.members[id]
		if slices.Contains(leaving, id) {
			continue
		}
		cg.add(&classicMember{
			id: id, instanceID: m.instanceID, clientID: m.clientID, clientHost: m.clientHost,
			rebalanceTimeoutMs: m.rebalanceTimeoutMs, sessionTimeoutMs: m.classic.sessionTimeoutMs,
			protocolType: consumerProtocolType, protocols: m.classic.protocols,
		}, nil)
		assignments[id] = encodeAssignment(topics, g.target[id], subscriptionVersion(m.classic))
	}
	p := cg.selectProtocol()
	cg.protocolName = &p
	s.log.Info("downgrading the consumer group to a classic group", "group", g.id, "epoch", g.epoch, "members", cg.numMembers(), "leaving", leaving)

	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		s.removeConsumerMemberRecords(g, id, res)
	}
	s.consumerGroupTombstones(g, res)
	res.Add(groupMetadataRecord(cg, assignments))
	gid := g.id
	onAppend(res, func(now time.Time, err error, next *coordinator.Result) {
		cl := s.groups[gid]
		if err != nil || cl == nil {
			return
		}
		for _, id := range cl.order {
			s.rescheduleHeartbeat(cl, cl.members[id], now)
		}
		s.prepareRebalance(cl, now, fmt.Sprintf("Downgrade group %s from consumer to classic.", gid), next)
	})
}

// subscriptionVersion is the ConsumerProtocol version a classic member
// speaks (that of its first protocol's subscription).
func subscriptionVersion(c *classicMemberMeta) int16 {
	if len(c.protocols) == 0 || len(c.protocols[0].Metadata) < 2 {
		return 0
	}
	return int16(binary.BigEndian.Uint16(c.protocols[0].Metadata))
}

// encodeAssignment serializes a ConsumerProtocol assignment naming a's
// topics, at the member's version (assignments stop at version 3).
func encodeAssignment(topics Topics, a assignment, version int16) []byte {
	out := kmsg.NewConsumerMemberAssignment()
	out.Version = min(max(version, 0), 3)
	for _, id := range a.sortedTopics() {
		name, ok := topics.TopicName(id)
		if !ok {
			continue
		}
		t := kmsg.NewConsumerMemberAssignmentTopic()
		t.Topic, t.Partitions = name, a[id].sorted()
		out.Topics = append(out.Topics, t)
	}
	slices.SortFunc(out.Topics, func(x, y kmsg.ConsumerMemberAssignmentTopic) int { return strings.Compare(x.Topic, y.Topic) })
	return out.AppendTo(nil)
}

// addByName adds the partitions of a topic named by name, if it exists.
func addByName(a assignment, topics Topics, name string, partitions []int32) {
	id, n, ok := topics.TopicByName(name)
	if !ok {
		return
	}
	for _, p := range partitions {
		if p >= 0 && p < n {
			a.add(id, p)
		}
	}
}

// supportsClassicProtocols: a classic member may join when one of its
// protocols is supported by every classic member already in the group
// (Kafka's ConsumerGroup.supportsClassicProtocols).
func (g *consumerGroup) supportsClassicProtocols(protocolType string, protocols []Protocol) bool {
	if protocolType != consumerProtocolType || len(protocols) == 0 {
		return false
	}
	classic := 0
	counts := map[string]int{}
	for _, m := range g.members {
		if m.classic == nil {
			continue
		}
		classic++
		for _, p := range m.classic.protocols {
			counts[p.Name]++
		}
	}
	for _, p := range protocols {
		if counts[p.Name] == classic {
			return true
		}
	}
	return false
}

// classicMember returns the classic member a SyncGroup, Heartbeat or
// LeaveGroup names (Kafka's validateConsumerGroupMember and
// throwIfMemberDoesNotUseClassicProtocol), or an error code.
func (g *consumerGroup) classicMember(memberID string, instanceID *string) (*consumerMember, int16) {
	var m *consumerMember
	if instanceID == nil {
		m = g.members[memberID]
	} else {
		m = g.members[g.staticMembers[*instanceID]]
		if m != nil && m.id != memberID {
			return nil, kerr.FencedInstanceID.Code
		}
	}
	if m == nil || m.classic == nil {
		return nil, kerr.UnknownMemberID.Code
	}
	return m, 0
}

// waitingOnUnreleased reports whether partitions of m's target are still
// held by other members.
func (g *consumerGroup) waitingOnUnreleased(m *consumerMember) bool {
	for t, ps := range g.target[m.id] {
		for p := range ps {
			if !m.assigned.has(t, p) && !m.pendingRevocation.has(t, p) && g.partitionEpoch(t, p) != -1 {
				return true
			}
		}
	}
	return false
}

// classicJoinConsumerGroup handles a JoinGroup to a consumer group with
// members (Kafka's classicGroupJoinToConsumerGroup). reply is called
// once, after the records are written.
func (s *Shard) classicJoinConsumerGroup(now time.Time, g *consumerGroup, req JoinRequest, reply func(JoinResponse), res *coordinator.Result) {
	fail := func(code int16) {
		res.Reply(func() { reply(JoinResponse{MemberID: req.MemberID, Generation: -1, ErrorCode: code}) })
	}
	memberID := req.MemberID
	unknown := memberID == ""
	if unknown {
		memberID = s.newUUID()
	}
	if _, ok := g.members[memberID]; !ok && len(g.members) >= int(s.cfg.ConsumerMaxSize) {
		fail(kerr.GroupMaxSizeReached.Code)
		return
	}
	if !g.supportsClassicProtocols(req.ProtocolType, req.Protocols) {
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	if unknown && req.InstanceID == nil && req.RequireKnownMemberID {
		res.Reply(func() { reply(JoinResponse{MemberID: memberID, Generation: -1, ErrorCode: kerr.MemberIDRequired.Code}) })
		return
	}
	var sub kmsg.ConsumerMemberMetadata
	if err := sub.ReadFrom(req.Protocols[0].Metadata); err != nil {
		s.log.Warn("malformed subscription in a JoinGroup to a consumer group", "group", g.id, "member_id", memberID, "err", err)
		fail(kerr.UnknownServerError.Code)
		return
	}

	fresh := &consumerMember{id: memberID, rebalanceTimeoutMs: -1, assigned: assignment{}, pendingRevocation: assignment{}}
	member, replaced := fresh, ""
	if req.InstanceID == nil {
		if m, ok := g.members[memberID]; ok {
			if m.classic == nil {
				fail(kerr.UnknownMemberID.Code)
				return
			}
			member = m
		}
	} else {
		existing := g.members[g.staticMembers[*req.InstanceID]]
		switch {
		case existing == nil:
			if m, ok := g.members[memberID]; ok {
				member = m
			}
		case existing.id == memberID:
			member = existing
		case unknown:
			member, replaced = s.replaceStaticConsumerMember(g, existing, memberID, res), existing.id
		default:
			fail(kerr.FencedInstanceID.Code)
			return
		}
	}

	topics := s.cfg.topics()
	updated := member.clone()
	if req.InstanceID != nil {
		updated.instanceID = req.InstanceID
	}
	if sub.Rack != nil {
		updated.rackID = sub.Rack
	}
	if req.RebalanceTimeoutMs != -1 {
		updated.rebalanceTimeoutMs = req.RebalanceTimeoutMs
	}
	updated.subscribedTopicNames = slices.Clone(sub.Topics)
	updated.subscribedTopicRegex = nil
	updated.clientID, updated.clientHost = req.ClientID, req.ClientHost
	updated.classic = &classicMemberMeta{sessionTimeoutMs: req.SessionTimeoutMs, protocols: slices.Clone(req.Protocols)}
	owned := assignment{}
	for _, t := range sub.OwnedPartitions {
		addByName(owned, topics, t.Topic, t.Partitions)
	}
	reconciled := s.updateConsumerMember(g, member, updated, replaced, false, owned, now, res)
	res.Replay = true

	protocolType, protocolName := consumerProtocolType, updated.classic.protocolName()
	resp := JoinResponse{MemberID: reconciled.id, Generation: reconciled.epoch, ProtocolType: &protocolType, ProtocolName: &protocolName}
	gid, sessionMs := g.id, req.SessionTimeoutMs
	onAppend(res, func(now time.Time, err error, next *coordinator.Result) {
		if err != nil {
			code := coordinator.WriteErrorCode(err)
			next.Reply(func() { reply(JoinResponse{MemberID: req.MemberID, Generation: -1, ErrorCode: code}) })
			return
		}
		s.scheduleConsumerSessionAfter(gid, resp.MemberID, sessionMs, now)
		next.Reply(func() { reply(resp) })
	})
}

// classicSyncConsumerGroup handles a SyncGroup to a consumer group
// (Kafka's classicGroupSyncToConsumerGroup): the member gets its current
// assignment.
func (s *Shard) classicSyncConsumerGroup(now time.Time, g *consumerGroup, req SyncRequest, reply func(SyncResponse), res *coordinator.Result) {
	fail := func(code int16) { res.Reply(func() { reply(SyncResponse{ErrorCode: code, Assignment: []byte{}}) }) }
	m, code := g.classicMember(req.MemberID, req.InstanceID)
	switch {
	case code != 0:
	case req.Generation != m.epoch:
		code = kerr.IllegalGeneration.Code
	case req.ProtocolType != nil && *req.ProtocolType != consumerProtocolType,
		req.ProtocolName != nil && *req.ProtocolName != m.classic.protocolName():
		code = kerr.InconsistentGroupProtocol.Code
	case g.epoch > m.epoch && m.state != memberUnrevokedPartitions:
		code = kerr.RebalanceInProgress.Code
	}
	if code != 0 {
		fail(code)
		return
	}
	s.scheduleConsumerSessionAfter(g.id, m.id, m.classic.sessionTimeoutMs, now)
	resp := SyncResponse{
		ProtocolType: req.ProtocolType, ProtocolName: req.ProtocolName,
		Assignment: encodeAssignment(s.cfg.topics(), m.assigned, subscriptionVersion(m.classic)),
	}
	res.Reply(func() { reply(resp) })
}

// classicHeartbeatConsumerGroup handles a Heartbeat to a consumer group
// (Kafka's classicGroupHeartbeatToConsumerGroup). REBALANCE_IN_PROGRESS
// asks the member to rejoin: the group epoch moved past it, it must
// revoke partitions, or the partitions it waits for were released.
func (s *Shard) classicHeartbeatConsumerGroup(now time.Time, g *consumerGroup, req HeartbeatRequest) int16 {
	m, code := g.classicMember(req.MemberID, req.InstanceID)
	if code != 0 {
		return code
	}
	if req.Generation != m.epoch {
		return kerr.IllegalGeneration.Code
	}
	s.scheduleConsumerSessionAfter(g.id, m.id, m.classic.sessionTimeoutMs, now)
	if m.epoch < g.epoch || m.state == memberUnrevokedPartitions ||
		(m.state == memberUnreleasedPartitions && !g.waitingOnUnreleased(m)) {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// classicLeaveConsumerGroup handles a LeaveGroup to a consumer group
// (Kafka's classicGroupLeaveToConsumerGroup): the members are fenced,
// which may downgrade the group.
func (s *Shard) classicLeaveConsumerGroup(now time.Time, g *consumerGroup, req LeaveRequest, res *coordinator.Result) LeaveResponse {
	out := LeaveResponse{}
	var leaving []string
	for _, lm := range req.Members {
		r := LeaveMemberResult{MemberID: lm.MemberID, InstanceID: lm.InstanceID}
		var m *consumerMember
		if lm.MemberID == "" {
			// An administrative removal of a static member.
			if lm.InstanceID != nil {
				m = g.members[g.staticMembers[*lm.InstanceID]]
			}
			if m == nil {
				r.ErrorCode = kerr.UnknownMemberID.Code
			}
		} else {
			m, r.ErrorCode = g.classicMember(lm.MemberID, lm.InstanceID)
		}
		if m != nil && !slices.Contains(leaving, m.id) {
			s.log.Info("member left the consumer group", "group", g.id, "member_id", m.id, "reason", reason(lm.Reason))
			leaving = append(leaving, m.id)
		}
		out.Members = append(out.Members, r)
	}
	if len(leaving) > 0 {
		s.fenceConsumerMembers(g, leaving, now, res)
		res.Replay = true
	}
	return out
}
