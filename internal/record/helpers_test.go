package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// testNow is the broker time used by tests, in milliseconds.
const testNow int64 = 1_700_000_000_000

// noProducer fills the producer fields of opts with "none".
func noProducer(opts BuildOptions) BuildOptions {
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = NoProducerID, NoProducerEpoch, NoSequence
	return opts
}

func mustBuild(t testing.TB, opts BuildOptions, recs []Record) []byte {
	t.Helper()
	b, err := Build(opts, recs)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return b
}

// valueRecords returns n records with keys "k<i>" and values of size bytes,
// timestamp deltas i.
func valueRecords(n, size int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		recs[i] = Record{TimestampDelta: int64(i), Key: fmt.Appendf(nil, "k%d", i), Value: v}
	}
	return recs
}

// fixCRC recomputes b's CRC independently of ComputeCRC.
func fixCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// kmsgRecord encodes one record with franz-go's kmsg, computing Length the
// way a producer does.
func kmsgRecord(r kmsg.Record) []byte {
	r.Length = 0
	body := r.AppendTo(nil)[1:] // drop the 1-byte varint 0
	r.Length = int32(len(body))
	return r.AppendTo(nil)
}

// rawBatch wraps already encoded (and possibly compressed) record bytes in a
// batch header written by kmsg, with a correct CRC.
func rawBatch(hdr kmsg.RecordBatch, records []byte) []byte {
	hdr.Magic = 2
	hdr.Records = records
	hdr.Length = int32(49 + len(records))
	return fixCRC(hdr.AppendTo(nil))
}

// clientHeader is a header for rawBatch as a plain producer sends it.
func clientHeader(n int, codec Codec) kmsg.RecordBatch {
	return kmsg.RecordBatch{
		Attributes:      int16(codec),
		LastOffsetDelta: int32(n - 1),
		FirstTimestamp:  testNow,
		MaxTimestamp:    testNow,
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      int32(n),
	}
}

// collect returns deep copies of the records of batch.
func collect(t testing.TB, batch []byte) []Record {
	t.Helper()
	var out []Record
	err := Records(batch, func(r Record) error {
		c := Record{OffsetDelta: r.OffsetDelta, TimestampDelta: r.TimestampDelta, Key: clone(r.Key), Value: clone(r.Value)}
		for _, h := range r.Headers {
			c.Headers = append(c.Headers, RecordHeader{Key: clone(h.Key), Value: clone(h.Value)})
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	return out
}

// clone copies b, keeping nil and empty apart.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// equalRecords compares records, nil and empty apart, ignoring OffsetDelta
// of want if renumber (Build assigns them).
func equalRecords(t testing.TB, got, want []Record, renumber bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		wantDelta := w.OffsetDelta
		if renumber {
			wantDelta = int32(i)
		}
		if g.OffsetDelta != wantDelta || g.TimestampDelta != w.TimestampDelta ||
			!sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) || len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d: got %+v, want %+v (offset delta %d)", i, g, w, wantDelta)
		}
		for j := range w.Headers {
			wk := w.Headers[j].Key
			if wk == nil {
				wk = []byte{}
			}
			if !sameBytes(g.Headers[j].Key, wk) || !sameBytes(g.Headers[j].Value, w.Headers[j].Value) {
				t.Fatalf("record %d header %d: got %+v, want %+v", i, j, g.Headers[j], w.Headers[j])
			}
		}
	}
}

// sameBytes is bytes.Equal that tells nil from empty.
func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}
