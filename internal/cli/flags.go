package cli

// Kafka-style option parsing, shared by every tool in this package.
//
// Kafka's tools (joptsimple, argparse4j) take options as
//
//	--long-option value      --long-option=value      -s value (short alias)
//	--flag                   (boolean, no value)
//	--config a=1 --config b=2 (repeatable options collect every value)
//
// An option that takes a value consumes the next argument whatever it looks
// like, so `--time -1` and `--offset -2` work as in Kafka. A unique prefix
// of a long option is accepted, as joptsimple does (`--bootstrap` means
// `--bootstrap-server`). `--` ends the options. Anything else that does not
// start with '-' is a positional argument (see Args).
//
// Typical use in a command:
//
//	fs := newFlagSet("kafka-topics", "Create, delete, describe, or change a topic.")
//	bootstrap := fs.String("bootstrap-server", "server to connect to", "REQUIRED: The Kafka server to connect to.")
//	configs := fs.Strings("config", "name=value", "A topic configuration override.")
//	list := fs.Bool("list", "List all available topics.")
//	if help, err := fs.Parse(env, args); help || err != nil {
//		return err // nil after --help: usage went to env.Stdout
//	}
//	if !fs.Changed("bootstrap-server") { return usagef("...") }

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/gregor-streaming/gregor/internal/clientconfig"
	"github.com/twmb/franz-go/pkg/kerr"
)

// optKind says what an option holds.
type optKind int

const (
	optBool    optKind = iota // no value; true when present
	optString                 // exactly one value
	optInt                    // exactly one value, parsed as an int64
	optStrings                // any number of values, in order
)

// option is one declared option of a FlagSet.
type option struct {
	name    string // long name without "--"
	short   string // one-letter alias without "-", or ""
	kind    optKind
	argName string // shown in usage, e.g. "name=value"
	help    string

	count int // times the option appeared on the command line

	boolValue    *bool
	stringValue  *string
	intValue     *int64
	stringsValue *[]string
}

// FlagSet is a set of Kafka-style options for one command. It is not safe
// for concurrent use; build one per Run.
type FlagSet struct {
	name        string
	description string
	options     []*option
	byName      map[string]*option // long names and short aliases
	args        []string
}

// newFlagSet returns an empty FlagSet for the command name. description is
// printed at the top of the usage. Every FlagSet has --help.
func newFlagSet(name, description string) *FlagSet {
	fs := &FlagSet{name: name, description: description, byName: map[string]*option{}}
	fs.Bool("help", "Print usage information.")
	return fs
}

func (fs *FlagSet) add(o *option) *option {
	if _, dup := fs.byName[o.name]; dup {
		panic("cli: duplicate option --" + o.name)
	}
	fs.byName[o.name] = o
	fs.options = append(fs.options, o)
	return o
}

// Bool declares a flag without a value.
func (fs *FlagSet) Bool(name, help string) *bool {
	o := fs.add(&option{name: name, kind: optBool, help: help, boolValue: new(bool)})
	return o.boolValue
}

// String declares an option with one value; giving it twice is an error,
// as in joptsimple. The value is "" when the option is absent (use
// Changed to tell "absent" from "empty").
func (fs *FlagSet) String(name, argName, help string) *string {
	o := fs.add(&option{name: name, kind: optString, argName: argName, help: help, stringValue: new(string)})
	return o.stringValue
}

// StringDefault is String with a default used when the option is absent.
func (fs *FlagSet) StringDefault(name, argName, def, help string) *string {
	p := fs.String(name, argName, help+" (default: "+def+")")
	*p = def
	return p
}

// Int declares an option with one integer value.
func (fs *FlagSet) Int(name, argName, help string) *int64 {
	o := fs.add(&option{name: name, kind: optInt, argName: argName, help: help, intValue: new(int64)})
	return o.intValue
}

