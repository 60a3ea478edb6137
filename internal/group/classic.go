package group

import (
	"bytes"
	"slices"
)

// classicState is a classic group's state (Kafka's ClassicGroupState).
//
//	             +--------------------------------------------+
//	             |                                            v
//	Empty --join--> PreparingRebalance --all joined--> CompletingRebalance
//	  ^                  ^      |                         |        |
//	  |     join, leave, |      | all left                | leader |
//	  |     timeout      |      v                         | synced v
//	  +------------------+---- Empty          Stable <----+--------+
//	                     +-------------------- Stable
//
// Dead is terminal: the group was unloaded (this node no longer
// coordinates it) or deleted.
type classicState int8

const (
	stateEmpty classicState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s classicState) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	case stateDead:
		return "Dead"
	}
	return "Unknown"
}

// validPrevious lists the states a group may move to s from.
func (s classicState) validPrevious() []classicState {
	switch s {
	case stateEmpty:
		return []classicState{statePreparingRebalance}
	case statePreparingRebalance:
		return []classicState{stateStable, stateCompletingRebalance, stateEmpty}
	case stateCompletingRebalance:
		return []classicState{statePreparingRebalance}
	case stateStable:
		return []classicState{stateCompletingRebalance}
	case stateDead:
		return []classicState{stateStable, statePreparingRebalance, stateCompletingRebalance, stateEmpty, stateDead}
	}
	return nil
}

// consumerProtocolType is the protocol type of Kafka consumers.
const consumerProtocolType = "consumer"

// classicMember is a member of a classic group (Kafka's
// ClassicGroupMember).
type classicMember struct {
	id                 string
	instanceID         *string
	clientID           string
	clientHost         string
	rebalanceTimeoutMs int32
	sessionTimeoutMs   int32
	protocolType       string
	protocols          []Protocol
	assignment         []byte
	// joinReply is set while the member awaits a JoinGroup response,
	// syncReply while it awaits a SyncGroup response.
	joinReply func(JoinResponse)
	syncReply func(SyncResponse)
	// isNew: joined in this rebalance and not yet given a generation;
	// such a member expires on the new-member join timeout.
	isNew bool
}

func (m *classicMember) isStatic() bool       { return m.instanceID != nil }
func (m *classicMember) isAwaitingJoin() bool { return m.joinReply != nil }
func (m *classicMember) isAwaitingSync() bool { return m.syncReply != nil }

// hasSatisfiedHeartbeat: a member awaiting a join or sync response does
// not need to heartbeat, unless it is new.
func (m *classicMember) hasSatisfiedHeartbeat() bool {
	if m.isNew {
		return false
	}
	return m.isAwaitingJoin() || m.isAwaitingSync()
}

