package storage

import (
	"errors"
	"fmt"
)

// Errors returned by the package. Handlers map them to Kafka error codes:
// ErrOffsetOutOfRange to OFFSET_OUT_OF_RANGE, ErrLogDirOffline to
// KAFKA_STORAGE_ERROR, ErrBatchTooLarge to RECORD_BATCH_TOO_LARGE,
// ErrInconsistentTopicID to INCONSISTENT_TOPIC_ID. Errors are wrapped with
// context; test them with errors.Is.
var (
	ErrOffsetOutOfRange       = errors.New("storage: offset out of range")
	ErrNotFormatted           = errors.New("storage: log dir not formatted")
	ErrClosed                 = errors.New("storage: log closed")
	ErrLogDirOffline          = errors.New("storage: log dir offline")
	ErrInvalidAppend          = errors.New("storage: invalid append")
	ErrBatchTooLarge          = errors.New("storage: batch larger than segment.bytes")
	ErrUnexpectedAppendOffset = errors.New("storage: append does not continue the log")
	ErrInconsistentTopicID    = errors.New("storage: inconsistent topic id")
	ErrInconsistentClusterID  = errors.New("storage: inconsistent cluster id")
	ErrInvalidConfig          = errors.New("storage: invalid config")
	ErrCorruption             = errors.New("storage: corruption")
)

// MarkCorruption marks err as evidence of on-disk corruption, so that
// IsCorruption reports true for it and for any error wrapping it. It
// returns nil for nil.
func MarkCorruption(err error) error {
	if err == nil || errors.Is(err, ErrCorruption) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCorruption, err)
}

// IsCorruption reports whether err (or an error it wraps) was marked with
// MarkCorruption.
func IsCorruption(err error) bool { return errors.Is(err, ErrCorruption) }
