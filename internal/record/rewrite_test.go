package record

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// filterRecords are the records FilterBatch tests start from: keys k0..,
// every third a tombstone, timestamp deltas spread around the base.
func filterRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{
			TimestampDelta: int64(i*7 - 20),
			Key:            fmt.Appendf(nil, "k%d", i),
			Value:          fmt.Appendf(nil, "value-%d", i),
			Headers:        []RecordHeader{{Key: []byte("h"), Value: []byte{byte(i)}}},
		}
		if i%3 == 1 {
			recs[i].Value = nil
		}
	}
	return recs
}

func keepSet(set map[int64]bool) func(int64, *Record) bool {
	return func(off int64, _ *Record) bool { return set[off] }
}

// TestFilterBatch checks Kafka's filterTo rules for every codec: kept
// records keep their offsets, timestamps, keys, values and headers; the
// header keeps what identifies the batch; the CRC is valid; a delete
// horizon is set only for kept tombstones and then becomes the base
// timestamp.
func TestFilterBatch(t *testing.T) {
	const base, horizon = 1000, testNow + 86_400_000
	recs := filterRecords(12)
	for _, codec := range allCodecs {
		for _, lat := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/logAppendTime=%v", codec, lat), func(t *testing.T) {
				opts := BuildOptions{BaseOffset: base, PartitionLeaderEpoch: 7, Codec: codec, BaseTimestamp: testNow,
					LogAppendTime: lat, ProducerID: 42, ProducerEpoch: 3, BaseSequence: 100}
				in := mustBuild(t, opts, recs)
				if lat {
					SetLogAppendTime(in, testNow+5000)
				}
				inHdr, _ := ParseHeader(in)
				keep := map[int64]bool{base: true, base + 1: true, base + 5: true, base + 6: true} // base+1 is a tombstone
				out, res, err := FilterBatch([]byte("prefix"), in, FilterOptions{DeleteHorizonMs: horizon}, keepSet(keep))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(out, []byte("prefix")) {
					t.Fatal("dst prefix lost")
				}
				b := out[len("prefix"):]
				if err := CheckCRC(b); err != nil {
					t.Fatal(err)
				}
				h, _ := ParseHeader(b)
				if res.RecordsRead != 12 || res.RecordsRetained != 4 || res.Unchanged || res.Empty || res.Discarded || res.Header != h {
					t.Fatalf("result %+v", res)
				}
				if h.BaseOffset != base || h.LastOffsetDelta != 11 || h.PartitionLeaderEpoch != 7 || h.Codec() != codec ||
					h.ProducerID != 42 || h.ProducerEpoch != 3 || h.BaseSequence != 100 || h.RecordCount != 4 || h.IsLogAppendTime() != lat {
					t.Fatalf("header %+v", h)
				}
				if got, ok := h.DeleteHorizon(); !ok || got != horizon {
					t.Fatalf("delete horizon %d %v, want %d", got, ok, horizon)
				}
				got := collect(t, b)
				var want []Record
				for i, r := range recs {
					if keep[base+int64(i)] {
						r.OffsetDelta = int32(i)
						r.TimestampDelta = testNow + r.TimestampDelta - horizon
						want = append(want, r)
					}
				}
				equalRecords(t, got, want, false)
				wantMax := testNow + recs[6].TimestampDelta
				if lat {
					wantMax = inHdr.MaxTimestamp
				}
				if h.MaxTimestamp != wantMax {
					t.Fatalf("max timestamp %d, want %d", h.MaxTimestamp, wantMax)
				}
			})
		}
	}
}

// TestFilterBatchHorizonRules: no tombstone kept, no horizon; a batch that
// has a horizon keeps it (and its timestamps); a negative DeleteHorizonMs
// sets none.
func TestFilterBatchHorizonRules(t *testing.T) {
	recs := filterRecords(6)
	in := mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow}), recs)
	out, _, err := FilterBatch(nil, in, FilterOptions{DeleteHorizonMs: 5}, keepSet(map[int64]bool{0: true, 2: true}))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := ParseHeader(out); h.Attributes&AttrDeleteHorizonFlag != 0 || h.BaseTimestamp != testNow {
		t.Fatalf("horizon set without a tombstone: %+v", h)
	}
	out, _, _ = FilterBatch(nil, in, FilterOptions{DeleteHorizonMs: -1}, keepSet(map[int64]bool{1: true}))
	if h, _ := ParseHeader(out); h.Attributes&AttrDeleteHorizonFlag != 0 {
		t.Fatalf("horizon set with DeleteHorizonMs -1: %+v", h)
	}

	first, _, _ := FilterBatch(nil, in, FilterOptions{DeleteHorizonMs: testNow + 99}, keepSet(map[int64]bool{1: true, 3: true, 4: true}))
	second, res, err := FilterBatch(nil, first, FilterOptions{DeleteHorizonMs: testNow + 5000}, keepSet(map[int64]bool{1: true, 4: true}))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ParseHeader(second)
	if hz, ok := h.DeleteHorizon(); !ok || hz != testNow+99 || res.Unchanged {
		t.Fatalf("horizon %d %v, want the first one kept", hz, ok)
	}
	want := []Record{recs[1], recs[4]}
	want[0].OffsetDelta, want[1].OffsetDelta = 1, 4
	for i := range want {
		want[i].TimestampDelta -= 99
	}
	equalRecords(t, collect(t, second), want, false)

	// All kept and nothing to set: the bytes are copied.
	same, res, _ := FilterBatch(nil, second, FilterOptions{DeleteHorizonMs: testNow}, func(int64, *Record) bool { return true })
	if !res.Unchanged || !bytes.Equal(same, second) {
		t.Fatalf("unchanged batch rewritten: %+v", res)
	}
}

