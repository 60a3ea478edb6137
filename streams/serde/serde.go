// Package serde turns the keys and values of a Gregor Streams topology into
// bytes and back, writing the same bytes as Kafka's own serializers so that
// a Java or librdkafka application on the other end of a topic reads them
// unchanged.
//
//	s := serde.Int64()
//	b, _ := s.Serialize("counts", 42)   // 00 00 00 00 00 00 00 2a
//	n, _ := s.Deserialize("counts", b)  // 42
//
// The built-in formats, all big-endian as Java's DataOutput writes them:
//
//	serde       Go type    Kafka class              bytes
//	String      string     StringSerializer         UTF-8, as is
//	Bytes       []byte     ByteArraySerializer      as is
//	Int16       int16      ShortSerializer          2
//	Int32       int32      IntegerSerializer        4
//	Int64       int64      LongSerializer           8
//	Float32     float32    FloatSerializer          4, IEEE 754 bits
//	Float64     float64    DoubleSerializer         8, IEEE 754 bits
//	Bool        bool       BooleanSerializer        1 (0 or 1)
//	JSON[T]     any T      (Jackson / JsonSerializer) encoding/json
//
// A null key or value (a record whose bytes are nil, such as a tombstone)
// never reaches a Serde: the streams runtime carries nullness on the record
// itself (see streams.Record.IsNullValue), so a Serde only ever sees real
// data. New builds a Serde from two functions for any other format; Default
// picks a built-in by type, as Kafka's default.key.serde would be set.
//
// Serdes are stateless and safe for concurrent use; a Serialize result is
// owned by the caller.
package serde

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Errors returned by the built-in serdes. Deserialization errors wrap
// ErrSize or ErrFormat; use errors.Is.
var (
	// ErrSize is wrapped by a fixed-width deserializer given the wrong
	// number of bytes (Kafka: "Size of data received by
	// LongDeserializer is not 8").
	ErrSize = errors.New("serde: wrong data size")
	// ErrFormat is wrapped when bytes cannot be decoded (bad JSON, a
	// boolean byte other than 0 or 1).
	ErrFormat = errors.New("serde: malformed data")
)

// Serde serializes and deserializes values of type T for a topic.
type Serde[T any] interface {
	// Serialize returns the bytes for v, which become a record's key or
	// value in topic.
	Serialize(topic string, v T) ([]byte, error)
	// Deserialize decodes data (never nil) read from topic.
	Deserialize(topic string, data []byte) (T, error)
}

type funcSerde[T any] struct {
	ser func(topic string, v T) ([]byte, error)
	de  func(topic string, data []byte) (T, error)
}

func (s funcSerde[T]) Serialize(topic string, v T) ([]byte, error) { return s.ser(topic, v) }
func (s funcSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	return s.de(topic, data)
}

// New returns a Serde from a serialize and a deserialize function.
func New[T any](ser func(topic string, v T) ([]byte, error), de func(topic string, data []byte) (T, error)) Serde[T] {
	return funcSerde[T]{ser: ser, de: de}
}

// String is Kafka's StringSerde: UTF-8 bytes.
func String() Serde[string] {
	return funcSerde[string]{
		ser: func(_ string, v string) ([]byte, error) { return []byte(v), nil },
		de:  func(_ string, b []byte) (string, error) { return string(b), nil },
	}
}

// Bytes is Kafka's ByteArraySerde: the bytes as they are.
func Bytes() Serde[[]byte] {
	return funcSerde[[]byte]{
		ser: func(_ string, v []byte) ([]byte, error) { return v, nil },
		de:  func(_ string, b []byte) ([]byte, error) { return b, nil },
	}
}

func sizeError(class string, n int) error {
	return fmt.Errorf("%w: size of data received by %s is not %d", ErrSize, class, n)
}

// Int16 is Kafka's ShortSerde: 2 bytes big-endian.
func Int16() Serde[int16] {
	return funcSerde[int16]{
		ser: func(_ string, v int16) ([]byte, error) {
			return binary.BigEndian.AppendUint16(nil, uint16(v)), nil
		},
		de: func(_ string, b []byte) (int16, error) {
			if len(b) != 2 {
				return 0, sizeError("ShortDeserializer", 2)
			}
			return int16(binary.BigEndian.Uint16(b)), nil
		},
	}
}

