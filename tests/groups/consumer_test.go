package groups

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeSplit runs members of one group on a 6-partition topic until
// they share the partitions exactly and have consumed every record
// between them, then checks the group as kadm describes it and the
// offsets it committed.
func consumeSplit(t *testing.T, balancer kgo.GroupBalancer, protocol string) {
	e := start(t)
	const topic, parts, perPartition = "orders", 6, 20
	e.createTopic(topic, parts)
	e.produce(topic, parts, perPartition)

	a := e.member("a", "app", topic, kgo.Balancers(balancer))
	b := e.member("b", "app", topic, kgo.Balancers(balancer))
	members := []*member{a, b}
	e.waitFor("two members splitting the partitions and every record consumed", members, func() bool {
		seen := map[string]bool{}
		for _, m := range members {
			m.mu.Lock()
			for v := range m.seen {
				seen[v] = true
			}
			m.mu.Unlock()
		}
		return splitExactly(members, parts) && len(seen) == parts*perPartition
	})

	groups, err := e.adm.DescribeGroups(e.ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	g := groups["app"]
	if g.Err != nil || g.State != "Stable" || g.Protocol != protocol || g.ProtocolType != "consumer" || len(g.Members) != 2 {
		t.Fatalf("described group: err %v state %s protocol %s/%s members %d", g.Err, g.State, g.ProtocolType, g.Protocol, len(g.Members))
	}
	for _, m := range g.Members {
		if m.ClientHost != "/127.0.0.1" || (m.ClientID != "a" && m.ClientID != "b") {
			t.Errorf("member %s: client %s host %s", m.MemberID, m.ClientID, m.ClientHost)
		}
		ca, ok := m.Assigned.AsConsumer()
		if !ok || len(ca.Topics) != 1 || ca.Topics[0].Topic != topic {
			t.Errorf("member %s assignment %+v", m.MemberID, m.Assigned)
		}
	}

	// Every record consumed is committed (marks, then a commit on
	// close), and the committed offsets are what OffsetFetch returns.
	for _, m := range members {
		if err := m.cl.CommitMarkedOffsets(e.ctx); err != nil {
			t.Fatalf("commit %s: %v", m.name, err)
		}
	}
	offsets, err := e.adm.FetchOffsets(e.ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(parts) {
		o, ok := offsets.Lookup(topic, p)
		if !ok || o.Err != nil || o.At != perPartition {
			t.Errorf("partition %d committed %+v (%v), want %d", p, o, ok, perPartition)
		}
	}

	// A third member joins: the partitions are split three ways.
	c := e.member("c", "app", topic, kgo.Balancers(balancer))
	members = append(members, c)
	e.waitFor("three members splitting the partitions", members, func() bool { return splitExactly(members, parts) })

	// One leaves: the other two take its partitions.
	c.cl.Close()
	members = members[:2]
	e.waitFor("two members after one left", members, func() bool { return splitExactly(members, parts) })
}

// Reference: KIP-62 and Kafka's classic protocol with the eager range
// assignor: members split the partitions; a join or leave rebalances.
func TestEagerRange(t *testing.T) {
	t.Parallel()
	consumeSplit(t, kgo.RangeBalancer(), "range")
}

// Reference: KIP-429, the cooperative incremental protocol, which needs
// nothing more from the broker than the classic protocol.
func TestCooperativeSticky(t *testing.T) {
	t.Parallel()
	consumeSplit(t, kgo.CooperativeStickyBalancer(), "cooperative-sticky")
}

// Reference: KIP-345. A static member that restarts within its session
// timeout gets its partitions back without the group rebalancing.
func TestStaticMemberRestart(t *testing.T) {
	t.Parallel()
	e := start(t)
	const topic = "static"
	e.createTopic(topic, 4)
	e.produce(topic, 4, 5)
	opts := func(id string) []kgo.Opt {
		return []kgo.Opt{kgo.InstanceID(id), kgo.Balancers(kgo.RangeBalancer())}
	}
	a := e.member("a", "st", topic, opts("inst-a")...)
	b := e.member("b", "st", topic, opts("inst-b")...)
	members := []*member{a, b}
	e.waitFor("the static members splitting the partitions", members, func() bool { return splitExactly(members, 4) })
	before := describe(t, e, "st")
	_, gen := a.cl.GroupMetadata()

	// kgo does not send LeaveGroup for a static member on close.
	b.cl.Close()
	b2 := e.member("b2", "st", topic, opts("inst-b")...)
	members = []*member{a, b2}
	e.waitFor("the restarted static member getting partitions", members, func() bool { return splitExactly(members, 4) })
	if _, g := a.cl.GroupMetadata(); g != gen {
		t.Errorf("generation %d after a static member restarted, want %d (no rebalance)", g, gen)
	}
	after := describe(t, e, "st")
	if len(after.Members) != 2 || after.State != "Stable" {
		t.Fatalf("after restart: %+v", after)
	}
	for _, m := range after.Members {
		if *m.InstanceID == "inst-b" {
			for _, old := range before.Members {
				if *old.InstanceID == "inst-b" && old.MemberID == m.MemberID {
					t.Error("the restarted static member kept its old member id")
				}
			}
		}
	}
}

func describe(t *testing.T, e *env, group string) kadm.DescribedGroup {
	t.Helper()
	gs, err := e.adm.DescribeGroups(e.ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	return gs[group]
}
