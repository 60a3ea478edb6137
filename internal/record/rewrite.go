package record

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// DeleteHorizon returns the batch's delete horizon (KIP-534): the time, in
// milliseconds, after which the log cleaner may remove the tombstones (and,
// with transactions, the markers) it holds. The cleaner sets it, with
// attribute bit 6, when it first keeps a tombstone of the batch; the
// horizon is then stored in the baseTimestamp field and record timestamp
// deltas are relative to it. ok is false if the batch has none.
func (h Header) DeleteHorizon() (horizonMs int64, ok bool) {
	if h.Attributes&AttrDeleteHorizonFlag == 0 {
		return NoTimestamp, false
	}
	return h.BaseTimestamp, true
}

// FilterOptions say how FilterBatch rewrites a batch.
type FilterOptions struct {
	// DeleteHorizonMs is written as the batch's delete horizon when some
	// kept record is a tombstone (null value) and the batch has no horizon
	// yet, as Kafka's MemoryRecords.filterTo does with currentTime +
	// delete.retention.ms. A negative value never sets one.
	DeleteHorizonMs int64

	// RetainEmpty keeps a header-only batch (recordCount 0, uncompressed,
	// same base offset, lastOffsetDelta, producer fields and leader epoch,
	// both timestamps set to the max timestamp) when no record is kept:
	// Kafka's BatchRetention.RETAIN_EMPTY, used for the last batch of a
	// producer and for the last batch of a cleaned range so that offsets
	// and sequence numbers survive.
	RetainEmpty bool

	// MaxDecompressedSize bounds the decompressed records; zero means
	// DefaultMaxDecompressedSize.
	MaxDecompressedSize int
}

// FilterResult describes what FilterBatch wrote.
type FilterResult struct {
	RecordsRead     int
	RecordsRetained int
	// Unchanged reports that the batch was copied as it was: every record
	// kept and no delete horizon to set.
	Unchanged bool
	// Empty reports a header-only batch (see RetainEmpty).
	Empty bool
	// Discarded reports that nothing was written.
	Discarded bool
	// Header is the header of the batch written (zero if Discarded).
	Header Header
}

