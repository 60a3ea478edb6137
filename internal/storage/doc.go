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
//	rc, err := l.ReadCommitted(fetchOffset, maxBytes, true) // up to the LSO, with rc.AbortedTxns
//	...
//	m.Close() // flushes, checkpoints, writes the clean-shutdown marker
//
// Batches with a producer id are checked against the partition's producer
// state (producerstate.go); transactional batches open transactions and
// markers close them, which decides the last stable offset
// (LastStableOffset, lso.go) and the transaction index of aborted
// transactions (txnindex.go) that read_committed fetches are answered
// from.
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
//	  replication-offset-checkpoint       \ "0\n<count>\n" then "<topic> <partition> <offset>\n" lines
//	  log-start-offset-checkpoint         /
//	  cleaner-offset-checkpoint          /  (the log cleaner's: where each compacted log's dirty part starts)
//	  <topic>-<partition>/
//	    00000000000000000000.log         RecordBatch v2 bytes exactly as appended (or as the cleaner kept them)
//	    00000000000000000000.index       sparse offset index
//	    00000000000000000000.timeindex   sparse time index
//	    00000000000000000000.txnindex    aborted transactions whose marker is in the segment (txnindex.go);
//	                                     only for segments that have some
//	    00000000000001048576.log …       next segment: name = its base offset, 20 digits
//	    00000000000001048576.snapshot    producer state of the batches below that offset (producersnapshot.go)
//	    leader-epoch-checkpoint          "0\n<count>\n" then "<epoch> <start offset>\n" lines
//	    partition.metadata               "version: 0\ntopic_id: <base64url uuid>\n"
//	    <segment file>.cleaned           a segment the cleaner is writing (removed on open)
//	    <segment file>.swap              a cleaned segment written in full, waiting to replace the
//	                                     segments it was cleaned from (the swap finishes on open)
//	    <segment file>.deleted           a segment file waiting for file.delete.delay.ms
//	  <topic>-<partition>.<32 hex>-delete/   a partition being deleted
//
// Checkpoint files, producer snapshots and partition.metadata are
// replaced atomically (write .tmp, fsync, rename, fsync the dir). Segment
// files being deleted are first renamed with a ".deleted" suffix.
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
// The transaction index entry is drawn in txnindex.go, the producer
// snapshot in producersnapshot.go.
//
// # Segments
//
// Appends go to the last (active) segment with one write call, into the
// page cache. A new segment is rolled before an append when the active one
// would exceed segment.bytes, its first append is more than segment.ms old,
// an index would exceed segment.index.bytes, or a relative offset would
// overflow int32. Offsets increase within a segment but may have gaps: the
// cleaner removes records, and a follower copying a compacted leader
// appends its batches as they are, gaps included, rolling by the same
// rules. A segment's first batch may start after its base offset, but
// segments tile the offsets: a new segment's base is the log end offset
// when it is rolled (only an append more than 2^31 offsets past it starts
// one at its own first offset), and the cleaner keeps the last batch of
// every segment it rewrites.
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
// The producer state, open transactions included, is then loaded from the
// latest producer snapshot at or below the log end offset (or, if segments
// were scanned, at or below the first of them) and the batches after it
// are replayed; the replay rebuilds the transaction indexes of the scanned
// segments (and of any segment whose .txnindex is malformed). The other
// segments' transaction indexes are read as they are.
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
