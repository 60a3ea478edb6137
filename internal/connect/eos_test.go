package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// counterSource emits "1", "2", … to "topic", "batch" records per poll,
// each with its number as source offset, resuming after the stored
// offset; it returns an error instead of the batch holding "fail.at",
// and waits once "limit" records are out.
type counterSource struct{ props map[string]string }

func (*counterSource) Version() string                   { return "test" }
func (*counterSource) Config() *sdk.ConfigDef            { return sdk.NewConfigDef() }
func (*counterSource) Stop() error                       { return nil }
func (c *counterSource) Start(p map[string]string) error { c.props = p; return nil }
func (*counterSource) NewTask() sdk.SourceTask           { return &counterTask{} }
func (c *counterSource) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.props)}, nil
}

type counterTask struct {
	ctx                      sdk.SourceTaskContext
	topic                    string
	next, batch, limit, fail int
}

var counterPartition = map[string]any{"counter": "c"}

func (*counterTask) Version() string                      { return "test" }
func (t *counterTask) Initialize(c sdk.SourceTaskContext) { t.ctx = c }
func (*counterTask) Stop() error                          { return nil }
func (t *counterTask) Start(p map[string]string) error {
	t.topic = p["topic"]
	t.batch, _ = strconv.Atoi(p["batch"])
	t.limit, _ = strconv.Atoi(p["limit"])
	t.fail, _ = strconv.Atoi(p["fail.at"])
	off, err := t.ctx.OffsetStorageReader().Offset(counterPartition)
	if err != nil {
		return err
	}
	t.next = 1
	if off != nil {
		t.next = int(off["n"].(int64)) + 1
	}
	return nil
}

func (t *counterTask) Poll(ctx context.Context) ([]*sdk.SourceRecord, error) {
	if t.next > t.limit {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var out []*sdk.SourceRecord
	for i := 0; i < t.batch && t.next <= t.limit; i++ {
		if t.next == t.fail {
			return nil, fmt.Errorf("counter failed at %d", t.next)
		}
		out = append(out, &sdk.SourceRecord{SourcePartition: counterPartition, SourceOffset: map[string]any{"n": int64(t.next)},
			Record: sdk.Record{Topic: t.topic, ValueSchema: sdk.StringSchema, Value: strconv.Itoa(t.next)}})
		t.next++
	}
	return out, nil
}

func init() {
	sdk.RegisterPlugin(sdk.Plugin{Class: "com.example.test.CounterSourceConnector", Type: sdk.PluginSource, Version: "test",
		New: func() any { return &counterSource{} }})
}

// readCommitted returns the records of partition 0 of topic that a
// read_committed consumer sees, up to the last stable offset.
func readCommitted(t *testing.T, cl *kgo.Client, topic string) []*kgo.Record {
	t.Helper()
	ctx := context.Background()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if !details.Has(topic) {
		return nil
	}
	var out []*kgo.Record
	for offset := int64(0); ; {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxBytes, req.IsolationLevel = -1, 1<<20, 1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, details[topic].ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.LogStartOffset = 0, offset, 1<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("fetch response %+v", resp)
		}
		p := &resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			t.Fatal(err)
		}
		if offset >= p.LastStableOffset {
			return out
		}
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Offset: offset, IsolationLevel: kgo.ReadCommitted(), Topic: topic}, p, kgo.DefaultDecompressor(), nil)
		out = append(out, fp.Records...)
		if next <= offset {
			t.Fatalf("no progress reading %s at %d (LSO %d)", topic, offset, p.LastStableOffset)
		}
		offset = next
	}
}

// committedOffsets is an OffsetStore over an offsets topic read with
// isolation.level=read_committed, as a distributed worker's store reads
// it with exactly-once support.
// newEOSWorker starts a worker (id w1) whose source tasks run exactly
// once for group "grp", with their offsets in the topic eos-offsets read
// back through cl; the caller closes it.
func newEOSWorker(t *testing.T, c *kafkatest.Cluster, dir string, cl *kgo.Client) (*Worker, *MemoryStatusStore) {
	t.Helper()
	cfg, err := ParseConfig(workerProps(c, dir))
	if err != nil {
		t.Fatal(err)
	}
	statuses := NewMemoryStatusStore()
	w, err := newWorker(cfg, "w1", slog.Default(), &committedOffsets{t: t, cl: cl, topic: "eos-offsets"}, statuses)
	if err != nil {
		t.Fatal(err)
	}
	w.setExactlyOnceSource(&exactlyOnceSource{GroupID: "grp", OffsetsTopic: "eos-offsets"})
	return w, statuses
}

