// Package group is the group coordinator: consumer groups with Kafka's
// classic rebalance protocol (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup; KIP-345 static members, KIP-394 member ids), KIP-848
// consumer groups assigned by the coordinator (ConsumerGroupHeartbeat,
// ConsumerGroupDescribe; see consumer.go), committed offsets
// (OffsetCommit, OffsetFetch, OffsetDelete) and group administration
// (ListGroups, DescribeGroups, DeleteGroups).
//
// Each group lives in one partition of __consumer_offsets, chosen by
// PartitionFor as Kafka does, and is owned by that partition's Shard, a
// single-threaded state machine run by the coordinator package's runtime.
// The server calls the Coordinator, which routes each request to its
// shard and waits for the answer:
//
//	c := group.New(cfg, group.Options{})
//	c.Sync(50, map[int32]coordinator.Log{...})  // partitions led here
//	resp := c.JoinGroup(ctx, group.JoinRequest{...})
//
// State survives restarts as records in __consumer_offsets, in Kafka's
// own formats (so Kafka's tools read them), built with kmsg:
//
//	key:   int16 type | fields (big endian, int16-length strings)
//	  type 0, 1  OffsetCommitKey    group, topic, partition int32
//	  type 2     GroupMetadataKey   group
//	  type 3-8, 16  KIP-848 consumer group records (consumer_records.go)
//	value: int16 version | fields; a null value is a tombstone
//	  OffsetCommitValue v3   offset int64, leader_epoch int32,
//	                         metadata string, commit_timestamp int64
//	                   (v1   offset, metadata, commit and expire timestamps)
//	  GroupMetadataValue v3  protocol_type, generation int32,
//	                         protocol?, leader?, current_state_timestamp,
//	                         [member_id, group_instance_id?, client_id,
//	                          client_host, rebalance_timeout, session_timeout,
//	                          subscription bytes, assignment bytes]
//
// What is written when: a new group writes an empty GroupMetadata
// record; the leader's SyncGroup writes the group with every member's
// assignment (the group turns Stable once that is written); a group left
// empty writes itself empty; commits write OffsetCommit records;
// DeleteGroups, OffsetDelete, deleted topics and offsets.retention.minutes
// write tombstones. Membership changes between those (joins, the join
// phase) live only in memory, as in Kafka: after a restart a group is
// Stable with the members of its last assignment, or Empty. A KIP-848
// group, by contrast, is entirely in its records (epochs, members,
// target and current assignments, resolved regexes), and its in-memory
// state changes only by replaying them. Groups change protocol online as
// in Kafka 4 (migration.go): a KIP-848 join upgrades a classic group
// with members, whose members stay as classic members of the consumer
// group, and the group is downgraded when only those are left.
//
// Time is an argument of every Shard method; the shard's timers (session
// and rebalance timeouts, the initial rebalance delay, pending syncs, the
// offset expiration cycle) are coordinator.Timers the runtime fires. Tests
// drive a Shard directly with made-up time (see shard_test.go).
package group
