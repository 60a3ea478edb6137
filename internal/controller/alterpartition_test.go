package controller

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// do runs one transcript command line in e.
func (e *clusterEnv) do(line string) string {
	name, args := parseCmd(line)
	return e.run(transcriptCmd{pos: line, name: name, args: args})
}

// shuttingDown commits broker id's entry into controlled shutdown (a
// broker that leads nothing would be told to stop at once instead).
func (e *clusterEnv) shuttingDown(id int32) {
	b, _ := e.im().Broker(id)
	e.commit([]metadata.Record{{Type: metadata.TypeBrokerRegistrationChange, Broker: &metadata.BrokerRecord{
		ID: id, Epoch: b.Epoch, ControlledShutdownChange: metadata.ControlledShutdownEnter}}})
}

// alterPartitionImage has brokers 1-3 active, 4 fenced, 5 in controlled
// shutdown, and t-0 with replicas [1 2 3 4 5 6] (6 never registered),
// ISR [1 2], leader 1 at leader epoch 1.
func alterPartitionImage(t *testing.T) (*clusterEnv, *metadata.Topic) {
	e := newClusterEnv(t)
	for _, l := range []string{
		"register id=1", "register id=2", "register id=3", "register id=4", "register id=5",
		"heartbeat id=1", "heartbeat id=2", "heartbeat id=3", "heartbeat id=5",
		"create-topic name=t partitions=1 rf=5",
	} {
		e.do(l)
	}
	tp, _ := e.im().Topic("t")
	e.commit([]metadata.Record{{Type: metadata.TypePartitionChg, TopicID: tp.ID, Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1,
		Replicas: []int32{1, 2, 3, 4, 5, 6}, ISR: []int32{1, 2}}})
	e.shuttingDown(5)
	if b, _ := e.im().Broker(5); !b.InControlledShutdown {
		t.Fatalf("broker 5 not in controlled shutdown: %+v", b)
	}
	tp, _ = e.im().Topic("t")
	return e, tp
}

func TestAlterPartition(t *testing.T) {
	members := func(ids ...int32) []ISRMember {
		var out []ISRMember
		for _, id := range ids {
			out = append(out, ISRMember{BrokerID: id, BrokerEpoch: -1})
		}
		return out
	}
	for _, tc := range []struct {
		name                string
		sender              int32
		leaderEpoch, pEpoch int32
		isr                 []ISRMember
		want                *kerr.Error
	}{
		{"expand", 1, 1, 1, members(1, 2, 3), nil},
		{"shrink to the leader alone (min.insync.replicas is the producer's business)", 1, 1, 1, members(1), nil},
		{"unchanged", 1, 1, 1, members(1, 2), nil},
		{"with the right broker epoch", 1, 1, 1, []ISRMember{{1, 1}, {3, 3}}, nil},
		{"leader epoch from the future", 1, 2, 1, members(1, 2, 3), kerr.NotController},
		{"partition epoch from the future", 1, 1, 2, members(1, 2, 3), kerr.NotController},
		{"stale leader epoch", 1, 0, 1, members(1, 2, 3), kerr.FencedLeaderEpoch},
		{"not the leader", 2, 1, 1, members(1, 2, 3), kerr.InvalidRequest},
		{"stale partition epoch", 1, 1, 0, members(1, 2, 3), kerr.InvalidUpdateVersion},
		{"not a replica", 1, 1, 1, members(1, 2, 9), kerr.InvalidRequest},
		{"duplicate", 1, 1, 1, members(1, 2, 2), kerr.InvalidRequest},
		{"without the leader", 1, 1, 1, members(2, 3), kerr.InvalidRequest},
		{"empty", 1, 1, 1, nil, kerr.InvalidRequest},
		{"fenced replica", 1, 1, 1, members(1, 2, 4), kerr.IneligibleReplica},
		{"replica in controlled shutdown", 1, 1, 1, members(1, 2, 5), kerr.IneligibleReplica},
		{"unregistered replica", 1, 1, 1, members(1, 2, 6), kerr.IneligibleReplica},
		{"other broker epoch", 1, 1, 1, []ISRMember{{1, -1}, {3, 2}}, kerr.IneligibleReplica},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, tp := alterPartitionImage(t)
			before := tp.Partitions[0]
			b, _ := e.im().Broker(tc.sender)
			res := e.cluster.AlterPartition(e.im(), AlterPartitionRequest{BrokerID: tc.sender, BrokerEpoch: b.Epoch, Topics: []AlterPartitionTopic{{
				TopicID: tp.ID, Partitions: []AlterPartitionData{{Partition: 0, LeaderEpoch: tc.leaderEpoch, PartitionEpoch: tc.pEpoch, NewISR: tc.isr}},
			}}})
			if res.Response.Err != nil {
				t.Fatal(res.Response.Err)
			}
			r := res.Response.Topics[0].Partitions[0]
			if tc.want != nil {
				if apierror.Code(r.Err) != tc.want.Code || len(res.Records) != 0 {
					t.Fatalf("got %v with %d records, want %s", r.Err, len(res.Records), tc.want.Message)
				}
				return
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			var isr []int32
			for _, m := range tc.isr {
				isr = append(isr, m.BrokerID)
			}
			wantEpoch := before.PartitionEpoch + 1
			if slices.Equal(isr, before.ISR) {
				wantEpoch = before.PartitionEpoch
				if len(res.Records) != 0 {
					t.Fatalf("no-op change wrote %+v", res.Records)
				}
			}
			if !slices.Equal(r.ISR, isr) || r.Leader != 1 || r.LeaderEpoch != 1 || r.PartitionEpoch != wantEpoch {
				t.Fatalf("result %+v", r)
			}
			e.commit(res.Records)
			after, _ := e.im().Topic("t")
			if p := after.Partitions[0]; !slices.Equal(p.ISR, isr) || p.PartitionEpoch != wantEpoch || p.LeaderEpoch != 1 {
				t.Fatalf("committed %+v", p)
			}
		})
	}
}

