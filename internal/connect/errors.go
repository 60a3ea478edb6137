package connect

import (
	"errors"
	"fmt"
	"net/http"
)

// Error classes of the worker. Errors the herder returns wrap one of these
// when the REST API answers with a client error; test with errors.Is.
var (
	// ErrNotFound: an unknown connector, task or plugin (HTTP 404).
	ErrNotFound = errors.New("connect: not found")
	// ErrBadRequest: an invalid request or configuration (HTTP 400).
	ErrBadRequest = errors.New("connect: bad request")
	// ErrConflict: the connector already exists (HTTP 409).
	ErrConflict = errors.New("connect: conflict")
	// ErrForbidden: the worker's configuration forbids the request
	// (HTTP 403).
	ErrForbidden = errors.New("connect: forbidden")
	// ErrClosed: the worker is shutting down.
	ErrClosed = errors.New("connect: worker closed")
	// ErrWorkerConfig wraps an invalid worker configuration.
	ErrWorkerConfig = errors.New("connect: invalid worker configuration")
	// ErrOffsetsFile wraps a corrupt or unreadable offsets file.
	ErrOffsetsFile = errors.New("connect: bad offsets file")
)

// restError carries the exact message Kafka's REST API answers with, and
// its class.
type restError struct {
	class   error
	message string
}

func (e *restError) Error() string { return e.message }
func (e *restError) Unwrap() error { return e.class }

func notFoundf(format string, args ...any) error {
	return &restError{class: ErrNotFound, message: fmt.Sprintf(format, args...)}
}

func badRequestf(format string, args ...any) error {
	return &restError{class: ErrBadRequest, message: fmt.Sprintf(format, args...)}
}

func conflictf(format string, args ...any) error {
	return &restError{class: ErrConflict, message: fmt.Sprintf(format, args...)}
}

func forbiddenf(format string, args ...any) error {
	return &restError{class: ErrForbidden, message: fmt.Sprintf(format, args...)}
}

// httpStatus maps an error to the status Kafka's ConnectExceptionMapper
// answers with: 404, 400, 409, 403 for the classes above, 500 otherwise.
func httpStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}
