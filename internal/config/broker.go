package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Broker is a node's parsed configuration: every broker config Gregor
// knows, typed, with defaults filled in and cross-config rules checked.
// A Broker is immutable and safe for concurrent use; a dynamic change
// makes a new one (WithDynamic) that callers swap in through an
// atomic.Pointer. Slices and maps in the fields are shared: treat them
// as read-only.
//
// Durations are int64 (or int32, matching Kafka's type) milliseconds,
// named ...Ms, with Kafka's -1 meaning unlimited where Kafka allows it.
type Broker struct {
	// ---- Node and KRaft ----

	// NodeID is node.id (synonym broker.id).
	NodeID int32
	// ProcessRoles is process.roles: "broker", "controller" or both.
	ProcessRoles []string
	// BrokerRack is broker.rack, "" if unset.
	BrokerRack string
	// ControllerListenerNames is controller.listener.names, upper-cased.
	ControllerListenerNames []string
	// ControllerQuorumVoters is controller.quorum.voters (static quorum).
	ControllerQuorumVoters []QuorumVoter
	// ControllerQuorumBootstrapServers is controller.quorum.bootstrap.servers
	// as host:port strings (dynamic quorum, KIP-853).
	ControllerQuorumBootstrapServers []string

	ControllerQuorumElectionTimeoutMs    int32
	ControllerQuorumFetchTimeoutMs       int32
	ControllerQuorumElectionBackoffMaxMs int32
	ControllerQuorumAppendLingerMs       int32
	ControllerQuorumRequestTimeoutMs     int32
	ControllerQuorumRetryBackoffMs       int32

	// MetadataLogDir is where the metadata log lives: metadata.log.dir,
	// else the first of LogDirs.
	MetadataLogDir string
	// MetadataLogSegmentBytes is metadata.log.segment.bytes.
	MetadataLogSegmentBytes int32
	// MetadataLogSegmentMs is metadata.log.segment.ms.
	MetadataLogSegmentMs int64
	// MetadataMaxRetentionBytes is metadata.max.retention.bytes.
	MetadataMaxRetentionBytes int64
	// MetadataMaxRetentionMs is metadata.max.retention.ms.
	MetadataMaxRetentionMs int64
	// MetadataMaxIdleIntervalMs is metadata.max.idle.interval.ms: how
	// often the active controller appends a no-op record; 0 disables.
	MetadataMaxIdleIntervalMs int32
	// MetadataLogMaxRecordBytesBetweenSnapshots is
	// metadata.log.max.record.bytes.between.snapshots.
	MetadataLogMaxRecordBytesBetweenSnapshots int64
	// MetadataLogMaxSnapshotIntervalMs is metadata.log.max.snapshot.interval.ms.
	MetadataLogMaxSnapshotIntervalMs int64

	BrokerHeartbeatIntervalMs          int32
	BrokerSessionTimeoutMs             int32
	InitialBrokerRegistrationTimeoutMs int32

	// ---- Network ----

	// Listeners are the endpoints to bind (listeners), broker and
	// controller ones, in config order.
	Listeners []Listener
	// AdvertisedListeners are the broker endpoints published in
	// Metadata: advertised.listeners, else listeners, minus controller
	// listeners; wildcard hosts replaced by the machine's hostname.
	AdvertisedListeners []Listener
	// AdvertisedControllerListeners are the controller endpoints, in
	// controller.listener.names order (KIP-853).
	AdvertisedControllerListeners []Listener
	// ListenerSecurityProtocolMap is the effective
	// listener.security.protocol.map, listener name to protocol.
	ListenerSecurityProtocolMap map[string]string
	// InterBrokerListenerName is inter.broker.listener.name, else the
	// name of security.inter.broker.protocol.
	InterBrokerListenerName string

	SocketSendBufferBytes    int32 // -1: OS default
	SocketReceiveBufferBytes int32 // -1: OS default
	SocketRequestMaxBytes    int32
	SocketListenBacklogSize  int32
	MaxConnectionsPerIP      int32
	// MaxConnectionsPerIPOverrides is max.connections.per.ip.overrides,
	// host or IP to limit.
	MaxConnectionsPerIPOverrides map[string]int32
	MaxConnections               int32
	MaxConnectionCreationRate    int32 // connections per second
	ConnectionsMaxIdleMs         int64
	QueuedMaxRequests            int32
	QueuedMaxRequestBytes        int64 // -1: unlimited
	NumNetworkThreads            int32
	NumIOThreads                 int32
	BackgroundThreads            int32
	RequestTimeoutMs             int32

	// ---- Requests and topics ----

	MessageMaxBytes                      int32
	FetchMaxBytes                        int32
	MaxIncrementalFetchSessionCacheSlots int32
	NumPartitions                        int32
	DefaultReplicationFactor             int32
	AutoCreateTopicsEnable               bool
	DeleteTopicEnable                    bool
	CompressionType                      string
	CompressionGzipLevel                 int32
	CompressionLz4Level                  int32
	CompressionZstdLevel                 int32
	MinInsyncReplicas                    int32
	UncleanLeaderElectionEnable          bool
	AutoLeaderRebalanceEnable            bool
	LeaderImbalanceCheckIntervalSeconds  int64
	LeaderImbalancePerBrokerPercentage   int32
	ControlledShutdownEnable             bool

	// ---- Log ----

	// LogDirs is log.dirs, else log.dir.
	LogDirs         []string
	LogSegmentBytes int32
	// LogRollMs is log.roll.ms, else log.roll.hours in ms.
	LogRollMs int64
	// LogRollJitterMs is log.roll.jitter.ms, else log.roll.jitter.hours in ms.
	LogRollJitterMs int64
	// LogRetentionMs is log.retention.ms, else log.retention.minutes,
	// else log.retention.hours, in ms; -1 (any negative) is unlimited.
	LogRetentionMs              int64
	LogRetentionBytes           int64 // -1: unlimited
	LogRetentionCheckIntervalMs int64
	LogCleanupPolicy            []string
	LogIndexSizeMaxBytes        int32
	LogIndexIntervalBytes       int32
	LogFlushIntervalMessages    int64
	// LogFlushIntervalMs is log.flush.interval.ms, else
	// log.flush.scheduler.interval.ms.
	LogFlushIntervalMs                      int64
	LogFlushSchedulerIntervalMs             int64
	LogFlushOffsetCheckpointIntervalMs      int32
	LogFlushStartOffsetCheckpointIntervalMs int32
	// LogSegmentDeleteDelayMs is log.segment.delete.delay.ms (topic
	// file.delete.delay.ms).
	LogSegmentDeleteDelayMs        int64
	LogPreallocate                 bool
	NumRecoveryThreadsPerDataDir   int32
	LogMessageTimestampType        string
	LogMessageTimestampBeforeMaxMs int64
	LogMessageTimestampAfterMaxMs  int64
	LogDirFailureTimeoutMs         int64
	LogLocalRetentionMs            int64 // -2: use LogRetentionMs
	LogLocalRetentionBytes         int64 // -2: use LogRetentionBytes

	// ---- Log cleaner ----

	LogCleanerEnable                 bool
	LogCleanerThreads                int32
	LogCleanerIOMaxBytesPerSecond    float64
	LogCleanerDedupeBufferSize       int64
	LogCleanerIOBufferSize           int32
	LogCleanerIOBufferLoadFactor     float64
	LogCleanerBackoffMs              int64
	LogCleanerMinCleanableRatio      float64
	LogCleanerDeleteRetentionMs      int64
	LogCleanerMinCompactionLagMs     int64
	LogCleanerMaxCompactionLagMs     int64
	RemoteLogStorageSystemEnable     bool
	LeaderReplicationThrottledRate   int64 // bytes/s
	FollowerReplicationThrottledRate int64 // bytes/s
	// ReplicationQuotaWindowNum and ReplicationQuotaWindowSizeSeconds
	// are the samples kept by the replication quotas and the span of
	// each (KIP-73).
	ReplicationQuotaWindowNum         int32
	ReplicationQuotaWindowSizeSeconds int32
	// QuotaWindowNum and QuotaWindowSizeSeconds are the samples kept
	// by the client quotas and connection rates and the span of each
	// (quota.window.num, quota.window.size.seconds).
	QuotaWindowNum         int32
	QuotaWindowSizeSeconds int32
	// ControllerQuotaWindowNum and ControllerQuotaWindowSizeSeconds
	// size the controller_mutation_rate token bucket
	// (controller.quota.window.*).
	ControllerQuotaWindowNum         int32
	ControllerQuotaWindowSizeSeconds int32

	// ---- Replication ----

	ReplicaLagTimeMaxMs                      int64
	ReplicaSocketTimeoutMs                   int32
	ReplicaSocketReceiveBufferBytes          int32
	ReplicaFetchMaxBytes                     int32
	ReplicaFetchWaitMaxMs                    int32
	ReplicaFetchMinBytes                     int32
	ReplicaFetchResponseMaxBytes             int32
	ReplicaFetchBackoffMs                    int32
	NumReplicaFetchers                       int32
	ReplicaHighWatermarkCheckpointIntervalMs int64
	// ReplicaSelectorClass is replica.selector.class: "" (consumers
	// fetch from the leader) or RackAwareReplicaSelector (KIP-392).
	ReplicaSelectorClass string

	// ---- Group coordinator ----

	GroupMinSessionTimeoutMs            int32
	GroupMaxSessionTimeoutMs            int32
	GroupInitialRebalanceDelayMs        int32
	GroupMaxSize                        int32
	GroupConsumerSessionTimeoutMs       int32
	GroupConsumerMinSessionTimeoutMs    int32
	GroupConsumerMaxSessionTimeoutMs    int32
	GroupConsumerHeartbeatIntervalMs    int32
	GroupConsumerMinHeartbeatIntervalMs int32
	GroupConsumerMaxHeartbeatIntervalMs int32
	GroupConsumerMaxSize                int32
	GroupConsumerMigrationPolicy        string
	OffsetMetadataMaxBytes              int32
	OffsetsLoadBufferSize               int32
	OffsetsTopicReplicationFactor       int16
	OffsetsTopicNumPartitions           int32
	OffsetsTopicSegmentBytes            int32
	OffsetsTopicCompressionCodec        int32
	OffsetsRetentionMinutes             int32
	OffsetsRetentionCheckIntervalMs     int64
	OffsetsCommitTimeoutMs              int32

	// ---- Transactions ----

	TransactionalIDExpirationMs                          int32
	TransactionMaxTimeoutMs                              int32
	TransactionStateLogLoadBufferSize                    int32
	TransactionStateLogReplicationFactor                 int16
	TransactionStateLogNumPartitions                     int32
	TransactionStateLogSegmentBytes                      int32
	TransactionStateLogMinISR                            int32
	TransactionAbortTimedOutTransactionCleanupIntervalMs int32
	TransactionRemoveExpiredTransactionCleanupIntervalMs int32
	TransactionPartitionVerificationEnable               bool
	ProducerIDExpirationMs                               int32
	ProducerIDExpirationCheckIntervalMs                  int32

	// ---- Delegation tokens (KIP-48) ----

	// DelegationTokenSecretKey is delegation.token.secret.key, else the
	// deprecated delegation.token.master.key; "" disables tokens.
	DelegationTokenSecretKey             string
	DelegationTokenMaxLifetimeMs         int64
	DelegationTokenExpiryTimeMs          int64
	DelegationTokenExpiryCheckIntervalMs int64

	// ---- Share coordinator ----

	ShareCoordinatorStateTopicNumPartitions     int32
	ShareCoordinatorStateTopicReplicationFactor int16
	ShareCoordinatorStateTopicMinISR            int16
	ShareCoordinatorStateTopicSegmentBytes      int32

	values     values            // every broker config's effective value; nil = null
	static     map[string]string // explicitly set static properties
	dynBroker  map[string]string // per-broker dynamic configs
	dynDefault map[string]string // cluster-default dynamic configs
}

