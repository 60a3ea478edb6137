package coordinator

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
)

// Errors. The exported ones refuse an operation before it runs.
var (
	// ErrNotCoordinator: no shard of this partition runs here (this node
	// does not lead it, or it was unloaded). NOT_COORDINATOR.
	ErrNotCoordinator = errors.New("coordinator: this node is not the coordinator for the partition")
	// ErrLoadInProgress: the shard is still replaying its log.
	// COORDINATOR_LOAD_IN_PROGRESS.
	ErrLoadInProgress = errors.New("coordinator: the partition is still loading")
	// ErrClosed: the runtime is closed. NOT_COORDINATOR, as a client must
	// look for the coordinator again.
	ErrClosed = errors.New("coordinator: runtime closed")

	// errNotMarker: a control batch holding something other than one
	// transaction marker (ParseMarker).
	errNotMarker = errors.New("coordinator: control batch is not a transaction marker")
)

// Code returns the Kafka error code for an error from this package or
// from an append (see WriteErrorCode); 0 for nil.
func Code(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrNotCoordinator), errors.Is(err, ErrClosed):
		return kerr.NotCoordinator.Code
	case errors.Is(err, ErrLoadInProgress):
		return kerr.CoordinatorLoadInProgress.Code
	}
	return WriteErrorCode(err)
}

// WriteErrorCode maps the error of an append to the partition to the code
// a coordinator answers, as Kafka's group coordinator does
// (appendGroupMetadataErrorToResponseError): a partition that cannot take
// writes means "find the coordinator again", an oversized batch is a
// server error.
func WriteErrorCode(err error) int16 {
	if err == nil {
		return 0
	}
	code := apierror.Code(err)
	switch code {
	case kerr.UnknownTopicOrPartition.Code, kerr.NotEnoughReplicas.Code, kerr.NotEnoughReplicasAfterAppend.Code, kerr.RequestTimedOut.Code:
		return kerr.CoordinatorNotAvailable.Code
	case kerr.NotLeaderForPartition.Code, kerr.KafkaStorageError.Code:
		return kerr.NotCoordinator.Code
	case kerr.MessageTooLarge.Code, kerr.RecordListTooLarge.Code, kerr.InvalidFetchSize.Code:
		return kerr.UnknownServerError.Code
	}
	return code
}
