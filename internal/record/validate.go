package record

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kafka's defaults (4.0) for message.timestamp.before.max.ms and
// message.timestamp.after.max.ms (KIP-937), in milliseconds.
const (
	DefaultTimestampBeforeMaxMs int64 = math.MaxInt64
	DefaultTimestampAfterMaxMs  int64 = 3600000
)

// ValidateOptions are the topic's configuration and the append's context
// that Validate checks a batch against. The zero value is a client append
// to a CreateTime, non-compacted topic with Kafka's default limits.
type ValidateOptions struct {
	// Now is the broker's time that CreateTime timestamps are checked
	// against. Zero means time.Now().
	Now time.Time

	// LogAppendTime is set when the topic's message.timestamp.type is
	// LogAppendTime. Record timestamps are then not checked; the caller
	// stamps the batch with SetLogAppendTime.
	LogAppendTime bool

	// TimestampBeforeMaxMs is message.timestamp.before.max.ms: how many
	// milliseconds a CreateTime timestamp may lie before Now. Zero means
	// Kafka's default (DefaultTimestampBeforeMaxMs, no limit); negative
	// means no limit.
	TimestampBeforeMaxMs int64

	// TimestampAfterMaxMs is message.timestamp.after.max.ms: how many
	// milliseconds a CreateTime timestamp may lie after Now. Zero means
	// Kafka's default (DefaultTimestampAfterMaxMs, one hour); negative
	// means no limit.
	TimestampAfterMaxMs int64

	// Compacted is set when the topic's cleanup.policy includes compact:
	// every record then needs a non-null key.
	Compacted bool

	// Topic and Partition name the partition in Kafka's error message for
	// a keyless record in a compacted topic ("... in topic partition
	// orders-0."); an empty Topic leaves the partition out.
	Topic     string
	Partition int32

	// AllowControl marks an append that originates in the broker (a
	// coordinator writing transaction markers or its own records) rather
	// than a client. Control batches are then accepted, and the checks
	// Kafka applies only to AppendOrigin.CLIENT are skipped: base offset 0
	// and a non-negative base sequence for a batch with a producer id.
	AllowControl bool

	// MaxBatchBytes is the topic's max.message.bytes: the largest batch,
	// header included, in bytes. Zero means no limit.
	MaxBatchBytes int

	// MaxDecompressedSize bounds the decompressed records of a compressed
	// batch, in bytes. Zero means DefaultMaxDecompressedSize.
	MaxDecompressedSize int
}

// Info describes a batch that passed Validate.
type Info struct {
	// Header is the batch's header as sent.
	Header Header

	Codec       Codec
	RecordCount int32

	// MaxTimestamp is the largest record timestamp (for a batch marked
	// LogAppendTime by its producer, every record's timestamp is the
	// header's maxTimestamp), or NoTimestamp if no record has one. Like
	// Kafka's leader, the caller should store it with SetMaxTimestamp
	// (CreateTime topics) so that the header cannot lie.
	MaxTimestamp int64

	// MaxTimestampOffsetDelta is the offset delta of the first record
	// carrying MaxTimestamp, or -1.
	MaxTimestampOffsetDelta int32

	Transactional bool
	Control       bool

	// Idempotent reports a producer id (>= 0): the batch is idempotent
	// or transactional and its sequence numbers must be checked.
	Idempotent bool

	// UncompressedSize is the size of the batch with its records
	// uncompressed, header included, in bytes.
	UncompressedSize int
}

// RecordError names one record that failed validation, as a Produce
// response (v8+) lists it in a partition's record_errors.
type RecordError struct {
	// BatchIndex is the record's index within its batch, from 0.
	BatchIndex int32
	Message    string
}

// String formats e as Kafka's ProduceResponse.RecordError does.
func (e RecordError) String() string {
	return "RecordError(batchIndex=" + strconv.Itoa(int(e.BatchIndex)) + ", message='" + e.Message + "')"
}

