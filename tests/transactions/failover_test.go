package transactions

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// The transaction coordinator's node dies in the middle of a
// transaction: the producer finds the partition's new leader, whose
// shard loads the transaction from __transaction_state, and ends it
// there (commit, or abort if the commit failed); committed data stays,
// and every partition ends up with one consistent marker for the
// interrupted transaction.
func TestCoordinatorFailover(t *testing.T) {
	// A short broker session, so that the dead node is fenced (and its
	// partitions get new leaders) soon.
	c := kafkatest.StartCluster(t, 3, kafkatest.Dir(t.TempDir()),
		kafkatest.Config("broker.session.timeout.ms", "3000"),
		kafkatest.Config("broker.heartbeat.interval.ms", "500"))
	var seeds []string
	for _, id := range c.NodeIDs() {
		seeds = append(seeds, c.BrokerAddr(id))
	}
	adm := admin(t, seeds...)
	createTopic(t, adm, "t", 3, 3)
	// Short client backoffs: the dead node is retried until it is fenced.
	backoff := kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond })
	cl := txnProducer(t, seeds, "tx-ha", "t", backoff)
	ctx := testContext(t)

	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p := range int32(3) {
		produce(t, cl, p, "committed")
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	before := describe(t, adm, "tx-ha")

	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p := range int32(3) {
		produce(t, cl, p, "interrupted")
	}
	coordinator := describe(t, adm, "tx-ha").Coordinator
	if err := c.KillNode(coordinator); err != nil {
		t.Fatal(err)
	}
	// Once the controller has fenced the dead node, FindCoordinator names
	// the partition's new leader; then a new admin client (kgo keeps the
	// dead coordinator cached for sharded requests such as
	// DescribeTransactions).
	finder := client(t, seeds)
	waitFor(t, "a new transaction coordinator", func() (bool, string) {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorType, fc.CoordinatorKey = 1, "tx-ha"
		resp, err := fc.RequestWith(ctx, finder)
		if err != nil {
			return false, err.Error()
		}
		return resp.ErrorCode == 0 && resp.NodeID != coordinator, fmt.Sprint(resp.NodeID, resp.ErrorCode)
	})
	adm = admin(t, seeds...)

	committed := true
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		// kgo cannot tell whether the commit reached the coordinator: it
		// re-initializes its producer id, which fences and aborts the
		// transaction if it is still open (KIP-360).
		t.Logf("commit after the coordinator died: %v; aborting", err)
		committed = false
		if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
			t.Logf("abort: %v", err)
		}
	}

	// The producer goes on with the new coordinator; if its recovery
	// (InitProducerId at its old epoch, which fenced and aborted the
	// interrupted transaction) left it fenced, as Kafka answers that
	// retry, a new instance with the same transactional.id goes on.
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	r := kgo.StringRecord("after")
	r.Partition = 0
	err := cl.ProduceSync(ctx, r).FirstErr()
	if err == nil {
		err = cl.EndTransaction(ctx, kgo.TryCommit)
	}
	if err != nil {
		if !isFenced(err) {
			t.Fatalf("transaction after the failover: %v", err)
		}
		t.Logf("producer fenced by its own recovery (%v); starting a new instance", err)
		cl = txnProducer(t, seeds, "tx-ha", "t", backoff)
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produce(t, cl, 0, "after")
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatalf("transaction after the failover: %v", err)
		}
	}
	after := waitState(t, adm, "tx-ha", "CompleteCommit")
	if after.Coordinator == coordinator {
		t.Fatalf("coordinator still node %d", coordinator)
	}

	// Every partition: the committed transaction intact, the interrupted
	// one ended the same way everywhere (committed if the producer was
	// told so), and the last one committed on partition 0.
	var outcome string
	for p := range int32(3) {
		var es []entry
		waitFor(t, fmt.Sprintf("markers of partition %d", p), func() (bool, string) {
			es = rawLog(t, adm, seeds, "t", p)
			n := 2
			if p == 0 {
				n = 3
			}
			return len(markers(es)) == n, fmt.Sprint(es)
		})
		wantValues := []string{"committed", "interrupted"}
		if p == 0 {
			wantValues = append(wantValues, "after")
		}
		if got := values(es); !slices.Equal(got, wantValues) {
			t.Fatalf("partition %d records %v, want %v", p, got, wantValues)
		}
		ms := markers(es)
		if ms[0] != "COMMIT" || (p == 0 && ms[2] != "COMMIT") {
			t.Fatalf("partition %d markers %v", p, ms)
		}
		if committed && ms[1] != "COMMIT" {
			t.Fatalf("partition %d: the interrupted transaction was reported committed, marker %s (%v)", p, ms[1], es)
		}
		if outcome != "" && ms[1] != outcome {
			t.Fatalf("partition %d: interrupted transaction %s, others %s", p, ms[1], outcome)
		}
		outcome = ms[1]
	}
	if after.ProducerID != before.ProducerID && outcome == "COMMIT" {
		t.Logf("producer id moved from %d to %d", before.ProducerID, after.ProducerID)
	}
}

// read_committed consumers skip aborted transactions and stop at the
// last stable offset (KIP-98): while a transaction is open the last
// stable offset stays at its first offset, below the high watermark.
func TestReadCommitted(t *testing.T) {
	c := start(t)
	seeds := []string{c.Addr()}
	adm := admin(t, seeds...)
	createTopic(t, adm, "t", 1, 1)
	cl := txnProducer(t, seeds, "tx-rc", "t")
	ctx := testContext(t)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, 0, "open")
	lso, hw := stableOffsets(t, c.Addr(), "t", 0)
	if lso != 0 || hw != 1 {
		t.Errorf("with one transactional record open at offset 0: last stable offset %d, high watermark %d; want 0, 1", lso, hw)
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, 0, "kept")
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got := consumeAll(t, seeds, "t", 1, kgo.ReadCommitted())
	if !slices.Equal(got[0], []string{"kept"}) {
		t.Fatalf("read_committed consumer got %v, want only the committed record", got)
	}
}

// stableOffsets fetches partition's last stable offset and high
// watermark with a read_committed Fetch.
func stableOffsets(t *testing.T, addr, topic string, partition int32) (lso, hw int64) {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID, req.MaxBytes, req.IsolationLevel = -1, 1<<20, 1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = partition, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rawRequester(t, addr)(req).(*kmsg.FetchResponse)
	p := resp.Topics[0].Partitions[0]
	return p.LastStableOffset, p.HighWatermark
}
