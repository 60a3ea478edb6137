// Package txn is the transaction coordinator (KIP-98, with KIP-360
// producer recovery, KIP-588 fencing errors, KIP-664/994/1152 listing and
// KIP-890 transaction versions): InitProducerId for transactional ids,
// AddPartitionsToTxn (the producer's v0-3 and the brokers' v4+ batched
// form with VerifyOnly), AddOffsetsToTxn, EndTxn, DescribeTransactions
// and ListTransactions, the timeout of transactions and the expiration of
// transactional ids.
//
// Each transactional id lives in one partition of __transaction_state,
// chosen by PartitionFor as Kafka does, and is owned by that partition's
// Shard: a single-threaded state machine without I/O, run by the
// coordinator package's runtime. The server calls the Coordinator, which
// routes each request to its shard and waits for the answer:
//
//	c, err := txn.New(txn.Config{ProducerIDs: ids, WriteMarkers: send, ...}, txn.Options{})
//	c.Sync(50, map[int32]txn.Leader{0: {Log: log0, Epoch: 3}, ...}) // partitions led here
//	resp := c.EndTxn(ctx, txn.EndTxnRequest{...})
//
// What the caller provides: a ProducerIDSource (non-blocking), the leader
// epoch of each partition it leads (the coordinator epoch of markers),
// and a marker writer. Config.WriteMarkers receives a MarkerRequest once
// a decision (PrepareCommit or PrepareAbort) is written; the writer sends
// WriteTxnMarkers to the partitions' leaders, retrying until each marker
// is written (a deleted partition counts as written), and reports them
// with Coordinator.CompleteMarkers; the shard then writes the completion.
// A shard that loads a decided but incomplete transaction asks for its
// markers again, at its own coordinator epoch; reports carrying an older
// coordinator epoch are ignored.
//
// States (Kafka's TransactionState; the legal transitions are the table
// validPrevious in state.go):
//
//	(new id) --InitProducerId--> Empty
//	                               |
//	                  AddPartitionsToTxn / AddOffsetsToTxn
//	                               v
//	          +-----------------> Ongoing --EndTxn commit--> PrepareCommit --markers--> CompleteCommit
//	          | more partitions   |  |  |
//	          +-------------------+  |  +--EndTxn abort--> PrepareAbort --markers--> CompleteAbort
//	                                 |                          ^
//	              InitProducerId or  +--> PrepareEpochFence ----+
//	              timeout                 (epoch + 1, transient)
//
//	From CompleteCommit and CompleteAbort: AddPartitionsToTxn -> Ongoing,
//	InitProducerId -> Empty. From those and Empty: a TV2 EndTxn abort ->
//	PrepareAbort (completed at once, no markers), expiry -> Dead.
//
// Empty, CompleteCommit and CompleteAbort ids expire (Dead, a tombstone)
// after transactional.id.expiration.ms without updates. While markers are
// written (PrepareCommit, PrepareAbort) every request that would change
// the id is answered CONCURRENT_TRANSACTIONS.
//
// Records of __transaction_state, in Kafka's formats (TransactionLogKey
// and TransactionLogValue; kmsg.TxnMetadataKey/Value), so that Kafka's
// tools read them. Batches are never compressed.
//
//	key:   int16 version=0 | transactional_id string (int16 length)
//	value: int16 version | producer_id int64 | producer_epoch int16
//	       | transaction_timeout_ms int32 | transaction_status int8
//	       | transaction_partitions [topic string, partition_ids [int32]]
//	         (null when Empty)
//	       | last_update_timestamp_ms int64 | start_timestamp_ms int64
//	       version 0: int16 lengths, int32 array lengths
//	       version 1 (transaction.version >= 1): compact (uvarint n+1)
//	         lengths, a tag buffer per entry, and tagged fields
//	         0 previous_producer_id int64, 1 next_producer_id int64,
//	         2 client_transaction_version int16 (written when not -1/-1/0)
//	null value: tombstone (the id expired)
//
// The record of an id is its whole state, written on every transition;
// the last epoch (KIP-360) is not in it, as in Kafka. A state change
// takes effect only once its record is written (the operation's
// coordinator.Result completes it in AfterAppend), so a client never
// sees a state the log does not hold; loading replays the records.
//
// Time is an argument of every Shard method; the periodic checks (abort
// of timed-out transactions every
// transaction.abort.timed.out.transaction.cleanup.interval.ms, expiration
// every transaction.remove.expired.transaction.cleanup.interval.ms) are
// coordinator.Timers the runtime fires. Tests drive a Shard directly with
// made-up time (transcript_test.go, testdata/).
package txn