// TestFilterBatchEmpty: nothing kept is nothing written, or with
// RetainEmpty a header-only batch that keeps the offsets, the producer's
// sequence range and the control/transactional bits (Kafka's
// writeEmptyHeader).
func TestFilterBatchEmpty(t *testing.T) {
	in := mustBuild(t, BuildOptions{BaseOffset: 50, PartitionLeaderEpoch: 2, Codec: CodecZstd, BaseTimestamp: testNow,
		Transactional: true, ProducerID: 9, ProducerEpoch: 1, BaseSequence: 10}, filterRecords(5))
	inHdr, _ := ParseHeader(in)
	none := func(int64, *Record) bool { return false }
	out, res, err := FilterBatch([]byte{1}, in, FilterOptions{}, none)
	if err != nil || !res.Discarded || len(out) != 1 {
		t.Fatalf("discard: %v %+v %d bytes", err, res, len(out))
	}
	out, res, err = FilterBatch(nil, in, FilterOptions{RetainEmpty: true, DeleteHorizonMs: 1}, none)
	if err != nil || !res.Empty {
		t.Fatalf("retain empty: %v %+v", err, res)
	}
	if err := CheckCRC(out); err != nil {
		t.Fatal(err)
	}
	h, _ := ParseHeader(out)
	if len(out) != HeaderSize || h.BaseOffset != 50 || h.LastOffset() != 54 || h.RecordCount != 0 || h.Codec() != CodecNone ||
		!h.IsTransactional() || h.ProducerID != 9 || h.ProducerEpoch != 1 || h.BaseSequence != 10 || h.LastSequence() != 14 ||
		h.PartitionLeaderEpoch != 2 || h.MaxTimestamp != inHdr.MaxTimestamp || h.BaseTimestamp != inHdr.MaxTimestamp ||
		h.Attributes&AttrDeleteHorizonFlag != 0 {
		t.Fatalf("empty batch header %+v", h)
	}
	if n := len(collect(t, out)); n != 0 {
		t.Fatalf("%d records in an empty batch", n)
	}
	// franz-go reads it as a batch without records.
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(out); err != nil || kb.NumRecords != 0 || kb.LastOffsetDelta != 4 {
		t.Fatalf("kmsg: %v %+v", err, kb)
	}
}

// TestFilterBatchReadByFranzGo decodes randomly filtered batches with kmsg
// and kgo's decompressor, as consumers do.
func TestFilterBatchReadByFranzGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dec := kgo.DefaultDecompressor()
	for _, codec := range allCodecs {
		for trial := 0; trial < 20; trial++ {
			recs := filterRecords(1 + rng.IntN(40))
			in := mustBuild(t, noProducer(BuildOptions{BaseOffset: 7, Codec: codec, BaseTimestamp: testNow}), recs)
			keep := map[int64]bool{}
			for i := range recs {
				if rng.IntN(2) == 0 {
					keep[7+int64(i)] = true
				}
			}
			out, res, err := FilterBatch(nil, in, FilterOptions{DeleteHorizonMs: testNow + int64(rng.IntN(1000))}, keepSet(keep))
			if err != nil {
				t.Fatal(err)
			}
			if res.Discarded {
				if len(keep) != 0 {
					t.Fatal("discarded a batch with kept records")
				}
				continue
			}
			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(out); err != nil {
				t.Fatal(err)
			}
			if uint32(kb.CRC) != ComputeCRC(out) || int(kb.NumRecords) != len(keep) {
				t.Fatalf("kmsg header %+v", kb)
			}
			raw, err := dec.Decompress(kb.Records, kgo.CompressionCodecType(codec))
			if err != nil {
				t.Fatal(err)
			}
			for n := 0; len(raw) > 0; n++ {
				var kr kmsg.Record
				if err := kr.ReadFrom(raw); err != nil {
					t.Fatal(err)
				}
				off := kb.FirstOffset + int64(kr.OffsetDelta)
				orig := recs[off-7]
				if !keep[off] || !sameBytes(kr.Key, orig.Key) || !sameBytes(kr.Value, orig.Value) ||
					kb.FirstTimestamp+kr.TimestampDelta64 != testNow+orig.TimestampDelta {
					t.Fatalf("record %d at offset %d: %+v, want %+v", n, off, kr, orig)
				}
				l, m := varintLen(raw)
				raw = raw[m+l:]
			}
		}
	}
}

