package config

import "slices"

// TopicConfig is the effective configuration of one topic: its overrides
// where set, else the broker's synonym configs, else Kafka's topic
// defaults (Kafka's LogConfig built by LogConfig.fromProps(
// extractLogConfigMap, overrides)). Slices are shared; treat them as
// read-only.
type TopicConfig struct {
	// CleanupPolicy holds "delete" and/or "compact" (possibly neither).
	CleanupPolicy        []string
	CompressionType      string // a compressionTypes value; "producer" keeps the batch's codec
	CompressionGzipLevel int32
	CompressionLz4Level  int32
	CompressionZstdLevel int32
	DeleteRetentionMs    int64
	FileDeleteDelayMs    int64
	FlushMessages        int64
	FlushMs              int64
	// FollowerReplicationThrottledReplicas and
	// LeaderReplicationThrottledReplicas are "partition:broker" pairs or
	// the single element "*".
	FollowerReplicationThrottledReplicas []string
	IndexIntervalBytes                   int32
	LeaderReplicationThrottledReplicas   []string
	LocalRetentionBytes                  int64 // -2: RetentionBytes
	LocalRetentionMs                     int64 // -2: RetentionMs
	MaxCompactionLagMs                   int64
	MaxMessageBytes                      int32
	MessageTimestampAfterMaxMs           int64
	MessageTimestampBeforeMaxMs          int64
	MessageTimestampType                 string // "CreateTime" or "LogAppendTime"
	MinCleanableDirtyRatio               float64
	MinCompactionLagMs                   int64
	MinInsyncReplicas                    int32
	Preallocate                          bool
	RemoteLogCopyDisable                 bool
	RemoteLogDeleteOnDisable             bool
	RemoteStorageEnable                  bool
	RetentionBytes                       int64 // -1: unlimited
	RetentionMs                          int64 // -1: unlimited
	SegmentBytes                         int64
	SegmentIndexBytes                    int32
	SegmentJitterMs                      int64
	SegmentMs                            int64
	UncleanLeaderElectionEnable          bool
}

// Compact reports whether the cleanup policy includes "compact".
func (t TopicConfig) Compact() bool { return slices.Contains(t.CleanupPolicy, "compact") }

// Delete reports whether the cleanup policy includes "delete".
func (t TopicConfig) Delete() bool { return slices.Contains(t.CleanupPolicy, "delete") }

// MaxSegmentMs is the age at which the active segment rolls: SegmentMs,
// capped by MaxCompactionLagMs for compacted topics (LogConfig.maxSegmentMs).
func (t TopicConfig) MaxSegmentMs() int64 {
	if t.Compact() && t.MaxCompactionLagMs > 0 {
		return min(t.MaxCompactionLagMs, t.SegmentMs)
	}
	return t.SegmentMs
}

// ValidateTopicConfigs checks topic overrides as Kafka does for
// CreateTopics and AlterConfigs: every name must be a topic config
// ("Unknown topic config name: x"), every value must parse and be in
// range (Kafka's ConfigException text), min.compaction.lag.ms must not
// exceed max.compaction.lag.ms, and remote.storage.enable cannot be true
// because Gregor has no tiered storage. It returns the first problem, a
// *ConfigError, as Kafka reports one InvalidConfigurationException.
// Cross-config checks use Kafka's topic defaults for unset configs; use
// Broker.ValidateTopicConfigs to check against a broker's defaults.
func ValidateTopicConfigs(overrides map[string]string) error {
	return validateTopic(overrides, nil)
}

// ValidateTopicConfigs is the package-level ValidateTopicConfigs with
// b's values as the defaults of unset configs.
func (b *Broker) ValidateTopicConfigs(overrides map[string]string) error {
	return validateTopic(overrides, b)
}

func validateTopic(overrides map[string]string, b *Broker) error {
	names := sortedKeys(overrides)
	for _, n := range names {
		if _, ok := topicDefs[n]; !ok {
			return unknownConfig("topic", n, nil)
		}
	}
	parsed := make(map[string]any, len(overrides))
	for _, n := range names {
		v, err := topicDefs[n].Parse(overrides[n])
		if err != nil {
			return err
		}
		parsed[n] = v
	}
	get := func(n string) any {
		if v, ok := parsed[n]; ok {
			return v
		}
		if b != nil {
			return b.topicDefault(n)
		}
		return topicDefs[n].parsedDefault()
	}
	minLag, maxLag := get("min.compaction.lag.ms").(int64), get("max.compaction.lag.ms").(int64)
	if minLag > maxLag {
		return conflict("min.compaction.lag.ms", "conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", minLag, maxLag)
	}
	if get("remote.storage.enable").(bool) {
		return conflict("remote.storage.enable", "Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.")
	}
	return nil
}

