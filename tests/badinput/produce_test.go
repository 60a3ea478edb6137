package badinput

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Bad record batches and bad Produce requests. Kafka answers each with an
// error code in the partition's response and keeps the connection open;
// nothing is appended. The expected codes are Kafka 4's:
//
//   - ProduceRequest.validateRecords (KafkaApis, before the append): no
//     complete batch in the partition's records, or a first batch with magic
//     0 or 1, or more than one batch: INVALID_RECORD. The batch iterator's
//     own checks (a size below 14 bytes, a magic above 2) throw
//     CorruptRecordException: CORRUPT_MESSAGE.
//   - UnifiedLog.analyzeAndValidateRecords: a batch above max.message.bytes:
//     MESSAGE_TOO_LARGE; a CRC mismatch: CORRUPT_MESSAGE.
//   - LogValidator.validateBatch: a record count that disagrees with the
//     offset range, or records that do not fill the batch: INVALID_RECORD.
//   - ReplicaManager.appendRecords: acks not in {-1, 0, 1}:
//     INVALID_REQUIRED_ACKS.
//   - KafkaApis: a topic or partition the metadata does not have:
//     UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID for a v13 topic id).

// produceCase is one bad Produce request and the codes Kafka may answer.
type produceCase struct {
	name    string
	version int16
	topic   string
	part    int32
	acks    int16
	batch   []byte
	useID   [16]byte // zero: the topic's own id
	want    []int16
	// skip, if set, says why the case is skipped (a known broker bug).
	skip string
	// acks0Base: the known bug of TestInvalidRequiredAcksResponse, whose
	// base offset is not checked here.
	acks0Base bool
}

func records(n, valueSize int) []record {
	out := make([]record, n)
	for i := range out {
		out[i] = record{
			key:     []byte(fmt.Sprintf("key-%d", i)),
			value:   bytes.Repeat([]byte{byte('a' + i%26)}, valueSize),
			headers: []kmsg.Header{{Key: "h", Value: []byte{byte(i)}}},
		}
	}
	return out
}

// flip returns b with the byte at i inverted.
func flip(b []byte, i int) []byte {
	b = slices.Clone(b)
	b[i] ^= 0xff
	return b
}

