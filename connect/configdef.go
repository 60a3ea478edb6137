package connect

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// ConfigType is the type of a configuration value (Kafka's
// ConfigDef.Type). The Go type of a parsed value is given for each.
type ConfigType int8

const (
	ConfigBoolean  ConfigType = iota + 1 // bool
	ConfigString                         // string
	ConfigInt                            // int32
	ConfigShort                          // int16
	ConfigLong                           // int64
	ConfigDouble                         // float64
	ConfigList                           // []string
	ConfigClass                          // string: a plugin class name or alias
	ConfigPassword                       // Password
)

var configTypeNames = [...]string{"", "BOOLEAN", "STRING", "INT", "SHORT", "LONG", "DOUBLE", "LIST", "CLASS", "PASSWORD"}

// String returns Kafka's name: "BOOLEAN", "STRING", "INT", "SHORT",
// "LONG", "DOUBLE", "LIST", "CLASS", "PASSWORD".
func (t ConfigType) String() string {
	if t < ConfigBoolean || t > ConfigPassword {
		return fmt.Sprintf("ConfigType(%d)", int8(t))
	}
	return configTypeNames[t]
}

// Importance says how much a user should care about a key.
type Importance int8

// The importances (Kafka's ConfigDef.Importance).
const (
	ImportanceHigh Importance = iota + 1
	ImportanceMedium
	ImportanceLow
)

// String returns "HIGH", "MEDIUM" or "LOW".
func (i Importance) String() string {
	switch i {
	case ImportanceHigh:
		return "HIGH"
	case ImportanceMedium:
		return "MEDIUM"
	case ImportanceLow:
		return "LOW"
	}
	return fmt.Sprintf("Importance(%d)", int8(i))
}

// Width is a hint for the width of a UI field (Kafka's ConfigDef.Width).
type Width int8

// The widths.
const (
	WidthNone Width = iota
	WidthShort
	WidthMedium
	WidthLong
)

// String returns "NONE", "SHORT", "MEDIUM" or "LONG".
func (w Width) String() string {
	switch w {
	case WidthShort:
		return "SHORT"
	case WidthMedium:
		return "MEDIUM"
	case WidthLong:
		return "LONG"
	}
	return "NONE"
}

// Password is a PASSWORD value: its String hides it.
type Password string

// String returns "[hidden]", as Kafka's Password.toString.
func (Password) String() string { return "[hidden]" }

// Value returns the password itself.
func (p Password) Value() string { return string(p) }

type noDefault struct{}

// NoDefaultValue as a ConfigKey's Default makes the key required (Kafka's
// ConfigDef.NO_DEFAULT_VALUE). A nil Default means "no value".
var NoDefaultValue any = noDefault{}

// ConfigKey defines one configuration key (Kafka's ConfigDef.ConfigKey).
type ConfigKey struct {
	Name string
	Type ConfigType
	// Default is the value used when the key is absent: nil for none,
	// NoDefaultValue for a required key, else a string in the key's
	// syntax or a value of the key's Go type.
	Default any
	// Validator checks a value (after parsing), or nil.
	Validator Validator
	// Importance, Documentation, Group, OrderInGroup, Width,
	// DisplayName and Dependents describe the key for tools and UIs
	// (GET /connector-plugins/{plugin}/config).
	Importance    Importance
	Documentation string
	Group         string
	OrderInGroup  int
	Width         Width
	DisplayName   string
	Dependents    []string
}

// Required reports whether the key has no default.
func (k *ConfigKey) Required() bool { return k.Default == NoDefaultValue }

// ConfigDef is an ordered set of configuration keys (Kafka's ConfigDef).
// Define keys once, at package initialization, then Parse and Validate
// configurations against them. A ConfigDef is safe for concurrent use once
// it is no longer being defined.
type ConfigDef struct {
	keys  []ConfigKey
	index map[string]int
}

// NewConfigDef returns an empty ConfigDef.
func NewConfigDef() *ConfigDef { return &ConfigDef{index: map[string]int{}} }

