package quorum

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// kafkaSessionLong makes broker sessions outlast the test, so a broker
// is fenced only by its own controlled shutdown.
func kafkaSessionLong() []kafkatest.Opt {
	return []kafkatest.Opt{kafkatest.Config("broker.session.timeout.ms", "60000")}
}

// TestControllerFailover crashes the active controller: another node
// becomes the Raft leader and active controller, topic creation through
// the survivors continues, the crashed broker is fenced when its session
// expires, and once restarted the node loads its own Raft log, catches up
// with what it missed and is unfenced again.
//
// Reference: KIP-500/KIP-631 (a controller failure elects a new one that
// starts fresh broker sessions from the log); KIP-595 (Raft log replay).
func TestControllerFailover(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	old := waitLeader(t, c, -1)
	createTopic(t, c.BrokerAddr(old), "before", 2, 3)
	waitTopic(t, c, "before")
	before := c.Node(old).Image()
	reg, _ := before.Broker(old)
	t.Logf("killing the active controller, node %d, at offset %d", old, before.Offset)
	if err := c.KillNode(old); err != nil {
		t.Fatal(err)
	}

	leader := waitLeader(t, c, old)
	survivors := running(c)
	for _, id := range survivors {
		createTopic(t, c.BrokerAddr(id), fmt.Sprintf("after-%d", id), 2, 3)
	}
	// The crashed broker's session ends: it is fenced, out of every ISR,
	// and leads nothing; its replicas stay assigned.
	waitFor(t, "the crashed broker fenced", func() (bool, string) {
		im := c.Node(leader).Image()
		b, ok := im.Broker(old)
		if !ok || !b.Fenced {
			return false, fmt.Sprintf("broker %d: %+v", old, b)
		}
		for _, name := range im.TopicNames() {
			tp, _ := im.Topic(name)
			for i, p := range tp.Partitions {
				if p.Leader == old || p.InISR(old) {
					return false, fmt.Sprintf("%s-%d: leader %d ISR %v", name, i, p.Leader, p.ISR)
				}
			}
		}
		return true, ""
	})
	waitConverged(t, c)

	// A restarted node replays its own Raft log before anything else:
	// its image already has what it had when it crashed.
	if err := c.StartNode(old); err != nil {
		t.Fatal(err)
	}
	im := c.Node(old).Image()
	if im.Offset < before.Offset {
		t.Fatalf("restarted node %d loaded offset %d, it had %d", old, im.Offset, before.Offset)
	}
	if _, ok := im.Topic("before"); !ok {
		t.Fatalf("restarted node %d lost topic 'before' from its log", old)
	}
	// Then it catches up with the leader, registers again (a new
	// incarnation, a new broker epoch) and is unfenced.
	waitFor(t, "the restarted broker unfenced", func() (bool, string) {
		im := c.Node(leader).Image()
		b, ok := im.Broker(old)
		if !ok || b.Fenced || b.IncarnationID == reg.IncarnationID {
			return false, fmt.Sprintf("broker %d: %+v", old, b)
		}
		return true, ""
	})
	im = waitConverged(t, c)
	for _, id := range survivors {
		if _, ok := im.Topic(fmt.Sprintf("after-%d", id)); !ok {
			t.Errorf("topic after-%d missing", id)
		}
	}
	if st, ok := c.Node(old).QuorumStatus(); !ok || st.Leader < 0 || len(st.Voters) != 3 {
		t.Errorf("restarted node's quorum status: %+v", st)
	}
	// The restarted node serves forwarded requests again.
	createTopic(t, c.BrokerAddr(old), "rejoined", 1, 3)
	waitTopic(t, c, "rejoined")
}

// TestStopActiveControllerCleanly stops the active controller with a
// controlled shutdown: its broker hands its leaderships over before it
// goes (fenced at once, without waiting for a session to expire), and a
// new controller takes over.
//
// Reference: KIP-631 controlled shutdown (want_shut_down until
// should_shut_down).
func TestStopActiveControllerCleanly(t *testing.T) {
	t.Parallel()
	c := startCluster(t, kafkaSessionLong()...)
	old := waitLeader(t, c, -1)
	createTopic(t, c.BrokerAddr(old), "led", 6, 3)
	waitTopic(t, c, "led")
	if err := c.StopNode(old); err != nil {
		t.Fatal(err)
	}
	leader := waitLeader(t, c, old)
	im := c.Node(leader).Image()
	// With a 60 s session the broker can only be fenced already because
	// its controlled shutdown completed.
	b, ok := im.Broker(old)
	if !ok || !b.Fenced {
		t.Fatalf("cleanly stopped broker %d: %+v, want fenced", old, b)
	}
	tp, _ := im.Topic("led")
	for i, p := range tp.Partitions {
		if p.Leader == old || p.InISR(old) || p.Leader == metadata.NoLeader {
			t.Errorf("led-%d: leader %d ISR %v after the controlled shutdown of %d", i, p.Leader, p.ISR, old)
		}
	}
	createTopic(t, c.BrokerAddr(leader), "after-clean-stop", 1, 3)
	waitTopic(t, c, "after-clean-stop")
}

