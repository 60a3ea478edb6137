package transform

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streaming/gregor/connect"
)

// Cast$Key / Cast$Value: cast fields, or the whole key or value, to
// another primitive type (Kafka's Cast). spec is "field:type,…" or a
// single type for the whole key or value; the types are int8, int16,
// int32, int64, float32, float64, boolean and string. Bytes cast only to
// string (Base64); Date, Time, Timestamp and Decimal values cast to
// string in Kafka's ISO-8601 formats, or to numbers. A null key or value
// passes unchanged.
const (
	castSpec    = "spec"
	castPurpose = "cast types"
	// wholeValue is the spec key of a whole-value cast.
	wholeValue = ""
)

type castSpecValidator struct{}

func (castSpecValidator) EnsureValid(name string, v any) error {
	l, _ := v.([]string)
	_, err := parseCastSpec(l)
	return err
}

func (castSpecValidator) String() string {
	return "list of colon-delimited pairs, e.g. <code>foo:bar,abc:xyz</code>"
}

var castDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: castSpec, Type: connect.ConfigList, Default: connect.NoDefaultValue, Validator: castSpecValidator{},
		Importance: connect.ImportanceHigh,
		Documentation: "List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of " +
			"Maps or Structs. A single type to cast the entire value. Valid types are int8, int16, int32, " +
			"int64, float32, float64, boolean, and string. Note that binary fields can only be cast to string."})

var castTypes = map[string]connect.Type{
	"INT8": connect.TypeInt8, "INT16": connect.TypeInt16, "INT32": connect.TypeInt32, "INT64": connect.TypeInt64,
	"FLOAT32": connect.TypeFloat32, "FLOAT64": connect.TypeFloat64, "BOOLEAN": connect.TypeBoolean, "STRING": connect.TypeString,
	"BYTES": connect.TypeBytes, "ARRAY": connect.TypeArray, "MAP": connect.TypeMap, "STRUCT": connect.TypeStruct,
}

func castOutputOK(t connect.Type) bool {
	return t >= connect.TypeInt8 && t <= connect.TypeString
}

func unsupportedCast(t connect.Type) error {
	return fmt.Errorf("%w: Cast transformation does not support casting to/from %s", connect.ErrData, t)
}

func parseCastSpec(mappings []string) (map[string]connect.Type, error) {
	m := map[string]connect.Type{}
	whole := false
	for _, mapping := range mappings {
		parts := javaSplit(mapping, ":")
		var field, typ string
		switch len(parts) {
		case 1:
			field, typ, whole = wholeValue, parts[0], true
		case 2:
			field, typ = strings.TrimSpace(parts[0]), parts[1]
		default:
			return nil, connect.ConfigError("renames", mappings, "Invalid rename mapping: "+mapping)
		}
		t, ok := castTypes[strings.ToUpper(strings.TrimSpace(typ))]
		if !ok {
			return nil, fmt.Errorf("Invalid type found in casting spec: %s", strings.TrimSpace(typ))
		}
		if !castOutputOK(t) {
			return nil, unsupportedCast(t)
		}
		m[field] = t
	}
	if whole && len(mappings) > 1 {
		return nil, fmt.Errorf("Cast transformations that specify a type to cast the entire value to may ony specify a single cast in their spec")
	}
	return m, nil
}

type cast struct {
	part
	casts map[string]connect.Type
	whole connect.Type // 0 unless a whole-value cast
	cache schemaCache
}

func init() {
	registerKeyValue("Cast", func(p part) Transformation { return &cast{part: p} })
}

func (t *cast) Config() *connect.ConfigDef { return castDef }

func (t *cast) Configure(props map[string]string) error {
	c, err := parseConfig(castDef, props)
	if err != nil {
		return err
	}
	t.casts, err = parseCastSpec(c.GetList(castSpec))
	if err != nil {
		return err
	}
	t.whole = t.casts[wholeValue]
	return nil
}

