package replication

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// rackCluster starts three brokers in racks a, b and c with orders led by
// broker 1 and replicated to all, and acks=all writes of values to it.
func rackCluster(t *testing.T, ctx context.Context, selector bool, values ...string) *kafkatest.StaticCluster {
	t.Helper()
	opts := []kafkatest.StaticOpt{
		kafkatest.StaticTopic("orders", []int32{1, 2, 3}),
		kafkatest.StaticRack(1, "rack-a"), kafkatest.StaticRack(2, "rack-b"), kafkatest.StaticRack(3, "rack-c"),
	}
	if selector {
		opts = append(opts, kafkatest.StaticConfig("replica.selector.class", "org.apache.kafka.common.replica.RackAwareReplicaSelector"))
	}
	c := kafkatest.StartStatic(t, opts...)
	resp := raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, -1, 30000, "orders", 0, values...))
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatalf("acks=all produce: %v", err)
	}
	return c
}

// TestPreferredReadReplica: with RackAwareReplicaSelector, the leader
// answers a consumer Fetch (v11+) whose rack_id is another in-sync
// replica's broker.rack with preferred_read_replica and no records; a
// consumer in the leader's rack, or without a rack, reads from the leader
// (KIP-392, Kafka's RackAwareReplicaSelector). The named follower then
// serves the consumer.
func TestPreferredReadReplica(t *testing.T) {
	ctx := testContext(t)
	c := rackCluster(t, ctx, true, "a", "b")
	id := topicID(t, c, "orders")

	fetch := func(to int32, rack string) kmsg.FetchResponseTopicPartition {
		t.Helper()
		fr := raw[*kmsg.FetchResponse](t, ctx, c.Addr(to), byID(fetchRequest(17, "orders", 0, 0, rack), id))
		return fr.Topics[0].Partitions[0]
	}
	p := fetch(1, "rack-b")
	if p.ErrorCode != 0 || p.PreferredReadReplica != 2 || len(p.RecordBatches) != 0 || p.HighWatermark != 2 {
		t.Fatalf("rack-b consumer at the leader: error %d, preferred %d, %d bytes, high watermark %d; want replica 2, no records, 2",
			p.ErrorCode, p.PreferredReadReplica, len(p.RecordBatches), p.HighWatermark)
	}
	if p := fetch(1, "rack-c"); p.PreferredReadReplica != 3 {
		t.Fatalf("rack-c consumer: preferred %d, want 3", p.PreferredReadReplica)
	}
	for _, rack := range []string{"rack-a", "", "rack-z"} {
		p := fetch(1, rack)
		if p.ErrorCode != 0 || p.PreferredReadReplica != -1 || !slices.Equal(values(t, p.RecordBatches), []string{"a", "b"}) {
			t.Fatalf("consumer in rack %q: error %d, preferred %d, values %v; want the leader's records", rack, p.ErrorCode, p.PreferredReadReplica, values(t, p.RecordBatches))
		}
	}
	// Old fetches carry no rack: leader.
	fr := raw[*kmsg.FetchResponse](t, ctx, c.Addr(1), fetchRequest(10, "orders", 0, 0, ""))
	if p := fr.Topics[0].Partitions[0]; p.PreferredReadReplica != -1 || len(p.RecordBatches) == 0 {
		t.Fatalf("fetch v10: preferred %d, %d bytes", p.PreferredReadReplica, len(p.RecordBatches))
	}
	// The follower serves the consumer it was chosen for (once its high
	// watermark has caught up), and names no other replica.
	eventually(t, ctx, "the follower to serve the records", func() bool {
		p := fetch(2, "rack-b")
		if p.ErrorCode != 0 || p.PreferredReadReplica != -1 {
			t.Fatalf("rack-b consumer at the follower: error %d, preferred %d", p.ErrorCode, p.PreferredReadReplica)
		}
		return slices.Equal(values(t, p.RecordBatches), []string{"a", "b"})
	})
}

// TestNoReplicaSelector: without replica.selector.class, consumers are
// never sent elsewhere, whatever their rack.
func TestNoReplicaSelector(t *testing.T) {
	ctx := testContext(t)
	c := rackCluster(t, ctx, false, "a")
	fr := raw[*kmsg.FetchResponse](t, ctx, c.Addr(1), fetchRequest(12, "orders", 0, 0, "rack-b"))
	if p := fr.Topics[0].Partitions[0]; p.PreferredReadReplica != -1 || len(p.RecordBatches) == 0 {
		t.Fatalf("preferred %d, %d bytes; want the leader's records", p.PreferredReadReplica, len(p.RecordBatches))
	}
}

// TestKgoFetchesFromFollowerInItsRack: a franz-go consumer with
// kgo.Rack("rack-c") is sent by the leader to broker 3 and consumes every
// record from it.
func TestKgoFetchesFromFollowerInItsRack(t *testing.T) {
	ctx := testContext(t)
	want := []string{"r0", "r1", "r2", "r3"}
	c := rackCluster(t, ctx, true, want...)
	var mu sync.Mutex
	fetchesTo := map[int32]int{}
	hook := brokerWriteHook(func(meta kgo.BrokerMetadata, key int16, err error) {
		if key == 1 && err == nil {
			mu.Lock()
			fetchesTo[meta.NodeID]++
			mu.Unlock()
		}
	})
	cl := client(t, c, kgo.Rack("rack-c"), kgo.WithHooks(hook),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"orders": {0: kgo.NewOffset().AtStart()}}))
	var got []string
	for len(got) < len(want) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %v before the deadline", got)
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("fetch: %v", fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if !slices.Equal(got, want) {
		t.Fatalf("consumed %v, want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if fetchesTo[3] == 0 {
		t.Fatalf("no fetch went to broker 3 (fetches by broker: %v)", fetchesTo)
	}
}

// brokerWriteHook adapts a function to kgo's HookBrokerWrite.
type brokerWriteHook func(meta kgo.BrokerMetadata, key int16, err error)

func (f brokerWriteHook) OnBrokerWrite(meta kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	f(meta, key, err)
}
