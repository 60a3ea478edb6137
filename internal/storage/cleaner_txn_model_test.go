package storage

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/record"
)

// txnModel extends compactedModel with transactions: which records
// belong to an aborted transaction, which producers have one open (and
// its records), and where each marker was appended.
type txnModel struct {
	*compactedModel
	aborted map[int64]bool    // record offsets of aborted transactions
	open    map[int64][]int64 // producer id -> record offsets of its open transaction
	// txnOf maps a transactional record's offset to the offset of its
	// transaction's marker, once written.
	txnOf   map[int64]int64
	markers map[int64]txnMarkerModel // by offset
	// firstOf maps a marker's offset to its transaction's first offset.
	firstOf map[int64]int64
}

type txnMarkerModel struct {
	pid    int64
	commit bool
}

func newTxnModel(retention int64) *txnModel {
	return &txnModel{
		compactedModel: newCompactedModel(retention),
		aborted:        map[int64]bool{},
		open:           map[int64][]int64{},
		txnOf:          map[int64]int64{},
		markers:        map[int64]txnMarkerModel{},
		firstOf:        map[int64]int64{},
	}
}

// end records producer pid's marker at offset for its open transaction.
func (m *txnModel) end(pid, offset int64, commit bool) {
	for _, o := range m.open[pid] {
		m.txnOf[o] = offset
		if !commit {
			m.aborted[o] = true
		}
	}
	if offs := m.open[pid]; len(offs) > 0 {
		m.firstOf[offset] = offs[0]
	}
	delete(m.open, pid)
	m.markers[offset] = txnMarkerModel{pid: pid, commit: commit}
}

// firstOpen returns the first offset of the open transactions, or
// math.MaxInt64.
func (m *txnModel) firstOpen() int64 {
	first := int64(math.MaxInt64)
	for _, offs := range m.open {
		first = min(first, offs[0])
	}
	return first
}

// minStable returns the least last stable offset the log may report
// with high watermark hw: hw, bounded by the first offset of the open
// transactions and of the decided ones whose marker is not below hw.
func (m *txnModel) minStable(hw int64) int64 {
	low := min(hw, m.firstOpen())
	for mo, first := range m.firstOf {
		if mo >= hw {
			low = min(low, first)
		}
	}
	return low
}

// clean is the model of a cleaning up to end: the records of aborted
// transactions below end go first (so they never count as the latest
// value of their key), then the log is compacted as without
// transactions. Every transaction with a record below end must be
// decided (end is at most the last stable offset).
func (m *txnModel) clean(t testing.TB, end, nowMs int64) {
	t.Helper()
	for pid, offs := range m.open {
		for _, o := range offs {
			if o < end {
				t.Fatalf("cleaned to %d over record %d of producer %d's open transaction", end, o, pid)
			}
		}
	}
	kept := m.records[:0]
	for _, r := range m.records {
		if r.offset < end && m.aborted[r.offset] {
			continue
		}
		kept = append(kept, r)
	}
	m.records = kept
	m.compactedModel.clean(end, nowMs)
}

// txnLogView is what the log holds: its data records (with timestamps),
// and its non-empty control batches by offset.
type txnLogView struct {
	data    []cleanRecord
	markers map[int64]txnMarkerModel
}

// readTxnLog reads l as logRecords does, but keeps control batches apart:
// their single record is a marker, not data, so the model compares data
// records only and checks markers on their own.
func readTxnLog(t testing.TB, l *Log) txnLogView {
	t.Helper()
	v := txnLogView{markers: map[int64]txnMarkerModel{}}
	err := record.Batches(readAll(t, l, math.MaxInt64), func(h record.Header, b []byte) error {
		if err := record.CheckCRC(b); err != nil {
			return err
		}
		if h.IsControl() {
			if !h.IsTransactional() {
				return fmt.Errorf("control batch at %d not transactional", h.BaseOffset)
			}
			meta := metaOf(h, len(b))
			mk, ok, err := parseEndTxnMarker(b, &meta)
			if err != nil {
				return fmt.Errorf("control batch at %d: %w", h.BaseOffset, err)
			}
			if ok {
				v.markers[h.BaseOffset] = txnMarkerModel{pid: h.ProducerID, commit: mk.commit}
			}
			return nil
		}
		return record.Records(b, func(r record.Record) error {
			off := h.BaseOffset + int64(r.OffsetDelta)
			if n := len(v.data); n > 0 && off <= v.data[n-1].offset {
				return fmt.Errorf("offset %d after %d", off, v.data[n-1].offset)
			}
			ts := h.BaseTimestamp + r.TimestampDelta
			if h.IsLogAppendTime() {
				ts = h.MaxTimestamp
			}
			v.data = append(v.data, cleanRecord{offset: off, key: bytes.Clone(r.Key), value: bytes.Clone(r.Value), ts: ts})
			return nil
		})
	})
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	return v
}

