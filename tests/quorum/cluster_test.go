// Package quorum tests the metadata path of a multi-node cluster: a
// controller quorum of three combined nodes started in-process by
// kafkatest.StartCluster, the brokers' registrations and heartbeats,
// admin requests forwarded from any broker to the active controller, and
// what a controller failure, a restart and a crash do to them. The data
// path (replicated partitions) is tested elsewhere.
package quorum

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// waitTimeout bounds every wait for the cluster to reach a state; waits
// poll, so the tests assert outcomes, never durations.
const waitTimeout = 30 * time.Second

// startCluster starts three nodes with quick elections and short broker
// sessions, so failures are noticed in seconds.
func startCluster(t *testing.T, opts ...kafkatest.Opt) *kafkatest.Cluster {
	t.Helper()
	base := []kafkatest.Opt{
		kafkatest.Config("controller.quorum.election.timeout.ms", "500"),
		kafkatest.Config("broker.heartbeat.interval.ms", "250"),
		kafkatest.Config("broker.session.timeout.ms", "2500"),
	}
	return kafkatest.StartCluster(t, 3, append(base, opts...)...)
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

// running returns the ids of the running nodes.
func running(c *kafkatest.Cluster) []int32 {
	var ids []int32
	for _, id := range c.NodeIDs() {
		if c.Node(id) != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// waitLeader waits until the running nodes agree on an active controller
// other than not, and returns it.
func waitLeader(t *testing.T, c *kafkatest.Cluster, not int32) int32 {
	t.Helper()
	var leader int32
	waitFor(t, "an agreed active controller", func() (bool, string) {
		leader = c.ActiveController()
		return leader >= 0 && leader != not, fmt.Sprintf("active controller %d", leader)
	})
	return leader
}

// waitConverged waits until every running node has the same image (the
// same snapshot encoding, so topics, partitions, configs and broker
// registrations all agree) and returns it.
func waitConverged(t *testing.T, c *kafkatest.Cluster) *metadata.Image {
	t.Helper()
	var im *metadata.Image
	waitFor(t, "converged images", func() (bool, string) {
		var first []byte
		for i, id := range running(c) {
			cur := c.Node(id).Image()
			b, err := metadata.EncodeImage(cur)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first, im = b, cur
			} else if !bytes.Equal(b, first) {
				return false, fmt.Sprintf("node %d is at offset %d, node %d at %d", id, cur.Offset, running(c)[0], im.Offset)
			}
		}
		return true, ""
	})
	return im
}

// conn is a raw connection to one listener: requests go exactly there,
// at the version set on them.
func conn(t *testing.T, addr string) replica.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := replica.NewConn(nc, "quorum-test", 0)
	t.Cleanup(func() { c.Close() })
	return c
}

func request(t *testing.T, c replica.Conn, req kmsg.Request) kmsg.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout+15*time.Second)
	defer cancel()
	resp, err := c.Request(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// createTopic sends CreateTopics v7 to one broker listener and fails the
// test unless the topic was created.
func createTopic(t *testing.T, addr, topic string, partitions int32, rf int16) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, rf
	req.Topics = append(req.Topics, rt)
	resp := request(t, conn(t, addr), req).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("create %s: %d results", topic, len(resp.Topics))
	}
	r := resp.Topics[0]
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		t.Fatalf("create %s through %s: %v (%v)", topic, addr, err, deref(r.ErrorMessage))
	}
	if r.NumPartitions != partitions || r.ReplicationFactor != rf {
		t.Fatalf("create %s: %d partitions with RF %d, want %d with %d", topic, r.NumPartitions, r.ReplicationFactor, partitions, rf)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// waitTopic waits until every running node's image has topic.
func waitTopic(t *testing.T, c *kafkatest.Cluster, topic string) {
	t.Helper()
	waitFor(t, "topic "+topic+" everywhere", func() (bool, string) {
		for _, id := range running(c) {
			if _, ok := c.Node(id).Image().Topic(topic); !ok {
				return false, fmt.Sprintf("node %d has no %s", id, topic)
			}
		}
		return true, ""
	})
}

// TestClusterMetadata starts three combined nodes and checks the metadata
// path end to end: a Raft leader becomes the active controller, every
// broker registers with its listeners and is unfenced, and an RF=3 topic
// created through any node's broker listener (forwarded to the active
// controller) appears with the same assignment in every node's image.
//
// Reference: KIP-631 (broker registration, heartbeats, fencing), KIP-590
// (requests forwarded from brokers to the controller).
func TestClusterMetadata(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	leader := waitLeader(t, c, -1)
	if st, ok := c.Node(leader).QuorumStatus(); !ok || !st.IsLeader {
		t.Fatalf("active controller %d is not the Raft leader: %+v", leader, st)
	}
	im := waitConverged(t, c)

	// Every broker registered, with the listener it serves on, unfenced.
	for _, id := range c.NodeIDs() {
		b, ok := im.Broker(id)
		if !ok {
			t.Fatalf("broker %d is not registered", id)
		}
		if b.Fenced || b.InControlledShutdown {
			t.Errorf("broker %d: fenced %v, in controlled shutdown %v", id, b.Fenced, b.InControlledShutdown)
		}
		ep, ok := b.Endpoint("PLAINTEXT")
		if !ok || net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))) != c.BrokerAddr(id) || ep.SecurityProtocol != metadata.ProtocolPlaintext {
			t.Errorf("broker %d endpoints %+v, want PLAINTEXT at %s", id, b.Endpoints, c.BrokerAddr(id))
		}
		// The node learns it is unfenced from a heartbeat response, which
		// may come after the image that says so.
		waitFor(t, fmt.Sprintf("node %d to see itself unfenced", id), func() (bool, string) {
			epoch, fenced := c.Node(id).BrokerState()
			return epoch == b.Epoch && !fenced, fmt.Sprintf("node %d thinks it has epoch %d (fenced %v), the image says %d", id, epoch, fenced, b.Epoch)
		})
	}

	// A topic created through each node's broker listener: two of the
	// three forward to the active controller.
	for _, id := range c.NodeIDs() {
		topic := fmt.Sprintf("via-%d", id)
		createTopic(t, c.BrokerAddr(id), topic, 3, 3)
		waitTopic(t, c, topic)
	}
	im = waitConverged(t, c)
	leaders := map[int32]int{}
	for _, id := range c.NodeIDs() {
		topic, _ := im.Topic(fmt.Sprintf("via-%d", id))
		for i, p := range topic.Partitions {
			if got := slices.Sorted(slices.Values(p.Replicas)); !slices.Equal(got, []int32{1, 2, 3}) {
				t.Errorf("%s-%d replicas %v, want all three brokers", topic.Name, i, p.Replicas)
			}
			if len(p.ISR) != 3 || p.Leader != p.Replicas[0] {
				t.Errorf("%s-%d: ISR %v leader %d, want all three and the first replica", topic.Name, i, p.ISR, p.Leader)
			}
			leaders[p.Leader]++
		}
	}
	if len(leaders) != 3 {
		t.Errorf("partition leaders %v: want every broker to lead some", leaders)
	}

	// Errors come back from the controller as they would from one node.
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	for _, name := range []string{"via-1", "bad/name"} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		req.Topics = append(req.Topics, rt)
	}
	follower := c.NodeIDs()[0]
	if follower == leader {
		follower = c.NodeIDs()[1]
	}
	resp := request(t, conn(t, c.BrokerAddr(follower)), req).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != 2 || resp.Topics[0].ErrorCode != kerr.TopicAlreadyExists.Code || resp.Topics[1].ErrorCode != kerr.InvalidTopicException.Code {
		t.Errorf("forwarded CreateTopics errors: %+v", resp.Topics)
	}
	// RF above the broker count is refused with Kafka's error.
	rreq := kmsg.NewPtrCreateTopicsRequest()
	rreq.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "too-many", 1, 4
	rreq.Topics = append(rreq.Topics, rt)
	rresp := request(t, conn(t, c.BrokerAddr(follower)), rreq).(*kmsg.CreateTopicsResponse)
	if rresp.Topics[0].ErrorCode != kerr.InvalidReplicationFactor.Code {
		t.Errorf("RF 4 on 3 brokers: %v", kerr.ErrorForCode(rresp.Topics[0].ErrorCode))
	}

	// Config changes and deletions forward too.
	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	alter.Version = 1
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "via-1"
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Op, cfg.Value = "retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("3600000")
	res.Configs = append(res.Configs, cfg)
	alter.Resources = append(alter.Resources, res)
	aresp := request(t, conn(t, c.BrokerAddr(follower)), alter).(*kmsg.IncrementalAlterConfigsResponse)
	if aresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("alter configs: %v", kerr.ErrorForCode(aresp.Resources[0].ErrorCode))
	}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version = 6
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = kmsg.StringPtr("via-2")
	del.Topics = append(del.Topics, dt)
	dresp := request(t, conn(t, c.BrokerAddr(follower)), del).(*kmsg.DeleteTopicsResponse)
	if dresp.Topics[0].ErrorCode != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(dresp.Topics[0].ErrorCode))
	}
	waitFor(t, "config and deletion everywhere", func() (bool, string) {
		for _, id := range running(c) {
			im := c.Node(id).Image()
			if _, ok := im.Topic("via-2"); ok {
				return false, fmt.Sprintf("node %d still has via-2", id)
			}
			if v := im.Configs(metadata.ConfigResource{Type: metadata.ResourceTopic, Name: "via-1"})["retention.ms"]; v != "3600000" {
				return false, fmt.Sprintf("node %d: retention.ms %q", id, v)
			}
		}
		return true, ""
	})
	waitConverged(t, c)
}

