// Package partition tests what a network partition does to a replicated
// partition, in a three-node cluster started in process by
// kafkatest.StartCluster whose nodes reach each other through fault
// proxies (kafkatest.Cluster.IsolateNode) while clients reach every node
// directly.
//
// The case is Kafka's classic one: the leader of a partition with
// replication factor 3 and min.insync.replicas=2 is cut off from the
// other two nodes. It still believes it leads and takes acks=all writes
// from clients, but no follower fetches them, so its high watermark
// cannot move and not one of them may be acknowledged (ReplicaManager:
// acks=all waits for the ISR; the ISR shrinks only through the controller,
// which the isolated node cannot reach — KIP-497, AlterPartition). The
// controller fences the silent broker once broker.session.timeout.ms
// passes and elects a new leader from the ISR; writes continue there.
// After the heal the old leader learns the new epoch, truncates what it
// alone had appended (KIP-101, KIP-279: leader epochs) and rejoins the
// ISR.
package partition

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/kafkatest"
)

const (
	topic = "isolated"
	// waitTimeout bounds every wait for the cluster to reach a state;
	// waits poll, so the test asserts outcomes, never durations.
	waitTimeout = 30 * time.Second
)

// startCluster starts three nodes with quick elections and short broker
// sessions and replica lag, so that a partition of a few seconds fences
// a broker and shrinks an ISR.
func startCluster(t *testing.T) *kafkatest.Cluster {
	t.Helper()
	return kafkatest.StartCluster(t, 3,
		kafkatest.Config("controller.quorum.election.timeout.ms", "500"),
		kafkatest.Config("broker.heartbeat.interval.ms", "250"),
		kafkatest.Config("broker.session.timeout.ms", "2000"),
		kafkatest.Config("replica.lag.time.max.ms", "2000"),
	)
}

// waitFor polls cond until it reports true or waitTimeout passes; then
// it fails with cond's last description.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %v: %s", what, waitTimeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// partitionOn returns partition 0 of the topic in node id's image.
func partitionOn(c *kafkatest.Cluster, id int32) (metadata.Partition, bool) {
	n := c.Node(id)
	if n == nil {
		return metadata.Partition{}, false
	}
	tp, ok := n.Image().Topic(topic)
	if !ok || len(tp.Partitions) == 0 {
		return metadata.Partition{}, false
	}
	return tp.Partitions[0], true
}

// agreed reports whether the nodes ids all see partition 0 alike, with
// a leader, and returns it.
func agreed(c *kafkatest.Cluster, ids []int32) (metadata.Partition, bool, string) {
	var first metadata.Partition
	var views []string
	ok := true
	for i, id := range ids {
		p, found := partitionOn(c, id)
		views = append(views, fmt.Sprintf("node %d: leader %d epoch %d isr %v", id, p.Leader, p.LeaderEpoch, p.ISR))
		switch {
		case !found || p.Leader < 0:
			ok = false
		case i == 0:
			first = p
		case p.Leader != first.Leader || p.LeaderEpoch != first.LeaderEpoch || !slices.Equal(sorted(p.ISR), sorted(first.ISR)):
			ok = false
		}
	}
	return first, ok, strings.Join(views, "; ")
}

func sorted(ids []int32) []int32 { return slices.Sorted(slices.Values(ids)) }

// conn opens a Kafka connection to addr.
func conn(t *testing.T, addr string) replica.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := replica.NewConn(nc, "partition-test", 0)
	t.Cleanup(func() { c.Close() })
	return c
}

