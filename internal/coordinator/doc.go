// Package coordinator is the runtime shared by Gregor's coordinators, as
// Kafka's coordinator-common is: it owns one shard per partition of a
// coordinator's internal topic (__consumer_offsets for groups), runs each
// shard's state machine on one goroutine, writes the records the state
// machine emits through the partition's log, and drives its timers.
//
// A coordinator (package group) supplies a StateMachine per shard and
// submits operations:
//
//	rt := coordinator.NewRuntime(coordinator.Config[*group.Shard]{NewShard: …})
//	rt.Sync(map[int32]coordinator.Log{0: log0, …}) // logs of the partitions led here
//	rt.Do(partition, func(s *group.Shard, now time.Time, res *coordinator.Result) {
//		… mutate s, append records to res, res.Reply(func() { reply(resp) })
//	}, func(err error) { reply(errorResponse(coordinator.Code(err))) })
//
// An operation runs alone on its shard. What it returns in its Result is
// completed in this order, before the next operation runs:
//
//  1. Records are appended to the partition as one batch (acks=all).
//  2. If Result.Replay, each appended record is replayed into the state
//     machine, exactly as it would be when loading the log.
//  3. Result.AfterAppend, if set, learns whether the append succeeded; a
//     Result it fills in is completed in turn, after step 4.
//  4. Result.Replies run, in order: they release responses to clients.
//
// So a client never sees a state change that is not in the log. Replies
// kept by the state machine for later (a JoinGroup waiting for the other
// members) are released by whichever later operation completes them, in
// that operation's Result.
//
// Loading: a shard is created by Sync when this node leads the partition.
// Before serving, it reads the partition from its log start offset to its
// log end offset and replays every record, and every transaction marker
// into a MarkerReplayer (marker.go), then calls StateMachine.Loaded.
// Operations submitted meanwhile are refused with ErrLoadInProgress. A shard that Sync no longer lists is
// unloaded: StateMachine.Unloaded answers what is pending, queued
// operations are refused with ErrNotCoordinator, its timers are dropped.
//
// Timers: each shard has a Timers queue keyed by name; scheduling a key
// again replaces it. The shard goroutine runs due timers as operations.
// Time is Config.Now; the state machine only ever sees it as an argument,
// so it can be tested with made-up time and no goroutines (see Apply).
//
// Batch layout written to the log: one RecordBatch v2 per operation, no
// producer id (or, with Result.Producer, a transactional batch of that
// producer), CreateTime = the operation's time, compressed with
// Config.Codec; each record's key and value are the coordinator's own
// serialized key and value (nil value = tombstone). A Result.Marker is a
// control batch of its own (marker.go).
package coordinator
