package connect

import (
	"fmt"
	"strings"
)

// Struct is the value of a STRUCT schema (Kafka's Struct): one value per
// field of its schema, nil until Put.
//
// Put records the first error (an unknown field or a value of the wrong
// type) and returns the Struct so that calls chain; Err reports it and
// Validate also checks that every required field is set:
//
//	s := connect.NewStruct(point).Put("x", int32(1)).Put("y", int32(2))
//	if err := s.Validate(); err != nil { … }
//
// A Struct is not safe for concurrent modification.
type Struct struct {
	schema *Schema
	values []any
	err    error
}

// NewStruct returns an empty Struct of schema, which must be a STRUCT
// schema (otherwise every Put fails and Err reports why).
func NewStruct(schema *Schema) *Struct {
	s := &Struct{schema: schema}
	if schema == nil || schema.Type != TypeStruct {
		s.err = fmt.Errorf("%w: not a struct schema: %v", ErrData, schema)
		return s
	}
	s.values = make([]any, len(schema.Fields))
	return s
}

// Schema returns the struct's schema.
func (s *Struct) Schema() *Schema { return s.schema }

// Put sets field name to value after checking value against the field's
// schema. A failure is recorded for Err and the field is left unchanged.
func (s *Struct) Put(name string, value any) *Struct {
	if s.err != nil && s.values == nil {
		return s
	}
	f := s.schema.Field(name)
	if f == nil {
		s.setErr(fmt.Errorf("%w: %s is not a valid field name", ErrData, name))
		return s
	}
	if err := validateField(name, f.Schema, value); err != nil {
		s.setErr(err)
		return s
	}
	s.values[f.Index] = value
	return s
}

func (s *Struct) setErr(err error) {
	if s.err == nil {
		s.err = err
	}
}

// Err returns the first error recorded by Put (or NewStruct), or nil.
func (s *Struct) Err() error { return s.err }

// Get returns field name's value, or the field's default if the value is
// nil (Kafka's Struct.get). An unknown field gives nil.
func (s *Struct) Get(name string) any {
	f := s.schema.Field(name)
	if f == nil {
		return nil
	}
	if v := s.values[f.Index]; v != nil {
		return v
	}
	return f.Schema.Default
}

// GetWithoutDefault returns field name's value without applying the
// field's default.
func (s *Struct) GetWithoutDefault(name string) any {
	f := s.schema.Field(name)
	if f == nil {
		return nil
	}
	return s.values[f.Index]
}

// Validate returns Err, or an error for the first required field without a
// value or default (Kafka's Struct.validate). Errors wrap ErrData.
func (s *Struct) Validate() error {
	if s.err != nil {
		return s.err
	}
	for _, f := range s.schema.Fields {
		if err := validateField(f.Name, f.Schema, s.values[f.Index]); err != nil {
			return err
		}
	}
	return nil
}

// Equal reports whether o has an equal schema and equal field values.
func (s *Struct) Equal(o *Struct) bool {
	if s == nil || o == nil {
		return s == o
	}
	if !s.schema.Equal(o.schema) || len(s.values) != len(o.values) {
		return false
	}
	for i := range s.values {
		if !ValuesEqual(s.values[i], o.values[i]) {
			return false
		}
	}
	return true
}

// String formats the struct as Kafka's Struct.toString: "Struct{a=1,b=x}",
// listing only fields with a value.
func (s *Struct) String() string {
	var b strings.Builder
	b.WriteString("Struct{")
	first := true
	for _, f := range s.schema.Fields {
		v := s.values[f.Index]
		if v == nil {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(f.Name)
		b.WriteByte('=')
		b.WriteString(FormatValue(v))
	}
	b.WriteByte('}')
	return b.String()
}