type committedOffsets struct {
	t     *testing.T
	cl    *kgo.Client
	topic string
	mu    sync.Mutex
}

func (s *committedOffsets) Entries() ([]OffsetEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	latest := map[string][]byte{}
	for _, r := range readCommitted(s.t, s.cl, s.topic) {
		latest[string(r.Key)] = r.Value
	}
	return sortedEntries(latest), nil
}

func (s *committedOffsets) Get(key []byte) ([]byte, error) {
	entries, _ := s.Entries()
	for _, e := range entries {
		if string(e.Key) == string(key) {
			return e.Value, nil
		}
	}
	return nil, nil
}

func (s *committedOffsets) Set([]OffsetEntry) error {
	return errors.New("offsets are written in the source task's transactions")
}
func (s *committedOffsets) Close() error { return nil }

// KIP-618: with exactly-once source support a task's records and its
// offsets commit in one transaction under transactional.id
// <group.id>-<connector>-<task>. A zombie holding that id is fenced and
// its open transaction aborted; a failed task's open transaction is
// aborted with its offsets; the restarted task resumes from the committed
// offsets, so read_committed consumers see every number exactly once.
func TestExactlyOnceSource(t *testing.T) {
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

	// A zombie of the task: same transactional.id, an open transaction.
	zombie, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.TransactionalID("grp-cnt-0"), kgo.DefaultProduceTopic("numbers"))
	if err != nil {
		t.Fatal(err)
	}
	defer zombie.Close()
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(context.Background(), &kgo.Record{Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	w, statuses := newEOSWorker(t, c, dir, cl)
	defer w.Close()
	id := TaskID{Connector: "cnt", Task: 0}
	conn := map[string]string{"name": "cnt", "connector.class": "com.example.test.CounterSourceConnector", "topic": "numbers",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter",
		"batch":           "3", "limit": "9", "fail.at": "8", "transaction.boundary": "interval", "transaction.boundary.interval.ms": "3600000"}
	taskState := func() TaskStatus {
		st, _ := statuses.Task(id)
		return st
	}

	// One long transaction (interval boundary): 1…7 are produced, then
	// the task fails at 8 and aborts it.
	if err := w.startTask(id, conn, conn, TargetStarted); err != nil {
		t.Fatal(err)
	}
	eventually(t, "task FAILED", func() bool { return taskState().State == StateFailed })
	if st := taskState(); st.Trace != "counter failed at 8" {
		t.Fatalf("trace %q", st.Trace)
	}
	w.stopTasks([]TaskID{id})
	if got := values(readCommitted(t, cl, "numbers")); len(got) != 0 {
		t.Fatalf("committed after the aborted transaction: %v", got)
	}
	if got := readCommitted(t, cl, "eos-offsets"); len(got) != 0 {
		t.Fatalf("offsets after the aborted transaction: %v", values(got))
	}

	// Restarted with a transaction per poll, it resumes from nothing and
	// commits 1…9; then it is stopped and started again and adds nothing.
	conn["transaction.boundary"] = "poll"
	delete(conn, "fail.at")
	if err := w.startTask(id, conn, conn, TargetStarted); err != nil {
		t.Fatal(err)
	}
	eventually(t, "1…9 committed", func() bool { return len(readCommitted(t, cl, "numbers")) == 9 })
	w.stopTasks([]TaskID{id})
	conn["limit"] = "12"
	if err := w.startTask(id, conn, conn, TargetStarted); err != nil {
		t.Fatal(err)
	}
	eventually(t, "10…12 committed", func() bool { return len(readCommitted(t, cl, "numbers")) >= 12 })
	w.stopTasks([]TaskID{id})

	got := values(readCommitted(t, cl, "numbers"))
	if fmt.Sprint(got) != fmt.Sprint(seq(1, 12)) {
		t.Fatalf("read_committed numbers %v, want 1…12 once each (no zombie, no aborted records)", got)
	}
	offsets := readCommitted(t, cl, "eos-offsets")
	last := offsets[len(offsets)-1]
	if string(last.Key) != `["cnt",{"counter":"c"}]` || string(last.Value) != `{"n":12}` {
		t.Fatalf("last offset %s = %s", last.Key, last.Value)
	}
	// The zombie's aborted record is in the log, invisible to
	// read_committed consumers. (The failed task's records may not have
	// reached the log before its transaction was aborted.)
	if all := values(consumeN(t, c, "numbers", 13)); all[0] != "zombie" {
		t.Fatalf("log %v", all)
	}
	// The zombie was fenced.
	if err := zombie.EndTransaction(context.Background(), kgo.TryCommit); err == nil {
		t.Fatal("zombie committed its transaction")
	}
}
