package groups

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestOnlineMigration: kgo classic consumers (eager range, then
// cooperative-sticky) share a topic; a kgo consumer using the KIP-848
// protocol joins, which upgrades the group to a consumer group keeping
// the classic members (group.consumer.migration.policy defaults to
// bidirectional). Every partition stays owned exactly once and records
// keep flowing; when the KIP-848 member leaves, the group is classic
// again and its members rebalance among themselves.
func TestOnlineMigration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		balancer kgo.GroupBalancer
	}{
		{"eager", kgo.RangeBalancer()},
		{"cooperative", kgo.CooperativeStickyBalancer()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, kafkatest.Config("group.consumer.min.heartbeat.interval.ms", "100"),
				kafkatest.Config("group.consumer.heartbeat.interval.ms", "200"))
			const topic, parts = "mig", 6
			group := "mig-" + tc.name
			e.createTopic(topic, parts)
			e.produce(topic, parts, 5)

			groupType := func() string {
				listed, err := e.adm.ListGroups(e.ctx)
				if err != nil {
					t.Fatal(err)
				}
				return listed[group].GroupType
			}
			a := e.member("a", group, topic, kgo.Balancers(tc.balancer))
			b := e.member("b", group, topic, kgo.Balancers(tc.balancer))
			members := []*member{a, b}
			all := []*member{a, b}
			e.waitFor("two classic members splitting the partitions, every record consumed", members, func() bool {
				return splitExactly(members, parts) && consumed(all) >= parts*5
			})
			if gt := groupType(); gt != "classic" {
				t.Fatalf("group type %q before the upgrade", gt)
			}

			c := e.member("c", group, topic, kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()))
			members = append(members, c)
			all = append(all, c)
			e.produceFrom(topic, parts, 5, 5)
			e.waitFor("the KIP-848 member sharing the partitions with the classic ones", members, func() bool {
				return splitExactly(members, parts) && consumed(all) >= parts*10
			})
			if gt := groupType(); gt != "consumer" {
				t.Fatalf("group type %q after the upgrade", gt)
			}
			req := kmsg.NewPtrConsumerGroupDescribeRequest()
			req.Groups = []string{group}
			d := e.raw(req).(*kmsg.ConsumerGroupDescribeResponse).Groups[0]
			if d.ErrorCode != 0 || len(d.Members) != 3 {
				t.Fatalf("described %+v", d)
			}
			owned := 0
			for _, m := range d.Members {
				for _, tp := range m.Assignment.TopicPartitions {
					owned += len(tp.Partitions)
				}
			}
			if d.State == "Stable" && owned != parts {
				t.Errorf("stable group owns %d partitions, want %d", owned, parts)
			}

			c.cl.Close()
			members = members[:2]
			e.produceFrom(topic, parts, 10, 5)
			e.waitFor("the classic members alone again, in a classic group", members, func() bool {
				return splitExactly(members, parts) && consumed(all) >= parts*15 && groupType() == "classic"
			})
		})
	}
}

// consumed counts the distinct records the members consumed.
func consumed(members []*member) int {
	seen := map[string]bool{}
	for _, m := range members {
		m.mu.Lock()
		for v := range m.seen {
			seen[v] = true
		}
		m.mu.Unlock()
	}
	return len(seen)
}
