package storage

import (
	"fmt"
	"math"

	"github.com/gregor-streaming/gregor/internal/record"
)

// Config holds one topic's log settings, with Kafka's topic config names and
// defaults. Units are in the field names' comments. The broker parses and
// validates Kafka's properties at the edge (including Kafka's own minimums,
// such as segment.bytes >= 1 MiB); Validate here only rejects values the
// log cannot work with, so tests may use tiny segments.
type Config struct {
	SegmentBytes       int64 // segment.bytes: roll when the active segment would exceed this many bytes (default 1073741824)
	SegmentMs          int64 // segment.ms: roll when the active segment's first batch was appended this many ms ago (default 604800000)
	IndexIntervalBytes int32 // index.interval.bytes: bytes between offset/time index entries (default 4096)
	SegmentIndexBytes  int32 // segment.index.bytes: maximum size of an index file in bytes; roll when full (default 10485760)
	RetentionMs        int64 // retention.ms: delete segments whose newest timestamp is older than this; -1 = forever (default 604800000)
	RetentionBytes     int64 // retention.bytes: delete old segments while the log is larger than this; -1 = unlimited (default -1)
	FlushMessages      int64 // flush.messages: fsync after this many unflushed offsets (default math.MaxInt64: rely on the page cache)
	FlushMs            int64 // flush.ms: fsync when the last flush is this many ms old; checked by the Manager (default math.MaxInt64)
	FileDeleteDelayMs  int64 // file.delete.delay.ms: ms between renaming a deleted segment to .deleted and removing it (default 60000)

	// Log compaction (cleaner.go). The cleaner considers a log only while
	// Compact is set.
	Compact                bool    // cleanup.policy contains compact (default false)
	MinCleanableDirtyRatio float64 // min.cleanable.dirty.ratio: clean once dirty bytes / log bytes exceeds this (default 0.5)
	MinCompactionLagMs     int64   // min.compaction.lag.ms: leave segments holding records younger than this many ms (default 0)
	MaxCompactionLagMs     int64   // max.compaction.lag.ms: clean regardless of the ratio once dirty data is this many ms old (default math.MaxInt64)
	DeleteRetentionMs      int64   // delete.retention.ms: ms tombstones survive after the cleaning that first keeps them (default 86400000)
}

// DefaultConfig returns Kafka's defaults for the topic-level log configs.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * 60 * 60 * 1000,
		IndexIntervalBytes: 4096,
		SegmentIndexBytes:  10 << 20,
		RetentionMs:        7 * 24 * 60 * 60 * 1000,
		RetentionBytes:     -1,
		FlushMessages:      math.MaxInt64,
		FlushMs:            math.MaxInt64,
		FileDeleteDelayMs:  60000,

		MinCleanableDirtyRatio: 0.5,
		MaxCompactionLagMs:     math.MaxInt64,
		DeleteRetentionMs:      24 * 60 * 60 * 1000,
	}
}

// Validate reports the first setting the log cannot work with, wrapped in
// ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(name string, v any) error {
		return fmt.Errorf("%w: %s = %v", ErrInvalidConfig, name, v)
	}
	switch {
	case c.SegmentBytes < record.HeaderSize || c.SegmentBytes > math.MaxInt32:
		// Index entries hold int32 file positions.
		return bad("segment.bytes", c.SegmentBytes)
	case c.SegmentMs < 1:
		return bad("segment.ms", c.SegmentMs)
	case c.IndexIntervalBytes < 0:
		return bad("index.interval.bytes", c.IndexIntervalBytes)
	case c.SegmentIndexBytes < 4:
		return bad("segment.index.bytes", c.SegmentIndexBytes)
	case c.RetentionMs < -1:
		return bad("retention.ms", c.RetentionMs)
	case c.RetentionBytes < -1:
		return bad("retention.bytes", c.RetentionBytes)
	case c.FlushMessages < 1:
		return bad("flush.messages", c.FlushMessages)
	case c.FlushMs < 0:
		return bad("flush.ms", c.FlushMs)
	case c.FileDeleteDelayMs < 0:
		return bad("file.delete.delay.ms", c.FileDeleteDelayMs)
	case !(c.MinCleanableDirtyRatio >= 0 && c.MinCleanableDirtyRatio <= 1):
		return bad("min.cleanable.dirty.ratio", c.MinCleanableDirtyRatio)
	case c.MinCompactionLagMs < 0:
		return bad("min.compaction.lag.ms", c.MinCompactionLagMs)
	case c.MaxCompactionLagMs < 0:
		return bad("max.compaction.lag.ms", c.MaxCompactionLagMs)
	case c.DeleteRetentionMs < 0:
		return bad("delete.retention.ms", c.DeleteRetentionMs)
	}
	return nil
}

// maxOffsetIndexEntries and maxTimeIndexEntries are how many entries
// segment.index.bytes allows in each index, as Kafka computes them.
func (c Config) maxOffsetIndexEntries() int { return int(c.SegmentIndexBytes) / offsetIndexEntrySize }
func (c Config) maxTimeIndexEntries() int   { return int(c.SegmentIndexBytes) / timeIndexEntrySize }
