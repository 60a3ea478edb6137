package config

import (
	"errors"
	"fmt"
)

// Error classes. Every error this package returns wraps one of them; the
// concrete *ConfigError carries Kafka's message text.
var (
	// ErrUnknownConfig: the property name is not one Gregor knows.
	ErrUnknownConfig = errors.New("config: unknown configuration")
	// ErrInvalidValue: the value does not parse or is out of range.
	ErrInvalidValue = errors.New("config: invalid value")
	// ErrNotDynamic: the config cannot be changed at this level without
	// a restart.
	ErrNotDynamic = errors.New("config: cannot update dynamically")
	// ErrInvalidConfig: values that are each valid conflict.
	ErrInvalidConfig = errors.New("config: invalid configuration")
	// ErrMalformedProperties: a .properties file cannot be read.
	ErrMalformedProperties = errors.New("config: malformed properties")
)

// ConfigError is one problem with one config. Its Error text is what
// Kafka reports for the same problem, so handlers can put it in a
// response's error message as is.
type ConfigError struct {
	// Name is the config the problem is about.
	Name string
	// Message is the full text.
	Message string
	// Kind is the error class (ErrUnknownConfig, ErrInvalidValue, ...).
	Kind error
}

func (e *ConfigError) Error() string { return e.Message }

// Unwrap returns the error class, for errors.Is.
func (e *ConfigError) Unwrap() error { return e.Kind }

// invalidValue builds Kafka's ConfigException(name, value, message) text.
func invalidValue(name string, value any, msg string) error {
	v := ""
	switch x := value.(type) {
	case string:
		v = x
	case nil:
		v = "null"
	default:
		v = javaObject(x)
	}
	return &ConfigError{
		Name:    name,
		Message: fmt.Sprintf("Invalid value %s for configuration %s: %s", v, name, msg),
		Kind:    ErrInvalidValue,
	}
}

// conflict builds an ErrInvalidConfig error about name.
func conflict(name, format string, args ...any) error {
	return &ConfigError{Name: name, Message: fmt.Sprintf(format, args...), Kind: ErrInvalidConfig}
}

// unknownConfig builds the error for a name that is not in the catalog
// kind ("broker" or "topic"): Kafka's "Unknown topic config name: x",
// followed, when known is non-nil, by the closest known name.
func unknownConfig(kind, name string, known []string) error {
	msg := fmt.Sprintf("Unknown %s config name: %s", kind, name)
	if s := closest(name, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return &ConfigError{Name: name, Message: msg, Kind: ErrUnknownConfig}
}
