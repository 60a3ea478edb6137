package connect

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FormatValue formats a Connect value as Java's toString would for
// Kafka's Java representation, which is what StringConverter writes and
// FileStreamSinkTask prints: strings as they are, integers in decimal,
// floats as Java's Double.toString ("1.0", "1.5E10"), lists as "[a, b]",
// maps as "{k=v, k2=v2}" (keys sorted), structs as "Struct{a=1}",
// decimals in plain notation, times in RFC 3339. nil is "null".
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return fmt.Sprint(x)
	case float32:
		return FormatJavaDouble(float64(x), 32)
	case float64:
		return FormatJavaDouble(x, 64)
	case []byte:
		return string(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = FormatValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, k+"="+FormatValue(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case map[any]any:
		parts := make([]string, 0, len(x))
		for k, e := range x {
			parts = append(parts, FormatValue(k)+"="+FormatValue(e))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	case *Struct:
		return x.String()
	case *big.Rat:
		return FormatDecimal(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// FormatDecimal writes r in plain decimal notation with as many fraction
// digits as it needs (at most 1000; r is rounded beyond).
func FormatDecimal(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	x := new(big.Rat).Set(r)
	ten := big.NewRat(10, 1)
	digits := 0
	for !x.IsInt() && digits < 1000 {
		x.Mul(x, ten)
		digits++
	}
	return r.FloatString(digits)
}

// FormatJavaDouble formats f as Java's Double.toString (bits 64) or
// Float.toString (bits 32): the shortest digits that round-trip, always
// with a fraction ("1.0"), in computerized scientific notation below
// 10^-3 and from 10^7 on ("1.0E7"), "NaN", "Infinity", "-Infinity".
func FormatJavaDouble(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	abs := math.Abs(f)
	if f == 0 || (abs >= 1e-3 && abs < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, bits)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, bits)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	if exp[0] == '+' {
		exp = exp[1:]
	}
	exp = strings.TrimLeft(exp, "0")
	if strings.HasPrefix(exp, "-") {
		exp = "-" + strings.TrimLeft(exp[1:], "0")
	}
	return mant + "E" + exp
}
