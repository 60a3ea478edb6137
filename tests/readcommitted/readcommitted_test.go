// Package readcommitted checks read_committed consumption against
// in-process Gregor brokers (kafkatest): transactions written by
// franz-go's transactional producer (kgo), read back with raw kmsg
// Fetch and ListOffsets requests, whose answers are the subject, and with
// kgo consumers at both isolation levels.
//
// What is checked, per KIP-98 and Kafka's UnifiedLog (lastStableOffset,
// collectAbortedTransactions):
//   - while a transaction is open, a read_committed Fetch returns data
//     only below its first offset (the last stable offset), and
//     ListOffsets LATEST at read_committed answers that offset, while
//     read_uncommitted sees up to the high watermark;
//   - a read_committed Fetch lists, for each partition, the producer id
//     and first offset of the aborted transactions its data overlaps (an
//     empty list, never null, when there are none), so that a consumer
//     applying Kafka's rule drops exactly their records;
//   - a committed transaction becomes visible once its marker is written
//     and replicated, never before;
//   - a follower serving a consumer (KIP-392, Fetch v11+) answers from
//     its own copy of the transactions: the same last stable offset and
//     aborted transactions as the leader.
package readcommitted

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// waitTimeout bounds the polls for cluster state; tests assert outcomes,
// never durations.
const waitTimeout = 45 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %v: %s", what, waitTimeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func client(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a one-partition topic and waits for its leader.
func createTopic(t *testing.T, adm *kadm.Client, topic string, rf int16) {
	t.Helper()
	ctx := testContext(t)
	resp, err := adm.CreateTopic(ctx, 1, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	waitFor(t, "topic "+topic+" has a leader", func() (bool, string) {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		d := td[topic]
		if d.Err != nil || len(d.Partitions) != 1 || d.Partitions[0].Leader < 0 || len(d.Partitions[0].ISR) != int(rf) {
			return false, fmt.Sprint(d.Err, d.Partitions)
		}
		return true, ""
	})
}

// txnProducer is a transactional kgo producer of partition 0 of topic.
func txnProducer(t *testing.T, seeds []string, id, topic string) *kgo.Client {
	return client(t, seeds, kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
}

// produce sends each value as its own batch to partition 0 (inside the
// caller's transaction, for a transactional client).
func produce(t *testing.T, cl *kgo.Client, values ...string) {
	t.Helper()
	ctx := testContext(t)
	for _, v := range values {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatalf("produce %q: %v", v, err)
		}
	}
}

func begin(t *testing.T, cl *kgo.Client) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
}

func end(t *testing.T, cl *kgo.Client, how kgo.TransactionEndTry) {
	t.Helper()
	if err := cl.EndTransaction(testContext(t), how); err != nil {
		t.Fatalf("end transaction: %v", err)
	}
}

// conn is a raw connection to addr.
func conn(t *testing.T, addr string) replica.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := replica.NewConn(nc, "readcommitted-test", 0)
	t.Cleanup(func() { c.Close() })
	return c
}

func request(t *testing.T, c replica.Conn, req kmsg.Request) kmsg.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := c.Request(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// fetch sends a consumer's Fetch (v12, no wait) of partition 0 of topic
// from offset at the isolation level to c.
func fetch(t *testing.T, c replica.Conn, topic string, offset int64, isolation int8) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID, req.MaxWaitMillis, req.MaxBytes, req.IsolationLevel = -1, 0, 1<<20, isolation
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, offset, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := request(t, c, req).(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch: %v %+v", kerr.ErrorForCode(resp.ErrorCode), resp.Topics)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("fetch %s-0 at %d: %v", topic, offset, err)
	}
	return p
}

// latest answers ListOffsets LATEST (v7) for partition 0 at isolation.
func latest(t *testing.T, c replica.Conn, topic string, isolation int8) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID, req.IsolationLevel = 7, -1, isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	p := request(t, c, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("ListOffsets %s-0: %v", topic, err)
	}
	return p.Offset
}

// entry is a record or marker of a fetched partition.
type entry struct {
	offset        int64
	producerID    int64
	transactional bool
	control       bool
	commit        bool
	value         string
}

