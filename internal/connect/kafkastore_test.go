package connect

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestParseDistributedConfig(t *testing.T) {
	base := map[string]string{
		GroupIDConfig:        "connect-cluster",
		KeyConverterConfig:   "org.apache.kafka.connect.json.JsonConverter",
		ValueConverterConfig: "org.apache.kafka.connect.json.JsonConverter",
		ConfigTopicConfig:    "connect-configs",
		OffsetTopicConfig:    "connect-offsets",
		StatusTopicConfig:    "connect-status",
		ListenersConfig:      "HTTP://:8083",
	}
	cfg, err := ParseDistributedConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OffsetPartitions != 25 || cfg.StatusPartitions != 5 || cfg.ConfigReplicationFactor != 3 ||
		cfg.SessionTimeout.Milliseconds() != 10000 || cfg.HeartbeatInterval.Milliseconds() != 3000 ||
		cfg.RebalanceTimeout.Milliseconds() != 60000 || cfg.ScheduledRebalanceMaxDelay.Milliseconds() != 300000 ||
		cfg.Protocol != ProtocolSessioned || cfg.Listeners[0].String() != "http://:8083" || cfg.OffsetsFile != "" {
		t.Fatalf("defaults %+v", cfg)
	}
	cases := map[string]struct{ key, value, want string }{
		"group.id":    {GroupIDConfig, "", `Missing required configuration "group.id" which has no default value.`},
		"topic":       {StatusTopicConfig, "", `Missing required configuration "status.storage.topic" which has no default value.`},
		"same topics": {StatusTopicConfig, "connect-offsets", "must be different topics"},
		"rf":          {OffsetReplicationFactorConfig, "0", "Replication factor must be positive, or -1"},
		"partitions":  {OffsetPartitionsConfig, "-2", "Number of partitions must be positive, or -1"},
		"eager":       {ConnectProtocolConfig, "eager", "incremental cooperative protocols"},
		"heartbeat":   {HeartbeatIntervalConfig, "20000", "heartbeat.interval.ms must be lower than session.timeout.ms"},
	}
	for name, c := range cases {
		props := map[string]string{}
		for k, v := range base {
			props[k] = v
		}
		if c.value == "" {
			delete(props, c.key)
		} else {
			props[c.key] = c.value
		}
		_, err := ParseDistributedConfig(props)
		if !errors.Is(err, ErrWorkerConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ...%s", name, err, c.want)
		}
	}
	props := map[string]string{}
	for k, v := range base {
		props[k] = v
	}
	props[OffsetReplicationFactorConfig] = "-1"
	props[ConnectProtocolConfig] = "COMPATIBLE"
	if cfg, err := ParseDistributedConfig(props); err != nil || cfg.OffsetReplicationFactor != -1 || cfg.Protocol != ProtocolCompatible {
		t.Fatalf("broker default RF and compatible: %+v %v", cfg, err)
	}
}

func newTestConfigStore() (*KafkaConfigStore, *[]RestartRequest) {
	var restarts []RestartRequest
	s := &KafkaConfigStore{log: slog.New(slog.DiscardHandler), onRestart: func(r RestartRequest) { restarts = append(restarts, r) }}
	s.mu.offset = -1
	s.mu.connectors = map[string]map[string]string{}
	s.mu.targets = map[string]TargetState{}
	s.mu.tasks = map[string][]map[string]string{}
	s.mu.deferred = map[string]map[int]map[string]string{}
	return s, &restarts
}

