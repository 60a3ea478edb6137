package storage

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/record"
)

// cleanRecord is one record as appended, for the naive model of a
// compacted log.
type cleanRecord struct {
	offset int64
	key    []byte // nil: no key
	value  []byte // nil: tombstone
	ts     int64
}

func (r cleanRecord) String() string {
	return fmt.Sprintf("%d:%q=%q@%d", r.offset, r.key, r.value, r.ts)
}

func sameRecord(a, b cleanRecord) bool {
	return a.offset == b.offset && a.ts == b.ts && sameNullable(a.key, b.key) && sameNullable(a.value, b.value)
}

func sameNullable(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// keyedBatch builds a batch of records for Log.Append, timestamps from ts.
func keyedBatch(t testing.TB, codec record.Codec, ts int64, recs []cleanRecord) []byte {
	t.Helper()
	rs := make([]record.Record, len(recs))
	for i, r := range recs {
		rs[i] = record.Record{TimestampDelta: r.ts - ts, Key: r.key, Value: r.value}
	}
	b, err := record.Build(record.BuildOptions{Codec: codec, BaseTimestamp: ts, PartitionLeaderEpoch: -1,
		ProducerID: record.NoProducerID, ProducerEpoch: record.NoProducerEpoch, BaseSequence: record.NoSequence}, rs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logRecords reads every record of l, with offsets, checking each batch's
// CRC and that offsets increase.
func logRecords(t testing.TB, l *Log) []cleanRecord {
	t.Helper()
	var out []cleanRecord
	data := readAll(t, l, math.MaxInt64)
	err := record.Batches(data, func(h record.Header, b []byte) error {
		if err := record.CheckCRC(b); err != nil {
			return err
		}
		return record.Records(b, func(r record.Record) error {
			off := h.BaseOffset + int64(r.OffsetDelta)
			if n := len(out); n > 0 && off <= out[n-1].offset {
				return fmt.Errorf("offset %d after %d", off, out[n-1].offset)
			}
			ts := h.BaseTimestamp + r.TimestampDelta
			if h.IsLogAppendTime() {
				ts = h.MaxTimestamp
			}
			out = append(out, cleanRecord{offset: off, key: bytes.Clone(r.Key), value: bytes.Clone(r.Value), ts: ts})
			return nil
		})
	})
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	return out
}

// compactedModel is the naive model of a compacted log: the records it
// holds. A cleaning up to end at nowMs (Kafka's contract) removes, below
// end, records without a key, records that are not their key's latest, and
// tombstones whose delete horizon has passed; the horizon is set, to now +
// delete.retention.ms, by the first cleaning that keeps a tombstone.
type compactedModel struct {
	records   []cleanRecord
	retention int64
	horizon   map[int64]int64 // by tombstone offset
}

func newCompactedModel(retention int64) *compactedModel {
	return &compactedModel{retention: retention, horizon: map[int64]int64{}}
}

func (m *compactedModel) clean(end, nowMs int64) {
	latest := map[string]int64{}
	for _, r := range m.records {
		if r.offset < end && r.key != nil {
			latest[string(r.key)] = r.offset
		}
	}
	kept := m.records[:0]
	for _, r := range m.records {
		if r.offset < end {
			if r.key == nil || latest[string(r.key)] != r.offset {
				continue
			}
			if h, ok := m.horizon[r.offset]; r.value == nil && ok && nowMs >= h {
				continue
			}
		}
		kept = append(kept, r)
	}
	m.records = kept
	for _, r := range m.records {
		if _, ok := m.horizon[r.offset]; r.offset < end && r.value == nil && !ok {
			m.horizon[r.offset] = nowMs + m.retention
		}
	}
}

func diffRecords(t testing.TB, what string, got, want []cleanRecord) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Fatalf("%s: record %v missing (%d records, want %d)", what, want[i], len(got), len(want))
		case i >= len(want):
			t.Fatalf("%s: extra record %v (%d records, want %d)", what, got[i], len(got), len(want))
		case !sameRecord(got[i], want[i]):
			t.Fatalf("%s: record %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

func testCleaner() *cleaner { return newCleaner(quietLogger(), 1<<20, 0.9, 64<<10) }

func noAbort() error { return nil }

// cleanLog runs one cleaning of l from checkpoint (-1: none) as the
// cleaner would and returns the new checkpoint, or the old one if nothing
// was cleanable.
func cleanLog(t testing.TB, c *cleaner, l *Log, checkpoint int64, nowMs int64) int64 {
	t.Helper()
	end, _ := cleanLogRan(t, c, l, checkpoint, nowMs)
	return end
}

// cleanLogRan is cleanLog that also reports whether a cleaning ran.
func cleanLogRan(t testing.TB, c *cleaner, l *Log, checkpoint int64, nowMs int64) (int64, bool) {
	t.Helper()
	rng, err := l.cleanableRange(checkpoint, checkpoint >= 0, nowMs)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.clean(l, rng, nowMs, noAbort)
	if err != nil {
		t.Fatalf("clean: %v", err)
	}
	if st.endOffset < 0 {
		return checkpoint, false
	}
	return st.endOffset, true
}

// TestCleanerMatchesModel is the cleaner's property test against a naive
// model: random keys, values, tombstones and keyless records in batches of
// random codecs, random segment rolls, a high watermark that lags the log
// end, cleanings at random times, reopens (clean and with a full recovery
// scan). After each cleaning the log must read as the model says: offsets
// and timestamps kept, the latest record per key below the checkpoint,
// tombstones gone once delete.retention.ms has passed since the cleaning
// that first kept them, everything above the checkpoint.
func TestCleanerMatchesModel(t *testing.T) {
	seeds := 16
	if testing.Short() {
		seeds = 6
	}
	codecs := []record.Codec{record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(seed), 77))
			dir := t.TempDir()
			clock := newFakeClock()
			cfg := testConfig()
			cfg.Compact = true
			cfg.SegmentBytes = int64(600 + rng.IntN(3000))
			cfg.IndexIntervalBytes = int32(rng.IntN(400))
			cfg.SegmentIndexBytes = int32(8 * (4 + rng.IntN(60)))
			cfg.SegmentMs = 1000
			cfg.DeleteRetentionMs = int64(rng.IntN(3)) * 500
			l := openLog(t, dir, cfg, Options{Now: clock.Now})
			defer func() { l.Close() }()
			model := newCompactedModel(cfg.DeleteRetentionMs)
			c := testCleaner()
			checkpoint := int64(-1)
			keys := 1 + rng.IntN(25)
			codecOf := map[int64]record.Codec{}
			hw := int64(0)
			for round := 0; round < 8; round++ {
				for range 1 + rng.IntN(40) {
					if rng.IntN(15) == 0 {
						clock.Advance(1100 * time.Millisecond) // past segment.ms: the next append rolls
					}
					n := 1 + rng.IntN(6)
					ts := clock.Ms() - int64(rng.IntN(100))
					recs := make([]cleanRecord, n)
					for i := range recs {
						r := cleanRecord{ts: ts + int64(i)}
						if rng.IntN(30) != 0 {
							r.key = fmt.Appendf(nil, "key-%d", rng.IntN(keys))
						}
						if rng.IntN(5) != 0 {
							r.value = fmt.Appendf(nil, "v%d-%s", rng.IntN(1000), bytes.Repeat([]byte("x"), rng.IntN(60)))
						}
						recs[i] = r
					}
					codec := codecs[rng.IntN(len(codecs))]
					info := mustAppend(t, l, keyedBatch(t, codec, ts, recs), 0)
					codecOf[info.FirstOffset] = codec
					for i := range recs {
						recs[i].offset = info.FirstOffset + int64(i)
					}
					model.records = append(model.records, recs...)
				}
				// The high watermark lags: the cleaner must stay below it.
				hw = hw + rng.Int64N(l.LogEndOffset()-hw+1)
				l.SetHighWatermark(hw)
				clock.Advance(time.Duration(rng.IntN(1200)) * time.Millisecond)
				now := clock.Ms()
				var ran bool
				checkpoint, ran = cleanLogRan(t, c, l, checkpoint, now)
				if checkpoint > hw {
					t.Fatalf("cleaned up to %d, above the high watermark %d", checkpoint, hw)
				}
				if ran {
					model.clean(checkpoint, now)
				}
				diffRecords(t, fmt.Sprintf("round %d, checkpoint %d", round, checkpoint), logRecords(t, l), model.records)
				checkCodecs(t, l, codecOf)

				switch rng.IntN(3) {
				case 0: // clean reopen
					if err := l.Close(); err != nil {
						t.Fatal(err)
					}
					l = openLog(t, dir, cfg, Options{Now: clock.Now, CleanShutdown: true, RecoveryPoint: l.LogEndOffset(), HighWatermark: hw})
				case 1: // unclean reopen: every segment scanned
					if err := l.Close(); err != nil {
						t.Fatal(err)
					}
					l = openLog(t, dir, cfg, Options{Now: clock.Now, HighWatermark: hw})
				}
				diffRecords(t, fmt.Sprintf("round %d after reopen", round), logRecords(t, l), model.records)
			}
			// Everything committed and enough time: one more cleaning up to
			// the active segment, and one of the whole log (the horizons
			// set by the first may have passed already, with a zero
			// retention), leave one record per key there, no expired
			// tombstone and no keyless record.
			l.SetHighWatermark(l.LogEndOffset())
			clock.Advance(time.Duration(cfg.DeleteRetentionMs+1) * time.Millisecond)
			now := clock.Ms()
			if end, ran := cleanLogRan(t, c, l, checkpoint, now); ran {
				checkpoint = end
				model.clean(checkpoint, now)
			}
			checkpoint = cleanLog(t, c, l, -1, now)
			model.clean(checkpoint, now)
			got := logRecords(t, l)
			diffRecords(t, "final", got, model.records)
			seen := map[string]bool{}
			for _, r := range got {
				if r.offset >= checkpoint {
					break
				}
				if r.key == nil || seen[string(r.key)] || (r.value == nil && cfg.DeleteRetentionMs == 0) {
					t.Fatalf("record %v below the checkpoint %d", r, checkpoint)
				}
				seen[string(r.key)] = true
			}
			if files := segmentFiles(t, dir, cleanedSuffix); len(files) > 0 {
				t.Fatalf("leftover %v", files)
			}
		})
	}
}

