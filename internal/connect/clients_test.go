package connect

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func testWorkerConfig(t *testing.T, extra map[string]string) *Config {
	t.Helper()
	props := withProps(map[string]string{
		BootstrapServersConfig:  "127.0.0.1:1",
		KeyConverterConfig:      "org.apache.kafka.connect.json.JsonConverter",
		ValueConverterConfig:    "org.apache.kafka.connect.json.JsonConverter",
		OffsetStorageFileConfig: "/unused/connect.offsets",
	}, extra)
	cfg, err := ParseConfig(props)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A task client's settings: the worker's security settings, the
// worker's prefixed settings over them, the connector's overrides over
// both; the worker's other settings reach only the admin client (as
// Kafka's Worker.adminConfigs).
func TestTaskClientProps(t *testing.T) {
	workerJAAS, producerJAAS := plainJAAS("connect", "connect-secret"), plainJAAS("producer", "producer-secret")
	cfg := testWorkerConfig(t, map[string]string{
		"security.protocol":         "SASL_SSL",
		"sasl.mechanism":            "PLAIN",
		"sasl.jaas.config":          workerJAAS,
		"ssl.truststore.type":       "PEM",
		"request.timeout.ms":        "20000",
		"producer.sasl.jaas.config": producerJAAS,
		"producer.linger.ms":        "5",
		"consumer.max.poll.records": "10",
		"admin.retries":             "3",
	})
	conn := map[string]string{
		"producer.override.linger.ms":         "7",
		"producer.override.compression.type":  "gzip",
		"consumer.override.auto.offset.reset": "latest",
		"admin.override.sasl.mechanism":       "SCRAM-SHA-512",
	}
	security := map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.jaas.config": workerJAAS, "ssl.truststore.type": "PEM"}
	for _, c := range []struct {
		kind clientKind
		conn map[string]string
		want map[string]string
	}{
		{producerClient, nil, withProps(security, map[string]string{"sasl.jaas.config": producerJAAS, "linger.ms": "5"})},
		{producerClient, conn, withProps(security, map[string]string{"sasl.jaas.config": producerJAAS, "linger.ms": "7", "compression.type": "gzip"})},
		{consumerClient, conn, withProps(security, map[string]string{"max.poll.records": "10", "auto.offset.reset": "latest"})},
		{adminClient, conn, withProps(security, map[string]string{"request.timeout.ms": "20000", "retries": "3", "sasl.mechanism": "SCRAM-SHA-512",
			KeyConverterConfig: "org.apache.kafka.connect.json.JsonConverter", ValueConverterConfig: "org.apache.kafka.connect.json.JsonConverter",
			OffsetStorageFileConfig: "/unused/connect.offsets"})},
	} {
		got, err := cfg.taskClientProps(c.kind, c.conn)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v with %v:\n got %v\nwant %v", c.kind.role, c.conn, got, c.want)
		}
	}
}

