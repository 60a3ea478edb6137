package group

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// Group types as ListGroups reports them (KIP-848's group.type).
const (
	TypeClassic  = "classic"
	TypeConsumer = "consumer"
)

// ListGroups lists the shard's groups whose state and type pass the
// filters (case-insensitive; empty passes all).
func (s *Shard) ListGroups(req ListRequest) []ListedGroup {
	states := map[string]bool{}
	for _, st := range req.States {
		states[strings.ToLower(strings.TrimSpace(st))] = true
	}
	types := map[string]bool{}
	for _, t := range req.Types {
		types[strings.ToLower(strings.TrimSpace(t))] = true
	}
	var out []ListedGroup
	for _, id := range slices.Sorted(maps.Keys(s.groups)) {
		g := s.groups[id]
		if len(states) > 0 && !states[strings.ToLower(g.state.String())] {
			continue
		}
		if len(types) > 0 && !types[TypeClassic] {
			continue
		}
		pt := ""
		if g.protocolType != nil {
			pt = *g.protocolType
		}
		out = append(out, ListedGroup{Group: id, ProtocolType: pt, State: g.state.String(), Type: TypeClassic})
	}
	for _, id := range slices.Sorted(maps.Keys(s.consumerGroups)) {
		st := s.consumerGroups[id].state()
		if len(states) > 0 && !states[strings.ToLower(st)] {
			continue
		}
		if len(types) > 0 && !types[TypeConsumer] {
			continue
		}
		out = append(out, ListedGroup{Group: id, ProtocolType: consumerProtocolType, State: st, Type: TypeConsumer})
	}
	slices.SortFunc(out, func(a, b ListedGroup) int { return strings.Compare(a.Group, b.Group) })
	return out
}

// DescribeGroup describes one group. A group that does not exist is
// described as Dead, with GROUP_ID_NOT_FOUND when notFoundError
// (DescribeGroups v6+, KIP-1043).
func (s *Shard) DescribeGroup(id string, notFoundError bool) DescribedGroup {
	g, ok := s.groups[id]
	if !ok {
		d := DescribedGroup{Group: id, State: stateDead.String()}
		if notFoundError {
			msg := "Group " + id + " not found."
			if _, consumer := s.consumerGroups[id]; consumer {
				msg = "Group " + id + " is not a classic group."
			}
			d.ErrorCode, d.ErrorMessage = kerr.GroupIDNotFound.Code, &msg
		}
		return d
	}
	d := DescribedGroup{Group: id, State: g.state.String()}
	if g.protocolType != nil {
		d.ProtocolType = *g.protocolType
	}
	stable := g.is(stateStable) && g.protocolName != nil
	if stable {
		d.Protocol = *g.protocolName
	}
	for _, mid := range g.order {
		m := g.members[mid]
		dm := DescribedMember{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost, Metadata: []byte{}, Assignment: []byte{}}
		if stable {
			if md := m.metadata(d.Protocol); md != nil {
				dm.Metadata = md
			}
			if m.assignment != nil {
				dm.Assignment = m.assignment
			}
		}
		d.Members = append(d.Members, dm)
	}
	return d
}

// DeleteGroups deletes groups that are Empty (or Dead... not found),
// with their offsets. reply is called once the tombstones are written.
func (s *Shard) DeleteGroups(now time.Time, ids []string, reply func([]DeletedGroup), res *coordinator.Result) {
	out := make([]DeletedGroup, 0, len(ids))
	var deleted []int
	for _, id := range ids {
		if cg, ok := s.consumerGroups[id]; ok {
			if !cg.isEmpty() {
				out = append(out, DeletedGroup{Group: id, ErrorCode: kerr.NonEmptyGroup.Code})
				continue
			}
			s.offsetTombstones(id, res)
			s.consumerGroupTombstones(cg, res)
			deleted = append(deleted, len(out))
			out = append(out, DeletedGroup{Group: id})
			continue
		}
		g, ok := s.groups[id]
		switch {
		case !ok || g.is(stateDead):
			out = append(out, DeletedGroup{Group: id, ErrorCode: kerr.GroupIDNotFound.Code})
			continue
		case !g.is(stateEmpty):
			out = append(out, DeletedGroup{Group: id, ErrorCode: kerr.NonEmptyGroup.Code})
			continue
		}
		s.offsetTombstones(id, res)
		res.Add(groupTombstone(id))
		deleted = append(deleted, len(out))
		out = append(out, DeletedGroup{Group: id})
	}
	res.Replay = true
	onAppend(res, func(_ time.Time, err error, next *coordinator.Result) {
		if err != nil {
			code := coordinator.WriteErrorCode(err)
			for _, i := range deleted {
				out[i].ErrorCode = code
			}
		}
		next.Reply(func() { reply(out) })
	})
}

// offsetTombstones writes a tombstone for every committed offset of a
// group, and for every partition with only a transactional offset
// pending (Kafka's deleteAllOffsets), whose replay drops it.
func (s *Shard) offsetTombstones(id string, res *coordinator.Result) {
	offsets := s.offsets[id]
	for _, topic := range slices.Sorted(maps.Keys(offsets)) {
		for _, p := range slices.Sorted(maps.Keys(offsets[topic])) {
			res.Add(offsetTombstone(id, topic, p))
		}
	}
	pending := s.pendingPartitions(id)
	for _, topic := range slices.Sorted(maps.Keys(pending)) {
		for _, p := range pending[topic] {
			res.Add(offsetTombstone(id, topic, p))
		}
	}
}
