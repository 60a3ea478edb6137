package e2e

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// listOffsets asks for one timestamp of topic/partition with a raw
// ListOffsets v11 and returns the partition's answer.
func listOffsets(t *testing.T, e *env, topic string, partition int32, ts int64) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	return listOffsetsAt(t, e, 11, topic, partition, ts, -1)
}

func listOffsetsAt(t *testing.T, e *env, version int16, topic string, partition int32, ts int64, currentEpoch int32) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = version
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = partition, ts, currentEpoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := dialRaw(t, e.c.Addr()).roundTrip(req)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	resp := r.(*kmsg.ListOffsetsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("list offsets response has %d topics", len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0]
}

// TestListOffsets stores records with known, non-monotonic timestamps in
// three batches and checks every kind of ListOffsets query (Kafka
// UnifiedLog.fetchOffsetByTimestamp): -2 earliest and -1 latest (with
// timestamp -1), a timestamp (the first offset whose timestamp is at least
// it, or -1/-1 if none), and -3 max timestamp (KIP-734: the offset of the
// record with the largest timestamp, even mid-batch, KAFKA-16310).
func TestListOffsets(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("lo", 1, nil)
	base := time.Now().Add(-10 * time.Minute).UnixMilli()
	// offset:    0     1     2     3     4     5     6
	// ts-base:   0    10     5  1000   500  2000  1500
	for _, b := range [][]rawRecord{
		{{tsDelta: 0}, {tsDelta: 10}, {tsDelta: 5}},
		{{tsDelta: 1000}, {tsDelta: 500}},
		{{tsDelta: 2000}, {tsDelta: 1500}},
	} {
		for i := range b {
			b[i].value = []byte("v")
		}
		r := e.produceRaw("lo", 0, 1, buildBatch(base, b...))
		wantCode(t, "produce", r.ErrorCode, nil)
	}

	for _, tc := range []struct {
		name       string
		ts         int64
		off, retTS int64
	}{
		{"earliest", -2, 0, -1},
		{"latest", -1, 7, -1},
		{"max timestamp", -3, 5, base + 2000},
		{"ts before all", base - 1, 0, base},
		{"ts of offset 0", base, 0, base},
		{"ts 5 (first record >= is offset 1)", base + 5, 1, base + 10},
		{"ts 11 (skips offset 4's older ts)", base + 11, 3, base + 1000},
		{"ts 600", base + 600, 3, base + 1000},
		{"ts 1001", base + 1001, 5, base + 2000},
		{"ts 1600", base + 1600, 5, base + 2000},
		{"ts 2000", base + 2000, 5, base + 2000},
		{"ts after all", base + 2001, -1, -1},
	} {
		p := listOffsets(t, e, "lo", 0, tc.ts)
		wantCode(t, tc.name, p.ErrorCode, nil)
		if p.Offset != tc.off || p.Timestamp != tc.retTS {
			t.Errorf("%s: offset %d timestamp %d, want %d, %d", tc.name, p.Offset, p.Timestamp, tc.off, tc.retTS)
		}
		if tc.off >= 0 && p.LeaderEpoch != 0 {
			t.Errorf("%s: leader epoch %d, want 0", tc.name, p.LeaderEpoch)
		}
	}

	// kadm's helpers agree.
	starts, err := e.adm.ListStartOffsets(e.ctx, "lo")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := e.adm.ListEndOffsets(e.ctx, "lo")
	if err != nil {
		t.Fatal(err)
	}
	after, err := e.adm.ListOffsetsAfterMilli(e.ctx, base+600, "lo")
	if err != nil {
		t.Fatal(err)
	}
	maxTS, err := e.adm.ListMaxTimestampOffsets(e.ctx, "lo")
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, lo kadm.ListedOffsets, want int64) {
		t.Helper()
		o, ok := lo.Lookup("lo", 0)
		if !ok || o.Err != nil || o.Offset != want {
			t.Errorf("%s: %+v, want offset %d", what, o, want)
		}
	}
	check("ListStartOffsets", starts, 0)
	check("ListEndOffsets", ends, 7)
	check("ListOffsetsAfterMilli(600)", after, 3)
	check("ListMaxTimestampOffsets", maxTS, 5)

	// DeleteRecords moves the earliest offset; timestamp lookups never
	// answer a deleted offset (fetchOffsetByTimestamp searches from the
	// log start offset).
	dr, err := e.adm.DeleteRecords(e.ctx, offsetsOf("lo", 0, 4))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := dr.Lookup("lo", 0); !ok || r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("DeleteRecords(4): %+v", r)
	}
	for _, tc := range []struct {
		name string
		ts   int64
		off  int64
	}{
		{"earliest after delete", -2, 4},
		{"earliest local after delete", -4, 4},
		{"latest after delete", -1, 7},
		{"ts 0 after delete", base, 4},
	} {
		p := listOffsets(t, e, "lo", 0, tc.ts)
		wantCode(t, tc.name, p.ErrorCode, nil)
		if p.Offset != tc.off {
			t.Errorf("%s: offset %d, want %d", tc.name, p.Offset, tc.off)
		}
	}
	starts, err = e.adm.ListStartOffsets(e.ctx, "lo")
	if err != nil {
		t.Fatal(err)
	}
	check("ListStartOffsets after DeleteRecords", starts, 4)
	after, err = e.adm.ListOffsetsAfterMilli(e.ctx, base, "lo")
	if err != nil {
		t.Fatal(err)
	}
	check("ListOffsetsAfterMilli(0) after DeleteRecords", after, 4)
}

