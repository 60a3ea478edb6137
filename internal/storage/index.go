package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
)

const (
	offsetIndexEntrySize = 8  // int32 relative offset, int32 position
	timeIndexEntrySize   = 12 // int64 timestamp, int32 relative offset
)

// offsetIndex is a segment's sparse offset index, held in memory as the
// exact bytes of the .index file. Entry i maps the relative base offset of
// a batch to the batch's byte position in the .log file; both increase
// strictly. Not safe for concurrent use (Log.mu guards it).
type offsetIndex struct {
	buf       []byte
	persisted int // bytes of buf already written to the file
	synced    int // bytes of buf known to be fsynced
}

func (x *offsetIndex) len() int { return len(x.buf) / offsetIndexEntrySize }

func (x *offsetIndex) at(i int) (rel, pos int32) {
	e := x.buf[i*offsetIndexEntrySize:]
	return int32(binary.BigEndian.Uint32(e)), int32(binary.BigEndian.Uint32(e[4:]))
}

func (x *offsetIndex) append(rel, pos int32) {
	x.buf = binary.BigEndian.AppendUint32(x.buf, uint32(rel))
	x.buf = binary.BigEndian.AppendUint32(x.buf, uint32(pos))
}

// lookup returns the entry with the largest relative offset <= rel, or
// (0, 0, false) if there is none.
func (x *offsetIndex) lookup(rel int32) (int32, int32, bool) {
	n := x.len()
	i := sort.Search(n, func(i int) bool { r, _ := x.at(i); return r > rel })
	if i == 0 {
		return 0, 0, false
	}
	r, p := x.at(i - 1)
	return r, p, true
}

// lookupPosition is the file position to start scanning from for rel.
func (x *offsetIndex) lookupPosition(rel int32) int64 {
	_, p, _ := x.lookup(rel)
	return int64(p)
}

// truncateToPosition drops the entries at or beyond file position pos.
func (x *offsetIndex) truncateToPosition(pos int64) {
	n := sort.Search(x.len(), func(i int) bool { _, p := x.at(i); return int64(p) >= pos })
	x.truncateEntries(n)
}

func (x *offsetIndex) truncateEntries(n int) {
	x.buf = x.buf[:n*offsetIndexEntrySize]
	x.persisted = min(x.persisted, len(x.buf))
	x.synced = min(x.synced, len(x.buf))
}

// validate checks what the index promises: whole entries, strictly
// increasing offsets and positions, positions inside the segment.
func (x *offsetIndex) validate(segmentSize int64) error {
	if len(x.buf)%offsetIndexEntrySize != 0 {
		return fmt.Errorf("offset index of %d bytes is not a multiple of %d", len(x.buf), offsetIndexEntrySize)
	}
	prevRel, prevPos := int32(-1), int32(-1)
	for i := range x.len() {
		rel, pos := x.at(i)
		if rel <= prevRel || pos <= prevPos || int64(pos) >= segmentSize || rel < 0 {
			return fmt.Errorf("offset index entry %d (%d, %d) out of order or beyond %d bytes", i, rel, pos, segmentSize)
		}
		prevRel, prevPos = rel, pos
	}
	return nil
}

// timeIndex is a segment's sparse time index, held in memory as the exact
// bytes of the .timeindex file. Entry i says that the batches up to the
// one at relative offset rel have timestamps <= ts, and that ts was first
// reached in that batch. Timestamps increase strictly, offsets do not
// decrease. Not safe for concurrent use (Log.mu guards it).
type timeIndex struct {
	buf       []byte
	persisted int
	synced    int
}

func (x *timeIndex) len() int { return len(x.buf) / timeIndexEntrySize }

func (x *timeIndex) at(i int) (ts int64, rel int32) {
	e := x.buf[i*timeIndexEntrySize:]
	return int64(binary.BigEndian.Uint64(e)), int32(binary.BigEndian.Uint32(e[8:]))
}

func (x *timeIndex) last() (int64, int32, bool) {
	if x.len() == 0 {
		return -1, 0, false
	}
	ts, rel := x.at(x.len() - 1)
	return ts, rel, true
}

// maybeAppend appends (ts, rel) if ts is newer than the last entry (Kafka's
// TimeIndex.maybeAppend; an empty index starts at timestamp -1).
func (x *timeIndex) maybeAppend(ts int64, rel int32) {
	lastTs, _, _ := x.last()
	if ts <= lastTs {
		return
	}
	x.buf = binary.BigEndian.AppendUint64(x.buf, uint64(ts))
	x.buf = binary.BigEndian.AppendUint32(x.buf, uint32(rel))
}

// lookup returns the entry with the largest timestamp <= ts.
func (x *timeIndex) lookup(ts int64) (int64, int32, bool) {
	i := sort.Search(x.len(), func(i int) bool { t, _ := x.at(i); return t > ts })
	if i == 0 {
		return -1, 0, false
	}
	t, rel := x.at(i - 1)
	return t, rel, true
}

// truncateToOffset drops the entries whose offset is >= rel.
func (x *timeIndex) truncateToOffset(rel int32) {
	n := sort.Search(x.len(), func(i int) bool { _, r := x.at(i); return r >= rel })
	x.buf = x.buf[:n*timeIndexEntrySize]
	x.persisted = min(x.persisted, len(x.buf))
	x.synced = min(x.synced, len(x.buf))
}

func (x *timeIndex) validate(maxRel int32) error {
	if len(x.buf)%timeIndexEntrySize != 0 {
		return fmt.Errorf("time index of %d bytes is not a multiple of %d", len(x.buf), timeIndexEntrySize)
	}
	prevTs, prevRel := int64(-1), int32(0)
	for i := range x.len() {
		ts, rel := x.at(i)
		if ts <= prevTs || rel < prevRel || rel > maxRel {
			return fmt.Errorf("time index entry %d (%d, %d) out of order or beyond relative offset %d", i, ts, rel, maxRel)
		}
		prevTs, prevRel = ts, rel
	}
	return nil
}

// writeIndexTail writes buf[persisted:] to the file at path at offset
// persisted, creating the file if needed, and returns the new persisted
// length.
func writeIndexTail(path string, buf []byte, persisted int) (int, error) {
	if persisted >= len(buf) {
		return persisted, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return persisted, err
	}
	_, err = f.WriteAt(buf[persisted:], int64(persisted))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return persisted, err
	}
	return len(buf), nil
}

// truncateIndexFile cuts (or creates) the file at path to size bytes.
func truncateIndexFile(path string, size int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	err = f.Truncate(int64(size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readIndexFile reads a whole index file; a missing file is reported with
// ok == false and no error.
func readIndexFile(path string) (buf []byte, ok bool, err error) {
	buf, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	return buf, err == nil, err
}
