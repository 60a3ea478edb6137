package controller

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// ErrInvalidClusterConfig is returned by ClusterConfig.Validate.
var ErrInvalidClusterConfig = errors.New("controller: invalid cluster config")

// ClusterConfig configures a Cluster. Start from DefaultClusterConfig.
type ClusterConfig struct {
	// ClusterID is the cluster.id a registering broker must present;
	// empty accepts any.
	ClusterID string
	// SessionTimeout is broker.session.timeout.ms: an unfenced broker
	// that has not heartbeated for this long is fenced. Default 9 s.
	SessionTimeout time.Duration
	// UncleanLeaderElection is the static unclean.leader.election.enable;
	// the dynamic cluster default and topic overrides in the image win
	// over it. Default false.
	UncleanLeaderElection bool
	// AutoLeaderRebalance is auto.leader.rebalance.enable. Default true.
	AutoLeaderRebalance bool
	// LeaderImbalancePerBrokerPercentage is
	// leader.imbalance.per.broker.percentage. Default 10.
	LeaderImbalancePerBrokerPercentage int
	// LeaderImbalanceCheckInterval is
	// leader.imbalance.check.interval.seconds. Default 300 s.
	LeaderImbalanceCheckInterval time.Duration
	// Logger receives decisions worth an operator's attention (fencing,
	// unclean elections). Default: discard.
	Logger *slog.Logger
}

// DefaultClusterConfig returns Kafka's defaults.
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{
		SessionTimeout:                     9 * time.Second,
		AutoLeaderRebalance:                true,
		LeaderImbalancePerBrokerPercentage: 10,
		LeaderImbalanceCheckInterval:       300 * time.Second,
	}
}

// Validate checks the config; errors wrap ErrInvalidClusterConfig.
func (cfg *ClusterConfig) Validate() error {
	switch {
	case cfg.SessionTimeout <= 0:
		return fmt.Errorf("%w: broker.session.timeout.ms must be positive, got %v", ErrInvalidClusterConfig, cfg.SessionTimeout)
	case cfg.LeaderImbalancePerBrokerPercentage < 0 || cfg.LeaderImbalancePerBrokerPercentage > 100:
		return fmt.Errorf("%w: leader.imbalance.per.broker.percentage must be in [0, 100], got %d", ErrInvalidClusterConfig, cfg.LeaderImbalancePerBrokerPercentage)
	case cfg.AutoLeaderRebalance && cfg.LeaderImbalanceCheckInterval <= 0:
		return fmt.Errorf("%w: leader.imbalance.check.interval.seconds must be positive, got %v", ErrInvalidClusterConfig, cfg.LeaderImbalanceCheckInterval)
	}
	return nil
}

// Cluster makes the active controller's decisions about brokers and
// partition leadership, as Kafka's ClusterControlManager,
// ReplicationControlManager and BrokerHeartbeatManager do. Every method
// takes the current image (and, where time matters, the time) and returns
// a Result; none does I/O, starts a goroutine or reads a clock.
//
// The caller is the controller's single event loop. It must commit each
// Result's records as one batch and apply them to the image before it
// asks the next question: records carry absolute epochs computed from the
// image they were planned against (Image.Apply refuses a stale partition
// change). A Result's response may be sent only after its records commit.
//
// Cluster keeps soft state that is not in the metadata log: when each
// broker last heartbeated, the metadata offset it reported, and the offset
// at which its controlled shutdown completes. A controller that becomes
// active builds a new Cluster, so every registered broker starts a fresh
// session then (BrokerHeartbeatManager's comment on failover).
//
// Not safe for concurrent use.
type Cluster struct {
	cfg      ClusterConfig
	sessions map[int32]*brokerSession
	// nextBalance is when BalanceLeaders next runs from Tick.
	nextBalance time.Time
}

// brokerSession is the soft state of one registered broker.
type brokerSession struct {
	lastContact time.Time
	// metadataOffset is the image Offset the broker last reported, or -1.
	metadataOffset int64
	// shutdownOffset is the Offset every active broker must reach before
	// a broker in controlled shutdown may stop, or -1.
	shutdownOffset int64
}

