package record

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// roundTripRecords covers null and empty keys, values and header values,
// headers, negative and large timestamp deltas, and values large enough to
// span several compression blocks.
func roundTripRecords() []Record {
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = byte(rng.IntN(16)) // compressible, but not trivially
	}
	return []Record{
		{Key: []byte("key"), Value: []byte("value")},
		{Key: nil, Value: []byte("null key")},
		{Key: []byte("null value"), Value: nil},
		{Key: nil, Value: nil},
		{Key: []byte{}, Value: []byte{}},
		{TimestampDelta: -5, Key: []byte("h"), Value: []byte("v"), Headers: []RecordHeader{
			{Key: []byte("a"), Value: []byte("1")},
			{Key: []byte("null"), Value: nil},
			{Key: []byte{}, Value: []byte{}},
			{Key: nil, Value: []byte("nil key is empty")},
		}},
		{TimestampDelta: 1 << 40, Value: big},
		{TimestampDelta: 3, Key: bytes.Repeat([]byte("k"), 300), Value: big[:70000], Headers: []RecordHeader{{Key: []byte("x"), Value: big[:200]}}},
	}
}

func TestRoundTrip(t *testing.T) {
	recs := roundTripRecords()
	base := testNow - 1000
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			opts := BuildOptions{Codec: codec, BaseTimestamp: base, ProducerID: 5, ProducerEpoch: 2, BaseSequence: 100, PartitionLeaderEpoch: NoPartitionLeaderEpoch}
			b := mustBuild(t, opts, recs)
			if err := CheckCRC(b); err != nil {
				t.Fatal(err)
			}
			h, err := ParseHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.Codec() != codec || h.RecordCount != int32(len(recs)) || h.LastOffsetDelta != int32(len(recs)-1) ||
				h.BaseTimestamp != base || h.MaxTimestamp != base+1<<40 || h.ProducerID != 5 || h.ProducerEpoch != 2 ||
				h.BaseSequence != 100 || h.PartitionLeaderEpoch != -1 || h.IsTransactional() || h.IsControl() || h.IsLogAppendTime() {
				t.Fatalf("header %+v", h)
			}
			info, err := Validate(b, ValidateOptions{Now: time.UnixMilli(testNow), TimestampAfterMaxMs: -1})
			if err != nil {
				t.Fatal(err)
			}
			if info.RecordCount != int32(len(recs)) || info.MaxTimestamp != base+1<<40 || info.MaxTimestampOffsetDelta != 6 {
				t.Fatalf("info %+v", info)
			}
			equalRecords(t, collect(t, b), recs, true)
		})
	}
}

