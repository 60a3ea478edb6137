package badinput

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestProduceMutations sends seeded random mutations of valid Produce
// requests, each on a new connection. Invariants:
//
//   - the broker never crashes (it runs in this process: a panic fails the
//     test) and every connection ends: the broker answers or closes, and
//     closes once we close our side;
//   - a connection opened before the mutations, and a new one after them,
//     are still served;
//   - whatever the broker accepted is a valid log: every stored batch has
//     magic 2, a good CRC, offsets that run on from the previous batch, a
//     record count that matches its offsets, and records that decode
//     exactly (after decompression) into that many records.
func TestProduceMutations(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	e := newEnv(t)
	id := e.createTopic("fuzz", 2, nil)
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 2))
	bases := produceBases(t, id)

	w := dial(t, e.c.Addr(), "witness")
	checkServing(t, w)

	outcomes := map[string]int{}
	for i := range n {
		b := bases[rng.IntN(len(bases))]
		f, desc := mutate(rng, b)
		c := dial(t, e.c.Addr(), fmt.Sprintf("mutation %d (%s of %s)", i, desc, b.name))
		c.sendBad(f)
		outcome := "closed, no response"
		if b.req.Acks == 0 {
			outcome = "acks=0, no response"
		}
		for {
			resp, err := c.readFrame()
			if err != nil {
				if !isClosed(err) {
					t.Fatalf("%s: want a response or the connection closed, got %v\nframe: %x", c.label, err, f[:min(len(f), 256)])
				}
				break
			}
			outcome = classify(b.req, resp)
		}
		outcomes[outcome]++
		c.Close()
	}
	var summary []string
	for k, v := range outcomes {
		summary = append(summary, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(summary)
	t.Logf("%d mutations: %s", n, strings.Join(summary, " "))
	// The mutations must reach every layer, or this test proves little.
	for _, want := range []string{"closed, no response", "NONE", kerr.CorruptMessage.Message, kerr.InvalidRecord.Message} {
		if outcomes[want] == 0 {
			t.Errorf("no mutation ended as %s: the mutations do not cover it", want)
		}
	}

	checkServing(t, w)
	fresh := dial(t, e.c.Addr(), "after mutations")
	checkServing(t, fresh)
	stored := checkStoredLog(t, fresh, "fuzz", 2)
	t.Logf("log holds %d valid batches", stored)
	if outcomes["NONE"] > 0 && stored == 0 {
		t.Fatalf("%d produce requests succeeded but the log is empty", outcomes["NONE"])
	}
}

// base is a valid Produce request and its frame.
type base struct {
	name  string
	req   *kmsg.ProduceRequest
	frame []byte
	batch int // offset of the record batch in frame
	size  int // size of the record batch
}

func produceBases(t *testing.T, id [16]byte) []base {
	recs := []record{
		{key: []byte("k1"), value: []byte("first value")},
		{key: nil, value: []byte("v2"), headers: []kmsg.Header{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: nil}}},
		{key: []byte("k3"), value: nil},
		{key: []byte{}, value: bytes.Repeat([]byte("z"), 40)},
	}
	plain := batchBytes(recs, nil)
	gz := compressedBatch(t, recs, 1)
	zs := compressedBatch(t, recs, 4)
	var out []base
	for _, b := range []struct {
		name    string
		version int16
		acks    int16
		batch   []byte
	}{
		{"v3 acks=1", 3, 1, plain},
		{"v9 acks=-1", 9, -1, plain},
		{"v11 acks=-1 gzip", 11, -1, gz},
		{"v13 acks=-1 zstd", 13, -1, zs},
		{"v12 acks=0", 12, 0, plain},
	} {
		req := produceRequest(b.version, "fuzz", id, int32(len(out)%2), b.acks, b.batch)
		f := frame(req, 77)
		at := bytes.Index(f, b.batch)
		if at < 0 {
			t.Fatal("batch not found in its frame")
		}
		out = append(out, base{name: b.name, req: req, frame: f, batch: at, size: len(b.batch)})
	}
	return out
}

// compressedBatch is batchBytes with the records compressed by codec (1
// gzip, 4 zstd).
func compressedBatch(t *testing.T, recs []record, codec int16) []byte {
	plain := batchBytes(recs, nil)
	raw := plain[batchHeaderSize:]
	var z []byte
	switch codec {
	case 1:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		z = buf.Bytes()
	case 4:
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		z = enc.EncodeAll(raw, nil)
		enc.Close()
	}
	return batchBytes(recs, func(b *kmsg.RecordBatch) {
		b.Attributes |= codec
		b.Records = z
		b.Length = int32(49 + len(z))
	})
}

// interesting values for integer fields.
var interesting32 = []int32{0, -1, 1, 2, math.MaxInt32, math.MinInt32, 48, 49, 61, 127, 128, 255, 1 << 20}