// IntDefault is Int with a default used when the option is absent.
func (fs *FlagSet) IntDefault(name, argName string, def int64, help string) *int64 {
	p := fs.Int(name, argName, help+" (default: "+strconv.FormatInt(def, 10)+")")
	*p = def
	return p
}

// Strings declares a repeatable option; every value is collected in order.
func (fs *FlagSet) Strings(name, argName, help string) *[]string {
	o := fs.add(&option{name: name, kind: optStrings, argName: argName, help: help, stringsValue: new([]string)})
	return o.stringsValue
}

// Alias makes -short (a single letter) mean --name.
func (fs *FlagSet) Alias(short, name string) {
	o, ok := fs.byName[name]
	if !ok {
		panic("cli: alias for unknown option --" + name)
	}
	if _, dup := fs.byName[short]; dup {
		panic("cli: duplicate option -" + short)
	}
	o.short = short
	fs.byName[short] = o
}

// Changed reports whether the option named (long name) was given.
func (fs *FlagSet) Changed(name string) bool {
	o, ok := fs.byName[name]
	return ok && o.count > 0
}

// Given returns the long names of the options given among names, in the
// order of names; commands use it to check mutually exclusive actions.
func (fs *FlagSet) Given(names ...string) []string {
	var out []string
	for _, n := range names {
		if fs.Changed(n) {
			out = append(out, n)
		}
	}
	return out
}

// Args returns the positional arguments, in order.
func (fs *FlagSet) Args() []string { return fs.args }

// Parse parses args. On --help it prints the usage to env.Stdout and
// returns help=true with a nil error: the command should return nil at
// once. A wrong option returns a UsageError naming it.
func (fs *FlagSet) Parse(env *Env, args []string) (help bool, err error) {
	if err := fs.parse(args); err != nil {
		return false, err
	}
	if fs.Changed("help") {
		fs.PrintUsage(env.Stdout)
		return true, nil
	}
	return false, nil
}

func (fs *FlagSet) parse(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			fs.args = append(fs.args, args[i+1:]...)
			return nil
		}
		if len(a) < 2 || a[0] != '-' {
			fs.args = append(fs.args, a)
			continue
		}
		var name, value string
		hasValue := false
		if strings.HasPrefix(a, "--") {
			name = a[2:]
		} else {
			name = a[1:]
		}
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		o, err := fs.lookup(name, strings.HasPrefix(a, "--"))
		if err != nil {
			return err
		}
		if o.kind == optBool {
			if hasValue {
				return usagef("option %s does not take an argument", o.display())
			}
			o.count++
			*o.boolValue = true
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return usagef("option %s requires an argument", o.display())
			}
			i++
			value = args[i]
		}
		if err := o.set(value); err != nil {
			return err
		}
	}
	return nil
}

// lookup finds an option by its long name, a unique prefix of one, or (for
// a single dash) its short alias.
func (fs *FlagSet) lookup(name string, long bool) (*option, error) {
	if o, ok := fs.byName[name]; ok {
		return o, nil
	}
	if name == "" {
		return nil, usagef("%s is not a recognized option", "--")
	}
	var matches []*option
	for _, o := range fs.options {
		if strings.HasPrefix(o.name, name) {
			matches = append(matches, o)
		}
	}
	prefix := "--"
	if !long {
		prefix = "-"
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return nil, usagef("%s%s is not a recognized option", prefix, name)
	default:
		names := make([]string, len(matches))
		for i, o := range matches {
			names[i] = "--" + o.name
		}
		return nil, usagef("%s%s is ambiguous: it could be %s", prefix, name, strings.Join(names, ", "))
	}
}

func (o *option) display() string { return "--" + o.name }

func (o *option) set(value string) error {
	switch o.kind {
	case optString:
		if o.count > 0 {
			return usagef("found multiple arguments for option %s, but it takes only one", o.display())
		}
		*o.stringValue = value
	case optInt:
		if o.count > 0 {
			return usagef("found multiple arguments for option %s, but it takes only one", o.display())
		}
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return usagef("cannot parse argument '%s' of option %s", value, o.display())
		}
		*o.intValue = n
	case optStrings:
		*o.stringsValue = append(*o.stringsValue, value)
	}
	o.count++
	return nil
}