// ValidationError reports records that failed Kafka's per-record checks
// (a compacted topic's missing key, an out-of-range timestamp). As in Kafka,
// all records are checked and the whole batch is rejected. It unwraps to
// Err, so errors.Is works as for other Validate errors; the Produce
// handler puts Message in the partition's error_message and RecordErrors
// in its record_errors.
type ValidationError struct {
	// Err is ErrInvalidTimestamp if any record's timestamp is out of
	// range, else ErrInvalid.
	Err error

	// Message is Kafka's error message for the partition.
	Message string

	// RecordErrors lists every failing record in batch order.
	RecordErrors []RecordError
}

func (e *ValidationError) Error() string { return e.Err.Error() + ": " + e.Message }

func (e *ValidationError) Unwrap() error { return e.Err }

// newValidationError builds Kafka's error for failed records
// (LogValidator.processRecordErrors).
func newValidationError(errs []RecordError, timestamp bool) *ValidationError {
	if timestamp {
		return &ValidationError{
			Err:          ErrInvalidTimestamp,
			Message:      "One or more records have been rejected due to invalid timestamp",
			RecordErrors: errs,
		}
	}
	var b strings.Builder
	b.WriteString("One or more records have been rejected due to ")
	b.WriteString(strconv.Itoa(len(errs)))
	b.WriteString(" record errors in total, and only showing the first three errors at most: [")
	for i, e := range errs[:min(len(errs), 3)] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.String())
	}
	b.WriteString("]")
	return &ValidationError{Err: ErrInvalid, Message: b.String(), RecordErrors: errs}
}