// TestListOffsetsCompressed looks up timestamps and the max timestamp
// inside compressed batches: Kafka decompresses the batch and answers the
// exact record (FileRecords.searchForTimestamp iterates "for (Record
// record : batch)" and returns record.offset(); KIP-734's max timestamp
// is the offset of the record that has it, LogValidator
// offsetOfMaxTimestamp), never the batch's base or last offset.
func TestListOffsetsCompressed(t *testing.T) {
	t.Parallel()
	e := start(t)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	for _, cc := range codecs {
		topic := "loc-" + cc.name
		e.createTopic(topic, 1, nil)
		pcl := e.client(kgo.ProducerBatchCompression(cc.codec), kgo.ProducerLinger(20*time.Millisecond))
		var recs []*kgo.Record
		// offset:  0  1  2  3  4
		// ts-base: 0  1  2  4  3   (seconds)
		for _, d := range []int{0, 1, 2, 4, 3} {
			recs = append(recs, &kgo.Record{Topic: topic, Value: bytes.Repeat([]byte("z"), 500), Timestamp: base.Add(time.Duration(d) * time.Second)})
		}
		e.produce(pcl, recs...)
		p := fetchRaw(t, e.ctx, e.cl, topic, [16]byte{}, 0, 0, 1<<20)
		if bs := batches(t, p.RecordBatches); len(bs) != 1 || bs[0].Attributes&7 != cc.attr {
			t.Fatalf("%s: the five records are not one %s batch", topic, cc.name)
		}
		for _, tc := range []struct {
			ts      int64
			off, at int64
		}{
			{base.Add(2 * time.Second).UnixMilli(), 2, base.Add(2 * time.Second).UnixMilli()},
			{base.Add(2500 * time.Millisecond).UnixMilli(), 3, base.Add(4 * time.Second).UnixMilli()},
			{-3, 3, base.Add(4 * time.Second).UnixMilli()},
		} {
			got := listOffsets(t, e, topic, 0, tc.ts)
			if got.ErrorCode != 0 || got.Offset != tc.off || got.Timestamp != tc.at {
				t.Errorf("%s: timestamp %d: offset %d ts %d (%v), want offset %d ts %d", cc.name, tc.ts, got.Offset, got.Timestamp, codeErr(got.ErrorCode), tc.off, tc.at)
			}
		}
	}
}

// TestListOffsetsErrors: unknown topics and partitions, and the
// current_leader_epoch check (KIP-320: newer than the leader's is
// UNKNOWN_LEADER_EPOCH).
func TestListOffsetsErrors(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("loe", 1, nil)
	wantCode(t, "unknown topic", listOffsets(t, e, "nope", 0, -1).ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "unknown partition", listOffsets(t, e, "loe", 1, -1).ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "current leader epoch 7", listOffsetsAt(t, e, 11, "loe", 0, -1, 7).ErrorCode, kerr.UnknownLeaderEpoch)
	wantCode(t, "current leader epoch 0", listOffsetsAt(t, e, 11, "loe", 0, -1, 0).ErrorCode, nil)
	wantCode(t, "timestamp -3 at v7", listOffsetsAt(t, e, 7, "loe", 0, -3, -1).ErrorCode, nil)
}

// TestListOffsetsDuplicatePartition names a partition twice in one
// request. Kafka answers INVALID_REQUEST for it wherever it is named and
// never serves one of the copies (ReplicaManager.fetchOffset: "if
// (duplicatePartitions.contains(topicPartition))" → buildErrorResponse(
// Errors.INVALID_REQUEST, partition), for each occurrence).
func TestListOffsetsDuplicatePartition(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("loe", 1, nil)
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 9
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "loe"
	for i := 0; i < 2; i++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.CurrentLeaderEpoch = -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	r, err := dialRaw(t, e.c.Addr()).roundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp := r.(*kmsg.ListOffsetsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) == 0 {
		t.Fatalf("duplicate partitions: %+v", resp.Topics)
	}
	for i, p := range resp.Topics[0].Partitions {
		wantCode(t, fmt.Sprintf("duplicate partition, answer %d", i), p.ErrorCode, kerr.InvalidRequest)
	}
}

