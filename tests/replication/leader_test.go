package replication

import (
	"net"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// topicID looks a topic's id up with Metadata on addr.
func topicID(t *testing.T, c *kafkatest.StaticCluster, topic string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = &topic
	req.Topics = append(req.Topics, rt)
	resp := raw[*kmsg.MetadataResponse](t, testContext(t), c.Addr(1), req)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata for %s: %+v", topic, resp.Topics)
	}
	return resp.Topics[0].TopicID
}

// byID turns a by-name request's topics into by-id ones (v13+).
func byID(req *kmsg.FetchRequest, id [16]byte) *kmsg.FetchRequest {
	req.Topics[0].Topic, req.Topics[0].TopicID = "", id
	return req
}

func port(t *testing.T, addr string) int32 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return int32(n)
}

// TestNotLeaderNamesTheLeader: requests for a partition sent to a broker
// that does not lead it answer NOT_LEADER_OR_FOLLOWER; from Produce v10
// and Fetch v16 the answer carries the current leader and its endpoint
// (KIP-951), so the client goes straight there. A broker that is not a
// replica at all answers the same (Kafka's getPartitionOrError: the topic
// exists in metadata). A follower serves consumer fetches from v11
// (KIP-392) but not older ones, and never ListOffsets.
func TestNotLeaderNamesTheLeader(t *testing.T) {
	ctx := testContext(t)
	c := kafkatest.StartStatic(t, kafkatest.StaticTopic("orders", []int32{1, 2}))
	id := topicID(t, c, "orders")
	leaderPort := port(t, c.Addr(1))

	for _, to := range []int32{2, 3} { // a follower, a broker without a replica
		resp := raw[*kmsg.ProduceResponse](t, ctx, c.Addr(to), produceRequest(t, 11, 1, 5000, "orders", 0, "x"))
		p := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(p.ErrorCode); err != kerr.NotLeaderForPartition {
			t.Fatalf("produce to broker %d: %v, want NOT_LEADER_OR_FOLLOWER", to, err)
		}
		if p.CurrentLeader.LeaderID != 1 || p.CurrentLeader.LeaderEpoch != 0 {
			t.Fatalf("produce to broker %d: current leader %+v, want 1 at epoch 0", to, p.CurrentLeader)
		}
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 1 || resp.Brokers[0].Port != leaderPort || resp.Brokers[0].Host != "127.0.0.1" {
			t.Fatalf("produce to broker %d: node endpoints %+v, want broker 1 at 127.0.0.1:%d", to, resp.Brokers, leaderPort)
		}
	}
	// Before v10 there is nowhere to put the leader.
	resp := raw[*kmsg.ProduceResponse](t, ctx, c.Addr(2), produceRequest(t, 9, 1, 5000, "orders", 0, "x"))
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.NotLeaderForPartition.Code || len(resp.Brokers) != 0 {
		t.Fatalf("produce v9 to a follower: error %d, brokers %+v", p.ErrorCode, resp.Brokers)
	}

	// Fetch v16 on the broker without a replica.
	fr := raw[*kmsg.FetchResponse](t, ctx, c.Addr(3), byID(fetchRequest(16, "orders", 0, 0, ""), id))
	p := fr.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != kerr.NotLeaderForPartition {
		t.Fatalf("fetch v16 from broker 3: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	if p.CurrentLeader.LeaderID != 1 || p.CurrentLeader.LeaderEpoch != 0 || len(fr.Brokers) != 1 || fr.Brokers[0].NodeID != 1 || fr.Brokers[0].Port != leaderPort {
		t.Fatalf("fetch v16 from broker 3: current leader %+v, brokers %+v", p.CurrentLeader, fr.Brokers)
	}
	// Fetch v10 (no client metadata) on the follower: leader only.
	fr = raw[*kmsg.FetchResponse](t, ctx, c.Addr(2), fetchRequest(10, "orders", 0, 0, ""))
	if err := kerr.ErrorForCode(fr.Topics[0].Partitions[0].ErrorCode); err != kerr.NotLeaderForPartition {
		t.Fatalf("fetch v10 from the follower: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	// Fetch v16 on the follower: served, up to its high watermark.
	fr = raw[*kmsg.FetchResponse](t, ctx, c.Addr(2), byID(fetchRequest(16, "orders", 0, 0, ""), id))
	if err := kerr.ErrorForCode(fr.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatalf("fetch v16 from the follower: %v", err)
	}
	// A stale leader epoch is fenced, on the follower too (KIP-320).
	stale := byID(fetchRequest(16, "orders", 0, 0, ""), id)
	stale.Topics[0].Partitions[0].CurrentLeaderEpoch = 5
	fr = raw[*kmsg.FetchResponse](t, ctx, c.Addr(2), stale)
	if err := kerr.ErrorForCode(fr.Topics[0].Partitions[0].ErrorCode); err != kerr.UnknownLeaderEpoch {
		t.Fatalf("fetch at a future leader epoch from the follower: %v, want UNKNOWN_LEADER_EPOCH", err)
	}

	// ListOffsets: leader only.
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version, lo.ReplicaID = 7, -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "orders"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = 0, -1, -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	for _, to := range []int32{2, 3} {
		lr := raw[*kmsg.ListOffsetsResponse](t, ctx, c.Addr(to), lo)
		if err := kerr.ErrorForCode(lr.Topics[0].Partitions[0].ErrorCode); err != kerr.NotLeaderForPartition {
			t.Fatalf("list offsets on broker %d: %v, want NOT_LEADER_OR_FOLLOWER", to, err)
		}
	}
}

// TestListOffsetsForReplicas: a follower's ListOffsets (replica_id >= 0)
// gets the leader's log end offset for "latest", past the high watermark,
// which a consumer never sees (Kafka's FetchIsolation.LOG_END).
func TestListOffsetsForReplicas(t *testing.T) {
	ctx := testContext(t)
	c := kafkatest.StartStatic(t, kafkatest.StaticTopic("orders", []int32{1, 2, 3}),
		kafkatest.StaticConfig("replica.lag.time.max.ms", "600000"))
	c.Stop(2)
	c.Stop(3)
	resp := raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, 1, 5000, "orders", 0, "a", "b"))
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatal(err)
	}
	list := func(replicaID int32) int64 {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version, req.ReplicaID = 7, replicaID
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "orders"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		lr := raw[*kmsg.ListOffsetsResponse](t, ctx, c.Addr(1), req)
		if err := kerr.ErrorForCode(lr.Topics[0].Partitions[0].ErrorCode); err != nil {
			t.Fatalf("list offsets as replica %d: %v", replicaID, err)
		}
		return lr.Topics[0].Partitions[0].Offset
	}
	if got := list(-1); got != 0 {
		t.Fatalf("consumer's latest offset %d, want the high watermark 0", got)
	}
	if got := list(2); got != 2 {
		t.Fatalf("replica's latest offset %d, want the log end offset 2", got)
	}
}
