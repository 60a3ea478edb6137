package record

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// BuildOptions describe the batch Build writes around its records.
//
// The zero value is an uncompressed CreateTime batch at offset 0 and
// timestamp 0 from producer id 0: a batch without a producer must say so
// with NoProducerID, NoProducerEpoch and NoSequence.
type BuildOptions struct {
	BaseOffset int64

	// PartitionLeaderEpoch is written as is; NoPartitionLeaderEpoch when
	// unknown (the leader overwrites it on append).
	PartitionLeaderEpoch int32

	Codec Codec

	// BaseTimestamp is the batch's baseTimestamp in milliseconds; each
	// record's timestamp is BaseTimestamp + Record.TimestampDelta. The
	// header's maxTimestamp is the largest of those.
	BaseTimestamp int64

	// LogAppendTime sets the timestamp type bit: readers then use
	// maxTimestamp for every record.
	LogAppendTime bool

	Transactional bool
	Control       bool

	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32

	// KeepOffsetDeltas writes each Record.OffsetDelta as given (they must
	// increase) and lastOffsetDelta as the last one's, for batches with
	// gaps such as compacted ones. Otherwise record i gets offset delta i
	// and Record.OffsetDelta is ignored.
	KeepOffsetDeltas bool
}

// Build returns a new batch holding records; see AppendBatch.
func Build(opts BuildOptions, records []Record) ([]byte, error) {
	return AppendBatch(nil, opts, records)
}

// AppendBatch appends a RecordBatch v2 holding records, described by opts,
// to dst and returns the extended slice; the batch is dst[len(dst):] of the
// result and has a valid CRC. Records are compressed with opts.Codec.
// AppendBatch does not retain records.
//
// Errors wrap ErrUnsupportedCompression for an unknown codec, ErrInvalid
// for no records or offset deltas that do not increase, and ErrTooLarge for
// a batch or a record over 2 GiB. On error dst is returned unchanged.
func AppendBatch(dst []byte, opts BuildOptions, records []Record) ([]byte, error) {
	if !validCodec(opts.Codec) {
		return dst, fmt.Errorf("%w: unknown compression type id %d", ErrUnsupportedCompression, int8(opts.Codec))
	}
	if len(records) == 0 {
		return dst, fmt.Errorf("%w: a record batch needs at least one record", ErrInvalid)
	}
	if len(records) > math.MaxInt32 {
		return dst, fmt.Errorf("%w: %d records", ErrTooLarge, len(records))
	}
	lastOffsetDelta := int32(len(records) - 1)
	if opts.KeepOffsetDeltas {
		for i := 1; i < len(records); i++ {
			if records[i].OffsetDelta <= records[i-1].OffsetDelta {
				return dst, fmt.Errorf("%w: record %d: offset delta %d does not follow %d",
					ErrInvalid, i, records[i].OffsetDelta, records[i-1].OffsetDelta)
			}
		}
		if records[0].OffsetDelta < 0 {
			return dst, fmt.Errorf("%w: negative offset delta %d", ErrInvalid, records[0].OffsetDelta)
		}
		lastOffsetDelta = records[len(records)-1].OffsetDelta
	}
	maxTimestamp := opts.BaseTimestamp + records[0].TimestampDelta
	for _, r := range records[1:] {
		maxTimestamp = max(maxTimestamp, opts.BaseTimestamp+r.TimestampDelta)
	}

	start := len(dst)
	dst = slices.Grow(dst, HeaderSize)
	dst = dst[:start+HeaderSize]
	clear(dst[start:])
	var err error
	if opts.Codec == CodecNone {
		dst, err = appendRecords(dst, records, opts.KeepOffsetDeltas)
	} else {
		s := getScratch()
		if s.buf, err = appendRecords(s.buf[:0], records, opts.KeepOffsetDeltas); err == nil {
			dst, err = Compress(opts.Codec, dst, s.buf)
		}
		putScratch(s)
	}
	if err != nil {
		return dst[:start], err
	}
	batchLength := len(dst) - start - LogOverhead
	if batchLength > math.MaxInt32 {
		return dst[:start], fmt.Errorf("%w: batch of %d bytes", ErrTooLarge, batchLength+LogOverhead)
	}

	attrs := uint16(opts.Codec)
	if opts.LogAppendTime {
		attrs |= AttrLogAppendTime
	}
	if opts.Transactional {
		attrs |= AttrTransactional
	}
	if opts.Control {
		attrs |= AttrControl
	}
	b := dst[start:]
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(opts.BaseOffset))
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(batchLength))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(opts.PartitionLeaderEpoch))
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(lastOffsetDelta))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(opts.BaseTimestamp))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(maxTimestamp))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(opts.ProducerID))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(opts.ProducerEpoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(opts.BaseSequence))
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(len(records)))
	binary.BigEndian.PutUint32(b[offCRC:], ComputeCRC(b))
	return dst, nil
}

// appendRecords appends the encoded records to dst.
func appendRecords(dst []byte, records []Record, keepOffsetDeltas bool) ([]byte, error) {
	for i := range records {
		r := &records[i]
		offsetDelta := int64(i)
		if keepOffsetDeltas {
			offsetDelta = int64(r.OffsetDelta)
		}
		size := 1 + varintSize(r.TimestampDelta) + varintSize(offsetDelta) +
			bytesSize(r.Key) + bytesSize(r.Value) + varintSize(int64(len(r.Headers)))
		for _, h := range r.Headers {
			size += varintSize(int64(len(h.Key))) + len(h.Key) + bytesSize(h.Value)
		}
		if size > math.MaxInt32 {
			return dst, fmt.Errorf("%w: record %d of %d bytes", ErrTooLarge, i, size)
		}
		dst = slices.Grow(dst, varintSize(int64(size))+size)
		dst = appendVarint(dst, int64(size))
		dst = append(dst, 0) // attributes
		dst = appendVarint(dst, r.TimestampDelta)
		dst = appendVarint(dst, offsetDelta)
		dst = appendBytes(dst, r.Key)
		dst = appendBytes(dst, r.Value)
		dst = appendVarint(dst, int64(len(r.Headers)))
		for _, h := range r.Headers {
			dst = appendVarint(dst, int64(len(h.Key)))
			dst = append(dst, h.Key...)
			dst = appendBytes(dst, h.Value)
		}
	}
	return dst, nil
}

// bytesSize is the encoded size of a nullable byte string.
func bytesSize(b []byte) int {
	if b == nil {
		return 1
	}
	return varintSize(int64(len(b))) + len(b)
}

// appendBytes appends a nullable byte string: its varint length (-1 for
// nil) and its bytes.
func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return appendVarint(dst, -1)
	}
	dst = appendVarint(dst, int64(len(b)))
	return append(dst, b...)
}
