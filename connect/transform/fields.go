package transform

import (
	"fmt"

	"github.com/gregor-streaming/gregor/connect"
)

// ValueToKey: replace the key with a struct or map of fields of the value
// (Kafka's ValueToKey).
const (
	valueToKeyFields  = "fields"
	valueToKeyPurpose = "copying fields from value to key"
)

var valueToKeyDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: valueToKeyFields, Type: connect.ConfigList, Default: connect.NoDefaultValue, Validator: nonEmptyList{},
		Importance: connect.ImportanceHigh, Documentation: "Field names on the record value to extract as the record key."})

type valueToKey struct {
	fields []string
	cache  schemaCache
}

func (t *valueToKey) Config() *connect.ConfigDef { return valueToKeyDef }

func (t *valueToKey) Configure(props map[string]string) error {
	c, err := parseConfig(valueToKeyDef, props)
	if err != nil {
		return err
	}
	t.fields = append([]string(nil), c.GetList(valueToKeyFields)...)
	return nil
}

func (t *valueToKey) Apply(r *Record) (*Record, error) {
	if r.ValueSchema == nil {
		m, err := requireMap(r.Value, valueToKeyPurpose)
		if err != nil {
			return nil, err
		}
		key := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			key[f] = m[f]
		}
		return r.WithKey(nil, key), nil
	}
	s, err := requireStruct(r.Value, valueToKeyPurpose)
	if err != nil {
		return nil, err
	}
	keySchema, err := t.cache.getOrBuild(s.Schema(), func(in *connect.Schema) (*connect.Schema, error) {
		out := &connect.Schema{Type: connect.TypeStruct}
		for _, name := range t.fields {
			f := in.Field(name)
			if f == nil {
				return nil, fmt.Errorf("%w: Field does not exist: %s", connect.ErrData, name)
			}
			if out.Field(name) != nil {
				return nil, schemaBuilderDuplicate(name)
			}
			addField(out, name, f.Schema)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	for _, name := range t.fields {
		values[name] = s.Get(name)
	}
	key, err := newStruct(keySchema, values)
	if err != nil {
		return nil, err
	}
	return r.WithKey(keySchema, key), nil
}

func (t *valueToKey) Close() error { return nil }

// ExtractField$Key / ExtractField$Value: replace the key or value with
// one of its fields (Kafka's ExtractField). A null struct or map gives a
// null field.
const (
	extractFieldName = "field"
	extractPurpose   = "field extraction"
)

var extractFieldDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: extractFieldName, Type: connect.ConfigString, Default: connect.NoDefaultValue,
		Importance: connect.ImportanceMedium, Documentation: "Field name to extract."})

type extractField struct {
	part
	field string
}

func (t *extractField) Config() *connect.ConfigDef { return extractFieldDef }

func (t *extractField) Configure(props map[string]string) error {
	c, err := parseConfig(extractFieldDef, props)
	if err != nil {
		return err
	}
	t.field = c.GetString(extractFieldName)
	return nil
}

func (t *extractField) Apply(r *Record) (*Record, error) {
	schema := t.schema(r)
	if schema == nil {
		m, err := requireMapOrNull(t.value(r), extractPurpose)
		if err != nil {
			return nil, err
		}
		var v any
		if m != nil {
			v = m[t.field]
		}
		return t.with(r, nil, v), nil
	}
	s, err := requireStructOrNull(t.value(r), extractPurpose)
	if err != nil {
		return nil, err
	}
	if schema.Type != connect.TypeStruct {
		return nil, fmt.Errorf("%w: Cannot look up fields on non-struct type", connect.ErrData)
	}
	f := schema.Field(t.field)
	if f == nil {
		return nil, fmt.Errorf("%w: Unknown field: %s", connect.ErrData, t.field)
	}
	var v any
	if s != nil {
		v = s.Get(t.field)
	}
	return t.with(r, f.Schema, v), nil
}

func (t *extractField) Close() error { return nil }

// HoistField$Key / HoistField$Value: wrap the key or value in a struct
// (with a schema) or a map (without) of one field (Kafka's HoistField).
const hoistFieldName = "field"

var hoistFieldDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: hoistFieldName, Type: connect.ConfigString, Default: connect.NoDefaultValue,
		Importance: connect.ImportanceMedium, Documentation: "Field name for the single field that will be created in the resulting Struct or Map."})

type hoistField struct {
	part
	field string
	cache schemaCache
}

func (t *hoistField) Config() *connect.ConfigDef { return hoistFieldDef }

func (t *hoistField) Configure(props map[string]string) error {
	c, err := parseConfig(hoistFieldDef, props)
	if err != nil {
		return err
	}
	t.field = c.GetString(hoistFieldName)
	return nil
}

func (t *hoistField) Apply(r *Record) (*Record, error) {
	schema, v := t.schema(r), t.value(r)
	if schema == nil {
		return t.with(r, nil, map[string]any{t.field: v}), nil
	}
	out, _ := t.cache.getOrBuild(schema, func(in *connect.Schema) (*connect.Schema, error) {
		s := &connect.Schema{Type: connect.TypeStruct}
		addField(s, t.field, in)
		return s, nil
	})
	st := connect.NewStruct(out).Put(t.field, v)
	if err := st.Err(); err != nil {
		return nil, err
	}
	return t.with(r, out, st), nil
}

func (t *hoistField) Close() error { return nil }

// Filter drops every record it is applied to; with a predicate it drops
// the records the predicate selects (Kafka's Filter, KIP-585).
type filter struct{}

func (filter) Config() *connect.ConfigDef        { return connect.NewConfigDef() }
func (filter) Configure(map[string]string) error { return nil }
func (filter) Apply(*Record) (*Record, error)    { return nil, nil }
func (filter) Close() error                      { return nil }

func init() {
	registerTransformation(classPrefix+"ValueToKey", func() Transformation { return &valueToKey{} })
	registerKeyValue("ExtractField", func(p part) Transformation { return &extractField{part: p} })
	registerKeyValue("HoistField", func(p part) Transformation { return &hoistField{part: p} })
	registerTransformation(classPrefix+"Filter", func() Transformation { return filter{} })
}
