package config

import (
	"slices"
)

// TopicConfigDef is one topic config (a LogConfig key in Kafka).
type TopicConfigDef struct {
	Def
	// Synonyms are the broker configs a topic without an override takes
	// its value from, highest priority first (Kafka's
	// ServerTopicConfigSynonyms.ALL_TOPIC_CONFIG_SYNONYMS, KIP-226).
	// Empty when only the topic-level default applies.
	Synonyms []string
}

// ServerDefaultProperty is the broker config whose value is this topic
// config's default (the "Server Default Property" column of Kafka's
// docs), or "" if none.
func (d TopicConfigDef) ServerDefaultProperty() string {
	if len(d.Synonyms) == 0 {
		return ""
	}
	return d.Synonyms[0]
}

func tdef(name string, t Type, dflt string, v validator, synonyms []string, doc string) TopicConfigDef {
	return TopicConfigDef{Def: newDef(name, t, dflt, Medium, v, doc), Synonyms: synonyms}
}

func syn(names ...string) []string { return names }

// topicDefs is Kafka 4.0's LogConfig. Removed in 4.0 and therefore
// unknown: message.format.version, message.downconversion.enable,
// message.timestamp.difference.max.ms.
var topicDefs = indexTopic([]TopicConfigDef{
	tdef("cleanup.policy", TypeList, "delete", listOf("compact", "delete"), syn("log.cleanup.policy"),
		"This config designates the retention policy to use on log segments. The \"delete\" policy (which is the default) will discard old segments when their retention time or size limit has been reached. The \"compact\" policy will enable log compaction, which retains the latest value for each key. It is also possible to specify both policies in a comma-separated list (e.g. \"delete,compact\"). In this case, old segments will be discarded per the retention time and size configuration, while retained segments will be compacted."),
	tdef("compression.gzip.level", TypeInt, "-1", gzipLevel{}, syn("compression.gzip.level"),
		"The compression level to use if compression.type is set to gzip."),
	tdef("compression.lz4.level", TypeInt, "9", between(1, 17), syn("compression.lz4.level"),
		"The compression level to use if compression.type is set to lz4."),
	tdef("compression.type", TypeString, "producer", oneOf(compressionTypes...), syn("compression.type"),
		"Specify the final compression type for a given topic. This configuration accepts the standard compression codecs ('gzip', 'snappy', 'lz4', 'zstd'). It additionally accepts 'uncompressed' which is equivalent to no compression; and 'producer' which means retain the original compression codec set by the producer."),
	tdef("compression.zstd.level", TypeInt, "3", between(-131072, 22), syn("compression.zstd.level"),
		"The compression level to use if compression.type is set to zstd."),
	tdef("delete.retention.ms", TypeLong, dayMs, atLeast(0), syn("log.cleaner.delete.retention.ms"),
		"The amount of time to retain delete tombstone markers for log compacted topics. This setting also gives a bound on the time in which a consumer must complete a read if they begin from offset 0 to ensure that they get a valid snapshot of the final stage (otherwise delete tombstones may be collected before they complete their scan)."),
	tdef("file.delete.delay.ms", TypeLong, "60000", atLeast(0), syn("log.segment.delete.delay.ms"),
		"The time to wait before deleting a file from the filesystem"),
	tdef("flush.messages", TypeLong, maxLong, atLeast(1), syn("log.flush.interval.messages"),
		"This setting allows specifying an interval at which we will force an fsync of data written to the log. For example if this was set to 1 we would fsync after every message; if it were 5 we would fsync after every five messages. In general we recommend you not set this and use replication for durability and allow the operating system's background flush capabilities as it is more efficient."),
	tdef("flush.ms", TypeLong, maxLong, atLeast(0), syn("log.flush.interval.ms", "log.flush.scheduler.interval.ms"),
		"This setting allows specifying a time interval at which we will force an fsync of data written to the log. For example if this was set to 1000 we would fsync after 1000 ms had passed. In general we recommend you not set this and use replication for durability and allow the operating system's background flush capabilities as it is more efficient."),
	tdef("follower.replication.throttled.replicas", TypeList, "", throttledReplicas{}, nil,
		"A list of replicas for which log replication should be throttled on the follower side. The list should describe a set of replicas in the form [PartitionId]:[BrokerId],[PartitionId]:[BrokerId]:... or alternatively the wildcard '*' can be used to throttle all replicas for this topic."),
	tdef("index.interval.bytes", TypeInt, "4096", atLeast(0), syn("log.index.interval.bytes"),
		"This setting controls how frequently Kafka adds an index entry to its offset index. The default setting ensures that we index a message roughly every 4096 bytes. More indexing allows reads to jump closer to the exact position in the log but makes the index larger. You probably don't need to change this."),
	tdef("leader.replication.throttled.replicas", TypeList, "", throttledReplicas{}, nil,
		"A list of replicas for which log replication should be throttled on the leader side. The list should describe a set of replicas in the form [PartitionId]:[BrokerId],[PartitionId]:[BrokerId]:... or alternatively the wildcard '*' can be used to throttle all replicas for this topic."),
	tdef("local.retention.bytes", TypeLong, "-2", atLeast(-2), syn("log.local.retention.bytes"),
		"The maximum size of local log segments that can grow for a partition before it deletes the old segments. Default value is -2, it represents `retention.bytes` value to be used. The effective value should always be less than or equal to `retention.bytes` value."),
	tdef("local.retention.ms", TypeLong, "-2", atLeast(-2), syn("log.local.retention.ms"),
		"The number of milliseconds to keep the local log segment before it gets deleted. Default value is -2, it represents `retention.ms` value is to be used. The effective value should always be less than or equal to `retention.ms` value."),
	tdef("max.compaction.lag.ms", TypeLong, maxLong, atLeast(1), syn("log.cleaner.max.compaction.lag.ms"),
		"The maximum time a message will remain ineligible for compaction in the log. Only applicable for logs that are being compacted."),
	tdef("max.message.bytes", TypeInt, defaultMaxMessageBytes, atLeast(0), syn("message.max.bytes"),
		"The largest record batch size allowed by Kafka (after compression if compression is enabled). In the latest message format version, records are always grouped into batches for efficiency."),
	tdef("message.timestamp.after.max.ms", TypeLong, maxLong, atLeast(0), syn("log.message.timestamp.after.max.ms"),
		"This configuration sets the allowable timestamp difference between the message timestamp and the broker's timestamp. The message timestamp can be later than or equal to the broker's timestamp, with the maximum allowable difference determined by the value set in this configuration. If message.timestamp.type=CreateTime, the message will be rejected if the difference in timestamps exceeds this specified threshold. This configuration is ignored if message.timestamp.type=LogAppendTime."),
	tdef("message.timestamp.before.max.ms", TypeLong, maxLong, atLeast(0), syn("log.message.timestamp.before.max.ms"),
		"This configuration sets the allowable timestamp difference between the broker's timestamp and the message timestamp. The message timestamp can be earlier than or equal to the broker's timestamp, with the maximum allowable difference determined by the value set in this configuration. If message.timestamp.type=CreateTime, the message will be rejected if the difference in timestamps exceeds this specified threshold. This configuration is ignored if message.timestamp.type=LogAppendTime."),
	tdef("message.timestamp.type", TypeString, "CreateTime", oneOf("CreateTime", "LogAppendTime"), syn("log.message.timestamp.type"),
		"Define whether the timestamp in the message is message create time or log append time."),
	tdef("min.cleanable.dirty.ratio", TypeDouble, "0.5", between(0, 1), syn("log.cleaner.min.cleanable.ratio"),
		"This configuration controls how frequently the log compactor will attempt to clean the log (assuming log compaction is enabled). By default we will avoid cleaning a log where more than 50% of the log has been compacted. This ratio bounds the maximum space wasted in the log by duplicates (at 50% at most 50% of the log could be duplicates). A higher ratio will mean fewer, more efficient cleanings but will mean more wasted space in the log. If the max.compaction.lag.ms or the min.compaction.lag.ms configurations are also specified, then the log compactor considers the log to be eligible for compaction as soon as either: (i) the dirty ratio threshold has been met and the log has had dirty (uncompacted) records for at least the min.compaction.lag.ms duration, or (ii) if the log has had dirty (uncompacted) records for at most the max.compaction.lag.ms period."),
	tdef("min.compaction.lag.ms", TypeLong, "0", atLeast(0), syn("log.cleaner.min.compaction.lag.ms"),
		"The minimum time a message will remain uncompacted in the log. Only applicable for logs that are being compacted."),
	tdef("min.insync.replicas", TypeInt, "1", atLeast(1), syn("min.insync.replicas"),
		"When a producer sets acks to \"all\" (or \"-1\"), this configuration specifies the minimum number of replicas that must acknowledge a write for the write to be considered successful. If this minimum cannot be met, then the producer will raise an exception (either NotEnoughReplicas or NotEnoughReplicasAfterAppend)."),
	tdef("preallocate", TypeBoolean, "false", nil, syn("log.preallocate"),
		"True if we should preallocate the file on disk when creating a new log segment."),
	tdef("remote.log.copy.disable", TypeBoolean, "false", nil, nil,
		"Determines whether tiered data for a topic should become read only, and no more data uploading on a topic. Once this config is set to true, the local retention configuration (i.e. local.retention.ms/bytes) becomes irrelevant, and all data expiration follows the topic-wide retention configuration(i.e. retention.ms/bytes)."),
	tdef("remote.log.delete.on.disable", TypeBoolean, "false", nil, nil,
		"Determines whether tiered data for a topic should be deleted after tiered storage is disabled on a topic. This configuration should be enabled when trying to set `remote.storage.enable` from true to false"),
	tdef("remote.storage.enable", TypeBoolean, "false", nil, nil,
		"To enable tiered storage for a topic, set this configuration to true. To disable tiered storage for a topic that has it enabled, set this configuration to false. When disabling, you must also set remote.log.delete.on.disable to true. Gregor does not implement tiered storage."),
	tdef("retention.bytes", TypeLong, "-1", nil, syn("log.retention.bytes"),
		"This configuration controls the maximum size a partition (which consists of log segments) can grow to before we will discard old log segments to free up space if we are using the \"delete\" retention policy. By default there is no size limit only a time limit. Since this limit is enforced at the partition level, multiply it by the number of partitions to compute the topic retention in bytes."),
	tdef("retention.ms", TypeLong, weekMs, atLeast(-1), syn("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
		"This configuration controls the maximum time we will retain a log before we will discard old log segments to free up space if we are using the \"delete\" retention policy. This represents an SLA on how soon consumers must read their data. If set to -1, no time limit is applied."),
	tdef("segment.bytes", TypeInt, defaultSegmentBytes, atLeast(1048576), syn("log.segment.bytes"),
		"This configuration controls the segment file size for the log. Retention and cleaning is always done a file at a time so a larger segment size means fewer files but less granular control over retention."),
	tdef("segment.index.bytes", TypeInt, "10485760", atLeast(4), syn("log.index.size.max.bytes"),
		"This configuration controls the size of the index that maps offsets to file positions. We preallocate this index file and shrink it only after log rolls. You generally should not need to change this setting."),
	tdef("segment.jitter.ms", TypeLong, "0", atLeast(0), syn("log.roll.jitter.ms", "log.roll.jitter.hours"),
		"The maximum random jitter subtracted from the scheduled segment roll time to avoid thundering herds of segment rolling"),
	tdef("segment.ms", TypeLong, weekMs, atLeast(1), syn("log.roll.ms", "log.roll.hours"),
		"This configuration controls the period of time after which Kafka will force the log to roll even if the segment file isn't full to ensure that retention can delete or compact old data."),
	tdef("unclean.leader.election.enable", TypeBoolean, "false", nil, syn("unclean.leader.election.enable"),
		"Indicates whether to enable replicas not in the ISR set to be elected as leader as a last resort, even though doing so may result in data loss."),
})

func indexTopic(defs []TopicConfigDef) map[string]TopicConfigDef {
	m := make(map[string]TopicConfigDef, len(defs))
	for _, d := range defs {
		if _, dup := m[d.Name]; dup {
			panic("config: duplicate topic config " + d.Name)
		}
		m[d.Name] = d
	}
	return m
}

var topicNames = func() []string {
	names := make([]string, 0, len(topicDefs))
	for n := range topicDefs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}()

// TopicConfigNames returns the names of every topic config, sorted (as
// Kafka's LogConfig.configNames). The caller owns the slice.
func TopicConfigNames() []string { return slices.Clone(topicNames) }

// LookupTopicConfig returns the definition of the named topic config.
// The Synonyms slice is shared; do not modify it.
func LookupTopicConfig(name string) (TopicConfigDef, bool) {
	d, ok := topicDefs[name]
	return d, ok
}