// produce sends one acks=all Produce request of value to partition 0 on
// c, waiting at most timeoutMs on the broker, and returns the
// partition's error code and base offset.
func produce(t *testing.T, c replica.Conn, value string, timeoutMs int32) (int16, int64) {
	t.Helper()
	batch, err := record.Build(record.BuildOptions{
		PartitionLeaderEpoch: record.NoPartitionLeaderEpoch,
		ProducerID:           record.NoProducerID,
		ProducerEpoch:        record.NoProducerEpoch,
		BaseSequence:         record.NoSequence,
		BaseTimestamp:        time.Now().UnixMilli(),
	}, []record.Record{{Value: []byte(value)}})
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = -1
	req.TimeoutMillis = timeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 0
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutMs)*time.Millisecond+waitTimeout)
	defer cancel()
	resp, err := c.Request(ctx, req)
	if err != nil {
		t.Fatalf("produce %q: %v", value, err)
	}
	pr := resp.(*kmsg.ProduceResponse)
	if len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
		t.Fatalf("produce %q: malformed response %+v", value, pr)
	}
	p := pr.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

// createTopic creates the topic with one partition on replicas (the
// first is the preferred leader) and min.insync.replicas=2, and waits
// until every node sees it led by replicas[0] with a full ISR.
func createTopic(t *testing.T, c *kafkatest.Cluster, cl *kgo.Client, replicas []int32) metadata.Partition {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions, rt.ReplicationFactor = -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	cfg := kmsg.NewCreateTopicsRequestTopicConfig()
	cfg.Name, cfg.Value = "min.insync.replicas", kmsg.StringPtr("2")
	rt.Configs = append(rt.Configs, cfg)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	var p metadata.Partition
	waitFor(t, "every node to see the partition led, with a full ISR", func() (bool, string) {
		var ok bool
		var views string
		p, ok, views = agreed(c, c.NodeIDs())
		return ok && len(p.ISR) == 3 && p.Leader == replicas[0], views
	})
	return p
}

// TestIsolatedLeader cuts the leader of an RF=3 partition off from the
// other nodes while a client keeps writing to it, and checks that none of
// those writes is acknowledged, that a new leader is elected and takes
// acks=all writes, and that after the heal the old leader drops what it
// alone had and rejoins the ISR. The leader is the active controller in
// one case (its Raft leadership lapses too, CheckQuorum, and a new
// controller does the election) and not in the others, and the cut
// stalls, blackholes or refuses connections.
func TestIsolatedLeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		// controller: the leader is the active controller.
		controller bool
		opts       []kafkatest.IsolateOpt
	}{
		{"controller/stall", true, nil},
		{"broker/blackhole", false, []kafkatest.IsolateOpt{kafkatest.Blackhole()}},
		{"broker/refuse", false, []kafkatest.IsolateOpt{kafkatest.Refuse()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testIsolatedLeader(t, tc.controller, tc.opts)
		})
	}
}