// checkTxnLog compares l's data records with the model's and checks its
// markers: every marker left is one that was appended, as appended, and
// the marker of every transaction with a record left is still there.
func checkTxnLog(t testing.TB, what string, l *Log, m *txnModel) {
	t.Helper()
	v := readTxnLog(t, l)
	diffRecords(t, what, v.data, m.records)
	for off, got := range v.markers {
		if want, ok := m.markers[off]; !ok || want != got {
			t.Fatalf("%s: marker %+v at %d, appended %+v (%v)", what, got, off, want, ok)
		}
	}
	for _, r := range v.data {
		mo, ok := m.txnOf[r.offset]
		if !ok {
			continue
		}
		if _, kept := v.markers[mo]; !kept {
			t.Fatalf("%s: marker at %d removed while record %v of its transaction is left", what, mo, r)
		}
	}
}

// TestCleanerMatchesModelWithTransactions is TestCleanerMatchesModel with
// transactions: a few producers write transactional batches (several
// transactions open at once, interleaved with plain batches), each ended
// by a COMMIT or ABORT marker at a random later point. The model: records
// of aborted transactions go once the cleaned range covers them and never
// count as the latest value of a key; committed records are cleaned like
// any others; the cleaner never cleans above the last stable offset.
// Control batches are not data: the data records are compared with the
// model, and markers are checked apart (each left as appended, kept while
// its transaction has a record left).
func TestCleanerMatchesModelWithTransactions(t *testing.T) {
	seeds := 4
	if testing.Short() {
		seeds = 2
	}
	codecs := []record.Codec{record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(seed), 1234))
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
			model := newTxnModel(cfg.DeleteRetentionMs)
			c := testCleaner()
			checkpoint := int64(-1)
			keys := 1 + rng.IntN(25)
			producers := 1 + rng.IntN(4)
			seq := make([]int32, producers+1) // by producer id, 1..producers
			hw := int64(0)

			randomRecords := func(ts int64) []cleanRecord {
				recs := make([]cleanRecord, 1+rng.IntN(6))
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
				return recs
			}
			endTxnOf := func(pid int64, commit bool) {
				b := markerBatch(t, pid, 0, 0, commit, 0, clock.Ms())
				info, err := l.AppendAsCoordinator(b, 0, -1)
				if err != nil {
					t.Fatalf("marker of producer %d: %v", pid, err)
				}
				model.end(pid, info.FirstOffset, commit)
			}

			for round := 0; round < 8; round++ {
				for range 1 + rng.IntN(40) {
					if rng.IntN(15) == 0 {
						clock.Advance(1100 * time.Millisecond) // past segment.ms: the next append rolls
					}
					ts := clock.Ms() - int64(rng.IntN(100))
					switch k := rng.IntN(10); {
					case k < 3: // a plain batch
						recs := randomRecords(ts)
						info := mustAppend(t, l, keyedBatch(t, codecs[rng.IntN(len(codecs))], ts, recs), 0)
						for i := range recs {
							recs[i].offset = info.FirstOffset + int64(i)
						}
						model.records = append(model.records, recs...)
					case k < 8: // a transactional batch, opening a transaction if none
						pid := int64(1 + rng.IntN(producers))
						recs := randomRecords(ts)
						rs := make([]record.Record, len(recs))
						for i, r := range recs {
							rs[i] = record.Record{TimestampDelta: r.ts - ts, Key: r.key, Value: r.value}
						}
						b, err := record.Build(record.BuildOptions{
							Codec: codecs[rng.IntN(len(codecs))], BaseTimestamp: ts, PartitionLeaderEpoch: -1,
							ProducerID: pid, ProducerEpoch: 0, BaseSequence: seq[pid], Transactional: true,
						}, rs)
						if err != nil {
							t.Fatal(err)
						}
						info := mustAppend(t, l, b, 0)
						seq[pid] += int32(len(recs))
						for i := range recs {
							recs[i].offset = info.FirstOffset + int64(i)
							model.open[pid] = append(model.open[pid], recs[i].offset)
						}
						model.records = append(model.records, recs...)
					default: // a marker, for a producer with an open transaction
						for pid := range int64(producers) {
							if _, ok := model.open[pid+1]; ok && rng.IntN(2) == 0 {
								endTxnOf(pid+1, rng.IntN(2) == 0)
								break
							}
						}
					}
				}
				// The high watermark lags: the cleaner must stay below it,
				// and below the last stable offset.
				hw = hw + rng.Int64N(l.LogEndOffset()-hw+1)
				l.SetHighWatermark(hw)
				lso := l.LastStableOffset()
				if low := model.minStable(hw); lso < low || lso > min(hw, model.firstOpen()) {
					t.Fatalf("round %d: last stable offset %d, want in [%d, %d] (high watermark %d)", round, lso, low, min(hw, model.firstOpen()), hw)
				}
				clock.Advance(time.Duration(rng.IntN(1200)) * time.Millisecond)
				now := clock.Ms()
				var ran bool
				checkpoint, ran = cleanLogRan(t, c, l, checkpoint, now)
				// A cleaning stays below the high watermark and the last
				// stable offset. (A checkpoint from an earlier cleaning may
				// be above the last stable offset now: a clean reopen
				// forgets that a decided transaction's marker is above the
				// high watermark, an unclean one finds it again.)
				if ran && (checkpoint > hw || checkpoint > lso) {
					t.Fatalf("round %d: cleaned up to %d, above the high watermark %d or the last stable offset %d", round, checkpoint, hw, lso)
				}
				if ran {
					model.clean(t, checkpoint, now)
				}
				checkTxnLog(t, fmt.Sprintf("round %d, checkpoint %d (hw %d, lso %d)", round, checkpoint, hw, lso), l, model)

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
				// A reopen may forget that a decided transaction's marker
				// is above the high watermark (producer state snapshots
				// keep open transactions only), never an open transaction.
				if got, low := l.LastStableOffset(), model.minStable(hw); got < low || got > min(hw, model.firstOpen()) {
					fu, ok := l.FirstUnstableOffset()
					t.Fatalf("round %d: last stable offset %d after reopen, want in [%d, %d] (high watermark %d, first unstable offset %d %v)", round, got, low, min(hw, model.firstOpen()), hw, fu, ok)
				}
				checkTxnLog(t, fmt.Sprintf("round %d after reopen", round), l, model)
			}
			// Every transaction decided, everything committed and enough
			// time: one cleaning up to the active segment and one of the
			// whole log leave one record per key there, no record of an
			// aborted transaction, no expired tombstone, no keyless record.
			for pid := range int64(producers) {
				if _, ok := model.open[pid+1]; ok {
					endTxnOf(pid+1, rng.IntN(2) == 0)
				}
			}
			l.SetHighWatermark(l.LogEndOffset())
			if lso := l.LastStableOffset(); lso != l.LogEndOffset() {
				t.Fatalf("last stable offset %d with every transaction decided, log end %d", lso, l.LogEndOffset())
			}
			clock.Advance(time.Duration(cfg.DeleteRetentionMs+1) * time.Millisecond)
			now := clock.Ms()
			if end, ran := cleanLogRan(t, c, l, checkpoint, now); ran {
				checkpoint = end
				model.clean(t, checkpoint, now)
			}
			checkpoint = cleanLog(t, c, l, -1, now)
			model.clean(t, checkpoint, now)
			checkTxnLog(t, "final", l, model)
			seen := map[string]bool{}
			for _, r := range readTxnLog(t, l).data {
				if r.offset >= checkpoint {
					break
				}
				if r.key == nil || seen[string(r.key)] || model.aborted[r.offset] || (r.value == nil && cfg.DeleteRetentionMs == 0) {
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
