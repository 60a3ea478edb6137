package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// rec is a comparable view of a parsed record; "<nil>" stands for null.
type rec struct {
	key, value string
	headers    []string // "k=v" pairs
}

func view(r *kgo.Record) rec {
	s := func(b []byte) string {
		if b == nil {
			return "<nil>"
		}
		return string(b)
	}
	v := rec{key: s(r.Key), value: s(r.Value)}
	for _, h := range r.Headers {
		v.headers = append(v.headers, h.Key+"="+s(h.Value))
	}
	return v
}

func TestLineReader(t *testing.T) {
	for _, tc := range []struct {
		name    string
		props   map[string]string
		line    string
		want    rec
		wantErr string
	}{
		{"value only", nil, "hello\tworld", rec{key: "<nil>", value: "hello\tworld"}, ""},
		{"empty line", nil, "", rec{key: "<nil>", value: ""}, ""},
		{"key", map[string]string{"parse.key": "true"}, "k\tv\tw", rec{key: "k", value: "v\tw"}, ""},
		{"empty key", map[string]string{"parse.key": "true"}, "\tv", rec{key: "", value: "v"}, ""},
		{"no key separator", map[string]string{"parse.key": "true"}, "abc", rec{},
			"No key separator found on line number 1: 'abc'"},
		{"no key separator ignored", map[string]string{"parse.key": "true", "ignore.error": "true"}, "abc",
			rec{key: "<nil>", value: "abc"}, ""},
		{"custom key separator", map[string]string{"parse.key": "true", "key.separator": ":::"}, "a:b:::c:::d",
			rec{key: "a:b", value: "c:::d"}, ""},
		{"headers and key", map[string]string{"parse.key": "true", "parse.headers": "true"}, "h1:v1,h2:v2\tk\tv",
			rec{key: "k", value: "v", headers: []string{"h1=v1", "h2=v2"}}, ""},
		{"headers only", map[string]string{"parse.headers": "true"}, "h:x:y\tv",
			rec{key: "<nil>", value: "v", headers: []string{"h=x:y"}}, ""},
		{"no headers delimiter", map[string]string{"parse.headers": "true"}, "h:1", rec{},
			"No headers delimiter found on line number 1: 'h:1'"},
		{"header without key separator", map[string]string{"parse.headers": "true"}, "h1:a,bad\tv", rec{},
			"No header key separator found in pair 'bad' on line number 1"},
		{"header without key separator ignored", map[string]string{"parse.headers": "true", "ignore.error": "true"}, "bad\tv",
			rec{key: "<nil>", value: "v", headers: []string{"bad=<nil>"}}, ""},
		{"trailing header separator dropped", map[string]string{"parse.headers": "true"}, "a:1,\tv",
			rec{key: "<nil>", value: "v", headers: []string{"a=1"}}, ""},
		{"custom header separators", map[string]string{"parse.headers": "true", "parse.key": "true",
			"headers.delimiter": "|", "headers.separator": ";", "headers.key.separator": "="}, "a=1;b=2|k\tv",
			rec{key: "k", value: "v", headers: []string{"a=1", "b=2"}}, ""},
		{"headers.separator is a regex", map[string]string{"parse.headers": "true", "headers.separator": "[,;]"}, "a:1;b:2,c:3\tv",
			rec{key: "<nil>", value: "v", headers: []string{"a=1", "b=2", "c=3"}}, ""},
		{"null marker everywhere", map[string]string{"parse.key": "true", "parse.headers": "true", "null.marker": "NULL"},
			"h:NULL\tNULL\tNULL", rec{key: "<nil>", value: "<nil>", headers: []string{"h=<nil>"}}, ""},
		{"null marker headers", map[string]string{"parse.key": "true", "parse.headers": "true", "null.marker": "NULL"},
			"NULL\tk\tv", rec{key: "k", value: "v"}, ""},
		{"null marker header key", map[string]string{"parse.headers": "true", "null.marker": "N"}, "N:x\tv", rec{},
			"Header keys should not be equal to the null marker 'N' as they can't be null"},
		{"no null marker by default", map[string]string{"parse.key": "true"}, "null\tnull",
			rec{key: "null", value: "null"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props := map[string]string{"topic": "t"}
			for k, v := range tc.props {
				props[k] = v
			}
			lr, err := newLineReader(props)
			if err != nil {
				t.Fatal(err)
			}
			r, err := lr.parseLine(tc.line)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Topic != "t" {
				t.Errorf("topic %q", r.Topic)
			}
			if got := view(r); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLineReaderLineNumbers(t *testing.T) {
	lr, err := newLineReader(map[string]string{"topic": "t", "parse.key": "true"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"a\tb", "c\td"} {
		if _, err := lr.parseLine(l); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lr.parseLine("e"); err == nil || !strings.Contains(err.Error(), "line number 3") {
		t.Errorf("err = %v", err)
	}
}

func TestLineReaderConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"headers.separator": "\t"}, "headers.delimiter and headers.separator may not be equal"},
		{map[string]string{"headers.key.separator": "\t"}, "headers.delimiter and headers.key.separator may not be equal"},
		{map[string]string{"headers.separator": ":"}, "headers.separator and headers.key.separator may not be equal"},
		{map[string]string{"null.marker": "\t"}, "null.marker and key.separator may not be equal"},
		{map[string]string{"null.marker": ",", "key.separator": "|"}, "null.marker and headers.separator may not be equal"},
		{map[string]string{"null.marker": ":", "key.separator": "|"}, "null.marker and headers.key.separator may not be equal"},
		{map[string]string{"null.marker": "#", "key.separator": "|", "headers.delimiter": "#"}, "null.marker and headers.delimiter may not be equal"},
	} {
		props := map[string]string{"topic": "t"}
		for k, v := range tc.props {
			props[k] = v
		}
		if _, err := newLineReader(props); err == nil || err.Error() != tc.want {
			t.Errorf("%v: err %v, want %q", tc.props, err, tc.want)
		}
	}
}

func TestJavaSplit(t *testing.T) {
	for _, tc := range []struct {
		re, in string
		want   []string
	}{
		{",", "a,b,c", []string{"a", "b", "c"}},
		{",", "a,,b", []string{"a", "", "b"}},
		{",", "a,b,,", []string{"a", "b"}},
		{",", ",a", []string{"", "a"}},
		{",", "", []string{""}},
		{",", ",,", []string{}},
		{"", "ab", []string{"a", "b"}},
		{`\s*;\s*`, "a ; b;c", []string{"a", "b", "c"}},
	} {
		if got := javaSplit(regexp.MustCompile(tc.re), tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("javaSplit(%q, %q) = %q, want %q", tc.re, tc.in, got, tc.want)
		}
	}
}

func TestReadJavaLine(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("a\nb\r\nc\rd\n\n\xffe\r"))
	var got []string
	for {
		l, err := readJavaLine(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l)
	}
	want := []string{"a", "b", "c", "d", "", "\uFFFDe"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestOptionalArg(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"--compression-codec"}, []string{"--compression-codec=gzip"}},
		{[]string{"--compression-codec", "--sync"}, []string{"--compression-codec=gzip", "--sync"}},
		{[]string{"--compression-codec", "lz4"}, []string{"--compression-codec", "lz4"}},
		{[]string{"--compression-codec=zstd"}, []string{"--compression-codec=zstd"}},
		{[]string{"--", "--compression-codec"}, []string{"--", "--compression-codec"}},
	} {
		if got := optionalArg(tc.in, "compression-codec", "gzip"); !slices.Equal(got, tc.want) {
			t.Errorf("optionalArg(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestConsoleProducerUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bootstrap-server", "127.0.0.1:1"}, "Missing required argument \"[topic]\""},
		{[]string{"--topic", "t"}, "Missing required argument \"[bootstrap-server]\""},
		{[]string{"--topic", "t", "--bootstrap-server", "127.0.0.1:1", "--property", "headers.separator=:"},
			"headers.separator and headers.key.separator may not be equal"},
		{[]string{"--topic", "t", "--bootstrap-server", "127.0.0.1:1", "--line-reader", "com.example.Reader"},
			"ClassNotFoundException: com.example.Reader"},
	} {
		env := &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
		err := runConsoleProducer(context.Background(), env, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestClientError checks the exception the tools print: Kafka's
// producer names the topic it may not write (TopicAuthorizationException)
// and prints other error codes as their Java exceptions.
func TestSendError(t *testing.T) {
	other := errors.New("context deadline exceeded")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{kerr.TopicAuthorizationFailed, "org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [payments]"},
		{fmt.Errorf("produce: %w", kerr.TopicAuthorizationFailed), "org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [payments]"},
		{kerr.MessageTooLarge, "org.apache.kafka.common.errors.RecordTooLargeException: " + kerr.MessageTooLarge.Description},
		{other, other.Error()},
	} {
		if got := clientError("payments", tc.err).Error(); got != tc.want {
			t.Errorf("clientError(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