func TestAlterPartitionRequestLevel(t *testing.T) {
	e, tp := alterPartitionImage(t)
	// A stale sender epoch fails the whole request.
	res := e.cluster.AlterPartition(e.im(), AlterPartitionRequest{BrokerID: 1, BrokerEpoch: 99})
	if apierror.Code(res.Response.Err) != kerr.StaleBrokerEpoch.Code {
		t.Fatalf("stale sender: %v", res.Response.Err)
	}
	// Unknown topic id and partition; and the same partition twice: the
	// second proposal was made at the epoch the first one replaced.
	data := AlterPartitionData{Partition: 0, LeaderEpoch: 1, PartitionEpoch: 1, NewISR: []ISRMember{{1, -1}, {2, -1}, {3, -1}}}
	res = e.cluster.AlterPartition(e.im(), AlterPartitionRequest{BrokerID: 1, BrokerEpoch: 1, Topics: []AlterPartitionTopic{
		{TopicID: metadata.NewTopicID(), Partitions: []AlterPartitionData{data}},
		{TopicID: tp.ID, Partitions: []AlterPartitionData{{Partition: 3}, data, data}},
	}})
	got := []int16{
		apierror.Code(res.Response.Topics[0].Partitions[0].Err),
		apierror.Code(res.Response.Topics[1].Partitions[0].Err),
		apierror.Code(res.Response.Topics[1].Partitions[1].Err),
		apierror.Code(res.Response.Topics[1].Partitions[2].Err),
	}
	want := []int16{kerr.UnknownTopicID.Code, kerr.UnknownTopicOrPartition.Code, 0, kerr.InvalidUpdateVersion.Code}
	if !slices.Equal(got, want) || len(res.Records) != 1 {
		t.Fatalf("codes %v, want %v; %d records", got, want, len(res.Records))
	}
	e.commit(res.Records)
}

// TestFenceTwoBrokersInOneTick: both sessions expire together; the second
// fencing must build on the first's change of the same partitions, or the
// batch would carry two changes at one partition epoch.
func TestFenceTwoBrokersInOneTick(t *testing.T) {
	e := newClusterEnv(t)
	for _, l := range []string{
		"register id=1", "register id=2", "register id=3",
		"heartbeat id=1", "heartbeat id=2", "heartbeat id=3",
		"create-topic name=t partitions=3 rf=3",
		"advance by=5s", "heartbeat id=3", "advance by=4s",
	} {
		e.do(l)
	}
	res := e.cluster.Tick(e.im(), e.now)
	if !slices.Equal(res.Response.Fenced, []int32{1, 2}) {
		t.Fatalf("fenced %v", res.Response.Fenced)
	}
	e.commit(res.Records) // fails the test if Image.Apply refuses the batch
	tp, _ := e.im().Topic("t")
	for i, p := range tp.Partitions {
		if p.Leader != 3 || !slices.Equal(p.ISR, []int32{3}) {
			t.Fatalf("partition %d: %+v", i, p)
		}
	}
	if got := e.cluster.Tick(e.im(), e.now); len(got.Records) != 0 {
		t.Fatalf("second tick: %+v", got.Records)
	}
}