func testIsolatedLeader(t *testing.T, controller bool, opts []kafkatest.IsolateOpt) {
	c := startCluster(t)
	ids := c.NodeIDs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var active int32
	waitFor(t, "an agreed active controller", func() (bool, string) {
		active = c.ActiveController()
		return active > 0, "none yet"
	})
	leader := active
	if !controller {
		leader = ids[0]
		if leader == active {
			leader = ids[1]
		}
	}
	replicas := append([]int32{leader}, slices.DeleteFunc(slices.Clone(ids), func(id int32) bool { return id == leader })...)
	before := createTopic(t, c, cl, replicas)
	old := before.Leader
	t.Logf("partition 0: leader %d epoch %d isr %v; active controller %d", old, before.LeaderEpoch, before.ISR, active)

	// Acknowledged writes before the partition.
	var want []string
	oldConn := conn(t, c.BrokerAddr(old))
	for i := range 5 {
		v := fmt.Sprintf("before-%d", i)
		if code, _ := produce(t, oldConn, v, 10000); code != 0 {
			t.Fatalf("produce %q to leader %d: %v", v, old, kerr.ErrorForCode(code))
		}
		want = append(want, v)
	}

	if err := c.IsolateNode(old, opts...); err != nil {
		t.Fatal(err)
	}
	others := slices.DeleteFunc(slices.Clone(ids), func(id int32) bool { return id == old })

	// The isolated leader still takes writes from clients, and must
	// acknowledge none: every one ends in an error (the request times
	// out waiting for followers that cannot fetch). Keep writing until
	// the other nodes have elected a new leader.
	var (
		isolatedWrites []string
		codes          = map[string]int{}
		after          metadata.Partition
	)
	deadline := time.Now().Add(waitTimeout)
	for i := 0; ; i++ {
		v := fmt.Sprintf("isolated-%d", i)
		code, off := produce(t, oldConn, v, 500)
		if code == 0 {
			t.Fatalf("the isolated leader %d acknowledged %q at offset %d", old, v, off)
		}
		isolatedWrites = append(isolatedWrites, v)
		codes[kerr.ErrorForCode(code).Error()]++
		p, ok, views := agreed(c, others)
		if ok && p.Leader != old && p.LeaderEpoch > before.LeaderEpoch && i >= 2 {
			after = p
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new leader elected by nodes %v within %v: %s", others, waitTimeout, views)
		}
	}
	t.Logf("while isolated, leader %d answered %d acks=all writes with errors %v; nodes %v elected leader %d epoch %d isr %v",
		old, len(isolatedWrites), codes, others, after.Leader, after.LeaderEpoch, after.ISR)
	if slices.Contains(after.ISR, old) {
		t.Errorf("the new ISR %v still holds the isolated node %d", after.ISR, old)
	}
	if p, _ := partitionOn(c, old); p.Leader != old {
		t.Logf("note: the isolated node's own image names leader %d (epoch %d)", p.Leader, p.LeaderEpoch)
	}

	// acks=all writes continue through the new leader, the ISR being
	// the two connected nodes.
	newConn := conn(t, c.BrokerAddr(after.Leader))
	for i := range 5 {
		v := fmt.Sprintf("after-%d", i)
		code, _ := produce(t, newConn, v, 10000)
		if code != 0 {
			t.Fatalf("produce %q to the new leader %d: %v", v, after.Leader, kerr.ErrorForCode(code))
		}
		want = append(want, v)
	}

	// Heal: the old leader catches up from the new one and rejoins the
	// ISR; every node agrees.
	if err := c.HealNode(old); err != nil {
		t.Fatal(err)
	}
	var healed metadata.Partition
	waitFor(t, "the old leader to rejoin the ISR on every node", func() (bool, string) {
		p, ok, views := agreed(c, ids)
		healed = p
		return ok && len(p.ISR) == 3, views
	})
	t.Logf("after the heal: leader %d epoch %d isr %v", healed.Leader, healed.LeaderEpoch, healed.ISR)

	// The log holds exactly the acknowledged writes, in order: what the
	// isolated leader alone appended is gone.
	if got := readAll(t, c, len(want)); !slices.Equal(got, want) {
		t.Fatalf("the partition holds %q, want the acknowledged writes %q (none of %q)", got, want, isolatedWrites)
	}
	// And the old leader, now a follower in the ISR, serves a write
	// made through the leader once more.
	if code, _ := produce(t, conn(t, c.BrokerAddr(healed.Leader)), "healed", 10000); code != 0 {
		t.Fatalf("produce after the heal: %v", kerr.ErrorForCode(code))
	}
}

// readAll reads partition 0 from the start to its high watermark with a
// fresh consumer and returns the values; n is how many it expects (-1:
// any number).
func readAll(t *testing.T, c *kafkatest.Cluster, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	if end.Err != nil {
		t.Fatal(end.Err)
	}
	if n >= 0 && end.Offset != int64(n) {
		t.Errorf("high watermark %d, want %d (one per acknowledged write)", end.Offset, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var got []string
	for int64(len(got)) < end.Offset {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", len(got), end.Offset, got)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end.Offset {
				got = append(got, string(r.Value))
			}
		})
	}
	return got
}

