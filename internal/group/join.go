package group

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// JoinGroup handles a JoinGroup request (Kafka's classicGroupJoin).
// reply is called exactly once, through res of this or a later operation:
// a member joining a rebalance waits until the join phase completes.
func (s *Shard) JoinGroup(now time.Time, req JoinRequest, reply func(JoinResponse), res *coordinator.Result) {
	if cg, ok := s.consumerGroups[req.Group]; ok {
		// A KIP-848 group: a classic member joins one with members as a
		// classic member (migration.go); an empty one is deleted and
		// replaced by a classic group.
		if !cg.isEmpty() {
			s.classicJoinConsumerGroup(now, cg, req, reply, res)
			return
		}
		s.consumerGroupTombstones(cg, res)
		gid := req.Group
		onAppend(res, func(_ time.Time, err error, _ *coordinator.Result) {
			if err == nil {
				s.removeConsumerGroup(gid)
			}
		})
	}
	before := len(res.Records)
	g, exists := s.groups[req.Group]
	unknown := req.MemberID == ""
	if !exists {
		if !unknown {
			// A member id for a group that does not exist.
			res.Reply(func() {
				reply(JoinResponse{MemberID: req.MemberID, Generation: -1, ErrorCode: kerr.UnknownMemberID.Code})
			})
			return
		}
		g = newClassicGroup(req.Group, stateEmpty, ms(now))
		s.groups[req.Group] = g
	}

	switch {
	case !s.acceptJoiningMember(g, req.MemberID):
		g.remove(req.MemberID)
		res.Reply(func() { reply(JoinResponse{Generation: -1, ErrorCode: kerr.GroupMaxSizeReached.Code}) })
	case unknown:
		s.joinNewMember(g, req, now, reply, res)
	default:
		s.joinExistingMember(g, req, now, reply, res)
	}

	if !exists && len(res.Records) == before {
		// A new group is written down at once (an empty GroupMetadata
		// record); the answer waits for the write, and a failed write
		// forgets the group.
		replies := res.Replies
		res.Replies = nil
		res.Add(emptyGroupMetadataRecord(g))
		onAppend(res, func(now time.Time, err error, next *coordinator.Result) {
			if err == nil {
				next.Replies = append(next.Replies, replies...)
				return
			}
			s.log.Warn("failed to write the metadata of a new group", "group", g.id, "err", err)
			if s.groups[g.id] == g {
				s.removeGroup(g.id)
			}
			code := coordinator.WriteErrorCode(err)
			next.Reply(func() { reply(JoinResponse{Generation: -1, ErrorCode: code}) })
		})
	}
}

// onAppend chains f after any AfterAppend res already has.
func onAppend(res *coordinator.Result, f func(now time.Time, err error, next *coordinator.Result)) {
	prev := res.AfterAppend
	if prev == nil {
		res.AfterAppend = f
		return
	}
	res.AfterAppend = func(now time.Time, err error, next *coordinator.Result) {
		prev(now, err, next)
		f(now, err, next)
	}
}

// acceptJoiningMember enforces group.max.size.
func (s *Shard) acceptJoiningMember(g *classicGroup, memberID string) bool {
	max := int(s.cfg.MaxSize)
	switch g.state {
	case statePreparingRebalance:
		// Existing members that already rejoined are kept; counting
		// the members awaiting a join lets a shrunk max size drop the
		// last ones to rejoin.
		if m, ok := g.members[memberID]; ok && m.isAwaitingJoin() {
			return true
		}
		return g.awaitingJoin < max
	case stateCompletingRebalance, stateStable:
		_, ok := g.members[memberID]
		return ok || g.numMembers() < max
	}
	return true // Empty, Dead
}