// TestNewClusterStartsFreshSessions: a controller that becomes active does
// not know when brokers last heartbeated; they get a full session from
// activation (BrokerHeartbeatManager on failover).
func TestNewClusterStartsFreshSessions(t *testing.T) {
	e := newClusterEnv(t)
	for _, l := range []string{"register id=1", "heartbeat id=1", "advance by=1h"} {
		e.do(l)
	}
	c, err := NewCluster(DefaultClusterConfig(), e.im(), e.now)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Tick(e.im(), e.now.Add(8*time.Second)); len(got.Response.Fenced) != 0 {
		t.Fatalf("fenced before a session ran out: %v", got.Response.Fenced)
	}
	if got := c.NextDeadline(e.im()); !got.Equal(e.now.Add(9 * time.Second)) {
		t.Fatalf("next deadline %v", got.Sub(e.now))
	}
	if got := c.Tick(e.im(), e.now.Add(9*time.Second)); !slices.Equal(got.Response.Fenced, []int32{1}) {
		t.Fatalf("fenced %v", got.Response.Fenced)
	}
}

func TestClusterConfigValidate(t *testing.T) {
	good := DefaultClusterConfig()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*ClusterConfig){
		func(c *ClusterConfig) { c.SessionTimeout = 0 },
		func(c *ClusterConfig) { c.LeaderImbalancePerBrokerPercentage = 101 },
		func(c *ClusterConfig) { c.LeaderImbalanceCheckInterval = 0 },
	} {
		cfg := DefaultClusterConfig()
		bad(&cfg)
		if _, err := NewCluster(cfg, metadata.Empty, time.Time{}); err == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
}

// TestCreateTopicOverFencedBrokers: replicas go to fenced brokers only when
// the replication factor needs them, they start out of the ISR, and a
// manual assignment needs one active broker per partition.
func TestCreateTopicOverFencedBrokers(t *testing.T) {
	e := newClusterEnv(t)
	for _, l := range []string{"register id=1", "register id=2", "register id=3", "register id=4",
		"heartbeat id=1", "heartbeat id=2", "heartbeat id=4"} {
		e.do(l)
	}
	e.shuttingDown(4)
	// 1, 2 active; 3 fenced; 4 in controlled shutdown (not usable).
	r := e.ctl.CreateTopics([]CreateTopic{{Name: "t", NumPartitions: 4, ReplicationFactor: 3}}, false)
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	tp, _ := e.im().Topic("t")
	for i, p := range tp.Partitions {
		if !slices.Contains(p.Replicas, 3) || slices.Contains(p.Replicas, 4) || slices.Contains(p.ISR, 3) || p.Leader == 3 || len(p.ISR) != 2 {
			t.Fatalf("partition %d: %+v", i, p)
		}
	}
	if r := e.ctl.CreateTopics([]CreateTopic{{Name: "u", NumPartitions: 1, ReplicationFactor: 4}}, false); apierror.Code(r[0].Err) != kerr.InvalidReplicationFactor.Code {
		t.Fatalf("rf 4 over 3 usable brokers: %v", r[0].Err)
	}
	manual := func(replicas ...int32) error {
		return e.ctl.CreateTopics([]CreateTopic{{Name: "m", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: replicas}}}, true)[0].Err
	}
	if err := manual(3, 4); apierror.Code(err) != kerr.InvalidReplicaAssignment.Code {
		t.Fatalf("all fenced or shutting down: %v", err)
	}
	if err := manual(2, 9); apierror.Code(err) != kerr.InvalidReplicaAssignment.Code {
		t.Fatalf("unregistered: %v", err)
	}
	if err := manual(3, 2); err != nil {
		t.Fatalf("one active replica: %v", err)
	}
	if err := e.ctl.CreatePartitions("t", 6, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := e.ctl.CreatePartitions("t", 7, [][]int32{{3, 4, 1}}, false); err != nil {
		t.Fatal(err)
	}
	tp, _ = e.im().Topic("t")
	if p := tp.Partitions[6]; p.Leader != 1 || !slices.Equal(p.ISR, []int32{1}) {
		t.Fatalf("manual partition 6: %+v", p)
	}
	if err := e.ctl.CreatePartitions("t", 8, [][]int32{{3, 4, 3}}, false); apierror.Code(err) != kerr.InvalidReplicaAssignment.Code {
		t.Fatalf("duplicate: %v", err)
	}
}

