package connect

// Exactly-once source support (KIP-618). A worker with
// exactly.once.source.support=enabled writes each source task's records
// and offsets in Kafka transactions; these optional interfaces let a
// connector take part:
//
//   - ExactlyOnceSupporter: the connector says whether it can give
//     exactly-once delivery with a configuration; a connector configured
//     with exactly.once.support=required is refused unless it answers
//     ExactlyOnceSupported (Kafka's SourceConnector.exactlyOnceSupport).
//   - TransactionBoundaryDefiner: the connector can choose where its
//     tasks' transactions end; only then may it be configured with
//     transaction.boundary=connector (Kafka's
//     SourceConnector.canDefineTransactionBoundaries).
//   - TransactionContext: with transaction.boundary=connector, a task
//     commits or aborts through the context TransactionContextOf returns
//     (Kafka's SourceTaskContext.transactionContext()).

// ExactlyOnceSupport is a connector's answer to whether it can give
// exactly-once delivery (Kafka's ExactlyOnceSupport). The zero value,
// ExactlyOnceSupportUnknown, is Kafka's null: the connector does not say.
type ExactlyOnceSupport int

const (
	// ExactlyOnceSupportUnknown: the connector does not say (Kafka's
	// null); exactly.once.support=required refuses it.
	ExactlyOnceSupportUnknown ExactlyOnceSupport = iota
	// ExactlyOnceSupported: the connector resumes exactly after the last
	// committed offset, so that every record is delivered once.
	ExactlyOnceSupported
	// ExactlyOnceUnsupported: it cannot with this configuration.
	ExactlyOnceUnsupported
)

// String returns Kafka's name: SUPPORTED, UNSUPPORTED or "null".
func (s ExactlyOnceSupport) String() string {
	switch s {
	case ExactlyOnceSupported:
		return "SUPPORTED"
	case ExactlyOnceUnsupported:
		return "UNSUPPORTED"
	}
	return "null"
}

// ExactlyOnceSupporter is implemented by a source connector that can tell
// whether it gives exactly-once delivery with the configuration props. It
// is called on a fresh instance, before Start, during validation.
type ExactlyOnceSupporter interface {
	ExactlyOnceSupport(props map[string]string) ExactlyOnceSupport
}

// ConnectorTransactionBoundaries is a connector's answer to whether it can
// define its tasks' transaction boundaries (Kafka's
// ConnectorTransactionBoundaries). The zero value is UNSUPPORTED, Kafka's
// default.
type ConnectorTransactionBoundaries int

const (
	// TransactionBoundariesUnsupported: the connector cannot.
	TransactionBoundariesUnsupported ConnectorTransactionBoundaries = iota
	// TransactionBoundariesSupported: its tasks commit and abort through
	// their TransactionContext.
	TransactionBoundariesSupported
)

// String returns Kafka's name: SUPPORTED or UNSUPPORTED.
func (b ConnectorTransactionBoundaries) String() string {
	if b == TransactionBoundariesSupported {
		return "SUPPORTED"
	}
	return "UNSUPPORTED"
}

// TransactionBoundaryDefiner is implemented by a source connector whose
// tasks can define their own transaction boundaries with the
// configuration props. It is called on a fresh instance, before Start,
// during validation.
type TransactionBoundaryDefiner interface {
	CanDefineTransactionBoundaries(props map[string]string) ConnectorTransactionBoundaries
}

// TransactionContext lets a source task of a connector configured with
// transaction.boundary=connector say where its transactions end (Kafka's
// TransactionContext). A request takes effect in the task's goroutine, as
// the worker dispatches the records Poll returned: the methods only record
// it, may be called from any goroutine, and never block.
//
// A transaction the task never commits stays open (and its records
// invisible to read_committed consumers) until the task stops cleanly,
// which commits it; a failed task aborts it.
type TransactionContext interface {
	// CommitTransaction commits the open transaction once the records of
	// the current (or, between polls, the next) batch are dispatched.
	CommitTransaction()
	// CommitTransactionAfter commits the transaction right after rec is
	// dispatched: rec is its last record. rec must be a record returned
	// by Poll, compared by pointer.
	CommitTransactionAfter(rec *SourceRecord)
	// AbortTransaction aborts the open transaction once the records of
	// the current (or next) batch are dispatched: none of its records,
	// nor their offsets, are committed.
	AbortTransaction()
	// AbortTransactionAfter aborts the transaction right after rec is
	// dispatched; the records after rec start a new transaction.
	AbortTransactionAfter(rec *SourceRecord)
}

// TransactionContextProvider is implemented by the worker's
// SourceTaskContext; use TransactionContextOf.
type TransactionContextProvider interface {
	TransactionContext() TransactionContext
}

// TransactionContextOf returns the transaction context of a source task's
// context, or nil unless the worker runs the task exactly once with
// transaction.boundary=connector (Kafka's transactionContext() returning
// null). Call it from Initialize or Start.
func TransactionContextOf(ctx SourceTaskContext) TransactionContext {
	if p, ok := ctx.(TransactionContextProvider); ok {
		return p.TransactionContext()
	}
	return nil
}
