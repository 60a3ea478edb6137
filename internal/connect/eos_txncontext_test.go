package connect

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// txnCounterSource counts 1…limit, one record per poll, and defines its
// transactions (transaction.boundary=connector): it commits after every
// "commit.every"-th record, except that the transaction ending with
// "abort.at" is aborted instead.
type txnCounterSource struct{ counterSource }

func (*txnCounterSource) NewTask() sdk.SourceTask { return &txnCounterTask{} }
func (c *txnCounterSource) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.props)}, nil
}
func (*txnCounterSource) CanDefineTransactionBoundaries(map[string]string) sdk.ConnectorTransactionBoundaries {
	return sdk.TransactionBoundariesSupported
}
func (*txnCounterSource) ExactlyOnceSupport(map[string]string) sdk.ExactlyOnceSupport {
	return sdk.ExactlyOnceSupported
}

type txnCounterTask struct {
	counterTask
	txn            sdk.TransactionContext
	every, abortAt int
}

func (t *txnCounterTask) Initialize(c sdk.SourceTaskContext) {
	t.counterTask.Initialize(c)
	t.txn = sdk.TransactionContextOf(c)
}

func (t *txnCounterTask) Start(p map[string]string) error {
	if t.txn == nil {
		return errors.New("no transaction context")
	}
	t.every, _ = strconv.Atoi(p["commit.every"])
	t.abortAt, _ = strconv.Atoi(p["abort.at"])
	p["batch"] = "1"
	return t.counterTask.Start(p)
}

func (t *txnCounterTask) Poll(ctx context.Context) ([]*sdk.SourceRecord, error) {
	recs, err := t.counterTask.Poll(ctx)
	for _, r := range recs {
		n, _ := strconv.Atoi(r.Value.(string))
		switch {
		case n == t.abortAt:
			t.txn.AbortTransactionAfter(r)
		case n%t.every == 0:
			t.txn.CommitTransactionAfter(r)
		}
	}
	return recs, err
}

func init() {
	sdk.RegisterPlugin(sdk.Plugin{Class: "com.example.test.TxnCounterSourceConnector", Type: sdk.PluginSource, Version: "test",
		New: func() any { return &txnCounterSource{} }})
}

// KIP-618 connector-defined transaction boundaries: the task commits
// after every third record and aborts the transaction of 4…6. A
// read_committed consumer only ever sees whole transactions (a prefix of
// 1 2 3 | 7 8 9 | 10 11 12 ending at a boundary); the aborted records'
// offsets are dropped with them, so a restart resumes after 9.
func TestConnectorDefinedTransactions(t *testing.T) {
	t.Parallel()
	c := startBroker(t)
	dir := t.TempDir()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	compact := "compact"
	for topic, cfgs := range map[string]map[string]*string{"numbers": nil, "eos-offsets": {"cleanup.policy": &compact}} {
		if _, err := adm.CreateTopic(context.Background(), 1, 1, cfgs, topic); err != nil {
			t.Fatal(err)
		}
	}
	w, statuses := newEOSWorker(t, c, dir, cl)
	defer w.Close()
	id := TaskID{Connector: "txn", Task: 0}
	conn := map[string]string{"name": "txn", "connector.class": "com.example.test.TxnCounterSourceConnector", "topic": "numbers",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter", "transaction.boundary": "connector",
		"commit.every": "3", "abort.at": "6", "limit": "9"}

	want := []string{"1", "2", "3", "7", "8", "9", "10", "11", "12"}
	wholeTransactions := func(limit int) bool {
		got := values(readCommitted(t, cl, "numbers"))
		if len(got)%3 != 0 || len(got) > len(want) || fmt.Sprint(got) != fmt.Sprint(want[:len(got)]) {
			t.Fatalf("read_committed numbers %v: not whole transactions of %v", got, want)
		}
		return len(got) == limit
	}
	if err := w.startTask(id, conn, conn, TargetStarted); err != nil {
		t.Fatal(err)
	}
	eventually(t, "1 2 3 7 8 9 committed", func() bool { return wholeTransactions(6) })
	w.stopTasks([]TaskID{id})
	if st, _ := statuses.Task(id); st.State == StateFailed {
		t.Fatalf("task failed: %s", st.Trace)
	}
	var offs []string
	for _, r := range readCommitted(t, cl, "eos-offsets") {
		offs = append(offs, string(r.Value))
	}
	if fmt.Sprint(offs) != `[{"n":3} {"n":9}]` {
		t.Fatalf("committed offsets %v", offs)
	}

	conn["limit"] = "12"
	if err := w.startTask(id, conn, conn, TargetStarted); err != nil {
		t.Fatal(err)
	}
	eventually(t, "10 11 12 committed", func() bool { return wholeTransactions(9) })
	w.stopTasks([]TaskID{id})
	// The aborted records are in the log, invisible to read_committed.
	if all := values(consumeN(t, c, "numbers", 12)); fmt.Sprint(all[3:6]) != "[4 5 6]" {
		t.Fatalf("log %v", all)
	}

	// Without transaction.boundary=connector there is no context.
	if ctx := (&sourceTask{}).TransactionContext(); ctx != nil {
		t.Fatalf("transaction context %v without exactly-once", ctx)
	}
}

