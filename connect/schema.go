package connect

import (
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strings"
)

// Type is the type of a Schema: Kafka Connect's Schema.Type.
type Type int8

// The schema types. The zero Type is invalid.
const (
	TypeInt8 Type = iota + 1
	TypeInt16
	TypeInt32
	TypeInt64
	TypeFloat32
	TypeFloat64
	TypeBoolean
	TypeString
	TypeBytes
	TypeArray
	TypeMap
	TypeStruct
)

var typeNames = [...]string{"", "INT8", "INT16", "INT32", "INT64", "FLOAT32", "FLOAT64", "BOOLEAN", "STRING", "BYTES", "ARRAY", "MAP", "STRUCT"}

// String returns Kafka's enum name: "INT8", …, "STRUCT".
func (t Type) String() string {
	if t < TypeInt8 || t > TypeStruct {
		return fmt.Sprintf("Type(%d)", int8(t))
	}
	return typeNames[t]
}

// Name returns Kafka's lower-case type name (Schema.Type.getName):
// "int8", …, "float32", "float64", "boolean", "string", "bytes",
// "array", "map", "struct".
func (t Type) Name() string { return strings.ToLower(t.String()) }

// IsPrimitive reports whether t is neither ARRAY, MAP nor STRUCT.
func (t Type) IsPrimitive() bool { return t >= TypeInt8 && t <= TypeBytes }

// Schema describes the type of a key, a value or a header value: Kafka
// Connect's Schema (ConnectSchema). Which fields apply depends on Type:
// Fields for TypeStruct, ValueSchema for TypeArray, KeySchema and
// ValueSchema for TypeMap.
//
// A Schema must not be modified once it is in use: converters and
// records share schemas by pointer. Build schemas with SchemaBuilder, or
// use the predefined ones (StringSchema, OptionalInt64Schema, …).
//
// The Go value of each type, as Validate accepts it:
//
//	INT8 int8     INT16 int16     INT32 int32     INT64 int64
//	FLOAT32 float32  FLOAT64 float64  BOOLEAN bool  STRING string
//	BYTES []byte  ARRAY []any     MAP map[string]any or map[any]any
//	STRUCT *Struct
//
// and of the logical types (by Name): Decimal *big.Rat; Date, Time and
// Timestamp time.Time.
type Schema struct {
	// Type is the schema's type.
	Type Type
	// Optional reports whether a nil value is valid.
	Optional bool
	// Default is the value used for a missing or nil value, or nil.
	Default any
	// Name names the schema (a record or a logical type), or "".
	Name string
	// Version is the schema's version, or nil.
	Version *int32
	// Doc documents the schema, or "".
	Doc string
	// Parameters are free-form properties (a Decimal's "scale"), or nil.
	Parameters map[string]string
	// Fields are a STRUCT's fields, in order; Field.Index is the
	// position.
	Fields []Field
	// KeySchema is a MAP's key schema.
	KeySchema *Schema
	// ValueSchema is an ARRAY's element schema or a MAP's value schema.
	ValueSchema *Schema
}

// Field is one field of a STRUCT schema.
type Field struct {
	Name   string
	Index  int
	Schema *Schema
}

// The predefined schemas (Kafka's Schema.INT8_SCHEMA, …,
// Schema.OPTIONAL_BYTES_SCHEMA). They are shared: do not modify them.
var (
	Int8Schema    = &Schema{Type: TypeInt8}
	Int16Schema   = &Schema{Type: TypeInt16}
	Int32Schema   = &Schema{Type: TypeInt32}
	Int64Schema   = &Schema{Type: TypeInt64}
	Float32Schema = &Schema{Type: TypeFloat32}
	Float64Schema = &Schema{Type: TypeFloat64}
	BooleanSchema = &Schema{Type: TypeBoolean}
	StringSchema  = &Schema{Type: TypeString}
	BytesSchema   = &Schema{Type: TypeBytes}

	OptionalInt8Schema    = &Schema{Type: TypeInt8, Optional: true}
	OptionalInt16Schema   = &Schema{Type: TypeInt16, Optional: true}
	OptionalInt32Schema   = &Schema{Type: TypeInt32, Optional: true}
	OptionalInt64Schema   = &Schema{Type: TypeInt64, Optional: true}
	OptionalFloat32Schema = &Schema{Type: TypeFloat32, Optional: true}
	OptionalFloat64Schema = &Schema{Type: TypeFloat64, Optional: true}
	OptionalBooleanSchema = &Schema{Type: TypeBoolean, Optional: true}
	OptionalStringSchema  = &Schema{Type: TypeString, Optional: true}
	OptionalBytesSchema   = &Schema{Type: TypeBytes, Optional: true}
)

