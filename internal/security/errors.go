package security

import (
	"errors"
	"fmt"
)

// Errors of this package.
var (
	// ErrAuthenticationFailed is wrapped by every failed SASL
	// authentication (Kafka's SASL_AUTHENTICATION_FAILED).
	ErrAuthenticationFailed = errors.New("security: authentication failed")
	// ErrUnsupportedMechanism is returned for a SASL mechanism that is
	// not enabled or not implemented (UNSUPPORTED_SASL_MECHANISM).
	ErrUnsupportedMechanism = errors.New("security: unsupported SASL mechanism")
	// ErrIllegalState is returned by a ServerSession stepped after it
	// finished (ILLEGAL_SASL_STATE).
	ErrIllegalState = errors.New("security: illegal SASL state")
	// ErrBadConfig is wrapped by every error about a security setting:
	// a JAAS text, a mapping rule, a key store.
	ErrBadConfig = errors.New("security: bad configuration")
	// ErrNoMatchingRule is returned when no ssl.principal.mapping.rules
	// rule applies to a distinguished name (Kafka's NoMatchingRule).
	ErrNoMatchingRule = errors.New("security: no rule applies")
)

// AuthError is a failed authentication. Client is the message the client
// may be told; Cause, which may name the user or say what was wrong, is
// for the broker's log only.
type AuthError struct {
	Client string
	Cause  error
}

func (e *AuthError) Error() string {
	switch {
	case e.Cause == nil:
		return e.Client
	case e.Client == "":
		return e.Cause.Error()
	}
	return fmt.Sprintf("%s (%v)", e.Client, e.Cause)
}

// Unwrap makes errors.Is(err, ErrAuthenticationFailed) hold.
func (e *AuthError) Unwrap() []error { return []error{ErrAuthenticationFailed, e.Cause} }

// ClientMessage returns the message a client may see for a failed
// authentication with mechanism (Kafka's SaslServerAuthenticator): the
// mechanism's own message where Kafka passes one through (PLAIN's
// "Authentication failed: Invalid username or password"), otherwise the
// generic one, which says nothing about which part was wrong. reauth
// selects the "re-authentication" wording (KIP-368).
func ClientMessage(err error, mechanism string, reauth bool) string {
	var ae *AuthError
	if errors.As(err, &ae) && ae.Client != "" {
		return ae.Client
	}
	what := "authentication"
	if reauth {
		what = "re-authentication"
	}
	return "Authentication failed during " + what + " due to invalid credentials with SASL mechanism " + mechanism
}

// failed is a failure whose details stay in the log: the client gets the
// generic message.
func failed(format string, args ...any) error {
	return &AuthError{Cause: fmt.Errorf(format, args...)}
}

// configErrorf returns an error wrapping ErrBadConfig.
func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, args...))
}
