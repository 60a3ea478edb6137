// Package storage is the partition log on disk: Kafka's UnifiedLog,
// LocalLog, LogSegment, the offset/time indexes, the leader epoch cache and
// the LogManager, in Kafka's own on-disk layout so that Kafka's tools
// (kafka-dump-log, kafka-storage) read our dirs and we read theirs.
//
// # Using it
//
// A broker formats each log dir once (FormatLogDir, as `kafka-storage
// format` does), then opens them all with OpenManager, which recovers every
// partition found and starts the background retention / flush / checkpoint
// goroutine. The replica layer gets a partition's Log with GetOrCreate and
// drives it:
//
//	m, err := storage.OpenManager(dirs, storage.ManagerOptions{Logger: lg}, configForTopic)
//	l, err := m.GetOrCreate("orders", 0, topicID, cfg)
//	info, err := l.Append(batches, leaderEpoch, -1) // leader: assigns offsets
//	l.SetHighWatermark(hw)                          // after replication
//	r, err := l.Read(fetchOffset, maxBytes, l.HighWatermark(), true)
//	...
//	m.Close() // flushes, checkpoints, writes the clean-shutdown marker
//
// The caller validates batches (record package) before Append; the log
// checks only their framing. Read returns stored bytes and never decodes
// records. Only the timestamp lookups (OffsetForTimestamp, MaxTimestamp)
// look inside batches: they decode, decompressing if need be, the one
// batch the time index and batch headers point them to, and answer with
// the exact record, as Kafka does. A Log can also be used without a Manager (Open); it then
// recovers every segment on open unless Options says otherwise.
//
// # Files
//
//	<log dir>/
//	  meta.properties                    version=1, cluster.id, node.id, directory.id
//	  .kafka_cleanshutdown               {"version":"0","broker_epoch":"N"}; present only while shut down cleanly
//	  recovery-point-offset-checkpoint   \
//	  replication-offset-checkpoint       > "0\n<count>\n" then "<topic> <partition> <offset>\n" lines
//	  log-start-offset-checkpoint        /
//	  <topic>-<partition>/
//	    00000000000000000000.log         RecordBatch v2 bytes exactly as appended
//	    00000000000000000000.index       sparse offset index
//	    00000000000000000000.timeindex   sparse time index
//	    00000000000001048576.log …       next segment: name = its base offset, 20 digits
//	    leader-epoch-checkpoint          "0\n<count>\n" then "<epoch> <start offset>\n" lines
//	    partition.metadata               "version: 0\ntopic_id: <base64url uuid>\n"
//	  <topic>-<partition>.<32 hex>-delete/   a partition being deleted
//
// Checkpoint files and partition.metadata are replaced atomically (write
// .tmp, fsync, rename, fsync the dir). Segment files being deleted are
// first renamed with a ".deleted" suffix.
//
// Offset index entry (big endian), one per index.interval.bytes of batches:
//
//	0      4      8
//	+------+------+
//	| rel  | pos  |   rel = batch base offset - segment base offset (int32)
//	+------+------+   pos = byte position of that batch in the .log (int32)
//
// Time index entry, appended with an offset index entry when the segment's
// max timestamp has grown, and once more when the segment is rolled or
// closed:
//
//	0             8      12
//	+-------------+------+
//	| timestamp   | rel  |   max timestamp so far (int64), relative base
//	+-------------+------+   offset of the batch that first reached it (int32)
//
// Kafka keys both indexes by a batch's last offset; we key them by the base
// offset, which lets a lookup land on the batch holding the target. Either
// key is within the batch, so Kafka reads our indexes and we read Kafka's.
//
// # Segments
//
// Appends go to the last (active) segment with one write call, into the
// page cache. A new segment is rolled before an append when the active one
// would exceed segment.bytes, its first append is more than segment.ms old,
// an index would exceed segment.index.bytes, a relative offset would
// overflow int32, or (followers only) the append leaves an offset gap.
// Within a segment offsets run on without gaps, and the first batch starts
// at the segment's base offset.
//
// fsync happens only when flush.messages offsets are unflushed, when the
// Manager finds a log flush.ms old, after a roll (for the older segments,
// in the background) and on Close. The recovery point is the offset below
// which data and index entries are known to be fsynced.
//
// # Recovery
//
// A clean shutdown (the marker is present) loads segments without reading
// them: the max timestamp comes from the time index's last entry, the log
// end offset from the batches after the last offset index entry, and the
// indexes of older segments are read (and checked) on first use. Index
// files that are missing or malformed are rebuilt from the batches.
//
// Otherwise every segment from the one holding the recovery point is
// scanned: each batch's framing, CRC-32C and offsets are checked, both
// indexes are rebuilt, and the segment is cut after its last good batch.
// Segments after a cut one, or after one that does not end where the next
// begins, are removed, so the log keeps a prefix of what was appended.
// Batches with a new leader epoch re-enter the leader epoch cache. A bad
// leader-epoch-checkpoint forces a scan of every segment.
//
// Index entries are kept in memory and written to the index files at roll,
// flush and close: after a crash the files of segments at or above the
// recovery point may be stale, and those are exactly the ones rebuilt.
//
// # Errors
//
// The first failed write, rename or fsync in a log dir takes the whole dir
// offline: every later call that touches a log in it returns that error,
// wrapped in ErrLogDirOffline (Kafka's KAFKA_STORAGE_ERROR). Corrupt data
// met outside recovery is reported with MarkCorruption.
package storage
