package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's default max.message.bytes (message.max.bytes): 1 MiB plus the
// 12-byte log overhead (ServerLogConfigs.MAX_MESSAGE_BYTES_DEFAULT).
const defaultMaxMessageBytes = 1048588

// codecs are kgo's codecs with their RecordBatch attribute bits.
var codecs = []struct {
	name  string
	codec kgo.CompressionCodec
	attr  int16
}{
	{"none", kgo.NoCompression(), 0},
	{"gzip", kgo.GzipCompression(), 1},
	{"snappy", kgo.SnappyCompression(), 2},
	{"lz4", kgo.Lz4Compression(), 3},
	{"zstd", kgo.ZstdCompression(), 4},
}

// roundTripRecords covers the record fields a client can set: keys,
// null and empty keys and values, headers (with null and empty values)
// and explicit, non-monotonic timestamps.
func roundTripRecords(topic string, base time.Time) []*kgo.Record {
	big := bytes.Repeat([]byte("compressible "), 1000)
	return []*kgo.Record{
		{Topic: topic, Key: []byte("k0"), Value: []byte("v0"), Timestamp: base,
			Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: []byte{}}, {Key: "h3", Value: nil}}},
		{Topic: topic, Key: nil, Value: []byte("null key"), Timestamp: base.Add(time.Millisecond)},
		{Topic: topic, Key: []byte("tombstone"), Value: nil, Timestamp: base.Add(2 * time.Millisecond)},
		{Topic: topic, Key: []byte("empty value"), Value: []byte{}, Timestamp: base.Add(-5 * time.Second)},
		{Topic: topic, Key: []byte{}, Value: []byte("empty key"), Timestamp: base.Add(3 * time.Millisecond)},
		{Topic: topic, Key: nil, Value: nil, Timestamp: base.Add(4 * time.Millisecond)},
		{Topic: topic, Key: []byte("big"), Value: big, Timestamp: base.Add(5 * time.Millisecond),
			Headers: []kgo.RecordHeader{{Key: "", Value: []byte("empty header key")}}},
	}
}

