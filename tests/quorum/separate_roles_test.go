package quorum

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/cli"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// startSeparate starts three broker-only nodes (ids 1-3) and three
// controller-only nodes (3000-3002) with quick elections and short
// broker sessions.
func startSeparate(t *testing.T, opts ...kafkatest.Opt) *kafkatest.Cluster {
	t.Helper()
	base := []kafkatest.Opt{
		kafkatest.SeparateControllers(3),
		kafkatest.Config("controller.quorum.election.timeout.ms", "500"),
		kafkatest.Config("broker.heartbeat.interval.ms", "250"),
		kafkatest.Config("broker.session.timeout.ms", "2500"),
	}
	return kafkatest.StartCluster(t, 3, append(base, opts...)...)
}

// runningBrokers returns the ids of the running broker-only nodes.
func runningBrokers(c *kafkatest.Cluster) []int32 {
	return slices.DeleteFunc(c.BrokerIDs(), func(id int32) bool { return c.Node(id) == nil })
}

// produceConsume produces n records to topic through the running
// brokers (acks=all) and reads them back from the start.
func produceConsume(t *testing.T, c *kafkatest.Cluster, topic string, n int) {
	t.Helper()
	var seeds []string
	for _, id := range runningBrokers(c) {
		seeds = append(seeds, c.BrokerAddr(id))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "%s-%d", topic, i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	seen := map[string]bool{}
	for len(seen) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", len(seen), n, topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
}

// describeQuorum asks a broker listener (which forwards to the active
// controller) for the quorum.
func describeQuorum(t *testing.T, addr string) kmsg.DescribeQuorumResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = 2
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = metadata.LogTopic
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp := request(t, conn(t, addr), req).(*kmsg.DescribeQuorumResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("DescribeQuorum: %+v", resp)
	}
	return resp.Topics[0].Partitions[0]
}

func replicaIDs(rs []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) []int32 {
	var ids []int32
	for _, r := range rs {
		ids = append(ids, r.ReplicaID)
	}
	slices.Sort(ids)
	return ids
}

// metadataFetch sends a Fetch of __cluster_metadata-0 at offset to a
// controller listener, as an observer does.
func metadataFetch(t *testing.T, addr string, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 17
	req.ReplicaState.ID = 99
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = metadata.LogTopicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := request(t, conn(t, addr), req).(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("metadata fetch: %+v", resp)
	}
	return resp.Topics[0].Partitions[0]
}

