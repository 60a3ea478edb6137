package node

import (
	"math"
	"strconv"
	"sync/atomic"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/internal/server"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// configAdapter joins the config package to the parts that need typed
// configs: the replica layer's per-topic config and the server's
// DescribeConfigs. It tracks the dynamic broker configs of the latest
// metadata image (KIP-226), so a dynamic change such as
// log.retention.ms applies to every topic without an override.
type configAdapter struct {
	nodeID int32
	// broker is the static config overlaid with the latest dynamic
	// broker configs.
	broker atomic.Pointer[config.Broker]
	static *config.Broker
	// dynamicAt is the image offset broker was computed for.
	dynamicAt atomic.Int64
}

var _ server.Configs = (*configAdapter)(nil)

func newConfigAdapter(b *config.Broker) *configAdapter {
	a := &configAdapter{nodeID: b.NodeID, static: b}
	a.broker.Store(b)
	a.dynamicAt.Store(-1)
	return a
}

// observe updates the dynamic broker layer from im. A dynamic config
// that no longer validates is ignored (the previous config stays).
func (a *configAdapter) observe(im *metadata.Image) *config.Broker {
	if a.dynamicAt.Load() == im.Offset {
		return a.broker.Load()
	}
	own := im.Configs(metadata.ConfigResource{Type: metadata.ResourceBroker, Name: strconv.Itoa(int(a.nodeID))})
	def := im.Configs(metadata.ConfigResource{Type: metadata.ResourceBroker})
	b, err := a.static.WithDynamic(own, def)
	if err != nil {
		return a.broker.Load()
	}
	a.broker.Store(b)
	a.dynamicAt.Store(im.Offset)
	return b
}

// topicConfig is the effective config of topic in im.
func (a *configAdapter) topicConfig(im *metadata.Image, topic string) replica.TopicConfig {
	b := a.observe(im)
	tc := b.ResolveTopic(im.Configs(metadata.ConfigResource{Type: metadata.ResourceTopic, Name: topic}))
	flushMs := tc.FlushMs
	if flushMs <= 0 {
		flushMs = math.MaxInt64
	}
	return replica.TopicConfig{
		Log: storage.Config{
			SegmentBytes:       tc.SegmentBytes,
			SegmentMs:          tc.MaxSegmentMs(),
			IndexIntervalBytes: tc.IndexIntervalBytes,
			SegmentIndexBytes:  tc.SegmentIndexBytes,
			RetentionMs:        retentionIf(tc.Delete(), tc.RetentionMs),
			RetentionBytes:     retentionIf(tc.Delete(), tc.RetentionBytes),
			FlushMessages:      tc.FlushMessages,
			FlushMs:            flushMs,
			FileDeleteDelayMs:  tc.FileDeleteDelayMs,

			Compact:                tc.Compact(),
			MinCleanableDirtyRatio: tc.MinCleanableDirtyRatio,
			MinCompactionLagMs:     tc.MinCompactionLagMs,
			MaxCompactionLagMs:     tc.MaxCompactionLagMs,
			DeleteRetentionMs:      tc.DeleteRetentionMs,
		},
		MaxMessageBytes:      tc.MaxMessageBytes,
		LogAppendTime:        tc.MessageTimestampType == "LogAppendTime",
		TimestampBeforeMaxMs: tc.MessageTimestampBeforeMaxMs,
		TimestampAfterMaxMs:  tc.MessageTimestampAfterMaxMs,
		Compacted:            tc.Compact(),
		MinInsyncReplicas:    tc.MinInsyncReplicas,
		CompressionType:      tc.CompressionType,
		// KIP-73; the replica layer picks the pairs naming this node.
		LeaderThrottledReplicas:   tc.LeaderReplicationThrottledReplicas,
		FollowerThrottledReplicas: tc.FollowerReplicationThrottledReplicas,
	}
}

// replicaDynamic is the dynamic broker config the replica layer follows
// (per-broker over cluster-default over static), as of im.
func (a *configAdapter) replicaDynamic(im *metadata.Image) replica.DynamicConfig {
	b := a.observe(im)
	return replica.DynamicConfig{
		LeaderReplicationThrottledRate:   b.LeaderReplicationThrottledRate,
		FollowerReplicationThrottledRate: b.FollowerReplicationThrottledRate,
		NumReplicaFetchers:               int(b.NumReplicaFetchers),
	}
}

// retentionIf disables time and size retention unless cleanup.policy
// includes delete.
func retentionIf(deletePolicy bool, v int64) int64 {
	if !deletePolicy {
		return -1
	}
	return v
}

func (a *configAdapter) DescribeTopic(overrides map[string]string) []server.ConfigEntry {
	return convertEntries(a.broker.Load().DescribeTopicConfig(overrides))
}

func (a *configAdapter) DescribeBroker(perBroker, clusterDefault map[string]string) []server.ConfigEntry {
	b, err := a.static.WithDynamic(perBroker, clusterDefault)
	if err != nil {
		b = a.broker.Load()
	}
	if perBroker == nil {
		return convertEntries(b.DescribeBrokerDefaultConfig())
	}
	return convertEntries(b.DescribeBrokerConfig(nil))
}

// defaultValue is the effective value of a config for a resource that
// does not set it: the broker's value for a topic config, the static or
// default value for a broker config.
func (a *configAdapter) defaultValue(resourceType int8, name string) (string, bool) {
	var entries []config.ConfigEntry
	switch resourceType {
	case metadata.ResourceTopic:
		entries = a.broker.Load().DescribeTopicConfig(nil)
	case metadata.ResourceBroker:
		entries = a.static.DescribeBrokerConfig(map[string]string{})
	}
	for _, e := range entries {
		if e.Name == name && e.Value != nil {
			return *e.Value, true
		}
	}
	return "", false
}

func (a *configAdapter) ValidateTopic(overrides map[string]string) error {
	return a.broker.Load().ValidateTopicConfigs(overrides)
}

func (a *configAdapter) IsTopicConfig(name string) bool {
	_, ok := config.LookupTopicConfig(name)
	return ok
}

func (a *configAdapter) IsBrokerConfig(name string) bool {
	_, ok := config.LookupBrokerConfig(name)
	return ok
}

func (a *configAdapter) IsList(name string) bool {
	if d, ok := config.LookupTopicConfig(name); ok {
		return d.Type == config.TypeList
	}
	if d, ok := config.LookupBrokerConfig(name); ok {
		return d.Type == config.TypeList
	}
	return false
}

func (a *configAdapter) TopicDefaults() (int32, int16) {
	b := a.broker.Load()
	return b.NumPartitions, int16(b.DefaultReplicationFactor)
}

func convertEntries(in []config.ConfigEntry) []server.ConfigEntry {
	out := make([]server.ConfigEntry, len(in))
	for i, e := range in {
		doc := e.Documentation
		out[i] = server.ConfigEntry{
			Name: e.Name, Value: e.Value, Source: int8(e.Source), ReadOnly: e.ReadOnly,
			Sensitive: e.Sensitive, Type: int8(e.Type), Documentation: &doc,
		}
		for _, s := range e.Synonyms {
			out[i].Synonyms = append(out[i].Synonyms, server.ConfigSynonym{Name: s.Name, Value: s.Value, Source: int8(s.Source)})
		}
	}
	return out
}
