package raft

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"

	etcdraft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func testBootstrap() *pb.Snapshot {
	return &pb.Snapshot{Metadata: &pb.SnapshotMetadata{
		Index: new(uint64), Term: new(uint64),
		ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}},
	}}
}

func ents(term uint64, from, to uint64) []*pb.Entry {
	var out []*pb.Entry
	for i := from; i <= to; i++ {
		out = append(out, &pb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(term), Data: []byte{byte(i), byte(term)}})
	}
	return out
}

func hardState(term, vote, commit uint64) *pb.HardState {
	return &pb.HardState{Term: proto.Uint64(term), Vote: proto.Uint64(vote), Commit: proto.Uint64(commit)}
}

// logOf returns (index, term) pairs of every entry in ms.
func logOf(t *testing.T, ms *etcdraft.MemoryStorage) [][2]uint64 {
	t.Helper()
	first, _ := ms.FirstIndex()
	last, _ := ms.LastIndex()
	if last < first {
		return nil
	}
	es, err := ms.Entries(first, last+1, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]uint64
	for _, e := range es {
		out = append(out, [2]uint64{e.GetIndex(), e.GetTerm()})
	}
	return out
}

func pairs(term uint64, from, to uint64) [][2]uint64 {
	var out [][2]uint64
	for i := from; i <= to; i++ {
		out = append(out, [2]uint64{i, term})
	}
	return out
}

