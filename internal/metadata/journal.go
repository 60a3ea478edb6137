package metadata

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Journal is the durable, ordered log of metadata record batches. The
// single-node FileJournal keeps it in one file; the cluster's will be
// the Raft log. Implementations are safe for concurrent use.
type Journal interface {
	// Append makes recs durable as one batch, after every batch appended
	// before it. Once Append returns nil the batch survives a crash.
	Append(recs []Record) error
	// Replay calls fn with every batch in log order. It is called once,
	// before the first Append.
	Replay(fn func(recs []Record) error) error
	// Close releases the journal. Append fails after Close.
	Close() error
}

// ErrJournalClosed is returned by Append after Close.
var ErrJournalClosed = errors.New("metadata: journal closed")

// FileJournal is a Journal in a single file. Each batch is framed as
//
//	length uint32 | crc32c uint32 | JSON array of Records (length bytes)
//
// and fsynced before Append returns. A torn or corrupt tail (a crash in the
// middle of a write) is cut off by Replay.
type FileJournal struct {
	path string
	mu   struct {
		sync.Mutex
		f   *os.File
		err error // sticky write error
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OpenFileJournal opens or creates the journal file in dir (created if
// needed).
func OpenFileJournal(dir string) (*FileJournal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metadata: create %s: %w", dir, err)
	}
	p := filepath.Join(dir, "metadata.journal")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metadata: open journal: %w", err)
	}
	j := &FileJournal{path: p}
	j.mu.f = f
	return j, nil
}

// Replay implements Journal. It truncates the file after the last whole,
// valid batch.
func (j *FileJournal) Replay(fn func([]Record) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	f := j.mu.f
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReader(f)
	var good int64
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		sum := binary.BigEndian.Uint32(hdr[4:])
		if n > 64<<20 {
			break
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			break
		}
		if crc32.Checksum(body, castagnoli) != sum {
			break
		}
		recs, err := decodeRecords(body)
		if err != nil {
			break
		}
		if err := fn(recs); err != nil {
			return err
		}
		good += 8 + int64(n)
	}
	if err := f.Truncate(good); err != nil {
		return fmt.Errorf("metadata: truncate journal tail: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return err
	}
	return nil
}

// Append implements Journal.
func (j *FileJournal) Append(recs []Record) error {
	body, err := encodeRecords(recs)
	if err != nil {
		return err
	}
	buf := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(buf[:4], uint32(len(body)))
	binary.BigEndian.PutUint32(buf[4:], crc32.Checksum(body, castagnoli))
	buf = append(buf, body...)

	j.mu.Lock()
	defer j.mu.Unlock()
	if j.mu.f == nil {
		return ErrJournalClosed
	}
	if j.mu.err != nil {
		return j.mu.err
	}
	if _, err := j.mu.f.Write(buf); err != nil {
		j.mu.err = fmt.Errorf("metadata: write journal: %w", err)
		return j.mu.err
	}
	if err := j.mu.f.Sync(); err != nil {
		j.mu.err = fmt.Errorf("metadata: sync journal: %w", err)
		return j.mu.err
	}
	return nil
}

// Close implements Journal.
func (j *FileJournal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.mu.f == nil {
		return nil
	}
	err := j.mu.f.Close()
	j.mu.f = nil
	return err
}
