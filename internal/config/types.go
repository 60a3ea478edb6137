package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Type is a config's data type, numbered as Kafka's DescribeConfigs
// ConfigType (KIP-569), so the value goes on the wire unchanged.
type Type int8

// Config types, with Kafka's DescribeConfigsResponse.ConfigType ids.
const (
	TypeUnknown  Type = 0
	TypeBoolean  Type = 1
	TypeString   Type = 2
	TypeInt      Type = 3
	TypeShort    Type = 4
	TypeLong     Type = 5
	TypeDouble   Type = 6
	TypeList     Type = 7
	TypeClass    Type = 8
	TypePassword Type = 9
)

// String returns Kafka's ConfigDef.Type name ("INT", "LIST", ...).
func (t Type) String() string {
	switch t {
	case TypeBoolean:
		return "BOOLEAN"
	case TypeString:
		return "STRING"
	case TypeInt:
		return "INT"
	case TypeShort:
		return "SHORT"
	case TypeLong:
		return "LONG"
	case TypeDouble:
		return "DOUBLE"
	case TypeList:
		return "LIST"
	case TypeClass:
		return "CLASS"
	case TypePassword:
		return "PASSWORD"
	}
	return "UNKNOWN"
}

// Importance is Kafka's ConfigDef.Importance.
type Importance int8

// Importance levels.
const (
	High Importance = iota
	Medium
	Low
)

// String returns "high", "medium" or "low", as Kafka's generated docs.
func (i Importance) String() string {
	switch i {
	case High:
		return "high"
	case Medium:
		return "medium"
	}
	return "low"
}

// UpdateMode says whether and how a broker config can change without a
// restart, as Kafka's DynamicBrokerConfig (KIP-226).
type UpdateMode int8

// Update modes.
const (
	// ReadOnly configs need a restart; DescribeConfigs reports them
	// read-only and IncrementalAlterConfigs rejects them.
	ReadOnly UpdateMode = iota
	// PerBroker configs can only be set for one broker (resource name
	// "<node.id>"), never at the cluster-default level.
	PerBroker
	// ClusterWide configs can be set per broker or as a cluster default
	// (resource name "").
	ClusterWide
)

// String returns Kafka's name for the mode: "read-only", "per-broker" or
// "cluster-wide".
func (m UpdateMode) String() string {
	switch m {
	case PerBroker:
		return "per-broker"
	case ClusterWide:
		return "cluster-wide"
	}
	return "read-only"
}

// ConfigSource is where a described value came from, numbered as Kafka's
// DescribeConfigsResponse.ConfigSource.
type ConfigSource int8

// Config sources, with Kafka's ids.
const (
	SourceUnknown              ConfigSource = 0
	SourceDynamicTopic         ConfigSource = 1 // DYNAMIC_TOPIC_CONFIG
	SourceDynamicBroker        ConfigSource = 2 // DYNAMIC_BROKER_CONFIG
	SourceDynamicDefaultBroker ConfigSource = 3 // DYNAMIC_DEFAULT_BROKER_CONFIG
	SourceStaticBroker         ConfigSource = 4 // STATIC_BROKER_CONFIG
	SourceDefault              ConfigSource = 5 // DEFAULT_CONFIG
	SourceDynamicBrokerLogger  ConfigSource = 6 // DYNAMIC_BROKER_LOGGER_CONFIG
	SourceClientMetrics        ConfigSource = 7 // CLIENT_METRICS_CONFIG
	SourceGroup                ConfigSource = 8 // GROUP_CONFIG
)

// String returns Kafka's enum name, as kafka-configs.sh prints it.
func (s ConfigSource) String() string {
	switch s {
	case SourceDynamicTopic:
		return "DYNAMIC_TOPIC_CONFIG"
	case SourceDynamicBroker:
		return "DYNAMIC_BROKER_CONFIG"
	case SourceDynamicDefaultBroker:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case SourceStaticBroker:
		return "STATIC_BROKER_CONFIG"
	case SourceDefault:
		return "DEFAULT_CONFIG"
	case SourceDynamicBrokerLogger:
		return "DYNAMIC_BROKER_LOGGER_CONFIG"
	case SourceClientMetrics:
		return "CLIENT_METRICS_CONFIG"
	case SourceGroup:
		return "GROUP_CONFIG"
	}
	return "UNKNOWN"
}

// nullDefault marks a definition whose default is null (Kafka's
// `define(name, type, null, ...)`): the config has no value unless set.
const nullDefault = "\x00null"

// Def is one config definition, the equivalent of a Kafka ConfigDef key.
// Defs are values; the catalog hands out copies.
type Def struct {
	// Name is Kafka's property name, e.g. "log.segment.bytes".
	Name string
	// Type is the value's type.
	Type Type
	// Default is the default in Kafka's string form (lists joined with
	// ","), meaningful only when HasDefault.
	Default string
	// HasDefault is false for configs whose Kafka default is null.
	HasDefault bool
	// Importance is Kafka's importance of the config.
	Importance Importance
	// Documentation is Kafka's doc text (sometimes shortened).
	Documentation string

	validator validator
	parsed    any // the parsed default; nil when !HasDefault
}

