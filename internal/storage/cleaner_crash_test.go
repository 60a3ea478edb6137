package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/record"
)

// crashLog abandons l as a crash would: its files are closed, nothing is
// flushed, written or removed.
func crashLog(l *Log) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.mu.segments {
		_ = s.file.Close()
	}
	for _, s := range l.mu.pending {
		_ = s.file.Close()
	}
	l.mu.closed = true
}

// buildCrashLog appends records of a few keys, with tombstones, to four
// segments of ten batches (rolled by segment.ms) and an active one, all
// below the high watermark. With cfg from crashConfig the cleaner cleans
// them in two groups of two.
func buildCrashLog(t *testing.T, dir string, cfg Config, clock *fakeClock) (*Log, *compactedModel) {
	t.Helper()
	l := openLog(t, dir, cfg, Options{Now: clock.Now})
	model := newCompactedModel(cfg.DeleteRetentionMs)
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range 41 {
		if i%10 == 0 {
			clock.Advance(time.Duration(cfg.SegmentMs+1) * time.Millisecond)
		}
		recs := make([]cleanRecord, 1+rng.IntN(3))
		for i := range recs {
			recs[i] = cleanRecord{key: fmt.Appendf(nil, "k%d", rng.IntN(6)), value: []byte("value"), ts: clock.Ms()}
			if rng.IntN(4) == 0 {
				recs[i].value = nil
			}
		}
		info := mustAppend(t, l, keyedBatch(t, record.CodecLZ4, clock.Ms(), recs), 0)
		for i := range recs {
			recs[i].offset = info.FirstOffset + int64(i)
		}
		model.records = append(model.records, recs...)
	}
	if l.NumSegments() != 5 {
		t.Fatalf("%d segments, want 5", l.NumSegments())
	}
	l.SetHighWatermark(l.LogEndOffset())
	return l, model
}

func crashConfig() Config {
	cfg := testConfig()
	cfg.Compact = true
	cfg.SegmentMs = 1000
	cfg.SegmentBytes = 2500 // two segments of ten batches fit, three do not
	cfg.IndexIntervalBytes = 100
	return cfg
}

// TestCleanerCrashAtEveryStep stops a cleaning after each step that
// changes files (creating, writing, fsyncing and renaming the .cleaned and
// .swap files, renaming the old segments, swapping the new one in), as a
// crash there would, then reopens the log, both with a full recovery scan
// and as after a clean shutdown. Every time the log must open and read as
// a valid log: each segment either as it was or as cleaned, so its records
// are a subset of those before the cleaning (same offsets, keys, values,
// timestamps) and a superset of those after it; no .cleaned or .swap file
// may remain; and a cleaning after the reopen must give the same log as
// one that was never interrupted.
func TestCleanerCrashAtEveryStep(t *testing.T) {
	cfg := crashConfig()

	// An uninterrupted cleaning, for reference.
	clock := newFakeClock()
	ref, model := buildCrashLog(t, t.TempDir(), cfg, clock)
	before := logRecords(t, ref)
	var steps []string
	c := testCleaner()
	c.hook = func(step string) error { steps = append(steps, step); return nil }
	end := cleanLog(t, c, ref, -1, clock.Ms())
	model.clean(end, clock.Ms())
	after := logRecords(t, ref)
	diffRecords(t, "reference cleaning", after, model.records)
	ref.Close()
	if n := strings.Count(strings.Join(steps, "\n"), stepDone); n != 2 {
		t.Fatalf("%d swaps in the reference cleaning, want 2: %v", n, steps)
	}

	for _, cleanShutdown := range []bool{false, true} {
		for k := 1; k <= len(steps); k++ {
			t.Run(fmt.Sprintf("clean=%v/step%d", cleanShutdown, k), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				clock := newFakeClock()
				l, _ := buildCrashLog(t, dir, cfg, clock)
				hw, leo := l.HighWatermark(), l.LogEndOffset()
				c := testCleaner()
				n := 0
				c.hook = func(string) error {
					if n++; n == k {
						return errCleanerCrash
					}
					return nil
				}
				rng, err := l.cleanableRange(-1, false, clock.Ms())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.clean(l, rng, clock.Ms(), noAbort); !errors.Is(err, errCleanerCrash) {
					t.Fatalf("clean stopped with %v at step %d (%s)", err, k, steps[k-1])
				}
				crashLog(l)

				opts := Options{Now: clock.Now, HighWatermark: hw}
				if cleanShutdown {
					opts.CleanShutdown, opts.RecoveryPoint = true, leo
				}
				l = openLog(t, dir, cfg, opts)
				defer l.Close()
				got := logRecords(t, l)
				for _, r := range got {
					if !slices.ContainsFunc(before, func(b cleanRecord) bool { return sameRecord(b, r) }) {
						t.Fatalf("after a crash at %q: record %v was never appended", steps[k-1], r)
					}
				}
				for _, r := range after {
					if !slices.ContainsFunc(got, func(g cleanRecord) bool { return sameRecord(g, r) }) {
						t.Fatalf("after a crash at %q: record %v lost", steps[k-1], r)
					}
				}
				if l.LogEndOffset() != leo {
					t.Fatalf("log end offset %d, want %d", l.LogEndOffset(), leo)
				}
				for _, suffix := range []string{cleanedSuffix, swapSuffix} {
					if files := segmentFiles(t, dir, suffix); len(files) > 0 {
						t.Fatalf("after a crash at %q: leftover %v", steps[k-1], files)
					}
				}
				cleanLog(t, testCleaner(), l, -1, clock.Ms())
				diffRecords(t, "cleaned after the crash", logRecords(t, l), after)
				// And once more from disk, scanning everything.
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = openLog(t, dir, cfg, Options{Now: clock.Now, HighWatermark: hw})
				diffRecords(t, "reopened", logRecords(t, l), after)
			})
		}
	}
}

