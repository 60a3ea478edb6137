package storage

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/record"
)

// txnRecords builds a batch of producer pid holding the given key/value
// pairs (alternating), transactional if txn.
func txnRecords(t testing.TB, pid int64, epoch int16, seq int32, txn bool, ts int64, kvs ...string) []byte {
	t.Helper()
	var recs []record.Record
	for i := 0; i+1 < len(kvs); i += 2 {
		recs = append(recs, record.Record{Key: []byte(kvs[i]), Value: []byte(kvs[i+1])})
	}
	b, err := record.Build(record.BuildOptions{
		BaseTimestamp: ts, PartitionLeaderEpoch: record.NoPartitionLeaderEpoch,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Transactional: txn,
	}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// endTxn appends producer pid's marker as the coordinator would.
func endTxn(t testing.TB, l *Log, pid int64, epoch int16, commit bool) AppendInfo {
	t.Helper()
	info, err := l.AppendAsCoordinator(markerBatch(t, pid, epoch, 0, commit, 0, time.Now().UnixMilli()), 0, -1)
	if err != nil {
		t.Fatalf("marker of producer %d: %v", pid, err)
	}
	return info
}

func wantLSO(t testing.TB, l *Log, want int64) {
	t.Helper()
	if got := l.LastStableOffset(); got != want {
		fu, ok := l.FirstUnstableOffset()
		t.Fatalf("last stable offset %d, want %d (high watermark %d, first unstable %d %v)", got, want, l.HighWatermark(), fu, ok)
	}
}

func wantAborted(t testing.TB, got, want []AbortedTxn) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted transactions\n got %+v\nwant %+v", got, want)
	}
}

// rollNow rolls l's active segment at the log end offset.
func rollNow(t testing.TB, l *Log) int64 {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	leo := l.logEndOffsetLocked()
	if err := l.rollLocked(leo, l.nowMs()); err != nil {
		t.Fatal(err)
	}
	return leo
}

