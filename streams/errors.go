package streams

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Errors of the streams package. Errors returned by the runtime wrap one
// of these where one applies; test with errors.Is.
var (
	// ErrTopology is wrapped by Build for an invalid topology (Kafka's
	// TopologyException): a duplicate name, an unknown parent or store,
	// mismatched types between a processor and its parent.
	ErrTopology = errors.New("streams: invalid topology")
	// ErrMissingSourceTopic is returned by Start when a source topic
	// does not exist (Kafka's MissingSourceTopicException).
	ErrMissingSourceTopic = errors.New("streams: missing source topic")
	// ErrCopartition is returned by Start when topics that must be
	// co-partitioned have different partition counts, or when an
	// existing internal topic has the wrong count.
	ErrCopartition = errors.New("streams: topics are not co-partitioned")
	// ErrStateDirLocked is wrapped by New when another process runs the
	// same application from the same state directory (Kafka's "Unable
	// to initialize state, this can happen if multiple instances of
	// Kafka Streams are running in the same state directory").
	ErrStateDirLocked = errors.New("streams: state directory in use")
	// ErrClosed is returned by an App used after Close.
	ErrClosed = errors.New("streams: closed")
	// ErrAlreadyStarted is returned by a second Start.
	ErrAlreadyStarted = errors.New("streams: already started")
	// ErrUnknownStore is recorded when a processor asks for a store
	// that is not connected to it.
	ErrUnknownStore = errors.New("streams: unknown state store")
	// ErrUnknownChild is recorded by ForwardTo with a name that is not
	// a child of the processor.
	ErrUnknownChild = errors.New("streams: unknown child processor")
	// ErrDeserialization wraps a deserialization failure that the
	// deserialization handler chose to fail on.
	ErrDeserialization = errors.New("streams: deserialization failed")
	// ErrProduction wraps a send or serialization failure that the
	// production handler chose to fail on.
	ErrProduction = errors.New("streams: production failed")
	// ErrProcessing wraps an error (or a panic) of user code that the
	// processing handler chose to fail on.
	ErrProcessing = errors.New("streams: processing failed")
	// ErrInvalidTimestamp is returned by FailOnInvalidTimestamp.
	ErrInvalidTimestamp = errors.New("streams: invalid (negative) record timestamp")
	// ErrNoRecord is returned when reading an empty TestOutputTopic
	// (Kafka's NoSuchElementException).
	ErrNoRecord = errors.New("streams: no record in output topic")

	errConfig           = errors.New("streams: invalid config")
	errCheckpointFormat = errors.New("streams: malformed checkpoint file")
	errUserData         = errors.New("streams: malformed assignor user data")
)

// HandlerResponse is what an error handler decides (Kafka 4's
// Response.fail() / Response.resume()).
type HandlerResponse int

const (
	// HandlerFail stops the application: the error becomes fatal, the
	// current batch is not committed and the App enters StateError.
	HandlerFail HandlerResponse = iota
	// HandlerResume drops the failing record and carries on.
	HandlerResume
)

// ErrorContext describes where an error happened, for the handlers.
type ErrorContext struct {
	// Topic, Partition and Offset locate the input record being
	// processed (for a production error: the input record that led to
	// the send).
	Topic     string
	Partition int32
	Offset    int64
	// Timestamp is that record's timestamp.
	Timestamp time.Time
	// ProcessorNode names the node where the error happened ("" for a
	// send failure reported after the fact).
	ProcessorNode string
	// TaskID is the task that processed the record.
	TaskID TaskID
	// Logger is the application's logger, with the task attached.
	Logger *slog.Logger
}

// DeserializationHandler decides what to do with a record whose key or
// value cannot be deserialized (Kafka's deserialization.exception.handler).
type DeserializationHandler func(ec ErrorContext, rec *kgo.Record, err error) HandlerResponse

// ProductionHandler decides what to do when a record cannot be serialized
// or sent (Kafka's production.exception.handler). rec is the record as it
// was (or would have been) sent; its Key and Value are nil for a
// serialization failure.
type ProductionHandler func(ec ErrorContext, rec *kgo.Record, err error) HandlerResponse

// ProcessingHandler decides what to do when user code in a processor
// returns an error or panics (Kafka's processing.exception.handler,
// KIP-1033). key and value are the input record of the failing node.
type ProcessingHandler func(ec ErrorContext, key, value any, err error) HandlerResponse

// LogAndFail logs the error and fails: the default deserialization and
// processing handler, as in Kafka.
func LogAndFail(ec ErrorContext, _ *kgo.Record, err error) HandlerResponse {
	ec.Logger.Error("streams: failing on bad record", "topic", ec.Topic, "partition", ec.Partition, "offset", ec.Offset, "err", err)
	return HandlerFail
}

// LogAndContinue logs the error and skips the record.
func LogAndContinue(ec ErrorContext, _ *kgo.Record, err error) HandlerResponse {
	ec.Logger.Warn("streams: skipping bad record", "topic", ec.Topic, "partition", ec.Partition, "offset", ec.Offset, "err", err)
	return HandlerResume
}

// LogAndFailProcessing is the default processing handler: log and fail.
func LogAndFailProcessing(ec ErrorContext, _, _ any, err error) HandlerResponse {
	ec.Logger.Error("streams: processing failed", "node", ec.ProcessorNode, "topic", ec.Topic, "partition", ec.Partition, "offset", ec.Offset, "err", err)
	return HandlerFail
}

// LogAndContinueProcessing logs a processing error and drops the record
// at the failing node.
func LogAndContinueProcessing(ec ErrorContext, _, _ any, err error) HandlerResponse {
	ec.Logger.Warn("streams: dropping record after processing error", "node", ec.ProcessorNode, "topic", ec.Topic, "partition", ec.Partition, "offset", ec.Offset, "err", err)
	return HandlerResume
}

// DefaultProduction is the default production handler: fail, as Kafka's
// DefaultProductionExceptionHandler does.
func DefaultProduction(ec ErrorContext, rec *kgo.Record, err error) HandlerResponse {
	ec.Logger.Error("streams: failed to send record", "topic", rec.Topic, "err", err)
	return HandlerFail
}

// Headers added to dead-letter records (Kafka's ExceptionHandlerUtils,
// KIP-1034).
const (
	HeaderErrorsException  = "__streams.errors.exception"
	HeaderErrorsStacktrace = "__streams.errors.stacktrace"
	HeaderErrorsMessage    = "__streams.errors.message"
	HeaderErrorsTopic      = "__streams.errors.topic"
	HeaderErrorsPartition  = "__streams.errors.partition"
	HeaderErrorsOffset     = "__streams.errors.offset"
)

// panicError is a recovered panic of user code.
type panicError struct {
	value any
	stack string
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }
