package cli

// Kafka's built-in deserializers, as the console consumer's formatter uses
// them (--key-deserializer, --value-deserializer, headers.deserializer).
//
// The formatter turns each deserialized object into text with Java's
// toString, so a deserializer here maps record bytes straight to that
// text. The numeric ones read big-endian fixed-width values exactly as the
// Java classes do:
//
//	ShortDeserializer    2 bytes  int16        "-2"
//	IntegerDeserializer  4 bytes  int32        "42"
//	LongDeserializer     8 bytes  int64        "1700000000000"
//	FloatDeserializer    4 bytes  IEEE 754     "1.5", "1.0E10", "NaN"
//	DoubleDeserializer   8 bytes  IEEE 754     "0.001", "4.9E-324"
//	UUIDDeserializer     UTF-8 text of a UUID, printed canonical lower case
//	StringDeserializer   UTF-8 text; malformed bytes become U+FFFD
//	BytesDeserializer    as StringDeserializer (Bytes.toString decodes UTF-8)
//	ByteArrayDeserializer the raw bytes (Java would print the array's
//	                     identity, "[B@1b6d3586"; the bytes are more useful)
//	VoidDeserializer     fails on any data
//
// A wrong width fails with the Java exception's message (for example "Size
// of data received by LongDeserializer is not 8").

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// deserializer turns record bytes into the text the console consumer
// prints. data is never nil: the formatter passes null.literal for a null
// key, value or header value, as Kafka's DefaultMessageFormatter does. The
// returned slice may alias data.
type deserializer func(data []byte) ([]byte, error)

// deserializerPackage is where Kafka's built-in deserializers live.
const deserializerPackage = "org.apache.kafka.common.serialization."

// deserializers maps the simple class names to implementations.
var deserializers = map[string]deserializer{
	"StringDeserializer":    deserializeString,
	"BytesDeserializer":     deserializeString,
	"ByteArrayDeserializer": func(b []byte) ([]byte, error) { return b, nil },
	"ByteBufferDeserializer": func(b []byte) ([]byte, error) {
		// ByteBuffer.toString describes the buffer, not its content.
		return fmt.Appendf(nil, "java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]", len(b), len(b)), nil
	},
	"ShortDeserializer":   deserializeShort,
	"IntegerDeserializer": deserializeInteger,
	"LongDeserializer":    deserializeLong,
	"FloatDeserializer":   deserializeFloat,
	"DoubleDeserializer":  deserializeDouble,
	"UUIDDeserializer":    deserializeUUID,
	"VoidDeserializer": func([]byte) ([]byte, error) {
		return nil, errors.New("Data should be null for a VoidDeserializer.")
	},
}

// lookupDeserializer returns the deserializer for a Kafka class name such
// as "org.apache.kafka.common.serialization.LongDeserializer". The simple
// name ("LongDeserializer") is accepted too.
func lookupDeserializer(class string) (deserializer, error) {
	class = strings.TrimSpace(class)
	simple := strings.TrimPrefix(class, deserializerPackage)
	if d, ok := deserializers[simple]; ok && (simple == class || strings.HasPrefix(class, deserializerPackage)) {
		return d, nil
	}
	return nil, fmt.Errorf("java.lang.ClassNotFoundException: %s", class)
}

func deserializeString(b []byte) ([]byte, error) { return javaUTF8(b), nil }

func deserializeShort(b []byte) ([]byte, error) {
	if len(b) != 2 {
		return nil, errors.New("Size of data received by ShortDeserializer is not 2")
	}
	return strconv.AppendInt(nil, int64(int16(binary.BigEndian.Uint16(b))), 10), nil
}

func deserializeInteger(b []byte) ([]byte, error) {
	if len(b) != 4 {
		return nil, errors.New("Size of data received by IntegerDeserializer is not 4")
	}
	return strconv.AppendInt(nil, int64(int32(binary.BigEndian.Uint32(b))), 10), nil
}

func deserializeLong(b []byte) ([]byte, error) {
	if len(b) != 8 {
		return nil, errors.New("Size of data received by LongDeserializer is not 8")
	}
	return strconv.AppendInt(nil, int64(binary.BigEndian.Uint64(b)), 10), nil
}

func deserializeFloat(b []byte) ([]byte, error) {
	if len(b) != 4 {
		return nil, errors.New("Size of data received by Deserializer is not 4")
	}
	return []byte(javaFloatString(float64(math.Float32frombits(binary.BigEndian.Uint32(b))), 32)), nil
}

func deserializeDouble(b []byte) ([]byte, error) {
	if len(b) != 8 {
		return nil, errors.New("Size of data received by Deserializer is not 8")
	}
	return []byte(javaFloatString(math.Float64frombits(binary.BigEndian.Uint64(b)), 64)), nil
}

