package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Expected results follow java.util.Properties.load (Java 17).
func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"equals", "a=b", map[string]string{"a": "b"}},
		{"colon", "a:b", map[string]string{"a": "b"}},
		{"space separator", "a b", map[string]string{"a": "b"}},
		{"blanks around separator", "a \t = \f b", map[string]string{"a": "b"}},
		{"only first separator counts", "a==b", map[string]string{"a": "=b"}},
		{"blank then separator then separator", "a = :b", map[string]string{"a": ":b"}},
		{"colon in value", "listeners=PLAINTEXT://:9092", map[string]string{"listeners": "PLAINTEXT://:9092"}},
		{"key only", "flag", map[string]string{"flag": ""}},
		{"key and separator only", "flag=", map[string]string{"flag": ""}},
		{"leading blanks skipped", "   \t a=b", map[string]string{"a": "b"}},
		{"trailing blanks kept", "a=b  ", map[string]string{"a": "b  "}},
		{"hash comment", "# c\na=b", map[string]string{"a": "b"}},
		{"bang comment", "! c\na=b", map[string]string{"a": "b"}},
		{"indented comment", "   # c=d\na=b", map[string]string{"a": "b"}},
		{"hash inside value", "a=b#c", map[string]string{"a": "b#c"}},
		{"blank lines", "\n\n  \na=b\n\n", map[string]string{"a": "b"}},
		{"crlf", "a=b\r\nc=d\r\n", map[string]string{"a": "b", "c": "d"}},
		{"cr only", "a=b\rc=d", map[string]string{"a": "b", "c": "d"}},
		{"continuation", "a=b,\\\n   c", map[string]string{"a": "b,c"}},
		{"continuation crlf", "a=b,\\\r\n   c\r\nd=e", map[string]string{"a": "b,c", "d": "e"}},
		{"continuation of key", "ke\\\n  y=v", map[string]string{"key": "v"}},
		{"continued line is not a comment", "a=b\\\n#c", map[string]string{"a": "b#c"}},
		{"comment is not continued", "# c\\\na=b", map[string]string{"a": "b"}},
		{"continuation then blank line ends", "a=b\\\n\nc=d", map[string]string{"a": "b", "c": "d"}},
		{"even backslashes do not continue", "a=b\\\\\nc=d", map[string]string{"a": "b\\", "c": "d"}},
		{"backslash at end of input dropped", "a=b\\", map[string]string{"a": "b"}},
		{"escapes", `a=t\tn\nr\rf\f`, map[string]string{"a": "t\tn\nr\rf\f"}},
		{"unicode escape", `a=\u0041\u00e9`, map[string]string{"a": "Aé"}},
		{"escaped other char", `a=\q\#\!`, map[string]string{"a": "q#!"}},
		{"escaped separator in key", `a\=b=c`, map[string]string{"a=b": "c"}},
		{"escaped colon in key", `a\:b:c`, map[string]string{"a:b": "c"}},
		{"escaped blank in key", `a\ b c`, map[string]string{"a b": "c"}},
		{"escaped leading blank in value", `a=\ b`, map[string]string{"a": " b"}},
		{"utf8", "größe=ä", map[string]string{"größe": "ä"}},
		{"last one wins", "a=1\na=2", map[string]string{"a": "2"}},
		{"no final newline", "a=1\nb=2", map[string]string{"a": "1", "b": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("ParseProperties(%q): %v", tt.in, err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("ParseProperties(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePropertiesMalformed(t *testing.T) {
	for _, in := range []string{`a=\u12`, `a=\uzzzz`, "ok=1\nb=\\u00", `\u00g1=x`} {
		_, err := ParseProperties(strings.NewReader(in))
		if !errors.Is(err, ErrMalformedProperties) {
			t.Errorf("ParseProperties(%q) error = %v, want ErrMalformedProperties", in, err)
		}
	}
	_, err := ParseProperties(strings.NewReader("a=1\n\n  b=\\u00"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v does not name line 3", err)
	}
}

func TestReadPropertiesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.properties")
	if err := os.WriteFile(path, []byte("# x\nnum.partitions = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPropertiesFile(path)
	if err != nil || got["num.partitions"] != "3" {
		t.Fatalf("ReadPropertiesFile = %v, %v", got, err)
	}
	if _, err := ReadPropertiesFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseOverrides(t *testing.T) {
	got, err := ParseOverrides([]string{"a=b", "c=d=e", "f=", "g"})
	want := map[string]string{"a": "b", "c": "d=e", "f": "", "g": ""}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("ParseOverrides = %v, %v; want %v", got, err, want)
	}
	if _, err := ParseOverrides([]string{"=x"}); !errors.Is(err, ErrMalformedProperties) {
		t.Errorf("missing key: %v", err)
	}
}

// escapeProperty writes s so that ParseProperties reads it back as is.
func escapeProperty(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch r {
		case '\\', '=', ':', '#', '!':
			b.WriteString(`\` + string(r))
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case ' ':
			if key || i == 0 {
				b.WriteString(`\ `)
			} else {
				b.WriteRune(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FuzzParseProperties checks that parsing never panics, and that any
// parsed map written back out with escapes parses to the same map.
func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{"a=b", "a:b\nc d", "# c\n!c\na=\\\n b", `k\ x=\u0041\t`, "a=b\r\nc=d\\\r\n e", "\\", "a\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		props, err := ParseProperties(strings.NewReader(in))
		if err != nil {
			return
		}
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out strings.Builder
		for _, k := range keys {
			out.WriteString(escapeProperty(k, true) + "=" + escapeProperty(props[k], false) + "\n")
		}
		again, err := ParseProperties(strings.NewReader(out.String()))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out.String(), err)
		}
		if !maps.Equal(props, again) {
			t.Fatalf("round trip: %q -> %q -> %q", in, out.String(), again)
		}
	})
}
