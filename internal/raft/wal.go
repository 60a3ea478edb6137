package raft

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"

	etcdraft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The WAL is one file, Dir/raft.wal, of CRC-framed records (see doc.go for
// the picture). It is written by the Ready loop only:
//
//   - save appends the Ready's entries and HardState, and fsyncs when raft
//     says MustSync;
//   - rewrite replaces the whole file (tmp file, fsync, rename, fsync dir)
//     with the MemoryStorage's state: the snapshot, the HardState, and the
//     entries after the snapshot. It runs when the node is created, when
//     a snapshot arrives from the leader and after Compact, so the file
//     never holds a snapshot followed by entries it superseded.
//
// openWAL replays the file into a MemoryStorage and cuts a torn tail.

const (
	walName    = "raft.wal"
	walTmpName = "raft.wal.tmp"

	walVersion = 1

	recMeta      byte = 1 // version uint32 | node id int32
	recHardState byte = 2 // raftpb.HardState
	recEntry     byte = 3 // raftpb.Entry; replaces entries at and after its index
	recSnapshot  byte = 4 // raftpb.Snapshot; replaces the whole log

	recHeaderLen   = 9 // crc32c uint32 | length uint32 | type byte
	maxRecordBytes = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// wal is the node's durable log. Not safe for concurrent use: only the
// Ready loop (and Open, before the loop starts) touches it.
type wal struct {
	dir    string
	nodeID int32
	log    *slog.Logger
	f      *os.File
	buf    []byte
	err    error // sticky: once a write fails, every later call fails
}

// appendRecord appends one framed record to buf.
func appendRecord(buf []byte, typ byte, payload []byte) []byte {
	var hdr [recHeaderLen]byte
	binary.BigEndian.PutUint32(hdr[4:8], uint32(len(payload)))
	hdr[8] = typ
	crc := crc32.Update(0, castagnoli, hdr[8:9])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.BigEndian.PutUint32(hdr[0:4], crc)
	buf = append(buf, hdr[:]...)
	return append(buf, payload...)
}

func appendProto(buf []byte, typ byte, m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return buf, fmt.Errorf("raft: encode wal record %d: %w", typ, err)
	}
	return appendRecord(buf, typ, b), nil
}

func metaPayload(nodeID int32) []byte {
	var b [8]byte
	binary.BigEndian.PutUint32(b[0:4], walVersion)
	binary.BigEndian.PutUint32(b[4:8], uint32(nodeID))
	return b[:]
}

// errTorn reports a record that is incomplete or fails its checksum: the
// end of what a crash left behind.
var errTorn = errors.New("raft: torn wal record")

// readRecord reads one record. It returns errTorn for a short or corrupt
// record and io.EOF at a clean end.
func readRecord(r *bufio.Reader) (typ byte, payload []byte, err error) {
	var hdr [recHeaderLen]byte
	n, err := io.ReadFull(r, hdr[:])
	if err == io.EOF && n == 0 {
		return 0, nil, io.EOF
	}
	if err != nil {
		return 0, nil, errTorn
	}
	length := binary.BigEndian.Uint32(hdr[4:8])
	if length > maxRecordBytes {
		return 0, nil, errTorn
	}
	payload, err = readN(r, int(length))
	if err != nil {
		return 0, nil, errTorn
	}
	crc := crc32.Update(0, castagnoli, hdr[8:9])
	crc = crc32.Update(crc, castagnoli, payload)
	if crc != binary.BigEndian.Uint32(hdr[0:4]) {
		return 0, nil, errTorn
	}
	return hdr[8], payload, nil
}

// readN reads exactly n bytes. The buffer grows with what arrives, so a
// garbage length in a torn header costs no more memory than the file has.
func readN(r io.Reader, n int) ([]byte, error) {
	if n <= 1<<20 {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// replayWAL reads records from r into a new MemoryStorage. It returns the
// number of bytes of whole, valid records (where a torn tail starts). An
// error means the log itself is wrong, not just its tail.
func replayWAL(r io.Reader, nodeID int32) (ms *etcdraft.MemoryStorage, good int64, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	ms = etcdraft.NewMemoryStorage()
	first := true
	for {
		typ, payload, err := readRecord(br)
		if err == io.EOF || err == errTorn {
			if first {
				return nil, 0, fmt.Errorf("%w: no valid header record", ErrCorrupt)
			}
			return ms, good, nil
		}
		if first {
			if typ != recMeta || len(payload) != 8 {
				return nil, 0, fmt.Errorf("%w: first record is type %d, not a header", ErrCorrupt, typ)
			}
			if v := binary.BigEndian.Uint32(payload[0:4]); v != walVersion {
				return nil, 0, fmt.Errorf("%w: unknown wal version %d", ErrCorrupt, v)
			}
			if id := int32(binary.BigEndian.Uint32(payload[4:8])); id != nodeID {
				return nil, 0, fmt.Errorf("%w: wal of node %d opened as node %d", ErrWrongNode, id, nodeID)
			}
			first = false
			good += recHeaderLen + int64(len(payload))
			continue
		}
		switch typ {
		case recHardState:
			hs := &pb.HardState{}
			if err := proto.Unmarshal(payload, hs); err != nil {
				return nil, 0, fmt.Errorf("%w: hard state at byte %d: %v", ErrCorrupt, good, err)
			}
			if err := ms.SetHardState(hs); err != nil {
				return nil, 0, err
			}
		case recEntry:
			e := &pb.Entry{}
			if err := proto.Unmarshal(payload, e); err != nil {
				return nil, 0, fmt.Errorf("%w: entry at byte %d: %v", ErrCorrupt, good, err)
			}
			last, _ := ms.LastIndex()
			firstIdx, _ := ms.FirstIndex()
			if e.GetIndex() > last+1 {
				return nil, 0, fmt.Errorf("%w: entry %d after last index %d", ErrCorrupt, e.GetIndex(), last)
			}
			if e.GetIndex() >= firstIdx {
				if err := ms.Append([]*pb.Entry{e}); err != nil {
					return nil, 0, err
				}
			}
		case recSnapshot:
			s := &pb.Snapshot{}
			if err := proto.Unmarshal(payload, s); err != nil {
				return nil, 0, fmt.Errorf("%w: snapshot at byte %d: %v", ErrCorrupt, good, err)
			}
			// A snapshot replaces the log, whatever came before it.
			hs, _, _ := ms.InitialState()
			ms = etcdraft.NewMemoryStorage()
			if err := ms.ApplySnapshot(s); err != nil {
				return nil, 0, fmt.Errorf("%w: snapshot at byte %d: %v", ErrCorrupt, good, err)
			}
			if hs != nil {
				_ = ms.SetHardState(hs)
			}
		default:
			return nil, 0, fmt.Errorf("%w: unknown record type %d at byte %d", ErrCorrupt, typ, good)
		}
		good += recHeaderLen + int64(len(payload))
	}
}

// openWAL opens dir's WAL, creating it with the bootstrap snapshot (whose
// ConfState names the members) if there is none, and returns the storage
// rebuilt from it.
func openWAL(dir string, nodeID int32, bootstrap *pb.Snapshot, log *slog.Logger) (*wal, *etcdraft.MemoryStorage, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("raft: create %s: %w", dir, err)
	}
	w := &wal{dir: dir, nodeID: nodeID, log: log}
	if err := os.Remove(filepath.Join(dir, walTmpName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("raft: remove stale %s: %w", walTmpName, err)
	}
	path := filepath.Join(dir, walName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		ms := etcdraft.NewMemoryStorage()
		if err := ms.ApplySnapshot(bootstrap); err != nil {
			return nil, nil, fmt.Errorf("raft: bootstrap: %w", err)
		}
		if err := w.rewrite(ms); err != nil {
			return nil, nil, err
		}
		log.Info("raft wal created", "dir", dir)
		return w, ms, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("raft: open wal: %w", err)
	}
	ms, good, err := replayWAL(f, nodeID)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("raft: replay %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("raft: stat wal: %w", err)
	}
	if st.Size() > good {
		log.Warn("raft wal: cutting torn tail", "dir", dir, "valid_bytes", good, "dropped_bytes", st.Size()-good)
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("raft: truncate wal tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("raft: sync wal: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("raft: seek wal: %w", err)
	}
	if err := checkStorage(ms); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("raft: replay %s: %w", path, err)
	}
	w.f = f
	return w, ms, nil
}

// checkStorage repairs or rejects a replayed state raft would panic on.
func checkStorage(ms *etcdraft.MemoryStorage) error {
	hs, _, _ := ms.InitialState()
	if hs == nil {
		return nil
	}
	snap, _ := ms.Snapshot()
	last, _ := ms.LastIndex()
	if hs.GetCommit() > last {
		return fmt.Errorf("%w: commit %d beyond last index %d", ErrCorrupt, hs.GetCommit(), last)
	}
	if si := snap.GetMetadata().GetIndex(); hs.GetCommit() < si {
		// A snapshot is committed by definition; an older HardState record
		// may predate it.
		fixed := proto.Clone(hs).(*pb.HardState)
		fixed.Commit = proto.Uint64(si)
		_ = ms.SetHardState(fixed)
	}
	return nil
}

// save appends ents and hs (either may be empty) and fsyncs if sync.
func (w *wal) save(hs *pb.HardState, ents []*pb.Entry, sync bool) error {
	if w.err != nil {
		return w.err
	}
	buf := w.buf[:0]
	var err error
	for _, e := range ents {
		if buf, err = appendProto(buf, recEntry, e); err != nil {
			return err
		}
	}
	if !etcdraft.IsEmptyHardState(hs) {
		if buf, err = appendProto(buf, recHardState, hs); err != nil {
			return err
		}
	}
	w.buf = buf
	if len(buf) == 0 {
		return nil
	}
	if _, err := w.f.Write(buf); err != nil {
		w.err = fmt.Errorf("raft: write wal: %w", err)
		return w.err
	}
	if sync {
		if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("raft: sync wal: %w", err)
			return w.err
		}
	}
	return nil
}

// rewrite atomically replaces the WAL with ms's state.
func (w *wal) rewrite(ms *etcdraft.MemoryStorage) error {
	if w.err != nil {
		return w.err
	}
	if err := w.rewriteFile(ms); err != nil {
		w.err = err
		return err
	}
	return nil
}

func (w *wal) rewriteFile(ms *etcdraft.MemoryStorage) error {
	snap, err := ms.Snapshot()
	if err != nil {
		return fmt.Errorf("raft: rewrite wal: %w", err)
	}
	hs, _, _ := ms.InitialState()
	first, _ := ms.FirstIndex()
	last, _ := ms.LastIndex()
	var ents []*pb.Entry
	if last >= first {
		if ents, err = ms.Entries(first, last+1, math.MaxUint64); err != nil {
			return fmt.Errorf("raft: rewrite wal: read entries: %w", err)
		}
	}

	buf := appendRecord(nil, recMeta, metaPayload(w.nodeID))
	if buf, err = appendProto(buf, recSnapshot, snap); err != nil {
		return err
	}
	if !etcdraft.IsEmptyHardState(hs) {
		if buf, err = appendProto(buf, recHardState, hs); err != nil {
			return err
		}
	}
	for _, e := range ents {
		if buf, err = appendProto(buf, recEntry, e); err != nil {
			return err
		}
	}

	tmp := filepath.Join(w.dir, walTmpName)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("raft: create %s: %w", tmp, err)
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("raft: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("raft: sync %s: %w", tmp, err)
	}
	path := filepath.Join(w.dir, walName)
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return fmt.Errorf("raft: rename wal: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	if w.f != nil {
		w.f.Close()
	}
	// f now names the new WAL, positioned at its end.
	w.f = f
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("raft: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("raft: sync dir: %w", err)
	}
	return nil
}

// close closes the file. Later calls fail with ErrStopped.
func (w *wal) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if w.err == nil {
		w.err = ErrStopped
	}
	return err
}
