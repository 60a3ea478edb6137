package state

import (
	"bytes"
	"math/rand/v2"
)

// Memory is an in-memory KeyValueStore: an ordered skip list of copies of
// the keys and values written to it.
type Memory struct {
	name   string
	head   *skipNode
	level  int
	n      int64
	rnd    *rand.Rand
	closed bool
}

const maxLevel = 24

type skipNode struct {
	key, value []byte
	next       [maxLevel]*skipNode
}

// NewInMemory returns an empty in-memory store.
func NewInMemory(name string) *Memory {
	return &Memory{name: name, head: &skipNode{}, level: 1, rnd: rand.New(rand.NewPCG(1, 2))}
}

// Name implements KeyValueStore.
func (m *Memory) Name() string { return m.name }

// Persistent implements KeyValueStore: false.
func (m *Memory) Persistent() bool { return false }

// find fills prev (if not nil) with the last node before key at each level and
// returns the node at or after key on level 0.
func (m *Memory) find(key []byte, prev *[maxLevel]*skipNode) *skipNode {
	x := m.head
	for i := m.level - 1; i >= 0; i-- {
		for x.next[i] != nil && bytes.Compare(x.next[i].key, key) < 0 {
			x = x.next[i]
		}
		if prev != nil {
			prev[i] = x
		}
	}
	return x.next[0]
}

// Get implements KeyValueStore.
func (m *Memory) Get(key []byte) ([]byte, error) {
	if m.closed {
		return nil, ErrClosed
	}
	if x := m.find(key, nil); x != nil && bytes.Equal(x.key, key) {
		return clone(x.value), nil
	}
	return nil, nil
}

// Put implements KeyValueStore.
func (m *Memory) Put(key, value []byte) error {
	if m.closed {
		return ErrClosed
	}
	if value == nil {
		return ErrNilValue
	}
	m.put(key, value)
	return nil
}

func (m *Memory) put(key, value []byte) {
	var prev [maxLevel]*skipNode
	x := m.find(key, &prev)
	if x != nil && bytes.Equal(x.key, key) {
		x.value = clone(value)
		return
	}
	lvl := 1
	for lvl < maxLevel && m.rnd.IntN(4) == 0 {
		lvl++
	}
	if lvl > m.level {
		for i := m.level; i < lvl; i++ {
			prev[i] = m.head
		}
		m.level = lvl
	}
	n := &skipNode{key: clone(key), value: clone(value)}
	for i := 0; i < lvl; i++ {
		n.next[i] = prev[i].next[i]
		prev[i].next[i] = n
	}
	m.n++
}

// Delete implements KeyValueStore.
func (m *Memory) Delete(key []byte) error {
	if m.closed {
		return ErrClosed
	}
	m.delete(key)
	return nil
}

func (m *Memory) delete(key []byte) {
	var prev [maxLevel]*skipNode
	x := m.find(key, &prev)
	if x == nil || !bytes.Equal(x.key, key) {
		return
	}
	for i := 0; i < m.level; i++ {
		if prev[i].next[i] != x {
			break
		}
		prev[i].next[i] = x.next[i]
	}
	for m.level > 1 && m.head.next[m.level-1] == nil {
		m.level--
	}
	m.n--
}

// PutAll implements KeyValueStore.
func (m *Memory) PutAll(entries []KeyValue) error {
	if m.closed {
		return ErrClosed
	}
	for _, e := range entries {
		if e.Value == nil {
			m.delete(e.Key)
		} else {
			m.put(e.Key, e.Value)
		}
	}
	return nil
}

// Range implements KeyValueStore. The iterator holds a snapshot of the
// entries in range (Kafka's in-memory store copies the key set too), so
// writes during iteration do not disturb it.
func (m *Memory) Range(from, to []byte) (Iterator, error) {
	if m.closed {
		return nil, ErrClosed
	}
	var x *skipNode
	if from == nil {
		x = m.head.next[0]
	} else {
		x = m.find(from, nil)
	}
	var entries []KeyValue
	for ; x != nil; x = x.next[0] {
		if to != nil && bytes.Compare(x.key, to) > 0 {
			break
		}
		// Keys and values are never modified in place (put replaces
		// the slice), so the snapshot can share them.
		entries = append(entries, KeyValue{Key: x.key, Value: x.value})
	}
	return &sliceIterator{entries: entries, i: -1}, nil
}

// ApproximateNumEntries implements KeyValueStore: the exact count.
func (m *Memory) ApproximateNumEntries() (int64, error) {
	if m.closed {
		return 0, ErrClosed
	}
	return m.n, nil
}

// Flush implements KeyValueStore: nothing to do.
func (m *Memory) Flush() error {
	if m.closed {
		return ErrClosed
	}
	return nil
}

// Close implements KeyValueStore and drops the data.
func (m *Memory) Close() error {
	m.closed = true
	m.head = &skipNode{}
	m.level, m.n = 1, 0
	return nil
}

type sliceIterator struct {
	entries []KeyValue
	i       int
}

func (it *sliceIterator) Next() bool {
	if it.i+1 >= len(it.entries) {
		it.i = len(it.entries)
		return false
	}
	it.i++
	return true
}
func (it *sliceIterator) Key() []byte   { return it.entries[it.i].Key }
func (it *sliceIterator) Value() []byte { return it.entries[it.i].Value }
func (it *sliceIterator) Err() error    { return nil }
func (it *sliceIterator) Close() error  { return nil }
