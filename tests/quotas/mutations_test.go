package quotas

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestControllerMutationRate: with controller_mutation_rate (KIP-599) a
// CreateTopics may use the bucket's burst, then a topic is refused with
// THROTTLING_QUOTA_EXCEEDED and a throttle until the bucket refills;
// another client is not affected.
func TestControllerMutationRate(t *testing.T) {
	c := kafkatest.Start(t,
		kafkatest.Config("controller.quota.window.num", "2"),
		kafkatest.Config("controller.quota.window.size.seconds", "1"),
	)
	adm := admin(t, c.Addr())
	// 1 partition/s with a 2 s burst: 2 partitions, then wait.
	setQuotas(t, adm, kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("creator")}}, map[string]float64{"controller_mutation_rate": 1})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ClientID("creator"), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	create := func(names ...string) *kmsg.CreateTopicsResponse {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		for _, n := range names {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = n, 3, 1
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	codes := func(resp *kmsg.CreateTopicsResponse) map[string]int16 {
		m := map[string]int16{}
		for _, tp := range resp.Topics {
			m[tp.Topic] = tp.ErrorCode
		}
		return m
	}
	// The bucket holds 2: the first topic (3 partitions) takes it below
	// zero; the second in the same request is refused.
	resp := create("m1", "m2")
	got := codes(resp)
	if got["m1"] != 0 || got["m2"] != kerr.ThrottlingQuotaExceeded.Code || resp.ThrottleMillis <= 0 {
		t.Fatalf("first request: %v, throttle %d ms", got, resp.ThrottleMillis)
	}
	// Another client is not limited.
	for _, n := range []string{"other1", "other2"} {
		if r, err := adm.CreateTopic(ctx, 3, 1, nil, n); err != nil || r.Err != nil {
			t.Fatalf("another client: %v %v", err, r.Err)
		}
	}
}