// Validate checks that batch is exactly one RecordBatch v2 that a partition
// leader may append, as Kafka's produce path does (ProduceRequest's
// validateRecords, UnifiedLog.analyzeAndValidateRecords and LogValidator for
// magic 2), and describes it. It does not modify batch and allocates nothing
// for a valid uncompressed batch; a compressed one is decompressed into a
// pooled buffer, and its keys and values are skipped, not copied.
//
// Errors wrap:
//
//   - ErrInvalid: no bytes; magic 0 or 1; bytes after the batch (Produce
//     allows exactly one batch per partition); a client batch whose base
//     offset is not 0.
//   - ErrCorrupt: magic other than 0-2; a header or batch length that does
//     not fit the bytes (with ErrTruncated if they end early); bad CRC.
//   - ErrTooLarge: larger than MaxBatchBytes, or decompressing past
//     MaxDecompressedSize.
//   - ErrUnsupportedCompression: codec id 5-7.
//   - ErrInvalid: recordCount <= 0 or != lastOffsetDelta+1; a control batch
//     from a client; a producer id with a negative base sequence (clients)
//     or a negative epoch; a transactional batch without producer id.
//   - ErrCorrupt: a compressed stream that does not decode.
//   - ErrInvalid: malformed record framing, a record's offsetDelta not
//     equal to its index, more or fewer records than recordCount.
//   - *ValidationError (ErrInvalid or ErrInvalidTimestamp): per-record
//     checks, collected over all records: a null key in a compacted topic;
//     with CreateTime, a timestamp outside [Now-TimestampBeforeMaxMs,
//     Now+TimestampAfterMaxMs]; a producer-set LogAppendTime batch where
//     Kafka rejects it.
//
// Kafka itself reports malformed records (with a valid CRC) as
// INVALID_RECORD, not CORRUPT_MESSAGE, which clients would retry; so do we.
// Where Kafka rewrites a compressed batch whose inner offsets are not
// 0,1,2,..., we reject it: no Kafka client writes one.
//
// The caller still checks what needs more than the batch: that zstd is used
// only with Produce v7+, producer state (sequence, epoch, transaction), and
// then sets the offset, leader epoch and timestamps (see the package doc).
func Validate(batch []byte, opts ValidateOptions) (Info, error) {
	h, err := validateHeader(batch, opts)
	if err != nil {
		return Info{}, err
	}
	codec := h.Codec()

	data := batch[HeaderSize:]
	if codec != CodecNone {
		s := getScratch()
		defer putScratch(s)
		limit := opts.MaxDecompressedSize
		if limit <= 0 {
			limit = DefaultMaxDecompressedSize
		}
		if s.buf, err = DecompressAppend(codec, s.buf[:0], data, limit); err != nil {
			return Info{}, err
		}
		data = s.buf
	}

	var (
		nowMs     = nowMillis(opts.Now)
		before    = timestampLimit(opts.TimestampBeforeMaxMs, DefaultTimestampBeforeMaxMs)
		after     = timestampLimit(opts.TimestampAfterMaxMs, DefaultTimestampAfterMaxMs)
		lo        = subSat(nowMs, before)
		hi        = addSat(nowMs, after)
		lat       = h.IsLogAppendTime()
		maxTS     = NoTimestamp
		maxDelta  = int32(-1)
		recErrs   []RecordError
		timestamp bool // some record error is INVALID_TIMESTAMP
		r         Record
		pos       int
	)
	for i := int32(0); i < h.RecordCount; i++ {
		if pos, err = readRecord(data, pos, i, &r, nil); err != nil {
			return Info{}, err
		}
		if r.OffsetDelta != i {
			return Info{}, fmt.Errorf("%w: record %d has offset delta %d: inner offsets must be continuous from 0", ErrInvalid, i, r.OffsetDelta)
		}
		ts := h.BaseTimestamp + r.TimestampDelta
		if lat {
			ts = h.MaxTimestamp
		}
		// One error per record, key first (LogValidator.validateRecord).
		switch {
		case opts.Compacted && r.Key == nil:
			recErrs = append(recErrs, RecordError{i, noKeyMessage(opts)})
		case !opts.LogAppendTime && ts != NoTimestamp:
			if ts < lo || ts > hi {
				timestamp = true
				recErrs = append(recErrs, RecordError{i, fmt.Sprintf(
					"Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
					ts, i, lo, hi)})
			}
		case lat:
			timestamp = true
			recErrs = append(recErrs, RecordError{i, "Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime."})
		}
		if ts > maxTS {
			maxTS, maxDelta = ts, i
		}
	}
	if pos != len(data) {
		return Info{}, errRemaining(h.RecordCount, len(data)-pos)
	}
	if recErrs != nil {
		return Info{}, newValidationError(recErrs, timestamp)
	}
	return Info{
		Header:                  h,
		Codec:                   codec,
		RecordCount:             h.RecordCount,
		MaxTimestamp:            maxTS,
		MaxTimestampOffsetDelta: maxDelta,
		Transactional:           h.IsTransactional(),
		Control:                 h.IsControl(),
		Idempotent:              h.HasProducerID(),
		UncompressedSize:        HeaderSize + len(data),
	}, nil
}

