package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// DefaultMaxDecompressedSize bounds how large a compressed record stream may
// grow when decompressed, unless a caller passes its own limit. It protects
// the broker from zip bombs: a batch over the limit is rejected with
// ErrTooLarge instead of being inflated. Legitimate batches are bounded by
// the producer's batch size (1 MiB by default) times the codec's ratio.
const DefaultMaxDecompressedSize = 64 << 20

// validCodec reports whether c is a codec this package can read and write.
func validCodec(c Codec) bool { return c >= CodecNone && c <= CodecZstd }

// Decompress returns the decompression of src, a record stream compressed
// with codec, bounded by DefaultMaxDecompressedSize. For CodecNone it
// returns src itself; otherwise the result is newly allocated and owned by
// the caller.
//
// Errors wrap ErrUnsupportedCompression for an unknown codec, ErrTooLarge
// when the output would exceed the bound, and ErrCorrupt when src is not a
// valid stream.
func Decompress(codec Codec, src []byte) ([]byte, error) {
	if codec == CodecNone {
		return src, nil
	}
	return DecompressAppend(codec, nil, src, DefaultMaxDecompressedSize)
}

// DecompressAppend appends the decompression of src to dst and returns the
// extended slice, failing with ErrTooLarge once more than limit bytes would
// be appended (limit <= 0 means DefaultMaxDecompressedSize). Memory use is
// bounded by the limit: declared sizes in the stream are checked before
// anything is allocated for them.
//
// On error the returned slice has dst's length (its capacity may have
// grown, so a pooled buffer can be kept). Errors are as for Decompress.
func DecompressAppend(codec Codec, dst, src []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxDecompressedSize
	}
	start := len(dst)
	var err error
	switch codec {
	case CodecNone:
		if len(src) > limit {
			return dst, tooLarge(codec, limit)
		}
		return append(dst, src...), nil
	case CodecGzip:
		dst, err = gunzip(dst, src, limit)
	case CodecSnappy:
		dst, err = unsnappy(dst, src, limit)
	case CodecLZ4:
		dst, err = unlz4(dst, src, limit)
	case CodecZstd:
		dst, err = unzstd(dst, src, limit)
	default:
		return dst, fmt.Errorf("%w: unknown compression type id %d", ErrUnsupportedCompression, int8(codec))
	}
	if err != nil {
		if !errors.Is(err, ErrTooLarge) {
			err = fmt.Errorf("%w: decompress %s: %w", ErrCorrupt, codec, err)
		}
		return dst[:start], err
	}
	return dst, nil
}

// Compress appends the compression of src with codec to dst and returns
// the extended slice; CodecNone appends src unchanged. It uses each codec's
// default level and writes what Kafka clients read: a gzip member, a raw
// snappy block, one LZ4 frame with 64 KiB independent blocks, one zstd
// frame. Errors wrap ErrUnsupportedCompression for an unknown codec.
func Compress(codec Codec, dst, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return append(dst, src...), nil
	case CodecGzip:
		e := gzipEncoders.Get().(*gzipEncoder)
		defer gzipEncoders.Put(e)
		e.out.b = dst
		e.w.Reset(&e.out)
		_, err := e.w.Write(src)
		if err == nil {
			err = e.w.Close()
		}
		out := e.out.b
		e.out.b = nil
		if err != nil {
			return dst, fmt.Errorf("record: gzip compress: %w", err)
		}
		return out, nil
	case CodecSnappy:
		n := s2.MaxEncodedLen(len(src))
		if n < 0 {
			return dst, fmt.Errorf("%w: %d bytes cannot be snappy compressed", ErrTooLarge, len(src))
		}
		dst = slices.Grow(dst, n)
		block := s2.EncodeSnappy(dst[len(dst):cap(dst)], src)
		return dst[:len(dst)+len(block)], nil
	case CodecLZ4:
		e := lz4Encoders.Get().(*lz4Encoder)
		defer lz4Encoders.Put(e)
		e.out.b = dst
		e.w.Reset(&e.out)
		_, err := e.w.Write(src)
		if err == nil {
			err = e.w.Close()
		}
		e.w.Reset(nil)
		out := e.out.b
		e.out.b = nil
		if err != nil {
			return dst, fmt.Errorf("record: lz4 compress: %w", err)
		}
		return out, nil
	case CodecZstd:
		e := zstdEncoders.Get().(*zstd.Encoder)
		defer zstdEncoders.Put(e)
		return e.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("%w: unknown compression type id %d", ErrUnsupportedCompression, int8(codec))
}