// ValidValues describes the accepted values as Kafka's docs print them
// ("[1,...]", "[compact, delete]"), or "" when any value of the type is
// accepted.
func (d Def) ValidValues() string {
	if d.validator == nil {
		return ""
	}
	return d.validator.String()
}

// Sensitive reports whether the value must never be shown (PASSWORD).
func (d Def) Sensitive() bool { return d.Type == TypePassword }

// Parse converts a string value to the config's type and validates it,
// as Kafka's ConfigDef.parse does: the value is trimmed first; a LIST is
// split on commas. The result is bool, string, int16, int32, int64,
// float64 or []string, by Type. An error is a *ConfigError wrapping
// ErrInvalidValue whose text is Kafka's ConfigException message
// ("Invalid value x for configuration n: ...").
func (d Def) Parse(value string) (any, error) {
	v, err := parseType(d.Name, d.Type, value)
	if err != nil {
		return nil, err
	}
	if d.validator != nil {
		if err := d.validator.check(d.Name, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// parsedDefault returns the parsed default (nil for a null default).
func (d Def) parsedDefault() any { return d.parsed }

// newDef builds a Def, parsing and validating its default. A bad default
// is a programming error, so it panics (the package's tests load every
// definition).
func newDef(name string, t Type, dflt string, imp Importance, v validator, doc string) Def {
	d := Def{Name: name, Type: t, Importance: imp, Documentation: doc, validator: v}
	if dflt != nullDefault {
		p, err := d.Parse(dflt)
		if err != nil {
			panic(fmt.Sprintf("config: bad default for %s: %v", name, err))
		}
		d.HasDefault = true
		d.parsed = p
		d.Default = formatValue(t, p)
	}
	return d
}

// javaTrim trims as Java's String.trim: every char <= ' ' at both ends.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// parseType is Kafka's ConfigDef.parseType for a string input.
func parseType(name string, t Type, value string) (any, error) {
	trimmed := javaTrim(value)
	switch t {
	case TypeBoolean:
		switch strings.ToLower(trimmed) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, invalidValue(name, value, "Expected value to be either true or false")
	case TypeString, TypeClass, TypePassword:
		return trimmed, nil
	case TypeInt:
		n, err := strconv.ParseInt(trimmed, 10, 32)
		if err != nil || !javaInteger(trimmed) {
			return nil, invalidValue(name, value, "Not a number of type INT")
		}
		return int32(n), nil
	case TypeShort:
		n, err := strconv.ParseInt(trimmed, 10, 16)
		if err != nil || !javaInteger(trimmed) {
			return nil, invalidValue(name, value, "Not a number of type SHORT")
		}
		return int16(n), nil
	case TypeLong:
		n, err := strconv.ParseInt(trimmed, 10, 64)
		if err != nil || !javaInteger(trimmed) {
			return nil, invalidValue(name, value, "Not a number of type LONG")
		}
		return n, nil
	case TypeDouble:
		f, err := strconv.ParseFloat(strings.TrimRight(trimmed, "dDfF"), 64)
		if err != nil || strings.ContainsRune(trimmed, '_') {
			return nil, invalidValue(name, value, "Not a number of type DOUBLE")
		}
		return f, nil
	case TypeList:
		if trimmed == "" {
			return []string{}, nil
		}
		parts := strings.Split(trimmed, ",")
		for i, p := range parts {
			parts[i] = strings.Trim(p, " \t\n\v\f\r")
		}
		return parts, nil
	}
	return nil, invalidValue(name, value, "Unknown type")
}

// javaInteger reports whether s has the form Java's Long.parseLong
// accepts: an optional sign then ASCII digits.
func javaInteger(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatValue is Kafka's ConfigDef.convertToString: the string form used
// in DescribeConfigs. nil formats as "" (callers treat nil separately).
func formatValue(t Type, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return javaDouble(x)
	case []string:
		return strings.Join(x, ",")
	}
	return fmt.Sprint(v)
}

// javaObject formats a parsed value as Java's toString would, for error
// messages: lists print as "[a, b]".
func javaObject(v any) string {
	if l, ok := v.([]string); ok {
		return "[" + strings.Join(l, ", ") + "]"
	}
	return formatValue(TypeUnknown, v)
}

// javaDouble formats f as Java's Double.toString: "0.5", "2.0",
// "1.0E-5", "1.7976931348623157E308".
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	a := math.Abs(f)
	if a == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64) // e.g. 1.7976931348623157E+308, 1E-05
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(exp, "+-")
	exp = strings.TrimLeft(exp, "0")
	if exp == "" {
		exp = "0"
	}
	if neg {
		exp = "-" + exp
	}
	return mant + "E" + exp
}

// toFloat converts a parsed numeric value for range checks.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
