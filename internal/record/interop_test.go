package record

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kgoCodec maps a codec to franz-go's, whose default compressor is what
// kgo producers use.
func kgoCodec(c Codec) kgo.CompressionCodec {
	switch c {
	case CodecGzip:
		return kgo.GzipCompression()
	case CodecSnappy:
		return kgo.SnappyCompression()
	case CodecLZ4:
		return kgo.Lz4Compression()
	case CodecZstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// kgoBatch builds a batch the way a franz-go producer lays it out: records
// encoded by kmsg, compressed by kgo's default compressor, header by kmsg.
func kgoBatch(t *testing.T, codec Codec, recs []Record) []byte {
	t.Helper()
	var raw []byte
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: r.TimestampDelta, OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: string(h.Key), Value: h.Value})
		}
		raw = append(raw, kmsgRecord(kr)...)
	}
	if codec != CodecNone {
		c, err := kgo.DefaultCompressor(kgoCodec(codec))
		if err != nil {
			t.Fatal(err)
		}
		out, used := c.Compress(new(bytes.Buffer), raw)
		if int8(used) != int8(codec) {
			t.Fatalf("kgo compressed with %v, want %v", used, codec)
		}
		raw = bytes.Clone(out)
	}
	hdr := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Attributes:           int16(codec),
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       testNow,
		MaxTimestamp:         testNow + 10,
		ProducerID:           3,
		ProducerEpoch:        0,
		FirstSequence:        0,
		NumRecords:           int32(len(recs)),
	}
	return rawBatch(hdr, raw)
}

func TestInteropFromFranzGo(t *testing.T) {
	recs := roundTripRecords()
	for i := range recs {
		recs[i].TimestampDelta = int64(i) // within the default future limit
		for j := range recs[i].Headers {
			if recs[i].Headers[j].Key == nil {
				recs[i].Headers[j].Key = []byte{}
			}
		}
	}
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			b := kgoBatch(t, codec, recs)
			info, err := Validate(b, ValidateOptions{Now: time.UnixMilli(testNow)})
			if err != nil {
				t.Fatal(err)
			}
			if info.Codec != codec || info.RecordCount != int32(len(recs)) || info.MaxTimestamp != testNow+int64(len(recs)-1) || !info.Idempotent {
				t.Fatalf("info %+v", info)
			}
			equalRecords(t, collect(t, b), recs, true)
		})
	}
}

// xerialFrame frames raw record bytes as the Java client's snappy-java
// SnappyOutputStream does: magic, version 1, compatible version 1, then
// chunks of at most chunk bytes, each a big endian length and a raw snappy
// block.
func xerialFrame(src []byte, chunk int) []byte {
	out := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}
	for len(src) > 0 {
		n := min(chunk, len(src))
		block := s2.EncodeSnappy(nil, src[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		src = src[n:]
	}
	return out
}

func TestInteropXerialSnappy(t *testing.T) {
	recs := valueRecords(50, 3000) // 150 KB: several 32 KiB xerial chunks
	for i := range recs {
		recs[i].TimestampDelta = 0
	}
	plain := mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow}), recs)
	raw := xerialFrame(plain[HeaderSize:], 32<<10)
	b := rawBatch(clientHeader(len(recs), CodecSnappy), raw)
	if _, err := Validate(b, ValidateOptions{Now: time.UnixMilli(testNow)}); err != nil {
		t.Fatal(err)
	}
	equalRecords(t, collect(t, b), recs, true)
}

// TestInteropToFranzGo reads our batches with kmsg and kgo's decompressor.
func TestInteropToFranzGo(t *testing.T) {
	recs := roundTripRecords()
	dec := kgo.DefaultDecompressor()
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			b := mustBuild(t, BuildOptions{Codec: codec, BaseOffset: 0, BaseTimestamp: testNow, ProducerID: 8, ProducerEpoch: 1, BaseSequence: 0}, recs)
			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(b); err != nil {
				t.Fatal(err)
			}
			if int(kb.Length)+12 != len(b) || kb.Magic != 2 || uint32(kb.CRC) != ComputeCRC(b) || kb.NumRecords != int32(len(recs)) {
				t.Fatalf("kmsg header %+v", kb)
			}
			raw, err := dec.Decompress(kb.Records, kgo.CompressionCodecType(codec))
			if err != nil {
				t.Fatal(err)
			}
			var got []Record
			for len(raw) > 0 {
				var kr kmsg.Record
				if err := kr.ReadFrom(raw); err != nil {
					t.Fatal(err)
				}
				r := Record{OffsetDelta: kr.OffsetDelta, TimestampDelta: kr.TimestampDelta64, Key: kr.Key, Value: kr.Value}
				for _, h := range kr.Headers {
					r.Headers = append(r.Headers, RecordHeader{Key: []byte(h.Key), Value: h.Value})
				}
				got = append(got, r)
				// kmsg.Record.ReadFrom does not say how much it read:
				// skip the length varint and the body it announces.
				n, m := binary.Varint(raw)
				raw = raw[m+int(n):]
			}
			equalRecords(t, got, recs, true)
		})
	}
}
