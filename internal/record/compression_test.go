package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func compressionInputs() map[string][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog "), 5000)
	return map[string][]byte{
		"empty":  {},
		"byte":   {42},
		"text":   text,
		"random": random,
		"zeros":  make([]byte, 2<<20),
	}
}

func mustCompress(t testing.TB, codec Codec, src []byte) []byte {
	t.Helper()
	out, err := Compress(codec, nil, src)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCompressionRoundTrip(t *testing.T) {
	for name, src := range compressionInputs() {
		for _, codec := range allCodecs {
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				comp, err := Compress(codec, []byte("pre"), src)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(comp, []byte("pre")) {
					t.Fatal("Compress did not append")
				}
				got, err := Decompress(codec, comp[3:])
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, src) {
					t.Fatalf("round trip: %d bytes, want %d", len(got), len(src))
				}
				got, err = DecompressAppend(codec, []byte("pre"), comp[3:], len(src))
				if err != nil || !bytes.Equal(got, append([]byte("pre"), src...)) {
					t.Fatalf("DecompressAppend at the exact limit: %v", err)
				}
				if len(src) > 1 { // a limit of 0 means the default
					out, err := DecompressAppend(codec, []byte("pre"), comp[3:], len(src)-1)
					if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt) {
						t.Fatalf("limit one below: %v", err)
					}
					if string(out) != "pre" {
						t.Fatalf("on error returned %q, want dst", out)
					}
				}
			})
		}
	}
}

func TestDecompressCorrupt(t *testing.T) {
	src := bytes.Repeat([]byte("some data that compresses "), 1000)
	for _, codec := range allCodecs[1:] {
		t.Run(codec.String(), func(t *testing.T) {
			comp := mustCompress(t, codec, src)
			for name, bad := range map[string][]byte{
				"truncated": comp[:len(comp)/2],
				"garbage":   []byte("this is not a compressed stream at all"),
				"flipped":   func() []byte { b := bytes.Clone(comp); b[len(b)/2] ^= 0xff; b[len(b)-3] ^= 0xff; return b }(),
			} {
				out, err := DecompressAppend(codec, []byte("x"), bad, 0)
				if !errors.Is(err, ErrCorrupt) || string(out) != "x" {
					t.Errorf("%s: %v, %q", name, err, out)
				}
			}
		})
	}
}

func TestUnknownCodec(t *testing.T) {
	for _, c := range []Codec{5, 6, 7, -1} {
		if _, err := Compress(c, nil, []byte("x")); !errors.Is(err, ErrUnsupportedCompression) {
			t.Errorf("Compress(%v): %v", c, err)
		}
		if _, err := Decompress(c, []byte("x")); !errors.Is(err, ErrUnsupportedCompression) {
			t.Errorf("Decompress(%v): %v", c, err)
		}
	}
}

// Kafka readers accept concatenated gzip members, lz4 frames and zstd
// frames; so do we.
func TestDecompressConcatenated(t *testing.T) {
	a, b := []byte("first part, "), bytes.Repeat([]byte("second part "), 100)
	for _, codec := range []Codec{CodecGzip, CodecLZ4, CodecZstd} {
		comp := append(mustCompress(t, codec, a), mustCompress(t, codec, b)...)
		got, err := Decompress(codec, comp)
		if err != nil || !bytes.Equal(got, append(bytes.Clone(a), b...)) {
			t.Errorf("%v: %q, %v", codec, got, err)
		}
	}
}

