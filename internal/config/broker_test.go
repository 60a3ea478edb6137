package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixHostname makes wildcard advertised hosts deterministic.
func fixHostname(t *testing.T) {
	t.Helper()
	old := hostname
	hostname = func() string { return "gregor-host" }
	t.Cleanup(func() { hostname = old })
}

func mustBroker(t *testing.T, props map[string]string) *Broker {
	t.Helper()
	b, err := NewBroker(props)
	if err != nil {
		t.Fatalf("NewBroker(%v): %v", props, err)
	}
	return b
}

func TestNewBrokerDefaults(t *testing.T) {
	b := mustBroker(t, nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"NodeID", b.NodeID, int32(1)},
		{"ProcessRoles", b.ProcessRoles, []string{"broker", "controller"}},
		{"SingleNode", b.SingleNode(), true},
		{"Listeners", b.Listeners, []Listener{{Name: "PLAINTEXT", Host: "localhost", Port: 9092, SecurityProtocol: "PLAINTEXT"}}},
		{"AdvertisedListeners", b.AdvertisedListeners, []Listener{{Name: "PLAINTEXT", Host: "localhost", Port: 9092, SecurityProtocol: "PLAINTEXT"}}},
		{"AdvertisedControllerListeners", len(b.AdvertisedControllerListeners), 0},
		{"ControllerListenerNames", len(b.ControllerListenerNames), 0},
		{"InterBrokerListenerName", b.InterBrokerListenerName, "PLAINTEXT"},
		{"ListenerSecurityProtocolMap", b.ListenerSecurityProtocolMap, map[string]string{"PLAINTEXT": "PLAINTEXT", "SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL"}},
		{"LogDirs", b.LogDirs, []string{"/tmp/kafka-logs"}},
		{"MetadataLogDir", b.MetadataLogDir, "/tmp/kafka-logs"},
		{"BrokerRack", b.BrokerRack, ""},
		{"NumPartitions", b.NumPartitions, int32(1)},
		{"DefaultReplicationFactor", b.DefaultReplicationFactor, int32(1)},
		{"AutoCreateTopicsEnable", b.AutoCreateTopicsEnable, true},
		{"DeleteTopicEnable", b.DeleteTopicEnable, true},
		{"MessageMaxBytes", b.MessageMaxBytes, int32(1048588)},
		{"SocketRequestMaxBytes", b.SocketRequestMaxBytes, int32(104857600)},
		{"SocketSendBufferBytes", b.SocketSendBufferBytes, int32(102400)},
		{"SocketReceiveBufferBytes", b.SocketReceiveBufferBytes, int32(102400)},
		{"NumNetworkThreads", b.NumNetworkThreads, int32(3)},
		{"NumIOThreads", b.NumIOThreads, int32(8)},
		{"NumRecoveryThreadsPerDataDir", b.NumRecoveryThreadsPerDataDir, int32(1)},
		{"LogRetentionMs", b.LogRetentionMs, int64(604800000)},
		{"LogRetentionBytes", b.LogRetentionBytes, int64(-1)},
		{"LogSegmentBytes", b.LogSegmentBytes, int32(1073741824)},
		{"LogRollMs", b.LogRollMs, int64(604800000)},
		{"LogRollJitterMs", b.LogRollJitterMs, int64(0)},
		{"LogRetentionCheckIntervalMs", b.LogRetentionCheckIntervalMs, int64(300000)},
		{"LogIndexIntervalBytes", b.LogIndexIntervalBytes, int32(4096)},
		{"LogIndexSizeMaxBytes", b.LogIndexSizeMaxBytes, int32(10485760)},
		{"LogFlushIntervalMessages", b.LogFlushIntervalMessages, int64(9223372036854775807)},
		{"LogFlushIntervalMs", b.LogFlushIntervalMs, int64(9223372036854775807)},
		{"LogFlushSchedulerIntervalMs", b.LogFlushSchedulerIntervalMs, int64(9223372036854775807)},
		{"LogFlushOffsetCheckpointIntervalMs", b.LogFlushOffsetCheckpointIntervalMs, int32(60000)},
		{"LogSegmentDeleteDelayMs", b.LogSegmentDeleteDelayMs, int64(60000)},
		{"LogMessageTimestampType", b.LogMessageTimestampType, "CreateTime"},
		{"LogMessageTimestampBeforeMaxMs", b.LogMessageTimestampBeforeMaxMs, int64(9223372036854775807)},
		{"LogMessageTimestampAfterMaxMs", b.LogMessageTimestampAfterMaxMs, int64(9223372036854775807)},
		{"LogCleanupPolicy", b.LogCleanupPolicy, []string{"delete"}},
		{"LogCleanerEnable", b.LogCleanerEnable, true},
		{"LogCleanerDeleteRetentionMs", b.LogCleanerDeleteRetentionMs, int64(86400000)},
		{"LogCleanerMinCompactionLagMs", b.LogCleanerMinCompactionLagMs, int64(0)},
		{"LogCleanerMaxCompactionLagMs", b.LogCleanerMaxCompactionLagMs, int64(9223372036854775807)},
		{"LogCleanerMinCleanableRatio", b.LogCleanerMinCleanableRatio, 0.5},
		{"CompressionType", b.CompressionType, "producer"},
		{"MinInsyncReplicas", b.MinInsyncReplicas, int32(1)},
		{"UncleanLeaderElectionEnable", b.UncleanLeaderElectionEnable, false},
		{"OffsetsTopicReplicationFactor", b.OffsetsTopicReplicationFactor, int16(3)},
		{"OffsetsTopicNumPartitions", b.OffsetsTopicNumPartitions, int32(50)},
		{"TransactionStateLogReplicationFactor", b.TransactionStateLogReplicationFactor, int16(3)},
		{"TransactionStateLogMinISR", b.TransactionStateLogMinISR, int32(2)},
		{"GroupInitialRebalanceDelayMs", b.GroupInitialRebalanceDelayMs, int32(3000)},
		{"ShareCoordinatorStateTopicReplicationFactor", b.ShareCoordinatorStateTopicReplicationFactor, int16(3)},
		{"ShareCoordinatorStateTopicMinISR", b.ShareCoordinatorStateTopicMinISR, int16(2)},
		{"ReplicaLagTimeMaxMs", b.ReplicaLagTimeMaxMs, int64(30000)},
		{"AutoLeaderRebalanceEnable", b.AutoLeaderRebalanceEnable, true},
		{"FetchMaxBytes", b.FetchMaxBytes, int32(57671680)},
		{"GroupMinSessionTimeoutMs", b.GroupMinSessionTimeoutMs, int32(6000)},
		{"GroupMaxSessionTimeoutMs", b.GroupMaxSessionTimeoutMs, int32(1800000)},
		{"GroupMaxSize", b.GroupMaxSize, int32(2147483647)},
		{"OffsetsRetentionMinutes", b.OffsetsRetentionMinutes, int32(10080)},
		{"TransactionalIDExpirationMs", b.TransactionalIDExpirationMs, int32(604800000)},
		{"ProducerIDExpirationMs", b.ProducerIDExpirationMs, int32(86400000)},
		{"MaxConnections", b.MaxConnections, int32(2147483647)},
		{"ConnectionsMaxIdleMs", b.ConnectionsMaxIdleMs, int64(600000)},
		{"QueuedMaxRequests", b.QueuedMaxRequests, int32(500)},
		{"MetadataMaxIdleIntervalMs", b.MetadataMaxIdleIntervalMs, int32(500)},
		{"MaxConnectionsPerIPOverrides", len(b.MaxConnectionsPerIPOverrides), 0},
	}
	for _, c := range checks {
		if !equalAny(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if len(b.Raw()) != 0 {
		t.Errorf("Raw() = %v, want empty", b.Raw())
	}
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case []string:
		return slices.Equal(x, b.([]string))
	case []Listener:
		return slices.Equal(x, b.([]Listener))
	case map[string]string:
		return maps.Equal(x, b.(map[string]string))
	}
	return a == b
}

