package groups

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestAdminGroups exercises group administration as kadm (and Kafka's
// kafka-consumer-groups) uses it: offsets committed outside group
// management, ListGroups with filters, DescribeGroups, OffsetDelete and
// DeleteGroups with their refusals.
func TestAdminGroups(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("t1", 3)
	e.createTopic("t2", 1)
	e.produce("t1", 3, 10)

	// A simple group: offsets committed with no generation.
	var commit kadm.Offsets
	commit.Add(kadm.Offset{Topic: "t1", Partition: 0, At: 4, LeaderEpoch: 0, Metadata: "m0"})
	commit.Add(kadm.Offset{Topic: "t1", Partition: 2, At: 7, LeaderEpoch: -1})
	commit.Add(kadm.Offset{Topic: "t2", Partition: 0, At: 1, LeaderEpoch: -1})
	resps, err := e.adm.CommitOffsets(e.ctx, "simple", commit)
	if err != nil || resps.Error() != nil {
		t.Fatalf("commit: %v %v", err, resps.Error())
	}
	// A commit to a topic or partition that does not exist.
	var bad kadm.Offsets
	bad.Add(kadm.Offset{Topic: "nope", Partition: 0, At: 1})
	bad.Add(kadm.Offset{Topic: "t2", Partition: 5, At: 1})
	resps, err = e.adm.CommitOffsets(e.ctx, "simple", bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []struct {
		topic string
		p     int32
	}{{"nope", 0}, {"t2", 5}} {
		if r, ok := resps.Lookup(tp.topic, tp.p); !ok || !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			t.Errorf("commit to %s-%d: %+v", tp.topic, tp.p, r)
		}
	}

	fetched, err := e.adm.FetchOffsets(e.ctx, "simple")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fetched.Lookup("t1", 0); o.At != 4 || o.Metadata != "m0" || o.LeaderEpoch != 0 {
		t.Errorf("fetched t1-0 %+v", o)
	}
	if o, _ := fetched.Lookup("t1", 2); o.At != 7 || o.LeaderEpoch != -1 {
		t.Errorf("fetched t1-2 %+v", o)
	}
	if _, ok := fetched.Lookup("t1", 1); ok {
		t.Error("fetched an offset never committed")
	}

	// A live group on t1.
	m := e.member("live", "live", "t1", kgo.Balancers(kgo.RangeBalancer()))
	e.waitFor("the live member owning t1", []*member{m}, func() bool { return len(m.assignment()) == 3 })

	listed, err := e.adm.ListGroups(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := listed.Groups(); !slices.Equal(got, []string{"live", "simple"}) {
		t.Fatalf("listed %v", got)
	}
	if l := listed["simple"]; l.State != "Empty" || l.ProtocolType != "" {
		t.Errorf("simple listed as %+v", l)
	}
	if l := listed["live"]; l.State != "Stable" || l.ProtocolType != "consumer" {
		t.Errorf("live listed as %+v", l)
	}
	stable, err := e.adm.ListGroups(e.ctx, "Stable")
	if err != nil || !slices.Equal(stable.Groups(), []string{"live"}) {
		t.Fatalf("listed Stable: %v %v", stable.Groups(), err)
	}

	d := describe(t, e, "simple")
	if d.State != "Empty" || len(d.Members) != 0 || d.Err != nil {
		t.Errorf("described simple %+v", d)
	}

	// OffsetDelete: refused for a topic the live group consumes, done for
	// one it does not; any partition of the simple group goes.
	del := kadm.TopicsSet{"t1": {0: {}}, "t2": {0: {}}}
	dresp, err := e.adm.DeleteOffsets(e.ctx, "simple", del)
	if err != nil || dresp.Error() != nil {
		t.Fatalf("delete simple offsets: %v %v", err, dresp.Error())
	}
	fetched, _ = e.adm.FetchOffsets(e.ctx, "simple")
	if _, ok := fetched.Lookup("t1", 0); ok {
		t.Error("deleted offset still fetched")
	}
	if _, ok := fetched.Lookup("t1", 2); !ok {
		t.Error("offset not asked for was deleted")
	}
	var lc kadm.Offsets
	lc.Add(kadm.Offset{Topic: "t2", Partition: 0, At: 1, LeaderEpoch: -1})
	// Reference: Kafka's ClassicGroup.validateOffsetCommit: no member id
	// and no generation is only accepted while the group is Empty.
	if r, err := e.adm.CommitOffsets(e.ctx, "live", lc); err != nil || !errors.Is(r.Error(), kerr.UnknownMemberID) {
		t.Errorf("commit without generation to a live group: %v %v", err, r.Error())
	}
	dresp, err = e.adm.DeleteOffsets(e.ctx, "live", map[string]map[int32]struct{}{"t1": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := dresp.Lookup("t1", 0); !errors.Is(r, kerr.GroupSubscribedToTopic) {
		t.Errorf("delete offset of a subscribed topic: %v", r)
	}

	// DeleteGroups: a group with members cannot go; an empty one can.
	del2, err := e.adm.DeleteGroups(e.ctx, "live", "simple", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(del2["live"].Err, kerr.NonEmptyGroup) || del2["simple"].Err != nil || !errors.Is(del2["missing"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete groups: live %v simple %v missing %v", del2["live"].Err, del2["simple"].Err, del2["missing"].Err)
	}
	listed, _ = e.adm.ListGroups(e.ctx)
	if got := listed.Groups(); !slices.Equal(got, []string{"live"}) {
		t.Fatalf("listed after delete %v", got)
	}

	// The live member leaves: the group is Empty and can be deleted.
	m.cl.Close()
	d = describe(t, e, "live")
	if d.State != "Empty" {
		t.Fatalf("after the last member left: %s", d.State)
	}
	del2, err = e.adm.DeleteGroups(e.ctx, "live")
	if err != nil || del2["live"].Err != nil {
		t.Fatalf("delete the emptied group: %v %v", err, del2["live"].Err)
	}
}