// TestInboundCutLeader cuts only the connections the other nodes open to
// the leader of an RF=3 partition (kafkatest.Inbound): its followers can
// no longer fetch, while it still heartbeats to the controller and so
// stays the leader. After replica.lag.time.max.ms it shrinks the ISR to
// itself through the controller (AlterPartition); with
// min.insync.replicas=2 acks=all writes are then refused
// (NOT_ENOUGH_REPLICAS) and none made during the cut is ever
// acknowledged. After the heal the followers catch up and rejoin the ISR.
func TestInboundCutLeader(t *testing.T) {
	c := startCluster(t)
	ids := c.NodeIDs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var active int32
	waitFor(t, "an agreed active controller", func() (bool, string) {
		active = c.ActiveController()
		return active > 0, "none yet"
	})
	// A leader that is not the active controller: cutting the inbound
	// links of the controller would also stop its Raft quorum.
	leader := ids[0]
	if leader == active {
		leader = ids[1]
	}
	replicas := append([]int32{leader}, slices.DeleteFunc(slices.Clone(ids), func(id int32) bool { return id == leader })...)
	before := createTopic(t, c, cl, replicas)
	leaderConn := conn(t, c.BrokerAddr(leader))
	want := []string{"before"}
	if code, _ := produce(t, leaderConn, "before", 10000); code != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(code))
	}

	if err := c.IsolateNode(leader, kafkatest.Inbound()); err != nil {
		t.Fatal(err)
	}
	others := slices.DeleteFunc(slices.Clone(ids), func(id int32) bool { return id == leader })
	var shrunk metadata.Partition
	codes := map[string]int{}
	deadline := time.Now().Add(waitTimeout)
	for i := 0; ; i++ {
		v := fmt.Sprintf("cut-%d", i)
		code, off := produce(t, leaderConn, v, 500)
		if code == 0 {
			t.Fatalf("leader %d acknowledged %q at offset %d while its followers could not fetch", leader, v, off)
		}
		codes[kerr.ErrorForCode(code).Error()]++
		// The leader's own image is stale (the controller's Raft
		// messages do not reach it); it learnt the ISR from its
		// AlterPartition answer. The others have the committed one.
		p, ok, views := agreed(c, others)
		if ok && slices.Equal(p.ISR, []int32{leader}) && code == kerr.NotEnoughReplicas.Code {
			shrunk = p
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ISR did not shrink to the leader alone within %v: %s (produce errors %v)", waitTimeout, views, codes)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("while cut: produce errors %v; leader %d epoch %d isr %v (was epoch %d isr %v)",
		codes, shrunk.Leader, shrunk.LeaderEpoch, shrunk.ISR, before.LeaderEpoch, before.ISR)
	if shrunk.Leader != leader {
		t.Errorf("leadership moved to %d although leader %d could reach the controller", shrunk.Leader, leader)
	}

	if err := c.HealNode(leader); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the followers to rejoin the ISR on every node", func() (bool, string) {
		p, ok, views := agreed(c, ids)
		return ok && len(p.ISR) == 3, views
	})
	if code, _ := produce(t, leaderConn, "healed", 10000); code != 0 {
		t.Fatalf("produce after the heal: %v", kerr.ErrorForCode(code))
	}
	want = append(want, "healed")
	// Records the leader appended during the cut stay in its log (no
	// leader change truncates them; Kafka keeps them too: acks=all
	// failures are not rollbacks), so the log is "before", the cut
	// writes that were appended, then "healed": check the acknowledged
	// ones are there, in order.
	got := readAll(t, c, -1)
	var acked []string
	for _, v := range got {
		if !strings.HasPrefix(v, "cut-") {
			acked = append(acked, v)
		}
	}
	if !slices.Equal(acked, want) {
		t.Fatalf("the partition holds %q; its acknowledged records %q, want %q", got, acked, want)
	}
}