// NewCluster validates cfg and returns a Cluster activated at now over
// im: every registered broker gets a session starting now.
func NewCluster(cfg ClusterConfig, im *metadata.Image, now time.Time) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{cfg: cfg, sessions: map[int32]*brokerSession{}, nextBalance: now.Add(cfg.LeaderImbalanceCheckInterval)}
	for _, b := range im.Brokers() {
		s := c.session(b.ID, now)
		if b.InControlledShutdown {
			// Whatever the previous controller wrote is in im.
			s.shutdownOffset = im.Offset
		}
	}
	return c, nil
}

// session returns broker id's session, starting one at now if it has none.
func (c *Cluster) session(id int32, now time.Time) *brokerSession {
	s, ok := c.sessions[id]
	if !ok {
		s = &brokerSession{lastContact: now, metadataOffset: -1, shutdownOffset: -1}
		c.sessions[id] = s
	}
	return s
}

// expired reports whether the session of an unfenced broker has timed
// out at now.
func (c *Cluster) expired(s *brokerSession, now time.Time) bool {
	return now.Sub(s.lastContact) >= c.cfg.SessionTimeout
}

// BrokerRegistration is a BrokerRegistration request (key 62, KIP-631).
type BrokerRegistration struct {
	BrokerID      int32
	ClusterID     string
	IncarnationID metadata.IncarnationID
	Listeners     []metadata.Endpoint
	// Rack is broker.rack, empty for none.
	Rack string
	// PreviousBrokerEpoch is the epoch the broker last held before a
	// clean shutdown, or -1 (KIP-966). Without ELR every re-registration
	// is handled as unclean, so it is informational.
	PreviousBrokerEpoch int64
}

// BrokerRegistrationReply answers a BrokerRegistration. Err is nil or an
// *apierror.Error: INCONSISTENT_CLUSTER_ID, DUPLICATE_BROKER_REGISTRATION,
// INVALID_REQUEST.
type BrokerRegistrationReply struct {
	BrokerEpoch int64
	Err         error
}

// RegisterBroker registers a broker (ClusterControlManager.registerBroker).
// The registration starts fenced; its broker epoch is the image offset
// that will first hold it. A broker id whose current registration has a
// live session and another incarnation is refused with
// DUPLICATE_BROKER_REGISTRATION. Re-registering removes the previous
// incarnation from every ISR and moves its leaderships first (Kafka's
// handleBrokerShutdown without ELR: a restarted broker may have lost
// unflushed records, so it must catch up before rejoining an ISR).
func (c *Cluster) RegisterBroker(im *metadata.Image, now time.Time, req BrokerRegistration) Result[BrokerRegistrationReply] {
	fail := func(err error) Result[BrokerRegistrationReply] {
		return Result[BrokerRegistrationReply]{Response: BrokerRegistrationReply{BrokerEpoch: -1, Err: err}}
	}
	if c.cfg.ClusterID != "" && req.ClusterID != c.cfg.ClusterID {
		return fail(apierror.New(kerr.InconsistentClusterID, "Expected cluster ID %s, but got cluster ID %s", c.cfg.ClusterID, req.ClusterID))
	}
	if req.BrokerID < 0 {
		return fail(apierror.New(kerr.InvalidRequest, "Invalid broker id %d", req.BrokerID))
	}
	seen := map[string]bool{}
	for _, l := range req.Listeners {
		if seen[l.Listener] {
			return fail(apierror.New(kerr.InvalidRequest, "Duplicate listener name %s", l.Listener))
		}
		seen[l.Listener] = true
	}
	p := newPlan(im)
	if existing, ok := im.Broker(req.BrokerID); ok {
		if existing.IncarnationID != req.IncarnationID && !existing.Fenced && !c.expired(c.session(existing.ID, now), now) {
			return fail(apierror.New(kerr.DuplicateBrokerRegistration, "Another broker is registered with that broker id."))
		}
		p.deactivated[existing.ID] = true
		c.updateLeaderAndISR(p, existing.ID, func(part metadata.Partition) bool {
			return part.InISR(existing.ID) || part.Leader == existing.ID
		})
	}
	epoch := im.Offset + 1
	p.add(metadata.Record{Type: metadata.TypeRegisterBroker, Broker: &metadata.BrokerRecord{
		ID:            req.BrokerID,
		Epoch:         epoch,
		IncarnationID: req.IncarnationID,
		Endpoints:     slices.Clone(req.Listeners),
		Rack:          req.Rack,
		Fenced:        true,
	}})
	c.sessions[req.BrokerID] = &brokerSession{lastContact: now, metadataOffset: -1, shutdownOffset: -1}
	c.cfg.Logger.Info("registered broker", "broker", req.BrokerID, "broker_epoch", epoch, "incarnation", req.IncarnationID, "rack", req.Rack)
	return Result[BrokerRegistrationReply]{Records: p.records, Response: BrokerRegistrationReply{BrokerEpoch: epoch}}
}