// mutate returns a mutated copy of b's frame and what was done.
func mutate(rng *rand.Rand, b base) ([]byte, string) {
	f := bytes.Clone(b.frame)
	fixSize := func() { binary.BigEndian.PutUint32(f, uint32(len(f)-4)) }
	batch := func() []byte { return f[b.batch : b.batch+b.size] }
	body := 4 + rng.IntN(len(f)-4) // a position after the size prefix
	switch op := rng.IntN(10); op {
	case 0:
		k := 1 + rng.IntN(4)
		for range k {
			p := 4 + rng.IntN(len(f)-4)
			f[p] ^= 1 << rng.IntN(8)
		}
		return f, fmt.Sprintf("%d bit flips", k)
	case 1:
		vals := []byte{0, 0xff, 0x7f, 0x80, 1, byte(rng.Uint32())}
		k := 1 + rng.IntN(4)
		for range k {
			f[4+rng.IntN(len(f)-4)] = vals[rng.IntN(len(vals))]
		}
		return f, fmt.Sprintf("%d bytes set", k)
	case 2:
		f = f[:body]
		fixSize()
		return f, fmt.Sprintf("truncated to %d", body)
	case 3:
		extra := make([]byte, 1+rng.IntN(64))
		for i := range extra {
			extra[i] = byte(rng.Uint32())
		}
		f = append(f[:body:body], append(extra, f[body:]...)...)
		fixSize()
		return f, fmt.Sprintf("%d bytes inserted at %d", len(extra), body)
	case 4:
		v := interesting32[rng.IntN(len(interesting32))]
		if rng.IntN(2) == 0 {
			v = int32(len(f)-4) + int32(rng.IntN(9)) - 4
		}
		binary.BigEndian.PutUint32(f, uint32(v))
		return f, fmt.Sprintf("size set to %d", v)
	case 5, 6:
		// Bytes inside the batch with the CRC fixed: the request decodes
		// and the batch passes its CRC, so validation must catch it.
		bb := batch()
		k := 1 + rng.IntN(3)
		for range k {
			p := batchAttributesAt + rng.IntN(len(bb)-batchAttributesAt)
			if rng.IntN(2) == 0 {
				bb[p] ^= 1 << rng.IntN(8)
			} else {
				bb[p] = byte(rng.Uint32())
			}
		}
		fixCRC(bb)
		return f, fmt.Sprintf("%d batch bytes changed, crc fixed", k)
	case 7:
		// An int32 header field of the batch set to an interesting value,
		// CRC fixed (length and count included: fixCRC copes).
		fields := []struct {
			name string
			at   int
		}{{"length", batchLengthAt}, {"leader epoch", 12}, {"last offset delta", 23}, {"base sequence", 53}, {"record count", batchCountAt}}
		fd := fields[rng.IntN(len(fields))]
		v := interesting32[rng.IntN(len(interesting32))]
		bb := batch()
		binary.BigEndian.PutUint32(bb[fd.at:], uint32(v))
		fixCRC(bb)
		return f, fmt.Sprintf("batch %s set to %d, crc fixed", fd.name, v)
	case 8:
		// A varint in the records made huge or negative, CRC fixed.
		bb := batch()
		p := batchHeaderSize + rng.IntN(len(bb)-batchHeaderSize)
		run := []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // 0x7fffffff zigzag: -2^31
		if rng.IntN(2) == 0 {
			run = []byte{0x01} // -1
		}
		copy(bb[p:], run)
		fixCRC(bb)
		return f, fmt.Sprintf("varint %x at record byte %d, crc fixed", run, p-batchHeaderSize)
	default:
		// A region duplicated in place.
		from := 4 + rng.IntN(len(f)-4)
		to := min(len(f), from+1+rng.IntN(32))
		f = append(f[:to:to], f[from:]...)
		fixSize()
		return f, fmt.Sprintf("bytes %d-%d duplicated", from, to)
	}
}

// classify names the outcome of one response frame: the produce error
// name, or how it failed to decode.
func classify(req *kmsg.ProduceRequest, frame []byte) string {
	if len(frame) < 4 {
		return "short response"
	}
	corr := int32(binary.BigEndian.Uint32(frame))
	resp, err := decodeResponse(req, corr, frame)
	if err != nil {
		return "other response"
	}
	pr := resp.(*kmsg.ProduceResponse)
	if len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
		return "other response"
	}
	code := pr.Topics[0].Partitions[0].ErrorCode
	if code == 0 {
		return "NONE"
	}
	if err := kerr.ErrorForCode(code); err != nil {
		if ke, ok := err.(*kerr.Error); ok {
			return ke.Message
		}
	}
	return fmt.Sprintf("code %d", code)
}

