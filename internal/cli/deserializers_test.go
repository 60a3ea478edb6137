package cli

import (
	"encoding/binary"
	"math"
	"testing"
)

func be16(v int16) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
func f32(v float32) []byte {
	return binary.BigEndian.AppendUint32(nil, math.Float32bits(v))
}
func f64(v float64) []byte {
	return binary.BigEndian.AppendUint64(nil, math.Float64bits(v))
}

func TestDeserializers(t *testing.T) {
	const pkg = "org.apache.kafka.common.serialization."
	for _, tc := range []struct {
		class   string
		in      []byte
		want    string
		wantErr string
	}{
		{pkg + "StringDeserializer", []byte("héllo"), "héllo", ""},
		{pkg + "StringDeserializer", []byte{'a', 0xff, 'b'}, "a\uFFFDb", ""},
		{pkg + "BytesDeserializer", []byte("bytes"), "bytes", ""},
		{pkg + "ByteArrayDeserializer", []byte{0, 1, 0xff}, "\x00\x01\xff", ""},
		{pkg + "ShortDeserializer", be16(-2), "-2", ""},
		{pkg + "ShortDeserializer", be16(32767), "32767", ""},
		{pkg + "ShortDeserializer", []byte{1}, "", "Size of data received by ShortDeserializer is not 2"},
		{pkg + "IntegerDeserializer", be32(42), "42", ""},
		{pkg + "IntegerDeserializer", be32(math.MinInt32), "-2147483648", ""},
		{pkg + "IntegerDeserializer", []byte("null"[:3]), "", "Size of data received by IntegerDeserializer is not 4"},
		{pkg + "LongDeserializer", be64(1700000000000), "1700000000000", ""},
		{pkg + "LongDeserializer", be64(-1), "-1", ""},
		// A null value reaches the deserializer as null.literal ("null",
		// 4 bytes), which LongDeserializer rejects, as in Kafka.
		{pkg + "LongDeserializer", []byte("null"), "", "Size of data received by LongDeserializer is not 8"},
		{pkg + "FloatDeserializer", f32(1.5), "1.5", ""},
		{pkg + "FloatDeserializer", f32(1.1), "1.1", ""},
		{pkg + "FloatDeserializer", []byte{1, 2}, "", "Size of data received by Deserializer is not 4"},
		{pkg + "DoubleDeserializer", f64(0.1), "0.1", ""},
		{pkg + "DoubleDeserializer", f64(-1e10), "-1.0E10", ""},
		{pkg + "DoubleDeserializer", []byte{1}, "", "Size of data received by Deserializer is not 8"},
		{pkg + "UUIDDeserializer", []byte("123E4567-E89B-12D3-A456-426614174000"), "123e4567-e89b-12d3-a456-426614174000", ""},
		{pkg + "UUIDDeserializer", []byte("1-2-3-4-5"), "00000001-0002-0003-0004-000000000005", ""},
		{pkg + "UUIDDeserializer", []byte("not-a-uuid"), "", "Invalid UUID string: not-a-uuid"},
		{pkg + "VoidDeserializer", []byte("x"), "", "Data should be null for a VoidDeserializer."},
		{"LongDeserializer", be64(7), "7", ""}, // simple name accepted
	} {
		d, err := lookupDeserializer(tc.class)
		if err != nil {
			t.Fatalf("lookup %s: %v", tc.class, err)
		}
		got, err := d(tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s(%x): err %v, want %q", tc.class, tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s(%x) = %q, %v; want %q", tc.class, tc.in, got, err, tc.want)
		}
	}
}

func TestLookupDeserializerUnknown(t *testing.T) {
	for _, class := range []string{"com.example.MyDeserializer", "org.example.LongDeserializer", ""} {
		if _, err := lookupDeserializer(class); err == nil {
			t.Errorf("lookupDeserializer(%q) succeeded", class)
		}
	}
}

// The expected strings are what Java 21's Double.toString and
// Float.toString print.
func TestJavaFloatString(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		bits int
		want string
	}{
		{1, 64, "1.0"},
		{100, 64, "100.0"},
		{0.1, 64, "0.1"},
		{0.001, 64, "0.001"},
		{0.0001, 64, "1.0E-4"},
		{1234.5678, 64, "1234.5678"},
		{9999999, 64, "9999999.0"},
		{1e7, 64, "1.0E7"},
		{123456789, 64, "1.23456789E8"},
		{1e22, 64, "1.0E22"},
		{-2.5e-5, 64, "-2.5E-5"},
		{math.MaxFloat64, 64, "1.7976931348623157E308"},
		{math.SmallestNonzeroFloat64, 64, "4.9E-324"},
		{0, 64, "0.0"},
		{math.Copysign(0, -1), 64, "-0.0"},
		{math.NaN(), 64, "NaN"},
		{math.Inf(1), 64, "Infinity"},
		{math.Inf(-1), 64, "-Infinity"},
		{float64(float32(1.1)), 32, "1.1"},
		{float64(float32(100)), 32, "100.0"},
		{float64(float32(1e-5)), 32, "1.0E-5"},
		{float64(float32(3e10)), 32, "3.0E10"},
		{math.MaxFloat32, 32, "3.4028235E38"},
		{math.SmallestNonzeroFloat32, 32, "1.4E-45"},
	} {
		if got := javaFloatString(tc.v, tc.bits); got != tc.want {
			t.Errorf("javaFloatString(%v, %d) = %q, want %q", tc.v, tc.bits, got, tc.want)
		}
	}
}

func TestJavaUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          "plain",
		"\xe2\x82\xac":   "€",
		"a\xc3":          "a\uFFFD",
		"\xff\xfe":       "\uFFFD\uFFFD",
		"ok\xe2\x82zz€x": "ok\uFFFDzz€x",       // E2 82 is one maximal subpart
		"\xe0\x80":       "\uFFFD\uFFFD",       // E0 80 is never valid
		"\xf0\x9f\x98":   "\uFFFD",             // a truncated emoji
		"\xed\xa0\x80":   "\uFFFD\uFFFD\uFFFD", // a surrogate
	} {
		if got := string(javaUTF8([]byte(in))); got != want {
			t.Errorf("javaUTF8(%q) = %q, want %q", in, got, want)
		}
	}
}
