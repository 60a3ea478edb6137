package raft

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"
)

// Config configures a Node. Fill the required fields (NodeID, Voters, Dir);
// Open calls EnsureDefaults and then Validate, so the zero value of every
// other field means "Kafka's default".
type Config struct {
	// NodeID is this node's node.id. Kafka node ids are >= 0; raft's ids
	// are NodeID+1 (raft reserves 0 for "none").
	NodeID int32
	// Voters maps each voter's node.id to its raft address (host:port),
	// as controller.quorum.voters lists them ("1@host:9093,..."). The set
	// is static: it is written to Dir when the node is first started and
	// later runs use the stored set (a mismatch is logged, not fatal).
	Voters map[int32]string
	// Learners maps non-voting members (KRaft observers) to their
	// addresses. They receive the log but never vote. May be nil.
	Learners map[int32]string
	// Dynamic makes the membership the log's (KIP-853): Voters and
	// Learners must be empty, the initial voters are the entries
	// Bootstrap wrote into Dir (a Dir without a WAL starts empty: the
	// node waits to be added), and AddVoter, RemoveVoter and UpdateVoter
	// change it. Each member's address travels with the change that
	// added it.
	Dynamic bool
	// AdvertisedAddr is the address other members reach this node at,
	// announced when it connects to them (a dynamic member that has not
	// yet applied the change adding a peer learns its address this way).
	// Default: ListenAddr.
	AdvertisedAddr string
	// ClusterID is the cluster's id (kafka-storage format --cluster-id).
	// Peers that present a different id are refused. May be empty, in
	// which case it is not checked.
	ClusterID string
	// Dir holds the node's durable raft state (the WAL). Created if
	// missing. Two nodes must never share a Dir.
	Dir string
	// ListenAddr is the address the node accepts peer connections on.
	// Default: this node's entry in Voters (or Learners); required when
	// Dynamic.
	ListenAddr string

	// TickInterval is the length of one raft tick. Default 100 ms.
	TickInterval time.Duration
	// ElectionTimeout is how long a follower waits without hearing from a
	// leader before it campaigns (randomised by raft in [t, 2t)), and how
	// long a leader waits without hearing from a quorum before it steps
	// down. Kafka: controller.quorum.election.timeout.ms, default 1000 ms;
	// the leader-loss half of it is Kafka's controller.quorum.fetch.timeout.ms.
	// Rounded down to whole ticks; must be more than HeartbeatInterval.
	ElectionTimeout time.Duration
	// HeartbeatInterval is how often the leader sends heartbeats.
	// Default: one tick.
	HeartbeatInterval time.Duration

	// MaxSizePerMsg bounds the entry bytes in one append message.
	// Default 1 MiB.
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds the append messages in flight to one
	// follower. Default 256.
	MaxInflightMsgs int
	// MaxUncommittedBytes bounds the leader's uncommitted entry bytes;
	// proposals beyond it fail with ErrProposalDropped. Default 64 MiB.
	MaxUncommittedBytes uint64

	// SendQueueLength is the number of messages queued for one peer
	// before further messages to it are dropped (raft retransmits).
	// Default 1024.
	SendQueueLength int
	// MaxFrameBytes bounds one message on the wire (a snapshot is one
	// message). Default 256 MiB.
	MaxFrameBytes int
	// DialTimeout bounds one connection attempt. Default 1 s.
	DialTimeout time.Duration
	// WriteTimeout bounds one write to a peer; a peer that does not drain
	// its socket for that long is disconnected. Default 5 s.
	WriteTimeout time.Duration
	// ReconnectBackoff and MaxReconnectBackoff bound the wait between
	// connection attempts to a peer, doubling from the first to the
	// second. Kafka: reconnect.backoff.ms (50) and
	// reconnect.backoff.max.ms (1000).
	ReconnectBackoff    time.Duration
	MaxReconnectBackoff time.Duration

	// Logger receives the node's logs (and etcd raft's, at Debug/Info).
	// Default: discard.
	Logger *slog.Logger
	// Listen opens the peer listener. Default net.Listen.
	Listen func(network, address string) (net.Listener, error)
	// Dial connects to a peer. Default (&net.Dialer{}).DialContext.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Now returns the current time (Status' LastContact). Default time.Now.
	Now func() time.Time
	// NewTicker returns the ticker that drives raft's clock.
	// Default: a time.Ticker.
	NewTicker func(d time.Duration) Ticker
}

// Ticker is the raft clock: every value received from C is one tick.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

type timeTicker struct{ t *time.Ticker }

func (t timeTicker) C() <-chan time.Time { return t.t.C }
func (t timeTicker) Stop()               { t.t.Stop() }