// TestLastStableOffsetInterleavedTransactions follows Kafka's
// ProducerStateManager: the first unstable offset is the earliest first
// offset of the open transactions and of the completed ones whose marker
// the high watermark has not passed; the last stable offset is that,
// bounded by the high watermark. Each ABORT records, in the transaction
// index, the last stable offset right after it.
func TestLastStableOffsetInterleavedTransactions(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	ts := time.Now().UnixMilli()
	hw := func() { l.SetHighWatermark(l.LogEndOffset()) }

	mustAppend(t, l, txnRecords(t, 1, 0, 0, true, ts, "a", "1", "b", "1"), 0) // 0-1: producer 1 opens
	hw()
	wantLSO(t, l, 0)
	mustAppend(t, l, txnRecords(t, 2, 0, 0, true, ts, "c", "2"), 0) // 2: producer 2 opens
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "d", "plain"), 0)
	mustAppend(t, l, txnRecords(t, 3, 0, 0, true, ts, "e", "3"), 0) // 4: producer 3 opens
	hw()
	wantLSO(t, l, 0)
	if info := endTxn(t, l, 1, 0, true); info.FirstOffset != 5 {
		t.Fatalf("commit of producer 1 at %d", info.FirstOffset)
	}
	// Decided, but the marker is not replicated: still unstable.
	wantLSO(t, l, 0)
	hw()
	wantLSO(t, l, 2)
	endTxn(t, l, 2, 0, false) // 6: producer 2 aborts, producer 3 still open
	wantLSO(t, l, 2)
	hw()
	wantLSO(t, l, 4)
	endTxn(t, l, 3, 0, false) // 7
	hw()
	wantLSO(t, l, 8)
	if fu, ok := l.FirstUnstableOffset(); ok {
		t.Fatalf("first unstable offset %d with no transaction left", fu)
	}
	mustAppend(t, l, txnRecords(t, 1, 0, 2, true, ts, "a", "again"), 0) // 8: producer 1 opens again
	hw()
	wantLSO(t, l, 8)

	want := []AbortedTxn{
		{ProducerID: 2, FirstOffset: 2, LastOffset: 6, LastStableOffset: 4}, // producer 3's transaction was open
		{ProducerID: 3, FirstOffset: 4, LastOffset: 7, LastStableOffset: 8},
	}
	wantAborted(t, l.AbortedTxns(), want)

	// A marker from an older producer epoch is fenced; one for a producer
	// without an open transaction changes nothing.
	if _, err := l.AppendAsCoordinator(markerBatch(t, 1, -1, 0, false, 0, ts), 0, -1); err == nil {
		t.Fatal("marker with an older producer epoch appended")
	}
	mustAppend(t, l, txnRecords(t, 4, 0, 0, false, ts, "f", "idempotent"), 0) // 9
	endTxn(t, l, 4, 0, false)                                                 // 10: no transaction to end
	hw()
	wantLSO(t, l, 8)
	wantAborted(t, l.AbortedTxns(), want)

	// read_committed: data up to the last stable offset, with the aborted
	// transactions overlapping it.
	info, err := l.ReadCommitted(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	hs := batchesOf(t, info.Data)
	if last := hs[len(hs)-1]; last.NextOffset() != 8 || info.LastStableOffset != 8 || info.HighWatermark != 11 {
		t.Fatalf("read_committed read up to %d, LSO %d, HW %d", last.NextOffset(), info.LastStableOffset, info.HighWatermark)
	}
	wantAborted(t, info.AbortedTxns, want)
	info, err = l.ReadCommitted(7, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	wantAborted(t, info.AbortedTxns, want[1:])
	if info, err = l.ReadCommitted(8, 1<<20, true); err != nil || len(info.Data) != 0 || info.AbortedTxns != nil {
		t.Fatalf("read_committed at the last stable offset: %d bytes, %+v, %v", len(info.Data), info.AbortedTxns, err)
	}
	// read_uncommitted sees everything below the high watermark.
	all, err := l.Read(0, 1<<20, l.HighWatermark(), true)
	if err != nil || batchesOf(t, all.Data)[len(batchesOf(t, all.Data))-1].NextOffset() != 11 || all.AbortedTxns != nil {
		t.Fatalf("read_uncommitted: %v", err)
	}
}

// TestTxnIndexFile checks the .txnindex files byte for byte (Kafka's
// TransactionIndex: version int16 0, producer id, first offset, last
// offset, last stable offset, big endian): one per segment holding ABORT
// markers, none for the others.
func TestTxnIndexFile(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	ts := time.Now().UnixMilli()
	mustAppend(t, l, txnRecords(t, 7, 0, 0, true, ts, "a", "1"), 0)                      // 0: producer 7 opens
	mustAppend(t, l, txnRecords(t, 0x0102030405, 0, 0, true, ts, "b", "1", "c", "1"), 0) // 1-2
	endTxn(t, l, 0x0102030405, 0, false)                                                 // 3: abort while 7 is open
	base := rollNow(t, l)                                                                // 4
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "d", "1"), 0)                  // 4
	endTxn(t, l, 7, 0, false)                                                            // 5
	endTxn(t, l, 8, 0, true)                                                             // 6: nothing open
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	entry := func(pid, first, last, lso uint64) []byte {
		b := []byte{0, 0}
		for _, v := range []uint64{pid, first, last, lso} {
			b = append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		}
		return b
	}
	want0 := entry(0x0102030405, 1, 3, 0)
	if want0[2+7] != 0x05 || want0[2+3] != 0x01 || len(want0) != 34 {
		t.Fatalf("bad expectation %x", want0)
	}
	files := map[string][]byte{
		segmentFileName(0, txnIndexSuffix):    want0,
		segmentFileName(base, txnIndexSuffix): entry(7, 0, 5, 6),
	}
	got := segmentFiles(t, dir, txnIndexSuffix)
	if len(got) != len(files) {
		t.Fatalf("transaction index files %v", got)
	}
	for name, want := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s:\n got %x\nwant %x", name, b, want)
		}
	}
}

