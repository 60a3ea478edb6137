package storage

import (
	"hash/maphash"
	"math/bits"
)

// offsetMapSlotBytes is the memory of one offset map slot: a 128-bit key
// hash and an offset, as in Kafka's SkimpyOffsetMap (an MD5 hash and an
// offset). log.cleaner.dedupe.buffer.size / this is the most slots a
// cleaner thread may use.
const offsetMapSlotBytes = 24

// offsetMap is the cleaner's key → latest offset map (Kafka's
// SkimpyOffsetMap): an open-addressing table with linear probing that
// stores a 128-bit hash of each key instead of the key, so its memory is
// bounded by log.cleaner.dedupe.buffer.size whatever the key sizes. Two
// keys with the same 128-bit hash would be taken for one; the seeds are
// random per map, so nobody can aim for that. Not safe for concurrent use;
// each cleaner owns one.
type offsetMap struct {
	seed0, seed1 maphash.Seed
	slots        []mapSlot // len is a power of two
	mask         uint64
	entries      int
	limit        int     // entries allowed before the map counts as full
	latest       int64   // largest offset put or fast-forwarded to, -1 if none
	maxSlots     int     // bound from the dedupe buffer size (a power of two)
	loadFactor   float64 // log.cleaner.io.buffer.load.factor
}

// mapSlot is one slot; offset < 0 marks it empty.
type mapSlot struct {
	h0, h1 uint64
	offset int64
}

// newOffsetMap returns a map that uses at most memBytes, filled to at most
// loadFactor. The slots are allocated by reset, sized to the range being
// cleaned, so a broker with small compacted logs never allocates the whole
// dedupe buffer.
func newOffsetMap(memBytes int64, loadFactor float64) *offsetMap {
	n := max(memBytes/offsetMapSlotBytes, 2)
	maxSlots := 1 << (bits.Len64(uint64(n)) - 1) // largest power of two <= n
	return &offsetMap{seed0: maphash.MakeSeed(), seed1: maphash.MakeSeed(), maxSlots: maxSlots, loadFactor: loadFactor, latest: -1}
}

// reset empties the map and sizes it for up to expected keys (the number of
// offsets in the dirty range bounds the number of keys in it).
func (m *offsetMap) reset(expected int64) {
	want := int64(float64(max(expected, 1))/m.loadFactor) + 1
	n := 16
	if want > 16 {
		n = 1 << bits.Len64(uint64(want-1))
	}
	n = min(n, m.maxSlots)
	if cap(m.slots) >= n {
		m.slots = m.slots[:n]
	} else {
		m.slots = make([]mapSlot, n)
	}
	for i := range m.slots {
		m.slots[i] = mapSlot{offset: -1}
	}
	m.mask = uint64(n - 1)
	m.entries = 0
	// At least one slot stays empty, so that probing always ends.
	m.limit = min(max(int(float64(n)*m.loadFactor), 1), n-1)
	m.latest = -1
	// New seeds each round: a collision in one round is not repeated.
	m.seed0, m.seed1 = maphash.MakeSeed(), maphash.MakeSeed()
}

func (m *offsetMap) hash(key []byte) (uint64, uint64) {
	return maphash.Bytes(m.seed0, key), maphash.Bytes(m.seed1, key)
}

// full reports whether the map holds as many keys as it may.
func (m *offsetMap) full() bool { return m.entries >= m.limit }

// put records offset as the latest offset of key. Offsets are put in
// increasing order, so the last put wins. The caller checks full first.
func (m *offsetMap) put(key []byte, offset int64) {
	h0, h1 := m.hash(key)
	for i := h0 & m.mask; ; i = (i + 1) & m.mask {
		s := &m.slots[i]
		if s.offset < 0 {
			*s = mapSlot{h0: h0, h1: h1, offset: offset}
			m.entries++
			break
		}
		if s.h0 == h0 && s.h1 == h1 {
			s.offset = offset
			break
		}
	}
	m.latest = max(m.latest, offset)
}

// get returns the latest offset of key, or -1 if the map does not have it.
func (m *offsetMap) get(key []byte) int64 {
	if m.entries == 0 {
		return -1
	}
	h0, h1 := m.hash(key)
	for i := h0 & m.mask; ; i = (i + 1) & m.mask {
		s := &m.slots[i]
		if s.offset < 0 {
			return -1
		}
		if s.h0 == h0 && s.h1 == h1 {
			return s.offset
		}
	}
}

// updateLatest moves the latest offset covered by the map up to offset
// (Kafka's updateLatestOffset: a batch or segment was read to its end).
func (m *offsetMap) updateLatest(offset int64) { m.latest = max(m.latest, offset) }

// utilization is the fraction of slots in use.
func (m *offsetMap) utilization() float64 {
	if len(m.slots) == 0 {
		return 0
	}
	return float64(m.entries) / float64(len(m.slots))
}
