package server

import (
	"context"
	"log/slog"
	"math"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// These tests run the handlers of a cluster's node (node 1) against an
// image with broker registrations the static test clusters cannot have:
// a fenced broker, one without the client's listener, an unregistered
// replica.
//
//	broker 1  this node, PLAINTEXT, rack a
//	broker 2  fenced
//	broker 3  INTERNAL listener only
//	broker 4  not registered
//	broker 5  PLAINTEXT, rack b
//
//	t-0  replicas 1 2 3 4 5, ISR 1 2 5, leader 1
//	t-1  replicas 3 1, leader 3 (no PLAINTEXT endpoint)
//	t-2  replicas 4 1, leader 4 (unregistered)
//	t-3  replicas 2 1, leader 2 (fenced)
//	t-4  replicas 5 1, leader 5, leader epoch 7

// memJournal is a metadata.Journal in memory, seeded with batches.
type memJournal struct{ batches [][]metadata.Record }

func (j *memJournal) Append(recs []metadata.Record) error {
	j.batches = append(j.batches, recs)
	return nil
}

func (j *memJournal) Replay(fn func([]metadata.Record) error) error {
	for _, b := range j.batches {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

func (j *memJournal) Close() error { return nil }

type fixedController int32

func (f fixedController) ActiveController() int32 { return int32(f) }

func registerBroker(id int32, fenced bool, rack string, eps ...metadata.Endpoint) metadata.Record {
	return metadata.Record{Type: metadata.TypeRegisterBroker, Broker: &metadata.BrokerRecord{
		ID: id, Epoch: 1, IncarnationID: metadata.NewIncarnationID(), Endpoints: eps, Rack: rack, Fenced: fenced,
	}}
}

func plaintext(host string, port int32) metadata.Endpoint {
	return metadata.Endpoint{Listener: "PLAINTEXT", Host: host, Port: port}
}

// clusterServer starts node 1's server on the image above.
func clusterServer(t *testing.T, locator ControllerLocator) (addr string, srv *Server) {
	t.Helper()
	topicID := metadata.TopicID{1}
	part := func(i int32, leader, epoch int32, replicas, isr []int32) metadata.Record {
		return metadata.Record{Type: metadata.TypePartition, TopicID: topicID, Partition: i, Replicas: replicas, ISR: isr, Leader: leader, LeaderEpoch: epoch}
	}
	j := &memJournal{batches: [][]metadata.Record{{
		registerBroker(1, false, "a", plaintext("h1", 9091)),
		registerBroker(2, true, "", plaintext("h2", 9092)),
		registerBroker(3, false, "", metadata.Endpoint{Listener: "INTERNAL", Host: "h3", Port: 9093}),
		registerBroker(5, false, "b", plaintext("h5", 9095)),
		{Type: metadata.TypeTopic, TopicName: "t", TopicID: topicID},
		part(0, 1, 0, []int32{1, 2, 3, 4, 5}, []int32{1, 2, 5}),
		part(1, 3, 0, []int32{3, 1}, []int32{3, 1}),
		part(2, 4, 0, []int32{4, 1}, []int32{4, 1}),
		part(3, 2, 0, []int32{2, 1}, []int32{2, 1}),
		part(4, 5, 7, []int32{5, 1}, []int32{5, 1}),
	}}}
	dir := t.TempDir()
	if err := storage.FormatLogDir(dir, "test-cluster", 1); err != nil {
		t.Fatal(err)
	}
	logs, err := storage.OpenManager([]string{dir}, storage.ManagerOptions{Logger: slog.New(slog.DiscardHandler)}, func(string) storage.Config { return storage.DefaultConfig() })
	if err != nil {
		t.Fatal(err)
	}
	replicas := replica.New(replica.Config{NodeID: 1, TopicConfig: func(*metadata.Image, string) replica.TopicConfig {
		return replica.TopicConfig{Log: storage.DefaultConfig(), MaxMessageBytes: 1 << 20, MinInsyncReplicas: 1,
			TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64, CompressionType: "producer"}
	}}, logs)
	ctrl, err := controller.Open(controller.Config{NodeID: 1}, j, func(im *metadata.Image) {
		if err := replicas.ApplyImage(im); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	srv = New(Config{NodeID: 1, ClusterID: "test-cluster", Listeners: []Listener{{Name: "PLAINTEXT", Address: "127.0.0.1:0"}}},
		Deps{Controller: ctrl, Replicas: replicas, Logs: logs, ControllerLocator: locator})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		replicas.Close()
		logs.Close()
	})
	return srv.Addrs()[0].String(), srv
}

func roundTrip[R kmsg.Response](t *testing.T, addr string, req kmsg.Request) R {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := replica.NewConn(nc, "server-test", 0)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Request(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

func metadataAll(t *testing.T, addr string, version int16) *kmsg.MetadataResponse {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	return roundTrip[*kmsg.MetadataResponse](t, addr, req)
}

// TestClusterMetadata: brokers listed are the unfenced registrations with
// an endpoint on the request's listener; replicas on fenced, unregistered
// or listener-less brokers are offline; a leader without the listener is
// LISTENER_NOT_FOUND from v6 (LEADER_NOT_AVAILABLE before); an
// unregistered leader is LEADER_NOT_AVAILABLE; v0 lists only reachable
// replicas with REPLICA_NOT_AVAILABLE (Kafka's KRaftMetadataCache).
func TestClusterMetadata(t *testing.T) {
	addr, _ := clusterServer(t, nil)
	resp := metadataAll(t, addr, 12)
	var ids []int32
	for _, b := range resp.Brokers {
		ids = append(ids, b.NodeID)
	}
	if !slices.Equal(ids, []int32{1, 5}) {
		t.Fatalf("brokers %v, want [1 5]", ids)
	}
	if b := resp.Brokers[1]; b.Host != "h5" || b.Port != 9095 || b.Rack == nil || *b.Rack != "b" {
		t.Fatalf("broker 5 = %+v", b)
	}
	if resp.ControllerID != 1 {
		t.Fatalf("controller %d, want this node without a quorum", resp.ControllerID)
	}
	ps := resp.Topics[0].Partitions
	type want struct {
		leader  int32
		code    int16
		offline []int32
	}
	for i, w := range []want{
		{1, 0, []int32{2, 3, 4}},
		{-1, kerr.ListenerNotFound.Code, []int32{3}},
		{-1, kerr.LeaderNotAvailable.Code, []int32{4}},
		{2, 0, []int32{2}},
		{5, 0, []int32{}},
	} {
		p := ps[i]
		if p.Leader != w.leader || p.ErrorCode != w.code || !slices.Equal(p.OfflineReplicas, w.offline) {
			t.Errorf("t-%d: leader %d error %d offline %v; want %d, %d, %v", i, p.Leader, p.ErrorCode, p.OfflineReplicas, w.leader, w.code, w.offline)
		}
	}
	if !slices.Equal(ps[0].Replicas, []int32{1, 2, 3, 4, 5}) || !slices.Equal(ps[0].ISR, []int32{1, 2, 5}) {
		t.Errorf("t-0 replicas %v isr %v: v1+ lists them all", ps[0].Replicas, ps[0].ISR)
	}

	if p := metadataAll(t, addr, 5).Topics[0].Partitions[1]; p.ErrorCode != kerr.LeaderNotAvailable.Code {
		t.Errorf("v5 t-1 error %d, want LEADER_NOT_AVAILABLE", p.ErrorCode)
	}
	v0 := metadataAll(t, addr, 0).Topics[0].Partitions[0]
	if v0.ErrorCode != kerr.ReplicaNotAvailable.Code || !slices.Equal(v0.Replicas, []int32{1, 5}) || !slices.Equal(v0.ISR, []int32{1, 5}) {
		t.Errorf("v0 t-0: error %d replicas %v isr %v; want REPLICA_NOT_AVAILABLE, [1 5], [1 5]", v0.ErrorCode, v0.Replicas, v0.ISR)
	}
}

// TestClusterControllerID: the active controller is named when it is a
// listed broker; otherwise this node.
func TestClusterControllerID(t *testing.T) {
	for _, tc := range []struct {
		active, want int32
	}{{5, 5}, {2, 1}, {3, 1}, {-1, 1}} {
		addr, _ := clusterServer(t, fixedController(tc.active))
		if got := metadataAll(t, addr, 12).ControllerID; got != tc.want {
			t.Errorf("active controller %d: Metadata controller_id %d, want %d", tc.active, got, tc.want)
		}
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version, req.EndpointType = 1, 1
		if got := roundTrip[*kmsg.DescribeClusterResponse](t, addr, req).ControllerID; got != tc.want {
			t.Errorf("active controller %d: DescribeCluster controller_id %d, want %d", tc.active, got, tc.want)
		}
	}
}

// TestClusterDescribeClusterFenced: DescribeCluster v2 lists fenced
// brokers with is_fenced only when asked (KIP-1073).
func TestClusterDescribeClusterFenced(t *testing.T) {
	addr, _ := clusterServer(t, nil)
	for _, include := range []bool{false, true} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version, req.EndpointType, req.IncludeFencedBrokers = 2, 1, include
		resp := roundTrip[*kmsg.DescribeClusterResponse](t, addr, req)
		var got []string
		for _, b := range resp.Brokers {
			s := b.Host
			if b.IsFenced {
				s += "(fenced)"
			}
			got = append(got, s)
		}
		want := []string{"h1", "h5"}
		if include {
			want = []string{"h1", "h2(fenced)", "h5"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("include fenced %v: brokers %v, want %v", include, got, want)
		}
	}
}

// TestClusterProduceCurrentLeader: NOT_LEADER_OR_FOLLOWER answers name
// the image's leader and epoch, with the endpoint only of a leader alive
// on the listener (KIP-951, Kafka's getCurrentLeader).
func TestClusterProduceCurrentLeader(t *testing.T) {
	addr, _ := clusterServer(t, nil)
	b, err := record.Build(record.BuildOptions{PartitionLeaderEpoch: -1, BaseTimestamp: time.Now().UnixMilli(),
		ProducerID: record.NoProducerID, ProducerEpoch: record.NoProducerEpoch, BaseSequence: record.NoSequence},
		[]record.Record{{Value: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 12, -1, 200
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	for i := range int32(5) {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = i, b
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := roundTrip[*kmsg.ProduceResponse](t, addr, req)
	type want struct{ code, leader, epoch int32 }
	for i, w := range []want{
		{}, // led here, checked below
		{int32(kerr.NotLeaderForPartition.Code), 3, 0},
		{int32(kerr.NotLeaderForPartition.Code), 4, 0},
		{int32(kerr.NotLeaderForPartition.Code), 2, 0},
		{int32(kerr.NotLeaderForPartition.Code), 5, 7},
	} {
		p := resp.Topics[0].Partitions[i]
		if i == 0 {
			// Followers 2 and 5 never fetch: the acks=all write times out.
			if p.ErrorCode != kerr.RequestTimedOut.Code {
				t.Errorf("t-0: error %d, want REQUEST_TIMED_OUT", p.ErrorCode)
			}
			continue
		}
		if int32(p.ErrorCode) != w.code || p.CurrentLeader.LeaderID != w.leader || p.CurrentLeader.LeaderEpoch != w.epoch {
			t.Errorf("t-%d: error %d current leader %+v; want %d, %d@%d", i, p.ErrorCode, p.CurrentLeader, w.code, w.leader, w.epoch)
		}
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 5 || resp.Brokers[0].Host != "h5" || resp.Brokers[0].Port != 9095 {
		t.Errorf("node endpoints %+v, want only broker 5", resp.Brokers)
	}
}

// TestSelectRackAware is Kafka's RackAwareReplicaSelectorTest.
func TestSelectRackAware(t *testing.T) {
	leader := readReplica{ReplicaView: replica.ReplicaView{BrokerID: 1, LogEndOffset: 10}, rack: "a"}
	f := func(id int32, leo, lag int64, rack string) readReplica {
		return readReplica{ReplicaView: replica.ReplicaView{BrokerID: id, LogEndOffset: leo, TimeSinceLastCaughtUpMs: lag}, rack: rack}
	}
	for _, tc := range []struct {
		name      string
		rack      string
		followers []readReplica
		want      int32
	}{
		{"no client rack", "", []readReplica{f(2, 10, 0, "b")}, 1},
		{"leader in the rack", "a", []readReplica{f(2, 10, 0, "a")}, 1},
		{"no replica in the rack", "c", []readReplica{f(2, 10, 0, "b")}, 1},
		{"follower in the rack", "b", []readReplica{f(2, 10, 0, "b"), f(3, 10, 0, "c")}, 2},
		{"most caught up wins", "b", []readReplica{f(2, 8, 0, "b"), f(3, 9, 0, "b")}, 3},
		{"then most recently caught up", "b", []readReplica{f(2, 9, 50, "b"), f(3, 9, 10, "b")}, 3},
		{"then lowest id", "b", []readReplica{f(3, 9, 10, "b"), f(2, 9, 10, "b")}, 2},
	} {
		if got := selectRackAware(tc.rack, leader, tc.followers).BrokerID; got != tc.want {
			t.Errorf("%s: selected %d, want %d", tc.name, got, tc.want)
		}
	}
}