// BrokerHeartbeat is a BrokerHeartbeat request (key 63, KIP-631).
type BrokerHeartbeat struct {
	BrokerID    int32
	BrokerEpoch int64
	// CurrentMetadataOffset is the Offset of the broker's latest image.
	CurrentMetadataOffset int64
	// WantFence asks to be (or stay) fenced, e.g. while recovering logs.
	WantFence bool
	// WantShutDown asks for a controlled shutdown.
	WantShutDown bool
}

// BrokerHeartbeatReply answers a BrokerHeartbeat. Err is nil or
// STALE_BROKER_EPOCH (unknown broker or an old epoch: register again).
type BrokerHeartbeatReply struct {
	// IsCaughtUp: the broker's image holds its own registration.
	IsCaughtUp           bool
	IsFenced             bool
	InControlledShutdown bool
	ShouldShutDown       bool
	Err                  error
}

// brokerState is a broker's place in the heartbeat state machine
// (Kafka's BrokerControlState).
type brokerState int8

const (
	stateFenced brokerState = iota
	stateUnfenced
	stateControlledShutdown
	stateShutdownNow
)

func (s brokerState) fenced() bool { return s == stateFenced || s == stateShutdownNow }

func currentState(b *metadata.Broker) brokerState {
	switch {
	case b.Fenced:
		return stateFenced
	case b.InControlledShutdown:
		return stateControlledShutdown
	}
	return stateUnfenced
}

// BrokerHeartbeat processes a heartbeat (ReplicationControlManager.
// processBrokerHeartbeat and BrokerHeartbeatManager.
// calculateNextBrokerState):
//
//	FENCED ──caught up, !WantFence──▶ UNFENCED ──WantShutDown, leads──▶ CONTROLLED_SHUTDOWN
//	  │                                  │  │                                 │
//	  └─WantShutDown─▶ SHUTDOWN_NOW ◀────┘  └─WantFence─▶ FENCED             │
//	                      ▲                                                   │
//	                      └── leads nothing and every active broker has ──────┘
//	                          seen the records that moved its leaderships
//
// Fencing removes the broker from every ISR and moves its leaderships;
// unfencing elects it where a partition has no leader and it is eligible;
// entering controlled shutdown does the former while the broker keeps
// serving, so clients move to the new leaders before it stops.
func (c *Cluster) BrokerHeartbeat(im *metadata.Image, now time.Time, req BrokerHeartbeat) Result[BrokerHeartbeatReply] {
	reg, err := checkBrokerEpoch(im, req.BrokerID, req.BrokerEpoch)
	if err != nil {
		return Result[BrokerHeartbeatReply]{Response: BrokerHeartbeatReply{Err: err}}
	}
	s := c.session(reg.ID, now)
	cur := currentState(reg)
	next := c.nextState(im, reg, s, cur, req)
	p := newPlan(im)
	if next != cur {
		switch next {
		case stateFenced, stateShutdownNow:
			if !reg.Fenced {
				c.fence(p, reg)
			}
		case stateUnfenced:
			c.unfence(p, reg)
		case stateControlledShutdown:
			c.startControlledShutdown(p, reg)
		}
	}
	s.lastContact = now
	s.metadataOffset = req.CurrentMetadataOffset
	if next.fenced() {
		s.shutdownOffset = -1
	} else if next == stateControlledShutdown && s.shutdownOffset < 0 {
		s.shutdownOffset = batchOffset(im, p.records)
	}
	return Result[BrokerHeartbeatReply]{Records: p.records, Response: BrokerHeartbeatReply{
		IsCaughtUp:           req.CurrentMetadataOffset >= reg.Epoch,
		IsFenced:             next.fenced(),
		InControlledShutdown: next == stateControlledShutdown,
		ShouldShutDown:       next == stateShutdownNow,
	}}
}