// TestReadCommittedAbortedTxns: a read_committed read gets the aborted
// transactions overlapping [fetch offset, end of the data it returns),
// found in the transaction index of the segment holding the marker, which
// may come after the segment read from.
func TestReadCommittedAbortedTxns(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	ts := time.Now().UnixMilli()
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "p", "0"), 0) // 0
	mustAppend(t, l, txnRecords(t, 5, 0, 0, true, ts, "a", "1"), 0)     // 1: opens
	rollNow(t, l)
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "p", "2"), 0) // 2
	mustAppend(t, l, txnRecords(t, 5, 0, 1, true, ts, "a", "3"), 0)     // 3
	rollNow(t, l)
	endTxn(t, l, 5, 0, false)                                           // 4
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "p", "5"), 0) // 5
	l.SetHighWatermark(l.LogEndOffset())
	aborted := []AbortedTxn{{ProducerID: 5, FirstOffset: 1, LastOffset: 4, LastStableOffset: 5}}

	// Only the batch at 0 fits: the transaction starts after the data.
	one, err := l.Read(0, 1<<20, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	info, err := l.ReadCommitted(0, len(one.Data), false)
	if err != nil {
		t.Fatal(err)
	}
	if hs := batchesOf(t, info.Data); len(hs) != 1 || info.AbortedTxns != nil {
		t.Fatalf("read of one batch: %d batches, aborted %+v", len(hs), info.AbortedTxns)
	}
	for _, from := range []int64{0, 1, 2, 4} {
		info, err := l.ReadCommitted(from, 1<<20, true)
		if err != nil {
			t.Fatal(err)
		}
		wantAborted(t, info.AbortedTxns, aborted)
	}
	if info, err := l.ReadCommitted(5, 1<<20, true); err != nil || info.AbortedTxns != nil {
		t.Fatalf("read after the marker: %+v, %v", info.AbortedTxns, err)
	}
	got, err := l.CollectAbortedTxns(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	wantAborted(t, got, aborted)
}

// buildTxnLog writes, in three segments: producer 1's transaction left
// open at 0; producer 2's aborted in the first segment; producer 3's
// aborted in the last one (whose index entry is only in memory until a
// flush).
func buildTxnLog(t *testing.T, dir string) (l *Log, segs []int64) {
	t.Helper()
	l = openLog(t, dir, testConfig(), Options{})
	ts := time.Now().UnixMilli()
	mustAppend(t, l, txnRecords(t, 1, 0, 0, true, ts, "a", "1"), 0) // 0: producer 1 opens
	mustAppend(t, l, txnRecords(t, 2, 0, 0, true, ts, "b", "2"), 0) // 1
	endTxn(t, l, 2, 0, false)                                       // 2
	segs = append(segs, 0, rollNow(t, l))
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "c", "3"), 0) // 3
	segs = append(segs, rollNow(t, l))
	mustAppend(t, l, txnRecords(t, 3, 0, 0, true, ts, "d", "4"), 0) // 4
	endTxn(t, l, 3, 0, false)                                       // 5
	mustAppend(t, l, txnRecords(t, 1, 0, 1, true, ts, "a", "6"), 0) // 6: producer 1 again
	l.SetHighWatermark(l.LogEndOffset())
	return l, segs
}

