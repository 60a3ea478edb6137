package config

import (
	"slices"
	"testing"
)

// kafkaBrokerDefaults is every broker config with its default as Kafka
// 4.0's docs print it ("null" for a null default), type and update mode.
// Entries marked gregor are Gregor's deliberate differences.
var kafkaBrokerDefaults = []struct {
	name, dflt string
	typ        Type
	mode       UpdateMode
}{
	{"process.roles", "broker,controller", TypeList, ReadOnly}, // gregor; Kafka: ""
	{"node.id", "1", TypeInt, ReadOnly},                        // gregor; Kafka: -1
	{"broker.id", "-1", TypeInt, ReadOnly},
	{"reserved.broker.max.id", "1000", TypeInt, ReadOnly},
	{"broker.id.generation.enable", "true", TypeBoolean, ReadOnly},
	{"broker.rack", "null", TypeString, ReadOnly},
	{"controller.listener.names", "null", TypeString, ReadOnly},
	{"controller.quorum.voters", "", TypeList, ReadOnly},
	{"controller.quorum.bootstrap.servers", "", TypeList, ReadOnly},
	{"controller.quorum.election.timeout.ms", "1000", TypeInt, ReadOnly},
	{"controller.quorum.fetch.timeout.ms", "2000", TypeInt, ReadOnly},
	{"controller.quorum.election.backoff.max.ms", "1000", TypeInt, ReadOnly},
	{"controller.quorum.append.linger.ms", "25", TypeInt, ReadOnly},
	{"controller.quorum.request.timeout.ms", "2000", TypeInt, ReadOnly},
	{"controller.quorum.retry.backoff.ms", "20", TypeInt, ReadOnly},
	{"metadata.log.dir", "null", TypeString, ReadOnly},
	{"metadata.log.segment.bytes", "1073741824", TypeInt, ReadOnly},
	{"metadata.log.segment.ms", "604800000", TypeLong, ReadOnly},
	{"metadata.max.retention.bytes", "104857600", TypeLong, ReadOnly},
	{"metadata.max.retention.ms", "604800000", TypeLong, ReadOnly},
	{"metadata.max.idle.interval.ms", "500", TypeInt, ReadOnly},
	{"metadata.log.max.record.bytes.between.snapshots", "20971520", TypeLong, ReadOnly},
	{"metadata.log.max.snapshot.interval.ms", "3600000", TypeLong, ReadOnly},
	{"broker.heartbeat.interval.ms", "2000", TypeInt, ReadOnly},
	{"broker.session.timeout.ms", "9000", TypeInt, ReadOnly},
	{"initial.broker.registration.timeout.ms", "60000", TypeInt, ReadOnly},
	{"listeners", "PLAINTEXT://localhost:9092", TypeList, PerBroker}, // gregor; Kafka: PLAINTEXT://:9092
	{"advertised.listeners", "null", TypeList, ReadOnly},
	{"listener.security.protocol.map", "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT", TypeString, PerBroker},
	{"inter.broker.listener.name", "null", TypeString, ReadOnly},
	{"security.inter.broker.protocol", "PLAINTEXT", TypeString, ReadOnly},
	{"socket.send.buffer.bytes", "102400", TypeInt, ReadOnly},
	{"socket.receive.buffer.bytes", "102400", TypeInt, ReadOnly},
	{"socket.request.max.bytes", "104857600", TypeInt, ReadOnly},
	{"socket.listen.backlog.size", "50", TypeInt, ReadOnly},
	{"max.connections.per.ip", "2147483647", TypeInt, ClusterWide},
	{"max.connections.per.ip.overrides", "", TypeString, ClusterWide},
	{"max.connections", "2147483647", TypeInt, ClusterWide},
	{"max.connection.creation.rate", "2147483647", TypeInt, ClusterWide},
	{"connections.max.idle.ms", "600000", TypeLong, ReadOnly},
	{"connection.failed.authentication.delay.ms", "100", TypeInt, ReadOnly},
	{"queued.max.requests", "500", TypeInt, ReadOnly},
	{"queued.max.request.bytes", "-1", TypeLong, ReadOnly},
	{"num.network.threads", "3", TypeInt, ClusterWide},
	{"num.io.threads", "8", TypeInt, ClusterWide},
	{"background.threads", "10", TypeInt, ClusterWide},
	{"request.timeout.ms", "30000", TypeInt, ReadOnly},
	{"message.max.bytes", "1048588", TypeInt, ClusterWide},
	{"fetch.max.bytes", "57671680", TypeInt, ReadOnly},
	{"max.incremental.fetch.session.cache.slots", "1000", TypeInt, ReadOnly},
	{"num.partitions", "1", TypeInt, ReadOnly},
	{"default.replication.factor", "1", TypeInt, ReadOnly},
	{"auto.create.topics.enable", "true", TypeBoolean, ReadOnly},
	{"delete.topic.enable", "true", TypeBoolean, ReadOnly},
	{"compression.type", "producer", TypeString, ClusterWide},
	{"compression.gzip.level", "-1", TypeInt, ClusterWide},
	{"compression.lz4.level", "9", TypeInt, ClusterWide},
	{"compression.zstd.level", "3", TypeInt, ClusterWide},
	{"min.insync.replicas", "1", TypeInt, ClusterWide},
	{"unclean.leader.election.enable", "false", TypeBoolean, ClusterWide},
	{"auto.leader.rebalance.enable", "true", TypeBoolean, ReadOnly},
	{"leader.imbalance.check.interval.seconds", "300", TypeLong, ReadOnly},
	{"leader.imbalance.per.broker.percentage", "10", TypeInt, ReadOnly},
	{"controlled.shutdown.enable", "true", TypeBoolean, ReadOnly},
	{"controlled.shutdown.max.retries", "3", TypeInt, ReadOnly},
	{"controlled.shutdown.retry.backoff.ms", "5000", TypeLong, ReadOnly},
	{"log.dirs", "null", TypeString, ReadOnly},
	{"log.dir", "/tmp/kafka-logs", TypeString, ReadOnly},
	{"log.segment.bytes", "1073741824", TypeInt, ClusterWide},
	{"log.roll.ms", "null", TypeLong, ClusterWide},
	{"log.roll.hours", "168", TypeInt, ReadOnly},
	{"log.roll.jitter.ms", "null", TypeLong, ClusterWide},
	{"log.roll.jitter.hours", "0", TypeInt, ReadOnly},
	{"log.retention.ms", "null", TypeLong, ClusterWide},
	{"log.retention.minutes", "null", TypeInt, ReadOnly},
	{"log.retention.hours", "168", TypeInt, ReadOnly},
	{"log.retention.bytes", "-1", TypeLong, ClusterWide},
	{"log.retention.check.interval.ms", "300000", TypeLong, ReadOnly},
	{"log.cleanup.policy", "delete", TypeList, ClusterWide},
	{"log.index.size.max.bytes", "10485760", TypeInt, ClusterWide},
	{"log.index.interval.bytes", "4096", TypeInt, ClusterWide},
	{"log.flush.interval.messages", "9223372036854775807", TypeLong, ClusterWide},
	{"log.segment.delete.delay.ms", "60000", TypeLong, ClusterWide},
	{"log.flush.scheduler.interval.ms", "9223372036854775807", TypeLong, ReadOnly},
	{"log.flush.interval.ms", "null", TypeLong, ClusterWide},
	{"log.flush.offset.checkpoint.interval.ms", "60000", TypeInt, ReadOnly},
	{"log.flush.start.offset.checkpoint.interval.ms", "60000", TypeInt, ReadOnly},
	{"log.preallocate", "false", TypeBoolean, ClusterWide},
	{"num.recovery.threads.per.data.dir", "1", TypeInt, ClusterWide},
	{"log.message.timestamp.type", "CreateTime", TypeString, ClusterWide},
	{"log.message.timestamp.before.max.ms", "9223372036854775807", TypeLong, ClusterWide},
	{"log.message.timestamp.after.max.ms", "9223372036854775807", TypeLong, ClusterWide},
	{"log.dir.failure.timeout.ms", "30000", TypeLong, ReadOnly},
	{"log.local.retention.ms", "-2", TypeLong, ClusterWide},
	{"log.local.retention.bytes", "-2", TypeLong, ClusterWide},
	{"remote.log.storage.system.enable", "false", TypeBoolean, ReadOnly},
	{"log.cleaner.enable", "true", TypeBoolean, ReadOnly},
	{"log.cleaner.threads", "1", TypeInt, ClusterWide},
	{"log.cleaner.io.max.bytes.per.second", "1.7976931348623157E308", TypeDouble, ClusterWide},
	{"log.cleaner.dedupe.buffer.size", "134217728", TypeLong, ClusterWide},
	{"log.cleaner.io.buffer.size", "524288", TypeInt, ClusterWide},
	{"log.cleaner.io.buffer.load.factor", "0.9", TypeDouble, ClusterWide},
	{"log.cleaner.backoff.ms", "15000", TypeLong, ClusterWide},
	{"log.cleaner.min.cleanable.ratio", "0.5", TypeDouble, ClusterWide},
	{"log.cleaner.delete.retention.ms", "86400000", TypeLong, ClusterWide},
	{"log.cleaner.min.compaction.lag.ms", "0", TypeLong, ClusterWide},
	{"log.cleaner.max.compaction.lag.ms", "9223372036854775807", TypeLong, ClusterWide},
	{"replica.lag.time.max.ms", "30000", TypeLong, ReadOnly},
	{"replica.socket.timeout.ms", "30000", TypeInt, ReadOnly},
	{"replica.socket.receive.buffer.bytes", "65536", TypeInt, ReadOnly},
	{"replica.fetch.max.bytes", "1048576", TypeInt, ReadOnly},
	{"replica.fetch.wait.max.ms", "500", TypeInt, ReadOnly},
	{"replica.fetch.min.bytes", "1", TypeInt, ReadOnly},
	{"replica.fetch.response.max.bytes", "10485760", TypeInt, ReadOnly},
	{"replica.fetch.backoff.ms", "1000", TypeInt, ReadOnly},
	{"num.replica.fetchers", "1", TypeInt, ClusterWide},
	{"replica.high.watermark.checkpoint.interval.ms", "5000", TypeLong, ReadOnly},
	{"replica.selector.class", "null", TypeClass, ReadOnly},
	{"fetch.purgatory.purge.interval.requests", "1000", TypeInt, ReadOnly},
	{"producer.purgatory.purge.interval.requests", "1000", TypeInt, ReadOnly},
	{"delete.records.purgatory.purge.interval.requests", "1", TypeInt, ReadOnly},
	{"leader.replication.throttled.rate", "9223372036854775807", TypeLong, ClusterWide},
	{"follower.replication.throttled.rate", "9223372036854775807", TypeLong, ClusterWide},
	{"replication.quota.window.num", "11", TypeInt, ReadOnly},
	{"replication.quota.window.size.seconds", "1", TypeInt, ReadOnly},
	{"quota.window.num", "11", TypeInt, ReadOnly},
	{"quota.window.size.seconds", "1", TypeInt, ReadOnly},
	{"controller.quota.window.num", "11", TypeInt, ReadOnly},
	{"controller.quota.window.size.seconds", "1", TypeInt, ReadOnly},
	{"group.min.session.timeout.ms", "6000", TypeInt, ReadOnly},
	{"group.max.session.timeout.ms", "1800000", TypeInt, ReadOnly},
	{"group.initial.rebalance.delay.ms", "3000", TypeInt, ReadOnly},
	{"group.max.size", "2147483647", TypeInt, ReadOnly},
	{"group.consumer.session.timeout.ms", "45000", TypeInt, ReadOnly},
	{"group.consumer.min.session.timeout.ms", "45000", TypeInt, ReadOnly},
	{"group.consumer.max.session.timeout.ms", "60000", TypeInt, ReadOnly},
	{"group.consumer.heartbeat.interval.ms", "5000", TypeInt, ReadOnly},
	{"group.consumer.min.heartbeat.interval.ms", "5000", TypeInt, ReadOnly},
	{"group.consumer.max.heartbeat.interval.ms", "15000", TypeInt, ReadOnly},
	{"group.consumer.max.size", "2147483647", TypeInt, ReadOnly},
	{"group.consumer.migration.policy", "bidirectional", TypeString, ReadOnly},
	{"offset.metadata.max.bytes", "4096", TypeInt, ReadOnly},
	{"offsets.load.buffer.size", "5242880", TypeInt, ReadOnly},
	{"offsets.topic.replication.factor", "3", TypeShort, ReadOnly},
	{"offsets.topic.num.partitions", "50", TypeInt, ReadOnly},
	{"offsets.topic.segment.bytes", "104857600", TypeInt, ReadOnly},
	{"offsets.topic.compression.codec", "0", TypeInt, ReadOnly},
	{"offsets.retention.minutes", "10080", TypeInt, ReadOnly},
	{"offsets.retention.check.interval.ms", "600000", TypeLong, ReadOnly},
	{"offsets.commit.timeout.ms", "5000", TypeInt, ReadOnly},
	{"transactional.id.expiration.ms", "604800000", TypeInt, ReadOnly},
	{"transaction.max.timeout.ms", "900000", TypeInt, ReadOnly},
	{"transaction.state.log.load.buffer.size", "5242880", TypeInt, ReadOnly},
	{"transaction.state.log.replication.factor", "3", TypeShort, ReadOnly},
	{"transaction.state.log.num.partitions", "50", TypeInt, ReadOnly},
	{"transaction.state.log.segment.bytes", "104857600", TypeInt, ReadOnly},
	{"transaction.state.log.min.isr", "2", TypeInt, ReadOnly},
	{"transaction.abort.timed.out.transaction.cleanup.interval.ms", "10000", TypeInt, ReadOnly},
	{"transaction.remove.expired.transaction.cleanup.interval.ms", "3600000", TypeInt, ReadOnly},
	{"transaction.partition.verification.enable", "true", TypeBoolean, ClusterWide},
	{"producer.id.expiration.ms", "86400000", TypeInt, ClusterWide},
	{"producer.id.expiration.check.interval.ms", "600000", TypeInt, ReadOnly},
	{"share.coordinator.state.topic.num.partitions", "50", TypeInt, ReadOnly},
	{"share.coordinator.state.topic.replication.factor", "3", TypeShort, ReadOnly},
	{"share.coordinator.state.topic.min.isr", "2", TypeShort, ReadOnly},
	{"share.coordinator.state.topic.segment.bytes", "104857600", TypeInt, ReadOnly},
}