func TestBadProduce(t *testing.T) {
	e := newEnv(t)
	badID := e.createTopic("bad", 2, nil)
	smallID := e.createTopic("small", 1, map[string]*string{"max.message.bytes": kmsgString("1024")})

	good := batchBytes(records(3, 10), nil)
	withCount := func(delta int32) []byte {
		return batchBytes(records(3, 10), func(b *kmsg.RecordBatch) { b.NumRecords += delta })
	}
	withLength := func(delta int32) []byte {
		b := slices.Clone(good)
		binary.BigEndian.PutUint32(b[batchLengthAt:], uint32(int32(len(good)-12)+delta))
		return b
	}
	withMagic := func(m int8) []byte {
		return batchBytes(records(3, 10), func(b *kmsg.RecordBatch) { b.Magic = m })
	}
	codes := func(errs ...*kerr.Error) []int16 {
		var out []int16
		for _, e := range errs {
			out = append(out, e.Code)
		}
		return out
	}
	corrupt := codes(kerr.CorruptMessage)
	invalid := codes(kerr.InvalidRecord)

	cases := []produceCase{
		{name: "crc field wrong", batch: flip(good, batchCRCAt+2), want: corrupt},
		{name: "record value changed under the crc", batch: flip(good, len(good)-5), want: corrupt},
		{name: "attributes changed under the crc", batch: flip(good, batchAttributesAt+1), want: corrupt},
		{name: "record count one too many", batch: withCount(+1), want: invalid},
		{name: "record count one too few", batch: withCount(-1), want: invalid},
		{name: "record count zero", batch: withCount(-3), want: invalid},
		{name: "record count negative", batch: withCount(-4), want: invalid},
		{name: "last offset delta disagrees with the records", batch: batchBytes(records(3, 10), func(b *kmsg.RecordBatch) { b.LastOffsetDelta = 5 }), want: invalid},
		{name: "records do not fill the batch", batch: batchBytes(records(3, 10), func(b *kmsg.RecordBatch) {
			b.Records = append(b.Records, 0, 0, 0)
			b.Length += 3
		}), want: invalid},
		{
			// Kafka's CompressionType.forId throws IllegalArgumentException,
			// which ReplicaManager answers as UNKNOWN_SERVER_ERROR; the
			// dedicated UNSUPPORTED_COMPRESSION_TYPE is as good a refusal.
			name:  "compression codec 7",
			batch: batchBytes(records(3, 10), func(b *kmsg.RecordBatch) { b.Attributes |= 7 }),
			want:  codes(kerr.UnknownServerError, kerr.UnsupportedCompressionType),
		},
		{name: "compression codec 5", batch: batchBytes(records(3, 10), func(b *kmsg.RecordBatch) { b.Attributes |= 5 }),
			want: codes(kerr.UnknownServerError, kerr.UnsupportedCompressionType)},
		{name: "gzip codec over records that are not gzip", batch: batchBytes(records(3, 10), func(b *kmsg.RecordBatch) { b.Attributes |= 1 }),
			want: codes(kerr.CorruptMessage, kerr.InvalidRecord, kerr.UnknownServerError)},
		{name: "magic 3", batch: withMagic(3), want: corrupt},
		{name: "magic 1", batch: withMagic(1), want: invalid},
		{name: "batch length below the smallest record", batch: withLength(-(int32(len(good)) - 12 - 13)), want: corrupt},
		{name: "batch length past the end", batch: withLength(+100), want: invalid},
		{name: "no batch at all", batch: []byte{}, want: invalid},
		{name: "fewer bytes than a batch header", batch: good[:10], want: invalid},
		{name: "two batches", batch: append(slices.Clone(good), good...), want: invalid},
		{name: "batch above max.message.bytes", topic: "small", batch: batchBytes(records(2, 1000), nil), want: codes(kerr.MessageTooLarge)},
		{name: "unknown topic", topic: "no-such-topic", batch: good, want: codes(kerr.UnknownTopicOrPartition)},
		{name: "unknown topic id", version: 13, useID: [16]byte{1, 2, 3}, batch: good, want: codes(kerr.UnknownTopicID)},
		{name: "unknown partition", part: 7, batch: good, want: codes(kerr.UnknownTopicOrPartition)},
		{name: "negative partition", part: -1, batch: good, want: codes(kerr.UnknownTopicOrPartition)},
		{name: "acks=2", acks: 2, batch: good, want: codes(kerr.InvalidRequiredAcks), acks0Base: true},
		{name: "acks=-2", acks: -2, batch: good, want: codes(kerr.InvalidRequiredAcks), acks0Base: true},
	}
	for _, tc := range cases {
		for _, version := range []int16{3, 9, 13} {
			if tc.version != 0 && version != tc.version {
				continue
			}
			t.Run(fmt.Sprintf("%s/v%d", tc.name, version), func(t *testing.T) {
				e := e.sub(t)
				if tc.skip != "" {
					skipKnownBug(t, tc.skip)
				}
				topic, id := "bad", badID
				if tc.topic == "small" {
					topic, id = "small", smallID
				} else if tc.topic != "" {
					topic, id = tc.topic, [16]byte{9, 9, 9}
				}
				if tc.useID != [16]byte{} {
					id = tc.useID
				}
				if version >= 13 && tc.topic != "" && tc.topic != "small" {
					// v13 names topics by id: an unknown name has no id.
					t.Skip("topic names are not sent from v13")
				}
				acks := tc.acks
				if acks == 0 {
					acks = -1
				}
				req := produceRequest(version, topic, id, tc.part, acks, tc.batch)
				e.withWitness(func(c *conn) {
					c.label = tc.name
					resp := c.roundTrip(req).(*kmsg.ProduceResponse)
					code, msg, base := partitionCode(t, resp, tc.part)
					if !slices.Contains(tc.want, code) {
						t.Fatalf("%s: error %d (%v, %q), want one of %v", tc.name, code, kerr.ErrorForCode(code), msg, tc.want)
					}
					t.Logf("%s: error %v %q", tc.name, kerr.ErrorForCode(code), msg)
					if base != -1 && !tc.acks0Base {
						t.Fatalf("%s: error with base offset %d, want -1", tc.name, base)
					}
					// Kafka keeps the connection after a partition error.
					checkServing(t, c)
				})
				e.expectEmpty("bad")
				e.expectEmpty("small")
			})
		}
	}

	// The same connection machinery does append a good batch, at offset
	// 0: the checks above could have seen a write.
	for _, version := range []int16{3, 9, 13} {
		c := dial(t, e.c.Addr(), "good")
		part := int32(version % 2)
		before := e.endOffsets("bad")[part]
		resp := c.roundTrip(produceRequest(version, "bad", badID, part, -1, good)).(*kmsg.ProduceResponse)
		code, msg, _ := partitionCode(t, resp, part)
		if code != 0 {
			t.Fatalf("good batch v%d: error %v %q", version, kerr.ErrorForCode(code), msg)
		}
		if got := resp.Topics[0].Partitions[0].BaseOffset; got != before {
			t.Fatalf("good batch v%d: base offset %d, want %d", version, got, before)
		}
		if after := e.endOffsets("bad")[part]; after != before+3 {
			t.Fatalf("good batch v%d: end offset %d, want %d", version, after, before+3)
		}
		c.Close()
	}
}