// TestTxnStateRecovered: after a clean shutdown, a crash (with or without
// the segments' data below a recovery point) and with a damaged
// transaction index, the log reopens with the same open transactions,
// last stable offset and transaction index entries (Kafka: the producer
// snapshot carries each open transaction's first offset; the batches
// after it are replayed, rebuilding the indexes of the segments
// recovered).
func TestTxnStateRecovered(t *testing.T) {
	want := []AbortedTxn{
		{ProducerID: 2, FirstOffset: 1, LastOffset: 2, LastStableOffset: 0},
		{ProducerID: 3, FirstOffset: 4, LastOffset: 5, LastStableOffset: 0},
	}
	for _, tc := range []string{"clean", "crash, recover all", "crash, recover the last segment", "bad index"} {
		t.Run(tc, func(t *testing.T) {
			dir := t.TempDir()
			l, segs := buildTxnLog(t, dir)
			wantLSO(t, l, 0)
			wantAborted(t, l.AbortedTxns(), want)
			leo, hw := l.LogEndOffset(), l.HighWatermark()
			opts := Options{HighWatermark: hw}
			switch tc {
			case "clean":
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				opts.CleanShutdown, opts.RecoveryPoint = true, leo
			case "crash, recover all":
				crashLog(l)
			case "crash, recover the last segment":
				crashLog(l)
				opts.RecoveryPoint = segs[2]
			case "bad index":
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				opts.CleanShutdown, opts.RecoveryPoint = true, leo
				f, err := os.OpenFile(filepath.Join(dir, segmentFileName(0, txnIndexSuffix)), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = f.Write([]byte{1, 2, 3})
				f.Close()
			}
			l = openLog(t, dir, testConfig(), opts)
			defer l.Close()
			wantLSO(t, l, 0)
			if fu, ok := l.FirstUnstableOffset(); !ok || fu != 0 {
				t.Fatalf("first unstable offset %d %v", fu, ok)
			}
			wantAborted(t, l.AbortedTxns(), want)
			if p, _ := producerOf(t, l, 1); p.CurrentTxnFirstOffset != 0 {
				t.Fatalf("producer 1: %+v", p)
			}
			// The open transaction completes as if nothing happened.
			endTxn(t, l, 1, 0, true)
			l.SetHighWatermark(l.LogEndOffset())
			wantLSO(t, l, l.LogEndOffset())
			wantAborted(t, l.AbortedTxns(), want)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			// The files say the same.
			l = openLog(t, dir, testConfig(), Options{HighWatermark: l.HighWatermark(), RecoveryPoint: l.LogEndOffset(), CleanShutdown: true})
			wantAborted(t, l.AbortedTxns(), want)
			wantLSO(t, l, l.LogEndOffset())
		})
	}
}

// TestTxnTruncationBelowMarker: truncating a follower below a marker
// reopens its transaction (the last stable offset falls back to its
// first offset) and drops the marker's transaction index entry, in
// memory and in the file.
func TestTxnTruncationBelowMarker(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	defer l.Close()
	ts := time.Now().UnixMilli()
	var data []byte
	data = append(data, withBase(txnRecords(t, 1, 0, 0, true, ts, "a", "1", "b", "1"), 0)...) // 0-1
	data = append(data, withBase(txnRecords(t, -1, -1, -1, false, ts, "c", "1"), 2)...)       // 2
	data = append(data, markerBatch(t, 1, 0, 3, false, 0, ts)...)                             // 3: abort
	data = append(data, withBase(txnRecords(t, 2, 0, 0, true, ts, "d", "1"), 4)...)           // 4: producer 2 opens
	if _, err := l.AppendAsFollower(data); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(5)
	wantLSO(t, l, 4)
	wantAborted(t, l.AbortedTxns(), []AbortedTxn{{ProducerID: 1, FirstOffset: 0, LastOffset: 3, LastStableOffset: 4}})
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, segmentFileName(0, txnIndexSuffix))
	if n := fileSize(t, path); n != txnIndexEntrySize {
		t.Fatalf("index file of %d bytes", n)
	}

	if err := l.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	wantLSO(t, l, 0) // producer 1's transaction is open again; HW = LEO = 3
	wantAborted(t, l.AbortedTxns(), nil)
	if n := fileSize(t, path); n != 0 {
		t.Fatalf("index file of %d bytes after truncation", n)
	}
	// The leader's log had a commit there after all.
	if _, err := l.AppendAsFollower(markerBatch(t, 1, 0, 3, true, 0, ts)); err != nil {
		t.Fatal(err)
	}
	wantLSO(t, l, 0)
	l.SetHighWatermark(4)
	wantLSO(t, l, 4)
	wantAborted(t, l.AbortedTxns(), nil)
}