func (s *Shard) joinNewMember(g *classicGroup, req JoinRequest, now time.Time, reply func(JoinResponse), res *coordinator.Result) {
	switch {
	case g.is(stateDead):
		res.Reply(func() { reply(JoinResponse{Generation: -1, ErrorCode: kerr.CoordinatorNotAvailable.Code}) })
		return
	case !g.supportsProtocols(req.ProtocolType, req.Protocols):
		res.Reply(func() { reply(JoinResponse{Generation: -1, ErrorCode: kerr.InconsistentGroupProtocol.Code}) })
		return
	}
	prefix := req.ClientID
	if req.InstanceID != nil {
		prefix = *req.InstanceID
	}
	newID := prefix + "-" + s.newUUID()
	if req.InstanceID != nil {
		if existing, ok := g.staticMembers[*req.InstanceID]; ok {
			s.log.Info("static member with an unknown member id rejoins; replacing its previous member id",
				"group", g.id, "instance_id", *req.InstanceID, "old_member_id", existing, "state", g.state)
			s.updateStaticMemberThenRebalance(g, req, existing, newID, now, reply, res)
			return
		}
		s.addMemberThenRebalance(g, req, newID, now, reply, res)
		return
	}
	if req.RequireKnownMemberID {
		// KIP-394: hand out the id and expect the member to rejoin with
		// it within its session timeout.
		g.pendingJoin[newID] = true
		s.rescheduleHeartbeatAfter(g, newID, now, int64(req.SessionTimeoutMs))
		res.Reply(func() { reply(JoinResponse{MemberID: newID, Generation: -1, ErrorCode: kerr.MemberIDRequired.Code}) })
		return
	}
	s.addMemberThenRebalance(g, req, newID, now, reply, res)
}

func (s *Shard) joinExistingMember(g *classicGroup, req JoinRequest, now time.Time, reply func(JoinResponse), res *coordinator.Result) {
	id := req.MemberID
	fail := func(code int16) {
		res.Reply(func() { reply(JoinResponse{MemberID: id, Generation: -1, ErrorCode: code}) })
	}
	switch {
	case g.is(stateDead):
		fail(kerr.CoordinatorNotAvailable.Code)
		return
	case !g.supportsProtocols(req.ProtocolType, req.Protocols):
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	case g.pendingJoin[id]:
		// A dynamic member rejoining with the id it was given.
		if req.InstanceID != nil {
			fail(kerr.UnknownServerError.Code)
			return
		}
		s.addMemberThenRebalance(g, req, id, now, reply, res)
		return
	}
	if code := g.validateMember(id, req.InstanceID); code != 0 {
		fail(code)
		return
	}
	m := g.members[id]
	current := func(members []JoinMember) {
		resp := JoinResponse{
			Members: members, MemberID: id, Generation: g.generation,
			ProtocolName: g.protocolName, ProtocolType: g.protocolType, Leader: g.leader,
		}
		res.Reply(func() { reply(resp) })
	}
	switch g.state {
	case statePreparingRebalance:
		s.updateMemberThenRebalance(g, m, req, now, "member "+id+" is joining the group during PreparingRebalance", reply, res)
	case stateCompletingRebalance:
		if m.matches(req.Protocols) {
			// The member lost its JoinGroup response: answer it again.
			var members []JoinMember
			if g.isLeader(id) {
				members = g.currentMembers()
			}
			current(members)
			return
		}
		s.updateMemberThenRebalance(g, m, req, now, "updating metadata for member "+id+" during CompletingRebalance", reply, res)
	case stateStable:
		switch {
		case g.isLeader(id):
			// A leader rejoining forces a rebalance: it may have seen a
			// change (new partitions) that its metadata does not show.
			s.updateMemberThenRebalance(g, m, req, now, "leader "+id+" re-joining the group during Stable", reply, res)
		case !m.matches(req.Protocols):
			s.updateMemberThenRebalance(g, m, req, now, "updating metadata for member "+id+" during Stable", reply, res)
		default:
			current(nil)
		}
	default:
		// Empty: let the member reset its generation and rejoin.
		fail(kerr.UnknownMemberID.Code)
	}
}

