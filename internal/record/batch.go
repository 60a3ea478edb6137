// Package record reads, checks, builds and edits Kafka RecordBatch v2 bytes,
// the unit that producers send, the log stores and consumers fetch.
//
// A batch is kept as the bytes the producer sent. The broker only rewrites
// the header fields it owns (base offset, partition leader epoch and the max
// timestamp, timestamp type and CRC); records inside are decoded only where
// validation needs it.
//
// Typical leader-side use on the produce path:
//
//	info, err := record.Validate(batch, record.ValidateOptions{Now: now, Compacted: compacted})
//	if err != nil { /* map with errors.Is / errors.As, see Validate */ }
//	record.SetMaxTimestamp(batch, info.MaxTimestamp) // or SetLogAppendTime
//	record.SetPartitionLeaderEpoch(batch, epoch)
//	record.SetBaseOffset(batch, nextOffset)          // CRC is not affected
//
// Records iterates the records of a batch (decompressing if needed); Build
// and AppendBatch produce batches; Compress and Decompress expose the four
// codecs. Every function is safe for concurrent use (the Set functions on
// distinct batches); none retains the slices it is given.
//
// RecordBatch v2 layout (big endian), 61 bytes of header then records:
//
//	offset  size  field
//	     0     8  baseOffset
//	     8     4  batchLength          (bytes after this field)
//	    12     4  partitionLeaderEpoch
//	    16     1  magic                (2)
//	    17     4  crc                  (CRC-32C of bytes 21..end)
//	    21     2  attributes           (bits 0-2 codec, 3 timestamp type,
//	                                    4 transactional, 5 control,
//	                                    6 delete horizon set)
//	    23     4  lastOffsetDelta
//	    27     8  baseTimestamp
//	    35     8  maxTimestamp
//	    43     8  producerId           (-1: none)
//	    51     2  producerEpoch        (-1: none)
//	    53     4  baseSequence         (-1: none)
//	    57     4  recordCount
//	    61     …  records (compressed as one stream if codec != none)
//
// Each record is length-prefixed; all integers in it are zigzag varints
// (varint: 32-bit, at most 5 bytes; varlong: 64-bit, at most 10 bytes), and
// a length of -1 encodes null:
//
//	length          varint   bytes after this field
//	attributes      int8     unused, 0
//	timestampDelta  varlong  timestamp - baseTimestamp
//	offsetDelta     varint   offset - baseOffset
//	keyLength       varint   -1: null key
//	key             bytes
//	valueLength     varint   -1: null value
//	value           bytes
//	headerCount     varint   >= 0
//	headers         headerCount times:
//	  keyLength     varint   >= 0 (header keys are never null)
//	  key           bytes    UTF-8
//	  valueLength   varint   -1: null value
//	  value         bytes
//
// A control batch (attribute bit 5) holds one record whose key is
// int16 version, int16 type (0 abort, 1 commit) and whose value is the
// end-transaction marker. With LogAppendTime (attribute bit 3) every record's
// timestamp is the batch's maxTimestamp.
//
// Compressed record streams, by codec id: 1 gzip (RFC 1952), 2 snappy (a raw
// snappy block, or the xerial framing of the Java client: the 8-byte magic
// 0x82 "SNAPPY" 0x00, two big endian int32 versions, then chunks of a big
// endian int32 length and a raw snappy block), 3 lz4 (LZ4 frame format),
// 4 zstd (zstd frames).
//
// Errors wrap one of the sentinels below; the Produce handler maps them to
// Kafka error codes, see Validate.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Sizes and offsets of the RecordBatch v2 header.
const (
	HeaderSize = 61
	// LogOverhead is the size of baseOffset plus batchLength, the part of
	// the header not counted by batchLength.
	LogOverhead = 12

	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57
)

// Attribute bits.
const (
	AttrCompressionMask   = 0x07
	AttrLogAppendTime     = 0x08
	AttrTransactional     = 0x10
	AttrControl           = 0x20
	AttrDeleteHorizonFlag = 0x40
)

// Codec is a compression codec, as stored in the attributes' low 3 bits.
type Codec int8

// Compression codecs.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Errors. Each error this package returns wraps one of them; handlers map
// them to Kafka error codes:
//
//	ErrCorrupt                 CORRUPT_MESSAGE
//	ErrInvalid                 INVALID_RECORD
//	ErrInvalidTimestamp        INVALID_TIMESTAMP
//	ErrUnsupportedCompression  UNSUPPORTED_COMPRESSION_TYPE
//	ErrTooLarge                MESSAGE_TOO_LARGE
//
// ErrTruncated means the bytes end inside a batch; Validate reports it
// wrapped together with ErrCorrupt.
var (
	ErrCorrupt                = errors.New("record: corrupt batch")
	ErrInvalid                = errors.New("record: invalid record")
	ErrTruncated              = errors.New("record: truncated batch")
	ErrInvalidTimestamp       = errors.New("record: invalid timestamp")
	ErrUnsupportedCompression = errors.New("record: unsupported compression type")
	ErrTooLarge               = errors.New("record: batch too large")
)

