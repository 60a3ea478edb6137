package converter

import (
	"encoding/base64"
	"maps"
	"math"
	"strconv"

	"github.com/gregor-streaming/gregor/connect"
)

// AsHeaderConverter lets a Converter convert header values (Kafka's
// JsonConverter, StringConverter and ByteArrayConverter are both): it is
// configured with converter.type=header and converts each header value as
// it would a record value.
func AsHeaderConverter(c connect.Converter) connect.HeaderConverter { return headerAdapter{c} }

type headerAdapter struct{ c connect.Converter }

func (h headerAdapter) Configure(configs map[string]string) error {
	configs = maps.Clone(configs)
	if configs == nil {
		configs = map[string]string{}
	}
	configs[TypeConfig] = "header"
	return h.c.Configure(configs, false)
}

func (h headerAdapter) FromConnectHeader(topic, key string, schema *connect.Schema, value any) ([]byte, error) {
	return h.c.FromConnectData(topic, schema, value)
}

func (h headerAdapter) ToConnectHeader(topic, key string, data []byte) (connect.SchemaAndValue, error) {
	return h.c.ToConnectData(topic, data)
}

// Config describes the wrapped converter's configuration, if it has one.
func (h headerAdapter) Config() *connect.ConfigDef {
	if c, ok := h.c.(connect.Configurable); ok {
		return c.Config()
	}
	return connect.NewConfigDef()
}

// SimpleHeaderConverter is the worker's default header converter (Kafka's
// org.apache.kafka.connect.storage.SimpleHeaderConverter): values are
// written as strings — primitives in their string form, bytes in base64,
// arrays, maps and structs as schemaless JSON — and read back with an
// inferred schema: "true"/"false" as BOOLEAN, integers as the smallest of
// INT8 … INT64 that holds them, other numbers as FLOAT64, anything else
// as STRING. (Kafka's inference also parses arrays, maps, dates and
// times; Gregor leaves those as STRING.)
type SimpleHeaderConverter struct{}

var simpleHeaderConfigDef = connect.NewConfigDef().Define(converterTypeKey())

// Config describes SimpleHeaderConverter's (empty) configuration.
func (SimpleHeaderConverter) Config() *connect.ConfigDef { return simpleHeaderConfigDef }

// Configure accepts any configuration.
func (SimpleHeaderConverter) Configure(map[string]string) error { return nil }

// FromConnectHeader writes value's string form.
func (SimpleHeaderConverter) FromConnectHeader(topic, key string, schema *connect.Schema, value any) ([]byte, error) {
	switch v := value.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	case []byte:
		return []byte(base64.StdEncoding.EncodeToString(v)), nil
	case []any, map[string]any, map[any]any, *connect.Struct:
		jc := &JsonConverter{replaceNullWithDefault: true}
		return jc.FromConnectData(topic, schema, value)
	}
	return []byte(connect.FormatValue(value)), nil
}

// ToConnectHeader infers a schema for the header's string.
func (SimpleHeaderConverter) ToConnectHeader(topic, key string, data []byte) (connect.SchemaAndValue, error) {
	if data == nil {
		return connect.SchemaAndValue{}, nil
	}
	s := string(data)
	switch s {
	case "true":
		return connect.SchemaAndValue{Schema: connect.BooleanSchema, Value: true}, nil
	case "false":
		return connect.SchemaAndValue{Schema: connect.BooleanSchema, Value: false}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n >= math.MinInt8 && n <= math.MaxInt8:
			return connect.SchemaAndValue{Schema: connect.Int8Schema, Value: int8(n)}, nil
		case n >= math.MinInt16 && n <= math.MaxInt16:
			return connect.SchemaAndValue{Schema: connect.Int16Schema, Value: int16(n)}, nil
		case n >= math.MinInt32 && n <= math.MaxInt32:
			return connect.SchemaAndValue{Schema: connect.Int32Schema, Value: int32(n)}, nil
		}
		return connect.SchemaAndValue{Schema: connect.Int64Schema, Value: n}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return connect.SchemaAndValue{Schema: connect.Float64Schema, Value: f}, nil
	}
	return connect.SchemaAndValue{Schema: connect.StringSchema, Value: s}, nil
}