// TestReassignCancelNeedsUnclean: cancelling a reassignment when only
// adding replicas are in sync would make a replica outside the ISR the
// leader (PartitionReassignmentRevert.unclean), which needs the topic to
// allow unclean election.
func TestReassignCancelNeedsUnclean(t *testing.T) {
	e := newClusterEnv(t)
	for _, l := range []string{"config rebalance=false", "register id=1", "register id=2", "register id=3",
		"heartbeat id=1", "heartbeat id=2", "heartbeat id=3", "create-topic name=t partitions=1 rf=1"} {
		e.do(l)
	}
	tp, _ := e.im().Topic("t")
	orig := tp.Partitions[0].Replicas[0]
	target := orig%3 + 1
	// Move the single replica from orig to target: target is adding,
	// orig removing, until target joins the ISR.
	res := e.cluster.AlterPartitionReassignments(e.im(), ReassignmentsRequest{
		Partitions: []PartitionReassignment{{Topic: "t", Partition: 0, Replicas: []int32{target}}}})
	e.commit(res.Records)
	// orig is fenced before that happens: it stays in the ISR as its last
	// member, leaderless; an unclean election then makes target the
	// leader and the whole ISR, with the reassignment still open.
	e.do("heartbeat id=" + itoa(orig) + " want-fence")
	e.do("elect type=unclean topic=t p=0")
	tp, _ = e.im().Topic("t")
	if p := tp.Partitions[0]; !slices.Equal(p.ISR, []int32{target}) || p.Leader != target || !p.Reassigning() {
		t.Fatalf("after unclean election: %+v", p)
	}
	cancel := ReassignmentsRequest{Partitions: []PartitionReassignment{{Topic: "t", Partition: 0}}}
	res = e.cluster.AlterPartitionReassignments(e.im(), cancel)
	if apierror.Code(res.Response[0].Err) != kerr.InvalidReplicaAssignment.Code || len(res.Records) != 0 {
		t.Fatalf("cancel without unclean election: %v", res.Response[0].Err)
	}
	e.do("set-config topic=t unclean.leader.election.enable=true")
	res = e.cluster.AlterPartitionReassignments(e.im(), cancel)
	if res.Response[0].Err != nil {
		t.Fatal(res.Response[0].Err)
	}
	e.commit(res.Records)
	// Back to [orig], which is fenced: the ISR is orig, leaderless until
	// it returns.
	tp, _ = e.im().Topic("t")
	if p := tp.Partitions[0]; p.Reassigning() || !slices.Equal(p.Replicas, []int32{orig}) || !slices.Equal(p.ISR, []int32{orig}) || p.Leader != metadata.NoLeader {
		t.Fatalf("reverted: %+v", p)
	}
}

func TestElectLeadersRequest(t *testing.T) {
	e := newClusterEnv(t)
	for _, l := range []string{"register id=1", "register id=2", "heartbeat id=1", "heartbeat id=2",
		"create-topic name=t partitions=2 rf=2", "heartbeat id=1 want-fence", "heartbeat id=1"} {
		e.do(l)
	}
	if res := e.cluster.ElectLeaders(e.im(), 7, nil); apierror.Code(res.Response.Err) != kerr.InvalidRequest.Code {
		t.Fatalf("unknown type: %v", res.Response.Err)
	}
	// All partitions: only the one whose preferred leader (1) is not
	// leading is listed; 1 is not in its ISR yet.
	res := e.cluster.ElectLeaders(e.im(), ElectPreferred, nil)
	if len(res.Response.Results) != 1 || apierror.Code(res.Response.Results[0].Err) != kerr.PreferredLeaderNotAvailable.Code {
		t.Fatalf("all partitions: %+v", res.Response.Results)
	}
	res = e.cluster.ElectLeaders(e.im(), ElectPreferred, []TopicPartitions{{Topic: "t", Partitions: []int32{5}}, {Topic: "x", Partitions: []int32{0}}})
	for _, r := range res.Response.Results {
		if apierror.Code(r.Err) != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("unknown: %+v", r)
		}
	}
	if res := e.cluster.ElectLeaders(e.im(), ElectPreferred, []TopicPartitions{}); len(res.Response.Results) != 0 {
		t.Fatalf("empty list elected %+v", res.Response.Results)
	}
}
