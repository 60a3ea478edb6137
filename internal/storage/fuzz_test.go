package storage

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/gregor-streaming/gregor/internal/record"
)

// FuzzRecovery appends batches, damages the partition dir's segment and
// index files as a crash or a bad disk might (truncations, bit flips), and
// reopens the log without a clean shutdown. Invariants:
//   - Open succeeds;
//   - the log holds a prefix of the appended batches: equal byte for byte
//     except the partition leader epoch, the one header field no checksum
//     covers, and ending at LogEndOffset;
//   - every batch read back has a valid CRC;
//   - the log accepts appends afterwards and survives a clean reopen.
func FuzzRecovery(f *testing.F) {
	f.Add(uint8(10), uint16(300), uint8(40), []byte{})
	f.Add(uint8(20), uint16(500), uint8(0), []byte{0, 0, 0, 10, 0, 0})              // truncate the first segment
	f.Add(uint8(20), uint16(500), uint8(64), []byte{1, 1, 0, 100, 3, 0})            // flip a bit in the second segment
	f.Add(uint8(30), uint16(400), uint8(16), []byte{1, 2, 0, 17, 0, 0, 0, 3, 0, 0}) // CRC byte, then truncate
	f.Add(uint8(25), uint16(2000), uint8(8), []byte{2, 0, 0, 3, 0, 0, 3, 0, 0, 5})  // index damage
	f.Add(uint8(40), uint16(250), uint8(100), []byte{1, 0, 0, 4, 7, 0, 1, 3, 0, 0}) // base offset and length fields
	f.Fuzz(func(t *testing.T, nBatches uint8, segBytes uint16, interval uint8, damage []byte) {
		if len(damage) > 60 {
			damage = damage[:60]
		}
		dir := t.TempDir()
		cfg := testConfig()
		cfg.SegmentBytes = max(int64(segBytes), 400)
		cfg.IndexIntervalBytes = int32(interval)
		l, err := Open(dir, cfg, Options{Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		var appended [][]byte
		for i := range int(nBatches%50) + 1 {
			n := i%3 + 1
			tss := make([]int64, n)
			for j := range tss {
				tss[j] = int64(1000 + i*7 - j*3)
			}
			b := makeBatch(batchSpec{timestamps: tss, valueSize: (i * 13) % 90})
			if _, err := l.Append(b, int32(i/10), -1); err != nil {
				t.Fatal(err)
			}
			appended = append(appended, b) // Append rewrote it in place: now as stored
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}

		var files []string // .log files first, then the indexes, each by base offset
		for _, suffix := range []string{".log", ".index", ".timeindex"} {
			files = append(files, segmentFiles(t, dir, suffix)...)
		}
		// Each 4 bytes of damage: op, file, 2-byte position (the bit to flip is the low byte).
		for ; len(damage) >= 4; damage = damage[4:] {
			path := files[int(damage[1])%len(files)]
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) == 0 {
				continue
			}
			pos := int(binary.BigEndian.Uint16(damage[2:])) % len(data)
			switch damage[0] % 3 {
			case 0:
				data = data[:pos]
			case 1:
				data[pos] ^= 1 << (damage[3] % 8)
			case 2:
				data[pos] ^= 0xff
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}

		l, err = Open(dir, cfg, Options{Logger: quietLogger()})
		if err != nil {
			t.Fatalf("Open after damage: %v", err)
		}
		checkPrefix(t, l, appended)
		info, err := l.Append(simpleBatch(2, 5000, 3), 9, -1)
		if err != nil {
			t.Fatalf("Append after recovery: %v", err)
		}
		if info.FirstOffset != l.LogEndOffset()-2 {
			t.Fatalf("append at %d, LEO %d", info.FirstOffset, l.LogEndOffset())
		}
		want := readAll(t, l, math.MaxInt64)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l, err = Open(dir, cfg, Options{Logger: quietLogger(), CleanShutdown: true})
		if err != nil {
			t.Fatalf("clean reopen: %v", err)
		}
		defer l.Close()
		if got := readAll(t, l, math.MaxInt64); !bytes.Equal(got, want) {
			t.Fatal("clean reopen changed the data")
		}
	})
}

// checkPrefix checks that l holds a prefix of appended (see FuzzRecovery).
func checkPrefix(t *testing.T, l *Log, appended [][]byte) {
	t.Helper()
	data := readAll(t, l, math.MaxInt64) // checks every CRC
	i := 0
	err := record.Batches(data, func(h record.Header, b []byte) error {
		if i >= len(appended) {
			t.Fatalf("more batches than appended")
		}
		want := appended[i]
		if len(b) != len(want) || !bytes.Equal(b[:12], want[:12]) || !bytes.Equal(b[16:], want[16:]) {
			t.Fatalf("batch %d (offset %d) is not the appended one", i, h.BaseOffset)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	end := int64(0)
	if i > 0 {
		h, _ := record.ParseHeader(appended[i-1])
		end = h.NextOffset()
	}
	if l.LogEndOffset() != end || l.LogStartOffset() != 0 {
		t.Fatalf("log [%d, %d) holding %d batches, want end %d", l.LogStartOffset(), l.LogEndOffset(), i, end)
	}
	if l.HighWatermark() > end || l.RecoveryPoint() > end {
		t.Fatalf("HW %d RP %d beyond end %d", l.HighWatermark(), l.RecoveryPoint(), end)
	}
	for _, e := range l.Epochs() {
		if e.StartOffset > end {
			t.Fatalf("epoch entry %v beyond end %d", e, end)
		}
	}
}
