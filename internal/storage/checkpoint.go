package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gregor-streaming/gregor/internal/uuid"
)

// Names of the files the Manager keeps in each log dir, and the ones a Log
// keeps in its partition dir. They are Kafka's.
const (
	RecoveryPointCheckpointFile  = "recovery-point-offset-checkpoint"
	ReplicationCheckpointFile    = "replication-offset-checkpoint"
	LogStartOffsetCheckpointFile = "log-start-offset-checkpoint"
	CleanShutdownFile            = ".kafka_cleanshutdown"
	LeaderEpochCheckpointFile    = "leader-epoch-checkpoint"
	PartitionMetadataFile        = "partition.metadata"
)

const checkpointVersion = 0

// readCheckpointLines parses Kafka's checkpoint text format: a version
// line, a count line, then count lines of `fields` space-separated values.
// A missing file yields no lines and no error.
func readCheckpointLines(path string, fields int) ([][]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	bad := func(format string, args ...any) error {
		return MarkCorruption(fmt.Errorf("checkpoint %s: %s", path, fmt.Sprintf(format, args...)))
	}
	if len(lines) < 2 {
		return nil, bad("truncated header")
	}
	if v, err := strconv.Atoi(strings.TrimSpace(lines[0])); err != nil || v != checkpointVersion {
		return nil, bad("unsupported version %q", lines[0])
	}
	n, err := strconv.Atoi(strings.TrimSpace(lines[1]))
	if err != nil || n < 0 {
		return nil, bad("bad count %q", lines[1])
	}
	if len(lines)-2 != n {
		return nil, bad("count %d but %d entries", n, len(lines)-2)
	}
	out := make([][]string, 0, n)
	for _, line := range lines[2:] {
		f := strings.Fields(line)
		if len(f) != fields {
			return nil, bad("malformed line %q", line)
		}
		out = append(out, f)
	}
	return out, nil
}

func writeCheckpointLines(path string, lines []string) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%d\n%d\n", checkpointVersion, len(lines))
	for _, l := range lines {
		buf.WriteString(l)
		buf.WriteByte('\n')
	}
	return WriteFileAtomic(path, buf.Bytes())
}

// readOffsetCheckpoint reads a `topic partition offset` checkpoint file.
func readOffsetCheckpoint(path string) (map[TopicPartition]int64, error) {
	lines, err := readCheckpointLines(path, 3)
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64, len(lines))
	for _, f := range lines {
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || p < 0 {
			return nil, MarkCorruption(fmt.Errorf("checkpoint %s: malformed line %q", path, strings.Join(f, " ")))
		}
		out[TopicPartition{Topic: f[0], Partition: int32(p)}] = off
	}
	return out, nil
}

// writeOffsetCheckpoint atomically writes a `topic partition offset`
// checkpoint file, sorted by topic and partition.
func writeOffsetCheckpoint(path string, offsets map[TopicPartition]int64) error {
	tps := make([]TopicPartition, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool { return tps[i].less(tps[j]) })
	lines := make([]string, len(tps))
	for i, tp := range tps {
		lines[i] = fmt.Sprintf("%s %d %d", tp.Topic, tp.Partition, offsets[tp])
	}
	return writeCheckpointLines(path, lines)
}

// readEpochCheckpoint reads a leader-epoch-checkpoint (`epoch startOffset`
// lines).
func readEpochCheckpoint(path string) ([]EpochEntry, error) {
	lines, err := readCheckpointLines(path, 2)
	if err != nil {
		return nil, err
	}
	out := make([]EpochEntry, 0, len(lines))
	for _, f := range lines {
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		off, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || e < 0 || off < 0 {
			return nil, MarkCorruption(fmt.Errorf("checkpoint %s: malformed line %q", path, strings.Join(f, " ")))
		}
		if n := len(out); n > 0 && (int32(e) <= out[n-1].Epoch || off < out[n-1].StartOffset) {
			return nil, MarkCorruption(fmt.Errorf("checkpoint %s: entries out of order at %q", path, strings.Join(f, " ")))
		}
		out = append(out, EpochEntry{Epoch: int32(e), StartOffset: off})
	}
	return out, nil
}

func writeEpochCheckpoint(path string, entries []EpochEntry) error {
	lines := make([]string, len(entries))
	for i, e := range entries {
		lines[i] = fmt.Sprintf("%d %d", e.Epoch, e.StartOffset)
	}
	return writeCheckpointLines(path, lines)
}

// Partition metadata file (Kafka's PartitionMetadataFile):
//
//	version: 0
//	topic_id: <Uuid text form>
func readPartitionMetadata(path string) (id [16]byte, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return id, false, nil
	}
	if err != nil {
		return id, false, err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	bad := MarkCorruption(fmt.Errorf("%s: malformed %q", path, data))
	if len(lines) != 2 {
		return id, false, bad
	}
	v, okv := strings.CutPrefix(lines[0], "version: ")
	t, okt := strings.CutPrefix(lines[1], "topic_id: ")
	if !okv || !okt || strings.TrimSpace(v) != "0" {
		return id, false, bad
	}
	id, err = uuid.Parse(strings.TrimSpace(t))
	if err != nil {
		return id, false, MarkCorruption(fmt.Errorf("%s: %w", path, err))
	}
	return id, true, nil
}

func writePartitionMetadata(path string, id [16]byte) error {
	return WriteFileAtomic(path, []byte("version: 0\ntopic_id: "+uuid.Format(id)+"\n"))
}

// The clean shutdown marker holds, since KIP-966, the broker epoch as JSON
// with string values: {"version":"0","broker_epoch":"42"}.
func writeCleanShutdownFile(dir string, brokerEpoch int64) error {
	data, err := json.Marshal(map[string]string{
		"version":      "0",
		"broker_epoch": strconv.FormatInt(brokerEpoch, 10),
	})
	if err != nil {
		return err
	}
	path := filepath.Join(dir, CleanShutdownFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

// readCleanShutdownFile reports whether the marker exists and, if it holds
// one, the broker epoch (-1 if it holds none or cannot be parsed).
func readCleanShutdownFile(dir string) (exists bool, brokerEpoch int64) {
	data, err := os.ReadFile(filepath.Join(dir, CleanShutdownFile))
	if err != nil {
		return fileExists(filepath.Join(dir, CleanShutdownFile)), -1
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return true, -1
	}
	switch v := m["broker_epoch"].(type) {
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return true, n
		}
	case float64:
		return true, int64(v)
	}
	return true, -1
}