// PrintUsage writes the description and an option table in joptsimple's
// layout ("Option  Description" columns, options sorted by name).
func (fs *FlagSet) PrintUsage(w io.Writer) {
	if fs.description != "" {
		fmt.Fprintln(w, fs.description)
	}
	opts := append([]*option(nil), fs.options...)
	sort.Slice(opts, func(i, j int) bool { return opts[i].name < opts[j].name })
	// Option names longer than maxLeft get a line of their own, with the
	// description starting on the next line, so that one long option
	// does not push every description far to the right.
	const maxLeft = 50
	left := make([]string, len(opts))
	width := len("Option")
	for i, o := range opts {
		s := "--" + o.name
		if o.short != "" {
			s = "-" + o.short + ", " + s
		}
		if o.kind != optBool {
			s += " <" + o.argName + ">"
		}
		left[i] = s
		if len(s) <= maxLeft {
			width = max(width, len(s))
		}
	}
	fmt.Fprintf(w, "%-*s  %s\n", width, "Option", "Description")
	fmt.Fprintf(w, "%-*s  %s\n", width, "------", "-----------")
	for i, o := range opts {
		lines := strings.Split(o.help, "\n")
		if len(left[i]) > width {
			fmt.Fprintln(w, left[i])
		} else {
			fmt.Fprintf(w, "%-*s  %s\n", width, left[i], lines[0])
			lines = lines[1:]
		}
		for _, l := range lines {
			fmt.Fprintf(w, "%-*s  %s\n", width, "", l)
		}
	}
}

// parseKeyValues turns "k=v" strings (from repeated --config or
// --property options) into a map; a later key overrides an earlier one.
// what names the option in errors.
func parseKeyValues(what string, kvs []string) (map[string]string, error) {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("invalid %s '%s': expected key=value", what, kv)
		}
		m[k] = v
	}
	return m, nil
}

// loadProperties reads a Java .properties file (as given to
// --command-config, --producer.config, --consumer.config or a server
// config): "key=value" or "key: value" or "key value" lines, '#' and '!'
// comments, '\' line continuations and the usual escapes (\t \n \r \\
// \uXXXX). A missing file is an error.
func loadProperties(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseProperties(f)
}

