package transform

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gregor-streaming/gregor/connect"
)

// Errors of the transform package. Data errors (a record a transformation
// cannot handle) wrap connect.ErrData and configuration errors wrap
// connect.ErrConfig, so that callers test one class with errors.Is.
var (
	// ErrNotTransformation is wrapped when a "type" names a plugin that is
	// not a Transformation (or not a Predicate).
	ErrNotTransformation = errors.New("transform: not a transformation or predicate")
	// ErrNotSinkRecord is wrapped (with connect.ErrData) when a
	// transformation needs a record read from Kafka, such as
	// InsertField's offset.field on a source record.
	ErrNotSinkRecord = errors.New("transform: only SinkRecord supported")
)

// Record is the record a transformation sees (Kafka's ConnectRecord): the
// common connect.Record and, for a record a sink task read from Kafka,
// its offset.
type Record struct {
	connect.Record
	// Sink is true for a record read from Kafka (a SinkRecord), whose
	// offset is KafkaOffset.
	Sink        bool
	KafkaOffset int64
}

// clone returns a shallow copy of r with its own header slice.
func (r *Record) clone() *Record {
	out := *r
	out.Headers = slices.Clone(r.Headers)
	return &out
}

// WithKey returns a copy of r with another key and key schema.
func (r *Record) WithKey(schema *connect.Schema, key any) *Record {
	out := r.clone()
	out.KeySchema, out.Key = schema, key
	return out
}

// WithValue returns a copy of r with another value and value schema.
func (r *Record) WithValue(schema *connect.Schema, value any) *Record {
	out := r.clone()
	out.ValueSchema, out.Value = schema, value
	return out
}

// WithTopic returns a copy of r with another topic.
func (r *Record) WithTopic(topic string) *Record {
	out := r.clone()
	out.Topic = topic
	return out
}

// String describes the record as Kafka's ConnectRecord.toString, for
// error messages.
func (r *Record) String() string {
	p := "null"
	if r.KafkaPartition != nil {
		p = strconv.Itoa(int(*r.KafkaPartition))
	}
	ts := "null"
	if !r.Timestamp.IsZero() {
		ts = strconv.FormatInt(r.Timestamp.UnixMilli(), 10)
	}
	kind := "SourceRecord"
	if r.Sink {
		kind = "SinkRecord"
	}
	return fmt.Sprintf("%s{topic='%s', kafkaPartition=%s, key=%s, keySchema=%s, value=%s, valueSchema=%s, timestamp=%s}",
		kind, r.Topic, p, connect.FormatValue(r.Key), r.KeySchema, connect.FormatValue(r.Value), r.ValueSchema, ts)
}

// Transformation is a single message transform (Kafka's Transformation).
// A worker makes one instance per task, configures it once, and calls
// Apply from one goroutine at a time.
type Transformation interface {
	// Config describes the configuration Configure accepts.
	Config() *connect.ConfigDef
	// Configure configures the transformation from its properties (the
	// connector's "transforms.<alias>." properties, prefix removed).
	Configure(props map[string]string) error
	// Apply transforms r. It returns r itself to leave the record as it
	// is, a new record, or nil to drop it; it never modifies r.
	Apply(r *Record) (*Record, error)
	// Close releases what the transformation holds.
	Close() error
}

// Predicate decides whether a transformation applies to a record (Kafka's
// Predicate, KIP-585).
type Predicate interface {
	// Config describes the configuration Configure accepts.
	Config() *connect.ConfigDef
	// Configure configures the predicate from its properties (the
	// connector's "predicates.<alias>." properties, prefix removed).
	Configure(props map[string]string) error
	// Test reports whether r matches.
	Test(r *Record) bool
	// Close releases what the predicate holds.
	Close() error
}

// Connector property names of transformation chains (Kafka's
// ConnectorConfig and PredicatedTransformation).
const (
	TransformsConfig = "transforms"
	PredicatesConfig = "predicates"
	// TypeConfig, PredicateConfig and NegateConfig follow
	// "transforms.<alias>." ("predicates.<alias>." for TypeConfig).
	TypeConfig      = "type"
	PredicateConfig = "predicate"
	NegateConfig    = "negate"
)

