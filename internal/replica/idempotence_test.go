package replica

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/record"
)

// idemBatch builds a batch of n records from producer pid at epoch, from
// sequence seq, as an idempotent producer sends it.
func idemBatch(t testing.TB, pid int64, epoch int16, seq int32, n int, v string) []byte {
	t.Helper()
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(v)}
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

// A retried batch whose original is not replicated yet is answered with
// the original's offsets and waits, with acks=all, exactly as long as the
// original (Kafka's DelayedProduce on the duplicate's last offset).
func TestDuplicateWaitsForOriginal(t *testing.T) {
	c := newCluster(t)
	c.minISR = 2
	c.start(1, 2, 3)
	c.apply(reg(1, 1, 0, []int32{1, 2, 3}, []int32{1, 2, 3}))
	leader := c.partition(1)

	orig, err := leader.Append(idemBatch(t, 5, 0, 0, 3, "a"), -1)
	must(t, err)
	d1 := c.nodes[1].m.Purgatory().Add([]PendingAck{{leader, orig.LastOffset + 1}}, 30*time.Second)
	dup, err := leader.Append(idemBatch(t, 5, 0, 0, 3, "a"), -1)
	must(t, err)
	if !dup.Duplicate || dup.BaseOffset != orig.BaseOffset || dup.LastOffset != orig.LastOffset {
		t.Fatalf("resend: %+v, original %+v", dup, orig)
	}
	d2 := c.nodes[1].m.Purgatory().Add([]PendingAck{{leader, dup.LastOffset + 1}}, 30*time.Second)
	if !pending(d1) || !pending(d2) {
		t.Fatal("acknowledged before replication")
	}
	for range 2 {
		c.fetchOnce(2, 1)
		c.fetchOnce(3, 1)
	}
	if pending(d1) || pending(d2) {
		t.Fatalf("pending after replication: original %v, duplicate %v", pending(d1), pending(d2))
	}
	if errs := append(d1.Errors(), d2.Errors()...); errs[0] != nil || errs[1] != nil {
		t.Fatalf("ack errors %v", errs)
	}
	for id := int32(1); id <= 3; id++ {
		if got := batchesOf(t, c.logBytes(id)); !slices.Equal(got, []string{"0@e1:a"}) {
			t.Fatalf("node %d log %v", id, got)
		}
	}
}

// The followers build the producer state from what they replicate, so a
// new leader recognizes a retry of a batch its predecessor appended, and
// refuses a sequence gap.
func TestNewLeaderKeepsProducerState(t *testing.T) {
	c := newCluster(t)
	c.start(1, 2)
	replicas := []int32{1, 2}
	c.apply(reg(1, 1, 0, replicas, replicas))
	var firsts []int64
	for i := range 3 {
		res, err := c.partition(1).Append(idemBatch(t, 9, 2, int32(2*i), 2, fmt.Sprint(i)), -1)
		must(t, err)
		firsts = append(firsts, res.BaseOffset)
	}
	c.fetchOnce(2, 1)
	c.fetchOnce(2, 1)
	c.setDown(1, true)
	c.apply(reg(2, 2, 1, replicas, []int32{2}), 2)

	res, err := c.partition(2).Append(idemBatch(t, 9, 2, 2, 2, "1"), -1)
	must(t, err)
	if !res.Duplicate || res.BaseOffset != firsts[1] {
		t.Fatalf("retry at the new leader: %+v, want a duplicate at %d", res, firsts[1])
	}
	_, err = c.partition(2).Append(idemBatch(t, 9, 2, 9, 1, "gap"), -1)
	if code(err) != kerr.OutOfOrderSequenceNumber {
		t.Fatalf("gap at the new leader: %v", err)
	}
	_, err = c.partition(2).Append(idemBatch(t, 9, 1, 6, 1, "old"), -1)
	if code(err) != kerr.InvalidProducerEpoch {
		t.Fatalf("older epoch at the new leader: %v", err)
	}
	res, err = c.partition(2).Append(idemBatch(t, 9, 2, 6, 1, "next"), 1)
	must(t, err)
	if res.Duplicate || res.BaseOffset != 6 {
		t.Fatalf("next batch: %+v", res)
	}
	ps, err := c.partition(2).ActiveProducers()
	must(t, err)
	if len(ps) != 1 || ps[0].ProducerID != 9 || ps[0].ProducerEpoch != 2 || ps[0].LastSequence() != 6 {
		t.Fatalf("producer state %+v", ps)
	}
	c.apply(reg(2, 2, 1, replicas, []int32{2}), 1) // node 1 learns it follows
	if _, err := c.partition(1).ActiveProducers(); code(err) != kerr.NotLeaderForPartition {
		t.Fatalf("DescribeProducers on a non-leader: %v", err)
	}
}
