package txn

import (
	"fmt"
	"math"
)

// State is the state of a transactional id, as Kafka's TransactionState.
// Its value is the transaction_status byte written in __transaction_state.
type State int8

// The states, with the ids Kafka writes.
const (
	// Empty: no transaction is open (after InitProducerId).
	Empty State = 0
	// Ongoing: partitions have been added to an open transaction.
	Ongoing State = 1
	// PrepareCommit: the commit is decided and written; markers are
	// being written.
	PrepareCommit State = 2
	// PrepareAbort: the abort is decided and written; markers are being
	// written.
	PrepareAbort State = 3
	// CompleteCommit: every partition has its commit marker.
	CompleteCommit State = 4
	// CompleteAbort: every partition has its abort marker.
	CompleteAbort State = 5
	// Dead: the transactional id expired and its tombstone is being
	// written. Never stored: the id is forgotten once the tombstone is.
	Dead State = 6
	// PrepareEpochFence: the epoch is being bumped to fence the current
	// producer before aborting its transaction (InitProducerId on an
	// Ongoing transaction, or the transaction timed out). Transient: it
	// lasts within one operation and is never written.
	PrepareEpochFence State = 7
)

var stateNames = [...]string{
	Empty:             "Empty",
	Ongoing:           "Ongoing",
	PrepareCommit:     "PrepareCommit",
	PrepareAbort:      "PrepareAbort",
	CompleteCommit:    "CompleteCommit",
	CompleteAbort:     "CompleteAbort",
	Dead:              "Dead",
	PrepareEpochFence: "PrepareEpochFence",
}

// String returns Kafka's name of the state, as DescribeTransactions and
// ListTransactions report it.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int8(s))
}

// valid reports whether s is one of Kafka's states.
func (s State) valid() bool { return s >= 0 && int(s) < len(stateNames) }

// ParseState returns the state named name (case-sensitive, as Kafka's
// TransactionState.fromName).
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// expirationAllowed: an id in this state may expire after
// transactional.id.expiration.ms without updates.
func (s State) expirationAllowed() bool {
	return s == Empty || s == CompleteCommit || s == CompleteAbort
}

// validPrevious is Kafka's table of legal transitions: the states each
// state may be entered from (TransactionState.validPreviousStates).
//
//	Empty             <- Empty, CompleteCommit, CompleteAbort
//	Ongoing           <- Ongoing, Empty, CompleteCommit, CompleteAbort
//	PrepareCommit     <- Ongoing
//	PrepareAbort      <- Ongoing, PrepareEpochFence, Empty, CompleteCommit, CompleteAbort
//	CompleteCommit    <- PrepareCommit
//	CompleteAbort     <- PrepareAbort
//	Dead              <- Empty, CompleteAbort, CompleteCommit
//	PrepareEpochFence <- Ongoing
//
// PrepareAbort from Empty, CompleteCommit or CompleteAbort is an abort
// with transaction version 2 (KIP-890): the client may not know whether
// a transaction is open and aborts anyway.
var validPrevious = map[State][]State{
	Empty:             {Empty, CompleteCommit, CompleteAbort},
	Ongoing:           {Ongoing, Empty, CompleteCommit, CompleteAbort},
	PrepareCommit:     {Ongoing},
	PrepareAbort:      {Ongoing, PrepareEpochFence, Empty, CompleteCommit, CompleteAbort},
	CompleteCommit:    {PrepareCommit},
	CompleteAbort:     {PrepareAbort},
	Dead:              {Empty, CompleteAbort, CompleteCommit},
	PrepareEpochFence: {Ongoing},
}

// validTransition reports whether from → to is in Kafka's table.
func validTransition(from, to State) bool {
	for _, s := range validPrevious[to] {
		if s == from {
			return true
		}
	}
	return false
}

// Transaction versions: the transaction.version feature levels (KIP-890).
const (
	// TV0 is the original protocol.
	TV0 int16 = 0
	// TV1 writes flexible (version 1) __transaction_state values.
	TV1 int16 = 1
	// TV2 bumps the producer epoch on every EndTxn and lets brokers add
	// partitions to transactions implicitly (KIP-890 part 2).
	TV2 int16 = 2
)

// supportsEpochBump: with TV2 every EndTxn bumps the epoch.
func supportsEpochBump(tv int16) bool { return tv >= TV2 }

// logValueVersion is the version of the __transaction_state values
// written at a cluster transaction.version level.
func logValueVersion(tv int16) int16 {
	if tv >= TV1 {
		return 1
	}
	return 0
}

// AddPartitionsTV is the transaction version an AddPartitionsToTxn
// request of this version speaks: v4+ are sent by brokers for TV2
// clients (Kafka's transactionVersionForAddPartitionsToTxn).
func AddPartitionsTV(version int16) int16 {
	if version > 3 {
		return TV2
	}
	return TV0
}

// EndTxnTV is the transaction version an EndTxn request of this version
// speaks: v5+ are TV2 clients (transactionVersionForEndTxn).
func EndTxnTV(version int16) int16 {
	if version > 4 {
		return TV2
	}
	return TV0
}

// Producer ids and epochs.
const (
	// NoProducerID is RecordBatch.NO_PRODUCER_ID.
	NoProducerID int64 = -1
	// NoProducerEpoch is RecordBatch.NO_PRODUCER_EPOCH.
	NoProducerEpoch int16 = -1
)

// epochExhausted reports whether no further epoch may be handed out for
// a producer id: Short.MaxValue is kept so that the coordinator can
// always fence the current producer.
func epochExhausted(epoch int16) bool { return epoch >= math.MaxInt16-1 }
