package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/uuid"

	"github.com/gregor-streaming/gregor/internal/record"
)

func TestAppendAssignsOffsetsAndStamps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "orders-3")
	l := openLog(t, dir, testConfig(), Options{})
	defer l.Close()

	b1 := makeBatch(batchSpec{base: 999, timestamps: []int64{10, 30, 20}, epoch: -1})
	in := append([]byte(nil), b1...)
	info := mustAppend(t, l, in, 5)
	if info.FirstOffset != 0 || info.LastOffset != 2 || info.MaxTimestamp != 30 || info.LogAppendTime != -1 || info.LogStartOffset != 0 {
		t.Fatalf("first append info %+v", info)
	}
	// Append must not keep a reference to its input.
	for i := range in {
		in[i] = 0xff
	}
	info, err := l.Append(simpleBatch(2, 50, 4), 5, 1234)
	if err != nil {
		t.Fatal(err)
	}
	if info.FirstOffset != 3 || info.LastOffset != 4 || info.MaxTimestamp != 1234 || info.LogAppendTime != 1234 {
		t.Fatalf("second append info %+v", info)
	}
	if got := l.LogEndOffset(); got != 5 {
		t.Fatalf("LogEndOffset = %d", got)
	}
	data := readAll(t, l, math.MaxInt64)
	hs := batchesOf(t, data)
	if len(hs) != 2 {
		t.Fatalf("%d batches", len(hs))
	}
	if hs[0].BaseOffset != 0 || hs[0].PartitionLeaderEpoch != 5 || hs[1].BaseOffset != 3 || hs[1].PartitionLeaderEpoch != 5 {
		t.Fatalf("headers %+v", hs)
	}
	if !hs[1].IsLogAppendTime() || hs[1].MaxTimestamp != 1234 {
		t.Fatalf("log append time not set: %+v", hs[1])
	}
	// The stored batch is the input with only base offset and epoch changed.
	want := append([]byte(nil), b1...)
	record.SetBaseOffset(want, 0)
	record.SetPartitionLeaderEpoch(want, 5)
	if !bytes.Equal(data[:len(want)], want) {
		t.Fatal("stored batch differs from the appended one")
	}
	if e, ok := l.LatestEpoch(); !ok || e != 5 {
		t.Fatalf("LatestEpoch = %d, %v", e, ok)
	}
	if got := l.TopicPartition(); got != (TopicPartition{"orders", 3}) {
		t.Fatalf("TopicPartition = %v", got)
	}
	if l.Size() != int64(len(data)) {
		t.Fatalf("Size = %d, want %d", l.Size(), len(data))
	}
}

func TestAppendRejects(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	_, err := l.Append(nil, 0, -1)
	wantErr(t, err, ErrInvalidAppend)
	b := simpleBatch(1, 0, 10)
	_, err = l.Append(b[:len(b)-1], 0, -1)
	wantErr(t, err, ErrInvalidAppend)
	_, err = l.Append(simpleBatch(1, 0, 2000), 0, -1)
	wantErr(t, err, ErrBatchTooLarge)
	if l.LogEndOffset() != 0 || l.Size() != 0 {
		t.Fatal("rejected appends changed the log")
	}
}

func TestRollBySize(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	batch := simpleBatch(2, 100, 50)
	cfg.SegmentBytes = int64(3 * len(batch))
	l := openLog(t, dir, cfg, Options{})
	defer l.Close()
	for range 10 {
		mustAppend(t, l, simpleBatch(2, 100, 50), 0)
	}
	// 3 batches fit a segment: 10 batches make 4 segments.
	if n := l.NumSegments(); n != 4 {
		t.Fatalf("%d segments, want 4", n)
	}
	logs := segmentFiles(t, dir, ".log")
	want := []string{"00000000000000000000.log", "00000000000000000006.log", "00000000000000000012.log", "00000000000000000018.log"}
	for i, p := range logs {
		if filepath.Base(p) != want[i] {
			t.Fatalf("segment files %v, want %v", logs, want)
		}
	}
	for _, p := range logs[:3] {
		if fileSize(t, p) != cfg.SegmentBytes {
			t.Fatalf("%s has %d bytes", p, fileSize(t, p))
		}
	}
	if len(readAll(t, l, math.MaxInt64)) != 10*len(batch) {
		t.Fatal("lost data across rolls")
	}
}

func TestRollByTime(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.SegmentMs = 1000
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l.Close()
	mustAppend(t, l, simpleBatch(1, 0, 1), 0)
	clock.Advance(time.Second)
	mustAppend(t, l, simpleBatch(1, 0, 1), 0) // exactly segment.ms: no roll (Kafka uses >)
	if n := l.NumSegments(); n != 1 {
		t.Fatalf("%d segments", n)
	}
	clock.Advance(time.Millisecond)
	mustAppend(t, l, simpleBatch(1, 0, 1), 0)
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("%d segments after segment.ms, want 2", n)
	}
	// The new segment's age counts from its first append, not its creation.
	clock.Advance(10 * time.Second)
	mustAppend(t, l, simpleBatch(1, 0, 1), 0)
	if n := l.NumSegments(); n != 3 {
		t.Fatalf("%d segments, want 3", n)
	}
}

