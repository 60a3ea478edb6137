package converter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

// JsonConverter configuration keys (Kafka's JsonConverterConfig).
const (
	// SchemasEnableConfig: write and expect the {"schema","payload"}
	// envelope (default true).
	SchemasEnableConfig = "schemas.enable"
	// SchemasCacheSizeConfig is accepted for compatibility; Gregor does
	// not cache schemas.
	SchemasCacheSizeConfig = "schemas.cache.size"
	// DecimalFormatConfig: how Decimal values are written: BASE64 (the
	// unscaled bytes, default) or NUMERIC (a JSON number).
	DecimalFormatConfig = "decimal.format"
	// ReplaceNullWithDefaultConfig: write (and read) a null value of a
	// schema with a default as that default (default true, KIP-581).
	ReplaceNullWithDefaultConfig = "replace.null.with.default"
	// TypeConfig is set by the worker: "key", "value" or "header".
	TypeConfig = "converter.type"
)

var jsonConfigDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: SchemasEnableConfig, Type: connect.ConfigBoolean, Default: "true",
		Importance: connect.ImportanceHigh, Group: "Schemas", OrderInGroup: 1, Width: connect.WidthMedium, DisplayName: "Enable Schemas",
		Documentation: "Include schemas within each of the serialized values and keys."}).
	Define(connect.ConfigKey{Name: SchemasCacheSizeConfig, Type: connect.ConfigInt, Default: "1000",
		Importance: connect.ImportanceHigh, Group: "Schemas", OrderInGroup: 2, Width: connect.WidthMedium, DisplayName: "Schema Cache Size",
		Documentation: "The maximum number of schemas that can be cached in this converter instance."}).
	Define(connect.ConfigKey{Name: DecimalFormatConfig, Type: connect.ConfigString, Default: "BASE64",
		Validator:  connect.CaseInsensitiveIn("BASE64", "NUMERIC"),
		Importance: connect.ImportanceLow, Group: "Serialization", OrderInGroup: 1, Width: connect.WidthMedium, DisplayName: "Decimal Format",
		Documentation: "Controls which format this converter will serialize decimals in. This value is case insensitive and can be either 'BASE64' (default) or 'NUMERIC'"}).
	Define(connect.ConfigKey{Name: ReplaceNullWithDefaultConfig, Type: connect.ConfigBoolean, Default: "true",
		Importance: connect.ImportanceLow, Group: "Serialization", OrderInGroup: 2, Width: connect.WidthMedium, DisplayName: "Replace null with default",
		Documentation: "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used."}).
	Define(converterTypeKey())

func converterTypeKey() connect.ConfigKey {
	return connect.ConfigKey{Name: TypeConfig, Type: connect.ConfigString, Default: nil,
		Validator:     connect.ValidatorFunc{Func: validConverterType, Doc: "[key, value, header]"},
		Importance:    connect.ImportanceLow,
		Documentation: "How this converter will be used."}
}

func validConverterType(name string, v any) error {
	switch v {
	case nil, "key", "value", "header":
		return nil
	}
	return connect.ConfigError(name, v, "String must be one of: key, value, header")
}

// JsonConverter converts Connect data to and from JSON (Kafka's
// org.apache.kafka.connect.json.JsonConverter). With schemas.enable (the
// default) every value is written in an envelope that carries its schema:
//
//	{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"x"},
//	 "payload":{"id":1}}
//
// The schema JSON is Kafka's, field for field and in Kafka's order: "type"
// ("int8" … "int64", "float", "double", "boolean", "string", "bytes",
// "array", "map", "struct"), then "items" (array), "keys" and "values"
// (map) or "fields" (struct; each field's schema followed by its "field"
// name), then "optional", "name", "version", "doc", "parameters" and
// "default". Payloads: numbers and booleans as JSON, bytes as base64
// strings, maps with string keys as objects and others as arrays of
// [key, value] pairs, structs as objects in field order. Decimals are
// base64 (decimal.format=BASE64) or numbers (NUMERIC); Date, Time and
// Timestamp are their integer forms.
//
// Without schemas the payload alone is written; reading gives schemaless
// values (integers as int64, other numbers as float64, objects as
// map[string]any, arrays as []any). A nil value with no schema — a
// tombstone — is written as a null record value, and a null record value
// reads as a nil schema and value.
type JsonConverter struct {
	schemasEnabled         bool
	decimalNumeric         bool
	replaceNullWithDefault bool
}

