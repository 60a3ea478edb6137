package coordinator

import (
	"fmt"

	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// Log is the partition a shard writes to and loads from.
type Log interface {
	// Append appends one batch with acks=all and returns the offset of
	// its first record. The error carries Kafka's code (apierror). The
	// batch may be a transactional one, with base sequence 0 (the log
	// assigns the producer's next sequence), or a transaction marker, as
	// Kafka appends with AppendOrigin.COORDINATOR.
	Append(batch []byte) (baseOffset int64, err error)
	// Read returns whole batches from offset, about maxBytes (at least
	// one batch), below end, and end: the log end offset of the leader
	// (Kafka loads coordinators with FetchIsolation.LOG_END; a new
	// leader's high watermark may lag records it already has).
	Read(offset int64, maxBytes int) (data []byte, end int64, err error)
	// LogStartOffset is the first offset still in the log.
	LogStartOffset() int64
}

// buildBatch encodes what b writes as one batch at nowMs: its records
// (transactional when b.Producer is set; the partition's leader assigns
// the sequence, see replica.Partition.AppendCoordinator) or its marker.
func buildBatch(b Batch, nowMs int64, codec record.Codec) ([]byte, error) {
	if b.Marker != nil {
		return BuildMarker(*b.Marker, nowMs)
	}
	recs := make([]record.Record, len(b.Records))
	for i, r := range b.Records {
		recs[i] = record.Record{Key: r.Key, Value: r.Value}
	}
	opts := record.BuildOptions{
		PartitionLeaderEpoch: record.NoPartitionLeaderEpoch,
		Codec:                codec,
		BaseTimestamp:        nowMs,
		ProducerID:           record.NoProducerID,
		ProducerEpoch:        record.NoProducerEpoch,
		BaseSequence:         record.NoSequence,
	}
	if p := b.Producer; p != nil {
		opts.Transactional = true
		opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = p.ID, p.Epoch, 0
	}
	return record.Build(opts, recs)
}

// load replays log from its start to its end into sm and returns how
// many records it replayed.
func load(log Log, sm StateMachine, bufBytes int) (int, error) {
	offset := log.LogStartOffset()
	n := 0
	for {
		data, hw, err := log.Read(offset, bufBytes)
		if err != nil {
			return n, fmt.Errorf("read at offset %d: %w", offset, err)
		}
		if len(data) == 0 {
			if offset >= hw {
				return n, nil
			}
			return n, fmt.Errorf("no data at offset %d below the log end %d", offset, hw)
		}
		buf := data
		for len(data) > 0 {
			h, err := record.ParseHeader(data)
			if err != nil {
				return n, fmt.Errorf("batch at offset %d: %w", offset, err)
			}
			size := h.Size()
			if size > len(data) {
				return n, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, record.ErrTruncated)
			}
			batch := data[:size]
			data = data[size:]
			next := h.NextOffset()
			if h.IsControl() {
				// Transaction markers, in order with the records.
				if mr, ok := sm.(MarkerReplayer); ok {
					m, ok, err := ParseMarker(batch)
					if err != nil {
						return n, fmt.Errorf("marker at offset %d: %w", h.BaseOffset, err)
					}
					if ok {
						if err := mr.ReplayMarker(h.BaseOffset, m); err != nil {
							return n, fmt.Errorf("replay marker at offset %d: %w", h.BaseOffset, err)
						}
					}
				}
				offset = next
				continue
			}
			err = record.Records(batch, func(r record.Record) error {
				off := h.BaseOffset + int64(r.OffsetDelta)
				if r.Key == nil {
					return nil // a coordinator never writes keyless records
				}
				if err := sm.Replay(LoggedRecord{Offset: off, ProducerID: h.ProducerID, Key: r.Key, Value: r.Value}); err != nil {
					return fmt.Errorf("replay record at offset %d: %w", off, err)
				}
				n++
				return nil
			})
			if err != nil {
				return n, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
			}
			offset = next
		}
		storage.ReleaseReadData(buf)
	}
}
