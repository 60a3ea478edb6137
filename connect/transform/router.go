package transform

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gregor-streaming/gregor/connect"
)

// TimestampRouter: route the record to a topic named from its topic and
// timestamp (Kafka's TimestampRouter), for time-partitioned sinks.
const (
	routerTopicFormat     = "topic.format"
	routerTimestampFormat = "timestamp.format"
)

type simpleDateFormatValidator struct{}

func (simpleDateFormatValidator) EnsureValid(name string, v any) error {
	s, _ := v.(string)
	if _, err := parseSimpleDateFormat(s); err != nil {
		return connect.ConfigError(name, v, "Invalid timestamp format: "+err.Error())
	}
	return nil
}

func (simpleDateFormatValidator) String() string { return "" }

var timestampRouterDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: routerTopicFormat, Type: connect.ConfigString, Default: "${topic}-${timestamp}",
		Importance:    connect.ImportanceHigh,
		Documentation: "Format string which can contain <code>${topic}</code> and <code>${timestamp}</code> as placeholders for the topic and timestamp, respectively."}).
	Define(connect.ConfigKey{Name: routerTimestampFormat, Type: connect.ConfigString, Default: "yyyyMMdd", Validator: simpleDateFormatValidator{},
		Importance:    connect.ImportanceHigh,
		Documentation: "Format string for the timestamp that is compatible with <code>java.text.SimpleDateFormat</code>."})

type timestampRouter struct {
	topicFormat string
	format      simpleDateFormat
}

func (t *timestampRouter) Config() *connect.ConfigDef { return timestampRouterDef }

func (t *timestampRouter) Configure(props map[string]string) error {
	c, err := parseConfig(timestampRouterDef, props)
	if err != nil {
		return err
	}
	t.topicFormat = c.GetString(routerTopicFormat)
	t.format, err = parseSimpleDateFormat(c.GetString(routerTimestampFormat))
	return err
}

func (t *timestampRouter) Apply(r *Record) (*Record, error) {
	if r.Timestamp.IsZero() {
		return nil, fmt.Errorf("%w: Timestamp missing on record: %s", connect.ErrData, r)
	}
	ts := t.format.format(r.Timestamp.UTC())
	topic := strings.ReplaceAll(t.topicFormat, "${topic}", r.Topic)
	topic = strings.ReplaceAll(topic, "${timestamp}", ts)
	return r.WithTopic(topic), nil
}

func (t *timestampRouter) Close() error { return nil }

// RegexRouter: rename the topic of records whose whole topic matches
// regex, replacing the first match with replacement (Kafka's RegexRouter:
// Matcher.matches, then replaceFirst). replacement uses Java's syntax:
// $1 and ${name} refer to groups, \ escapes the next character.
const (
	routerRegex       = "regex"
	routerReplacement = "replacement"
)

// regexValidator is Kafka's RegexValidator, for Go's RE2 syntax.
type regexValidator struct{}

func (regexValidator) EnsureValid(name string, v any) error {
	s, _ := v.(string)
	if _, err := regexp.Compile(s); err != nil {
		return connect.ConfigError(name, v, "Invalid regex: "+err.Error())
	}
	return nil
}

func (regexValidator) String() string { return "valid regex" }

var regexRouterDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: routerRegex, Type: connect.ConfigString, Default: connect.NoDefaultValue, Validator: regexValidator{},
		Importance: connect.ImportanceHigh, Documentation: "Regular expression to use for matching."}).
	Define(connect.ConfigKey{Name: routerReplacement, Type: connect.ConfigString, Default: connect.NoDefaultValue,
		Importance: connect.ImportanceHigh, Documentation: "Replacement string."})

type regexRouter struct {
	whole, find *regexp.Regexp
	template    string
}

func (t *regexRouter) Config() *connect.ConfigDef { return regexRouterDef }

func (t *regexRouter) Configure(props map[string]string) error {
	c, err := parseConfig(regexRouterDef, props)
	if err != nil {
		return err
	}
	re := c.GetString(routerRegex)
	if t.find, err = regexp.Compile(re); err != nil {
		return err
	}
	t.whole = regexp.MustCompile(`^(?:` + re + `)$`)
	t.template, err = javaReplacement(c.GetString(routerReplacement), t.find)
	return err
}

func (t *regexRouter) Apply(r *Record) (*Record, error) {
	if !t.whole.MatchString(r.Topic) {
		return r, nil
	}
	loc := t.find.FindStringSubmatchIndex(r.Topic)
	if loc == nil {
		return r, nil
	}
	var b []byte
	b = append(b, r.Topic[:loc[0]]...)
	b = t.find.ExpandString(b, t.template, r.Topic, loc)
	b = append(b, r.Topic[loc[1]:]...)
	return r.WithTopic(string(b)), nil
}

func (t *regexRouter) Close() error { return nil }

// javaReplacement turns a Java Matcher replacement string into a Go
// Regexp.Expand template, checking group references as Java does.
func javaReplacement(repl string, re *regexp.Regexp) (string, error) {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch c {
		case '\\':
			i++
			if i == len(repl) {
				return "", fmt.Errorf("character to be escaped is missing")
			}
			if repl[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(repl[i])
			}
		case '$':
			i++
			if i == len(repl) {
				return "", fmt.Errorf("Illegal group reference: group index is missing")
			}
			if repl[i] == '{' {
				end := strings.IndexByte(repl[i:], '}')
				if end < 0 {
					return "", fmt.Errorf("named capturing group is missing trailing '}'")
				}
				name := repl[i+1 : i+end]
				if re.SubexpIndex(name) < 0 {
					return "", fmt.Errorf("No group with name {%s}", name)
				}
				b.WriteString("${" + name + "}")
				i += end
				continue
			}
			if repl[i] < '0' || repl[i] > '9' {
				return "", fmt.Errorf("Illegal group reference")
			}
			// Java reads the first digit, then more while the number
			// stays a valid group.
			n := int(repl[i] - '0')
			for i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9' {
				next := n*10 + int(repl[i+1]-'0')
				if next > re.NumSubexp() {
					break
				}
				n = next
				i++
			}
			if n > re.NumSubexp() {
				return "", fmt.Errorf("No group %d", n)
			}
			b.WriteString("${" + strconv.Itoa(n) + "}")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func init() {
	registerTransformation(classPrefix+"TimestampRouter", func() Transformation { return &timestampRouter{} })
	registerTransformation(classPrefix+"RegexRouter", func() Transformation { return &regexRouter{} })
}