// A connector's own offsets.storage.topic (KIP-618): its exactly-once
// task writes offsets there, not to the worker's offsets topic, and a
// restarted task resumes from them. An offset only the worker's topic
// holds (written before the connector had a topic of its own) is the
// fallback.
func TestConnectorOffsetsTopic(t *testing.T) {
	t.Parallel()
	c := startBroker(t)
	dir := t.TempDir()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	compact := "compact"
	for topic, cfgs := range map[string]map[string]*string{"numbers": nil, "numbers2": nil, "eos-offsets": {"cleanup.policy": &compact}} {
		if _, err := adm.CreateTopic(context.Background(), 1, 1, cfgs, topic); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "eos-offsets", Key: []byte(`["cnt2",{"counter":"c"}]`), Value: []byte(`{"n":3}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	w, _ := newEOSWorker(t, c, dir, cl)
	defer w.Close()
	id := TaskID{Connector: "cnt", Task: 0}
	conn := map[string]string{"name": "cnt", "connector.class": "com.example.test.CounterSourceConnector", "topic": "numbers",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter", "batch": "2", "limit": "6",
		"offsets.storage.topic": "cnt-offsets"}
	if err := w.startTask(id, conn, conn, TargetStarted); err != nil {
		t.Fatal(err)
	}
	eventually(t, "1…6 committed", func() bool { return len(readCommitted(t, cl, "numbers")) == 6 })
	w.stopTasks([]TaskID{id})
	if got := readCommitted(t, cl, "eos-offsets"); len(got) != 1 {
		t.Fatalf("worker offsets topic %v: the connector's offsets went there", values(got))
	}
	offs := readCommitted(t, cl, "cnt-offsets")
	if len(offs) == 0 || string(offs[len(offs)-1].Value) != `{"n":6}` {
		t.Fatalf("cnt-offsets %v", values(offs))
	}
	conn["limit"] = "9"
	if err := w.startTask(id, conn, conn, TargetStarted); err != nil {
		t.Fatal(err)
	}
	eventually(t, "7…9 committed", func() bool { return len(readCommitted(t, cl, "numbers")) >= 9 })
	w.stopTasks([]TaskID{id})
	if got := values(readCommitted(t, cl, "numbers")); fmt.Sprint(got) != fmt.Sprint(seq(1, 9)) {
		t.Fatalf("read_committed numbers %v, want 1…9 once each", got)
	}

	// Fallback: cnt2's only offset is in the worker's topic.
	id2 := TaskID{Connector: "cnt2", Task: 0}
	conn2 := maps.Clone(conn)
	conn2["name"], conn2["topic"], conn2["offsets.storage.topic"], conn2["limit"] = "cnt2", "numbers2", "cnt2-offsets", "5"
	if err := w.startTask(id2, conn2, conn2, TargetStarted); err != nil {
		t.Fatal(err)
	}
	eventually(t, "4 5 committed", func() bool { return len(readCommitted(t, cl, "numbers2")) >= 2 })
	w.stopTasks([]TaskID{id2})
	if got := values(readCommitted(t, cl, "numbers2")); fmt.Sprint(got) != "[4 5]" {
		t.Fatalf("numbers2 %v, want 4 5", got)
	}
}