// TestSnapshotKeepsOpenTransaction: a producer snapshot records the first
// offset of an open transaction (Kafka's current_txn_first_offset), and
// loading it makes the transaction open again.
func TestSnapshotKeepsOpenTransaction(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	ts := time.Now().UnixMilli()
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "a", "1", "b", "1"), 0) // 0-1
	mustAppend(t, l, txnRecords(t, 9, 3, 0, true, ts, "c", "1"), 0)               // 2: opens
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "d", "1"), 0)           // 3
	if err := l.SnapshotProducers(); err != nil {
		t.Fatal(err)
	}
	entries, err := readProducerSnapshot(producerSnapshotPath(dir, 4))
	if err != nil || len(entries) != 1 || entries[0].CurrentTxnFirstOffset != 2 {
		t.Fatalf("snapshot: %+v, %v", entries, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Only the snapshot knows the transaction: the segment's batches are
	// not read on a clean open.
	l = openLog(t, dir, testConfig(), Options{CleanShutdown: true, RecoveryPoint: 4, HighWatermark: 4})
	defer l.Close()
	wantLSO(t, l, 2)
	endTxn(t, l, 9, 3, false)
	l.SetHighWatermark(l.LogEndOffset())
	wantLSO(t, l, 5)
	wantAborted(t, l.AbortedTxns(), []AbortedTxn{{ProducerID: 9, FirstOffset: 2, LastOffset: 4, LastStableOffset: 5}})
}

// TestExpirySkipsOpenTransactions: a producer with an open transaction is
// never expired (Kafka's isProducerExpired), so the last stable offset
// keeps waiting for its marker; once it ends, the producer expires.
func TestExpirySkipsOpenTransactions(t *testing.T) {
	clock := newFakeClock()
	l := openLog(t, t.TempDir(), testConfig(), Options{Now: clock.Now, ProducerIDExpirationMs: 1000})
	defer l.Close()
	mustAppend(t, l, txnRecords(t, 1, 0, 0, true, clock.Ms(), "a", "1"), 0)
	l.SetHighWatermark(l.LogEndOffset())
	clock.Advance(time.Hour)
	if n := l.removeExpiredProducers(); n != 0 {
		t.Fatalf("%d producers expired", n)
	}
	wantLSO(t, l, 0)
	if _, err := l.AppendAsCoordinator(markerBatch(t, 1, 0, 0, true, 0, clock.Ms()), 0, -1); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	wantLSO(t, l, 2)
	clock.Advance(time.Hour)
	if n := l.removeExpiredProducers(); n != 1 {
		t.Fatalf("%d producers expired, want 1", n)
	}
}

// txnCleanLog is a compacted log of transactions (offsets in brackets):
//
//	[0-1] p1 txn a=c1 b=c1   [2-3] p2 txn a=x d=x   [4] e=plain
//	[5] p1 COMMIT            [6] p2 ABORT            [7] p2 txn f=c2
//	[8] p2 COMMIT            [9] p1 txn b=c3         [10] p1 COMMIT
//	[11] g=plain             (roll) [12] h=active
func txnCleanLog(t *testing.T, cfg Config, clock *fakeClock) *Log {
	t.Helper()
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	ts := clock.Ms()
	mustAppend(t, l, txnRecords(t, 1, 0, 0, true, ts, "a", "c1", "b", "c1"), 0)
	mustAppend(t, l, txnRecords(t, 2, 0, 0, true, ts, "a", "x", "d", "x"), 0)
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "e", "plain"), 0)
	endTxn(t, l, 1, 0, true)
	endTxn(t, l, 2, 0, false)
	mustAppend(t, l, txnRecords(t, 2, 0, 2, true, ts, "f", "c2"), 0)
	endTxn(t, l, 2, 0, true)
	mustAppend(t, l, txnRecords(t, 1, 0, 2, true, ts, "b", "c3"), 0)
	endTxn(t, l, 1, 0, true)
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "g", "plain"), 0)
	rollNow(t, l)
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "h", "active"), 0)
	l.SetHighWatermark(l.LogEndOffset())
	return l
}