func (c *Cluster) nextState(im *metadata.Image, reg *metadata.Broker, s *brokerSession, cur brokerState, req BrokerHeartbeat) brokerState {
	switch cur {
	case stateFenced:
		switch {
		case req.WantShutDown:
			return stateShutdownNow
		case !req.WantFence && req.CurrentMetadataOffset >= reg.Epoch:
			return stateUnfenced
		}
		return stateFenced
	case stateUnfenced:
		switch {
		case req.WantFence && req.WantShutDown:
			return stateShutdownNow
		case req.WantFence:
			return stateFenced
		case req.WantShutDown && leadsAny(im, reg.ID):
			return stateControlledShutdown
		case req.WantShutDown:
			return stateShutdownNow
		}
		return stateUnfenced
	case stateControlledShutdown:
		if leadsAny(im, reg.ID) || s.shutdownOffset > c.lowestActiveOffset(im) {
			return stateControlledShutdown
		}
		return stateShutdownNow
	}
	return stateShutdownNow
}

// lowestActiveOffset is the smallest metadata offset reported by an
// active broker, or MaxInt64 if there is none.
func (c *Cluster) lowestActiveOffset(im *metadata.Image) int64 {
	low := int64(math.MaxInt64)
	for _, b := range im.Brokers() {
		if !b.Active() {
			continue
		}
		off := int64(-1)
		if s, ok := c.sessions[b.ID]; ok {
			off = s.metadataOffset
		}
		low = min(low, off)
	}
	return low
}

func leadsAny(im *metadata.Image, broker int32) bool {
	for _, name := range im.TopicNames() {
		t, _ := im.Topic(name)
		for _, p := range t.Partitions {
			if p.Leader == broker {
				return true
			}
		}
	}
	return false
}

// checkBrokerEpoch returns broker id's registration if epoch is its
// current epoch (ClusterControlManager.checkBrokerEpoch).
func checkBrokerEpoch(im *metadata.Image, id int32, epoch int64) (*metadata.Broker, error) {
	b, ok := im.Broker(id)
	if !ok {
		return nil, apierror.New(kerr.StaleBrokerEpoch, "No broker registration found for broker id %d", id)
	}
	if b.Epoch != epoch {
		return nil, apierror.New(kerr.StaleBrokerEpoch, "Expected broker epoch %d, but got broker epoch %d", b.Epoch, epoch)
	}
	return b, nil
}

// fence plans fencing b (handleBrokerFenced): out of every ISR, leaders
// moved, then the fence record.
func (c *Cluster) fence(p *plan, b *metadata.Broker) {
	p.deactivated[b.ID] = true
	delete(p.activated, b.ID)
	c.updateLeaderAndISR(p, b.ID, func(part metadata.Partition) bool {
		return part.InISR(b.ID) || part.Leader == b.ID
	})
	p.add(metadata.Record{Type: metadata.TypeBrokerRegistrationChange, Broker: &metadata.BrokerRecord{
		ID: b.ID, Epoch: b.Epoch, FencingChange: metadata.FencingFence,
	}})
}

// unfence plans unfencing b (handleBrokerUnfenced): the unfence record,
// then elections for leaderless partitions it may now lead.
func (c *Cluster) unfence(p *plan, b *metadata.Broker) {
	p.add(metadata.Record{Type: metadata.TypeBrokerRegistrationChange, Broker: &metadata.BrokerRecord{
		ID: b.ID, Epoch: b.Epoch, FencingChange: metadata.FencingUnfence,
	}})
	p.activated[b.ID] = true
	c.updateLeaderAndISR(p, metadata.NoLeader, func(part metadata.Partition) bool {
		return part.Leader == metadata.NoLeader && slices.Contains(part.Replicas, b.ID)
	})
}

// startControlledShutdown plans b's controlled shutdown
// (handleBrokerInControlledShutdown): the state record, then b out of
// every ISR and its leaderships moved.
func (c *Cluster) startControlledShutdown(p *plan, b *metadata.Broker) {
	p.add(metadata.Record{Type: metadata.TypeBrokerRegistrationChange, Broker: &metadata.BrokerRecord{
		ID: b.ID, Epoch: b.Epoch, ControlledShutdownChange: metadata.ControlledShutdownEnter,
	}})
	p.deactivated[b.ID] = true
	c.updateLeaderAndISR(p, b.ID, func(part metadata.Partition) bool {
		return part.InISR(b.ID) || part.Leader == b.ID
	})
	c.cfg.Logger.Info("broker entered controlled shutdown", "broker", b.ID, "broker_epoch", b.Epoch)
}

