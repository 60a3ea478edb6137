package replication

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// findAlter returns the first proposal from leader for orders-0 with isr.
func findAlter(c *kafkatest.StaticCluster, from int32, isr []int32) (kafkatest.AlterPartitionCall, bool) {
	for _, a := range c.AlterPartitions() {
		if a.From == from && a.Topic == "orders" && a.Partition == 0 && slices.Equal(a.ISR, isr) {
			return a, true
		}
	}
	return kafkatest.AlterPartitionCall{}, false
}

// TestISRShrinkAndExpand: a follower that stops fetching while the leader
// takes writes is out of sync after replica.lag.time.max.ms, and the
// leader's ISR expiration task proposes the ISR without it through
// AlterPartition (KIP-497) with its leader and partition epochs. Once
// the controller accepts, acks=all needs only the remaining ISR
// (min.insync.replicas=2). When the follower returns and catches up, the
// leader proposes adding it back.
func TestISRShrinkAndExpand(t *testing.T) {
	ctx := testContext(t)
	c := kafkatest.StartStatic(t, kafkatest.StaticTopic("orders", []int32{1, 2, 3}),
		kafkatest.StaticTopicConfig("orders", "min.insync.replicas", "2"),
		kafkatest.StaticConfig("replica.lag.time.max.ms", "400"),
		kafkatest.StaticConfig("replica.fetch.wait.max.ms", "100"))

	resp := raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, -1, 30000, "orders", 0, "before"))
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatalf("acks=all with every replica up: %v", err)
	}
	c.Stop(3)
	// A follower at the leader's end stays caught up; new records make
	// it fall behind.
	resp = raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, 1, 30000, "orders", 0, "while-3-is-down"))
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatalf("acks=1: %v", err)
	}
	var shrink kafkatest.AlterPartitionCall
	eventually(t, ctx, "the ISR shrink proposal", func() bool {
		var ok bool
		shrink, ok = findAlter(c, 1, []int32{1, 2})
		return ok
	})
	if shrink.LeaderEpoch != 0 || shrink.PartitionEpoch != 0 {
		t.Fatalf("shrink proposed at leader epoch %d, partition epoch %d; want 0, 0", shrink.LeaderEpoch, shrink.PartitionEpoch)
	}
	// Accepted (the harness plays the controller): acks=all is answered
	// by the two replicas left.
	resp = raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, -1, 30000, "orders", 0, "isr-of-two"))
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 2 {
		t.Fatalf("acks=all on the shrunk ISR: %v at offset %d", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}

	if err := c.Restart(3); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the ISR expand proposal", func() bool {
		_, ok := findAlter(c, 1, []int32{1, 2, 3})
		return ok
	})
	// Broker 3 has every record.
	eventually(t, ctx, "broker 3 to catch up", func() bool {
		fr := raw[*kmsg.FetchResponse](t, ctx, c.Addr(3), fetchRequest(12, "orders", 0, 0, ""))
		return slices.Equal(values(t, fr.Topics[0].Partitions[0].RecordBatches), []string{"before", "while-3-is-down", "isr-of-two"})
	})
}

// TestNotEnoughReplicas: with the ISR shrunk to the leader alone below
// min.insync.replicas, acks=all is refused before the append with
// NOT_ENOUGH_REPLICAS, while acks=1 still succeeds (Kafka's
// Partition.appendRecordsToLeader).
func TestNotEnoughReplicas(t *testing.T) {
	ctx := testContext(t)
	c := kafkatest.StartStatic(t, kafkatest.StaticBrokers(2), kafkatest.StaticTopic("orders", []int32{1, 2}),
		kafkatest.StaticTopicConfig("orders", "min.insync.replicas", "2"),
		kafkatest.StaticConfig("replica.lag.time.max.ms", "400"),
		kafkatest.StaticConfig("replica.fetch.wait.max.ms", "100"))
	c.Stop(2)
	resp := raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, 1, 30000, "orders", 0, "x"))
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatalf("acks=1: %v", err)
	}
	eventually(t, ctx, "the ISR shrink to the leader", func() bool {
		for _, a := range c.AlterPartitions() {
			if slices.Equal(a.ISR, []int32{1}) {
				return true
			}
		}
		return false
	})
	eventually(t, ctx, "NOT_ENOUGH_REPLICAS", func() bool {
		resp := raw[*kmsg.ProduceResponse](t, ctx, c.Addr(1), produceRequest(t, 11, -1, 1000, "orders", 0, "refused"))
		return resp.Topics[0].Partitions[0].ErrorCode == kerr.NotEnoughReplicas.Code
	})
}
