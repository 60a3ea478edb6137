package config

import (
	"slices"
)

// BrokerConfigDef is one broker config Gregor accepts.
type BrokerConfigDef struct {
	Def
	// UpdateMode is how the config can change at runtime (KIP-226).
	UpdateMode UpdateMode
}

// Defaults that appear in several definitions.
const (
	maxInt  = "2147483647"          // Integer.MAX_VALUE
	maxLong = "9223372036854775807" // Long.MAX_VALUE

	defaultSegmentBytes    = "1073741824" // 1 GiB
	defaultMaxMessageBytes = "1048588"    // 1 MiB + Records.LOG_OVERHEAD
	weekMs                 = "604800000"
	dayMs                  = "86400000"
)

// Gregor's defaults that differ from Kafka's (see the package doc).
const (
	// DefaultListeners is the listener Gregor binds when listeners is
	// unset: loopback only, as Kafka 4's sample config advertises.
	// Kafka's own default is "PLAINTEXT://:9092".
	DefaultListeners = "PLAINTEXT://localhost:9092"
	// DefaultProcessRoles makes an unconfigured node a single-node
	// cluster. Kafka 4 requires process.roles to be set.
	DefaultProcessRoles = "broker,controller"
	// DefaultNodeID is the node id of an unconfigured single node; Kafka
	// requires node.id. Gregor requires it too as soon as a controller
	// quorum is configured.
	DefaultNodeID = "1"
)

// securityProtocols are Kafka's SecurityProtocol names.
var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// compressionTypes are Kafka's BrokerCompressionType names, in its order.
var compressionTypes = []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}

func bdef(name string, t Type, dflt string, imp Importance, mode UpdateMode, v validator, doc string) BrokerConfigDef {
	return BrokerConfigDef{Def: newDef(name, t, dflt, imp, v, doc), UpdateMode: mode}
}

