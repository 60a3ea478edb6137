package connect

import "errors"

// Errors of the connect package. Errors returned by the SDK and by the
// converters wrap one of these where one applies; test with errors.Is.
// A connector or task signals the same classes by wrapping them.
var (
	// ErrData marks data that does not fit its schema, or bytes a
	// converter cannot turn into Connect data (Kafka's DataException).
	ErrData = errors.New("connect: data error")
	// ErrSchemaBuilder is wrapped by SchemaBuilder.Build for a schema
	// that cannot be built (Kafka's SchemaBuilderException).
	ErrSchemaBuilder = errors.New("connect: invalid schema")
	// ErrConfig is wrapped by ConfigDef.Parse for a configuration that is
	// missing a required value or has a value of the wrong type or range
	// (Kafka's ConfigException).
	ErrConfig = errors.New("connect: invalid configuration")
	// ErrRetriable is wrapped by a task error that may succeed if retried
	// (Kafka's RetriableException): a SinkTask.Put that returns it gets the
	// same records again after the task context's timeout.
	ErrRetriable = errors.New("connect: retriable error")
	// ErrUnknownPlugin is returned by LookupPlugin for a class name or
	// alias that no registered plugin answers to.
	ErrUnknownPlugin = errors.New("connect: unknown plugin")
)
