package e2e

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// newTopic is one topic of a raw CreateTopics request.
func newTopic(name string, partitions int32, rf int16, configs map[string]string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, str(v)
		rt.Configs = append(rt.Configs, c)
	}
	return rt
}

// createTopics sends a raw CreateTopics (kgo's highest version) and
// returns the answers by topic name, checking they come in request order.
func (e *env) createTopics(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) []kmsg.CreateTopicsResponseTopic {
	e.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	req.ValidateOnly = validateOnly
	req.Topics = topics
	resp := request[*kmsg.CreateTopicsResponse](e.t, e.ctx, e.cl, req)
	if len(resp.Topics) != len(topics) {
		e.t.Fatalf("CreateTopics answered %d topics for %d", len(resp.Topics), len(topics))
	}
	return resp.Topics
}

// metadata sends a raw Metadata v12 for the named topics (nil = all).
func (e *env) metadata(allowAutoCreate bool, topics ...string) *kmsg.MetadataResponse {
	e.t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.AllowAutoTopicCreation = allowAutoCreate
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, name := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = str(name)
			req.Topics = append(req.Topics, rt)
		}
	}
	r, err := dialRaw(e.t, e.c.Addr()).roundTrip(req)
	if err != nil {
		e.t.Fatalf("metadata: %v", err)
	}
	return r.(*kmsg.MetadataResponse)
}

// topicMeta returns the metadata of one topic.
func (e *env) topicMeta(name string) kmsg.MetadataResponseTopic {
	e.t.Helper()
	resp := e.metadata(false, name)
	if len(resp.Topics) != 1 {
		e.t.Fatalf("metadata for %s: %d topics", name, len(resp.Topics))
	}
	return resp.Topics[0]
}

// TestCreateTopics covers CreateTopics success paths: configs and the
// KIP-525 response (partitions, replication factor, configs with their
// sources), topic ids (KIP-516), validate_only (nothing created) and -1
// partitions/replication factor taking the broker defaults (KIP-464).
func TestCreateTopics(t *testing.T) {
	t.Parallel()
	e := start(t, kafkatest.Config("num.partitions", "3"))

	res := e.createTopics(false, newTopic("ct-conf", 2, 1, map[string]string{"retention.ms": "123456", "cleanup.policy": "compact"}))[0]
	wantCode(t, "create with configs", res.ErrorCode, nil)
	if res.NumPartitions != 2 || res.ReplicationFactor != 1 || res.TopicID == [16]byte{} {
		t.Errorf("create response: partitions %d rf %d id %x", res.NumPartitions, res.ReplicationFactor, res.TopicID)
	}
	confs := map[string]kmsg.CreateTopicsResponseTopicConfig{}
	for _, c := range res.Configs {
		confs[c.Name] = c
	}
	if c := confs["retention.ms"]; c.Value == nil || *c.Value != "123456" || kmsg.ConfigSource(c.Source) != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("retention.ms in the create response: %v source %v", c.Value, c.Source)
	}
	if c := confs["segment.bytes"]; c.Value == nil || *c.Value != "1073741824" || kmsg.ConfigSource(c.Source) != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("segment.bytes in the create response: %v source %v, want the default", c.Value, c.Source)
	}
	md := e.topicMeta("ct-conf")
	if md.TopicID != res.TopicID || len(md.Partitions) != 2 {
		t.Errorf("metadata: id %x, %d partitions; create said %x, 2", md.TopicID, len(md.Partitions), res.TopicID)
	}
	dc, err := e.adm.DescribeTopicConfigs(e.ctx, "ct-conf")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := dc.On("ct-conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.MaybeValue() != "compact" {
			t.Errorf("cleanup.policy described as %q", c.MaybeValue())
		}
	}

	// validate_only creates nothing and answers what would be created.
	vo := e.createTopics(true, newTopic("ct-validate", 4, 1, nil))[0]
	wantCode(t, "validate only", vo.ErrorCode, nil)
	if vo.NumPartitions != 4 {
		t.Errorf("validate only answered %d partitions, want 4", vo.NumPartitions)
	}
	wantCode(t, "metadata after validate only", e.topicMeta("ct-validate").ErrorCode, kerr.UnknownTopicOrPartition)

	// -1 takes num.partitions (3 here) and default.replication.factor.
	def := e.createTopics(false, newTopic("ct-default", -1, -1, nil))[0]
	wantCode(t, "create with defaults", def.ErrorCode, nil)
	if def.NumPartitions != 3 || def.ReplicationFactor != 1 {
		t.Errorf("defaults: %d partitions, rf %d; want 3, 1", def.NumPartitions, def.ReplicationFactor)
	}
	if n := len(e.topicMeta("ct-default").Partitions); n != 3 {
		t.Errorf("metadata shows %d partitions, want 3", n)
	}

	// A manual assignment on the only broker.
	manual := newTopic("ct-manual", -1, -1, nil)
	for p := int32(0); p < 2; p++ {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = p, []int32{1}
		manual.ReplicaAssignment = append(manual.ReplicaAssignment, a)
	}
	wantCode(t, "manual assignment", e.createTopics(false, manual)[0].ErrorCode, nil)
	if n := len(e.topicMeta("ct-manual").Partitions); n != 2 {
		t.Errorf("manual assignment created %d partitions, want 2", n)
	}

	// Each topic is usable right away.
	e.produceValues("ct-default", 2, "v", 3)
	if got := e.consumeAll("ct-default", 3, 3); got[2].Partition != 2 {
		t.Errorf("read from partition %d", got[2].Partition)
	}
}

