// Package raft runs the metadata quorum's Raft group: it drives etcd's
// raft library (go.etcd.io/raft/v3, whose RawNode is the consensus state
// machine) with a durable WAL, a TCP transport and a clock, and carries
// Gregor's metadata log (Journal) on top. It is Kafka 4's KRaft in role —
// the active controller is the Raft leader, every node applies the
// committed metadata log — on etcd's Raft.
//
// # Using a Node
//
//	n, err := raft.Open(raft.Config{
//		NodeID: 1,
//		Voters: map[int32]string{1: "h1:9093", 2: "h2:9093", 3: "h3:9093"}, // controller.quorum.voters
//		Dir:    "/var/lib/gregor/__cluster_metadata-0",
//	}, sm) // sm: a StateMachine
//	...
//	idx, err := n.Propose(ctx, data) // on the leader: returns once committed and applied here
//	var nl *raft.NotLeaderError      // elsewhere: errors.As(err, &nl), nl.Leader
//	err = n.Compact(idx, snapshotOf(state)) // bound the log
//	n.Close()
//
// sm receives, from one goroutine and in log order: Restore (the last
// snapshot at Open, or one the leader sent), Apply (committed entries,
// replayed after the snapshot at every Open), and LeaderChange. The
// caller owns nothing else: Close stops every goroutine the node started.
//
// Journal wraps a Node for metadata.Record batches: Append on the leader,
// a Listener on every member (HandleSnapshot, HandleCommit,
// HandleLeaderChange, as Kafka's RaftClient.Listener).
//
// Readers that are not members (the broker-only nodes the controller
// serves the metadata log to) read the committed log without changing it
// (read.go): ReadCommitted returns entries up to the applied index, or
// ErrCompacted for what LatestSnapshot covers, and WaitApplied is the
// long poll for the next entry.
//
// # The Ready loop
//
// One goroutine owns the RawNode. Each turn it takes one input — a tick,
// received messages, proposals, transport reports (unreachable peer,
// snapshot sent or failed), a compaction, a status request — and then
// handles every Ready, in the order etcd raft's doc.go prescribes:
//
//  1. persist: a snapshot replaces the WAL (write a new file, fsync,
//     rename, fsync the directory); otherwise the entries and the
//     HardState are appended and fsynced when Ready.MustSync;
//  2. send the messages (marshalled here, queued per peer, never waited
//     for);
//  3. hand the snapshot and the committed entries to the apply goroutine,
//     applying committed configuration changes to the RawNode first;
//  4. Advance.
//
// The apply goroutine calls the StateMachine and then answers the
// proposals whose entries it applied. A proposal is matched to its entry
// by a tag in the entry data (proposer id, sequence) when the entry first
// appears in a Ready, and is answered by the (index, term) of the entry
// that commits at its index: the same term means it committed, anything
// else that it never will (Raft's Log Matching property).
//
// # WAL format
//
// Dir/raft.wal is a sequence of records:
//
//	+-------------+-------------+----------+------------------+
//	| crc32c (4)  | length (4)  | type (1) | payload (length) |
//	+-------------+-------------+----------+------------------+
//	crc32c (Castagnoli) covers type and payload; integers are big-endian.
//
//	type 1 header     version uint32 (1) | node id int32   (always first)
//	type 4 snapshot   raftpb.Snapshot      (replaces the whole log)
//	type 2 hardstate  raftpb.HardState     (the last one wins)
//	type 3 entry      raftpb.Entry         (replaces entries at and after its index)
//
// A rewrite writes header, snapshot, hardstate, entries. Replay stops at
// the first short or corrupt record and the file is cut there (a torn
// tail); damage before that, a gap in the log or a commit index past the
// log fails Open with ErrCorrupt.
//
// # Wire format
//
// Each node dials every other member once and only writes on that
// connection; it reads only on connections it accepted.
//
//	hello:  "GRFT" | version uint16 (1) | from node id int32 | to node id int32 |
//	        cluster id length uint16 | cluster id
//	frames: length uint32 | raftpb.Message (protobuf), repeated
//
// A hello for another node, from a non-member or with another cluster id
// closes the connection. Messages that do not fit a peer's queue, or that
// were queued when its connection failed, are dropped and raft is told
// (ReportUnreachable; ReportSnapshot for a MsgSnap): raft retransmits.
//
// Kafka node ids start at 0 and raft reserves 0, so raft id = node id + 1
// throughout; the API speaks node ids only, -1 meaning none.
package raft
