package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// synString formats synonyms compactly: "SOURCE:name=value".
func synString(ss []Synonym) string {
	var parts []string
	for _, s := range ss {
		v := "null"
		if s.Value != nil {
			v = *s.Value
		}
		parts = append(parts, fmt.Sprintf("%s:%s=%s", s.Source, s.Name, v))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func entryString(e ConfigEntry) string {
	v := "null"
	if e.Value != nil {
		v = *e.Value
	}
	return fmt.Sprintf("%s=%s %s ro=%v synonyms=%s", e.Name, v, e.Source, e.ReadOnly, synString(e.Synonyms))
}

func find(t *testing.T, entries []ConfigEntry, name string) ConfigEntry {
	t.Helper()
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", name)
	return ConfigEntry{}
}

func checkEntries(t *testing.T, entries []ConfigEntry, want map[string]string) {
	t.Helper()
	for _, name := range sortedKeys(want) {
		if got := entryString(find(t, entries, name)); got != want[name] {
			t.Errorf("got  %s\nwant %s", got, want[name])
		}
	}
}

// Reference: ConfigHelper.createTopicConfigEntry and configSynonyms.
func TestDescribeTopicConfigSources(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.segment.bytes": "536870912", "log.retention.hours": "24"})
	entries := b.DescribeTopicConfig(map[string]string{"cleanup.policy": "compact", "retention.ms": " 1000", "segment.ms": "60000"})
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name
		if e.ReadOnly || e.Documentation == "" || e.Type == TypeUnknown || e.Sensitive {
			t.Errorf("%s: ro %v type %v sensitive %v doc %q", e.Name, e.ReadOnly, e.Type, e.Sensitive, e.Documentation)
		}
	}
	if !slices.Equal(names, TopicConfigNames()) {
		t.Errorf("entry names = %v", names)
	}
	checkEntries(t, entries, map[string]string{
		"cleanup.policy": "cleanup.policy=compact DYNAMIC_TOPIC_CONFIG ro=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact, DEFAULT_CONFIG:log.cleanup.policy=delete}",
		// The override value is normalised; the broker synonyms are
		// dropped because log.retention.ms itself is set nowhere.
		"retention.ms":                          "retention.ms=1000 DYNAMIC_TOPIC_CONFIG ro=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}",
		"segment.ms":                            "segment.ms=60000 DYNAMIC_TOPIC_CONFIG ro=false synonyms={DYNAMIC_TOPIC_CONFIG:segment.ms=60000}",
		"segment.bytes":                         "segment.bytes=536870912 STATIC_BROKER_CONFIG ro=false synonyms={STATIC_BROKER_CONFIG:log.segment.bytes=536870912, DEFAULT_CONFIG:log.segment.bytes=1073741824}",
		"max.message.bytes":                     "max.message.bytes=1048588 DEFAULT_CONFIG ro=false synonyms={DEFAULT_CONFIG:message.max.bytes=1048588}",
		"min.cleanable.dirty.ratio":             "min.cleanable.dirty.ratio=0.5 DEFAULT_CONFIG ro=false synonyms={DEFAULT_CONFIG:log.cleaner.min.cleanable.ratio=0.5}",
		"flush.ms":                              "flush.ms=9223372036854775807 DEFAULT_CONFIG ro=false synonyms={}",
		"leader.replication.throttled.replicas": "leader.replication.throttled.replicas= DEFAULT_CONFIG ro=false synonyms={}",
		"remote.storage.enable":                 "remote.storage.enable=false DEFAULT_CONFIG ro=false synonyms={}",
		"unclean.leader.election.enable":        "unclean.leader.election.enable=false DEFAULT_CONFIG ro=false synonyms={DEFAULT_CONFIG:unclean.leader.election.enable=false}",
	})
	if e := find(t, entries, "cleanup.policy"); e.Type != TypeList {
		t.Errorf("cleanup.policy type %v", e.Type)
	}

	// Without an override, retention.ms is the broker's effective value,
	// but its source is DEFAULT_CONFIG with no synonyms, as in Kafka,
	// because only log.retention.hours is set.
	entries = b.DescribeTopicConfig(nil)
	checkEntries(t, entries, map[string]string{
		"retention.ms":   "retention.ms=86400000 DEFAULT_CONFIG ro=false synonyms={}",
		"cleanup.policy": "cleanup.policy=delete DEFAULT_CONFIG ro=false synonyms={DEFAULT_CONFIG:log.cleanup.policy=delete}",
	})

	// With log.retention.ms set statically, every retention synonym is
	// listed: by layer, then by priority within the layer.
	b = mustBroker(t, map[string]string{"log.retention.ms": "1000", "log.retention.hours": "24"})
	checkEntries(t, b.DescribeTopicConfig(nil), map[string]string{
		"retention.ms": "retention.ms=1000 STATIC_BROKER_CONFIG ro=false synonyms={STATIC_BROKER_CONFIG:log.retention.ms=1000, STATIC_BROKER_CONFIG:log.retention.hours=24, DEFAULT_CONFIG:log.retention.hours=168}",
	})
	// An override is prepended to that chain, not substituted for it.
	checkEntries(t, b.DescribeTopicConfig(map[string]string{"retention.ms": "5000"}), map[string]string{
		"retention.ms": "retention.ms=5000 DYNAMIC_TOPIC_CONFIG ro=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=5000, STATIC_BROKER_CONFIG:log.retention.ms=1000, STATIC_BROKER_CONFIG:log.retention.hours=24, DEFAULT_CONFIG:log.retention.hours=168}",
	})
}

func TestDescribeTopicConfigDynamic(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.segment.bytes": "536870912", "log.retention.hours": "24"})
	b, err := b.WithDynamic(
		map[string]string{"log.retention.ms": "5000", "log.segment.bytes": "2097152"},
		map[string]string{"log.retention.ms": "6000", "compression.type": "lz4"})
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, b.DescribeTopicConfig(map[string]string{"compression.type": "zstd"}), map[string]string{
		"retention.ms":     "retention.ms=5000 DYNAMIC_BROKER_CONFIG ro=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=5000, DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=6000, STATIC_BROKER_CONFIG:log.retention.hours=24, DEFAULT_CONFIG:log.retention.hours=168}",
		"segment.bytes":    "segment.bytes=2097152 DYNAMIC_BROKER_CONFIG ro=false synonyms={DYNAMIC_BROKER_CONFIG:log.segment.bytes=2097152, STATIC_BROKER_CONFIG:log.segment.bytes=536870912, DEFAULT_CONFIG:log.segment.bytes=1073741824}",
		"compression.type": "compression.type=zstd DYNAMIC_TOPIC_CONFIG ro=false synonyms={DYNAMIC_TOPIC_CONFIG:compression.type=zstd, DYNAMIC_DEFAULT_BROKER_CONFIG:compression.type=lz4, DEFAULT_CONFIG:compression.type=producer}",
	})
}

