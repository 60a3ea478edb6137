package postgres

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gregor-streaming/gregor/connect"
)

// Numeric mappings (Confluent's numeric.mapping).
const (
	NumericMappingNone               = "none"
	NumericMappingPrecisionOnly      = "precision_only"
	NumericMappingBestFit            = "best_fit"
	NumericMappingBestFitEagerDouble = "best_fit_eager_double"
)

// Decimal scale limits: a numeric without a declared scale becomes a
// Decimal of scale numericScaleHigh, as Confluent's PostgreSQL dialect.
const (
	numericScaleHigh       = 127
	maxIntegerPrecision    = 18
	decimalPrecisionParam  = "connect.decimal.precision"
	unconstrainedPrecision = 0
)

// colKind is how a column is read.
type colKind int8

const (
	kindBool colKind = iota + 1
	kindInt16
	kindInt32
	kindInt64
	kindFloat32
	kindFloat64
	kindNumeric // read as text; target schema says what it becomes
	kindText
	kindBytes
	kindDate
	kindTime
	kindTimestamp   // without time zone: wall clock in db.timezone
	kindTimestampTZ // an instant
)

// column is one column of a source query's result.
type column struct {
	name   string
	kind   colKind
	schema *connect.Schema
	expr   string // select expression
}

// pgTypeKind maps a PostgreSQL type OID to how it is read; ok is false for
// types read through their text form.
func pgTypeKind(oid uint32) (colKind, bool) {
	switch oid {
	case pgtype.BoolOID:
		return kindBool, true
	case pgtype.Int2OID:
		return kindInt16, true
	case pgtype.Int4OID:
		return kindInt32, true
	case pgtype.Int8OID:
		return kindInt64, true
	case pgtype.Float4OID:
		return kindFloat32, true
	case pgtype.Float8OID:
		return kindFloat64, true
	case pgtype.NumericOID:
		return kindNumeric, true
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.QCharOID:
		return kindText, true
	case pgtype.ByteaOID:
		return kindBytes, true
	case pgtype.DateOID:
		return kindDate, true
	case pgtype.TimeOID, pgtype.TimetzOID:
		return kindTime, true
	case pgtype.TimestampOID:
		return kindTimestamp, true
	case pgtype.TimestamptzOID:
		return kindTimestampTZ, true
	}
	return kindText, false
}

// newColumn describes a result column of type oid (typmod its modifier)
// as a Connect field: its schema, and the expression that selects it
// (ident is the column, quoted).
func newColumn(name, ident string, oid uint32, typmod int32, optional bool, numericMapping string) column {
	kind, known := pgTypeKind(oid)
	c := column{name: name, kind: kind, expr: ident}
	var b *connect.SchemaBuilder
	switch kind {
	case kindBool:
		b = connect.BooleanBuilder()
	case kindInt16:
		b = connect.Int16Builder()
	case kindInt32:
		b = connect.Int32Builder()
	case kindInt64:
		b = connect.Int64Builder()
	case kindFloat32:
		b = connect.Float32Builder()
	case kindFloat64:
		b = connect.Float64Builder()
	case kindNumeric:
		c.expr = ident + "::text"
		b = numericSchema(typmod, numericMapping)
	case kindText:
		if !known {
			c.expr = ident + "::text"
		}
		b = connect.StringBuilder()
	case kindBytes:
		b = connect.BytesBuilder()
	case kindDate:
		b = connect.DateBuilder()
	case kindTime:
		if oid == pgtype.TimetzOID {
			c.expr = "(" + ident + " AT TIME ZONE 'UTC')::time"
		}
		b = connect.TimeBuilder()
	case kindTimestamp, kindTimestampTZ:
		b = connect.TimestampBuilder()
	}
	if optional {
		b = b.Optional()
	}
	c.schema = b.MustBuild()
	return c
}

// numericPrecisionScale decodes a numeric type modifier; precision 0
// means unconstrained.
func numericPrecisionScale(typmod int32) (precision, scale int) {
	if typmod < 4 {
		return unconstrainedPrecision, 0
	}
	t := int(typmod - 4)
	return (t >> 16) & 0xffff, t & 0xffff
}

// numericSchema is the schema of a numeric column under numeric.mapping
// (Confluent's GenericDatabaseDialect rules): small integers become INT8
// … INT64, small fractions FLOAT64 under best_fit, the rest Decimal.
func numericSchema(typmod int32, mapping string) *connect.SchemaBuilder {
	precision, scale := numericPrecisionScale(typmod)
	if precision == unconstrainedPrecision {
		scale = numericScaleHigh
	}
	intBuilder := func() *connect.SchemaBuilder {
		switch {
		case precision > 9:
			return connect.Int64Builder()
		case precision > 4:
			return connect.Int32Builder()
		case precision > 2:
			return connect.Int16Builder()
		}
		return connect.Int8Builder()
	}
	switch strings.ToLower(mapping) {
	case NumericMappingPrecisionOnly:
		if scale == 0 && precision <= maxIntegerPrecision && precision > 0 {
			return intBuilder()
		}
	case NumericMappingBestFit:
		if precision <= maxIntegerPrecision {
			if scale == 0 && precision > 0 {
				return intBuilder()
			}
			if scale > 0 {
				return connect.Float64Builder()
			}
		}
	case NumericMappingBestFitEagerDouble:
		if scale == 0 && precision > 0 && precision <= maxIntegerPrecision {
			return intBuilder()
		}
		if scale > 0 {
			return connect.Float64Builder()
		}
	}
	b := connect.DecimalBuilder(int32(scale))
	if precision > 0 {
		b = b.Parameter(decimalPrecisionParam, strconv.Itoa(precision))
	}
	return b
}

