package connect

import (
	"errors"
	"math"
	"math/big"
	"testing"
	"time"
)

func TestSchemaBuilder(t *testing.T) {
	s, err := StructBuilder().Name("com.example.Person").Version(3).Doc("a person").Parameter("k", "v").
		Field("name", StringSchema).
		Field("age", OptionalInt32Schema).
		Field("tags", ArrayBuilder(StringSchema).Optional().MustBuild()).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != TypeStruct || s.Name != "com.example.Person" || *s.Version != 3 || s.Doc != "a person" ||
		s.Parameters["k"] != "v" || len(s.Fields) != 3 || s.Field("age").Index != 1 || s.Field("nope") != nil {
		t.Fatalf("built %+v", s)
	}
	if s.String() != "Schema{com.example.Person:STRUCT}" || Int8Schema.String() != "Schema{INT8}" {
		t.Fatal(s.String())
	}
	twin := StructBuilder().Name("com.example.Person").Version(3).Doc("a person").Parameter("k", "v").
		Field("name", StringSchema).Field("age", OptionalInt32Schema).
		Field("tags", ArrayBuilder(StringSchema).Optional().MustBuild()).MustBuild()
	if !s.Equal(twin) || s.Equal(StructBuilder().MustBuild()) {
		t.Fatal("Equal")
	}

	for what, b := range map[string]*SchemaBuilder{
		"field on int":    Int32Builder().Field("x", StringSchema),
		"duplicate field": StructBuilder().Field("x", StringSchema).Field("x", StringSchema),
		"name twice":      StringBuilder().Name("a").Name("b"),
		"bad default":     Int32Builder().DefaultValue("seven"),
		"nil array":       ArrayBuilder(nil),
	} {
		if _, err := b.Build(); !errors.Is(err, ErrSchemaBuilder) {
			t.Errorf("%s: %v", what, err)
		}
	}
}

func TestValidate(t *testing.T) {
	point := StructBuilder().Field("x", Int32Schema).Field("y", OptionalInt32Schema).MustBuild()
	ok := []struct {
		s *Schema
		v any
	}{
		{Int8Schema, int8(1)}, {Int16Schema, int16(1)}, {Int32Schema, int32(1)}, {Int64Schema, int64(1)},
		{Float32Schema, float32(1)}, {Float64Schema, 1.0}, {BooleanSchema, true}, {StringSchema, "s"},
		{BytesSchema, []byte("b")}, {OptionalStringSchema, nil},
		{ArrayBuilder(Int32Schema).MustBuild(), []any{int32(1)}},
		{MapBuilder(StringSchema, Int64Schema).MustBuild(), map[string]any{"a": int64(1)}},
		{MapBuilder(Int32Schema, StringSchema).MustBuild(), map[any]any{int32(1): "a"}},
		{point, NewStruct(point).Put("x", int32(1))},
		{DecimalSchema(2), big.NewRat(1, 4)}, {DateSchema, time.Unix(0, 0)}, {TimestampSchema, time.Now()},
		{nil, "anything"},
	}
	for _, tc := range ok {
		if err := Validate(tc.s, tc.v); err != nil {
			t.Errorf("Validate(%v, %#v): %v", tc.s, tc.v, err)
		}
	}
	bad := []struct {
		s *Schema
		v any
	}{
		{Int32Schema, int64(1)}, {Int32Schema, nil}, {StringSchema, []byte("x")},
		{ArrayBuilder(Int32Schema).MustBuild(), []any{"x"}},
		{MapBuilder(StringSchema, Int64Schema).MustBuild(), map[string]any{"a": "b"}},
		{point, NewStruct(point)}, // x is required
		{point, NewStruct(StructBuilder().Field("x", Int32Schema).MustBuild()).Put("x", int32(1))},
		{DecimalSchema(2), "1.5"},
	}
	for _, tc := range bad {
		if err := Validate(tc.s, tc.v); !errors.Is(err, ErrData) {
			t.Errorf("Validate(%v, %#v) = %v, want ErrData", tc.s, tc.v, err)
		}
	}
}

func TestStruct(t *testing.T) {
	withDefault := Int32Builder().Optional().DefaultValue(int32(9)).MustBuild()
	s := StructBuilder().Field("a", StringSchema).Field("b", withDefault).MustBuild()
	st := NewStruct(s).Put("a", "x")
	if st.Err() != nil || st.Validate() != nil {
		t.Fatal(st.Err())
	}
	if st.Get("b") != int32(9) || st.GetWithoutDefault("b") != nil || st.String() != "Struct{a=x}" {
		t.Fatalf("%v %v %s", st.Get("b"), st.GetWithoutDefault("b"), st)
	}
	if err := NewStruct(s).Put("nope", 1).Err(); !errors.Is(err, ErrData) {
		t.Fatal(err)
	}
	if err := NewStruct(s).Put("a", 1).Err(); !errors.Is(err, ErrData) {
		t.Fatal(err)
	}
	if err := NewStruct(StringSchema).Put("a", "x").Err(); !errors.Is(err, ErrData) {
		t.Fatal(err)
	}
	if !st.Equal(NewStruct(s).Put("a", "x")) || st.Equal(NewStruct(s).Put("a", "y")) {
		t.Fatal("Equal")
	}
}

