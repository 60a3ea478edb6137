package converter

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

func jsonConverter(t *testing.T, props map[string]string) *JsonConverter {
	t.Helper()
	c := NewJsonConverter()
	if err := c.Configure(props, false); err != nil {
		t.Fatal(err)
	}
	return c
}

// The quickstart's record as Kafka's console consumer shows it (Kafka
// documentation, quickstart step 6).
func TestJsonConverterQuickstartEnvelope(t *testing.T) {
	c := jsonConverter(t, nil)
	b, err := c.FromConnectData("connect-test", connect.StringSchema, "foo")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"schema":{"type":"string","optional":false},"payload":"foo"}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	// A null key with no schema is a null record key, not JSON.
	if b, err := c.FromConnectData("connect-test", nil, nil); err != nil || b != nil {
		t.Fatalf("null key: %q, %v", b, err)
	}
}

// The schema JSON Kafka's JsonConverter.asJsonSchema writes: type, then
// items / keys+values / fields (each field's schema then "field"), then
// optional, name, version, doc, parameters, default.
func TestJsonConverterSchemaJSON(t *testing.T) {
	c := jsonConverter(t, nil)
	inner := connect.StructBuilder().Name("com.example.Inner").Version(2).Doc("an inner struct").
		Field("b", connect.OptionalBooleanSchema).MustBuild()
	s := connect.StructBuilder().Name("com.example.Outer").
		Field("id", connect.Int32Schema).
		Field("tags", connect.ArrayBuilder(connect.StringSchema).Optional().MustBuild()).
		Field("counts", connect.MapBuilder(connect.StringSchema, connect.Int64Schema).MustBuild()).
		Field("inner", inner).
		Field("price", connect.DecimalSchema(2)).
		Field("n", connect.Int16Builder().DefaultValue(int16(7)).MustBuild()).
		MustBuild()
	got, err := c.AsJSONSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"struct","fields":[` +
		`{"type":"int32","optional":false,"field":"id"},` +
		`{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"tags"},` +
		`{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int64","optional":false},"optional":false,"field":"counts"},` +
		`{"type":"struct","fields":[{"type":"boolean","optional":true,"field":"b"}],"optional":false,"name":"com.example.Inner","version":2,"doc":"an inner struct","field":"inner"},` +
		`{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"price"},` +
		`{"type":"int16","optional":false,"default":7,"field":"n"}` +
		`],"optional":false,"name":"com.example.Outer"}`
	if string(got) != want {
		t.Fatalf("schema JSON\n got %s\nwant %s", got, want)
	}
	// And it parses back to the same schema.
	var node any
	if err := json.Unmarshal(got, &node); err != nil {
		t.Fatal(err)
	}
	back, err := c.AsConnectSchema(useNumbers(t, got))
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(s) {
		t.Fatalf("schema did not round-trip:\n got %+v\nwant %+v", back, s)
	}
}

func useNumbers(t *testing.T, b []byte) any {
	t.Helper()
	v, err := decodeJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Every type round-trips through the envelope, as Kafka's
// JsonConverterTest round trips do.
func TestJsonConverterRoundTripEveryType(t *testing.T) {
	point := connect.StructBuilder().Name("Point").Field("x", connect.Int32Schema).Field("y", connect.OptionalInt32Schema).MustBuild()
	cases := []struct {
		name   string
		schema *connect.Schema
		value  any
		json   string // expected payload
	}{
		{"int8", connect.Int8Schema, int8(-12), `-12`},
		{"int16", connect.Int16Schema, int16(12345), `12345`},
		{"int32", connect.Int32Schema, int32(-2147483648), `-2147483648`},
		{"int64", connect.Int64Schema, int64(9007199254740993), `9007199254740993`},
		{"float32", connect.Float32Schema, float32(1.5), `1.5`},
		{"float64", connect.Float64Schema, float64(1), `1.0`},
		{"float64 big", connect.Float64Schema, 1.5e300, `1.5E300`},
		{"float64 NaN", connect.Float64Schema, math.NaN(), `"NaN"`},
		{"boolean", connect.BooleanSchema, true, `true`},
		{"string", connect.StringSchema, "héllo \"w\"\n", `"héllo \"w\"\n"`},
		{"bytes", connect.BytesSchema, []byte{0, 1, 2, 255}, `"AAEC/w=="`},
		{"array", connect.ArrayBuilder(connect.Int32Schema).MustBuild(), []any{int32(1), int32(2)}, `[1,2]`},
		{"map string keys", connect.MapBuilder(connect.StringSchema, connect.BooleanSchema).MustBuild(),
			map[string]any{"a": true, "b": false}, `{"a":true,"b":false}`},
		{"map int keys", connect.MapBuilder(connect.Int32Schema, connect.StringSchema).MustBuild(),
			map[any]any{int32(1): "one", int32(2): "two"}, `[[1,"one"],[2,"two"]]`},
		{"struct", point, connect.NewStruct(point).Put("x", int32(3)), `{"x":3,"y":null}`},
		{"optional null", connect.OptionalStringSchema, nil, `null`},
		{"decimal", connect.DecimalSchema(2), big.NewRat(-12345, 100), `"z8c="`},
		{"date", connect.DateSchema, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), `19782`},
		{"time", connect.TimeSchema, time.UnixMilli(3723004).UTC(), `3723004`},
		{"timestamp", connect.TimestampSchema, time.UnixMilli(1700000000123).UTC(), `1700000000123`},
	}
	c := jsonConverter(t, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := c.FromConnectData("t", tc.schema, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			var env map[string]json.RawMessage
			if err := json.Unmarshal(b, &env); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if got := string(env["payload"]); got != tc.json {
				t.Fatalf("payload %s, want %s", got, tc.json)
			}
			sv, err := c.ToConnectData("t", b)
			if err != nil {
				t.Fatal(err)
			}
			if !sv.Schema.Equal(tc.schema) {
				t.Fatalf("schema %+v, want %+v", sv.Schema, tc.schema)
			}
			if f, ok := tc.value.(float64); ok && math.IsNaN(f) {
				if g, ok := sv.Value.(float64); !ok || !math.IsNaN(g) {
					t.Fatalf("value %v, want NaN", sv.Value)
				}
				return
			}
			if !connect.ValuesEqual(sv.Value, tc.value) {
				t.Fatalf("value %#v, want %#v", sv.Value, tc.value)
			}
		})
	}
}

func TestJsonConverterDecimalNumeric(t *testing.T) {
	c := jsonConverter(t, map[string]string{DecimalFormatConfig: "numeric"})
	s := connect.DecimalSchema(3)
	b, err := c.FromConnectData("t", s, big.NewRat(-5, 4))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"3"}},"payload":-1.250}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
	sv, err := c.ToConnectData("t", b)
	if err != nil {
		t.Fatal(err)
	}
	if r := sv.Value.(*big.Rat); r.Cmp(big.NewRat(-5, 4)) != 0 {
		t.Fatalf("got %v", r)
	}
	// A BASE64 converter reads numeric decimals too, as Kafka's does.
	sv, err = jsonConverter(t, nil).ToConnectData("t", b)
	if err != nil || sv.Value.(*big.Rat).Cmp(big.NewRat(-5, 4)) != 0 {
		t.Fatalf("base64 converter reading numeric: %v %v", sv.Value, err)
	}
	// A value that does not fit the scale is refused.
	if _, err := c.FromConnectData("t", connect.DecimalSchema(1), big.NewRat(1, 3)); !errors.Is(err, connect.ErrData) {
		t.Fatalf("1/3 at scale 1: %v", err)
	}
}