// NewJsonConverter returns a JsonConverter with Kafka's defaults
// (schemas.enable=true, decimal.format=BASE64,
// replace.null.with.default=true), usable without Configure.
func NewJsonConverter() *JsonConverter {
	return &JsonConverter{schemasEnabled: true, replaceNullWithDefault: true}
}

// Config describes JsonConverter's configuration.
func (c *JsonConverter) Config() *connect.ConfigDef { return jsonConfigDef }

// Configure configures the converter from its properties (Kafka's names).
func (c *JsonConverter) Configure(configs map[string]string, isKey bool) error {
	return c.configure(configs)
}

func (c *JsonConverter) configure(configs map[string]string) error {
	pc, err := jsonConfigDef.Parse(configs)
	if err != nil {
		return err
	}
	c.schemasEnabled = pc.GetBool(SchemasEnableConfig)
	c.decimalNumeric = strings.EqualFold(pc.GetString(DecimalFormatConfig), "NUMERIC")
	c.replaceNullWithDefault = pc.GetBool(ReplaceNullWithDefaultConfig)
	return nil
}

// FromConnectData serializes value. A nil schema and nil value give nil
// (a null record key or value).
func (c *JsonConverter) FromConnectData(topic string, schema *connect.Schema, value any) ([]byte, error) {
	if schema == nil && value == nil {
		return nil, nil
	}
	w := &jsonWriter{}
	if c.schemasEnabled {
		w.raw(`{"schema":`)
		if err := c.writeSchema(w, schema); err != nil {
			return nil, err
		}
		w.raw(`,"payload":`)
	}
	if err := c.writeValue(w, schema, value); err != nil {
		return nil, err
	}
	if c.schemasEnabled {
		w.byte('}')
	}
	return w.buf, nil
}

// AsJSONSchema returns schema in Kafka's schema JSON ("null" for nil).
func (c *JsonConverter) AsJSONSchema(schema *connect.Schema) ([]byte, error) {
	w := &jsonWriter{}
	if err := c.writeSchema(w, schema); err != nil {
		return nil, err
	}
	return w.buf, nil
}

var jsonTypeNames = map[connect.Type]string{
	connect.TypeBoolean: "boolean", connect.TypeInt8: "int8", connect.TypeInt16: "int16",
	connect.TypeInt32: "int32", connect.TypeInt64: "int64", connect.TypeFloat32: "float",
	connect.TypeFloat64: "double", connect.TypeBytes: "bytes", connect.TypeString: "string",
	connect.TypeArray: "array", connect.TypeMap: "map", connect.TypeStruct: "struct",
}

func (c *JsonConverter) writeSchema(w *jsonWriter, s *connect.Schema) error {
	return c.writeSchemaField(w, s, "")
}

// writeSchemaField writes s; a non-empty field name is appended as a
// struct field's "field" entry.
func (c *JsonConverter) writeSchemaField(w *jsonWriter, s *connect.Schema, field string) error {
	if s == nil {
		w.raw("null")
		return nil
	}
	name, ok := jsonTypeNames[s.Type]
	if !ok {
		return fmt.Errorf("%w: couldn't translate unsupported schema type %v", connect.ErrData, s)
	}
	w.raw(`{"type":`)
	w.str(name)
	switch s.Type {
	case connect.TypeArray:
		w.raw(`,"items":`)
		if err := c.writeSchema(w, s.ValueSchema); err != nil {
			return err
		}
	case connect.TypeMap:
		w.raw(`,"keys":`)
		if err := c.writeSchema(w, s.KeySchema); err != nil {
			return err
		}
		w.raw(`,"values":`)
		if err := c.writeSchema(w, s.ValueSchema); err != nil {
			return err
		}
	case connect.TypeStruct:
		w.raw(`,"fields":[`)
		for i, f := range s.Fields {
			if i > 0 {
				w.byte(',')
			}
			if err := c.writeSchemaField(w, f.Schema, f.Name); err != nil {
				return err
			}
		}
		w.byte(']')
	}
	w.raw(`,"optional":`)
	w.bool(s.Optional)
	if s.Name != "" {
		w.raw(`,"name":`)
		w.str(s.Name)
	}
	if s.Version != nil {
		w.raw(`,"version":`)
		w.int(int64(*s.Version))
	}
	if s.Doc != "" {
		w.raw(`,"doc":`)
		w.str(s.Doc)
	}
	if s.Parameters != nil {
		w.raw(`,"parameters":{`)
		for i, k := range sortedKeys(s.Parameters) {
			w.key(k, i == 0)
			w.str(s.Parameters[k])
		}
		w.byte('}')
	}
	if s.Default != nil {
		w.raw(`,"default":`)
		if err := c.writeValue(w, s, s.Default); err != nil {
			return err
		}
	}
	if field != "" {
		w.raw(`,"field":`)
		w.str(field)
	}
	w.byte('}')
	return nil
}