// TestCreateTopicsErrors checks each invalid CreateTopics input gets
// Kafka's error (ReplicationControlManager.createTopic and
// Topic.validate): existing topic, bad names, names colliding on '.'/'_',
// bad configs, unreachable replication factor, bad partition counts, and
// bad manual assignments.
func TestCreateTopicsErrors(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("exists", 1, nil)
	e.createTopic("dot.ted", 1, nil)
	long := strings.Repeat("x", 250)
	for _, tc := range []struct {
		name  string
		topic kmsg.CreateTopicsRequestTopic
		want  error
	}{
		{"duplicate", newTopic("exists", 1, 1, nil), kerr.TopicAlreadyExists},
		{"empty name", newTopic("", 1, 1, nil), kerr.InvalidTopicException},
		{"dot", newTopic(".", 1, 1, nil), kerr.InvalidTopicException},
		{"dot dot", newTopic("..", 1, 1, nil), kerr.InvalidTopicException},
		{"slash", newTopic("a/b", 1, 1, nil), kerr.InvalidTopicException},
		{"space", newTopic("a b", 1, 1, nil), kerr.InvalidTopicException},
		{"250 chars", newTopic(long, 1, 1, nil), kerr.InvalidTopicException},
		{"collides with dot.ted", newTopic("dot_ted", 1, 1, nil), kerr.InvalidTopicException},
		{"unknown config", newTopic("c1", 1, 1, map[string]string{"no.such.config": "1"}), kerr.InvalidConfig},
		{"non-numeric retention.ms", newTopic("c2", 1, 1, map[string]string{"retention.ms": "soon"}), kerr.InvalidConfig},
		{"bad cleanup.policy", newTopic("c3", 1, 1, map[string]string{"cleanup.policy": "shred"}), kerr.InvalidConfig},
		{"segment.bytes below minimum", newTopic("c4", 1, 1, map[string]string{"segment.bytes": "10"}), kerr.InvalidConfig},
		{"rf 3 on one broker", newTopic("r3", 1, 3, nil), kerr.InvalidReplicationFactor},
		{"rf 0", newTopic("r0", 1, 0, nil), kerr.InvalidReplicationFactor},
		{"rf -2", newTopic("rm2", 1, -2, nil), kerr.InvalidReplicationFactor},
		{"0 partitions", newTopic("p0", 0, 1, nil), kerr.InvalidPartitions},
		{"-2 partitions", newTopic("pm2", -2, 1, nil), kerr.InvalidPartitions},
	} {
		got := e.createTopics(false, tc.topic)[0]
		wantCode(t, tc.name, got.ErrorCode, tc.want)
		if got.ErrorCode != 0 && got.Topic != tc.topic.Topic {
			t.Errorf("%s: answered for topic %q", tc.name, got.Topic)
		}
	}
	// None of the rejected names exist now.
	for _, name := range []string{"c1", "c2", "c3", "c4", "r3", "r0", "p0", "dot_ted"} {
		wantCode(t, "metadata of rejected "+name, e.topicMeta(name).ErrorCode, kerr.UnknownTopicOrPartition)
	}

	// validate_only reports the same errors.
	wantCode(t, "validate only, existing", e.createTopics(true, newTopic("exists", 1, 1, nil))[0].ErrorCode, kerr.TopicAlreadyExists)
	wantCode(t, "validate only, rf 3", e.createTopics(true, newTopic("v3", 1, 3, nil))[0].ErrorCode, kerr.InvalidReplicationFactor)
}

