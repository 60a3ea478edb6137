package txn

import "fmt"

// Requests and responses of the transaction APIs, in Kafka's terms. The
// server translates the wire messages (every version) to and from these;
// error codes are Kafka's (kerr codes), 0 for none. Version fields are
// the request's version: they decide the transaction version (KIP-890)
// and whether a fenced producer is told PRODUCER_FENCED or, before
// KIP-588, INVALID_PRODUCER_EPOCH.

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// InitProducerIDRequest is an InitProducerId request.
type InitProducerIDRequest struct {
	Version int16
	// TransactionalID is nil for an idempotent producer without
	// transactions (answered by the Coordinator without a shard).
	TransactionalID      *string
	TransactionTimeoutMs int32
	// ProducerID and ProducerEpoch (v3+, KIP-360) are the producer's
	// current id and epoch when it re-initializes to recover; -1 and -1
	// otherwise.
	ProducerID    int64
	ProducerEpoch int16
}

// InitProducerIDResponse is an InitProducerId response; ProducerID and
// ProducerEpoch are -1 on error.
type InitProducerIDResponse struct {
	ErrorCode     int16
	ProducerID    int64
	ProducerEpoch int16
}

// AddPartitionsRequest is one transaction of an AddPartitionsToTxn
// request: the whole request for v0-3 (from the producer), one element
// of its Transactions for v4+ (from a broker, KIP-890).
type AddPartitionsRequest struct {
	Version         int16
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	// VerifyOnly (v4+, KIP-890 part 1): check that the partitions are
	// in the transaction instead of adding them.
	VerifyOnly bool
	Partitions []TopicPartition
}

// AddPartitionsResponse answers one transaction of AddPartitionsToTxn:
// an error code for each distinct partition asked for, in request order.
type AddPartitionsResponse struct {
	TransactionalID string
	Partitions      []PartitionResult
}

// PartitionResult is a partition and its error code.
type PartitionResult struct {
	TopicPartition
	ErrorCode int16
}

// AddOffsetsRequest is an AddOffsetsToTxn request: the group's
// __consumer_offsets partition joins the transaction.
type AddOffsetsRequest struct {
	Version         int16
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	Group           string
}

// EndTxnRequest is an EndTxn request.
type EndTxnRequest struct {
	Version         int16
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	Commit          bool
}

// EndTxnResponse is an EndTxn response. ProducerID and ProducerEpoch
// (v5+, TV2) are what the producer uses for its next transaction: the
// bumped epoch, or a new producer id at epoch 0 after an epoch
// overflow; -1 on error and before TV2.
type EndTxnResponse struct {
	ErrorCode     int16
	ProducerID    int64
	ProducerEpoch int16
}

// MarkerRequest is the follow-up of a decided transaction: write a
// commit or abort marker with this producer id, epoch and coordinator
// epoch to each partition (WriteTxnMarkers to the partitions' leaders),
// then report them written with CompleteMarkers, to the shard of
// TxnPartition. The markers of a transaction left prepared at a load are
// asked for again.
type MarkerRequest struct {
	// TxnPartition is the __transaction_state partition of the id.
	TxnPartition int32
	// CoordinatorEpoch is the leader epoch of TxnPartition the shard
	// runs at; brokers refuse markers from an older one.
	CoordinatorEpoch int32
	TransactionalID  string
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	// TransactionVersion is the client's transaction version (the
	// marker's transaction_version, WriteTxnMarkers v2+).
	TransactionVersion int16
	Partitions         []TopicPartition
}

// MarkersDone reports markers written (or no longer needed: the
// partition was deleted) for some partitions of a transaction, from the
// request they answer.
type MarkersDone struct {
	TransactionalID  string
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
	Partitions       []TopicPartition
}

// DescribedTransaction is one transactional id of a
// DescribeTransactions response.
type DescribedTransaction struct {
	TransactionalID string
	ErrorCode       int16
	State           string
	TimeoutMs       int32
	// StartTimestamp is when the transaction began, -1 if none has.
	StartTimestamp int64
	ProducerID     int64
	ProducerEpoch  int16
	// Topics are the partitions of the transaction; while markers are
	// written, those still without one.
	Topics []DescribedTopic
}

// DescribedTopic is a topic and partitions of a DescribedTransaction.
type DescribedTopic struct {
	Topic      string
	Partitions []int32
}

// ListRequest is a ListTransactions request; empty filters match all.
type ListRequest struct {
	// States are state names; unknown names are reported back and
	// match nothing.
	States      []string
	ProducerIDs []int64
	// DurationFilterMs (v1+, KIP-994): only transactions running for
	// longer than this; -1 for all.
	DurationFilterMs int64
	// TransactionalIDPattern (v2+, KIP-1152): an RE2 expression the
	// whole id must match; empty for all.
	TransactionalIDPattern string
}

// ListResponse is a ListTransactions response.
type ListResponse struct {
	ErrorCode           int16
	UnknownStateFilters []string
	Transactions        []ListedTransaction
}

// ListedTransaction is one transactional id of a ListResponse.
type ListedTransaction struct {
	TransactionalID string
	ProducerID      int64
	State           string
}