// Field returns the STRUCT field called name, or nil.
func (s *Schema) Field(name string) *Field {
	if s == nil {
		return nil
	}
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// Equal reports whether s and o describe the same schema (Kafka's
// ConnectSchema.equals): same type, optionality, default, name, version,
// doc, parameters, fields and key/value schemas.
func (s *Schema) Equal(o *Schema) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil {
		return false
	}
	if s.Type != o.Type || s.Optional != o.Optional || s.Name != o.Name || s.Doc != o.Doc {
		return false
	}
	if (s.Version == nil) != (o.Version == nil) || (s.Version != nil && *s.Version != *o.Version) {
		return false
	}
	if len(s.Parameters) != len(o.Parameters) || !maps.Equal(s.Parameters, o.Parameters) {
		return false
	}
	if !ValuesEqual(s.Default, o.Default) {
		return false
	}
	if len(s.Fields) != len(o.Fields) {
		return false
	}
	for i := range s.Fields {
		if s.Fields[i].Name != o.Fields[i].Name || s.Fields[i].Index != o.Fields[i].Index || !s.Fields[i].Schema.Equal(o.Fields[i].Schema) {
			return false
		}
	}
	return s.KeySchema.Equal(o.KeySchema) && s.ValueSchema.Equal(o.ValueSchema)
}

// String describes the schema as Kafka's ConnectSchema.toString does:
// "Schema{NAME:TYPE}" for a named schema, "Schema{TYPE}" otherwise.
func (s *Schema) String() string {
	if s == nil {
		return "null"
	}
	if s.Name != "" {
		return "Schema{" + s.Name + ":" + s.Type.String() + "}"
	}
	return "Schema{" + s.Type.String() + "}"
}

// SchemaBuilder builds a Schema step by step (Kafka's SchemaBuilder).
// Methods record the first misuse and return the builder, so calls
// chain; Build reports it.
//
//	point := connect.StructBuilder().Name("com.example.Point").
//		Field("x", connect.Int32Schema).
//		Field("y", connect.Int32Schema).
//		MustBuild()
type SchemaBuilder struct {
	s       Schema
	err     error
	set     map[string]bool
	hasDflt bool
}

// NewSchemaBuilder starts a schema of type t. Use ArrayBuilder,
// MapBuilder and StructBuilder for the container types.
func NewSchemaBuilder(t Type) *SchemaBuilder {
	b := &SchemaBuilder{s: Schema{Type: t}, set: map[string]bool{}}
	if t < TypeInt8 || t > TypeStruct {
		b.fail("unknown schema type %v", t)
	}
	return b
}

// Int8Builder and friends start a primitive schema.
func Int8Builder() *SchemaBuilder    { return NewSchemaBuilder(TypeInt8) }
func Int16Builder() *SchemaBuilder   { return NewSchemaBuilder(TypeInt16) }
func Int32Builder() *SchemaBuilder   { return NewSchemaBuilder(TypeInt32) }
func Int64Builder() *SchemaBuilder   { return NewSchemaBuilder(TypeInt64) }
func Float32Builder() *SchemaBuilder { return NewSchemaBuilder(TypeFloat32) }
func Float64Builder() *SchemaBuilder { return NewSchemaBuilder(TypeFloat64) }
func BooleanBuilder() *SchemaBuilder { return NewSchemaBuilder(TypeBoolean) }
func StringBuilder() *SchemaBuilder  { return NewSchemaBuilder(TypeString) }
func BytesBuilder() *SchemaBuilder   { return NewSchemaBuilder(TypeBytes) }

// StructBuilder starts a STRUCT schema; add fields with Field.
func StructBuilder() *SchemaBuilder { return NewSchemaBuilder(TypeStruct) }

// ArrayBuilder starts an ARRAY of elements of schema value.
func ArrayBuilder(value *Schema) *SchemaBuilder {
	b := NewSchemaBuilder(TypeArray)
	if value == nil {
		b.fail("array element schema may not be null")
	}
	b.s.ValueSchema = value
	return b
}

// MapBuilder starts a MAP from key to value schemas.
func MapBuilder(key, value *Schema) *SchemaBuilder {
	b := NewSchemaBuilder(TypeMap)
	if key == nil || value == nil {
		b.fail("map key and value schemas may not be null")
	}
	b.s.KeySchema, b.s.ValueSchema = key, value
	return b
}

