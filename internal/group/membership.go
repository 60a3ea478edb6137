package group

import (
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// SyncGroup handles a SyncGroup request (Kafka's classicGroupSync). The
// leader's request carries the assignment: it is written to the log and,
// once written, every waiting member gets its share and the group becomes
// Stable. reply is called exactly once, through res of this or a later
// operation.
func (s *Shard) SyncGroup(now time.Time, req SyncRequest, reply func(SyncResponse), res *coordinator.Result) {
	if cg, ok := s.consumerGroups[req.Group]; ok {
		s.classicSyncConsumerGroup(now, cg, req, reply, res)
		return
	}
	fail := func(code int16) { res.Reply(func() { reply(SyncResponse{ErrorCode: code}) }) }
	g, ok := s.groups[req.Group]
	if !ok || g.is(stateEmpty) {
		fail(kerr.UnknownMemberID.Code)
		return
	}
	if code := s.validateSync(g, req); code != 0 {
		fail(code)
		return
	}
	switch g.state {
	case statePreparingRebalance:
		fail(kerr.RebalanceInProgress.Code)
	case stateCompletingRebalance:
		m := g.members[req.MemberID]
		m.syncReply = reply
		s.removePendingSyncMember(g, req.MemberID)
		if !g.isLeader(req.MemberID) {
			return
		}
		s.log.Info("assignment received from the leader", "group", g.id, "leader", req.MemberID, "generation", g.generation, "members", g.numMembers(), "static_members", len(g.staticMembers))
		assignment := make(map[string][]byte, len(g.members))
		for _, a := range req.Assignments {
			assignment[a.MemberID] = a.Assignment
		}
		var missing []string
		for _, id := range g.order {
			if _, ok := assignment[id]; !ok {
				assignment[id] = []byte{}
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			s.log.Warn("setting empty assignments for members the leader did not assign", "group", g.id, "generation", g.generation, "members", missing)
		}
		generation := req.Generation
		res.Add(groupMetadataRecord(g, assignment))
		onAppend(res, func(now time.Time, err error, next *coordinator.Result) {
			// Members may have joined meanwhile (not here, where the
			// append is synchronous, but in Kafka's model): only the
			// same generation, still completing, takes the assignment.
			if s.groups[g.id] != g || !g.is(stateCompletingRebalance) || generation != g.generation {
				return
			}
			if err != nil {
				code := coordinator.WriteErrorCode(err)
				s.resetAndPropagateAssignmentWithError(g, code, now, next)
				s.maybePrepareRebalanceOrCompleteJoin(g, now, "error when storing the group assignment during SyncGroup (member: "+req.MemberID+")", next)
				return
			}
			s.setAndPropagateAssignment(g, assignment, now, next)
			g.transitionTo(stateStable, ms(now))
		})
	case stateStable:
		s.removePendingSyncMember(g, req.MemberID)
		m := g.members[req.MemberID]
		resp := SyncResponse{ProtocolType: g.protocolType, ProtocolName: g.protocolName, Assignment: m.assignment}
		if resp.Assignment == nil {
			resp.Assignment = []byte{}
		}
		res.Reply(func() { reply(resp) })
	}
}

func (s *Shard) validateSync(g *classicGroup, req SyncRequest) int16 {
	if g.is(stateDead) {
		return kerr.CoordinatorNotAvailable.Code
	}
	if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
		return code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	if inconsistent(req.ProtocolType, g.protocolType) || inconsistent(req.ProtocolName, g.protocolName) {
		return kerr.InconsistentGroupProtocol.Code
	}
	return 0
}

// inconsistent: the request names a protocol (type or name) other than
// the group's.
func inconsistent(asked, have *string) bool {
	return asked != nil && have != nil && *asked != *have
}

func (s *Shard) removePendingSyncMember(g *classicGroup, memberID string) {
	delete(g.pendingSync, memberID)
	switch g.state {
	case stateCompletingRebalance, stateStable:
		if len(g.pendingSync) == 0 {
			s.timers.Cancel(syncKey(g.id))
		}
	default:
		s.timers.Cancel(syncKey(g.id))
	}
}

// schedulePendingSync removes, after the rebalance timeout, the members
// that have not sent SyncGroup for this generation.
func (s *Shard) schedulePendingSync(g *classicGroup, now time.Time) {
	gid, generation := g.id, g.generation
	s.timers.Schedule(syncKey(gid), after(now, int64(g.rebalanceTimeoutMs())), func(s *Shard, now time.Time, res *coordinator.Result) {
		s.expirePendingSync(gid, generation, now, res)
	})
}

func (s *Shard) removeSyncExpiration(g *classicGroup) {
	clear(g.pendingSync)
	s.timers.Cancel(syncKey(g.id))
}

func (s *Shard) expirePendingSync(gid string, generation int32, now time.Time, res *coordinator.Result) {
	g, ok := s.groups[gid]
	if !ok || generation != g.generation {
		return
	}
	if !g.is(stateCompletingRebalance) && !g.is(stateStable) || len(g.pendingSync) == 0 {
		return
	}
	var pending []string
	for _, id := range g.order {
		if g.pendingSync[id] {
			pending = append(pending, id)
		}
	}
	for _, id := range pending {
		g.remove(id)
		s.timers.Cancel(heartbeatKey(gid, id))
	}
	s.log.Info("removed members that did not send SyncGroup in time", "group", gid, "members", pending)
	s.prepareRebalance(g, now, "removing "+strings.Join(pending, ", ")+" on pending sync request expiration", res)
}

// resetAndPropagateAssignmentWithError clears every assignment and
// answers members waiting on SyncGroup with code.
func (s *Shard) resetAndPropagateAssignmentWithError(g *classicGroup, code int16, now time.Time, res *coordinator.Result) {
	for _, m := range g.members {
		m.assignment = []byte{}
	}
	s.propagateAssignment(g, code, now, res)
}

func (s *Shard) setAndPropagateAssignment(g *classicGroup, assignment map[string][]byte, now time.Time, res *coordinator.Result) {
	for id, m := range g.members {
		m.assignment = assignment[id]
		if m.assignment == nil {
			m.assignment = []byte{}
		}
	}
	s.propagateAssignment(g, 0, now, res)
}

// propagateAssignment answers the members waiting on SyncGroup with
// their assignment (or code) and restarts their session timers: their
// sessions could not expire while they waited.
func (s *Shard) propagateAssignment(g *classicGroup, code int16, now time.Time, res *coordinator.Result) {
	var protocolName, protocolType *string
	if code == 0 {
		protocolName, protocolType = g.protocolName, g.protocolType
	}
	for _, id := range g.order {
		m := g.members[id]
		if s.completeSync(m, SyncResponse{ProtocolName: protocolName, ProtocolType: protocolType, Assignment: m.assignment, ErrorCode: code}, res) {
			s.rescheduleHeartbeat(g, m, now)
		}
	}
}

// Heartbeat handles a Heartbeat request: it keeps the member's session
// and tells it whether a rebalance is in progress.
func (s *Shard) Heartbeat(now time.Time, req HeartbeatRequest) int16 {
	if cg, ok := s.consumerGroups[req.Group]; ok {
		return s.classicHeartbeatConsumerGroup(now, cg, req)
	}
	g, ok := s.groups[req.Group]
	if !ok {
		return kerr.UnknownMemberID.Code
	}
	if g.is(stateDead) {
		return kerr.CoordinatorNotAvailable.Code
	}
	if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
		return code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	switch g.state {
	case statePreparingRebalance:
		s.rescheduleHeartbeat(g, g.members[req.MemberID], now)
		return kerr.RebalanceInProgress.Code
	case stateCompletingRebalance, stateStable:
		// Members may heartbeat between their JoinGroup and SyncGroup.
		s.rescheduleHeartbeat(g, g.members[req.MemberID], now)
		return 0
	}
	return kerr.UnknownMemberID.Code
}

// LeaveGroup removes members (by member id, or by instance id alone for
// an administrative removal of a static member) and rebalances.
func (s *Shard) LeaveGroup(now time.Time, req LeaveRequest, res *coordinator.Result) LeaveResponse {
	if cg, ok := s.consumerGroups[req.Group]; ok {
		return s.classicLeaveConsumerGroup(now, cg, req, res)
	}
	g, ok := s.groups[req.Group]
	if !ok {
		return LeaveResponse{ErrorCode: kerr.UnknownMemberID.Code}
	}
	if g.is(stateDead) {
		return LeaveResponse{ErrorCode: kerr.CoordinatorNotAvailable.Code}
	}
	out := LeaveResponse{}
	var left []string
	for _, lm := range req.Members {
		r := LeaveMemberResult{MemberID: lm.MemberID, InstanceID: lm.InstanceID}
		switch {
		case lm.MemberID == "":
			if lm.InstanceID != nil && g.hasStaticMember(*lm.InstanceID) {
				s.removeLeavingMember(g, g.staticMembers[*lm.InstanceID], lm.Reason, res)
			} else {
				r.ErrorCode = kerr.UnknownMemberID.Code
			}
		case g.pendingJoin[lm.MemberID]:
			g.remove(lm.MemberID)
			s.timers.Cancel(heartbeatKey(g.id, lm.MemberID))
			s.log.Info("pending member left the group", "group", g.id, "member_id", lm.MemberID, "reason", reason(lm.Reason))
		default:
			if code := g.validateMember(lm.MemberID, lm.InstanceID); code != 0 {
				r.ErrorCode = code
			} else {
				s.removeLeavingMember(g, lm.MemberID, lm.Reason, res)
			}
		}
		if r.ErrorCode == 0 {
			left = append(left, lm.MemberID)
		}
		out.Members = append(out.Members, r)
	}
	if len(left) > 0 {
		why := "explicit `LeaveGroup` request for (" + strings.Join(left, ", ") + ") members."
		switch g.state {
		case stateStable, stateCompletingRebalance:
			s.maybePrepareRebalanceOrCompleteJoin(g, now, why, res)
		case statePreparingRebalance:
			s.maybeCompleteJoinPhase(g, now, res)
		}
	}
	return out
}

func (s *Shard) removeLeavingMember(g *classicGroup, memberID string, why *string, res *coordinator.Result) {
	m := g.members[memberID]
	s.timers.Cancel(heartbeatKey(g.id, memberID))
	s.log.Info("member left the group", "group", g.id, "member_id", memberID, "reason", reason(why))
	s.completeJoin(g, m, JoinResponse{Generation: -1, ErrorCode: kerr.UnknownMemberID.Code}, res)
	g.remove(memberID)
}