// writeValue writes value (Kafka's convertToJson).
func (c *JsonConverter) writeValue(w *jsonWriter, s *connect.Schema, value any) error {
	if value == nil {
		switch {
		case s == nil:
			w.raw("null")
			return nil
		case s.Default != nil && c.replaceNullWithDefault:
			return c.writeValue(w, s, s.Default)
		case s.Optional:
			w.raw("null")
			return nil
		}
		return fmt.Errorf("%w: conversion error: null value for field that is required and has no default value", connect.ErrData)
	}
	if s != nil {
		if done, err := c.writeLogical(w, s, value); done || err != nil {
			return err
		}
	}
	t := connect.Type(0)
	if s != nil {
		t = s.Type
	} else if inferred := connect.InferSchema(value); inferred != nil {
		t = inferred.Type
	} else {
		switch value.(type) {
		case int, uint8, uint16, uint32:
			t = connect.TypeInt64
		default:
			return fmt.Errorf("%w: Java class %T does not have corresponding schema type", connect.ErrData, value)
		}
	}
	mismatch := func() error {
		return fmt.Errorf("%w: invalid type for %v: %T", connect.ErrData, t, value)
	}
	switch t {
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64:
		n, ok := asInt64(value)
		if !ok || (s != nil && !intKindMatches(t, value)) {
			return mismatch()
		}
		w.int(n)
	case connect.TypeFloat32:
		f, ok := value.(float32)
		if !ok {
			return mismatch()
		}
		w.float(float64(f), 32)
	case connect.TypeFloat64:
		f, ok := value.(float64)
		if !ok {
			return mismatch()
		}
		w.float(f, 64)
	case connect.TypeBoolean:
		b, ok := value.(bool)
		if !ok {
			return mismatch()
		}
		w.bool(b)
	case connect.TypeString:
		str, ok := value.(string)
		if !ok {
			return mismatch()
		}
		w.str(str)
	case connect.TypeBytes:
		b, ok := value.([]byte)
		if !ok {
			return mismatch()
		}
		w.bytes(b)
	case connect.TypeArray:
		elems, ok := value.([]any)
		if !ok {
			return mismatch()
		}
		var elemSchema *connect.Schema
		if s != nil {
			elemSchema = s.ValueSchema
		}
		w.byte('[')
		for i, e := range elems {
			if i > 0 {
				w.byte(',')
			}
			if err := c.writeValue(w, elemSchema, e); err != nil {
				return err
			}
		}
		w.byte(']')
	case connect.TypeMap:
		return c.writeMap(w, s, value)
	case connect.TypeStruct:
		st, ok := value.(*connect.Struct)
		if !ok || st == nil {
			return mismatch()
		}
		if s == nil || !st.Schema().Equal(s) {
			return fmt.Errorf("%w: mismatching schema", connect.ErrData)
		}
		if err := st.Err(); err != nil {
			return err
		}
		w.byte('{')
		for i, f := range s.Fields {
			w.key(f.Name, i == 0)
			if err := c.writeValue(w, f.Schema, st.GetWithoutDefault(f.Name)); err != nil {
				return err
			}
		}
		w.byte('}')
	default:
		return fmt.Errorf("%w: couldn't convert %T to JSON", connect.ErrData, value)
	}
	return nil
}

