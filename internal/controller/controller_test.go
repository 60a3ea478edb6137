package controller

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// memJournal is an in-memory metadata.Journal that can be made to fail.
type memJournal struct {
	batches [][]metadata.Record
	fail    error
}

func (j *memJournal) Append(r []metadata.Record) error {
	if j.fail != nil {
		return j.fail
	}
	j.batches = append(j.batches, r)
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

func open(t *testing.T, j *memJournal) (*Controller, *[]*metadata.Image) {
	t.Helper()
	var published []*metadata.Image
	c, err := Open(Config{NodeID: 1, NumPartitions: 2, DefaultReplicationFactor: 1}, j, func(im *metadata.Image) {
		published = append(published, im)
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, &published
}

func code(err error) int16 { return apierror.Code(err) }

func TestCreateTopicsErrors(t *testing.T) {
	j := &memJournal{}
	c, _ := open(t, j)
	if r := c.CreateTopics([]CreateTopic{{Name: "a.b", NumPartitions: -1, ReplicationFactor: -1}}, false); r[0].Err != nil || r[0].NumPartitions != 2 {
		t.Fatalf("create: %+v", r[0])
	}
	for _, tc := range []struct {
		topic CreateTopic
		want  *kerr.Error
	}{
		{CreateTopic{Name: "a.b", NumPartitions: 1, ReplicationFactor: 1}, kerr.TopicAlreadyExists},
		{CreateTopic{Name: "a_b", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{CreateTopic{Name: "bad/name", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{CreateTopic{Name: "..", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{CreateTopic{Name: "", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{CreateTopic{Name: "zero", NumPartitions: 0, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{CreateTopic{Name: "rf3", NumPartitions: 1, ReplicationFactor: 3}, kerr.InvalidReplicationFactor},
		{CreateTopic{Name: "both", NumPartitions: 1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}}}, kerr.InvalidRequest},
		{CreateTopic{Name: "gap", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{1: {1}}}, kerr.InvalidReplicaAssignment},
		{CreateTopic{Name: "nobroker", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {7}}}, kerr.InvalidReplicaAssignment},
	} {
		r := c.CreateTopics([]CreateTopic{tc.topic}, false)
		if code(r[0].Err) != tc.want.Code {
			t.Errorf("%q: got %v, want %v", tc.topic.Name, r[0].Err, tc.want)
		}
	}
	if len(j.batches) != 1 {
		t.Fatalf("failed creates committed records: %d batches", len(j.batches))
	}
	// The same name twice in one request: both fail, as in Kafka.
	r := c.CreateTopics([]CreateTopic{{Name: "dup", NumPartitions: 1, ReplicationFactor: 1}, {Name: "dup", NumPartitions: 1, ReplicationFactor: 1}}, false)
	if code(r[0].Err) != kerr.InvalidRequest.Code || code(r[1].Err) != kerr.InvalidRequest.Code {
		t.Fatalf("duplicate in request: %v / %v", r[0].Err, r[1].Err)
	}
}

func TestCreateValidateOnlyAndReplay(t *testing.T) {
	j := &memJournal{}
	c, pub := open(t, j)
	c.CreateTopics([]CreateTopic{{Name: "v", NumPartitions: 3, ReplicationFactor: 1}}, true)
	if _, ok := c.Image().Topic("v"); ok || len(j.batches) != 0 {
		t.Fatal("validate_only created the topic")
	}
	r := c.CreateTopics([]CreateTopic{{Name: "t", NumPartitions: 3, ReplicationFactor: 1, Configs: map[string]*string{"retention.ms": ptr("1")}}}, false)
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if err := c.CreatePartitions("t", 5, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := c.CreatePartitions("t", 4, nil, false); code(err) != kerr.InvalidPartitions.Code {
		t.Fatalf("decrease: %v", err)
	}
	if len(*pub) != 3 { // open, create, create partitions
		t.Fatalf("published %d images", len(*pub))
	}

	// A new controller over the same journal rebuilds the same image.
	c2, _ := open(t, j)
	tp, ok := c2.Image().Topic("t")
	if !ok || len(tp.Partitions) != 5 || tp.ID != r[0].ID {
		t.Fatalf("replayed topic %+v", tp)
	}
	if got := c2.Image().Configs(metadata.ConfigResource{Type: metadata.ResourceTopic, Name: "t"})["retention.ms"]; got != "1" {
		t.Fatalf("replayed config %q", got)
	}

	del := c2.DeleteTopics([]DeleteTopic{{Name: "t"}, {Name: "missing"}, {ID: metadata.NewTopicID()}})
	if del[0].Err != nil || code(del[1].Err) != kerr.UnknownTopicOrPartition.Code || code(del[2].Err) != kerr.UnknownTopicID.Code {
		t.Fatalf("delete: %+v", del)
	}
	if _, ok := c2.Image().Topic("t"); ok {
		t.Fatal("topic still there")
	}
}

func TestCommitFailureIsNotApplied(t *testing.T) {
	j := &memJournal{}
	c, pub := open(t, j)
	j.fail = errors.New("disk full")
	r := c.CreateTopics([]CreateTopic{{Name: "t", NumPartitions: 1, ReplicationFactor: 1}}, false)
	if r[0].Err == nil {
		t.Fatal("create succeeded without a durable journal")
	}
	if _, ok := c.Image().Topic("t"); ok || len(*pub) != 1 {
		t.Fatal("an uncommitted change was applied or published")
	}
}

func TestAlterConfigsIncremental(t *testing.T) {
	j := &memJournal{}
	c, _ := open(t, j)
	c.cfg.DefaultValue = func(int8, string) (string, bool) { return "delete", true }
	c.CreateTopics([]CreateTopic{{Name: "t", NumPartitions: 1, ReplicationFactor: 1}}, false)
	res := metadata.ConfigResource{Type: metadata.ResourceTopic, Name: "t"}
	isList := func(n string) bool { return n == "cleanup.policy" }
	if err := c.AlterConfigs(res, []ConfigChange{{Name: "cleanup.policy", Op: OpAppend, Value: ptr("compact")}}, false, false, isList); err != nil {
		t.Fatal(err)
	}
	if got := c.Image().Configs(res)["cleanup.policy"]; got != "delete,compact" {
		t.Fatalf("append from default: %q", got)
	}
	if err := c.AlterConfigs(res, []ConfigChange{{Name: "cleanup.policy", Op: OpSubtract, Value: ptr("delete")}}, false, false, isList); err != nil {
		t.Fatal(err)
	}
	if got := c.Image().Configs(res)["cleanup.policy"]; got != "compact" {
		t.Fatalf("subtract: %q", got)
	}
	if err := c.AlterConfigs(res, []ConfigChange{{Name: "retention.ms", Op: OpAppend, Value: ptr("1")}}, false, false, isList); code(err) != kerr.InvalidConfig.Code {
		t.Fatalf("append to a non-list: %v", err)
	}
	if err := c.AlterConfigs(res, []ConfigChange{{Name: "retention.ms", Op: OpSet, Value: ptr("9")}}, true, false, isList); err != nil {
		t.Fatal(err)
	}
	if got := c.Image().Configs(res); len(got) != 1 || got["retention.ms"] != "9" {
		t.Fatalf("replace: %v", got)
	}
	missing := metadata.ConfigResource{Type: metadata.ResourceTopic, Name: "nope"}
	if err := c.AlterConfigs(missing, nil, false, false, isList); code(err) != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %v", err)
	}
}

func ptr(s string) *string { return &s }