// EnsureDefaults fills every unset field with its default. It is the only
// place defaults live.
func (c *Config) EnsureDefaults() {
	if c.ListenAddr == "" {
		if a, ok := c.Voters[c.NodeID]; ok {
			c.ListenAddr = a
		} else if a, ok := c.Learners[c.NodeID]; ok {
			c.ListenAddr = a
		}
	}
	if c.AdvertisedAddr == "" {
		c.AdvertisedAddr = c.ListenAddr
	}
	if c.TickInterval <= 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTimeout <= 0 {
		c.ElectionTimeout = 1000 * time.Millisecond
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = c.TickInterval
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = 1 << 20
	}
	if c.MaxInflightMsgs <= 0 {
		c.MaxInflightMsgs = 256
	}
	if c.MaxUncommittedBytes == 0 {
		c.MaxUncommittedBytes = 64 << 20
	}
	if c.SendQueueLength <= 0 {
		c.SendQueueLength = 1024
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 256 << 20
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.ReconnectBackoff <= 0 {
		c.ReconnectBackoff = 50 * time.Millisecond
	}
	if c.MaxReconnectBackoff <= 0 {
		c.MaxReconnectBackoff = time.Second
	}
	if c.MaxReconnectBackoff < c.ReconnectBackoff {
		c.MaxReconnectBackoff = c.ReconnectBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Listen == nil {
		c.Listen = net.Listen
	}
	if c.Dial == nil {
		d := &net.Dialer{}
		c.Dial = d.DialContext
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewTicker == nil {
		c.NewTicker = func(d time.Duration) Ticker { return timeTicker{time.NewTicker(d)} }
	}
}

// Validate reports the first problem with c, assuming EnsureDefaults has
// run.
func (c *Config) Validate() error {
	if c.NodeID < 0 {
		return fmt.Errorf("%w: node id %d < 0", ErrInvalidConfig, c.NodeID)
	}
	if c.Dynamic {
		if len(c.Voters) > 0 || len(c.Learners) > 0 {
			return fmt.Errorf("%w: a dynamic quorum's members come from its log, not Voters", ErrInvalidConfig)
		}
	} else if len(c.Voters) == 0 {
		return fmt.Errorf("%w: no voters", ErrInvalidConfig)
	}
	for id, addr := range c.Voters {
		if id < 0 {
			return fmt.Errorf("%w: voter id %d < 0", ErrInvalidConfig, id)
		}
		if addr == "" {
			return fmt.Errorf("%w: voter %d has no address", ErrInvalidConfig, id)
		}
		if _, ok := c.Learners[id]; ok {
			return fmt.Errorf("%w: node %d is both voter and learner", ErrInvalidConfig, id)
		}
	}
	for id, addr := range c.Learners {
		if id < 0 {
			return fmt.Errorf("%w: learner id %d < 0", ErrInvalidConfig, id)
		}
		if addr == "" {
			return fmt.Errorf("%w: learner %d has no address", ErrInvalidConfig, id)
		}
	}
	_, isVoter := c.Voters[c.NodeID]
	_, isLearner := c.Learners[c.NodeID]
	if !isVoter && !isLearner && !c.Dynamic {
		return fmt.Errorf("%w: node %d is neither a voter nor a learner", ErrInvalidConfig, c.NodeID)
	}
	if c.Dir == "" {
		return fmt.Errorf("%w: no dir", ErrInvalidConfig)
	}
	if c.ListenAddr == "" {
		return fmt.Errorf("%w: no listen address", ErrInvalidConfig)
	}
	if c.TickInterval <= 0 {
		return fmt.Errorf("%w: tick interval %v", ErrInvalidConfig, c.TickInterval)
	}
	if h := c.heartbeatTicks(); h < 1 {
		return fmt.Errorf("%w: heartbeat interval %v shorter than a tick", ErrInvalidConfig, c.HeartbeatInterval)
	}
	if c.electionTicks() <= c.heartbeatTicks() {
		return fmt.Errorf("%w: election timeout %v must exceed heartbeat interval %v by a tick (tick %v)",
			ErrInvalidConfig, c.ElectionTimeout, c.HeartbeatInterval, c.TickInterval)
	}
	if c.MaxSizePerMsg == 0 || c.MaxInflightMsgs <= 0 || c.SendQueueLength <= 0 || c.MaxFrameBytes <= 0 {
		return fmt.Errorf("%w: limits must be positive", ErrInvalidConfig)
	}
	if uint64(c.MaxFrameBytes) < c.MaxSizePerMsg {
		return fmt.Errorf("%w: max frame bytes %d < max size per msg %d", ErrInvalidConfig, c.MaxFrameBytes, c.MaxSizePerMsg)
	}
	if c.Logger == nil || c.Listen == nil || c.Dial == nil || c.Now == nil || c.NewTicker == nil {
		return fmt.Errorf("%w: nil dependency (call EnsureDefaults)", ErrInvalidConfig)
	}
	return nil
}

func (c *Config) electionTicks() int  { return int(c.ElectionTimeout / c.TickInterval) }
func (c *Config) heartbeatTicks() int { return int(c.HeartbeatInterval / c.TickInterval) }

// raftID is the etcd raft id of a Kafka node id: raft reserves 0.
func raftID(id int32) uint64 { return uint64(id) + 1 }

// nodeID is the Kafka node id of a raft id; raft's "none" (0) is -1.
func nodeID(id uint64) int32 {
	if id == 0 {
		return -1
	}
	return int32(id - 1)
}

// members returns the sorted raft ids of m.
func members(m map[int32]string) []uint64 {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, raftID(id))
	}
	slices.Sort(ids)
	return ids
}

// peerAddrs returns every member but self, by raft id.
func (c *Config) peerAddrs() map[uint64]string {
	out := map[uint64]string{}
	for id, a := range c.Voters {
		if id != c.NodeID {
			out[raftID(id)] = a
		}
	}
	for id, a := range c.Learners {
		if id != c.NodeID {
			out[raftID(id)] = a
		}
	}
	return out
}
