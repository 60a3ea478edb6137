package record

import (
	"math/rand/v2"
	"testing"
	"time"
)

// benchRecords returns n records with 10-byte keys and size-byte values of
// text-like bytes (compressible about 2x, as typical payloads are).
func benchRecords(n, size int) []Record {
	rng := rand.New(rand.NewPCG(5, 6))
	const alphabet = "abcdefghijklmnopqrstuvwxyz     {}:,\"0123456789"
	recs := make([]Record, n)
	for i := range recs {
		v := make([]byte, size)
		for j := range v {
			v[j] = alphabet[rng.IntN(len(alphabet))]
		}
		recs[i] = Record{TimestampDelta: int64(i), Key: []byte("key-000000")[:10], Value: v}
	}
	return recs
}

func benchValidate(b *testing.B, codec Codec) {
	batch := mustBuild(b, BuildOptions{Codec: codec, BaseTimestamp: testNow, ProducerID: 1, ProducerEpoch: 0, BaseSequence: 0}, benchRecords(100, 100))
	opts := ValidateOptions{Now: time.UnixMilli(testNow)}
	if _, err := Validate(batch, opts); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(batch, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateUncompressed validates a batch of 100 records of 100
// bytes, as the produce path does for every request.
func BenchmarkValidateUncompressed(b *testing.B) { benchValidate(b, CodecNone) }

// BenchmarkValidateLZ4 is BenchmarkValidateUncompressed with lz4.
func BenchmarkValidateLZ4(b *testing.B) { benchValidate(b, CodecLZ4) }

func BenchmarkValidateCodecs(b *testing.B) {
	for _, c := range allCodecs {
		b.Run(c.String(), func(b *testing.B) { benchValidate(b, c) })
	}
}

func BenchmarkRecords(b *testing.B) {
	for _, c := range []Codec{CodecNone, CodecLZ4} {
		b.Run(c.String(), func(b *testing.B) {
			batch := mustBuild(b, noProducer(BuildOptions{Codec: c}), benchRecords(100, 100))
			fn := func(Record) error { return nil }
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Records(batch, fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	recs := benchRecords(100, 100)
	for _, c := range []Codec{CodecNone, CodecLZ4, CodecZstd} {
		b.Run(c.String(), func(b *testing.B) {
			var dst []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = AppendBatch(dst[:0], noProducer(BuildOptions{Codec: c}), recs); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(dst)))
		})
	}
}
