package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gregor-streaming/gregor/internal/record"
)

// errTorn reports a batch that runs past the end of the file: the tail of a
// write cut short by a crash.
var errTorn = errors.New("torn batch at end of segment")

// window serves byte ranges of a file from one buffer, refilling it with a
// single ReadAt when a range is not inside. It reads nothing past end.
type window struct {
	r     io.ReaderAt
	end   int64
	chunk int // minimum refill size

	buf    []byte
	bufPos int64 // file position of buf[0]
}

// at returns the n bytes at file position pos. The slice aliases the
// window's buffer and is valid until the next call.
func (w *window) at(pos int64, n int) ([]byte, error) {
	if pos < 0 || n < 0 || pos+int64(n) > w.end {
		return nil, fmt.Errorf("read [%d, %d) beyond end %d", pos, pos+int64(n), w.end)
	}
	if pos >= w.bufPos && pos+int64(n) <= w.bufPos+int64(len(w.buf)) {
		off := pos - w.bufPos
		return w.buf[off : off+int64(n)], nil
	}
	size := int64(max(n, w.chunk))
	size = min(size, w.end-pos)
	buf := make([]byte, size)
	m, err := w.r.ReadAt(buf, pos)
	if m < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	w.buf, w.bufPos = buf[:m], pos
	return w.buf[:n], nil
}

// scanner walks the batches of a segment file from a position, reading it
// in large chunks.
type scanner struct {
	w   window
	pos int64 // position of the next batch
}

const scanChunk = 1 << 20

// lookupChunk is the read size of scans that usually stop early (timestamp
// lookups, truncation).
const lookupChunk = 64 << 10

func newScanner(r io.ReaderAt, from, end int64) *scanner {
	return newScannerChunk(r, from, end, scanChunk)
}

func newScannerChunk(r io.ReaderAt, from, end int64, chunk int) *scanner {
	return &scanner{w: window{r: r, end: end, chunk: chunk}, pos: from}
}

// next returns the next batch's header, its bytes (valid until the next
// call) and its position. At the end it returns io.EOF. A batch cut off by
// the end of the file yields errTorn; bad framing yields record's
// ErrCorrupt (wrapped). Neither advances the scanner.
func (s *scanner) next() (record.Header, []byte, int64, error) {
	if s.pos >= s.w.end {
		return record.Header{}, nil, s.pos, io.EOF
	}
	if s.w.end-s.pos < record.HeaderSize {
		return record.Header{}, nil, s.pos, errTorn
	}
	hb, err := s.w.at(s.pos, record.HeaderSize)
	if err != nil {
		return record.Header{}, nil, s.pos, err
	}
	h, err := record.ParseHeader(hb)
	if err != nil {
		return h, nil, s.pos, err
	}
	size := int64(h.Size())
	if s.pos+size > s.w.end {
		return h, nil, s.pos, errTorn
	}
	b, err := s.w.at(s.pos, int(size))
	if err != nil {
		return h, nil, s.pos, err
	}
	pos := s.pos
	s.pos += size
	return h, b, pos, nil
}

// Record decoding, for the few places that look inside one batch
// (timestamp lookups). Only uncompressed batches can be decoded here; the
// record package owns compression.
//
// Record v2 layout (varints are zigzag, as in protobuf):
//
//	length          varint   bytes after this field
//	attributes      int8
//	timestampDelta  varlong  from the batch's base timestamp
//	offsetDelta     varint   from the batch's base offset
//	key, value, headers      (not read here)

// forEachRecord calls fn with each record's offset and timestamp (the
// batch's max timestamp for LogAppendTime batches) until fn returns false.
// The batch must be uncompressed.
func forEachRecord(batch []byte, h record.Header, fn func(offset, ts int64) bool) error {
	b := batch[record.HeaderSize:]
	for i := int32(0); i < h.RecordCount; i++ {
		length, n := binary.Varint(b)
		if n <= 0 || length < 1 || int64(len(b)-n) < length {
			return fmt.Errorf("%w: record %d framing", record.ErrCorrupt, i)
		}
		body := b[n : n+int(length)]
		b = b[n+int(length):]
		body = body[1:] // attributes
		tsDelta, n1 := binary.Varint(body)
		if n1 <= 0 {
			return fmt.Errorf("%w: record %d timestamp", record.ErrCorrupt, i)
		}
		offDelta, n2 := binary.Varint(body[n1:])
		if n2 <= 0 {
			return fmt.Errorf("%w: record %d offset", record.ErrCorrupt, i)
		}
		ts := h.BaseTimestamp + tsDelta
		if h.IsLogAppendTime() {
			ts = h.MaxTimestamp
		}
		if !fn(h.BaseOffset+offDelta, ts) {
			return nil
		}
	}
	return nil
}
