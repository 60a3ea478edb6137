package streams

import (
	"log/slog"
	"time"
)

// Processor is a node of a topology written by hand (Kafka's
// org.apache.kafka.streams.processor.api.Processor): it receives records
// of type (KIn, VIn) and forwards records of type (KOut, VOut) to its
// children through the ProcessorContext given to Init.
//
// A task makes one Processor per node from the node's supplier, calls
// Init once before any record, Process for each record, and Close when
// the task closes. All calls come from the task's goroutine.
//
// An error returned by Process (or a panic inside it) goes to the
// application's ProcessingHandler, which drops the record or fails the
// application.
type Processor[KIn, VIn, KOut, VOut any] interface {
	Init(ctx ProcessorContext[KOut, VOut]) error
	Process(rec Record[KIn, VIn]) error
	Close() error
}

// ProcessorSupplier makes a new Processor; it is called once per task.
type ProcessorSupplier[KIn, VIn, KOut, VOut any] func() Processor[KIn, VIn, KOut, VOut]

// ProcessorContext is a processor's view of its task (Kafka's
// api.ProcessorContext).
type ProcessorContext[K, V any] interface {
	// Forward sends rec to every child of the processor, depth first,
	// before returning.
	Forward(rec Record[K, V])
	// ForwardTo sends rec to the named child only.
	ForwardTo(child string, rec Record[K, V])
	// StateStore returns a store connected to this processor, to be
	// asserted to its type, e.g. KeyValueStore[string, int64]. It
	// returns nil for a store that is not connected.
	StateStore(name string) StateStore
	// ApplicationID is the application.id.
	ApplicationID() string
	// TaskID is the task running the processor.
	TaskID() TaskID
	// RecordMetadata locates the input record being processed; false
	// outside processing (Init, Close).
	RecordMetadata() (RecordMetadata, bool)
	// StreamTime is the task's stream time: the largest timestamp of
	// the records it has processed (the zero Time before any).
	StreamTime() time.Time
	// WallClockTime is the current time of the runtime's clock (the
	// test driver's mock clock under TestDriver).
	WallClockTime() time.Time
	// Commit asks the runtime to commit the task as soon as possible.
	Commit()
	// Schedule calls fn every interval of stream time or of wall-clock
	// time (Kafka's ProcessorContext.schedule; see PunctuationType for
	// when each fires). fn runs on the task's goroutine and may use
	// stores and Forward. Schedule panics if interval is below a
	// millisecond, as Kafka throws.
	Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) Cancellable
	// Logger returns the application's logger with the task attached.
	Logger() *slog.Logger
}

type funcProcessor[KIn, VIn, KOut, VOut any] struct {
	ctx ProcessorContext[KOut, VOut]
	fn  func(ctx ProcessorContext[KOut, VOut], rec Record[KIn, VIn]) error
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Init(ctx ProcessorContext[KOut, VOut]) error {
	p.ctx = ctx
	return nil
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Process(rec Record[KIn, VIn]) error {
	return p.fn(p.ctx, rec)
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Close() error { return nil }

// ProcessorFunc returns a supplier of stateless processors that call fn
// for every record.
func ProcessorFunc[KIn, VIn, KOut, VOut any](fn func(ctx ProcessorContext[KOut, VOut], rec Record[KIn, VIn]) error) ProcessorSupplier[KIn, VIn, KOut, VOut] {
	return func() Processor[KIn, VIn, KOut, VOut] {
		return &funcProcessor[KIn, VIn, KOut, VOut]{fn: fn}
	}
}

// StateStore is any state store; assert it to the typed interface (for
// example KeyValueStore[K, V] or TimestampedKeyValueStore[K, V]).
type StateStore interface {
	// Name is the store's name.
	Name() string
	// Persistent reports whether the store keeps its data on local
	// disk across restarts.
	Persistent() bool
}
