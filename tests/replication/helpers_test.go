// Package replication tests the replicated data path across brokers:
// followers fetching from leaders through the Fetch API, acks=all
// produces waiting for the ISR, ISR changes proposed to the controller,
// NOT_LEADER_OR_FOLLOWER answers that name the leader (KIP-951), and
// fetching from the closest replica (KIP-392). The brokers are real
// in-process nodes of a kafkatest.StaticCluster: their metadata is
// seeded before they start and fixed while they run (no Raft quorum), so
// leaders never move; failover is tested with the quorum.
//
// InitProducerId is not implemented yet, so kgo clients are made with
// kgo.DisableIdempotentWrite.
package replication

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// testTimeout bounds each test; the package stays far below it, so it
// only stops a hung test.
const testTimeout = 60 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// raw sends requests to one broker at exactly the version set on them,
// over a new connection per call.
func raw[R kmsg.Response](t *testing.T, ctx context.Context, addr string, req kmsg.Request) R {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	conn := replica.NewConn(nc, "replication-test", 0)
	defer conn.Close()
	resp, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatalf("%s v%d to %s: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), addr, err)
	}
	return resp.(R)
}

// client returns a kgo client seeded with every broker of c.
func client(t *testing.T, c *kafkatest.StaticCluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(c.Addrs()...),
		kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RetryTimeout(20 * time.Second),
		kgo.FetchMaxWait(300 * time.Millisecond),
		kgo.MetadataMinAge(50 * time.Millisecond),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// batch builds one record batch of values, as a producer would.
func batch(t *testing.T, values ...string) []byte {
	t.Helper()
	recs := make([]record.Record, len(values))
	for i, v := range values {
		recs[i] = record.Record{Value: []byte(v)}
	}
	b, err := record.Build(record.BuildOptions{
		PartitionLeaderEpoch: -1, BaseTimestamp: time.Now().UnixMilli(),
		ProducerID: record.NoProducerID, ProducerEpoch: record.NoProducerEpoch, BaseSequence: record.NoSequence,
	}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// produceRequest is a Produce request of one batch to topic/partition.
func produceRequest(t *testing.T, version, acks int16, timeoutMs int32, topic string, partition int32, values ...string) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, acks, timeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch(t, values...)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchRequest is a consumer Fetch of topic/partition at offset (by name:
// versions below 13).
func fetchRequest(version int16, topic string, partition int32, offset int64, rack string) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	req.ReplicaID = -1
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 1, 1<<20
	req.SessionEpoch = -1
	req.Rack = rack
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 1<<20
	rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = -1, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// values decodes the record values of fetched batches.
func values(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	err := record.Batches(b, func(_ record.Header, batch []byte) error {
		return record.Records(batch, func(r record.Record) error {
			out = append(out, string(r.Value))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually calls f until it returns true or ctx ends (then fails with
// what).
func eventually(t *testing.T, ctx context.Context, what string, f func() bool) {
	t.Helper()
	for !f() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
