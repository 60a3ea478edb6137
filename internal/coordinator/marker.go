package coordinator

// Transactions on a coordinator's partition (KIP-98, KIP-447): a
// TxnOffsetCommit writes its records as a transactional batch of the
// producer (Result.Producer); the state machine keeps them pending until
// the producer's transaction marker lands on the partition, written by
// the shard itself (Result.Marker) when the transaction coordinator's
// WriteTxnMarkers reaches this partition, and replayed in log order when
// the partition loads.
//
// A marker is a control batch (attributes: transactional | control) of
// the producer, base sequence -1, with one record (Kafka's
// EndTransactionMarker), all integers big endian:
//
//	key:   int16 version = 0 | int16 type (0 = abort, 1 = commit)
//	value: int16 version = 0 | int32 coordinator_epoch

import (
	"encoding/binary"
	"fmt"

	"github.com/gregor-streaming/gregor/internal/record"
)

// Producer is a transactional producer: its id and epoch.
type Producer struct {
	ID    int64
	Epoch int16
}

// Marker is a transaction marker: it commits or aborts, on one
// partition, what its producer wrote in its transaction.
type Marker struct {
	ProducerID    int64
	ProducerEpoch int16
	// CoordinatorEpoch is the leader epoch of the transaction's
	// __transaction_state partition at the coordinator that decided.
	CoordinatorEpoch int32
	Commit           bool
}

// MarkerReplayer is implemented by a StateMachine that keeps
// transactional records pending (Kafka's
// CoordinatorPlayback.replayEndTransactionMarker). ReplayMarker is called
// for each marker of the log when loading, in order with Replay, and for
// a Result's Marker once written (with Result.Replay set). Others ignore
// markers.
type MarkerReplayer interface {
	ReplayMarker(offset int64, m Marker) error
}

// Control record types (Kafka's ControlRecordType) and versions.
const (
	controlTypeAbort  = 0
	controlTypeCommit = 1
	markerKeyVersion  = 0
	markerValVersion  = 0
	markerKeySize     = 4
	markerValueSize   = 6
)

// BuildMarker returns the control batch of m, timestamped nowMs, ready
// for an append (offset 0, no leader epoch).
func BuildMarker(m Marker, nowMs int64) ([]byte, error) {
	key := make([]byte, markerKeySize)
	binary.BigEndian.PutUint16(key, markerKeyVersion)
	typ := uint16(controlTypeAbort)
	if m.Commit {
		typ = controlTypeCommit
	}
	binary.BigEndian.PutUint16(key[2:], typ)
	val := make([]byte, markerValueSize)
	binary.BigEndian.PutUint16(val, markerValVersion)
	binary.BigEndian.PutUint32(val[2:], uint32(m.CoordinatorEpoch))
	return record.Build(record.BuildOptions{
		PartitionLeaderEpoch: record.NoPartitionLeaderEpoch,
		Codec:                record.CodecNone,
		BaseTimestamp:        nowMs,
		Transactional:        true,
		Control:              true,
		ProducerID:           m.ProducerID,
		ProducerEpoch:        m.ProducerEpoch,
		BaseSequence:         record.NoSequence,
	}, []record.Record{{Key: key, Value: val}})
}

// ParseMarker decodes the transaction marker of a control batch. ok is
// false, without error, for a control batch with no record (the cleaner
// removed it) or of another control type; a malformed marker is an
// error.
func ParseMarker(batch []byte) (m Marker, ok bool, err error) {
	h, err := record.ParseHeader(batch)
	if err != nil {
		return Marker{}, false, err
	}
	if !h.IsControl() {
		return Marker{}, false, fmt.Errorf("%w: not a control batch", errNotMarker)
	}
	m = Marker{ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch}
	err = record.Records(batch, func(r record.Record) error {
		if ok {
			return fmt.Errorf("%w: more than one record", errNotMarker)
		}
		if len(r.Key) < markerKeySize {
			return fmt.Errorf("%w: key of %d bytes", errNotMarker, len(r.Key))
		}
		switch binary.BigEndian.Uint16(r.Key[2:]) {
		case controlTypeAbort:
		case controlTypeCommit:
			m.Commit = true
		default:
			return nil // another control type (LEADER_CHANGE, ...)
		}
		if len(r.Value) < markerValueSize {
			return fmt.Errorf("%w: value of %d bytes", errNotMarker, len(r.Value))
		}
		m.CoordinatorEpoch = int32(binary.BigEndian.Uint32(r.Value[2:]))
		ok = true
		return nil
	})
	if err != nil {
		return Marker{}, false, err
	}
	return m, ok, nil
}