// brokerDefs is the broker catalog, by name. Defaults, types, validators
// and importance follow Kafka 4.0's KafkaConfig; update modes follow
// DynamicBrokerConfig.AllDynamicConfigs and PerBrokerConfigs.
var brokerDefs = indexBroker(append([]BrokerConfigDef{
	// ---- Server basics and KRaft ----
	bdef("process.roles", TypeList, DefaultProcessRoles, High, ReadOnly, listOf("broker", "controller"),
		"The roles that this process plays: 'broker', 'controller', or 'broker,controller' if it is both. Gregor defaults to 'broker,controller' (a single-node cluster); Kafka requires it to be set."),
	bdef("node.id", TypeInt, DefaultNodeID, High, ReadOnly, nil,
		"The node ID associated with the roles this process is playing when process.roles is non-empty. Gregor defaults it to 1 for a single node without a configured controller quorum; it is required otherwise."),
	bdef("broker.id", TypeInt, "-1", High, ReadOnly, nil,
		"The broker id for this server. A synonym of node.id: if only one of the two is set, both take its value; if both are set they must be equal."),
	bdef("reserved.broker.max.id", TypeInt, "1000", Medium, ReadOnly, atLeast(0),
		"Max number that can be used for a broker.id"),
	bdef("broker.id.generation.enable", TypeBoolean, "true", Medium, ReadOnly, nil,
		"Enable automatic broker id generation on the server. When enabled the value configured for reserved.broker.max.id should be reviewed."),
	bdef("broker.rack", TypeString, nullDefault, Medium, ReadOnly, nil,
		"Rack of the broker. This will be used in rack aware replication assignment for fault tolerance. Examples: RACK1, us-east-1d"),
	bdef("controller.listener.names", TypeString, nullDefault, High, ReadOnly, nil,
		"A comma-separated list of the names of the listeners used by the controller. This is required if running in KRaft mode. When communicating with the controller quorum, the broker will always use the first listener in this list."),
	bdef("controller.quorum.voters", TypeList, "", High, ReadOnly, nil,
		"Map of id/endpoint information for the set of voters in a comma-separated list of {id}@{host}:{port} entries. For example: 1@localhost:9092,2@localhost:9093,3@localhost:9094"),
	bdef("controller.quorum.bootstrap.servers", TypeList, "", High, ReadOnly, nil,
		"List of endpoints to use for bootstrapping the cluster metadata. The endpoints are specified in comma-separated list of {host}:{port} entries. For example: localhost:9092,localhost:9093,localhost:9094."),
	bdef("controller.quorum.election.timeout.ms", TypeInt, "1000", High, ReadOnly, nil,
		"Maximum time in milliseconds to wait without being able to fetch from the leader before triggering a new election"),
	bdef("controller.quorum.fetch.timeout.ms", TypeInt, "2000", High, ReadOnly, nil,
		"Maximum time without a successful fetch from the current leader before becoming a candidate and triggering an election for voters; Maximum time a leader can go without receiving valid fetch or fetchSnapshot request from a majority of the quorum before resigning."),
	bdef("controller.quorum.election.backoff.max.ms", TypeInt, "1000", High, ReadOnly, nil,
		"Maximum time in milliseconds before starting new elections. This is used in the binary exponential backoff mechanism that helps prevent gridlocked elections"),
	bdef("controller.quorum.append.linger.ms", TypeInt, "25", Medium, ReadOnly, nil,
		"The duration in milliseconds that the leader will wait for writes to accumulate before flushing them to disk."),
	bdef("controller.quorum.request.timeout.ms", TypeInt, "2000", Medium, ReadOnly, nil,
		"The configuration controls the maximum amount of time the client will wait for the response of a request. If the response is not received before the timeout elapses the client will resend the request if necessary or fail the request if retries are exhausted."),
	bdef("controller.quorum.retry.backoff.ms", TypeInt, "20", Low, ReadOnly, nil,
		"The amount of time to wait before attempting to retry a failed request to a given topic partition. This avoids repeatedly sending requests in a tight loop under some failure scenarios."),
	bdef("metadata.log.dir", TypeString, nullDefault, High, ReadOnly, nil,
		"This configuration determines where we put the metadata log. If it is not set, the metadata log is placed in the first log directory from log.dirs."),
	bdef("metadata.log.segment.bytes", TypeInt, defaultSegmentBytes, High, ReadOnly, atLeast(12),
		"The maximum size of a single metadata log file."),
	bdef("metadata.log.segment.ms", TypeLong, weekMs, High, ReadOnly, nil,
		"The maximum time before a new metadata log file is rolled out (in milliseconds)."),
	bdef("metadata.max.retention.bytes", TypeLong, "104857600", High, ReadOnly, nil,
		"The maximum combined size of the metadata log and snapshots before deleting old snapshots and log files. Since at least one snapshot must exist before any logs can be deleted, this is a soft limit."),
	bdef("metadata.max.retention.ms", TypeLong, weekMs, High, ReadOnly, nil,
		"The number of milliseconds to keep a metadata log file or snapshot before deleting it. Since at least one snapshot must exist before any logs can be deleted, this is a soft limit."),
	bdef("metadata.max.idle.interval.ms", TypeInt, "500", Low, ReadOnly, atLeast(0),
		"This configuration controls how often the active controller should write no-op records to the metadata partition. If the value is 0, no-op records are not appended to the metadata partition. The default value is 500"),
	bdef("metadata.log.max.record.bytes.between.snapshots", TypeLong, "20971520", High, ReadOnly, atLeast(1),
		"This is the maximum number of bytes in the log between the latest snapshot and the high-watermark needed before generating a new snapshot. The default value is 20971520. To generate snapshots based on the time elapsed, see the metadata.log.max.snapshot.interval.ms configuration. The Kafka node will generate a snapshot when either the maximum time interval is reached or the maximum bytes limit is reached."),
	bdef("metadata.log.max.snapshot.interval.ms", TypeLong, "3600000", High, ReadOnly, atLeast(0),
		"This is the maximum number of milliseconds to wait to generate a snapshot if there are committed records in the log that are not included in the latest snapshot. A value of zero disables time based snapshot generation. The default value is 3600000."),
	bdef("broker.heartbeat.interval.ms", TypeInt, "2000", Medium, ReadOnly, nil,
		"The length of time in milliseconds between broker heartbeats."),
	bdef("broker.session.timeout.ms", TypeInt, "9000", Medium, ReadOnly, nil,
		"The length of time in milliseconds that a broker lease lasts if no heartbeats are made."),
	bdef("initial.broker.registration.timeout.ms", TypeInt, "60000", Medium, ReadOnly, nil,
		"When initially registering with the controller quorum, the number of milliseconds to wait before declaring failure and exiting the broker process."),

	// ---- Socket server ----
	bdef("listeners", TypeList, DefaultListeners, High, PerBroker, nil,
		"Listener List - Comma-separated list of URIs we will listen on and the listener names. If the listener name is not a security protocol, listener.security.protocol.map must also be set. Listener names and port numbers must be unique unless one listener is an IPv4 address and the other listener is an IPv6 address (for the same port). Specify hostname as 0.0.0.0 to bind to all interfaces. Leave hostname empty to bind to default interface. Examples of legal listener lists: PLAINTEXT://myhost:9092,SSL://:9091 CLIENT://0.0.0.0:9092,REPLICATION://localhost:9093 PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9092. Gregor's default is PLAINTEXT://localhost:9092 (Kafka's is PLAINTEXT://:9092)."),
	bdef("advertised.listeners", TypeList, nullDefault, High, ReadOnly, nil,
		"Specifies the listener addresses that the Kafka brokers will advertise to clients and other brokers. The config is useful where the actual listener configuration listeners does not represent the addresses that clients should use to connect, such as in cloud environments. If this is not set, the value for listeners will be used. Unlike listeners, it is not valid to advertise the 0.0.0.0 meta-address. Also unlike listeners, there can be duplicated ports in this property, so that one listener can be configured to advertise another listener's address."),
	bdef("listener.security.protocol.map", TypeString, "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT", Low, PerBroker, nil,
		"Map between listener names and security protocols. This must be defined for the same security protocol to be usable in more than one port or IP. For example, internal and external traffic can be separated even if SSL is required for both. Concretely, the user could define listeners with names INTERNAL and EXTERNAL and this property as: INTERNAL:SSL,EXTERNAL:SSL. As shown, key and value are separated by a colon and map entries are separated by commas. Each listener name should only appear once in the map. Note that in KRaft a default mapping from the listener names defined by controller.listener.names to PLAINTEXT is assumed if no explicit mapping is provided and no other security protocol is in use."),
	bdef("inter.broker.listener.name", TypeString, nullDefault, Medium, ReadOnly, nil,
		"Name of listener used for communication between brokers. If this is unset, the listener name is defined by security.inter.broker.protocol. It is an error to set this and security.inter.broker.protocol properties at the same time."),
	bdef("security.inter.broker.protocol", TypeString, "PLAINTEXT", Medium, ReadOnly, oneOf(securityProtocols...),
		"Security protocol used to communicate between brokers. It is an error to set this and inter.broker.listener.name properties at the same time."),
	bdef("socket.send.buffer.bytes", TypeInt, "102400", High, ReadOnly, nil,
		"The SO_SNDBUF buffer of the socket server sockets. If the value is -1, the OS default will be used."),
	bdef("socket.receive.buffer.bytes", TypeInt, "102400", High, ReadOnly, nil,
		"The SO_RCVBUF buffer of the socket server sockets. If the value is -1, the OS default will be used."),
	bdef("socket.request.max.bytes", TypeInt, "104857600", High, ReadOnly, atLeast(1),
		"The maximum number of bytes in a socket request"),
	bdef("socket.listen.backlog.size", TypeInt, "50", Medium, ReadOnly, atLeast(1),
		"The maximum number of pending connections on the socket. In Linux, you may also need to configure somaxconn and tcp_max_syn_backlog kernel parameters accordingly to make the configuration takes effect."),
	bdef("max.connections.per.ip", TypeInt, maxInt, Medium, ClusterWide, atLeast(0),
		"The maximum number of connections we allow from each ip address. This can be set to 0 if there are overrides configured using max.connections.per.ip.overrides property. New connections from the ip address are dropped if the limit is reached."),
	bdef("max.connections.per.ip.overrides", TypeString, "", Medium, ClusterWide, nil,
		"A comma-separated list of per-ip or hostname overrides to the default maximum number of connections. An example value is \"hostName:100,127.0.0.1:200\""),
	bdef("max.connections", TypeInt, maxInt, Medium, ClusterWide, atLeast(0),
		"The maximum number of connections we allow in the broker at any time. This limit is applied in addition to any per-ip limits configured using max.connections.per.ip. New connections are blocked if either the listener or broker limit is reached."),
	bdef("max.connection.creation.rate", TypeInt, maxInt, Medium, ClusterWide, atLeast(0),
		"The maximum connection creation rate we allow in the broker at any time. New connections will be throttled if either the listener or the broker limit is reached, with the exception of inter-broker listener."),
	bdef("connections.max.idle.ms", TypeLong, "600000", Medium, ReadOnly, nil,
		"Idle connections timeout: the server socket processor threads close the connections that idle more than this"),
	bdef("connection.failed.authentication.delay.ms", TypeInt, "100", Low, ReadOnly, atLeast(0),
		"Connection close delay on failed authentication: this is the time (in milliseconds) by which connection close will be delayed on authentication failure. This must be configured to be less than connections.max.idle.ms to prevent connection timeout."),
	bdef("queued.max.requests", TypeInt, "500", High, ReadOnly, atLeast(1),
		"The number of queued requests allowed for data-plane, before blocking the network threads"),
	bdef("queued.max.request.bytes", TypeLong, "-1", Medium, ReadOnly, nil,
		"The number of queued bytes allowed before no more requests are read"),
	bdef("num.network.threads", TypeInt, "3", High, ClusterWide, atLeast(1),
		"The number of threads that the server uses for receiving requests from the network and sending responses to the network. Noted: each listener (except for controller listener) creates its own thread pool."),
	bdef("num.io.threads", TypeInt, "8", High, ClusterWide, atLeast(1),
		"The number of threads that the server uses for processing requests, which may include disk I/O"),
	bdef("background.threads", TypeInt, "10", High, ClusterWide, atLeast(1),
		"The number of threads to use for various background processing tasks"),
	bdef("request.timeout.ms", TypeInt, "30000", High, ReadOnly, nil,
		"The configuration controls the maximum amount of time the client will wait for the response of a request. If the response is not received before the timeout elapses the client will resend the request if necessary or fail the request if retries are exhausted."),

	// ---- Requests and topics ----
	bdef("message.max.bytes", TypeInt, defaultMaxMessageBytes, High, ClusterWide, atLeast(0),
		"The largest record batch size allowed by Kafka (after compression if compression is enabled). In the latest message format version, records are always grouped into batches for efficiency. This can be set per topic with the topic level max.message.bytes config."),
	bdef("fetch.max.bytes", TypeInt, "57671680", Medium, ReadOnly, atLeast(1024),
		"The maximum number of bytes we will return for a fetch request. Must be at least 1024."),
	bdef("max.incremental.fetch.session.cache.slots", TypeInt, "1000", Medium, ReadOnly, atLeast(0),
		"The maximum number of total incremental fetch sessions that we will maintain."),
	bdef("num.partitions", TypeInt, "1", Medium, ReadOnly, atLeast(1),
		"The default number of log partitions per topic"),
	bdef("default.replication.factor", TypeInt, "1", Medium, ReadOnly, nil,
		"The replication factor for automatically created topics, and for topics created with -1 as the replication factor"),
	bdef("auto.create.topics.enable", TypeBoolean, "true", High, ReadOnly, nil,
		"Enable auto creation of topic on the server."),
	bdef("delete.topic.enable", TypeBoolean, "true", High, ReadOnly, nil,
		"Enables delete topic. Delete topic through the admin tool will have no effect if this config is turned off"),
	bdef("compression.type", TypeString, "producer", High, ClusterWide, oneOf(compressionTypes...),
		"Specify the final compression type for a given topic. This configuration accepts the standard compression codecs ('gzip', 'snappy', 'lz4', 'zstd'). It additionally accepts 'uncompressed' which is equivalent to no compression; and 'producer' which means retain the original compression codec set by the producer."),
	bdef("compression.gzip.level", TypeInt, "-1", Medium, ClusterWide, gzipLevel{},
		"The compression level to use if compression.type is set to 'gzip'."),
	bdef("compression.lz4.level", TypeInt, "9", Medium, ClusterWide, between(1, 17),
		"The compression level to use if compression.type is set to 'lz4'."),
	bdef("compression.zstd.level", TypeInt, "3", Medium, ClusterWide, between(-131072, 22),
		"The compression level to use if compression.type is set to 'zstd'."),
	bdef("min.insync.replicas", TypeInt, "1", High, ClusterWide, atLeast(1),
		"When a producer sets acks to \"all\" (or \"-1\"), min.insync.replicas specifies the minimum number of replicas that must acknowledge a write for the write to be considered successful. If this minimum cannot be met, then the producer will raise an exception (either NotEnoughReplicas or NotEnoughReplicasAfterAppend)."),
	bdef("unclean.leader.election.enable", TypeBoolean, "false", High, ClusterWide, nil,
		"Indicates whether to enable replicas not in the ISR set to be elected as leader as a last resort, even though doing so may result in data loss"),
	bdef("auto.leader.rebalance.enable", TypeBoolean, "true", High, ReadOnly, nil,
		"Enables auto leader balancing. A background thread checks the distribution of partition leaders at regular intervals, configurable by leader.imbalance.check.interval.seconds. If the leader is imbalanced, leader rebalance to the preferred leader for partitions is triggered."),
	bdef("leader.imbalance.check.interval.seconds", TypeLong, "300", High, ReadOnly, atLeast(1),
		"The frequency with which the partition rebalance check is triggered by the controller"),
	bdef("leader.imbalance.per.broker.percentage", TypeInt, "10", High, ReadOnly, nil,
		"The ratio of leader imbalance allowed per broker. The controller would trigger a leader balance if it goes above this value per broker. The value is specified in percentage."),
	bdef("controlled.shutdown.enable", TypeBoolean, "true", Medium, ReadOnly, nil,
		"Enable controlled shutdown of the server."),
	bdef("controlled.shutdown.max.retries", TypeInt, "3", Medium, ReadOnly, nil,
		"Controlled shutdown can fail for multiple reasons. This determines the number of retries when such failure happens"),
	bdef("controlled.shutdown.retry.backoff.ms", TypeLong, "5000", Medium, ReadOnly, nil,
		"Before each retry, the system needs time to recover from the state that caused the previous failure (Controller fail over, replica lag etc). This config determines the amount of time to wait before retrying."),

	// ---- Log basics ----
	bdef("log.dirs", TypeString, nullDefault, High, ReadOnly, nil,
		"A comma-separated list of the directories where the log data is stored. If not set, the value in log.dir is used."),
	bdef("log.dir", TypeString, "/tmp/kafka-logs", High, ReadOnly, nil,
		"The directory in which the log data is kept (supplemental for log.dirs property)"),
	bdef("log.segment.bytes", TypeInt, defaultSegmentBytes, High, ClusterWide, atLeast(1048576),
		"The maximum size of a single log file"),
	bdef("log.roll.ms", TypeLong, nullDefault, High, ClusterWide, nil,
		"The maximum time before a new log segment is rolled out (in milliseconds). If not set, the value in log.roll.hours is used"),
	bdef("log.roll.hours", TypeInt, "168", High, ReadOnly, atLeast(1),
		"The maximum time before a new log segment is rolled out (in hours), secondary to log.roll.ms property"),
	bdef("log.roll.jitter.ms", TypeLong, nullDefault, High, ClusterWide, nil,
		"The maximum jitter to subtract from logRollTimeMillis (in milliseconds). If not set, the value in log.roll.jitter.hours is used"),
	bdef("log.roll.jitter.hours", TypeInt, "0", High, ReadOnly, atLeast(0),
		"The maximum jitter to subtract from logRollTimeMillis (in hours), secondary to log.roll.jitter.ms property"),
	bdef("log.retention.ms", TypeLong, nullDefault, High, ClusterWide, nil,
		"The number of milliseconds to keep a log file before deleting it (in milliseconds), If not set, the value in log.retention.minutes is used. If set to -1, no time limit is applied."),
	bdef("log.retention.minutes", TypeInt, nullDefault, High, ReadOnly, nil,
		"The number of minutes to keep a log file before deleting it (in minutes), secondary to log.retention.ms property. If not set, the value in log.retention.hours is used"),
	bdef("log.retention.hours", TypeInt, "168", High, ReadOnly, nil,
		"The number of hours to keep a log file before deleting it (in hours), tertiary to log.retention.ms property"),
	bdef("log.retention.bytes", TypeLong, "-1", High, ClusterWide, nil,
		"The maximum size of the log before deleting it"),
	bdef("log.retention.check.interval.ms", TypeLong, "300000", Medium, ReadOnly, atLeast(1),
		"The frequency in milliseconds that the log cleaner checks whether any log is eligible for deletion"),
	bdef("log.cleanup.policy", TypeList, "delete", Medium, ClusterWide, listOf("compact", "delete"),
		"The default cleanup policy for segments beyond the retention window. A comma separated list of valid policies."),
	bdef("log.index.size.max.bytes", TypeInt, "10485760", Medium, ClusterWide, atLeast(4),
		"The maximum size in bytes of the offset index"),
	bdef("log.index.interval.bytes", TypeInt, "4096", Medium, ClusterWide, atLeast(0),
		"The interval with which we add an entry to the offset index."),
	bdef("log.flush.interval.messages", TypeLong, maxLong, High, ClusterWide, atLeast(1),
		"The number of messages accumulated on a log partition before messages are flushed to disk."),
	bdef("log.segment.delete.delay.ms", TypeLong, "60000", High, ClusterWide, atLeast(0),
		"The amount of time to wait before deleting a file from the filesystem. If the value is 0 and there is no file to delete, the system will wait 1 millisecond. Low value will cause busy waiting"),
	bdef("log.flush.scheduler.interval.ms", TypeLong, maxLong, High, ReadOnly, nil,
		"The frequency in ms that the log flusher checks whether any log needs to be flushed to disk"),
	bdef("log.flush.interval.ms", TypeLong, nullDefault, High, ClusterWide, nil,
		"The maximum time in ms that a message in any topic is kept in memory before flushed to disk. If not set, the value in log.flush.scheduler.interval.ms is used"),
	bdef("log.flush.offset.checkpoint.interval.ms", TypeInt, "60000", High, ReadOnly, atLeast(0),
		"The frequency with which we update the persistent record of the last flush which acts as the log recovery point."),
	bdef("log.flush.start.offset.checkpoint.interval.ms", TypeInt, "60000", High, ReadOnly, atLeast(0),
		"The frequency with which we update the persistent record of log start offset"),
	bdef("log.preallocate", TypeBoolean, "false", Medium, ClusterWide, nil,
		"Should pre allocate file when create new segment? If you are using Kafka on Windows, you probably need to set it to true."),
	bdef("num.recovery.threads.per.data.dir", TypeInt, "1", High, ClusterWide, atLeast(1),
		"The number of threads per data directory to be used for log recovery at startup and flushing at shutdown"),
	bdef("log.message.timestamp.type", TypeString, "CreateTime", Medium, ClusterWide, oneOf("CreateTime", "LogAppendTime"),
		"Define whether the timestamp in the message is message create time or log append time. The value should be either CreateTime or LogAppendTime."),
	bdef("log.message.timestamp.before.max.ms", TypeLong, maxLong, Medium, ClusterWide, atLeast(0),
		"This configuration sets the allowable timestamp difference between the broker's timestamp and the message timestamp. The message timestamp can be earlier than or equal to the broker's timestamp, with the maximum allowable difference determined by the value set in this configuration. If log.message.timestamp.type=CreateTime, the message will be rejected if the difference in timestamps exceeds this specified threshold. This configuration is ignored if log.message.timestamp.type=LogAppendTime."),
	bdef("log.message.timestamp.after.max.ms", TypeLong, maxLong, Medium, ClusterWide, atLeast(0),
		"This configuration sets the allowable timestamp difference between the message timestamp and the broker's timestamp. The message timestamp can be later than or equal to the broker's timestamp, with the maximum allowable difference determined by the value set in this configuration. If log.message.timestamp.type=CreateTime, the message will be rejected if the difference in timestamps exceeds this specified threshold. This configuration is ignored if log.message.timestamp.type=LogAppendTime."),
	bdef("log.dir.failure.timeout.ms", TypeLong, "30000", Low, ReadOnly, atLeast(1),
		"If the broker is unable to successfully communicate to the controller that some log directory has failed for longer than this time, the broker will fail and shut down."),
	bdef("log.local.retention.ms", TypeLong, "-2", Medium, ClusterWide, atLeast(-2),
		"The number of milliseconds to keep the local log segments before it gets eligible for deletion. Default value is -2, it represents `log.retention.ms` value is to be used. The effective value should always be less than or equal to `log.retention.ms` value."),
	bdef("log.local.retention.bytes", TypeLong, "-2", Medium, ClusterWide, atLeast(-2),
		"The maximum size of local log segments that can grow for a partition before it gets eligible for deletion. Default value is -2, it represents `log.retention.bytes` value to be used. The effective value should always be less than or equal to `log.retention.bytes` value."),
	bdef("remote.log.storage.system.enable", TypeBoolean, "false", Medium, ReadOnly, nil,
		"Whether to enable tiered storage functionality in a broker or not. Gregor does not implement tiered storage; only false is accepted."),

	// ---- Log cleaner ----
	bdef("log.cleaner.enable", TypeBoolean, "true", Medium, ReadOnly, nil,
		"Enable the log cleaner process to run on the server. Should be enabled if using any topics with a cleanup.policy=compact including the internal offsets topic. If disabled those topics will not be compacted and continually grow in size."),
	bdef("log.cleaner.threads", TypeInt, "1", Medium, ClusterWide, atLeast(0),
		"The number of background threads to use for log cleaning"),
	bdef("log.cleaner.io.max.bytes.per.second", TypeDouble, "1.7976931348623157E308", Medium, ClusterWide, nil,
		"The log cleaner will be throttled so that the sum of its read and write i/o will be less than this value on average"),
	bdef("log.cleaner.dedupe.buffer.size", TypeLong, "134217728", Medium, ClusterWide, nil,
		"The total memory used for log deduplication across all cleaner threads"),
	bdef("log.cleaner.io.buffer.size", TypeInt, "524288", Medium, ClusterWide, atLeast(0),
		"The total memory used for log cleaner I/O buffers across all cleaner threads"),
	bdef("log.cleaner.io.buffer.load.factor", TypeDouble, "0.9", Medium, ClusterWide, nil,
		"Log cleaner dedupe buffer load factor. The percentage full the dedupe buffer can become. A higher value will allow more log to be cleaned at once but will lead to more hash collisions"),
	bdef("log.cleaner.backoff.ms", TypeLong, "15000", Medium, ClusterWide, atLeast(0),
		"The amount of time to sleep when there are no logs to clean"),
	bdef("log.cleaner.min.cleanable.ratio", TypeDouble, "0.5", Medium, ClusterWide, between(0, 1),
		"The minimum ratio of dirty log to total log for a log to eligible for cleaning. If the log.cleaner.max.compaction.lag.ms or the log.cleaner.min.compaction.lag.ms configurations are also specified, then the log compactor considers the log eligible for compaction as soon as either: (i) the dirty ratio threshold has been met and the log has had dirty (uncompacted) records for at least the log.cleaner.min.compaction.lag.ms duration, or (ii) if the log has had dirty (uncompacted) records for at most the log.cleaner.max.compaction.lag.ms period."),
	bdef("log.cleaner.delete.retention.ms", TypeLong, dayMs, Medium, ClusterWide, atLeast(0),
		"The amount of time to retain tombstone message markers for log compacted topics. This setting also gives a bound on the time in which a consumer must complete a read if they begin from offset 0 to ensure that they get a valid snapshot of the final stage (otherwise tombstones messages may be collected before a consumer completes their scan)."),
	bdef("log.cleaner.min.compaction.lag.ms", TypeLong, "0", Medium, ClusterWide, atLeast(0),
		"The minimum time a message will remain uncompacted in the log. Only applicable for logs that are being compacted."),
	bdef("log.cleaner.max.compaction.lag.ms", TypeLong, maxLong, Medium, ClusterWide, atLeast(1),
		"The maximum time a message will remain ineligible for compaction in the log. Only applicable for logs that are being compacted."),

	// ---- Replication ----
	bdef("replica.lag.time.max.ms", TypeLong, "30000", High, ReadOnly, nil,
		"If a follower hasn't sent any fetch requests or hasn't consumed up to the leader's log end offset for at least this time, the leader will remove the follower from isr"),
	bdef("replica.socket.timeout.ms", TypeInt, "30000", High, ReadOnly, nil,
		"The socket timeout for network requests. Its value should be at least replica.fetch.wait.max.ms"),
	bdef("replica.socket.receive.buffer.bytes", TypeInt, "65536", High, ReadOnly, nil,
		"The socket receive buffer for network requests to the leader for replicating data"),
	bdef("replica.fetch.max.bytes", TypeInt, "1048576", Medium, ReadOnly, atLeast(0),
		"The number of bytes of messages to attempt to fetch for each partition. This is not an absolute maximum, if the first record batch in the first non-empty partition of the fetch is larger than this value, the record batch will still be returned to ensure that progress can be made."),
	bdef("replica.fetch.wait.max.ms", TypeInt, "500", Medium, ReadOnly, nil,
		"The maximum wait time for each fetcher request issued by follower replicas. This value should always be less than the replica.lag.time.max.ms at all times to prevent frequent shrinking of ISR for low throughput topics"),
	bdef("replica.fetch.min.bytes", TypeInt, "1", High, ReadOnly, nil,
		"Minimum bytes expected for each fetch response. If not enough bytes, wait up to replica.fetch.wait.max.ms (broker config)."),
	bdef("replica.fetch.response.max.bytes", TypeInt, "10485760", Medium, ReadOnly, atLeast(0),
		"Maximum bytes expected for the entire fetch response. Records are fetched in batches, and if the first record batch in the first non-empty partition of the fetch is larger than this value, the record batch will still be returned to ensure that progress can be made."),
	bdef("replica.fetch.backoff.ms", TypeInt, "1000", Medium, ReadOnly, atLeast(0),
		"The amount of time to sleep when fetch partition error occurs."),
	bdef("num.replica.fetchers", TypeInt, "1", High, ClusterWide, nil,
		"Number of fetcher threads used to replicate records from each source broker. The total number of fetchers on each broker is bound by num.replica.fetchers multiplied by the number of brokers in the cluster."),
	bdef("replica.high.watermark.checkpoint.interval.ms", TypeLong, "5000", High, ReadOnly, nil,
		"The frequency with which the high watermark is saved out to disk"),
	bdef("replica.selector.class", TypeClass, nullDefault, Medium, ReadOnly, oneOf("", RackAwareReplicaSelector),
		"The fully qualified class name that implements ReplicaSelector. This is used by the broker to find the preferred read replica. By default, we use an implementation that returns the leader. Gregor implements "+RackAwareReplicaSelector+", which sends a consumer that sets client.rack to an in-sync follower in its rack (KIP-392)."),
	bdef("fetch.purgatory.purge.interval.requests", TypeInt, "1000", Medium, ReadOnly, nil,
		"The purge interval (in number of requests) of the fetch request purgatory"),
	bdef("producer.purgatory.purge.interval.requests", TypeInt, "1000", Medium, ReadOnly, nil,
		"The purge interval (in number of requests) of the producer request purgatory"),
	bdef("delete.records.purgatory.purge.interval.requests", TypeInt, "1", Medium, ReadOnly, nil,
		"The purge interval (in number of requests) of the delete records request purgatory"),
	bdef("leader.replication.throttled.rate", TypeLong, maxLong, Medium, ClusterWide, atLeast(0),
		"A long representing the upper bound (bytes/sec) on replication traffic for leaders enumerated in the property leader.replication.throttled.replicas (for each topic)."),
	bdef("follower.replication.throttled.rate", TypeLong, maxLong, Medium, ClusterWide, atLeast(0),
		"A long representing the upper bound (bytes/sec) on replication traffic for followers enumerated in the property follower.replication.throttled.replicas (for each topic)."),
	bdef("replication.quota.window.num", TypeInt, "11", Low, ReadOnly, atLeast(1),
		"The number of samples to retain in memory for replication quotas"),
	bdef("replication.quota.window.size.seconds", TypeInt, "1", Low, ReadOnly, atLeast(1),
		"The time span of each sample for replication quotas"),
	bdef("quota.window.num", TypeInt, "11", Low, ReadOnly, atLeast(1),
		"The number of samples to retain in memory for client quotas"),
	bdef("quota.window.size.seconds", TypeInt, "1", Low, ReadOnly, atLeast(1),
		"The time span of each sample for client quotas"),
	bdef("controller.quota.window.num", TypeInt, "11", Low, ReadOnly, atLeast(1),
		"The number of samples to retain in memory for alter topics and partitions quotas"),
	bdef("controller.quota.window.size.seconds", TypeInt, "1", Low, ReadOnly, atLeast(1),
		"The time span of each sample for alter topics and partitions quotas"),

	// ---- Group coordinator ----
	bdef("group.min.session.timeout.ms", TypeInt, "6000", Medium, ReadOnly, nil,
		"The minimum allowed session timeout for registered consumers. Shorter timeouts result in quicker failure detection at the cost of more frequent consumer heartbeating, which can overwhelm broker resources."),
	bdef("group.max.session.timeout.ms", TypeInt, "1800000", Medium, ReadOnly, nil,
		"The maximum allowed session timeout for registered consumers. Longer timeouts give consumers more time to process messages in between heartbeats at the cost of a longer time to detect failures."),
	bdef("group.initial.rebalance.delay.ms", TypeInt, "3000", Medium, ReadOnly, nil,
		"The amount of time the group coordinator will wait for more consumers to join a new group before performing the first rebalance. A longer delay means potentially fewer rebalances, but increases the time until processing begins."),
	bdef("group.max.size", TypeInt, maxInt, Medium, ReadOnly, atLeast(1),
		"The maximum number of consumers that a single consumer group can accommodate."),
	bdef("group.consumer.session.timeout.ms", TypeInt, "45000", Medium, ReadOnly, atLeast(1),
		"The timeout to detect client failures when using the consumer group protocol."),
	bdef("group.consumer.min.session.timeout.ms", TypeInt, "45000", Medium, ReadOnly, atLeast(1),
		"The minimum allowed session timeout for registered consumers."),
	bdef("group.consumer.max.session.timeout.ms", TypeInt, "60000", Medium, ReadOnly, atLeast(1),
		"The maximum allowed session timeout for registered consumers."),
	bdef("group.consumer.heartbeat.interval.ms", TypeInt, "5000", Medium, ReadOnly, atLeast(1),
		"The heartbeat interval given to the members of a consumer group."),
	bdef("group.consumer.min.heartbeat.interval.ms", TypeInt, "5000", Medium, ReadOnly, atLeast(1),
		"The minimum heartbeat interval for registered consumers."),
	bdef("group.consumer.max.heartbeat.interval.ms", TypeInt, "15000", Medium, ReadOnly, atLeast(1),
		"The maximum heartbeat interval for registered consumers."),
	bdef("group.consumer.max.size", TypeInt, maxInt, Medium, ReadOnly, atLeast(1),
		"The maximum number of consumers that a single consumer group can accommodate. This value will only impact groups under the CONSUMER group protocol. To configure the max group size when using the CLASSIC group protocol use group.max.size instead."),
	bdef("group.consumer.migration.policy", TypeString, "bidirectional", Medium, ReadOnly, oneOfFold("bidirectional", "downgrade", "upgrade", "disabled"),
		"The config that enables converting the non-empty classic group using the consumer embedded protocol to the non-empty consumer group using the consumer group protocol and vice versa; conversions of empty groups in both directions are always enabled regardless of this policy. bidirectional: both upgrade from classic group to consumer group and downgrade from consumer group to classic group are enabled, upgrade: only upgrade from classic group to consumer group is enabled, downgrade: only downgrade from consumer group to classic group is enabled, disabled: neither upgrade nor downgrade is enabled."),
	bdef("offset.metadata.max.bytes", TypeInt, "4096", High, ReadOnly, nil,
		"The maximum size for a metadata entry associated with an offset commit."),
	bdef("offsets.load.buffer.size", TypeInt, "5242880", High, ReadOnly, atLeast(1),
		"Batch size for reading from the offsets segments when loading group metadata into the cache (soft-limit, overridden if records are too large)."),
	bdef("offsets.topic.replication.factor", TypeShort, "3", High, ReadOnly, atLeast(1),
		"The replication factor for the offsets topic (set higher to ensure availability). Internal topic creation will fail until the cluster size meets this replication factor requirement."),
	bdef("offsets.topic.num.partitions", TypeInt, "50", High, ReadOnly, atLeast(1),
		"The number of partitions for the offset commit topic (should not change after deployment)."),
	bdef("offsets.topic.segment.bytes", TypeInt, "104857600", High, ReadOnly, atLeast(1),
		"The offsets topic segment bytes should be kept relatively small in order to facilitate faster log compaction and cache loads."),
	bdef("offsets.topic.compression.codec", TypeInt, "0", High, ReadOnly, nil,
		"Compression codec for the offsets topic - compression may be used to achieve \"atomic\" commits."),
	bdef("offsets.retention.minutes", TypeInt, "10080", High, ReadOnly, atLeast(1),
		"For subscribed consumers, committed offset of a specific partition will be expired and discarded when 1) this retention period has elapsed after the consumer group loses all its consumers (i.e. becomes empty); 2) this retention period has elapsed since the last time an offset is committed for the partition and the group is no longer subscribed to the corresponding topic. For standalone consumers (using manual assignment), offsets will be expired after this retention period has elapsed since the time of last commit."),
	bdef("offsets.retention.check.interval.ms", TypeLong, "600000", High, ReadOnly, atLeast(1),
		"Frequency at which to check for stale offsets"),
	bdef("offsets.commit.timeout.ms", TypeInt, "5000", High, ReadOnly, atLeast(1),
		"Offset commit will be delayed until all replicas for the offsets topic receive the commit or this timeout is reached. This is similar to the producer request timeout."),

	// ---- Transactions ----
	bdef("transactional.id.expiration.ms", TypeInt, weekMs, High, ReadOnly, atLeast(1),
		"The time in ms that the transaction coordinator will wait without receiving any transaction status updates for the current transaction before expiring its transactional id. Transactional IDs will not expire while a the transaction is still ongoing."),
	bdef("transaction.max.timeout.ms", TypeInt, "900000", High, ReadOnly, atLeast(1),
		"The maximum allowed timeout for transactions. If a client's requested transaction time exceed this, then the broker will return an error in InitProducerIdRequest. This prevents a client from too large of a timeout, which can stall consumers reading from topics included in the transaction."),
	bdef("transaction.state.log.load.buffer.size", TypeInt, "5242880", High, ReadOnly, atLeast(1),
		"Batch size for reading from the transaction log segments when loading producer ids and transactions into the cache (soft-limit, overridden if records are too large)."),
	bdef("transaction.state.log.replication.factor", TypeShort, "3", High, ReadOnly, atLeast(1),
		"The replication factor for the transaction topic (set higher to ensure availability). Internal topic creation will fail until the cluster size meets this replication factor requirement."),
	bdef("transaction.state.log.num.partitions", TypeInt, "50", High, ReadOnly, atLeast(1),
		"The number of partitions for the transaction topic (should not change after deployment)."),
	bdef("transaction.state.log.segment.bytes", TypeInt, "104857600", High, ReadOnly, atLeast(1),
		"The transaction topic segment bytes should be kept relatively small in order to facilitate faster log compaction and cache loads"),
	bdef("transaction.state.log.min.isr", TypeInt, "2", High, ReadOnly, atLeast(1),
		"The minimum number of replicas that must acknowledge a write to transaction topic in order to be considered successful."),
	bdef("transaction.abort.timed.out.transaction.cleanup.interval.ms", TypeInt, "10000", Low, ReadOnly, atLeast(1),
		"The interval at which to rollback transactions that have timed out"),
	bdef("transaction.remove.expired.transaction.cleanup.interval.ms", TypeInt, "3600000", Low, ReadOnly, atLeast(1),
		"The interval at which to remove transactions that have expired due to transactional.id.expiration.ms passing"),
	bdef("transaction.partition.verification.enable", TypeBoolean, "true", Low, ClusterWide, nil,
		"Enable verification that checks that the partition has been added to the transaction before writing transactional records to the partition"),
	bdef("producer.id.expiration.ms", TypeInt, dayMs, Low, ClusterWide, atLeast(1),
		"The time in ms that a topic partition leader will wait before expiring producer IDs. Producer IDs will not expire while a transaction associated to them is still ongoing. Note that producer IDs may expire sooner if the last write from the producer ID is deleted due to the topic's retention settings. Setting this value the same or higher than delivery.timeout.ms can help prevent expiration during retries and protect against message duplication, but the default should be reasonable for most use cases."),
	bdef("producer.id.expiration.check.interval.ms", TypeInt, "600000", Low, ReadOnly, atLeast(1),
		"The interval at which to remove producer IDs that have expired due to producer.id.expiration.ms passing."),

	// ---- Share coordinator ----
	bdef("share.coordinator.state.topic.num.partitions", TypeInt, "50", High, ReadOnly, atLeast(1),
		"The number of partitions for the share-group state topic (should not change after deployment)."),
	bdef("share.coordinator.state.topic.replication.factor", TypeShort, "3", High, ReadOnly, atLeast(1),
		"Replication factor for the share-group state topic. Topic creation will fail until the cluster size meets this replication factor requirement."),
	bdef("share.coordinator.state.topic.min.isr", TypeShort, "2", High, ReadOnly, atLeast(1),
		"Overridden min.insync.replicas for the share-group state topic."),
	bdef("share.coordinator.state.topic.segment.bytes", TypeInt, "104857600", High, ReadOnly, atLeast(1),
		"The log segment size for the share-group state topic."),
}, append(securityBrokerDefs, authorizerBrokerDefs...)...)) // security_defs.go, authorizer_defs.go

