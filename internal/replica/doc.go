// Package replica owns the partitions this node hosts and is the one way
// to append to or read from their logs (ARCHITECTURE.md: "There is one way
// to append to a log"). It is Kafka's ReplicaManager, Partition and
// ReplicaFetcherThread: it applies each metadata.Image to decide which
// partitions exist here and whether this node leads or follows each, at
// which leader epoch; as a leader it validates produced batches, tracks
// its followers, advances the high watermark, proposes ISR changes and
// completes acks=all produces; as a follower it fetches from the leader
// and truncates a diverging log.
//
// # Using it
//
//	m := replica.New(replica.Config{
//		NodeID: id, TopicConfig: tc, Now: time.Now,
//		AlterPartition: send,         // ISR proposals to the controller
//		Fetch: replica.FetcherConfig{Dial: dial}, // connections to leaders
//	}, logs)
//	m.ApplyImage(im)  // on every image: becomeLeader / becomeFollower, fetchers
//	m.Start()         // the ISR expiration task
//	defer m.Close()   // fetchers, timers, waiting produces
//
// The server's handlers then call, per partition:
//
//   - Produce: Partition.Append; for acks=all, Purgatory().Add with
//     RequiredOffset = LastOffset+1 for every partition, and answer when
//     the DelayedProduce is Done (its Errors are per partition). A
//     transactional batch is first verified with the transaction
//     coordinator (KIP-890): StartTxnVerification, ask, then
//     AppendVerified under the guard (txnverify.go).
//   - Fetch from a consumer: Partition.Read (up to the high watermark,
//     or for read_committed up to the last stable offset, with the
//     aborted transactions the data overlaps); from Fetch v11,
//     ReadFromReplica, which a follower also serves, up to its own high
//     watermark or last stable offset (KIP-392). ReadReplicas gives a
//     leader's replica selector the in-sync followers that hold an
//     offset.
//   - Fetch from a follower (replica id >= 0): Partition.ReadForFollower
//     (up to the log end offset; DivergingEpoch for Fetch v12+), with
//     SkipStateUpdate on the re-reads of a long poll.
//   - ListOffsets: Partition.ListOffset, with IsolationLogEnd for a
//     replica; OffsetForLeaderEpoch: Partition.EndOffsetForEpoch.
//
// The node sends each AlterPartitionRequest it is handed to the active
// controller and gives the answer to HandleAlterPartitionResponse; the
// committed ISR also arrives with the next image.
//
// # Replication in one picture
//
//	producer ──Append──▶ leader log ──(Fetch, replica id)──▶ follower fetcher
//	                         │   ▲                                  │
//	                         │   └── fetch offset = follower LEO ◀──┘ AppendAsFollower
//	                         ▼
//	  HW = min LEO over the (maximal) ISR ──▶ Purgatory: acks=all done
//	  follower out of date > replica.lag.time.max.ms ──▶ AlterPartition(shrink)
//	  follower at HW and epoch start ──▶ AlterPartition(expand)
//
// The leader's view of its followers is a deterministic state machine
// (leaderstate.go) fed with fetches and the time in milliseconds; the
// follower's truncation rule is a pure function (truncationOffset). See
// docs/design/replication.md for the state transitions and invariants.
//
// Lock order: Manager.mu, then fetcherManager.mu, then fetcher.mu, then
// DelayedProduce.mu, then Partition.appendMu, then Partition.mu, then the
// storage.Log locks. Purgatory.mu and fetcher.connMu are leaves; connMu
// is the only lock held while a request is on the network.
package replica
