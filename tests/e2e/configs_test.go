package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

type describedConfig = kmsg.DescribeConfigsResponseResourceConfig

// describe sends DescribeConfigs v4 with synonyms and documentation for
// one resource and returns its error and configs by name.
func (e *env) describe(typ kmsg.ConfigResourceType, name string, only ...string) (int16, map[string]describedConfig) {
	e.t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms, req.IncludeDocumentation = true, true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	rr.ConfigNames = only
	req.Resources = append(req.Resources, rr)
	resp := request[*kmsg.DescribeConfigsResponse](e.t, e.ctx, e.cl, req)
	if len(resp.Resources) != 1 {
		e.t.Fatalf("DescribeConfigs answered %d resources", len(resp.Resources))
	}
	out := map[string]describedConfig{}
	for _, c := range resp.Resources[0].Configs {
		out[c.Name] = c
	}
	return resp.Resources[0].ErrorCode, out
}

// topicConfig describes one config of a topic and fails if it is absent.
func (e *env) topicConfig(topic, name string) describedConfig {
	e.t.Helper()
	code, cs := e.describe(kmsg.ConfigResourceTypeTopic, topic)
	if code != 0 {
		e.t.Fatalf("describe %s: %v", topic, codeErr(code))
	}
	c, ok := cs[name]
	if !ok {
		e.t.Fatalf("topic %s has no config %s", topic, name)
	}
	return c
}

func val(c describedConfig) string {
	if c.Value == nil {
		return "<null>"
	}
	return *c.Value
}

// wantConfig checks a described config's value and source.
func wantConfig(t *testing.T, what string, c describedConfig, value string, source kmsg.ConfigSource) {
	t.Helper()
	if val(c) != value || c.Source != source {
		t.Errorf("%s: %s=%s (source %v), want %s (source %v)", what, c.Name, val(c), c.Source, value, source)
	}
}

func synonyms(c describedConfig) string {
	var parts []string
	for _, s := range c.ConfigSynonyms {
		v := "<null>"
		if s.Value != nil {
			v = *s.Value
		}
		parts = append(parts, fmt.Sprintf("%s=%s(%v)", s.Name, v, s.Source))
	}
	return strings.Join(parts, " ")
}