func (c *JsonConverter) writeMap(w *jsonWriter, s *connect.Schema, value any) error {
	var keySchema, valueSchema *connect.Schema
	if s != nil {
		keySchema, valueSchema = s.KeySchema, s.ValueSchema
	}
	switch m := value.(type) {
	case map[string]any:
		if keySchema != nil && keySchema.Type != connect.TypeString {
			return fmt.Errorf("%w: map with string keys for a map schema with %v keys", connect.ErrData, keySchema.Type)
		}
		w.byte('{')
		for i, k := range sortedKeys(m) {
			w.key(k, i == 0)
			if err := c.writeValue(w, valueSchema, m[k]); err != nil {
				return err
			}
		}
		w.byte('}')
		return nil
	case map[any]any:
		objectMode := keySchema != nil && keySchema.Type == connect.TypeString
		if keySchema == nil {
			objectMode = true
			for k := range m {
				if _, ok := k.(string); !ok {
					objectMode = false
					break
				}
			}
		}
		// Order entries by their formatted key for stable output.
		keys := make([]any, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sortAny(keys)
		if objectMode {
			w.byte('{')
			for i, k := range keys {
				ks, ok := k.(string)
				if !ok {
					return fmt.Errorf("%w: map key %T for a map schema with string keys", connect.ErrData, k)
				}
				w.key(ks, i == 0)
				if err := c.writeValue(w, valueSchema, m[k]); err != nil {
					return err
				}
			}
			w.byte('}')
			return nil
		}
		w.byte('[')
		for i, k := range keys {
			if i > 0 {
				w.byte(',')
			}
			w.byte('[')
			if err := c.writeValue(w, keySchema, k); err != nil {
				return err
			}
			w.byte(',')
			if err := c.writeValue(w, valueSchema, m[k]); err != nil {
				return err
			}
			w.byte(']')
		}
		w.byte(']')
		return nil
	}
	return fmt.Errorf("%w: invalid type for MAP: %T", connect.ErrData, value)
}

// writeLogical writes the Go value of a logical type; done is false when
// s is not one.
func (c *JsonConverter) writeLogical(w *jsonWriter, s *connect.Schema, value any) (done bool, err error) {
	switch s.Name {
	case connect.DecimalLogicalName:
		r, ok := value.(*big.Rat)
		if !ok {
			return true, fmt.Errorf("%w: invalid type for Decimal, expected *big.Rat but was %T", connect.ErrData, value)
		}
		scale, err := connect.DecimalScale(s)
		if err != nil {
			return true, err
		}
		if c.decimalNumeric {
			unscaled, err := connect.DecimalUnscaled(r, scale)
			if err != nil {
				return true, err
			}
			w.raw(plainDecimal(unscaled, scale))
			return true, nil
		}
		b, err := connect.DecimalFromLogical(s, r)
		if err != nil {
			return true, err
		}
		w.bytes(b)
		return true, nil
	case connect.DateLogicalName, connect.TimeLogicalName, connect.TimestampLogicalName:
		t, ok := value.(time.Time)
		if !ok {
			return true, fmt.Errorf("%w: invalid type for %s, expected time.Time but was %T", connect.ErrData, s.Name, value)
		}
		switch s.Name {
		case connect.DateLogicalName:
			days, err := connect.DateFromLogical(t)
			if err != nil {
				return true, err
			}
			w.int(int64(days))
		case connect.TimeLogicalName:
			ms, err := connect.TimeFromLogical(t)
			if err != nil {
				return true, err
			}
			w.int(int64(ms))
		default:
			w.int(connect.TimestampFromLogical(t))
		}
		return true, nil
	}
	return false, nil
}

// plainDecimal writes unscaled × 10^-scale as BigDecimal.toPlainString.
func plainDecimal(unscaled *big.Int, scale int32) string {
	digits := new(big.Int).Abs(unscaled).String()
	sign := ""
	if unscaled.Sign() < 0 {
		sign = "-"
	}
	if scale <= 0 {
		if unscaled.Sign() == 0 {
			return "0"
		}
		return sign + digits + strings.Repeat("0", int(-scale))
	}
	if len(digits) <= int(scale) {
		digits = strings.Repeat("0", int(scale)-len(digits)+1) + digits
	}
	cut := len(digits) - int(scale)
	return sign + digits[:cut] + "." + digits[cut:]
}

// ToConnectData deserializes data. nil (or empty) data gives a nil schema
// and value.
func (c *JsonConverter) ToConnectData(topic string, data []byte) (connect.SchemaAndValue, error) {
	if len(data) == 0 {
		return connect.SchemaAndValue{}, nil
	}
	node, err := decodeJSON(data)
	if err != nil {
		return connect.SchemaAndValue{}, fmt.Errorf("%w: converting byte[] to Kafka Connect data failed due to serialization error: %w", connect.ErrData, err)
	}
	if !c.schemasEnabled {
		v, err := c.toConnect(nil, node, true)
		return connect.SchemaAndValue{Value: v}, err
	}
	obj, ok := node.(map[string]any)
	_, hasSchema := obj["schema"]
	_, hasPayload := obj["payload"]
	if !ok || len(obj) != 2 || !hasSchema || !hasPayload {
		return connect.SchemaAndValue{}, fmt.Errorf("%w: JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.", connect.ErrData)
	}
	schema, err := c.AsConnectSchema(obj["schema"])
	if err != nil {
		return connect.SchemaAndValue{}, err
	}
	v, err := c.toConnect(schema, obj["payload"], true)
	if err != nil {
		return connect.SchemaAndValue{}, err
	}
	return connect.SchemaAndValue{Schema: schema, Value: v}, nil
}

// decodeJSON parses one JSON document, keeping numbers as json.Number.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// AsConnectSchema parses a schema in Kafka's schema JSON, given as a
// decoded JSON value (map[string]any; nil for no schema).
func (c *JsonConverter) AsConnectSchema(node any) (*connect.Schema, error) {
	if node == nil {
		return nil, nil
	}
	obj, ok := node.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: schema must be a JSON object", connect.ErrData)
	}
	typeName, ok := obj["type"].(string)
	if !ok {
		return nil, fmt.Errorf("%w: Schema must contain 'type' field", connect.ErrData)
	}
	var b *connect.SchemaBuilder
	switch typeName {
	case "boolean":
		b = connect.BooleanBuilder()
	case "int8":
		b = connect.Int8Builder()
	case "int16":
		b = connect.Int16Builder()
	case "int32":
		b = connect.Int32Builder()
	case "int64":
		b = connect.Int64Builder()
	case "float":
		b = connect.Float32Builder()
	case "double":
		b = connect.Float64Builder()
	case "bytes":
		b = connect.BytesBuilder()
	case "string":
		b = connect.StringBuilder()
	case "array":
		items, ok := obj["items"]
		if !ok || items == nil {
			return nil, fmt.Errorf("%w: Array schema did not specify the element type", connect.ErrData)
		}
		elem, err := c.AsConnectSchema(items)
		if err != nil {
			return nil, err
		}
		b = connect.ArrayBuilder(elem)
	case "map":
		keysNode, ok := obj["keys"]
		if !ok {
			return nil, fmt.Errorf("%w: Map schema did not specify the key type", connect.ErrData)
		}
		valuesNode, ok := obj["values"]
		if !ok {
			return nil, fmt.Errorf("%w: Map schema did not specify the value type", connect.ErrData)
		}
		k, err := c.AsConnectSchema(keysNode)
		if err != nil {
			return nil, err
		}
		v, err := c.AsConnectSchema(valuesNode)
		if err != nil {
			return nil, err
		}
		b = connect.MapBuilder(k, v)
	case "struct":
		b = connect.StructBuilder()
		fields, ok := obj["fields"].([]any)
		if !ok {
			return nil, fmt.Errorf("%w: Struct schema's \"fields\" argument is not an array.", connect.ErrData)
		}
		for _, f := range fields {
			fobj, _ := f.(map[string]any)
			name, ok := fobj["field"].(string)
			if !ok {
				return nil, fmt.Errorf("%w: Struct schema's field name not specified properly", connect.ErrData)
			}
			fs, err := c.AsConnectSchema(fobj)
			if err != nil {
				return nil, err
			}
			b.Field(name, fs)
		}
	default:
		return nil, fmt.Errorf("%w: Unknown schema type: %s", connect.ErrData, typeName)
	}
	if opt, ok := obj["optional"].(bool); ok && opt {
		b.Optional()
	}
	if name, ok := obj["name"].(string); ok {
		b.Name(name)
	}
	if v, ok := obj["version"].(json.Number); ok {
		if n, err := strconv.ParseInt(v.String(), 10, 32); err == nil {
			b.Version(int32(n))
		}
	}
	if doc, ok := obj["doc"].(string); ok {
		b.Doc(doc)
	}
	if params, ok := obj["parameters"].(map[string]any); ok {
		for k, v := range params {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%w: Schema parameters must have string values.", connect.ErrData)
			}
			b.Parameter(k, s)
		}
	}
	s, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", connect.ErrData, err)
	}
	if dflt, ok := obj["default"]; ok && dflt != nil {
		v, err := c.toConnect(s, dflt, false)
		if err != nil {
			return nil, err
		}
		if err := connect.Validate(s, v); err != nil {
			return nil, err
		}
		s.Default = v
	}
	return s, nil
}

