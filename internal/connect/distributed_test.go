package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// distributedProps are config/connect-distributed.properties for a test:
// the broker's address, a free REST port, short flush and heartbeat
// intervals and scheduled rebalance delay.
func distributedProps(c *kafkatest.Cluster) map[string]string {
	return map[string]string{
		BootstrapServersConfig:           c.Addr(),
		GroupIDConfig:                    "connect-cluster",
		KeyConverterConfig:               "org.apache.kafka.connect.json.JsonConverter",
		ValueConverterConfig:             "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":   "true",
		"value.converter.schemas.enable": "true",
		OffsetTopicConfig:                "connect-offsets",
		OffsetReplicationFactorConfig:    "1",
		OffsetPartitionsConfig:           "5",
		ConfigTopicConfig:                "connect-configs",
		ConfigReplicationFactorConfig:    "1",
		StatusTopicConfig:                "connect-status",
		StatusReplicationFactorConfig:    "1",
		OffsetFlushIntervalConfig:        "100",
		ListenersConfig:                  "HTTP://127.0.0.1:0",
		HeartbeatIntervalConfig:          "150",
		SessionTimeoutConfig:             "6000",
		RebalanceTimeoutConfig:           "10000",
		ScheduledRebalanceMaxDelayConfig: "1000",
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("CONNECT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

func startDistributed(t *testing.T, props map[string]string) *Distributed {
	t.Helper()
	w, err := StartDistributed(context.Background(), props, DistributedOptions{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// rest sends a request to a worker and returns the status and body.
func restCall(t *testing.T, method, u string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// restUntil repeats a request while it answers 409 (a rebalance in
// progress, which Kafka answers the same way) and returns the answer.
func restUntil(t *testing.T, method, u string, body any) (int, []byte) {
	t.Helper()
	var code int
	var b []byte
	eventually(t, method+" "+u+" outside a rebalance", func() bool {
		code, b = restCall(t, method, u, body)
		return code != http.StatusConflict || !strings.Contains(string(b), "rebalance")
	})
	return code, b
}

func connectorStatus(t *testing.T, base, name string) ConnectorStateInfo {
	t.Helper()
	code, b := restCall(t, http.MethodGet, base+"connectors/"+name+"/status", nil)
	var st ConnectorStateInfo
	if code == http.StatusOK {
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func allRunning(st ConnectorStateInfo, tasks int) bool {
	if st.Connector.State != string(StateRunning) || len(st.Tasks) != tasks {
		return false
	}
	for _, ts := range st.Tasks {
		if ts.State != string(StateRunning) {
			return false
		}
	}
	return true
}

// Kafka's file quickstart in distributed mode: the connectors are
// created through the REST API, lines of test.txt reach test.sink.txt,
// an appended line follows, and after the worker is stopped and started
// again (its state only in the three topics) a line written meanwhile
// arrives once. The config topic holds Kafka's records.
func TestDistributedQuickstart(t *testing.T) {
	t.Parallel()
	c := startBroker(t)
	dir := t.TempDir()
	src, sink := filepath.Join(dir, "test.txt"), filepath.Join(dir, "test.sink.txt")
	appendFile(t, src, "foo\nbar\n")
	props := distributedProps(c)
	props[OffsetFlushIntervalConfig] = "3600000" // offsets only at the clean stop
	w := startDistributed(t, props)
	base := w.URL().String()
	for _, spec := range quickstartConnectors(dir) {
		code, b := restUntil(t, http.MethodPost, base+"connectors", map[string]any{"name": spec.Config["name"], "config": spec.Config})
		if code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", spec.Config["name"], code, b)
		}
	}
	eventually(t, "foo and bar in test.sink.txt", func() bool { return equalLines(readLines(t, sink), []string{"foo", "bar"}) })
	appendFile(t, src, "Another line\n")
	eventually(t, "the appended line", func() bool {
		return equalLines(readLines(t, sink), []string{"foo", "bar", "Another line"})
	})
	eventually(t, "both connectors RUNNING on this worker", func() bool {
		for _, name := range []string{"local-file-source", "local-file-sink"} {
			st := connectorStatus(t, base, name)
			if !allRunning(st, 1) || st.Connector.WorkerID != w.REST().WorkerID() || st.Tasks[0].WorkerID != w.REST().WorkerID() {
				return false
			}
		}
		return true
	})
	if code, b := restCall(t, http.MethodPost, base+"connectors", map[string]any{"name": "local-file-sink", "config": quickstartConnectors(dir)[1].Config}); code != http.StatusConflict {
		t.Fatalf("creating an existing connector: %d %s", code, b)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The config topic holds Kafka's keys and JSON values.
	records := readTopic(t, c, "connect-configs")
	want := map[string]string{
		"target-state-local-file-source": `{"state":"STARTED","state.v2":"STARTED"}`,
		"commit-local-file-source":       `{"tasks":1}`,
	}
	seen := map[string]string{}
	for _, r := range records {
		seen[string(r.Key)] = string(r.Value)
	}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("config topic %s = %s, want %s", k, seen[k], v)
		}
	}
	if !strings.Contains(seen["session-key"], `"algorithm":"HmacSHA256"`) {
		t.Errorf("config topic session-key = %s", seen["session-key"])
	}
	var conn struct {
		Properties map[string]string `json:"properties"`
	}
	if err := json.Unmarshal([]byte(seen["connector-local-file-source"]), &conn); err != nil || conn.Properties["connector.class"] != "FileStreamSource" {
		t.Errorf("connector-local-file-source = %s (%v)", seen["connector-local-file-source"], err)
	}
	if err := json.Unmarshal([]byte(seen["task-local-file-source-0"]), &conn); err != nil || conn.Properties["task.class"] == "" {
		t.Errorf("task-local-file-source-0 = %s (%v)", seen["task-local-file-source-0"], err)
	}
	// The offsets topic holds the source's position, keyed as Kafka keys it.
	offsets := map[string]string{}
	for _, r := range readTopic(t, c, "connect-offsets") {
		offsets[string(r.Key)] = string(r.Value)
	}
	key := `["local-file-source",{"filename":"` + src + `"}]`
	if got, want := offsets[key], `{"position":`+strconv.Itoa(len("foo\nbar\nAnother line\n"))+`}`; got != want {
		t.Errorf("offset %s = %s, want %s (all: %v)", key, got, want, offsets)
	}

	// Restart: the state comes back from the topics.
	appendFile(t, src, "Fourth line\n")
	w = startDistributed(t, props)
	defer w.Close(context.Background())
	wantLines := []string{"foo", "bar", "Another line", "Fourth line"}
	eventually(t, "the line written while stopped", func() bool { return len(readLines(t, sink)) >= len(wantLines) })
	base = w.URL().String()
	eventually(t, "status after the restart", func() bool { return allRunning(connectorStatus(t, base, "local-file-sink"), 1) })
	if got := readLines(t, sink); !equalLines(got, wantLines) {
		t.Fatalf("test.sink.txt after a restart:\n%q\nwant\n%q", got, wantLines)
	}
	code, b := restCall(t, http.MethodGet, base+"connectors/local-file-source/offsets", nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"position":`) {
		t.Fatalf("GET offsets: %d %s", code, b)
	}

	// Offsets can be reset only once the connector is stopped (KIP-875).
	if code, b := restUntil(t, http.MethodDelete, base+"connectors/local-file-source/offsets", nil); code != http.StatusBadRequest {
		t.Fatalf("DELETE offsets of a running connector: %d %s", code, b)
	}
	if code, b := restUntil(t, http.MethodPut, base+"connectors/local-file-source/stop", nil); code != http.StatusNoContent {
		t.Fatalf("stop: %d %s", code, b)
	}
	// Stopping the task committed its offset.
	eventually(t, "the offset committed at the stop", func() bool {
		_, b := restCall(t, http.MethodGet, base+"connectors/local-file-source/offsets", nil)
		return strings.Contains(string(b), `"position":`+strconv.Itoa(len("foo\nbar\nAnother line\nFourth line\n")))
	})
	if code, b := restUntil(t, http.MethodDelete, base+"connectors/local-file-source/offsets", nil); code != http.StatusOK {
		t.Fatalf("DELETE offsets: %d %s", code, b)
	}
	if code, b := restCall(t, http.MethodGet, base+"connectors/local-file-source/offsets", nil); code != http.StatusOK || string(b) != `{"offsets":[]}` {
		t.Fatalf("offsets after DELETE: %d %s", code, b)
	}
}

// readTopic reads a topic from the start to its end offsets.
func readTopic(t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	// Control records (transaction markers, e.g. of the leader's
	// transactional writes to the config topic) count towards the end
	// offset but are not returned.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends := map[int32]int64{}
	adm := kadm.NewClient(cl)
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	var out []*kgo.Record
	pos := map[int32]int64{}
	done := func() bool {
		for p, e := range ends {
			if pos[p] < e {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			pos[r.Partition] = r.Offset + 1
		})
	}
	return out
}

// produceLines writes n records "prefix-i" round-robin over a topic's
// partitions.
func produceLines(t *testing.T, c *kafkatest.Cluster, topic, prefix string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var lines []string
	var recs []*kgo.Record
	for i := range n {
		line := prefix + "-" + strconv.Itoa(i)
		lines = append(lines, line)
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(line)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// containsAll reports whether every line is in the file's lines.
func containsAll(have, want []string) bool {
	set := map[string]bool{}
	for _, l := range have {
		set[l] = true
	}
	for _, l := range want {
		if !set[l] {
			return false
		}
	}
	return true
}

// Three workers in-process: a sink with tasks.max=3 on a 3-partition
// topic is created through a worker that may not lead (forwarded), its
// tasks spread over the workers, the REST API answers the same on every
// worker (status with each task's worker_id, pause/resume, restart,
// stop and the offsets endpoints), and when a worker leaves, its task
// moves to the others after the scheduled rebalance delay with no record
// lost.
func TestDistributedThreeWorkers(t *testing.T) {
	t.Parallel()
	c := startBroker(t)
	adm, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := kadm.NewClient(adm).CreateTopic(context.Background(), 3, 1, nil, "spread"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sink := filepath.Join(dir, "sink.txt")
	props := distributedProps(c)
	props["value.converter"] = "org.apache.kafka.connect.storage.StringConverter"
	props["consumer.session.timeout.ms"] = "6000"
	props["consumer.heartbeat.interval.ms"] = "500"
	ws := []*Distributed{startDistributed(t, props), startDistributed(t, props), startDistributed(t, props)}
	defer func() {
		for _, w := range ws {
			if w != nil {
				w.Close(context.Background())
			}
		}
	}()
	url := func(i int) string { return ws[i].URL().String() }
	config := map[string]string{"connector.class": "FileStreamSink", "tasks.max": "3", "topics": "spread", "file": sink}
	code, b := restUntil(t, http.MethodPut, url(2)+"connectors/spread-sink/config", config)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	workerIDs := func(st ConnectorStateInfo) map[string]bool {
		ids := map[string]bool{}
		for _, ts := range st.Tasks {
			ids[ts.WorkerID] = true
		}
		return ids
	}
	eventually(t, "three RUNNING tasks on three workers", func() bool {
		st := connectorStatus(t, url(1), "spread-sink")
		return allRunning(st, 3) && len(workerIDs(st)) == 3
	})
	// The internal endpoint the workers send task configurations to
	// takes only requests signed with the session key (KIP-507).
	leader := -1
	for i, w := range ws {
		if w.Herder().IsLeader() {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no worker leads the group")
	}
	tasksURL := url(leader) + "connectors/spread-sink/tasks?forward=false"
	if code, b := restCall(t, http.MethodPost, tasksURL, []map[string]string{{"x": "y"}}); code != http.StatusBadRequest || !strings.Contains(string(b), "Internal request missing required signature") {
		t.Fatalf("unsigned internal request: %d %s", code, b)
	}
	req, _ := http.NewRequest(http.MethodPost, tasksURL, strings.NewReader(`[{"x":"y"}]`))
	req.Header.Set(signatureHeader, signRequest([]byte("not the session key"), []byte(`[{"x":"y"}]`)))
	req.Header.Set(signatureAlgorithmHeader, "HmacSHA256")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("badly signed internal request: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	want := produceLines(t, c, "spread", "a", 90)
	eventually(t, "the first records in the sink file", func() bool { return containsAll(readLines(t, sink), want) })

	// Every worker lists the connector and its task configurations.
	for i := range ws {
		code, b := restCall(t, http.MethodGet, url(i)+"connectors", nil)
		if code != http.StatusOK || string(b) != `["spread-sink"]` {
			t.Fatalf("worker %d lists %d %s", i, code, b)
		}
		code, b = restCall(t, http.MethodGet, url(i)+"connectors/spread-sink/tasks", nil)
		var tasks []TaskInfo
		if code != http.StatusOK || json.Unmarshal(b, &tasks) != nil || len(tasks) != 3 {
			t.Fatalf("worker %d tasks %d %s", i, code, b)
		}
	}

	// Pause and resume through different workers.
	if code, b := restUntil(t, http.MethodPut, url(1)+"connectors/spread-sink/pause", nil); code != http.StatusAccepted {
		t.Fatalf("pause: %d %s", code, b)
	}
	eventually(t, "PAUSED everywhere", func() bool {
		st := connectorStatus(t, url(0), "spread-sink")
		if st.Connector.State != string(StatePaused) || len(st.Tasks) != 3 {
			return false
		}
		for _, ts := range st.Tasks {
			if ts.State != string(StatePaused) {
				return false
			}
		}
		return true
	})
	if code, b := restUntil(t, http.MethodPut, url(2)+"connectors/spread-sink/resume", nil); code != http.StatusAccepted {
		t.Fatalf("resume: %d %s", code, b)
	}
	eventually(t, "RUNNING after resume", func() bool { return allRunning(connectorStatus(t, url(2), "spread-sink"), 3) })

	// KIP-745 restart through a worker: the answer marks what restarts.
	code, b = restUntil(t, http.MethodPost, url(0)+"connectors/spread-sink/restart?includeTasks=true", nil)
	var restarting ConnectorStateInfo
	if code != http.StatusAccepted || json.Unmarshal(b, &restarting) != nil || restarting.Connector.State != string(StateRestarting) || len(restarting.Tasks) != 3 {
		t.Fatalf("restart: %d %s", code, b)
	}
	eventually(t, "RUNNING after the restart", func() bool { return allRunning(connectorStatus(t, url(1), "spread-sink"), 3) })
	code, b = restUntil(t, http.MethodPost, url(1)+"connectors/spread-sink/tasks/1/restart", nil)
	if code != http.StatusNoContent {
		t.Fatalf("task restart: %d %s", code, b)
	}

	// Stop (KIP-875), then the offsets: read on any worker, altered
	// through any (the leader writes).
	if code, b := restUntil(t, http.MethodPut, url(2)+"connectors/spread-sink/stop", nil); code != http.StatusNoContent {
		t.Fatalf("stop: %d %s", code, b)
	}
	eventually(t, "STOPPED with no tasks", func() bool {
		st := connectorStatus(t, url(0), "spread-sink")
		return st.Connector.State == string(StateStopped) && len(st.Tasks) == 0
	})
	var offs ConnectorOffsets
	eventually(t, "the committed offsets", func() bool {
		code, b := restCall(t, http.MethodGet, url(1)+"connectors/spread-sink/offsets", nil)
		if code != http.StatusOK || json.Unmarshal(b, &offs) != nil || len(offs.Offsets) != 3 {
			return false
		}
		for _, o := range offs.Offsets {
			if o.Offset["kafka_offset"] != float64(30) {
				return false
			}
		}
		return true
	})
	patch := map[string]any{"offsets": []map[string]any{{"partition": map[string]any{"kafka_topic": "spread", "kafka_partition": 0}, "offset": map[string]any{"kafka_offset": 5}}}}
	if code, b := restUntil(t, http.MethodPatch, url(2)+"connectors/spread-sink/offsets", patch); code != http.StatusOK {
		t.Fatalf("PATCH offsets: %d %s", code, b)
	}
	code, b = restCall(t, http.MethodGet, url(0)+"connectors/spread-sink/offsets", nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"kafka_offset":5`) {
		t.Fatalf("offsets after PATCH: %d %s", code, b)
	}
	patch["offsets"] = []map[string]any{{"partition": map[string]any{"kafka_topic": "spread", "kafka_partition": 0}, "offset": map[string]any{"kafka_offset": 30}}}
	if code, b := restUntil(t, http.MethodPatch, url(1)+"connectors/spread-sink/offsets", patch); code != http.StatusOK {
		t.Fatalf("PATCH offsets back: %d %s", code, b)
	}
	if code, b := restUntil(t, http.MethodPut, url(0)+"connectors/spread-sink/resume", nil); code != http.StatusAccepted {
		t.Fatalf("resume after stop: %d %s", code, b)
	}
	eventually(t, "three RUNNING tasks after the stop", func() bool { return allRunning(connectorStatus(t, url(1), "spread-sink"), 3) })

	// A worker leaves: after the scheduled rebalance delay its task runs
	// on one of the two others, and nothing is lost.
	gone := ws[2].REST().WorkerID()
	if err := ws[2].Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ws[2] = nil
	want = append(want, produceLines(t, c, "spread", "b", 90)...)
	eventually(t, "three RUNNING tasks on the two remaining workers", func() bool {
		st := connectorStatus(t, url(0), "spread-sink")
		return allRunning(st, 3) && len(workerIDs(st)) == 2 && !workerIDs(st)[gone]
	})
	eventually(t, "every record in the sink file", func() bool { return containsAll(readLines(t, sink), want) })

	// Delete through a worker; every worker forgets the connector.
	if code, b := restUntil(t, http.MethodDelete, url(1)+"connectors/spread-sink", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, b)
	}
	eventually(t, "the connector gone everywhere", func() bool {
		for i := range 2 {
			if code, b := restCall(t, http.MethodGet, url(i)+"connectors", nil); code != http.StatusOK || string(b) != `[]` {
				return false
			}
			if code, _ := restCall(t, http.MethodGet, url(i)+"connectors/spread-sink/status", nil); code != http.StatusNotFound {
				return false
			}
		}
		return true
	})
}
