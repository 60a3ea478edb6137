// Package connect tests Gregor Connect's distributed mode with workers
// as real processes (`gregor connect-distributed`), so that a worker can
// be SIGKILLed: no clean stop, no LeaveGroup, no final offset commit.
package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/connect"
	"github.com/gregor-streaming/gregor/internal/testproc"
	"github.com/gregor-streaming/gregor/kafkatest"
)

var gregorBin string

func TestMain(m *testing.M) {
	testproc.Main(m, "connect", testproc.Binary{Name: "gregor-connecttest", Package: testproc.GregorPackage, Path: &gregorBin})
}

// bound is a liveness guard for waits, not a timing assertion.
const bound = 45 * time.Second

var (
	startedRE = regexp.MustCompile(`msg="Kafka Connect started" url=(\S+)`)
	leaderRE  = regexp.MustCompile(`msg="Joined the worker group" .*leader=(\S+)`)
)

// worker is one `gregor connect-distributed` process.
type worker struct {
	*testproc.Process
	url string // set before Ready is closed
}

// workerID is host:port of the worker's URL, as statuses report it.
func (w *worker) workerID() string {
	return strings.TrimSuffix(strings.TrimPrefix(w.url, "http://"), "/")
}

// startWorker starts a worker with props and waits for its REST API.
// Cleanup stops it with SIGTERM and fails the test on a race report.
func startWorker(t *testing.T, props string) *worker {
	t.Helper()
	w := &worker{}
	w.Process = testproc.Start(t, "worker", exec.Command(gregorBin, "connect-distributed", props), func(line string) bool {
		if m := startedRE.FindStringSubmatch(line); m != nil {
			w.url = m[1]
			return true
		}
		return false
	})
	t.Cleanup(func() {
		if !w.Stop(bound) {
			t.Errorf("worker %s did not stop on SIGTERM", w.url)
		}
		lines := w.Lines()
		for _, l := range lines {
			if strings.Contains(l, "DATA RACE") {
				t.Errorf("race in worker %s:\n%s", w.url, strings.Join(lines, "\n"))
				break
			}
		}
	})
	select {
	case <-w.Ready():
	case <-w.Done():
		t.Fatalf("worker exited at start:\n%s", strings.Join(w.Lines(), "\n"))
	case <-time.After(bound):
		t.Fatalf("worker did not start:\n%s", strings.Join(w.Lines(), "\n"))
	}
	return w
}