func kmsgString(s string) *string { return &s }

// partitionCode returns the error code, message and base offset of the one
// partition in a produce response.
func partitionCode(t *testing.T, resp *kmsg.ProduceResponse, part int32) (code int16, msg string, baseOffset int64) {
	t.Helper()
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response: want one topic with one partition, got %+v", resp.Topics)
	}
	p := resp.Topics[0].Partitions[0]
	if p.Partition != part {
		t.Fatalf("produce response for partition %d, want %d", p.Partition, part)
	}
	if p.ErrorMessage != nil {
		msg = *p.ErrorMessage
	}
	return p.ErrorCode, msg, p.BaseOffset
}

// skipKnownBug skips a test of a known broker bug, unless
// BADINPUT_RUN_SKIPPED is set (to check a fix).
func skipKnownBug(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("BADINPUT_RUN_SKIPPED") == "" {
		t.Skip(why)
	}
}

// TestInvalidRequiredAcksResponse: Kafka's ReplicaManager answers acks
// outside {-1, 0, 1} with INVALID_REQUIRED_ACKS and
// LogAppendInfo.UNKNOWN_LOG_APPEND_INFO: base offset -1, log append time
// -1, log start offset -1, as for every failed partition.
func TestInvalidRequiredAcksResponse(t *testing.T) {
	e := newEnv(t)
	id := e.createTopic("t", 1, nil)
	c := dial(t, e.c.Addr(), "acks")
	resp := c.roundTrip(produceRequest(11, "t", id, 0, 2, batchBytes(records(1, 1), nil))).(*kmsg.ProduceResponse)
	code, _, _ := partitionCode(t, resp, 0)
	if code != kerr.InvalidRequiredAcks.Code {
		t.Fatalf("error %d, want INVALID_REQUIRED_ACKS", code)
	}
	p := resp.Topics[0].Partitions[0]
	if p.BaseOffset != -1 || p.LogAppendTime != -1 || p.LogStartOffset != -1 {
		t.Fatalf("base offset %d, log append time %d, log start offset %d; want -1 for each", p.BaseOffset, p.LogAppendTime, p.LogStartOffset)
	}
}

// TestAcksZeroBadBatch: acks=0 gets no response, so Kafka reports a
// failed append by closing the connection (KafkaApis: "if there is any
// error in handling the request, since no response is expected by the
// producer, the server will close socket server so that the producer client
// will know that some error has happened"). A good acks=0 produce leaves
// the connection open.
func TestAcksZeroBadBatch(t *testing.T) {
	e := newEnv(t)
	id := e.createTopic("t", 1, nil)
	good := batchBytes(records(2, 5), nil)
	e.withWitness(func(c *conn) {
		if err := c.write(frame(produceRequest(9, "t", id, 0, 0, good), 1)); err != nil {
			t.Fatal(err)
		}
		c.corr = 1
		checkServing(t, c) // no response to the produce, then these
	})
	if got := e.endOffsets("t")[0]; got != 2 {
		t.Fatalf("acks=0 good batch: end offset %d, want 2", got)
	}
	e.withWitness(func(c *conn) {
		if err := c.write(frame(produceRequest(9, "t", id, 0, 0, flip(good, batchCRCAt)), 1)); err != nil {
			t.Fatal(err)
		}
		// A request behind the bad produce is never answered.
		if err := c.write(frame(newApiVersions(), 2)); err != nil && !isClosed(err) {
			t.Fatal(err)
		}
		_, err := c.readFrame()
		if err == nil {
			t.Fatal("the request behind an acks=0 produce that failed was answered; want the connection closed")
		}
		if !isClosed(err) {
			t.Fatalf("want the connection closed, got %v", err)
		}
	})
	if got := e.endOffsets("t")[0]; got != 2 {
		t.Fatalf("acks=0 bad batch: end offset %d, want 2", got)
	}
}