// toConnect converts a decoded JSON value to Connect data for schema
// (Kafka's convertToConnect). useDefault applies a schema's default to a
// null value.
func (c *JsonConverter) toConnect(s *connect.Schema, node any, useDefault bool) (any, error) {
	if s == nil {
		return schemaless(node)
	}
	if node == nil {
		switch {
		case useDefault && s.Default != nil && c.replaceNullWithDefault:
			return s.Default, nil
		case s.Optional:
			return nil, nil
		}
		return nil, fmt.Errorf("%w: Invalid null value for required %v field", connect.ErrData, s.Type)
	}
	bad := func(what string) error {
		return fmt.Errorf("%w: expected %s for %v, found %s", connect.ErrData, what, s.Type, jsonKind(node))
	}
	var v any
	switch s.Type {
	case connect.TypeBoolean:
		b, ok := node.(bool)
		if !ok {
			return nil, bad("a boolean")
		}
		v = b
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64:
		num, ok := node.(json.Number)
		if !ok {
			return nil, bad("a number")
		}
		bits := map[connect.Type]int{connect.TypeInt8: 8, connect.TypeInt16: 16, connect.TypeInt32: 32, connect.TypeInt64: 64}[s.Type]
		n, err := strconv.ParseInt(num.String(), 10, bits)
		if err != nil {
			f, ferr := strconv.ParseFloat(num.String(), 64)
			if ferr != nil || f != math.Trunc(f) {
				return nil, fmt.Errorf("%w: %s is not a valid %v", connect.ErrData, num, s.Type)
			}
			n, err = strconv.ParseInt(strconv.FormatFloat(f, 'f', 0, 64), 10, bits)
			if err != nil {
				return nil, fmt.Errorf("%w: %s is out of range for %v", connect.ErrData, num, s.Type)
			}
		}
		switch s.Type {
		case connect.TypeInt8:
			v = int8(n)
		case connect.TypeInt16:
			v = int16(n)
		case connect.TypeInt32:
			v = int32(n)
		default:
			v = n
		}
	case connect.TypeFloat32, connect.TypeFloat64:
		f, err := jsonFloat(node)
		if err != nil {
			return nil, bad("a number")
		}
		if s.Type == connect.TypeFloat32 {
			v = float32(f)
		} else {
			v = f
		}
	case connect.TypeString:
		str, ok := node.(string)
		if !ok {
			return nil, bad("a string")
		}
		v = str
	case connect.TypeBytes:
		if s.Name == connect.DecimalLogicalName {
			if num, ok := node.(json.Number); ok {
				return numericDecimal(s, num)
			}
		}
		str, ok := node.(string)
		if !ok {
			return nil, bad("a base64 string")
		}
		b, err := decodeBase64(str)
		if err != nil {
			return nil, fmt.Errorf("%w: Invalid bytes field: %w", connect.ErrData, err)
		}
		v = b
	case connect.TypeArray:
		elems, ok := node.([]any)
		if !ok {
			return nil, bad("an array")
		}
		out := make([]any, len(elems))
		for i, e := range elems {
			ev, err := c.toConnect(s.ValueSchema, e, true)
			if err != nil {
				return nil, err
			}
			out[i] = ev
		}
		v = out
	case connect.TypeMap:
		mv, err := c.toConnectMap(s, node)
		if err != nil {
			return nil, err
		}
		v = mv
	case connect.TypeStruct:
		obj, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: Structs should be encoded as JSON objects, but found %s", connect.ErrData, jsonKind(node))
		}
		st := connect.NewStruct(s)
		for _, f := range s.Fields {
			fv, err := c.toConnect(f.Schema, obj[f.Name], true)
			if err != nil {
				return nil, err
			}
			st.Put(f.Name, fv)
		}
		if err := st.Err(); err != nil {
			return nil, err
		}
		v = st
	default:
		return nil, fmt.Errorf("%w: unknown schema type %v", connect.ErrData, s.Type)
	}
	return toLogical(s, v)
}