func defaultString(d Def) string {
	if !d.HasDefault {
		return "null"
	}
	return d.Default
}

func TestBrokerCatalogDefaults(t *testing.T) {
	seen := map[string]bool{}
	for _, want := range append(kafkaBrokerDefaults, kafkaSecurityDefaults...) { // security_test.go
		seen[want.name] = true
		d, ok := LookupBrokerConfig(want.name)
		if !ok {
			t.Errorf("%s: not in catalog", want.name)
			continue
		}
		if got := defaultString(d.Def); got != want.dflt {
			t.Errorf("%s default = %q, want %q", want.name, got, want.dflt)
		}
		if d.Type != want.typ {
			t.Errorf("%s type = %v, want %v", want.name, d.Type, want.typ)
		}
		if d.UpdateMode != want.mode {
			t.Errorf("%s update mode = %v, want %v", want.name, d.UpdateMode, want.mode)
		}
		if d.Documentation == "" {
			t.Errorf("%s has no documentation", want.name)
		}
	}
	for _, n := range BrokerConfigNames() {
		if !seen[n] {
			t.Errorf("catalog config %s has no expected default in this test", n)
		}
	}
}

var kafkaTopicDefaults = []struct {
	name, dflt string
	typ        Type
	synonyms   []string
}{
	{"cleanup.policy", "delete", TypeList, []string{"log.cleanup.policy"}},
	{"compression.gzip.level", "-1", TypeInt, []string{"compression.gzip.level"}},
	{"compression.lz4.level", "9", TypeInt, []string{"compression.lz4.level"}},
	{"compression.type", "producer", TypeString, []string{"compression.type"}},
	{"compression.zstd.level", "3", TypeInt, []string{"compression.zstd.level"}},
	{"delete.retention.ms", "86400000", TypeLong, []string{"log.cleaner.delete.retention.ms"}},
	{"file.delete.delay.ms", "60000", TypeLong, []string{"log.segment.delete.delay.ms"}},
	{"flush.messages", "9223372036854775807", TypeLong, []string{"log.flush.interval.messages"}},
	{"flush.ms", "9223372036854775807", TypeLong, []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}},
	{"follower.replication.throttled.replicas", "", TypeList, nil},
	{"index.interval.bytes", "4096", TypeInt, []string{"log.index.interval.bytes"}},
	{"leader.replication.throttled.replicas", "", TypeList, nil},
	{"local.retention.bytes", "-2", TypeLong, []string{"log.local.retention.bytes"}},
	{"local.retention.ms", "-2", TypeLong, []string{"log.local.retention.ms"}},
	{"max.compaction.lag.ms", "9223372036854775807", TypeLong, []string{"log.cleaner.max.compaction.lag.ms"}},
	{"max.message.bytes", "1048588", TypeInt, []string{"message.max.bytes"}},
	{"message.timestamp.after.max.ms", "9223372036854775807", TypeLong, []string{"log.message.timestamp.after.max.ms"}},
	{"message.timestamp.before.max.ms", "9223372036854775807", TypeLong, []string{"log.message.timestamp.before.max.ms"}},
	{"message.timestamp.type", "CreateTime", TypeString, []string{"log.message.timestamp.type"}},
	{"min.cleanable.dirty.ratio", "0.5", TypeDouble, []string{"log.cleaner.min.cleanable.ratio"}},
	{"min.compaction.lag.ms", "0", TypeLong, []string{"log.cleaner.min.compaction.lag.ms"}},
	{"min.insync.replicas", "1", TypeInt, []string{"min.insync.replicas"}},
	{"preallocate", "false", TypeBoolean, []string{"log.preallocate"}},
	{"remote.log.copy.disable", "false", TypeBoolean, nil},
	{"remote.log.delete.on.disable", "false", TypeBoolean, nil},
	{"remote.storage.enable", "false", TypeBoolean, nil},
	{"retention.bytes", "-1", TypeLong, []string{"log.retention.bytes"}},
	{"retention.ms", "604800000", TypeLong, []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}},
	{"segment.bytes", "1073741824", TypeInt, []string{"log.segment.bytes"}},
	{"segment.index.bytes", "10485760", TypeInt, []string{"log.index.size.max.bytes"}},
	{"segment.jitter.ms", "0", TypeLong, []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}},
	{"segment.ms", "604800000", TypeLong, []string{"log.roll.ms", "log.roll.hours"}},
	{"unclean.leader.election.enable", "false", TypeBoolean, []string{"unclean.leader.election.enable"}},
}

