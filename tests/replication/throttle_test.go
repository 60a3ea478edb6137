package replication

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/cli"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// Replication quotas (KIP-73) on a three-node KRaft cluster, driven the
// way operators drive them: kafka-reassign-partitions --execute --throttle
// sets the topic's throttled-replica lists and the brokers' rates through
// IncrementalAlterConfigs, and the brokers apply them as dynamic configs.
//
// replication.quota.window.size.seconds is 1000 here, so the bytes a
// quota records stay in its window (11 x 1000 s) for the whole test: once
// exceeded, a quota of 1 B/s stays exceeded until its bound is raised,
// whatever the timing. What is checked is therefore behaviour, not speed:
// the throttled partition's new replica gets at most one fetch's worth of
// records while an unthrottled partition moving between the same brokers
// completes, and it catches up once the throttle is lifted.

// reassignTool runs kafka-reassign-partitions and returns its output, or
// fails t.
func reassignTool(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	if code := cli.Run(ctx, env, append([]string{"kafka-reassign-partitions"}, args...)); code != 0 {
		t.Fatalf("kafka-reassign-partitions %v: exit %d\n%s%s", args, code, out.String(), errOut.String())
	}
	return out.String()
}

// dynamicConfigs returns the configs a topic, or broker id (name
// "topic:NAME" or "broker:ID"), has set dynamically on itself or, for a
// broker, as the cluster default.
func dynamicConfigs(t *testing.T, ctx context.Context, adm *kadm.Client, name string) map[string]string {
	t.Helper()
	var rcs kadm.ResourceConfigs
	var err error
	kind, resource, _ := strings.Cut(name, ":")
	if kind == "broker" {
		id, _ := strconv.Atoi(resource)
		rcs, err = adm.DescribeBrokerConfigs(ctx, int32(id))
	} else {
		rcs, err = adm.DescribeTopicConfigs(ctx, resource)
	}
	if err == nil {
		_, err = rcs.On(resource, nil)
	}
	if err != nil {
		t.Fatalf("describe configs of %s: %v", name, err)
	}
	out := map[string]string{}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			switch c.Source {
			case kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigSourceDynamicBrokerConfig, kmsg.ConfigSourceDynamicDefaultBrokerConfig:
				out[c.Key] = c.MaybeValue()
			}
		}
	}
	return out
}

// reassigning counts topic's partitions being reassigned.
func reassigning(t *testing.T, ctx context.Context, adm *kadm.Client, topic string) int {
	t.Helper()
	lr, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{topic: {0: struct{}{}}})
	if err != nil {
		t.Fatalf("ListPartitionReassignments: %v", err)
	}
	n := 0
	lr.Each(func(kadm.ListPartitionReassignmentsResponse) { n++ })
	return n
}

// replicaSize is the size of topic-0's log on broker id (DescribeLogDirs
// sent to that broker), -1 if it has none.
func replicaSize(t *testing.T, ctx context.Context, adm *kadm.Client, id int32, topic string) int64 {
	t.Helper()
	dirs, err := adm.DescribeBrokerLogDirs(ctx, id, kadm.TopicsSet{topic: {0: struct{}{}}})
	if err != nil {
		t.Fatalf("DescribeLogDirs on %d: %v", id, err)
	}
	size := int64(-1)
	dirs.EachPartition(func(p kadm.DescribedLogDirPartition) {
		if p.Topic == topic && p.Partition == 0 && !p.IsFuture {
			size = p.Size
		}
	})
	return size
}

