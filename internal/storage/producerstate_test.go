package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/record"
)

// pbatch describes a batch from a producer.
type pbatch struct {
	pid   int64
	epoch int16
	seq   int32
	n     int   // records
	ts    int64 // timestamp of every record; 0: now (producer expiry counts from it)
	base  int64 // for follower appends
	txn   bool
}

func (b pbatch) build(t testing.TB) []byte {
	t.Helper()
	n := max(b.n, 1)
	if b.ts == 0 {
		b.ts = time.Now().UnixMilli()
	}
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Key: []byte{byte(i)}, Value: []byte("v")}
	}
	out, err := record.Build(record.BuildOptions{
		BaseOffset: b.base, PartitionLeaderEpoch: record.NoPartitionLeaderEpoch, BaseTimestamp: b.ts,
		ProducerID: b.pid, ProducerEpoch: b.epoch, BaseSequence: b.seq, Transactional: b.txn,
	}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// markerBatch builds an end-transaction marker (a control batch).
func markerBatch(t testing.TB, pid int64, epoch int16, base int64, commit bool, coordinatorEpoch int32, ts int64) []byte {
	t.Helper()
	key := []byte{0, 0, 0, 0}
	if commit {
		key[3] = 1
	}
	value := binary.BigEndian.AppendUint32([]byte{0, 0}, uint32(coordinatorEpoch))
	out, err := record.Build(record.BuildOptions{
		BaseOffset: base, PartitionLeaderEpoch: record.NoPartitionLeaderEpoch, BaseTimestamp: ts,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: record.NoSequence, Transactional: true, Control: true,
	}, []record.Record{{Key: key, Value: value}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func appendP(t testing.TB, l *Log, b pbatch) (AppendInfo, error) {
	t.Helper()
	return l.Append(b.build(t), 0, -1)
}

func mustAppendP(t testing.TB, l *Log, b pbatch) AppendInfo {
	t.Helper()
	info, err := appendP(t, l, b)
	if err != nil {
		t.Fatalf("Append(%+v): %v", b, err)
	}
	return info
}

func producerOf(t testing.TB, l *Log, pid int64) (ProducerState, bool) {
	t.Helper()
	for _, p := range l.ActiveProducers() {
		if p.ProducerID == pid {
			return p, true
		}
	}
	return ProducerState{}, false
}

func countBatches(t testing.TB, l *Log) int {
	t.Helper()
	return len(batchesOf(t, readAll(t, l, math.MaxInt64)))
}

func TestProducerDuplicateReturnsOriginalOffsets(t *testing.T) {
	clock := newFakeClock()
	l := openLog(t, t.TempDir(), testConfig(), Options{Now: clock.Now})
	defer l.Close()
	mustAppend(t, l, simpleBatch(2, clock.Ms(), 1), 0) // offsets 0-1, no producer

	var infos []AppendInfo
	seq := int32(0)
	for i := range 5 {
		b := pbatch{pid: 7, epoch: 0, seq: seq, n: i + 1, ts: clock.Ms() + int64(i)}
		infos = append(infos, mustAppendP(t, l, b))
		seq += int32(i + 1)
	}
	leo := l.LogEndOffset()
	// Each of the last five batches, sent again, is recognized.
	seq = 0
	for i := range 5 {
		b := pbatch{pid: 7, epoch: 0, seq: seq, n: i + 1, ts: 1}
		info := mustAppendP(t, l, b)
		if !info.Duplicate || info.FirstOffset != infos[i].FirstOffset || info.LastOffset != infos[i].LastOffset {
			t.Fatalf("resend of batch %d: %+v, want duplicate of %+v", i, info, infos[i])
		}
		// Kafka answers a duplicate with its max timestamp as the log
		// append time.
		if info.LogAppendTime != clock.Ms()+int64(i) {
			t.Fatalf("duplicate log append time %d, want %d", info.LogAppendTime, clock.Ms()+int64(i))
		}
		seq += int32(i + 1)
	}
	if got := l.LogEndOffset(); got != leo {
		t.Fatalf("log end offset %d after duplicates, want %d", got, leo)
	}
	if n := countBatches(t, l); n != 6 {
		t.Fatalf("%d batches in the log, want 6", n)
	}
	// A sixth batch pushes the first out: resending it is then a
	// sequence error, as in Kafka.
	mustAppendP(t, l, pbatch{pid: 7, epoch: 0, seq: seq, n: 1})
	_, err := appendP(t, l, pbatch{pid: 7, epoch: 0, seq: 0, n: 1})
	wantErr(t, err, ErrOutOfOrderSequence)
	// Same sequences but another epoch is not a duplicate.
	_, err = appendP(t, l, pbatch{pid: 7, epoch: 1, seq: 1, n: 2})
	wantErr(t, err, ErrOutOfOrderSequence)
}

func TestProducerSequenceChecks(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	steps := []struct {
		b    pbatch
		want error
	}{
		// An unknown producer may start at any sequence (KIP-360: no
		// UNKNOWN_PRODUCER_ID).
		{pbatch{pid: 1, epoch: 0, seq: 10, n: 3}, nil},
		{pbatch{pid: 1, epoch: 0, seq: 13, n: 1}, nil},
		{pbatch{pid: 1, epoch: 0, seq: 15, n: 1}, ErrOutOfOrderSequence}, // gap
		{pbatch{pid: 1, epoch: 0, seq: 12, n: 1}, ErrOutOfOrderSequence}, // overlaps, not a duplicate
		{pbatch{pid: 1, epoch: 1, seq: 3, n: 1}, ErrOutOfOrderSequence},  // a new epoch starts at 0
		{pbatch{pid: 1, epoch: 1, seq: 0, n: 2}, nil},                    // epoch bump resets the sequence
		{pbatch{pid: 1, epoch: 0, seq: 14, n: 1}, ErrInvalidProducerEpoch},
		{pbatch{pid: 1, epoch: 1, seq: 2, n: 1}, nil},
		// Producers are independent.
		{pbatch{pid: 2, epoch: 5, seq: 0, n: 1}, nil},
		{pbatch{pid: 2, epoch: 5, seq: 1, n: math.MaxInt16}, nil},
		{pbatch{pid: 3, epoch: 0, seq: math.MaxInt32 - 1, n: 3}, nil}, // the batch wraps past MaxInt32
		{pbatch{pid: 3, epoch: 0, seq: 1, n: 1}, nil},
		{pbatch{pid: 6, epoch: 0, seq: math.MaxInt32, n: 1}, nil},
		{pbatch{pid: 6, epoch: 0, seq: 1, n: 1}, ErrOutOfOrderSequence},
		{pbatch{pid: 6, epoch: 0, seq: 0, n: 1}, nil}, // wraps between batches
	}
	for i, s := range steps {
		leo := l.LogEndOffset()
		info, err := appendP(t, l, s.b)
		if s.want == nil {
			if err != nil || info.Duplicate {
				t.Fatalf("step %d %+v: %+v, %v", i, s.b, info, err)
			}
			continue
		}
		if !errors.Is(err, s.want) {
			t.Fatalf("step %d %+v: error %v, want %v", i, s.b, err, s.want)
		}
		if l.LogEndOffset() != leo {
			t.Fatalf("step %d: a refused batch was written", i)
		}
	}
	p, _ := producerOf(t, l, 1)
	if p.ProducerEpoch != 1 || p.LastSequence() != 2 || len(p.Batches) != 2 {
		t.Fatalf("producer 1: %+v", p)
	}
	p3, _ := producerOf(t, l, 3)
	if p3.Batches[0].FirstSeq != math.MaxInt32-1 || p3.Batches[0].LastSeq != 0 || p3.LastSequence() != 1 {
		t.Fatalf("producer 3: %+v", p3)
	}
}

func TestProducerTransactionalState(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	info := mustAppendP(t, l, pbatch{pid: 4, epoch: 0, seq: 0, n: 2, txn: true})
	p, _ := producerOf(t, l, 4)
	if p.CurrentTxnFirstOffset != info.FirstOffset {
		t.Fatalf("open transaction at %d, want %d", p.CurrentTxnFirstOffset, info.FirstOffset)
	}
	_, err := appendP(t, l, pbatch{pid: 4, epoch: 0, seq: 2, n: 1})
	wantErr(t, err, ErrInvalidTxnState)
	mustAppendP(t, l, pbatch{pid: 4, epoch: 0, seq: 2, n: 1, txn: true})
	if p, _ := producerOf(t, l, 4); p.CurrentTxnFirstOffset != info.FirstOffset {
		t.Fatalf("open transaction moved to %d", p.CurrentTxnFirstOffset)
	}
}

// The broker's own writes (Kafka's AppendOrigin.COORDINATOR) are checked
// for epochs only: transactional records without sequences, and markers
// that close the transaction, fenced by coordinator epoch.
func TestProducerStateCoordinatorAppends(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	coord := func(b []byte) (AppendInfo, error) { return l.AppendAsCoordinator(b, 0, -1) }
	for range 2 { // the same sequence twice: neither a duplicate nor a gap
		if info, err := coord(pbatch{pid: 8, epoch: 1, seq: record.NoSequence, n: 1, txn: true}.build(t)); err != nil || info.Duplicate {
			t.Fatalf("transactional record: %+v, %v", info, err)
		}
	}
	if p, _ := producerOf(t, l, 8); p.CurrentTxnFirstOffset != 0 {
		t.Fatalf("open transaction: %+v", p)
	}
	if _, err := coord(pbatch{pid: 8, epoch: 0, seq: record.NoSequence, n: 1, txn: true}.build(t)); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("older epoch: %v", err)
	}
	if _, err := coord(markerBatch(t, 8, 1, 0, true, 4, 1)); err != nil {
		t.Fatal(err)
	}
	p, _ := producerOf(t, l, 8)
	if p.CurrentTxnFirstOffset != -1 || p.CoordinatorEpoch != 4 {
		t.Fatalf("after the marker: %+v", p)
	}
	if _, err := coord(markerBatch(t, 8, 1, 0, false, 3, 1)); !errors.Is(err, ErrTransactionCoordinatorFenced) {
		t.Fatalf("marker from an older coordinator: %v", err)
	}
	// A marker is not a client's to write, but were it written, the
	// same check applies.
	leo := l.LogEndOffset()
	if _, err := l.Append(markerBatch(t, 8, 1, 0, false, 2, 1), 0, -1); !errors.Is(err, ErrTransactionCoordinatorFenced) || l.LogEndOffset() != leo {
		t.Fatalf("fenced marker appended: %v", err)
	}
}

func TestProducerStateFollower(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	// The follower takes whatever the leader wrote: no sequence or epoch
	// checks.
	var data []byte
	data = append(data, pbatch{pid: 9, epoch: 3, seq: 0, n: 2, base: 0, ts: 100}.build(t)...)
	data = append(data, pbatch{pid: 9, epoch: 2, seq: 40, n: 1, base: 2, ts: 101}.build(t)...) // older epoch: logged only
	data = append(data, pbatch{pid: 9, epoch: 3, seq: 7, n: 1, base: 3, ts: 102, txn: true}.build(t)...)
	if _, err := l.AppendAsFollower(data); err != nil {
		t.Fatal(err)
	}
	p, _ := producerOf(t, l, 9)
	if p.CurrentTxnFirstOffset != 3 || p.LastSequence() != 7 || p.LastTimestamp != 102 {
		t.Fatalf("after data: %+v", p)
	}
	if _, err := l.AppendAsFollower(markerBatch(t, 9, 3, 4, true, 6, 103)); err != nil {
		t.Fatal(err)
	}
	p, _ = producerOf(t, l, 9)
	if p.CurrentTxnFirstOffset != -1 || p.CoordinatorEpoch != 6 || p.LastTimestamp != 103 || p.LastSequence() != 7 {
		t.Fatalf("after marker: %+v", p)
	}
	// The state built by replication decides leader appends after a
	// leadership change.
	info := mustAppendP(t, l, pbatch{pid: 9, epoch: 3, seq: 7, n: 1})
	if !info.Duplicate || info.FirstOffset != 3 {
		t.Fatalf("resend after replication: %+v", info)
	}
	_, err := appendP(t, l, pbatch{pid: 9, epoch: 3, seq: 9, n: 1})
	wantErr(t, err, ErrOutOfOrderSequence)
	mustAppendP(t, l, pbatch{pid: 9, epoch: 3, seq: 8, n: 1})
}

// stateOf is the producer state without the timestamps of retained
// batches other than the last (a snapshot round trip keeps them too; a
// rebuild gets them from the log).
func statesEqual(t *testing.T, got, want []ProducerState) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("producer state\n got %+v\nwant %+v", got, want)
	}
}

func fillProducers(t *testing.T, l *Log, ts int64) {
	t.Helper()
	for pid := int64(1); pid <= 3; pid++ {
		seq := int32(0)
		for i := range 7 {
			n := int(pid) + i%2
			mustAppendP(t, l, pbatch{pid: pid, epoch: int16(pid), seq: seq, n: n, ts: ts + int64(i)})
			seq += int32(n)
		}
	}
	mustAppendP(t, l, pbatch{pid: 4, epoch: 0, seq: 0, n: 1, ts: ts, txn: true})
}

func TestProducerSnapshotRoundTrip(t *testing.T) {
	producers := map[int64]*ProducerState{
		1: {ProducerID: 1, ProducerEpoch: 2, CoordinatorEpoch: -1, LastTimestamp: 50, CurrentTxnFirstOffset: -1, Batches: []BatchMetadata{
			{FirstSeq: 0, LastSeq: 4, FirstOffset: 10, LastOffset: 14, Timestamp: 40},
			{FirstSeq: 5, LastSeq: 5, FirstOffset: 20, LastOffset: 20, Timestamp: 50},
		}},
		2: {ProducerID: 2, ProducerEpoch: 0, CoordinatorEpoch: 3, LastTimestamp: 60, CurrentTxnFirstOffset: 30},
		3: {ProducerID: 3, ProducerEpoch: 0, CoordinatorEpoch: -1, LastTimestamp: 70, CurrentTxnFirstOffset: -1, Batches: []BatchMetadata{
			{FirstSeq: math.MaxInt32 - 1, LastSeq: 1, FirstOffset: 40, LastOffset: 43, Timestamp: 70},
		}},
	}
	b := encodeProducerSnapshot(producers)
	if want := producerSnapshotHeader + 4*producerSnapshotEntrySize; len(b) != want {
		t.Fatalf("snapshot of %d bytes, want %d", len(b), want)
	}
	entries, err := decodeProducerSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("%d producers decoded", len(entries))
	}
	for _, e := range entries {
		if !reflect.DeepEqual(e, producers[e.ProducerID]) {
			t.Fatalf("producer %d: got %+v, want %+v", e.ProducerID, e, producers[e.ProducerID])
		}
	}
	// Kafka's own snapshots have one entry per producer: its last batch.
	kafka := make([]byte, producerSnapshotHeader)
	binary.BigEndian.PutUint16(kafka, 1)
	binary.BigEndian.PutUint32(kafka[6:], 1)
	for _, v := range []any{int64(5), int16(1), int32(9), int64(100), int32(2), int64(77), int32(-1), int64(-1)} {
		kafka, _ = binary.Append(kafka, binary.BigEndian, v)
	}
	binary.BigEndian.PutUint32(kafka[2:], crc32.Checksum(kafka[6:], crc32.MakeTable(crc32.Castagnoli)))
	entries, err = decodeProducerSnapshot(kafka)
	if err != nil {
		t.Fatal(err)
	}
	want := &ProducerState{ProducerID: 5, ProducerEpoch: 1, CoordinatorEpoch: -1, LastTimestamp: 77, CurrentTxnFirstOffset: -1,
		Batches: []BatchMetadata{{FirstSeq: 7, LastSeq: 9, FirstOffset: 98, LastOffset: 100, Timestamp: 77}}}
	if len(entries) != 1 || !reflect.DeepEqual(entries[0], want) {
		t.Fatalf("Kafka snapshot: got %+v, want %+v", entries, want)
	}
	// Every damage is detected.
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 0x40
		if _, err := decodeProducerSnapshot(bad); !IsCorruption(err) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
	for _, n := range []int{0, 5, producerSnapshotHeader + 1, len(b) - 1} {
		if _, err := decodeProducerSnapshot(b[:n]); !IsCorruption(err) {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
}

func TestProducerStateSurvivesCleanClose(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	cfg := testConfig()
	cfg.SegmentBytes = 600 // several segments, so snapshots at rolls too
	l := openLog(t, dir, cfg, Options{Now: clock.Now})
	fillProducers(t, l, clock.Ms())
	want := l.ActiveProducers()
	leo := l.LogEndOffset()
	if err := l.SnapshotProducers(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(producerSnapshotPath(dir, leo)); err != nil {
		t.Fatalf("no snapshot at the log end offset: %v", err)
	}
	if n := len(segmentFiles(t, dir, producerSnapshotSuffix)); n < 3 {
		t.Fatalf("%d snapshot files, want one per roll and one at close", n)
	}
	// Reopened as after a clean shutdown: the state comes from the
	// snapshot. Every retained batch is still a duplicate.
	l = openLog(t, dir, cfg, Options{Now: clock.Now, CleanShutdown: true, RecoveryPoint: leo})
	defer l.Close()
	statesEqual(t, l.ActiveProducers(), want)
	for _, p := range want {
		for _, b := range p.Batches {
			info := mustAppendP(t, l, pbatch{pid: p.ProducerID, epoch: p.ProducerEpoch, seq: b.FirstSeq, n: int(b.LastSeq-b.FirstSeq) + 1, txn: p.CurrentTxnFirstOffset >= 0})
			if !info.Duplicate || info.FirstOffset != b.FirstOffset {
				t.Fatalf("producer %d batch %+v after reopen: %+v", p.ProducerID, b, info)
			}
		}
	}
}

func TestProducerStateRecoveredAfterUncleanShutdown(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	cfg := testConfig()
	cfg.SegmentBytes = 600
	l := openLog(t, dir, cfg, Options{Now: clock.Now})
	fillProducers(t, l, clock.Ms())
	want := l.ActiveProducers()
	// A crash: no snapshot at the end, no clean shutdown marker, and a
	// torn write at the end of the active segment.
	_ = l.Close() // closes files; the state on disk is what a crash after the last fsync leaves
	for _, f := range segmentFiles(t, dir, producerSnapshotSuffix) {
		if off, _ := parseSegmentFileName(filepath.Base(f), producerSnapshotSuffix); off == l.LogEndOffset() {
			os.Remove(f)
		}
	}
	logs := segmentFiles(t, dir, logSuffix)
	torn := pbatch{pid: 1, epoch: 1, seq: 100, n: 1}.build(t)
	f, err := os.OpenFile(logs[len(logs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(torn[:len(torn)-3])
	f.Close()

	l = openLog(t, dir, cfg, Options{Now: clock.Now})
	defer l.Close()
	statesEqual(t, l.ActiveProducers(), want)
	p := want[0]
	last := p.Batches[len(p.Batches)-1]
	info := mustAppendP(t, l, pbatch{pid: p.ProducerID, epoch: p.ProducerEpoch, seq: last.FirstSeq, n: int(last.LastSeq-last.FirstSeq) + 1})
	if !info.Duplicate || info.FirstOffset != last.FirstOffset {
		t.Fatalf("duplicate after recovery: %+v, want of %+v", info, last)
	}
	mustAppendP(t, l, pbatch{pid: p.ProducerID, epoch: p.ProducerEpoch, seq: last.LastSeq + 1, n: 1})
}

func TestCorruptProducerSnapshotIsIgnored(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	l := openLog(t, dir, testConfig(), Options{Now: clock.Now})
	fillProducers(t, l, clock.Ms())
	want := l.ActiveProducers()
	leo := l.LogEndOffset()
	if err := l.SnapshotProducers(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	path := producerSnapshotPath(dir, leo)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, testConfig(), Options{Now: clock.Now, CleanShutdown: true, RecoveryPoint: leo})
	defer l.Close()
	statesEqual(t, l.ActiveProducers(), want)
	// The bad snapshot was replaced by a good one at the same offset.
	if _, err := readProducerSnapshot(path); err != nil {
		t.Fatalf("snapshot after the rebuild: %v", err)
	}
}

func TestProducerStateAfterTruncation(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 300
	l := openLog(t, dir, cfg, Options{})
	defer l.Close()
	var infos []AppendInfo
	for i := range 12 {
		infos = append(infos, mustAppendP(t, l, pbatch{pid: 1, epoch: 0, seq: int32(2 * i), n: 2}))
	}
	if l.NumSegments() < 3 {
		t.Fatalf("%d segments, want several", l.NumSegments())
	}
	// A follower truncating to the middle of the log forgets the batches
	// above; the state is that of the batches kept.
	cut := infos[7].FirstOffset
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	p, _ := producerOf(t, l, 1)
	if p.LastSequence() != 13 || p.LastDataOffset() != infos[6].LastOffset || len(p.Batches) != 5 || p.Batches[0].FirstSeq != 4 {
		t.Fatalf("after truncation: %+v", p)
	}
	for _, off := range l.mu.producers.snapshots {
		if off > cut {
			t.Fatalf("snapshot at %d survived truncation to %d", off, cut)
		}
	}
	info := mustAppendP(t, l, pbatch{pid: 1, epoch: 0, seq: 14, n: 2})
	if info.Duplicate || info.FirstOffset != cut {
		t.Fatalf("batch 7 again after truncation: %+v", info)
	}
	if info := mustAppendP(t, l, pbatch{pid: 1, epoch: 0, seq: 12, n: 2}); !info.Duplicate || info.FirstOffset != infos[6].FirstOffset {
		t.Fatalf("duplicate of a kept batch: %+v", info)
	}
	// Truncating everything forgets every producer.
	if err := l.TruncateFullyAndStartAt(1000); err != nil {
		t.Fatal(err)
	}
	if ps := l.ActiveProducers(); len(ps) != 0 {
		t.Fatalf("producers after full truncation: %+v", ps)
	}
	if fs := segmentFiles(t, dir, producerSnapshotSuffix); len(fs) != 0 {
		t.Fatalf("snapshots after full truncation: %v", fs)
	}
	mustAppendP(t, l, pbatch{pid: 1, epoch: 0, seq: 50, n: 1})
}

func TestProducerExpiry(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	l := openLog(t, dir, testConfig(), Options{Now: clock.Now, ProducerIDExpirationMs: 60_000})
	mustAppendP(t, l, pbatch{pid: 1, epoch: 0, seq: 0, n: 1, ts: clock.Ms()})
	mustAppendP(t, l, pbatch{pid: 2, epoch: 0, seq: 0, n: 1, ts: clock.Ms(), txn: true})
	clock.Advance(30 * time.Second)
	mustAppendP(t, l, pbatch{pid: 3, epoch: 0, seq: 0, n: 1, ts: clock.Ms()})
	if n := l.removeExpiredProducers(); n != 0 {
		t.Fatalf("%d producers expired early", n)
	}
	clock.Advance(30 * time.Second)
	if n := l.removeExpiredProducers(); n != 1 {
		t.Fatalf("%d producers expired, want 1", n)
	}
	// Producer 2's transaction is open: it never expires.
	if _, ok := producerOf(t, l, 1); ok {
		t.Fatal("producer 1 not expired")
	}
	for _, pid := range []int64{2, 3} {
		if _, ok := producerOf(t, l, pid); !ok {
			t.Fatalf("producer %d expired", pid)
		}
	}
	// An expired producer is unknown again: any sequence is accepted.
	mustAppendP(t, l, pbatch{pid: 1, epoch: 0, seq: 9, n: 1, ts: clock.Ms()})
	if err := l.SnapshotProducers(); err != nil {
		t.Fatal(err)
	}
	leo := l.LogEndOffset()
	l.Close()
	// Producers expired by the time a snapshot is loaded are dropped.
	clock.Advance(45 * time.Second)
	l = openLog(t, dir, testConfig(), Options{Now: clock.Now, ProducerIDExpirationMs: 60_000, CleanShutdown: true, RecoveryPoint: leo})
	defer l.Close()
	var pids []int64
	for _, p := range l.ActiveProducers() {
		pids = append(pids, p.ProducerID)
	}
	if !reflect.DeepEqual(pids, []int64{1, 2}) {
		t.Fatalf("producers after reload: %v, want [1 2]", pids)
	}
}

func TestProducerSnapshotsFollowSegments(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 400
	l := openLog(t, dir, cfg, Options{})
	defer l.Close()
	for i := range 20 {
		mustAppendP(t, l, pbatch{pid: 1, epoch: 0, seq: int32(i), n: 1})
	}
	l.SetHighWatermark(l.LogEndOffset())
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	bases := func() map[int64]bool {
		m := map[int64]bool{}
		l.mu.RLock()
		defer l.mu.RUnlock()
		for _, s := range l.mu.segments {
			m[s.base] = true
		}
		return m
	}
	// Every roll left a snapshot at the new segment's base.
	for b := range bases() {
		if _, err := os.Stat(producerSnapshotPath(dir, b)); b > 0 && err != nil {
			t.Fatalf("no snapshot for segment %d", b)
		}
	}
	// DeleteRecords removes the first segments and their snapshots.
	if _, err := l.DeleteRecordsBefore(l.LogEndOffset() - 2); err != nil {
		t.Fatal(err)
	}
	segs := bases()
	for _, f := range segmentFiles(t, dir, producerSnapshotSuffix) {
		off, _ := parseSegmentFileName(filepath.Base(f), producerSnapshotSuffix)
		if !segs[off] {
			t.Fatalf("snapshot %d outlived its segment (segments %v)", off, segs)
		}
	}
	// Producer state is kept in memory although its batches are gone.
	if p, ok := producerOf(t, l, 1); !ok || p.LastSequence() != 19 {
		t.Fatalf("producer after retention: %+v", p)
	}
	// Only the snapshots of the last two segments are needed once the
	// recovery point is past them.
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := l.deleteOldProducerSnapshots(); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentFiles(t, dir, producerSnapshotSuffix)); n > 2 {
		t.Fatalf("%d snapshots left, want at most 2", n)
	}
}

func TestManagerSnapshotsProducersOnClose(t *testing.T) {
	dir := t.TempDir()
	if err := FormatLogDir(dir, "cluster", 1); err != nil {
		t.Fatal(err)
	}
	m, err := OpenManager([]string{dir}, ManagerOptions{Logger: quietLogger()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.GetOrCreate("t", 0, [16]byte{1}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	// Expiry counts from the batches' timestamps, so they must be recent.
	now := time.Now().UnixMilli()
	mustAppendP(t, l, pbatch{pid: 1, epoch: 0, seq: 0, n: 3, ts: now})
	leo := l.LogEndOffset()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := readProducerSnapshot(producerSnapshotPath(l.Dir(), leo))
	if err != nil || len(entries) != 1 || entries[0].LastSequence() != 2 {
		t.Fatalf("snapshot at close: %+v, %v", entries, err)
	}
	m, err = OpenManager([]string{dir}, ManagerOptions{Logger: quietLogger()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, _ = m.Get("t", 0)
	if info := mustAppendP(t, l, pbatch{pid: 1, epoch: 0, seq: 0, n: 3, ts: now}); !info.Duplicate {
		t.Fatalf("duplicate after restart: %+v", info)
	}
}

// FuzzProducerSnapshot checks the snapshot decoder: it never panics, and
// what it accepts encodes back to bytes it decodes to the same state.
func FuzzProducerSnapshot(f *testing.F) {
	f.Add(encodeProducerSnapshot(map[int64]*ProducerState{
		1: {ProducerID: 1, ProducerEpoch: 2, CoordinatorEpoch: -1, LastTimestamp: 5, CurrentTxnFirstOffset: -1,
			Batches: []BatchMetadata{{FirstSeq: 0, LastSeq: 1, FirstOffset: 0, LastOffset: 1, Timestamp: 5}}},
	}))
	f.Add(encodeProducerSnapshot(nil))
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeProducerSnapshot(b)
		if err != nil {
			if !IsCorruption(err) {
				t.Fatalf("error not marked as corruption: %v", err)
			}
			return
		}
		m := map[int64]*ProducerState{}
		for _, e := range entries {
			if len(e.Batches) > numBatchesToRetain {
				t.Fatalf("%d batches retained", len(e.Batches))
			}
			m[e.ProducerID] = e // a repeated producer id: the last group wins, as in Kafka
		}
		// One encoding normalizes; from then on the format round-trips.
		s1 := encodeProducerSnapshot(m)
		again, err := decodeProducerSnapshot(s1)
		if err != nil {
			t.Fatal(err)
		}
		m2 := map[int64]*ProducerState{}
		for _, e := range again {
			m2[e.ProducerID] = e
		}
		if s2 := encodeProducerSnapshot(m2); !bytes.Equal(s1, s2) {
			t.Fatalf("re-encoding changed the snapshot:\n%x\n%x", s1, s2)
		}
	})
}