// Stage is one transformation of a chain with its optional predicate
// (Kafka's TransformationStage).
type Stage struct {
	// Alias is the transformation's alias in "transforms".
	Alias string
	// Class is the transformation's class name.
	Class          string
	Transformation Transformation
	// Predicate, if not nil, decides whether the stage applies: it
	// applies to records the predicate matches, or, if Negate, to those
	// it does not match.
	Predicate      Predicate
	PredicateAlias string
	PredicateClass string
	Negate         bool
}

// Apply applies the stage to r; see Transformation.Apply.
func (s *Stage) Apply(r *Record) (*Record, error) {
	if s.Predicate != nil && s.Predicate.Test(r) == s.Negate {
		return r, nil
	}
	return s.Transformation.Apply(r)
}

// Chain is a connector's transformations, applied in order (Kafka's
// TransformationChain). The zero Chain applies none.
type Chain struct {
	Stages []*Stage
}

// NewChain builds the chain a connector configuration describes:
// "transforms" lists aliases, each with "transforms.<alias>.type" and its
// own properties, optionally "transforms.<alias>.predicate" naming an
// alias of "predicates" (with "predicates.<alias>.type" …) and
// "transforms.<alias>.negate". Errors wrap connect.ErrConfig.
func NewChain(props map[string]string) (*Chain, error) {
	c := &Chain{}
	for _, alias := range ListValue(props[TransformsConfig]) {
		s, err := newStage(props, alias)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Stages = append(c.Stages, s)
	}
	return c, nil
}

func newStage(props map[string]string, alias string) (*Stage, error) {
	prefix := TransformsConfig + "." + alias + "."
	class := strings.TrimSpace(props[prefix+TypeConfig])
	t, err := NewTransformation(class)
	if err != nil {
		return nil, fmt.Errorf("%w: %s%s: %w", connect.ErrConfig, prefix, TypeConfig, err)
	}
	own := connect.WithPrefix(props, prefix)
	predAlias, hasPred := own[PredicateConfig]
	negateStr, hasNegate := own[NegateConfig]
	delete(own, PredicateConfig)
	delete(own, NegateConfig)
	predAlias = strings.TrimSpace(predAlias)
	if hasNegate && !hasPred {
		return nil, fmt.Errorf("%w: Config '%s%s' was provided but there is no config '%s%s' defining a predicate to be negated.", connect.ErrConfig, prefix, NegateConfig, prefix, PredicateConfig)
	}
	if err := t.Configure(own); err != nil {
		return nil, fmt.Errorf("%w: transformation %s (%s): %w", connect.ErrConfig, alias, class, err)
	}
	if p, err := connect.LookupPlugin(class, connect.PluginTransformation); err == nil {
		class = p.Class // the class name, not an alias, as Kafka reports it
	}
	s := &Stage{Alias: alias, Class: class, Transformation: t}
	if hasPred && predAlias != "" {
		if !slices.Contains(ListValue(props[PredicatesConfig]), predAlias) {
			t.Close()
			return nil, fmt.Errorf("%w: transformation %s uses the predicate %s, which is not listed in %s", connect.ErrConfig, alias, predAlias, PredicatesConfig)
		}
		pprefix := PredicatesConfig + "." + predAlias + "."
		pclass := strings.TrimSpace(props[pprefix+TypeConfig])
		p, err := NewPredicate(pclass)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("%w: %s%s: %w", connect.ErrConfig, pprefix, TypeConfig, err)
		}
		if err := p.Configure(connect.WithPrefix(props, pprefix)); err != nil {
			t.Close()
			return nil, fmt.Errorf("%w: predicate %s (%s): %w", connect.ErrConfig, predAlias, pclass, err)
		}
		if pp, err := connect.LookupPlugin(pclass, connect.PluginPredicate); err == nil {
			pclass = pp.Class
		}
		s.Predicate, s.PredicateAlias, s.PredicateClass = p, predAlias, pclass
		s.Negate = strings.EqualFold(strings.TrimSpace(negateStr), "true")
	}
	return s, nil
}

