package group

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// Config is the group coordinator's configuration (Kafka's
// GroupCoordinatorConfig). Units are in the field names.
type Config struct {
	// NumPartitions is offsets.topic.num.partitions, used to map a group
	// to its partition until __consumer_offsets exists.
	NumPartitions int32
	// MinSessionTimeoutMs and MaxSessionTimeoutMs bound a classic
	// member's session timeout (group.min/max.session.timeout.ms).
	MinSessionTimeoutMs int32
	MaxSessionTimeoutMs int32
	// InitialRebalanceDelayMs is group.initial.rebalance.delay.ms.
	InitialRebalanceDelayMs int32
	// MaxSize is group.max.size.
	MaxSize int32
	// NewMemberJoinTimeoutMs bounds how long a new member's JoinGroup may
	// wait (Kafka's internal classic group new member join timeout, 5
	// minutes).
	NewMemberJoinTimeoutMs int32
	// OffsetsRetentionMs is offsets.retention.minutes in milliseconds.
	OffsetsRetentionMs int64
	// OffsetsRetentionCheckIntervalMs is offsets.retention.check.interval.ms.
	OffsetsRetentionCheckIntervalMs int64
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes.
	OffsetMetadataMaxBytes int32
	// ConsumerSessionTimeoutMs is group.consumer.session.timeout.ms.
	ConsumerSessionTimeoutMs int32
	// ConsumerHeartbeatIntervalMs is group.consumer.heartbeat.interval.ms.
	ConsumerHeartbeatIntervalMs int32
	// ConsumerMaxSize is group.consumer.max.size.
	ConsumerMaxSize int32
	// ConsumerMigrationPolicy is group.consumer.migration.policy
	// (bidirectional, upgrade, downgrade or disabled; case-insensitive):
	// which online conversions between classic and consumer groups with
	// members are allowed. Empty means bidirectional.
	ConsumerMigrationPolicy string
	Logger                  *slog.Logger

	// topics is Options.Topics.
	topics func() Topics
}

// Topics is what KIP-848 groups need of the cluster's topics: the
// coordinator assigns partitions itself.
type Topics interface {
	// TopicByName returns a topic's id and partition count.
	TopicByName(name string) (id [16]byte, partitions int32, ok bool)
	// TopicName returns the name of a topic id.
	TopicName(id [16]byte) (string, bool)
	// TopicNames lists every topic.
	TopicNames() []string
}

// noTopics is the Topics of a coordinator given none.
type noTopics struct{}

func (noTopics) TopicByName(string) ([16]byte, int32, bool) { return [16]byte{}, 0, false }
func (noTopics) TopicName([16]byte) (string, bool)          { return "", false }
func (noTopics) TopicNames() []string                       { return nil }