// Values that mean "none" in a batch header or record, as in Kafka's
// RecordBatch constants.
const (
	NoProducerID           int64 = -1
	NoProducerEpoch        int16 = -1
	NoSequence             int32 = -1
	NoPartitionLeaderEpoch int32 = -1
	NoTimestamp            int64 = -1
)

// CRC-32C (Castagnoli) as used by RecordBatch v2.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the decoded 61-byte header of a RecordBatch v2.
type Header struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// ParseHeader decodes the header at the start of b. It checks only that
// the header is present, that magic is 2 and that batchLength is sane; it
// does not check the CRC (see CheckCRC) or that the whole batch is in b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, ErrTruncated
	}
	h := Header{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		BatchLength:          int32(binary.BigEndian.Uint32(b[offBatchLength:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  binary.BigEndian.Uint32(b[offCRC:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(binary.BigEndian.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		RecordCount:          int32(binary.BigEndian.Uint32(b[offRecordCount:])),
	}
	if h.Magic != 2 {
		return h, fmt.Errorf("%w: magic %d, only 2 is supported", ErrCorrupt, h.Magic)
	}
	if h.BatchLength < HeaderSize-LogOverhead {
		return h, fmt.Errorf("%w: batch length %d below header size", ErrCorrupt, h.BatchLength)
	}
	return h, nil
}

// Size is the total size of the batch in bytes, header included.
func (h Header) Size() int { return int(h.BatchLength) + LogOverhead }

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset that follows the batch.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Codec is the batch's compression codec.
func (h Header) Codec() Codec { return Codec(h.Attributes & AttrCompressionMask) }

// IsLogAppendTime reports whether the timestamps are the broker's.
func (h Header) IsLogAppendTime() bool { return h.Attributes&AttrLogAppendTime != 0 }

// IsTransactional reports whether the batch is part of a transaction.
func (h Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// IsControl reports whether the batch holds a control record.
func (h Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// HasProducerID reports whether the batch was written by an idempotent or
// transactional producer (producerId >= 0).
func (h Header) HasProducerID() bool { return h.ProducerID > NoProducerID }

// LastSequence is the sequence number of the batch's last record, or
// NoSequence if the batch has none. Like Kafka, it wraps from
// math.MaxInt32 to 0.
func (h Header) LastSequence() int32 {
	if h.BaseSequence == NoSequence {
		return NoSequence
	}
	return incrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

// incrementSequence adds increment to sequence, wrapping past
// math.MaxInt32 to 0 as producers do.
func incrementSequence(sequence, increment int32) int32 {
	if sequence > math.MaxInt32-increment {
		return increment - (math.MaxInt32 - sequence) - 1
	}
	return sequence + increment
}

// ComputeCRC returns the CRC-32C over the batch's attributes..end.
// b must hold the whole batch.
func ComputeCRC(b []byte) uint32 {
	return crc32.Checksum(b[offAttributes:], castagnoli)
}

// CheckCRC verifies that b holds exactly one whole batch whose stored CRC
// matches its contents.
func CheckCRC(b []byte) error {
	h, err := ParseHeader(b)
	if err != nil {
		return err
	}
	if h.Size() != len(b) {
		return fmt.Errorf("%w: batch length %d does not match %d bytes", ErrCorrupt, h.Size(), len(b))
	}
	if got := ComputeCRC(b); got != h.CRC {
		return fmt.Errorf("%w: crc %08x, computed %08x", ErrCorrupt, h.CRC, got)
	}
	return nil
}

// SetBaseOffset rewrites the batch's base offset. It is outside the CRC.
func SetBaseOffset(b []byte, offset int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch rewrites the batch's leader epoch. It is outside
// the CRC.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the batch as timestamped by the broker at ts
// (milliseconds), sets its max timestamp and recomputes the CRC. As in
// Kafka, the base timestamp is left alone: readers of a LogAppendTime batch
// use the max timestamp for every record.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:]) | AttrLogAppendTime
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[offCRC:], ComputeCRC(b))
}

// SetMaxTimestamp marks the batch as CreateTime with max timestamp ts
// (milliseconds), as Kafka's leader does after validation with the largest
// record timestamp it found (Info.MaxTimestamp). The CRC is recomputed only
// if the batch changes. b must hold the whole batch.
func SetMaxTimestamp(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:])
	if attrs&AttrLogAppendTime == 0 && int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])) == ts {
		return
	}
	binary.BigEndian.PutUint16(b[offAttributes:], attrs&^AttrLogAppendTime)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[offCRC:], ComputeCRC(b))
}

// Batches splits b, a concatenation of whole batches, calling fn with each
// batch's header and bytes. It stops at the first error from fn, which it
// returns as is, or at malformed framing: ErrCorrupt for a bad header
// (ErrTruncated for fewer than HeaderSize bytes), ErrTruncated if b ends
// inside a batch. It checks neither CRCs nor records.
func Batches(b []byte, fn func(h Header, batch []byte) error) error {
	for len(b) > 0 {
		h, err := ParseHeader(b)
		if err != nil {
			return err
		}
		n := h.Size()
		if n > len(b) {
			return fmt.Errorf("%w: batch of %d bytes, %d present", ErrTruncated, n, len(b))
		}
		if err := fn(h, b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