// Reference: ConfigHelper.createBrokerConfigEntry.
func TestDescribeBrokerConfig(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.retention.hours": "24", "num.partitions": " 3 ", "log.dirs": "/d1,/d2"})
	entries := b.DescribeBrokerConfig(nil)
	if len(entries) != len(BrokerConfigNames()) {
		t.Errorf("%d entries, want %d", len(entries), len(BrokerConfigNames()))
	}
	checkEntries(t, entries, map[string]string{
		"log.retention.ms":    "log.retention.ms=null DEFAULT_CONFIG ro=false synonyms={}",
		"log.retention.hours": "log.retention.hours=24 STATIC_BROKER_CONFIG ro=true synonyms={STATIC_BROKER_CONFIG:log.retention.hours=24, DEFAULT_CONFIG:log.retention.hours=168}",
		// Values are normalised; synonyms keep the text as given.
		"num.partitions":                      "num.partitions=3 STATIC_BROKER_CONFIG ro=true synonyms={STATIC_BROKER_CONFIG:num.partitions= 3 , DEFAULT_CONFIG:num.partitions=1}",
		"log.dirs":                            "log.dirs=/d1,/d2 STATIC_BROKER_CONFIG ro=true synonyms={STATIC_BROKER_CONFIG:log.dirs=/d1,/d2}",
		"log.dir":                             "log.dir=/tmp/kafka-logs DEFAULT_CONFIG ro=true synonyms={DEFAULT_CONFIG:log.dir=/tmp/kafka-logs}",
		"listeners":                           "listeners=PLAINTEXT://localhost:9092 DEFAULT_CONFIG ro=false synonyms={DEFAULT_CONFIG:listeners=PLAINTEXT://localhost:9092}",
		"broker.rack":                         "broker.rack=null DEFAULT_CONFIG ro=true synonyms={}",
		"message.max.bytes":                   "message.max.bytes=1048588 DEFAULT_CONFIG ro=false synonyms={DEFAULT_CONFIG:message.max.bytes=1048588}",
		"log.cleaner.io.max.bytes.per.second": "log.cleaner.io.max.bytes.per.second=1.7976931348623157E308 DEFAULT_CONFIG ro=false synonyms={DEFAULT_CONFIG:log.cleaner.io.max.bytes.per.second=1.7976931348623157E308}",
	})
	if e := find(t, entries, "num.partitions"); e.Type != TypeInt || e.Documentation == "" {
		t.Errorf("num.partitions type %v doc %q", e.Type, e.Documentation)
	}
	if e := find(t, entries, "offsets.topic.replication.factor"); e.Type != TypeShort {
		t.Errorf("offsets.topic.replication.factor type %v", e.Type)
	}

	// A per-broker dynamic layer passed in.
	checkEntries(t, b.DescribeBrokerConfig(map[string]string{"num.io.threads": " 16", "log.retention.ms": "100"}), map[string]string{
		"num.io.threads":      "num.io.threads=16 DYNAMIC_BROKER_CONFIG ro=false synonyms={DYNAMIC_BROKER_CONFIG:num.io.threads= 16, DEFAULT_CONFIG:num.io.threads=8}",
		"log.retention.ms":    "log.retention.ms=100 DYNAMIC_BROKER_CONFIG ro=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=100, STATIC_BROKER_CONFIG:log.retention.hours=24, DEFAULT_CONFIG:log.retention.hours=168}",
		"log.retention.hours": "log.retention.hours=24 STATIC_BROKER_CONFIG ro=true synonyms={STATIC_BROKER_CONFIG:log.retention.hours=24, DEFAULT_CONFIG:log.retention.hours=168}",
	})
}