// TestDescribeConfigs checks DescribeConfigs v4 on topics and brokers:
// values, sources and synonyms in order of precedence (KIP-226), config
// types and documentation (KIP-569), name filters, read-only broker
// configs, and the errors for an unknown topic and another broker's id
// (ConfigHelper: "Unexpected broker id" → INVALID_REQUEST).
func TestDescribeConfigs(t *testing.T) {
	t.Parallel()
	e := start(t, kafkatest.Config("log.retention.check.interval.ms", "1234"))
	e.createTopic("dc", 1, map[string]*string{"retention.ms": str("1000")})

	code, cs := e.describe(kmsg.ConfigResourceTypeTopic, "dc")
	wantCode(t, "describe dc", code, nil)
	ret := cs["retention.ms"]
	wantConfig(t, "override", ret, "1000", kmsg.ConfigSourceDynamicTopicConfig)
	if len(ret.ConfigSynonyms) == 0 || ret.ConfigSynonyms[0].Name != "retention.ms" {
		t.Errorf("retention.ms synonyms: %s", synonyms(ret))
	}
	if got := synonyms(cs["segment.bytes"]); got != "log.segment.bytes=1073741824(DEFAULT_CONFIG)" {
		t.Errorf("segment.bytes synonyms: %s", got)
	}
	if ret.ConfigType != kmsg.ConfigTypeLong || ret.Documentation == nil || *ret.Documentation == "" || ret.ReadOnly || ret.IsSensitive {
		t.Errorf("retention.ms: type %v, documentation %v, read-only %v, sensitive %v", ret.ConfigType, ret.Documentation != nil, ret.ReadOnly, ret.IsSensitive)
	}
	wantConfig(t, "default", cs["segment.bytes"], "1073741824", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, "default", cs["cleanup.policy"], "delete", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, "default", cs["compression.type"], "producer", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, "default", cs["max.message.bytes"], "1048588", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, "default", cs["min.insync.replicas"], "1", kmsg.ConfigSourceDefaultConfig)
	for name, typ := range map[string]kmsg.ConfigType{
		"segment.bytes":                  kmsg.ConfigTypeInt,
		"cleanup.policy":                 kmsg.ConfigTypeList,
		"compression.type":               kmsg.ConfigTypeString,
		"unclean.leader.election.enable": kmsg.ConfigTypeBoolean,
		"min.cleanable.dirty.ratio":      kmsg.ConfigTypeDouble,
	} {
		if cs[name].ConfigType != typ {
			t.Errorf("%s has type %v, want %v", name, cs[name].ConfigType, typ)
		}
	}

	// A name filter returns only the names that exist.
	_, only := e.describe(kmsg.ConfigResourceTypeTopic, "dc", "retention.ms", "no.such.config")
	if len(only) != 1 || val(only["retention.ms"]) != "1000" {
		t.Errorf("filtered describe returned %v", keys(only))
	}

	// Without documentation or synonyms requested, none come back.
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, "dc", []string{"retention.ms"}
	req.Resources = append(req.Resources, rr)
	plain := request[*kmsg.DescribeConfigsResponse](t, e.ctx, e.cl, req)
	if c := plain.Resources[0].Configs[0]; c.Documentation != nil || len(c.ConfigSynonyms) != 0 {
		t.Errorf("undocumented describe: documentation %v, %d synonyms", c.Documentation != nil, len(c.ConfigSynonyms))
	}

	code, _ = e.describe(kmsg.ConfigResourceTypeTopic, "nope")
	wantCode(t, "unknown topic", code, kerr.UnknownTopicOrPartition)

	code, bs := e.describe(kmsg.ConfigResourceTypeBroker, "1")
	wantCode(t, "describe broker 1", code, nil)
	wantConfig(t, "static", bs["log.retention.check.interval.ms"], "1234", kmsg.ConfigSourceStaticBrokerConfig)
	wantConfig(t, "default", bs["log.retention.hours"], "168", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, "default", bs["num.partitions"], "1", kmsg.ConfigSourceDefaultConfig)
	if !bs["node.id"].ReadOnly || bs["log.retention.ms"].ReadOnly {
		t.Errorf("read-only: node.id %v (want true), log.retention.ms %v (want false)", bs["node.id"].ReadOnly, bs["log.retention.ms"].ReadOnly)
	}
	if got := synonyms(bs["log.retention.check.interval.ms"]); got != "log.retention.check.interval.ms=1234(STATIC_BROKER_CONFIG) log.retention.check.interval.ms=300000(DEFAULT_CONFIG)" {
		t.Errorf("log.retention.check.interval.ms synonyms: %s", got)
	}

	raw, err := dialRaw(t, e.c.Addr()).roundTrip(func() kmsg.Request {
		r := kmsg.NewPtrDescribeConfigsRequest()
		r.Version = 4
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "2"
		r.Resources = append(r.Resources, rr)
		return r
	}())
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "describe broker 2 on broker 1", raw.(*kmsg.DescribeConfigsResponse).Resources[0].ErrorCode, kerr.InvalidRequest)

	// The cluster default resource ("") lists only dynamic defaults:
	// none yet.
	code, defs := e.describe(kmsg.ConfigResourceTypeBroker, "")
	wantCode(t, "describe cluster defaults", code, nil)
	if len(defs) != 0 {
		t.Errorf("cluster defaults before any were set: %v", keys(defs))
	}
}

// TestDescribeConfigsOverrideSynonyms: the synonyms of a topic config
// with an override list the override first and then the broker configs
// it would fall back to (ConfigHelper.createTopicConfigEntry: the
// TOPIC_CONFIG synonym is prepended to configSynonyms(brokerSynonyms)).
// Broker synonyms with a null default are dropped (configSynonyms keeps
// entries from the first set one), so retention.ms lists only the
// override while cleanup.policy lists log.cleanup.policy's default too.
func TestDescribeConfigsOverrideSynonyms(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("syn", 1, map[string]*string{"retention.ms": str("1000"), "cleanup.policy": str("compact")})
	if got, want := synonyms(e.topicConfig("syn", "cleanup.policy")), "cleanup.policy=compact(DYNAMIC_TOPIC_CONFIG) log.cleanup.policy=delete(DEFAULT_CONFIG)"; got != want {
		t.Errorf("cleanup.policy synonyms: %s\nwant %s", got, want)
	}
	if got, want := synonyms(e.topicConfig("syn", "retention.ms")), "retention.ms=1000(DYNAMIC_TOPIC_CONFIG)"; got != want {
		t.Errorf("retention.ms synonyms: %s\nwant %s", got, want)
	}
}