func (t *cast) Apply(r *Record) (*Record, error) {
	v := t.value(r)
	if v == nil {
		return r, nil
	}
	schema := t.schema(r)
	if schema == nil {
		if t.whole != 0 {
			out, err := castValue(nil, v, t.whole)
			if err != nil {
				return nil, err
			}
			return t.with(r, nil, out), nil
		}
		m, err := requireMap(v, castPurpose)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[k] = e
		}
		for field, typ := range t.casts {
			cv, err := castValue(nil, m[field], typ)
			if err != nil {
				return nil, err
			}
			out[field] = cv
		}
		return t.with(r, nil, out), nil
	}
	updated, err := t.cache.getOrBuild(schema, t.buildSchema)
	if err != nil {
		return nil, err
	}
	if t.whole != 0 {
		out, err := castValue(schema, v, t.whole)
		if err != nil {
			return nil, err
		}
		return t.with(r, updated, out), nil
	}
	s, err := requireStruct(v, castPurpose)
	if err != nil {
		return nil, err
	}
	out := connect.NewStruct(updated)
	for _, f := range s.Schema().Fields {
		fv := s.Get(f.Name)
		if typ, ok := t.casts[f.Name]; ok {
			if fv, err = castValue(f.Schema, fv, typ); err != nil {
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
	return t.with(r, updated, out), nil
}

// buildSchema is Kafka's Cast.getOrBuildSchema.
func (t *cast) buildSchema(in *connect.Schema) (*connect.Schema, error) {
	var out *connect.Schema
	if t.whole != 0 {
		if err := checkCastInput(in); err != nil {
			return nil, err
		}
		out = &connect.Schema{Type: t.whole}
		if !isLogical(in) {
			out.Name, out.Version, out.Doc, out.Parameters = in.Name, in.Version, in.Doc, in.Parameters
		}
	} else {
		if in.Type != connect.TypeStruct {
			return nil, fmt.Errorf("%w: Only Struct objects supported for [%s], found: %s", connect.ErrData, castPurpose, in.Type.Name())
		}
		out = structBasics(in)
		for _, f := range in.Fields {
			typ, ok := t.casts[f.Name]
			if !ok {
				addField(out, f.Name, f.Schema)
				continue
			}
			if err := checkCastInput(f.Schema); err != nil {
				return nil, err
			}
			fs := &connect.Schema{Type: typ, Optional: f.Schema.Optional}
			if f.Schema.Default != nil {
				d, err := castValue(f.Schema, f.Schema.Default, typ)
				if err != nil {
					return nil, err
				}
				fs.Default = d
			}
			addField(out, f.Name, fs)
		}
	}
	out.Optional = in.Optional
	if in.Default != nil {
		d, err := castValue(in, in.Default, out.Type)
		if err != nil {
			return nil, err
		}
		out.Default = d
	}
	return out, nil
}

func isLogical(s *connect.Schema) bool {
	switch s.Name {
	case connect.DecimalLogicalName, connect.DateLogicalName, connect.TimeLogicalName, connect.TimestampLogicalName:
		return true
	}
	return false
}

func checkCastInput(s *connect.Schema) error {
	if castOutputOK(s.Type) || s.Type == connect.TypeBytes {
		return nil
	}
	return unsupportedCast(s.Type)
}

// castValue casts v (of schema s, nil when schemaless) to target (Kafka's
// Cast.castValueToType).
func castValue(s *connect.Schema, v any, target connect.Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	in := connect.InferSchema(v)
	if s != nil {
		in = s
	}
	if in == nil {
		switch v.(type) {
		case *big.Rat, time.Time:
		default:
			return nil, fmt.Errorf("%w: Cast transformation was passed a value of type %s which is not supported by Connect's data API", connect.ErrData, javaClass(v))
		}
	} else if err := checkCastInput(in); err != nil && !isLogical(in) {
		return nil, err
	}
	if target != connect.TypeString {
		// Logical values cast to numbers through their encoding (Kafka's
		// encodeLogicalType): days, milliseconds, the decimal itself.
		switch x := v.(type) {
		case time.Time:
			switch {
			case s != nil && s.Name == connect.DateLogicalName:
				d, err := connect.DateFromLogical(x)
				if err != nil {
					return nil, err
				}
				v = d
			case s != nil && s.Name == connect.TimeLogicalName:
				d, err := connect.TimeFromLogical(x)
				if err != nil {
					return nil, err
				}
				v = d
			default:
				v = x.UnixMilli()
			}
		case *big.Rat:
			f, _ := x.Float64()
			if target == connect.TypeFloat32 || target == connect.TypeFloat64 || target == connect.TypeBoolean {
				v = f
			} else {
				v = ratToInt64(x)
			}
		}
	}
	switch target {
	case connect.TypeString:
		return castToString(v), nil
	case connect.TypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			return strings.EqualFold(x, "true"), nil
		}
		if n, ok := asInt64(v); ok {
			return n != 0, nil
		}
	case connect.TypeFloat32, connect.TypeFloat64:
		var f float64
		switch x := v.(type) {
		case bool:
			if x {
				f = 1
			}
		case string:
			bits := 64
			if target == connect.TypeFloat32 {
				bits = 32
			}
			p, err := strconv.ParseFloat(strings.TrimSpace(x), bits)
			if err != nil {
				return nil, fmt.Errorf("%w: For input string: \"%s\"", connect.ErrData, x)
			}
			f = p
		case float32:
			f = float64(x)
		case float64:
			f = x
		default:
			n, ok := asInt64(v)
			if !ok {
				return nil, unexpectedCast(v, target)
			}
			f = float64(n)
		}
		if target == connect.TypeFloat32 {
			return float32(f), nil
		}
		return f, nil
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64:
		var n int64
		switch x := v.(type) {
		case bool:
			if x {
				n = 1
			}
		case string:
			bits := map[connect.Type]int{connect.TypeInt8: 8, connect.TypeInt16: 16, connect.TypeInt32: 32, connect.TypeInt64: 64}[target]
			p, err := strconv.ParseInt(x, 10, bits)
			if err != nil {
				return nil, fmt.Errorf("%w: For input string: \"%s\"", connect.ErrData, x)
			}
			n = p
		case float32:
			n = javaFloatToInt(float64(x), target)
		case float64:
			n = javaFloatToInt(x, target)
		default:
			i, ok := asInt64(v)
			if !ok {
				return nil, unexpectedCast(v, target)
			}
			n = i
		}
		switch target {
		case connect.TypeInt8:
			return int8(n), nil
		case connect.TypeInt16:
			return int16(n), nil
		case connect.TypeInt32:
			return int32(n), nil
		}
		return n, nil
	}
	return nil, unexpectedCast(v, target)
}

func unexpectedCast(v any, target connect.Type) error {
	return fmt.Errorf("%w: Unexpected type in Cast transformation: %s", connect.ErrData, javaClass(v))
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
	case float32:
		return javaFloatToInt(float64(x), connect.TypeInt64), true
	case float64:
		return javaFloatToInt(x, connect.TypeInt64), true
	}
	return 0, false
}