// Load reads the .properties file at path, applies overrides on top (as
// kafka-server-start.sh's --override k=v), and parses the result with
// NewBroker.
func Load(path string, overrides map[string]string) (*Broker, error) {
	props, err := ReadPropertiesFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	maps.Copy(props, overrides)
	b, err := NewBroker(props)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return b, nil
}

// NewBroker parses the explicitly set broker properties props, fills in
// defaults and checks the rules between configs. It fails on any
// property Gregor does not know (naming the closest known one) and on
// any invalid value; the error joins one *ConfigError per problem, in
// name order. props is not retained.
func NewBroker(props map[string]string) (*Broker, error) {
	b, err := build(props)
	if err != nil {
		return nil, err
	}
	b.static = maps.Clone(props)
	if b.static == nil {
		b.static = map[string]string{}
	}
	return b, nil
}

// Raw returns a copy of the explicitly set static properties (file plus
// overrides), as given.
func (b *Broker) Raw() map[string]string { return maps.Clone(b.static) }

// Dynamic returns copies of the dynamic configs b was built with: this
// broker's own, and the cluster defaults.
func (b *Broker) Dynamic() (perBroker, clusterDefault map[string]string) {
	return maps.Clone(b.dynBroker), maps.Clone(b.dynDefault)
}

// WithDynamic returns a new Broker whose values are b's static
// configuration overlaid with the cluster-default dynamic configs and
// then this broker's per-broker dynamic configs (KIP-226 precedence).
// Each dynamic config must be one that can be updated at its level
// (ValidateBrokerDynamic, ValidateBrokerDynamicDefault). The maps are
// copied; they replace, not add to, b's dynamic configs.
func (b *Broker) WithDynamic(perBroker, clusterDefault map[string]string) (*Broker, error) {
	var errs []error
	for _, n := range sortedKeys(clusterDefault) {
		if err := ValidateBrokerDynamicDefault(n, clusterDefault[n]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range sortedKeys(perBroker) {
		if err := ValidateBrokerDynamic(n, perBroker[n]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	merged := maps.Clone(b.static)
	maps.Copy(merged, clusterDefault)
	maps.Copy(merged, perBroker)
	nb, err := build(merged)
	if err != nil {
		return nil, err
	}
	nb.static = b.static
	nb.dynBroker = maps.Clone(perBroker)
	nb.dynDefault = maps.Clone(clusterDefault)
	return nb, nil
}

// HasRole reports whether process.roles contains role ("broker" or
// "controller").
func (b *Broker) HasRole(role string) bool { return slices.Contains(b.ProcessRoles, role) }

// SingleNode reports whether this node is a whole cluster by itself: it
// has both roles and either no controller quorum is configured (a Gregor
// extension; Kafka always needs one) or the only quorum member named by
// controller.quorum.bootstrap.servers is this node's own controller
// listener, as in Kafka's standalone quickstart config, and its metadata
// log dir was not formatted for a dynamic quorum (DynamicQuorumFormatted).
// Its controller then runs in-process.
//
// SingleNode looks at the disk: `kafka-storage format --standalone` of
// the quickstart config makes the node a one-voter dynamic quorum
// (KIP-853) that add-controller can grow, while the same config never
// formatted starts as a single node.
func (b *Broker) SingleNode() bool {
	if !b.HasRole("broker") || !b.HasRole("controller") || len(b.ControllerQuorumVoters) > 0 {
		return false
	}
	for _, addr := range b.ControllerQuorumBootstrapServers {
		if !b.isOwnControllerAddr(addr) {
			return false
		}
	}
	return !b.DynamicQuorumFormatted()
}

// Where kafka-storage format puts a dynamic quorum's initial log: the WAL
// of internal/raft (raft.Bootstrap) in the metadata log's directory.
// internal/node's tests check these names against internal/raft's.
const (
	MetadataLogDirName = "__cluster_metadata-0"
	RaftWALName        = "raft.wal"
)

// DynamicQuorumFormatted reports whether the metadata log dir holds a
// dynamic quorum's log (kafka-storage format --standalone,
// --initial-controllers or --no-initial-controllers on a controller, or
// a log such a node has written since).
func (b *Broker) DynamicQuorumFormatted() bool {
	if b.MetadataLogDir == "" || len(b.ControllerQuorumBootstrapServers) == 0 {
		return false
	}
	_, err := os.Stat(filepath.Join(b.MetadataLogDir, MetadataLogDirName, RaftWALName))
	return err == nil
}

// isOwnControllerAddr reports whether host:port names one of this node's
// controller listeners on this machine.
func (b *Broker) isOwnControllerAddr(addr string) bool {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return false
	}
	local := host == "localhost" || host == "127.0.0.1" || host == "::1" || isWildcardHost(host)
	for _, l := range append(b.ControllerListeners(), b.AdvertisedControllerListeners...) {
		if l.Port == port && (local || l.Host == host) {
			return true
		}
	}
	return false
}

// Listener returns the bound listener with the given name.
func (b *Broker) Listener(name string) (Listener, bool) {
	name = strings.ToUpper(name)
	for _, l := range b.Listeners {
		if l.Name == name {
			return l, true
		}
	}
	return Listener{}, false
}

// ControllerListeners returns the bound listeners named in
// controller.listener.names.
func (b *Broker) ControllerListeners() []Listener {
	var out []Listener
	for _, l := range b.Listeners {
		if slices.Contains(b.ControllerListenerNames, l.Name) {
			out = append(out, l)
		}
	}
	return out
}

// BrokerListeners returns the bound listeners that serve clients and
// other brokers (every listener but the controller ones).
func (b *Broker) BrokerListeners() []Listener {
	var out []Listener
	for _, l := range b.Listeners {
		if !slices.Contains(b.ControllerListenerNames, l.Name) {
			out = append(out, l)
		}
	}
	return out
}

// RackAwareReplicaSelector is the replica.selector.class that sends
// consumers to a follower in their rack (Kafka's class name, KIP-392).
const RackAwareReplicaSelector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"

// values is the typed view of a map of parsed config values.
type values map[string]any

func (v values) get(n string) any {
	x, ok := v[n]
	if !ok {
		panic("config: no broker config " + n)
	}
	return x
}
func (v values) bool(n string) bool   { return v.get(n).(bool) }
func (v values) i16(n string) int16   { return v.get(n).(int16) }
func (v values) i32(n string) int32   { return v.get(n).(int32) }
func (v values) i64(n string) int64   { return v.get(n).(int64) }
func (v values) f64(n string) float64 { return v.get(n).(float64) }
func (v values) str(n string) string {
	if x := v.get(n); x != nil {
		return x.(string)
	}
	return ""
}
func (v values) list(n string) []string {
	if x := v.get(n); x != nil {
		return x.([]string)
	}
	return nil
}

// parseBrokerProps parses every broker config: explicit values from
// props, defaults for the rest.
func parseBrokerProps(props map[string]string) (values, error) {
	var errs []error
	vals := make(values, len(brokerDefs))
	for _, n := range sortedKeys(props) {
		d, ok := lookupDef(n) // listener-prefixed names too (security.go)
		if !ok {
			errs = append(errs, unknownConfig("broker", n, brokerNames))
			continue
		}
		p, err := d.Parse(props[n])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vals[n] = p
	}
	for n, d := range brokerDefs {
		if _, set := props[n]; !set {
			vals[n] = d.parsedDefault()
		}
	}
	return vals, errors.Join(errs...)
}

// build parses props (every explicitly set config, static and dynamic)
// into a Broker without static/dynamic bookkeeping.
func build(props map[string]string) (*Broker, error) {
	v, err := parseBrokerProps(props)
	if err != nil {
		return nil, err
	}
	explicit := func(n string) bool { _, ok := props[n]; return ok }
	b := &Broker{values: v}
	b.fill(v)
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(b.resolveNodeID(v, explicit))
	add(b.resolveQuorum(v, explicit))
	if len(errs) == 0 { // the listener rules depend on roles and quorum
		add(b.resolveListeners(v, explicit))
	}
	add(b.resolveLogDirs(v))
	if len(errs) == 0 {
		add(b.resolveSecurity()) // security.go
	}
	errs = append(errs, b.checkRules(v)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return b, nil
}

// fill copies the plain values into the typed fields.
func (b *Broker) fill(v values) {
	b.ProcessRoles = v.list("process.roles")
	b.BrokerRack = v.str("broker.rack")
	b.ControllerQuorumElectionTimeoutMs = v.i32("controller.quorum.election.timeout.ms")
	b.ControllerQuorumFetchTimeoutMs = v.i32("controller.quorum.fetch.timeout.ms")
	b.ControllerQuorumElectionBackoffMaxMs = v.i32("controller.quorum.election.backoff.max.ms")
	b.ControllerQuorumAppendLingerMs = v.i32("controller.quorum.append.linger.ms")
	b.ControllerQuorumRequestTimeoutMs = v.i32("controller.quorum.request.timeout.ms")
	b.ControllerQuorumRetryBackoffMs = v.i32("controller.quorum.retry.backoff.ms")
	b.MetadataLogSegmentBytes = v.i32("metadata.log.segment.bytes")
	b.MetadataLogSegmentMs = v.i64("metadata.log.segment.ms")
	b.MetadataMaxRetentionBytes = v.i64("metadata.max.retention.bytes")
	b.MetadataMaxRetentionMs = v.i64("metadata.max.retention.ms")
	b.MetadataMaxIdleIntervalMs = v.i32("metadata.max.idle.interval.ms")
	b.MetadataLogMaxRecordBytesBetweenSnapshots = v.i64("metadata.log.max.record.bytes.between.snapshots")
	b.MetadataLogMaxSnapshotIntervalMs = v.i64("metadata.log.max.snapshot.interval.ms")
	b.BrokerHeartbeatIntervalMs = v.i32("broker.heartbeat.interval.ms")
	b.BrokerSessionTimeoutMs = v.i32("broker.session.timeout.ms")
	b.InitialBrokerRegistrationTimeoutMs = v.i32("initial.broker.registration.timeout.ms")

	b.SocketSendBufferBytes = v.i32("socket.send.buffer.bytes")
	b.SocketReceiveBufferBytes = v.i32("socket.receive.buffer.bytes")
	b.SocketRequestMaxBytes = v.i32("socket.request.max.bytes")
	b.SocketListenBacklogSize = v.i32("socket.listen.backlog.size")
	b.MaxConnectionsPerIP = v.i32("max.connections.per.ip")
	b.MaxConnections = v.i32("max.connections")
	b.MaxConnectionCreationRate = v.i32("max.connection.creation.rate")
	b.ConnectionsMaxIdleMs = v.i64("connections.max.idle.ms")
	b.QueuedMaxRequests = v.i32("queued.max.requests")
	b.QueuedMaxRequestBytes = v.i64("queued.max.request.bytes")
	b.NumNetworkThreads = v.i32("num.network.threads")
	b.NumIOThreads = v.i32("num.io.threads")
	b.BackgroundThreads = v.i32("background.threads")
	b.RequestTimeoutMs = v.i32("request.timeout.ms")

	b.MessageMaxBytes = v.i32("message.max.bytes")
	b.FetchMaxBytes = v.i32("fetch.max.bytes")
	b.MaxIncrementalFetchSessionCacheSlots = v.i32("max.incremental.fetch.session.cache.slots")
	b.NumPartitions = v.i32("num.partitions")
	b.DefaultReplicationFactor = v.i32("default.replication.factor")
	b.AutoCreateTopicsEnable = v.bool("auto.create.topics.enable")
	b.DeleteTopicEnable = v.bool("delete.topic.enable")
	b.CompressionType = v.str("compression.type")
	b.CompressionGzipLevel = v.i32("compression.gzip.level")
	b.CompressionLz4Level = v.i32("compression.lz4.level")
	b.CompressionZstdLevel = v.i32("compression.zstd.level")
	b.MinInsyncReplicas = v.i32("min.insync.replicas")
	b.UncleanLeaderElectionEnable = v.bool("unclean.leader.election.enable")
	b.AutoLeaderRebalanceEnable = v.bool("auto.leader.rebalance.enable")
	b.LeaderImbalanceCheckIntervalSeconds = v.i64("leader.imbalance.check.interval.seconds")
	b.LeaderImbalancePerBrokerPercentage = v.i32("leader.imbalance.per.broker.percentage")
	b.ControlledShutdownEnable = v.bool("controlled.shutdown.enable")

	b.LogSegmentBytes = v.i32("log.segment.bytes")
	b.LogRollMs = firstMs(v, "log.roll.ms", "log.roll.hours", hourMs)
	b.LogRollJitterMs = firstMs(v, "log.roll.jitter.ms", "log.roll.jitter.hours", hourMs)
	b.LogRetentionMs = retentionMs(v)
	b.LogRetentionBytes = v.i64("log.retention.bytes")
	b.LogRetentionCheckIntervalMs = v.i64("log.retention.check.interval.ms")
	b.LogCleanupPolicy = v.list("log.cleanup.policy")
	b.LogIndexSizeMaxBytes = v.i32("log.index.size.max.bytes")
	b.LogIndexIntervalBytes = v.i32("log.index.interval.bytes")
	b.LogFlushIntervalMessages = v.i64("log.flush.interval.messages")
	b.LogFlushSchedulerIntervalMs = v.i64("log.flush.scheduler.interval.ms")
	b.LogFlushIntervalMs = b.LogFlushSchedulerIntervalMs
	if x := v.get("log.flush.interval.ms"); x != nil {
		b.LogFlushIntervalMs = x.(int64)
	}
	b.LogFlushOffsetCheckpointIntervalMs = v.i32("log.flush.offset.checkpoint.interval.ms")
	b.LogFlushStartOffsetCheckpointIntervalMs = v.i32("log.flush.start.offset.checkpoint.interval.ms")
	b.LogSegmentDeleteDelayMs = v.i64("log.segment.delete.delay.ms")
	b.LogPreallocate = v.bool("log.preallocate")
	b.NumRecoveryThreadsPerDataDir = v.i32("num.recovery.threads.per.data.dir")
	b.LogMessageTimestampType = v.str("log.message.timestamp.type")
	b.LogMessageTimestampBeforeMaxMs = v.i64("log.message.timestamp.before.max.ms")
	b.LogMessageTimestampAfterMaxMs = v.i64("log.message.timestamp.after.max.ms")
	b.LogDirFailureTimeoutMs = v.i64("log.dir.failure.timeout.ms")
	b.LogLocalRetentionMs = v.i64("log.local.retention.ms")
	b.LogLocalRetentionBytes = v.i64("log.local.retention.bytes")

	b.LogCleanerEnable = v.bool("log.cleaner.enable")
	b.LogCleanerThreads = v.i32("log.cleaner.threads")
	b.LogCleanerIOMaxBytesPerSecond = v.f64("log.cleaner.io.max.bytes.per.second")
	b.LogCleanerDedupeBufferSize = v.i64("log.cleaner.dedupe.buffer.size")
	b.LogCleanerIOBufferSize = v.i32("log.cleaner.io.buffer.size")
	b.LogCleanerIOBufferLoadFactor = v.f64("log.cleaner.io.buffer.load.factor")
	b.LogCleanerBackoffMs = v.i64("log.cleaner.backoff.ms")
	b.LogCleanerMinCleanableRatio = v.f64("log.cleaner.min.cleanable.ratio")
	b.LogCleanerDeleteRetentionMs = v.i64("log.cleaner.delete.retention.ms")
	b.LogCleanerMinCompactionLagMs = v.i64("log.cleaner.min.compaction.lag.ms")
	b.LogCleanerMaxCompactionLagMs = v.i64("log.cleaner.max.compaction.lag.ms")
	b.RemoteLogStorageSystemEnable = v.bool("remote.log.storage.system.enable")
	b.LeaderReplicationThrottledRate = v.i64("leader.replication.throttled.rate")
	b.FollowerReplicationThrottledRate = v.i64("follower.replication.throttled.rate")
	b.ReplicationQuotaWindowNum = v.i32("replication.quota.window.num")
	b.ReplicationQuotaWindowSizeSeconds = v.i32("replication.quota.window.size.seconds")
	b.QuotaWindowNum = v.i32("quota.window.num")
	b.QuotaWindowSizeSeconds = v.i32("quota.window.size.seconds")
	b.ControllerQuotaWindowNum = v.i32("controller.quota.window.num")
	b.ControllerQuotaWindowSizeSeconds = v.i32("controller.quota.window.size.seconds")

	b.ReplicaLagTimeMaxMs = v.i64("replica.lag.time.max.ms")
	b.ReplicaSocketTimeoutMs = v.i32("replica.socket.timeout.ms")
	b.ReplicaSocketReceiveBufferBytes = v.i32("replica.socket.receive.buffer.bytes")
	b.ReplicaFetchMaxBytes = v.i32("replica.fetch.max.bytes")
	b.ReplicaFetchWaitMaxMs = v.i32("replica.fetch.wait.max.ms")
	b.ReplicaFetchMinBytes = v.i32("replica.fetch.min.bytes")
	b.ReplicaFetchResponseMaxBytes = v.i32("replica.fetch.response.max.bytes")
	b.ReplicaFetchBackoffMs = v.i32("replica.fetch.backoff.ms")
	b.NumReplicaFetchers = v.i32("num.replica.fetchers")
	b.ReplicaHighWatermarkCheckpointIntervalMs = v.i64("replica.high.watermark.checkpoint.interval.ms")
	b.ReplicaSelectorClass = v.str("replica.selector.class")

	b.GroupMinSessionTimeoutMs = v.i32("group.min.session.timeout.ms")
	b.GroupMaxSessionTimeoutMs = v.i32("group.max.session.timeout.ms")
	b.GroupInitialRebalanceDelayMs = v.i32("group.initial.rebalance.delay.ms")
	b.GroupMaxSize = v.i32("group.max.size")
	b.GroupConsumerSessionTimeoutMs = v.i32("group.consumer.session.timeout.ms")
	b.GroupConsumerMinSessionTimeoutMs = v.i32("group.consumer.min.session.timeout.ms")
	b.GroupConsumerMaxSessionTimeoutMs = v.i32("group.consumer.max.session.timeout.ms")
	b.GroupConsumerHeartbeatIntervalMs = v.i32("group.consumer.heartbeat.interval.ms")
	b.GroupConsumerMinHeartbeatIntervalMs = v.i32("group.consumer.min.heartbeat.interval.ms")
	b.GroupConsumerMaxHeartbeatIntervalMs = v.i32("group.consumer.max.heartbeat.interval.ms")
	b.GroupConsumerMaxSize = v.i32("group.consumer.max.size")
	b.GroupConsumerMigrationPolicy = v.str("group.consumer.migration.policy")
	b.OffsetMetadataMaxBytes = v.i32("offset.metadata.max.bytes")
	b.OffsetsLoadBufferSize = v.i32("offsets.load.buffer.size")
	b.OffsetsTopicReplicationFactor = v.i16("offsets.topic.replication.factor")
	b.OffsetsTopicNumPartitions = v.i32("offsets.topic.num.partitions")
	b.OffsetsTopicSegmentBytes = v.i32("offsets.topic.segment.bytes")
	b.OffsetsTopicCompressionCodec = v.i32("offsets.topic.compression.codec")
	b.OffsetsRetentionMinutes = v.i32("offsets.retention.minutes")
	b.OffsetsRetentionCheckIntervalMs = v.i64("offsets.retention.check.interval.ms")
	b.OffsetsCommitTimeoutMs = v.i32("offsets.commit.timeout.ms")

	b.TransactionalIDExpirationMs = v.i32("transactional.id.expiration.ms")
	b.TransactionMaxTimeoutMs = v.i32("transaction.max.timeout.ms")
	b.TransactionStateLogLoadBufferSize = v.i32("transaction.state.log.load.buffer.size")
	b.TransactionStateLogReplicationFactor = v.i16("transaction.state.log.replication.factor")
	b.TransactionStateLogNumPartitions = v.i32("transaction.state.log.num.partitions")
	b.TransactionStateLogSegmentBytes = v.i32("transaction.state.log.segment.bytes")
	b.TransactionStateLogMinISR = v.i32("transaction.state.log.min.isr")
	b.TransactionAbortTimedOutTransactionCleanupIntervalMs = v.i32("transaction.abort.timed.out.transaction.cleanup.interval.ms")
	b.TransactionRemoveExpiredTransactionCleanupIntervalMs = v.i32("transaction.remove.expired.transaction.cleanup.interval.ms")
	b.TransactionPartitionVerificationEnable = v.bool("transaction.partition.verification.enable")
	b.ProducerIDExpirationMs = v.i32("producer.id.expiration.ms")
	b.ProducerIDExpirationCheckIntervalMs = v.i32("producer.id.expiration.check.interval.ms")

	b.DelegationTokenSecretKey = v.str("delegation.token.secret.key")
	if b.DelegationTokenSecretKey == "" {
		b.DelegationTokenSecretKey = v.str("delegation.token.master.key")
	}
	b.DelegationTokenMaxLifetimeMs = v.i64("delegation.token.max.lifetime.ms")
	b.DelegationTokenExpiryTimeMs = v.i64("delegation.token.expiry.time.ms")
	b.DelegationTokenExpiryCheckIntervalMs = v.i64("delegation.token.expiry.check.interval.ms")

	b.ShareCoordinatorStateTopicNumPartitions = v.i32("share.coordinator.state.topic.num.partitions")
	b.ShareCoordinatorStateTopicReplicationFactor = v.i16("share.coordinator.state.topic.replication.factor")
	b.ShareCoordinatorStateTopicMinISR = v.i16("share.coordinator.state.topic.min.isr")
	b.ShareCoordinatorStateTopicSegmentBytes = v.i32("share.coordinator.state.topic.segment.bytes")
}

const (
	minuteMs = int64(60 * 1000)
	hourMs   = 60 * minuteMs
)

// firstMs is Kafka's "ms config, else the coarser config converted".
func firstMs(v values, msName, coarseName string, unit int64) int64 {
	if x := v.get(msName); x != nil {
		return x.(int64)
	}
	return int64(v.i32(coarseName)) * unit
}

// retentionMs is KafkaConfig.getLogRetentionTimeMillis: ms, else minutes,
// else hours; any negative result means unlimited (-1).
func retentionMs(v values) int64 {
	var ms int64
	switch {
	case v.get("log.retention.ms") != nil:
		ms = v.i64("log.retention.ms")
	case v.get("log.retention.minutes") != nil:
		ms = int64(v.i32("log.retention.minutes")) * minuteMs
	default:
		ms = int64(v.i32("log.retention.hours")) * hourMs
	}
	if ms < 0 {
		return -1
	}
	return ms
}