// TestCreateTopicsAssignmentErrors: a manual assignment naming an
// unregistered broker is INVALID_REPLICA_ASSIGNMENT, and so is one that
// gives partition counts and replication factor as well (Kafka requires
// -1 for both with an assignment: "Both numPartitions or
// replicationFactor and replicasAssignments were set").
func TestCreateTopicsAssignmentErrors(t *testing.T) {
	t.Parallel()
	e := start(t)
	assign := func(name string, parts, rf int32, replicas ...int32) kmsg.CreateTopicsRequestTopic {
		rt := newTopic(name, parts, int16(rf), nil)
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = 0, replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		return rt
	}
	wantCode(t, "assignment to broker 2", e.createTopics(false, assign("a1", -1, -1, 2))[0].ErrorCode, kerr.InvalidReplicaAssignment)
	wantCode(t, "assignment with partitions set", e.createTopics(false, assign("a2", 1, 1, 1))[0].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "assignment with a replica twice", e.createTopics(false, assign("a3", -1, -1, 1, 1))[0].ErrorCode, kerr.InvalidReplicaAssignment)
}

// TestCreateTopicsDuplicateInRequest names one topic twice in a request:
// Kafka answers INVALID_REQUEST for it and creates nothing
// (ControllerApis.createTopics: "Duplicate topic name.").
func TestCreateTopicsDuplicateInRequest(t *testing.T) {
	t.Parallel()
	e := start(t)
	res := e.createTopics(false, newTopic("twice", 1, 1, nil), newTopic("twice", 2, 1, nil), newTopic("once", 1, 1, nil))
	for i, r := range res[:2] {
		wantCode(t, fmt.Sprintf("duplicate entry %d", i), r.ErrorCode, kerr.InvalidRequest)
	}
	wantCode(t, "the other topic", res[2].ErrorCode, nil)
	wantCode(t, "metadata of twice", e.topicMeta("twice").ErrorCode, kerr.UnknownTopicOrPartition)
}

