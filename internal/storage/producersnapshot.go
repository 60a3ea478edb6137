package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// Producer snapshots: `<20-digit offset>.snapshot` in the partition dir
// holds the producer state of the batches below that offset, in Kafka's
// format (ProducerStateManager's version 1), so Kafka reads our snapshots
// and we read Kafka's. Big endian:
//
//	0         2         6         10
//	+---------+---------+---------+--------------------------------+
//	| version | crc     | count   | count entries of 46 bytes      |
//	| int16=1 | uint32  | int32   |                                |
//	+---------+---------+---------+--------------------------------+
//	crc = CRC-32C of bytes 6..end
//
//	entry:
//	0             8       10        14            22        26          34          38            46
//	+-------------+-------+---------+-------------+---------+-----------+-----------+-------------+
//	| producer id | epoch | last seq| last offset | offset  | timestamp | coord.    | txn first   |
//	| int64       | int16 | int32   | int64       | delta   | int64     | epoch     | offset      |
//	|             |       |         |             | int32   |           | int32     | int64 (-1)  |
//	+-------------+-------+---------+-------------+---------+-----------+-----------+-------------+
//
// Kafka writes one entry per producer, for its last batch only (last
// offset -1 when it has none). We write one entry per retained batch,
// oldest first, all with the producer's epoch, coordinator epoch and
// transaction offset, so that a reload still recognizes duplicates of the
// last five batches; the last entry carries the producer's last timestamp.
// Kafka's reader keeps the last entry of a producer id, which is the entry
// it would have written itself. Our reader gathers every entry of a
// producer id into its batches.
//
// Snapshots are written at a segment roll (at the new segment's base
// offset), when a log closes cleanly and after a load or truncation
// rebuilt the state (at the log end offset). Each is written to
// `<name>.tmp`, fsynced and renamed into place; the dir is fsynced with
// the log's next flush (one always follows a roll). A snapshot that fails
// its checks is ignored with a warning and deleted, and the state is
// rebuilt from an older one or the log. Snapshots go with the segment of
// the same base offset when retention deletes it, and when no recovery or
// truncation can need them (deleteOldProducerSnapshots).

// snapshotCRCTable is CRC-32C (Castagnoli), as Kafka's Crc32C.
var snapshotCRCTable = crc32.MakeTable(crc32.Castagnoli)

const (
	producerSnapshotSuffix    = ".snapshot"
	producerSnapshotVersion   = 1
	producerSnapshotHeader    = 10 // version, crc, count
	producerSnapshotEntrySize = 46
)

func producerSnapshotPath(dir string, offset int64) string {
	return filepath.Join(dir, segmentFileName(offset, producerSnapshotSuffix))
}

// listProducerSnapshots returns the offsets of the snapshot files in dir,
// sorted.
func listProducerSnapshots(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		if off, ok := parseSegmentFileName(e.Name(), producerSnapshotSuffix); ok {
			out = append(out, off)
		}
	}
	slices.Sort(out)
	return out, nil
}

// encodeProducerSnapshot returns the snapshot bytes of producers, ordered
// by producer id.
func encodeProducerSnapshot(producers map[int64]*ProducerState) []byte {
	n := 0
	for _, e := range producers {
		n += max(len(e.Batches), 1)
	}
	b := make([]byte, producerSnapshotHeader, producerSnapshotHeader+n*producerSnapshotEntrySize)
	binary.BigEndian.PutUint16(b[0:], producerSnapshotVersion)
	binary.BigEndian.PutUint32(b[6:], uint32(n))
	entry := func(e *ProducerState, lastSeq int32, lastOffset int64, delta int32, ts int64) {
		b = binary.BigEndian.AppendUint64(b, uint64(e.ProducerID))
		b = binary.BigEndian.AppendUint16(b, uint16(e.ProducerEpoch))
		b = binary.BigEndian.AppendUint32(b, uint32(lastSeq))
		b = binary.BigEndian.AppendUint64(b, uint64(lastOffset))
		b = binary.BigEndian.AppendUint32(b, uint32(delta))
		b = binary.BigEndian.AppendUint64(b, uint64(ts))
		b = binary.BigEndian.AppendUint32(b, uint32(e.CoordinatorEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.CurrentTxnFirstOffset))
	}
	for _, pid := range slices.Sorted(maps.Keys(producers)) {
		e := producers[pid]
		if len(e.Batches) == 0 {
			entry(e, -1, -1, 0, e.LastTimestamp)
			continue
		}
		for i, bm := range e.Batches {
			ts := bm.Timestamp
			if i == len(e.Batches)-1 {
				ts = e.LastTimestamp
			}
			entry(e, bm.LastSeq, bm.LastOffset, int32(bm.LastOffset-bm.FirstOffset), ts)
		}
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], snapshotCRCTable))
	return b
}