// sameRecord compares what a consumer sees with what was produced,
// telling null from empty.
func sameRecord(got, want *kgo.Record) error {
	eqBytes := func(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
	switch {
	case !eqBytes(got.Key, want.Key):
		return fmt.Errorf("key %q (nil %v), want %q (nil %v)", got.Key, got.Key == nil, want.Key, want.Key == nil)
	case !eqBytes(got.Value, want.Value):
		return fmt.Errorf("value %.20q (nil %v), want %.20q (nil %v)", got.Value, got.Value == nil, want.Value, want.Value == nil)
	case !got.Timestamp.Equal(want.Timestamp.Truncate(time.Millisecond)):
		return fmt.Errorf("timestamp %v, want %v", got.Timestamp, want.Timestamp)
	case len(got.Headers) != len(want.Headers):
		return fmt.Errorf("%d headers, want %d", len(got.Headers), len(want.Headers))
	}
	for i := range want.Headers {
		if got.Headers[i].Key != want.Headers[i].Key || !eqBytes(got.Headers[i].Value, want.Headers[i].Value) {
			return fmt.Errorf("header %d = %q:%q, want %q:%q", i, got.Headers[i].Key, got.Headers[i].Value, want.Headers[i].Key, want.Headers[i].Value)
		}
	}
	return nil
}

// TestProduceCompressionRoundTrip produces the same records with every
// codec and reads them back unchanged at the offsets the produce
// returned. With the default compression.type=producer the broker keeps
// the producer's codec ("'producer' means retain the original compression
// codec set by the producer", Kafka's topic config docs).
func TestProduceCompressionRoundTrip(t *testing.T) {
	t.Parallel()
	e := start(t)
	base := time.UnixMilli(1_700_000_000_000)
	for _, cc := range codecs {
		t.Run(cc.name, func(t *testing.T) {
			topic := "codec-" + cc.name
			e.createTopic(topic, 1, nil)
			pcl := e.client(kgo.ProducerBatchCompression(cc.codec), kgo.ProducerLinger(50*time.Millisecond))
			want := roundTripRecords(topic, base)
			e.produce(pcl, want...)
			for i, r := range want {
				if r.Offset != int64(i) {
					t.Errorf("record %d produced at offset %d", i, r.Offset)
				}
			}
			got := e.consumeAll(topic, 1, len(want))
			for i := range want {
				if got[i].Offset != int64(i) {
					t.Errorf("record %d consumed at offset %d", i, got[i].Offset)
				}
				if err := sameRecord(got[i], want[i]); err != nil {
					t.Errorf("record %d: %v", i, err)
				}
			}
			fp := fetchRaw(t, e.ctx, e.cl, topic, [16]byte{}, 0, 0, 1<<20)
			wantCode(t, "fetch", fp.ErrorCode, nil)
			for _, b := range batches(t, fp.RecordBatches) {
				if b.Attributes&7 != cc.attr {
					t.Errorf("stored batch at %d has codec %d, want %d", b.FirstOffset, b.Attributes&7, cc.attr)
				}
			}
		})
	}
}

// TestProduceTopicCompressionType checks that a topic's compression.type
// other than "producer" makes the broker recompress batches to that codec
// (Kafka LogValidator: the target codec is the topic's; a different
// source codec is recompressed), and that readers see the same records.
func TestProduceTopicCompressionType(t *testing.T) {
	t.Parallel()
	e := start(t)
	base := time.UnixMilli(1_700_000_000_000)
	for _, tc := range []struct {
		topicCodec string
		attr       int16
		producer   kgo.CompressionCodec
	}{
		{"gzip", 1, kgo.NoCompression()},
		{"zstd", 4, kgo.SnappyCompression()},
		{"uncompressed", 0, kgo.Lz4Compression()},
	} {
		t.Run(tc.topicCodec, func(t *testing.T) {
			topic := "tc-" + tc.topicCodec
			e.createTopic(topic, 1, map[string]*string{"compression.type": str(tc.topicCodec)})
			pcl := e.client(kgo.ProducerBatchCompression(tc.producer))
			want := roundTripRecords(topic, base)
			e.produce(pcl, want...)
			got := e.consumeAll(topic, 1, len(want))
			for i := range want {
				if err := sameRecord(got[i], want[i]); err != nil {
					t.Errorf("record %d: %v", i, err)
				}
			}
			fp := fetchRaw(t, e.ctx, e.cl, topic, [16]byte{}, 0, 0, 1<<20)
			bs := batches(t, fp.RecordBatches)
			if len(bs) == 0 {
				t.Fatal("no batches fetched")
			}
			for _, b := range bs {
				if b.Attributes&7 != tc.attr {
					t.Errorf("stored batch at %d has codec %d, want %d (topic compression.type=%s)", b.FirstOffset, b.Attributes&7, tc.attr, tc.topicCodec)
				}
			}
		})
	}
}

// TestProduceManyPartitions spreads records over 50 partitions and reads
// each partition back in order with offsets from 0.
func TestProduceManyPartitions(t *testing.T) {
	t.Parallel()
	e := start(t)
	const parts, per = 50, 20
	e.createTopic("wide", parts, nil)
	var recs []*kgo.Record
	for i := 0; i < per; i++ {
		for p := int32(0); p < parts; p++ {
			recs = append(recs, &kgo.Record{Topic: "wide", Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, i)})
		}
	}
	e.produce(nil, recs...)
	got := byPartition(e.consumeAll("wide", parts, parts*per))
	if len(got) != parts {
		t.Fatalf("records from %d partitions, want %d", len(got), parts)
	}
	for p := int32(0); p < parts; p++ {
		for i, r := range got[p] {
			if r.Offset != int64(i) || string(r.Value) != fmt.Sprintf("%d-%d", p, i) {
				t.Fatalf("partition %d record %d: offset %d value %q", p, i, r.Offset, r.Value)
			}
		}
	}
	ends, err := e.adm.ListEndOffsets(e.ctx, "wide")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset != per {
			t.Errorf("partition %d end offset %d (%v), want %d", o.Partition, o.Offset, o.Err, per)
		}
	})
}

// TestProduceMaxMessageBytesBoundary sends batches of exact sizes. Kafka
// compares the whole batch (sizeInBytes, log overhead included) with
// max.message.bytes and rejects a larger one with MESSAGE_TOO_LARGE
// (UnifiedLog.analyzeAndValidateRecords: "batchSize > maxMessageSize"
// throws RecordTooLargeException).
func TestProduceMaxMessageBytesBoundary(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("limit", 1, nil)
	ok := e.produceRaw("limit", 0, 1, batchOfSize(defaultMaxMessageBytes))
	wantCode(t, "batch of exactly max.message.bytes", ok.ErrorCode, nil)

	over := e.produceRaw("limit", 0, 1, batchOfSize(defaultMaxMessageBytes+1))
	wantCode(t, "batch one byte over max.message.bytes", over.ErrorCode, kerr.MessageTooLarge)

	e.createTopic("limit-small", 1, map[string]*string{"max.message.bytes": str("1000")})
	wantCode(t, "1000-byte batch, max.message.bytes=1000", e.produceRaw("limit-small", 0, 1, batchOfSize(1000)).ErrorCode, nil)
	wantCode(t, "1001-byte batch, max.message.bytes=1000", e.produceRaw("limit-small", 0, 1, batchOfSize(1001)).ErrorCode, kerr.MessageTooLarge)
}

