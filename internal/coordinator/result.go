package coordinator

import (
	"errors"
	"time"
)

// Record is one key/value written to a coordinator's partition. A nil
// Value is a tombstone.
type Record struct {
	Key, Value []byte
}

// LoggedRecord is a record as read back from the log, for replay. Key and
// Value alias a read buffer and are valid only during the Replay call.
type LoggedRecord struct {
	Offset int64
	// ProducerID is the batch's producer id (-1 outside transactions).
	ProducerID int64
	Key, Value []byte
}

// Op is an operation on a shard's state machine s at time now. It records
// what must be written and answered in res.
type Op[S any] func(s S, now time.Time, res *Result)

// StateMachine is one shard's state. The runtime calls its methods from
// the shard's goroutine only, so it needs no locks.
type StateMachine interface {
	// Replay applies one record: every record of the log when loading,
	// and the records of a Result with Replay set once they are appended.
	// An error stops a load (the shard fails); during live replay it is
	// logged.
	Replay(rec LoggedRecord) error
	// Loaded is called once the log has been replayed, before the first
	// operation; it may schedule timers and fill res.
	Loaded(now time.Time, res *Result)
	// Unloaded is called once when the shard stops serving; it answers
	// what is pending through res (its records are not written).
	Unloaded(res *Result)
}

// Result is what an operation produces. See the package doc for the order
// in which its parts complete.
type Result struct {
	// Records are appended to the partition in one batch.
	Records []Record
	// Producer, if set, makes Records a transactional batch of that
	// producer (a TxnOffsetCommit; Kafka's transactional write
	// operation): replayed with its producer id, they are pending until
	// the producer's transaction marker.
	Producer *Producer
	// Marker, if set, is a transaction marker written as a control batch
	// of its own instead of Records (which must be empty), and replayed
	// into a MarkerReplayer state machine (Kafka's
	// scheduleTransactionCompletion).
	Marker *Marker
	// Replay asks for Records to be replayed into the state machine once
	// appended (Kafka's replayRecords). Records whose effect the operation
	// already applied in memory leave it false.
	Replay bool
	// AfterAppend, if set, runs after the append with its error (nil
	// when there were no records). It may fill next, which is completed
	// after this Result's replies.
	AfterAppend func(now time.Time, err error, next *Result)
	// Replies release responses to clients, in order.
	Replies []func()
}

// Reply adds a reply.
func (r *Result) Reply(f func()) { r.Replies = append(r.Replies, f) }

// Add appends records.
func (r *Result) Add(recs ...Record) { r.Records = append(r.Records, recs...) }

// Batch is what one Result writes: its Records (a transactional batch
// when Producer is set) or its Marker.
type Batch struct {
	Records  []Record
	Producer *Producer
	Marker   *Marker
}

// Apply completes res as the runtime does (see the package doc): append
// writes the batch and returns the offset of its first record. It is
// exported so that state machines can be tested without a runtime, with a
// made-up clock and an in-memory log.
func Apply(sm StateMachine, now time.Time, res *Result, append func(Batch) (baseOffset int64, err error), onReplayError func(error)) {
	for res != nil {
		var err error
		if len(res.Records) > 0 || res.Marker != nil {
			var base int64
			b := Batch{Records: res.Records, Producer: res.Producer, Marker: res.Marker}
			if b.Marker != nil {
				b.Records = nil
			}
			base, err = append(b)
			if err == nil && res.Replay {
				if rerr := replayBatch(sm, base, b); rerr != nil && onReplayError != nil {
					onReplayError(rerr)
				}
			}
		}
		var next *Result
		if res.AfterAppend != nil {
			next = &Result{}
			res.AfterAppend(now, err, next)
		}
		for _, f := range res.Replies {
			f()
		}
		res = next
	}
}

// replayBatch replays what b wrote at base: its records, with the
// producer id of a transactional batch, or its marker.
func replayBatch(sm StateMachine, base int64, b Batch) error {
	if b.Marker != nil {
		if mr, ok := sm.(MarkerReplayer); ok {
			return mr.ReplayMarker(base, *b.Marker)
		}
		return nil
	}
	pid := int64(-1)
	if b.Producer != nil {
		pid = b.Producer.ID
	}
	var errs []error
	for i, r := range b.Records {
		if err := sm.Replay(LoggedRecord{Offset: base + int64(i), ProducerID: pid, Key: r.Key, Value: r.Value}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
