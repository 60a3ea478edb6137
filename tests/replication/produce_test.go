package replication

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestAcksAllReplicatesToFollowers: an acks=all produce to the leader of
// an RF=3 partition succeeds once both followers have the batch (the
// high watermark passed it), and every follower then serves it to a
// consumer from its own log (Fetch v11+, KIP-392 semantics: a follower
// reads up to its high watermark).
func TestAcksAllReplicatesToFollowers(t *testing.T) {
	ctx := testContext(t)
	c := kafkatest.StartStatic(t, kafkatest.StaticTopic("orders", []int32{1, 2, 3}),
		kafkatest.StaticTopicConfig("orders", "min.insync.replicas", "3"))

	resp := raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, -1, 30000, "orders", 0, "a", "b", "c"))
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("acks=all produce: %v", err)
	}
	if p.BaseOffset != 0 {
		t.Fatalf("base offset %d, want 0", p.BaseOffset)
	}
	// The leader's high watermark covers the batch: consumers see it.
	fr := raw[*kmsg.FetchResponse](t, ctx, c.Addr(1), fetchRequest(12, "orders", 0, 0, ""))
	lp := fr.Topics[0].Partitions[0]
	if lp.ErrorCode != 0 || lp.HighWatermark != 3 || !slices.Equal(values(t, lp.RecordBatches), []string{"a", "b", "c"}) {
		t.Fatalf("leader fetch: error %d, high watermark %d, values %v", lp.ErrorCode, lp.HighWatermark, values(t, lp.RecordBatches))
	}
	for _, id := range []int32{2, 3} {
		eventually(t, ctx, "the follower's high watermark", func() bool {
			fr := raw[*kmsg.FetchResponse](t, ctx, c.Addr(id), fetchRequest(12, "orders", 0, 0, ""))
			fp := fr.Topics[0].Partitions[0]
			if fp.ErrorCode != 0 {
				t.Fatalf("follower %d fetch: %v", id, kerr.ErrorForCode(fp.ErrorCode))
			}
			return fp.HighWatermark == 3 && slices.Equal(values(t, fp.RecordBatches), []string{"a", "b", "c"})
		})
	}
}

// TestAcksAllWaitsForTheISR: with both followers stopped but still in
// the ISR (replica.lag.time.max.ms has not passed), an acks=all produce
// is appended by the leader but never acknowledged: it times out with
// REQUEST_TIMED_OUT after the request's timeout_ms, while acks=1 is
// answered at once (Kafka's DelayedProduce). Consumers do not see the
// unreplicated records: the high watermark has not moved.
func TestAcksAllWaitsForTheISR(t *testing.T) {
	ctx := testContext(t)
	c := kafkatest.StartStatic(t, kafkatest.StaticTopic("orders", []int32{1, 2, 3}),
		kafkatest.StaticConfig("replica.lag.time.max.ms", "600000"))
	c.Stop(2)
	c.Stop(3)

	resp := raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, -1, 300, "orders", 0, "waits"))
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != kerr.RequestTimedOut {
		t.Fatalf("acks=all with the followers down: %v, want REQUEST_TIMED_OUT", err)
	}
	resp = raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, 1, 300, "orders", 0, "leader-only"))
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 1 {
		t.Fatalf("acks=1: error %d, base offset %d; want none, 1", p.ErrorCode, p.BaseOffset)
	}
	fr := raw[*kmsg.FetchResponse](t, ctx, c.Addr(1), fetchRequest(12, "orders", 0, 0, ""))
	if p := fr.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.HighWatermark != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("consumer fetch: error %d, high watermark %d, %d bytes; want nothing visible", p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
	}

	// The followers come back, fetch, and the high watermark moves.
	for _, id := range []int32{2, 3} {
		if err := c.Restart(id); err != nil {
			t.Fatal(err)
		}
	}
	resp = raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, -1, 30000, "orders", 0, "after"))
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 2 {
		t.Fatalf("acks=all after the followers returned: error %v, base offset %d", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}
	fr = raw[*kmsg.FetchResponse](t, ctx, c.Addr(1), fetchRequest(12, "orders", 0, 0, ""))
	if got := values(t, fr.Topics[0].Partitions[0].RecordBatches); !slices.Equal(got, []string{"waits", "leader-only", "after"}) {
		t.Fatalf("consumed %v", got)
	}
}