// parseProperties is loadProperties on a reader.
func parseProperties(r io.Reader) (map[string]string, error) {
	props := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var logical strings.Builder
	continuing := false
	for sc.Scan() {
		line := sc.Text()
		if continuing {
			line = strings.TrimLeft(line, " \t\f")
		} else {
			trimmed := strings.TrimLeft(line, " \t\f")
			if trimmed == "" || trimmed[0] == '#' || trimmed[0] == '!' {
				continue
			}
			line = trimmed
		}
		// An odd number of trailing backslashes continues the line.
		n := 0
		for n < len(line) && line[len(line)-1-n] == '\\' {
			n++
		}
		if n%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continuing = true
			continue
		}
		logical.WriteString(line)
		continuing = false
		k, v := splitProperty(logical.String())
		logical.Reset()
		props[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if continuing && logical.Len() > 0 {
		k, v := splitProperty(logical.String())
		props[k] = v
	}
	return props, nil
}

// splitProperty splits one logical properties line into unescaped key and
// value.
func splitProperty(line string) (string, string) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			end = i
			break
		}
	}
	key := line[:end]
	rest := strings.TrimLeft(line[end:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return unescapeProperty(key), unescapeProperty(rest)
}

func unescapeProperty(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			b.WriteByte('u')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// kafkaError is a failure reported in the exact words a Kafka tool prints
// (for example "Error while executing topic command : Topic 'x' already
// exists."). Kafka prints some of these on stdout and the rest on stderr;
// Stdout records which, and printTo follows it. Err, if set, is the
// underlying error.
type kafkaError struct {
	Msg    string
	Stdout bool
	Err    error
}

func (e *kafkaError) Error() string {
	if e.Msg == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *kafkaError) Unwrap() error { return e.Err }

// printTo writes the message where Kafka's tool writes it, without the
// "<command>: " prefix Run adds to other errors; an empty Msg means the
// command already printed everything (it only sets the exit code).
func (e *kafkaError) printTo(env *Env) {
	if e.Msg == "" {
		return
	}
	w := env.Stderr
	if e.Stdout {
		w = env.Stdout
	}
	fmt.Fprintln(w, e.Msg)
}

// brokerError is a non-zero error code from a broker response, with the
// message a Kafka client would give its exception: the broker's error
// message when it sent one, else the error's default description. It
// unwraps to the kerr error, so errors.Is(err, kerr.TopicAlreadyExists)
// works.
type brokerError struct {
	Code    int16
	Message string
}

// newBrokerError returns nil for code 0.
func newBrokerError(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	return &brokerError{Code: code, Message: apiErrorMessage(code, msg)}
}

func (e *brokerError) Error() string { return e.Message }
func (e *brokerError) Unwrap() error { return kerr.ErrorForCode(e.Code) }

// javaString is how Java prints the exception: "<class>: <message>".
func (e *brokerError) javaString() string {
	return javaExceptionClass(e.Code) + ": " + e.Message
}

// javaErrorString is how Java prints the exception a Kafka client would
// raise for err: "<class>: <message>". Errors carrying a Kafka error code
// (brokerError, kerr.Error) name the matching Kafka exception class.
func javaErrorString(err error) string {
	var be *brokerError
	if errors.As(err, &be) {
		return be.javaString()
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		// franz-go appends the broker's error message to the code
		// ("SASL_AUTHENTICATION_FAILED: SASL Authentication failed.:
		// Authentication failed during authentication due to invalid
		// credentials with SASL mechanism SCRAM-SHA-512"); Kafka's
		// exception carries that message instead of the default one.
		msg := ke.Description
		if s, prefix := err.Error(), ke.Error()+": "; strings.Contains(s, prefix) {
			if m := s[strings.Index(s, prefix)+len(prefix):]; m != "" {
				msg = m
			}
		}
		return javaExceptionClass(ke.Code) + ": " + msg
	}
	return "org.apache.kafka.common.KafkaException: " + err.Error()
}

// javaExceptionClass names the Java exception Kafka's clients raise for an
// error code, e.g. org.apache.kafka.common.errors.TopicExistsException.
func javaExceptionClass(code int16) string { return clientconfig.ExceptionClass(code) }

// apiErrorMessage is the message of the exception a Kafka client raises
// for an error code: the broker's error message when it sent one, else the
// error's default description.
func apiErrorMessage(code int16, msg *string) string {
	if msg != nil && *msg != "" {
		return *msg
	}
	var ke *kerr.Error
	if err := kerr.ErrorForCode(code); errors.As(err, &ke) {
		return ke.Description
	} else if err != nil {
		return err.Error()
	}
	return ""
}

// formatKafkaUUID prints a Uuid as Kafka does: base64 URL-safe, no padding.
func formatKafkaUUID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// parseKafkaUUID parses a Kafka Uuid string (padding optional), with
// Uuid.fromString's messages.
func parseKafkaUUID(s string) ([16]byte, error) {
	var id [16]byte
	if len(s) > 24 {
		return id, &kafkaError{Msg: fmt.Sprintf("Input string with prefix `%s` is too long to be decoded as a base64 UUID", s[:24])}
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return id, &kafkaError{Msg: fmt.Sprintf("Illegal base64 character in `%s`", s), Err: err}
	}
	if len(b) != 16 {
		return id, &kafkaError{Msg: fmt.Sprintf("Input string `%s` decoded as %d bytes, which is not equal to the expected 16 bytes of a base64-encoded UUID", s, len(b))}
	}
	copy(id[:], b)
	return id, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