func (c *JsonConverter) toConnectMap(s *connect.Schema, node any) (any, error) {
	if s.KeySchema == nil || s.KeySchema.Type == connect.TypeString {
		obj, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: Maps with string fields should be encoded as JSON objects, but found %s", connect.ErrData, jsonKind(node))
		}
		out := make(map[string]any, len(obj))
		for k, e := range obj {
			ev, err := c.toConnect(s.ValueSchema, e, true)
			if err != nil {
				return nil, err
			}
			out[k] = ev
		}
		return out, nil
	}
	entries, ok := node.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: Maps with non-string fields should be encoded as JSON array of tuples, but found %s", connect.ErrData, jsonKind(node))
	}
	out := make(map[any]any, len(entries))
	for _, e := range entries {
		pair, ok := e.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: Found invalid map entry instead of array tuple: %s", connect.ErrData, jsonKind(e))
		}
		if len(pair) != 2 {
			return nil, fmt.Errorf("%w: Found invalid map entry, expected length 2 but found :%d", connect.ErrData, len(pair))
		}
		k, err := c.toConnect(s.KeySchema, pair[0], true)
		if err != nil {
			return nil, err
		}
		if !hashable(k) {
			return nil, fmt.Errorf("%w: map keys of type %v cannot be used in Go maps", connect.ErrData, s.KeySchema.Type)
		}
		ev, err := c.toConnect(s.ValueSchema, pair[1], true)
		if err != nil {
			return nil, err
		}
		out[k] = ev
	}
	return out, nil
}

