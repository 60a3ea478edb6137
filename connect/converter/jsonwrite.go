package converter

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"github.com/gregor-streaming/gregor/connect"
)

// jsonWriter appends compact JSON to buf, keeping object fields in the
// order they are written (as Jackson's ObjectNode does).
type jsonWriter struct {
	buf []byte
}

const hexDigits = "0123456789abcdef"

// str appends s as a JSON string. Like Jackson, it escapes only '"', '\\'
// and control characters; invalid UTF-8 becomes U+FFFD.
func (w *jsonWriter) str(s string) {
	w.buf = append(w.buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				w.buf = append(w.buf, '\\', c)
			case c == '\n':
				w.buf = append(w.buf, '\\', 'n')
			case c == '\r':
				w.buf = append(w.buf, '\\', 'r')
			case c == '\t':
				w.buf = append(w.buf, '\\', 't')
			case c == '\b':
				w.buf = append(w.buf, '\\', 'b')
			case c == '\f':
				w.buf = append(w.buf, '\\', 'f')
			case c < 0x20:
				w.buf = append(w.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				w.buf = append(w.buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			w.buf = append(w.buf, "\ufffd"...)
		} else {
			w.buf = append(w.buf, s[i:i+size]...)
		}
		i += size
	}
	w.buf = append(w.buf, '"')
}

func (w *jsonWriter) raw(s string) { w.buf = append(w.buf, s...) }

func (w *jsonWriter) byte(c byte) { w.buf = append(w.buf, c) }

func (w *jsonWriter) int(n int64) { w.buf = strconv.AppendInt(w.buf, n, 10) }

func (w *jsonWriter) bool(b bool) { w.buf = strconv.AppendBool(w.buf, b) }

// float appends f as Jackson writes a float or double node; NaN and the
// infinities, which JSON cannot hold as numbers, are written as strings
// (Jackson's WRITE_NAN_AS_STRINGS, on by default).
func (w *jsonWriter) float(f float64, bits int) {
	s := connect.FormatJavaDouble(f, bits)
	switch s {
	case "NaN", "Infinity", "-Infinity":
		w.str(s)
	default:
		w.raw(s)
	}
}

// bytes appends b as Jackson writes a binary node: a base64 string.
func (w *jsonWriter) bytes(b []byte) { w.str(base64.StdEncoding.EncodeToString(b)) }

// key appends an object key and its colon, preceded by a comma unless
// first.
func (w *jsonWriter) key(k string, first bool) {
	if !first {
		w.byte(',')
	}
	w.str(k)
	w.byte(':')
}
