package storage

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/gregor-streaming/gregor/internal/record"
)

// Read buffers are pooled: a fetch reads up to partition_max_bytes per
// partition, and allocating and zeroing that much per fetch would make the
// garbage collector the fetch path's main cost. Buffers are bucketed by
// power-of-two capacity.
var readBufPools [28]sync.Pool // capacities 1<<0 .. 1<<27 (128 MiB)

func readBufClass(n int) int { return bits.Len(uint(n - 1)) }

func getReadBuf(n int) []byte {
	c := readBufClass(n)
	if c >= len(readBufPools) {
		return make([]byte, n)
	}
	if bp, ok := readBufPools[c].Get().(*[]byte); ok {
		return (*bp)[:n]
	}
	return make([]byte, n, 1<<c)
}

// ReleaseReadData gives the Data of a ReadInfo back to the read-buffer
// pool once the caller is done with it (for example after copying it into
// a response). The caller must not use b, or any slice of it, afterwards.
// Calling it is optional; data not released is garbage collected.
func ReleaseReadData(b []byte) {
	c := cap(b)
	if c == 0 || c&(c-1) != 0 || readBufClass(c) >= len(readBufPools) {
		return // not from the pool, or a sub-slice that lost its start
	}
	b = b[:0]
	readBufPools[readBufClass(c)].Put(&b)
}

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
	// pooled makes refills take buffers from the read-buffer pool (see
	// ReleaseReadData); a refill then returns the previous buffer.
	pooled bool
}

// release gives a pooled window's buffer back; the window must not be used
// to return data afterwards.
func (w *window) release() {
	if w.pooled && w.buf != nil {
		ReleaseReadData(w.buf)
	}
	w.buf = nil
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
	var buf []byte
	if w.pooled {
		if w.buf != nil {
			ReleaseReadData(w.buf)
			w.buf = nil
		}
		buf = getReadBuf(int(size))
	} else {
		buf = make([]byte, size)
	}
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

// errStopRecords ends a forEachRecord iteration early; it never escapes.
var errStopRecords = errors.New("storage: stop iterating records")

// forEachRecord calls fn with the offset and timestamp of each record of
// batch, one whole batch whose header is h, in order, until fn returns
// false. It is for the few places that look inside a batch (timestamp
// lookups) and decodes through record.Records, which decompresses a
// compressed batch into a pooled buffer. A record's timestamp is the
// batch's base timestamp plus its delta, or for a LogAppendTime batch the
// batch's max timestamp, as Kafka's DefaultRecordBatch reports it.
// Errors wrap record's ErrCorrupt, ErrInvalid, ErrUnsupportedCompression or
// ErrTooLarge.
func forEachRecord(batch []byte, h record.Header, fn func(offset, ts int64) bool) error {
	logAppendTime := h.IsLogAppendTime()
	err := record.Records(batch, func(r record.Record) error {
		ts := h.BaseTimestamp + r.TimestampDelta
		if logAppendTime {
			ts = h.MaxTimestamp
		}
		if !fn(h.BaseOffset+int64(r.OffsetDelta), ts) {
			return errStopRecords
		}
		return nil
	})
	if errors.Is(err, errStopRecords) {
		return nil
	}
	return err
}
