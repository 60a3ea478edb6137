package metadata

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/record"
)

// The metadata log as observers fetch it (Fetch of __cluster_metadata-0
// on a controller listener, KIP-595): each entry of the Raft log is one
// Kafka RecordBatch v2 holding one record.
//
//	Raft entry: index i, term t, data = the batch's Records
//	    RecordBatch  baseOffset           i-1  (Kafka offsets start at 0,
//	                                            Raft indexes at 1)
//	                 partitionLeaderEpoch t
//	                 producer id/epoch/sequence -1, timestamps -1, uncompressed
//	    record 0     key   null
//	                 value JSON array of Records (as Journal and the Raft
//	                       log store them: one metadata batch, applied with
//	                       one Image.Apply)
//
//	Raft's own entry (a new leader's empty entry): index i, term t, no data
//	    control RecordBatch  baseOffset i-1, partitionLeaderEpoch t
//	    record 0     key   ControlRecordKey{version 0, type 2 LEADER_CHANGE}
//	                 value LeaderChangeMessage{version 0, leaderId -1}
//
// One Kafka record per Raft entry, not one per metadata Record: an entry
// has one index, and Kafka offsets must be dense within a batch and
// increase across batches, so an entry of n Records cannot take n
// offsets. The offset after a batch is therefore the next entry's, and a
// reader that has applied the entry at offset o fetches from o+1.

// The metadata log's topic-partition is __cluster_metadata-0, with
// Kafka's fixed topic id (Topic.CLUSTER_METADATA_TOPIC_ID, printed
// AAAAAAAAAAAAAAAAAAAAAQ).
const LogTopic = "__cluster_metadata"

// LogTopicID is the metadata log's topic id.
var LogTopicID = TopicID{15: 1}

// ErrBadLogBatch wraps every ReadLogBatches error.
var ErrBadLogBatch = errors.New("metadata: bad metadata log batch")

// controlTypeLeaderChange is Kafka's ControlRecordType.LEADER_CHANGE.
const controlTypeLeaderChange = 2

// LogBatch is one entry of the metadata log.
type LogBatch struct {
	// Offset is the entry's Kafka offset: its Raft index minus one.
	Offset int64
	// Epoch is the leader epoch (Raft term) the entry was appended in.
	Epoch int32
	// Control marks Raft's own entries, which carry no Records.
	Control bool
	// Records are the metadata batch, nil for a control entry.
	Records []Record
}

// AppendLogBatch appends b as a RecordBatch to dst and returns the
// extended slice.
func AppendLogBatch(dst []byte, b LogBatch) ([]byte, error) {
	opts := record.BuildOptions{
		BaseOffset:           b.Offset,
		PartitionLeaderEpoch: b.Epoch,
		BaseTimestamp:        record.NoTimestamp,
		ProducerID:           record.NoProducerID,
		ProducerEpoch:        record.NoProducerEpoch,
		BaseSequence:         record.NoSequence,
	}
	var rec record.Record
	if b.Control {
		opts.Control = true
		key := kmsg.ControlRecordKey{Version: 0, Type: controlTypeLeaderChange}
		msg := kmsg.LeaderChangeMessage{Version: 0, LeaderID: -1}
		rec = record.Record{Key: key.AppendTo(nil), Value: msg.AppendTo(nil)}
	} else {
		v, err := encodeRecords(b.Records)
		if err != nil {
			return dst, err
		}
		rec = record.Record{Value: v}
	}
	out, err := record.AppendBatch(dst, opts, []record.Record{rec})
	if err != nil {
		return dst, fmt.Errorf("metadata: encode log batch at %d: %w", b.Offset, err)
	}
	return out, nil
}

// ReadLogBatches calls fn with each batch of data, a Fetch response's
// records for __cluster_metadata-0, in order. A batch cut short at the end
// of data (a fetch's size limit) is ignored, as Kafka's readers do;
// anything else that is not a batch AppendLogBatch wrote (a bad CRC, more
// than one record, records that do not decode) fails with an error
// wrapping ErrBadLogBatch. It stops at the first error from fn and
// returns it as is.
func ReadLogBatches(data []byte, fn func(LogBatch) error) error {
	for len(data) > 0 {
		h, err := record.ParseHeader(data)
		if errors.Is(err, record.ErrTruncated) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadLogBatch, err)
		}
		if h.Size() > len(data) {
			return nil
		}
		batch := data[:h.Size()]
		data = data[h.Size():]
		b, err := decodeLogBatch(h, batch)
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

func decodeLogBatch(h record.Header, batch []byte) (LogBatch, error) {
	bad := func(format string, args ...any) (LogBatch, error) {
		return LogBatch{}, fmt.Errorf("%w: offset %d: %s", ErrBadLogBatch, h.BaseOffset, fmt.Sprintf(format, args...))
	}
	if err := record.CheckCRC(batch); err != nil {
		return bad("%v", err)
	}
	if h.RecordCount != 1 || h.LastOffsetDelta != 0 {
		return bad("%d records, last offset delta %d; want one record", h.RecordCount, h.LastOffsetDelta)
	}
	if h.BaseOffset < 0 {
		return bad("negative offset")
	}
	b := LogBatch{Offset: h.BaseOffset, Epoch: h.PartitionLeaderEpoch, Control: h.IsControl()}
	var key, value []byte
	err := record.Records(batch, func(r record.Record) error {
		key, value = append([]byte(nil), r.Key...), append([]byte(nil), r.Value...)
		return nil
	})
	if err != nil {
		return bad("%v", err)
	}
	if b.Control {
		if len(key) < 4 {
			return bad("control record key of %d bytes", len(key))
		}
		// Control entries carry no metadata; only the type is checked.
		if t := int16(binary.BigEndian.Uint16(key[2:4])); t != controlTypeLeaderChange {
			return bad("control record type %d", t)
		}
		return b, nil
	}
	if err := json.Unmarshal(value, &b.Records); err != nil {
		return bad("records: %v", err)
	}
	if b.Records == nil {
		b.Records = []Record{}
	}
	return b, nil
}