// scanTarget returns a fresh destination for rows.Scan of kind.
func scanTarget(kind colKind) any {
	switch kind {
	case kindBool:
		return new(pgtype.Bool)
	case kindInt16:
		return new(pgtype.Int2)
	case kindInt32:
		return new(pgtype.Int4)
	case kindInt64:
		return new(pgtype.Int8)
	case kindFloat32:
		return new(pgtype.Float4)
	case kindFloat64:
		return new(pgtype.Float8)
	case kindNumeric, kindText:
		return new(pgtype.Text)
	case kindBytes:
		return new([]byte)
	case kindDate:
		return new(pgtype.Date)
	case kindTime:
		return new(pgtype.Time)
	case kindTimestamp:
		return new(pgtype.Timestamp)
	case kindTimestampTZ:
		return new(pgtype.Timestamptz)
	}
	panic(fmt.Sprintf("postgres: unknown column kind %d", kind))
}

// connectValue turns a scanned destination into the column's Connect
// value (nil for NULL); loc is db.timezone.
func (c *column) connectValue(dst any, loc *time.Location) (any, error) {
	switch d := dst.(type) {
	case *pgtype.Bool:
		if !d.Valid {
			return nil, nil
		}
		return d.Bool, nil
	case *pgtype.Int2:
		if !d.Valid {
			return nil, nil
		}
		return d.Int16, nil
	case *pgtype.Int4:
		if !d.Valid {
			return nil, nil
		}
		return d.Int32, nil
	case *pgtype.Int8:
		if !d.Valid {
			return nil, nil
		}
		return d.Int64, nil
	case *pgtype.Float4:
		if !d.Valid {
			return nil, nil
		}
		return d.Float32, nil
	case *pgtype.Float8:
		if !d.Valid {
			return nil, nil
		}
		return d.Float64, nil
	case *pgtype.Text:
		if !d.Valid {
			return nil, nil
		}
		if c.kind == kindNumeric {
			return numericValue(d.String, c.schema)
		}
		return d.String, nil
	case *[]byte:
		if *d == nil {
			return nil, nil
		}
		return *d, nil
	case *pgtype.Date:
		if !d.Valid {
			return nil, nil
		}
		if d.InfinityModifier != pgtype.Finite {
			return nil, fmt.Errorf("column %s: an infinite date has no Connect Date value", c.name)
		}
		return time.Date(d.Time.Year(), d.Time.Month(), d.Time.Day(), 0, 0, 0, 0, time.UTC), nil
	case *pgtype.Time:
		if !d.Valid {
			return nil, nil
		}
		// Connect's Time has millisecond precision; 24:00:00 wraps.
		ms := (d.Microseconds / 1000) % (24 * 60 * 60 * 1000)
		return time.UnixMilli(ms).UTC(), nil
	case *pgtype.Timestamp:
		if !d.Valid {
			return nil, nil
		}
		if d.InfinityModifier != pgtype.Finite {
			return nil, fmt.Errorf("column %s: an infinite timestamp has no Connect Timestamp value", c.name)
		}
		t := d.Time
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc).UTC(), nil
	case *pgtype.Timestamptz:
		if !d.Valid {
			return nil, nil
		}
		if d.InfinityModifier != pgtype.Finite {
			return nil, fmt.Errorf("column %s: an infinite timestamp has no Connect Timestamp value", c.name)
		}
		return d.Time.UTC(), nil
	}
	return nil, fmt.Errorf("column %s: unexpected scan destination %T", c.name, dst)
}

// numericValue converts numeric text to the Go value of schema: *big.Rat
// at the Decimal's scale, an integer, or a float64.
func numericValue(s string, schema *connect.Schema) (any, error) {
	if schema.Type == connect.TypeFloat64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("numeric %q: %w", s, err)
		}
		return f, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("numeric %q has no Connect value (NaN and infinities have none)", s)
	}
	switch schema.Type {
	case connect.TypeBytes:
		scale, err := connect.DecimalScale(schema)
		if err != nil {
			return nil, err
		}
		// Round to the schema's scale (PostgreSQL's value has at most
		// that many digits for a constrained numeric).
		if _, err := connect.DecimalUnscaled(r, scale); err != nil {
			q, _ := new(big.Rat).SetString(r.FloatString(int(scale)))
			r = q
		}
		return r, nil
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64:
		if !r.IsInt() || !r.Num().IsInt64() {
			return nil, fmt.Errorf("numeric %s does not fit %v", s, schema.Type)
		}
		n := r.Num().Int64()
		switch schema.Type {
		case connect.TypeInt8:
			if n < math.MinInt8 || n > math.MaxInt8 {
				return nil, fmt.Errorf("numeric %s does not fit INT8", s)
			}
			return int8(n), nil
		case connect.TypeInt16:
			if n < math.MinInt16 || n > math.MaxInt16 {
				return nil, fmt.Errorf("numeric %s does not fit INT16", s)
			}
			return int16(n), nil
		case connect.TypeInt32:
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, fmt.Errorf("numeric %s does not fit INT32", s)
			}
			return int32(n), nil
		}
		return n, nil
	}
	return nil, fmt.Errorf("numeric mapped to unexpected type %v", schema.Type)
}