func TestRollWhenIndexFull(t *testing.T) {
	cfg := testConfig()
	cfg.IndexIntervalBytes = 0    // an entry for every batch after the first
	cfg.SegmentIndexBytes = 3 * 8 // three offset index entries (two time index entries)
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	for i := range 12 {
		mustAppend(t, l, simpleBatch(1, int64(i), 1), 0)
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, s := range l.mu.segments {
		if s.index.len() > cfg.maxOffsetIndexEntries() || s.timeIndex.len() > cfg.maxTimeIndexEntries()+1 {
			t.Fatalf("segment %d has %d/%d index entries", s.base, s.index.len(), s.timeIndex.len())
		}
	}
	if len(l.mu.segments) < 4 {
		t.Fatalf("%d segments, want rolls on full index", len(l.mu.segments))
	}
}

func TestIndexEntriesPointAtBatches(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 300
	l := openLog(t, dir, cfg, Options{})
	for i := range 50 {
		mustAppend(t, l, makeBatch(batchSpec{timestamps: []int64{int64(i * 10), int64(i*10 + 5)}, valueSize: i % 7 * 20}), 0)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "00000000000000000000.log"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(filepath.Join(dir, "00000000000000000000.index"))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) == 0 || len(idx)%8 != 0 {
		t.Fatalf("index has %d bytes", len(idx))
	}
	prevPos := int32(-1)
	for i := 0; i < len(idx); i += 8 {
		rel := int32(binary.BigEndian.Uint32(idx[i:]))
		pos := int32(binary.BigEndian.Uint32(idx[i+4:]))
		h, err := record.ParseHeader(data[pos:])
		if err != nil || h.BaseOffset != int64(rel) {
			t.Fatalf("entry (%d, %d) does not point at a batch starting there: %+v %v", rel, pos, h, err)
		}
		if prevPos >= 0 && pos-prevPos <= cfg.IndexIntervalBytes {
			t.Fatalf("entries %d bytes apart, interval %d", pos-prevPos, cfg.IndexIntervalBytes)
		}
		prevPos = pos
	}
	tidx, err := os.ReadFile(filepath.Join(dir, "00000000000000000000.timeindex"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tidx) == 0 || len(tidx)%12 != 0 {
		t.Fatalf("time index has %d bytes", len(tidx))
	}
	last := tidx[len(tidx)-12:]
	if ts, rel := int64(binary.BigEndian.Uint64(last)), int32(binary.BigEndian.Uint32(last[8:])); ts != 495 || rel != 98 {
		t.Fatalf("final time index entry (%d, %d), want (495, 98)", ts, rel)
	}
}

func TestReadBoundaries(t *testing.T) {
	cfg := testConfig()
	cfg.IndexIntervalBytes = 100
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	var sizes []int
	for i := range 20 {
		b := simpleBatch(3, int64(i), 40)
		sizes = append(sizes, len(b))
		mustAppend(t, l, b, 0)
	}
	size := sizes[0]
	l.SetHighWatermark(60)
	check := func(name string, offset int64, maxBytes int, maxOffset int64, minOne bool, wantFirst int64, wantBatches int) {
		t.Helper()
		info, err := l.Read(offset, maxBytes, maxOffset, minOne)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if info.LogEndOffset != 60 || info.HighWatermark != 60 || info.LogStartOffset != 0 {
			t.Fatalf("%s: offsets %+v", name, info)
		}
		if wantBatches == 0 {
			if len(info.Data) != 0 {
				t.Fatalf("%s: got %d bytes, want none", name, len(info.Data))
			}
			return
		}
		hs := batchesOf(t, info.Data)
		if len(hs) != wantBatches || hs[0].BaseOffset != wantFirst {
			t.Fatalf("%s: got %d batches from %d, want %d from %d", name, len(hs), hs[0].BaseOffset, wantBatches, wantFirst)
		}
	}
	check("from start", 0, 1<<20, math.MaxInt64, false, 0, 20)
	check("inside a batch", 31, 1<<20, math.MaxInt64, false, 30, 10)
	check("last offset of a batch", 32, 1<<20, math.MaxInt64, false, 30, 10)
	check("maxBytes exact", 0, 3*size, math.MaxInt64, false, 0, 3)
	check("maxBytes between", 0, 3*size+size/2, math.MaxInt64, false, 0, 3)
	check("maxBytes too small", 0, size-1, math.MaxInt64, false, 0, 0)
	check("minOneBatch", 6, 10, math.MaxInt64, true, 6, 1)
	check("minOneBatch zero maxBytes", 6, 0, math.MaxInt64, true, 6, 1)
	check("maxOffset at boundary", 0, 1<<20, 9, false, 0, 3)
	check("maxOffset inside batch", 0, 1<<20, 10, false, 0, 3)
	check("maxOffset before first batch end", 3, 1<<20, 5, true, 0, 0)
	check("maxOffset beats minOneBatch", 3, 0, 4, true, 0, 0)
	check("at end", 60, 1<<20, math.MaxInt64, true, 0, 0)
	for _, off := range []int64{-1, 61} {
		_, err := l.Read(off, 100, math.MaxInt64, true)
		wantErr(t, err, ErrOffsetOutOfRange)
	}
}

func TestReadAcrossSegments(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = int64(2 * len(simpleBatch(2, 0, 10)))
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	for range 6 {
		mustAppend(t, l, simpleBatch(2, 0, 10), 0)
	}
	if l.NumSegments() != 3 {
		t.Fatalf("%d segments", l.NumSegments())
	}
	// A read returns data from one segment only.
	info, err := l.Read(0, 1<<20, math.MaxInt64, false)
	if err != nil {
		t.Fatal(err)
	}
	if hs := batchesOf(t, info.Data); len(hs) != 2 {
		t.Fatalf("%d batches from the first segment", len(hs))
	}
	for _, off := range []int64{4, 5, 7} {
		info, err := l.Read(off, 1<<20, math.MaxInt64, false)
		if err != nil {
			t.Fatal(err)
		}
		hs := batchesOf(t, info.Data)
		if hs[0].BaseOffset != off&^1 {
			t.Fatalf("read at %d starts at %d", off, hs[0].BaseOffset)
		}
	}
}

func TestRetentionByTime(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.SegmentBytes = int64(len(simpleBatch(1, 0, 10)))
	cfg.RetentionMs = 1000
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l.Close()
	now := clock.Ms()
	for i, ts := range []int64{now - 5000, now - 3000, now - 500, now - 4000} {
		_ = i
		mustAppend(t, l, simpleBatch(1, ts, 10), 0)
	}
	if l.NumSegments() != 4 {
		t.Fatalf("%d segments", l.NumSegments())
	}
	// Nothing is deleted above the high watermark.
	if n, err := l.ApplyRetention(); err != nil || n != 0 {
		t.Fatalf("ApplyRetention with HW 0 = %d, %v", n, err)
	}
	l.SetHighWatermark(4)
	n, err := l.ApplyRetention()
	if err != nil {
		t.Fatal(err)
	}
	// Deletion stops at the first segment within retention (offset 2),
	// even though a later one (offset 3) is old.
	if n != 2 || l.LogStartOffset() != 2 || l.NumSegments() != 2 {
		t.Fatalf("deleted %d, log start %d, %d segments", n, l.LogStartOffset(), l.NumSegments())
	}
	_, err = l.Read(1, 100, math.MaxInt64, true)
	wantErr(t, err, ErrOffsetOutOfRange)

	// Once everything is old, even the active segment goes, after a roll.
	clock.Advance(time.Hour)
	if n, err := l.ApplyRetention(); err != nil || n != 2 {
		t.Fatalf("ApplyRetention = %d, %v", n, err)
	}
	if l.NumSegments() != 1 || l.LogStartOffset() != 4 || l.LogEndOffset() != 4 || l.Size() != 0 {
		t.Fatalf("after deleting all: %d segments, [%d, %d), %d bytes", l.NumSegments(), l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	if info := mustAppend(t, l, simpleBatch(1, clock.Ms(), 1), 0); info.FirstOffset != 4 {
		t.Fatalf("append after retention at %d", info.FirstOffset)
	}
	if got := segmentFiles(t, l.Dir(), ".deleted"); len(got) != 0 {
		t.Fatalf("deleted files left with file.delete.delay.ms=0: %v", got)
	}
}

func TestRetentionBySize(t *testing.T) {
	cfg := testConfig()
	bsize := int64(len(simpleBatch(1, 0, 100)))
	cfg.SegmentBytes = 2 * bsize
	cfg.RetentionMs = -1
	cfg.RetentionBytes = 3 * bsize
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	for range 7 {
		mustAppend(t, l, simpleBatch(1, 0, 100), 0)
	}
	l.SetHighWatermark(7)
	// 7 batches in segments of 2,2,2,1: deleting the first two segments
	// leaves 3 batches, exactly retention.bytes.
	n, err := l.ApplyRetention()
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || l.Size() != 3*bsize || l.LogStartOffset() != 4 {
		t.Fatalf("deleted %d, size %d, log start %d", n, l.Size(), l.LogStartOffset())
	}
	if n, _ := l.ApplyRetention(); n != 0 {
		t.Fatalf("second pass deleted %d", n)
	}
}

func TestFileDeleteDelay(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.SegmentBytes = int64(len(simpleBatch(1, 0, 10)))
	cfg.FileDeleteDelayMs = 60000
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l.Close()
	for range 3 {
		mustAppend(t, l, simpleBatch(1, 0, 10), 0)
	}
	l.SetHighWatermark(3)
	if _, err := l.DeleteRecordsBefore(2); err != nil {
		t.Fatal(err)
	}
	deleted := segmentFiles(t, l.Dir(), ".deleted")
	if len(deleted) != 6 {
		t.Fatalf("deleted files %v", deleted)
	}
	clock.Advance(59 * time.Second)
	l.sweepDeleted()
	if len(segmentFiles(t, l.Dir(), ".deleted")) != 6 {
		t.Fatal("removed before file.delete.delay.ms")
	}
	clock.Advance(time.Second)
	l.sweepDeleted()
	if got := segmentFiles(t, l.Dir(), ".deleted"); len(got) != 0 {
		t.Fatalf("left %v", got)
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = int64(2 * len(simpleBatch(2, 0, 10)))
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	for range 6 {
		mustAppend(t, l, simpleBatch(2, 0, 10), 0)
	}
	l.SetHighWatermark(9)
	_, err := l.DeleteRecordsBefore(10)
	wantErr(t, err, ErrOffsetOutOfRange)
	_, err = l.DeleteRecordsBefore(-2)
	wantErr(t, err, ErrOffsetOutOfRange)
	lso, err := l.DeleteRecordsBefore(5)
	if err != nil || lso != 5 {
		t.Fatalf("DeleteRecordsBefore(5) = %d, %v", lso, err)
	}
	// The segment [4, 8) holds the new start: only [0, 4) goes.
	if l.NumSegments() != 2 {
		t.Fatalf("%d segments", l.NumSegments())
	}
	_, err = l.Read(4, 100, math.MaxInt64, true)
	wantErr(t, err, ErrOffsetOutOfRange)
	info, err := l.Read(5, 1000, math.MaxInt64, false)
	if err != nil {
		t.Fatal(err)
	}
	if hs := batchesOf(t, info.Data); hs[0].BaseOffset != 4 {
		t.Fatalf("read at the log start offset starts at %d", hs[0].BaseOffset)
	}
	if lso, err := l.DeleteRecordsBefore(3); err != nil || lso != 5 {
		t.Fatalf("moving back: %d, %v", lso, err)
	}
	if lso, err := l.DeleteRecordsBefore(-1); err != nil || lso != 9 {
		t.Fatalf("DeleteRecordsBefore(-1) = %d, %v", lso, err)
	}
	if l.NumSegments() != 1 {
		t.Fatalf("%d segments", l.NumSegments())
	}
}

func TestLeaderEpochCacheThroughAppends(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	mustAppend(t, l, simpleBatch(3, 0, 1), 1)
	mustAppend(t, l, simpleBatch(3, 0, 1), 1)
	mustAppend(t, l, simpleBatch(2, 0, 1), 3)
	mustAppend(t, l, simpleBatch(1, 0, 1), 4)
	want := []EpochEntry{{1, 0}, {3, 6}, {4, 8}}
	if got := l.Epochs(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, LeaderEpochCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "0\n3\n1 0\n3 6\n4 8\n" {
		t.Fatalf("checkpoint %q", data)
	}
	for _, c := range []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{{4, 4, 9}, {3, 3, 8}, {2, 1, 6}, {1, 1, 6}, {0, 0, 0}, {5, -1, -1}, {-1, -1, -1}} {
		e, end := l.EndOffsetForEpoch(c.epoch)
		if e != c.wantEpoch || end != c.wantEnd {
			t.Errorf("EndOffsetForEpoch(%d) = %d, %d; want %d, %d", c.epoch, e, end, c.wantEpoch, c.wantEnd)
		}
	}
	if err := l.TruncateTo(7); err != nil {
		t.Fatal(err)
	}
	// Truncation removes the whole batch holding 7.
	if l.LogEndOffset() != 6 {
		t.Fatalf("LogEndOffset = %d", l.LogEndOffset())
	}
	if got := l.Epochs(); fmt.Sprint(got) != fmt.Sprint([]EpochEntry{{1, 0}}) {
		t.Fatalf("epochs after truncation %v", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, testConfig(), Options{CleanShutdown: true})
	defer l.Close()
	if got := l.Epochs(); fmt.Sprint(got) != fmt.Sprint([]EpochEntry{{1, 0}}) {
		t.Fatalf("epochs after reopen %v", got)
	}
	if err := l.AssignEpoch(-1, 0); err == nil {
		t.Fatal("negative epoch accepted")
	}
}

func TestReopenAfterCleanClose(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.IndexIntervalBytes = 100
	l := openLog(t, dir, cfg, Options{})
	for i := range 40 {
		mustAppend(t, l, makeBatch(batchSpec{timestamps: []int64{int64(100 + i)}, valueSize: 30}), 2)
	}
	l.SetHighWatermark(30)
	want := readAll(t, l, math.MaxInt64)
	wantTs, wantOff := l.MaxTimestamp()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := l.Append(simpleBatch(1, 0, 1), 0, -1)
	wantErr(t, err, ErrClosed)
	_, err = l.Read(0, 100, math.MaxInt64, true)
	wantErr(t, err, ErrClosed)
	rp := l.RecoveryPoint()
	if rp != 40 {
		t.Fatalf("recovery point after close %d", rp)
	}

	l = openLog(t, dir, cfg, Options{CleanShutdown: true, RecoveryPoint: rp, HighWatermark: 30})
	defer l.Close()
	if l.LogEndOffset() != 40 || l.HighWatermark() != 30 || l.RecoveryPoint() != 40 {
		t.Fatalf("reopened at LEO %d HW %d RP %d", l.LogEndOffset(), l.HighWatermark(), l.RecoveryPoint())
	}
	// Older segments' indexes are loaded lazily.
	l.mu.RLock()
	if l.mu.segments[0].loaded.Load() {
		t.Error("first segment's index loaded eagerly on a clean open")
	}
	l.mu.RUnlock()
	if got := readAll(t, l, math.MaxInt64); !bytes.Equal(got, want) {
		t.Fatal("data differs after reopen")
	}
	if ts, off := l.MaxTimestamp(); ts != wantTs || off != wantOff {
		t.Fatalf("MaxTimestamp (%d, %d), want (%d, %d)", ts, off, wantTs, wantOff)
	}
	if info := mustAppend(t, l, simpleBatch(1, 0, 1), 2); info.FirstOffset != 40 {
		t.Fatalf("append after reopen at %d", info.FirstOffset)
	}
}

func TestRecoveryAfterTruncatedTail(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	var sizes []int
	for i := range 5 {
		b := simpleBatch(2, int64(i), 20)
		sizes = append(sizes, len(b))
		mustAppend(t, l, b, 0)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "00000000000000000000.log")
	cut := int64(sizes[0] + sizes[1] + sizes[2] + 7)
	if err := os.Truncate(seg, cut); err != nil {
		t.Fatal(err)
	}
	// Unclean open (no clean shutdown): the torn batch is dropped.
	l = openLog(t, dir, testConfig(), Options{})
	defer l.Close()
	if l.LogEndOffset() != 6 {
		t.Fatalf("LogEndOffset = %d, want 6", l.LogEndOffset())
	}
	if got := fileSize(t, seg); got != int64(sizes[0]+sizes[1]+sizes[2]) {
		t.Fatalf("segment has %d bytes", got)
	}
	if hs := batchesOf(t, readAll(t, l, math.MaxInt64)); len(hs) != 3 {
		t.Fatalf("%d batches", len(hs))
	}
	if info := mustAppend(t, l, simpleBatch(1, 0, 1), 0); info.FirstOffset != 6 {
		t.Fatalf("append at %d", info.FirstOffset)
	}
}

func TestRecoveryAfterCorruption(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	bsize := len(simpleBatch(1, 0, 30))
	cfg.SegmentBytes = int64(3 * bsize)
	l := openLog(t, dir, cfg, Options{})
	for range 9 {
		mustAppend(t, l, simpleBatch(1, 0, 30), 0)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Flip a value byte of the second batch of the middle segment.
	seg := filepath.Join(dir, "00000000000000000003.log")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[bsize+record.HeaderSize+10] ^= 0x40
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// With the recovery point at 3, segment 0 is trusted and the rest
	// scanned: segment 3 is cut after one batch, segment 6 dropped.
	l = openLog(t, dir, cfg, Options{RecoveryPoint: 3})
	defer l.Close()
	if l.LogEndOffset() != 4 || l.NumSegments() != 2 {
		t.Fatalf("LogEndOffset %d, %d segments", l.LogEndOffset(), l.NumSegments())
	}
	if len(segmentFiles(t, dir, ".log")) != 2 {
		t.Fatal("later segment files not removed")
	}
	if l.RecoveryPoint() > 3 {
		t.Fatalf("recovery point %d", l.RecoveryPoint())
	}
}

func TestCleanOpenRebuildsBadIndex(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 50
	cfg.SegmentBytes = 2000
	l := openLog(t, dir, cfg, Options{})
	for i := range 60 {
		mustAppend(t, l, simpleBatch(1, int64(i), 30), 0)
	}
	want := readAll(t, l, math.MaxInt64)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	idxs := segmentFiles(t, dir, ".index")
	if len(idxs) < 2 {
		t.Fatalf("index files %v", idxs)
	}
	// Garbage in the first (inactive) index, a torn entry in the last.
	if err := os.WriteFile(idxs[0], bytes.Repeat([]byte{0xee}, 64), 0o644); err != nil {
		t.Fatal(err)
	}
	last := idxs[len(idxs)-1]
	if err := os.Truncate(last, fileSize(t, last)-3); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(segmentFiles(t, dir, ".timeindex")[1]); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg, Options{CleanShutdown: true})
	defer l.Close()
	if got := readAll(t, l, math.MaxInt64); !bytes.Equal(got, want) {
		t.Fatal("data differs")
	}
	for i := range 60 {
		info, err := l.Read(int64(i), 1, math.MaxInt64, true)
		if err != nil {
			t.Fatal(err)
		}
		if hs := batchesOf(t, info.Data); hs[0].BaseOffset != int64(i) {
			t.Fatalf("read %d got %d", i, hs[0].BaseOffset)
		}
	}
	if off, ts, ok := l.OffsetForTimestamp(33); !ok || off != 33 || ts != 33 {
		t.Fatalf("OffsetForTimestamp(33) = %d, %d, %v", off, ts, ok)
	}
}

func TestTruncateTo(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = int64(2 * len(simpleBatch(2, 0, 10)))
	cfg.IndexIntervalBytes = 0
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	for i := range 6 {
		mustAppend(t, l, simpleBatch(2, int64(10*i), 10), int32(i))
	}
	l.SetHighWatermark(12)
	if err := l.TruncateTo(12); err != nil || l.LogEndOffset() != 12 {
		t.Fatalf("no-op truncate: %v, LEO %d", err, l.LogEndOffset())
	}
	if err := l.TruncateTo(7); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 6 || l.HighWatermark() != 6 || l.NumSegments() != 2 {
		t.Fatalf("LEO %d HW %d segments %d", l.LogEndOffset(), l.HighWatermark(), l.NumSegments())
	}
	if ts, off := l.MaxTimestamp(); ts != 20 || off != 4 {
		t.Fatalf("MaxTimestamp after truncation (%d, %d)", ts, off)
	}
	if got := l.Epochs(); fmt.Sprint(got) != fmt.Sprint([]EpochEntry{{0, 0}, {1, 2}, {2, 4}}) {
		t.Fatalf("epochs %v", got)
	}
	// Appends continue at the new end, in the truncated segment.
	if info := mustAppend(t, l, simpleBatch(1, 99, 1), 7); info.FirstOffset != 6 {
		t.Fatalf("append at %d", info.FirstOffset)
	}
	if hs := batchesOf(t, readAll(t, l, math.MaxInt64)); len(hs) != 4 || hs[3].BaseOffset != 6 {
		t.Fatalf("batches %+v", hs)
	}
	if err := l.TruncateFullyAndStartAt(100); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 100 || l.LogEndOffset() != 100 || l.HighWatermark() != 100 || len(l.Epochs()) != 0 {
		t.Fatalf("after full truncation: [%d, %d) HW %d epochs %v", l.LogStartOffset(), l.LogEndOffset(), l.HighWatermark(), l.Epochs())
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 600
	cfg.IndexIntervalBytes = 100
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	// Offsets 0..59, batches of 3 records; timestamps 1000+10*offset except
	// a dip in the middle of each batch.
	for b := range 20 {
		o := int64(3 * b)
		mustAppend(t, l, makeBatch(batchSpec{timestamps: []int64{1000 + 10*o, 1000 + 10*o - 50, 1000 + 10*(o+2)}, valueSize: 20}), 0)
	}
	if l.NumSegments() < 3 {
		t.Fatalf("%d segments", l.NumSegments())
	}
	for _, c := range []struct {
		ts, wantOff, wantTs int64
		ok                  bool
	}{
		{0, 0, 1000, true},
		{1000, 0, 1000, true},
		{1001, 2, 1020, true},
		{1300, 30, 1300, true},
		{1305, 32, 1320, true},
		{1590, 59, 1590, true},
		{1591, 0, 0, false},
	} {
		off, ts, ok := l.OffsetForTimestamp(c.ts)
		if ok != c.ok || (ok && (off != c.wantOff || ts != c.wantTs)) {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d, %v", c.ts, off, ts, ok, c.wantOff, c.wantTs, c.ok)
		}
	}
	if ts, off := l.MaxTimestamp(); ts != 1590 || off != 59 {
		t.Fatalf("MaxTimestamp = %d, %d", ts, off)
	}
	// Results never fall below the log start offset.
	l.SetHighWatermark(60)
	if _, err := l.DeleteRecordsBefore(31); err != nil {
		t.Fatal(err)
	}
	if off, _, ok := l.OffsetForTimestamp(0); !ok || off != 31 {
		t.Fatalf("OffsetForTimestamp after DeleteRecords = %d, %v", off, ok)
	}
}

func TestTimestampLookupsSpecialBatches(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	if ts, off := l.MaxTimestamp(); ts != -1 || off != -1 {
		t.Fatalf("empty MaxTimestamp = %d, %d", ts, off)
	}
	// A compressed CreateTime batch is decoded: the answer is the record.
	mustAppend(t, l, makeBatch(batchSpec{timestamps: []int64{100, 300, 200}, codec: record.CodecZstd}), 0)
	if off, ts, ok := l.OffsetForTimestamp(250); !ok || off != 1 || ts != 300 {
		t.Fatalf("compressed: %d, %d, %v", off, ts, ok)
	}
	if ts, off := l.MaxTimestamp(); ts != 300 || off != 1 {
		t.Fatalf("compressed MaxTimestamp = %d, %d", ts, off)
	}
	// A LogAppendTime batch: every record has the append time.
	if _, err := l.Append(makeBatch(batchSpec{timestamps: []int64{1, 2}}), 0, 5000); err != nil {
		t.Fatal(err)
	}
	if off, ts, ok := l.OffsetForTimestamp(400); !ok || off != 3 || ts != 5000 {
		t.Fatalf("log append time: %d, %d, %v", off, ts, ok)
	}
	if r, err := l.MaxTimestampAndOffset(); err != nil || r.Timestamp != 5000 || r.Offset != 3 || r.LeaderEpoch != 0 {
		t.Fatalf("MaxTimestampAndOffset = %+v, %v", r, err)
	}
}

func TestAppendAsFollower(t *testing.T) {
	cfg := testConfig()
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	b := append(makeBatch(batchSpec{base: 0, timestamps: []int64{1, 2}, epoch: 3}), makeBatch(batchSpec{base: 2, timestamps: []int64{3}, epoch: 4})...)
	info, err := l.AppendAsFollower(b)
	if err != nil || info.FirstOffset != 0 || info.LastOffset != 2 {
		t.Fatalf("AppendAsFollower = %+v, %v", info, err)
	}
	if got := l.Epochs(); fmt.Sprint(got) != fmt.Sprint([]EpochEntry{{3, 0}, {4, 2}}) {
		t.Fatalf("epochs %v", got)
	}
	_, err = l.AppendAsFollower(makeBatch(batchSpec{base: 2, epoch: 4}))
	wantErr(t, err, ErrUnexpectedAppendOffset)
	bad := append(makeBatch(batchSpec{base: 5, timestamps: []int64{1, 2}, epoch: 4}), makeBatch(batchSpec{base: 6, epoch: 4})...)
	_, err = l.AppendAsFollower(bad)
	wantErr(t, err, ErrUnexpectedAppendOffset)
	// A gap (a compacted leader's) stays inside the segment: followers
	// roll by the normal rules only.
	gap := append(makeBatch(batchSpec{base: 3, epoch: 4}), makeBatch(batchSpec{base: 10, timestamps: []int64{1, 2}, epoch: 4})...)
	if _, err := l.AppendAsFollower(gap); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 12 || l.NumSegments() != 1 {
		t.Fatalf("LEO %d, %d segments", l.LogEndOffset(), l.NumSegments())
	}
	info2, err := l.Read(5, 1000, math.MaxInt64, false)
	if err != nil {
		t.Fatal(err)
	}
	if hs := batchesOf(t, info2.Data); hs[0].BaseOffset != 10 {
		t.Fatalf("read in the gap starts at %d", hs[0].BaseOffset)
	}
}

// TestFollowerGapsRollByTheNormalRules: a follower copying a compacted
// leader writes batches with offset gaps into the active segment; a roll
// (here by segment.bytes) starts the new segment at the log end offset,
// so segments still tile the offsets, and an unclean restart recovers
// every batch, gaps in the last segment included.
func TestFollowerGapsRollByTheNormalRules(t *testing.T) {
	cfg := testConfig()
	one := makeBatch(batchSpec{base: 0, epoch: 1, valueSize: 100})
	cfg.SegmentBytes = int64(3 * len(one))
	dir := t.TempDir()
	l := openLog(t, dir, cfg, Options{})
	var want []int64
	for i := range 10 {
		base := int64(i * 5) // every batch after a gap of 4 offsets
		if _, err := l.AppendAsFollower(makeBatch(batchSpec{base: base, epoch: 1, valueSize: 100})); err != nil {
			t.Fatal(err)
		}
		want = append(want, base)
	}
	if n := l.NumSegments(); n != 4 {
		t.Fatalf("%d segments, want 4 (3 batches each)", n)
	}
	l.mu.RLock()
	for i, s := range l.mu.segments[1:] {
		if prev := l.mu.segments[i]; s.base != prev.nextOffset {
			t.Errorf("segment %d does not continue segment %d, which ends at %d", s.base, prev.base, prev.nextOffset)
		}
	}
	l.mu.RUnlock()
	crashLog(l)
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	var got []int64
	for _, h := range batchesOf(t, readAll(t, l, math.MaxInt64)) {
		got = append(got, h.BaseOffset)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || l.LogEndOffset() != 46 {
		t.Fatalf("after recovery: batches at %v, LEO %d; want %v, 46", got, l.LogEndOffset(), want)
	}
}

func TestStickyWriteError(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	mustAppend(t, l, simpleBatch(1, 0, 1), 0)
	// Make the next write fail.
	l.mu.Lock()
	_ = l.activeLocked().file.Close()
	l.mu.Unlock()
	_, err := l.Append(simpleBatch(1, 0, 1), 0, -1)
	wantErr(t, err, ErrLogDirOffline)
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("cause lost: %v", err)
	}
	first := err
	_, err = l.Append(simpleBatch(1, 0, 1), 0, -1)
	if err == nil || err.Error() != first.Error() {
		t.Fatalf("second append: %v, want the sticky %v", err, first)
	}
	_, err = l.Read(0, 100, math.MaxInt64, true)
	wantErr(t, err, ErrLogDirOffline)
	wantErr(t, l.Flush(), ErrLogDirOffline)
	wantErr(t, l.Close(), ErrLogDirOffline)
}

func TestFlushMessages(t *testing.T) {
	cfg := testConfig()
	cfg.FlushMessages = 5
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	mustAppend(t, l, simpleBatch(3, 0, 1), 0)
	if rp := l.RecoveryPoint(); rp != 0 {
		t.Fatalf("recovery point %d before flush.messages", rp)
	}
	mustAppend(t, l, simpleBatch(3, 0, 1), 0)
	if rp := l.RecoveryPoint(); rp != 6 {
		t.Fatalf("recovery point %d after flush.messages", rp)
	}
}

func TestRollFlushesOlderSegments(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = int64(len(simpleBatch(1, 0, 10)))
	l := openLog(t, t.TempDir(), cfg, Options{})
	for range 3 {
		mustAppend(t, l, simpleBatch(1, 0, 10), 0)
	}
	l.bg.Wait()
	if rp := l.RecoveryPoint(); rp != 2 {
		t.Fatalf("recovery point %d after rolls, want the active segment's base 2", rp)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTopicIDAndDelete(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "my.topic-7")
	l := openLog(t, dir, testConfig(), Options{})
	id := uuid.New()
	if err := l.WriteTopicID(id); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, PartitionMetadataFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "version: 0\ntopic_id: "+uuid.Format(id)+"\n" {
		t.Fatalf("partition.metadata %q", data)
	}
	if err := l.WriteTopicID(id); err != nil {
		t.Fatalf("same id again: %v", err)
	}
	wantErr(t, l.WriteTopicID(uuid.New()), ErrInconsistentTopicID)
	mustAppend(t, l, simpleBatch(1, 0, 1), 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, testConfig(), Options{CleanShutdown: true})
	if got, ok := l.TopicID(); !ok || got != id {
		t.Fatal("topic id lost on reopen")
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
	if name := deleteDirName("my.topic-7"); !strings.HasPrefix(name, "my.topic-7.") || !strings.HasSuffix(name, "-delete") || len(name) != len("my.topic-7.")+32+len("-delete") {
		t.Fatalf("delete dir name %q", name)
	}
	if name := deleteDirName(strings.Repeat("t", 249) + "-12"); len(name) != 255 || !strings.Contains(name, "-12.") {
		t.Fatalf("long delete dir name %q (%d)", name, len(name))
	}
}

func TestConcurrentAppendRead(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 4000
	cfg.IndexIntervalBytes = 200
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	const n = 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if _, err := l.Append(simpleBatch(2, int64(i), 30), 0, -1); err != nil {
				t.Error(err)
				return
			}
			if i%50 == 0 {
				l.SetHighWatermark(l.LogEndOffset())
				if _, err := l.ApplyRetention(); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := int64(0)
			for next < 2*n {
				info, err := l.Read(next, 500+r*300, math.MaxInt64, true)
				if errors.Is(err, ErrOffsetOutOfRange) {
					next = info.LogStartOffset
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if len(info.Data) == 0 {
					continue
				}
				hs := batchesOf(t, info.Data)
				if hs[0].BaseOffset > next || hs[0].LastOffset() < next {
					t.Errorf("read at %d returned batch %d", next, hs[0].BaseOffset)
					return
				}
				for i := 1; i < len(hs); i++ {
					if hs[i].BaseOffset != hs[i-1].NextOffset() {
						t.Errorf("gap in read data")
						return
					}
				}
				next = hs[len(hs)-1].NextOffset()
			}
		}()
	}
	wg.Wait()
}

func TestUncleanReopenKeepsActiveSegment(t *testing.T) {
	clock := newFakeClock()
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentMs = 60000
	l := openLog(t, dir, cfg, Options{Now: clock.Now})
	mustAppend(t, l, simpleBatch(1, clock.Ms(), 1), 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, clean := range []bool{false, true} {
		l = openLog(t, dir, cfg, Options{Now: clock.Now, CleanShutdown: clean})
		mustAppend(t, l, simpleBatch(1, clock.Ms(), 1), 0)
		if n := l.NumSegments(); n != 1 {
			t.Fatalf("clean=%v: %d segments after reopen and append", clean, n)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// The roll clock survives a reopen: it is the first batch's timestamp.
	clock.Advance(61 * time.Second)
	l = openLog(t, dir, cfg, Options{Now: clock.Now})
	defer l.Close()
	mustAppend(t, l, simpleBatch(1, clock.Ms(), 1), 0)
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("%d segments after segment.ms", n)
	}
}