func (b *SchemaBuilder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("%w: %s", ErrSchemaBuilder, fmt.Sprintf(format, args...))
	}
}

func (b *SchemaBuilder) once(what string) bool {
	if b.set[what] {
		b.fail("invalid SchemaBuilder call: %s has already been set", what)
		return false
	}
	b.set[what] = true
	return true
}

// Optional makes nil a valid value.
func (b *SchemaBuilder) Optional() *SchemaBuilder {
	if b.once("optional") {
		b.s.Optional = true
	}
	return b
}

// Required makes nil an invalid value (the default).
func (b *SchemaBuilder) Required() *SchemaBuilder {
	if b.once("optional") {
		b.s.Optional = false
	}
	return b
}

// Name names the schema.
func (b *SchemaBuilder) Name(name string) *SchemaBuilder {
	if b.once("name") {
		b.s.Name = name
	}
	return b
}

// Version sets the schema's version.
func (b *SchemaBuilder) Version(v int32) *SchemaBuilder {
	if b.once("version") {
		b.s.Version = &v
	}
	return b
}

// Doc documents the schema.
func (b *SchemaBuilder) Doc(doc string) *SchemaBuilder {
	if b.once("doc") {
		b.s.Doc = doc
	}
	return b
}

// Parameter adds one parameter.
func (b *SchemaBuilder) Parameter(name, value string) *SchemaBuilder {
	if b.s.Parameters == nil {
		b.s.Parameters = map[string]string{}
	}
	b.s.Parameters[name] = value
	return b
}

// Parameters adds parameters.
func (b *SchemaBuilder) Parameters(params map[string]string) *SchemaBuilder {
	for k, v := range params {
		b.Parameter(k, v)
	}
	return b
}

// DefaultValue sets the default; Build checks it against the schema.
func (b *SchemaBuilder) DefaultValue(v any) *SchemaBuilder {
	if b.once("default") {
		b.s.Default = v
		b.hasDflt = true
	}
	return b
}

// Field appends a STRUCT field.
func (b *SchemaBuilder) Field(name string, schema *Schema) *SchemaBuilder {
	switch {
	case b.s.Type != TypeStruct:
		b.fail("cannot create fields on type %v", b.s.Type)
	case name == "":
		b.fail("field name cannot be empty")
	case schema == nil:
		b.fail("field schema for %q cannot be null", name)
	case b.s.Field(name) != nil:
		b.fail("cannot create field because of field name duplication %s", name)
	default:
		b.s.Fields = append(b.s.Fields, Field{Name: name, Index: len(b.s.Fields), Schema: schema})
	}
	return b
}

// Build returns the schema, or the first misuse of the builder (wrapping
// ErrSchemaBuilder), including a default value the schema rejects.
func (b *SchemaBuilder) Build() (*Schema, error) {
	if b.err != nil {
		return nil, b.err
	}
	s := b.s
	s.Fields = append([]Field(nil), b.s.Fields...)
	s.Parameters = maps.Clone(b.s.Parameters)
	if b.hasDflt && s.Default != nil {
		if err := Validate(&s, s.Default); err != nil {
			return nil, fmt.Errorf("%w: invalid default value: %w", ErrSchemaBuilder, err)
		}
	}
	return &s, nil
}

// MustBuild is Build for schemas known to be valid; it panics on error.
func (b *SchemaBuilder) MustBuild() *Schema {
	s, err := b.Build()
	if err != nil {
		panic(err)
	}
	return s
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ValuesEqual reports whether two Connect values are equal: deep equality,
// with *Struct compared by Struct.Equal, *big.Rat by value and time.Time
// by instant.
func ValuesEqual(a, b any) bool {
	switch av := a.(type) {
	case *Struct:
		bv, ok := b.(*Struct)
		return ok && av.Equal(bv)
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !ValuesEqual(av[i], bv[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, v := range av {
			w, ok := bv[k]
			if !ok || !ValuesEqual(v, w) {
				return false
			}
		}
		return true
	case map[any]any:
		bv, ok := b.(map[any]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, v := range av {
			w, ok := bv[k]
			if !ok || !ValuesEqual(v, w) {
				return false
			}
		}
		return true
	}
	if eq, ok := logicalEqual(a, b); ok {
		return eq
	}
	return reflect.DeepEqual(a, b)
}