// sqlType returns the PostgreSQL type auto.create and auto.evolve give a
// field of schema (Confluent's PostgreSqlDatabaseDialect.getSqlType).
func sqlType(s *connect.Schema) (string, error) {
	switch s.Name {
	case connect.DecimalLogicalName:
		return "DECIMAL", nil
	case connect.DateLogicalName:
		return "DATE", nil
	case connect.TimeLogicalName:
		return "TIME", nil
	case connect.TimestampLogicalName:
		return "TIMESTAMP", nil
	}
	switch s.Type {
	case connect.TypeInt8, connect.TypeInt16:
		return "SMALLINT", nil
	case connect.TypeInt32:
		return "INT", nil
	case connect.TypeInt64:
		return "BIGINT", nil
	case connect.TypeFloat32:
		return "REAL", nil
	case connect.TypeFloat64:
		return "DOUBLE PRECISION", nil
	case connect.TypeBoolean:
		return "BOOLEAN", nil
	case connect.TypeString:
		return "TEXT", nil
	case connect.TypeBytes:
		return "BYTEA", nil
	case connect.TypeArray:
		if s.ValueSchema != nil && (s.ValueSchema.Type.IsPrimitive() || s.ValueSchema.Name != "") {
			elem, err := sqlType(s.ValueSchema)
			if err != nil {
				return "", err
			}
			return elem + "[]", nil
		}
	}
	return "", fmt.Errorf("%w: no PostgreSQL type for a %v field (%s)", ErrRecord, s.Type, s)
}

// sqlLiteral renders a primitive default value as an SQL literal, for
// DEFAULT clauses.
func sqlLiteral(s *connect.Schema, v any, loc *time.Location) (string, error) {
	quote := func(x string) string { return "'" + strings.ReplaceAll(x, "'", "''") + "'" }
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x), nil
	case int8, int16, int32, int64:
		return fmt.Sprint(x), nil
	case float32:
		return quote(strconv.FormatFloat(float64(x), 'g', -1, 32)), nil
	case float64:
		return quote(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case string:
		return quote(x), nil
	case []byte:
		return "'\\x" + fmt.Sprintf("%x", x) + "'::bytea", nil
	case *big.Rat:
		scale, err := connect.DecimalScale(s)
		if err != nil {
			return "", err
		}
		return x.FloatString(int(scale)), nil
	case time.Time:
		switch s.Name {
		case connect.DateLogicalName:
			return quote(x.UTC().Format("2006-01-02")), nil
		case connect.TimeLogicalName:
			return quote(x.UTC().Format("15:04:05.000")), nil
		}
		return quote(x.In(loc).Format("2006-01-02 15:04:05.000000")), nil
	}
	return "", fmt.Errorf("%w: default value %T cannot be written as SQL", ErrRecord, v)
}

// paramValue turns a Connect value into a value pgx encodes for the
// column: logical types to PostgreSQL's, int8 widened, timestamps in
// db.timezone (for columns without a time zone).
func paramValue(s *connect.Schema, v any, loc *time.Location) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case int8:
		return int16(x), nil
	case *big.Rat:
		scale, err := connect.DecimalScale(s)
		if err != nil {
			return nil, err
		}
		unscaled, err := connect.DecimalUnscaled(x, scale)
		if err != nil {
			return nil, err
		}
		return pgtype.Numeric{Int: unscaled, Exp: -scale, Valid: true}, nil
	case time.Time:
		switch s.Name {
		case connect.DateLogicalName:
			u := x.UTC()
			return pgtype.Date{Time: time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC), Valid: true}, nil
		case connect.TimeLogicalName:
			u := x.UTC()
			us := (int64(u.Hour())*3600+int64(u.Minute())*60+int64(u.Second()))*1e6 + int64(u.Nanosecond()/1000)
			return pgtype.Time{Microseconds: us, Valid: true}, nil
		}
		return x.In(loc), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			pv, err := paramValue(s.ValueSchema, e, loc)
			if err != nil {
				return nil, err
			}
			out[i] = pv
		}
		return out, nil
	case *connect.Struct, map[string]any, map[any]any:
		return nil, fmt.Errorf("%w: a %T cannot be written to a column; flatten it first (the Flatten transformation)", ErrRecord, v)
	}
	return v, nil
}