// validateMember checks that memberID is in the group and, for a static
// member, that instanceID maps to it (FENCED_INSTANCE_ID otherwise).
func (g *classicGroup) validateMember(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		existing, ok := g.staticMembers[*instanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		if existing != memberID {
			return kerr.FencedInstanceID.Code
		}
	}
	if _, ok := g.members[memberID]; !ok {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

func (s *Shard) addMemberThenRebalance(g *classicGroup, req JoinRequest, id string, now time.Time, reply func(JoinResponse), res *coordinator.Result) {
	m := &classicMember{
		id: id, instanceID: req.InstanceID, clientID: req.ClientID, clientHost: req.ClientHost,
		rebalanceTimeoutMs: req.RebalanceTimeoutMs, sessionTimeoutMs: req.SessionTimeoutMs,
		protocolType: req.ProtocolType, protocols: req.Protocols, isNew: true,
	}
	// A member joining during the initial delay extends it.
	if g.is(statePreparingRebalance) && g.prevState == stateEmpty {
		g.newMemberAdded = true
	}
	g.add(m, reply)
	// A new member cannot heartbeat (it has no id yet) and a parked
	// JoinGroup does not notice a disconnect: bound its wait instead.
	s.rescheduleHeartbeatAfter(g, id, now, int64(s.cfg.NewMemberJoinTimeoutMs))
	instance := "null"
	if req.InstanceID != nil {
		instance = *req.InstanceID
	}
	s.maybePrepareRebalanceOrCompleteJoin(g, now, fmt.Sprintf("adding new member %s with group instance id %s; client reason: %s", id, instance, reason(req.Reason)), res)
}

func reason(r *string) string {
	if r == nil || *r == "" {
		return "not provided"
	}
	return *r
}

func (s *Shard) updateMemberThenRebalance(g *classicGroup, m *classicMember, req JoinRequest, now time.Time, why string, reply func(JoinResponse), res *coordinator.Result) {
	g.updateMember(m, req.Protocols, req.RebalanceTimeoutMs, req.SessionTimeoutMs, reply)
	s.maybePrepareRebalanceOrCompleteJoin(g, now, why+"; client reason: "+reason(req.Reason), res)
}

// updateStaticMemberThenRebalance replaces a static member's id with a
// new one (the old instance is fenced). In Stable, if the selected
// protocol would not change, the group is written with the new id and
// no rebalance happens (KIP-345).
func (s *Shard) updateStaticMemberThenRebalance(g *classicGroup, req JoinRequest, oldID, newID string, now time.Time, reply func(JoinResponse), res *coordinator.Result) {
	currentLeader := g.leader
	m, oldJoin, oldSync := g.replaceStaticMember(*req.InstanceID, oldID, newID)
	if oldJoin != nil {
		res.Reply(func() {
			oldJoin(JoinResponse{MemberID: oldID, Generation: -1, ErrorCode: kerr.FencedInstanceID.Code})
		})
	}
	if oldSync != nil {
		res.Reply(func() { oldSync(SyncResponse{ErrorCode: kerr.FencedInstanceID.Code, Assignment: []byte{}}) })
	}
	s.timers.Cancel(heartbeatKey(g.id, oldID))
	s.rescheduleHeartbeat(g, m, now)

	oldRebalance, oldSession, oldProtocols := m.rebalanceTimeoutMs, m.sessionTimeoutMs, m.protocols
	g.updateMember(m, req.Protocols, req.RebalanceTimeoutMs, req.SessionTimeoutMs, reply)

	switch g.state {
	case stateStable:
		selected := g.selectProtocol()
		if g.protocolName == nil || *g.protocolName != selected {
			s.maybePrepareRebalanceOrCompleteJoin(g, now, fmt.Sprintf("group's selected protocol will change because static member %s with instance id %s joined with a change of protocol; client reason: %s", newID, *req.InstanceID, reason(req.Reason)), res)
			return
		}
		s.log.Info("static member rejoining during Stable without changing the selected protocol; no rebalance", "group", g.id, "member_id", newID)
		instanceID := *req.InstanceID
		res.Add(groupMetadataRecord(g, g.assignments()))
		onAppend(res, func(now time.Time, err error, next *coordinator.Result) {
			if err != nil {
				s.log.Warn("failed to persist a static member's new id; reverting", "group", g.id, "member_id", newID, "old_member_id", oldID, "err", err)
				g.updateMember(m, oldProtocols, oldRebalance, oldSession, nil)
				old, _, _ := g.replaceStaticMember(instanceID, newID, oldID)
				s.timers.Cancel(heartbeatKey(g.id, newID))
				s.rescheduleHeartbeat(g, old, now)
				code := coordinator.WriteErrorCode(err)
				resp := JoinResponse{
					Generation: g.generation, ProtocolName: g.protocolName, ProtocolType: g.protocolType,
					Leader: currentLeader, ErrorCode: code,
				}
				next.Reply(func() { reply(resp) })
				return
			}
			resp := JoinResponse{
				MemberID: newID, Generation: g.generation,
				ProtocolName: g.protocolName, ProtocolType: g.protocolType,
			}
			if req.SupportsSkipAssignment {
				// The leader keeps its assignment: it gets the member list
				// but is told not to compute an assignment (KIP-814).
				isLeader := g.isLeader(newID)
				if isLeader {
					resp.Members = g.currentMembers()
				}
				resp.Leader, resp.SkipAssignment = g.leader, isLeader
			} else {
				resp.Leader = currentLeader
			}
			s.completeJoin(g, m, resp, next)
		})
	case stateCompletingRebalance:
		// The leader may already hold the old id in its assignment:
		// rebalance again so the new id gets one.
		s.prepareRebalance(g, now, fmt.Sprintf("updating metadata for static member %s with instance id %s; client reason: %s", newID, *req.InstanceID, reason(req.Reason)), res)
	default:
		s.maybeCompleteJoinPhase(g, now, res)
	}
}

// maybePrepareRebalanceOrCompleteJoin starts a rebalance if the group
// can; during one, it completes the join phase if everyone has joined.
func (s *Shard) maybePrepareRebalanceOrCompleteJoin(g *classicGroup, now time.Time, why string, res *coordinator.Result) {
	if g.canRebalance() {
		s.prepareRebalance(g, now, why, res)
		return
	}
	s.maybeCompleteJoinPhase(g, now, res)
}

// prepareRebalance moves the group to PreparingRebalance. The join phase
// of a group that was Empty waits group.initial.rebalance.delay.ms (more
// while members keep arriving, up to the rebalance timeout); otherwise it
// completes when all members have rejoined or the rebalance timeout
// passes.
func (s *Shard) prepareRebalance(g *classicGroup, now time.Time, why string, res *coordinator.Result) {
	if g.is(stateCompletingRebalance) {
		s.resetAndPropagateAssignmentWithError(g, kerr.RebalanceInProgress.Code, now, res)
	}
	s.removeSyncExpiration(g)
	initial := g.is(stateEmpty)
	if initial {
		delay := int64(s.cfg.InitialRebalanceDelayMs)
		remaining := max(int64(g.rebalanceTimeoutMs())-delay, 0)
		gid := g.id
		s.timers.Schedule(joinKey(gid), after(now, delay), func(s *Shard, now time.Time, res *coordinator.Result) {
			s.tryCompleteInitialRebalance(gid, delay, remaining, now, res)
		})
	}
	g.transitionTo(statePreparingRebalance, ms(now))
	s.log.Info("preparing to rebalance group", "group", g.id, "generation", g.generation, "reason", why)
	if !initial {
		s.maybeCompleteJoinElseSchedule(g, now, res)
	}
}

func (s *Shard) maybeCompleteJoinElseSchedule(g *classicGroup, now time.Time, res *coordinator.Result) {
	if g.hasAllMembersJoined() {
		s.completeJoinPhase(g, now, res)
		return
	}
	s.scheduleJoinCompletion(g, now)
}

func (s *Shard) scheduleJoinCompletion(g *classicGroup, now time.Time) {
	gid := g.id
	s.timers.Schedule(joinKey(gid), after(now, int64(g.rebalanceTimeoutMs())), func(s *Shard, now time.Time, res *coordinator.Result) {
		if g, ok := s.groups[gid]; ok {
			s.completeJoinPhase(g, now, res)
		}
	})
}

func (s *Shard) tryCompleteInitialRebalance(gid string, delay, remaining int64, now time.Time, res *coordinator.Result) {
	g, ok := s.groups[gid]
	if !ok {
		return
	}
	if g.newMemberAdded && remaining != 0 {
		g.newMemberAdded = false
		newDelay := min(int64(s.cfg.InitialRebalanceDelayMs), remaining)
		newRemaining := max(remaining-delay, 0)
		s.timers.Schedule(joinKey(gid), after(now, newDelay), func(s *Shard, now time.Time, res *coordinator.Result) {
			s.tryCompleteInitialRebalance(gid, newDelay, newRemaining, now, res)
		})
		return
	}
	s.completeJoinPhase(g, now, res)
}

// maybeCompleteJoinPhase completes the join phase once every member has
// rejoined, except during the initial delay.
func (s *Shard) maybeCompleteJoinPhase(g *classicGroup, now time.Time, res *coordinator.Result) {
	if !g.is(statePreparingRebalance) || g.prevState == stateEmpty || !g.hasAllMembersJoined() {
		return
	}
	s.completeJoinPhase(g, now, res)
}

// completeJoinPhase ends the join phase: dynamic members that did not
// rejoin are removed, the next generation starts, and every member that
// joined gets its response (the leader with the member list). A group
// left without members becomes Empty and is written down.
func (s *Shard) completeJoinPhase(g *classicGroup, now time.Time, res *coordinator.Result) {
	s.timers.Cancel(joinKey(g.id))
	var removed []string
	for _, m := range g.notYetRejoined() {
		if !m.isStatic() {
			g.remove(m.id)
			s.timers.Cancel(heartbeatKey(g.id, m.id))
			removed = append(removed, m.id)
		}
	}
	if len(removed) > 0 {
		s.log.Info("removed dynamic members that did not rejoin", "group", g.id, "members", removed)
	}
	switch {
	case g.is(stateDead):
		s.log.Info("group is dead; skipping the rebalance", "group", g.id)
	case !g.maybeElectNewJoinedLeader() && g.numMembers() > 0:
		// Only static members that have not rejoined remain: wait for
		// them (or their session timeouts) one more rebalance timeout.
		s.log.Error("group could not complete its rebalance because no members rejoined", "group", g.id)
		s.scheduleJoinCompletion(g, now)
	default:
		g.initNextGeneration(ms(now))
		if g.is(stateEmpty) {
			s.log.Info("group is now empty", "group", g.id, "generation", g.generation)
			res.Add(groupMetadataRecord(g, nil))
			onAppend(res, func(_ time.Time, err error, _ *coordinator.Result) {
				if err != nil {
					s.log.Warn("failed to write the metadata of an empty group", "group", g.id, "err", err)
				}
			})
			return
		}
		s.log.Info("stabilized group", "group", g.id, "generation", g.generation, "members", g.numMembers())
		for _, id := range g.order {
			m := g.members[id]
			var members []JoinMember
			if g.isLeader(id) {
				members = g.currentMembers()
			}
			resp := JoinResponse{
				Members: members, MemberID: id, Generation: g.generation,
				ProtocolName: g.protocolName, ProtocolType: g.protocolType, Leader: g.leader,
			}
			s.completeJoin(g, m, resp, res)
			s.rescheduleHeartbeat(g, m, now)
			m.isNew = false
			g.pendingSync[id] = true
		}
		s.schedulePendingSync(g, now)
	}
}

// expireHeartbeat runs when a member's session timer fires: a pending
// member is dropped, a member that is not waiting on a rebalance is
// removed (and the group rebalances).
func (s *Shard) expireHeartbeat(gid, memberID string, now time.Time, res *coordinator.Result) {
	g, ok := s.groups[gid]
	if !ok || g.is(stateDead) {
		return
	}
	if g.pendingJoin[memberID] {
		s.log.Info("pending member removed after its session timeout", "group", gid, "member_id", memberID)
		g.remove(memberID)
		if g.is(statePreparingRebalance) && g.hasAllMembersJoined() {
			s.completeJoinPhase(g, now, res)
		}
		return
	}
	m, ok := g.members[memberID]
	if !ok || m.hasSatisfiedHeartbeat() {
		return
	}
	s.log.Info("member failed its session timeout; removing it from the group", "group", gid, "member_id", memberID)
	s.removeMemberAndUpdateGroup(g, m, now, "removing member "+memberID+" on heartbeat expiration", res)
}

func (s *Shard) removeMemberAndUpdateGroup(g *classicGroup, m *classicMember, now time.Time, why string, res *coordinator.Result) {
	// A new member may time out while its JoinGroup waits: answer it
	// UNKNOWN_MEMBER_ID so that, if still alive, it joins again.
	s.completeJoin(g, m, JoinResponse{Generation: -1, ErrorCode: kerr.UnknownMemberID.Code}, res)
	g.remove(m.id)
	switch {
	case g.is(stateStable), g.is(stateCompletingRebalance):
		s.maybePrepareRebalanceOrCompleteJoin(g, now, why, res)
	case g.is(statePreparingRebalance) && g.hasAllMembersJoined():
		s.completeJoinPhase(g, now, res)
	}
}