func tooLarge(codec Codec, limit int) error {
	return fmt.Errorf("%w: %s record stream decompresses to more than %d bytes", ErrTooLarge, codec, limit)
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// Encoders and decoders are pooled: each holds tens to hundreds of KiB of
// state, and the produce path must not allocate them per batch. None of them
// starts goroutines (concurrency 1), so dropping one from a pool leaks
// nothing.
var (
	gzipEncoders = sync.Pool{New: func() any {
		e := new(gzipEncoder)
		e.w, _ = gzip.NewWriterLevel(&e.out, gzip.DefaultCompression)
		return e
	}}
	lz4Encoders = sync.Pool{New: func() any {
		e := new(lz4Encoder)
		e.w = lz4.NewWriter(nil)
		// Kafka's own LZ4 writer uses 64 KiB blocks; the default 4 MiB
		// would cost 4 MiB of buffer per pooled writer.
		_ = e.w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ConcurrencyOption(1))
		return e
	}}
	zstdEncoders = sync.Pool{New: func() any {
		e, _ := zstd.NewWriter(nil,
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20),
			zstd.WithZeroFrames(true),
		)
		return e
	}}

	gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}
	lz4Decoders  = sync.Pool{New: func() any {
		d := new(lz4Decoder)
		d.r = lz4.NewReader(nil)
		return d
	}}
	zstdDecoders = sync.Pool{New: func() any {
		dec, _ := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(DefaultMaxDecompressedSize),
		)
		return &zstdDecoder{dec: dec, limit: DefaultMaxDecompressedSize}
	}}
)

type gzipEncoder struct {
	w   *gzip.Writer
	out appendWriter
}

type lz4Encoder struct {
	w   *lz4.Writer
	out appendWriter
}

// The decoders are pooled with the bytes.Reader they read from, so that a
// decompression allocates neither.
type gzipDecoder struct {
	src bytes.Reader
	r   gzip.Reader
}

type lz4Decoder struct {
	src bytes.Reader
	r   *lz4.Reader
}

// zstdDecoder is a decoder whose output bound (WithDecoderMaxMemory) is
// currently limit bytes.
type zstdDecoder struct {
	dec   *zstd.Decoder
	limit int
}

func gunzip(dst, src []byte, limit int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer gzipDecoders.Put(d)
	defer d.src.Reset(nil)
	d.src.Reset(src)
	if err := d.r.Reset(&d.src); err != nil {
		return dst, err
	}
	return readAllLimit(CodecGzip, &d.r, dst, limit, len(src))
}

func unlz4(dst, src []byte, limit int) ([]byte, error) {
	d := lz4Decoders.Get().(*lz4Decoder)
	defer lz4Decoders.Put(d)
	defer d.src.Reset(nil)
	defer d.r.Reset(nil)
	d.src.Reset(src)
	d.r.Reset(&d.src)
	return readAllLimit(CodecLZ4, d.r, dst, limit, len(src))
}

