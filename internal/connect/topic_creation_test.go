package connect

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// keyedSource writes four keyed records ("k1"…"k4", so that compacted
// topics take them) to "topic", then waits.
type keyedSource struct{ props map[string]string }

func (*keyedSource) Version() string                   { return "test" }
func (*keyedSource) Config() *sdk.ConfigDef            { return sdk.NewConfigDef() }
func (*keyedSource) Stop() error                       { return nil }
func (c *keyedSource) Start(p map[string]string) error { c.props = p; return nil }
func (*keyedSource) NewTask() sdk.SourceTask           { return &keyedTask{} }
func (c *keyedSource) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.props)}, nil
}

type keyedTask struct {
	topic string
	done  bool
}

func (*keyedTask) Version() string                  { return "test" }
func (*keyedTask) Initialize(sdk.SourceTaskContext) {}
func (*keyedTask) Stop() error                      { return nil }
func (t *keyedTask) Start(p map[string]string) error {
	t.topic = p["topic"]
	return nil
}

func (t *keyedTask) Poll(ctx context.Context) ([]*sdk.SourceRecord, error) {
	if t.done {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	t.done = true
	var out []*sdk.SourceRecord
	for i := 1; i <= 4; i++ {
		n := strconv.Itoa(i)
		out = append(out, &sdk.SourceRecord{Record: sdk.Record{Topic: t.topic,
			KeySchema: sdk.StringSchema, Key: "k" + n, ValueSchema: sdk.StringSchema, Value: n}})
	}
	return out, nil
}

func init() {
	sdk.RegisterPlugin(sdk.Plugin{Class: "com.example.test.KeyedSourceConnector", Type: sdk.PluginSource, Version: "test",
		New: func() any { return &keyedSource{} }})
}

// keyedConnector is a keyedSource writing to topic, with extra settings.
func keyedConnector(name, topic string, extra map[string]string) ConnectorSpec {
	c := map[string]string{"name": name, "connector.class": "com.example.test.KeyedSourceConnector", "topic": topic}
	for k, v := range extra {
		c[k] = v
	}
	return ConnectorSpec{Config: c}
}

// awaitRecords reads topic from the start until it has n records.
func awaitRecords(t *testing.T, c *kafkatest.Cluster, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := 0
	eventually(t, "records in "+topic, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		got += cl.PollRecords(ctx, 100).NumRecords()
		return got >= n
	})
}

