package acl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// A three-node cluster where everything authenticates and is
// authorized: the nodes talk SASL_PLAINTEXT (PLAIN, as User:admin, the
// super user) to each other on both the broker and the controller
// listener, and clients log in with SCRAM-SHA-512. alice may WRITE
// topic A only. Her produce requests reach every broker (A's and B's
// partitions have their leaders on different nodes, replication factor
// 3 with acks=all, so the followers' fetches are authorized too): A
// takes them through every node; B answers TOPIC_AUTHORIZATION_FAILED
// on every leader, and its log stays empty.
func TestClusterSASLAuthorizer(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("KAFKATEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := kafkatest.StartCluster(t, 3,
		kafkatest.Logger(logger),
		kafkatest.Config("listener.security.protocol.map", "PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("sasl.mechanism.controller.protocol", "PLAIN"),
		kafkatest.Config("listener.name.plaintext.plain.sasl.jaas.config", users),
		kafkatest.Config("listener.name.controller.plain.sasl.jaas.config", users),
		kafkatest.Config("authorizer.class.name", acl.StandardAuthorizer),
		kafkatest.Config("super.users", "User:admin"),
		kafkatest.Config("auto.create.topics.enable", "false"),
	)
	ids := c.BrokerIDs()
	if len(ids) != 3 {
		t.Fatalf("brokers %v, want 3", ids)
	}
	var seeds []string
	for _, id := range ids {
		seeds = append(seeds, c.BrokerAddr(id))
	}
	admin := newClient(t, seeds, "admin")
	ctx := ctxT(t)

	// Both topics: partition i led by node ids[i], replicas on all three.
	for _, topic := range []string{"A", "B"} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
		for i := range ids {
			ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			ra.Partition = int32(i)
			for j := range ids {
				ra.Replicas = append(ra.Replicas, ids[(i+j)%len(ids)])
			}
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		}
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 10000
		resp, err := req.RequestWith(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.Topics[0].ErrorCode; code != 0 {
			t.Fatalf("create %s: %v", topic, kerr.ErrorForCode(code))
		}
	}
	createACLs(t, admin, allow(acl.ResourceTopic, "A", "User:alice", acl.OpWrite))

	// alice's SCRAM credential, set through one broker (forwarded to
	// the active controller).
	rs, err := kadm.NewClient(admin).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "alice-scram"}})
	if err != nil || rs["alice"].Err != nil {
		t.Fatalf("alter SCRAM credentials: %v %+v", err, rs)
	}

	// Leaders on different nodes, as assigned.
	clusterWaitLeaders(t, admin, ids, "A", "B")

	alice := func(seed string, opts ...kgo.Opt) *kgo.Client {
		t.Helper()
		auth := scram.Auth{User: "alice", Pass: "alice-scram"}.AsSha512Mechanism()
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seed), kgo.SASL(auth), kgo.RetryTimeout(10 * time.Second),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}

	// Through every broker (bootstrapped from each one alone), one
	// record to each partition of A, so each leader takes a write.
	for _, seed := range seeds {
		cl := alice(seed)
		// Each node learns alice's credential from the metadata log.
		deadline := time.Now().Add(20 * time.Second)
		for err := cl.Ping(ctx); err != nil; err = cl.Ping(ctx) {
			if time.Now().After(deadline) {
				t.Fatalf("alice on %s: %v", seed, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for p := range int32(len(ids)) {
			for {
				err := cl.ProduceSync(ctx, &kgo.Record{Topic: "A", Partition: p, Value: []byte(seed)}).FirstErr()
				if err == nil {
					break
				}
				// Until the followers catch up acks=all may be refused.
				if !errors.Is(err, kerr.NotEnoughReplicas) && !errors.Is(err, kerr.NotEnoughReplicasAfterAppend) || ctx.Err() != nil {
					t.Fatalf("produce to A/%d bootstrapped from %s: %v", p, seed, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		// B through the client: its metadata already says no.
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := cl.ProduceSync(short, &kgo.Record{Topic: "B", Partition: 0, Value: []byte("x")}).FirstErr()
		cancel()
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("produce to B bootstrapped from %s: %v, want TOPIC_AUTHORIZATION_FAILED", seed, err)
		}
	}

	// B's leaders themselves refuse a Produce request sent straight to
	// them.
	batch, err := record.Build(record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: time.Now().UnixMilli()}, []record.Record{{Value: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	// By name (v11, a Kafka 3.9 client) and by topic ID (v13, KIP-516);
	// kgo picks the highest version both sides know.
	bID := topicID(t, admin, "B")
	for _, version := range []int16{11, 13} {
		cl := alice(seeds[0])
		if version < 13 {
			cl = alice(seeds[0], kgo.MaxVersions(kversion.V3_9_0()))
		}
		for i, id := range ids {
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis = -1, 5000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "B"
			if version >= 13 {
				rt.Topic, rt.TopicID = "", bID
			}
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = int32(i), batch
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := cl.Broker(int(id)).Request(ctx, req)
			if err != nil {
				t.Fatalf("produce v%d to B/%d on node %d: %v", version, i, id, err)
			}
			if v := resp.(*kmsg.ProduceResponse).Version; v != version {
				t.Fatalf("produce went out as v%d, want v%d", v, version)
			}
			if code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.TopicAuthorizationFailed.Code {
				t.Errorf("produce v%d to B/%d on its leader %d: %v, want TOPIC_AUTHORIZATION_FAILED", version, i, id, kerr.ErrorForCode(code))
			}
		}
	}

	// A holds one record per broker in every partition; B nothing.
	for _, topic := range []string{"A", "B"} {
		want := int64(len(seeds))
		if topic == "B" {
			want = 0
		}
		for p, off := range clusterEndOffsets(t, admin, topic, len(ids)) {
			if off != want {
				t.Errorf("%s/%d ends at %d, want %d", topic, p, off, want)
			}
		}
	}
}

// clusterWaitLeaders waits until partition i of each topic is led by ids[i].
func clusterWaitLeaders(t *testing.T, admin *kgo.Client, ids []int32, topics ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req := kmsg.NewPtrMetadataRequest()
		for _, topic := range topics {
			req.Topics = append(req.Topics, topicReq(topic))
		}
		resp, err := req.RequestWith(ctxT(t), admin)
		if err != nil {
			t.Fatal(err)
		}
		ok := len(resp.Topics) == len(topics)
		var got []string
		for _, rt := range resp.Topics {
			leaders := make([]int32, len(ids))
			for _, p := range rt.Partitions {
				if int(p.Partition) < len(ids) {
					leaders[p.Partition] = p.Leader
				}
			}
			ok = ok && rt.ErrorCode == 0 && slices.Equal(leaders, ids)
			got = append(got, fmt.Sprintf("%s: %v", *rt.Topic, leaders))
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaders %v, want %v", got, ids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// endOffsets lists the log end offset of partitions 0…n-1 of topic.
func clusterEndOffsets(t *testing.T, admin *kgo.Client, topic string, n int) []int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range int32(n) {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	shards := admin.RequestSharded(ctxT(t), req)
	out := make([]int64, n)
	for _, s := range shards {
		if s.Err != nil {
			t.Fatalf("list offsets of %s: %v", topic, s.Err)
		}
		for _, rt := range s.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, p := range rt.Partitions {
				if p.ErrorCode != 0 {
					t.Fatalf("list offsets of %s/%d: %v", topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
				}
				out[p.Partition] = p.Offset
			}
		}
	}
	return out
}