// TestDeleteTopics deletes by name (DeleteTopics v5 and v6) and by id
// (v6, KIP-516); unknown names and ids get UNKNOWN_TOPIC_OR_PARTITION and
// UNKNOWN_TOPIC_ID; a deleted topic is gone from Metadata and produce.
func TestDeleteTopics(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, n := range []string{"d-kadm", "d-v5", "d-id", "d-keep"} {
		e.createTopic(n, 2, nil)
		e.produceValues(n, 1, "v", 2)
	}

	// kadm (by name).
	r, err := e.adm.DeleteTopics(e.ctx, "d-kadm")
	if err != nil {
		t.Fatal(err)
	}
	if dr, ok := r["d-kadm"]; !ok || dr.Err != nil {
		t.Errorf("kadm DeleteTopics: %+v", dr)
	}

	// v5 by name on a raw connection.
	req5 := kmsg.NewPtrDeleteTopicsRequest()
	req5.Version = 5
	req5.TimeoutMillis = 10000
	req5.TopicNames = []string{"d-v5", "nope"}
	raw, err := dialRaw(t, e.c.Addr()).roundTrip(req5)
	if err != nil {
		t.Fatal(err)
	}
	resp5 := raw.(*kmsg.DeleteTopicsResponse)
	if len(resp5.Topics) != 2 {
		t.Fatalf("v5 answered %d topics", len(resp5.Topics))
	}
	for _, rt := range resp5.Topics {
		switch *rt.Topic {
		case "d-v5":
			wantCode(t, "v5 delete d-v5", rt.ErrorCode, nil)
		case "nope":
			wantCode(t, "v5 delete nope", rt.ErrorCode, kerr.UnknownTopicOrPartition)
		default:
			t.Errorf("v5 answered for %q", *rt.Topic)
		}
	}

	// v6 by id, plus an unknown id.
	id := e.topicID("d-id")
	req6 := kmsg.NewPtrDeleteTopicsRequest()
	req6.Version = 6
	req6.TimeoutMillis = 10000
	for _, tid := range [][16]byte{id, {9, 9, 9}} {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.TopicID = tid
		req6.Topics = append(req6.Topics, rt)
	}
	raw, err = dialRaw(t, e.c.Addr()).roundTrip(req6)
	if err != nil {
		t.Fatal(err)
	}
	resp6 := raw.(*kmsg.DeleteTopicsResponse)
	if len(resp6.Topics) != 2 {
		t.Fatalf("v6 answered %d topics", len(resp6.Topics))
	}
	for _, rt := range resp6.Topics {
		switch rt.TopicID {
		case id:
			wantCode(t, "v6 delete by id", rt.ErrorCode, nil)
			if rt.Topic == nil || *rt.Topic != "d-id" {
				t.Errorf("v6 delete by id answered name %v, want d-id", rt.Topic)
			}
		case [16]byte{9, 9, 9}:
			wantCode(t, "v6 delete unknown id", rt.ErrorCode, kerr.UnknownTopicID)
		default:
			t.Errorf("v6 answered for id %x", rt.TopicID)
		}
	}

	for _, n := range []string{"d-kadm", "d-v5", "d-id"} {
		wantCode(t, "metadata of deleted "+n, e.topicMeta(n).ErrorCode, kerr.UnknownTopicOrPartition)
		wantCode(t, "produce to deleted "+n, e.produceRaw(n, 0, 1, buildBatch(0, rawRecord{value: []byte("x")})).ErrorCode, kerr.UnknownTopicOrPartition)
	}
	wantCode(t, "metadata of kept topic", e.topicMeta("d-keep").ErrorCode, nil)
	all := e.metadata(false)
	for _, mt := range all.Topics {
		if n := *mt.Topic; strings.HasPrefix(n, "d-") && n != "d-keep" {
			t.Errorf("deleted topic %s still listed", n)
		}
	}
}

// TestDeleteTopicsDisabled: with delete.topic.enable=false every
// deletion is TOPIC_DELETION_DISABLED and the topic stays.
func TestDeleteTopicsDisabled(t *testing.T) {
	t.Parallel()
	e := start(t, kafkatest.Config("delete.topic.enable", "false"))
	e.createTopic("stay", 1, nil)
	r, err := e.adm.DeleteTopics(e.ctx, "stay")
	if err != nil {
		t.Fatal(err)
	}
	if !errorsIs(r["stay"].Err, kerr.TopicDeletionDisabled) {
		t.Errorf("delete with delete.topic.enable=false: %v", r["stay"].Err)
	}
	wantCode(t, "metadata", e.topicMeta("stay").ErrorCode, nil)
}