// metadata returns the member's metadata for protocol, nil if it does not
// support it.
func (m *classicMember) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols are the member's, in order.
func (m *classicMember) matches(protocols []Protocol) bool {
	return slices.EqualFunc(m.protocols, protocols, func(a, b Protocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}

// vote returns the first of the member's protocols among candidates.
func (m *classicMember) vote(candidates map[string]bool) string {
	for _, p := range m.protocols {
		if candidates[p.Name] {
			return p.Name
		}
	}
	return ""
}

// classicGroup is a group using the classic rebalance protocol (Kafka's
// ClassicGroup). Members are kept in join order, which decides the next
// leader and the order of the leader's member list.
type classicGroup struct {
	id               string
	state            classicState
	prevState        classicState
	stateTimestampMs int64 // -1 when unknown
	protocolType     *string
	protocolName     *string
	generation       int32
	leader           string // "" when none

	members       map[string]*classicMember
	order         []string          // member ids, in join order
	staticMembers map[string]string // instance id → member id
	pendingJoin   map[string]bool   // ids handed out with MEMBER_ID_REQUIRED
	pendingSync   map[string]bool   // members yet to SyncGroup this generation
	awaitingJoin  int
	// supported counts the members supporting each protocol name.
	supported map[string]int
	// subscribedTopics are the consumer members' topics; nil when not
	// known (not a consumer group or unparsable subscriptions).
	subscribedTopics map[string]bool
	// newMemberAdded extends the initial rebalance delay.
	newMemberAdded bool
}

func newClassicGroup(id string, state classicState, nowMs int64) *classicGroup {
	return &classicGroup{
		id:               id,
		state:            state,
		prevState:        stateDead,
		stateTimestampMs: nowMs,
		members:          map[string]*classicMember{},
		staticMembers:    map[string]string{},
		pendingJoin:      map[string]bool{},
		pendingSync:      map[string]bool{},
		supported:        map[string]int{},
	}
}

func (g *classicGroup) is(s classicState) bool { return g.state == s }

func (g *classicGroup) transitionTo(s classicState, nowMs int64) {
	g.prevState = g.state
	g.state = s
	g.stateTimestampMs = nowMs
}

// canRebalance: a rebalance may start from Stable, CompletingRebalance
// and Empty.
func (g *classicGroup) canRebalance() bool {
	return slices.Contains(statePreparingRebalance.validPrevious(), g.state)
}

func (g *classicGroup) numMembers() int { return len(g.members) }

func (g *classicGroup) isLeader(id string) bool { return g.leader != "" && g.leader == id }

func (g *classicGroup) hasStaticMember(instanceID string) bool {
	_, ok := g.staticMembers[instanceID]
	return ok
}

func (g *classicGroup) usesConsumerProtocol() bool {
	return g.protocolType != nil && *g.protocolType == consumerProtocolType
}

// add adds member; reply, if set, awaits the join response.
func (g *classicGroup) add(m *classicMember, reply func(JoinResponse)) {
	if m.instanceID != nil {
		g.staticMembers[*m.instanceID] = m.id
	}
	if len(g.members) == 0 {
		pt := m.protocolType
		g.protocolType = &pt
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	for _, p := range m.protocols {
		g.supported[p.Name]++
	}
	m.joinReply = reply
	if m.isAwaitingJoin() {
		g.awaitingJoin++
	}
	delete(g.pendingJoin, m.id)
}

// remove removes a member (or a pending member). A leader that leaves is
// replaced by the next member in join order.
func (g *classicGroup) remove(id string) {
	if m, ok := g.members[id]; ok {
		delete(g.members, id)
		g.order = slices.DeleteFunc(g.order, func(x string) bool { return x == id })
		for _, p := range m.protocols {
			g.supported[p.Name]--
		}
		if m.isAwaitingJoin() {
			g.awaitingJoin--
		}
		if m.instanceID != nil {
			delete(g.staticMembers, *m.instanceID)
		}
	}
	if g.isLeader(id) {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
	delete(g.pendingJoin, id)
	delete(g.pendingSync, id)
}

// maybeElectNewJoinedLeader keeps the leader if it rejoined, else picks a
// member that did; false when no member rejoined (or there is no leader).
func (g *classicGroup) maybeElectNewJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if l := g.members[g.leader]; l != nil && l.isAwaitingJoin() {
		return true
	}
	for _, id := range g.order {
		if g.members[id].isAwaitingJoin() {
			g.leader = id
			return true
		}
	}
	return false
}

// replaceStaticMember gives a static member a new member id, fencing
// whoever waits with the old id (Kafka's replaceStaticMember). The caller
// delivers the returned fence replies.
func (g *classicGroup) replaceStaticMember(instanceID, oldID, newID string) (*classicMember, func(JoinResponse), func(SyncResponse)) {
	old := g.members[oldID]
	delete(g.members, oldID)
	join, sync := old.joinReply, old.syncReply
	if join != nil {
		g.awaitingJoin--
	}
	nm := &classicMember{
		id: newID, instanceID: old.instanceID, clientID: old.clientID, clientHost: old.clientHost,
		rebalanceTimeoutMs: old.rebalanceTimeoutMs, sessionTimeoutMs: old.sessionTimeoutMs,
		protocolType: old.protocolType, protocols: old.protocols, assignment: old.assignment,
	}
	g.members[newID] = nm
	for i, id := range g.order {
		if id == oldID {
			g.order[i] = newID
		}
	}
	if g.isLeader(oldID) {
		g.leader = newID
	}
	g.staticMembers[instanceID] = newID
	return nm, join, sync
}

// updateMember replaces a member's protocols and timeouts; reply, if
// set, awaits the join response.
func (g *classicGroup) updateMember(m *classicMember, protocols []Protocol, rebalanceTimeoutMs, sessionTimeoutMs int32, reply func(JoinResponse)) {
	for _, p := range m.protocols {
		g.supported[p.Name]--
	}
	m.protocols = protocols
	for _, p := range m.protocols {
		g.supported[p.Name]++
	}
	m.rebalanceTimeoutMs = rebalanceTimeoutMs
	m.sessionTimeoutMs = sessionTimeoutMs
	if reply != nil && !m.isAwaitingJoin() {
		g.awaitingJoin++
	} else if reply == nil && m.isAwaitingJoin() {
		g.awaitingJoin--
	}
	m.joinReply = reply
}

func (g *classicGroup) hasAllMembersJoined() bool {
	return len(g.members) == g.awaitingJoin && len(g.pendingJoin) == 0
}

// rebalanceTimeoutMs is the largest rebalance timeout of the members.
func (g *classicGroup) rebalanceTimeoutMs() int32 {
	var t int32
	for _, m := range g.members {
		t = max(t, m.rebalanceTimeoutMs)
	}
	return t
}

// supportsProtocols: an Empty group takes any non-empty protocol type and
// list; otherwise the type must match and one protocol must be supported
// by every member.
func (g *classicGroup) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.is(stateEmpty) {
		return protocolType != "" && len(protocols) > 0
	}
	if g.protocolType == nil || *g.protocolType != protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supported[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol lets every member vote for its most preferred protocol
// among those all members support; the most voted wins (ties: the one
// the earliest member voted for).
func (g *classicGroup) selectProtocol() string {
	candidates := map[string]bool{}
	for name, n := range g.supported {
		if n == len(g.members) {
			candidates[name] = true
		}
	}
	votes := map[string]int{}
	var order []string
	for _, id := range g.order {
		v := g.members[id].vote(candidates)
		if votes[v] == 0 {
			order = append(order, v)
		}
		votes[v]++
	}
	best := ""
	for _, name := range order {
		if best == "" || votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

// initNextGeneration starts the next generation: CompletingRebalance
// with a protocol, or Empty when no member is left.
func (g *classicGroup) initNextGeneration(nowMs int64) {
	g.generation++
	if len(g.members) > 0 {
		p := g.selectProtocol()
		g.protocolName = &p
		g.subscribedTopics = g.computeSubscribedTopics()
		g.transitionTo(stateCompletingRebalance, nowMs)
	} else {
		g.protocolName = nil
		g.subscribedTopics = g.computeSubscribedTopics()
		g.transitionTo(stateEmpty, nowMs)
	}
	clear(g.pendingSync)
}

// computeSubscribedTopics parses the consumer members' subscriptions;
// nil when unknown.
func (g *classicGroup) computeSubscribedTopics() map[string]bool {
	if !g.usesConsumerProtocol() {
		return nil
	}
	topics := map[string]bool{}
	if len(g.members) == 0 {
		return topics
	}
	if g.protocolName == nil {
		return nil
	}
	for _, m := range g.members {
		ts, ok := parseSubscriptionTopics(m.metadata(*g.protocolName))
		if !ok {
			return nil
		}
		for _, t := range ts {
			topics[t] = true
		}
	}
	return topics
}

// isSubscribedToTopic: when the topics are not known, a consumer group
// is assumed subscribed to everything and any other group to nothing.
func (g *classicGroup) isSubscribedToTopic(topic string) bool {
	if g.subscribedTopics == nil {
		return g.usesConsumerProtocol()
	}
	return g.subscribedTopics[topic]
}

// notYetRejoined returns the members that have not rejoined, in order.
func (g *classicGroup) notYetRejoined() []*classicMember {
	var out []*classicMember
	for _, id := range g.order {
		if m := g.members[id]; !m.isAwaitingJoin() {
			out = append(out, m)
		}
	}
	return out
}

// currentMembers is the leader's member list for the current protocol.
func (g *classicGroup) currentMembers() []JoinMember {
	out := make([]JoinMember, 0, len(g.members))
	for _, id := range g.order {
		m := g.members[id]
		var md []byte
		if g.protocolName != nil {
			md = m.metadata(*g.protocolName)
		}
		out = append(out, JoinMember{MemberID: m.id, InstanceID: m.instanceID, Metadata: md})
	}
	return out
}

// assignments returns every member's assignment.
func (g *classicGroup) assignments() map[string][]byte {
	out := make(map[string][]byte, len(g.members))
	for id, m := range g.members {
		out[id] = m.assignment
	}
	return out
}

// parseSubscriptionTopics reads the topics of a consumer protocol
// subscription with the v0 schema, which every version extends:
//
//	version int16 | topics: int32 count, then int16 length + UTF-8 each | …
func parseSubscriptionTopics(b []byte) ([]string, bool) {
	if len(b) < 6 {
		return nil, false
	}
	n := int(int32(uint32(b[2])<<24 | uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5])))
	b = b[6:]
	if n < 0 || n > len(b)/2 {
		return nil, false
	}
	topics := make([]string, 0, n)
	for range n {
		if len(b) < 2 {
			return nil, false
		}
		l := int(int16(uint16(b[0])<<8 | uint16(b[1])))
		b = b[2:]
		if l < 0 || l > len(b) {
			return nil, false
		}
		topics = append(topics, string(b[:l]))
		b = b[l:]
	}
	return topics, true
}
