package controller

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/raft"
	"github.com/gregor-streaming/gregor/internal/testnet"
)

// listenerOnly returns a quorum controller without a Raft node, for
// driving its raft.Listener side by hand.
func listenerOnly(t *testing.T, snapshotBytes int64) (*Controller, *quorum, *[]*metadata.Image) {
	t.Helper()
	var published []*metadata.Image
	cfg := Config{NodeID: 1, NumPartitions: 1, DefaultReplicationFactor: 1}
	cfg.ensureDefaults()
	qc := QuorumConfig{SnapshotBytes: snapshotBytes, Raft: raft.Config{NodeID: 1}}
	qc.ensureDefaults()
	c, q := newQuorumController(cfg, qc, func(im *metadata.Image) { published = append(published, im) })
	return c, q, &published
}

func topicRecords(name string, id byte) []metadata.Record {
	tid := metadata.TopicID{id}
	return []metadata.Record{
		{Type: metadata.TypeTopic, TopicName: name, TopicID: tid},
		{Type: metadata.TypePartition, TopicID: tid, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
	}
}

// TestQuorumListenerAppliesLog drives the Listener as the Raft apply
// goroutine would: every committed batch is applied and published in
// order; a batch that does not apply is skipped (the same on every
// member) and remembered for the proposer; a snapshot replaces the image.
//
// Reference: KIP-631/KIP-630 (every member replays the metadata log and
// its snapshots into the same image).
func TestQuorumListenerAppliesLog(t *testing.T) {
	c, q, published := listenerOnly(t, 1<<20)
	if err := q.HandleCommit(raft.Batch{Offset: 2, Epoch: 1, Records: topicRecords("a", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := q.HandleCommit(raft.Batch{Offset: 3, Epoch: 1, Records: topicRecords("b", 2)}); err != nil {
		t.Fatal(err)
	}
	im := c.Image()
	if im.Offset != 2 || im.NumTopics() != 2 || len(*published) != 2 || (*published)[1] != im || q.applied.Load() != 3 {
		t.Fatalf("after two batches: offset %d, %d topics, %d published, applied %d", im.Offset, im.NumTopics(), len(*published), q.applied.Load())
	}

	// A partition change at a stale partition epoch does not apply.
	bad := []metadata.Record{{Type: metadata.TypePartitionChg, TopicID: metadata.TopicID{1}, Partition: 0, PartitionEpoch: 7, Leader: 1, ISR: []int32{1}}}
	if err := q.HandleCommit(raft.Batch{Offset: 5, Epoch: 2, Records: bad}); err != nil {
		t.Fatalf("a batch that does not apply must not stop the node: %v", err)
	}
	if c.Image() != im || len(*published) != 2 || q.failedAt.Load() != 5 || q.applied.Load() != 5 {
		t.Fatalf("bad batch: image changed %v, %d published, failedAt %d, applied %d", c.Image() != im, len(*published), q.failedAt.Load(), q.applied.Load())
	}

	// A snapshot replaces the image with what it encodes.
	other, err := metadata.Empty.Apply(topicRecords("z", 9))
	if err != nil {
		t.Fatal(err)
	}
	other.Offset = 40
	data, err := metadata.EncodeImage(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.HandleSnapshot(raft.Snapshot{Index: 90, Term: 3, Data: data}); err != nil {
		t.Fatal(err)
	}
	im = c.Image()
	got, _ := metadata.EncodeImage(im)
	if !bytes.Equal(got, data) || im.Offset != 40 || q.applied.Load() != 90 || (*published)[len(*published)-1] != im {
		t.Fatalf("after the snapshot: offset %d, applied %d, image equal %v", im.Offset, q.applied.Load(), bytes.Equal(got, data))
	}
	if err := q.HandleSnapshot(raft.Snapshot{Index: 91, Data: []byte("junk")}); err == nil {
		t.Fatal("an undecodable snapshot must stop the node")
	}
}

// TestQuorumListenerOffersSnapshots checks the snapshot policy
// (metadata.log.max.record.bytes.between.snapshots): once that many
// record bytes were applied, the image as of the batch is handed to the
// snapshotter, and the count starts again.
func TestQuorumListenerOffersSnapshots(t *testing.T) {
	_, q, _ := listenerOnly(t, 200)
	recs := topicRecords("a", 1)
	if err := q.HandleCommit(raft.Batch{Offset: 1, Records: recs}); err != nil {
		t.Fatal(err)
	}
	select {
	case job := <-q.snapc:
		t.Fatalf("snapshot offered after %d bytes: %+v", q.sinceSnapshot, job)
	default:
	}
	for i := range 5 {
		if err := q.HandleCommit(raft.Batch{Offset: uint64(2 + i), Records: topicRecords(fmt.Sprint("t", i), byte(2+i))}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case job := <-q.snapc:
		if job.index < 2 || job.im.Offset < 2 {
			t.Fatalf("snapshot job %d at image offset %d", job.index, job.im.Offset)
		}
	default:
		t.Fatal("no snapshot offered after more than 200 bytes of records")
	}
	if q.sinceSnapshot >= 200 {
		t.Fatalf("byte count not reset: %d", q.sinceSnapshot)
	}
}

// TestQuorumReadiness checks who may decide: only the leader this member
// was told of in HandleLeaderChange, and not while a write of its own has
// an unknown outcome that the applied log has not settled.
func TestQuorumReadiness(t *testing.T) {
	c, q, _ := listenerOnly(t, 1<<20)
	if _, err := q.ready(); code(err) != kerr.NotController.Code {
		t.Fatalf("no leader known: %v", err)
	}
	if r := c.CreateTopics([]CreateTopic{{Name: "a", NumPartitions: 1, ReplicationFactor: 1}}, false); code(r[0].Err) != kerr.NotController.Code {
		t.Fatalf("CreateTopics on a non-leader: %v", r[0].Err)
	}
	if r := c.RegisterBroker(BrokerRegistration{BrokerID: 1}); code(r.Err) != kerr.NotController.Code || r.BrokerEpoch != -1 {
		t.Fatalf("RegisterBroker on a non-leader: %+v", r)
	}
	q.HandleLeaderChange(2, 4)
	if _, err := q.ready(); code(err) != kerr.NotController.Code {
		t.Fatalf("another leader: %v", err)
	}
	q.HandleLeaderChange(1, 5)
	if term, err := q.ready(); err != nil || term != 5 {
		t.Fatalf("leader in term 5: %d, %v", term, err)
	}
	q.mu.uncertainTerm, q.mu.uncertainIndex = 5, 10
	if _, err := q.ready(); code(err) != kerr.NotController.Code {
		t.Fatalf("with an unsettled write: %v", err)
	}
	q.markApplied(10)
	if _, err := q.ready(); err != nil {
		t.Fatalf("once the log is applied past the unsettled write: %v", err)
	}
	q.mu.uncertainIndex = 20
	q.HandleLeaderChange(1, 6) // a new term settles it: its leader applied everything first
	if term, err := q.ready(); err != nil || term != 6 {
		t.Fatalf("leader again in term 6: %d, %v", term, err)
	}
}

func openQuorumMembers(t *testing.T, cl ClusterConfig) (map[int32]string, func(id int32) *Controller) {
	t.Helper()
	voters := map[int32]string{}
	bound := map[int32]net.Listener{}
	for id := int32(1); id <= 3; id++ {
		ln, err := testnet.Listen()
		if err != nil {
			t.Fatal(err)
		}
		voters[id], bound[id] = ln.Addr().String(), ln
	}
	dirs := map[int32]string{1: t.TempDir(), 2: t.TempDir(), 3: t.TempDir()}
	open := func(id int32) *Controller {
		ln := bound[id]
		delete(bound, id)
		c, err := OpenQuorum(Config{NodeID: id, NumPartitions: 1, DefaultReplicationFactor: 3, Cluster: cl}, QuorumConfig{
			Raft: raft.Config{
				NodeID: id, Voters: voters, Dir: dirs[id],
				ElectionTimeout: 500 * time.Millisecond,
				Listen: func(network, addr string) (net.Listener, error) {
					if ln != nil {
						l := ln
						ln = nil
						return l, nil
					}
					return testnet.Rebind(network, addr, 10*time.Second)
				},
			},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return voters, open
}

// waitUntil polls cond for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestQuorumControllers runs three controllers as a Raft quorum over
// loopback: the leader decides (registrations, heartbeats, topics) and
// every member applies the same log; followers answer NOT_CONTROLLER;
// when the leader stops another member takes over with the same image;
// and the active controller's tick loop fences brokers whose sessions
// expire, with the real clock.
//
// Reference: KIP-631 (the quorum controller), KIP-595 (Raft).
func TestQuorumControllers(t *testing.T) {
	cl := DefaultClusterConfig()
	cl.SessionTimeout = 3 * time.Second
	_, open := openQuorumMembers(t, cl)
	members := map[int32]*Controller{}
	for id := int32(1); id <= 3; id++ {
		members[id] = open(id)
	}
	t.Cleanup(func() {
		for _, c := range members {
			c.Close()
		}
	})
	leaderOf := func() int32 {
		var l int32 = -1
		for _, c := range members {
			id, _ := c.ActiveController()
			if l != -1 && id != l {
				return -1
			}
			l = id
		}
		return l
	}
	var leader int32
	waitUntil(t, "a leader", func() bool { leader = leaderOf(); return leader > 0 })
	lc := members[leader]
	// The leader reports itself once it has applied the log, but may
	// still be a step away from deciding; retry NOT_CONTROLLER.
	for id := int32(1); id <= 3; id++ {
		var reply BrokerRegistrationReply
		waitUntil(t, "registration", func() bool {
			reply = lc.RegisterBroker(BrokerRegistration{BrokerID: id, IncarnationID: metadata.NewIncarnationID()})
			return reply.Err == nil
		})
		hb := lc.BrokerHeartbeat(BrokerHeartbeat{BrokerID: id, BrokerEpoch: reply.BrokerEpoch, CurrentMetadataOffset: lc.Image().Offset})
		if hb.Err != nil || hb.IsFenced {
			t.Fatalf("heartbeat of broker %d: %+v", id, hb)
		}
	}
	if r := lc.CreateTopics([]CreateTopic{{Name: "t", NumPartitions: 3, ReplicationFactor: 3}}, false); r[0].Err != nil {
		t.Fatalf("create on the leader: %v", r[0].Err)
	}
	for id, c := range members {
		if id == leader {
			continue
		}
		if r := c.CreateTopics([]CreateTopic{{Name: "u", NumPartitions: 1, ReplicationFactor: 1}}, false); code(r[0].Err) != kerr.NotController.Code {
			t.Errorf("create on follower %d: %v", id, r[0].Err)
		}
		if _, err := c.ListPartitionReassignments(nil); code(err) != kerr.NotController.Code {
			t.Errorf("list reassignments on follower %d: %v", id, err)
		}
	}
	converged := func() bool {
		var first []byte
		for _, c := range members {
			b, _ := metadata.EncodeImage(c.Image())
			if first == nil {
				first = b
			} else if !bytes.Equal(b, first) {
				return false
			}
		}
		return true
	}
	waitUntil(t, "converged images", converged)

	// No heartbeats from here on: the active controller's tick loop
	// fences every broker once its session expires.
	allFenced := func(c *Controller) bool {
		for _, b := range c.Image().Brokers() {
			if !b.Fenced {
				return false
			}
		}
		return c.Image().NumBrokers() == 3
	}
	waitUntil(t, "brokers fenced by session expiry", func() bool { return allFenced(members[leader]) })

	// The leader stops; the others elect one of them, which decides on
	// the same image.
	if err := members[leader].Close(); err != nil {
		t.Fatal(err)
	}
	delete(members, leader)
	var next int32
	waitUntil(t, "a new leader", func() bool { next = leaderOf(); return next > 0 && next != leader })
	waitUntil(t, "converged images", converged)
	nc := members[next]
	im := nc.Image()
	if _, ok := im.Topic("t"); !ok || !allFenced(nc) {
		t.Fatalf("new leader's image lacks the old leader's writes")
	}
	b, _ := im.Broker(2)
	var hb BrokerHeartbeatReply
	waitUntil(t, "heartbeat to the new leader", func() bool {
		hb = nc.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 2, BrokerEpoch: b.Epoch, CurrentMetadataOffset: nc.Image().Offset})
		return code(hb.Err) != kerr.NotController.Code
	})
	if hb.Err != nil || hb.IsFenced || !hb.IsCaughtUp {
		t.Fatalf("broker 2 heartbeat to the new leader: %+v", hb)
	}
	if r := nc.CreateTopics([]CreateTopic{{Name: "v", NumPartitions: 1, ReplicationFactor: 1}}, false); r[0].Err != nil {
		t.Fatalf("create on the new leader: %v", r[0].Err)
	}
	waitUntil(t, "converged images", converged)
}
