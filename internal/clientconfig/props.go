package clientconfig

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidConfig is matched (errors.Is) by every error Options and
// MaxPollRecords return for a bad property value.
var ErrInvalidConfig = errors.New("clientconfig: invalid client configuration")

// ConfigError is Kafka's ConfigException: its Error is Kafka's message,
// word for word, and it matches ErrInvalidConfig.
type ConfigError struct {
	// Name and Value are the property and its value ("" when the error
	// concerns a combination of properties).
	Name, Value string
	// Message is the reason ("String must be one of: …"), or the whole
	// message when Name is "".
	Message string
	// Err is the underlying failure (reading a certificate file), or nil.
	Err error
}

// Error returns "Invalid value V for configuration N: M", or M alone when
// the error names no property.
// Err, when set, follows after ": ".
func (e *ConfigError) Error() string {
	msg := e.Message
	if e.Name != "" {
		msg = "Invalid value " + e.Value + " for configuration " + e.Name + ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrInvalidConfig and Err.
func (e *ConfigError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidConfig}
	}
	return []error{ErrInvalidConfig, e.Err}
}

// InvalidValue returns Kafka's ConfigException for value v of property k:
// "Invalid value v for configuration k: why".
func InvalidValue(k, v, why string) error {
	return &ConfigError{Name: k, Value: v, Message: why}
}

// configError returns a ConfigException that names no single property.
func configError(msg string) error { return &ConfigError{Message: msg} }

// wrapError returns a ConfigException for a failure of the setting
// described by msg.
func wrapError(msg string, err error) error { return &ConfigError{Message: msg, Err: err} }

// propReader reads typed values out of a property map, remembering which
// keys were read and the first bad value.
type propReader struct {
	props map[string]string
	used  map[string]bool
	err   error
}

func (p *propReader) get(k string) (string, bool) {
	v, ok := p.props[k]
	if ok {
		p.used[k] = true
	}
	return v, ok
}

func (p *propReader) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *propReader) int(k string) (int64, bool) {
	v, ok := p.get(k)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		p.fail(InvalidValue(k, v, "Expected value to be a number"))
		return 0, false
	}
	return n, true
}

func (p *propReader) int32(k string) (int32, bool) {
	n, ok := p.int(k)
	if !ok {
		return 0, false
	}
	if n < 0 || n > math.MaxInt32 {
		p.fail(InvalidValue(k, p.props[k], "Expected a value between 0 and 2147483647"))
		return 0, false
	}
	return int32(n), true
}

func (p *propReader) millis(k string) (time.Duration, bool) {
	n, ok := p.int(k)
	if !ok {
		return 0, false
	}
	if n < 0 {
		p.fail(InvalidValue(k, p.props[k], "Value must be at least 0"))
		return 0, false
	}
	return time.Duration(n) * time.Millisecond, true
}

func (p *propReader) bool(k string) (bool, bool) {
	v, ok := p.get(k)
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.fail(InvalidValue(k, v, "Expected value to be either true or false"))
	return false, false
}
