package connect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// startBroker starts a single-node Gregor whose groups rebalance at once
// (as config/server.properties sets).
func startBroker(t *testing.T) *kafkatest.Cluster {
	t.Helper()
	return kafkatest.Start(t, kafkatest.Config("group.initial.rebalance.delay.ms", "0"))
}

// workerProps are config/connect-standalone.properties for a test: the
// broker's address, a temporary offsets file, a free REST port and a
// short flush interval.
func workerProps(c *kafkatest.Cluster, dir string) map[string]string {
	return map[string]string{
		BootstrapServersConfig:           c.Addr(),
		KeyConverterConfig:               "org.apache.kafka.connect.json.JsonConverter",
		ValueConverterConfig:             "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":   "true",
		"value.converter.schemas.enable": "true",
		OffsetStorageFileConfig:          filepath.Join(dir, "connect.offsets"),
		OffsetFlushIntervalConfig:        "100",
		ListenersConfig:                  "http://127.0.0.1:0",
		PluginPathConfig:                 "libs/connect-file-4.1.0.jar",
	}
}

// quickstartConnectors are config/connect-file-source.properties and
// config/connect-file-sink.properties with the files in dir.
func quickstartConnectors(dir string) []ConnectorSpec {
	return []ConnectorSpec{
		{Config: map[string]string{
			"name": "local-file-source", "connector.class": "FileStreamSource", "tasks.max": "1",
			"file": filepath.Join(dir, "test.txt"), "topic": "connect-test",
		}},
		{Config: map[string]string{
			"name": "local-file-sink", "connector.class": "FileStreamSink", "tasks.max": "1",
			"file": filepath.Join(dir, "test.sink.txt"), "topics": "connect-test",
		}},
	}
}

// eventually polls cond until it holds, failing after a generous bound
// (a liveness guard, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Kafka's quickstart, step 6 ("Import/export your data as streams of
// events with Kafka Connect"): lines of test.txt reach the topic
// connect-test as JsonConverter envelopes and test.sink.txt as lines; an
// appended line follows; after a clean restart the source resumes from
// its stored offset and the sink from its committed offset, so no line is
// duplicated.
func TestFileQuickstart(t *testing.T) {
	c := startBroker(t)
	dir := t.TempDir()
	src, sink := filepath.Join(dir, "test.txt"), filepath.Join(dir, "test.sink.txt")
	appendFile(t, src, "foo\nbar\n")

	// Offsets are committed only at a clean stop (the periodic commit is
	// an hour away), so the restart below checks exactly that commit.
	props := workerProps(c, dir)
	props[OffsetFlushIntervalConfig] = "3600000"
	ctx := context.Background()
	w, err := StartStandalone(ctx, props, quickstartConnectors(dir), StandaloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "foo and bar in test.sink.txt", func() bool { return equalLines(readLines(t, sink), []string{"foo", "bar"}) })

	appendFile(t, src, "Another line\n")
	eventually(t, "the appended line in test.sink.txt", func() bool {
		return equalLines(readLines(t, sink), []string{"foo", "bar", "Another line"})
	})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The offsets file holds the byte position after the last line.
	store, err := OpenFileOffsetStore(filepath.Join(dir, "connect.offsets"))
	if err != nil {
		t.Fatal(err)
	}
	parts, offs, err := connectorOffsets(store, "local-file-source")
	if err != nil || len(parts) != 1 {
		t.Fatalf("stored offsets: %v %v", parts, err)
	}
	if got, want := offs[0]["position"], int64(len("foo\nbar\nAnother line\n")); got != want {
		t.Fatalf("stored position %v, want %d", got, want)
	}

	// Restart: the source resumes after "Another line", the sink after
	// its committed offset.
	appendFile(t, src, "Fourth line\n")
	w, err = StartStandalone(ctx, props, quickstartConnectors(dir), StandaloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"foo", "bar", "Another line", "Fourth line"}
	eventually(t, "the line written while stopped", func() bool { return len(readLines(t, sink)) >= len(want) })
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, sink); !equalLines(got, want) {
		t.Fatalf("test.sink.txt after a clean restart:\n%q\nwant\n%q", got, want)
	}

	// connect-test holds each line once, in Kafka's JSON envelope, with
	// a null key.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ConsumeTopics("connect-test"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var values []string
	for len(values) < len(want) {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		fs := cl.PollFetches(pctx)
		err := pctx.Err()
		cancel()
		if err != nil {
			t.Fatalf("consuming connect-test: %v (got %q)", err, values)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Key != nil {
				t.Errorf("record key %q, want null", r.Key)
			}
			values = append(values, string(r.Value))
		})
	}
	for i, line := range want {
		if env := `{"schema":{"type":"string","optional":false},"payload":"` + line + `"}`; values[i] != env {
			t.Fatalf("record %d = %s, want %s", i, values[i], env)
		}
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "connect-test")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if len(values) != len(want) || total != int64(len(want)) {
		t.Fatalf("connect-test has %d records (end offsets sum %d), want %d: %q", len(values), total, len(want), values)
	}
}
