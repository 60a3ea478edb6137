package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// api is a REST client for tests.
type api struct {
	t    *testing.T
	base string
}

// do sends a request and returns the status and body.
func (a api) do(method, path string, body any) (int, []byte, http.Header) {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		a.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, out, resp.Header
}

// expect sends a request and checks the status; it decodes the body into
// into, if given.
func (a api) expect(method, path string, body any, status int, into any) []byte {
	a.t.Helper()
	code, out, hdr := a.do(method, path, body)
	if code != status {
		a.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, code, status, out)
	}
	if len(out) > 0 && hdr.Get("Content-Type") != "application/json" {
		a.t.Fatalf("%s %s: Content-Type %q", method, path, hdr.Get("Content-Type"))
	}
	if into != nil {
		if err := json.Unmarshal(out, into); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, out)
		}
	}
	return out
}

// expectError checks a Kafka-style error body.
func (a api) expectError(method, path string, body any, status int, message string) {
	a.t.Helper()
	var e ErrorMessage
	a.expect(method, path, body, status, &e)
	if e.ErrorCode != status || e.Message != message {
		a.t.Fatalf("%s %s: error %+v, want {%d %q}", method, path, e, status, message)
	}
}

func (a api) status(name string) ConnectorStateInfo {
	a.t.Helper()
	var st ConnectorStateInfo
	a.expect("GET", "/connectors/"+name+"/status", nil, 200, &st)
	return st
}

// waitState waits until the connector and all its tasks are in state.
func (a api) waitState(name, state string, tasks int) ConnectorStateInfo {
	a.t.Helper()
	var st ConnectorStateInfo
	eventually(a.t, name+" "+state, func() bool {
		st = a.status(name)
		if st.Connector.State != state || len(st.Tasks) != tasks {
			return false
		}
		for _, ts := range st.Tasks {
			if ts.State != state {
				return false
			}
		}
		return true
	})
	return st
}

