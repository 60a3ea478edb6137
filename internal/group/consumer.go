package group

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
	"github.com/gregor-streaming/gregor/internal/uuid"
)

// KIP-848 consumer groups: the server assigns partitions and each member
// converges to its target assignment through ConsumerGroupHeartbeat
// (Kafka's GroupMetadataManager.consumerGroupHeartbeat and
// CurrentAssignmentBuilder). Unlike classic groups, every change is a
// record and the in-memory state changes only by replaying them
// (Result.Replay), so an operation computes on local copies.
//
//	group epoch    bumped by every membership or subscription change
//	target epoch   the group epoch the target assignment was computed at
//	member epoch   the target epoch the member has converged to
//
// A member moves to a new target epoch once it has revoked what it must
// give up (UNREVOKED_PARTITIONS until then); partitions still held by
// another member are given once released (UNRELEASED_PARTITIONS).

// Member epochs with a meaning in requests.
const (
	leaveGroupMemberEpoch       = -1
	leaveGroupStaticMemberEpoch = -2
)

// Server-side assignors (group.consumer.assignors; the first is the
// default).
const (
	assignorUniform = "uniform"
	assignorRange   = "range"
)

var consumerAssignors = []string{assignorUniform, assignorRange}

type memberState int8

const (
	memberStable               memberState = 0
	memberUnrevokedPartitions  memberState = 1
	memberUnreleasedPartitions memberState = 2
	memberUnknownState         memberState = 127
)

// consumerMember is a member of a consumer group (Kafka's
// ConsumerGroupMember). Values are replaced, never mutated in place, once
// in a group.
type consumerMember struct {
	id                   string
	instanceID           *string
	rackID               *string
	clientID, clientHost string
	subscribedTopicNames []string
	subscribedTopicRegex *string
	rebalanceTimeoutMs   int32
	serverAssignor       *string

	epoch, previousEpoch int32
	state                memberState
	assigned             assignment
	pendingRevocation    assignment
	// classic is set for a member using the classic protocol (JoinGroup,
	// SyncGroup, Heartbeat) in a consumer group; see migration.go.
	classic *classicMemberMeta
}

func (m *consumerMember) clone() *consumerMember {
	c := *m
	c.subscribedTopicNames = slices.Clone(m.subscribedTopicNames)
	c.assigned = m.assigned.clone()
	c.pendingRevocation = m.pendingRevocation.clone()
	return &c
}

func (m *consumerMember) reconciledTo(epoch int32) bool {
	return m.state == memberStable && m.epoch == epoch
}

// resolvedRegex is a subscription regex resolved against the topics.
type resolvedRegex struct {
	topics    []string
	version   int64
	timestamp int64
}

// consumerGroup is a KIP-848 group (Kafka's ConsumerGroup).
type consumerGroup struct {
	id            string
	epoch         int32
	targetEpoch   int32
	members       map[string]*consumerMember
	staticMembers map[string]string // instance id → member id
	target        map[string]assignment
	regexes       map[string]resolvedRegex
	// owners maps a partition to the epoch of the member holding it
	// (assigned or pending revocation).
	owners map[[16]byte]map[int32]int32
	// topicsSnapshot is the metadata of the subscribed topics the target
	// assignment was computed with; nil when not known (after a load).
	topicsSnapshot map[string]topicMeta
}

type topicMeta struct {
	id         [16]byte
	partitions int32
}

func newConsumerGroup(id string) *consumerGroup {
	return &consumerGroup{
		id: id, targetEpoch: -1,
		members: map[string]*consumerMember{}, staticMembers: map[string]string{},
		target: map[string]assignment{}, regexes: map[string]resolvedRegex{},
		owners: map[[16]byte]map[int32]int32{},
	}
}

// Consumer group states, as ListGroups and ConsumerGroupDescribe show
// them.
const (
	consumerStateEmpty       = "Empty"
	consumerStateAssigning   = "Assigning"
	consumerStateReconciling = "Reconciling"
	consumerStateStable      = "Stable"
)

func (g *consumerGroup) state() string {
	switch {
	case len(g.members) == 0:
		return consumerStateEmpty
	case g.epoch > g.targetEpoch:
		return consumerStateAssigning
	}
	for _, m := range g.members {
		if !m.reconciledTo(g.targetEpoch) {
			return consumerStateReconciling
		}
	}
	return consumerStateStable
}

func (g *consumerGroup) isEmpty() bool { return len(g.members) == 0 }

// partitionEpoch is the epoch of the member holding a partition, -1 if
// free.
func (g *consumerGroup) partitionEpoch(topic [16]byte, p int32) int32 {
	if e, ok := g.owners[topic][p]; ok {
		return e
	}
	return -1
}

func (g *consumerGroup) setOwners(m *consumerMember, add bool) {
	for _, a := range []assignment{m.assigned, m.pendingRevocation} {
		for t, ps := range a {
			for p := range ps {
				if add {
					if g.owners[t] == nil {
						g.owners[t] = map[int32]int32{}
					}
					g.owners[t][p] = m.epoch
				} else if g.owners[t] != nil {
					delete(g.owners[t], p)
				}
			}
		}
	}
}

// updateMember replaces a member's value.
func (g *consumerGroup) updateMember(m *consumerMember) {
	if old, ok := g.members[m.id]; ok {
		g.setOwners(old, false)
		if old.instanceID != nil && (m.instanceID == nil || *old.instanceID != *m.instanceID) {
			delete(g.staticMembers, *old.instanceID)
		}
	}
	g.members[m.id] = m
	if m.instanceID != nil {
		g.staticMembers[*m.instanceID] = m.id
	}
	g.setOwners(m, true)
}

