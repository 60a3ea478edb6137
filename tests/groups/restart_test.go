package groups

import (
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestRestartKeepsGroupsAndOffsets: groups and committed offsets live in
// __consumer_offsets and are replayed when the broker starts. A Stable
// group comes back Stable with its members, so a member that stays up
// across the restart carries on in the same generation; an emptied group
// comes back Empty with its offsets, from which a new member resumes.
func TestRestartKeepsGroupsAndOffsets(t *testing.T) {
	t.Parallel()
	e := start(t)
	const topic = "r"
	e.createTopic(topic, 2)
	e.produce(topic, 2, 10)

	stay := e.member("stay", "stable-group", topic)
	e.waitFor("the member consuming everything", []*member{stay}, func() bool {
		stay.mu.Lock()
		defer stay.mu.Unlock()
		return len(stay.seen) == 20
	})
	if err := stay.cl.CommitMarkedOffsets(e.ctx); err != nil {
		t.Fatal(err)
	}
	memberID, gen := stay.cl.GroupMetadata()

	gone := e.member("gone", "empty-group", topic)
	e.waitFor("the other member consuming everything", []*member{gone}, func() bool {
		gone.mu.Lock()
		defer gone.mu.Unlock()
		return len(gone.seen) == 20
	})
	gone.cl.Close() // commits marks and leaves

	e.restart()

	// The empty group and its offsets are back.
	fetched, err := e.adm.FetchOffsets(e.ctx, "empty-group")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if o, ok := fetched.Lookup(topic, p); !ok || o.At != 10 {
			t.Errorf("empty-group %s-%d after restart: %+v", topic, p, o)
		}
	}
	if d := describe(t, e, "empty-group"); d.State != "Empty" {
		t.Errorf("empty-group after restart: %s", d.State)
	}

	// The stable group is back with its member, which keeps its
	// generation.
	d := describe(t, e, "stable-group")
	if d.State != "Stable" || len(d.Members) != 1 || d.Members[0].MemberID != memberID {
		t.Fatalf("stable-group after restart: %s with %+v", d.State, d.Members)
	}
	e.produceFrom(topic, 2, 10, 1)
	e.waitFor("the surviving member consuming new records", []*member{stay}, func() bool {
		stay.mu.Lock()
		defer stay.mu.Unlock()
		return len(stay.seen) == 22
	})
	if id, g := stay.cl.GroupMetadata(); id != memberID || g != gen {
		t.Errorf("member %s generation %d after restart, want %s generation %d", id, g, memberID, gen)
	}

	// A new member of the emptied group starts at its committed offsets.
	fresh := e.member("fresh", "empty-group", topic)
	e.waitFor("the new member consuming", []*member{fresh}, func() bool {
		fresh.mu.Lock()
		defer fresh.mu.Unlock()
		return len(fresh.seen) >= 2
	})
	fresh.poll(e.ctx, 300*time.Millisecond)
	fresh.mu.Lock()
	defer fresh.mu.Unlock()
	for v := range fresh.seen {
		if v != "0-10" && v != "1-10" {
			t.Errorf("new member read %s, which its group had committed past", v)
		}
	}
	if len(fresh.seen) != 2 {
		t.Errorf("new member read %d records, want 2", len(fresh.seen))
	}
}

// TestConsumerOffsetsTopic: __consumer_offsets does not exist until a
// coordinator is looked up (as in Kafka, which creates it then); it is
// internal, compacted, with offsets.topic.num.partitions partitions.
func TestConsumerOffsetsTopic(t *testing.T) {
	t.Parallel()
	e := start(t, kafkatest.Config("offsets.topic.num.partitions", "7"))
	topics, err := e.adm.ListTopicsWithInternal(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("__consumer_offsets") {
		t.Fatal("__consumer_offsets exists before any group was used")
	}
	e.createTopic("t", 1)
	e.produce("t", 1, 1)
	m := e.member("m", "g", "t")
	e.waitFor("the member consuming", []*member{m}, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.seen) == 1
	})
	topics, err = e.adm.ListTopicsWithInternal(e.ctx, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	td := topics["__consumer_offsets"]
	if !td.IsInternal || len(td.Partitions) != 7 {
		t.Fatalf("__consumer_offsets: internal %v, %d partitions", td.IsInternal, len(td.Partitions))
	}
	cfgs, err := e.adm.DescribeTopicConfigs(e.ctx, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfgs[0].Configs {
		if c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != "compact") {
			t.Errorf("cleanup.policy %v", c.Value)
		}
	}
}