func TestXerial(t *testing.T) {
	src := bytes.Repeat([]byte("xerial framed snappy "), 10000)
	framed := xerialFrame(src, 32<<10)
	got, err := Decompress(CodecSnappy, framed)
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("%v", err)
	}
	if _, err := DecompressAppend(CodecSnappy, nil, framed, len(src)-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit: %v", err)
	}
	if got, err := Decompress(CodecSnappy, xerialFrame(nil, 1)); err != nil || len(got) != 0 {
		t.Fatalf("no chunks: %q, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"chunk past end":      framed[:len(framed)-1],
		"short chunk length":  append(bytes.Clone(framed), 0, 0),
		"garbage chunk":       append(bytes.Clone(framed[:16]), 0, 0, 0, 3, 0xff, 0xff, 0xff),
		"huge chunk length":   append(bytes.Clone(framed[:16]), 0xff, 0xff, 0xff, 0xff, 1),
		"bad block in stream": append(xerialFrame([]byte("ok"), 10), 0, 0, 0, 2, 5, 0xff),
	} {
		if _, err := Decompress(CodecSnappy, bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestZipBombs decompresses small inputs that expand far past the limit.
// Each must fail with ErrTooLarge, and declared sizes must be refused before
// anything is allocated for them.
func TestZipBombs(t *testing.T) {
	zeros := make([]byte, 8<<20)
	for _, codec := range allCodecs[1:] {
		bomb := mustCompress(t, codec, zeros)
		if _, err := DecompressAppend(codec, nil, bomb, 1<<20); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%v bomb of %d bytes: %v", codec, len(bomb), err)
		}
	}

	// A zstd frame declaring 1 TiB of content: single segment, 8-byte
	// frame content size, then one RLE block of a single byte.
	zstdFCS := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	zstdFCS = append(zstdFCS, 0xE0)
	zstdFCS = binary.LittleEndian.AppendUint64(zstdFCS, 1<<40)
	zstdFCS = append(zstdFCS, 0x0B, 0, 0, 'x')
	// A raw snappy block declaring 4 GiB - 1.
	snappyLen := append(binary.AppendUvarint(nil, 1<<32-1), 0)
	// A xerial stream whose chunks declare 4 GiB - 1 each.
	xerial := xerialFrame(nil, 1)
	for range 4 {
		xerial = binary.BigEndian.AppendUint32(xerial, uint32(len(snappyLen)))
		xerial = append(xerial, snappyLen...)
	}
	for name, tc := range map[string]struct {
		codec Codec
		src   []byte
	}{
		"zstd content size": {CodecZstd, zstdFCS},
		"snappy length":     {CodecSnappy, snappyLen},
		"xerial lengths":    {CodecSnappy, xerial},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Decompress(tc.codec, tc.src)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}
}

// TestZipBombDefaultLimit checks the default bound with a real stream.
func TestZipBombDefaultLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~130 MB")
	}
	bomb := mustCompress(t, CodecZstd, make([]byte, DefaultMaxDecompressedSize+1))
	if _, err := Decompress(CodecZstd, bomb); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d-byte bomb: %v", len(bomb), err)
	}
	if got, err := Decompress(CodecZstd, mustCompress(t, CodecZstd, make([]byte, 1<<20))); err != nil || len(got) != 1<<20 {
		t.Fatalf("after a bomb: %d, %v", len(got), err)
	}
}

// TestZstdLimitSwitch checks that a pooled zstd decoder takes each call's
// limit, not the one it was last used with.
func TestZstdLimitSwitch(t *testing.T) {
	src := make([]byte, 100<<10)
	comp := mustCompress(t, CodecZstd, src)
	for range 3 {
		if _, err := DecompressAppend(CodecZstd, nil, comp, 1000); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("small limit: %v", err)
		}
		if got, err := DecompressAppend(CodecZstd, nil, comp, len(src)); err != nil || len(got) != len(src) {
			t.Fatalf("exact limit: %v", err)
		}
	}
	// With room after a prefix, the output lands in place.
	dst := append(make([]byte, 0, 1<<20), "pre"...)
	got, err := DecompressAppend(CodecZstd, dst, comp, len(src))
	if err != nil || &got[0] != &dst[0] || string(got[:3]) != "pre" || !bytes.Equal(got[3:], src) {
		t.Fatalf("in place: %v", err)
	}
	// Frames without a declared size are bounded while decoding.
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	var buf bytes.Buffer
	enc.Reset(&buf)
	enc.Write(src)
	enc.Close()
	if _, err := DecompressAppend(CodecZstd, nil, buf.Bytes(), 1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("streamed frame: %v", err)
	}
}

func TestCompressionConcurrent(t *testing.T) {
	src := bytes.Repeat([]byte("concurrent "), 3000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				codec := allCodecs[(g+i)%len(allCodecs)]
				comp, err := Compress(codec, nil, src)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := DecompressAppend(codec, nil, comp, len(src)+i)
				if err != nil || !bytes.Equal(got, src) {
					t.Errorf("%v: %v", codec, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