// Define adds a key and returns d, so that definitions chain. It panics
// if the name is empty or already defined, or if the default does not
// parse or validate: these are programming errors, as Kafka's
// ConfigException from define.
func (d *ConfigDef) Define(k ConfigKey) *ConfigDef {
	if k.Name == "" {
		panic("connect: config key without a name")
	}
	if _, dup := d.index[k.Name]; dup {
		panic(fmt.Sprintf("connect: configuration %s is defined twice", k.Name))
	}
	if k.Type < ConfigBoolean || k.Type > ConfigPassword {
		panic(fmt.Sprintf("connect: configuration %s has no type", k.Name))
	}
	if k.Default != nil && k.Default != NoDefaultValue {
		v, err := parseValue(k.Name, k.Default, k.Type)
		if err != nil {
			panic(fmt.Sprintf("connect: invalid default for %s: %v", k.Name, err))
		}
		if k.Validator != nil {
			if err := k.Validator.EnsureValid(k.Name, v); err != nil {
				panic(fmt.Sprintf("connect: invalid default for %s: %v", k.Name, err))
			}
		}
		k.Default = v
	}
	k.Dependents = append([]string(nil), k.Dependents...)
	d.index[k.Name] = len(d.keys)
	d.keys = append(d.keys, k)
	return d
}

// Keys returns the keys in definition order. The caller must not modify
// them.
func (d *ConfigDef) Keys() []ConfigKey { return d.keys }

// Key returns the key called name.
func (d *ConfigDef) Key(name string) (ConfigKey, bool) {
	i, ok := d.index[name]
	if !ok {
		return ConfigKey{}, false
	}
	return d.keys[i], true
}

// Names returns the key names in definition order.
func (d *ConfigDef) Names() []string {
	out := make([]string, len(d.keys))
	for i, k := range d.keys {
		out[i] = k.Name
	}
	return out
}

// Groups returns the distinct non-empty groups, in order of first use.
func (d *ConfigDef) Groups() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range d.keys {
		if k.Group != "" && !seen[k.Group] {
			seen[k.Group] = true
			out = append(out, k.Group)
		}
	}
	return out
}

// Clone returns a copy of d to which more keys can be defined.
func (d *ConfigDef) Clone() *ConfigDef {
	return &ConfigDef{keys: append([]ConfigKey(nil), d.keys...), index: maps.Clone(d.index)}
}

// Parse parses and validates props against d (Kafka's ConfigDef.parse):
// absent keys take their default. The first error wraps ErrConfig and
// reads as Kafka's ConfigException ("Missing required configuration \"x\"
// which has no default value.", "Invalid value y for configuration x: …").
// Keys of props that d does not define are kept as Originals only.
func (d *ConfigDef) Parse(props map[string]string) (*ParsedConfig, error) {
	c := &ParsedConfig{values: make(map[string]any, len(d.keys)), originals: maps.Clone(props)}
	for _, k := range d.keys {
		v, err := d.parseKey(&k, props)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrConfig, err)
		}
		c.values[k.Name] = v
	}
	return c, nil
}

// MustParse is Parse for configurations known to be valid (defaults); it
// panics on error.
func (d *ConfigDef) MustParse(props map[string]string) *ParsedConfig {
	c, err := d.Parse(props)
	if err != nil {
		panic(err)
	}
	return c
}

