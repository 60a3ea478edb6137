package transform

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

// MaskField$Key / MaskField$Value: replace fields with the null value of
// their type (0, false, "", empty list or map, the epoch, zero decimal),
// or with a replacement converted to the field's type, for numeric and
// string fields (Kafka's MaskField).
const (
	maskFields      = "fields"
	maskReplacement = "replacement"
	maskPurpose     = "mask fields"
)

var maskFieldDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: maskFields, Type: connect.ConfigList, Default: connect.NoDefaultValue, Validator: nonEmptyList{},
		Importance: connect.ImportanceHigh, Documentation: "Names of fields to mask."}).
	Define(connect.ConfigKey{Name: maskReplacement, Type: connect.ConfigString, Validator: connect.NonEmptyString(),
		Importance:    connect.ImportanceLow,
		Documentation: "Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only)."})

type maskField struct {
	part
	fields      []string
	replacement *string
}

func init() {
	registerKeyValue("MaskField", func(p part) Transformation { return &maskField{part: p} })
}

func (t *maskField) Config() *connect.ConfigDef { return maskFieldDef }

func (t *maskField) Configure(props map[string]string) error {
	c, err := parseConfig(maskFieldDef, props)
	if err != nil {
		return err
	}
	t.fields = append([]string(nil), c.GetList(maskFields)...)
	if s, ok := c.Get(maskReplacement).(string); ok {
		t.replacement = &s
	}
	return nil
}

func (t *maskField) Apply(r *Record) (*Record, error) {
	v := t.value(r)
	if t.schema(r) == nil {
		m, err := requireMap(v, maskPurpose)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m)+len(t.fields))
		for k, e := range m {
			out[k] = e
		}
		for _, f := range t.fields {
			mv, err := t.masked(m[f])
			if err != nil {
				return nil, err
			}
			out[f] = mv
		}
		return t.with(r, nil, out), nil
	}
	s, err := requireStruct(v, maskPurpose)
	if err != nil {
		return nil, err
	}
	masked := set(t.fields)
	out := connect.NewStruct(s.Schema())
	for _, f := range s.Schema().Fields {
		fv := s.Get(f.Name)
		if masked[f.Name] {
			if fv, err = t.masked(fv); err != nil {
				return nil, err
			}
		}
		if fv != nil {
			out.Put(f.Name, fv)
		}
	}
	if err := out.Err(); err != nil {
		return nil, err
	}
	return t.with(r, s.Schema(), out), nil
}

func (t *maskField) masked(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if t.replacement != nil {
		return maskWithReplacement(v, *t.replacement)
	}
	switch v.(type) {
	case bool:
		return false, nil
	case int8:
		return int8(0), nil
	case int16:
		return int16(0), nil
	case int32:
		return int32(0), nil
	case int64:
		return int64(0), nil
	case float32:
		return float32(0), nil
	case float64:
		return float64(0), nil
	case *big.Rat:
		return new(big.Rat), nil
	case time.Time:
		return time.UnixMilli(0).UTC(), nil
	case string:
		return "", nil
	case []any:
		return []any{}, nil
	case map[string]any:
		return map[string]any{}, nil
	case map[any]any:
		return map[any]any{}, nil
	}
	return nil, fmt.Errorf("%w: Cannot mask value of type: %s", connect.ErrData, javaClass(v))
}

func maskWithReplacement(v any, repl string) (any, error) {
	bad := func() error {
		return fmt.Errorf("%w: Unable to convert %s (class java.lang.String) to number", connect.ErrData, repl)
	}
	parseInt := func(bits int) (int64, error) {
		n, err := strconv.ParseInt(repl, 10, bits)
		if err != nil {
			return 0, bad()
		}
		return n, nil
	}
	switch v.(type) {
	case string:
		return repl, nil
	case int8:
		n, err := parseInt(8)
		return int8(n), err
	case int16:
		n, err := parseInt(16)
		return int16(n), err
	case int32:
		n, err := parseInt(32)
		return int32(n), err
	case int64:
		return parseInt(64)
	case float32:
		f, err := strconv.ParseFloat(repl, 32)
		if err != nil {
			return nil, bad()
		}
		return float32(f), nil
	case float64:
		f, err := strconv.ParseFloat(repl, 64)
		if err != nil {
			return nil, bad()
		}
		return f, nil
	case *big.Rat:
		d, ok := new(big.Rat).SetString(repl)
		if !ok {
			return nil, bad()
		}
		return d, nil
	}
	return nil, fmt.Errorf("%w: Cannot mask value of type %s with custom replacement.", connect.ErrData, javaClass(v))
}

func (t *maskField) Close() error { return nil }
