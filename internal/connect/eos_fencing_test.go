package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// multiCounterSource is counterSource with as many tasks as tasks.max
// says, each counting under its own source partition.
type multiCounterSource struct{ counterSource }

func (c *multiCounterSource) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		out[i] = maps.Clone(c.props)
		out[i]["task.number"] = strconv.Itoa(i)
	}
	return out, nil
}

func init() {
	sdk.RegisterPlugin(sdk.Plugin{Class: "com.example.test.MultiCounterSourceConnector", Type: sdk.PluginSource, Version: "test",
		New: func() any { return &multiCounterSource{} }})
}

// taskCountRecords returns the values of the tasks-fencing-<name> records
// of the config topic, in order.
func taskCountRecords(t *testing.T, c *kafkatest.Cluster, name string) []string {
	t.Helper()
	var out []string
	for _, r := range readTopic(t, c, "connect-configs") {
		if string(r.Key) == "tasks-fencing-"+name {
			out = append(out, string(r.Value))
		}
	}
	return out
}

func lastIs(l []string, want string) bool { return len(l) > 0 && l[len(l)-1] == want }

// putFence sends PUT /connectors/{name}/fence to base as a worker does,
// signed with the group's session key once there is one.
func putFence(t *testing.T, w *Distributed, base, name string) (int, []byte) {
	t.Helper()
	var code int
	var b []byte
	eventually(t, "PUT fence outside a rebalance", func() bool {
		req, err := http.NewRequest(http.MethodPut, base+"connectors/"+name+"/fence", http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		if key := w.Herder().configStore.SessionKey(); key != nil {
			req.Header.Set(signatureHeader, signRequest(key.Key, nil))
			req.Header.Set(signatureAlgorithmHeader, key.Algorithm)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		code = resp.StatusCode
		b, _ = io.ReadAll(resp.Body)
		return code != http.StatusConflict
	})
	return code, b
}

// openZombie starts a transaction under a task's transactional id and
// writes a record in it, as a task cut off from its group would.
func openZombie(t *testing.T, c *kafkatest.Cluster, txnID string) *kgo.Client {
	t.Helper()
	zombie, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.TransactionalID(txnID), kgo.DefaultProduceTopic("numbers"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(zombie.Close)
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(context.Background(), &kgo.Record{Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return zombie
}

// startFencingWorkers starts a broker with the topic "numbers" and two
// distributed workers with exactly.once.source.support=mode; cl is a
// client of the broker. All are closed when the test ends.
func startFencingWorkers(t *testing.T, mode string) (*kafkatest.Cluster, *kgo.Client, []*Distributed) {
	t.Helper()
	c := startBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, "numbers"); err != nil {
		t.Fatal(err)
	}
	props := distributedProps(c)
	props[ExactlyOnceSourceSupportConfig] = mode
	ws := []*Distributed{startDistributed(t, props), startDistributed(t, props)}
	t.Cleanup(func() {
		for _, w := range ws {
			w.Close(context.Background())
		}
	})
	return c, cl, ws
}

// expectFenced checks that the zombie cannot commit: its epoch was bumped.
func expectFenced(t *testing.T, zombie *kgo.Client) {
	t.Helper()
	err := zombie.EndTransaction(context.Background(), kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie commit: %v, want a fencing error", err)
	}
}

// KIP-618 zombie fencing: a connector's task count shrinks from 3 to 1.
// Before the new task 0 starts, the leader fences the transactional ids
// of all three old tasks (the last task-count record), so a zombie still
// holding task 2's id — which no new task reuses — cannot commit, and
// writes tasks-fencing-<name> {"task-count":1}. Two workers: a task on the
// follower asks the leader through PUT /connectors/{name}/fence.
func TestZombieFencingOnTaskCountChange(t *testing.T) {
	t.Parallel()
	c, cl, ws := startFencingWorkers(t, "enabled")
	base := ws[1].URL().String()
	conn := map[string]string{"connector.class": "com.example.test.MultiCounterSourceConnector", "topic": "numbers",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter", "batch": "1", "limit": "0", "tasks.max": "3"}
	if code, b := restUntil(t, http.MethodPut, base+"connectors/cnt/config", conn); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	eventually(t, "3 tasks RUNNING", func() bool { return allRunning(connectorStatus(t, base, "cnt"), 3) })
	// The first generation had nothing to fence; its count is recorded.
	if got := taskCountRecords(t, c, "cnt"); !lastIs(got, `{"task-count":3}`) {
		t.Fatalf("task-count records %v", got)
	}

	zombie := openZombie(t, c, "connect-cluster-cnt-2")
	conn["tasks.max"] = "1"
	if code, b := restUntil(t, http.MethodPut, base+"connectors/cnt/config", conn); code != http.StatusOK {
		t.Fatalf("update: %d %s", code, b)
	}
	eventually(t, "1 task RUNNING", func() bool { return allRunning(connectorStatus(t, base, "cnt"), 1) })
	if got := taskCountRecords(t, c, "cnt"); !lastIs(got, `{"task-count":1}`) {
		t.Fatalf("task-count records %v", got)
	}
	expectFenced(t, zombie)
	if got := values(readCommitted(t, cl, "numbers")); len(got) != 0 {
		t.Fatalf("read_committed numbers %v", got)
	}

	// exactly.once.support=required and transaction.boundary=connector
	// are checked against what the connector declares, with Kafka's
	// messages, by validate (200 with errors) and create (400).
	for _, tc := range []struct {
		config map[string]string
		key    string
		msg    string
	}{
		{map[string]string{"connector.class": "FileStreamSource", "topic": "t", "exactly.once.support": "required"}, exactlyOnceConfig, msgEOSUnsupported},
		{map[string]string{"connector.class": "com.example.test.CounterSourceConnector", "exactly.once.support": "REQUIRED"}, exactlyOnceConfig, msgEOSNotImplemented},
		{map[string]string{"connector.class": "com.example.test.CounterSourceConnector", "transaction.boundary": "connector"}, transactionBoundary, msgBoundaryUnsupported},
		{map[string]string{"connector.class": "FileStreamSource", "topic": "t", "file": "/f", "exactly.once.support": "required"}, exactlyOnceConfig, ""},
		{map[string]string{"connector.class": "com.example.test.TxnCounterSourceConnector", "transaction.boundary": "connector", "exactly.once.support": "required"}, transactionBoundary, ""},
	} {
		tc.config["name"] = "bad"
		if tc.msg == "" {
			expectValidationErrors(t, base, tc.config, tc.key)
		} else {
			expectValidationErrors(t, base, tc.config, tc.key, tc.msg)
		}
	}

	// Fencing again finds nothing pending: no new record.
	if code, b := putFence(t, ws[0], ws[0].URL().String(), "cnt"); code != http.StatusNoContent {
		t.Fatalf("fence: %d %s", code, b)
	}
	if got := taskCountRecords(t, c, "cnt"); len(got) != 2 {
		t.Fatalf("task-count records %v, want 2", got)
	}
}

// exactly.once.source.support=preparing (the first step of a rolling
// upgrade): tasks are not transactional, but the leader fences on request
// — PUT /connectors/{name}/fence, through either worker — and records the
// task count, as Kafka's leader does for workers already "enabled". Also:
// the endpoint's errors, and exactly.once.support / transaction.boundary
// validation against what the connector declares.
func TestPreparingFencesOnRequest(t *testing.T) {
	t.Parallel()
	c, cl, ws := startFencingWorkers(t, "preparing")
	url := func(i int) string { return ws[i].URL().String() }
	conn := map[string]string{"connector.class": "com.example.test.MultiCounterSourceConnector", "topic": "numbers",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter", "batch": "2", "limit": "4", "tasks.max": "2"}
	if code, b := restUntil(t, http.MethodPut, url(0)+"connectors/cnt/config", conn); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	// Not transactional: both tasks' records are there, written outside
	// transactions.
	eventually(t, "8 records", func() bool { return len(readCommitted(t, cl, "numbers")) == 8 })
	for _, r := range readCommitted(t, cl, "numbers") {
		if r.Attrs.IsTransactional() {
			t.Fatalf("record %s written in a transaction", r.Value)
		}
	}
	if got := taskCountRecords(t, c, "cnt"); len(got) != 0 {
		t.Fatalf("task-count records %v before any fencing request", got)
	}
	for i := range ws {
		if code, b := putFence(t, ws[i], url(i), "cnt"); code != http.StatusNoContent {
			t.Fatalf("fence through worker %d: %d %s", i, code, b)
		}
	}
	if got := taskCountRecords(t, c, "cnt"); len(got) != 1 || got[0] != `{"task-count":2}` {
		t.Fatalf("task-count records %v", got)
	}

	// An upgraded worker's task 1 is a zombie of the next generation.
	zombie := openZombie(t, c, "connect-cluster-cnt-1")
	conn["tasks.max"] = "1"
	if code, b := restUntil(t, http.MethodPut, url(1)+"connectors/cnt/config", conn); code != http.StatusOK {
		t.Fatalf("update: %d %s", code, b)
	}
	eventually(t, "1 task", func() bool { return allRunning(connectorStatus(t, url(0), "cnt"), 1) })
	if code, b := putFence(t, ws[1], url(1), "cnt"); code != http.StatusNoContent {
		t.Fatalf("fence: %d %s", code, b)
	}
	expectFenced(t, zombie)
	if got := taskCountRecords(t, c, "cnt"); !lastIs(got, `{"task-count":1}`) {
		t.Fatalf("task-count records %v", got)
	}

	// Kafka's answers: unknown connector, sink connector, no signature.
	if code, b := putFence(t, ws[0], url(0), "nope"); code != http.StatusNotFound || !strings.Contains(string(b), "Connector nope not found") {
		t.Fatalf("unknown connector: %d %s", code, b)
	}
	sink := map[string]string{"connector.class": "FileStreamSink", "topics": "numbers", "file": filepath.Join(t.TempDir(), "sink.txt")}
	if code, b := restUntil(t, http.MethodPut, url(0)+"connectors/snk/config", sink); code != http.StatusCreated {
		t.Fatalf("create sink: %d %s", code, b)
	}
	if code, b := putFence(t, ws[1], url(1), "snk"); code != http.StatusBadRequest || !strings.Contains(string(b), "Connector snk is not a source connector") {
		t.Fatalf("sink connector: %d %s", code, b)
	}
	if ws[0].Herder().isSessioned() {
		if code, b := restUntil(t, http.MethodPut, url(0)+"connectors/cnt/fence", nil); code != http.StatusBadRequest || !strings.Contains(string(b), "Internal request missing required signature") {
			t.Fatalf("unsigned: %d %s", code, b)
		}
	}

	// exactly.once.support=required on a worker without exactly-once
	// support enabled.
	expectValidationErrors(t, url(1), map[string]string{"name": "bad", "connector.class": "FileStreamSource", "topic": "t", "file": "/f",
		"exactly.once.support": "required"}, exactlyOnceConfig, msgEOSWorkerDisabled)
}

// expectValidationErrors checks that validate answers 200 with exactly
// msgs on key, and create answers 400 with them.
func expectValidationErrors(t *testing.T, base string, config map[string]string, key string, msgs ...string) {
	t.Helper()
	code, b := restCall(t, http.MethodPut, base+"connector-plugins/"+config["connector.class"]+"/config/validate", config)
	var infos ConfigInfos
	if code != http.StatusOK || json.Unmarshal(b, &infos) != nil || infos.ErrorCount != len(msgs) {
		t.Fatalf("validate %v: %d %s", config, code, b)
	}
	found := false
	for _, ci := range infos.Configs {
		if ci.Value != nil && ci.Value.Name == key {
			found = fmt.Sprint(ci.Value.Errors) == fmt.Sprint(msgs)
		}
	}
	if !found {
		t.Fatalf("validate %v: %s lacks %q on %s", config, b, msgs, key)
	}
	if len(msgs) == 0 {
		return
	}
	code, b = restUntil(t, http.MethodPut, base+"connectors/"+config["name"]+"/config", config)
	var e struct{ Message string }
	if code != http.StatusBadRequest || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Message, msgs[0]) {
		t.Fatalf("create %v: %d %s", config, code, b)
	}
}

// Task-count records as Kafka's KafkaConfigBackingStore reads them: a
// commit record after the latest task-count record leaves the connector
// pending fencing; a task-count record clears it; a connector tombstone
// forgets both.
func TestConfigStoreTaskCountRecords(t *testing.T) {
	s, _ := newTestConfigStore()
	for _, r := range []*kgo.Record{
		rec(0, "connector-c", `{"properties":{"connector.class":"FileStreamSource"}}`),
		rec(1, "task-c-0", `{"properties":{"task.class":"T"}}`),
		rec(2, "commit-c", `{"tasks":1}`),
	} {
		s.apply(r)
	}
	if _, ok := s.TaskCountRecord("c"); ok || !s.PendingFencing("c") {
		t.Fatal("first generation: want pending, no record")
	}
	s.apply(rec(3, "tasks-fencing-c", `{"task-count":1}`))
	if n, ok := s.TaskCountRecord("c"); !ok || n != 1 || s.PendingFencing("c") {
		t.Fatalf("after the record: %d %v pending=%v", n, ok, s.PendingFencing("c"))
	}
	s.apply(rec(4, "task-c-1", `{"properties":{"task.class":"T"}}`))
	s.apply(rec(5, "commit-c", `{"tasks":2}`))
	if n, _ := s.TaskCountRecord("c"); n != 1 || !s.PendingFencing("c") {
		t.Fatal("new generation: want pending with the old count")
	}
	s.apply(rec(6, "tasks-fencing-c", "not json"))
	if !s.PendingFencing("c") {
		t.Fatal("a malformed record cleared pending")
	}
	s.apply(rec(7, "connector-c", ""))
	if _, ok := s.TaskCountRecord("c"); ok || s.PendingFencing("c") {
		t.Fatal("deleted connector still has fencing state")
	}
}