// UnregisterBroker removes a broker's registration (UnregisterBroker, key
// 64, KIP-1073; ReplicationControlManager.unregisterBroker): it leaves
// every ISR and its leaderships move first. The response is nil or
// BROKER_ID_NOT_REGISTERED.
func (c *Cluster) UnregisterBroker(im *metadata.Image, id int32) Result[error] {
	b, ok := im.Broker(id)
	if !ok {
		return Result[error]{Response: apierror.New(kerr.BrokerIDNotRegistered, "Broker ID %d is not currently registered", id)}
	}
	p := newPlan(im)
	p.deactivated[id] = true
	c.updateLeaderAndISR(p, id, func(part metadata.Partition) bool {
		return part.InISR(id) || part.Leader == id
	})
	p.add(metadata.Record{Type: metadata.TypeUnregisterBroker, Broker: &metadata.BrokerRecord{ID: id, Epoch: b.Epoch}})
	delete(c.sessions, id)
	c.cfg.Logger.Info("unregistered broker", "broker", id, "broker_epoch", b.Epoch)
	return Result[error]{Records: p.records}
}

// FenceStaleBrokers fences every unfenced broker whose session has
// expired at now, oldest contact first (maybeFenceOneStaleBroker, for all
// of them at once: each fencing is planned on top of the previous ones).
// The response lists the fenced broker ids.
func (c *Cluster) FenceStaleBrokers(im *metadata.Image, now time.Time) Result[[]int32] {
	p := newPlan(im)
	fenced := c.fenceStale(p, now)
	return Result[[]int32]{Records: p.records, Response: fenced}
}

func (c *Cluster) fenceStale(p *plan, now time.Time) []int32 {
	var stale []*metadata.Broker
	for _, b := range p.im.Brokers() {
		if !b.Fenced && c.expired(c.session(b.ID, now), now) {
			stale = append(stale, b)
		}
	}
	slices.SortStableFunc(stale, func(a, b *metadata.Broker) int {
		return c.sessions[a.ID].lastContact.Compare(c.sessions[b.ID].lastContact)
	})
	var ids []int32
	for _, b := range stale {
		c.cfg.Logger.Warn("fencing broker: session expired", "broker", b.ID, "broker_epoch", b.Epoch,
			"last_heartbeat_ago", now.Sub(c.sessions[b.ID].lastContact))
		c.fence(p, b)
		c.sessions[b.ID].shutdownOffset = -1
		ids = append(ids, b.ID)
	}
	return ids
}

// TickReport says what a Tick did.
type TickReport struct {
	// Fenced lists the brokers fenced for missed heartbeats.
	Fenced []int32
	// Balanced is true if the leader balance check ran.
	Balanced bool
	// More is true if the balance check stopped early; call Tick again.
	More bool
}

// Tick does the controller's periodic work due at now: it fences brokers
// whose sessions expired, elects leaders uncleanly for leaderless
// partitions of topics that allow it, and, with auto.leader.rebalance.enable,
// runs BalanceLeaders every leader.imbalance.check.interval.seconds. The
// driver calls it at NextDeadline (or sooner; an early Tick is harmless).
func (c *Cluster) Tick(im *metadata.Image, now time.Time) Result[TickReport] {
	p := newPlan(im)
	var rep TickReport
	rep.Fenced = c.fenceStale(p, now)
	c.electUncleanLeaders(p)
	if c.cfg.AutoLeaderRebalance && !now.Before(c.nextBalance) {
		rep.Balanced = true
		rep.More = c.balanceLeaders(p)
		if !rep.More {
			c.nextBalance = now.Add(c.cfg.LeaderImbalanceCheckInterval)
		}
	}
	return Result[TickReport]{Records: p.records, Response: rep}
}

// NextDeadline returns the earliest time at which Tick has work to do
// over im: a session expiring or the next leader balance check; the zero
// Time if neither is pending.
func (c *Cluster) NextDeadline(im *metadata.Image) time.Time {
	var next time.Time
	if c.cfg.AutoLeaderRebalance {
		next = c.nextBalance
	}
	for _, b := range im.Brokers() {
		s, ok := c.sessions[b.ID]
		if b.Fenced || !ok {
			continue
		}
		if d := s.lastContact.Add(c.cfg.SessionTimeout); next.IsZero() || d.Before(next) {
			next = d
		}
	}
	return next
}

func sortedKeys[V any](m map[int32]V) []int32 { return slices.Sorted(maps.Keys(m)) }