// alterErr returns the first error of kadm alter responses.
func alterErr(rs kadm.AlterConfigsResponses, err error) error {
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// tooLarge reports whether producing a value of n bytes to topic fails
// with MESSAGE_TOO_LARGE (and fails the test on other errors).
func (e *env) tooLarge(cl *kgo.Client, topic string, n int) bool {
	e.t.Helper()
	err := cl.ProduceSync(e.ctx, &kgo.Record{Topic: topic, Value: make([]byte, n)}).FirstErr()
	switch {
	case err == nil:
		return false
	case errors.Is(err, kerr.MessageTooLarge):
		return true
	default:
		e.t.Fatalf("produce %d bytes to %s: %v", n, topic, err)
		return false
	}
}

// TestAlterConfigsTopic uses the legacy AlterConfigs (which replaces a
// topic's whole set of overrides) and IncrementalAlterConfigs (KIP-339:
// SET, DELETE, APPEND, SUBTRACT) on a topic, checking that described
// values change and that max.message.bytes takes effect on produce.
func TestAlterConfigsTopic(t *testing.T) {
	t.Parallel()
	e := start(t)
	pcl := e.client(kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(1))
	e.createTopic("ac", 1, map[string]*string{"retention.ms": str("1000")})

	// Legacy: set max.message.bytes; retention.ms, not named, goes.
	if err := alterErr(e.adm.AlterTopicConfigsState(e.ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: str("2000")}}, "ac")); err != nil {
		t.Fatalf("AlterConfigs: %v", err)
	}
	wantConfig(t, "after AlterConfigs", e.topicConfig("ac", "max.message.bytes"), "2000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "after AlterConfigs (not named)", e.topicConfig("ac", "retention.ms"), "604800000", kmsg.ConfigSourceDefaultConfig)
	if !e.tooLarge(pcl, "ac", 3000) {
		t.Error("3000-byte record accepted with max.message.bytes=2000")
	}

	// validate_only changes nothing.
	if err := alterErr(e.adm.ValidateAlterTopicConfigs(e.ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: str("9000")}}, "ac")); err != nil {
		t.Fatal(err)
	}
	wantConfig(t, "after validate-only", e.topicConfig("ac", "max.message.bytes"), "2000", kmsg.ConfigSourceDynamicTopicConfig)

	// Incremental SET keeps other overrides; DELETE reverts to default.
	if err := alterErr(e.adm.AlterTopicConfigs(e.ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: str("5000")}}, "ac")); err != nil {
		t.Fatal(err)
	}
	wantConfig(t, "incremental set", e.topicConfig("ac", "retention.ms"), "5000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "untouched by incremental set", e.topicConfig("ac", "max.message.bytes"), "2000", kmsg.ConfigSourceDynamicTopicConfig)
	if err := alterErr(e.adm.AlterTopicConfigs(e.ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "max.message.bytes"}}, "ac")); err != nil {
		t.Fatal(err)
	}
	wantConfig(t, "incremental delete", e.topicConfig("ac", "max.message.bytes"), "1048588", kmsg.ConfigSourceDefaultConfig)
	if e.tooLarge(pcl, "ac", 3000) {
		t.Error("3000-byte record refused after max.message.bytes was deleted")
	}

	// APPEND and SUBTRACT on a list config.
	for _, step := range []struct {
		op   kadm.IncrementalOp
		v    string
		want string
	}{
		{kadm.SetConfig, "delete", "delete"},
		{kadm.AppendConfig, "compact", "delete,compact"},
		{kadm.AppendConfig, "compact", "delete,compact"}, // already there
		{kadm.SubtractConfig, "delete", "compact"},
	} {
		if err := alterErr(e.adm.AlterTopicConfigs(e.ctx, []kadm.AlterConfig{{Op: step.op, Name: "cleanup.policy", Value: str(step.v)}}, "ac")); err != nil {
			t.Fatalf("%v %s: %v", step.op, step.v, err)
		}
		wantConfig(t, fmt.Sprintf("%v %s", step.op, step.v), e.topicConfig("ac", "cleanup.policy"), step.want, kmsg.ConfigSourceDynamicTopicConfig)
	}

	// Altered configs survive a restart and stay in force.
	if err := alterErr(e.adm.AlterTopicConfigs(e.ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: str("2000")}}, "ac")); err != nil {
		t.Fatal(err)
	}
	e.restart()
	wantConfig(t, "after restart", e.topicConfig("ac", "retention.ms"), "5000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "after restart", e.topicConfig("ac", "cleanup.policy"), "compact", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, "after restart", e.topicConfig("ac", "max.message.bytes"), "2000", kmsg.ConfigSourceDynamicTopicConfig)
	pcl = e.client(kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(1))
	err := pcl.ProduceSync(e.ctx, &kgo.Record{Topic: "ac", Key: []byte("k"), Value: make([]byte, 3000)}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("3000-byte record after restart with max.message.bytes=2000: %v", err)
	}
}