// TestCreatePartitions grows a topic and uses the new partitions; fewer
// or the same number of partitions is INVALID_PARTITIONS, unknown topics
// UNKNOWN_TOPIC_OR_PARTITION, and validate_only changes nothing
// (ReplicationControlManager.createPartitions).
func TestCreatePartitions(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("grow", 2, nil)
	e.produceValues("grow", 0, "old", 2)

	v, err := e.adm.ValidateUpdatePartitions(e.ctx, 8, "grow")
	if err != nil || v["grow"].Err != nil {
		t.Fatalf("validate-only grow: %v %v", err, v["grow"].Err)
	}
	if n := len(e.topicMeta("grow").Partitions); n != 2 {
		t.Fatalf("validate-only grow changed the partition count to %d", n)
	}

	r, err := e.adm.UpdatePartitions(e.ctx, 5, "grow")
	if err != nil || r["grow"].Err != nil {
		t.Fatalf("grow to 5: %v %v", err, r["grow"].Err)
	}
	md := e.topicMeta("grow")
	if len(md.Partitions) != 5 {
		t.Fatalf("metadata shows %d partitions after growing to 5", len(md.Partitions))
	}
	for _, p := range md.Partitions {
		if p.Leader != 1 || p.ErrorCode != 0 {
			t.Errorf("partition %d: leader %d, error %d", p.Partition, p.Leader, p.ErrorCode)
		}
	}
	e.reconnect() // a fresh client, so its metadata has 5 partitions
	e.produceValues("grow", 4, "new", 3)
	got := e.consume(map[string]map[int32]kgo.Offset{"grow": {4: kgo.NewOffset().AtStart()}}, 3)
	if got[0].Partition != 4 || string(got[2].Value) != "new-2" {
		t.Errorf("read %q from partition %d", got[2].Value, got[0].Partition)
	}
	ends, err := e.adm.ListEndOffsets(e.ctx, "grow")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("grow", 3); o.Offset != 0 || o.Err != nil {
		t.Errorf("new empty partition 3 end offset %d (%v)", o.Offset, o.Err)
	}

	for _, tc := range []struct {
		count int
		topic string
		want  error
	}{
		{3, "grow", kerr.InvalidPartitions},
		{5, "grow", kerr.InvalidPartitions},
		{9, "nope", kerr.UnknownTopicOrPartition},
	} {
		r, err := e.adm.UpdatePartitions(e.ctx, tc.count, tc.topic)
		if err != nil {
			t.Fatal(err)
		}
		if !errorsIs(r[tc.topic].Err, tc.want) {
			t.Errorf("set %s to %d partitions: %v, want %v", tc.topic, tc.count, r[tc.topic].Err, tc.want)
		}
	}
	if n := len(e.topicMeta("grow").Partitions); n != 5 {
		t.Errorf("partition count %d after refused changes, want 5", n)
	}
}

