package node

// The group coordinator's wiring: its configuration from the broker
// config, the creation of __consumer_offsets (asked for by
// FindCoordinator, as Kafka creates it on first use), and, on every
// metadata image, which of its partitions this node leads (their shards
// load) and which topics were deleted (their committed offsets go).

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/coordinator"
	"github.com/gregor-streaming/gregor/internal/group"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/replica"
)

// groupsState is what syncGroups remembers between images.
type groupsState struct {
	mu     sync.Mutex
	topics map[metadata.TopicID]string // topics of the last image
}

// newGroups creates the group coordinator and loads the partitions of
// __consumer_offsets this node leads in im.
func (n *Node) newGroups(im *metadata.Image, now func() time.Time) *group.Coordinator {
	cfg := n.cfg
	g := group.New(group.Config{
		NumPartitions:                   cfg.OffsetsTopicNumPartitions,
		MinSessionTimeoutMs:             cfg.GroupMinSessionTimeoutMs,
		MaxSessionTimeoutMs:             cfg.GroupMaxSessionTimeoutMs,
		InitialRebalanceDelayMs:         cfg.GroupInitialRebalanceDelayMs,
		MaxSize:                         cfg.GroupMaxSize,
		OffsetsRetentionMs:              int64(cfg.OffsetsRetentionMinutes) * 60 * 1000,
		OffsetsRetentionCheckIntervalMs: cfg.OffsetsRetentionCheckIntervalMs,
		OffsetMetadataMaxBytes:          cfg.OffsetMetadataMaxBytes,
		ConsumerSessionTimeoutMs:        cfg.GroupConsumerSessionTimeoutMs,
		ConsumerHeartbeatIntervalMs:     cfg.GroupConsumerHeartbeatIntervalMs,
		ConsumerMaxSize:                 cfg.GroupConsumerMaxSize,
		ConsumerMigrationPolicy:         cfg.GroupConsumerMigrationPolicy,
		Logger:                          n.log.With("component", "group-coordinator"),
	}, group.Options{
		Now:             now,
		Codec:           record.Codec(cfg.OffsetsTopicCompressionCodec),
		LoadBufferBytes: int(cfg.OffsetsLoadBufferSize),
		CreateTopic:     n.createOffsetsTopic,
		Topics:          func() group.Topics { return imageTopics{n.controller.Image()} },
	})
	n.groupsState = &groupsState{topics: map[metadata.TopicID]string{}}
	n.groups = g
	n.groupsReady.Store(g)
	n.syncGroups(im)
	return g
}

// createOffsetsTopic creates __consumer_offsets with Kafka's settings
// (GroupCoordinator.groupMetadataTopicConfigs), through the active
// controller (forwarded when this node is not it).
func (n *Node) createOffsetsTopic() error {
	compact, producer := "compact", "producer"
	segment := strconv.Itoa(int(n.cfg.OffsetsTopicSegmentBytes))
	res := n.createTopics([]controller.CreateTopic{{
		Name:              group.TopicName,
		NumPartitions:     n.cfg.OffsetsTopicNumPartitions,
		ReplicationFactor: n.cfg.OffsetsTopicReplicationFactor,
		Configs: map[string]*string{
			"cleanup.policy":   &compact,
			"compression.type": &producer,
			"segment.bytes":    &segment,
		},
	}})
	if err := res[0].Err; err != nil {
		return fmt.Errorf("node: create %s: %w", group.TopicName, err)
	}
	n.log.Info("created the internal topic "+group.TopicName, "partitions", n.cfg.OffsetsTopicNumPartitions)
	return nil
}

// syncGroups tells the group coordinator which __consumer_offsets
// partitions this node leads in im, and deletes the offsets of topics im
// no longer has. It does not block (shards load on their own).
func (n *Node) syncGroups(im *metadata.Image) {
	g := n.groupsReady.Load()
	r := n.replicasReady.Load()
	if g == nil || r == nil {
		return
	}
	st := n.groupsState
	st.mu.Lock()
	defer st.mu.Unlock()

	current := make(map[metadata.TopicID]string, im.NumTopics())
	for _, name := range im.TopicNames() {
		t, _ := im.Topic(name)
		current[t.ID] = name
	}
	var deleted []string
	for id, name := range st.topics {
		if _, ok := current[id]; !ok && name != group.TopicName {
			deleted = append(deleted, name)
		}
	}
	st.topics = current

	leaders := map[int32]coordinator.Log{}
	var numPartitions int32
	if t, ok := im.Topic(group.TopicName); ok {
		numPartitions = int32(len(t.Partitions))
		for i, p := range t.Partitions {
			if p.Leader != n.cfg.NodeID {
				continue
			}
			rp, err := r.Partition(group.TopicName, int32(i))
			if err != nil {
				continue // not opened (yet)
			}
			leaders[int32(i)] = partitionLog{p: rp, purgatory: r.Purgatory(), timeout: time.Duration(n.cfg.OffsetsCommitTimeoutMs) * time.Millisecond}
		}
	}
	g.Sync(numPartitions, leaders)
	g.DeleteTopicOffsets(deleted)
}

// partitionLog is a coordinator.Log over a partition this node leads:
// writes go through the leader's append path as a coordinator's
// (transactional batches and markers allowed) with acks=all and wait for
// the in-sync replicas (offsets.commit.timeout.ms).
type partitionLog struct {
	p         *replica.Partition
	purgatory *replica.Purgatory
	timeout   time.Duration
}

func (l partitionLog) Append(batch []byte) (int64, error) {
	res, err := l.p.AppendCoordinator(batch)
	if err != nil {
		return -1, err
	}
	if l.purgatory != nil {
		d := l.purgatory.Add([]replica.PendingAck{{Partition: l.p, RequiredOffset: res.LastOffset + 1}}, l.timeout)
		if err := d.Errors()[0]; err != nil {
			return -1, err
		}
	}
	return res.BaseOffset, nil
}

// Read reads up to the log end offset, not the high watermark: a new
// leader's high watermark lags what its log holds until its followers
// fetch, and a shard that loaded less would lose records already
// answered (Kafka's coordinator loader reads with FetchIsolation.LOG_END).
func (l partitionLog) Read(offset int64, maxBytes int) ([]byte, int64, error) {
	leo := l.p.Log().LogEndOffset()
	info, err := l.p.Log().Read(offset, maxBytes, leo, true)
	return info.Data, leo, err
}

func (l partitionLog) LogStartOffset() int64 { return l.p.Log().LogStartOffset() }

// imageTopics is the group coordinator's view of a metadata image.
type imageTopics struct{ im *metadata.Image }

func (t imageTopics) TopicByName(name string) ([16]byte, int32, bool) {
	tp, ok := t.im.Topic(name)
	if !ok {
		return [16]byte{}, 0, false
	}
	return tp.ID, int32(len(tp.Partitions)), true
}

func (t imageTopics) TopicName(id [16]byte) (string, bool) {
	tp, ok := t.im.TopicByID(metadata.TopicID(id))
	if !ok {
		return "", false
	}
	return tp.Name, true
}

func (t imageTopics) TopicNames() []string { return t.im.TopicNames() }