// checkCodecs checks that every batch with records kept the codec it was
// appended with (empty batches are written uncompressed, as in Kafka).
func checkCodecs(t testing.TB, l *Log, codecOf map[int64]record.Codec) {
	t.Helper()
	for _, h := range batchesOf(t, readAll(t, l, math.MaxInt64)) {
		if h.RecordCount == 0 {
			continue
		}
		if want, ok := codecOf[h.BaseOffset]; !ok || h.Codec() != want {
			t.Fatalf("batch at %d has codec %v, appended with %v (%v)", h.BaseOffset, h.Codec(), want, ok)
		}
	}
}

// TestCleanerMapFull cleans with an offset map far smaller than the dirty
// range: each cleaning covers what fits and the checkpoint moves on,
// possibly inside a segment, until the whole range is clean; records
// beyond the map are kept.
func TestCleanerMapFull(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Compact = true
	cfg.SegmentBytes = 2000
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l.Close()
	model := newCompactedModel(cfg.DeleteRetentionMs)
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		r := cleanRecord{key: fmt.Appendf(nil, "k%d", rng.IntN(200)), value: []byte("value"), ts: clock.Ms()}
		info := mustAppend(t, l, keyedBatch(t, record.CodecNone, r.ts, []cleanRecord{r}), 0)
		r.offset = info.FirstOffset
		model.records = append(model.records, r)
	}
	l.SetHighWatermark(l.LogEndOffset())
	c := newCleaner(quietLogger(), 40*offsetMapSlotBytes, 0.75, 4096) // 32 slots, 24 keys
	checkpoint, rounds := int64(-1), 0
	for {
		rng, err := l.cleanableRange(checkpoint, checkpoint >= 0, clock.Ms())
		if err != nil {
			t.Fatal(err)
		}
		if rng.firstDirty >= rng.firstUncleanable {
			break
		}
		next := cleanLog(t, c, l, checkpoint, clock.Ms())
		if next <= checkpoint {
			t.Fatalf("no progress from %d", checkpoint)
		}
		checkpoint = next
		rounds++
		// Nothing the model keeps is lost, whatever the map covered.
		got := logRecords(t, l)
		full := newCompactedModel(cfg.DeleteRetentionMs)
		full.records = slices.Clone(model.records)
		full.clean(checkpoint, clock.Ms())
		for _, r := range full.records {
			if !slices.ContainsFunc(got, func(g cleanRecord) bool { return sameRecord(g, r) }) {
				t.Fatalf("record %v lost (checkpoint %d)", r, checkpoint)
			}
		}
	}
	if rounds < 5 {
		t.Fatalf("%d cleanings: the map was not the limit", rounds)
	}
	// The cleanings left exactly what one cleaning with a large map does.
	model.clean(checkpoint, clock.Ms())
	diffRecords(t, "after the cleanings", logRecords(t, l), model.records)
}