func TestReassignmentThrottle(t *testing.T) {
	ctx := testContext(t)
	const recordBytes = 2000
	c := kafkatest.StartCluster(t, 3, kafkatest.Dir(t.TempDir()),
		kafkatest.Config("replication.quota.window.size.seconds", "1000"),
		// One record batch per partition per fetch.
		kafkatest.Config("replica.fetch.max.bytes", fmt.Sprint(recordBytes)),
		kafkatest.Config("auto.leader.rebalance.enable", "false"))
	addr := c.BrokerAddr(1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)

	// Two fetchers per leader everywhere, changed at runtime: the moves
	// below go through resized fetcher pools.
	if _, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "num.replica.fetchers", Value: kmsg.StringPtr("2")}}); err != nil {
		t.Fatal(err)
	}

	// Two single-replica topics on broker 1, many small batches each.
	const records = 60
	for _, topic := range []string{"slow", "free"} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = 0, []int32{1}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("create %s: %v %v", topic, err, resp)
		}
		eventually(t, ctx, topic+" to have a leader", func() bool {
			td, err := adm.ListTopics(ctx, topic)
			return err == nil && td[topic].Err == nil && len(td[topic].Partitions) == 1 && td[topic].Partitions[0].Leader == 1
		})
		for i := range records {
			r := &kgo.Record{Topic: topic, Partition: 0, Value: bytes.Repeat([]byte{byte('a' + i%26)}, recordBytes-100)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce to %s: %v", topic, err)
			}
		}
	}
	leaderSize := replicaSize(t, ctx, adm, 1, "slow")

	dir := t.TempDir()
	plan := filepath.Join(dir, "slow.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"slow","partition":0,"replicas":[1,2]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := reassignTool(t, ctx, "--bootstrap-server", addr, "--execute", "--reassignment-json-file", plan, "--throttle", "1")
	want := "Current partition replica assignment\n\n" +
		`{"version":1,"partitions":[{"topic":"slow","partition":0,"replicas":[1],"log_dirs":["any"]}]}` + "\n\n" +
		"Save this to use as the --reassignment-json-file option during rollback\n" +
		"Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.\n" +
		"The inter-broker throttle limit was set to 1 B/s\n" +
		"Successfully started partition reassignment for slow-0\n"
	if out != want {
		t.Fatalf("--execute --throttle 1 printed\n%s\nwant\n%s", out, want)
	}
	// Kafka's ReassignPartitionsCommand: the leader list names the
	// current replicas, the follower list the added ones, and both
	// brokers involved get both rates.
	if got := dynamicConfigs(t, ctx, adm, "topic:slow"); got["leader.replication.throttled.replicas"] != "0:1" || got["follower.replication.throttled.replicas"] != "0:2" {
		t.Fatalf("topic throttles %v", got)
	}
	for _, b := range []string{"broker:1", "broker:2"} {
		if got := dynamicConfigs(t, ctx, adm, b); got["leader.replication.throttled.rate"] != "1" || got["follower.replication.throttled.rate"] != "1" {
			t.Fatalf("%s throttles %v", b, got)
		}
	}
	if got := dynamicConfigs(t, ctx, adm, "broker:3"); got["leader.replication.throttled.rate"] != "" {
		t.Fatalf("broker 3, not involved, throttled: %v", got)
	}

	// An unthrottled move between the same two brokers completes.
	assign := kadm.AlterPartitionAssignmentsReq{}
	assign.Assign("free", 0, []int32{1, 2})
	res, err := adm.AlterPartitionAssignments(ctx, assign)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("reassign free: %v", err)
	}
	moved := func(topic string) bool {
		if reassigning(t, ctx, adm, topic) > 0 {
			return false
		}
		td, err := adm.ListTopics(ctx, topic)
		if err != nil || td[topic].Err != nil {
			return false
		}
		p := td[topic].Partitions[0]
		return slices.Equal(p.Replicas, []int32{1, 2}) && slices.Contains(p.ISR, 2)
	}
	eventually(t, ctx, "the unthrottled reassignment", func() bool { return moved("free") })
	if got := replicaSize(t, ctx, adm, 2, "free"); got != leaderSize {
		t.Fatalf("free on broker 2: %d bytes, leader %d", got, leaderSize)
	}

	// Meanwhile the throttled one got at most one fetch's worth: the
	// quotas let the first fetch through and are exceeded after it.
	if n := reassigning(t, ctx, adm, "slow"); n != 1 {
		t.Fatalf("slow's reassignment is not in progress (%d partitions reassigning)", n)
	}
	if got := replicaSize(t, ctx, adm, 2, "slow"); got < 0 || got > 2*recordBytes {
		t.Fatalf("throttled slow on broker 2: %d bytes (leader %d), want at most one batch of about %d", got, leaderSize, recordBytes)
	}

	// Resubmitting with --additional raises the throttle; the move
	// completes and --verify removes every throttle.
	out = reassignTool(t, ctx, "--bootstrap-server", addr, "--execute", "--additional", "--reassignment-json-file", plan, "--throttle", "1000000000")
	if !strings.Contains(out, "The inter-broker throttle limit was set to 1000000000 B/s\n") {
		t.Fatalf("--additional --throttle printed\n%s", out)
	}
	// The move was still going on: its sources are the replicas not
	// being added ([1,2] minus [2]), not the current replica list.
	if got := dynamicConfigs(t, ctx, adm, "topic:slow"); got["leader.replication.throttled.replicas"] != "0:1" || got["follower.replication.throttled.replicas"] != "0:2" {
		t.Fatalf("topic throttles after --additional %v", got)
	}
	eventually(t, ctx, "the throttled reassignment, unthrottled", func() bool { return moved("slow") })
	if got := replicaSize(t, ctx, adm, 2, "slow"); got != leaderSize {
		t.Fatalf("slow on broker 2: %d bytes, leader %d", got, leaderSize)
	}
	out = reassignTool(t, ctx, "--bootstrap-server", addr, "--verify", "--reassignment-json-file", plan)
	want = "Status of partition reassignment:\nReassignment of partition slow-0 is completed.\n\n" +
		"Clearing broker-level throttles on brokers 1,2,3\nClearing topic-level throttles on topic slow\n"
	if out != want {
		t.Fatalf("--verify printed\n%s\nwant\n%s", out, want)
	}
	for _, b := range []string{"broker:1", "broker:2", "broker:3"} {
		got := dynamicConfigs(t, ctx, adm, b)
		if _, ok := got["leader.replication.throttled.rate"]; ok {
			t.Fatalf("%s keeps %v", b, got)
		}
	}
	if got := dynamicConfigs(t, ctx, adm, "topic:slow"); len(got) != 0 {
		t.Fatalf("slow keeps %v", got)
	}
}

// TestReassignThrottleArgs: --throttle only goes with --execute (Kafka's
// permitted options per action).
func TestReassignThrottleArgs(t *testing.T) {
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	code := cli.Run(t.Context(), env, []string{"kafka-reassign-partitions", "--bootstrap-server", "127.0.0.1:1",
		"--verify", "--reassignment-json-file", "x.json", "--throttle", "5"})
	if code == 0 || !strings.Contains(errOut.String(), `Option "[throttle]" can't be used with action "[verify]"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}