// TestBrokerFencedAfterMissedHeartbeats crashes a broker that is not the
// active controller: once broker.session.timeout.ms passes without a
// heartbeat the controller fences it, moving its leaderships and taking it
// out of every ISR; restarted, it registers again, catches up and is
// unfenced.
//
// Reference: KIP-631 (BrokerHeartbeatManager session expiry, fencing and
// unfencing).
func TestBrokerFencedAfterMissedHeartbeats(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	leader := waitLeader(t, c, -1)
	victim := c.NodeIDs()[0]
	if victim == leader {
		victim = c.NodeIDs()[1]
	}
	createTopic(t, c.BrokerAddr(leader), "spread", 6, 3)
	waitTopic(t, c, "spread")
	reg, _ := c.Node(leader).Image().Broker(victim)
	if err := c.KillNode(victim); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the silent broker fenced", func() (bool, string) {
		im := c.Node(leader).Image()
		b, _ := im.Broker(victim)
		if b == nil || !b.Fenced || b.Epoch != reg.Epoch {
			return false, fmt.Sprintf("broker %d: %+v", victim, b)
		}
		tp, _ := im.Topic("spread")
		for i, p := range tp.Partitions {
			if p.Leader == victim || p.InISR(victim) || p.Leader == metadata.NoLeader {
				return false, fmt.Sprintf("spread-%d: leader %d ISR %v", i, p.Leader, p.ISR)
			}
		}
		return true, ""
	})
	if c.ActiveController() != leader {
		t.Logf("the active controller moved to %d meanwhile", c.ActiveController())
	}
	// Clients are told: Metadata and DescribeTopicPartitions list the
	// fenced broker's replicas as offline, on every surviving broker.
	waitFor(t, "the fenced broker's replicas offline everywhere", func() (bool, string) {
		for _, id := range running(c) {
			cn := conn(t, c.BrokerAddr(id))
			mreq := kmsg.NewPtrMetadataRequest()
			mreq.Version = 12
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr("spread")
			mreq.Topics = []kmsg.MetadataRequestTopic{mt}
			mresp := request(t, cn, mreq).(*kmsg.MetadataResponse)
			dreq := kmsg.NewPtrDescribeTopicPartitionsRequest()
			dt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			dt.Topic = "spread"
			dreq.Topics = []kmsg.DescribeTopicPartitionsRequestTopic{dt}
			dresp := request(t, cn, dreq).(*kmsg.DescribeTopicPartitionsResponse)
			if len(mresp.Topics) != 1 || len(dresp.Topics) != 1 || len(mresp.Topics[0].Partitions) != 6 || len(dresp.Topics[0].Partitions) != 6 {
				return false, fmt.Sprintf("broker %d: %d/%d topics", id, len(mresp.Topics), len(dresp.Topics))
			}
			for i := range 6 {
				mo, do := mresp.Topics[0].Partitions[i].OfflineReplicas, dresp.Topics[0].Partitions[i].OfflineReplicas
				if !slices.Equal(mo, []int32{victim}) || !slices.Equal(do, []int32{victim}) {
					return false, fmt.Sprintf("broker %d, spread-%d: Metadata offline %v, DescribeTopicPartitions offline %v", id, i, mo, do)
				}
			}
		}
		return true, ""
	})
	if err := c.RestartNode(victim); err != nil { // waits until unfenced everywhere
		t.Fatal(err)
	}
	im := waitConverged(t, c)
	b, _ := im.Broker(victim)
	if b.Fenced || b.Epoch <= reg.Epoch || b.IncarnationID == reg.IncarnationID {
		t.Errorf("restarted broker %d: %+v (was epoch %d)", victim, b, reg.Epoch)
	}
}

// TestSnapshots makes every node snapshot its image after every batch
// (metadata.log.max.record.bytes.between.snapshots=1), so the Raft log
// is compacted continuously: a node that was down while the others
// compacted past its log gets the leader's snapshot, and every node
// restarts from its own snapshot.
//
// Reference: KIP-630 (metadata snapshots).
func TestSnapshots(t *testing.T) {
	t.Parallel()
	c := startCluster(t, kafkatest.Config("metadata.log.max.record.bytes.between.snapshots", "1"))
	leader := waitLeader(t, c, -1)
	behind := c.NodeIDs()[0]
	if behind == leader {
		behind = c.NodeIDs()[1]
	}
	if err := c.StopNode(behind); err != nil {
		t.Fatal(err)
	}
	// The stopped node's log ends at or before this.
	st, _ := c.Node(leader).QuorumStatus()
	stoppedAt := uint64(st.HighWatermark)
	for i := range 5 {
		createTopic(t, c.BrokerAddr(leader), fmt.Sprintf("snap-%d", i), 1, 2)
	}
	waitFor(t, "the leader's log compacted past the stopped node's", func() (bool, string) {
		st, _ := c.Node(leader).QuorumStatus()
		return st.SnapshotIndex > stoppedAt, fmt.Sprintf("snapshot at %d, stopped node's log ends by %d", st.SnapshotIndex, stoppedAt)
	})
	if err := c.RestartNode(behind); err != nil {
		t.Fatal(err)
	}
	im := waitConverged(t, c)
	for i := range 5 {
		if _, ok := im.Topic(fmt.Sprintf("snap-%d", i)); !ok {
			t.Fatalf("snap-%d missing after catching up", i)
		}
	}
	// Every node restarts from its own snapshot and log.
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, c)
	createTopic(t, c.BrokerAddr(behind), "after-restarts", 1, 3)
	waitTopic(t, c, "after-restarts")
}
