package converter

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gregor-streaming/gregor/connect"
)

func TestStringConverter(t *testing.T) {
	c := NewStringConverter()
	if err := c.Configure(map[string]string{TypeConfig: "value"}, false); err != nil {
		t.Fatal(err)
	}
	point := connect.StructBuilder().Field("x", connect.Int32Schema).MustBuild()
	for _, tc := range []struct {
		schema *connect.Schema
		v      any
		want   string
	}{
		{connect.StringSchema, "héllo", "héllo"},
		{connect.Int64Schema, int64(-3), "-3"},
		{connect.Float64Schema, 2.0, "2.0"},
		{point, connect.NewStruct(point).Put("x", int32(1)), "Struct{x=1}"},
	} {
		b, err := c.FromConnectData("t", tc.schema, tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("FromConnectData(%v) = %q, %v; want %q", tc.v, b, err, tc.want)
		}
	}
	if b, err := c.FromConnectData("t", nil, nil); b != nil || err != nil {
		t.Fatalf("null: %q %v", b, err)
	}
	sv, err := c.ToConnectData("t", []byte("abc"))
	if err != nil || sv.Schema != connect.OptionalStringSchema || sv.Value != "abc" {
		t.Fatalf("%+v %v", sv, err)
	}
	if sv, _ := c.ToConnectData("t", nil); sv.Value != nil || sv.Schema != connect.OptionalStringSchema {
		t.Fatalf("tombstone %+v", sv)
	}

	latin := NewStringConverter()
	if err := latin.Configure(map[string]string{EncodingConfig: "ISO-8859-1"}, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := latin.FromConnectData("t", nil, "é"); !reflect.DeepEqual(b, []byte{0xe9}) {
		t.Fatalf("latin1 %x", b)
	}
	if sv, _ := latin.ToConnectData("t", []byte{0xe9}); sv.Value != "é" {
		t.Fatalf("latin1 %q", sv.Value)
	}
	if err := NewStringConverter().Configure(map[string]string{EncodingConfig: "EBCDIC"}, false); !errors.Is(err, connect.ErrConfig) {
		t.Fatal(err)
	}
}

func TestByteArrayConverter(t *testing.T) {
	var c ByteArrayConverter
	if b, err := c.FromConnectData("t", connect.BytesSchema, []byte{1, 2}); err != nil || !reflect.DeepEqual(b, []byte{1, 2}) {
		t.Fatal(b, err)
	}
	if _, err := c.FromConnectData("t", connect.StringSchema, "x"); !errors.Is(err, connect.ErrData) {
		t.Fatal(err)
	}
	if _, err := c.FromConnectData("t", nil, "x"); !errors.Is(err, connect.ErrData) {
		t.Fatal(err)
	}
	sv, _ := c.ToConnectData("t", []byte{3})
	if sv.Schema != connect.OptionalBytesSchema || !reflect.DeepEqual(sv.Value, []byte{3}) {
		t.Fatalf("%+v", sv)
	}
}

func TestHeaderConverters(t *testing.T) {
	var s SimpleHeaderConverter
	for _, tc := range []struct {
		in     string
		schema *connect.Schema
		value  any
	}{
		{"true", connect.BooleanSchema, true},
		{"12", connect.Int8Schema, int8(12)},
		{"300", connect.Int16Schema, int16(300)},
		{"70000", connect.Int32Schema, int32(70000)},
		{"1.5", connect.Float64Schema, 1.5},
		{"hello", connect.StringSchema, "hello"},
	} {
		sv, err := s.ToConnectHeader("t", "h", []byte(tc.in))
		if err != nil || sv.Schema != tc.schema || sv.Value != tc.value {
			t.Errorf("%q: %+v %v", tc.in, sv, err)
		}
		b, err := s.FromConnectHeader("t", "h", sv.Schema, sv.Value)
		if err != nil || string(b) != tc.in {
			t.Errorf("%q back: %q %v", tc.in, b, err)
		}
	}
	h := AsHeaderConverter(NewJsonConverter())
	if err := h.Configure(map[string]string{SchemasEnableConfig: "false"}); err != nil {
		t.Fatal(err)
	}
	b, err := h.FromConnectHeader("t", "h", connect.Int32Schema, int32(5))
	if err != nil || string(b) != "5" {
		t.Fatalf("%q %v", b, err)
	}
}

// The registry answers to Kafka's class names and aliases.
func TestRegistered(t *testing.T) {
	for _, name := range []string{JsonConverterClass, "JsonConverter", "Json", StringConverterClass, ByteArrayConverterClass} {
		p, err := connect.LookupPlugin(name, connect.PluginConverter)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, ok := p.New().(connect.Converter); !ok {
			t.Errorf("%s is not a Converter", name)
		}
	}
	p, err := connect.LookupPlugin(SimpleHeaderConverterClass, connect.PluginHeaderConverter)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.New().(connect.HeaderConverter); !ok {
		t.Fatal("SimpleHeaderConverter is not a HeaderConverter")
	}
}
