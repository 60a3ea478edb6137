package storage

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gregor-streaming/gregor/internal/record"
)

var allCodecs = []record.Codec{record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd}

// TestTimestampLookupsCompressed looks up timestamps inside compressed
// batches whose record timestamps are out of order. Kafka decompresses the
// batch and answers with the record itself: FileRecords.searchForTimestamp
// returns the first record with timestamp >= target, and KIP-734's
// MAX_TIMESTAMP is RecordBatch.offsetOfMaxTimestamp, the first record
// carrying the batch's max timestamp.
func TestTimestampLookupsCompressed(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			l := openLog(t, t.TempDir(), testConfig(), Options{})
			defer l.Close()
			// offset: 0     1     2     3     4     5     6     7
			// ts:     1000  1010  1020  1040  1030  1040  1005  1040
			mustAppend(t, l, makeBatch(batchSpec{timestamps: []int64{1000, 1010, 1020, 1040, 1030}, valueSize: 100, codec: codec}), 3)
			mustAppend(t, l, makeBatch(batchSpec{timestamps: []int64{1040, 1005, 1040}, valueSize: 100, codec: codec}), 4)
			for _, c := range []struct {
				ts, wantOff, wantTs int64
				wantEpoch           int32
			}{
				{0, 0, 1000, 3},
				{1020, 2, 1020, 3},
				{1025, 3, 1040, 3}, // not the 1030 after it, nor the base offset
				{1031, 3, 1040, 3},
				{1040, 3, 1040, 3},
			} {
				r, ok, err := l.FindOffsetByTimestamp(c.ts)
				if err != nil || !ok || r.Offset != c.wantOff || r.Timestamp != c.wantTs || r.LeaderEpoch != c.wantEpoch {
					t.Errorf("FindOffsetByTimestamp(%d) = %+v, %v, %v; want offset %d ts %d epoch %d", c.ts, r, ok, err, c.wantOff, c.wantTs, c.wantEpoch)
				}
			}
			if _, ok, err := l.FindOffsetByTimestamp(1041); ok || err != nil {
				t.Errorf("FindOffsetByTimestamp(1041) = %v, %v", ok, err)
			}
			// The max timestamp 1040 is in both batches; the first record
			// holding it wins.
			if r, err := l.MaxTimestampAndOffset(); err != nil || r.Timestamp != 1040 || r.Offset != 3 || r.LeaderEpoch != 3 {
				t.Errorf("MaxTimestampAndOffset = %+v, %v; want 1040 at 3, epoch 3", r, err)
			}

			// The log start offset inside a compressed batch: records
			// below it are skipped, the rest of the batch still counts.
			l.SetHighWatermark(8)
			if _, err := l.DeleteRecordsBefore(4); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ ts, wantOff, wantTs int64 }{
				{0, 4, 1030},
				{1031, 5, 1040},
				{1001, 4, 1030},
			} {
				if off, ts, ok := l.OffsetForTimestamp(c.ts); !ok || off != c.wantOff || ts != c.wantTs {
					t.Errorf("after DeleteRecords(4): OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d", c.ts, off, ts, ok, c.wantOff, c.wantTs)
				}
			}
		})
	}
}

// TestTimestampLookupsCompressedLogAppendTime: in a LogAppendTime batch
// every record has the batch's max timestamp (DefaultRecordBatch), so the
// answer is the batch's first record.
func TestTimestampLookupsCompressedLogAppendTime(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	mustAppend(t, l, makeBatch(batchSpec{timestamps: []int64{10, 20}, codec: record.CodecLZ4}), 0)
	if _, err := l.Append(makeBatch(batchSpec{timestamps: []int64{900, 100, 500}, codec: record.CodecGzip}), 1, 700); err != nil {
		t.Fatal(err)
	}
	if off, ts, ok := l.OffsetForTimestamp(21); !ok || off != 2 || ts != 700 {
		t.Errorf("OffsetForTimestamp(21) = %d, %d, %v; want 2, 700", off, ts, ok)
	}
	if r, err := l.MaxTimestampAndOffset(); err != nil || r.Timestamp != 700 || r.Offset != 2 || r.LeaderEpoch != 1 {
		t.Errorf("MaxTimestampAndOffset = %+v, %v; want 700 at 2, epoch 1", r, err)
	}
}