func TestJsonConverterNullsAndDefaults(t *testing.T) {
	withDefault := connect.Int32Builder().Optional().DefaultValue(int32(42)).MustBuild()
	s := connect.StructBuilder().Field("a", withDefault).Field("b", connect.OptionalStringSchema).MustBuild()
	st := connect.NewStruct(s) // a and b unset

	c := jsonConverter(t, nil)
	b, err := c.FromConnectData("t", s, st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"default":42,"field":"a"},{"type":"string","optional":true,"field":"b"}],"optional":false},"payload":{"a":42,"b":null}}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}

	// replace.null.with.default=false keeps nulls (KIP-581).
	c2 := jsonConverter(t, map[string]string{ReplaceNullWithDefaultConfig: "false"})
	b, err = c2.FromConnectData("t", s, st)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonContains(b, `"payload":{"a":null,"b":null}`) {
		t.Fatalf("got %s", b)
	}
	sv, err := c2.ToConnectData("t", b)
	if err != nil {
		t.Fatal(err)
	}
	if v := sv.Value.(*connect.Struct).GetWithoutDefault("a"); v != nil {
		t.Fatalf("a = %v, want null", v)
	}

	// A required field without a value cannot be written.
	req := connect.StructBuilder().Field("a", connect.Int32Schema).MustBuild()
	if _, err := c.FromConnectData("t", req, connect.NewStruct(req)); !errors.Is(err, connect.ErrData) {
		t.Fatalf("required null: %v", err)
	}
	// Nor read.
	_, err = c.ToConnectData("t", []byte(`{"schema":{"type":"int32","optional":false},"payload":null}`))
	if !errors.Is(err, connect.ErrData) {
		t.Fatalf("required null read: %v", err)
	}
}

