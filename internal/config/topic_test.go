package config

import (
	"errors"
	"slices"
	"testing"
)

func TestValidateTopicConfigs(t *testing.T) {
	tests := []struct {
		overrides map[string]string
		kind      error
		want      string
	}{
		{map[string]string{"retention.ms": "1000", "cleanup.policy": "compact,delete", "compression.type": "zstd", "min.insync.replicas": "2"}, nil, ""},
		{map[string]string{"leader.replication.throttled.replicas": "0:1,1:2"}, nil, ""},
		{map[string]string{"message.downconversion.enable": "true"}, ErrUnknownConfig, "Unknown topic config name: message.downconversion.enable"},
		{map[string]string{"message.format.version": "3.0"}, ErrUnknownConfig, "Unknown topic config name: message.format.version"},
		{map[string]string{"retention.hours": "1"}, ErrUnknownConfig, "Unknown topic config name: retention.hours"},
		{map[string]string{"segment.bytes": "100"}, ErrInvalidValue, "Invalid value 100 for configuration segment.bytes: Value must be at least 1048576"},
		{map[string]string{"retention.ms": "-2"}, ErrInvalidValue, "Invalid value -2 for configuration retention.ms: Value must be at least -1"},
		{map[string]string{"retention.ms": "forever"}, ErrInvalidValue, "Invalid value forever for configuration retention.ms: Not a number of type LONG"},
		{map[string]string{"cleanup.policy": "compact,foo"}, ErrInvalidValue, "Invalid value foo for configuration cleanup.policy: String must be one of: compact, delete"},
		{map[string]string{"min.cleanable.dirty.ratio": "2"}, ErrInvalidValue, "Invalid value 2.0 for configuration min.cleanable.dirty.ratio: Value must be no more than 1"},
		{map[string]string{"message.timestamp.type": "NoTime"}, ErrInvalidValue, "Invalid value NoTime for configuration message.timestamp.type: String must be one of: CreateTime, LogAppendTime"},
		{map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}, ErrInvalidConfig, "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)"},
		{map[string]string{"remote.storage.enable": "true"}, ErrInvalidConfig, "Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage."},
	}
	for _, tt := range tests {
		err := ValidateTopicConfigs(tt.overrides)
		if tt.kind == nil {
			if err != nil {
				t.Errorf("ValidateTopicConfigs(%v): %v", tt.overrides, err)
			}
			continue
		}
		if !errors.Is(err, tt.kind) || err.Error() != tt.want {
			t.Errorf("ValidateTopicConfigs(%v) = %v\nwant %s", tt.overrides, err, tt.want)
		}
	}
}

func TestBrokerValidateTopicConfigs(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.cleaner.max.compaction.lag.ms": "100"})
	over := map[string]string{"min.compaction.lag.ms": "200"}
	if err := ValidateTopicConfigs(over); err != nil {
		t.Errorf("against Kafka defaults: %v", err)
	}
	err := b.ValidateTopicConfigs(over)
	if !errors.Is(err, ErrInvalidConfig) || err.Error() != "conflict topic config setting min.compaction.lag.ms (200) > max.compaction.lag.ms (100)" {
		t.Errorf("against broker defaults: %v", err)
	}
}