// TestDescribeQuorum asks the quorum's state through a broker listener
// (forwarded) and a controller listener (the leader answers, the others
// say NOT_LEADER_OR_FOLLOWER), as kafka-metadata-quorum.sh does.
//
// Reference: KIP-595 (DescribeQuorum), KIP-836 (timestamps), KIP-853 (nodes).
func TestDescribeQuorum(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	leader := waitLeader(t, c, -1)
	waitConverged(t, c)
	describe := func(addr string) kmsg.DescribeQuorumResponseTopicPartition {
		req := kmsg.NewPtrDescribeQuorumRequest()
		req.Version = 2
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = "__cluster_metadata"
		rp := kmsg.NewDescribeQuorumRequestTopicPartition()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := request(t, conn(t, addr), req).(*kmsg.DescribeQuorumResponse)
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("DescribeQuorum through %s: %+v", addr, resp)
		}
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode == 0 && len(resp.Nodes) != 3 {
			t.Errorf("DescribeQuorum v2 lists %d nodes, want 3", len(resp.Nodes))
		}
		return resp.Topics[0].Partitions[0]
	}
	for _, id := range c.NodeIDs() {
		p := describe(c.BrokerAddr(id)) // forwarded to the leader
		if p.ErrorCode != 0 || p.LeaderID != leader || p.HighWatermark <= 0 || len(p.CurrentVoters) != 3 {
			t.Fatalf("through broker %d: %+v", id, p)
		}
		for _, v := range p.CurrentVoters {
			if v.LogEndOffset < 0 || v.LastFetchTimestamp <= 0 {
				t.Errorf("voter %+v: want a log end offset and a fetch time", v)
			}
		}
		p = describe(c.ControllerAddr(id))
		if id == leader && (p.ErrorCode != 0 || p.LeaderID != leader) {
			t.Errorf("the leader's controller listener: %+v", p)
		}
		if id != leader && p.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Errorf("follower %d's controller listener answered %v, want NOT_LEADER_OR_FOLLOWER", id, kerr.ErrorForCode(p.ErrorCode))
		}
	}

	// DescribeCluster on a controller listener lists the controllers.
	dreq := kmsg.NewPtrDescribeClusterRequest()
	dreq.Version, dreq.EndpointType = 1, 2
	dresp := request(t, conn(t, c.ControllerAddr(leader)), dreq).(*kmsg.DescribeClusterResponse)
	if dresp.ErrorCode != 0 || dresp.ControllerID != leader || len(dresp.Brokers) != 3 {
		t.Fatalf("DescribeCluster(controllers): %+v", dresp)
	}
	for _, b := range dresp.Brokers {
		if net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))) != c.ControllerAddr(b.NodeID) {
			t.Errorf("controller %d at %s:%d, want %s", b.NodeID, b.Host, b.Port, c.ControllerAddr(b.NodeID))
		}
	}
}

