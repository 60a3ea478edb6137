package quorum

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestConsumerGroupOnCluster runs a consumer group on a 3-node cluster:
// the group coordinators live on the leaders of __consumer_offsets'
// partitions, spread over the nodes, so FindCoordinator must point
// clients at other brokers, and offsets are committed with acks=all on
// replicated partitions.
func TestConsumerGroupOnCluster(t *testing.T) {
	c := startCluster(t, kafkatest.Config("group.initial.rebalance.delay.ms", "0"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createTopic(t, c.Addrs()[0], "orders", 6, 3)
	waitTopic(t, c, "orders")

	p, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.DisableIdempotentWrite(), kgo.DefaultProduceTopic("orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 300
	for i := 0; i < n; i++ {
		if err := p.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i % 17)), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}

	// Several groups, so their coordinators land on different nodes.
	coordinators := map[int32]bool{}
	adm := kadm.NewClient(p)
	for g := 0; g < 4; g++ {
		group := fmt.Sprintf("app-%d", g)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics("orders"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for len(seen) < n {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatalf("%s: poll: %v", group, err)
			}
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("%s: commit: %v", group, err)
		}
		cl.Close()

		offsets, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatalf("%s: fetch offsets: %v", group, err)
		}
		var total int64
		offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
		if total != n {
			t.Fatalf("%s: committed offsets sum to %d, want %d", group, total, n)
		}
		described, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		coordinators[described[group].Coordinator.NodeID] = true
	}
	t.Logf("coordinators on nodes %v", coordinators)
}