// TestProduceLargeRecords produces records near the limit through kgo: one
// under the default limit succeeds and reads back whole, one over gets
// MESSAGE_TOO_LARGE; a topic-level max.message.bytes lowers or raises the
// limit, and a record larger than the consumer's partition max bytes is
// still returned (KIP-74: the first batch is returned even if larger).
func TestProduceLargeRecords(t *testing.T) {
	t.Parallel()
	e := start(t)
	pcl := e.client(kgo.ProducerBatchMaxBytes(8<<20), kgo.RecordRetries(1), kgo.ProducerBatchCompression(kgo.NoCompression()))
	e.createTopic("large", 1, nil)
	e.createTopic("large-small", 1, map[string]*string{"max.message.bytes": str("10000")})
	e.createTopic("large-big", 1, map[string]*string{"max.message.bytes": str("3000000")})

	under := &kgo.Record{Topic: "large", Value: bytes.Repeat([]byte{'u'}, defaultMaxMessageBytes-200)}
	e.produce(pcl, under)
	overErr := pcl.ProduceSync(e.ctx, &kgo.Record{Topic: "large", Value: bytes.Repeat([]byte{'o'}, defaultMaxMessageBytes+100)}).FirstErr()
	if !errors.Is(overErr, kerr.MessageTooLarge) {
		t.Errorf("record over max.message.bytes: %v, want MESSAGE_TOO_LARGE", overErr)
	}
	e.produce(pcl, &kgo.Record{Topic: "large", Value: []byte("after")})
	got := e.consumeAll("large", 1, 2)
	if !bytes.Equal(got[0].Value, under.Value) || got[1].Offset != 1 || string(got[1].Value) != "after" {
		t.Errorf("read back %d-byte record at %d and %q at %d", len(got[0].Value), got[0].Offset, got[1].Value, got[1].Offset)
	}

	e.produce(pcl, &kgo.Record{Topic: "large-small", Value: make([]byte, 5000)})
	err := pcl.ProduceSync(e.ctx, &kgo.Record{Topic: "large-small", Value: make([]byte, 20000)}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("20000-byte record with max.message.bytes=10000: %v, want MESSAGE_TOO_LARGE", err)
	}

	huge := &kgo.Record{Topic: "large-big", Value: bytes.Repeat([]byte{'h'}, 2_000_000)}
	e.produce(pcl, huge)
	got = e.consumeAll("large-big", 1, 1, kgo.FetchMaxPartitionBytes(1<<20), kgo.FetchMaxBytes(1<<20))
	if !bytes.Equal(got[0].Value, huge.Value) {
		t.Errorf("2 MB record read back as %d bytes", len(got[0].Value))
	}
}

// TestProduceAcks produces with acks 0, 1 and -1; every record is stored.
// Any other acks value gets INVALID_REQUIRED_ACKS (KafkaApis
// handleProduceRequest). min.insync.replicas is capped by the replication
// factor (Partition.effectiveMinIsr, KAFKA-15583), so on a single-replica
// topic with min.insync.replicas=2 acks=-1 still succeeds; the
// NOT_ENOUGH_REPLICAS case needs more replicas than in-sync ones and is
// tested with the cluster.
func TestProduceAcks(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("acks", 3, nil)
	for i, acks := range []kgo.Acks{kgo.NoAck(), kgo.LeaderAck(), kgo.AllISRAcks()} {
		pcl := e.client(kgo.RequiredAcks(acks))
		recs := make([]*kgo.Record, 10)
		for j := range recs {
			recs[j] = &kgo.Record{Topic: "acks", Partition: int32(i), Value: fmt.Appendf(nil, "%d", j)}
		}
		e.produce(pcl, recs...)
	}
	got := byPartition(e.consumeAll("acks", 3, 30))
	for p := int32(0); p < 3; p++ {
		if len(got[p]) != 10 {
			t.Errorf("partition %d has %d records, want 10", p, len(got[p]))
			continue
		}
		for j, r := range got[p] {
			if string(r.Value) != fmt.Sprint(j) || r.Offset != int64(j) {
				t.Errorf("partition %d record %d: %q at %d", p, j, r.Value, r.Offset)
			}
		}
	}

	bad := e.produceRaw("acks", 0, 2, buildBatch(time.Now().UnixMilli(), rawRecord{value: []byte("x")}))
	wantCode(t, "acks=2", bad.ErrorCode, kerr.InvalidRequiredAcks)

	e.createTopic("acks-minisr", 1, map[string]*string{"min.insync.replicas": str("2")})
	all := e.produceRaw("acks-minisr", 0, -1, buildBatch(time.Now().UnixMilli(), rawRecord{value: []byte("x")}))
	wantCode(t, "acks=-1, RF 1, min.insync.replicas 2 (capped to 1)", all.ErrorCode, nil)
	one := e.produceRaw("acks-minisr", 0, 1, buildBatch(time.Now().UnixMilli(), rawRecord{value: []byte("x")}))
	wantCode(t, "acks=1", one.ErrorCode, nil)
	if all.BaseOffset != 0 || one.BaseOffset != 1 {
		t.Errorf("base offsets %d and %d, want 0 and 1", all.BaseOffset, one.BaseOffset)
	}
}