// FilterBatch appends to dst a copy of batch, one whole RecordBatch v2,
// that holds only the records for which keep returns true, and returns the
// extended slice. This is how the log cleaner rewrites batches (Kafka's
// MemoryRecords.filterTo): the base offset, lastOffsetDelta (so the last
// offset and sequence number survive), producer id, epoch, base sequence,
// leader epoch, codec and the timestamp type, transactional and control
// bits are kept; the kept records keep their offset deltas and
// timestamps; a compressed batch is recompressed with its codec; the
// max timestamp of a CreateTime batch is recomputed from the kept records;
// the CRC is recomputed. A batch whose records are all kept, with no delete
// horizon to set, is copied byte for byte. With no record kept, nothing is
// written unless opts.RetainEmpty.
//
// keep is called for each record in order with its absolute offset; the
// Record aliases batch or an internal buffer and is valid only during the
// call. FilterBatch does not retain batch. Errors are those of Records,
// and ErrCorrupt for a bad CRC; on error dst is returned unchanged.
func FilterBatch(dst, batch []byte, opts FilterOptions, keep func(offset int64, r *Record) bool) ([]byte, FilterResult, error) {
	var res FilterResult
	h, err := ParseHeader(batch)
	if err != nil {
		return dst, res, err
	}
	// A rewritten batch gets a new CRC: check the old one first, so that
	// damaged records are never laundered into a valid batch.
	if err := CheckCRC(batch); err != nil {
		return dst, res, err
	}
	if h.RecordCount < 0 {
		return dst, res, fmt.Errorf("%w: negative record count %d", ErrInvalid, h.RecordCount)
	}
	codec := h.Codec()
	if !validCodec(codec) {
		return dst, res, fmt.Errorf("%w: unknown compression type id %d", ErrUnsupportedCompression, int8(codec))
	}
	s := getScratch()
	defer putScratch(s)
	data := batch[HeaderSize:]
	if codec != CodecNone {
		limit := opts.MaxDecompressedSize
		if limit <= 0 {
			limit = DefaultMaxDecompressedSize
		}
		if s.buf, err = DecompressAppend(codec, s.buf[:0], data, limit); err != nil {
			return dst, res, err
		}
		data = s.buf
	}

	f := getFilterScratch()
	defer putFilterScratch(f)
	var (
		r          Record
		pos        int
		tombstones bool
		lat        = h.IsLogAppendTime()
		maxTS      = NoTimestamp
	)
	for i := int32(0); i < h.RecordCount; i++ {
		start := pos
		if pos, err = readRecord(data, pos, i, &r, nil); err != nil {
			return dst, res, err
		}
		res.RecordsRead++
		if !keep(h.BaseOffset+int64(r.OffsetDelta), &r) {
			continue
		}
		f.spans = append(f.spans, [2]int{start, pos})
		if r.Value == nil {
			tombstones = true
		}
		if ts := h.BaseTimestamp + r.TimestampDelta; ts > maxTS {
			maxTS = ts
		}
	}
	if pos != len(data) {
		return dst, res, errRemaining(h.RecordCount, len(data)-pos)
	}
	res.RecordsRetained = len(f.spans)
	_, hasHorizon := h.DeleteHorizon()
	setHorizon := tombstones && !hasHorizon && opts.DeleteHorizonMs >= 0

	switch {
	case len(f.spans) == 0 && !opts.RetainEmpty:
		res.Discarded = true
		return dst, res, nil
	case len(f.spans) == 0:
		res.Empty = true
		start := len(dst)
		dst = appendEmptyBatch(dst, h)
		res.Header, _ = ParseHeader(dst[start:])
		return dst, res, nil
	case len(f.spans) == int(h.RecordCount) && !setHorizon:
		res.Unchanged = true
		res.Header = h
		return append(dst, batch...), res, nil
	}

	// Re-encode the kept records; their timestamp deltas change only when
	// the base timestamp becomes the delete horizon.
	base := h.BaseTimestamp
	if setHorizon {
		base = opts.DeleteHorizonMs
	}
	for _, sp := range f.spans {
		if base == h.BaseTimestamp {
			f.enc = append(f.enc, data[sp[0]:sp[1]]...)
			continue
		}
		if _, err := readRecord(data, sp[0], 0, &r, &s.headers); err != nil {
			return dst, res, err
		}
		r.TimestampDelta = h.BaseTimestamp + r.TimestampDelta - base
		one := [1]Record{r}
		if f.enc, err = appendRecords(f.enc, one[:], true); err != nil {
			return dst, res, err
		}
	}
	start := len(dst)
	dst = append(dst, batch[:HeaderSize]...)
	if dst, err = Compress(codec, dst, f.enc); err != nil {
		return dst[:start], res, err
	}
	b := dst[start:]
	attrs := uint16(h.Attributes)
	if setHorizon {
		attrs |= AttrDeleteHorizonFlag
	}
	if lat {
		maxTS = h.MaxTimestamp
	}
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-LogOverhead))
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(base))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(maxTS))
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(len(f.spans)))
	binary.BigEndian.PutUint32(b[offCRC:], ComputeCRC(b))
	res.Header, _ = ParseHeader(b)
	return dst, res, nil
}

// appendEmptyBatch appends the header-only batch that stands for h when
// none of its records is kept (Kafka's DefaultRecordBatch.writeEmptyHeader).
func appendEmptyBatch(dst []byte, h Header) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	b := dst[start:]
	attrs := uint16(h.Attributes) & (AttrLogAppendTime | AttrTransactional | AttrControl)
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(h.BaseOffset))
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(HeaderSize-LogOverhead))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(h.PartitionLeaderEpoch))
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(h.LastOffsetDelta))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(h.ProducerID))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(h.ProducerEpoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(h.BaseSequence))
	binary.BigEndian.PutUint32(b[offRecordCount:], 0)
	binary.BigEndian.PutUint32(b[offCRC:], ComputeCRC(b))
	return dst
}

// filterScratch holds FilterBatch's buffers: the byte spans of the kept
// records in the decoded stream and their re-encoding.
type filterScratch struct {
	spans [][2]int
	enc   []byte
}

var filterScratchPool = sync.Pool{New: func() any { return new(filterScratch) }}

func getFilterScratch() *filterScratch { return filterScratchPool.Get().(*filterScratch) }

func putFilterScratch(f *filterScratch) {
	if cap(f.enc) > maxPooledBuffer {
		f.enc = nil
	}
	f.spans, f.enc = f.spans[:0], f.enc[:0]
	filterScratchPool.Put(f)
}