// Int32 is Kafka's IntegerSerde: 4 bytes big-endian.
func Int32() Serde[int32] {
	return funcSerde[int32]{
		ser: func(_ string, v int32) ([]byte, error) {
			return binary.BigEndian.AppendUint32(nil, uint32(v)), nil
		},
		de: func(_ string, b []byte) (int32, error) {
			if len(b) != 4 {
				return 0, sizeError("IntegerDeserializer", 4)
			}
			return int32(binary.BigEndian.Uint32(b)), nil
		},
	}
}

// Int64 is Kafka's LongSerde: 8 bytes big-endian.
func Int64() Serde[int64] {
	return funcSerde[int64]{
		ser: func(_ string, v int64) ([]byte, error) {
			return binary.BigEndian.AppendUint64(nil, uint64(v)), nil
		},
		de: func(_ string, b []byte) (int64, error) {
			if len(b) != 8 {
				return 0, sizeError("LongDeserializer", 8)
			}
			return int64(binary.BigEndian.Uint64(b)), nil
		},
	}
}

// Float32 is Kafka's FloatSerde: the IEEE 754 bits, 4 bytes big-endian.
func Float32() Serde[float32] {
	return funcSerde[float32]{
		ser: func(_ string, v float32) ([]byte, error) {
			return binary.BigEndian.AppendUint32(nil, math.Float32bits(v)), nil
		},
		de: func(_ string, b []byte) (float32, error) {
			if len(b) != 4 {
				return 0, sizeError("FloatDeserializer", 4)
			}
			return math.Float32frombits(binary.BigEndian.Uint32(b)), nil
		},
	}
}

// Float64 is Kafka's DoubleSerde: the IEEE 754 bits, 8 bytes big-endian.
func Float64() Serde[float64] {
	return funcSerde[float64]{
		ser: func(_ string, v float64) ([]byte, error) {
			return binary.BigEndian.AppendUint64(nil, math.Float64bits(v)), nil
		},
		de: func(_ string, b []byte) (float64, error) {
			if len(b) != 8 {
				return 0, sizeError("DoubleDeserializer", 8)
			}
			return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
		},
	}
}

// Bool is Kafka's BooleanSerde: one byte, 1 for true and 0 for false.
func Bool() Serde[bool] {
	return funcSerde[bool]{
		ser: func(_ string, v bool) ([]byte, error) {
			if v {
				return []byte{1}, nil
			}
			return []byte{0}, nil
		},
		de: func(_ string, b []byte) (bool, error) {
			if len(b) != 1 {
				return false, sizeError("BooleanDeserializer", 1)
			}
			switch b[0] {
			case 0:
				return false, nil
			case 1:
				return true, nil
			}
			return false, fmt.Errorf("%w: unexpected byte %#x for BooleanDeserializer", ErrFormat, b[0])
		},
	}
}

// JSON encodes T with encoding/json.
func JSON[T any]() Serde[T] {
	return funcSerde[T]{
		ser: func(_ string, v T) ([]byte, error) { return json.Marshal(v) },
		de: func(_ string, b []byte) (T, error) {
			var v T
			if err := json.Unmarshal(b, &v); err != nil {
				return v, fmt.Errorf("%w: %w", ErrFormat, err)
			}
			return v, nil
		},
	}
}

// Default returns the built-in Serde for T's type: String for string,
// Bytes for []byte, Int16/Int32/Int64, Float32/Float64, Bool, and JSON for
// every other type (including int, which JSON writes as a decimal number).
// The streams DSL uses it where a caller gives no serde, as Kafka uses
// default.key.serde and default.value.serde.
func Default[T any]() Serde[T] {
	var zero T
	var s any
	switch any(zero).(type) {
	case string:
		s = String()
	case []byte:
		s = Bytes()
	case int16:
		s = Int16()
	case int32:
		s = Int32()
	case int64:
		s = Int64()
	case float32:
		s = Float32()
	case float64:
		s = Float64()
	case bool:
		s = Bool()
	default:
		return JSON[T]()
	}
	return s.(Serde[T])
}
