// Package compaction checks log compaction through a real broker
// (kafkatest) with franz-go clients: a compacted topic ends up with one
// record per key, __consumer_offsets is compacted and still loads, and a
// record without a key is refused from a compacted topic, as in Kafka.
package compaction

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// waitFor bounds how long a test waits for the cleaner; the cleaner runs
// every log.cleaner.backoff.ms (50 ms here), so this only stops a test
// that would otherwise hang.
const waitFor = 30 * time.Second

func start(t *testing.T, props ...string) (*kafkatest.Cluster, context.Context) {
	t.Helper()
	opts := []kafkatest.Opt{kafkatest.Config("log.cleaner.backoff.ms", "50")}
	for i := 0; i+1 < len(props); i += 2 {
		opts = append(opts, kafkatest.Config(props[i], props[i+1]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitFor)
	t.Cleanup(cancel)
	return kafkatest.Start(t, opts...), ctx
}

func client(t *testing.T, c *kafkatest.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(c.Addr()),
		kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(64 << 10),
		kgo.MetadataMinAge(50 * time.Millisecond),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// readPartition reads every record of a partition up to its end offset.
func readPartition(ctx context.Context, t *testing.T, c *kafkatest.Cluster, topic string, partition int32) []*kgo.Record {
	t.Helper()
	adm := kadm.NewClient(client(t, c))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, ok := ends.Lookup(topic, partition)
	if !ok || end.Err != nil {
		t.Fatalf("end offset of %s-%d: %+v", topic, partition, end)
	}
	cl := client(t, c, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}))
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < end.Offset-1 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s-%d up to %d: %v", topic, partition, end.Offset, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// TestCompactedTopicKeepsLatestPerKey produces several segments of
// updates to a few keys (and deletes of some) to a topic with
// cleanup.policy=compact and min.cleanable.dirty.ratio=0.01, rolls the
// active segment with one more record, and waits for the cleaner: the
// topic must then read, with kgo, as one record per key, the latest, at
// the offset it was produced at (Kafka's compaction guarantees, "Log
// Compaction" in Kafka's design documentation).
func TestCompactedTopicKeepsLatestPerKey(t *testing.T) {
	t.Parallel()
	c, ctx := start(t)
	cl := client(t, c)
	adm := kadm.NewClient(cl)
	const topic = "compacted"
	resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("1048576"), // Kafka's minimum
		"segment.ms":                kadm.StringPtr("1000"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}

	const keys, rounds = 16, 100 // 1600 records of 2 KiB: three segments and more
	value := func(k, r int) []byte {
		return append(fmt.Appendf(nil, "key-%d round-%d ", k, r), bytes.Repeat([]byte{'x'}, 2000)...)
	}
	type latest struct {
		value  []byte
		offset int64
	}
	want := map[string]latest{}
	for r := range rounds {
		var recs []*kgo.Record
		for k := range keys {
			rec := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", k), Value: value(k, r)}
			if r == rounds-1 && k%5 == 0 {
				rec.Value = nil // a delete: the tombstone stays for delete.retention.ms
			}
			recs = append(recs, rec)
		}
		for _, pr := range cl.ProduceSync(ctx, recs...) {
			if pr.Err != nil {
				t.Fatal(pr.Err)
			}
			want[string(pr.Record.Key)] = latest{pr.Record.Value, pr.Record.Offset}
		}
	}
	// segment.ms has passed for the active segment: the next record rolls
	// it, leaving everything produced so far cleanable.
	time.Sleep(1100 * time.Millisecond)
	marker := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("marker"), Value: []byte("end")})
	if err := marker.FirstErr(); err != nil {
		t.Fatal(err)
	}
	want["marker"] = latest{[]byte("end"), marker[0].Record.Offset}

	deadline := time.Now().Add(waitFor)
	for {
		got := readPartition(ctx, t, c, topic, 0)
		if len(got) == len(want) {
			for _, r := range got {
				w, ok := want[string(r.Key)]
				if !ok || r.Offset != w.offset || !bytes.Equal(r.Value, w.value) || (r.Value == nil) != (w.value == nil) {
					t.Fatalf("record %q at offset %d (%d bytes), want offset %d (%d bytes)", r.Key, r.Offset, len(r.Value), w.offset, len(w.value))
				}
			}
			return
		}
		if len(got) < len(want) {
			t.Fatalf("%d records, fewer than the %d keys", len(got), len(want))
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d records for %d keys after %v", len(got), len(want), waitFor)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConsumerOffsetsCompacted commits offsets with large metadata many
// times, so that __consumer_offsets rolls segments, and waits for the
// cleaner to leave about one record per key; the group coordinator still
// serves the latest offsets, and loads them from the compacted log after
// a restart.
func TestConsumerOffsetsCompacted(t *testing.T) {
	t.Parallel()
	c, ctx := start(t,
		"offsets.topic.num.partitions", "1",
		"offsets.topic.segment.bytes", "1048576",
		"log.roll.ms", "1000", // __consumer_offsets rolls by time too
	)
	adm := kadm.NewClient(client(t, c))
	const topic, group = "events", "compacting-group"
	if resp, err := adm.CreateTopic(ctx, 4, 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	meta := strings.Repeat("m", 3000) // offset.metadata.max.bytes is 4096
	const commits = 400               // of 4 partitions: about 5 MB
	commit := func(i int) {
		offs := kadm.Offsets{}
		for p := range int32(4) {
			offs.Add(kadm.Offset{Topic: topic, Partition: p, At: int64(i*10 + int(p)), LeaderEpoch: -1, Metadata: meta})
		}
		resp, err := adm.CommitOffsets(ctx, group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	for i := range commits {
		commit(i)
	}
	time.Sleep(1100 * time.Millisecond)
	commit(commits) // rolls the active segment

	check := func(what string) {
		t.Helper()
		fetched, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatalf("%s: fetch offsets: %v", what, err)
		}
		for p := range int32(4) {
			o, ok := fetched.Lookup(topic, p)
			if !ok || o.Err != nil || o.At != int64(commits*10+int(p)) || o.Metadata != meta {
				t.Fatalf("%s: partition %d: %+v", what, p, o)
			}
		}
	}
	check("before compaction")

	deadline := time.Now().Add(waitFor)
	for {
		recs := readPartition(ctx, t, c, "__consumer_offsets", 0)
		perKey := map[string]int{}
		for _, r := range recs {
			perKey[string(r.Key)]++
		}
		most := 0
		for _, n := range perKey {
			most = max(most, n)
		}
		// At most once in the cleaned segments and once in the active one.
		if most <= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("__consumer_offsets still has %d records, a key up to %d times, after %v", len(recs), most, waitFor)
		}
		time.Sleep(100 * time.Millisecond)
	}
	check("after compaction")
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	adm = kadm.NewClient(client(t, c))
	deadline = time.Now().Add(waitFor)
	for {
		// The coordinator loads the partition after the restart.
		fetched, err := adm.FetchOffsets(ctx, group)
		if err == nil && fetched.Error() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offsets not served after the restart: %v %v", err, fetched.Error())
		}
		time.Sleep(100 * time.Millisecond)
	}
	check("after a restart")
}

// TestCompactedTopicRefusesRecordsWithoutKey: a batch with a keyless
// record is refused from a compacted topic with INVALID_RECORD and
// Kafka's message naming the partition (LogValidator.validateKey), and
// nothing of it is appended.
func TestCompactedTopicRefusesRecordsWithoutKey(t *testing.T) {
	t.Parallel()
	c, ctx := start(t)
	cl := client(t, c)
	adm := kadm.NewClient(cl)
	const topic = "compacted-keys"
	if resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact,delete")}, topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	res := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("no key")})
	if err := res.FirstErr(); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("kgo produce of a keyless record: %v, want INVALID_RECORD", err)
	}

	// The raw response carries Kafka's messages.
	b, err := record.Build(record.BuildOptions{BaseTimestamp: time.Now().UnixMilli(), PartitionLeaderEpoch: -1,
		ProducerID: record.NoProducerID, ProducerEpoch: record.NoProducerEpoch, BaseSequence: record.NoSequence},
		[]record.Record{{Key: []byte("k"), Value: []byte("v")}, {Value: []byte("no key")}})
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic // produce v13 names the topic by id
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rt.TopicID = details[topic].ID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = b
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	const msg = "Compacted topic cannot accept message without key in topic partition compacted-keys-0."
	if p.ErrorCode != kerr.InvalidRecord.Code || p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, msg) ||
		len(p.ErrorRecords) != 1 || p.ErrorRecords[0].RelativeOffset != 1 || p.ErrorRecords[0].ErrorMessage == nil || *p.ErrorRecords[0].ErrorMessage != msg {
		t.Fatalf("produce response %+v", p)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup(topic, 0); o.Offset != 0 {
		t.Fatalf("end offset %d after refused batches", o.Offset)
	}
}