func startREST(t *testing.T, c *kafkatest.Cluster, dir string) (*Standalone, api) {
	t.Helper()
	w, err := StartStandalone(context.Background(), workerProps(c, dir), nil, StandaloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	srv := httptest.NewServer(NewHandler(w.Herder(), w.log))
	t.Cleanup(srv.Close)
	return w, api{t: t, base: srv.URL}
}

func TestRESTServerInfoAndListener(t *testing.T) {
	c := startBroker(t)
	w, a := startREST(t, c, t.TempDir())
	var info ServerInfo
	a.expect("GET", "/", nil, 200, &info)
	clusterID, err := lookupClusterID(context.Background(), w.herder.cfg, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "4.1.0" || info.Commit == "" || info.KafkaClusterID != clusterID {
		t.Fatalf("GET / = %+v (cluster %s)", info, clusterID)
	}
	// The worker's own listener (http://127.0.0.1:0) serves the same API,
	// and its id is the advertised host:port.
	real := api{t: t, base: "http://" + w.REST().Addrs()[0].String()}
	real.expect("GET", "/connectors", nil, 200, nil)
	if w.Herder().WorkerID() != w.URL().Host || !strings.HasPrefix(w.URL().Host, "127.0.0.1:") {
		t.Fatalf("worker id %s, url %s", w.Herder().WorkerID(), w.URL())
	}
	// Jersey's answers for unknown paths and methods.
	a.expectError("GET", "/nope", nil, 404, "HTTP 404 Not Found")
	a.expectError("GET", "/connectors/x/tasks/notanumber/status", nil, 404, "HTTP 404 Not Found")
	a.expectError("PATCH", "/connectors", nil, 405, "HTTP 405 Method Not Allowed")
	a.expectError("PUT", "/connectors/x", nil, 405, "HTTP 405 Method Not Allowed")
}

func sourceConfig(dir, name string) map[string]string {
	return map[string]string{
		"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
		"tasks.max":       "1",
		"file":            filepath.Join(dir, name+".txt"),
		"topic":           name,
	}
}

// The lifecycle of a connector through the REST API, with Kafka's paths,
// status codes and bodies (Kafka's Connect REST API reference; KIP-745
// restarts, KIP-875 stop and offsets, KIP-558 topics, KIP-980
// initial_state).
func TestRESTConnectorLifecycle(t *testing.T) {
	c := startBroker(t)
	dir := t.TempDir()
	w, a := startREST(t, c, dir)
	workerID := w.Herder().WorkerID()
	appendFile(t, filepath.Join(dir, "src.txt"), "a\nbb\n")

	var names []string
	a.expect("GET", "/connectors", nil, 200, &names)
	if len(names) != 0 {
		t.Fatalf("GET /connectors = %v", names)
	}

	// Create.
	var info ConnectorInfo
	_, body, hdr := a.do("POST", "/connectors", map[string]any{"name": "src", "config": sourceConfig(dir, "src")})
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	wantConfig := sourceConfig(dir, "src")
	wantConfig["name"] = "src"
	if info.Name != "src" || info.Type != "source" || !reflect.DeepEqual(info.Config, wantConfig) ||
		!reflect.DeepEqual(info.Tasks, []TaskID{{Connector: "src", Task: 0}}) {
		t.Fatalf("created %s", body)
	}
	if hdr.Get("Location") != "/connectors/src" {
		t.Fatalf("Location %q", hdr.Get("Location"))
	}
	a.expectError("POST", "/connectors", map[string]any{"name": "src", "config": sourceConfig(dir, "src")}, 409, "Connector src already exists")

	st := a.waitState("src", "RUNNING", 1)
	if st.Connector.WorkerID != workerID || st.Tasks[0].WorkerID != workerID || st.Type != "source" || st.Name != "src" {
		t.Fatalf("status %+v", st)
	}
	raw := a.expect("GET", "/connectors/src/status", nil, 200, nil)
	if want := `{"name":"src","connector":{"state":"RUNNING","worker_id":"` + workerID + `"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"` + workerID + `"}],"type":"source"}`; string(raw) != want {
		t.Fatalf("status body\n%s\nwant\n%s", raw, want)
	}

	// Reads.
	a.expect("GET", "/connectors/src", nil, 200, &info)
	var cfg map[string]string
	a.expect("GET", "/connectors/src/config", nil, 200, &cfg)
	if !reflect.DeepEqual(cfg, wantConfig) {
		t.Fatalf("config %v", cfg)
	}
	var tasks []TaskInfo
	a.expect("GET", "/connectors/src/tasks", nil, 200, &tasks)
	if len(tasks) != 1 || tasks[0].ID != (TaskID{"src", 0}) || tasks[0].Config["task.class"] != "org.apache.kafka.connect.file.FileStreamSourceTask" || tasks[0].Config["topic"] != "src" {
		t.Fatalf("tasks %+v", tasks)
	}
	var ts TaskState
	a.expect("GET", "/connectors/src/tasks/0/status", nil, 200, &ts)
	if ts.ID != 0 || ts.State != "RUNNING" {
		t.Fatalf("task status %+v", ts)
	}
	var expanded map[string]map[string]json.RawMessage
	a.expect("GET", "/connectors?expand=status&expand=info", nil, 200, &expanded)
	if _, ok := expanded["src"]["status"]; !ok {
		t.Fatalf("expand: %v", expanded)
	}
	if _, ok := expanded["src"]["info"]; !ok {
		t.Fatalf("expand: %v", expanded)
	}

	// Not found, in Kafka's words.
	a.expectError("GET", "/connectors/nope", nil, 404, "Connector nope not found")
	a.expectError("GET", "/connectors/nope/config", nil, 404, "Connector nope not found")
	a.expectError("GET", "/connectors/nope/status", nil, 404, "No status found for connector nope")
	a.expectError("GET", "/connectors/src/tasks/5/status", nil, 404, "No status found for task src-5")
	a.expectError("POST", "/connectors/src/tasks/5/restart", nil, 404, "Task src-5 not found")
	a.expectError("PUT", "/connectors/nope/pause", nil, 404, "Unknown connector nope")
	a.expectError("DELETE", "/connectors/nope", nil, 404, "Connector nope not found")

	// Topics the connector used (KIP-558).
	eventually(t, "active topic", func() bool {
		var topics map[string]ActiveTopicsInfo
		a.expect("GET", "/connectors/src/topics", nil, 200, &topics)
		return reflect.DeepEqual(topics, map[string]ActiveTopicsInfo{"src": {Topics: []string{"src"}}})
	})
	a.expect("PUT", "/connectors/src/topics/reset", nil, 202, nil)
	var topics map[string]ActiveTopicsInfo
	a.expect("GET", "/connectors/src/topics", nil, 200, &topics)
	if len(topics["src"].Topics) != 0 {
		t.Fatalf("after reset: %v", topics)
	}

	// Pause and resume: 202, and the connector and its task follow.
	a.expect("PUT", "/connectors/src/pause", nil, 202, nil)
	a.waitState("src", "PAUSED", 1)
	a.expect("PUT", "/connectors/src/pause", nil, 202, nil) // idempotent
	a.expect("PUT", "/connectors/src/resume", nil, 202, nil)
	a.waitState("src", "RUNNING", 1)

	// Restarts (KIP-745): the plain form answers 204; with includeTasks
	// 202 and the instances being restarted marked RESTARTING.
	a.expect("POST", "/connectors/src/restart", nil, 204, nil)
	var rs ConnectorStateInfo
	a.expect("POST", "/connectors/src/restart?includeTasks=true", nil, 202, &rs)
	if rs.Connector.State != "RESTARTING" || len(rs.Tasks) != 1 || rs.Tasks[0].State != "RESTARTING" {
		t.Fatalf("restart plan %+v", rs)
	}
	a.waitState("src", "RUNNING", 1)
	a.expect("POST", "/connectors/src/restart?includeTasks=true&onlyFailed=true", nil, 202, &rs)
	if rs.Connector.State != "RUNNING" || rs.Tasks[0].State != "RUNNING" {
		t.Fatalf("onlyFailed restart plan %+v", rs)
	}
	a.expect("POST", "/connectors/src/tasks/0/restart", nil, 204, nil)
	a.waitState("src", "RUNNING", 1)

	// Offsets (KIP-875): the source's stored position once committed.
	wantPos := float64(len("a\nbb\n"))
	var offsets ConnectorOffsets
	eventually(t, "committed source offset", func() bool {
		a.expect("GET", "/connectors/src/offsets", nil, 200, &offsets)
		return len(offsets.Offsets) == 1 && offsets.Offsets[0].Offset["position"] == wantPos
	})
	if offsets.Offsets[0].Partition["filename"] != filepath.Join(dir, "src.txt") {
		t.Fatalf("offsets %+v", offsets)
	}
	patch := map[string]any{"offsets": []map[string]any{{
		"partition": map[string]any{"filename": filepath.Join(dir, "src.txt")},
		"offset":    map[string]any{"position": 2},
	}}}
	a.expectError("PATCH", "/connectors/src/offsets", patch, 400,
		"Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/src/stop' endpoint")
	a.expectError("DELETE", "/connectors/src/offsets", nil, 400,
		"Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/src/stop' endpoint")

	// Stop: 204, no tasks, state STOPPED.
	a.expect("PUT", "/connectors/src/stop", nil, 204, nil)
	st = a.waitState("src", "STOPPED", 0)
	a.expect("GET", "/connectors/src/tasks", nil, 200, &tasks)
	if len(tasks) != 0 {
		t.Fatalf("tasks of a stopped connector: %+v", tasks)
	}
	var msg Message
	a.expect("PATCH", "/connectors/src/offsets", patch, 200, &msg)
	if msg.Message != "The offsets for this connector have been altered successfully" {
		t.Fatalf("alter: %q", msg.Message)
	}
	a.expect("GET", "/connectors/src/offsets", nil, 200, &offsets)
	if len(offsets.Offsets) != 1 || offsets.Offsets[0].Offset["position"] != float64(2) {
		t.Fatalf("altered offsets %+v", offsets)
	}
	// The FileStream source refuses a negative position.
	bad := map[string]any{"offsets": []map[string]any{{
		"partition": map[string]any{"filename": filepath.Join(dir, "src.txt")},
		"offset":    map[string]any{"position": -1},
	}}}
	a.expectError("PATCH", "/connectors/src/offsets", bad, 500, "The value for the 'position' key in the offset should be a non-negative value")
	a.expectError("PATCH", "/connectors/src/offsets", map[string]any{"offsets": []any{}}, 400, "Partitions / offsets need to be provided for an alter offsets request")

	// Resuming a stopped connector starts it from the altered offset:
	// "bb" is produced again, "a" is not.
	a.expect("PUT", "/connectors/src/resume", nil, 202, nil)
	a.waitState("src", "RUNNING", 1)
	eventually(t, "offset after resume", func() bool {
		a.expect("GET", "/connectors/src/offsets", nil, 200, &offsets)
		return len(offsets.Offsets) == 1 && offsets.Offsets[0].Offset["position"] == wantPos
	})
	if got := consumeValues(t, c, "src", 3); !reflect.DeepEqual(got, []string{"a", "bb", "bb"}) {
		t.Fatalf("topic src = %q", got)
	}

	a.expect("PUT", "/connectors/src/stop", nil, 204, nil)
	a.waitState("src", "STOPPED", 0)
	a.expect("DELETE", "/connectors/src/offsets", nil, 200, &msg)
	if msg.Message != "The offsets for this connector have been reset successfully" {
		t.Fatalf("reset: %q", msg.Message)
	}
	a.expect("GET", "/connectors/src/offsets", nil, 200, &offsets)
	if len(offsets.Offsets) != 0 {
		t.Fatalf("after reset: %+v", offsets)
	}

	// Update through PUT config (200) and create through it (201).
	newCfg := sourceConfig(dir, "src")
	newCfg["batch.size"] = "1"
	a.expect("PUT", "/connectors/src/config", newCfg, 200, &info)
	if info.Config["batch.size"] != "1" {
		t.Fatalf("updated %+v", info)
	}
	a.waitState("src", "STOPPED", 0) // an update keeps the target state
	a.expectError("PUT", "/connectors/src/config", map[string]string{"name": "other", "connector.class": "FileStreamSource"}, 400,
		"Connector name configuration (other) doesn't match connector name in the URL (src)")
	_, _, hdr = a.do("PUT", "/connectors/src2/config", sourceConfig(dir, "src2"))
	if hdr.Get("Location") != "/connectors/src2" {
		t.Fatalf("PUT create Location %q", hdr.Get("Location"))
	}
	a.waitState("src2", "RUNNING", 1)

	// KIP-980: created paused or stopped.
	paused := map[string]any{"name": "p", "config": sourceConfig(dir, "p"), "initial_state": "PAUSED"}
	a.expect("POST", "/connectors", paused, 201, nil)
	a.waitState("p", "PAUSED", 0)
	stopped := map[string]any{"name": "s", "config": sourceConfig(dir, "s"), "initial_state": "STOPPED"}
	a.expect("POST", "/connectors", stopped, 201, nil)
	a.waitState("s", "STOPPED", 0)

	// Delete: 204, then gone.
	for _, n := range []string{"src", "src2", "p", "s"} {
		a.expect("DELETE", "/connectors/"+n, nil, 204, nil)
	}
	a.expect("GET", "/connectors", nil, 200, &names)
	if len(names) != 0 {
		t.Fatalf("after delete: %v", names)
	}
	a.expectError("GET", "/connectors/src/status", nil, 404, "No status found for connector src")
}

// consumeValues reads n records of topic from the start and returns their
// JSON-enveloped string payloads.
func consumeValues(t *testing.T, c *kafkatest.Cluster, topic string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	for len(out) < n {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		fs := cl.PollFetches(ctx)
		err := ctx.Err()
		cancel()
		if err != nil {
			t.Fatalf("consume %s: %v (got %q)", topic, err, out)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var env struct{ Payload string }
			if err := json.Unmarshal(r.Value, &env); err != nil {
				t.Fatalf("record %s: %v", r.Value, err)
			}
			out = append(out, env.Payload)
		})
	}
	return out
}

// Validation answers in Kafka's ConfigInfos form, and creating an invalid
// connector fails with Kafka's message listing the errors.
func TestRESTValidation(t *testing.T) {
	c := startBroker(t)
	dir := t.TempDir()
	_, a := startREST(t, c, dir)

	var infos ConfigInfos
	a.expect("PUT", "/connector-plugins/FileStreamSourceConnector/config/validate",
		map[string]string{"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector", "name": "x", "tasks.max": "0"}, 200, &infos)
	if infos.Name != "org.apache.kafka.connect.file.FileStreamSourceConnector" || infos.ErrorCount != 2 {
		t.Fatalf("validate: %+v", infos)
	}
	if infos.Groups[0] != "Common" {
		t.Fatalf("groups %v", infos.Groups)
	}
	errs := map[string][]string{}
	var topicDef *ConfigKeyInfo
	for _, ci := range infos.Configs {
		if ci.Value != nil && len(ci.Value.Errors) > 0 {
			errs[ci.Value.Name] = ci.Value.Errors
		}
		if ci.Definition != nil && ci.Definition.Name == "topic" {
			topicDef = ci.Definition
		}
	}
	want := map[string][]string{
		"tasks.max": {"Invalid value 0 for configuration tasks.max: Value must be at least 1"},
		"topic":     {`Missing required configuration "topic" which has no default value.`},
	}
	if !reflect.DeepEqual(errs, want) {
		t.Fatalf("errors %v", errs)
	}
	if topicDef == nil || topicDef.Type != "STRING" || !topicDef.Required || topicDef.DefaultValue != nil || topicDef.Importance != "HIGH" ||
		topicDef.Documentation != "The topic to publish data to" {
		t.Fatalf("topic definition %+v", topicDef)
	}

	a.expectError("PUT", "/connector-plugins/FileStreamSink/config/validate",
		map[string]string{"connector.class": "FileStreamSource"}, 400,
		"Included connector type FileStreamSource does not match request type FileStreamSink")

	// A sink needs topics or topics.regex, not both.
	a.expect("PUT", "/connector-plugins/FileStreamSinkConnector/config/validate",
		map[string]string{"connector.class": "FileStreamSink", "name": "k", "topics": "a", "topics.regex": "b.*"}, 200, &infos)
	if infos.ErrorCount != 2 {
		t.Fatalf("sink validation: %+v", infos)
	}

	a.expectError("POST", "/connectors", map[string]any{"name": "bad", "config": map[string]string{"connector.class": "FileStreamSource"}}, 400,
		"Connector configuration is invalid and contains the following 1 error(s):\n"+
			`Missing required configuration "topic" which has no default value.`+"\n"+
			"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`")
	a.expectError("POST", "/connectors", map[string]any{"name": "bad", "config": map[string]any{"connector.class": "FileStreamSource", "topic": nil}}, 400,
		"Connector configuration is invalid and contains the following 2 error(s):\n"+
			"Null value can not be supplied as the configuration value.\n"+
			`Missing required configuration "topic" which has no default value.`+"\n"+
			"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`")
	code, body, _ := a.do("POST", "/connectors", map[string]any{"name": "bad", "config": map[string]string{"connector.class": "com.example.Nope"}})
	if code != 500 || !strings.Contains(string(body), "Failed to find any class that implements Connector and which name matches com.example.Nope") {
		t.Fatalf("unknown class: %d %s", code, body)
	}
	a.expectError("POST", "/connectors", map[string]any{"name": "x", "config": map[string]string{"name": "x"}}, 400,
		"Connector config {name=x} contains no connector type")
	code, _, _ = a.do("POST", "/connectors", `{"name": "bad", "config": {`)
	if code != 500 {
		t.Fatalf("malformed JSON: %d", code)
	}
	// A transformation alias needs its type (validate_transforms_test.go
	// covers transformations in detail).
	a.expect("PUT", "/connector-plugins/FileStreamSource/config/validate",
		map[string]string{"connector.class": "FileStreamSource", "name": "x", "topic": "t", "transforms": "a", "errors.tolerance": "all"}, 200, &infos)
	if infos.ErrorCount != 1 {
		t.Fatalf("transform without type: %+v", infos)
	}

	// The plugins and their configuration definitions.
	var plugins []PluginInfo
	a.expect("GET", "/connector-plugins", nil, 200, &plugins)
	plugins = withoutTestPlugins(plugins)
	wantPlugins := []PluginInfo{
		{Class: "org.apache.kafka.connect.file.FileStreamSinkConnector", Type: "sink", Version: "4.1.0"},
		{Class: "org.apache.kafka.connect.file.FileStreamSourceConnector", Type: "source", Version: "4.1.0"},
	}
	if !reflect.DeepEqual(plugins, wantPlugins) {
		t.Fatalf("plugins %+v", plugins)
	}
	a.expect("GET", "/connector-plugins?connectorsOnly=false", nil, 200, &plugins)
	found := map[string]bool{}
	for _, p := range plugins {
		found[p.Type+" "+p.Class] = true
	}
	for _, k := range []string{"converter org.apache.kafka.connect.json.JsonConverter", "header_converter org.apache.kafka.connect.storage.SimpleHeaderConverter", "converter org.apache.kafka.connect.storage.StringConverter"} {
		if !found[k] {
			t.Fatalf("connectorsOnly=false lacks %s: %+v", k, plugins)
		}
	}
	var keys []ConfigKeyInfo
	a.expect("GET", "/connector-plugins/FileStreamSource/config", nil, 200, &keys)
	if len(keys) < 4 || keys[0].Name != "file" || keys[1].Name != "topic" || keys[2].Name != "batch.size" || *keys[2].DefaultValue != "2000" || keys[3].Name != "name" {
		t.Fatalf("plugin config %+v", keys)
	}
	a.expectError("GET", "/connector-plugins/com.example.Nope/config", nil, 404, "Unknown plugin com.example.Nope.")
}

// withoutTestPlugins drops the plugins this package's tests register.
func withoutTestPlugins(ps []PluginInfo) []PluginInfo {
	var out []PluginInfo
	for _, p := range ps {
		if !strings.HasPrefix(p.Class, "com.example.test.") {
			out = append(out, p)
		}
	}
	return out
}

// A sink connector's offsets are its consumer group's (KIP-875): read,
// altered and reset through the REST API once it is stopped.
func TestRESTSinkOffsets(t *testing.T) {
	c := startBroker(t)
	dir := t.TempDir()
	_, a := startREST(t, c, dir)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range []string{"one", "two", "three"} {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "lines", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	sinkFile := filepath.Join(dir, "out.txt")
	cfg := map[string]string{
		"connector.class": "FileStreamSink", "topics": "lines", "file": sinkFile,
		"value.converter": "org.apache.kafka.connect.storage.StringConverter",
	}
	a.expect("PUT", "/connectors/snk/config", cfg, 201, nil)
	a.waitState("snk", "RUNNING", 1)
	eventually(t, "sink file", func() bool { return equalLines(readLines(t, sinkFile), []string{"one", "two", "three"}) })

	var offsets ConnectorOffsets
	eventually(t, "committed sink offsets", func() bool {
		a.expect("GET", "/connectors/snk/offsets", nil, 200, &offsets)
		return len(offsets.Offsets) == 1 && offsets.Offsets[0].Offset["kafka_offset"] == float64(3)
	})
	if p := offsets.Offsets[0].Partition; p["kafka_topic"] != "lines" || p["kafka_partition"] != float64(0) {
		t.Fatalf("sink offsets %+v", offsets)
	}

	a.expect("PUT", "/connectors/snk/stop", nil, 204, nil)
	a.waitState("snk", "STOPPED", 0)
	patch := map[string]any{"offsets": []map[string]any{{
		"partition": map[string]any{"kafka_topic": "lines", "kafka_partition": 0},
		"offset":    map[string]any{"kafka_offset": 1},
	}}}
	var msg Message
	a.expect("PATCH", "/connectors/snk/offsets", patch, 200, &msg)
	if msg.Message != "The offsets for this connector have been altered successfully" {
		t.Fatalf("alter: %q", msg.Message)
	}
	a.expect("GET", "/connectors/snk/offsets", nil, 200, &offsets)
	if len(offsets.Offsets) != 1 || offsets.Offsets[0].Offset["kafka_offset"] != float64(1) {
		t.Fatalf("altered %+v", offsets)
	}
	adm := kadm.NewClient(cl)
	committed, err := adm.FetchOffsets(context.Background(), "connect-snk")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := committed.Lookup("lines", 0); !ok || o.At != 1 {
		t.Fatalf("group connect-snk offset %+v", o)
	}
	badPatch := map[string]any{"offsets": []map[string]any{{
		"partition": map[string]any{"kafka_topic": "lines", "kafka_partition": 0},
		"offset":    map[string]any{"kafka_offset": -5},
	}}}
	a.expectError("PATCH", "/connectors/snk/offsets", badPatch, 400, "Kafka offsets must be greater than or equal to 0")

	// Resumed, the sink delivers again from offset 1.
	a.expect("PUT", "/connectors/snk/resume", nil, 202, nil)
	a.waitState("snk", "RUNNING", 1)
	eventually(t, "redelivery from offset 1", func() bool {
		return equalLines(readLines(t, sinkFile), []string{"one", "two", "three", "two", "three"})
	})

	a.expect("PUT", "/connectors/snk/stop", nil, 204, nil)
	a.waitState("snk", "STOPPED", 0)
	a.expect("DELETE", "/connectors/snk/offsets", nil, 200, &msg)
	if msg.Message != "The offsets for this connector have been reset successfully" {
		t.Fatalf("reset: %q", msg.Message)
	}
	a.expect("GET", "/connectors/snk/offsets", nil, 200, &offsets)
	if len(offsets.Offsets) != 0 {
		t.Fatalf("after reset %+v", offsets)
	}
}
