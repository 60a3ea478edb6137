package connect

import (
	"fmt"
	"math/big"
	"time"
)

// Validate checks that value is a valid Go value for schema (Kafka's
// ConnectSchema.validateValue): nil only for an optional schema or one
// with a default, the Go type of the schema's type (or logical type),
// and recursively for array elements, map entries and struct fields. A
// nil schema accepts any value. Errors wrap ErrData.
func Validate(schema *Schema, value any) error {
	return validateField("", schema, value)
}

func validateField(field string, schema *Schema, value any) error {
	if schema == nil {
		return nil
	}
	if value == nil {
		if schema.Optional || schema.Default != nil {
			return nil
		}
		return fmt.Errorf("%w: invalid value: null used for required field: %q, schema type: %v", ErrData, field, schema.Type)
	}
	if ok, handled := validLogical(schema, value); handled {
		if !ok {
			return invalidType(field, schema, value)
		}
		return nil
	}
	switch schema.Type {
	case TypeInt8:
		_, ok := value.(int8)
		return check(ok, field, schema, value)
	case TypeInt16:
		_, ok := value.(int16)
		return check(ok, field, schema, value)
	case TypeInt32:
		_, ok := value.(int32)
		return check(ok, field, schema, value)
	case TypeInt64:
		_, ok := value.(int64)
		return check(ok, field, schema, value)
	case TypeFloat32:
		_, ok := value.(float32)
		return check(ok, field, schema, value)
	case TypeFloat64:
		_, ok := value.(float64)
		return check(ok, field, schema, value)
	case TypeBoolean:
		_, ok := value.(bool)
		return check(ok, field, schema, value)
	case TypeString:
		_, ok := value.(string)
		return check(ok, field, schema, value)
	case TypeBytes:
		_, ok := value.([]byte)
		return check(ok, field, schema, value)
	case TypeArray:
		elems, ok := value.([]any)
		if !ok {
			return invalidType(field, schema, value)
		}
		for _, e := range elems {
			if err := validateField(field, schema.ValueSchema, e); err != nil {
				return err
			}
		}
		return nil
	case TypeMap:
		switch m := value.(type) {
		case map[string]any:
			for k, v := range m {
				if err := validateField(field, schema.KeySchema, k); err != nil {
					return err
				}
				if err := validateField(field, schema.ValueSchema, v); err != nil {
					return err
				}
			}
			return nil
		case map[any]any:
			for k, v := range m {
				if err := validateField(field, schema.KeySchema, k); err != nil {
					return err
				}
				if err := validateField(field, schema.ValueSchema, v); err != nil {
					return err
				}
			}
			return nil
		}
		return invalidType(field, schema, value)
	case TypeStruct:
		st, ok := value.(*Struct)
		if !ok || st == nil {
			return invalidType(field, schema, value)
		}
		if !st.Schema().Equal(schema) {
			return fmt.Errorf("%w: struct schemas do not match", ErrData)
		}
		return st.Validate()
	}
	return fmt.Errorf("%w: unknown schema type %v", ErrData, schema.Type)
}

func check(ok bool, field string, schema *Schema, value any) error {
	if ok {
		return nil
	}
	return invalidType(field, schema, value)
}

func invalidType(field string, schema *Schema, value any) error {
	return fmt.Errorf("%w: invalid Go value for schema %q with type %v: %T for field: %q", ErrData, schema.Name, schema.Type, value, field)
}

// validLogical checks the Go value of a logical type; handled is false
// when schema is not a logical type.
func validLogical(schema *Schema, value any) (ok, handled bool) {
	switch schema.Name {
	case DecimalLogicalName:
		if schema.Type != TypeBytes {
			return false, false
		}
		r, isRat := value.(*big.Rat)
		return isRat && r != nil, true
	case DateLogicalName, TimeLogicalName:
		if schema.Type != TypeInt32 {
			return false, false
		}
		_, isTime := value.(time.Time)
		return isTime, true
	case TimestampLogicalName:
		if schema.Type != TypeInt64 {
			return false, false
		}
		_, isTime := value.(time.Time)
		return isTime, true
	}
	return false, false
}

// InferSchema returns the schema of a schemaless value's type, as Kafka's
// ConnectSchema.schemaType does for its Java class: int8 → INT8, …, []byte
// → BYTES, []any → ARRAY, maps → MAP, *Struct → its schema. Logical
// values (*big.Rat, time.Time) and unknown types give nil.
func InferSchema(value any) *Schema {
	switch v := value.(type) {
	case int8:
		return Int8Schema
	case int16:
		return Int16Schema
	case int32:
		return Int32Schema
	case int64:
		return Int64Schema
	case float32:
		return Float32Schema
	case float64:
		return Float64Schema
	case bool:
		return BooleanSchema
	case string:
		return StringSchema
	case []byte:
		return BytesSchema
	case []any:
		return &Schema{Type: TypeArray}
	case map[string]any, map[any]any:
		return &Schema{Type: TypeMap}
	case *Struct:
		if v != nil {
			return v.Schema()
		}
	}
	return nil
}