// TestProduceIdempotentDefault uses kgo's default idempotent producer:
// InitProducerId gives it a producer id (epoch 0), its batches carry it
// and sequence numbers, and they are stored once.
func TestProduceIdempotentDefault(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("idem", 1, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.c.Addr()), kgo.RetryTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 3 {
		r := &kgo.Record{Topic: "idem", Value: []byte("v")}
		if err := cl.ProduceSync(e.ctx, r).FirstErr(); err != nil {
			t.Fatalf("idempotent-by-default producer: %v", err)
		}
		if r.ProducerID < 0 || r.ProducerEpoch != 0 || r.Offset != int64(i) {
			t.Errorf("record %d produced with producer id %d epoch %d at offset %d, want an id, epoch 0, offset %d", i, r.ProducerID, r.ProducerEpoch, r.Offset, i)
		}
	}
	got := e.consumeAll("idem", 1, 3)
	for i, r := range got {
		if string(r.Value) != "v" || r.ProducerID < 0 || r.Offset != int64(i) {
			t.Errorf("read record %d: %q producer id %d offset %d", i, r.Value, r.ProducerID, r.Offset)
		}
	}
}

// TestProduceErrors checks per-partition errors of raw produce requests:
// unknown topic or partition, a corrupt CRC (CORRUPT_MESSAGE, from
// DefaultRecordBatch.ensureValid) and two batches in one partition
// (INVALID_RECORD: v3+ allow exactly one batch, LogValidator).
func TestProduceErrors(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("perr", 2, nil)
	b := buildBatch(time.Now().UnixMilli(), rawRecord{value: []byte("x")})
	wantCode(t, "unknown topic", e.produceRaw("no-such-topic", 0, 1, b).ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "partition 2 of 2", e.produceRaw("perr", 2, 1, b).ErrorCode, kerr.UnknownTopicOrPartition)

	corrupt := append([]byte(nil), b...)
	corrupt[len(corrupt)-2] ^= 0xff
	wantCode(t, "bad crc", e.produceRaw("perr", 0, 1, corrupt).ErrorCode, kerr.CorruptMessage)

	two := append(append([]byte(nil), b...), b...)
	wantCode(t, "two batches", e.produceRaw("perr", 0, 1, two).ErrorCode, kerr.InvalidRecord)

	okResp := e.produceRaw("perr", 0, 1, b)
	wantCode(t, "valid batch after errors", okResp.ErrorCode, nil)
	if okResp.BaseOffset != 0 {
		t.Errorf("first valid batch at offset %d, want 0 (rejected batches must not take offsets)", okResp.BaseOffset)
	}

	// Produce v13 names topics by id (KIP-516): an unknown id gets
	// UNKNOWN_TOPIC_ID, and a request naming two topics answers both,
	// in order.
	req := kmsg.NewPtrProduceRequest()
	req.Version = 13
	req.Acks, req.TimeoutMillis = 1, 5000
	ids := [][16]byte{e.topicID("perr"), {1, 2, 3}}
	for _, id := range ids {
		rt := kmsg.NewProduceRequestTopic()
		rt.TopicID = id
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = b
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	r, err := dialRaw(t, e.c.Addr()).roundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp := r.(*kmsg.ProduceResponse)
	if len(resp.Topics) != 2 || resp.Topics[0].TopicID != ids[0] || resp.Topics[1].TopicID != ids[1] {
		t.Fatalf("v13 response topics %+v", resp.Topics)
	}
	wantCode(t, "v13 known topic id", resp.Topics[0].Partitions[0].ErrorCode, nil)
	if resp.Topics[0].Partitions[0].BaseOffset != 1 {
		t.Errorf("v13 batch at offset %d, want 1", resp.Topics[0].Partitions[0].BaseOffset)
	}
	wantCode(t, "v13 unknown topic id", resp.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicID)
}

// TestProduceValidation checks record validation on a topic's configs
// (LogValidator): a null key on a compacted topic is INVALID_RECORD
// ("Compacted topic cannot accept message without key"); a timestamp
// further in the past or future than message.timestamp.before.max.ms /
// after.max.ms is INVALID_TIMESTAMP, with the offending record in
// record_errors (KIP-467); nothing is appended for a refused batch.
func TestProduceValidation(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("compacted", 1, map[string]*string{"cleanup.policy": str("compact")})
	e.createTopic("ts-window", 1, map[string]*string{
		"message.timestamp.before.max.ms": str("60000"),
		"message.timestamp.after.max.ms":  str("60000"),
	})
	now := time.Now().UnixMilli()

	r := e.produceRaw("compacted", 0, 1, buildBatch(now, rawRecord{key: []byte("k"), value: []byte("v")}, rawRecord{value: []byte("no key")}))
	wantCode(t, "null key on a compacted topic", r.ErrorCode, kerr.InvalidRecord)
	r = e.produceRaw("compacted", 0, 1, buildBatch(now, rawRecord{key: []byte("k"), value: []byte("v")}))
	wantCode(t, "keyed record on a compacted topic", r.ErrorCode, nil)
	if r.BaseOffset != 0 {
		t.Errorf("keyed record at offset %d, want 0", r.BaseOffset)
	}

	for _, tc := range []struct {
		name string
		ts   int64
	}{{"an hour old", now - 3600_000}, {"an hour ahead", now + 3600_000}} {
		r := e.produceRaw("ts-window", 0, 1, buildBatch(now, rawRecord{value: []byte("ok")}, rawRecord{value: []byte("bad"), tsDelta: tc.ts - now}))
		wantCode(t, tc.name, r.ErrorCode, kerr.InvalidTimestamp)
		if len(r.ErrorRecords) != 1 || r.ErrorRecords[0].RelativeOffset != 1 {
			t.Errorf("%s: record errors %+v, want the record at index 1", tc.name, r.ErrorRecords)
		}
	}
	r = e.produceRaw("ts-window", 0, 1, buildBatch(now, rawRecord{value: []byte("ok")}))
	wantCode(t, "timestamp now", r.ErrorCode, nil)
	if r.BaseOffset != 0 {
		t.Errorf("first accepted batch at %d, want 0", r.BaseOffset)
	}
}

// TestProduceLogAppendTime: with message.timestamp.type=LogAppendTime
// the broker stamps batches with its clock, returns that time as
// log_append_time, and consumers see it instead of the producer's
// timestamps (KIP-32; LogValidator sets the batch's max timestamp and the
// timestamp-type attribute).
func TestProduceLogAppendTime(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("lat", 1, map[string]*string{"message.timestamp.type": str("LogAppendTime")})
	e.createTopic("ct", 1, nil)
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	before := time.Now().Add(-time.Second).UnixMilli()
	r := e.produceRaw("lat", 0, 1, buildBatch(old, rawRecord{value: []byte("a")}, rawRecord{value: []byte("b"), tsDelta: 5}))
	after := time.Now().Add(time.Second).UnixMilli()
	wantCode(t, "produce", r.ErrorCode, nil)
	if r.LogAppendTime < before || r.LogAppendTime > after {
		t.Errorf("log_append_time %d, want the broker's time in [%d, %d]", r.LogAppendTime, before, after)
	}
	got := e.consumeAll("lat", 1, 2)
	for _, rec := range got {
		if rec.Timestamp.UnixMilli() != r.LogAppendTime || rec.Attrs.TimestampType() != 1 {
			t.Errorf("offset %d: timestamp %d type %d, want %d type 1 (LogAppendTime)", rec.Offset, rec.Timestamp.UnixMilli(), rec.Attrs.TimestampType(), r.LogAppendTime)
		}
	}
	c := e.produceRaw("ct", 0, 1, buildBatch(old, rawRecord{value: []byte("a")}))
	if c.ErrorCode != 0 || c.LogAppendTime != -1 {
		t.Errorf("CreateTime topic: error %v, log_append_time %d (want -1)", codeErr(c.ErrorCode), c.LogAppendTime)
	}
}