// toLogical converts the primitive value of a logical type to its Go
// value.
func toLogical(s *connect.Schema, v any) (any, error) {
	switch s.Name {
	case connect.DecimalLogicalName:
		if b, ok := v.([]byte); ok {
			return connect.DecimalToLogical(s, b)
		}
	case connect.DateLogicalName:
		if n, ok := v.(int32); ok {
			return connect.DateToLogical(n), nil
		}
	case connect.TimeLogicalName:
		if n, ok := v.(int32); ok {
			return connect.TimeToLogical(n)
		}
	case connect.TimestampLogicalName:
		if n, ok := v.(int64); ok {
			return connect.TimestampToLogical(n), nil
		}
	}
	return v, nil
}

// numericDecimal reads a Decimal written as a JSON number.
func numericDecimal(s *connect.Schema, num json.Number) (any, error) {
	r, ok := new(big.Rat).SetString(num.String())
	if !ok {
		return nil, fmt.Errorf("%w: invalid decimal %s", connect.ErrData, num)
	}
	scale, err := connect.DecimalScale(s)
	if err != nil {
		return nil, err
	}
	if _, err := connect.DecimalUnscaled(r, scale); err != nil {
		return nil, err
	}
	return r, nil
}

// schemaless converts a decoded JSON value without a schema: integers to
// int64, other numbers to float64, objects to map[string]any.
func schemaless(node any) (any, error) {
	switch x := node.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: invalid number %s", connect.ErrData, s)
		}
		return f, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			v, err := schemaless(e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			v, err := schemaless(e)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unexpected JSON value %T", connect.ErrData, node)
}

func jsonFloat(node any) (float64, error) {
	switch x := node.(type) {
	case json.Number:
		return strconv.ParseFloat(x.String(), 64)
	case string:
		switch x {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, errors.New("not a number")
}

func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// jsonKind names a decoded JSON value's node type as Jackson does.
func jsonKind(node any) string {
	switch node.(type) {
	case nil:
		return "NULL"
	case bool:
		return "BOOLEAN"
	case json.Number:
		return "NUMBER"
	case string:
		return "STRING"
	case []any:
		return "ARRAY"
	case map[string]any:
		return "OBJECT"
	}
	return "MISSING"
}

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	}
	return 0, false
}

// intKindMatches reports whether v's Go type is t's.
func intKindMatches(t connect.Type, v any) bool {
	switch v.(type) {
	case int8:
		return t == connect.TypeInt8
	case int16:
		return t == connect.TypeInt16
	case int32:
		return t == connect.TypeInt32
	case int64:
		return t == connect.TypeInt64
	}
	return false
}

func hashable(v any) bool {
	switch v.(type) {
	case []byte, []any, map[string]any, map[any]any:
		return false
	}
	return true
}