// TestTimestampLookupsCorruptCompressed: a batch whose compressed records
// cannot be decoded is reported as corruption, not answered.
func TestTimestampLookupsCorruptCompressed(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	b := makeBatch(batchSpec{timestamps: []int64{100, 300}, valueSize: 50})
	// Mark the plain records zstd-compressed; the CRC stays valid.
	b[22] |= byte(record.CodecZstd) // low byte of the attributes
	binary.BigEndian.PutUint32(b[17:], record.ComputeCRC(b))
	mustAppend(t, l, b, 0)
	if _, _, err := l.FindOffsetByTimestamp(200); !IsCorruption(err) {
		t.Errorf("FindOffsetByTimestamp error %v, want corruption", err)
	}
	if _, err := l.MaxTimestampAndOffset(); !IsCorruption(err) {
		t.Errorf("MaxTimestampAndOffset error %v, want corruption", err)
	}
	if _, _, ok := l.OffsetForTimestamp(200); ok {
		t.Error("OffsetForTimestamp answered from an undecodable batch")
	}
}

// modelRecord is one record as the naive model sees it.
type modelRecord struct {
	offset, ts int64
	epoch      int32
}

// TestTimestampLookupsModel checks the indexed, segment-by-segment lookups
// against a naive scan of every record (Reference: STYLE.md, property
// tests against a naive model): random batches of every codec, with
// out-of-order and repeated timestamps, some stamped with LogAppendTime,
// over several segments and index entries, before and after a clean and an
// unclean reopen.
func TestTimestampLookupsModel(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			dir := t.TempDir()
			cfg := testConfig()
			cfg.SegmentBytes = 1500
			cfg.IndexIntervalBytes = 200
			l := openLog(t, dir, cfg, Options{})
			var model []modelRecord
			for i := range 60 {
				n := 1 + rng.IntN(6)
				tss := make([]int64, n)
				for j := range tss {
					tss[j] = 1000 + rng.Int64N(300) + int64(i*5)
				}
				epoch := int32(i / 10)
				appendTime := int64(-1)
				if rng.IntN(6) == 0 {
					appendTime = 1000 + rng.Int64N(600)
				}
				b := makeBatch(batchSpec{timestamps: tss, valueSize: rng.IntN(80), epoch: -1, codec: allCodecs[rng.IntN(len(allCodecs))]})
				info, err := l.Append(b, epoch, appendTime)
				if err != nil {
					t.Fatal(err)
				}
				for j, ts := range tss {
					if appendTime >= 0 {
						ts = appendTime
					}
					model = append(model, modelRecord{info.FirstOffset + int64(j), ts, epoch})
				}
			}
			if l.NumSegments() < 3 {
				t.Fatalf("only %d segments", l.NumSegments())
			}
			check := func(when string) {
				t.Helper()
				for ts := int64(990); ts <= 1900; ts += 3 {
					want, wantOK := modelRecord{}, false
					for _, r := range model {
						if r.ts >= ts {
							want, wantOK = r, true
							break
						}
					}
					r, ok, err := l.FindOffsetByTimestamp(ts)
					if err != nil || ok != wantOK || (ok && (r.Offset != want.offset || r.Timestamp != want.ts || r.LeaderEpoch != want.epoch)) {
						t.Fatalf("%s: FindOffsetByTimestamp(%d) = %+v, %v, %v; want %+v, %v", when, ts, r, ok, err, want, wantOK)
					}
				}
				best := model[0]
				for _, r := range model {
					if r.ts > best.ts {
						best = r
					}
				}
				if r, err := l.MaxTimestampAndOffset(); err != nil || r.Offset != best.offset || r.Timestamp != best.ts || r.LeaderEpoch != best.epoch {
					t.Fatalf("%s: MaxTimestampAndOffset = %+v, %v; want %+v", when, r, err, best)
				}
			}
			check("after appends")

			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			end := int64(len(model))
			l = openLog(t, dir, cfg, Options{CleanShutdown: true, RecoveryPoint: end, HighWatermark: end})
			check("after a clean reopen")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, cfg, Options{HighWatermark: end})
			defer l.Close()
			check("after recovery")
		})
	}
}