// Decimals use Java's BigInteger.toByteArray: minimal big-endian two's
// complement.
func TestDecimal(t *testing.T) {
	cases := []struct {
		v     *big.Rat
		scale int32
		bytes []byte
	}{
		{big.NewRat(0, 1), 0, []byte{0}},
		{big.NewRat(127, 1), 0, []byte{0x7f}},
		{big.NewRat(128, 1), 0, []byte{0x00, 0x80}},
		{big.NewRat(-1, 1), 0, []byte{0xff}},
		{big.NewRat(-128, 1), 0, []byte{0x80}},
		{big.NewRat(-129, 1), 0, []byte{0xff, 0x7f}},
		{big.NewRat(-12345, 100), 2, []byte{0xcf, 0xc7}},
		{big.NewRat(1200, 1), -2, []byte{12}},
	}
	for _, tc := range cases {
		s := DecimalSchema(tc.scale)
		b, err := DecimalFromLogical(s, tc.v)
		if err != nil || string(b) != string(tc.bytes) {
			t.Errorf("%s scale %d: %x %v, want %x", tc.v.RatString(), tc.scale, b, err, tc.bytes)
			continue
		}
		back, err := DecimalToLogical(s, b)
		if err != nil || back.Cmp(tc.v) != 0 {
			t.Errorf("%x back: %v %v", b, back, err)
		}
	}
	if _, err := DecimalFromLogical(DecimalSchema(1), big.NewRat(1, 3)); !errors.Is(err, ErrData) {
		t.Fatal(err)
	}
}

func TestDateTime(t *testing.T) {
	d := time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC)
	days, err := DateFromLogical(d)
	if err != nil || days != 10958 || !DateToLogical(days).Equal(d) {
		t.Fatalf("%d %v", days, err)
	}
	if _, err := DateFromLogical(d.Add(time.Hour)); !errors.Is(err, ErrData) {
		t.Fatal(err)
	}
	if _, err := TimeFromLogical(d); !errors.Is(err, ErrData) {
		t.Fatal(err)
	}
	tm, _ := TimeToLogical(3600_000)
	if ms, err := TimeFromLogical(tm); err != nil || ms != 3600_000 {
		t.Fatalf("%d %v", ms, err)
	}
	if TimestampFromLogical(TimestampToLogical(-5)) != -5 {
		t.Fatal("timestamp")
	}
}

// Floats print as Java's Double.toString / Float.toString.
func TestFormatJavaDouble(t *testing.T) {
	cases := []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {0, 64, "0.0"}, {-2.5, 64, "-2.5"}, {1e7, 64, "1.0E7"}, {1.5e300, 64, "1.5E300"},
		{1e-4, 64, "1.0E-4"}, {0.001, 64, "0.001"}, {123456.789, 64, "123456.789"},
		{math.NaN(), 64, "NaN"}, {math.Inf(-1), 64, "-Infinity"}, {float64(float32(0.1)), 32, "0.1"},
	}
	for _, tc := range cases {
		if got := FormatJavaDouble(tc.f, tc.bits); got != tc.want {
			t.Errorf("FormatJavaDouble(%v) = %s, want %s", tc.f, got, tc.want)
		}
	}
	if got := FormatValue(map[string]any{"b": []any{int32(1), "x"}, "a": nil}); got != "{a=null, b=[1, x]}" {
		t.Fatal(got)
	}
	if got := FormatValue(big.NewRat(-1234, 1000)); got != "-1.234" {
		t.Fatal(got)
	}
}

func init() {
	RegisterPlugin(Plugin{Class: "com.example.test.EchoSourceConnector", Type: PluginSource, New: func() any { return nil }})
}

func TestPluginLookup(t *testing.T) {
	for _, name := range []string{"com.example.test.EchoSourceConnector", "EchoSourceConnector", "EchoSource"} {
		p, err := LookupPlugin(name, PluginSource)
		if err != nil || p.Class != "com.example.test.EchoSourceConnector" {
			t.Errorf("LookupPlugin(%s) = %v, %v", name, p, err)
		}
	}
	if _, err := LookupPlugin("EchoSource", PluginSink); !errors.Is(err, ErrUnknownPlugin) {
		t.Fatal(err)
	}
	mustPanic(t, "duplicate", func() {
		RegisterPlugin(Plugin{Class: "com.example.test.EchoSourceConnector", Type: PluginSource, New: func() any { return nil }})
	})
}
