package connect

import (
	"fmt"
	"math/big"
	"strconv"
	"time"
)

// Kafka Connect's logical types: a named schema over a primitive type
// whose Go value is richer than the primitive (org.apache.kafka.connect.data
// Decimal, Date, Time and Timestamp). Converters that understand them
// (JsonConverter) turn the Go value into the primitive with the
// FromLogical functions and back with the ToLogical ones.
const (
	// DecimalLogicalName names a BYTES schema holding an arbitrary
	// precision decimal: the big-endian two's-complement unscaled value,
	// with the scale in the "scale" parameter. Go value: *big.Rat.
	DecimalLogicalName = "org.apache.kafka.connect.data.Decimal"
	// DecimalScaleParameter is the parameter holding a Decimal's scale.
	DecimalScaleParameter = "scale"
	// DateLogicalName names an INT32 schema of days since the Unix epoch.
	// Go value: time.Time at midnight UTC.
	DateLogicalName = "org.apache.kafka.connect.data.Date"
	// TimeLogicalName names an INT32 schema of milliseconds since
	// midnight. Go value: time.Time on 1970-01-01 UTC.
	TimeLogicalName = "org.apache.kafka.connect.data.Time"
	// TimestampLogicalName names an INT64 schema of milliseconds since
	// the Unix epoch. Go value: time.Time.
	TimestampLogicalName = "org.apache.kafka.connect.data.Timestamp"
)

const millisPerDay = 24 * 60 * 60 * 1000

// DecimalBuilder starts a Decimal schema of the given scale (Kafka's
// Decimal.builder).
func DecimalBuilder(scale int32) *SchemaBuilder {
	return BytesBuilder().Name(DecimalLogicalName).
		Parameter(DecimalScaleParameter, strconv.Itoa(int(scale))).Version(1)
}

// DecimalSchema returns a required Decimal schema of the given scale.
func DecimalSchema(scale int32) *Schema { return DecimalBuilder(scale).MustBuild() }

// DecimalScale returns the scale of a Decimal schema.
func DecimalScale(s *Schema) (int32, error) {
	p, ok := s.Parameters[DecimalScaleParameter]
	if !ok {
		return 0, fmt.Errorf("%w: invalid Decimal schema: scale parameter not found", ErrData)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: invalid scale parameter %q found in Decimal schema", ErrData, p)
	}
	return int32(n), nil
}

// DecimalFromLogical encodes v as the unscaled two's-complement bytes of
// a Decimal of s's scale. v must be exactly representable at that scale.
func DecimalFromLogical(s *Schema, v *big.Rat) ([]byte, error) {
	scale, err := DecimalScale(s)
	if err != nil {
		return nil, err
	}
	unscaled, err := DecimalUnscaled(v, scale)
	if err != nil {
		return nil, err
	}
	return twosComplement(unscaled), nil
}

// DecimalUnscaled returns v × 10^scale, which must be an integer.
func DecimalUnscaled(v *big.Rat, scale int32) (*big.Int, error) {
	r := new(big.Rat).Mul(v, pow10(scale))
	if !r.IsInt() {
		return nil, fmt.Errorf("%w: decimal %s does not fit scale %d", ErrData, v.RatString(), scale)
	}
	return new(big.Int).Set(r.Num()), nil
}

// DecimalToLogical decodes the unscaled two's-complement bytes of a
// Decimal of s's scale.
func DecimalToLogical(s *Schema, b []byte) (*big.Rat, error) {
	scale, err := DecimalScale(s)
	if err != nil {
		return nil, err
	}
	return DecimalFromUnscaled(fromTwosComplement(b), scale), nil
}

// DecimalFromUnscaled returns unscaled × 10^-scale.
func DecimalFromUnscaled(unscaled *big.Int, scale int32) *big.Rat {
	r := new(big.Rat).SetInt(unscaled)
	return r.Quo(r, pow10(scale))
}

// pow10 returns 10^scale (a fraction for a negative scale).
func pow10(scale int32) *big.Rat {
	abs := int64(scale)
	if abs < 0 {
		abs = -abs
	}
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(abs), nil))
	if scale < 0 {
		p.Inv(p)
	}
	return p
}

// twosComplement returns the minimal big-endian two's-complement bytes of
// n (Java's BigInteger.toByteArray).
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n - 1, inverted, is the two's complement.
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// fromTwosComplement is BigInteger(byte[]).
func fromTwosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return n
}

// DateBuilder starts a Date schema (Kafka's Date.builder).
func DateBuilder() *SchemaBuilder { return Int32Builder().Name(DateLogicalName).Version(1) }

// DateSchema is a required Date schema.
var DateSchema = DateBuilder().MustBuild()

// DateFromLogical returns the days since the epoch of t, which must be
// midnight UTC.
func DateFromLogical(t time.Time) (int32, error) {
	ms := t.UnixMilli()
	if ms%millisPerDay != 0 {
		return 0, fmt.Errorf("%w: Kafka Connect Date type should not have any time fields set to non-zero values", ErrData)
	}
	return int32(ms / millisPerDay), nil
}

// DateToLogical returns midnight UTC of the given day since the epoch.
func DateToLogical(days int32) time.Time {
	return time.UnixMilli(int64(days) * millisPerDay).UTC()
}

// TimeBuilder starts a Time schema (Kafka's Time.builder).
func TimeBuilder() *SchemaBuilder { return Int32Builder().Name(TimeLogicalName).Version(1) }

// TimeSchema is a required Time schema.
var TimeSchema = TimeBuilder().MustBuild()

// TimeFromLogical returns the milliseconds since midnight of t, which must
// be on 1970-01-01 UTC.
func TimeFromLogical(t time.Time) (int32, error) {
	ms := t.UnixMilli()
	if ms < 0 || ms >= millisPerDay {
		return 0, fmt.Errorf("%w: Kafka Connect Time type should not have any date fields set to non-zero values", ErrData)
	}
	return int32(ms), nil
}

// TimeToLogical returns the time ms milliseconds after midnight of
// 1970-01-01 UTC.
func TimeToLogical(ms int32) (time.Time, error) {
	if ms < 0 || ms >= millisPerDay {
		return time.Time{}, fmt.Errorf("%w: Time values must use number of milliseconds greater than 0 and less than 86400000", ErrData)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

// TimestampBuilder starts a Timestamp schema (Kafka's Timestamp.builder).
func TimestampBuilder() *SchemaBuilder {
	return Int64Builder().Name(TimestampLogicalName).Version(1)
}

// TimestampSchema is a required Timestamp schema.
var TimestampSchema = TimestampBuilder().MustBuild()

// TimestampFromLogical returns the milliseconds since the epoch of t.
func TimestampFromLogical(t time.Time) int64 { return t.UnixMilli() }

// TimestampToLogical returns the time ms milliseconds after the epoch, in
// UTC.
func TimestampToLogical(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// logicalEqual compares the Go values of logical types; ok is false when
// a is not one.
func logicalEqual(a, b any) (eq, ok bool) {
	switch av := a.(type) {
	case *big.Rat:
		bv, isRat := b.(*big.Rat)
		if av == nil || !isRat || bv == nil {
			return av == nil && isRat && bv == nil, true
		}
		return av.Cmp(bv) == 0, true
	case time.Time:
		bv, isTime := b.(time.Time)
		return isTime && av.Equal(bv), true
	}
	return false, false
}