func entries(t *testing.T, data []byte) []entry {
	t.Helper()
	var out []entry
	err := record.Batches(data, func(h record.Header, b []byte) error {
		if err := record.CheckCRC(b); err != nil {
			return err
		}
		return record.Records(b, func(r record.Record) error {
			e := entry{offset: h.BaseOffset + int64(r.OffsetDelta), producerID: h.ProducerID, transactional: h.IsTransactional(), control: h.IsControl(), value: string(r.Value)}
			if e.control {
				e.commit = len(r.Key) >= 4 && binary.BigEndian.Uint16(r.Key[2:]) == 1
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// visible applies a read_committed consumer's rule to a Fetch answer
// (Kafka's CompletedFetch: aborted transactions by first offset; a
// producer's records are skipped from its aborted transaction's first
// offset to its ABORT marker) and returns the values it delivers.
func visible(t *testing.T, p kmsg.FetchResponseTopicPartition) []string {
	t.Helper()
	aborted := slices.Clone(p.AbortedTransactions)
	sort.Slice(aborted, func(i, j int) bool { return aborted[i].FirstOffset < aborted[j].FirstOffset })
	skipping := map[int64]bool{}
	var out []string
	err := record.Batches(p.RecordBatches, func(h record.Header, b []byte) error {
		for len(aborted) > 0 && aborted[0].FirstOffset <= h.LastOffset() {
			skipping[aborted[0].ProducerID] = true
			aborted = aborted[1:]
		}
		return record.Records(b, func(r record.Record) error {
			switch {
			case h.IsControl():
				if binary.BigEndian.Uint16(r.Key[2:]) == 0 {
					delete(skipping, h.ProducerID)
				}
			case h.IsTransactional() && skipping[h.ProducerID]:
			default:
				out = append(out, string(r.Value))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func values(es []entry) []string {
	var out []string
	for _, e := range es {
		if !e.control {
			out = append(out, e.value)
		}
	}
	return out
}

// consume reads partition 0 of topic from the start with a kgo consumer
// at the isolation level until it has n records.
func consume(t *testing.T, seeds []string, topic string, n int, isolation kgo.IsolationLevel) []string {
	t.Helper()
	ctx := testContext(t)
	cl := client(t, seeds, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(isolation), kgo.FetchMaxWait(200*time.Millisecond))
	var out []string
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %v, want %d records: %v", out, n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

// waitStable waits until c's read_committed view of topic has a last
// stable offset equal to its high watermark, at least min, and returns
// it.
func waitStable(t *testing.T, c replica.Conn, topic string, min int64) int64 {
	t.Helper()
	var lso int64
	waitFor(t, "the last stable offset reaches the high watermark", func() (bool, string) {
		p := fetch(t, c, topic, 0, replica.ReadCommitted)
		lso = p.LastStableOffset
		return lso == p.HighWatermark && lso >= min, fmt.Sprintf("LSO %d, HW %d, want at least %d", lso, p.HighWatermark, min)
	})
	return lso
}

// TestReadCommitted: one node, one partition, a plain record, an
// aborted transaction, a committed one, and one left open.
func TestReadCommitted(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Dir(t.TempDir()))
	seeds := []string{c.Addr()}
	adm := kadm.NewClient(client(t, seeds))
	const topic = "rc"
	createTopic(t, adm, topic, 1)
	raw := conn(t, c.Addr())
	plain := client(t, seeds, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn := txnProducer(t, seeds, "rc-tx", topic)

	produce(t, plain, "p0") // 0
	begin(t, txn)
	produce(t, txn, "a1", "a2") // 1, 2: open

	// Open: read_committed stops at its first offset.
	rc := fetch(t, raw, topic, 0, replica.ReadCommitted)
	if rc.LastStableOffset != 1 || rc.HighWatermark != 3 {
		t.Fatalf("with a transaction open at 1: LSO %d, HW %d; want 1, 3", rc.LastStableOffset, rc.HighWatermark)
	}
	if rc.AbortedTransactions == nil || len(rc.AbortedTransactions) != 0 {
		t.Fatalf("aborted transactions %+v, want an empty list", rc.AbortedTransactions)
	}
	if got := values(entries(t, rc.RecordBatches)); !slices.Equal(got, []string{"p0"}) {
		t.Fatalf("read_committed with a transaction open: %v", got)
	}
	if rc := fetch(t, raw, topic, 1, replica.ReadCommitted); len(rc.RecordBatches) != 0 {
		t.Fatalf("read_committed at the last stable offset returned %d bytes", len(rc.RecordBatches))
	}
	ru := fetch(t, raw, topic, 0, replica.ReadUncommitted)
	if got := values(entries(t, ru.RecordBatches)); !slices.Equal(got, []string{"p0", "a1", "a2"}) || ru.AbortedTransactions != nil {
		t.Fatalf("read_uncommitted with a transaction open: %v, aborted %+v", got, ru.AbortedTransactions)
	}
	if got := latest(t, raw, topic, replica.ReadCommitted); got != 1 {
		t.Fatalf("ListOffsets LATEST read_committed = %d, want the last stable offset 1", got)
	}
	if got := latest(t, raw, topic, replica.ReadUncommitted); got != 3 {
		t.Fatalf("ListOffsets LATEST read_uncommitted = %d, want the high watermark 3", got)
	}
	pidA := entries(t, ru.RecordBatches)[1].producerID

	end(t, txn, kgo.TryAbort) // marker at 3
	waitStable(t, raw, topic, 4)
	begin(t, txn)
	produce(t, txn, "b1") // 4
	end(t, txn, kgo.TryCommit)
	lso := waitStable(t, raw, topic, 6)

	rc = fetch(t, raw, topic, 0, replica.ReadCommitted)
	if len(rc.AbortedTransactions) != 1 || rc.AbortedTransactions[0].ProducerID != pidA || rc.AbortedTransactions[0].FirstOffset != 1 {
		t.Fatalf("aborted transactions %+v, want producer %d from offset 1", rc.AbortedTransactions, pidA)
	}
	if got := visible(t, rc); !slices.Equal(got, []string{"p0", "b1"}) {
		t.Fatalf("read_committed delivers %v, want [p0 b1]", got)
	}
	// From after the abort marker, the aborted transaction is not listed.
	if rc := fetch(t, raw, topic, 4, replica.ReadCommitted); len(rc.AbortedTransactions) != 0 || !slices.Equal(visible(t, rc), []string{"b1"}) {
		t.Fatalf("read_committed from 4: aborted %+v, %v", rc.AbortedTransactions, visible(t, rc))
	}
	if got := latest(t, raw, topic, replica.ReadCommitted); got != lso {
		t.Fatalf("ListOffsets LATEST read_committed = %d, want %d", got, lso)
	}

	// A committed transaction is invisible until its marker.
	begin(t, txn)
	produce(t, txn, "c1")
	if rc := fetch(t, raw, topic, lso, replica.ReadCommitted); len(rc.RecordBatches) != 0 || rc.LastStableOffset != lso {
		t.Fatalf("read_committed sees an open transaction: LSO %d, %d bytes", rc.LastStableOffset, len(rc.RecordBatches))
	}
	end(t, txn, kgo.TryCommit)
	waitStable(t, raw, topic, lso+2)
	if got := visible(t, fetch(t, raw, topic, lso, replica.ReadCommitted)); !slices.Equal(got, []string{"c1"}) {
		t.Fatalf("after the commit: %v", got)
	}

	// Clients agree.
	if got := consume(t, seeds, topic, 3, kgo.ReadCommitted()); !slices.Equal(got, []string{"p0", "b1", "c1"}) {
		t.Fatalf("kgo read_committed consumer: %v", got)
	}
	if got := consume(t, seeds, topic, 5, kgo.ReadUncommitted()); !slices.Equal(got, []string{"p0", "a1", "a2", "b1", "c1"}) {
		t.Fatalf("kgo read_uncommitted consumer: %v", got)
	}

	// The transaction state survives a restart: the snapshot and the
	// transaction index.
	begin(t, txn)
	produce(t, txn, "d1")
	open := fetch(t, raw, topic, 0, replica.ReadUncommitted).HighWatermark - 1
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	raw = conn(t, c.Addr())
	waitFor(t, "the restarted broker answers", func() (bool, string) {
		rc = fetchMaybe(raw, topic, 0, replica.ReadCommitted)
		return rc.ErrorCode == 0 && rc.HighWatermark > open, fmt.Sprint(kerr.ErrorForCode(rc.ErrorCode), rc.HighWatermark)
	})
	if rc.LastStableOffset != open || len(rc.AbortedTransactions) != 1 || rc.AbortedTransactions[0].FirstOffset != 1 {
		t.Fatalf("after a restart: LSO %d (want %d), aborted %+v", rc.LastStableOffset, open, rc.AbortedTransactions)
	}
}

// fetchMaybe is fetch without failing: errors are in ErrorCode.
func fetchMaybe(c replica.Conn, topic string, offset int64, isolation int8) kmsg.FetchResponseTopicPartition {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID, req.MaxWaitMillis, req.MaxBytes, req.IsolationLevel = -1, 0, 1<<20, isolation
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, offset, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := kmsg.NewFetchResponseTopicPartition()
	out.ErrorCode = kerr.UnknownServerError.Code
	resp, err := c.Request(ctx, req)
	if err != nil {
		return out
	}
	fr := resp.(*kmsg.FetchResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return out
	}
	return fr.Topics[0].Partitions[0]
}

// TestInterleavedTransactions: two producers' transactions interleave on
// one partition; one aborts, one commits. The aborted one's records are
// listed from its first offset and dropped, the committed one's kept, in
// offset order.
func TestInterleavedTransactions(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Dir(t.TempDir()))
	seeds := []string{c.Addr()}
	adm := kadm.NewClient(client(t, seeds))
	const topic = "interleaved"
	createTopic(t, adm, topic, 1)
	raw := conn(t, c.Addr())
	a, b := txnProducer(t, seeds, "tx-a", topic), txnProducer(t, seeds, "tx-b", topic)
	begin(t, a)
	begin(t, b)
	produce(t, a, "a1") // 0
	produce(t, b, "b1") // 1
	produce(t, a, "a2") // 2
	produce(t, b, "b2") // 3
	if rc := fetch(t, raw, topic, 0, replica.ReadCommitted); rc.LastStableOffset != 0 || len(rc.RecordBatches) != 0 {
		t.Fatalf("two transactions open from 0: LSO %d, %d bytes", rc.LastStableOffset, len(rc.RecordBatches))
	}
	end(t, a, kgo.TryAbort)
	// a's marker is written; b is open from 1.
	waitFor(t, "the abort is decided", func() (bool, string) {
		rc := fetch(t, raw, topic, 0, replica.ReadCommitted)
		return rc.LastStableOffset == 1, fmt.Sprint("LSO ", rc.LastStableOffset)
	})
	end(t, b, kgo.TryCommit)
	waitStable(t, raw, topic, 6)
	rc := fetch(t, raw, topic, 0, replica.ReadCommitted)
	if len(rc.AbortedTransactions) != 1 || rc.AbortedTransactions[0].FirstOffset != 0 {
		t.Fatalf("aborted transactions %+v, want one from offset 0", rc.AbortedTransactions)
	}
	if got := visible(t, rc); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Fatalf("read_committed delivers %v, want [b1 b2]", got)
	}
	if got := consume(t, seeds, topic, 2, kgo.ReadCommitted()); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Fatalf("kgo read_committed consumer: %v", got)
	}
}

// TestFollowerReadCommitted: on three nodes, a follower serving a
// consumer's read_committed Fetch (KIP-392) answers from its own copy:
// the last stable offset of its open transaction and the aborted
// transactions, as the leader does.
func TestFollowerReadCommitted(t *testing.T) {
	c := kafkatest.StartCluster(t, 3)
	seeds := c.Addrs()
	adm := kadm.NewClient(client(t, seeds))
	const topic = "follower-rc"
	createTopic(t, adm, topic, 3)
	txn := txnProducer(t, seeds, "tx-f", topic)
	plain := client(t, seeds, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))

	produce(t, plain, "p0") // 0
	begin(t, txn)
	produce(t, txn, "x1") // 1
	end(t, txn, kgo.TryAbort)
	begin(t, txn)
	produce(t, txn, "y1") // 3
	end(t, txn, kgo.TryCommit)
	begin(t, txn)
	produce(t, txn, "z1") // 5: open

	ctx := testContext(t)
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	leader := md.Topics[topic].Partitions[0].Leader
	var followers []string
	for _, b := range md.Brokers {
		if b.NodeID != leader {
			followers = append(followers, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
		}
	}
	if len(followers) != 2 {
		t.Fatalf("followers %v of leader %d", followers, leader)
	}
	for _, addr := range followers {
		raw := conn(t, addr)
		var rc kmsg.FetchResponseTopicPartition
		waitFor(t, "follower "+addr+" has replicated the open transaction", func() (bool, string) {
			rc = fetch(t, raw, topic, 0, replica.ReadCommitted)
			return rc.HighWatermark == 6 && rc.LastStableOffset == 5, fmt.Sprintf("HW %d, LSO %d", rc.HighWatermark, rc.LastStableOffset)
		})
		if len(rc.AbortedTransactions) != 1 || rc.AbortedTransactions[0].FirstOffset != 1 {
			t.Fatalf("follower %s: aborted transactions %+v", addr, rc.AbortedTransactions)
		}
		if got := visible(t, rc); !slices.Equal(got, []string{"p0", "y1"}) {
			t.Fatalf("follower %s delivers %v, want [p0 y1]", addr, got)
		}
	}
	end(t, txn, kgo.TryAbort)
}