func indexBroker(defs []BrokerConfigDef) map[string]BrokerConfigDef {
	m := make(map[string]BrokerConfigDef, len(defs))
	for _, d := range defs {
		if _, dup := m[d.Name]; dup {
			panic("config: duplicate broker config " + d.Name)
		}
		m[d.Name] = d
	}
	return m
}

// brokerNames is the sorted list of broker config names.
var brokerNames = func() []string {
	names := make([]string, 0, len(brokerDefs))
	for n := range brokerDefs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}()

// BrokerConfigNames returns the names of every broker config Gregor
// accepts, sorted. The caller owns the slice.
func BrokerConfigNames() []string { return slices.Clone(brokerNames) }

// LookupBrokerConfig returns the definition of the named broker config.
func LookupBrokerConfig(name string) (BrokerConfigDef, bool) {
	return lookupDef(name) // with listener-prefixed names (security.go)
}

// brokerConfigSynonyms is Kafka's DynamicBrokerConfig.brokerConfigSynonyms
// (without listener-prefixed names, which Gregor does not accept): the
// configs that set the same thing as name, highest priority first.
func brokerConfigSynonyms(name string) []string {
	groups := [][]string{
		{"log.roll.ms", "log.roll.hours"},
		{"log.roll.jitter.ms", "log.roll.jitter.hours"},
		{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
	}
	for _, g := range groups {
		if slices.Contains(g, name) {
			return g
		}
	}
	if name == "log.flush.interval.ms" {
		// log.flush.scheduler.interval.ms is used as the default.
		return []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
	}
	return []string{name}
}
