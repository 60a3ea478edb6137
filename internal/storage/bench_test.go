package storage

import (
	"math"
	"testing"
)

func BenchmarkAppend(b *testing.B) {
	l := openLog(b, b.TempDir(), testConfig(), Options{})
	defer l.Close()
	batch := simpleBatch(10, 1, 100)
	buf := make([]byte, len(batch))
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	for range b.N {
		copy(buf, batch)
		if _, err := l.Append(buf, 1, -1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadSequential(b *testing.B) {
	l := openLog(b, b.TempDir(), testConfig(), Options{})
	defer l.Close()
	batch := simpleBatch(10, 1, 100)
	for range 20000 {
		buf := append([]byte(nil), batch...)
		if _, err := l.Append(buf, 1, -1); err != nil {
			b.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	b.ResetTimer()
	var off int64
	var n int64
	for range b.N {
		info, err := l.Read(off, 64<<10, math.MaxInt64, true)
		if err != nil {
			b.Fatal(err)
		}
		n += int64(len(info.Data))
		off += int64(len(info.Data) / len(batch) * 10)
		if off >= leo {
			off = 0
		}
	}
	b.SetBytes(n / int64(b.N))
}