// decodeProducerSnapshot parses snapshot bytes. Errors are marked with
// MarkCorruption.
func decodeProducerSnapshot(b []byte) ([]*ProducerState, error) {
	bad := func(format string, args ...any) ([]*ProducerState, error) {
		return nil, MarkCorruption(fmt.Errorf("producer snapshot: "+format, args...))
	}
	if len(b) < producerSnapshotHeader {
		return bad("%d bytes, shorter than the header", len(b))
	}
	if v := int16(binary.BigEndian.Uint16(b)); v != producerSnapshotVersion {
		return bad("unknown version %d", v)
	}
	if crc, got := binary.BigEndian.Uint32(b[2:]), crc32.Checksum(b[6:], snapshotCRCTable); crc != got {
		return bad("crc %08x, computed %08x", crc, got)
	}
	n := int32(binary.BigEndian.Uint32(b[6:]))
	if n < 0 || int64(n)*producerSnapshotEntrySize != int64(len(b)-producerSnapshotHeader) {
		return bad("%d entries in %d bytes", n, len(b)-producerSnapshotHeader)
	}
	var out []*ProducerState
	var cur *ProducerState
	for p := producerSnapshotHeader; p < len(b); p += producerSnapshotEntrySize {
		e := b[p : p+producerSnapshotEntrySize]
		pid := int64(binary.BigEndian.Uint64(e[0:]))
		epoch := int16(binary.BigEndian.Uint16(e[8:]))
		lastSeq := int32(binary.BigEndian.Uint32(e[10:]))
		lastOffset := int64(binary.BigEndian.Uint64(e[14:]))
		delta := int32(binary.BigEndian.Uint32(e[22:]))
		ts := int64(binary.BigEndian.Uint64(e[26:]))
		coordEpoch := int32(binary.BigEndian.Uint32(e[34:]))
		txnFirst := int64(binary.BigEndian.Uint64(e[38:]))
		if pid < 0 || delta < 0 {
			return bad("entry at byte %d: producer id %d, offset delta %d", p, pid, delta)
		}
		if cur == nil || cur.ProducerID != pid {
			cur = newProducerState(pid)
			out = append(out, cur)
		}
		cur.updateEpoch(epoch)
		cur.CoordinatorEpoch = coordEpoch
		cur.CurrentTxnFirstOffset = max(txnFirst, -1)
		cur.LastTimestamp = ts
		if lastOffset >= 0 {
			first := decrementSequence(lastSeq, delta)
			if len(cur.Batches) == numBatchesToRetain {
				cur.Batches = slices.Delete(cur.Batches, 0, 1)
			}
			cur.Batches = append(cur.Batches, BatchMetadata{FirstSeq: first, LastSeq: lastSeq, FirstOffset: lastOffset - int64(delta), LastOffset: lastOffset, Timestamp: ts})
		}
	}
	return out, nil
}

// decrementSequence is the first sequence of a batch whose last sequence
// is seq and which holds delta+1 records, wrapping below 0 to MaxInt32 as
// producers do (Kafka's DefaultRecordBatch.decrementSequence).
func decrementSequence(seq, delta int32) int32 {
	if seq < 0 {
		return -1 // a batch without sequence numbers
	}
	if seq < delta {
		return math.MaxInt32 - (delta - seq) + 1
	}
	return seq - delta
}

// readProducerSnapshot reads the snapshot file at path.
func readProducerSnapshot(path string) ([]*ProducerState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	entries, err := decodeProducerSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return entries, nil
}

// writeProducerSnapshot writes producers to path: path.tmp is written and
// fsynced, then renamed over path. The caller fsyncs the dir.
func writeProducerSnapshot(path string, producers map[int64]*ProducerState) (err error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(encodeProducerSnapshot(producers)); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// removeIfExists removes path; a missing file is not an error.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