// TestMetadata checks the Metadata answer for a single node: the broker
// (host and port clients dial), controller, cluster id, partitions led by
// node 1 with replicas and ISR [1], topic ids (KIP-516) equal to the ids
// CreateTopics returned, lookups by id (v12), and unknown names and ids.
func TestMetadata(t *testing.T) {
	t.Parallel()
	e := start(t)
	id := e.createTopic("md", 3, nil)

	all := e.metadata(false)
	if len(all.Brokers) != 1 {
		t.Fatalf("%d brokers", len(all.Brokers))
	}
	b := all.Brokers[0]
	host, port, _ := net.SplitHostPort(e.c.Addr())
	if b.NodeID != 1 || b.Host != host || strconv.Itoa(int(b.Port)) != port {
		t.Errorf("broker %d at %s:%d, want 1 at %s", b.NodeID, b.Host, b.Port, e.c.Addr())
	}
	if all.ControllerID != 1 || all.ClusterID == nil || *all.ClusterID == "" {
		t.Errorf("controller %d, cluster id %v", all.ControllerID, all.ClusterID)
	}
	var found bool
	for _, mt := range all.Topics {
		if *mt.Topic != "md" {
			continue
		}
		found = true
		if mt.TopicID != id || mt.IsInternal || len(mt.Partitions) != 3 {
			t.Errorf("md: id %x (want %x), internal %v, %d partitions", mt.TopicID, id, mt.IsInternal, len(mt.Partitions))
		}
		for _, p := range mt.Partitions {
			if p.Leader != 1 || p.LeaderEpoch < 0 || fmt.Sprint(p.Replicas) != "[1]" || fmt.Sprint(p.ISR) != "[1]" {
				t.Errorf("md/%d: leader %d epoch %d replicas %v isr %v", p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR)
			}
		}
	}
	if !found {
		t.Error("all-topics metadata lacks md")
	}

	// By id (v12), known and unknown.
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	for _, tid := range [][16]byte{id, {7, 7}} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.TopicID = tid
		req.Topics = append(req.Topics, rt)
	}
	raw, err := dialRaw(t, e.c.Addr()).roundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	byID := raw.(*kmsg.MetadataResponse)
	if len(byID.Topics) != 2 {
		t.Fatalf("metadata by id answered %d topics", len(byID.Topics))
	}
	for _, mt := range byID.Topics {
		switch mt.TopicID {
		case id:
			if mt.ErrorCode != 0 || mt.Topic == nil || *mt.Topic != "md" {
				t.Errorf("metadata by id: %v, name %v", codeErr(mt.ErrorCode), mt.Topic)
			}
		case [16]byte{7, 7}:
			wantCode(t, "metadata by unknown id", mt.ErrorCode, kerr.UnknownTopicID)
		}
	}

	// An empty topic list (not null) asks for no topics.
	none := kmsg.NewPtrMetadataRequest()
	none.Version = 12
	none.Topics = []kmsg.MetadataRequestTopic{}
	raw, err = dialRaw(t, e.c.Addr()).roundTrip(none)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(raw.(*kmsg.MetadataResponse).Topics); n != 0 {
		t.Errorf("metadata with an empty topic list answered %d topics", n)
	}
}

// TestMetadataAutoCreate: Kafka creates an unknown topic named in
// Metadata when auto.create.topics.enable is true (the default) and the
// request allows it (v4+ allow_auto_topic_creation), with num.partitions
// partitions; otherwise the answer is UNKNOWN_TOPIC_OR_PARTITION and
// nothing is created. An invalid name is INVALID_TOPIC_EXCEPTION.
func TestMetadataAutoCreate(t *testing.T) {
	t.Parallel()
	t.Run("enabled", func(t *testing.T) {
		t.Parallel()
		e := start(t, kafkatest.Config("num.partitions", "2"))
		wantCode(t, "not allowed by the request", e.metadata(false, "auto-no").Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)
		wantCode(t, "after a disallowed request", e.topicMeta("auto-no").ErrorCode, kerr.UnknownTopicOrPartition)

		first := e.metadata(true, "auto-yes").Topics[0]
		if first.ErrorCode != 0 && first.ErrorCode != kerr.LeaderNotAvailable.Code {
			t.Errorf("auto-creating metadata answered %v", codeErr(first.ErrorCode))
		}
		eventually(t, e.ctx, "auto-created topic", func() error {
			md := e.topicMeta("auto-yes")
			if md.ErrorCode != 0 || len(md.Partitions) != 2 || md.TopicID == [16]byte{} {
				return fmt.Errorf("error %v, %d partitions", codeErr(md.ErrorCode), len(md.Partitions))
			}
			return nil
		})
		wantCode(t, "invalid name", e.metadata(true, "bad name").Topics[0].ErrorCode, kerr.InvalidTopicException)

		// kgo with AllowAutoTopicCreation produces to a new topic.
		pcl := e.client(kgo.AllowAutoTopicCreation())
		e.produce(pcl, &kgo.Record{Topic: "auto-kgo", Value: []byte("v")})
		if got := e.consumeAll("auto-kgo", 1, 1); string(got[0].Value) != "v" {
			t.Errorf("read %q", got[0].Value)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		e := start(t, kafkatest.Config("auto.create.topics.enable", "false"))
		wantCode(t, "allowed by the request, disabled on the broker", e.metadata(true, "auto-off").Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)
		wantCode(t, "after", e.topicMeta("auto-off").ErrorCode, kerr.UnknownTopicOrPartition)
	})
}