func rec(offset int64, key, value string) *kgo.Record {
	r := &kgo.Record{Key: []byte(key), Offset: offset}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

// The config topic's records as Kafka's KafkaConfigBackingStore reads
// them: task configurations wait for their commit, a commit missing a
// task is ignored, "state.v2" wins over "state", a connector tombstone
// removes everything, and restart requests count only once started.
func TestKafkaConfigStoreApply(t *testing.T) {
	s, restarts := newTestConfigStore()
	for i, r := range []*kgo.Record{
		rec(0, "connector-my-conn", `{"properties":{"connector.class":"FileStreamSource","tasks.max":"2","nullable":null}}`),
		rec(1, "restart-connector-my-conn", `{"include-tasks":true,"only-failed":false}`),
		rec(2, "task-my-conn-0", `{"properties":{"task.class":"T","n":"0"}}`),
		rec(3, "task-my-conn-1", `{"properties":{"task.class":"T","n":"1"}}`),
	} {
		s.apply(r)
		if i == 3 {
			if got := s.Snapshot()["my-conn"]; len(got.Tasks) != 0 || got.Target != TargetStarted {
				t.Fatalf("tasks visible before their commit: %+v", got)
			}
		}
	}
	if len(*restarts) != 0 {
		t.Fatalf("restart request read before start passed on: %v", *restarts)
	}
	s.apply(rec(4, "commit-my-conn", `{"tasks":2}`))
	got := s.Snapshot()["my-conn"]
	want := ConnectorConfigState{
		Config: map[string]string{"connector.class": "FileStreamSource", "tasks.max": "2"},
		Target: TargetStarted,
		Tasks:  []map[string]string{{"task.class": "T", "n": "0"}, {"task.class": "T", "n": "1"}},
	}
	if !reflect.DeepEqual(got, want) || s.Offset() != 4 {
		t.Fatalf("snapshot %+v offset %d\nwant %+v", got, s.Offset(), want)
	}
	// A commit of four tasks when only three configurations exist (the
	// fourth is missing) is ignored.
	s.apply(rec(5, "task-my-conn-2", `{"properties":{"task.class":"T","n":"2"}}`))
	s.apply(rec(6, "commit-my-conn", `{"tasks":4}`))
	if got := s.Snapshot()["my-conn"]; len(got.Tasks) != 2 {
		t.Fatalf("incomplete commit applied: %d tasks", len(got.Tasks))
	}
	s.apply(rec(7, "target-state-my-conn", `{"state":"PAUSED","state.v2":"STOPPED"}`))
	if got := s.Snapshot()["my-conn"].Target; got != TargetStopped {
		t.Fatalf("target %s, want STOPPED", got)
	}
	s.apply(rec(8, "target-state-my-conn", `{"state":"PAUSED"}`))
	if got := s.Snapshot()["my-conn"].Target; got != TargetPaused {
		t.Fatalf("target %s, want PAUSED", got)
	}
	s.mu.started = true
	s.apply(rec(9, "restart-connector-my-conn", `{"include-tasks":true,"only-failed":true}`))
	if want := []RestartRequest{{Connector: "my-conn", OnlyFailed: true, IncludeTasks: true}}; !reflect.DeepEqual(*restarts, want) {
		t.Fatalf("restarts %v, want %v", *restarts, want)
	}
	s.apply(rec(10, "session-key", `{"key":"x","algorithm":"HmacSHA256","creation-timestamp":1}`))
	s.apply(rec(11, "connector-my-conn", ""))
	if len(s.Snapshot()) != 0 {
		t.Fatalf("snapshot after the tombstone: %+v", s.Snapshot())
	}
}

func TestKafkaStatusStoreApply(t *testing.T) {
	s := &KafkaStatusStore{mem: NewMemoryStatusStore(), log: slog.New(slog.DiscardHandler), generation: func() int32 { return 3 }}
	s.apply(rec(0, "status-connector-a-b", `{"state":"RUNNING","trace":null,"worker_id":"w1:8083","generation":2}`))
	s.apply(rec(1, "status-task-a-b-1", `{"state":"FAILED","trace":"boom","worker_id":"w2:8083","generation":2}`))
	s.apply(rec(2, "status-topic-my-topic:connector-a-b", `{"topic":{"name":"my-topic","connector":"a-b","task":0,"discoverTimestamp":1}}`))
	if st, ok := s.Connector("a-b"); !ok || st.State != StateRunning || st.WorkerID != "w1:8083" {
		t.Fatalf("connector status %+v %v", st, ok)
	}
	if st, ok := s.Task(TaskID{"a-b", 1}); !ok || st.State != StateFailed || st.Trace != "boom" || st.WorkerID != "w2:8083" {
		t.Fatalf("task status %+v %v", st, ok)
	}
	if got := s.Topics("a-b"); !reflect.DeepEqual(got, []string{"my-topic"}) {
		t.Fatalf("topics %v", got)
	}
	s.apply(rec(3, "status-task-a-b-1", ""))
	if _, ok := s.Task(TaskID{"a-b", 1}); ok {
		t.Fatal("task status after its tombstone")
	}
	if got := string(s.encode(StateRunning, "", "w:1")); got != `{"state":"RUNNING","trace":null,"worker_id":"w:1","generation":3}` {
		t.Fatalf("status value %s", got)
	}
}

// The stores read what another instance wrote: a second worker's config
// store sees the first one's connector and commit, and offsets written by
// one offset store are read by another.
func TestKafkaStoresShared(t *testing.T) {
	t.Parallel()
	c := startBroker(t)
	props := distributedProps(c)
	cfg, err := ParseDistributedConfig(props)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	a, err := OpenKafkaConfigStore(ctx, cfg, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.PutConnectorConfig("c", map[string]string{"connector.class": "FileStreamSink"}, TargetPaused); err != nil {
		t.Fatal(err)
	}
	if err := a.PutTaskConfigs("c", []map[string]string{{"x": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.PutTaskConfigs("nope", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("task configs of an unknown connector: %v", err)
	}
	b, err := OpenKafkaConfigStore(ctx, cfg, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.Snapshot()["c"]; got.Target != TargetPaused || len(got.Tasks) != 1 || got.Tasks[0]["x"] != "1" {
		t.Fatalf("second store sees %+v", got)
	}

	o1, err := OpenKafkaOffsetStore(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer o1.Close()
	key, _ := encodeOffsetKey("src", map[string]any{"filename": "in.txt"})
	value, _ := encodeOffsetValue(map[string]any{"position": int64(8)})
	if err := o1.Set([]OffsetEntry{{Key: key, Value: value}}); err != nil {
		t.Fatal(err)
	}
	o2, err := OpenKafkaOffsetStore(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	if got, err := o2.Get(key); err != nil || string(got) != `{"position":8}` {
		t.Fatalf("second offset store: %s %v", got, err)
	}
	if err := o1.Set([]OffsetEntry{{Key: key}}); err != nil {
		t.Fatal(err)
	}
	if got, err := o2.Get(key); err != nil || got != nil {
		t.Fatalf("after the tombstone: %s %v", got, err)
	}
}

// config/connect-distributed.properties is Kafka's sample and parses to
// Kafka's values.
func TestSampleDistributedConfig(t *testing.T) {
	props, err := ReadWorkerFile("../../config/connect-distributed.properties")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseDistributedConfig(props)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GroupID != "connect-cluster" || cfg.ConfigTopic != "connect-configs" || cfg.OffsetTopic != "connect-offsets" ||
		cfg.StatusTopic != "connect-status" || cfg.OffsetReplicationFactor != 1 || cfg.ConfigReplicationFactor != 1 ||
		cfg.StatusReplicationFactor != 1 || cfg.OffsetPartitions != 25 || cfg.StatusPartitions != 5 ||
		cfg.OffsetFlushInterval.Milliseconds() != 10000 || cfg.Listeners[0].String() != "http://:8083" ||
		cfg.BootstrapServers[0] != "localhost:9092" {
		t.Fatalf("sample config: %+v", cfg)
	}
}

// Internal requests are checked against the session key read from the
// config topic: unsigned or an unknown algorithm is 400, a wrong
// signature 403.
func TestInternalRequestSignature(t *testing.T) {
	s, _ := newTestConfigStore()
	d := &DistributedHerder{configStore: s}
	body := []byte(`[{"task.class":"T"}]`)
	if err := d.verifySignature(InternalRequestSignature{Body: body}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("unsigned: %v", err)
	}
	s.apply(rec(0, "session-key", `{"key":"c2VjcmV0","algorithm":"HmacSHA256","creation-timestamp":1700000000000}`))
	k := s.SessionKey()
	if k == nil || string(k.Key) != "secret" || k.Algorithm != "HmacSHA256" || k.Created.UnixMilli() != 1700000000000 {
		t.Fatalf("session key %+v", k)
	}
	good := signRequest([]byte("secret"), body)
	for name, c := range map[string]struct {
		sig  InternalRequestSignature
		want error
	}{
		"valid":     {InternalRequestSignature{Body: body, Algorithm: "HmacSHA256", Signature: good}, nil},
		"algorithm": {InternalRequestSignature{Body: body, Algorithm: "HmacSHA1", Signature: good}, ErrBadRequest},
		"wrong key": {InternalRequestSignature{Body: body, Algorithm: "HmacSHA256", Signature: signRequest([]byte("other"), body)}, ErrForbidden},
		"body":      {InternalRequestSignature{Body: []byte("[]"), Algorithm: "HmacSHA256", Signature: good}, ErrForbidden},
	} {
		if err := d.verifySignature(c.sig); (c.want == nil && err != nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