// KIP-458's policies: None refuses every override, Principal allows
// security.protocol, sasl.mechanism and sasl.jaas.config, All (the
// default) everything; the refusal is Kafka's message on the override's
// key, and an allowed override with a bad value gets the client's error.
func TestClientOverridePolicy(t *testing.T) {
	source := map[string]string{
		"name": "s", "connector.class": "FileStreamSource", "topic": "t", "file": "/dev/null",
		"producer.override.compression.type":  "gzip",
		"producer.override.sasl.jaas.config":  "jaas",
		"consumer.override.auto.offset.reset": "latest", // not a source's client: not checked
	}
	errorsOf := func(infos *ConfigInfos) map[string][]string {
		out := map[string][]string{}
		for _, c := range infos.Configs {
			if c.Value != nil && len(c.Value.Errors) > 0 {
				out[c.Value.Name] = c.Value.Errors
			}
		}
		return out
	}
	for _, c := range []struct {
		policy string
		want   map[string][]string
	}{
		{"None", map[string][]string{
			"producer.override.compression.type": {"The 'None' policy does not allow 'compression.type' to be overridden in the connector configuration."},
			"producer.override.sasl.jaas.config": {"The 'None' policy does not allow 'sasl.jaas.config' to be overridden in the connector configuration."},
		}},
		{"org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy", map[string][]string{
			"producer.override.compression.type": {"The 'Principal' policy does not allow 'compression.type' to be overridden in the connector configuration."},
		}},
		{"All", map[string][]string{}},
		{"", map[string][]string{}}, // the default
	} {
		extra := map[string]string{}
		if c.policy != "" {
			extra[ClientOverridePolicyConfig] = c.policy
		}
		cfg := testWorkerConfig(t, extra)
		infos, err := cfg.validateConnector(source, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := errorsOf(infos); !reflect.DeepEqual(got, c.want) {
			t.Errorf("policy %q: errors %v, want %v", c.policy, got, c.want)
		}
		if infos.ErrorCount != len(c.want) {
			t.Errorf("policy %q: error count %d", c.policy, infos.ErrorCount)
		}
		err = configErrors(infos)
		if len(c.want) > 0 && (err == nil || !strings.Contains(err.Error(), "Connector configuration is invalid and contains the following "+strconv.Itoa(len(c.want))+" error(s):")) {
			t.Errorf("policy %q: %v", c.policy, err)
		}
		// A task whose configuration got past validation (an older
		// worker wrote it) is refused too.
		if _, err := cfg.taskClientProps(producerClient, source); (err != nil) != (len(c.want) > 0) {
			t.Errorf("policy %q: task client: %v", c.policy, err)
		}
	}

	cfg := testWorkerConfig(t, nil)
	bad := withProps(source, map[string]string{"producer.override.compression.type": "brotli"})
	infos, err := cfg.validateConnector(bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"producer.override.compression.type": {"Invalid value brotli for configuration compression.type: String must be one of: none, gzip, snappy, lz4, zstd"}}
	if got := errorsOf(infos); !reflect.DeepEqual(got, want) {
		t.Errorf("bad override value: %v", got)
	}
	// A sink's consumer and dead letter queue producer are checked.
	sink := map[string]string{"name": "k", "connector.class": "FileStreamSink", "topics": "t", "file": "/dev/null",
		"consumer.override.max.poll.records": "0", "producer.override.acks": "2"}
	infos, err = cfg.validateConnector(sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string][]string{
		"consumer.override.max.poll.records": {"Invalid value 0 for configuration max.poll.records: Value must be at least 1"},
		"producer.override.acks":             {"Invalid value 2 for configuration acks: String must be one of: all, -1, 0, 1"},
	}
	if got := errorsOf(infos); !reflect.DeepEqual(got, want) {
		t.Errorf("sink overrides: %v", got)
	}
}

// The worker's client settings are checked when the worker starts.
func TestWorkerClientSettingsChecked(t *testing.T) {
	base := map[string]string{
		BootstrapServersConfig:  "127.0.0.1:1",
		KeyConverterConfig:      "org.apache.kafka.connect.json.JsonConverter",
		ValueConverterConfig:    "org.apache.kafka.connect.json.JsonConverter",
		OffsetStorageFileConfig: "/unused/connect.offsets",
	}
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"security.protocol": "KERBEROS"}, "Invalid value KERBEROS for configuration security.protocol"},
		{map[string]string{"producer.acks": "2"}, "producer.*: Invalid value 2 for configuration acks"},
		{map[string]string{"consumer.isolation.level": "x"}, "consumer.*: Invalid value x for configuration isolation.level"},
		{map[string]string{"consumer.max.poll.records": "-1"}, "consumer.*: Invalid value -1 for configuration max.poll.records"},
		{map[string]string{"admin.request.timeout.ms": "soon"}, "admin.*: Invalid value soon for configuration request.timeout.ms"},
		{map[string]string{ClientOverridePolicyConfig: "Some"}, "Invalid value Some for configuration connector.client.config.override.policy: Class Some could not be found."},
	} {
		_, err := ParseConfig(withProps(base, c.props))
		if err == nil || !errors.Is(err, ErrWorkerConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.props, err, c.want)
		}
	}
	cfg, err := ParseConfig(withProps(base, map[string]string{ClientOverridePolicyConfig: "NoneConnectorClientConfigOverridePolicy"}))
	if err != nil || cfg.OverridePolicy != PolicyNone {
		t.Errorf("policy by simple class name: %v %v", cfg, err)
	}
	if cfg, _ := ParseConfig(base); cfg.OverridePolicy != PolicyAll {
		t.Errorf("default policy %q, want All (Kafka 3.0+)", cfg.OverridePolicy)
	}
}
