package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
)

// eachStore runs fn over both implementations.
func eachStore(t *testing.T, fn func(t *testing.T, open func() KeyValueStore)) {
	t.Run("memory", func(t *testing.T) {
		fn(t, func() KeyValueStore { return NewInMemory("s") })
	})
	t.Run("pebble", func(t *testing.T) {
		dir := t.TempDir()
		fn(t, func() KeyValueStore {
			p, err := OpenPebble(filepath.Join(dir, "s"), "s")
			if err != nil {
				t.Fatal(err)
			}
			return p
		})
	})
}

func collect(t *testing.T, s KeyValueStore, from, to []byte) []string {
	t.Helper()
	it, err := s.Range(from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStoreBasics(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() KeyValueStore) {
		s := open()
		defer s.Close()
		if v, err := s.Get([]byte("a")); err != nil || v != nil {
			t.Fatalf("Get missing = %q, %v", v, err)
		}
		for _, k := range []string{"b", "a", "d", "c"} {
			if err := s.Put([]byte(k), []byte("v"+k)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Put([]byte("a"), []byte("A")); err != nil {
			t.Fatal(err)
		}
		if err := s.Put([]byte("x"), nil); !errors.Is(err, ErrNilValue) {
			t.Fatalf("Put nil = %v", err)
		}
		if v, _ := s.Get([]byte("a")); string(v) != "A" {
			t.Fatalf("Get a = %q", v)
		}
		if err := s.Delete([]byte("d")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete([]byte("zz")); err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(collect(t, s, nil, nil))
		if got != "[a=A b=vb c=vc]" {
			t.Fatalf("all = %s", got)
		}
		// Kafka's range is inclusive at both ends.
		if got := fmt.Sprint(collect(t, s, []byte("b"), []byte("c"))); got != "[b=vb c=vc]" {
			t.Fatalf("range b..c = %s", got)
		}
		if got := fmt.Sprint(collect(t, s, []byte("bb"), nil)); got != "[c=vc]" {
			t.Fatalf("range bb.. = %s", got)
		}
		if n, err := s.ApproximateNumEntries(); err != nil || n != 3 {
			t.Fatalf("entries = %d, %v", n, err)
		}
		if err := s.PutAll([]KeyValue{{Key: []byte("a"), Value: nil}, {Key: []byte("e"), Value: []byte("ve")}}); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(collect(t, s, nil, nil)); got != "[b=vb c=vc e=ve]" {
			t.Fatalf("after PutAll = %s", got)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := s.Get([]byte("b")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Get after Close = %v", err)
		}
	})
}

func TestIteratorIsSnapshot(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() KeyValueStore) {
		s := open()
		defer s.Close()
		for _, k := range []string{"a", "b", "c"} {
			s.Put([]byte(k), []byte(k))
		}
		it, err := s.Range(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for it.Next() {
			keys = append(keys, string(it.Key()))
			// Writes while iterating must not disturb the iterator.
			s.Delete([]byte("c"))
			s.Put([]byte("bb"), []byte("x"))
		}
		it.Close()
		if fmt.Sprint(keys) != "[a b c]" {
			t.Fatalf("iterated %v", keys)
		}
	})
}

func TestPebblePersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	p, err := OpenPebble(dir, "p")
	if err != nil {
		t.Fatal(err)
	}
	p.Put([]byte("k"), []byte("v"))
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p, err = OpenPebble(dir, "p")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if v, _ := p.Get([]byte("k")); string(v) != "v" {
		t.Fatalf("after reopen: %q", v)
	}
}

// TestStoreMatchesModel applies random operations to each store and to a
// map, and compares full scans and random ranges (STYLE: property tests
// against a naive model).
func TestStoreMatchesModel(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() KeyValueStore) {
		s := open()
		defer s.Close()
		model := map[string]string{}
		r := rand.New(rand.NewPCG(7, 9))
		key := func() []byte { return []byte{byte('a' + r.IntN(20)), byte('a' + r.IntN(3))} }
		for i := 0; i < 3000; i++ {
			k := key()
			switch r.IntN(4) {
			case 0, 1:
				v := fmt.Sprint(i)
				s.Put(k, []byte(v))
				model[string(k)] = v
			case 2:
				s.Delete(k)
				delete(model, string(k))
			case 3:
				from, to := key(), key()
				if bytes.Compare(from, to) > 0 {
					from, to = to, from
				}
				var want []string
				for mk, mv := range model {
					if mk >= string(from) && mk <= string(to) {
						want = append(want, mk+"="+mv)
					}
				}
				sort.Strings(want)
				if got := collect(t, s, from, to); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("op %d range %s..%s: got %v want %v", i, from, to, got, want)
				}
			}
		}
		if n, _ := s.ApproximateNumEntries(); n != int64(len(model)) {
			t.Fatalf("entries %d, model %d", n, len(model))
		}
	})
}