func restCall(t *testing.T, method, u string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	cl := &http.Client{Timeout: 30 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// logOnFailure returns a logger whose lines the test prints if it fails.
func logOnFailure(t *testing.T) *slog.Logger {
	var buf lockedBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type taskState struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
}

type connectorState struct {
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"connector"`
	Tasks []taskState `json:"tasks"`
}

func status(t *testing.T, base, name string) connectorState {
	var st connectorState
	if code, b := restCall(t, http.MethodGet, base+"connectors/"+name+"/status", nil); code == http.StatusOK {
		json.Unmarshal(b, &st)
	}
	return st
}

// runningOn returns the workers running the connector's n tasks, or nil
// unless all n run.
func runningOn(st connectorState, n int) map[string]bool {
	if st.Connector.State != "RUNNING" || len(st.Tasks) != n {
		return nil
	}
	ids := map[string]bool{}
	for _, ts := range st.Tasks {
		if ts.State != "RUNNING" {
			return nil
		}
		ids[ts.WorkerID] = true
	}
	return ids
}

func produce(t *testing.T, addr, topic, prefix string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var lines []string
	var recs []*kgo.Record
	for i := range n {
		lines = append(lines, prefix+strconv.Itoa(i))
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(lines[i])})
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func fileLines(path string) []string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// missing returns the wanted lines the file lacks.
func missing(path string, want []string) []string {
	have := map[string]bool{}
	for _, l := range fileLines(path) {
		have[l] = true
	}
	var out []string
	for _, l := range want {
		if !have[l] {
			out = append(out, l)
		}
	}
	return out
}

// gregor connect-distributed takes exactly one worker properties file
// and prints Kafka's usage line otherwise; a bad configuration stops it
// with Kafka's message.
func TestUsage(t *testing.T) {
	out, err := exec.Command(gregorBin, "connect-distributed").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Usage: ConnectDistributed worker.properties") {
		t.Fatalf("no arguments: %v\n%s", err, out)
	}
	props := filepath.Join(t.TempDir(), "w.properties")
	os.WriteFile(props, []byte("key.converter=JsonConverter\nvalue.converter=JsonConverter\n"), 0o644)
	out, err = exec.Command(gregorBin, "connect-distributed", props).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `Missing required configuration "group.id" which has no default value.`) {
		t.Fatalf("no group.id: %v\n%s", err, out)
	}
}

// Three workers run a FileStreamSink with tasks.max=3 on a 3-partition
// topic, one task each. A worker that is not the group's leader is
// SIGKILLed while records flow: once its session expires the leader
// holds its task back for scheduled.rebalance.max.delay.ms (KIP-415),
// then gives it to a survivor, which resumes from the last committed
// offset. The sink file ends up with every record (at least once).
func TestKillWorkerTasksMove(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Config("group.initial.rebalance.delay.ms", "0"))
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
	props := filepath.Join(dir, "connect-distributed.properties")
	text := strings.Join([]string{
		"bootstrap.servers=" + c.Addr(),
		"group.id=connect-cluster",
		"key.converter=org.apache.kafka.connect.storage.StringConverter",
		"value.converter=org.apache.kafka.connect.storage.StringConverter",
		"offset.storage.topic=connect-offsets",
		"offset.storage.replication.factor=1",
		"config.storage.topic=connect-configs",
		"config.storage.replication.factor=1",
		"status.storage.topic=connect-status",
		"status.storage.replication.factor=1",
		"offset.flush.interval.ms=200",
		"listeners=HTTP://127.0.0.1:0",
		"heartbeat.interval.ms=500",
		"session.timeout.ms=6000",
		"rebalance.timeout.ms=15000",
		"scheduled.rebalance.max.delay.ms=2000",
		"consumer.session.timeout.ms=6000",
		"consumer.heartbeat.interval.ms=500",
	}, "\n") + "\n"
	if err := os.WriteFile(props, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ws := []*worker{startWorker(t, props), startWorker(t, props), startWorker(t, props)}
	config := map[string]string{"connector.class": "FileStreamSink", "tasks.max": "3", "topics": "spread", "file": sink}
	eventually(t, "the connector created", func() bool {
		code, _ := restCall(t, http.MethodPut, ws[1].url+"connectors/spread-sink/config", config)
		return code == http.StatusCreated || code == http.StatusOK
	})
	eventually(t, "three tasks on three workers", func() bool { return len(runningOn(status(t, ws[0].url, "spread-sink"), 3)) == 3 })
	want := produce(t, c.Addr(), "spread", "a", 120)
	eventually(t, "the first records in the sink file", func() bool { return len(missing(sink, want)) == 0 })

	// The victim: a worker that is not the leader (a new leader would not
	// remember the departed worker's assignment).
	var leader string
	for _, w := range ws {
		for _, l := range w.Lines() {
			if m := leaderRE.FindStringSubmatch(l); m != nil {
				leader = m[1]
			}
		}
	}
	var victim *worker
	var survivors []*worker
	for _, w := range ws {
		if victim == nil && w.url != leader {
			victim = w
		} else {
			survivors = append(survivors, w)
		}
	}
	want = append(want, produce(t, c.Addr(), "spread", "b", 120)...)
	if err := victim.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.Done()
	want = append(want, produce(t, c.Addr(), "spread", "c", 120)...)

	eventually(t, "the killed worker's task running on a survivor", func() bool {
		on := runningOn(status(t, survivors[0].url, "spread-sink"), 3)
		return len(on) == 2 && !on[victim.workerID()]
	})
	eventually(t, "every record in the sink file", func() bool { return len(missing(sink, want)) == 0 })
	lines := fileLines(sink)
	t.Logf("%d records produced, %d lines in the sink file (at least once)", len(want), len(lines))

	// The leader announced the scheduled rebalance delay before moving
	// the task.
	delayed := false
	for _, w := range survivors {
		for _, l := range w.Lines() {
			if strings.Contains(l, `msg="Joined the worker group"`) && strings.Contains(l, "delay.ms=") && !strings.Contains(l, "delay.ms=0") {
				delayed = true
			}
		}
	}
	if !delayed {
		t.Errorf("no survivor was told of a scheduled rebalance delay")
	}
}

// On a three-broker cluster a worker with Kafka's default replication
// factors (3) creates its topics replicated three times and compacted,
// the config topic with one partition, the status topic with
// status.storage.partitions, and runs a connector.
func TestThreeBrokersDefaultReplication(t *testing.T) {
	c := kafkatest.StartCluster(t, 3, kafkatest.Config("group.initial.rebalance.delay.ms", "0"))
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	os.WriteFile(in, []byte("x\ny\n"), 0o644)
	props := map[string]string{
		"bootstrap.servers": strings.Join(c.Addrs(), ","), "group.id": "connect-cluster",
		"key.converter": "StringConverter", "value.converter": "StringConverter",
		"config.storage.topic": "connect-configs", "offset.storage.topic": "connect-offsets",
		"status.storage.topic": "connect-status", "status.storage.partitions": "2",
		"offset.storage.partitions": "-1", "listeners": "http://127.0.0.1:0",
		"heartbeat.interval.ms": "300", "offset.flush.interval.ms": "200",
	}
	w, err := connect.StartDistributed(context.Background(), props, connect.DistributedOptions{Logger: logOnFailure(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	base := w.URL().String()
	for _, cfg := range []map[string]string{
		{"connector.class": "FileStreamSource", "file": in, "topic": "lines"},
		{"connector.class": "FileStreamSink", "file": out, "topics": "lines"},
	} {
		name := strings.ToLower(cfg["connector.class"])
		eventually(t, "create "+name, func() bool {
			code, _ := restCall(t, http.MethodPut, base+"connectors/"+name+"/config", cfg)
			return code == http.StatusCreated
		})
	}
	eventually(t, "the lines in out.txt", func() bool { return strings.Join(fileLines(out), ",") == "x,y" })

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	details, err := adm.ListTopics(ctx, "connect-configs", "connect-offsets", "connect-status")
	if err != nil {
		t.Fatal(err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, "connect-configs", "connect-offsets", "connect-status")
	if err != nil {
		t.Fatal(err)
	}
	wantParts := map[string]int{"connect-configs": 1, "connect-status": 2}
	for _, topic := range []string{"connect-configs", "connect-offsets", "connect-status"} {
		d, ok := details[topic]
		if !ok || d.Err != nil {
			t.Fatalf("%s: %+v", topic, d)
		}
		if n, ok := wantParts[topic]; ok && len(d.Partitions) != n {
			t.Errorf("%s has %d partitions, want %d", topic, len(d.Partitions), n)
		}
		for _, p := range d.Partitions {
			if len(p.Replicas) != 3 {
				t.Errorf("%s-%d has replicas %v, want 3", topic, p.Partition, p.Replicas)
			}
		}
		rc, err := configs.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		policy := ""
		for _, kv := range rc.Configs {
			if kv.Key == "cleanup.policy" && kv.Value != nil {
				policy = *kv.Value
			}
		}
		if policy != "compact" {
			t.Errorf("%s cleanup.policy = %q, want compact", topic, policy)
		}
	}
}