func TestTopicCatalogDefaults(t *testing.T) {
	var names []string
	for _, want := range kafkaTopicDefaults {
		names = append(names, want.name)
		d, ok := LookupTopicConfig(want.name)
		if !ok {
			t.Errorf("%s: not in catalog", want.name)
			continue
		}
		if got := defaultString(d.Def); got != want.dflt {
			t.Errorf("%s default = %q, want %q", want.name, got, want.dflt)
		}
		if d.Type != want.typ {
			t.Errorf("%s type = %v, want %v", want.name, d.Type, want.typ)
		}
		if !slices.Equal(d.Synonyms, want.synonyms) {
			t.Errorf("%s synonyms = %v, want %v", want.name, d.Synonyms, want.synonyms)
		}
		if d.Importance != Medium || d.Documentation == "" {
			t.Errorf("%s: importance %v, doc %q", want.name, d.Importance, d.Documentation)
		}
	}
	if got := TopicConfigNames(); !slices.Equal(got, names) {
		t.Errorf("TopicConfigNames() = %v\nwant %v", got, names)
	}
}

// Kafka 4.0 removed these; they must be unknown.
func TestRemovedTopicConfigs(t *testing.T) {
	for _, n := range []string{"message.downconversion.enable", "message.format.version", "message.timestamp.difference.max.ms"} {
		if _, ok := LookupTopicConfig(n); ok {
			t.Errorf("%s is in the topic catalog", n)
		}
	}
}

