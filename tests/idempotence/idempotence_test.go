// Package idempotence runs Kafka's idempotent producer against in-process
// Gregor brokers (kafkatest): franz-go's kgo with idempotence on (its
// default, five produce requests in flight), and raw kmsg requests that
// replay batches exactly as a retrying producer would.
//
// What is checked, per KIP-98 and KIP-360 and Kafka's
// ProducerStateManager:
//   - InitProducerId without a transactional.id hands out fresh ids, never
//     the same twice, not across restarts nor brokers (KIP-730 blocks);
//   - a batch sent again with the same producer id, epoch and sequence is
//     answered NONE with the original's base offset and written once;
//   - a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch
//     INVALID_PRODUCER_EPOCH;
//   - the producer state survives a restart (snapshot files) and a leader
//     failover (followers build it from what they replicate);
//   - DescribeProducers reports it.
package idempotence

import (
	"context"
	"fmt"
	"net"
	"slices"
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
const waitTimeout = 30 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// conn is a raw connection to one listener: requests go exactly there, at
// the version set on them.
func conn(t *testing.T, addr string) replica.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := replica.NewConn(nc, "idempotence-test", 0)
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// initProducerID sends InitProducerId (v4, no transactional id) to addr.
func initProducerID(t *testing.T, addr string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = 4
	resp := request(t, conn(t, addr), req).(*kmsg.InitProducerIDResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("InitProducerId at %s: %v", addr, err)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// idemBatch builds a batch of n records as an idempotent producer sends
// it; values are "<prefix>-<i>".
func idemBatch(t *testing.T, pid int64, epoch int16, seq int32, n int, prefix string) []byte {
	t.Helper()
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	b, err := record.Build(record.BuildOptions{
		PartitionLeaderEpoch: -1, BaseTimestamp: time.Now().UnixMilli(),
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
	}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// produce sends one batch to partition p of topic at addr (Produce v9,
// acks=all) and returns the partition's answer.
func produce(t *testing.T, addr, topic string, p int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 20000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = p, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := request(t, conn(t, addr), req).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce: %+v", resp)
	}
	return resp.Topics[0].Partitions[0]
}

func wantProduced(t *testing.T, what string, got kmsg.ProduceResponseTopicPartition, base int64) {
	t.Helper()
	if err := kerr.ErrorForCode(got.ErrorCode); err != nil || got.BaseOffset != base {
		t.Fatalf("%s: base offset %d, %v (%s); want %d, NONE", what, got.BaseOffset, err, deref(got.ErrorMessage), base)
	}
}

func wantCode(t *testing.T, what string, got kmsg.ProduceResponseTopicPartition, code *kerr.Error) {
	t.Helper()
	if got.ErrorCode != code.Code {
		t.Fatalf("%s: %v (%s), want %v", what, kerr.ErrorForCode(got.ErrorCode), deref(got.ErrorMessage), code)
	}
}

// endOffset asks addr for the partition's log end offset (ListOffsets
// latest, as a replica: up to the log end, so a duplicate written would
// show even before it is replicated).
func endOffset(t *testing.T, addr, topic string, p int32) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = 4, -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := request(t, conn(t, addr), req).(*kmsg.ListOffsetsResponse)
	got := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(got.ErrorCode); err != nil {
		t.Fatalf("ListOffsets %s-%d at %s: %v", topic, p, addr, err)
	}
	return got.Offset
}

// consumeValues reads partition p of topic from the start up to n records
// and returns their values in offset order.
func consumeValues(t *testing.T, ctx context.Context, seeds []string, topic string, p int32, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s-%d: %v", len(out), n, topic, p, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

func createTopic(t *testing.T, ctx context.Context, adm *kadm.Client, topic string, partitions int32, rf int16) {
	t.Helper()
	resp, err := adm.CreateTopic(ctx, partitions, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// TestKgoIdempotentProducer produces with kgo's idempotent producer (the
// default; up to five requests in flight per broker) and checks every
// record landed once, in order, and that DescribeProducers shows the
// producer's last sequence per partition.
func TestKgoIdempotentProducer(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := kafkatest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()),
		kgo.DefaultProduceTopic("idem"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		// Many small batches, so several produce requests are in flight:
		// with idempotence kgo keeps up to five per broker (it refuses
		// MaxProduceRequestsInflightPerBroker then).
		kgo.ProducerBatchMaxBytes(512),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	createTopic(t, ctx, adm, "idem", 3, 1)

	const perPartition = 400
	results := make(chan error, 3*perPartition)
	for i := range perPartition {
		for p := range int32(3) {
			r := &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "%d-%05d", p, i)}
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) { results <- err })
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 * perPartition {
		if err := <-results; err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	for p := range int32(3) {
		got := consumeValues(t, ctx, []string{c.Addr()}, "idem", p, perPartition)
		for i, v := range got {
			if want := fmt.Sprintf("%d-%05d", p, i); v != want {
				t.Fatalf("partition %d offset %d: %q, want %q", p, i, v, want)
			}
		}
		if end := endOffset(t, c.Addr(), "idem", p); end != perPartition {
			t.Fatalf("partition %d holds %d records, want %d", p, end, perPartition)
		}
	}

	described, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"idem": {0: {}, 1: {}, 2: {}}})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int64
	described.EachPartition(func(dp kadm.DescribedProducersPartition) {
		if dp.Err != nil {
			t.Errorf("describe %s-%d: %v", dp.Topic, dp.Partition, dp.Err)
			return
		}
		if len(dp.ActiveProducers) != 1 {
			t.Errorf("%s-%d: %d producers", dp.Topic, dp.Partition, len(dp.ActiveProducers))
			return
		}
		ap := dp.ActiveProducers[0]
		if ap.LastSequence != perPartition-1 || ap.ProducerEpoch != 0 || ap.CurrentTxnStartOffset != -1 {
			t.Errorf("%s-%d: %+v", dp.Topic, dp.Partition, ap)
		}
		pids = append(pids, ap.ProducerID)
	})
	if len(pids) != 3 || len(slices.Compact(slices.Clone(pids))) != 1 {
		t.Fatalf("producer ids per partition: %v, want one producer", pids)
	}
}

// TestDuplicateAndOutOfOrder replays batches by hand as a retrying
// producer does.
//
// Reference: Kafka's UnifiedLog.analyzeAndValidateProducerState (a
// duplicate of one of the last five batches is answered with the
// original's offsets, error NONE) and ProducerAppendInfo.checkSequence /
// checkProducerEpoch.
func TestDuplicateAndOutOfOrder(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := kafkatest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopic(t, ctx, kadm.NewClient(cl), "dup", 1, 1)
	addr := c.Addr()

	pid, epoch := initProducerID(t, addr)
	if pid < 0 || epoch != 0 {
		t.Fatalf("InitProducerId: id %d epoch %d", pid, epoch)
	}
	first := idemBatch(t, pid, epoch, 0, 3, "a")
	wantProduced(t, "first batch", produce(t, addr, "dup", 0, first), 0)
	second := idemBatch(t, pid, epoch, 3, 2, "b")
	wantProduced(t, "second batch", produce(t, addr, "dup", 0, second), 3)
	// Both again: the same offsets, nothing written.
	wantProduced(t, "first batch again", produce(t, addr, "dup", 0, idemBatch(t, pid, epoch, 0, 3, "a")), 0)
	wantProduced(t, "second batch again", produce(t, addr, "dup", 0, idemBatch(t, pid, epoch, 3, 2, "b")), 3)
	if end := endOffset(t, addr, "dup", 0); end != 5 {
		t.Fatalf("log end offset %d after duplicates, want 5", end)
	}
	// A gap in the sequence, and a batch overlapping the last one.
	wantCode(t, "sequence gap", produce(t, addr, "dup", 0, idemBatch(t, pid, epoch, 7, 1, "gap")), kerr.OutOfOrderSequenceNumber)
	wantCode(t, "overlap", produce(t, addr, "dup", 0, idemBatch(t, pid, epoch, 4, 2, "overlap")), kerr.OutOfOrderSequenceNumber)
	wantProduced(t, "next batch", produce(t, addr, "dup", 0, idemBatch(t, pid, epoch, 5, 1, "c")), 5)
	// A new epoch starts at sequence 0 and fences the old one.
	wantCode(t, "new epoch at sequence 3", produce(t, addr, "dup", 0, idemBatch(t, pid, epoch+1, 3, 1, "x")), kerr.OutOfOrderSequenceNumber)
	wantProduced(t, "new epoch", produce(t, addr, "dup", 0, idemBatch(t, pid, epoch+1, 0, 1, "d")), 6)
	wantCode(t, "old epoch", produce(t, addr, "dup", 0, idemBatch(t, pid, epoch, 6, 1, "y")), kerr.InvalidProducerEpoch)
	// Another producer is independent; an unknown one may start anywhere
	// (KIP-360: no UNKNOWN_PRODUCER_ID).
	other, _ := initProducerID(t, addr)
	if other == pid {
		t.Fatalf("producer id %d handed out twice", pid)
	}
	wantProduced(t, "other producer", produce(t, addr, "dup", 0, idemBatch(t, other, 0, 42, 1, "e")), 7)

	got := consumeValues(t, ctx, []string{addr}, "dup", 0, 8)
	want := []string{"a-0", "a-1", "a-2", "b-0", "b-1", "c-0", "d-0", "e-0"}
	if !slices.Equal(got, want) {
		t.Fatalf("log %v, want %v", got, want)
	}
	if end := endOffset(t, addr, "dup", 0); end != 8 {
		t.Fatalf("log end offset %d, want 8", end)
	}
}

// TestInitProducerID checks InitProducerId for idempotent producers (no
// transactional id) at every version.
//
// Reference: Kafka's KafkaApis.handleInitProducerIdRequest and
// TransactionCoordinator.handleInitProducerId (a null transactional id
// always gets a new id at epoch 0, KIP-360's id and epoch included).
func TestInitProducerID(t *testing.T) {
	t.Parallel()
	c := kafkatest.Start(t)
	addr := c.Addr()
	seen := map[int64]bool{}
	for v := int16(0); v <= 5; v++ {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = v
		resp := request(t, conn(t, addr), req).(*kmsg.InitProducerIDResponse)
		if resp.ErrorCode != 0 || resp.ProducerEpoch != 0 || seen[resp.ProducerID] {
			t.Fatalf("v%d: %+v", v, resp)
		}
		seen[resp.ProducerID] = true
	}
	// KIP-360: a producer presenting its id and epoch gets a new id.
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version, req.ProducerID, req.ProducerEpoch = 4, 0, 0
	resp := request(t, conn(t, addr), req).(*kmsg.InitProducerIDResponse)
	if resp.ErrorCode != 0 || resp.ProducerEpoch != 0 || seen[resp.ProducerID] {
		t.Fatalf("with an existing id: %+v", resp)
	}
	// An id without an epoch is malformed.
	req.ProducerEpoch = -1
	resp = request(t, conn(t, addr), req).(*kmsg.InitProducerIDResponse)
	if resp.ErrorCode != kerr.InvalidRequest.Code || resp.ProducerID != -1 {
		t.Fatalf("id without epoch: %+v", resp)
	}
	// An empty transactional id is invalid (a non-empty one is the
	// transaction coordinator's business, tested with transactions).
	req = kmsg.NewPtrInitProducerIDRequest()
	req.Version, req.TransactionalID, req.TransactionTimeoutMillis = 4, kmsg.StringPtr(""), 60000
	resp = request(t, conn(t, addr), req).(*kmsg.InitProducerIDResponse)
	if resp.ErrorCode != kerr.InvalidRequest.Code || resp.ProducerID != -1 || resp.ProducerEpoch != -1 {
		t.Fatalf("empty transactional id: %+v, want INVALID_REQUEST", resp)
	}
	// ApiVersions advertises what is served.
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName, av.ClientSoftwareVersion = "idempotence-test", "1"
	keys := map[int16]kmsg.ApiVersionsResponseApiKey{}
	for _, k := range request(t, conn(t, addr), av).(*kmsg.ApiVersionsResponse).ApiKeys {
		keys[k.ApiKey] = k
	}
	if k, ok := keys[22]; !ok || k.MinVersion != 0 || k.MaxVersion != 5 {
		t.Errorf("InitProducerId advertised as %+v", k)
	}
	if _, ok := keys[61]; !ok {
		t.Error("DescribeProducers not advertised")
	}
	if _, ok := keys[67]; ok {
		t.Error("a broker listener advertises AllocateProducerIds, a controller API")
	}
}

// TestProducerStateSurvivesRestart restarts the broker between a batch
// and its retry: the retry is still recognized (the producer state was
// snapshotted at shutdown), and producer ids handed out after the restart
// are new ones.
func TestProducerStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := kafkatest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	createTopic(t, ctx, kadm.NewClient(cl), "restart", 1, 1)
	cl.Close()

	pid, epoch := initProducerID(t, c.Addr())
	for i := range 6 {
		wantProduced(t, fmt.Sprintf("batch %d", i), produce(t, c.Addr(), "restart", 0, idemBatch(t, pid, epoch, int32(2*i), 2, fmt.Sprint(i))), int64(2*i))
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	addr := c.Addr()
	// The last five batches are all still known.
	for i := 1; i < 6; i++ {
		wantProduced(t, fmt.Sprintf("batch %d after the restart", i), produce(t, addr, "restart", 0, idemBatch(t, pid, epoch, int32(2*i), 2, fmt.Sprint(i))), int64(2*i))
	}
	if end := endOffset(t, addr, "restart", 0); end != 12 {
		t.Fatalf("log end offset %d, want 12", end)
	}
	wantCode(t, "gap after the restart", produce(t, addr, "restart", 0, idemBatch(t, pid, epoch, 13, 1, "gap")), kerr.OutOfOrderSequenceNumber)
	wantProduced(t, "next after the restart", produce(t, addr, "restart", 0, idemBatch(t, pid, epoch, 12, 1, "next")), 12)
	if next, _ := initProducerID(t, addr); next <= pid {
		t.Fatalf("producer id %d after the restart, %d before: ids must not repeat", next, pid)
	}
}

// partitionLeader waits until the running nodes' images agree on a leader
// of topic-p other than not, and returns it.
func partitionLeader(t *testing.T, c *kafkatest.Cluster, topic string, p int32, not int32) int32 {
	t.Helper()
	var leader int32 = -1
	waitFor(t, fmt.Sprintf("a leader of %s-%d other than %d", topic, p, not), func() (bool, string) {
		leader = -1
		for _, id := range c.NodeIDs() {
			n := c.Node(id)
			if n == nil {
				continue
			}
			tp, ok := n.Image().Topic(topic)
			if !ok || int(p) >= len(tp.Partitions) {
				return false, fmt.Sprintf("node %d has no %s-%d", id, topic, p)
			}
			l := tp.Partitions[p].Leader
			if l < 0 || l == not || (leader >= 0 && l != leader) {
				return false, fmt.Sprintf("node %d sees leader %d", id, l)
			}
			leader = l
		}
		return leader >= 0, "no running node"
	})
	return leader
}

// TestFailoverKeepsDeduplication appends a batch on a three-node cluster,
// stops the partition leader and retries the batch at the new leader: the
// new leader, whose producer state was built from replication, answers
// with the original offset and writes nothing.
func TestFailoverKeepsDeduplication(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := kafkatest.StartCluster(t, 3,
		kafkatest.Config("controller.quorum.election.timeout.ms", "500"),
		kafkatest.Config("broker.heartbeat.interval.ms", "250"),
		kafkatest.Config("broker.session.timeout.ms", "2500"),
	)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopic(t, ctx, kadm.NewClient(cl), "failover", 1, 3)
	leader := partitionLeader(t, c, "failover", 0, -1)

	// Producer ids come from blocks the controller hands to each broker:
	// two brokers never give the same id.
	ids := map[int64]int32{}
	for _, id := range c.NodeIDs() {
		pid, _ := initProducerID(t, c.BrokerAddr(id))
		if other, dup := ids[pid]; dup {
			t.Fatalf("producer id %d from brokers %d and %d", pid, other, id)
		}
		ids[pid] = id
	}
	pid, epoch := initProducerID(t, c.BrokerAddr(leader))
	// acks=all: once answered, every replica has the batches.
	for i := range 3 {
		wantProduced(t, fmt.Sprintf("batch %d", i), produce(t, c.BrokerAddr(leader), "failover", 0, idemBatch(t, pid, epoch, int32(3*i), 3, fmt.Sprint(i))), int64(3*i))
	}
	// A follower does not describe producers.
	var follower int32 = -1
	for _, id := range c.NodeIDs() {
		if id != leader {
			follower = id
		}
	}
	dreq := kmsg.NewPtrDescribeProducersRequest()
	dt := kmsg.NewDescribeProducersRequestTopic()
	dt.Topic, dt.Partitions = "failover", []int32{0}
	dreq.Topics = append(dreq.Topics, dt)
	dresp := request(t, conn(t, c.BrokerAddr(follower)), dreq).(*kmsg.DescribeProducersResponse)
	if code := dresp.Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("DescribeProducers at follower %d: %v", follower, kerr.ErrorForCode(code))
	}

	if err := c.StopNode(leader); err != nil {
		t.Fatal(err)
	}
	next := partitionLeader(t, c, "failover", 0, leader)
	addr := c.BrokerAddr(next)
	for i := range 3 {
		wantProduced(t, fmt.Sprintf("batch %d at the new leader %d", i, next), produce(t, addr, "failover", 0, idemBatch(t, pid, epoch, int32(3*i), 3, fmt.Sprint(i))), int64(3*i))
	}
	if end := endOffset(t, addr, "failover", 0); end != 9 {
		t.Fatalf("log end offset %d at the new leader, want 9", end)
	}
	wantCode(t, "gap at the new leader", produce(t, addr, "failover", 0, idemBatch(t, pid, epoch, 10, 1, "gap")), kerr.OutOfOrderSequenceNumber)
	wantProduced(t, "next batch at the new leader", produce(t, addr, "failover", 0, idemBatch(t, pid, epoch, 9, 1, "3")), 9)

	dresp = request(t, conn(t, addr), dreq).(*kmsg.DescribeProducersResponse)
	dp := dresp.Topics[0].Partitions[0]
	if dp.ErrorCode != 0 || len(dp.ActiveProducers) != 1 || dp.ActiveProducers[0].ProducerID != pid || dp.ActiveProducers[0].LastSequence != 9 {
		t.Fatalf("DescribeProducers at the new leader: %+v", dp)
	}
	// The controller listener serves AllocateProducerIds.
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName, av.ClientSoftwareVersion = "idempotence-test", "1"
	var has67 bool
	for _, k := range request(t, conn(t, c.ControllerAddr(next)), av).(*kmsg.ApiVersionsResponse).ApiKeys {
		has67 = has67 || k.ApiKey == 67
	}
	if !has67 {
		t.Fatal("the controller listener does not advertise AllocateProducerIds")
	}
}
