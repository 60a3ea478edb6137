package record

import (
	"bytes"
	"testing"
)

func TestRecompress(t *testing.T) {
	recs := []Record{
		{Key: []byte("k1"), Value: bytes.Repeat([]byte("v"), 300)},
		{Key: nil, Value: []byte("second"), Headers: []RecordHeader{{Key: []byte("h"), Value: []byte("x")}}},
	}
	codecs := []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}
	for _, from := range codecs {
		for _, to := range codecs {
			src, err := Build(BuildOptions{Codec: from, ProducerID: NoProducerID, ProducerEpoch: NoProducerEpoch, BaseSequence: NoSequence, BaseTimestamp: 1000}, recs)
			if err != nil {
				t.Fatal(err)
			}
			orig := append([]byte(nil), src...)
			out, err := Recompress(src, to)
			if err != nil {
				t.Fatalf("%v→%v: %v", from, to, err)
			}
			if !bytes.Equal(src, orig) {
				t.Fatalf("%v→%v: input modified", from, to)
			}
			info, err := Validate(out, ValidateOptions{TimestampBeforeMaxMs: -1, TimestampAfterMaxMs: -1})
			if err != nil {
				t.Fatalf("%v→%v: result invalid: %v", from, to, err)
			}
			if info.Header.Codec() != to || info.RecordCount != 2 {
				t.Fatalf("%v→%v: codec %v count %d", from, to, info.Header.Codec(), info.RecordCount)
			}
			var got []string
			if err := Records(out, func(r Record) error {
				got = append(got, string(r.Key)+"="+string(r.Value))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[1] != "=second" || got[0] != "k1="+string(recs[0].Value) {
				t.Fatalf("%v→%v: records %q", from, to, got)
			}
		}
	}
}