func (g *consumerGroup) removeMember(id string) {
	m, ok := g.members[id]
	if !ok {
		return
	}
	g.setOwners(m, false)
	delete(g.members, id)
	if m.instanceID != nil && g.staticMembers[*m.instanceID] == id {
		delete(g.staticMembers, *m.instanceID)
	}
}

// replayConsumer applies a consumer group record.
func (s *Shard) replayConsumer(typ int16, key, value []byte) error {
	nFields := 1
	switch typ {
	case keyConsumerGroupMemberMetadata, keyConsumerGroupTargetMember, keyConsumerGroupCurrentAssignment, keyConsumerGroupRegex:
		nFields = 2
	}
	fields, err := readKeyFields(key, nFields)
	if err != nil {
		return err
	}
	gid := fields[0]
	g := s.consumerGroups[gid]
	if g == nil {
		if value == nil {
			return nil // a tombstone for a group already gone
		}
		if _, ok := s.groups[gid]; ok {
			// The classic group was converted; its tombstone precedes.
			s.removeGroup(gid)
		}
		g = newConsumerGroup(gid)
		s.consumerGroups[gid] = g
	}
	var r *flexReader
	if value != nil {
		r = newFlexReader(value)
	}
	switch typ {
	case keyConsumerGroupMetadata:
		if value == nil {
			s.removeConsumerGroup(gid)
			return nil
		}
		g.epoch = r.int32()
	case keyConsumerGroupPartitionMetadata:
		// Kafka 4.0's subscription metadata: recomputed instead.
		return nil
	case keyConsumerGroupMemberMetadata:
		mid := fields[1]
		if value == nil {
			g.removeMember(mid)
			return nil
		}
		m := &consumerMember{id: mid, assigned: assignment{}, pendingRevocation: assignment{}}
		if old, ok := g.members[mid]; ok {
			m = old.clone()
		}
		m.instanceID = r.nullableString()
		m.rackID = r.nullableString()
		m.clientID = r.string()
		m.clientHost = r.string()
		m.subscribedTopicNames = r.strings()
		m.subscribedTopicRegex = r.nullableString()
		m.rebalanceTimeoutMs = r.int32()
		m.serverAssignor = r.nullableString()
		m.classic = r.readClassicMemberMetadata()
		if r.err != nil {
			return r.err
		}
		g.updateMember(m)
	case keyConsumerGroupTargetMetadata:
		if value == nil {
			g.targetEpoch = -1
			return nil
		}
		g.targetEpoch = r.int32()
	case keyConsumerGroupTargetMember:
		if value == nil {
			delete(g.target, fields[1])
			return nil
		}
		g.target[fields[1]] = r.topicPartitions()
	case keyConsumerGroupCurrentAssignment:
		mid := fields[1]
		old, ok := g.members[mid]
		if !ok {
			if value == nil {
				return nil
			}
			old = &consumerMember{id: mid, assigned: assignment{}, pendingRevocation: assignment{}}
		}
		m := old.clone()
		if value == nil {
			m.epoch, m.previousEpoch = leaveGroupMemberEpoch, leaveGroupMemberEpoch
			m.assigned, m.pendingRevocation = assignment{}, assignment{}
		} else {
			m.epoch = r.int32()
			m.previousEpoch = r.int32()
			m.state = memberState(r.int8())
			m.assigned = r.topicPartitions()
			m.pendingRevocation = r.topicPartitions()
		}
		g.updateMember(m)
	case keyConsumerGroupRegex:
		if value == nil {
			delete(g.regexes, fields[1])
			return nil
		}
		rr := resolvedRegex{topics: r.strings(), version: r.int64(), timestamp: r.int64()}
		g.regexes[fields[1]] = rr
	}
	if r != nil && r.err != nil {
		return r.err
	}
	return nil
}

func (s *Shard) removeConsumerGroup(gid string) {
	g, ok := s.consumerGroups[gid]
	if !ok {
		return
	}
	for mid := range g.members {
		s.timers.Cancel(consumerSessionKey(gid, mid))
		s.timers.Cancel(consumerRebalanceKey(gid, mid))
	}
	delete(s.consumerGroups, gid)
}

func consumerSessionKey(group, member string) string {
	return "consumer-session-" + group + "-" + member
}
func consumerRebalanceKey(group, member string) string {
	return "consumer-rebalance-" + group + "-" + member
}

// ConsumerHeartbeatRequest is a ConsumerGroupHeartbeat request. Nil
// fields are "unchanged since the last heartbeat".
type ConsumerHeartbeatRequest struct {
	Group                string
	MemberID             string
	MemberEpoch          int32
	InstanceID           *string
	RackID               *string
	RebalanceTimeoutMs   int32
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	ServerAssignor       *string
	// OwnedPartitions are the partitions the member owns; nil when not
	// sent.
	OwnedPartitions []TopicPartitions
	ClientID        string
	ClientHost      string
	Version         int16
}

// TopicPartitions names partitions of a topic by id.
type TopicPartitions struct {
	TopicID    [16]byte
	Partitions []int32
}

// ConsumerHeartbeatResponse is a ConsumerGroupHeartbeat response.
type ConsumerHeartbeatResponse struct {
	ErrorCode           int16
	ErrorMessage        *string
	MemberID            string
	MemberEpoch         int32
	HeartbeatIntervalMs int32
	// Assignment is sent when HasAssignment (a full request, or a
	// change).
	HasAssignment bool
	Assignment    []TopicPartitions
}

// heartbeatError is an error answer with Kafka's message.
type heartbeatError struct {
	code int16
	msg  string
}

func hbErr(code *kerr.Error, format string, args ...any) *heartbeatError {
	return &heartbeatError{code: code.Code, msg: fmt.Sprintf(format, args...)}
}

