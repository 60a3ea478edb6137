package storage

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/gregor-streaming/gregor/internal/record"
)

// TestReadReleaseReuse reads random ranges, releasing every result to the
// read-buffer pool, and checks each read against the bytes appended: a
// buffer handed back must never leak into a later result.
func TestReadReleaseReuse(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{Logger: quietLogger()})
	var want [][]byte // stored bytes of each batch, by append order
	var firstOffsets []int64
	for i := 0; i < 200; i++ {
		b := simpleBatch(1+i%5, int64(1000+i), 10+i%300)
		info := mustAppend(t, l, b, 0)
		firstOffsets = append(firstOffsets, info.FirstOffset)
	}
	l.SetHighWatermark(l.LogEndOffset())
	all := readAll(t, l, l.LogEndOffset())
	if err := record.Batches(all, func(_ record.Header, b []byte) error {
		want = append(want, append([]byte(nil), b...))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		k := rng.Intn(len(firstOffsets))
		maxBytes := 1 + rng.Intn(8000)
		ri, err := l.Read(firstOffsets[k], maxBytes, l.LogEndOffset(), true)
		if err != nil {
			t.Fatal(err)
		}
		j := k
		err = record.Batches(ri.Data, func(_ record.Header, b []byte) error {
			if !bytes.Equal(b, want[j]) {
				t.Fatalf("read %d: batch %d differs from what was appended", i, j)
			}
			j++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if j == k {
			t.Fatalf("read %d: no batch with minOneBatch", i)
		}
		ReleaseReadData(ri.Data)
	}
}
