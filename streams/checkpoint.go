package streams

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The checkpoint file of a task, <state.dir>/<application.id>/<task>/.checkpoint,
// in Kafka's OffsetCheckpoint format: a version line, an entry count,
// then one "topic partition offset" line per changelog partition, giving
// the offset up to which the task's persistent stores hold the
// changelog:
//
//	0
//	2
//	wordcount-counts-changelog 3 1042
//	wordcount-totals-changelog 3 77
//
// It is written to .checkpoint.tmp, synced and renamed over the old file.

const checkpointFile = ".checkpoint"

func readCheckpoint(dir string) (map[topicPartition]int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return map[topicPartition]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseCheckpoint(b)
}

func parseCheckpoint(b []byte) (map[topicPartition]int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	v, ok := line()
	if !ok || v != "0" {
		return nil, fmt.Errorf("%w: version %q", errCheckpointFormat, v)
	}
	c, ok := line()
	n, err := strconv.Atoi(c)
	if !ok || err != nil || n < 0 {
		return nil, fmt.Errorf("%w: count %q", errCheckpointFormat, c)
	}
	out := make(map[topicPartition]int64, n)
	for i := 0; i < n; i++ {
		l, ok := line()
		f := strings.Fields(l)
		if !ok || len(f) != 3 {
			return nil, fmt.Errorf("%w: entry %q", errCheckpointFormat, l)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || p < 0 || off < 0 {
			return nil, fmt.Errorf("%w: entry %q", errCheckpointFormat, l)
		}
		out[topicPartition{f[0], int32(p)}] = off
	}
	return out, nil
}

func formatCheckpoint(offsets map[topicPartition]int64) []byte {
	tps := make([]topicPartition, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].topic != tps[j].topic {
			return tps[i].topic < tps[j].topic
		}
		return tps[i].partition < tps[j].partition
	})
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "0\n%d\n", len(tps))
	for _, tp := range tps {
		fmt.Fprintf(&buf, "%s %d %d\n", tp.topic, tp.partition, offsets[tp])
	}
	return buf.Bytes()
}

func writeCheckpoint(dir string, offsets map[topicPartition]int64) error {
	tmp := filepath.Join(dir, checkpointFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("streams: write checkpoint: %w", err)
	}
	if _, err := f.Write(formatCheckpoint(offsets)); err != nil {
		f.Close()
		return fmt.Errorf("streams: write checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("streams: write checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("streams: write checkpoint: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, checkpointFile)); err != nil {
		return fmt.Errorf("streams: write checkpoint: %w", err)
	}
	return nil
}

func removeCheckpoint(dir string) error {
	err := os.Remove(filepath.Join(dir, checkpointFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("streams: remove checkpoint: %w", err)
	}
	return nil
}