// validateHeader runs every check that needs only the header and the CRC.
func validateHeader(batch []byte, opts ValidateOptions) (Header, error) {
	if len(batch) == 0 {
		return Header{}, fmt.Errorf("%w: produce requests must have at least one record batch per partition", ErrInvalid)
	}
	// Magic sits at the same offset in every message format.
	if len(batch) > offMagic {
		switch m := int8(batch[offMagic]); m {
		case 2:
		case 0, 1:
			return Header{}, fmt.Errorf("%w: produce requests are only allowed to contain record batches with magic version 2, got %d", ErrInvalid, m)
		default:
			return Header{}, fmt.Errorf("%w: invalid magic %d", ErrCorrupt, m)
		}
	}
	if len(batch) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %w: %d bytes, a batch header needs %d", ErrCorrupt, ErrTruncated, len(batch), HeaderSize)
	}
	h, err := ParseHeader(batch)
	if err != nil {
		return Header{}, err
	}
	if h.Size() > len(batch) {
		return Header{}, fmt.Errorf("%w: %w: batch of %d bytes, %d present", ErrCorrupt, ErrTruncated, h.Size(), len(batch))
	}
	if h.Size() < len(batch) {
		return Header{}, fmt.Errorf("%w: produce requests are only allowed to contain exactly one record batch per partition (%d bytes follow the batch)", ErrInvalid, len(batch)-h.Size())
	}
	if !opts.AllowControl && h.BaseOffset != 0 {
		return Header{}, fmt.Errorf("%w: the baseOffset of the record batch in the append should be 0, but it is %d", ErrInvalid, h.BaseOffset)
	}
	if opts.MaxBatchBytes > 0 && h.Size() > opts.MaxBatchBytes {
		return Header{}, fmt.Errorf("%w: batch of %d bytes exceeds max.message.bytes %d", ErrTooLarge, h.Size(), opts.MaxBatchBytes)
	}
	if got := ComputeCRC(batch); got != h.CRC {
		return Header{}, fmt.Errorf("%w: record is corrupt (stored crc = %d, computed crc = %d)", ErrCorrupt, h.CRC, got)
	}
	if c := h.Codec(); !validCodec(c) {
		return Header{}, fmt.Errorf("%w: unknown compression type id %d", ErrUnsupportedCompression, int8(c))
	}

	// LogValidator.validateBatch.
	countFromOffsets := int64(h.LastOffsetDelta) + 1
	if countFromOffsets <= 0 {
		return Header{}, fmt.Errorf("%w: batch has an invalid offset range: [%d, %d]", ErrInvalid, h.BaseOffset, h.BaseOffset+int64(h.LastOffsetDelta))
	}
	if h.RecordCount <= 0 {
		return Header{}, fmt.Errorf("%w: invalid reported count for record batch: %d", ErrInvalid, h.RecordCount)
	}
	if countFromOffsets != int64(h.RecordCount) {
		return Header{}, fmt.Errorf("%w: inconsistent batch offset range [%d, %d] and count of records %d",
			ErrInvalid, h.BaseOffset, h.BaseOffset+int64(h.LastOffsetDelta), h.RecordCount)
	}
	if h.IsControl() && !opts.AllowControl {
		return Header{}, fmt.Errorf("%w: clients are not allowed to write control records", ErrInvalid)
	}
	if h.HasProducerID() {
		if h.BaseSequence < 0 && !opts.AllowControl {
			return Header{}, fmt.Errorf("%w: invalid sequence number %d in record batch with producerId %d", ErrInvalid, h.BaseSequence, h.ProducerID)
		}
		if h.ProducerEpoch < 0 {
			return Header{}, fmt.Errorf("%w: invalid producer epoch %d in record batch with producerId %d", ErrInvalid, h.ProducerEpoch, h.ProducerID)
		}
	} else if h.IsTransactional() {
		return Header{}, fmt.Errorf("%w: transactional record batch without a producer id", ErrInvalid)
	}
	return h, nil
}

// noKeyMessage is Kafka's record error for a keyless record in a compacted
// topic (LogValidator.validateKey).
func noKeyMessage(opts ValidateOptions) string {
	const msg = "Compacted topic cannot accept message without key"
	if opts.Topic == "" {
		return msg
	}
	return msg + " in topic partition " + opts.Topic + "-" + strconv.Itoa(int(opts.Partition)) + "."
}

func nowMillis(t time.Time) int64 {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UnixMilli()
}

// timestampLimit applies ValidateOptions' conventions: 0 is Kafka's
// default, negative is no limit.
func timestampLimit(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return math.MaxInt64
	}
	return v
}

// subSat returns a-b, saturating at math.MinInt64; b >= 0.
func subSat(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// addSat returns a+b, saturating at math.MaxInt64; b >= 0.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