// deserializeUUID parses the text as java.util.UUID.fromString does (five
// dash-separated hex groups; longer groups are truncated to their field
// width) and prints it canonically.
func deserializeUUID(b []byte) ([]byte, error) {
	s := string(javaUTF8(b))
	bad := fmt.Errorf("Invalid UUID string: %s", s)
	if len(s) > 36 {
		return nil, fmt.Errorf("UUID string too large")
	}
	parts := strings.Split(s, "-")
	if len(parts) != 5 {
		return nil, bad
	}
	var v [5]uint64
	for i, p := range parts {
		if p == "" || len(p) > 16 {
			return nil, bad
		}
		n, err := strconv.ParseUint(p, 16, 64)
		if err != nil {
			return nil, bad
		}
		v[i] = n
	}
	return fmt.Appendf(nil, "%08x-%04x-%04x-%04x-%012x",
		v[0]&0xffffffff, v[1]&0xffff, v[2]&0xffff, v[3]&0xffff, v[4]&0xffffffffffff), nil
}

// javaUTF8 returns b as Java's UTF-8 decoder sees it: valid sequences are
// kept and each malformed one (a maximal prefix of a valid sequence, or a
// single bad byte) becomes one U+FFFD, as Unicode recommends and Java
// does. b itself is returned when it is valid.
func javaUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			out = append(out, b[:n]...)
			b = b[n:]
			continue
		}
		out = utf8.AppendRune(out, utf8.RuneError)
		b = b[malformedLen(b):]
	}
	return out
}

// malformedLen returns the length of the maximal subpart of a UTF-8
// sequence at the start of b, which does not decode: the lead byte and the
// continuation bytes that could still have completed it.
func malformedLen(b []byte) int {
	var need int
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c >= 0xE0 && c <= 0xEF:
		need = 2
		if c == 0xE0 {
			lo = 0xA0
		} else if c == 0xED {
			hi = 0x9F
		}
	case c >= 0xF0 && c <= 0xF4:
		need = 3
		if c == 0xF0 {
			lo = 0x90
		} else if c == 0xF4 {
			hi = 0x8F
		}
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		c := b[n]
		if n == 1 && (c < lo || c > hi) || n > 1 && (c < 0x80 || c > 0xBF) {
			break
		}
	}
	return n
}

// javaFloatString formats f as Java's Double.toString (bits 64) or
// Float.toString (bits 32) does since JDK 19: the shortest decimal that
// reads back as f (at least two significant digits are considered when
// one would do, which is why Double.MIN_VALUE prints as 4.9E-324), in
// plain notation for 1e-3 <= |f| < 1e7 and as d.dddE±n otherwise, always
// with a digit after the point.
func javaFloatString(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	neg := f < 0
	if neg {
		f = -f
	}
	digits, exp := shortestDigits(f, bits)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if f >= 1e-3 && f < 1e7 {
		// Plain notation; exp is the power of ten of the first digit.
		if exp >= 0 {
			if len(digits) <= exp+1 {
				b.WriteString(digits)
				b.WriteString(strings.Repeat("0", exp+1-len(digits)))
				b.WriteString(".0")
			} else {
				b.WriteString(digits[:exp+1])
				b.WriteByte('.')
				b.WriteString(digits[exp+1:])
			}
		} else {
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", -exp-1))
			b.WriteString(digits)
		}
		return b.String()
	}
	b.WriteByte(digits[0])
	b.WriteByte('.')
	if len(digits) > 1 {
		b.WriteString(digits[1:])
	} else {
		b.WriteByte('0')
	}
	b.WriteByte('E')
	b.WriteString(strconv.Itoa(exp))
	return b.String()
}

// shortestDigits returns the significant digits (no trailing zeros) of
// Java's choice of decimal for f > 0 and the power of ten of the first
// digit.
func shortestDigits(f float64, bits int) (string, int) {
	s := strconv.FormatFloat(f, 'e', -1, bits)
	mant, e, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(e)
	digits := strings.Replace(mant, ".", "", 1)
	if len(digits) == 1 {
		// Java picks, among the decimals of length 1 or 2 that round to
		// f, the closest one. The correctly rounded two-digit decimal is
		// the closest of those if it reads back as f.
		two := strconv.FormatFloat(f, 'e', 1, bits)
		if back, err := strconv.ParseFloat(two, bits); err == nil && back == f {
			m2, e2, _ := strings.Cut(two, "e")
			exp, _ = strconv.Atoi(e2)
			digits = strings.TrimRight(strings.Replace(m2, ".", "", 1), "0")
		}
	}
	return digits, exp
}
