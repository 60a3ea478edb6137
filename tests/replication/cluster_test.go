package replication

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestMetadataListsTheCluster: Metadata and DescribeCluster list every
// registered broker with its endpoint and rack, and each partition's
// leader, replicas and ISR from the image (Kafka's KRaftMetadataCache).
func TestMetadataListsTheCluster(t *testing.T) {
	ctx := testContext(t)
	c := kafkatest.StartStatic(t,
		kafkatest.StaticTopic("orders", []int32{1, 2, 3}, []int32{2, 3, 1}, []int32{3, 1, 2}),
		kafkatest.StaticTopic("single", []int32{2}),
		kafkatest.StaticRack(2, "rack-b"))
	for _, seed := range []int32{1, 3} { // every broker tells the same story
		cl := client(t, c, kgo.SeedBrokers(c.Addr(seed)))
		adm := kadm.NewClient(cl)
		md, err := adm.Metadata(ctx, "orders", "single")
		if err != nil {
			t.Fatal(err)
		}
		var brokers []string
		for _, b := range md.Brokers {
			rack := ""
			if b.Rack != nil {
				rack = *b.Rack
			}
			brokers = append(brokers, fmt.Sprintf("%d@%s:%d/%s", b.NodeID, b.Host, b.Port, rack))
		}
		want := []string{
			fmt.Sprintf("1@127.0.0.1:%d/", port(t, c.Addr(1))),
			fmt.Sprintf("2@127.0.0.1:%d/rack-b", port(t, c.Addr(2))),
			fmt.Sprintf("3@127.0.0.1:%d/", port(t, c.Addr(3))),
		}
		if !slices.Equal(brokers, want) {
			t.Fatalf("seed %d: brokers %v, want %v", seed, brokers, want)
		}
		for i, wantReplicas := range [][]int32{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}} {
			p := md.Topics["orders"].Partitions[int32(i)]
			if p.Err != nil || p.Leader != wantReplicas[0] || !slices.Equal(p.Replicas, wantReplicas) || !slices.Equal(p.ISR, wantReplicas) || len(p.OfflineReplicas) != 0 {
				t.Fatalf("seed %d: orders-%d = %+v", seed, i, p)
			}
		}
		if p := md.Topics["single"].Partitions[0]; p.Leader != 2 || !slices.Equal(p.Replicas, []int32{2}) {
			t.Fatalf("seed %d: single-0 = %+v", seed, p)
		}
		if md.Controller < 1 || md.Controller > 3 {
			t.Fatalf("seed %d: controller %d is not a listed broker", seed, md.Controller)
		}
		dreq := kmsg.NewPtrDescribeClusterRequest()
		dreq.Version, dreq.EndpointType = 1, 1
		dc := raw[*kmsg.DescribeClusterResponse](t, ctx, c.Addr(seed), dreq)
		var dbrokers []string
		for _, b := range dc.Brokers {
			rack := ""
			if b.Rack != nil {
				rack = *b.Rack
			}
			dbrokers = append(dbrokers, fmt.Sprintf("%d@%s:%d/%s", b.NodeID, b.Host, b.Port, rack))
		}
		if dc.ErrorCode != 0 || !slices.Equal(dbrokers, want) || dc.ControllerID != md.Controller {
			t.Fatalf("seed %d: DescribeCluster error %d, brokers %v, controller %d", seed, dc.ErrorCode, dbrokers, dc.ControllerID)
		}
	}
}

// TestKgoProduceConsumeAcrossBrokers: a franz-go client producing with
// acks=all to three partitions led by three brokers, then consuming them,
// gets every record once and in order per partition.
func TestKgoProduceConsumeAcrossBrokers(t *testing.T) {
	ctx := testContext(t)
	c := kafkatest.StartStatic(t,
		kafkatest.StaticTopic("orders", []int32{1, 2, 3}, []int32{2, 3, 1}, []int32{3, 1, 2}),
		kafkatest.StaticTopicConfig("orders", "min.insync.replicas", "2"))
	cl := client(t, c, kgo.RequiredAcks(kgo.AllISRAcks()))
	const perPartition = 200
	var recs []*kgo.Record
	for i := range perPartition {
		for p := range int32(3) {
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, i)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	next := map[int32]int64{}
	for _, r := range recs {
		if r.Offset != next[r.Partition] {
			t.Fatalf("record %s acknowledged at offset %d, want %d", r.Value, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
	}

	consumer := client(t, c, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"orders": {
		0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart(),
	}}))
	got := map[int32][]string{}
	n := 0
	for n < len(recs) {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", n, len(recs))
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("fetch %s/%d: %v", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], string(r.Value))
			n++
		})
	}
	for p := range int32(3) {
		if len(got[p]) != perPartition {
			t.Fatalf("partition %d: %d records, want %d", p, len(got[p]), perPartition)
		}
		for i, v := range got[p] {
			if want := fmt.Sprintf("%d-%d", p, i); v != want {
				t.Fatalf("partition %d record %d = %s, want %s", p, i, v, want)
			}
		}
	}
}