// topicDefault is the value a topic without an override gets from b:
// the broker synonym's effective value (Kafka's extractLogConfigMap),
// else the topic default.
func (b *Broker) topicDefault(name string) any {
	switch name {
	case "retention.ms":
		return b.LogRetentionMs
	case "segment.ms":
		return b.LogRollMs
	case "segment.jitter.ms":
		return b.LogRollJitterMs
	case "flush.ms":
		return b.LogFlushIntervalMs
	}
	d := topicDefs[name]
	if len(d.Synonyms) == 0 {
		return d.parsedDefault()
	}
	return b.values.get(d.Synonyms[0])
}

// topicValue is the effective value of a topic config: the override if
// it parses, else b's default.
func (b *Broker) topicValue(name string, overrides map[string]string) any {
	if raw, ok := overrides[name]; ok {
		if v, err := topicDefs[name].Parse(raw); err == nil {
			return v
		}
	}
	return b.topicDefault(name)
}

// ResolveTopic returns the effective configuration of a topic with the
// given overrides. Overrides are expected to have passed
// ValidateTopicConfigs; one that does not parse is ignored and the
// broker's default applies, as do overrides with names Gregor does not
// know.
func (b *Broker) ResolveTopic(overrides map[string]string) TopicConfig {
	v := make(values, len(topicDefs))
	for n := range topicDefs {
		v[n] = b.topicValue(n, overrides)
	}
	return TopicConfig{
		CleanupPolicy:                        v.list("cleanup.policy"),
		CompressionType:                      v.str("compression.type"),
		CompressionGzipLevel:                 v.i32("compression.gzip.level"),
		CompressionLz4Level:                  v.i32("compression.lz4.level"),
		CompressionZstdLevel:                 v.i32("compression.zstd.level"),
		DeleteRetentionMs:                    v.i64("delete.retention.ms"),
		FileDeleteDelayMs:                    v.i64("file.delete.delay.ms"),
		FlushMessages:                        v.i64("flush.messages"),
		FlushMs:                              v.i64("flush.ms"),
		FollowerReplicationThrottledReplicas: v.list("follower.replication.throttled.replicas"),
		IndexIntervalBytes:                   v.i32("index.interval.bytes"),
		LeaderReplicationThrottledReplicas:   v.list("leader.replication.throttled.replicas"),
		LocalRetentionBytes:                  v.i64("local.retention.bytes"),
		LocalRetentionMs:                     v.i64("local.retention.ms"),
		MaxCompactionLagMs:                   v.i64("max.compaction.lag.ms"),
		MaxMessageBytes:                      v.i32("max.message.bytes"),
		MessageTimestampAfterMaxMs:           v.i64("message.timestamp.after.max.ms"),
		MessageTimestampBeforeMaxMs:          v.i64("message.timestamp.before.max.ms"),
		MessageTimestampType:                 v.str("message.timestamp.type"),
		MinCleanableDirtyRatio:               v.f64("min.cleanable.dirty.ratio"),
		MinCompactionLagMs:                   v.i64("min.compaction.lag.ms"),
		MinInsyncReplicas:                    v.i32("min.insync.replicas"),
		Preallocate:                          v.bool("preallocate"),
		RemoteLogCopyDisable:                 v.bool("remote.log.copy.disable"),
		RemoteLogDeleteOnDisable:             v.bool("remote.log.delete.on.disable"),
		RemoteStorageEnable:                  v.bool("remote.storage.enable"),
		RetentionBytes:                       v.i64("retention.bytes"),
		RetentionMs:                          v.i64("retention.ms"),
		SegmentBytes:                         int64(v.i32("segment.bytes")),
		SegmentIndexBytes:                    v.i32("segment.index.bytes"),
		SegmentJitterMs:                      v.i64("segment.jitter.ms"),
		SegmentMs:                            v.i64("segment.ms"),
		UncleanLeaderElectionEnable:          v.bool("unclean.leader.election.enable"),
	}
}
