package groups

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestKIP848Consumers: kgo members using the KIP-848 protocol
// (ServerSideBalancer) split the partitions as the coordinator assigns
// them, through joins and leaves; ConsumerGroupDescribe and ListGroups
// show the group as a "consumer" group.
func TestKIP848Consumers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		balancer kgo.GroupBalancer
		assignor string
	}{
		{"uniform", kgo.CooperativeStickyBalancer(), "uniform"},
		{"range", kgo.RangeBalancer(), "range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Members converge in a few heartbeats: make them frequent.
			e := start(t, kafkatest.Config("group.consumer.min.heartbeat.interval.ms", "100"),
				kafkatest.Config("group.consumer.heartbeat.interval.ms", "200"))
			const topic, parts = "new", 6
			e.createTopic(topic, parts)
			e.produce(topic, parts, 5)
			opts := []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(tc.balancer)}
			a := e.member("a", "g848", topic, opts...)
			b := e.member("b", "g848", topic, opts...)
			members := []*member{a, b}
			e.waitFor("two KIP-848 members splitting the partitions and every record consumed", members, func() bool {
				n := 0
				for _, m := range members {
					m.mu.Lock()
					n += len(m.seen)
					m.mu.Unlock()
				}
				return splitExactly(members, parts) && n >= parts*5
			})

			req := kmsg.NewPtrConsumerGroupDescribeRequest()
			req.Version, req.Groups = 1, []string{"g848"}
			resp := e.raw(req).(*kmsg.ConsumerGroupDescribeResponse)
			g := resp.Groups[0]
			if g.ErrorCode != 0 || len(g.Members) != 2 || g.AssignorName != tc.assignor || g.Epoch < 2 {
				t.Fatalf("described %+v", g)
			}
			total := 0
			for _, m := range g.Members {
				if m.MemberType != 1 || m.ClientHost != "/127.0.0.1" || len(m.SubscribedTopics) != 1 {
					t.Errorf("member %+v", m)
				}
				for _, tp := range m.Assignment.TopicPartitions {
					if tp.Topic != topic {
						t.Errorf("assignment names topic %q", tp.Topic)
					}
					total += len(tp.Partitions)
				}
			}
			if g.State == "Stable" && total != parts {
				t.Errorf("stable group owns %d partitions, want %d", total, parts)
			}

			listed, err := e.adm.ListGroups(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if l := listed["g848"]; l.GroupType != "consumer" || l.ProtocolType != "consumer" {
				t.Errorf("listed %+v", l)
			}

			c := e.member("c", "g848", topic, opts...)
			members = append(members, c)
			e.waitFor("three members", members, func() bool { return splitExactly(members, parts) })
			a.cl.Close()
			members = members[1:]
			e.waitFor("two members after one left", members, func() bool { return splitExactly(members, parts) })
		})
	}
}

// ConsumerGroupHeartbeat and ConsumerGroupDescribe on the wire: a join
// at v0 gets a member id from the coordinator; classic groups are not
// described by ConsumerGroupDescribe.
func TestKIP848Protocol(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.findCoordinator("g")
	e.createTopic("p", 2)

	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberEpoch, hb.RebalanceTimeoutMillis = 0, "raw848", 0, 10000
	hb.SubscribedTopicNames, hb.Topics = []string{"p"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	r := e.raw(hb).(*kmsg.ConsumerGroupHeartbeatResponse)
	if r.ErrorCode != 0 || r.MemberID == nil || *r.MemberID == "" || r.MemberEpoch != 1 || r.Assignment == nil || len(r.Assignment.Topics) != 1 || len(r.Assignment.Topics[0].Partitions) != 2 {
		t.Fatalf("v0 join %+v", r)
	}
	hb.Version = 1
	r = e.raw(hb).(*kmsg.ConsumerGroupHeartbeatResponse)
	if r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil {
		t.Fatalf("v1 join without member id %+v", r)
	}

	e.raw(joinRequest(3, "classic", ""))
	d := kmsg.NewPtrConsumerGroupDescribeRequest()
	d.Groups = []string{"classic", "none"}
	dr := e.raw(d).(*kmsg.ConsumerGroupDescribeResponse)
	for _, g := range dr.Groups {
		if g.ErrorCode != kerr.GroupIDNotFound.Code || g.ErrorMessage == nil {
			t.Errorf("describe %s: %+v", g.Group, g)
		}
	}
	if *dr.Groups[0].ErrorMessage != "Group classic is not a consumer group." {
		t.Errorf("message %q", *dr.Groups[0].ErrorMessage)
	}
}
