package quotas

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestClientQuotasAPI: AlterClientQuotas validates each entity alone
// (validate_only commits nothing) and DescribeClientQuotas filters as
// Kafka's ClientQuotasImage.describe; the quotas survive a restart.
func TestClientQuotasAPI(t *testing.T) {
	c := kafkatest.Start(t)
	raw := newClient(t, c.Addr())
	adm := kadm.NewClient(raw)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	alice := kadm.ClientQuotaEntity{{Type: "user", Name: sp("alice")}}
	aliceApp := kadm.ClientQuotaEntity{{Type: "user", Name: sp("alice")}, {Type: "client-id", Name: sp("app")}}
	defUser := kadm.ClientQuotaEntity{{Type: "user"}}
	ip := kadm.ClientQuotaEntity{{Type: "ip", Name: sp("10.0.0.1")}}

	// validate_only.
	res, err := adm.ValidateAlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: alice, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1024}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("validate: %v %+v", err, res)
	}
	if got := describeAll(t, adm); len(got) != 0 {
		t.Fatalf("validate_only committed %v", got)
	}

	setQuotas(t, adm, alice, map[string]float64{"producer_byte_rate": 1024, "consumer_byte_rate": 2048})
	setQuotas(t, adm, aliceApp, map[string]float64{"request_percentage": 12.5})
	setQuotas(t, adm, defUser, map[string]float64{"controller_mutation_rate": 10})
	setQuotas(t, adm, ip, map[string]float64{"connection_creation_rate": 5})

	// One bad entity in a request fails alone, with Kafka's message.
	res, err = adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("ok")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}},
		{Entity: alice, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1.5}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: sp("1.2.3.4")}, {Type: "user", Name: sp("x")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || !errors.Is(res[1].Err, kerr.InvalidRequest) || res[1].ErrMessage != "Configuration producer_byte_rate must be a Long value" ||
		!errors.Is(res[2].Err, kerr.InvalidRequest) {
		t.Fatalf("mixed alteration: %+v", res)
	}

	want := map[string]map[string]float64{
		"{user=alice}":                {"producer_byte_rate": 1024, "consumer_byte_rate": 2048},
		"{user=alice, client-id=app}": {"request_percentage": 12.5},
		"{user=<default>}":            {"controller_mutation_rate": 10},
		"{ip=10.0.0.1}":               {"connection_creation_rate": 5},
		"{client-id=ok}":              {"producer_byte_rate": 1},
	}
	check := func(what string, got map[string]map[string]float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
		for e, vs := range want {
			for k, v := range vs {
				if got[e][k] != v {
					t.Fatalf("%s: %s %s = %v, want %v (all: %v)", what, e, k, got[e][k], v, got)
				}
			}
		}
	}
	check("describe", describeAll(t, adm))

	// Filters: exact, default, any; strict.
	for _, tc := range []struct {
		strict bool
		comps  []kadm.DescribeClientQuotaComponent
		n      int
	}{
		{false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: sp("alice"), MatchType: 0}}, 2},
		{true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: sp("alice"), MatchType: 0}}, 1},
		{true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 1}}, 1},
		{false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: 2}}, 2},
		{true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 2}, {Type: "client-id", MatchType: 2}}, 1},
		{false, nil, 5},
	} {
		d, err := adm.DescribeClientQuotas(ctx, tc.strict, tc.comps)
		if err != nil || len(d) != tc.n {
			t.Errorf("filter %+v strict %v: %v %v, want %d entities", tc.comps, tc.strict, d, err, tc.n)
		}
	}
	// A malformed filter answers an error and no entries.
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	comp := kmsg.NewDescribeClientQuotasRequestComponent()
	comp.EntityType, comp.MatchType = "ip", 2
	comp2 := kmsg.NewDescribeClientQuotasRequestComponent()
	comp2.EntityType, comp2.MatchType = "user", 2
	req.Components = append(req.Components, comp, comp2)
	resp, err := req.RequestWith(ctx, raw)
	if err != nil || resp.ErrorCode != kerr.InvalidRequest.Code || len(resp.Entries) != 0 {
		t.Fatalf("ip with user filter: %v %+v", err, resp)
	}

	// Removing every key removes the entity.
	res, err = adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("ok")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Remove: true}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("remove: %v %+v", err, res)
	}
	delete(want, "{client-id=ok}")
	check("after remove", describeAll(t, adm))

	// Quotas survive a restart (the metadata log and its snapshots).
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	adm2 := admin(t, c.Addr())
	deadline := time.Now().Add(testTimeout)
	for {
		got := describeAll(t, adm2)
		if len(got) == len(want) || time.Now().After(deadline) {
			check("after restart", got)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClientQuotasForwarded: in a cluster with a controller quorum a
// broker forwards AlterClientQuotas to the active controller, and every
// broker learns the quota from the metadata log.
func TestClientQuotasForwarded(t *testing.T) {
	c := kafkatest.StartCluster(t, 3)
	var followers []int32
	active := c.ActiveController()
	for _, id := range c.BrokerIDs() {
		if id != active {
			followers = append(followers, id)
		}
	}
	adm := admin(t, c.BrokerAddr(followers[0]))
	setQuotas(t, adm, kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("app")}}, map[string]float64{"producer_byte_rate": 4096})
	for _, id := range c.BrokerIDs() {
		cl := newClient(t, c.BrokerAddr(id))
		deadline := time.Now().Add(testTimeout)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			// Ask this broker only: a describe is answered from its image.
			req := kmsg.NewPtrDescribeClientQuotasRequest()
			resp, err := req.RequestWith(ctx, cl.Broker(int(id)))
			cancel()
			if err == nil && len(resp.Entries) == 1 && resp.Entries[0].Values[0].Value == 4096 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %d: %v %+v", id, err, resp)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
