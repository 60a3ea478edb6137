package connect

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

func produceValues(t *testing.T, c *kafkatest.Cluster, topic string, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range values {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte(v),
			Headers: []kgo.RecordHeader{{Key: "orig", Value: []byte("h-" + v)}}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// consumeN reads n records of topic from its start.
func consumeN(t *testing.T, c *kafkatest.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	eventually(t, "records in "+topic, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		out = append(out, cl.PollFetches(ctx).Records()...)
		return len(out) >= n
	})
	return out
}

func headerMap(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

// A sink with errors.tolerance=all skips a record its value converter
// cannot read and one its transformation cannot handle, sends both to the
// dead letter queue (created with the configured replication factor) with
// Kafka's context headers, and delivers the others (KIP-298).
func TestSinkDeadLetterQueue(t *testing.T) {
	c := startBroker(t)
	dir := t.TempDir()
	_, a := startREST(t, c, dir)

	// Connect lists the transformations and predicates as Kafka does.
	var plugins []PluginInfo
	a.expect("GET", "/connector-plugins?connectorsOnly=false", nil, 200, &plugins)
	found := map[string]bool{}
	for _, p := range plugins {
		found[p.Type+" "+p.Class+" "+p.Version] = true
	}
	for _, k := range []string{"transformation org.apache.kafka.connect.transforms.InsertField$Value 4.1.0",
		"transformation org.apache.kafka.connect.transforms.RegexRouter 4.1.0",
		"predicate org.apache.kafka.connect.transforms.predicates.TopicNameMatches 4.1.0"} {
		if !found[k] {
			t.Fatalf("connector-plugins lacks %s", k)
		}
	}

	var keys []ConfigKeyInfo
	a.expect("GET", "/connector-plugins/org.apache.kafka.connect.transforms.Cast$Value/config", nil, 200, &keys)
	if len(keys) != 1 || keys[0].Name != "spec" || keys[0].Type != "LIST" || !keys[0].Required || keys[0].Importance != "HIGH" {
		t.Fatalf("Cast$Value config %+v", keys)
	}

	produceValues(t, c, "events", `{"line":"one"}`, `not json`, `"just a string"`, `{"line":"two"}`)
	sinkFile := filepath.Join(dir, "out.txt")
	cfg := map[string]string{
		"connector.class": "FileStreamSink", "topics": "events", "file": sinkFile,
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
		"transforms": "extract", "transforms.extract.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
		"transforms.extract.field": "line",
		"errors.tolerance":         "all", "errors.log.enable": "true", "errors.log.include.messages": "true",
		"errors.deadletterqueue.topic.name": "events-dlq", "errors.deadletterqueue.topic.replication.factor": "1",
		"errors.deadletterqueue.context.headers.enable": "true",
	}
	a.expect("PUT", "/connectors/snk/config", cfg, 201, nil)
	a.waitState("snk", "RUNNING", 1)
	eventually(t, "sink file", func() bool { return equalLines(readLines(t, sinkFile), []string{"one", "two"}) })

	dlq := consumeN(t, c, "events-dlq", 2)
	if len(dlq) != 2 {
		t.Fatalf("%d DLQ records", len(dlq))
	}
	for i, want := range []struct{ value, offset, stage, class, exception string }{
		{`not json`, "1", "VALUE_CONVERTER", "org.apache.kafka.connect.json.JsonConverter", "org.apache.kafka.connect.errors.DataException"},
		{`"just a string"`, "2", "TRANSFORMATION", "org.apache.kafka.connect.transforms.ExtractField$Value", "org.apache.kafka.connect.errors.DataException"},
	} {
		r := dlq[i]
		h := headerMap(r)
		if string(r.Value) != want.value || h["orig"] != "h-"+want.value || h["__connect.errors.topic"] != "events" ||
			h["__connect.errors.partition"] != "0" || h["__connect.errors.offset"] != want.offset ||
			h["__connect.errors.connector.name"] != "snk" || h["__connect.errors.task.id"] != "0" ||
			h["__connect.errors.stage"] != want.stage || h["__connect.errors.class.name"] != want.class ||
			h["__connect.errors.exception.class.name"] != want.exception || h["__connect.errors.exception.message"] == "" ||
			h["__connect.errors.exception.stacktrace"] == "" {
			t.Errorf("DLQ record %d: value %q headers %v", i, r.Value, h)
		}
	}
	if !strings.Contains(headerMap(dlq[1])["__connect.errors.exception.message"], "Only Map objects supported in absence of schema for [field extraction], found: class java.lang.String") {
		t.Errorf("transformation error message %q", headerMap(dlq[1])["__connect.errors.exception.message"])
	}

	// The task stays RUNNING and its offsets pass the skipped records.
	if st := a.status("snk"); st.Tasks[0].State != "RUNNING" {
		t.Fatalf("task %+v", st.Tasks[0])
	}
	var offsets ConnectorOffsets
	eventually(t, "committed sink offsets", func() bool {
		a.expect("GET", "/connectors/snk/offsets", nil, 200, &offsets)
		return len(offsets.Offsets) == 1 && offsets.Offsets[0].Offset["kafka_offset"] == float64(4)
	})
}

// With errors.tolerance=none (the default) the first bad record fails
// the task, with "Tolerance exceeded in error handler" in its trace.
func TestSinkErrorToleranceNone(t *testing.T) {
	c := startBroker(t)
	dir := t.TempDir()
	_, a := startREST(t, c, dir)
	produceValues(t, c, "events", `{"line":"one"}`, `not json`, `{"line":"two"}`)
	sinkFile := filepath.Join(dir, "out.txt")
	cfg := map[string]string{
		"connector.class": "FileStreamSink", "topics": "events", "file": sinkFile,
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
		"transforms": "extract", "transforms.extract.type": "ExtractField$Value", "transforms.extract.field": "line",
	}
	a.expect("PUT", "/connectors/snk/config", cfg, 201, nil)
	var st ConnectorStateInfo
	eventually(t, "task FAILED", func() bool {
		st = a.status("snk")
		return len(st.Tasks) == 1 && st.Tasks[0].State == "FAILED"
	})
	trace := st.Tasks[0].Trace
	if !strings.Contains(trace, "Tolerance exceeded in error handler") || !strings.Contains(trace, "value converter failed for events-0 at offset 1") {
		t.Fatalf("trace %q", trace)
	}
	if st.Connector.State != "RUNNING" {
		t.Fatalf("connector %+v", st.Connector)
	}
	// Nothing after the bad record was delivered.
	if lines := readLines(t, sinkFile); len(lines) > 1 || (len(lines) == 1 && lines[0] != "one") {
		t.Fatalf("sink file %v", lines)
	}
}

// A source's records go through its transformations before the
// converters: HoistField and InsertField shape the value, RegexRouter
// (with a predicate) renames the topic, and a Filter whose predicate
// matches no record drops none.
func TestSourceTransforms(t *testing.T) {
	c := startBroker(t)
	dir := t.TempDir()
	_, a := startREST(t, c, dir)
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte("foo\nbaz\nbar\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{
		"name": "src", "connector.class": "FileStreamSource", "file": in, "topic": "lines",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
		"transforms":                     "drop,hoist,insert,route",
		"transforms.drop.type":           "org.apache.kafka.connect.transforms.Filter",
		"transforms.drop.predicate":      "isSkip",
		"transforms.hoist.type":          "org.apache.kafka.connect.transforms.HoistField$Value",
		"transforms.hoist.field":         "line",
		"transforms.insert.type":         "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.insert.static.field": "origin",
		"transforms.insert.static.value": "file",
		"transforms.insert.topic.field":  "topic",
		"transforms.route.type":          "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":         "(.*)",
		"transforms.route.replacement":   "routed-$1",
		"transforms.route.predicate":     "isLines",
		"predicates":                     "isSkip,isLines",
		"predicates.isSkip.type":         "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
		"predicates.isSkip.name":         "nonexistent",
		"predicates.isLines.type":        "TopicNameMatches",
		"predicates.isLines.pattern":     "lines",
		"transforms.drop.negate":         "false",
		"transforms.hoist.predicate":     "isLines",
		"transforms.hoist.negate":        "false",
		"transforms.insert.predicate":    "isSkip",
		"transforms.insert.negate":       "true",
	}
	var infos ConfigInfos
	a.expect("PUT", "/connector-plugins/FileStreamSource/config/validate", cfg, 200, &infos)
	if infos.ErrorCount != 0 {
		for _, c := range infos.Configs {
			if c.Value != nil && len(c.Value.Errors) > 0 {
				t.Errorf("%s: %v", c.Value.Name, c.Value.Errors)
			}
		}
		t.Fatalf("validation: %d errors", infos.ErrorCount)
	}
	a.expect("PUT", "/connectors/src/config", cfg, 201, nil)
	a.waitState("src", "RUNNING", 1)
	recs := consumeN(t, c, "routed-lines", 3)
	var got []map[string]string
	for _, r := range recs {
		var m map[string]string
		if err := json.Unmarshal(r.Value, &m); err != nil {
			t.Fatalf("value %s: %v", r.Value, err)
		}
		got = append(got, m)
	}
	for i, line := range []string{"foo", "baz", "bar"} {
		if got[i]["line"] != line || got[i]["origin"] != "file" || got[i]["topic"] != "lines" || len(got[i]) != 3 {
			t.Fatalf("record %d: %v", i, got[i])
		}
	}
}

// A source's records that a transformation cannot handle are skipped with
// errors.tolerance=all (their offsets still count) and fail the task with
// none.
func TestSourceErrorTolerance(t *testing.T) {
	c := startBroker(t)
	dir := t.TempDir()
	_, a := startREST(t, c, dir)
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte("1\nx\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{
		"connector.class": "FileStreamSource", "file": in, "topic": "nums",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
		"transforms": "cast", "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value", "transforms.cast.spec": "int32",
		"errors.tolerance": "all",
	}
	a.expect("PUT", "/connectors/src/config", cfg, 201, nil)
	a.waitState("src", "RUNNING", 1)
	if got := values(consumeN(t, c, "nums", 2)); len(got) != 2 || got[0] != "1" || got[1] != "3" {
		t.Fatalf("nums %v", got)
	}
	var offsets ConnectorOffsets
	eventually(t, "source offset past the skipped line", func() bool {
		a.expect("GET", "/connectors/src/offsets", nil, 200, &offsets)
		return len(offsets.Offsets) == 1 && offsets.Offsets[0].Offset["position"] == float64(6)
	})

	cfg["errors.tolerance"] = "none"
	cfg["topic"] = "nums2"
	a.expect("PUT", "/connectors/src2/config", cfg, 201, nil)
	var st ConnectorStateInfo
	eventually(t, "task FAILED", func() bool {
		st = a.status("src2")
		return len(st.Tasks) == 1 && st.Tasks[0].State == "FAILED"
	})
	if tr := st.Tasks[0].Trace; !strings.HasPrefix(tr, "Tolerance exceeded in error handler") || !strings.Contains(tr, `For input string: "x"`) {
		t.Fatalf("trace %q", st.Tasks[0].Trace)
	}
}

func values(recs []*kgo.Record) []string {
	var out []string
	for _, r := range recs {
		var v string
		if err := json.Unmarshal(r.Value, &v); err != nil {
			v = string(r.Value)
		}
		out = append(out, v)
	}
	return out
}

func seq(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}
