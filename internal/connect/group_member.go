package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupMember speaks the classic group protocol for one worker (Kafka's
// WorkerGroupMember and WorkerCoordinator): JoinGroup, SyncGroup,
// Heartbeat and LeaveGroup with protocol type "connect", sent with kgo's
// Client.Request, which finds the group coordinator. kgo's own group
// consumer only speaks protocol type "consumer".
//
// It is not safe for concurrent use: the distributed herder's loop owns
// it.
type groupMember struct {
	cl        *kgo.Client
	log       *slog.Logger
	group     string
	protocols []string // in preference order
	session   time.Duration
	rebalance time.Duration

	memberID   string
	generation int32
	protocol   string // chosen by the coordinator
	leaderID   string
}

// Errors of the group membership.
var (
	// errRejoin: the group is rebalancing; join again, keeping the
	// assignment (cooperative).
	errRejoin = errors.New("connect: group rebalance in progress")
	// errFenced: the member is no longer in the group; its assignment is
	// lost.
	errFenced = errors.New("connect: worker is no longer a member of the group")
)

func newGroupMember(cl *kgo.Client, cfg *DistributedConfig, log *slog.Logger) *groupMember {
	protocols := []string{ProtocolSessioned, ProtocolCompatible}
	if cfg.Protocol == ProtocolCompatible {
		protocols = []string{ProtocolCompatible}
	}
	return &groupMember{cl: cl, log: log, group: cfg.GroupID, protocols: protocols,
		session: cfg.SessionTimeout, rebalance: cfg.RebalanceTimeout, generation: -1}
}

func protocolVersion(name string) int16 {
	if name == ProtocolSessioned {
		return connectProtocolV2
	}
	return connectProtocolV1
}

// joinedMember is one member of a JoinGroup response, for the leader.
type joinedMember struct {
	ID       string
	Metadata []byte
}

// join joins the group and syncs (Kafka's AbstractCoordinator
// ensureActiveGroup). metadata gives this worker's metadata for a
// protocol version; assign, called on the leader, maps each member to its
// serialized assignment. join returns this member's assignment.
func (m *groupMember) join(ctx context.Context, metadata func(version int16) []byte, assign func(protocol string, members []joinedMember) (map[string][]byte, error)) ([]byte, error) {
	for {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = m.group
		req.SessionTimeoutMillis = int32(m.session.Milliseconds())
		req.RebalanceTimeoutMillis = int32(m.rebalance.Milliseconds())
		req.MemberID = m.memberID
		req.ProtocolType = "connect"
		for _, p := range m.protocols {
			jp := kmsg.NewJoinGroupRequestProtocol()
			jp.Name = p
			jp.Metadata = metadata(protocolVersion(p))
			req.Protocols = append(req.Protocols, jp)
		}
		resp, err := req.RequestWith(ctx, m.cl)
		if err != nil {
			return nil, fmt.Errorf("join group %s: %w", m.group, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			switch {
			case errors.Is(err, kerr.MemberIDRequired):
				m.memberID = resp.MemberID
				continue
			case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration):
				m.memberID, m.generation = "", -1
				continue
			case errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.CoordinatorLoadInProgress),
				errors.Is(err, kerr.CoordinatorNotAvailable), errors.Is(err, kerr.NotCoordinator):
				if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
					return nil, err
				}
				continue
			}
			return nil, fmt.Errorf("join group %s: %w", m.group, err)
		}
		m.memberID = resp.MemberID
		m.generation = resp.Generation
		m.leaderID = resp.LeaderID
		if resp.Protocol != nil {
			m.protocol = *resp.Protocol
		}
		m.log.Info("Joined group", "generation", m.generation, "member", m.memberID, "leader", m.leaderID, "protocol", m.protocol)

		sync := kmsg.NewPtrSyncGroupRequest()
		sync.Group = m.group
		sync.Generation = m.generation
		sync.MemberID = m.memberID
		pt := "connect"
		sync.ProtocolType = &pt
		sync.Protocol = resp.Protocol
		if m.leaderID == m.memberID {
			members := make([]joinedMember, len(resp.Members))
			for i, jm := range resp.Members {
				members[i] = joinedMember{ID: jm.MemberID, Metadata: jm.ProtocolMetadata}
			}
			assignments, err := assign(m.protocol, members)
			if err != nil {
				return nil, err
			}
			for id, a := range assignments {
				ga := kmsg.NewSyncGroupRequestGroupAssignment()
				ga.MemberID = id
				ga.MemberAssignment = a
				sync.GroupAssignment = append(sync.GroupAssignment, ga)
			}
		}
		sresp, err := sync.RequestWith(ctx, m.cl)
		if err != nil {
			return nil, fmt.Errorf("sync group %s: %w", m.group, err)
		}
		if err := kerr.ErrorForCode(sresp.ErrorCode); err != nil {
			switch {
			case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration):
				m.memberID, m.generation = "", -1
				continue
			case errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.CoordinatorNotAvailable), errors.Is(err, kerr.NotCoordinator):
				continue
			}
			return nil, fmt.Errorf("sync group %s: %w", m.group, err)
		}
		return sresp.MemberAssignment, nil
	}
}

// heartbeat sends one heartbeat: nil, errRejoin (the group rebalances) or
// errFenced (the member was removed).
func (m *groupMember) heartbeat(ctx context.Context) error {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group = m.group
	req.Generation = m.generation
	req.MemberID = m.memberID
	resp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	err = kerr.ErrorForCode(resp.ErrorCode)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.RebalanceInProgress):
		return errRejoin
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.FencedInstanceID):
		m.memberID, m.generation = "", -1
		return fmt.Errorf("%w: %w", errFenced, err)
	}
	return fmt.Errorf("heartbeat: %w", err)
}

// leave leaves the group (a clean stop: the coordinator rebalances at
// once instead of waiting for the session to time out).
func (m *groupMember) leave(ctx context.Context) {
	if m.memberID == "" {
		return
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = m.group
	req.MemberID = m.memberID
	mem := kmsg.NewLeaveGroupRequestMember()
	mem.MemberID = m.memberID
	req.Members = append(req.Members, mem)
	if _, err := req.RequestWith(ctx, m.cl); err != nil {
		m.log.Warn("Failed to leave the group", "err", err)
	}
	m.memberID, m.generation = "", -1
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