func (e *heartbeatError) response(req ConsumerHeartbeatRequest) ConsumerHeartbeatResponse {
	msg := e.msg
	return ConsumerHeartbeatResponse{ErrorCode: e.code, ErrorMessage: &msg, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
}

// validateConsumerHeartbeat applies Kafka's request checks
// (throwIfConsumerGroupHeartbeatRequestIsInvalid).
func validateConsumerHeartbeat(req ConsumerHeartbeatRequest) *heartbeatError {
	switch {
	case req.Group == "":
		return hbErr(kerr.InvalidRequest, "GroupId can't be empty.")
	case req.InstanceID != nil && *req.InstanceID == "":
		return hbErr(kerr.InvalidRequest, "InstanceId can't be empty.")
	case req.RackID != nil && *req.RackID == "":
		return hbErr(kerr.InvalidRequest, "RackId can't be empty.")
	case req.Version >= 1 && req.MemberID == "":
		return hbErr(kerr.InvalidRequest, "MemberId can't be empty.")
	}
	switch e := req.MemberEpoch; {
	case e > 0 || e == leaveGroupMemberEpoch:
		if req.MemberID == "" {
			return hbErr(kerr.InvalidRequest, "MemberId can't be empty.")
		}
	case e == 0:
		if req.RebalanceTimeoutMs == -1 {
			return hbErr(kerr.InvalidRequest, "RebalanceTimeoutMs must be provided in first request.")
		}
		if req.OwnedPartitions == nil || len(req.OwnedPartitions) > 0 {
			return hbErr(kerr.InvalidRequest, "TopicPartitions must be empty when (re-)joining.")
		}
		if req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil {
			return hbErr(kerr.InvalidRequest, "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.")
		}
	case e == leaveGroupStaticMemberEpoch:
		if req.InstanceID == nil {
			return hbErr(kerr.InvalidRequest, "InstanceId can't be null.")
		}
	default:
		return hbErr(kerr.InvalidRequest, "MemberEpoch is invalid.")
	}
	if req.SubscribedTopicRegex != nil {
		if _, err := compileTopicRegex(*req.SubscribedTopicRegex); err != nil {
			return hbErr(kerr.InvalidRegularExpression, "SubscribedTopicRegex `%s` is not a valid regular expression: %v.", *req.SubscribedTopicRegex, err)
		}
	}
	if req.ServerAssignor != nil && !slices.Contains(consumerAssignors, *req.ServerAssignor) {
		return hbErr(kerr.UnsupportedAssignor, "ServerAssignor %s is not supported. Supported assignors: %s.", *req.ServerAssignor, strings.Join(consumerAssignors, ", "))
	}
	return nil
}

// compileTopicRegex compiles a subscription regex, which must match a
// whole topic name (as Java's Pattern.matches).
func compileTopicRegex(re string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + re + ")$")
}