// topicShape returns a topic's partition count and its topic-level
// (non-default) configs.
func topicShape(t *testing.T, adm *kadm.Client, topic string) (int, map[string]string) {
	t.Helper()
	ctx := context.Background()
	td, err := adm.ListTopics(ctx, topic)
	if err != nil || !td.Has(topic) {
		t.Fatalf("topic %s: %v %v", topic, td, err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe configs of %s: %v %v", topic, err, rc.Err)
	}
	set := map[string]string{}
	for _, c := range rc.Configs {
		if c.Source.String() == "DYNAMIC_TOPIC_CONFIG" {
			set[c.Key] = c.MaybeValue()
		}
	}
	return len(td[topic].Partitions), set
}

// KIP-158: a source connector's missing topics are created before the
// first record, with the settings of the first group matching them
// (partitions, replication factor, other topic configs), the default
// group's for the others and for topics a group excludes; the worker's
// topic.creation.enable=false leaves them to the broker's auto-creation.
func TestSourceTopicCreation(t *testing.T) {
	c := startBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	dir := t.TempDir()
	creation := map[string]string{
		"topic.creation.groups":                     "compacted",
		"topic.creation.default.replication.factor": "1",
		"topic.creation.default.partitions":         "2",
		"topic.creation.compacted.include":          "logs-.*, audit",
		"topic.creation.compacted.exclude":          "logs-raw",
		"topic.creation.compacted.partitions":       "3",
		"topic.creation.compacted.cleanup.policy":   "compact",
	}
	w, err := StartStandalone(context.Background(), workerProps(c, dir), []ConnectorSpec{
		keyedConnector("compacted-source", "logs-compacted", creation),
		keyedConnector("excluded-source", "logs-raw", creation),
		keyedConnector("default-source", "metrics", creation),
	}, StandaloneOptions{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	for _, topic := range []string{"logs-compacted", "logs-raw", "metrics"} {
		awaitRecords(t, c, topic, 4)
	}
	for _, tc := range []struct {
		topic      string
		partitions int
		configs    map[string]string
	}{
		{"logs-compacted", 3, map[string]string{"cleanup.policy": "compact"}},
		{"logs-raw", 2, map[string]string{}}, // excluded from "compacted": the default group
		{"metrics", 2, map[string]string{}},
	} {
		n, configs := topicShape(t, adm, tc.topic)
		if n != tc.partitions {
			t.Errorf("%s has %d partitions, want %d", tc.topic, n, tc.partitions)
		}
		if len(configs) != len(tc.configs) || configs["cleanup.policy"] != tc.configs["cleanup.policy"] {
			t.Errorf("%s has configs %v, want %v", tc.topic, configs, tc.configs)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The worker disables creation: the broker auto-creates the topic
	// with its defaults (one partition), not the connector's settings.
	props := workerProps(c, t.TempDir())
	props[TopicCreationEnableConfig] = "false"
	w, err = StartStandalone(context.Background(), props, []ConnectorSpec{
		keyedConnector("disabled-source", "logs-disabled", creation),
	}, StandaloneOptions{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	awaitRecords(t, c, "logs-disabled", 4)
	if n, configs := topicShape(t, adm, "logs-disabled"); n != 1 || len(configs) != 0 {
		t.Fatalf("logs-disabled: %d partitions, configs %v; want the broker's defaults", n, configs)
	}
}

// Kafka's validation of the topic.creation.* settings
// (SourceConnectorConfig, TopicCreationConfig): the default group's
// replication factor and partitions are required once any
// topic.creation. property is set, both must be positive or -1, group
// aliases are unique and include/exclude are regexes.
func TestTopicCreationValidation(t *testing.T) {
	base := map[string]string{"name": "v", "connector.class": "com.example.test.KeyedSourceConnector"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		props map[string]string
		want  []string // error messages, in any order
	}{
		{"no topic creation", base, nil},
		{"valid", with("topic.creation.default.replication.factor", "-1", "topic.creation.default.partitions", "-1",
			"topic.creation.groups", "a", "topic.creation.a.include", "a.*", "topic.creation.a.retention.ms", "1000"), nil},
		{"defaults required", with("topic.creation.groups", "a"), []string{
			`Missing required configuration "topic.creation.default.replication.factor" which has no default value.`,
			`Missing required configuration "topic.creation.default.partitions" which has no default value.`,
			// the group's own settings default to the default group's
			`Missing required configuration "topic.creation.a.replication.factor" which has no default value.`,
			`Missing required configuration "topic.creation.a.partitions" which has no default value.`,
		}},
		{"zero", with("topic.creation.default.replication.factor", "0", "topic.creation.default.partitions", "0"), []string{
			"Invalid value 0 for configuration topic.creation.default.replication.factor: Replication factor must be positive and not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default",
			"Invalid value 0 for configuration topic.creation.default.partitions: Number of partitions must be positive, or -1 to use the broker's default",
		}},
		{"group", with("topic.creation.default.replication.factor", "1", "topic.creation.default.partitions", "1",
			"topic.creation.groups", "a,a", "topic.creation.a.include", "(", "topic.creation.a.partitions", "-2"), []string{
			"Duplicate alias provided.",
			"Invalid value [(] for configuration topic.creation.a.include: Syntax error in regular expression",
			"Invalid value -2 for configuration topic.creation.a.partitions: Number of partitions must be positive, or -1 to use the broker's default",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			infos, err := validateConnectorConfig(tc.props, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range infos.Configs {
				if c.Value != nil {
					got = append(got, c.Value.Errors...)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("errors %q, want %q", got, tc.want)
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no error %q in %q", w, got)
				}
			}
		})
	}

	// A task's topic creation: groups in order, the default last, the
	// default group's include/exclude ignored, other settings passed on.
	cfg := testWorkerConfig(t, nil)
	tc, err := newTopicCreation(cfg, with("topic.creation.default.replication.factor", "1", "topic.creation.default.partitions", "5",
		"topic.creation.default.exclude", ".*", "topic.creation.default.compression.type", "lz4",
		"topic.creation.groups", "b, a", "topic.creation.a.include", "x.*", "topic.creation.b.include", "xy", "topic.creation.b.partitions", "2"))
	if err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]string{"xy": "b", "xz": "a", "y": "default"} {
		if g := tc.findGroup(topic); g.name != want {
			t.Errorf("topic %s: group %s, want %s", topic, g.name, want)
		}
	}
	if g := tc.findGroup("xz"); g.partitions != 5 || g.replicationFactor != 1 || len(g.configs) != 0 {
		t.Errorf("group a: %v", g)
	}
	if g := tc.findGroup("y"); g.configs["compression.type"] != "lz4" || len(g.configs) != 1 {
		t.Errorf("default group: %v", g)
	}
	if _, err := newTopicCreation(cfg, with("topic.creation.default.partitions", "1")); err == nil ||
		err.Error() != `Missing required configuration "topic.creation.default.replication.factor" which has no default value.` {
		t.Fatalf("missing replication factor: %v", err)
	}
	cfg.TopicCreation = false
	if tc, err := newTopicCreation(cfg, with("topic.creation.default.partitions", "1")); tc != nil || err != nil {
		t.Fatalf("disabled by the worker: %v %v", tc, err)
	}
}