func jsonContains(b []byte, s string) bool {
	return len(b) >= len(s) && (string(b) == s || indexOf(string(b), s) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// A tombstone: a null record value has no schema and no value, with or
// without schemas, and a null Connect value with no schema writes a null
// record value.
func TestJsonConverterTombstone(t *testing.T) {
	for _, enabled := range []string{"true", "false"} {
		c := jsonConverter(t, map[string]string{SchemasEnableConfig: enabled})
		sv, err := c.ToConnectData("t", nil)
		if err != nil || sv.Schema != nil || sv.Value != nil {
			t.Fatalf("schemas.enable=%s: %+v %v", enabled, sv, err)
		}
		b, err := c.FromConnectData("t", nil, nil)
		if err != nil || b != nil {
			t.Fatalf("schemas.enable=%s: %q %v", enabled, b, err)
		}
	}
	// With schemas, an optional null value keeps its schema in the
	// envelope.
	b, err := jsonConverter(t, nil).FromConnectData("t", connect.OptionalStringSchema, nil)
	if err != nil || string(b) != `{"schema":{"type":"string","optional":true},"payload":null}` {
		t.Fatalf("%s %v", b, err)
	}
}

func TestJsonConverterSchemaless(t *testing.T) {
	c := jsonConverter(t, map[string]string{SchemasEnableConfig: "false"})
	b, err := c.FromConnectData("t", nil, map[string]any{"n": int64(1), "f": 2.0, "s": "x", "l": []any{true, nil}, "m": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"f":2.0,"l":[true,null],"m":{},"n":1,"s":"x"}`; string(b) != want {
		t.Fatalf("got %s want %s", b, want)
	}
	sv, err := c.ToConnectData("t", b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": int64(1), "f": 2.0, "s": "x", "l": []any{true, nil}, "m": map[string]any{}}
	if sv.Schema != nil || !reflect.DeepEqual(sv.Value, want) {
		t.Fatalf("got %#v", sv)
	}
	// A schema is written without its envelope.
	b, err = c.FromConnectData("t", connect.StringSchema, "foo")
	if err != nil || string(b) != `"foo"` {
		t.Fatalf("%s %v", b, err)
	}
	// Plain JSON with schemas enabled is refused with Kafka's hint.
	_, err = jsonConverter(t, nil).ToConnectData("t", []byte(`{"a":1}`))
	if !errors.Is(err, connect.ErrData) || indexOf(err.Error(), "set schemas.enable=false") < 0 {
		t.Fatalf("got %v", err)
	}
	// Malformed JSON is a data error.
	if _, err := c.ToConnectData("t", []byte(`{"a":`)); !errors.Is(err, connect.ErrData) {
		t.Fatalf("malformed: %v", err)
	}
	if _, err := c.ToConnectData("t", []byte(`1 2`)); !errors.Is(err, connect.ErrData) {
		t.Fatalf("trailing data: %v", err)
	}
}

func TestJsonConverterConfig(t *testing.T) {
	c := NewJsonConverter()
	err := c.Configure(map[string]string{DecimalFormatConfig: "hex"}, false)
	if !errors.Is(err, connect.ErrConfig) || indexOf(err.Error(), "Invalid value hex for configuration decimal.format") < 0 {
		t.Fatalf("got %v", err)
	}
	err = c.Configure(map[string]string{SchemasEnableConfig: "maybe"}, true)
	if !errors.Is(err, connect.ErrConfig) {
		t.Fatalf("got %v", err)
	}
}

// FuzzJsonConverter: whatever bytes arrive, ToConnectData returns data or
// an ErrData error without panicking; data it accepts (with schemas) is
// written back to bytes that read as equal data.
func FuzzJsonConverter(f *testing.F) {
	f.Add([]byte(`{"schema":{"type":"string","optional":false},"payload":"foo"}`))
	f.Add([]byte(`{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"bytes","optional":true},"optional":false},"payload":[[1,"AA=="],[2,null]]}`))
	f.Add([]byte(`{"schema":{"type":"struct","fields":[{"type":"int64","optional":true,"default":5,"field":"a"}],"optional":false},"payload":{}}`))
	f.Add([]byte(`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":"AQ=="}`))
	f.Add([]byte(`{"schema":null,"payload":[1,2.5,"x",{"y":null}]}`))
	c := NewJsonConverter()
	f.Fuzz(func(t *testing.T, data []byte) {
		sv, err := c.ToConnectData("t", data)
		if err != nil {
			if !errors.Is(err, connect.ErrData) {
				t.Fatalf("error does not wrap ErrData: %v", err)
			}
			return
		}
		if sv.Schema == nil && sv.Value == nil {
			return
		}
		out, err := c.FromConnectData("t", sv.Schema, sv.Value)
		if err != nil {
			return // e.g. a NaN-free float that the schema rejects
		}
		back, err := c.ToConnectData("t", out)
		if err != nil {
			t.Fatalf("re-read of %s: %v", out, err)
		}
		if !back.Schema.Equal(sv.Schema) {
			t.Fatalf("schema changed: %s", out)
		}
		if !connect.ValuesEqual(back.Value, sv.Value) && !hasNaN(sv.Value) {
			t.Fatalf("value changed: %#v vs %#v (%s)", back.Value, sv.Value, out)
		}
	})
}

func hasNaN(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x)
	case float32:
		return math.IsNaN(float64(x))
	case []any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case map[any]any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case *connect.Struct:
		for _, f := range x.Schema().Fields {
			if hasNaN(x.GetWithoutDefault(f.Name)) {
				return true
			}
		}
	}
	return false
}