// Every broker synonym exists, has the topic config's type, and (for
// the primary one) is dynamically updatable cluster-wide, as Kafka's
// DynamicLogConfig.ReconfigurableConfigs is exactly the set of primary
// synonyms.
func TestTopicSynonymsMatchBrokerCatalog(t *testing.T) {
	primaries := map[string]bool{}
	for _, n := range TopicConfigNames() {
		d, _ := LookupTopicConfig(n)
		for i, s := range d.Synonyms {
			bd, ok := LookupBrokerConfig(s)
			if !ok {
				t.Errorf("%s: synonym %s not in broker catalog", n, s)
				continue
			}
			if i == 0 {
				primaries[s] = true
				if bd.Type != d.Type {
					t.Errorf("%s is %v but its synonym %s is %v", n, d.Type, s, bd.Type)
				}
				if bd.UpdateMode != ClusterWide {
					t.Errorf("primary synonym %s of %s is %v, want cluster-wide", s, n, bd.UpdateMode)
				}
			} else if s != "log.flush.scheduler.interval.ms" && bd.UpdateMode != ReadOnly {
				t.Errorf("secondary synonym %s of %s is %v, want read-only", s, n, bd.UpdateMode)
			}
		}
	}
	for _, n := range []string{"log.retention.hours", "log.retention.minutes", "log.roll.hours", "log.roll.jitter.hours"} {
		if primaries[n] {
			t.Errorf("%s should not be a primary synonym", n)
		}
	}
}

