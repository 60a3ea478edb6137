package state

import (
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2"
)

// Pebble is a persistent KeyValueStore on a Pebble database in a
// directory of its own.
type Pebble struct {
	name string
	dir  string
	db   *pebble.DB
}

// quietLogger drops Pebble's informational logs (WAL recovery, flushes)
// and keeps its errors on the floor too: errors reach us as return
// values. Fatalf panics, as Pebble's own default does after logging.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("state: pebble: "+format, args...))
}

// syncMarker is the WAL record Flush writes with Sync to make every
// earlier write durable.
var syncMarker = []byte("gregor-streams-flush")

// OpenPebble opens (creating if needed) the Pebble store in dir.
func OpenPebble(dir, name string) (*Pebble, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: open %s: %w", name, err)
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("state: open %s in %s: %w", name, dir, err)
	}
	return &Pebble{name: name, dir: dir, db: db}, nil
}

// Name implements KeyValueStore.
func (p *Pebble) Name() string { return p.name }

// Persistent implements KeyValueStore: true.
func (p *Pebble) Persistent() bool { return true }

// Get implements KeyValueStore.
func (p *Pebble) Get(key []byte) ([]byte, error) {
	if p.db == nil {
		return nil, ErrClosed
	}
	v, closer, err := p.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %s: get: %w", p.name, err)
	}
	out := append(make([]byte, 0, len(v)), v...)
	closer.Close()
	return out, nil
}

// Put implements KeyValueStore.
func (p *Pebble) Put(key, value []byte) error {
	if p.db == nil {
		return ErrClosed
	}
	if value == nil {
		return ErrNilValue
	}
	if err := p.db.Set(key, value, pebble.NoSync); err != nil {
		return fmt.Errorf("state: %s: put: %w", p.name, err)
	}
	return nil
}

// Delete implements KeyValueStore.
func (p *Pebble) Delete(key []byte) error {
	if p.db == nil {
		return ErrClosed
	}
	if err := p.db.Delete(key, pebble.NoSync); err != nil {
		return fmt.Errorf("state: %s: delete: %w", p.name, err)
	}
	return nil
}

// PutAll implements KeyValueStore with one Pebble batch.
func (p *Pebble) PutAll(entries []KeyValue) error {
	if p.db == nil {
		return ErrClosed
	}
	b := p.db.NewBatch()
	defer b.Close()
	for _, e := range entries {
		var err error
		if e.Value == nil {
			err = b.Delete(e.Key, nil)
		} else {
			err = b.Set(e.Key, e.Value, nil)
		}
		if err != nil {
			return fmt.Errorf("state: %s: batch: %w", p.name, err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("state: %s: batch: %w", p.name, err)
	}
	return nil
}

// Range implements KeyValueStore.
func (p *Pebble) Range(from, to []byte) (Iterator, error) {
	if p.db == nil {
		return nil, ErrClosed
	}
	o := &pebble.IterOptions{LowerBound: clone(from)}
	if to != nil {
		// UpperBound is exclusive: the smallest key after to.
		o.UpperBound = append(clone(to), 0)
	}
	it, err := p.db.NewIter(o)
	if err != nil {
		return nil, fmt.Errorf("state: %s: range: %w", p.name, err)
	}
	return &pebbleIterator{it: it}, nil
}

// ApproximateNumEntries implements KeyValueStore by counting.
func (p *Pebble) ApproximateNumEntries() (int64, error) {
	it, err := p.Range(nil, nil)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	var n int64
	for it.Next() {
		n++
	}
	return n, it.Err()
}

// Flush implements KeyValueStore: it syncs the write-ahead log.
func (p *Pebble) Flush() error {
	if p.db == nil {
		return ErrClosed
	}
	if err := p.db.LogData(syncMarker, pebble.Sync); err != nil {
		return fmt.Errorf("state: %s: flush: %w", p.name, err)
	}
	return nil
}

// Close implements KeyValueStore.
func (p *Pebble) Close() error {
	if p.db == nil {
		return nil
	}
	err := p.db.Close()
	p.db = nil
	if err != nil {
		return fmt.Errorf("state: %s: close: %w", p.name, err)
	}
	return nil
}

type pebbleIterator struct {
	it      *pebble.Iterator
	started bool
}

func (i *pebbleIterator) Next() bool {
	if !i.started {
		i.started = true
		return i.it.First()
	}
	return i.it.Next()
}
func (i *pebbleIterator) Key() []byte   { return i.it.Key() }
func (i *pebbleIterator) Value() []byte { return i.it.Value() }
func (i *pebbleIterator) Err() error    { return i.it.Error() }
func (i *pebbleIterator) Close() error  { return i.it.Close() }