// TestSeparateRoles runs three controller-only nodes and three
// broker-only nodes: the brokers follow the metadata log as observers,
// register and serve an RF=3 topic; DescribeQuorum lists the controllers
// as voters and the brokers as observers; the controllers are no
// brokers; killing the active controller elects another, which the
// brokers follow (a topic created afterwards reaches them); killing a
// broker moves its leaderships.
//
// Reference: KIP-500/KIP-631 (process.roles, broker and controller
// nodes), KIP-595 (observers fetch the metadata log from the leader;
// DescribeQuorum observers).
func TestSeparateRoles(t *testing.T) {
	t.Parallel()
	c := startSeparate(t)
	if got := c.ControllerIDs(); !slices.Equal(got, []int32{3000, 3001, 3002}) {
		t.Fatalf("controllers %v", got)
	}
	leader := waitLeader(t, c, -1)
	if !slices.Contains(c.ControllerIDs(), leader) {
		t.Fatalf("active controller %d is not a controller-only node", leader)
	}
	for _, id := range c.ControllerIDs() {
		if n := c.Node(id); len(n.Addrs()) != 0 || c.BrokerAddr(id) != "" {
			t.Errorf("controller %d has broker listeners %v", id, n.Addrs())
		}
	}
	for _, id := range c.BrokerIDs() {
		if _, ok := c.Node(id).QuorumStatus(); ok {
			t.Errorf("broker %d has a quorum status: it is not a voter", id)
		}
		if st, ok := c.Node(id).ObserverStatus(); !ok || st.Leader != leader {
			t.Errorf("broker %d observer status %+v, want leader %d", id, st, leader)
		}
	}
	im := waitConverged(t, c)
	var brokers []int32
	for _, b := range im.Brokers() {
		brokers = append(brokers, b.ID)
	}
	if !slices.Equal(brokers, []int32{1, 2, 3}) {
		t.Fatalf("registered brokers %v, want the broker-only nodes only", brokers)
	}

	// Metadata through a broker lists the brokers, never the controllers.
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Version = 12
	mresp := request(t, conn(t, c.BrokerAddr(2)), mreq).(*kmsg.MetadataResponse)
	var listed []int32
	for _, b := range mresp.Brokers {
		listed = append(listed, b.NodeID)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, []int32{1, 2, 3}) {
		t.Fatalf("Metadata brokers %v", listed)
	}

	createTopic(t, c.BrokerAddr(1), "orders", 3, 3)
	waitTopic(t, c, "orders")
	produceConsume(t, c, "orders", 50)

	// The quorum: controllers vote, brokers observe at their fetch
	// offsets, at most the high watermark.
	waitFor(t, "three observers", func() (bool, string) {
		p := describeQuorum(t, c.BrokerAddr(3))
		return slices.Equal(replicaIDs(p.Observers), []int32{1, 2, 3}), fmt.Sprintf("observers %v", replicaIDs(p.Observers))
	})
	p := describeQuorum(t, c.BrokerAddr(3))
	if p.ErrorCode != 0 || p.LeaderID != leader || !slices.Equal(replicaIDs(p.CurrentVoters), []int32{3000, 3001, 3002}) {
		t.Fatalf("DescribeQuorum: error %d, leader %d, voters %v", p.ErrorCode, p.LeaderID, replicaIDs(p.CurrentVoters))
	}
	for _, o := range p.Observers {
		if o.LogEndOffset <= 0 || o.LogEndOffset > p.HighWatermark || o.LastFetchTimestamp <= 0 {
			t.Errorf("observer %d: log end offset %d (high watermark %d), last fetch %d", o.ReplicaID, o.LogEndOffset, p.HighWatermark, o.LastFetchTimestamp)
		}
	}
	// kafka-metadata-quorum shows them as Kafka does.
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	if code := cli.Run(context.Background(), env, []string{"kafka-metadata-quorum", "--bootstrap-server", c.BrokerAddr(1), "describe", "--replication"}); code != 0 {
		t.Fatalf("kafka-metadata-quorum: exit %d: %s", code, errOut.String())
	}
	for _, id := range []string{"1", "2", "3"} {
		if !strings.Contains(out.String(), "\n"+id+" ") || strings.Count(out.String(), "Observer") != 3 {
			t.Fatalf("kafka-metadata-quorum --replication lacks observer %s:\n%s", id, out.String())
		}
	}

	// Observers' raw fetches: a follower names the leader; the leader
	// serves the log from offset 0.
	for _, id := range c.ControllerIDs() {
		fp := metadataFetch(t, c.ControllerAddr(id), 0)
		if id != leader {
			if fp.ErrorCode != kerr.NotLeaderForPartition.Code || fp.CurrentLeader.LeaderID != leader {
				t.Errorf("fetch from follower %d: error %d, current leader %d", id, fp.ErrorCode, fp.CurrentLeader.LeaderID)
			}
			continue
		}
		if fp.ErrorCode != 0 || len(fp.RecordBatches) == 0 {
			t.Fatalf("fetch from the leader: error %d, %d bytes", fp.ErrorCode, len(fp.RecordBatches))
		}
		first := true
		err := metadata.ReadLogBatches(fp.RecordBatches, func(b metadata.LogBatch) error {
			if first && b.Offset != 0 {
				return fmt.Errorf("first batch at %d", b.Offset)
			}
			first = false
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// The active controller dies: another is elected, and the brokers
	// follow it.
	if err := c.KillNode(leader); err != nil {
		t.Fatal(err)
	}
	next := waitLeader(t, c, leader)
	if !slices.Contains(c.ControllerIDs(), next) {
		t.Fatalf("new active controller %d", next)
	}
	createTopic(t, c.BrokerAddr(2), "after-failover", 3, 3)
	waitTopic(t, c, "after-failover")
	produceConsume(t, c, "after-failover", 30)

	// A broker dies: once its session expires its leaderships move.
	im = c.Node(1).Image()
	orders, _ := im.Topic("orders")
	victim := orders.Partitions[0].Leader
	if err := c.KillNode(victim); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "leaders to move off the killed broker", func() (bool, string) {
		for _, id := range running(c) {
			im := c.Node(id).Image()
			for _, name := range []string{"orders", "after-failover"} {
				tp, _ := im.Topic(name)
				for i, p := range tp.Partitions {
					if p.Leader == victim || p.Leader < 0 || slices.Contains(p.ISR, victim) {
						return false, fmt.Sprintf("node %d: %s-%d leader %d ISR %v", id, name, i, p.Leader, p.ISR)
					}
				}
			}
		}
		return true, ""
	})
	produceConsume(t, c, "orders", 20)

	// Both come back and catch up.
	for _, id := range []int32{leader, victim} {
		if err := c.RestartNode(id); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, c)
}

// TestObserverCatchesUpFromSnapshot: a broker restarted after the
// controllers compacted the metadata log loads the leader's snapshot
// (FetchSnapshot) and the log after it; a broker unregistered while it
// was down (kafka-cluster unregister) registers again when it returns.
//
// Reference: KIP-630 (FetchSnapshot), KIP-1073 (UnregisterBroker).
func TestObserverCatchesUpFromSnapshot(t *testing.T) {
	t.Parallel()
	c := startSeparate(t, kafkatest.Config("metadata.log.max.record.bytes.between.snapshots", "1"))
	leader := waitLeader(t, c, -1)
	waitConverged(t, c)
	if err := c.StopNode(3); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		createTopic(t, c.BrokerAddr(1), fmt.Sprintf("snap-%d", i), 1, 2)
	}
	st, _ := c.Node(leader).QuorumStatus()
	waitFor(t, "the leader's log compacted", func() (bool, string) {
		st, _ = c.Node(leader).QuorumStatus()
		return st.SnapshotIndex > 0, fmt.Sprintf("snapshot at %d", st.SnapshotIndex)
	})
	// A fetch from before the snapshot is answered with its id.
	fp := metadataFetch(t, c.ControllerAddr(leader), 0)
	if fp.ErrorCode != 0 || fp.SnapshotID.EndOffset <= 0 || len(fp.RecordBatches) != 0 {
		t.Fatalf("fetch below the log start: error %d, snapshot %+v, %d bytes", fp.ErrorCode, fp.SnapshotID, len(fp.RecordBatches))
	}

	// Broker 3 is gone for good, as far as the operator knows.
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	if code := cli.Run(context.Background(), env, []string{"kafka-cluster", "unregister", "--bootstrap-server", c.BrokerAddr(1), "--id", "3"}); code != 0 {
		t.Fatalf("kafka-cluster unregister: exit %d: %s", code, errOut.String())
	}
	if got := out.String(); got != "Broker 3 is no longer registered.\n" {
		t.Fatalf("kafka-cluster unregister printed %q", got)
	}
	waitFor(t, "broker 3 unregistered everywhere", func() (bool, string) {
		for _, id := range running(c) {
			if _, ok := c.Node(id).Image().Broker(3); ok {
				return false, fmt.Sprintf("node %d still has broker 3", id)
			}
		}
		return true, ""
	})
	out.Reset()
	if code := cli.Run(context.Background(), env, []string{"kafka-cluster", "cluster-id", "--bootstrap-controller", c.ControllerAddr(3001)}); code != 0 || out.String() != "Cluster ID: "+c.Node(1).ClusterID()+"\n" {
		t.Fatalf("kafka-cluster cluster-id: exit %d, printed %q", code, out.String())
	}

	if err := c.RestartNode(3); err != nil {
		t.Fatal(err)
	}
	obs, ok := c.Node(3).ObserverStatus()
	if !ok || obs.SnapshotsLoaded < 1 {
		t.Fatalf("restarted broker 3: observer status %+v, want a snapshot loaded", obs)
	}
	im := waitConverged(t, c)
	for i := range 5 {
		if _, ok := im.Topic(fmt.Sprintf("snap-%d", i)); !ok {
			t.Fatalf("snap-%d missing after catching up", i)
		}
	}
	if b, ok := im.Broker(3); !ok || b.Fenced {
		t.Fatalf("broker 3 not registered again: %+v", b)
	}
	createTopic(t, c.BrokerAddr(3), "after-snapshot", 1, 3)
	waitTopic(t, c, "after-snapshot")
	produceConsume(t, c, "after-snapshot", 10)
}