// logBatches returns the headers and marker types ("commit", "abort",
// "" for data, "empty" for an emptied marker) of l's batches.
func logBatches(t *testing.T, l *Log) (hs []record.Header, kinds []string) {
	t.Helper()
	err := record.Batches(readAll(t, l, math.MaxInt64), func(h record.Header, b []byte) error {
		if err := record.CheckCRC(b); err != nil {
			return err
		}
		kind := ""
		if h.IsControl() {
			meta := metaOf(h, len(b))
			mk, ok, err := parseEndTxnMarker(b, &meta)
			switch {
			case err != nil:
				return err
			case !ok:
				kind = "empty"
			case mk.commit:
				kind = "commit"
			default:
				kind = "abort"
			}
		}
		hs, kinds = append(hs, h), append(kinds, kind)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hs, kinds
}

func markerAt(t *testing.T, l *Log, offset int64) (record.Header, string, bool) {
	t.Helper()
	hs, kinds := logBatches(t, l)
	for i, h := range hs {
		if h.BaseOffset == offset && h.IsControl() {
			return h, kinds[i], true
		}
	}
	return record.Header{}, "", false
}

// TestCleanerRemovesAbortedTransactions follows Kafka's log cleaner with
// transactions: aborted records go and never shadow committed ones in the
// offset map; committed records are cleaned like others; the ABORT marker
// and its transaction index entry stay while the transaction has batches,
// then the marker gets a delete horizon (KIP-534), and goes once it has
// passed. The COMMIT marker of a transaction with records left stays.
func TestCleanerRemovesAbortedTransactions(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Compact = true
	cfg.DeleteRetentionMs = 1000
	l := txnCleanLog(t, cfg, clock)
	defer l.Close()
	wantAborted(t, l.AbortedTxns(), []AbortedTxn{{ProducerID: 2, FirstOffset: 2, LastOffset: 6, LastStableOffset: 7}})
	c := testCleaner()

	cleanLog(t, c, l, -1, clock.Ms())
	want := []cleanRecord{
		{offset: 0, key: []byte("a"), value: []byte("c1")}, // p2's a=x was aborted: a=c1 is the latest
		{offset: 4, key: []byte("e"), value: []byte("plain")},
		{offset: 7, key: []byte("f"), value: []byte("c2")},
		{offset: 9, key: []byte("b"), value: []byte("c3")},
		{offset: 11, key: []byte("g"), value: []byte("plain")},
		{offset: 12, key: []byte("h"), value: []byte("active")},
	}
	diffRecordsNoTs(t, "first cleaning", dataRecords(t, l), want)
	if h, kind, ok := markerAt(t, l, 6); !ok || kind != "abort" {
		t.Fatalf("abort marker after the first cleaning: %+v %q %v", h, kind, ok)
	} else if _, has := h.DeleteHorizon(); has {
		t.Fatal("abort marker of a transaction with data got a delete horizon")
	}
	// The entry moved to the cleaned segment.
	wantAborted(t, l.AbortedTxns(), []AbortedTxn{{ProducerID: 2, FirstOffset: 2, LastOffset: 6, LastStableOffset: 7}})
	if _, _, ok := markerAt(t, l, 5); !ok {
		t.Fatal("commit marker of a transaction with records left removed")
	}

	// The aborted transaction has no batch left: its marker gets a delete
	// horizon and its index entry goes.
	cleanLog(t, c, l, -1, clock.Ms())
	h, kind, ok := markerAt(t, l, 6)
	if hz, has := h.DeleteHorizon(); !ok || kind != "abort" || !has || hz != clock.Ms()+cfg.DeleteRetentionMs {
		t.Fatalf("abort marker after the second cleaning: %+v %q %v", h, kind, ok)
	}
	wantAborted(t, l.AbortedTxns(), nil)
	// p2's commit at 8 has f=c2 left; p1's at 10 has b=c3.
	for _, off := range []int64{5, 8, 10} {
		if _, kind, ok := markerAt(t, l, off); !ok || kind != "commit" {
			t.Fatalf("commit marker at %d: %q %v", off, kind, ok)
		}
	}
	diffRecordsNoTs(t, "second cleaning", dataRecords(t, l), want)

	// Before the horizon it stays; after it, it goes.
	clock.Advance(500 * time.Millisecond)
	cleanLog(t, c, l, -1, clock.Ms())
	if _, _, ok := markerAt(t, l, 6); !ok {
		t.Fatal("abort marker removed before its delete horizon")
	}
	clock.Advance(time.Second)
	cleanLog(t, c, l, -1, clock.Ms())
	if h, kind, ok := markerAt(t, l, 6); ok {
		t.Fatalf("abort marker kept after its delete horizon: %+v %q", h, kind)
	}
	diffRecordsNoTs(t, "after the horizon", dataRecords(t, l), want)
	// The producer state still reads the same from the log.
	for _, pid := range []int64{1, 2} {
		if p, ok := producerOf(t, l, pid); !ok || p.CurrentTxnFirstOffset != -1 {
			t.Fatalf("producer %d: %+v %v", pid, p, ok)
		}
	}
}

// diffRecordsNoTs compares offsets, keys and values.
func diffRecordsNoTs(t *testing.T, what string, got, want []cleanRecord) {
	t.Helper()
	strip := func(rs []cleanRecord) string {
		var b bytes.Buffer
		for _, r := range rs {
			fmt.Fprintf(&b, "%d:%s=%s ", r.offset, r.key, r.value)
		}
		return b.String()
	}
	if g, w := strip(got), strip(want); g != w {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// TestCleanerStopsAtLastStableOffset: an open transaction holds the
// cleaner back (Kafka cleans below the last stable offset only), even
// though the high watermark is past whole segments.
func TestCleanerStopsAtLastStableOffset(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Compact = true
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l.Close()
	ts := clock.Ms()
	for range 3 {
		mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "k", "old"), 0) // 0-2
	}
	open := rollNow(t, l)
	mustAppend(t, l, txnRecords(t, 1, 0, 0, true, ts, "t", "open"), 0) // 3: opens
	rollNow(t, l)
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "k", "new"), 0) // 4
	rollNow(t, l)
	mustAppend(t, l, txnRecords(t, -1, -1, -1, false, ts, "x", "active"), 0)
	l.SetHighWatermark(l.LogEndOffset())
	wantLSO(t, l, open)
	rng, err := l.cleanableRange(0, false, clock.Ms())
	if err != nil {
		t.Fatal(err)
	}
	if rng.firstUncleanable != open {
		t.Fatalf("first uncleanable offset %d, want the open transaction's segment %d", rng.firstUncleanable, open)
	}
	// Below it, k=old at 2 is the latest k: k=new at 4 is not in the
	// offset map.
	cleanLog(t, testCleaner(), l, -1, clock.Ms())
	diffRecordsNoTs(t, "after cleaning", dataRecords(t, l), []cleanRecord{
		{offset: 2, key: []byte("k"), value: []byte("old")},
		{offset: 3, key: []byte("t"), value: []byte("open")},
		{offset: 4, key: []byte("k"), value: []byte("new")},
		{offset: 5, key: []byte("x"), value: []byte("active")},
	})
}

