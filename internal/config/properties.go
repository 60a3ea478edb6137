package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ParseProperties reads a Java .properties document as
// java.util.Properties.load does:
//
//   - A natural line ends at \n, \r or \r\n. Leading blanks (space, \t,
//     \f) are skipped; blank lines are ignored.
//   - A line whose first non-blank character is '#' or '!' is a comment.
//   - A line ending in an odd number of backslashes continues on the next
//     line, whose leading blanks are dropped. Continuation lines are never
//     comments.
//   - The key runs to the first unescaped '=', ':' or blank; blanks, then
//     at most one '=' or ':', then blanks separate it from the value.
//     Trailing blanks belong to the value. A key alone has value "".
//   - In keys and values, \t \n \r \f and \uXXXX are escapes; a backslash
//     before any other character stands for that character.
//   - A later key replaces an earlier one.
//
// Unlike Properties.load(InputStream), which decodes ISO-8859-1, the input
// is read as UTF-8. A malformed \uXXXX escape is an error wrapping
// ErrMalformedProperties.
func ParseProperties(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	props := map[string]string{}
	lr := lineReader{in: []rune(string(data))}
	for {
		line, lineNo, ok := lr.next()
		if !ok {
			break
		}
		keyEnd, valueStart := splitKeyValue(line)
		key, err := unescape(line[:keyEnd])
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrMalformedProperties, lineNo, err)
		}
		value, err := unescape(line[valueStart:])
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrMalformedProperties, lineNo, err)
		}
		props[key] = value
	}
	return props, nil
}

// ReadPropertiesFile reads the .properties file at path (see
// ParseProperties).
func ReadPropertiesFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	props, err := ParseProperties(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return props, nil
}

// ParseOverrides turns command-line "key=value" arguments (Kafka's
// --override) into a map, as Kafka's CommandLineUtils.parseKeyValueArgs:
// the first '=' splits; "key" or "key=" sets the empty value.
func ParseOverrides(args []string) (map[string]string, error) {
	out := make(map[string]string, len(args))
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		if k == "" {
			return nil, fmt.Errorf("%w: invalid override %q: missing key", ErrMalformedProperties, a)
		}
		out[k] = v
	}
	return out, nil
}

func isBlank(c rune) bool { return c == ' ' || c == '\t' || c == '\f' }

// lineReader splits input into logical lines as Java's
// Properties.LineReader: comments and blank lines dropped, continuations
// joined (the continuing backslash removed, escapes otherwise kept raw).
type lineReader struct {
	in   []rune
	pos  int
	line int // 1-based number of the natural line at pos
}

// next returns the next logical line and the number of the natural line
// it starts on; ok is false at end of input.
func (lr *lineReader) next() (line []rune, lineNo int, ok bool) {
	var buf []rune
	skipBlank := true
	comment := false
	newLine := true
	appendedBegin := false
	backslash := false
	skipLF := false
	start := 0
	for {
		if lr.pos >= len(lr.in) {
			if comment || len(buf) == 0 {
				return nil, 0, false
			}
			if backslash {
				buf = buf[:len(buf)-1]
			}
			return buf, start, true
		}
		c := lr.in[lr.pos]
		lr.pos++
		if c == '\r' || (c == '\n' && (lr.pos < 2 || lr.in[lr.pos-2] != '\r')) {
			lr.line++ // \r\n counts once
		}
		if skipLF {
			skipLF = false
			if c == '\n' {
				continue
			}
		}
		if skipBlank {
			if isBlank(c) {
				continue
			}
			if !appendedBegin && (c == '\r' || c == '\n') {
				continue
			}
			skipBlank = false
			appendedBegin = false
		}
		if newLine {
			newLine = false
			start = lr.line + 1
			if c == '#' || c == '!' {
				comment = true
				continue
			}
		}
		if c != '\n' && c != '\r' {
			if comment {
				continue
			}
			buf = append(buf, c)
			if c == '\\' {
				backslash = !backslash
			} else {
				backslash = false
			}
			continue
		}
		// End of a natural line.
		if comment || len(buf) == 0 {
			comment = false
			newLine = true
			skipBlank = true
			backslash = false
			buf = buf[:0]
			if c == '\r' {
				skipLF = true
			}
			continue
		}
		if backslash {
			buf = buf[:len(buf)-1]
			backslash = false
			skipBlank = true
			appendedBegin = true
			if c == '\r' {
				skipLF = true
			}
			continue
		}
		if c == '\r' && lr.pos < len(lr.in) && lr.in[lr.pos] == '\n' {
			lr.pos++
		}
		return buf, start, true
	}
}

// splitKeyValue finds where the key ends and the value starts in a
// logical line, as Properties.load0.
func splitKeyValue(line []rune) (keyEnd, valueStart int) {
	valueStart = len(line)
	hasSep := false
	backslash := false
	keyEnd = 0
	for keyEnd < len(line) {
		c := line[keyEnd]
		if (c == '=' || c == ':') && !backslash {
			valueStart = keyEnd + 1
			hasSep = true
			break
		}
		if isBlank(c) && !backslash {
			valueStart = keyEnd + 1
			break
		}
		if c == '\\' {
			backslash = !backslash
		} else {
			backslash = false
		}
		keyEnd++
	}
	for valueStart < len(line) {
		c := line[valueStart]
		if !isBlank(c) {
			if !hasSep && (c == '=' || c == ':') {
				hasSep = true
			} else {
				break
			}
		}
		valueStart++
	}
	return keyEnd, valueStart
}

var errMalformedUnicode = errors.New(`malformed \uxxxx encoding`)

// unescape is Properties.loadConvert.
func unescape(s []rune) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteRune(c)
			continue
		}
		i++
		if i >= len(s) {
			// A lone trailing backslash (only possible at end of input)
			// is dropped, as Java does.
			break
		}
		c = s[i]
		switch c {
		case 'u':
			if i+4 >= len(s) {
				return "", errMalformedUnicode
			}
			var v rune
			for j := 1; j <= 4; j++ {
				h := s[i+j]
				switch {
				case h >= '0' && h <= '9':
					v = v<<4 + h - '0'
				case h >= 'a' && h <= 'f':
					v = v<<4 + 10 + h - 'a'
				case h >= 'A' && h <= 'F':
					v = v<<4 + 10 + h - 'A'
				default:
					return "", errMalformedUnicode
				}
			}
			i += 4
			b.WriteRune(v)
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		default:
			b.WriteRune(c)
		}
	}
	return b.String(), nil
}