func TestSampleServerPropertiesLoads(t *testing.T) {
	fixHostname(t)
	b, err := Load(filepath.Join("..", "..", "config", "server.properties"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.NodeID != 1 || !b.HasRole("broker") || !b.HasRole("controller") || !b.SingleNode() {
		t.Errorf("node %d roles %v single %v", b.NodeID, b.ProcessRoles, b.SingleNode())
	}
	wantListeners := []Listener{
		{Name: "PLAINTEXT", Host: "", Port: 9092, SecurityProtocol: "PLAINTEXT"},
		{Name: "CONTROLLER", Host: "", Port: 9093, SecurityProtocol: "PLAINTEXT"},
	}
	if !slices.Equal(b.Listeners, wantListeners) {
		t.Errorf("Listeners = %v", b.Listeners)
	}
	if want := []Listener{{Name: "PLAINTEXT", Host: "localhost", Port: 9092, SecurityProtocol: "PLAINTEXT"}}; !slices.Equal(b.AdvertisedListeners, want) {
		t.Errorf("AdvertisedListeners = %v", b.AdvertisedListeners)
	}
	if want := []Listener{{Name: "CONTROLLER", Host: "localhost", Port: 9093, SecurityProtocol: "PLAINTEXT"}}; !slices.Equal(b.AdvertisedControllerListeners, want) {
		t.Errorf("AdvertisedControllerListeners = %v", b.AdvertisedControllerListeners)
	}
	if !slices.Equal(b.ControllerQuorumBootstrapServers, []string{"localhost:9093"}) {
		t.Errorf("bootstrap = %v", b.ControllerQuorumBootstrapServers)
	}
	if b.OffsetsTopicReplicationFactor != 1 || b.TransactionStateLogReplicationFactor != 1 || b.TransactionStateLogMinISR != 1 ||
		b.ShareCoordinatorStateTopicReplicationFactor != 1 || b.ShareCoordinatorStateTopicMinISR != 1 {
		t.Error("internal topic replication settings not applied")
	}
	if b.LogRetentionMs != 168*3600*1000 || b.LogSegmentBytes != 1073741824 || b.LogRetentionCheckIntervalMs != 300000 {
		t.Errorf("retention %d segment %d check %d", b.LogRetentionMs, b.LogSegmentBytes, b.LogRetentionCheckIntervalMs)
	}
	if got := b.Raw()["log.retention.hours"]; got != "168" {
		t.Errorf("Raw()[log.retention.hours] = %q", got)
	}
	if len(b.ControllerListeners()) != 1 || len(b.BrokerListeners()) != 1 {
		t.Errorf("controller %v broker %v", b.ControllerListeners(), b.BrokerListeners())
	}
}

func TestLoadOverrides(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(path, []byte("num.partitions=3\nlog.dirs="+dir+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := Load(path, map[string]string{"num.partitions": "5", "listeners": "PLAINTEXT://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if b.NumPartitions != 5 || b.Listeners[0].Addr() != "127.0.0.1:0" || b.LogDirs[0] != dir {
		t.Errorf("partitions %d listener %s dirs %v", b.NumPartitions, b.Listeners[0].Addr(), b.LogDirs)
	}
	if raw := b.Raw(); raw["num.partitions"] != "5" || raw["listeners"] != "PLAINTEXT://127.0.0.1:0" {
		t.Errorf("Raw() = %v", raw)
	}
	_, err = Load(path, map[string]string{"num.partitons": "5"})
	if !errors.Is(err, ErrUnknownConfig) || !strings.Contains(err.Error(), "num.partitons") || !strings.Contains(err.Error(), path) {
		t.Errorf("Load with unknown override: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load missing: %v", err)
	}
}

func TestUnknownBrokerConfig(t *testing.T) {
	tests := []struct{ name, want string }{
		{"lgo.dirs", "Unknown broker config name: lgo.dirs (did you mean log.dirs?)"},
		{"auto.create.topic.enable", "Unknown broker config name: auto.create.topic.enable (did you mean auto.create.topics.enable?)"},
		{"zookeeper.connect", "Unknown broker config name: zookeeper.connect"},
		{"retention.ms", "Unknown broker config name: retention.ms (did you mean log.retention.ms?)"},
	}
	for _, tt := range tests {
		_, err := NewBroker(map[string]string{tt.name: "1"})
		if !errors.Is(err, ErrUnknownConfig) || err.Error() != tt.want {
			t.Errorf("NewBroker(%s) error = %v\nwant %s", tt.name, err, tt.want)
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Name != tt.name {
			t.Errorf("error %v does not carry name %s", err, tt.name)
		}
	}
	// Every problem is reported, in name order.
	_, err := NewBroker(map[string]string{"b.unknown": "1", "a.unknown": "1", "num.partitions": "0"})
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "a.unknown") || !strings.Contains(lines[1], "b.unknown") ||
		lines[2] != "Invalid value 0 for configuration num.partitions: Value must be at least 1" {
		t.Errorf("joined error = %q", err)
	}
}

func TestInvalidBrokerValues(t *testing.T) {
	tests := []struct {
		props map[string]string
		kind  error
		want  string
	}{
		{map[string]string{"message.max.bytes": "big"}, ErrInvalidValue, "Invalid value big for configuration message.max.bytes: Not a number of type INT"},
		{map[string]string{"log.segment.bytes": "1024"}, ErrInvalidValue, "Invalid value 1024 for configuration log.segment.bytes: Value must be at least 1048576"},
		{map[string]string{"process.roles": "broker,worker"}, ErrInvalidValue, "Invalid value worker for configuration process.roles: String must be one of: broker, controller"},
		{map[string]string{"security.inter.broker.protocol": "TLS"}, ErrInvalidValue, "Invalid value TLS for configuration security.inter.broker.protocol: String must be one of: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"},
		{map[string]string{"log.retention.ms": "0"}, ErrInvalidConfig, "log.retention.ms must be unlimited (-1) or, greater than or equal to 1"},
		{map[string]string{"log.roll.ms": "0"}, ErrInvalidConfig, "log.roll.ms must be greater than or equal to 1"},
		{map[string]string{"log.dirs": " , "}, ErrInvalidConfig, "At least one log directory must be defined via log.dirs or log.dir."},
		{map[string]string{"log.dirs": "/a,/a"}, ErrInvalidConfig, "Invalid value /a,/a for configuration log.dirs: the same directory appears more than once"},
		{map[string]string{"replica.fetch.wait.max.ms": "40000"}, ErrInvalidConfig, "replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms to prevent unnecessary socket timeouts\nreplica.fetch.wait.max.ms should always be less than or equal to replica.lag.time.max.ms to prevent frequent changes in ISR"},
		{map[string]string{"log.cleaner.dedupe.buffer.size": "1048576"}, ErrInvalidConfig, "log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread."},
		{map[string]string{"remote.log.storage.system.enable": "true"}, ErrInvalidConfig, "Invalid value true for configuration remote.log.storage.system.enable: Gregor does not support tiered storage"},
		{map[string]string{"group.consumer.heartbeat.interval.ms": "45000"}, ErrInvalidConfig, "group.consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms\ngroup.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms"},
		{map[string]string{"max.connections.per.ip": "0"}, ErrInvalidValue, "Invalid value 0 for configuration max.connections.per.ip: There should be at least one override specified if max.connections.per.ip is set to 0"},
	}
	for _, tt := range tests {
		_, err := NewBroker(tt.props)
		if !errors.Is(err, tt.kind) || err.Error() != tt.want {
			t.Errorf("NewBroker(%v) error = %v\nwant %s", tt.props, err, tt.want)
		}
	}
}

func TestMaxConnectionsPerIPOverrides(t *testing.T) {
	b := mustBroker(t, map[string]string{"max.connections.per.ip": "0", "max.connections.per.ip.overrides": "hostA:100, 127.0.0.1:200, ::1:5"})
	want := map[string]int32{"hostA": 100, "127.0.0.1": 200, "::1": 5}
	if !maps.Equal(b.MaxConnectionsPerIPOverrides, want) {
		t.Errorf("overrides = %v", b.MaxConnectionsPerIPOverrides)
	}
}

// Reference: KafkaConfig.getLogRetentionTimeMillis, logRollTimeMillis,
// logFlushIntervalMs.
func TestBrokerTimeSynonyms(t *testing.T) {
	tests := []struct {
		props                map[string]string
		retention, roll, fls int64
	}{
		{map[string]string{}, 168 * hourMs, 168 * hourMs, 9223372036854775807},
		{map[string]string{"log.retention.hours": "1"}, hourMs, 168 * hourMs, 9223372036854775807},
		{map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2"}, 2 * minuteMs, 168 * hourMs, 9223372036854775807},
		{map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2", "log.retention.ms": "3"}, 3, 168 * hourMs, 9223372036854775807},
		{map[string]string{"log.retention.ms": "-1"}, -1, 168 * hourMs, 9223372036854775807},
		{map[string]string{"log.retention.hours": "-5"}, -1, 168 * hourMs, 9223372036854775807},
		{map[string]string{"log.roll.hours": "2"}, 168 * hourMs, 2 * hourMs, 9223372036854775807},
		{map[string]string{"log.roll.hours": "2", "log.roll.ms": "5"}, 168 * hourMs, 5, 9223372036854775807},
		{map[string]string{"log.flush.scheduler.interval.ms": "7"}, 168 * hourMs, 168 * hourMs, 7},
		{map[string]string{"log.flush.scheduler.interval.ms": "7", "log.flush.interval.ms": "9"}, 168 * hourMs, 168 * hourMs, 9},
	}
	for _, tt := range tests {
		b := mustBroker(t, tt.props)
		if b.LogRetentionMs != tt.retention || b.LogRollMs != tt.roll || b.LogFlushIntervalMs != tt.fls {
			t.Errorf("%v: retention %d roll %d flush %d; want %d %d %d", tt.props, b.LogRetentionMs, b.LogRollMs, b.LogFlushIntervalMs, tt.retention, tt.roll, tt.fls)
		}
	}
	b := mustBroker(t, map[string]string{"log.roll.jitter.hours": "1"})
	if b.LogRollJitterMs != hourMs {
		t.Errorf("jitter = %d", b.LogRollJitterMs)
	}
}

func TestLogDirs(t *testing.T) {
	tests := []struct {
		props    map[string]string
		dirs     []string
		metadata string
	}{
		{map[string]string{"log.dir": "/x"}, []string{"/x"}, "/x"},
		{map[string]string{"log.dir": "/x", "log.dirs": "/a, /b"}, []string{"/a", "/b"}, "/a"},
		{map[string]string{"log.dirs": "/a,/b", "metadata.log.dir": "/m"}, []string{"/a", "/b"}, "/m"},
	}
	for _, tt := range tests {
		b := mustBroker(t, tt.props)
		if !slices.Equal(b.LogDirs, tt.dirs) || b.MetadataLogDir != tt.metadata {
			t.Errorf("%v: dirs %v metadata %q", tt.props, b.LogDirs, b.MetadataLogDir)
		}
	}
}

func TestNodeIDAndRoles(t *testing.T) {
	b := mustBroker(t, map[string]string{"broker.id": "7"})
	if b.NodeID != 7 {
		t.Errorf("broker.id=7 gives node %d", b.NodeID)
	}
	b = mustBroker(t, map[string]string{"node.id": "4", "broker.id": "4"})
	if b.NodeID != 4 {
		t.Errorf("node %d", b.NodeID)
	}
	tests := []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"node.id": "4", "broker.id": "5"}, "You must set `node.id` to the same value as `broker.id`."},
		{map[string]string{"node.id": "-1"}, "Missing configuration `node.id` which is required when `process.roles` is defined (i.e. when running in KRaft mode)."},
		{map[string]string{"controller.quorum.bootstrap.servers": "localhost:9093", "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER"},
			"Missing configuration `node.id` which is required when `process.roles` is defined (i.e. when running in KRaft mode)."},
		{map[string]string{"process.roles": "broker"}, "If using process.roles, either controller.quorum.bootstrap.servers must contain the set of bootstrap controllers or controller.quorum.voters must contain a parseable set of controllers."},
		{map[string]string{"process.roles": ""}, "Invalid value for configuration process.roles: at least one of 'broker' and 'controller' is required"},
		{map[string]string{"process.roles": "broker,broker"}, "Duplicate role names found in `process.roles`: broker,broker"},
		{map[string]string{"node.id": "1", "controller.quorum.voters": "2@localhost:9093", "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER"},
			"If process.roles contains the 'controller' role, the node id 1 must be included in the set of voters controller.quorum.voters=2@localhost:9093"},
		{map[string]string{"node.id": "1", "controller.quorum.voters": "1@localhost"}, `Invalid value 1@localhost for configuration controller.quorum.voters: Unable to parse voter "1@localhost": expected {host}:{port}`},
		{map[string]string{"node.id": "1", "controller.quorum.voters": "x@localhost:1"}, `Invalid value x@localhost:1 for configuration controller.quorum.voters: Unable to parse voter "x@localhost:1": expected {id}@{host}:{port}`},
		{map[string]string{"node.id": "1", "controller.quorum.bootstrap.servers": "localhost"}, `Invalid value localhost for configuration controller.quorum.bootstrap.servers: Unable to parse "localhost": expected {host}:{port}`},
	}
	for _, tt := range tests {
		_, err := NewBroker(tt.props)
		if !errors.Is(err, ErrInvalidConfig) || err.Error() != tt.want {
			t.Errorf("NewBroker(%v) error = %v\nwant %s", tt.props, err, tt.want)
		}
	}
	b = mustBroker(t, map[string]string{"node.id": "2", "controller.quorum.voters": "1@h1:9093,2@h2:9093", "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER"})
	if want := []QuorumVoter{{1, "h1", 9093}, {2, "h2", 9093}}; !slices.Equal(b.ControllerQuorumVoters, want) {
		t.Errorf("voters = %v", b.ControllerQuorumVoters)
	}
}

func TestListeners(t *testing.T) {
	fixHostname(t)
	quorum := map[string]string{"node.id": "1", "controller.quorum.bootstrap.servers": "c1:9093"}
	with := func(extra map[string]string) map[string]string {
		m := maps.Clone(quorum)
		maps.Copy(m, extra)
		return m
	}
	pt := func(name, host string, port int) Listener {
		return Listener{Name: name, Host: host, Port: port, SecurityProtocol: "PLAINTEXT"}
	}
	tests := []struct {
		name                 string
		props                map[string]string
		listeners, adv, advC []Listener
	}{
		{"default", nil, []Listener{pt("PLAINTEXT", "localhost", 9092)}, []Listener{pt("PLAINTEXT", "localhost", 9092)}, nil},
		{"wildcard advertises hostname", map[string]string{"listeners": "PLAINTEXT://0.0.0.0:9092"},
			[]Listener{pt("PLAINTEXT", "0.0.0.0", 9092)}, []Listener{pt("PLAINTEXT", "gregor-host", 9092)}, nil},
		{"empty host advertises hostname", map[string]string{"listeners": "PLAINTEXT://:9092"},
			[]Listener{pt("PLAINTEXT", "", 9092)}, []Listener{pt("PLAINTEXT", "gregor-host", 9092)}, nil},
		{"ipv6", map[string]string{"listeners": "PLAINTEXT://[::1]:9092"},
			[]Listener{pt("PLAINTEXT", "::1", 9092)}, []Listener{pt("PLAINTEXT", "::1", 9092)}, nil},
		{"lower-case name", map[string]string{"listeners": "plaintext://h:1"},
			[]Listener{pt("PLAINTEXT", "h", 1)}, []Listener{pt("PLAINTEXT", "h", 1)}, nil},
		{"controller listener, derived advertised", with(map[string]string{"listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER"}),
			[]Listener{pt("PLAINTEXT", "", 9092), pt("CONTROLLER", "", 9093)}, []Listener{pt("PLAINTEXT", "gregor-host", 9092)}, []Listener{pt("CONTROLLER", "gregor-host", 9093)}},
		{"embedded single node with controller listener", map[string]string{"listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER"},
			[]Listener{pt("PLAINTEXT", "", 9092), pt("CONTROLLER", "", 9093)}, []Listener{pt("PLAINTEXT", "gregor-host", 9092)}, []Listener{pt("CONTROLLER", "gregor-host", 9093)}},
		{"explicit advertised", with(map[string]string{"listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER", "advertised.listeners": "PLAINTEXT://kafka.example:19092"}),
			[]Listener{pt("PLAINTEXT", "", 9092), pt("CONTROLLER", "", 9093)}, []Listener{pt("PLAINTEXT", "kafka.example", 19092)}, nil},
		{"custom names", with(map[string]string{"listeners": "INTERNAL://:9092,EXTERNAL://:9094,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER",
			"listener.security.protocol.map": "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT", "inter.broker.listener.name": "INTERNAL"}),
			[]Listener{pt("INTERNAL", "", 9092), pt("EXTERNAL", "", 9094), pt("CONTROLLER", "", 9093)},
			[]Listener{pt("INTERNAL", "gregor-host", 9092), pt("EXTERNAL", "gregor-host", 9094)}, []Listener{pt("CONTROLLER", "gregor-host", 9093)}},
		{"broker only", with(map[string]string{"process.roles": "broker", "controller.listener.names": "CONTROLLER"}),
			[]Listener{pt("PLAINTEXT", "localhost", 9092)}, []Listener{pt("PLAINTEXT", "localhost", 9092)}, nil},
		{"controller only", with(map[string]string{"process.roles": "controller", "listeners": "CONTROLLER://:9093", "controller.listener.names": "CONTROLLER"}),
			[]Listener{pt("CONTROLLER", "", 9093)}, nil, []Listener{pt("CONTROLLER", "gregor-host", 9093)}},
		{"same port ipv4 and ipv6", map[string]string{"listeners": "PLAINTEXT://127.0.0.1:9092,OTHER://[::1]:9092", "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT"},
			[]Listener{pt("PLAINTEXT", "127.0.0.1", 9092), pt("OTHER", "::1", 9092)}, []Listener{pt("PLAINTEXT", "127.0.0.1", 9092), pt("OTHER", "::1", 9092)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBroker(t, tt.props)
			if !slices.Equal(b.Listeners, tt.listeners) {
				t.Errorf("Listeners = %v, want %v", b.Listeners, tt.listeners)
			}
			if !slices.Equal(b.AdvertisedListeners, tt.adv) {
				t.Errorf("AdvertisedListeners = %v, want %v", b.AdvertisedListeners, tt.adv)
			}
			if !slices.Equal(b.AdvertisedControllerListeners, tt.advC) {
				t.Errorf("AdvertisedControllerListeners = %v, want %v", b.AdvertisedControllerListeners, tt.advC)
			}
		})
	}
}

func TestListenerErrors(t *testing.T) {
	quorum := func(extra map[string]string) map[string]string {
		m := map[string]string{"node.id": "1", "controller.quorum.bootstrap.servers": "c1:9093"}
		maps.Copy(m, extra)
		return m
	}
	tests := []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"listeners": "PLAINTEXT:9092"}, "Unable to parse PLAINTEXT:9092 to a broker endpoint"},
		{map[string]string{"listeners": "PLAINTEXT://h:99999"}, "Unable to parse PLAINTEXT://h:99999 to a broker endpoint: invalid port 99999"},
		{map[string]string{"listeners": "FOO://:9092"}, "No security protocol defined for listener FOO"},
		{map[string]string{"listeners": "PLAINTEXT://:9092,PLAINTEXT://:9093"}, "Each listener must have a different name, listeners: PLAINTEXT://:9092,PLAINTEXT://:9093"},
		{map[string]string{"listeners": "PLAINTEXT://:9092,SSL://:9092"}, "Each listener must have a different port unless exactly one listener has an IPv4 address and the other IPv6 address, listeners: PLAINTEXT://:9092,SSL://:9092"},
		{map[string]string{"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}, "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address."},
		{map[string]string{"advertised.listeners": "SSL://h:9093"}, "advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. Found SSL. The valid options based on the current configuration are PLAINTEXT"},
		{map[string]string{"inter.broker.listener.name": "PLAINTEXT", "security.inter.broker.protocol": "PLAINTEXT"}, "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set."},
		{map[string]string{"inter.broker.listener.name": "SSL"}, "inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are PLAINTEXT"},
		{map[string]string{"listener.security.protocol.map": "PLAINTEXT:TLS"}, "Invalid security protocol `TLS` defined in listener.security.protocol.map"},
		{map[string]string{"listener.security.protocol.map": "PLAINTEXT"}, "Error parsing configuration property 'listener.security.protocol.map': Map entry 'PLAINTEXT' is not of the form key:value"},
		{map[string]string{"controller.listener.names": "CONTROLLER"}, "controller.listener.names must contain at least one value appearing in the 'listeners' configuration when running the KRaft controller role"},
		{quorum(nil), "controller.listener.names must contain at least one value appearing in the 'listeners' configuration when running the KRaft controller role"},
		{quorum(map[string]string{"process.roles": "broker"}), "controller.listener.names must contain at least one value when running KRaft with just the broker role"},
		{quorum(map[string]string{"process.roles": "broker", "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER"}),
			"controller.listener.names must not contain a value appearing in the 'listeners' configuration when running KRaft with just the broker role"},
		{quorum(map[string]string{"process.roles": "controller", "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER"}),
			"The listeners config must only contain KRaft controller listeners from controller.listener.names when process.roles=controller"},
		{quorum(map[string]string{"listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER,PLAINTEXT"}),
			"controller.listener.names must not contain the value set for inter.broker.listener.name"},
	}
	for _, tt := range tests {
		_, err := NewBroker(tt.props)
		if !errors.Is(err, ErrInvalidConfig) || err.Error() != tt.want {
			t.Errorf("NewBroker(%v) error = %v\nwant %s", tt.props, err, tt.want)
		}
	}
}

// With SSL in use and no explicit map, controller listeners get no
// implicit PLAINTEXT mapping (KafkaConfig.effectiveListenerSecurityProtocolMap).
func TestControllerProtocolDefault(t *testing.T) {
	_, err := NewBroker(map[string]string{"listeners": "SSL://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER", "security.inter.broker.protocol": "SSL"})
	if err == nil || err.Error() != "No security protocol defined for listener CONTROLLER" {
		t.Errorf("error = %v", err)
	}
	b := mustBroker(t, map[string]string{"listeners": "SSL://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER",
		"security.inter.broker.protocol": "SSL", "listener.security.protocol.map": "SSL:SSL,CONTROLLER:SSL"})
	if l, _ := b.Listener("controller"); l.SecurityProtocol != "SSL" {
		t.Errorf("controller listener %v", l)
	}
}
