package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// syncBuffer is a log sink safe for the worker's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Levels follow log4j's hierarchy: a logger takes its nearest ancestor's
// level; setting a namespace sets every known logger it prefixes and
// skips those already at the level (Kafka's Loggers.setLevel).
func TestLoggersLevels(t *testing.T) {
	ls := NewLoggers(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ls.now = func() time.Time { return time.UnixMilli(1000) }
	if l, _ := ls.Level("root"); l.Level != "WARN" || l.LastModified != nil {
		t.Fatalf("root starts at the handler's level: %+v", l)
	}
	ls.register("org.example.a.Task")
	ls.register("org.example.b.Task")
	if _, ok := ls.Level("org.example"); ok {
		t.Fatal("an unknown logger has a level")
	}
	names, err := ls.SetLevel("org.example.a", "debug")
	if err != nil || !slices.Equal(names, []string{"org.example.a", "org.example.a.Task"}) {
		t.Fatalf("set org.example.a: %v %v", names, err)
	}
	if l, _ := ls.Level("org.example.a.Task"); l.Level != "DEBUG" || l.LastModified == nil || *l.LastModified != 1000 {
		t.Fatalf("org.example.a.Task: %+v", l)
	}
	if l, _ := ls.Level("org.example.b.Task"); l.Level != "WARN" || l.LastModified != nil {
		t.Fatalf("org.example.b.Task inherits root: %+v", l)
	}
	all := ls.All()
	if len(all) != 3 || all["org.example.a"].Level != "DEBUG" || all["root"].Level != "WARN" {
		t.Fatalf("all levels: %v", all)
	}
	ls.now = func() time.Time { return time.UnixMilli(2000) }
	if names, _ := ls.SetLevel("root", "ERROR"); len(names) != 4 {
		t.Fatalf("root sets every logger: %v", names)
	}
	if l, _ := ls.Level("org.example.a.Task"); l.Level != "ERROR" || *l.LastModified != 2000 {
		t.Fatalf("after root: %+v", l)
	}
	if _, err := ls.SetLevel("x", "LOUD"); err == nil {
		t.Fatal("LOUD is a level")
	}

	// The handler levels records by their logger, below the wrapped
	// handler's own level too.
	var out bytes.Buffer
	ls = NewLoggers(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	log := slog.New(ls.Handler())
	task := log.With(LoggerKey, "org.example.Task")
	task.Debug("hidden")
	ls.SetLevel("org.example.Task", "TRACE")
	task.Log(context.Background(), slog.LevelDebug-4, "trace shown")
	log.Debug("root hidden")
	ls.SetLevel("org.example", "OFF")
	task.Error("off hidden")
	if got := out.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "trace shown") {
		t.Fatalf("log:\n%s", got)
	}
}

// KIP-495 against a worker: GET /admin/loggers lists root; the
// connector's and its tasks' loggers (their classes) are known; setting
// their package to DEBUG makes the worker log the task's DEBUG lines (and
// no other logger's); GET reflects it; unknown loggers are 404;
// a missing level is 400 and an unknown one 404, with Kafka's messages;
// scope=cluster on a standalone worker answers 204. admin.listeners
// moves /admin to its own listener and, empty, disables it.
func TestAdminLoggers(t *testing.T) {
	c := startBroker(t)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	props := workerProps(c, t.TempDir())
	w, err := StartStandalone(context.Background(), props, []ConnectorSpec{
		keyedConnector("debugged", "debugged-topic", nil),
	}, StandaloneOptions{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	base := w.URL().String() + "admin/loggers"
	const taskLogger = "com.example.test.KeyedSourceConnectorTask"

	code, b := restCall(t, http.MethodGet, base, nil)
	var all map[string]LoggerLevel
	if code != http.StatusOK || json.Unmarshal(b, &all) != nil || all["root"].Level != "INFO" || string(b) != `{"root":{"level":"INFO","last_modified":null}}` {
		t.Fatalf("GET /admin/loggers: %d %s", code, b)
	}
	eventually(t, "the task's logger", func() bool {
		code, _ := restCall(t, http.MethodGet, base+"/"+taskLogger, nil)
		return code == http.StatusOK
	})
	// The connector's logger is known from its start, at root's level.
	if code, b := restCall(t, http.MethodGet, base+"/com.example.test.KeyedSourceConnector", nil); code != http.StatusOK ||
		string(b) != `{"level":"INFO","last_modified":null}` {
		t.Fatalf("GET the connector's logger: %d %s", code, b)
	}
	if strings.Contains(logs.String(), " level=DEBUG msg=") {
		t.Fatal("DEBUG lines before any logger was set to DEBUG")
	}
	code, b = restCall(t, http.MethodPut, base+"/com.example.test", map[string]string{"level": "DEBUG"})
	if code != http.StatusOK || string(b) != `["com.example.test","com.example.test.KeyedSourceConnector","`+taskLogger+`"]` {
		t.Fatalf("PUT: %d %s", code, b)
	}
	eventually(t, "a DEBUG line from the task", func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, " level=DEBUG msg=") && strings.Contains(l, "task=debugged-0") && strings.Contains(l, "logger="+taskLogger) {
				return true
			}
		}
		return false
	})
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, " level=DEBUG msg=") && !strings.Contains(l, "logger=com.example.test.") {
			t.Fatalf("a DEBUG line from another logger: %s", l)
		}
	}
	var got LoggerLevel
	code, b = restCall(t, http.MethodGet, base+"/"+taskLogger, nil)
	if code != http.StatusOK || json.Unmarshal(b, &got) != nil || got.Level != "DEBUG" || got.LastModified == nil {
		t.Fatalf("GET the task's logger: %d %s", code, b)
	}

	for _, tc := range []struct {
		method, path string
		body         any
		code         int
		message      string
	}{
		{http.MethodGet, "/org.example.Unknown", nil, 404, "Logger org.example.Unknown not found."},
		{http.MethodPut, "/x", map[string]string{}, 400, "Desired 'level' parameter was not specified in request."},
		{http.MethodPut, "/x", map[string]string{"level": "LOUD"}, 404, "invalid log level 'LOUD'."},
		{http.MethodPut, "/x?scope=cluster", map[string]string{"level": "WARN"}, 204, ""},
		{http.MethodDelete, "/x", nil, 405, "HTTP 405 Method Not Allowed"},
	} {
		code, b := restCall(t, tc.method, base+tc.path, tc.body)
		var em ErrorMessage
		json.Unmarshal(b, &em)
		if code != tc.code || em.Message != tc.message {
			t.Errorf("%s %s: %d %s, want %d %q", tc.method, tc.path, code, b, tc.code, tc.message)
		}
	}
	if code, b := restCall(t, http.MethodGet, base+"/x", nil); code != 200 || !strings.Contains(string(b), `"level":"WARN"`) {
		t.Fatalf("after scope=cluster: %d %s", code, b)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// admin.listeners: /admin on its own listener only; empty: nowhere.
	props[AdminListenersConfig] = "http://127.0.0.1:0"
	w, err = StartStandalone(context.Background(), props, nil, StandaloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	admin := "http://" + w.REST().AdminAddrs()[0].String() + "/"
	for u, want := range map[string]int{
		admin + "admin/loggers":            200,
		admin + "connectors":               404,
		w.URL().String() + "admin/loggers": 404,
		w.URL().String() + "connectors":    200,
	} {
		if code, b := restCall(t, http.MethodGet, u, nil); code != want {
			t.Errorf("GET %s: %d %s, want %d", u, code, b, want)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	props[AdminListenersConfig] = ""
	w, err = StartStandalone(context.Background(), props, nil, StandaloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	if code, _ := restCall(t, http.MethodGet, w.URL().String()+"admin/loggers", nil); code != 404 || len(w.REST().AdminAddrs()) != 0 {
		t.Fatalf("admin.listeners empty: %d", code)
	}
}

// KIP-976 on a distributed cluster: PUT ?scope=cluster on one worker
// answers 204 and writes logger-cluster-<namespace> {"level":…} to the
// config topic; every worker running then applies it (GET on the other
// worker shows it), while a worker that joins afterwards skips the old
// record when it reads the topic at startup, as Kafka's does.
func TestDistributedClusterLoggerLevel(t *testing.T) {
	c := startBroker(t)
	props := distributedProps(c)
	w1 := startDistributed(t, props)
	defer w1.Close(context.Background())
	w2 := startDistributed(t, props)
	defer w2.Close(context.Background())

	const ns = "org.apache.kafka.connect.file"
	code, b := restCall(t, http.MethodPut, w1.URL().String()+"admin/loggers/"+ns+"?scope=cluster", map[string]string{"level": "DEBUG"})
	if code != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("PUT scope=cluster: %d %s", code, b)
	}
	for _, w := range []*Distributed{w2, w1} {
		eventually(t, "DEBUG on "+w.URL().String(), func() bool {
			code, b := restCall(t, http.MethodGet, w.URL().String()+"admin/loggers/"+ns, nil)
			var l LoggerLevel
			return code == http.StatusOK && json.Unmarshal(b, &l) == nil && l.Level == "DEBUG" && l.LastModified != nil
		})
	}
	if l, ok := w2.REST().Loggers().All()[ns]; !ok || l.Level != "DEBUG" {
		t.Fatalf("w2's loggers: %+v", w2.REST().Loggers().All())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r, ok := configRecords(t, cl, "connect-configs")["logger-cluster-"+ns]
	if !ok || string(r.Value) != `{"level":"DEBUG"}` {
		t.Fatalf("logger-cluster-%s: %+v", ns, r)
	}

	w3 := startDistributed(t, props)
	defer w3.Close(context.Background())
	if err := w3.Herder().configStore.ReadToEnd(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l, ok := w3.REST().Loggers().All()[ns]; ok {
		t.Fatalf("a worker that joined later applied the old level: %+v", l)
	}
}