// dataRecords is logRecords without the records of control batches.
func dataRecords(t *testing.T, l *Log) []cleanRecord {
	t.Helper()
	var out []cleanRecord
	err := record.Batches(readAll(t, l, math.MaxInt64), func(h record.Header, b []byte) error {
		if h.IsControl() {
			return nil
		}
		return record.Records(b, func(r record.Record) error {
			out = append(out, cleanRecord{offset: h.BaseOffset + int64(r.OffsetDelta), key: bytes.Clone(r.Key), value: bytes.Clone(r.Value)})
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzTxnIndex feeds arbitrary bytes to the transaction index reader.
// Invariants: validate never panics; a valid index re-encodes to the same
// bytes, its entries' markers increase, collect returns only overlapping
// entries, and truncateTo keeps exactly the entries before the offset.
func FuzzTxnIndex(f *testing.F) {
	var seed txnIndex
	_ = seed.appendEntry(AbortedTxn{ProducerID: 1, FirstOffset: 0, LastOffset: 3, LastStableOffset: 4})
	_ = seed.appendEntry(AbortedTxn{ProducerID: 2, FirstOffset: 1, LastOffset: 9, LastStableOffset: 10})
	f.Add(seed.buf, int64(2), int64(5))
	f.Add(seed.buf[:33], int64(0), int64(1))
	f.Add([]byte{}, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, from, upper int64) {
		x := txnIndex{buf: b}
		if err := x.validate(0, -1); err != nil {
			return
		}
		var again []byte
		prev := int64(-1)
		for _, e := range x.entries() {
			if e.LastOffset <= prev || e.FirstOffset > e.LastOffset {
				t.Fatalf("valid index with entries out of order: %+v", x.entries())
			}
			prev = e.LastOffset
			again = appendAbortedTxn(again, e)
		}
		if !bytes.Equal(again, b) && len(b) > 0 {
			t.Fatalf("re-encoded %x, read %x", again, b)
		}
		got, _ := x.collect(nil, from, upper)
		for _, e := range got {
			if e.LastOffset < from || e.FirstOffset >= upper {
				t.Fatalf("collect(%d, %d) returned %+v", from, upper, e)
			}
		}
		want := 0
		for _, e := range x.entries() {
			if e.LastOffset < from {
				want++
			}
		}
		x.truncateTo(from)
		if x.len() != want {
			t.Fatalf("truncateTo(%d) kept %d entries, want %d", from, x.len(), want)
		}
	})
}
