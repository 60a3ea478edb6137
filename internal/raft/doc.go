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
// A dynamic quorum (Kafka's KIP-853: controller.quorum.bootstrap.servers)
// keeps its membership in the log instead of Config.Voters:
//
//	raft.Bootstrap(dir, 1, []raft.Member{{ID: 1, Addr: "h1:9093", ...}}) // kafka-storage format --standalone
//	n, err := raft.Open(raft.Config{NodeID: 1, Dynamic: true, ListenAddr: "h1:9093", Dir: dir}, sm)
//	err = n.AddVoter(ctx, raft.Member{ID: 2, Addr: "h2:9093", DirectoryID: d2})   // on the leader
//	err = n.RemoveVoter(ctx, 1, d1)
//	n.Members()                                                               // ids, endpoints, voter or learner
//
// A node opened with an empty Dir waits until a leader adds it. See
// membership.go for how the endpoints travel with the changes.
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
// A dynamic quorum's log starts with Bootstrap's entries: index i (1..n)
// is a ConfChangeV2 adding the i-th initial voter (id order) at term 1,
// committed; every ConfChangeV2 carries the member's id, directory id,
// listener name and address as JSON in its Context, and a snapshot's data
// is prefixed with the member set ("GRMS" | version 1 | length uint32 |
// JSON | state machine data; membership.go). A Dir with no WAL starts
// with an empty log.
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
//	hello:  "GRFT" | version uint16 (1 static, 2 dynamic) | from node id int32 |
//	        to node id int32 | cluster id length uint16 | cluster id |
//	        [version 2: address length uint16 | sender's address]
//	frames: length uint32 | raftpb.Message (protobuf), repeated
//
// A hello for another node or with another cluster id closes the
// connection, and so does one from a non-member of a static quorum. A
// dynamic quorum's member accepts any sender and, if it does not know it
// yet, answers it at the address its hello announced: a controller being
// added hears from the leader before it has the entries that name the
// leader. Messages that do not fit a peer's queue, or that
// were queued when its connection failed, are dropped and raft is told
// (ReportUnreachable; ReportSnapshot for a MsgSnap): raft retransmits.
//
// Kafka node ids start at 0 and raft reserves 0, so raft id = node id + 1
// throughout; the API speaks node ids only, -1 meaning none.
package raft
