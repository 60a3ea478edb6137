package connect

import (
	"fmt"
	"strings"
	"time"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// Distributed worker property names (Kafka's DistributedConfig).
const (
	GroupIDConfig                      = "group.id"
	ConfigTopicConfig                  = "config.storage.topic"
	ConfigReplicationFactorConfig      = "config.storage.replication.factor"
	OffsetTopicConfig                  = "offset.storage.topic"
	OffsetPartitionsConfig             = "offset.storage.partitions"
	OffsetReplicationFactorConfig      = "offset.storage.replication.factor"
	StatusTopicConfig                  = "status.storage.topic"
	StatusPartitionsConfig             = "status.storage.partitions"
	StatusReplicationFactorConfig      = "status.storage.replication.factor"
	SessionTimeoutConfig               = "session.timeout.ms"
	HeartbeatIntervalConfig            = "heartbeat.interval.ms"
	RebalanceTimeoutConfig             = "rebalance.timeout.ms"
	ScheduledRebalanceMaxDelayConfig   = "scheduled.rebalance.max.delay.ms"
	ConnectProtocolConfig              = "connect.protocol"
	WorkerSyncTimeoutConfig            = "worker.sync.timeout.ms"
	InterWorkerKeyGenerationAlgoConfig = "inter.worker.key.generation.algorithm"
	InterWorkerKeyTTLConfig            = "inter.worker.key.ttl.ms"
	InterWorkerSignatureAlgoConfig     = "inter.worker.signature.algorithm"
)

// The one key and signature algorithm Gregor implements (Kafka's default).
const hmacSHA256 = "HmacSHA256"

// The group protocols a worker can speak (Kafka's
// ConnectProtocolCompatibility). Gregor speaks the incremental
// cooperative ones; "eager" is refused.
const (
	ProtocolCompatible = "compatible"
	ProtocolSessioned  = "sessioned"
)

var distributedConfigDef = sdk.NewConfigDef().
	Define(sdk.ConfigKey{Name: GroupIDConfig, Type: sdk.ConfigString, Default: sdk.NoDefaultValue, Importance: sdk.ImportanceHigh,
		Documentation: "A unique string that identifies the Connect cluster group this worker belongs to."}).
	Define(sdk.ConfigKey{Name: ConfigTopicConfig, Type: sdk.ConfigString, Default: sdk.NoDefaultValue, Importance: sdk.ImportanceHigh,
		Documentation: "The name of the Kafka topic where connector configurations are stored"}).
	Define(sdk.ConfigKey{Name: ConfigReplicationFactorConfig, Type: sdk.ConfigShort, Default: "3", Importance: sdk.ImportanceLow,
		Documentation: "Replication factor used when creating the configuration storage topic. Can be -1 to use the broker's default."}).
	Define(sdk.ConfigKey{Name: OffsetTopicConfig, Type: sdk.ConfigString, Default: sdk.NoDefaultValue, Importance: sdk.ImportanceHigh,
		Documentation: "The name of the Kafka topic where source connector offsets are stored"}).
	Define(sdk.ConfigKey{Name: OffsetPartitionsConfig, Type: sdk.ConfigInt, Default: "25", Importance: sdk.ImportanceLow,
		Documentation: "The number of partitions used when creating the offset storage topic. Can be -1 to use the broker's default."}).
	Define(sdk.ConfigKey{Name: OffsetReplicationFactorConfig, Type: sdk.ConfigShort, Default: "3", Importance: sdk.ImportanceLow,
		Documentation: "Replication factor used when creating the offset storage topic. Can be -1 to use the broker's default."}).
	Define(sdk.ConfigKey{Name: StatusTopicConfig, Type: sdk.ConfigString, Default: sdk.NoDefaultValue, Importance: sdk.ImportanceHigh,
		Documentation: "The name of the Kafka topic where connector and task status are stored"}).
	Define(sdk.ConfigKey{Name: StatusPartitionsConfig, Type: sdk.ConfigInt, Default: "5", Importance: sdk.ImportanceLow,
		Documentation: "The number of partitions used when creating the status storage topic. Can be -1 to use the broker's default."}).
	Define(sdk.ConfigKey{Name: StatusReplicationFactorConfig, Type: sdk.ConfigShort, Default: "3", Importance: sdk.ImportanceLow,
		Documentation: "Replication factor used when creating the status storage topic. Can be -1 to use the broker's default."}).
	Define(sdk.ConfigKey{Name: SessionTimeoutConfig, Type: sdk.ConfigInt, Default: "10000", Importance: sdk.ImportanceHigh,
		Documentation: "The timeout used to detect worker failures."}).
	Define(sdk.ConfigKey{Name: HeartbeatIntervalConfig, Type: sdk.ConfigInt, Default: "3000", Validator: sdk.AtLeast(1), Importance: sdk.ImportanceHigh,
		Documentation: "The expected time between heartbeats to the group coordinator when using Kafka's group management facilities."}).
	Define(sdk.ConfigKey{Name: RebalanceTimeoutConfig, Type: sdk.ConfigInt, Default: "60000", Importance: sdk.ImportanceHigh,
		Documentation: "The maximum allowed time for each worker to join the group once a rebalance has begun."}).
	Define(sdk.ConfigKey{Name: ScheduledRebalanceMaxDelayConfig, Type: sdk.ConfigInt, Default: "300000", Validator: sdk.Between(0, 2147483647), Importance: sdk.ImportanceLow,
		Documentation: "The maximum delay that is scheduled in order to wait for the return of one or more departed workers before rebalancing and reassigning their connectors and tasks to the group."}).
	Define(sdk.ConfigKey{Name: ConnectProtocolConfig, Type: sdk.ConfigString, Default: ProtocolSessioned, Validator: sdk.CaseInsensitiveIn("eager", ProtocolCompatible, ProtocolSessioned), Importance: sdk.ImportanceLow,
		Documentation: "Compatibility mode for Kafka Connect Protocol"}).
	Define(sdk.ConfigKey{Name: WorkerSyncTimeoutConfig, Type: sdk.ConfigInt, Default: "3000", Importance: sdk.ImportanceMedium,
		Documentation: "When the worker is out of sync with other workers and needs to resynchronize configurations, wait up to this amount of time before giving up, leaving the group, and waiting a backoff period before rejoining."}).
	Define(sdk.ConfigKey{Name: InterWorkerKeyGenerationAlgoConfig, Type: sdk.ConfigString, Default: hmacSHA256, Validator: sdk.In(hmacSHA256), Importance: sdk.ImportanceLow,
		Documentation: "The algorithm to use for generating internal request keys. Gregor supports HmacSHA256 only."}).
	Define(sdk.ConfigKey{Name: InterWorkerSignatureAlgoConfig, Type: sdk.ConfigString, Default: hmacSHA256, Validator: sdk.In(hmacSHA256), Importance: sdk.ImportanceLow,
		Documentation: "The algorithm used to sign internal requests. Gregor supports HmacSHA256 only."}).
	Define(sdk.ConfigKey{Name: InterWorkerKeyTTLConfig, Type: sdk.ConfigInt, Default: "3600000", Validator: sdk.Between(0, 2147483647), Importance: sdk.ImportanceLow,
		Documentation: "The TTL of generated session keys used for internal request validation (in milliseconds)"})

// DistributedConfig is a distributed worker's configuration: the
// properties every worker has (Config) and Kafka's DistributedConfig
// ones. Durations come from the millisecond properties.
type DistributedConfig struct {
	*Config
	// GroupID is the worker group's id (group.id).
	GroupID string
	// ConfigTopic, OffsetTopic and StatusTopic are the internal topics.
	ConfigTopic, OffsetTopic, StatusTopic string
	// OffsetPartitions and StatusPartitions are the partition counts used
	// when creating the topics (-1: the broker's default). The config
	// topic always has one partition.
	OffsetPartitions, StatusPartitions int32
	// *ReplicationFactor are used when creating the topics (-1: the
	// broker's default).
	ConfigReplicationFactor, OffsetReplicationFactor, StatusReplicationFactor int16
	// SessionTimeout, HeartbeatInterval and RebalanceTimeout are the group
	// membership timings.
	SessionTimeout, HeartbeatInterval, RebalanceTimeout time.Duration
	// ScheduledRebalanceMaxDelay is how long the leader waits for a
	// departed worker to come back before giving its connectors and tasks
	// to the others (KIP-415).
	ScheduledRebalanceMaxDelay time.Duration
	// Protocol is connect.protocol: "sessioned" or "compatible".
	Protocol string
	// WorkerSyncTimeout bounds the wait for the config topic to be read
	// to the end.
	WorkerSyncTimeout time.Duration
	// KeyTTL is how long the leader uses a session key before writing a
	// new one (inter.worker.key.ttl.ms, sessioned protocol).
	KeyTTL time.Duration
}

// ParseDistributedConfig parses a distributed worker's properties (Kafka's
// DistributedConfig). Errors wrap ErrWorkerConfig.
func ParseDistributedConfig(props map[string]string) (*DistributedConfig, error) {
	c, err := parseWorkerConfig(props)
	if err != nil {
		return nil, err
	}
	pc, err := distributedConfigDef.Parse(props)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWorkerConfig, err)
	}
	dc := &DistributedConfig{
		Config:                     c,
		GroupID:                    pc.GetString(GroupIDConfig),
		ConfigTopic:                pc.GetString(ConfigTopicConfig),
		OffsetTopic:                pc.GetString(OffsetTopicConfig),
		StatusTopic:                pc.GetString(StatusTopicConfig),
		OffsetPartitions:           pc.GetInt(OffsetPartitionsConfig),
		StatusPartitions:           pc.GetInt(StatusPartitionsConfig),
		ConfigReplicationFactor:    pc.GetShort(ConfigReplicationFactorConfig),
		OffsetReplicationFactor:    pc.GetShort(OffsetReplicationFactorConfig),
		StatusReplicationFactor:    pc.GetShort(StatusReplicationFactorConfig),
		SessionTimeout:             time.Duration(pc.GetInt(SessionTimeoutConfig)) * time.Millisecond,
		HeartbeatInterval:          time.Duration(pc.GetInt(HeartbeatIntervalConfig)) * time.Millisecond,
		RebalanceTimeout:           time.Duration(pc.GetInt(RebalanceTimeoutConfig)) * time.Millisecond,
		ScheduledRebalanceMaxDelay: time.Duration(pc.GetInt(ScheduledRebalanceMaxDelayConfig)) * time.Millisecond,
		Protocol:                   strings.ToLower(pc.GetString(ConnectProtocolConfig)),
		WorkerSyncTimeout:          time.Duration(pc.GetInt(WorkerSyncTimeoutConfig)) * time.Millisecond,
		KeyTTL:                     time.Duration(pc.GetInt(InterWorkerKeyTTLConfig)) * time.Millisecond,
	}
	for _, k := range []struct{ name, value string }{
		{GroupIDConfig, dc.GroupID}, {ConfigTopicConfig, dc.ConfigTopic},
		{OffsetTopicConfig, dc.OffsetTopic}, {StatusTopicConfig, dc.StatusTopic},
	} {
		if k.value == "" {
			return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(k.name, k.value, "String must be non-empty"))
		}
	}
	if dc.ConfigTopic == dc.OffsetTopic || dc.ConfigTopic == dc.StatusTopic || dc.OffsetTopic == dc.StatusTopic {
		return nil, fmt.Errorf("%w: %s, %s and %s must be different topics", ErrWorkerConfig, ConfigTopicConfig, OffsetTopicConfig, StatusTopicConfig)
	}
	for _, p := range []struct {
		name string
		n    int32
	}{{OffsetPartitionsConfig, dc.OffsetPartitions}, {StatusPartitionsConfig, dc.StatusPartitions}} {
		if p.n == 0 || p.n < -1 {
			return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(p.name, p.n, "Number of partitions must be positive, or -1 to use the broker's default"))
		}
	}
	for _, r := range []struct {
		name string
		n    int16
	}{{ConfigReplicationFactorConfig, dc.ConfigReplicationFactor}, {OffsetReplicationFactorConfig, dc.OffsetReplicationFactor}, {StatusReplicationFactorConfig, dc.StatusReplicationFactor}} {
		if r.n == 0 || r.n < -1 {
			return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(r.name, r.n, "Replication factor must be positive, or -1 to use the broker's default"))
		}
	}
	if dc.Protocol == "eager" {
		return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(ConnectProtocolConfig, dc.Protocol, "Gregor Connect supports only the incremental cooperative protocols (compatible, sessioned)"))
	}
	if dc.HeartbeatInterval >= dc.SessionTimeout {
		return nil, fmt.Errorf("%w: %s must be lower than %s", ErrWorkerConfig, HeartbeatIntervalConfig, SessionTimeoutConfig)
	}
	return dc, nil
}
