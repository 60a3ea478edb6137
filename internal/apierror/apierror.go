// Package apierror carries a Kafka error code and message through Go
// errors, from the package that decides an answer to the handler that
// writes it on the wire.
//
//	err := apierror.New(kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
//	code, msg := apierror.Code(err), apierror.Message(err)
//
// Errors that are not API errors map to UNKNOWN_SERVER_ERROR; nil maps to
// NONE (code 0).
package apierror

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Error is an error that answers a client with Kafka error Code and an
// optional human-readable Message (Kafka's error_message fields).
type Error struct {
	Code    *kerr.Error
	Message string
	// Cause is the error that led to this answer, if any; errors.As
	// reaches it (for details such as a produce's record errors).
	Cause error
}

// New returns an *Error with a formatted message.
func New(code *kerr.Error, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Message: msg}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.Message
	}
	return e.Code.Message + ": " + e.Message
}

// Wrap returns an *Error with code whose message is cause's text and
// whose Cause is cause.
func Wrap(code *kerr.Error, cause error) *Error {
	return &Error{Code: code, Message: cause.Error(), Cause: cause}
}

// Unwrap lets errors.Is match the kerr code and errors.As reach Cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Code}
	}
	return []error{e.Code, e.Cause}
}

// Code returns the Kafka error code for err: 0 for nil, the code of an
// *Error or *kerr.Error in err's chain, else UNKNOWN_SERVER_ERROR.
func Code(err error) int16 {
	if err == nil {
		return 0
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Code.Code
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

// Message returns the message to send for err, or nil when there is
// none. Unknown errors are not described to clients beyond their code.
func Message(err error) *string {
	var ae *Error
	if errors.As(err, &ae) && ae.Message != "" {
		m := ae.Message
		return &m
	}
	return nil
}