// parseKey returns k's value in props (or its default), checked. Its
// error text is Kafka's message, without a package prefix.
func (d *ConfigDef) parseKey(k *ConfigKey, props map[string]string) (any, error) {
	raw, present := props[k.Name]
	var v any
	if present {
		pv, err := parseValue(k.Name, raw, k.Type)
		if err != nil {
			return nil, err
		}
		v = pv
	} else {
		if k.Default == NoDefaultValue {
			return nil, fmt.Errorf("Missing required configuration %q which has no default value.", k.Name)
		}
		v = k.Default
	}
	if k.Validator != nil {
		if err := k.Validator.EnsureValid(k.Name, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// ConfigValue is the result of validating one key (Kafka's ConfigValue).
type ConfigValue struct {
	Name              string
	Value             any
	RecommendedValues []any
	Errors            []string
	Visible           bool
}

// Validate validates every key of d against props and returns one
// ConfigValue per key, in definition order, with Kafka's error messages
// (Kafka's ConfigDef.validateAll). It never fails as a whole.
func (d *ConfigDef) Validate(props map[string]string) []ConfigValue {
	out := make([]ConfigValue, 0, len(d.keys))
	for _, k := range d.keys {
		cv := ConfigValue{Name: k.Name, Visible: true}
		v, err := d.parseKey(&k, props)
		if err != nil {
			cv.Errors = append(cv.Errors, err.Error())
			if raw, ok := props[k.Name]; ok {
				cv.Value = raw
			}
		} else {
			cv.Value = v
		}
		out = append(out, cv)
	}
	return out
}

// ParsedConfig is a configuration parsed by a ConfigDef (Kafka's
// AbstractConfig). The getters return the zero value for a key that is
// not defined or whose value is nil.
type ParsedConfig struct {
	values    map[string]any
	originals map[string]string
}

// Get returns the parsed value of name (nil if none).
func (c *ParsedConfig) Get(name string) any { return c.values[name] }

// GetString returns a STRING or CLASS value.
func (c *ParsedConfig) GetString(name string) string {
	s, _ := c.values[name].(string)
	return s
}

// GetBool returns a BOOLEAN value.
func (c *ParsedConfig) GetBool(name string) bool {
	b, _ := c.values[name].(bool)
	return b
}

// GetInt returns an INT value.
func (c *ParsedConfig) GetInt(name string) int32 {
	n, _ := c.values[name].(int32)
	return n
}

// GetShort returns a SHORT value.
func (c *ParsedConfig) GetShort(name string) int16 {
	n, _ := c.values[name].(int16)
	return n
}

// GetLong returns a LONG value.
func (c *ParsedConfig) GetLong(name string) int64 {
	n, _ := c.values[name].(int64)
	return n
}

// GetDouble returns a DOUBLE value.
func (c *ParsedConfig) GetDouble(name string) float64 {
	f, _ := c.values[name].(float64)
	return f
}

// GetList returns a LIST value. The caller must not modify it.
func (c *ParsedConfig) GetList(name string) []string {
	l, _ := c.values[name].([]string)
	return l
}

// GetPassword returns a PASSWORD value.
func (c *ParsedConfig) GetPassword(name string) Password {
	p, _ := c.values[name].(Password)
	return p
}

// Originals returns a copy of the properties that were parsed, including
// keys the ConfigDef does not define.
func (c *ParsedConfig) Originals() map[string]string { return maps.Clone(c.originals) }

// OriginalsWithPrefix returns the original properties whose key starts
// with prefix, with the prefix removed (Kafka's originalsWithPrefix).
func (c *ParsedConfig) OriginalsWithPrefix(prefix string) map[string]string {
	return WithPrefix(c.originals, prefix)
}

// WithPrefix returns the entries of props whose key starts with prefix,
// with the prefix removed.
func WithPrefix(props map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range props {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

var listSplit = regexp.MustCompile(`\s*,\s*`)

// parseValue converts v (a string, or a value of t's Go type) to t's Go
// type, as Kafka's ConfigDef.parseType; strings are trimmed (passwords
// excepted). The error text is Kafka's ConfigException message.
func parseValue(name string, v any, t ConfigType) (any, error) {
	s, isString := v.(string)
	if isString && t != ConfigPassword {
		s = strings.TrimSpace(s)
	}
	bad := func(msg string) error { return ConfigError(name, v, msg) }
	switch t {
	case ConfigBoolean:
		if isString {
			switch strings.ToLower(s) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
			return nil, bad("Expected value to be either true or false")
		}
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, bad("Expected value to be either true or false")
	case ConfigString, ConfigClass:
		if isString {
			return s, nil
		}
		return nil, bad(fmt.Sprintf("Expected value to be a string, but it was a %T", v))
	case ConfigPassword:
		switch p := v.(type) {
		case Password:
			return p, nil
		case string:
			return Password(p), nil
		}
		return nil, bad(fmt.Sprintf("Expected value to be a string, but it was a %T", v))
	case ConfigInt, ConfigShort, ConfigLong:
		bits := map[ConfigType]int{ConfigInt: 32, ConfigShort: 16, ConfigLong: 64}[t]
		var n int64
		if isString {
			parsed, err := strconv.ParseInt(s, 10, bits)
			if err != nil {
				return nil, bad("Not a number of type " + t.String())
			}
			n = parsed
		} else {
			switch x := v.(type) {
			case int:
				n = int64(x)
			case int16:
				n = int64(x)
			case int32:
				n = int64(x)
			case int64:
				n = x
			default:
				return nil, bad(fmt.Sprintf("Expected value to be a %d-bit integer, but it was a %T", bits, v))
			}
			if bits < 64 && (n < -(1<<(bits-1)) || n >= 1<<(bits-1)) {
				return nil, bad("Not a number of type " + t.String())
			}
		}
		switch t {
		case ConfigInt:
			return int32(n), nil
		case ConfigShort:
			return int16(n), nil
		}
		return n, nil
	case ConfigDouble:
		if isString {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, bad("Not a number of type DOUBLE")
			}
			return f, nil
		}
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int:
			return float64(x), nil
		}
		return nil, bad(fmt.Sprintf("Expected value to be a double, but it was a %T", v))
	case ConfigList:
		if isString {
			if s == "" {
				return []string{}, nil
			}
			return listSplit.Split(s, -1), nil
		}
		if l, ok := v.([]string); ok {
			return append([]string(nil), l...), nil
		}
		return nil, bad("Expected a comma separated list.")
	}
	return nil, bad("Unknown type.")
}

// ConfigError returns the error Kafka's ConfigException(name, value,
// message) reads as: "Invalid value V for configuration NAME: MESSAGE".
func ConfigError(name string, value any, message string) error {
	if message == "" {
		return fmt.Errorf("Invalid value %s for configuration %s", FormatValue(value), name)
	}
	return fmt.Errorf("Invalid value %s for configuration %s: %s", FormatValue(value), name, message)
}

// FormatConfigValue renders a parsed value as Kafka's
// ConfigDef.convertToString: lists joined with ",", passwords as
// "[hidden]", numbers in decimal. ok is false for nil (JSON null).
func FormatConfigValue(v any, t ConfigType) (s string, ok bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case []string:
		return strings.Join(x, ","), true
	case Password:
		return x.String(), true
	case float64:
		if t == ConfigDouble || t == 0 {
			return FormatJavaDouble(x, 64), true
		}
	}
	if v == NoDefaultValue {
		return "", false
	}
	return FormatValue(v), true
}

// Validator checks a parsed configuration value (Kafka's
// ConfigDef.Validator).
type Validator interface {
	// EnsureValid returns an error (Kafka's ConfigException text) if
	// value is not valid for the key called name.
	EnsureValid(name string, value any) error
	// String describes the valid values, for documentation.
	String() string
}

type rangeValidator struct {
	min, max *float64
}

// AtLeast accepts numbers ≥ min (Kafka's Range.atLeast).
func AtLeast(min float64) Validator { return rangeValidator{min: &min} }

// Between accepts numbers in [min, max] (Kafka's Range.between).
func Between(min, max float64) Validator { return rangeValidator{min: &min, max: &max} }

func (r rangeValidator) EnsureValid(name string, value any) error {
	if value == nil {
		return ConfigError(name, value, "Value must be non-null")
	}
	var n float64
	switch x := value.(type) {
	case int16:
		n = float64(x)
	case int32:
		n = float64(x)
	case int64:
		n = float64(x)
	case float64:
		n = x
	default:
		return ConfigError(name, value, "Value must be a number")
	}
	if r.min != nil && n < *r.min {
		return ConfigError(name, value, "Value must be at least "+formatBound(*r.min))
	}
	if r.max != nil && n > *r.max {
		return ConfigError(name, value, "Value must be no more than "+formatBound(*r.max))
	}
	return nil
}

func formatBound(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e18 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func (r rangeValidator) String() string {
	switch {
	case r.min == nil && r.max == nil:
		return "[...]"
	case r.max == nil:
		return "[" + formatBound(*r.min) + ",...]"
	case r.min == nil:
		return "[...," + formatBound(*r.max) + "]"
	}
	return "[" + formatBound(*r.min) + ",...," + formatBound(*r.max) + "]"
}

type inValidator struct {
	values []string
	fold   bool
}

// In accepts one of the given strings (Kafka's ValidString.in).
func In(values ...string) Validator { return inValidator{values: values} }

// CaseInsensitiveIn accepts one of the given strings in any case (Kafka's
// CaseInsensitiveValidString.in).
func CaseInsensitiveIn(values ...string) Validator { return inValidator{values: values, fold: true} }

func (v inValidator) EnsureValid(name string, value any) error {
	s, _ := value.(string)
	for _, ok := range v.values {
		if s == ok || (v.fold && strings.EqualFold(s, ok)) {
			return nil
		}
	}
	return ConfigError(name, value, "String must be one of: "+strings.Join(v.values, ", "))
}

func (v inValidator) String() string { return "[" + strings.Join(v.values, ", ") + "]" }

type nonEmptyString struct{}

// NonEmptyString rejects "" (Kafka's NonEmptyString); nil passes.
func NonEmptyString() Validator { return nonEmptyString{} }

func (nonEmptyString) EnsureValid(name string, value any) error {
	if s, ok := value.(string); ok && s == "" {
		return ConfigError(name, value, "String must be non-empty")
	}
	return nil
}

func (nonEmptyString) String() string { return "non-empty string" }

type nonEmptyNoControl struct{}

// NonEmptyStringWithoutControlChars rejects "" and strings with ISO
// control characters (Kafka's NonEmptyStringWithoutControlChars, used for
// connector names); nil passes.
func NonEmptyStringWithoutControlChars() Validator { return nonEmptyNoControl{} }

func (nonEmptyNoControl) EnsureValid(name string, value any) error {
	s, ok := value.(string)
	if !ok {
		return nil
	}
	if s == "" {
		return ConfigError(name, value, "String may not be empty")
	}
	var bad []string
	for _, r := range s {
		if r <= 0x1f || (r >= 0x7f && r <= 0x9f) {
			bad = append(bad, strconv.Itoa(int(r)))
		}
	}
	if len(bad) > 0 {
		return ConfigError(name, value, "String may not contain control sequences but had the following ASCII chars: "+strings.Join(bad, ", "))
	}
	return nil
}

func (nonEmptyNoControl) String() string { return "non-empty string without ISO control characters" }

type nonNull struct{}

// NonNull rejects nil (Kafka's NonNullValidator).
func NonNull() Validator { return nonNull{} }

func (nonNull) EnsureValid(name string, value any) error {
	if value == nil {
		return fmt.Errorf("Entry must be non null")
	}
	return nil
}

func (nonNull) String() string { return "non-null" }

// ValidatorFunc adapts a function to a Validator; Doc is its String.
type ValidatorFunc struct {
	Func func(name string, value any) error
	Doc  string
}

// EnsureValid calls v.Func.
func (v ValidatorFunc) EnsureValid(name string, value any) error { return v.Func(name, value) }

// String returns v.Doc.
func (v ValidatorFunc) String() string { return v.Doc }

type composite []Validator

// AllOf accepts values that every validator accepts (Kafka's
// CompositeValidator).
func AllOf(validators ...Validator) Validator { return composite(validators) }

func (c composite) EnsureValid(name string, value any) error {
	for _, v := range c {
		if err := v.EnsureValid(name, value); err != nil {
			return err
		}
	}
	return nil
}

func (c composite) String() string {
	parts := make([]string, len(c))
	for i, v := range c {
		parts[i] = v.String()
	}
	return strings.Join(parts, ", ")
}