// ConsumerGroupHeartbeat handles a ConsumerGroupHeartbeat request (Kafka's
// consumerGroupHeartbeat): join, heartbeat, leave. reply is called once,
// after the records are written.
func (s *Shard) ConsumerGroupHeartbeat(now time.Time, req ConsumerHeartbeatRequest, reply func(ConsumerHeartbeatResponse), res *coordinator.Result) {
	resp, herr := s.consumerHeartbeat(now, req, res)
	if herr != nil {
		res.Records = nil
		r := herr.response(req)
		res.Reply(func() { reply(r) })
		return
	}
	res.Replay = true
	onAppend(res, func(_ time.Time, err error, next *coordinator.Result) {
		if err != nil {
			code := coordinator.WriteErrorCode(err)
			msg := kerr.TypedErrorForCode(code).Description
			resp = ConsumerHeartbeatResponse{ErrorCode: code, ErrorMessage: &msg, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
		}
		next.Reply(func() { reply(resp) })
	})
}

func (s *Shard) consumerHeartbeat(now time.Time, req ConsumerHeartbeatRequest, res *coordinator.Result) (ConsumerHeartbeatResponse, *heartbeatError) {
	if herr := validateConsumerHeartbeat(req); herr != nil {
		return ConsumerHeartbeatResponse{}, herr
	}
	if req.MemberEpoch == leaveGroupMemberEpoch || req.MemberEpoch == leaveGroupStaticMemberEpoch {
		return s.consumerLeave(now, req, res)
	}

	join := req.MemberEpoch == 0
	g, herr := s.consumerGroupForHeartbeat(req.Group, join, res)
	if herr != nil {
		return ConsumerHeartbeatResponse{}, herr
	}
	memberID := req.MemberID
	if memberID == "" { // v0: the coordinator names new members
		memberID = uuid.Format(uuid.New())
	}
	if _, ok := g.members[memberID]; !ok && join && len(g.members) >= int(s.cfg.ConsumerMaxSize) {
		return ConsumerHeartbeatResponse{}, hbErr(kerr.GroupMaxSizeReached, "The consumer group has reached its maximum capacity of %d members.", s.cfg.ConsumerMaxSize)
	}

	var member *consumerMember
	replaced := ""
	rejoined := false
	if req.InstanceID == nil {
		member, rejoined, herr = s.dynamicMember(g, memberID, req, join)
	} else {
		member, replaced, herr = s.staticMember(g, memberID, req, join, res)
	}
	if herr != nil {
		return ConsumerHeartbeatResponse{}, herr
	}
	// 1. The member's new metadata; a new member or a new subscription
	// bumps the group epoch.
	updated := member.clone()
	if req.InstanceID != nil {
		updated.instanceID = req.InstanceID
	}
	if req.RackID != nil {
		updated.rackID = req.RackID
	}
	if req.RebalanceTimeoutMs != -1 {
		updated.rebalanceTimeoutMs = req.RebalanceTimeoutMs
	}
	if req.ServerAssignor != nil {
		updated.serverAssignor = req.ServerAssignor
	}
	if req.SubscribedTopicNames != nil {
		updated.subscribedTopicNames = slices.Clone(req.SubscribedTopicNames)
	}
	if req.SubscribedTopicRegex != nil {
		if *req.SubscribedTopicRegex == "" {
			updated.subscribedTopicRegex = nil
		} else {
			updated.subscribedTopicRegex = req.SubscribedTopicRegex
		}
	}
	updated.clientID, updated.clientHost = req.ClientID, req.ClientHost
	updated.classic = nil

	var owned assignment
	if req.OwnedPartitions != nil {
		owned = assignmentOf(req.OwnedPartitions)
	}
	reconciled := s.updateConsumerMember(g, member, updated, replaced, rejoined, owned, now, res)

	s.scheduleConsumerSession(g.id, reconciled.id, now)

	resp := ConsumerHeartbeatResponse{
		MemberID: reconciled.id, MemberEpoch: reconciled.epoch,
		HeartbeatIntervalMs: s.cfg.ConsumerHeartbeatIntervalMs,
	}
	full := join || (req.RebalanceTimeoutMs != -1 && (req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.OwnedPartitions != nil)
	if full || !reconciled.assigned.equal(member.assigned) {
		resp.HasAssignment = true
		resp.Assignment = reconciled.assigned.toTopicPartitions()
	}
	return resp, nil
}

// updateConsumerMember applies a member's new metadata to the group and
// reconciles it (Kafka's steps 1-3 of a heartbeat, shared by
// ConsumerGroupHeartbeat and a classic member's JoinGroup): a new member
// or a new subscription bumps the group epoch, a bumped epoch computes a
// new target assignment, and the member moves towards its target.
// replaced is the static member updated takes over from, rejoined says
// member joined again under its id; owned is what the member reports it
// owns, nil when unknown.
func (s *Shard) updateConsumerMember(g *consumerGroup, member, updated *consumerMember, replaced string, rejoined bool, owned assignment, now time.Time, res *coordinator.Result) *consumerMember {
	// The group's members and targets as this operation sees them (the
	// group itself changes only when the records are replayed).
	members := maps.Clone(g.members)
	targets := g.target
	if replaced != "" {
		delete(members, replaced)
		targets = maps.Clone(g.target)
		if t, ok := targets[replaced]; ok {
			targets[member.id] = t
			delete(targets, replaced)
		}
	}

	bump := g.epoch == 0 || rejoined
	if rejoined {
		// Its old assignment is released at once.
		res.Add(consumerCurrentAssignmentRecord(g.id, member))
	}
	if _, ok := members[updated.id]; !ok || memberMetadataChanged(member, updated) {
		res.Add(consumerMemberMetadataRecord(g.id, updated))
		if !ok || subscriptionChanged(member, updated) {
			bump = true
		}
	}
	members[updated.id] = updated
	regexes := s.updateRegexes(g, members, now, res)
	if !maps.EqualFunc(regexes, g.regexes, func(a, b resolvedRegex) bool { return slices.Equal(a.topics, b.topics) }) {
		bump = true
	}
	snapshot := s.subscriptionSnapshot(members, regexes)
	if g.topicsSnapshot != nil && !maps.Equal(snapshot, g.topicsSnapshot) {
		bump = true // a subscribed topic was created, deleted or grew
	}
	gid := g.id
	onAppend(res, func(_ time.Time, err error, _ *coordinator.Result) {
		if cg := s.consumerGroups[gid]; err == nil && cg != nil {
			cg.topicsSnapshot = snapshot
		}
	})

	groupEpoch := g.epoch
	if bump {
		groupEpoch++
		res.Add(consumerGroupEpochRecord(g.id, groupEpoch))
	}

	// 2. A new target assignment when the group epoch moved.
	targetEpoch := g.targetEpoch
	target := targets
	if groupEpoch > g.targetEpoch {
		target = s.computeTargetAssignment(g, targets, members, regexes, snapshot, res)
		targetEpoch = groupEpoch
		res.Add(consumerTargetMetadataRecord(g.id, targetEpoch))
	}

	// 3. Bring the member towards its target.
	return s.reconcile(g, updated, targetEpoch, target[updated.id], owned, now, res)
}

// consumerGroupForHeartbeat returns the consumer group of a heartbeat,
// creating it on a join; an empty classic group of that name is
// converted (deleted), a classic group with members is upgraded when
// the migration policy allows it (see migration.go) and refuses
// otherwise.
func (s *Shard) consumerGroupForHeartbeat(gid string, create bool, res *coordinator.Result) (*consumerGroup, *heartbeatError) {
	if g, ok := s.consumerGroups[gid]; ok {
		return g, nil
	}
	if cg, ok := s.groups[gid]; ok {
		if create && !cg.is(stateEmpty) && cg.numMembers() > 0 && s.validateOnlineUpgrade(cg) {
			return s.convertToConsumerGroup(cg, res)
		}
		if !create || !cg.is(stateEmpty) {
			return nil, hbErr(kerr.GroupIDNotFound, "Group %s is not a consumer group.", gid)
		}
		// The empty classic group goes; its offsets stay.
		res.Add(groupTombstone(gid))
	}
	if !create {
		return nil, hbErr(kerr.GroupIDNotFound, "Group %s not found.", gid)
	}
	// Not in the map until its records are replayed.
	return newConsumerGroup(gid), nil
}

// dynamicMember returns the member a heartbeat is from. A member that
// joins again (epoch 0) under the id it still has, as a fenced member
// does, starts over: rejoined is set and its assignment is dropped.
func (s *Shard) dynamicMember(g *consumerGroup, id string, req ConsumerHeartbeatRequest, join bool) (m *consumerMember, rejoined bool, herr *heartbeatError) {
	m, ok := g.members[id]
	if !ok {
		if !join {
			return nil, false, hbErr(kerr.UnknownMemberID, "Member %s is not a member of group %s.", id, g.id)
		}
		return &consumerMember{id: id, rebalanceTimeoutMs: -1, assigned: assignment{}, pendingRevocation: assignment{}}, false, nil
	}
	if join && m.epoch != 0 {
		fresh := m.clone()
		fresh.epoch, fresh.previousEpoch, fresh.state = 0, 0, memberStable
		fresh.assigned, fresh.pendingRevocation = assignment{}, assignment{}
		s.timers.Cancel(consumerRebalanceKey(g.id, id))
		return fresh, true, nil
	}
	if herr := checkMemberEpoch(m, req.MemberEpoch, req.OwnedPartitions); herr != nil {
		return nil, false, herr
	}
	return m, false, nil
}

// staticMember returns the member of a static instance; replaced is the
// member id it took over from, if it rejoined under a new one.
func (s *Shard) staticMember(g *consumerGroup, id string, req ConsumerHeartbeatRequest, join bool, res *coordinator.Result) (m *consumerMember, replaced string, herr *heartbeatError) {
	instance := *req.InstanceID
	existing := g.members[g.staticMembers[instance]]
	if join {
		if existing == nil {
			if m, ok := g.members[id]; ok {
				if herr := checkMemberEpoch(m, req.MemberEpoch, req.OwnedPartitions); herr != nil {
					return nil, "", herr
				}
				return m, "", nil
			}
			return &consumerMember{id: id, rebalanceTimeoutMs: -1, assigned: assignment{}, pendingRevocation: assignment{}}, "", nil
		}
		if existing.id == id {
			if herr := checkMemberEpoch(existing, req.MemberEpoch, req.OwnedPartitions); herr != nil {
				return nil, "", herr
			}
			return existing, "", nil
		}
		if existing.epoch != leaveGroupStaticMemberEpoch {
			return nil, "", hbErr(kerr.UnreleasedInstanceID, "Static member %s with instance id %s cannot join the group because the instance id is owned by member %s.", id, instance, existing.id)
		}
		return s.replaceStaticConsumerMember(g, existing, id, res), existing.id, nil
	}
	if existing == nil {
		return nil, "", hbErr(kerr.UnknownMemberID, "Instance id %s is unknown.", instance)
	}
	if existing.id != id {
		return nil, "", hbErr(kerr.FencedInstanceID, "Static member %s with instance id %s was fenced by member %s.", id, instance, existing.id)
	}
	if herr := checkMemberEpoch(existing, req.MemberEpoch, req.OwnedPartitions); herr != nil {
		return nil, "", herr
	}
	return existing, "", nil
}

// replaceStaticConsumerMember: a static instance rejoins under a new
// member id and takes over the old member's assignment.
func (s *Shard) replaceStaticConsumerMember(g *consumerGroup, existing *consumerMember, id string, res *coordinator.Result) *consumerMember {
	s.log.Info("static member rejoins the consumer group with a new member id", "group", g.id, "instance_id", *existing.instanceID, "member_id", id, "old_member_id", existing.id)
	replacement := &consumerMember{
		id: id, instanceID: existing.instanceID, rackID: existing.rackID,
		rebalanceTimeoutMs: existing.rebalanceTimeoutMs, serverAssignor: existing.serverAssignor,
		subscribedTopicNames: slices.Clone(existing.subscribedTopicNames), subscribedTopicRegex: existing.subscribedTopicRegex,
		state: memberStable, assigned: existing.assigned.clone(), pendingRevocation: existing.pendingRevocation.clone(),
	}
	s.removeConsumerMemberRecords(g, existing.id, res)
	if t, ok := g.target[existing.id]; ok {
		res.Add(consumerTargetMemberRecord(g.id, id, t))
	}
	res.Add(consumerCurrentAssignmentRecord(g.id, replacement))
	return replacement
}

// checkMemberEpoch fences a member whose epoch is ahead of the
// coordinator's, or behind it unless it is the previous epoch with owned
// partitions inside its assignment (the response that bumped it was
// lost).
func checkMemberEpoch(m *consumerMember, epoch int32, owned []TopicPartitions) *heartbeatError {
	switch {
	case epoch > m.epoch:
		return hbErr(kerr.FencedMemberEpoch, "The consumer group member has a greater member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", epoch, m.epoch)
	case epoch < m.epoch:
		if epoch != m.previousEpoch || !ownedSubset(owned, m.assigned) {
			return hbErr(kerr.FencedMemberEpoch, "The consumer group member has a smaller member epoch (%d) than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", epoch, m.epoch)
		}
	}
	return nil
}

func ownedSubset(owned []TopicPartitions, a assignment) bool {
	if owned == nil {
		return false
	}
	for _, tp := range owned {
		for _, p := range tp.Partitions {
			if !a.has(tp.TopicID, p) {
				return false
			}
		}
	}
	return true
}

func memberMetadataChanged(a, b *consumerMember) bool {
	return !eqStr(a.instanceID, b.instanceID) || !eqStr(a.rackID, b.rackID) || a.clientID != b.clientID ||
		a.clientHost != b.clientHost || a.rebalanceTimeoutMs != b.rebalanceTimeoutMs || subscriptionChanged(a, b) ||
		!a.classic.equal(b.classic)
}

func subscriptionChanged(a, b *consumerMember) bool {
	return !slices.Equal(slices.Sorted(slices.Values(a.subscribedTopicNames)), slices.Sorted(slices.Values(b.subscribedTopicNames))) ||
		!eqStr(a.subscribedTopicRegex, b.subscribedTopicRegex) || !eqStr(a.serverAssignor, b.serverAssignor)
}

func eqStr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// updateRegexes resolves the regexes members subscribe with against the
// current topics, writing a record for each new or changed resolution and
// a tombstone for each regex no member uses any more.
func (s *Shard) updateRegexes(g *consumerGroup, members map[string]*consumerMember, now time.Time, res *coordinator.Result) map[string]resolvedRegex {
	used := map[string]bool{}
	for _, m := range members {
		if m.subscribedTopicRegex != nil && *m.subscribedTopicRegex != "" {
			used[*m.subscribedTopicRegex] = true
		}
	}
	out := map[string]resolvedRegex{}
	var names []string
	if len(used) > 0 {
		names = slices.Sorted(slices.Values(s.cfg.topics().TopicNames()))
	}
	for _, re := range slices.Sorted(maps.Keys(used)) {
		rx, err := compileTopicRegex(re)
		if err != nil {
			continue
		}
		var topics []string
		for _, n := range names {
			if rx.MatchString(n) {
				topics = append(topics, n)
			}
		}
		old, ok := g.regexes[re]
		if ok && slices.Equal(old.topics, topics) {
			out[re] = old
			continue
		}
		rr := resolvedRegex{topics: topics, version: old.version + 1, timestamp: ms(now)}
		out[re] = rr
		res.Add(consumerRegexRecord(g.id, re, topics, rr.version, rr.timestamp))
	}
	for re := range g.regexes {
		if !used[re] {
			res.Add(consumerTombstone(keyConsumerGroupRegex, g.id, re))
		}
	}
	return out
}

// subscribedTopics returns the existing topics a member subscribes to.
func (s *Shard) subscribedTopics(m *consumerMember, regexes map[string]resolvedRegex) []string {
	set := map[string]bool{}
	for _, t := range m.subscribedTopicNames {
		set[t] = true
	}
	if m.subscribedTopicRegex != nil {
		for _, t := range regexes[*m.subscribedTopicRegex].topics {
			set[t] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// subscriptionSnapshot is the metadata of every topic the members
// subscribe to that exists.
func (s *Shard) subscriptionSnapshot(members map[string]*consumerMember, regexes map[string]resolvedRegex) map[string]topicMeta {
	out := map[string]topicMeta{}
	topics := s.cfg.topics()
	for _, m := range members {
		for _, t := range s.subscribedTopics(m, regexes) {
			if id, n, ok := topics.TopicByName(t); ok {
				out[t] = topicMeta{id: id, partitions: n}
			}
		}
	}
	return out
}

// computeTargetAssignment runs the group's assignor over members and
// writes a record for each member whose target changed (a tombstone for
// each member gone).
func (s *Shard) computeTargetAssignment(g *consumerGroup, current map[string]assignment, members map[string]*consumerMember, regexes map[string]resolvedRegex, snapshot map[string]topicMeta, res *coordinator.Result) map[string]assignment {
	in := assignorInput{subscriptions: map[string][]topicRef{}, current: current}
	for _, id := range slices.Sorted(maps.Keys(members)) {
		m := members[id]
		in.members = append(in.members, id)
		for _, t := range s.subscribedTopics(m, regexes) {
			if meta, ok := snapshot[t]; ok {
				in.subscriptions[id] = append(in.subscriptions[id], topicRef{name: t, id: meta.id, partitions: meta.partitions})
			}
		}
	}
	var target map[string]assignment
	switch preferredAssignor(members) {
	case assignorRange:
		target = assignRange(in)
	default:
		target = assignUniform(in)
	}
	for _, id := range in.members {
		if old, ok := current[id]; !ok || !old.equal(target[id]) {
			res.Add(consumerTargetMemberRecord(g.id, id, target[id]))
		}
	}
	for id := range current {
		if _, ok := members[id]; !ok {
			res.Add(consumerTombstone(keyConsumerGroupTargetMember, g.id, id))
		}
	}
	return target
}

// preferredAssignor is the server assignor most members ask for (Kafka's
// computePreferredServerAssignor), else the default.
func preferredAssignor(members map[string]*consumerMember) string {
	counts := map[string]int{}
	for _, m := range members {
		if m.serverAssignor != nil {
			counts[*m.serverAssignor]++
		}
	}
	best := consumerAssignors[0]
	bestN := 0
	for _, name := range consumerAssignors {
		if counts[name] > bestN {
			best, bestN = name, counts[name]
		}
	}
	return best
}

// reconcile moves a member towards its target assignment (Kafka's
// CurrentAssignmentBuilder) and writes its new current assignment when
// it changed. A member that must revoke partitions keeps its epoch and
// gets a rebalance timeout.
func (s *Shard) reconcile(g *consumerGroup, m *consumerMember, targetEpoch int32, target assignment, owned assignment, now time.Time, res *coordinator.Result) *consumerMember {
	if m.reconciledTo(targetEpoch) {
		return m
	}
	ownsRevoked := func(pending assignment) bool {
		if owned == nil {
			return true
		}
		for t, ps := range owned {
			for p := range ps {
				if pending.has(t, p) {
					return true
				}
			}
		}
		return false
	}
	next := m
	switch m.state {
	case memberUnrevokedPartitions:
		if !ownsRevoked(m.pendingRevocation) {
			next = s.nextAssignment(g, m, targetEpoch, target, ownsRevoked)
		}
	default:
		next = s.nextAssignment(g, m, targetEpoch, target, ownsRevoked)
	}
	if next.epoch != m.epoch || next.state != m.state || !next.assigned.equal(m.assigned) || !next.pendingRevocation.equal(m.pendingRevocation) || next.previousEpoch != m.previousEpoch {
		res.Add(consumerCurrentAssignmentRecord(g.id, next))
		if next.state == memberUnrevokedPartitions {
			s.scheduleConsumerRebalance(g.id, next.id, next.epoch, next.rebalanceTimeoutMs, now)
		} else {
			s.timers.Cancel(consumerRebalanceKey(g.id, next.id))
		}
	}
	return next
}

func (s *Shard) nextAssignment(g *consumerGroup, m *consumerMember, targetEpoch int32, target assignment, ownsRevoked func(assignment) bool) *consumerMember {
	if target == nil {
		target = assignment{}
	}
	assigned, revoking, pending := assignment{}, assignment{}, assignment{}
	unreleased := false
	topics := map[[16]byte]bool{}
	for t := range target {
		topics[t] = true
	}
	for t := range m.assigned {
		topics[t] = true
	}
	for t := range topics {
		for p := range m.assigned[t] {
			if target.has(t, p) {
				assigned.add(t, p)
			} else {
				revoking.add(t, p)
			}
		}
		for p := range target[t] {
			if assigned.has(t, p) {
				continue
			}
			if g.partitionEpoch(t, p) != -1 && !m.pendingRevocation.has(t, p) && !m.assigned.has(t, p) {
				unreleased = true
				continue
			}
			pending.add(t, p)
		}
	}
	next := m.clone()
	switch {
	case revoking.size() > 0 && ownsRevoked(revoking):
		next.state = memberUnrevokedPartitions
		next.assigned, next.pendingRevocation = assigned, revoking
	default:
		for t, ps := range pending {
			for p := range ps {
				assigned.add(t, p)
			}
		}
		next.state = memberStable
		if unreleased {
			next.state = memberUnreleasedPartitions
		}
		if next.epoch != targetEpoch {
			next.previousEpoch, next.epoch = m.epoch, targetEpoch
		}
		next.assigned, next.pendingRevocation = assigned, assignment{}
	}
	return next
}

// consumerLeave handles a leave (epoch -1) or a static member's
// temporary leave (epoch -2).
func (s *Shard) consumerLeave(now time.Time, req ConsumerHeartbeatRequest, res *coordinator.Result) (ConsumerHeartbeatResponse, *heartbeatError) {
	g, ok := s.consumerGroups[req.Group]
	if !ok {
		if _, classic := s.groups[req.Group]; classic {
			return ConsumerHeartbeatResponse{}, hbErr(kerr.GroupIDNotFound, "Group %s is not a consumer group.", req.Group)
		}
		return ConsumerHeartbeatResponse{}, hbErr(kerr.GroupIDNotFound, "Group %s not found.", req.Group)
	}
	resp := ConsumerHeartbeatResponse{MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	var m *consumerMember
	if req.InstanceID == nil {
		m = g.members[req.MemberID]
		if m == nil {
			return ConsumerHeartbeatResponse{}, hbErr(kerr.UnknownMemberID, "Member %s is not a member of group %s.", req.MemberID, g.id)
		}
	} else {
		m = g.members[g.staticMembers[*req.InstanceID]]
		if m == nil {
			return ConsumerHeartbeatResponse{}, hbErr(kerr.UnknownMemberID, "Instance id %s is unknown.", *req.InstanceID)
		}
		if m.id != req.MemberID {
			return ConsumerHeartbeatResponse{}, hbErr(kerr.FencedInstanceID, "Static member %s with instance id %s was fenced by member %s.", req.MemberID, *req.InstanceID, m.id)
		}
		if req.MemberEpoch == leaveGroupStaticMemberEpoch {
			// The instance may come back (under a new member id) within
			// its session timeout and take its assignment over.
			s.log.Info("static member left the consumer group temporarily", "group", g.id, "member_id", m.id, "instance_id", *req.InstanceID)
			left := m.clone()
			left.epoch = leaveGroupStaticMemberEpoch
			left.pendingRevocation = assignment{}
			res.Add(consumerCurrentAssignmentRecord(g.id, left))
			s.timers.Cancel(consumerRebalanceKey(g.id, m.id))
			return resp, nil
		}
	}
	s.log.Info("member left the consumer group", "group", g.id, "member_id", m.id)
	s.fenceConsumerMembers(g, []string{m.id}, now, res)
	return resp, nil
}

// fenceConsumerMembers removes members and bumps the group epoch so the
// others rebalance (Kafka's consumerGroupFenceMember). When only classic
// members would remain, the group is downgraded to a classic group
// instead, if the migration policy allows it (see migration.go).
func (s *Shard) fenceConsumerMembers(g *consumerGroup, ids []string, now time.Time, res *coordinator.Result) {
	if s.validateOnlineDowngrade(g, ids) {
		s.convertToClassicGroup(g, ids, now, res)
		return
	}
	members := maps.Clone(g.members)
	for _, id := range ids {
		s.removeConsumerMemberRecords(g, id, res)
		delete(members, id)
	}
	for re := range g.regexes {
		usedStill := false
		for _, o := range members {
			if o.subscribedTopicRegex != nil && *o.subscribedTopicRegex == re {
				usedStill = true
			}
		}
		if !usedStill {
			res.Add(consumerTombstone(keyConsumerGroupRegex, g.id, re))
		}
	}
	res.Add(consumerGroupEpochRecord(g.id, g.epoch+1))
}

// removeConsumerMemberRecords writes the tombstones that remove a
// member: its current and target assignments, then its metadata.
func (s *Shard) removeConsumerMemberRecords(g *consumerGroup, memberID string, res *coordinator.Result) {
	res.Add(consumerTombstone(keyConsumerGroupCurrentAssignment, g.id, memberID))
	res.Add(consumerTombstone(keyConsumerGroupTargetMember, g.id, memberID))
	res.Add(consumerTombstone(keyConsumerGroupMemberMetadata, g.id, memberID))
	s.timers.Cancel(consumerSessionKey(g.id, memberID))
	s.timers.Cancel(consumerRebalanceKey(g.id, memberID))
}

// scheduleConsumerSession (re)starts a member's session timeout
// (group.consumer.session.timeout.ms): a member that stops heartbeating
// is fenced.
func (s *Shard) scheduleConsumerSession(gid, mid string, now time.Time) {
	s.scheduleConsumerSessionAfter(gid, mid, s.cfg.ConsumerSessionTimeoutMs, now)
}

// scheduleConsumerSessionAfter is scheduleConsumerSession with a given
// timeout: a classic member's is the session.timeout.ms it joined with.
func (s *Shard) scheduleConsumerSessionAfter(gid, mid string, timeoutMs int32, now time.Time) {
	s.timers.Schedule(consumerSessionKey(gid, mid), after(now, int64(timeoutMs)), func(s *Shard, now time.Time, res *coordinator.Result) {
		s.fenceOnTimeout(gid, mid, "its session expired", now, res)
	})
}

// scheduleConsumerRebalance fences a member that has not revoked its
// partitions within its rebalance timeout.
func (s *Shard) scheduleConsumerRebalance(gid, mid string, epoch, timeoutMs int32, now time.Time) {
	if timeoutMs <= 0 {
		timeoutMs = s.cfg.ConsumerSessionTimeoutMs
	}
	s.timers.Schedule(consumerRebalanceKey(gid, mid), after(now, int64(timeoutMs)), func(s *Shard, now time.Time, res *coordinator.Result) {
		g, ok := s.consumerGroups[gid]
		if !ok {
			return
		}
		if m, ok := g.members[mid]; ok && m.epoch == epoch && m.state == memberUnrevokedPartitions {
			s.fenceOnTimeout(gid, mid, "it failed to revoke partitions within its rebalance timeout", now, res)
		}
	})
}

func (s *Shard) fenceOnTimeout(gid, mid, why string, now time.Time, res *coordinator.Result) {
	g, ok := s.consumerGroups[gid]
	if !ok {
		return
	}
	m, ok := g.members[mid]
	if !ok {
		return
	}
	s.log.Info("member fenced from the consumer group because "+why, "group", gid, "member_id", m.id)
	s.fenceConsumerMembers(g, []string{m.id}, now, res)
	res.Replay = true
}

// DescribedConsumerGroup is one group of a ConsumerGroupDescribe
// response.
type DescribedConsumerGroup struct {
	Group           string
	ErrorCode       int16
	ErrorMessage    *string
	State           string
	Epoch           int32
	AssignmentEpoch int32
	AssignorName    string
	Members         []DescribedConsumerMember
}

// DescribedConsumerMember is a member of a DescribedConsumerGroup.
type DescribedConsumerMember struct {
	MemberID             string
	InstanceID           *string
	RackID               *string
	MemberEpoch          int32
	ClientID             string
	ClientHost           string
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	Assignment           []TopicPartitions
	TargetAssignment     []TopicPartitions
	// Classic: the member uses the classic protocol (MemberType 0 of
	// ConsumerGroupDescribe v1+; 1 otherwise).
	Classic bool
}

// DescribeConsumerGroup describes a consumer group; a classic group or
// none is GROUP_ID_NOT_FOUND.
func (s *Shard) DescribeConsumerGroup(id string) DescribedConsumerGroup {
	g, ok := s.consumerGroups[id]
	if !ok {
		msg := "Group " + id + " not found."
		if _, classic := s.groups[id]; classic {
			msg = "Group " + id + " is not a consumer group."
		}
		return DescribedConsumerGroup{Group: id, ErrorCode: kerr.GroupIDNotFound.Code, ErrorMessage: &msg}
	}
	d := DescribedConsumerGroup{
		Group: id, State: g.state(), Epoch: g.epoch, AssignmentEpoch: max(g.targetEpoch, 0),
		AssignorName: preferredAssignor(g.members),
	}
	for _, mid := range slices.Sorted(maps.Keys(g.members)) {
		m := g.members[mid]
		d.Members = append(d.Members, DescribedConsumerMember{
			MemberID: m.id, InstanceID: m.instanceID, RackID: m.rackID, MemberEpoch: m.epoch,
			ClientID: m.clientID, ClientHost: m.clientHost,
			SubscribedTopicNames: slices.Sorted(slices.Values(m.subscribedTopicNames)), SubscribedTopicRegex: m.subscribedTopicRegex,
			Assignment: m.assigned.toTopicPartitions(), TargetAssignment: g.target[mid].toTopicPartitions(),
			Classic: m.classic != nil,
		})
	}
	return d
}

// loadedConsumerGroups starts the session timers of loaded members and
// the rebalance timers of those revoking.
func (s *Shard) loadedConsumerGroups(now time.Time) {
	for gid, g := range s.consumerGroups {
		for mid, m := range g.members {
			if m.classic != nil {
				s.scheduleConsumerSessionAfter(gid, mid, m.classic.sessionTimeoutMs, now)
			} else {
				s.scheduleConsumerSession(gid, mid, now)
			}
			if m.state == memberUnrevokedPartitions {
				s.scheduleConsumerRebalance(gid, mid, m.epoch, m.rebalanceTimeoutMs, now)
			}
		}
	}
}

// consumerGroupTombstones writes everything that removes an empty
// consumer group (Kafka's ConsumerGroup.createGroupTombstoneRecords).
func (s *Shard) consumerGroupTombstones(g *consumerGroup, res *coordinator.Result) {
	for re := range g.regexes {
		res.Add(consumerTombstone(keyConsumerGroupRegex, g.id, re))
	}
	res.Add(consumerTombstone(keyConsumerGroupTargetMetadata, g.id))
	res.Add(consumerTombstone(keyConsumerGroupMetadata, g.id))
}

// consumerSubscribed reports whether any member subscribes to topic.
func (s *Shard) consumerSubscribed(g *consumerGroup, topic string) bool {
	for _, m := range g.members {
		if slices.Contains(s.subscribedTopics(m, g.regexes), topic) {
			return true
		}
	}
	return false
}