// javaFloatToInt narrows a floating point number as Java's Number
// methods do: longValue saturates at int64, the others go through int
// (saturating at int32) and then wrap.
func javaFloatToInt(f float64, target connect.Type) int64 {
	if math.IsNaN(f) {
		return 0
	}
	if target == connect.TypeInt64 {
		switch {
		case f >= math.MaxInt64:
			return math.MaxInt64
		case f <= math.MinInt64:
			return math.MinInt64
		}
		return int64(f)
	}
	var i int32
	switch {
	case f >= math.MaxInt32:
		i = math.MaxInt32
	case f <= math.MinInt32:
		i = math.MinInt32
	default:
		i = int32(f)
	}
	return int64(i)
}

func ratToInt64(r *big.Rat) int64 {
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if q.IsInt64() {
		return q.Int64()
	}
	return new(big.Int).And(q, new(big.Int).SetUint64(math.MaxUint64)).Int64()
}

// castToString is Kafka's Cast.castToString: dates in ISO-8601 (a time of
// day, a date or a timestamp, as Values.dateFormatFor picks), bytes in
// Base64, everything else as Java's toString.
func castToString(v any) string {
	switch x := v.(type) {
	case time.Time:
		ms := x.UnixMilli()
		u := x.UTC()
		switch {
		case ms >= 0 && ms < 24*60*60*1000:
			return u.Format("15:04:05.000") + "Z"
		case ms%(24*60*60*1000) == 0:
			return u.Format("2006-01-02")
		}
		return u.Format("2006-01-02T15:04:05.000") + "Z"
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	}
	return connect.FormatValue(v)
}

func (t *cast) Close() error { return nil }
