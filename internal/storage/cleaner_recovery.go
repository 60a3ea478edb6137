package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Suffixes of the files of a segment the cleaner is writing (.cleaned) and
// of one written in full and waiting to replace the segments it was
// cleaned from (.swap), as in Kafka.
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// completeSwaps finishes what a crash left of a cleaner swap, before a
// partition dir is loaded (Kafka's LogLoader: removeTempFilesAndCollectSwapFiles
// and the swap completion that follows):
//
//   - *.cleaned files are a cleaning cut short: removed.
//   - <base>.log.swap is a cleaned segment written and fsynced in full (the
//     rename to .swap is the cleaner's commit point): the segment files it
//     replaces, every .log/.index/.timeindex whose base offset lies in
//     [base, its end offset), are removed and it is renamed to <base>.log.
//     The cleaner keeps the last batch of every cleaned segment, so that
//     end offset is where the next segment begins. Their .txnindex files
//     go too.
//   - index .swap files (.txnindex.swap too) are removed; the recovered
//     segment has no index files and recovery rebuilds them, the
//     transaction index by replaying the producer state.
//
// Files already renamed to *.deleted are left to the caller, which removes
// them. A crash at any point therefore leaves either the old segments or
// the cleaned one, never both and never neither.
func completeSwaps(dir string, logger *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var swaps []int64
	changed := false
	remove := func(name string) error {
		changed = true
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, cleanedSuffix):
			if err := remove(name); err != nil {
				return err
			}
		case strings.HasSuffix(name, swapSuffix):
			if base, ok := parseSegmentFileName(strings.TrimSuffix(name, swapSuffix), logSuffix); ok {
				swaps = append(swaps, base)
			} else if err := remove(name); err != nil {
				return err
			}
		}
	}
	slices.Sort(swaps)
	for _, base := range swaps {
		swapPath := filepath.Join(dir, segmentFileName(base, logSuffix)+swapSuffix)
		end, err := swapEndOffset(swapPath, base)
		if err != nil {
			return fmt.Errorf("read swap file %s: %w", filepath.Base(swapPath), err)
		}
		logger.Info("storage: completing an interrupted cleaner swap", "dir", dir, "segment", base, "end_offset", end)
		for _, e := range entries {
			name := e.Name()
			for _, suffix := range segmentSuffixes {
				if b, ok := parseSegmentFileName(name, suffix); ok && b >= base && b < end {
					if err := remove(name); err != nil {
						return err
					}
				}
			}
		}
		if err := os.Rename(swapPath, filepath.Join(dir, segmentFileName(base, logSuffix))); err != nil {
			return err
		}
		changed = true
	}
	if changed {
		return syncDir(dir)
	}
	return nil
}

// swapEndOffset is the offset after the last whole batch of a swap file
// (base+1 if it has none, so that only the segment it is named after is
// replaced).
func swapEndOffset(path string, base int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := base + 1
	sc := newScanner(f, 0, fi.Size())
	for {
		h, _, _, err := sc.next()
		if err == io.EOF || (err != nil && isBadData(err)) {
			return end, nil
		}
		if err != nil {
			return 0, err
		}
		end = max(end, h.NextOffset())
	}
}