func TestBuildOptions(t *testing.T) {
	recs := []Record{{OffsetDelta: 2, Value: []byte("a")}, {OffsetDelta: 5, Value: []byte("b")}}
	b := mustBuild(t, BuildOptions{
		BaseOffset: 1000, PartitionLeaderEpoch: 7, LogAppendTime: true, Transactional: true, Control: true,
		ProducerID: 1, ProducerEpoch: 1, BaseSequence: NoSequence, KeepOffsetDeltas: true, BaseTimestamp: 99,
	}, recs)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 1000 || h.PartitionLeaderEpoch != 7 || !h.IsLogAppendTime() || !h.IsTransactional() || !h.IsControl() ||
		h.LastOffsetDelta != 5 || h.RecordCount != 2 || h.NextOffset() != 1006 || h.MaxTimestamp != 99 {
		t.Fatalf("header %+v", h)
	}
	equalRecords(t, collect(t, b), recs, false)
	// Gaps are not a client batch.
	if _, err := Validate(b, ValidateOptions{AllowControl: true}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate: %v", err)
	}

	// AppendBatch appends after existing bytes, and two batches split back.
	dst := []byte("prefix")
	dst, err = AppendBatch(dst, noProducer(BuildOptions{}), []Record{{Value: []byte("1")}})
	if err != nil {
		t.Fatal(err)
	}
	dst, err = AppendBatch(dst, noProducer(BuildOptions{Codec: CodecZstd, BaseOffset: 1}), []Record{{Value: []byte("2")}, {Value: []byte("3")}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(dst, []byte("prefix")) {
		t.Fatal("prefix overwritten")
	}
	var values []string
	if err := Batches(dst[6:], func(h Header, batch []byte) error {
		if err := CheckCRC(batch); err != nil {
			return err
		}
		return Records(batch, func(r Record) error { values = append(values, string(r.Value)); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(values, []string{"1", "2", "3"}) {
		t.Fatalf("values %v", values)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		opts BuildOptions
		recs []Record
		want error
	}{
		{"no records", BuildOptions{}, nil, ErrInvalid},
		{"unknown codec", BuildOptions{Codec: 6}, []Record{{}}, ErrUnsupportedCompression},
		{"offset deltas not increasing", BuildOptions{KeepOffsetDeltas: true}, []Record{{OffsetDelta: 1}, {OffsetDelta: 1}}, ErrInvalid},
		{"negative offset delta", BuildOptions{KeepOffsetDeltas: true}, []Record{{OffsetDelta: -1}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := AppendBatch(dst, tt.opts, tt.recs)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if string(out) != "keep" {
				t.Fatalf("dst changed to %q", out)
			}
		})
	}
}

func TestRecordsErrors(t *testing.T) {
	b := mustBuild(t, noProducer(BuildOptions{}), valueRecords(3, 5))
	stop := errors.New("stop")
	n := 0
	if err := Records(b, func(Record) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("fn error: %v after %d records", err, n)
	}
	if err := Records(append(slices.Clone(b), 0), func(Record) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing bytes: %v", err)
	}
	if err := Records(b[:30], func(Record) error { return nil }); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
	bad := rawBatch(clientHeader(2, CodecNone), framed(simpleBody(0)))
	if err := Records(bad, func(Record) error { return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("missing record: %v", err)
	}
	bad = rawBatch(clientHeader(1, CodecNone), cat(framed(simpleBody(0)), framed(simpleBody(1))))
	if err := Records(bad, func(Record) error { return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("extra record: %v", err)
	}
	bad = rawBatch(clientHeader(1, 7), framed(simpleBody(0)))
	if err := Records(bad, func(Record) error { return nil }); !errors.Is(err, ErrUnsupportedCompression) {
		t.Fatalf("codec 7: %v", err)
	}
}

// TestRecordsAliasing checks that appending to a record's slices cannot
// clobber the rest of the batch.
func TestRecordsAliasing(t *testing.T) {
	b := mustBuild(t, noProducer(BuildOptions{}), []Record{{Key: []byte("k1"), Value: []byte("v1")}, {Key: []byte("k2"), Value: []byte("v2")}})
	orig := slices.Clone(b)
	if err := Records(b, func(r Record) error {
		_ = append(r.Key, "XXXXXXXX"...)
		_ = append(r.Value, "XXXXXXXX"...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b, orig) {
		t.Fatal("append through a record slice modified the batch")
	}
}

func TestRecordsAllocs(t *testing.T) {
	b := mustBuild(t, noProducer(BuildOptions{}), []Record{
		{Key: []byte("k"), Value: []byte("v"), Headers: []RecordHeader{{Key: []byte("h"), Value: []byte("1")}, {Key: []byte("i")}}},
		{Key: []byte("k"), Value: []byte("v"), Headers: []RecordHeader{{Key: []byte("h"), Value: []byte("1")}}},
	})
	fn := func(Record) error { return nil }
	if err := Records(b, fn); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Records(b, fn) }); n != 0 {
		t.Fatalf("Records allocates %v times per batch", n)
	}
	opts := ValidateOptions{Now: time.UnixMilli(0)}
	if n := testing.AllocsPerRun(100, func() { _, _ = Validate(b, opts) }); n != 0 {
		t.Fatalf("Validate allocates %v times per batch", n)
	}
}

func TestVarints(t *testing.T) {
	// Against encoding/binary's zigzag varints, which Kafka's match.
	vals := []int64{0, 1, -1, 63, -64, 64, -65, 1 << 20, -(1 << 20), 2147483647, -2147483648, 1 << 40, -(1 << 62), 9223372036854775807, -9223372036854775808}
	for _, v := range vals {
		enc := appendVarint(nil, v)
		if want := vi(v); !bytes.Equal(enc, want) || varintSize(v) != len(enc) {
			t.Errorf("%d: encoded %x, want %x (size %d)", v, enc, want, varintSize(v))
		}
		got, n, ok := readVarlong(enc, 0)
		if !ok || got != v || n != len(enc) {
			t.Errorf("readVarlong(%x) = %d, %d, %v", enc, got, n, ok)
		}
		if int64(int32(v)) == v {
			got, n, ok := readVarint(enc, 0)
			if !ok || int64(got) != v || n != len(enc) {
				t.Errorf("readVarint(%x) = %d, %d, %v", enc, got, n, ok)
			}
		}
	}
	// Truncated and over-long encodings.
	for _, b := range [][]byte{{}, {0x80}, {0x80, 0x80, 0x80, 0x80, 0x80, 0x01}} {
		if _, _, ok := readVarint(b, 0); ok {
			t.Errorf("readVarint(%x) succeeded", b)
		}
	}
	if _, _, ok := readVarlong(bytes.Repeat([]byte{0x80}, 10), 0); ok {
		t.Error("readVarlong of 10 continuation bytes succeeded")
	}
}