func TestValidValues(t *testing.T) {
	tests := []struct{ name, want string }{
		{"num.partitions", "[1,...]"},
		{"log.cleaner.min.cleanable.ratio", "[0,...,1]"},
		{"log.cleanup.policy", "[compact, delete]"},
		{"compression.type", "[uncompressed, zstd, lz4, snappy, gzip, producer]"},
		{"compression.gzip.level", "[1,...,9] or -1"},
		{"log.message.timestamp.type", "[CreateTime, LogAppendTime]"},
		{"broker.rack", ""},
	}
	for _, tt := range tests {
		d, _ := LookupBrokerConfig(tt.name)
		if got := d.ValidValues(); got != tt.want {
			t.Errorf("%s ValidValues() = %q, want %q", tt.name, got, tt.want)
		}
	}
	d, _ := LookupTopicConfig("leader.replication.throttled.replicas")
	if got := d.ValidValues(); got != "[partitionId]:[brokerId],[partitionId]:[brokerId],..." {
		t.Errorf("throttled replicas ValidValues() = %q", got)
	}
}

func TestJavaDouble(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0.5, "0.5"}, {2, "2.0"}, {0, "0.0"}, {1e-5, "1.0E-5"}, {1.7976931348623157e308, "1.7976931348623157E308"},
		{12345678, "1.2345678E7"}, {-0.25, "-0.25"}, {1e7, "1.0E7"}, {9999999, "9999999.0"},
	}
	for _, tt := range tests {
		if got := javaDouble(tt.f); got != tt.want {
			t.Errorf("javaDouble(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestParseValues(t *testing.T) {
	d := func(name string) Def { b, _ := LookupBrokerConfig(name); return b.Def }
	tests := []struct {
		def  Def
		in   string
		want any
		err  string
	}{
		{def: d("num.partitions"), in: " 3 ", want: int32(3)},
		{def: d("num.partitions"), in: "+3", want: int32(3)},
		{def: d("num.partitions"), in: "0", err: "Invalid value 0 for configuration num.partitions: Value must be at least 1"},
		{def: d("num.partitions"), in: "3.0", err: "Invalid value 3.0 for configuration num.partitions: Not a number of type INT"},
		{def: d("num.partitions"), in: "", err: "Invalid value  for configuration num.partitions: Not a number of type INT"},
		{def: d("num.partitions"), in: "2147483648", err: "Invalid value 2147483648 for configuration num.partitions: Not a number of type INT"},
		{def: d("num.partitions"), in: "1_0", err: "Invalid value 1_0 for configuration num.partitions: Not a number of type INT"},
		{def: d("offsets.topic.replication.factor"), in: "40000", err: "Invalid value 40000 for configuration offsets.topic.replication.factor: Not a number of type SHORT"},
		{def: d("log.retention.bytes"), in: "-1", want: int64(-1)},
		{def: d("log.retention.bytes"), in: "1e9", err: "Invalid value 1e9 for configuration log.retention.bytes: Not a number of type LONG"},
		{def: d("auto.create.topics.enable"), in: "TRUE", want: true},
		{def: d("auto.create.topics.enable"), in: "yes", err: "Invalid value yes for configuration auto.create.topics.enable: Expected value to be either true or false"},
		{def: d("log.cleaner.min.cleanable.ratio"), in: "0.25", want: 0.25},
		{def: d("log.cleaner.min.cleanable.ratio"), in: "1.5", err: "Invalid value 1.5 for configuration log.cleaner.min.cleanable.ratio: Value must be no more than 1"},
		{def: d("log.cleaner.min.cleanable.ratio"), in: "x", err: "Invalid value x for configuration log.cleaner.min.cleanable.ratio: Not a number of type DOUBLE"},
		{def: d("log.cleanup.policy"), in: "compact, delete", want: []string{"compact", "delete"}},
		{def: d("log.cleanup.policy"), in: "", want: []string{}},
		{def: d("log.cleanup.policy"), in: "compact,foo", err: "Invalid value foo for configuration log.cleanup.policy: String must be one of: compact, delete"},
		{def: d("compression.type"), in: "brotli", err: "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"},
		{def: d("compression.gzip.level"), in: "-1", want: int32(-1)},
		{def: d("compression.gzip.level"), in: "0", err: "Invalid value 0 for configuration compression.gzip.level: Value must be between 1 and 9 or equal to -1"},
		{def: d("compression.zstd.level"), in: "23", err: "Invalid value 23 for configuration compression.zstd.level: Value must be no more than 22"},
		{def: d("log.message.timestamp.type"), in: "createtime", err: "Invalid value createtime for configuration log.message.timestamp.type: String must be one of: CreateTime, LogAppendTime"},
		{def: d("broker.rack"), in: "  r1 ", want: "r1"},
		{def: d("process.roles"), in: "broker,", err: "Invalid value  for configuration process.roles: String must be one of: broker, controller"},
	}
	for _, tt := range tests {
		got, err := tt.def.Parse(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s.Parse(%q) error = %v\nwant %s", tt.def.Name, tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s.Parse(%q): %v", tt.def.Name, tt.in, err)
			continue
		}
		if l, ok := tt.want.([]string); ok {
			if !slices.Equal(got.([]string), l) {
				t.Errorf("%s.Parse(%q) = %v, want %v", tt.def.Name, tt.in, got, tt.want)
			}
		} else if got != tt.want {
			t.Errorf("%s.Parse(%q) = %#v, want %#v", tt.def.Name, tt.in, got, tt.want)
		}
	}
}

func TestThrottledReplicasValidator(t *testing.T) {
	d, _ := LookupTopicConfig("leader.replication.throttled.replicas")
	for _, ok := range []string{"", "*", "0:1", "0:1, 1:2", " * "} {
		if _, err := d.Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
	_, err := d.Parse("0:1,x")
	want := "Invalid value [0:1, x] for configuration leader.replication.throttled.replicas: leader.replication.throttled.replicas must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."
	if err == nil || err.Error() != want {
		t.Errorf("Parse(0:1,x) error = %v\nwant %s", err, want)
	}
}

func TestClosest(t *testing.T) {
	names := BrokerConfigNames()
	tests := []struct{ in, want string }{
		{"lgo.dirs", "log.dirs"},
		{"log.dris", "log.dirs"},
		{"num.partition", "num.partitions"},
		{"log.retention.hour", "log.retention.hours"},
		{"zookeeper.connect", ""},
		{"sasl.kerberos.service.name", ""},
	}
	for _, tt := range tests {
		if got := closest(tt.in, names); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{TypeInt.String(), "INT"}, {TypeShort.String(), "SHORT"}, {TypePassword.String(), "PASSWORD"}, {Type(42).String(), "UNKNOWN"},
		{High.String(), "high"}, {Medium.String(), "medium"}, {Low.String(), "low"},
		{ReadOnly.String(), "read-only"}, {PerBroker.String(), "per-broker"}, {ClusterWide.String(), "cluster-wide"},
		{SourceDynamicTopic.String(), "DYNAMIC_TOPIC_CONFIG"}, {SourceDefault.String(), "DEFAULT_CONFIG"}, {ConfigSource(0).String(), "UNKNOWN"},
		{Listener{Name: "PLAINTEXT", Host: "::1", Port: 9092}.String(), "PLAINTEXT://[::1]:9092"},
		{Listener{Name: "PLAINTEXT", Host: "::1", Port: 9092}.Addr(), "[::1]:9092"},
		{Listener{Name: "CONTROLLER", Port: 9093}.String(), "CONTROLLER://:9093"},
		{QuorumVoter{ID: 1, Host: "h", Port: 9093}.Addr(), "h:9093"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	// Kafka's ConfigType and ConfigSource ids go on the wire unchanged.
	if TypeBoolean != 1 || TypeString != 2 || TypeInt != 3 || TypeShort != 4 || TypeLong != 5 || TypeDouble != 6 ||
		TypeList != 7 || TypeClass != 8 || TypePassword != 9 {
		t.Error("ConfigType ids differ from Kafka's")
	}
	if SourceDynamicTopic != 1 || SourceDynamicBroker != 2 || SourceDynamicDefaultBroker != 3 || SourceStaticBroker != 4 || SourceDefault != 5 {
		t.Error("ConfigSource ids differ from Kafka's")
	}
	rt, _ := LookupTopicConfig("retention.ms")
	lt, _ := LookupTopicConfig("leader.replication.throttled.replicas")
	if rt.ServerDefaultProperty() != "log.retention.ms" || lt.ServerDefaultProperty() != "" {
		t.Errorf("ServerDefaultProperty: %q %q", rt.ServerDefaultProperty(), lt.ServerDefaultProperty())
	}
}
