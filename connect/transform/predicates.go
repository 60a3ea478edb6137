package transform

import (
	"regexp"

	"github.com/gregor-streaming/gregor/connect"
)

// TopicNameMatches matches records whose whole topic name matches pattern
// (Kafka's TopicNameMatches).
const topicPattern = "pattern"

var topicNameMatchesDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: topicPattern, Type: connect.ConfigString, Default: connect.NoDefaultValue,
		Validator: connect.AllOf(connect.NonEmptyString(), regexValidator{}), Importance: connect.ImportanceMedium,
		Documentation: "A Java regular expression for matching against the name of a topic."})

type topicNameMatches struct{ re *regexp.Regexp }

func (p *topicNameMatches) Config() *connect.ConfigDef { return topicNameMatchesDef }

func (p *topicNameMatches) Configure(props map[string]string) error {
	c, err := parseConfig(topicNameMatchesDef, props)
	if err != nil {
		return err
	}
	p.re, err = regexp.Compile(`^(?:` + c.GetString(topicPattern) + `)$`)
	return err
}

func (p *topicNameMatches) Test(r *Record) bool { return r.Topic != "" && p.re.MatchString(r.Topic) }
func (p *topicNameMatches) Close() error        { return nil }

// HasHeaderKey matches records with at least one header called name
// (Kafka's HasHeaderKey).
const headerName = "name"

var hasHeaderKeyDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: headerName, Type: connect.ConfigString, Default: connect.NoDefaultValue,
		Validator: connect.NonEmptyString(), Importance: connect.ImportanceMedium, Documentation: "The header name."})

type hasHeaderKey struct{ name string }

func (p *hasHeaderKey) Config() *connect.ConfigDef { return hasHeaderKeyDef }

func (p *hasHeaderKey) Configure(props map[string]string) error {
	c, err := parseConfig(hasHeaderKeyDef, props)
	if err != nil {
		return err
	}
	p.name = c.GetString(headerName)
	return nil
}

func (p *hasHeaderKey) Test(r *Record) bool {
	_, ok := r.Headers.Last(p.name)
	return ok
}

func (p *hasHeaderKey) Close() error { return nil }

// RecordIsTombstone matches records with a null value (Kafka's
// RecordIsTombstone).
type recordIsTombstone struct{}

func (recordIsTombstone) Config() *connect.ConfigDef        { return connect.NewConfigDef() }
func (recordIsTombstone) Configure(map[string]string) error { return nil }
func (recordIsTombstone) Test(r *Record) bool               { return r.Value == nil }
func (recordIsTombstone) Close() error                      { return nil }

func init() {
	registerPredicate(predicateClassPrefix+"TopicNameMatches", func() Predicate { return &topicNameMatches{} })
	registerPredicate(predicateClassPrefix+"HasHeaderKey", func() Predicate { return &hasHeaderKey{} })
	registerPredicate(predicateClassPrefix+"RecordIsTombstone", func() Predicate { return recordIsTombstone{} })
}