// checkStoredLog fetches every partition of topic from offset 0 to its
// high watermark and checks each batch strictly. It returns the number of
// batches.
func checkStoredLog(t *testing.T, c *conn, topic string, partitions int32) int {
	t.Helper()
	batches := 0
	for p := range partitions {
		next := int64(0)
		for {
			req := kmsg.NewPtrFetchRequest()
			req.Version = 12
			req.ReplicaID = -1
			req.MaxBytes = 16 << 20
			req.SessionEpoch = -1
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = p
			rp.FetchOffset = next
			rp.PartitionMaxBytes = 8 << 20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := c.roundTrip(req).(*kmsg.FetchResponse)
			if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("fetch %s-%d@%d: error %d, %d topics", topic, p, next, resp.ErrorCode, len(resp.Topics))
			}
			fp := resp.Topics[0].Partitions[0]
			if fp.ErrorCode != 0 {
				t.Fatalf("fetch %s-%d@%d: %v", topic, p, next, kerr.ErrorForCode(fp.ErrorCode))
			}
			if next >= fp.HighWatermark {
				break
			}
			data := fp.RecordBatches
			progressed := false
			for len(data) >= 12 {
				size := 12 + int(int32(binary.BigEndian.Uint32(data[8:])))
				if size > len(data) {
					break // a partial batch at the end of the response
				}
				if err := checkBatch(data[:size], next); err != nil {
					t.Fatalf("%s-%d: the broker stored an invalid batch at offset %d: %v\nbatch: %x", topic, p, next, err, data[:min(size, 512)])
				}
				h := kmsg.RecordBatch{}
				h.ReadFrom(data[:size])
				next = h.FirstOffset + int64(h.LastOffsetDelta) + 1
				batches++
				progressed = true
				data = data[size:]
			}
			if !progressed {
				t.Fatalf("fetch %s-%d@%d below the high watermark %d returned no whole batch", topic, p, next, fp.HighWatermark)
			}
		}
	}
	return batches
}

// checkBatch checks one stored batch, which must start at offset want.
func checkBatch(b []byte, want int64) error {
	var h kmsg.RecordBatch
	if len(b) < batchHeaderSize {
		return fmt.Errorf("%d bytes, shorter than a batch header", len(b))
	}
	if err := h.ReadFrom(b); err != nil {
		return err
	}
	if h.Magic != 2 {
		return fmt.Errorf("magic %d", h.Magic)
	}
	if got := crcOf(b); uint32(h.CRC) != got {
		return fmt.Errorf("crc %08x, computed %08x", uint32(h.CRC), got)
	}
	if h.FirstOffset != want {
		return fmt.Errorf("base offset %d, want %d (offsets must run on)", h.FirstOffset, want)
	}
	if h.NumRecords <= 0 || h.LastOffsetDelta != h.NumRecords-1 {
		return fmt.Errorf("%d records with last offset delta %d", h.NumRecords, h.LastOffsetDelta)
	}
	raw := h.Records
	switch codec := h.Attributes & 7; codec {
	case 0:
	case 1:
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
	case 4:
		dec, err := zstd.NewReader(nil)
		if err != nil {
			return err
		}
		defer dec.Close()
		if raw, err = dec.DecodeAll(raw, nil); err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
	default:
		// The inputs only ever hold gzip and zstd data.
		return fmt.Errorf("codec %d, which no request carried valid data for", codec)
	}
	return checkRecords(raw, h.NumRecords)
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b[batchAttributesAt:], castagnoli) }

// checkRecords decodes exactly n records from raw, strictly: every length
// in range, offset deltas 0..n-1, no byte left over.
func checkRecords(raw []byte, n int32) error {
	r := varintReader{b: raw}
	for i := range n {
		length := r.varint()
		if r.err != nil || length < 0 || length > int64(len(r.b)) {
			return fmt.Errorf("record %d: length %d with %d bytes left (%v)", i, length, len(r.b), r.err)
		}
		rec := varintReader{b: r.b[:length]}
		r.b = r.b[length:]
		rec.bytes(1) // attributes
		rec.varint() // timestamp delta
		if d := rec.varint(); d != int64(i) && rec.err == nil {
			return fmt.Errorf("record %d: offset delta %d", i, d)
		}
		rec.nullableBytes() // key
		rec.nullableBytes() // value
		headers := rec.varint()
		if headers < 0 && rec.err == nil {
			return fmt.Errorf("record %d: %d headers", i, headers)
		}
		for range headers {
			k := rec.varint()
			if rec.err == nil && k < 0 {
				return fmt.Errorf("record %d: header key length %d", i, k)
			}
			rec.bytes(int(k))
			rec.nullableBytes()
			if rec.err != nil {
				break
			}
		}
		if rec.err != nil {
			return fmt.Errorf("record %d: %w", i, rec.err)
		}
		if len(rec.b) != 0 {
			return fmt.Errorf("record %d: %d bytes past its fields", i, len(rec.b))
		}
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d bytes after %d records", len(r.b), n)
	}
	return nil
}

// varintReader reads Kafka's zigzag varints; the first error sticks.
type varintReader struct {
	b   []byte
	err error
}

func (r *varintReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Varint(r.b)
	if k <= 0 {
		r.err = fmt.Errorf("bad varint")
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *varintReader) bytes(n int) {
	if r.err != nil {
		return
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%d bytes wanted, %d left", n, len(r.b))
		return
	}
	r.b = r.b[n:]
}

func (r *varintReader) nullableBytes() {
	n := r.varint()
	if r.err == nil && n < -1 {
		r.err = fmt.Errorf("length %d", n)
		return
	}
	if n > 0 {
		r.bytes(int(n))
	}
}