// withDefaults fills unset fields with Kafka's defaults.
func (c Config) withDefaults() Config {
	if c.NumPartitions <= 0 {
		c.NumPartitions = 50
	}
	if c.MinSessionTimeoutMs <= 0 {
		c.MinSessionTimeoutMs = 6000
	}
	if c.MaxSessionTimeoutMs <= 0 {
		c.MaxSessionTimeoutMs = 1800000
	}
	if c.InitialRebalanceDelayMs < 0 {
		c.InitialRebalanceDelayMs = 3000
	}
	if c.MaxSize <= 0 {
		c.MaxSize = 1<<31 - 1
	}
	if c.NewMemberJoinTimeoutMs <= 0 {
		c.NewMemberJoinTimeoutMs = 5 * 60 * 1000
	}
	if c.OffsetsRetentionMs <= 0 {
		c.OffsetsRetentionMs = 7 * 24 * 3600 * 1000
	}
	if c.OffsetsRetentionCheckIntervalMs <= 0 {
		c.OffsetsRetentionCheckIntervalMs = 600000
	}
	if c.OffsetMetadataMaxBytes <= 0 {
		c.OffsetMetadataMaxBytes = 4096
	}
	if c.ConsumerSessionTimeoutMs <= 0 {
		c.ConsumerSessionTimeoutMs = 45000
	}
	if c.ConsumerHeartbeatIntervalMs <= 0 {
		c.ConsumerHeartbeatIntervalMs = 5000
	}
	if c.ConsumerMaxSize <= 0 {
		c.ConsumerMaxSize = 1<<31 - 1
	}
	if c.ConsumerMigrationPolicy == "" {
		c.ConsumerMigrationPolicy = MigrationBidirectional
	}
	if c.topics == nil {
		c.topics = func() Topics { return noTopics{} }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Shard is the group coordinator state of one __consumer_offsets
// partition: its groups and their committed offsets. It is a
// coordinator.StateMachine; every method runs on the shard's goroutine
// (or a test's), with the current time as an argument.
type Shard struct {
	cfg       *Config
	partition int32
	timers    *coordinator.Timers[*Shard]
	log       *slog.Logger

	groups map[string]*classicGroup
	// consumerGroups are the KIP-848 groups; a group id is in at most one
	// of groups and consumerGroups.
	consumerGroups map[string]*consumerGroup
	// offsets: group → topic → partition → committed offset.
	offsets map[string]map[string]map[int32]offsetAndMetadata
	// pendingTxn are the transactional offsets of each producer id not
	// yet committed or aborted by a marker (txnoffsets.go).
	pendingTxn map[int64]pendingOffsets
	// newUUID returns Java's UUID.randomUUID().toString() form.
	newUUID func() string
}

// NewShard returns the empty state of partition, scheduling its timers
// on timers.
func NewShard(cfg *Config, partition int32, timers *coordinator.Timers[*Shard]) *Shard {
	return &Shard{
		cfg:            cfg,
		partition:      partition,
		timers:         timers,
		log:            cfg.Logger.With("partition", partition),
		groups:         map[string]*classicGroup{},
		consumerGroups: map[string]*consumerGroup{},
		offsets:        map[string]map[string]map[int32]offsetAndMetadata{},
		pendingTxn:     map[int64]pendingOffsets{},
		newUUID:        randomUUID,
	}
}

// randomUUID formats 16 random bytes as a version 4 UUID.
func randomUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func after(now time.Time, millis int64) time.Time {
	return now.Add(time.Duration(millis) * time.Millisecond)
}

// Timer keys.
func joinKey(group string) string              { return "join-" + group }
func syncKey(group string) string              { return "sync-" + group }
func heartbeatKey(group, member string) string { return "heartbeat-" + group + "-" + member }

const expirationKey = "expire-group-metadata"

// Replay applies one record of __consumer_offsets. A record it cannot
// decode (one a client produced to the topic) is logged and skipped
// rather than failing the load, so one bad record does not take the
// partition's groups offline.
func (s *Shard) Replay(rec coordinator.LoggedRecord) error {
	if err := s.replay(rec); err != nil {
		s.log.Warn("skipping a record of "+TopicName+" that cannot be decoded", "offset", rec.Offset, "err", err)
	}
	return nil
}

func (s *Shard) replay(rec coordinator.LoggedRecord) error {
	typ, err := recordKeyType(rec.Key)
	if err != nil {
		return err
	}
	switch {
	case typ == keyOffsetCommitV0 || typ == keyOffsetCommit:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(rec.Key); err != nil {
			return fmt.Errorf("group: offset commit key: %w", err)
		}
		if rec.Value == nil {
			s.removeOffset(k.Group, k.Topic, k.Partition)
			s.removePendingOffsets(k.Group, k.Topic, k.Partition)
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(rec.Value); err != nil {
			return fmt.Errorf("group: offset commit value of %s: %w", k.Group, err)
		}
		if _, ok := s.groups[k.Group]; !ok && s.consumerGroups[k.Group] == nil {
			// Offsets committed outside group management live in a
			// "simple" group: Empty, without a protocol type.
			s.groups[k.Group] = newClassicGroup(k.Group, stateEmpty, -1)
		}
		o := offsetAndMetadata{
			offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata,
			commitMs: v.CommitTimestamp, expireMs: -1, recordOffset: rec.Offset,
		}
		if v.Version >= 3 {
			o.leaderEpoch = v.LeaderEpoch
		}
		if v.Version == 1 {
			o.expireMs = v.ExpireTimestamp
		}
		if rec.ProducerID >= 0 {
			// A TxnOffsetCommit: pending until its marker.
			s.putPendingOffset(rec.ProducerID, k.Group, k.Topic, k.Partition, o)
			return nil
		}
		s.putOffset(k.Group, k.Topic, k.Partition, o)
	case typ == keyGroupMetadata:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(rec.Key); err != nil {
			return fmt.Errorf("group: group metadata key: %w", err)
		}
		if rec.Value == nil {
			s.removeGroup(k.Group)
			return nil
		}
		var v kmsg.GroupMetadataValue
		if err := v.ReadFrom(rec.Value); err != nil {
			return fmt.Errorf("group: group metadata value of %s: %w", k.Group, err)
		}
		s.loadClassicGroup(k.Group, &v)
	case typ >= keyConsumerGroupMetadata && typ <= keyConsumerGroupCurrentAssignment, typ == keyConsumerGroupRegex:
		return s.replayConsumer(typ, rec.Key, rec.Value)
	case typ >= keyConsumerGroupLo && typ <= keyConsumerGroupHi:
		// Share group records (KIP-932).
		s.log.Debug("skipping record of an unsupported group type", "type", typ, "offset", rec.Offset)
	default:
		s.log.Debug("skipping record of an unknown type", "type", typ, "offset", rec.Offset)
	}
	return nil
}

// loadClassicGroup rebuilds a classic group from its record: Stable with
// its members, or Empty.
func (s *Shard) loadClassicGroup(id string, v *kmsg.GroupMetadataValue) {
	state := stateStable
	if len(v.Members) == 0 {
		state = stateEmpty
	}
	g := newClassicGroup(id, state, v.CurrentStateTimestamp)
	g.generation = v.Generation
	if v.ProtocolType != "" {
		pt := v.ProtocolType
		g.protocolType = &pt
	}
	g.protocolName = v.Protocol
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	for _, mm := range v.Members {
		rt := mm.RebalanceTimeoutMillis
		if rt == -1 {
			rt = mm.SessionTimeoutMillis
		}
		var protocols []Protocol
		if v.Protocol != nil {
			protocols = []Protocol{{Name: *v.Protocol, Metadata: mm.Subscription}}
		}
		m := &classicMember{
			id: mm.MemberID, instanceID: mm.InstanceID, clientID: mm.ClientID, clientHost: mm.ClientHost,
			rebalanceTimeoutMs: rt, sessionTimeoutMs: mm.SessionTimeoutMillis,
			protocolType: v.ProtocolType, protocols: protocols, assignment: mm.Assignment,
		}
		g.add(m, nil)
	}
	g.subscribedTopics = g.computeSubscribedTopics()
	s.groups[id] = g
}

// removeGroup forgets a group and its timers.
func (s *Shard) removeGroup(id string) {
	g, ok := s.groups[id]
	if !ok {
		return
	}
	delete(s.groups, id)
	s.timers.Cancel(joinKey(id))
	s.timers.Cancel(syncKey(id))
	for mid := range g.members {
		s.timers.Cancel(heartbeatKey(id, mid))
	}
	for mid := range g.pendingJoin {
		s.timers.Cancel(heartbeatKey(id, mid))
	}
}

// Loaded starts the members' session timers and the offset expiration
// cycle, and rebalances groups over group.max.size.
func (s *Shard) Loaded(now time.Time, res *coordinator.Result) {
	for _, g := range s.groups {
		for _, id := range g.order {
			s.rescheduleHeartbeat(g, g.members[id], now)
		}
		if g.numMembers() > int(s.cfg.MaxSize) {
			s.prepareRebalance(g, now, fmt.Sprintf("Freshly-loaded group %s (size %d) is over capacity %d", g.id, g.numMembers(), s.cfg.MaxSize), res)
		}
	}
	s.loadedConsumerGroups(now)
	s.scheduleExpiration(now)
	s.log.Info("loaded groups", "groups", len(s.groups), "consumer_groups", len(s.consumerGroups))
}

// Unloaded marks every group Dead and answers members waiting on a join
// or a sync with NOT_COORDINATOR, so they look for the new coordinator.
func (s *Shard) Unloaded(res *coordinator.Result) {
	for _, g := range s.groups {
		prev := g.state
		g.transitionTo(stateDead, g.stateTimestampMs)
		for _, id := range g.order {
			m := g.members[id]
			switch prev {
			case statePreparingRebalance:
				s.completeJoin(g, m, JoinResponse{MemberID: m.id, Generation: -1, ErrorCode: kerr.NotCoordinator.Code}, res)
			case stateCompletingRebalance, stateStable:
				s.completeSync(m, SyncResponse{ErrorCode: kerr.NotCoordinator.Code}, res)
			}
		}
	}
}

// completeJoin answers a member awaiting a JoinGroup response; false if
// it was not waiting.
func (s *Shard) completeJoin(g *classicGroup, m *classicMember, resp JoinResponse, res *coordinator.Result) bool {
	if !m.isAwaitingJoin() {
		return false
	}
	f := m.joinReply
	m.joinReply = nil
	g.awaitingJoin--
	res.Reply(func() { f(resp) })
	return true
}

// completeSync answers a member awaiting a SyncGroup response.
func (s *Shard) completeSync(m *classicMember, resp SyncResponse, res *coordinator.Result) bool {
	if !m.isAwaitingSync() {
		return false
	}
	f := m.syncReply
	m.syncReply = nil
	res.Reply(func() { f(resp) })
	return true
}

// rescheduleHeartbeat (re)starts a member's session timer.
func (s *Shard) rescheduleHeartbeat(g *classicGroup, m *classicMember, now time.Time) {
	s.rescheduleHeartbeatAfter(g, m.id, now, int64(m.sessionTimeoutMs))
}

func (s *Shard) rescheduleHeartbeatAfter(g *classicGroup, memberID string, now time.Time, timeoutMs int64) {
	gid := g.id
	s.timers.Schedule(heartbeatKey(gid, memberID), after(now, timeoutMs), func(s *Shard, now time.Time, res *coordinator.Result) {
		s.expireHeartbeat(gid, memberID, now, res)
	})
}