// Apply applies every stage in order; it returns nil if one drops the
// record. The error of a failing stage names its alias.
func (c *Chain) Apply(r *Record) (*Record, error) {
	if c == nil {
		return r, nil
	}
	for _, s := range c.Stages {
		out, err := s.Apply(r)
		if err != nil {
			return nil, fmt.Errorf("transformation %s (%s): %w", s.Alias, s.Class, err)
		}
		if out == nil {
			return nil, nil
		}
		r = out
	}
	return r, nil
}

// Close closes every transformation and predicate; it returns the first
// error.
func (c *Chain) Close() error {
	if c == nil {
		return nil
	}
	var first error
	for _, s := range c.Stages {
		if err := s.Transformation.Close(); err != nil && first == nil {
			first = err
		}
		if s.Predicate != nil {
			if err := s.Predicate.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// NewTransformation returns a new, unconfigured instance of the
// transformation registered under class (or one of its aliases).
func NewTransformation(class string) (Transformation, error) {
	p, err := connect.LookupPlugin(class, connect.PluginTransformation)
	if err != nil {
		return nil, classNotFound{class, err}
	}
	t, ok := p.New().(Transformation)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotTransformation, class)
	}
	return t, nil
}

// NewPredicate returns a new, unconfigured instance of the predicate
// registered under class (or one of its aliases).
func NewPredicate(class string) (Predicate, error) {
	p, err := connect.LookupPlugin(class, connect.PluginPredicate)
	if err != nil {
		return nil, classNotFound{class, err}
	}
	pr, ok := p.New().(Predicate)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotTransformation, class)
	}
	return pr, nil
}

// classNotFound reads as Kafka's "Class X could not be found." and wraps
// connect.ErrUnknownPlugin.
type classNotFound struct {
	class string
	err   error
}

func (e classNotFound) Error() string { return "Class " + e.class + " could not be found." }
func (e classNotFound) Unwrap() error { return e.err }

// ListValue splits a LIST property as Kafka does (commas, surrounding
// blanks trimmed); "" is the empty list.
func ListValue(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// The class name prefixes of Kafka's built-in plugins.
const (
	classPrefix          = "org.apache.kafka.connect.transforms."
	predicateClassPrefix = "org.apache.kafka.connect.transforms.predicates."
)

func registerTransformation(class string, f func() Transformation) {
	connect.RegisterPlugin(connect.Plugin{Class: class, Type: connect.PluginTransformation, Version: connect.Version,
		New: func() any { return f() }})
}

func registerPredicate(class string, f func() Predicate) {
	connect.RegisterPlugin(connect.Plugin{Class: class, Type: connect.PluginPredicate, Version: connect.Version,
		New: func() any { return f() }})
}

// registerKeyValue registers the $Key and $Value variants of a
// transformation.
func registerKeyValue(name string, f func(p part) Transformation) {
	registerTransformation(classPrefix+name+"$Key", func() Transformation { return f(keyPart) })
	registerTransformation(classPrefix+name+"$Value", func() Transformation { return f(valuePart) })
}

// part selects the key or the value of a record, as the $Key and $Value
// variants of Kafka's transformations do.
type part int8

const (
	keyPart part = iota
	valuePart
)

func (p part) schema(r *Record) *connect.Schema {
	if p == keyPart {
		return r.KeySchema
	}
	return r.ValueSchema
}

func (p part) value(r *Record) any {
	if p == keyPart {
		return r.Key
	}
	return r.Value
}

func (p part) with(r *Record, schema *connect.Schema, v any) *Record {
	if p == keyPart {
		return r.WithKey(schema, v)
	}
	return r.WithValue(schema, v)
}
