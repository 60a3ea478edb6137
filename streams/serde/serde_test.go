package serde

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// roundTrip checks that s writes want for v (the bytes Kafka's own
// serializer writes) and reads v back.
func roundTrip[T comparable](t *testing.T, name string, s Serde[T], v T, want []byte) {
	t.Helper()
	b, err := s.Serialize("topic", v)
	if err != nil {
		t.Fatalf("%s: serialize %v: %v", name, v, err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("%s: serialize %v = % x, want % x", name, v, b, want)
	}
	got, err := s.Deserialize("topic", b)
	if err != nil || got != v {
		t.Fatalf("%s: deserialize % x = %v, %v", name, b, got, err)
	}
}

func TestKafkaBytes(t *testing.T) {
	roundTrip(t, "String", String(), "héllo", []byte("héllo"))
	roundTrip(t, "String empty", String(), "", []byte{})
	roundTrip(t, "Int16", Int16(), -2, []byte{0xff, 0xfe})
	roundTrip(t, "Int32", Int32(), 258, []byte{0, 0, 1, 2})
	roundTrip(t, "Int32 min", Int32(), math.MinInt32, []byte{0x80, 0, 0, 0})
	roundTrip(t, "Int64", Int64(), 42, []byte{0, 0, 0, 0, 0, 0, 0, 0x2a})
	roundTrip(t, "Int64 -1", Int64(), -1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	roundTrip(t, "Float32", Float32(), 1.5, []byte{0x3f, 0xc0, 0, 0})
	roundTrip(t, "Float64", Float64(), 1.5, []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0})
	roundTrip(t, "Bool", Bool(), true, []byte{1})
	roundTrip(t, "Bool false", Bool(), false, []byte{0})
	type point struct{ X, Y int }
	roundTrip(t, "JSON", JSON[point](), point{1, 2}, []byte(`{"X":1,"Y":2}`))
	b, _ := Bytes().Serialize("t", []byte{1, 2})
	if !bytes.Equal(b, []byte{1, 2}) {
		t.Fatalf("Bytes = %v", b)
	}
}

func TestDeserializeErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		fn   func() error
	}{
		{"Int64 short", ErrSize, func() error { _, err := Int64().Deserialize("t", []byte{1}); return err }},
		{"Int32 long", ErrSize, func() error { _, err := Int32().Deserialize("t", make([]byte, 5)); return err }},
		{"Int16", ErrSize, func() error { _, err := Int16().Deserialize("t", nil); return err }},
		{"Float32", ErrSize, func() error { _, err := Float32().Deserialize("t", []byte{1}); return err }},
		{"Float64", ErrSize, func() error { _, err := Float64().Deserialize("t", []byte{1}); return err }},
		{"Bool size", ErrSize, func() error { _, err := Bool().Deserialize("t", []byte{1, 1}); return err }},
		{"Bool byte", ErrFormat, func() error { _, err := Bool().Deserialize("t", []byte{2}); return err }},
		{"JSON", ErrFormat, func() error { _, err := JSON[map[string]int]().Deserialize("t", []byte("{")); return err }},
	}
	for _, c := range cases {
		if err := c.fn(); !errors.Is(err, c.err) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.err)
		}
	}
	_, err := Int64().Deserialize("t", []byte{1})
	if err.Error() != "serde: wrong data size: size of data received by LongDeserializer is not 8" {
		t.Fatalf("message %q", err)
	}
}

func TestDefault(t *testing.T) {
	check := func(name string, got any, want []byte, err error) {
		t.Helper()
		if err != nil || !bytes.Equal(got.([]byte), want) {
			t.Fatalf("%s: % x, %v", name, got, err)
		}
	}
	b, err := Default[string]().Serialize("t", "x")
	check("string", b, []byte("x"), err)
	b, err = Default[int64]().Serialize("t", 1)
	check("int64", b, []byte{0, 0, 0, 0, 0, 0, 0, 1}, err)
	b, err = Default[int32]().Serialize("t", 1)
	check("int32", b, []byte{0, 0, 0, 1}, err)
	b, err = Default[[]byte]().Serialize("t", []byte{7})
	check("bytes", b, []byte{7}, err)
	b, err = Default[int]().Serialize("t", 7)
	check("int as JSON", b, []byte("7"), err)
	b, err = Default[map[string]bool]().Serialize("t", map[string]bool{"a": true})
	check("map as JSON", b, []byte(`{"a":true}`), err)
}

func TestNew(t *testing.T) {
	s := New(func(_ string, v int) ([]byte, error) { return []byte{byte(v)}, nil },
		func(_ string, b []byte) (int, error) { return int(b[0]), nil })
	roundTrip(t, "New", s, 9, []byte{9})
}