// Reference: KIP-226 synonym order, ServerTopicConfigSynonyms.
func TestResolveTopicSynonyms(t *testing.T) {
	tests := []struct {
		name      string
		broker    map[string]string
		overrides map[string]string
		check     func(TopicConfig) bool
	}{
		{"defaults", nil, nil, func(c TopicConfig) bool {
			return c.RetentionMs == 604800000 && c.SegmentBytes == 1073741824 && c.SegmentMs == 604800000 &&
				c.MaxMessageBytes == 1048588 && c.CompressionType == "producer" && slices.Equal(c.CleanupPolicy, []string{"delete"}) &&
				c.MessageTimestampType == "CreateTime" && c.MinInsyncReplicas == 1 && c.FlushMs == 9223372036854775807 &&
				c.FlushMessages == 9223372036854775807 && c.FileDeleteDelayMs == 60000 && c.IndexIntervalBytes == 4096 &&
				c.SegmentIndexBytes == 10485760 && c.DeleteRetentionMs == 86400000 && c.MinCompactionLagMs == 0 &&
				c.MaxCompactionLagMs == 9223372036854775807 && c.MinCleanableDirtyRatio == 0.5 && !c.UncleanLeaderElectionEnable &&
				c.RetentionBytes == -1 && c.LocalRetentionMs == -2 && c.LocalRetentionBytes == -2 && c.CompressionGzipLevel == -1 &&
				c.CompressionLz4Level == 9 && c.CompressionZstdLevel == 3 && len(c.LeaderReplicationThrottledReplicas) == 0 &&
				c.MessageTimestampBeforeMaxMs == 9223372036854775807 && !c.Preallocate && !c.RemoteStorageEnable && c.SegmentJitterMs == 0
		}},
		{"log.retention.hours", map[string]string{"log.retention.hours": "2"}, nil, func(c TopicConfig) bool { return c.RetentionMs == 2*hourMs }},
		{"minutes beat hours", map[string]string{"log.retention.hours": "2", "log.retention.minutes": "3"}, nil, func(c TopicConfig) bool { return c.RetentionMs == 3*minuteMs }},
		{"ms beats minutes", map[string]string{"log.retention.minutes": "3", "log.retention.ms": "4"}, nil, func(c TopicConfig) bool { return c.RetentionMs == 4 }},
		{"override beats broker", map[string]string{"log.retention.ms": "4"}, map[string]string{"retention.ms": "5"}, func(c TopicConfig) bool { return c.RetentionMs == 5 }},
		{"log.roll.hours", map[string]string{"log.roll.hours": "1"}, nil, func(c TopicConfig) bool { return c.SegmentMs == hourMs }},
		{"log.roll.ms beats hours", map[string]string{"log.roll.hours": "1", "log.roll.ms": "7"}, nil, func(c TopicConfig) bool { return c.SegmentMs == 7 }},
		{"jitter", map[string]string{"log.roll.jitter.hours": "1"}, nil, func(c TopicConfig) bool { return c.SegmentJitterMs == hourMs }},
		{"flush scheduler", map[string]string{"log.flush.scheduler.interval.ms": "11"}, nil, func(c TopicConfig) bool { return c.FlushMs == 11 }},
		{"flush interval beats scheduler", map[string]string{"log.flush.scheduler.interval.ms": "11", "log.flush.interval.ms": "12"}, nil, func(c TopicConfig) bool { return c.FlushMs == 12 }},
		{"segment bytes", map[string]string{"log.segment.bytes": "2097152"}, nil, func(c TopicConfig) bool { return c.SegmentBytes == 2097152 }},
		{"max message bytes", map[string]string{"message.max.bytes": "2000"}, map[string]string{}, func(c TopicConfig) bool { return c.MaxMessageBytes == 2000 }},
		{"cleanup policy", map[string]string{"log.cleanup.policy": "compact"}, nil, func(c TopicConfig) bool { return c.Compact() && !c.Delete() }},
		{"cleanup override", map[string]string{"log.cleanup.policy": "compact"}, map[string]string{"cleanup.policy": "delete,compact"}, func(c TopicConfig) bool { return c.Compact() && c.Delete() }},
		{"file delete delay", map[string]string{"log.segment.delete.delay.ms": "5"}, nil, func(c TopicConfig) bool { return c.FileDeleteDelayMs == 5 }},
		{"timestamp type", map[string]string{"log.message.timestamp.type": "LogAppendTime"}, nil, func(c TopicConfig) bool { return c.MessageTimestampType == "LogAppendTime" }},
		{"min isr", map[string]string{"min.insync.replicas": "2"}, map[string]string{}, func(c TopicConfig) bool { return c.MinInsyncReplicas == 2 }},
		{"cleaner ratio", map[string]string{"log.cleaner.min.cleanable.ratio": "0.1"}, nil, func(c TopicConfig) bool { return c.MinCleanableDirtyRatio == 0.1 }},
		{"invalid override ignored", map[string]string{"log.segment.bytes": "2097152"}, map[string]string{"segment.bytes": "x"}, func(c TopicConfig) bool { return c.SegmentBytes == 2097152 }},
		{"throttled replicas", nil, map[string]string{"leader.replication.throttled.replicas": "*"}, func(c TopicConfig) bool {
			return slices.Equal(c.LeaderReplicationThrottledReplicas, []string{"*"})
		}},
		{"max segment ms for compacted topic", nil, map[string]string{"cleanup.policy": "compact", "max.compaction.lag.ms": "1000"}, func(c TopicConfig) bool { return c.MaxSegmentMs() == 1000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBroker(t, tt.broker)
			if c := b.ResolveTopic(tt.overrides); !tt.check(c) {
				t.Errorf("ResolveTopic(%v) with broker %v = %+v", tt.overrides, tt.broker, c)
			}
		})
	}
}

// Dynamic broker configs sit above static ones (KIP-226).
func TestResolveTopicDynamic(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.retention.hours": "24", "compression.type": "gzip"})
	nb, err := b.WithDynamic(map[string]string{"log.retention.ms": "5000"}, map[string]string{"log.retention.ms": "6000", "compression.type": "lz4"})
	if err != nil {
		t.Fatal(err)
	}
	c := nb.ResolveTopic(nil)
	if c.RetentionMs != 5000 || c.CompressionType != "lz4" {
		t.Errorf("retention %d compression %s", c.RetentionMs, c.CompressionType)
	}
	nb, err = b.WithDynamic(nil, map[string]string{"log.retention.ms": "6000"})
	if err != nil {
		t.Fatal(err)
	}
	if c := nb.ResolveTopic(nil); c.RetentionMs != 6000 || c.CompressionType != "gzip" {
		t.Errorf("retention %d compression %s", c.RetentionMs, c.CompressionType)
	}
	if c := b.ResolveTopic(nil); c.RetentionMs != 24*hourMs {
		t.Errorf("original broker changed: retention %d", c.RetentionMs)
	}
}
