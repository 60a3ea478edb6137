package record

import (
	"fmt"
	"sync"
)

// Record is one record of a batch. Timestamps and offsets are deltas from
// the batch's baseTimestamp and baseOffset.
//
// A nil Key or Value is null; a non-nil empty slice is an empty value.
type Record struct {
	OffsetDelta    int32
	TimestampDelta int64
	Key, Value     []byte
	Headers        []RecordHeader
}

// RecordHeader is a record header. Key is never null (nil encodes as the
// empty key); a nil Value is null.
type RecordHeader struct {
	Key   []byte
	Value []byte
}

// Records calls fn with each record of batch, which must hold exactly one
// whole batch, decompressing it if needed (bounded by
// DefaultMaxDecompressedSize). It stops at the first error from fn, which it
// returns as is.
//
// The Record passed to fn, including its Key, Value and Headers, aliases
// batch or an internal buffer and is valid only until fn returns; copy what
// must be kept. Records does not allocate per record.
//
// Records checks the framing of every record and that the batch holds
// exactly recordCount of them, but not the CRC (see CheckCRC) nor what
// Validate checks: batches the log cleaner has compacted have gaps in their
// offset deltas and are read as they are. Errors wrap ErrCorrupt for a bad
// header or compressed stream, ErrInvalid for malformed records,
// ErrUnsupportedCompression and ErrTooLarge.
func Records(batch []byte, fn func(Record) error) error {
	h, err := ParseHeader(batch)
	if err != nil {
		return err
	}
	if h.Size() != len(batch) {
		return fmt.Errorf("%w: batch length %d does not match %d bytes", ErrCorrupt, h.Size(), len(batch))
	}
	if h.RecordCount < 0 {
		return fmt.Errorf("%w: negative record count %d", ErrInvalid, h.RecordCount)
	}
	s := getScratch()
	defer putScratch(s)
	data := batch[HeaderSize:]
	if codec := h.Codec(); codec != CodecNone {
		if s.buf, err = DecompressAppend(codec, s.buf[:0], data, DefaultMaxDecompressedSize); err != nil {
			return err
		}
		data = s.buf
	}
	var (
		r   Record
		pos int
	)
	for i := int32(0); i < h.RecordCount; i++ {
		if pos, err = readRecord(data, pos, i, &r, &s.headers); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if pos != len(data) {
		return errRemaining(h.RecordCount, len(data)-pos)
	}
	return nil
}

func errRemaining(count int32, n int) error {
	return fmt.Errorf("%w: incorrect declared batch size, %d bytes remain after %d records", ErrInvalid, n, count)
}

// scratch holds the buffers one Records or Validate call reuses: the
// decompressed records and the headers of the current record.
type scratch struct {
	buf     []byte
	headers []RecordHeader
}

// maxPooledBuffer is the largest decompression buffer returned to the pool;
// a rare giant batch should not pin its memory.
const maxPooledBuffer = 4 << 20

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.buf) > maxPooledBuffer {
		s.buf = nil
	}
	clear(s.headers[:cap(s.headers)]) // drop references into the batch
	s.headers = s.headers[:0]
	scratchPool.Put(s)
}