// TestListOffsetsTimestampVersion asks for special timestamps at versions
// older than the one that introduced them, and for an unknown negative
// timestamp: Kafka answers UNSUPPORTED_VERSION for the partition
// (ReplicaManager.isListOffsetsTimestampUnsupported with
// timestampMinSupportedVersion: -3 needs v7, -4 v8, -5 v9, -6 v11; any
// other negative timestamp is unsupported).
func TestListOffsetsTimestampVersion(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("lov", 1, nil)
	for _, tc := range []struct {
		v  int16
		ts int64
	}{{6, -3}, {7, -4}, {8, -5}, {10, -6}, {11, -7}} {
		wantCode(t, fmt.Sprintf("timestamp %d at v%d", tc.ts, tc.v), listOffsetsAt(t, e, tc.v, "lov", 0, tc.ts, -1).ErrorCode, kerr.UnsupportedVersion)
	}
}

// TestDeleteRecords covers DeleteRecords (KIP-107): -1 deletes up to the
// high watermark, an offset past it is OFFSET_OUT_OF_RANGE, unknown
// partitions are UNKNOWN_TOPIC_OR_PARTITION, and the low watermark never
// moves back.
func TestDeleteRecords(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("dr", 2, nil)
	e.produceValues("dr", 0, "v", 10)
	e.produceValues("dr", 1, "v", 3)

	res, err := e.adm.DeleteRecords(e.ctx, offsetsOf("dr", 0, 11))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("dr", 0); !errorsIs(r.Err, kerr.OffsetOutOfRange) {
		t.Errorf("DeleteRecords past the high watermark: %v, want OFFSET_OUT_OF_RANGE", r.Err)
	}
	res, err = e.adm.DeleteRecords(e.ctx, offsetsOf("dr", 0, 6))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("dr", 0); r.Err != nil || r.LowWatermark != 6 {
		t.Errorf("DeleteRecords(6): low watermark %d, %v", r.LowWatermark, r.Err)
	}
	res, err = e.adm.DeleteRecords(e.ctx, offsetsOf("dr", 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("dr", 0); r.Err != nil || r.LowWatermark != 6 {
		t.Errorf("DeleteRecords(2) after 6: low watermark %d, %v; want 6 (never moves back)", r.LowWatermark, r.Err)
	}
	res, err = e.adm.DeleteRecords(e.ctx, offsetsOf("dr", 1, -1))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("dr", 1); r.Err != nil || r.LowWatermark != 3 {
		t.Errorf("DeleteRecords(-1): low watermark %d, %v; want the high watermark 3", r.LowWatermark, r.Err)
	}

	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 5000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = "dr"
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 5, 0
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := dialRaw(t, e.c.Addr()).roundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "DeleteRecords of a missing partition", r.(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)

	got := e.consumeAll("dr", 1, 4)
	if got[0].Offset != 6 {
		t.Errorf("consumer from the start begins at %d, want 6", got[0].Offset)
	}
}

// TestOffsetForLeaderEpoch asks for the end offset of leader epochs
// (KIP-101/KIP-279, LeaderEpochFileCache.endOffsetFor): the current epoch
// ends at the log end offset; an epoch above every known one answers
// UNDEFINED (-1, -1); a current_leader_epoch above the leader's is
// UNKNOWN_LEADER_EPOCH.
func TestOffsetForLeaderEpoch(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("ofle", 1, nil)
	e.produceValues("ofle", 0, "v", 4)

	req := kadm.OffsetForLeaderEpochRequest{}
	req.Add("ofle", 0, 0)
	res, err := e.adm.OffsetForLeaderEpoch(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got := res["ofle"][0]
	if got.Err != nil || got.LeaderEpoch != 0 || got.EndOffset != 4 {
		t.Errorf("epoch 0: %+v, want epoch 0 end offset 4", got)
	}

	ask := func(epoch, current int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		r := kmsg.NewPtrOffsetForLeaderEpochRequest()
		r.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "ofle"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.LeaderEpoch, rp.CurrentLeaderEpoch = epoch, current
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		resp := request[*kmsg.OffsetForLeaderEpochResponse](t, e.ctx, e.cl, r)
		return resp.Topics[0].Partitions[0]
	}
	p := ask(5, -1)
	wantCode(t, "epoch 5", p.ErrorCode, nil)
	if p.LeaderEpoch != -1 || p.EndOffset != -1 {
		t.Errorf("epoch 5 (unknown, above the latest): epoch %d end %d, want -1, -1", p.LeaderEpoch, p.EndOffset)
	}
	p = ask(0, 3)
	wantCode(t, "current leader epoch 3", p.ErrorCode, kerr.UnknownLeaderEpoch)
	p = ask(0, 0)
	wantCode(t, "current leader epoch 0", p.ErrorCode, nil)
	if p.EndOffset != 4 {
		t.Errorf("epoch 0 with current epoch 0: end %d, want 4", p.EndOffset)
	}
}