// TestIncrementalAlterConfigsAppendToDefault appends to a list config
// that has no override: Kafka appends to the config's default value
// (ConfigurationControlManager.getParts: a null value is replaced by
// configSchema.getDefault), so "compact" appended to the default
// cleanup.policy "delete" gives "delete,compact", and subtracting
// "compact" from the default gives "delete".
func TestIncrementalAlterConfigsAppendToDefault(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("app", 1, nil)
	e.createTopic("sub", 1, nil)
	if err := alterErr(e.adm.AlterTopicConfigs(e.ctx, []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: str("compact")}}, "app")); err != nil {
		t.Fatal(err)
	}
	wantConfig(t, "append to the default", e.topicConfig("app", "cleanup.policy"), "delete,compact", kmsg.ConfigSourceDynamicTopicConfig)
	if err := alterErr(e.adm.AlterTopicConfigs(e.ctx, []kadm.AlterConfig{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: str("compact")}}, "sub")); err != nil {
		t.Fatal(err)
	}
	wantConfig(t, "subtract from the default", e.topicConfig("sub", "cleanup.policy"), "delete", kmsg.ConfigSourceDynamicTopicConfig)
}

// TestAlterConfigsErrors: unknown config names and invalid values are
// INVALID_CONFIG, APPEND on a non-list config is INVALID_CONFIG
// (ConfigAdminManager: "Config value append is not allowed for config
// key"), an unknown topic is UNKNOWN_TOPIC_OR_PARTITION; nothing changes.
func TestAlterConfigsErrors(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("ae", 1, nil)
	for _, tc := range []struct {
		name  string
		topic string
		op    kadm.IncrementalOp
		key   string
		value string
		want  error
	}{
		{"unknown name", "ae", kadm.SetConfig, "no.such.config", "1", kerr.InvalidConfig},
		{"bad long", "ae", kadm.SetConfig, "retention.ms", "soon", kerr.InvalidConfig},
		{"below minimum", "ae", kadm.SetConfig, "segment.bytes", "100", kerr.InvalidConfig},
		{"bad enum", "ae", kadm.SetConfig, "compression.type", "brotli", kerr.InvalidConfig},
		{"append to a long", "ae", kadm.AppendConfig, "retention.ms", "5", kerr.InvalidConfig},
		{"unknown topic", "nope", kadm.SetConfig, "retention.ms", "5", kerr.UnknownTopicOrPartition},
	} {
		err := alterErr(e.adm.AlterTopicConfigs(e.ctx, []kadm.AlterConfig{{Op: tc.op, Name: tc.key, Value: str(tc.value)}}, tc.topic))
		if !errorsIs(err, tc.want) {
			t.Errorf("incremental %s: %v, want %v", tc.name, err, tc.want)
		}
		if tc.op == kadm.SetConfig {
			err = alterErr(e.adm.AlterTopicConfigsState(e.ctx, []kadm.AlterConfig{{Name: tc.key, Value: str(tc.value)}}, tc.topic))
			if !errorsIs(err, tc.want) {
				t.Errorf("legacy %s: %v, want %v", tc.name, err, tc.want)
			}
		}
	}
	_, cs := e.describe(kmsg.ConfigResourceTypeTopic, "ae")
	for name, c := range cs {
		if c.Source != kmsg.ConfigSourceDefaultConfig {
			t.Errorf("after refused alters %s=%s has source %v", name, val(c), c.Source)
		}
	}
}