// unzstd relies on the decoder's WithDecoderMaxMemory bound: DecodeAll
// rejects a frame that declares a larger content or window size before
// allocating, and stops a frame that outgrows the bound while decoding. The
// bound counts every frame of src, so memory stays within the limit. One
// consequence: a frame whose declared window exceeds the limit is refused
// even if its content is small (Java producers at zstd level 22 declare
// 128 MiB windows).
func unzstd(dst, src []byte, limit int) ([]byte, error) {
	d := zstdDecoders.Get().(*zstdDecoder)
	defer zstdDecoders.Put(d)
	// The decoder refuses windows below zstd's 1 KiB minimum if its bound
	// is smaller; smaller limits are checked below.
	if bound := max(limit, zstd.MinWindowSize); d.limit != bound {
		if err := d.dec.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(bound))); err != nil {
			return dst, err
		}
		d.limit = bound
	}
	// The decoder counts dst's existing bytes against its bound, so decode
	// into the spare capacity and join afterwards.
	start := len(dst)
	out, err := d.dec.DecodeAll(src, dst[start:start])
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			err = tooLarge(CodecZstd, limit)
		}
		if start == 0 && out != nil {
			return out[:0], err
		}
		return dst, err
	}
	if len(out) > limit {
		return dst, tooLarge(CodecZstd, limit)
	}
	switch {
	case start == 0:
		return out, nil
	case len(out) == 0:
		return dst, nil
	case cap(dst)-start >= len(out) && &dst[:cap(dst)][start] == &out[0]:
		return dst[:start+len(out)], nil // decoded in place
	}
	return append(dst, out...), nil
}

// xerialMagic starts the snappy framing of the Java client (snappy-java's
// SnappyOutputStream): this magic, a big endian int32 version and an int32
// minimum compatible version, then chunks.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

func unsnappy(dst, src []byte, limit int) ([]byte, error) {
	if len(src) >= xerialHeaderSize && bytes.HasPrefix(src, xerialMagic) {
		return unxerial(dst, src[xerialHeaderSize:], limit)
	}
	n, err := s2.DecodedLen(src)
	if err != nil {
		return dst, err
	}
	if n > limit {
		return dst, tooLarge(CodecSnappy, limit)
	}
	return snappyBlock(dst, src, n)
}

// unxerial decodes xerial chunks: a big endian int32 length, then a raw
// snappy block of that length. The declared sizes are summed and checked
// against the limit before anything is decoded, so dst grows once.
func unxerial(dst, src []byte, limit int) ([]byte, error) {
	total := 0
	for rest := src; len(rest) > 0; {
		if len(rest) < 4 {
			return dst, errors.New("xerial chunk length truncated")
		}
		size := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(size) > uint64(len(rest)) {
			return dst, fmt.Errorf("xerial chunk of %d bytes, %d present", size, len(rest))
		}
		n, err := s2.DecodedLen(rest[:size])
		if err != nil {
			return dst, err
		}
		if total += n; total > limit {
			return dst, tooLarge(CodecSnappy, limit)
		}
		rest = rest[size:]
	}
	dst = slices.Grow(dst, total)
	for len(src) > 0 {
		size := binary.BigEndian.Uint32(src)
		chunk := src[4 : 4+size]
		n, _ := s2.DecodedLen(chunk)
		var err error
		if dst, err = snappyBlock(dst, chunk, n); err != nil {
			return dst, err
		}
		src = src[4+size:]
	}
	return dst, nil
}

// snappyBlock appends the n decoded bytes of the raw snappy block src.
func snappyBlock(dst, src []byte, n int) ([]byte, error) {
	dst = slices.Grow(dst, n)
	if _, err := s2.Decode(dst[len(dst):len(dst)+n], src); err != nil {
		return dst, err
	}
	return dst[:len(dst)+n], nil
}

// minRead is the least spare capacity handed to a streaming decoder's Read:
// the LZ4 block size Kafka clients use, so lz4 decodes straight into dst.
const minRead = 64 << 10

// readAllLimit appends everything r, a codec's decoder, yields to dst,
// failing with ErrTooLarge once more than limit bytes would be appended.
// srcLen, the compressed size, sizes the first growth.
func readAllLimit(codec Codec, r io.Reader, dst []byte, limit, srcLen int) ([]byte, error) {
	start := len(dst)
	if want := min(max(4*srcLen, minRead), limit+1); cap(dst)-len(dst) < want {
		dst = slices.Grow(dst, want)
	}
	for {
		if cap(dst)-len(dst) < minRead {
			dst = slices.Grow(dst, max(minRead, len(dst)-start))
		}
		// Never read more than one byte past the limit.
		room := min(cap(dst)-len(dst), start+limit+1-len(dst))
		n, err := r.Read(dst[len(dst) : len(dst)+room])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst[:start], tooLarge(codec, limit)
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