// varintLen decodes the zigzag varint length prefix of a record.
func varintLen(b []byte) (n, size int) {
	var ux uint64
	var s uint
	for i, c := range b {
		ux |= uint64(c&0x7f) << s
		if c < 0x80 {
			return int(int64(ux>>1) ^ -int64(ux&1)), i + 1
		}
		s += 7
	}
	return 0, len(b)
}

// TestValidateNoKeyMessage: a keyless record in a compacted topic gets
// Kafka's message naming the partition (LogValidator.validateKey).
func TestValidateNoKeyMessage(t *testing.T) {
	b := mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow}), []Record{{Key: []byte("k")}, {Value: []byte("v")}})
	_, err := Validate(b, ValidateOptions{Now: time.UnixMilli(testNow), Compacted: true, Topic: "orders", Partition: 3})
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v, want a ValidationError wrapping ErrInvalid", err)
	}
	const want = "Compacted topic cannot accept message without key in topic partition orders-3."
	if len(ve.RecordErrors) != 1 || ve.RecordErrors[0].BatchIndex != 1 || ve.RecordErrors[0].Message != want {
		t.Fatalf("record errors %+v", ve.RecordErrors)
	}
	if !strings.Contains(ve.Message, "message='"+want+"'") {
		t.Fatalf("message %q", ve.Message)
	}
}

// FuzzFilterBatch feeds FilterBatch arbitrary bytes and keep patterns.
// Invariants: it never panics; on success it wrote nothing (discarded) or
// exactly one batch with a valid CRC that Records decodes, with the input's
// base and last offsets, holding exactly the kept records with their
// offsets, timestamps, keys and values; on error dst is unchanged.
func FuzzFilterBatch(f *testing.F) {
	for _, codec := range allCodecs {
		f.Add(mustBuild(f, noProducer(BuildOptions{Codec: codec, BaseOffset: 40, BaseTimestamp: testNow}), filterRecords(7)), uint64(0b1010110), int64(testNow+5), false)
	}
	f.Add([]byte("not a batch"), uint64(1), int64(0), true)
	f.Fuzz(func(t *testing.T, batch []byte, pattern uint64, horizon int64, retainEmpty bool) {
		type rec struct {
			off, ts    int64
			key, value []byte
		}
		var in []rec
		h, herr := ParseHeader(batch)
		i := 0
		keep := func(off int64, r *Record) bool {
			k := pattern>>(i%64)&1 == 1
			i++
			if k {
				in = append(in, rec{off, h.BaseTimestamp + r.TimestampDelta, clone(r.Key), clone(r.Value)})
			}
			return k
		}
		out, res, err := FilterBatch([]byte("dst"), batch, FilterOptions{DeleteHorizonMs: horizon, RetainEmpty: retainEmpty}, keep)
		if err != nil {
			if string(out) != "dst" {
				t.Fatalf("dst changed on error %v", err)
			}
			return
		}
		if herr != nil {
			t.Fatalf("filtered a batch whose header does not parse: %v", herr)
		}
		b := out[3:]
		if res.Discarded {
			if len(b) != 0 || len(in) != 0 {
				t.Fatalf("discarded with %d bytes written, %d records kept", len(b), len(in))
			}
			return
		}
		if err := CheckCRC(b); err != nil {
			t.Fatal(err)
		}
		oh, _ := ParseHeader(b)
		if oh.BaseOffset != h.BaseOffset || oh.LastOffset() != h.LastOffset() || int(oh.RecordCount) != len(in) {
			t.Fatalf("header %+v from %+v with %d records kept", oh, h, len(in))
		}
		var got []rec
		if err := Records(b, func(r Record) error {
			ts := oh.BaseTimestamp + r.TimestampDelta
			got = append(got, rec{oh.BaseOffset + int64(r.OffsetDelta), ts, clone(r.Key), clone(r.Value)})
			return nil
		}); err != nil {
			t.Fatalf("filtered batch does not decode: %v", err)
		}
		for j := range in {
			g, w := got[j], in[j]
			if g.off != w.off || (!h.IsLogAppendTime() && g.ts != w.ts) || !sameBytes(g.key, w.key) || !sameBytes(g.value, w.value) {
				t.Fatalf("record %d: %+v, want %+v", j, g, w)
			}
		}
	})
}