// TestAlterConfigsBroker sets cluster-wide dynamic defaults (resource
// name "") and per-broker dynamic configs (resource "1") with both
// AlterConfigs APIs (KIP-226): topics without overrides inherit them with
// the right source and synonyms, message.max.bytes takes effect on
// produce, and everything survives a restart.
func TestAlterConfigsBroker(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("bc", 1, nil)
	e.createTopic("bc-own", 1, map[string]*string{"retention.ms": str("1000")})

	if err := alterErr(e.adm.AlterBrokerConfigs(e.ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "log.retention.ms", Value: str("3600000")},
		{Op: kadm.SetConfig, Name: "message.max.bytes", Value: str("5000")},
	})); err != nil {
		t.Fatalf("set cluster defaults: %v", err)
	}

	ret := e.topicConfig("bc", "retention.ms")
	wantConfig(t, "inherited", ret, "3600000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
	if got := synonyms(ret); got != "log.retention.ms=3600000(DYNAMIC_DEFAULT_BROKER_CONFIG) log.retention.hours=168(DEFAULT_CONFIG)" {
		t.Errorf("retention.ms synonyms %s", got)
	}
	check := func(when string) {
		t.Helper()
		wantConfig(t, when+": topic override wins", e.topicConfig("bc-own", "retention.ms"), "1000", kmsg.ConfigSourceDynamicTopicConfig)
		wantConfig(t, when+": inherited", e.topicConfig("bc", "max.message.bytes"), "5000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		_, defs := e.describe(kmsg.ConfigResourceTypeBroker, "")
		wantConfig(t, when+": cluster default", defs["log.retention.ms"], "3600000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		_, b1 := e.describe(kmsg.ConfigResourceTypeBroker, "1")
		wantConfig(t, when+": broker 1 sees the default", b1["message.max.bytes"], "5000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		pcl := e.client(kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(1))
		if !e.tooLarge(pcl, "bc", 6000) {
			t.Errorf("%s: 6000-byte record accepted with message.max.bytes=5000", when)
		}
		if e.tooLarge(pcl, "bc", 1000) {
			t.Errorf("%s: 1000-byte record refused with message.max.bytes=5000", when)
		}
	}
	check("before restart")

	// A per-broker value beats the cluster default (legacy AlterConfigs
	// on resource "1").
	if err := alterErr(e.adm.AlterBrokerConfigsState(e.ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: str("7200000")}}, 1)); err != nil {
		t.Fatalf("set broker 1 config: %v", err)
	}
	perBroker := func(when string) {
		t.Helper()
		_, b1 := e.describe(kmsg.ConfigResourceTypeBroker, "1")
		c := b1["log.retention.ms"]
		wantConfig(t, when+": per-broker", c, "7200000", kmsg.ConfigSourceDynamicBrokerConfig)
		if got := synonyms(c); !strings.HasPrefix(got, "log.retention.ms=7200000(DYNAMIC_BROKER_CONFIG) log.retention.ms=3600000(DYNAMIC_DEFAULT_BROKER_CONFIG)") {
			t.Errorf("%s: broker log.retention.ms synonyms %s", when, got)
		}
		wantConfig(t, when+": topic inherits the per-broker value", e.topicConfig("bc", "retention.ms"), "7200000", kmsg.ConfigSourceDynamicBrokerConfig)
	}
	perBroker("before restart")

	e.restart()
	check("after restart")
	perBroker("after restart")

	// Deleting the cluster default reverts to the static default.
	if err := alterErr(e.adm.AlterBrokerConfigs(e.ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "message.max.bytes"}})); err != nil {
		t.Fatal(err)
	}
	wantConfig(t, "after delete", e.topicConfig("bc", "max.message.bytes"), "1048588", kmsg.ConfigSourceDefaultConfig)

	// A read-only broker config cannot be changed dynamically.
	err := alterErr(e.adm.AlterBrokerConfigs(e.ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.check.interval.ms", Value: str("5")}}))
	if err == nil {
		t.Error("changing the read-only log.retention.check.interval.ms dynamically succeeded")
	}
}