func TestDescribeBrokerDefaultConfig(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.retention.hours": "24"})
	if got := b.DescribeBrokerDefaultConfig(); len(got) != 0 {
		t.Errorf("no dynamic defaults, got %v", got)
	}
	b, err := b.WithDynamic(map[string]string{"log.retention.ms": "5"}, map[string]string{"log.retention.ms": "6", "num.io.threads": "4"})
	if err != nil {
		t.Fatal(err)
	}
	got := b.DescribeBrokerDefaultConfig()
	var lines []string
	for _, e := range got {
		lines = append(lines, entryString(e))
	}
	want := []string{
		"log.retention.ms=6 DYNAMIC_DEFAULT_BROKER_CONFIG ro=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=6}",
		"num.io.threads=4 DYNAMIC_DEFAULT_BROKER_CONFIG ro=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:num.io.threads=4}",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("got  %q\nwant %q", lines, want)
	}
	// The broker's own view uses the layers it was built with.
	checkEntries(t, b.DescribeBrokerConfig(nil), map[string]string{
		"num.io.threads": "num.io.threads=4 DYNAMIC_DEFAULT_BROKER_CONFIG ro=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:num.io.threads=4, DEFAULT_CONFIG:num.io.threads=8}",
	})
}

// Reference: DynamicBrokerConfig.validateConfigs.
func TestValidateBrokerDynamic(t *testing.T) {
	tests := []struct {
		name, value string
		def         bool // cluster-default level
		kind        error
		want        string
	}{
		{"num.io.threads", "16", false, nil, ""},
		{"num.io.threads", "16", true, nil, ""},
		{"listeners", "PLAINTEXT://:9092", false, nil, ""},
		{"log.retention.ms", "1000", true, nil, ""},
		{"log.dirs", "/x", false, ErrNotDynamic, "Cannot update these configs dynamically: Set(log.dirs)"},
		{"log.retention.hours", "1", false, ErrNotDynamic, "Cannot update these configs dynamically: Set(log.retention.hours)"},
		{"node.id", "3", true, ErrNotDynamic, "Cannot update these configs dynamically: Set(node.id)"},
		{"listeners", "PLAINTEXT://:9092", true, ErrNotDynamic, "Cannot update these configs at default cluster level, broker id must be specified: Set(listeners)"},
		{"num.io.threads", "0", false, ErrInvalidValue, "Invalid value 0 for configuration num.io.threads: Value must be at least 1"},
		{"num.io.thread", "1", false, ErrUnknownConfig, "Unknown broker config name: num.io.thread (did you mean num.io.threads?)"},
	}
	for _, tt := range tests {
		validate := ValidateBrokerDynamic
		if tt.def {
			validate = ValidateBrokerDynamicDefault
		}
		err := validate(tt.name, tt.value)
		if tt.kind == nil {
			if err != nil {
				t.Errorf("validate(%s=%s, default=%v): %v", tt.name, tt.value, tt.def, err)
			}
			continue
		}
		if !errors.Is(err, tt.kind) || err.Error() != tt.want {
			t.Errorf("validate(%s=%s, default=%v) = %v\nwant %s", tt.name, tt.value, tt.def, err, tt.want)
		}
	}
}