// TestListenersAdvertiseWhatTheyServe checks ApiVersions per listener:
// controller listeners advertise the controller APIs and no client ones;
// broker listeners advertise no controller-only API.
func TestListenersAdvertiseWhatTheyServe(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	keys := func(addr string) map[int16]bool {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		req.ClientSoftwareName, req.ClientSoftwareVersion = "quorum-test", "1"
		resp := request(t, conn(t, addr), req).(*kmsg.ApiVersionsResponse)
		out := map[int16]bool{}
		for _, k := range resp.ApiKeys {
			out[k.ApiKey] = true
		}
		return out
	}
	ctl, brk := keys(c.ControllerAddr(1)), keys(c.BrokerAddr(1))
	for _, k := range []int16{1, 18, 19, 20, 33, 37, 43, 44, 45, 46, 55, 56, 59, 60, 62, 63, 64} {
		if !ctl[k] {
			t.Errorf("controller listener does not advertise %s", kmsg.NameForKey(k))
		}
	}
	for _, k := range []int16{0, 2, 3, 8, 9, 10} {
		if ctl[k] {
			t.Errorf("controller listener advertises %s", kmsg.NameForKey(k))
		}
	}
	for _, k := range []int16{56, 62, 63} {
		if brk[k] {
			t.Errorf("broker listener advertises %s", kmsg.NameForKey(k))
		}
	}
	for _, k := range []int16{0, 1, 3, 19, 43, 45, 46, 55} {
		if !brk[k] {
			t.Errorf("broker listener does not advertise %s", kmsg.NameForKey(k))
		}
	}
	// A broker listener does not serve a controller-only key: Kafka
	// closes the connection.
	hb := kmsg.NewPtrBrokerHeartbeatRequest()
	hb.Version = 1
	nc, err := net.DialTimeout("tcp", c.BrokerAddr(1), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rc := replica.NewConn(nc, "quorum-test", 0)
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if resp, err := rc.Request(ctx, hb); err == nil {
		t.Errorf("BrokerHeartbeat on a broker listener answered %+v", resp)
	}
}

// TestReassignAndElect drives partition reassignment and preferred leader
// election through a broker listener (forwarded to the active
// controller), as kafka-reassign-partitions.sh and
// kafka-leader-election.sh do.
//
// Reference: KIP-455 (AlterPartitionReassignments,
// ListPartitionReassignments), KIP-460 (ElectLeaders).
func TestReassignAndElect(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	leader := waitLeader(t, c, -1)
	via := c.BrokerAddr(leader%3 + 1) // a node that is not the active controller
	createTopic(t, via, "moves", 1, 3)
	waitTopic(t, c, "moves")
	tp, _ := c.Node(leader).Image().Topic("moves")
	p := tp.Partitions[0]
	reversed := slices.Clone(p.Replicas)
	slices.Reverse(reversed)

	// Reordering the replicas completes at once; the leader stays.
	alter := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	alter.Version = 1
	alter.AllowReplicationFactorChange = true
	at := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	at.Topic = "moves"
	ap := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	ap.Partition, ap.Replicas = 0, reversed
	at.Partitions = append(at.Partitions, ap)
	alter.Topics = append(alter.Topics, at)
	aresp := request(t, conn(t, via), alter).(*kmsg.AlterPartitionAssignmentsResponse)
	if aresp.ErrorCode != 0 || len(aresp.Topics) != 1 || aresp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("AlterPartitionReassignments: %+v", aresp)
	}
	list := kmsg.NewPtrListPartitionReassignmentsRequest()
	lresp := request(t, conn(t, via), list).(*kmsg.ListPartitionReassignmentsResponse)
	if lresp.ErrorCode != 0 || len(lresp.Topics) != 0 {
		t.Fatalf("ListPartitionReassignments after a reorder: %+v", lresp)
	}
	waitFor(t, "the reordered replicas everywhere", func() (bool, string) {
		for _, id := range running(c) {
			tp, _ := c.Node(id).Image().Topic("moves")
			if got := tp.Partitions[0]; !slices.Equal(got.Replicas, reversed) || got.Leader != p.Leader {
				return false, fmt.Sprintf("node %d: replicas %v leader %d", id, got.Replicas, got.Leader)
			}
		}
		return true, ""
	})

	// A preferred election moves leadership to the new first replica.
	elect := kmsg.NewPtrElectLeadersRequest()
	elect.Version = 2
	et := kmsg.NewElectLeadersRequestTopic()
	et.Topic, et.Partitions = "moves", []int32{0}
	elect.Topics = append(elect.Topics, et)
	eresp := request(t, conn(t, via), elect).(*kmsg.ElectLeadersResponse)
	if eresp.ErrorCode != 0 || len(eresp.Topics) != 1 || eresp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("ElectLeaders: %+v", eresp)
	}
	waitFor(t, "the preferred leader elected everywhere", func() (bool, string) {
		for _, id := range running(c) {
			tp, _ := c.Node(id).Image().Topic("moves")
			if got := tp.Partitions[0]; got.Leader != reversed[0] || got.LeaderEpoch <= p.LeaderEpoch {
				return false, fmt.Sprintf("node %d: leader %d epoch %d", id, got.Leader, got.LeaderEpoch)
			}
		}
		return true, ""
	})
	// Electing again is not needed.
	eresp = request(t, conn(t, via), elect).(*kmsg.ElectLeadersResponse)
	if eresp.Topics[0].Partitions[0].ErrorCode != kerr.ElectionNotNeeded.Code {
		t.Errorf("second preferred election: %v", kerr.ErrorForCode(eresp.Topics[0].Partitions[0].ErrorCode))
	}
}
