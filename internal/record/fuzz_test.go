package record

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"
)

// fuzzSeeds are valid batches of every codec and shape, plus some of the
// malformed ones from the validation table.
func fuzzSeeds(f *testing.F) [][]byte {
	recs := []Record{
		{Key: []byte("k"), Value: []byte("v"), Headers: []RecordHeader{{Key: []byte("h"), Value: nil}, {Key: []byte("i"), Value: []byte("x")}}},
		{Key: nil, Value: []byte("value"), TimestampDelta: 3},
		{Key: []byte{}, Value: nil, TimestampDelta: -1},
	}
	var seeds [][]byte
	for _, c := range allCodecs {
		seeds = append(seeds,
			mustBuild(f, noProducer(BuildOptions{Codec: c, BaseTimestamp: testNow}), recs),
			mustBuild(f, BuildOptions{Codec: c, BaseTimestamp: testNow, ProducerID: 1, BaseSequence: 5, Transactional: true}, valueRecords(4, 30)),
		)
	}
	seeds = append(seeds,
		rawBatch(clientHeader(len(recs), CodecSnappy), xerialFrame(seeds[0][HeaderSize:], 16)),
		rawBatch(clientHeader(3, CodecNone), cat(framed(simpleBody(0)), framed(simpleBody(2)), framed(simpleBody(1)))),
		rawBatch(clientHeader(1, CodecNone), framed(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(1), vi(-1), vi(-1)))),
		mustBuild(f, BuildOptions{Control: true, Transactional: true, ProducerID: 2, BaseSequence: NoSequence, KeepOffsetDeltas: true},
			[]Record{{OffsetDelta: 1, Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}}),
		nil,
	)
	return seeds
}

// oneSentinel reports whether err wraps exactly one of the errors a handler
// maps to a Kafka code.
func oneSentinel(err error) bool {
	n := 0
	for _, s := range mappedSentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	return n == 1
}

// FuzzValidate: Validate never panics and never modifies its input; every
// error maps to exactly one Kafka code; if Validate accepts a batch, Records
// reads it and yields RecordCount records with offset deltas 0, 1, 2, ....
// With fix set, the CRC is recomputed first so that mutations reach the
// record checks.
func FuzzValidate(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, false, false)
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, fix, compacted bool) {
		if fix && len(data) >= HeaderSize {
			data = fixCRC(slices.Clone(data))
		}
		orig := slices.Clone(data)
		info, err := Validate(data, ValidateOptions{
			Now:                 time.UnixMilli(testNow),
			Compacted:           compacted,
			TimestampAfterMaxMs: -1,
			MaxDecompressedSize: 1 << 20,
		})
		if !bytes.Equal(orig, data) {
			t.Fatal("Validate modified its input")
		}
		if err != nil {
			if !oneSentinel(err) {
				t.Fatalf("error %v does not map to exactly one code", err)
			}
			return
		}
		n := int32(0)
		if err := Records(data, func(r Record) error {
			if r.OffsetDelta != n {
				t.Fatalf("record %d has offset delta %d", n, r.OffsetDelta)
			}
			if compacted && r.Key == nil {
				t.Fatalf("record %d has a null key in a compacted topic", n)
			}
			n++
			return nil
		}); err != nil {
			t.Fatalf("Validate accepted, Records failed: %v", err)
		}
		if n != info.RecordCount {
			t.Fatalf("Records yielded %d records, Validate counted %d", n, info.RecordCount)
		}
	})
}

// FuzzRecords: Records never panics; its errors map to exactly one Kafka
// code; what it yields survives Build and Records again unchanged.
func FuzzRecords(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []Record
		err := Records(data, func(r Record) error {
			c := Record{OffsetDelta: r.OffsetDelta, TimestampDelta: r.TimestampDelta, Key: clone(r.Key), Value: clone(r.Value)}
			for _, h := range r.Headers {
				c.Headers = append(c.Headers, RecordHeader{Key: clone(h.Key), Value: clone(h.Value)})
			}
			recs = append(recs, c)
			return nil
		})
		if err != nil {
			if !oneSentinel(err) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("error %v does not map to exactly one code", err)
			}
			return
		}
		h, _ := ParseHeader(data)
		if int32(len(recs)) != h.RecordCount {
			t.Fatalf("yielded %d records, header says %d", len(recs), h.RecordCount)
		}
		if len(recs) == 0 {
			return
		}
		rebuilt := mustBuild(t, BuildOptions{Codec: CodecLZ4}, recs)
		got := collect(t, rebuilt)
		for i := range recs {
			recs[i].OffsetDelta = int32(i)
		}
		equalRecords(t, got, recs, false)
	})
}

// FuzzDecompress: no codec panics or exceeds the limit on any input, and
// whatever decompresses survives a round trip.
func FuzzDecompress(f *testing.F) {
	src := bytes.Repeat([]byte("fuzz me "), 100)
	for _, c := range allCodecs {
		comp, _ := Compress(c, nil, src)
		f.Add(byte(c), comp)
	}
	f.Add(byte(CodecSnappy), xerialFrame(src, 64))
	f.Fuzz(func(t *testing.T, codec byte, data []byte) {
		c := Codec(codec % 8)
		const limit = 1 << 20
		out, err := DecompressAppend(c, nil, data, limit)
		if err != nil {
			if !oneSentinel(err) {
				t.Fatalf("error %v does not map to exactly one code", err)
			}
			return
		}
		if len(out) > limit {
			t.Fatalf("%d bytes over the limit", len(out))
		}
		comp, err := Compress(c, nil, out)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decompress(c, comp)
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