// TestCleanerKeepsSpecialBatches: the last batch of an active producer
// survives, emptied, so that its sequence numbers do, a committed
// transaction's batch among them; its marker is copied as it is while
// the transaction has a batch in the log.
func TestCleanerKeepsSpecialBatches(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Compact = true
	cfg.SegmentBytes = 100000
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l.Close()
	ts := clock.Ms()
	build := func(opts record.BuildOptions, recs ...record.Record) []byte {
		opts.BaseTimestamp, opts.PartitionLeaderEpoch = ts, -1
		b, err := record.Build(opts, recs)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	none := record.BuildOptions{ProducerID: record.NoProducerID, ProducerEpoch: record.NoProducerEpoch, BaseSequence: record.NoSequence}
	kv := func(k, v string) record.Record { return record.Record{Key: []byte(k), Value: []byte(v)} }
	// offset 0: an idempotent producer's only batch, superseded below.
	idem := record.BuildOptions{ProducerID: 7, ProducerEpoch: 0, BaseSequence: 0}
	mustAppend(t, l, build(idem, kv("a", "1"), kv("b", "1")), 0)
	// offsets 2-3: a transactional batch, superseded below.
	txn := record.BuildOptions{ProducerID: 8, ProducerEpoch: 0, BaseSequence: 0, Transactional: true}
	txnBatch := build(txn, kv("a", "2"), kv("b", "2"))
	if _, err := l.AppendAsFollower(withBase(txnBatch, 2)); err != nil {
		t.Fatal(err)
	}
	// offset 4: its commit marker.
	marker := build(record.BuildOptions{ProducerID: 8, ProducerEpoch: 0, BaseSequence: -1, Transactional: true, Control: true},
		record.Record{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}})
	if _, err := l.AppendAsFollower(withBase(marker, 4)); err != nil {
		t.Fatal(err)
	}
	// offsets 5-6: plain records superseding everything above.
	if _, err := l.AppendAsFollower(withBase(build(none, kv("a", "3"), kv("b", "3")), 5)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendAsFollower(withBase(build(none, kv("z", "active")), 7)); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	if err := l.rollLocked(l.logEndOffsetLocked(), clock.Ms()); err != nil {
		t.Fatal(err)
	}
	l.mu.Unlock()
	if _, err := l.AppendAsFollower(withBase(build(none, kv("y", "active")), 8)); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if _, ok := lastRecordsOfActiveProducers(l)[7]; !ok {
		t.Fatalf("producer 7 not active: %+v", l.ActiveProducers())
	}
	cleanLog(t, testCleaner(), l, -1, clock.Ms())

	data := readAll(t, l, math.MaxInt64)
	var hs []record.Header
	var raw [][]byte
	_ = record.Batches(data, func(h record.Header, b []byte) error {
		hs = append(hs, h)
		raw = append(raw, bytes.Clone(b))
		return nil
	})
	if len(hs) != 6 {
		t.Fatalf("%d batches: %+v", len(hs), hs)
	}
	if hs[0].BaseOffset != 0 || hs[0].RecordCount != 0 || hs[0].LastOffset() != 1 || hs[0].ProducerID != 7 || hs[0].LastSequence() != 1 {
		t.Fatalf("producer's last batch not kept empty: %+v", hs[0])
	}
	if h := hs[1]; h.BaseOffset != 2 || h.RecordCount != 0 || h.LastOffset() != 3 || h.ProducerID != 8 || !h.IsTransactional() {
		t.Fatalf("transactional producer's last batch not kept empty: %+v", h)
	}
	if !bytes.Equal(raw[2], withBase(marker, 4)) {
		t.Fatal("control batch changed")
	}
	if hs[3].BaseOffset != 5 || hs[3].RecordCount != 2 {
		t.Fatalf("latest values: %+v", hs[3])
	}
}

// withBase returns a copy of batch with base offset base.
func withBase(batch []byte, base int64) []byte {
	b := bytes.Clone(batch)
	record.SetBaseOffset(b, base)
	return b
}

// TestCleanerRespectsLags: min.compaction.lag.ms keeps recent segments
// dirty; max.compaction.lag.ms makes old dirty data cleanable whatever the
// ratio.
func TestCleanerRespectsLags(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Compact = true
	cfg.SegmentBytes = 500
	cfg.MinCompactionLagMs = 10_000
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l.Close()
	for i := range 60 {
		r := cleanRecord{key: []byte("k"), value: fmt.Appendf(nil, "v%d", i), ts: clock.Ms()}
		mustAppend(t, l, keyedBatch(t, record.CodecNone, r.ts, []cleanRecord{r}), 0)
		if i == 29 {
			clock.Advance(20 * time.Second)
		}
	}
	l.SetHighWatermark(l.LogEndOffset())
	rng, err := l.cleanableRange(0, false, clock.Ms())
	if err != nil {
		t.Fatal(err)
	}
	// Records 30.. are younger than the lag: cleaning stops at their segment.
	if rng.firstUncleanable > 30 || rng.firstUncleanable == 0 {
		t.Fatalf("first uncleanable offset %d", rng.firstUncleanable)
	}
	end := cleanLog(t, testCleaner(), l, -1, clock.Ms())
	if end != rng.firstUncleanable {
		t.Fatalf("cleaned to %d, want %d", end, rng.firstUncleanable)
	}
	if rng.needNow {
		t.Fatal("needs cleaning now with max.compaction.lag.ms at its default")
	}

	// max.compaction.lag.ms: dirty data older than it is due.
	cfg.MinCompactionLagMs = 0
	cfg.MaxCompactionLagMs = 5_000
	l2 := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l2.Close()
	for i := range 30 {
		r := cleanRecord{key: []byte("k"), value: fmt.Appendf(nil, "v%d", i), ts: clock.Ms()}
		mustAppend(t, l2, keyedBatch(t, record.CodecNone, r.ts, []cleanRecord{r}), 0)
	}
	l2.SetHighWatermark(l2.LogEndOffset())
	clock.Advance(4 * time.Second)
	if rng, _ = l2.cleanableRange(0, false, clock.Ms()); rng.needNow || rng.cleanableBytes == 0 {
		t.Fatalf("due before max.compaction.lag.ms: %+v", rng)
	}
	clock.Advance(2 * time.Second)
	if rng, _ = l2.cleanableRange(0, false, clock.Ms()); !rng.needNow {
		t.Fatalf("not due after max.compaction.lag.ms: %+v", rng)
	}
}

// TestCleanerReadersAcrossSwap: a reader holding a segment the cleaner
// replaces keeps reading it; its files go only once the reader is done.
// Concurrent readers always see a valid log.
func TestCleanerReadersAcrossSwap(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Compact = true
	cfg.SegmentBytes = 800
	dir := t.TempDir()
	l := openLog(t, dir, cfg, Options{Now: clock.Now})
	defer l.Close()
	var all []cleanRecord
	for i := range 200 {
		r := cleanRecord{key: fmt.Appendf(nil, "k%d", i%7), value: fmt.Appendf(nil, "v%d", i), ts: clock.Ms()}
		info := mustAppend(t, l, keyedBatch(t, record.CodecNone, r.ts, []cleanRecord{r}), 0)
		r.offset = info.FirstOffset
		all = append(all, r)
	}
	l.SetHighWatermark(l.LogEndOffset())
	l.mu.RLock()
	held := l.mu.segments[0].acquire()
	heldSize := held.size
	l.mu.RUnlock()

	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for {
			select {
			case <-stop:
				return
			default:
			}
			info, err := l.Read(0, 1<<20, math.MaxInt64, true)
			if err != nil {
				errc <- err
				return
			}
			err = record.Batches(info.Data, func(h record.Header, b []byte) error {
				if err := record.CheckCRC(b); err != nil {
					return err
				}
				return record.Records(b, func(r record.Record) error {
					off := h.BaseOffset + int64(r.OffsetDelta)
					if off >= int64(len(all)) || !bytes.Equal(r.Value, all[off].value) {
						return fmt.Errorf("offset %d reads %q", off, r.Value)
					}
					return nil
				})
			})
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	c := testCleaner()
	cp := cleanLog(t, c, l, -1, clock.Ms())

	// The held segment was swapped out and renamed, but reads on.
	buf := make([]byte, heldSize)
	if _, err := held.file.ReadAt(buf, 0); err != nil {
		t.Fatalf("read the replaced segment: %v", err)
	}
	if hs := batchesOf(t, buf); len(hs) == 0 || hs[0].BaseOffset != 0 || hs[0].RecordCount != 1 {
		t.Fatalf("replaced segment reads %+v", hs)
	}
	deleted := filepath.Join(dir, segmentFileName(0, logSuffix)+deletedSuffix)
	if _, err := os.Stat(deleted); err != nil {
		t.Fatalf("replaced segment removed while held: %v", err)
	}
	held.release()
	l.sweepDeleted()
	if _, err := os.Stat(deleted); !os.IsNotExist(err) {
		t.Fatalf("replaced segment not removed once released: %v", err)
	}

	for range 3 { // later cleanings rewrite the cleaned segments again
		cp = cleanLog(t, c, l, 0, clock.Ms())
	}
	close(stop)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	_ = cp
}

// TestCleanerAbortsWhenSegmentsChange: retention removing a segment the
// cleaner is rewriting makes it abandon the swap, leaving no files behind.
func TestCleanerAbortsWhenSegmentsChange(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Compact = true
	cfg.SegmentBytes = 800 // one segment per group
	dir := t.TempDir()
	l := openLog(t, dir, cfg, Options{Now: clock.Now})
	defer l.Close()
	for i := range 100 {
		r := cleanRecord{key: fmt.Appendf(nil, "k%d", i%7), value: fmt.Appendf(nil, "v%d", i), ts: clock.Ms()}
		mustAppend(t, l, keyedBatch(t, record.CodecNone, r.ts, []cleanRecord{r}), 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	before := logRecords(t, l)
	c := testCleaner()
	c.hook = func(step string) error {
		if step == stepSwapSynced && l.NumSegments() > 2 {
			// DeleteRecords drops the first segment under the cleaner.
			l.mu.RLock()
			second := l.mu.segments[1].base
			l.mu.RUnlock()
			if _, err := l.DeleteRecordsBefore(second); err != nil {
				return err
			}
		}
		return nil
	}
	rng, err := l.cleanableRange(-1, false, clock.Ms())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.clean(l, rng, clock.Ms(), noAbort)
	wantErr(t, err, errCleaningAborted)
	for _, suffix := range []string{cleanedSuffix, swapSuffix} {
		if files := segmentFiles(t, dir, suffix); len(files) > 0 {
			t.Fatalf("leftover %v", files)
		}
	}
	got := logRecords(t, l)
	var want []cleanRecord
	for _, r := range before {
		if r.offset >= l.LogStartOffset() {
			want = append(want, r)
		}
	}
	diffRecords(t, "after the aborted cleaning", got, want)
}

// TestOffsetMap checks the map against a Go map, through resets and fills.
func TestOffsetMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := newOffsetMap(1000*offsetMapSlotBytes, 0.9) // 512 slots at most
	for round := range 5 {
		m.reset(int64(50 + round*300))
		want := map[string]int64{}
		off := int64(0)
		for !m.full() {
			k := fmt.Appendf(nil, "key-%d", rng.IntN(2000))
			m.put(k, off)
			want[string(k)] = off
			off++
		}
		if len(want) != m.limit || len(m.slots) > 512 {
			t.Fatalf("round %d: %d keys at full, limit %d, %d slots", round, len(want), m.limit, len(m.slots))
		}
		for k, o := range want {
			if got := m.get([]byte(k)); got != o {
				t.Fatalf("get(%s) = %d, want %d", k, got, o)
			}
		}
		if got := m.get([]byte("absent")); got != -1 {
			t.Fatalf("absent key -> %d", got)
		}
		if m.latest != off-1 {
			t.Fatalf("latest %d, want %d", m.latest, off-1)
		}
	}
}

// TestGroupSegmentsBySize follows Kafka's CleanerTest grouping cases:
// groups are bounded by segment.bytes, index bytes and int32 offsets.
func TestGroupSegmentsBySize(t *testing.T) {
	seg := func(base, size, idx int64) snapSegment {
		return snapSegment{base: base, size: size, indexBytes: idx, timeIndexBytes: idx * 3 / 2}
	}
	shape := func(gs [][]snapSegment) string {
		var s []string
		for _, g := range gs {
			var bases []string
			for _, ss := range g {
				bases = append(bases, fmt.Sprint(ss.base))
			}
			s = append(s, fmt.Sprint(bases))
		}
		return fmt.Sprint(s)
	}
	segs := []snapSegment{seg(0, 400, 8), seg(10, 400, 8), seg(20, 400, 8), seg(30, 900, 8), seg(40, 100, 8)}
	if got := shape(groupSegmentsBySize(segs, 1000, 1000, 50)); got != "[[0 10] [20] [30 40]]" {
		t.Fatalf("by size: %s", got)
	}
	if got := shape(groupSegmentsBySize(segs, 10000, 24, 50)); got != "[[0 10] [20 30] [40]]" {
		t.Fatalf("by index size: %s", got)
	}
	big := []snapSegment{seg(0, 1, 0), seg(math.MaxInt32-5, 1, 0), seg(math.MaxInt32+10, 1, 0)}
	if got := shape(groupSegmentsBySize(big, 10000, 10000, math.MaxInt32+20)); got != "[[0] [2147483642 2147483657]]" {
		t.Fatalf("by offsets: %s", got)
	}
}
