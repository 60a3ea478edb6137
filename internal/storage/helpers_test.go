package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/record"
)

// batchSpec describes a test batch.
type batchSpec struct {
	base       int64
	timestamps []int64 // one per record
	valueSize  int
	epoch      int32
	codec      record.Codec // compresses the records
}

// makeBatch builds a RecordBatch v2 with a correct CRC.
func makeBatch(spec batchSpec) []byte {
	if len(spec.timestamps) == 0 {
		spec.timestamps = []int64{0}
	}
	first, maxTs := spec.timestamps[0], spec.timestamps[0]
	var recs []byte
	for i, ts := range spec.timestamps {
		maxTs = max(maxTs, ts)
		r := kmsg.Record{
			TimestampDelta64: ts - first,
			OffsetDelta:      int32(i),
			Key:              []byte{byte(i)},
			Value:            bytes.Repeat([]byte{byte(spec.base + int64(i))}, spec.valueSize),
		}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the zero Length encodes in one byte
		recs = r.AppendTo(recs)
	}
	if spec.codec != record.CodecNone {
		var err error
		if recs, err = record.Compress(spec.codec, nil, recs); err != nil {
			panic(err)
		}
	}
	b := kmsg.RecordBatch{
		FirstOffset:          spec.base,
		Length:               int32(record.HeaderSize - record.LogOverhead + len(recs)),
		PartitionLeaderEpoch: spec.epoch,
		Magic:                2,
		Attributes:           int16(spec.codec),
		LastOffsetDelta:      int32(len(spec.timestamps) - 1),
		FirstTimestamp:       first,
		MaxTimestamp:         maxTs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(spec.timestamps)),
		Records:              recs,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:], record.ComputeCRC(out))
	return out
}

// simpleBatch is a batch of n records, all with timestamp ts.
func simpleBatch(n int, ts int64, valueSize int) []byte {
	tss := make([]int64, n)
	for i := range tss {
		tss[i] = ts
	}
	return makeBatch(batchSpec{timestamps: tss, valueSize: valueSize, epoch: -1})
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Ms() int64 { return c.Now().UnixMilli() }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.FileDeleteDelayMs = 0
	return cfg
}

func openLog(t testing.TB, dir string, cfg Config, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	l, err := Open(dir, cfg, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte, epoch int32) AppendInfo {
	t.Helper()
	info, err := l.Append(b, epoch, -1)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return info
}

// batchesOf splits data into batches, failing on bad framing or CRC.
func batchesOf(t testing.TB, data []byte) []record.Header {
	t.Helper()
	var hs []record.Header
	err := record.Batches(data, func(h record.Header, b []byte) error {
		if err := record.CheckCRC(b); err != nil {
			return err
		}
		hs = append(hs, h)
		return nil
	})
	if err != nil {
		t.Fatalf("batches: %v", err)
	}
	return hs
}

// readAll reads every batch from the log start to maxOffset.
func readAll(t testing.TB, l *Log, maxOffset int64) []byte {
	t.Helper()
	var out []byte
	off := l.LogStartOffset()
	for {
		info, err := l.Read(off, 1<<20, maxOffset, true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(info.Data) == 0 {
			return out
		}
		hs := batchesOf(t, info.Data)
		out = append(out, info.Data...)
		off = hs[len(hs)-1].NextOffset()
	}
}

func segmentFiles(t testing.TB, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}