func TestWithDynamic(t *testing.T) {
	b := mustBroker(t, map[string]string{"num.io.threads": "4", "message.max.bytes": "2000"})
	nb, err := b.WithDynamic(map[string]string{"num.io.threads": "16"}, map[string]string{"num.io.threads": "12", "message.max.bytes": "3000"})
	if err != nil {
		t.Fatal(err)
	}
	if nb.NumIOThreads != 16 || nb.MessageMaxBytes != 3000 {
		t.Errorf("io %d max %d", nb.NumIOThreads, nb.MessageMaxBytes)
	}
	if b.NumIOThreads != 4 || b.MessageMaxBytes != 2000 {
		t.Errorf("original changed: io %d max %d", b.NumIOThreads, b.MessageMaxBytes)
	}
	if !maps.Equal(nb.Raw(), b.Raw()) {
		t.Errorf("Raw() changed: %v", nb.Raw())
	}
	per, def := nb.Dynamic()
	if per["num.io.threads"] != "16" || def["message.max.bytes"] != "3000" {
		t.Errorf("Dynamic() = %v, %v", per, def)
	}

	_, err = b.WithDynamic(map[string]string{"log.dirs": "/x", "num.io.threads": "0"}, map[string]string{"listeners": "PLAINTEXT://:1"})
	if !errors.Is(err, ErrNotDynamic) || !errors.Is(err, ErrInvalidValue) {
		t.Errorf("WithDynamic error = %v", err)
	}
	// Cross-config rules apply to the combined result.
	_, err = b.WithDynamic(map[string]string{"log.cleaner.dedupe.buffer.size": "100"}, nil)
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("WithDynamic dedupe buffer: %v", err)
	}
}