func equalPairs(a, b [][2]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func reopen(t *testing.T, dir string) (*wal, *etcdraft.MemoryStorage) {
	t.Helper()
	w, ms, err := openWAL(dir, 7, testBootstrap(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return w, ms
}

// Entries written with a lower index replace the ones at and after it
// (etcd raft's Ready contract, step 1), and the last HardState wins.
func TestWALReplayOverwrites(t *testing.T) {
	dir := t.TempDir()
	w, ms := reopen(t, dir)
	if _, cs, _ := ms.InitialState(); len(cs.GetVoters()) != 3 {
		t.Fatalf("bootstrap conf state %v", cs)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.save(hardState(1, 1, 0), ents(1, 1, 5), true))
	must(w.save(hardState(2, 2, 3), ents(2, 4, 6), true))
	must(w.save(hardState(2, 2, 4), nil, false))
	w.close()
	if err := w.save(nil, ents(2, 7, 7), true); !errors.Is(err, ErrStopped) {
		t.Fatalf("save after close: %v", err)
	}

	_, ms = reopen(t, dir)
	want := append(pairs(1, 1, 3), pairs(2, 4, 6)...)
	if got := logOf(t, ms); !equalPairs(got, want) {
		t.Fatalf("log %v, want %v", got, want)
	}
	hs, _, _ := ms.InitialState()
	if hs.GetTerm() != 2 || hs.GetVote() != 2 || hs.GetCommit() != 4 {
		t.Fatalf("hard state %v", hs)
	}
}

// A rewrite (after a snapshot) leaves only the snapshot, the HardState and
// the entries after the snapshot; appends continue after it.
func TestWALRewriteAfterSnapshot(t *testing.T) {
	dir := t.TempDir()
	w, ms := reopen(t, dir)
	if err := w.save(hardState(1, 1, 8), ents(1, 1, 10), true); err != nil {
		t.Fatal(err)
	}
	ms.Append(ents(1, 1, 10))
	ms.SetHardState(hardState(1, 1, 8))
	if _, err := ms.CreateSnapshot(6, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("state@6")); err != nil {
		t.Fatal(err)
	}
	if err := ms.Compact(6); err != nil {
		t.Fatal(err)
	}
	if err := w.rewrite(ms); err != nil {
		t.Fatal(err)
	}
	if err := w.save(hardState(1, 1, 11), ents(1, 11, 11), true); err != nil {
		t.Fatal(err)
	}
	w.close()
	if _, err := os.Stat(filepath.Join(dir, walTmpName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("tmp file left behind: %v", err)
	}

	_, ms = reopen(t, dir)
	snap, _ := ms.Snapshot()
	if snap.GetMetadata().GetIndex() != 6 || string(snap.GetData()) != "state@6" {
		t.Fatalf("snapshot %v", snap)
	}
	if got, want := logOf(t, ms), pairs(1, 7, 11); !equalPairs(got, want) {
		t.Fatalf("log %v, want %v", got, want)
	}
	if hs, _, _ := ms.InitialState(); hs.GetCommit() != 11 {
		t.Fatalf("hard state %v", hs)
	}
}

// A torn or corrupt tail is cut at the last whole record; later appends
// follow the cut. A leftover tmp file from a crashed rewrite is ignored.
func TestWALTornTail(t *testing.T) {
	for name, tail := range map[string]func(good []byte) []byte{
		"short header": func(good []byte) []byte { return append(good, 0, 1, 2) },
		"short payload": func(good []byte) []byte {
			return appendRecord(good, recEntry, []byte("0123456789"))[:len(good)+recHeaderLen+4]
		},
		"bad crc": func(good []byte) []byte {
			b := appendRecord(good, recEntry, []byte("0123456789"))
			b[len(b)-1] ^= 0xff
			return b
		},
		"huge length": func(good []byte) []byte { return append(good, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, recEntry) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			w, _ := reopen(t, dir)
			if err := w.save(hardState(1, 1, 2), ents(1, 1, 3), true); err != nil {
				t.Fatal(err)
			}
			w.close()
			path := filepath.Join(dir, walName)
			good, _ := os.ReadFile(path)
			if err := os.WriteFile(path, tail(bytes.Clone(good)), 0o644); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, walTmpName), []byte("half a rewrite"), 0o644)

			w, ms := reopen(t, dir)
			if got := logOf(t, ms); !equalPairs(got, pairs(1, 1, 3)) {
				t.Fatalf("log %v", got)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, good) {
				t.Fatalf("wal is %d bytes, want the %d valid ones", len(b), len(good))
			}
			if err := w.save(nil, ents(1, 4, 4), true); err != nil {
				t.Fatal(err)
			}
			w.close()
			_, ms = reopen(t, dir)
			if got := logOf(t, ms); !equalPairs(got, pairs(1, 1, 4)) {
				t.Fatalf("log after append %v", got)
			}
		})
	}
}

// Damage that is not a torn tail is refused, not silently cut.
func TestWALRefusesCorruption(t *testing.T) {
	write := func(t *testing.T, b []byte) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, walName), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	open := func(dir string) error {
		_, _, err := openWAL(dir, 7, testBootstrap(), slog.New(slog.DiscardHandler))
		return err
	}
	meta := appendRecord(nil, recMeta, metaPayload(7))
	gap, _ := appendProto(bytes.Clone(meta), recEntry, ents(1, 5, 5)[0])
	commit, _ := appendProto(bytes.Clone(meta), recHardState, hardState(1, 1, 9))
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"empty":            {nil, ErrCorrupt},
		"no header":        {appendRecord(nil, recEntry, nil), ErrCorrupt},
		"bad header":       {append([]byte{0}, meta[1:]...), ErrCorrupt},
		"other node":       {appendRecord(nil, recMeta, metaPayload(8)), ErrWrongNode},
		"gap":              {gap, ErrCorrupt},
		"commit past log":  {commit, ErrCorrupt},
		"unknown record":   {appendRecord(bytes.Clone(meta), 99, nil), ErrCorrupt},
		"undecodable body": {appendRecord(bytes.Clone(meta), recEntry, []byte{0xff, 0xff}), ErrCorrupt},
	} {
		if err := open(write(t, c.b)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// FuzzReplayWAL: replay never panics; what it accepts is a prefix of the
// input, and replaying that prefix alone gives the same log.
func FuzzReplayWAL(f *testing.F) {
	meta := appendRecord(nil, recMeta, metaPayload(7))
	b := bytes.Clone(meta)
	b, _ = appendProto(b, recSnapshot, testBootstrap())
	for _, e := range ents(1, 1, 3) {
		b, _ = appendProto(b, recEntry, e)
	}
	b, _ = appendProto(b, recHardState, hardState(1, 1, 2))
	f.Add(b)
	f.Add(meta)
	f.Add(b[:len(b)-3])
	f.Fuzz(func(t *testing.T, in []byte) {
		ms, good, err := replayWAL(bytes.NewReader(in), 7)
		if err != nil {
			return
		}
		if good > int64(len(in)) {
			t.Fatalf("good %d > len %d", good, len(in))
		}
		ms2, good2, err := replayWAL(bytes.NewReader(in[:good]), 7)
		if err != nil || good2 != good {
			t.Fatalf("prefix replay: good %d err %v, want %d", good2, err, good)
		}
		if !equalPairs(logOf(t, ms), logOf(t, ms2)) {
			t.Fatal("prefix replays a different log")
		}
	})
}