// readRecord decodes the record at b[pos:], index idx of its batch, into r
// and returns the position after it. If headers is non-nil, r.Headers is
// filled from *headers, which is reused and grown as needed; otherwise the
// headers are checked but not collected. Key, value and header slices alias
// b, capped so that appending to them cannot overwrite b.
//
// The checks follow Kafka's DefaultRecord.readFrom; a failing record is
// INVALID_RECORD there, so the errors wrap ErrInvalid.
func readRecord(b []byte, pos int, idx int32, r *Record, headers *[]RecordHeader) (int, error) {
	size, pos, ok := readVarint(b, pos)
	if !ok {
		return pos, recordErr(idx, "malformed length")
	}
	if size < 0 || int(size) > len(b)-pos {
		return pos, fmt.Errorf("%w: record %d: invalid record size: expected %d bytes in record payload, but only %d bytes are available",
			ErrInvalid, idx, size, len(b)-pos)
	}
	end := pos + int(size)
	body := b[:end]
	if pos >= end {
		return pos, recordErr(idx, "missing attributes")
	}
	pos++ // attributes: unused in magic 2
	if r.TimestampDelta, pos, ok = readVarlong(body, pos); !ok {
		return pos, recordErr(idx, "malformed timestamp delta")
	}
	if r.OffsetDelta, pos, ok = readVarint(body, pos); !ok {
		return pos, recordErr(idx, "malformed offset delta")
	}
	if r.Key, pos, ok = readBytes(body, pos); !ok {
		return pos, recordErr(idx, "malformed key")
	}
	if r.Value, pos, ok = readBytes(body, pos); !ok {
		return pos, recordErr(idx, "malformed value")
	}
	n, pos, ok := readVarint(body, pos)
	if !ok {
		return pos, recordErr(idx, "malformed header count")
	}
	if n < 0 {
		return pos, fmt.Errorf("%w: record %d: invalid number of record headers %d", ErrInvalid, idx, n)
	}
	if headers != nil {
		*headers = (*headers)[:0]
	}
	for h := int32(0); h < n; h++ {
		// Each header takes at least two bytes, so a huge count runs
		// out of body long before it runs out of memory.
		var key, value []byte
		if key, pos, ok = readBytes(body, pos); !ok || key == nil {
			return pos, fmt.Errorf("%w: record %d: invalid header %d key", ErrInvalid, idx, h)
		}
		if value, pos, ok = readBytes(body, pos); !ok {
			return pos, fmt.Errorf("%w: record %d: invalid header %d value", ErrInvalid, idx, h)
		}
		if headers != nil {
			*headers = append(*headers, RecordHeader{Key: key, Value: value})
		}
	}
	if headers != nil {
		r.Headers = *headers
	} else {
		r.Headers = nil
	}
	if pos != end {
		return pos, fmt.Errorf("%w: record %d: invalid record size: expected to read %d bytes in record payload, but instead read %d",
			ErrInvalid, idx, size, int(size)-(end-pos))
	}
	return pos, nil
}

func recordErr(idx int32, what string) error {
	return fmt.Errorf("%w: record %d: %s", ErrInvalid, idx, what)
}

// readBytes reads a varint length and that many bytes; length -1 is null
// (nil). Other negative lengths are rejected.
func readBytes(b []byte, pos int) ([]byte, int, bool) {
	n, pos, ok := readVarint(b, pos)
	switch {
	case !ok || n < -1:
		return nil, pos, false
	case n == -1:
		return nil, pos, true
	case int(n) > len(b)-pos:
		return nil, pos, false
	}
	end := pos + int(n)
	return b[pos:end:end], end, true
}

// readVarint decodes a zigzag varint of at most 5 bytes at b[pos:], as
// Kafka's ByteUtils.readVarint does (bits past 32 are dropped).
func readVarint(b []byte, pos int) (int32, int, bool) {
	if pos < len(b) && b[pos] < 0x80 {
		u := uint32(b[pos])
		return int32(u>>1) ^ -int32(u&1), pos + 1, true
	}
	var u uint32
	for shift := uint(0); shift < 35; shift += 7 {
		if pos >= len(b) {
			return 0, pos, false
		}
		c := b[pos]
		pos++
		u |= uint32(c&0x7f) << shift
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), pos, true
		}
	}
	return 0, pos, false
}

// readVarlong decodes a zigzag varint of at most 10 bytes at b[pos:], as
// Kafka's ByteUtils.readVarlong does.
func readVarlong(b []byte, pos int) (int64, int, bool) {
	if pos < len(b) && b[pos] < 0x80 {
		u := uint64(b[pos])
		return int64(u>>1) ^ -int64(u&1), pos + 1, true
	}
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if pos >= len(b) {
			return 0, pos, false
		}
		c := b[pos]
		pos++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), pos, true
		}
	}
	return 0, pos, false
}

// appendVarint appends v zigzag varint encoded. int32 and int64 values in
// the int32 range encode the same, so one function serves both.
func appendVarint(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// varintSize is the encoded size of v.
func varintSize(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