// TestRecoveryDetectsDamagedBaseOffsetAfterCleaning: the base offset is
// outside the CRC, and a cleaned segment has gaps, so recovery accepts a
// gap only below the next segment's base and only if the next batch does
// not overlap the one after the gap. A base offset damaged so that its
// batch runs into the next one, or past the next segment, is cut off like
// other corruption, keeping a prefix.
func TestRecoveryDetectsDamagedBaseOffsetAfterCleaning(t *testing.T) {
	cfg := testConfig()
	cfg.Compact = true
	cfg.SegmentBytes = 2000
	for _, damage := range []string{"onto the next batch", "past the next segment"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			clock := newFakeClock()
			l := openLog(t, dir, cfg, Options{Now: clock.Now})
			for i := range 200 {
				key := fmt.Appendf(nil, "k%d", i) // every third record overwrites "dup"
				if i%3 == 0 {
					key = []byte("dup")
				}
				r := cleanRecord{key: key, value: []byte("value"), ts: clock.Ms()}
				mustAppend(t, l, keyedBatch(t, record.CodecNone, r.ts, []cleanRecord{r}), 0)
			}
			l.SetHighWatermark(l.LogEndOffset())
			cleanLog(t, testCleaner(), l, -1, clock.Ms())
			cleaned := logRecords(t, l)
			hw := l.HighWatermark()
			l.mu.RLock()
			s := l.mu.segments[0]
			l.mu.RUnlock()
			var hs []record.Header
			var pos []int64
			sc := newScanner(s.file, 0, s.size)
			for {
				h, _, p, err := sc.next()
				if err != nil {
					break
				}
				hs, pos = append(hs, h), append(pos, p)
			}
			// The first batch (not the first) followed by a gap.
			d := 1
			for d+1 < len(hs) && hs[d+1].BaseOffset == hs[d].NextOffset() {
				d++
			}
			if d+1 >= len(hs) {
				t.Fatalf("cleaned segment without a gap: %+v", hs)
			}
			bumped := hs[d+1].BaseOffset // onto the next batch
			if damage == "past the next segment" {
				bumped = hs[d].BaseOffset + 1<<20
			}
			crashLog(l)
			f, err := os.OpenFile(s.path(logSuffix), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 8)
			record.SetBaseOffset(b, bumped)
			if _, err := f.WriteAt(b, pos[d]); err != nil {
				t.Fatal(err)
			}
			f.Close()

			l = openLog(t, dir, cfg, Options{Now: clock.Now, HighWatermark: hw})
			defer l.Close()
			var want []cleanRecord
			for _, r := range cleaned {
				if r.offset < hs[d].BaseOffset {
					want = append(want, r)
				}
			}
			diffRecords(t, "after the damage", logRecords(t, l), want)
		})
	}
}
