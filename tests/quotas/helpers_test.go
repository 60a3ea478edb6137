// Package quotas tests Gregor's client quotas end to end against a real
// broker: Describe/AlterClientQuotas (KIP-546) as Kafka answers them, a
// forwarding quorum, quotas surviving a restart, producers and consumers
// slowed to their byte-rate quotas without errors (KIP-219), and the
// connection limits (max.connections.per.ip, connection_creation_rate).
package quotas

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testTimeout bounds each test's admin operations.
const testTimeout = 30 * time.Second

func sp(s string) *string { return &s }

// newClient returns a client of the brokers at addrs, closed at cleanup.
func newClient(t testing.TB, addrs ...string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// admin returns an admin client of the brokers at addrs.
func admin(t testing.TB, addrs ...string) *kadm.Client {
	return kadm.NewClient(newClient(t, addrs...))
}

// setQuotas sets key=value quotas on entity and fails t on any error.
func setQuotas(t testing.TB, adm *kadm.Client, entity kadm.ClientQuotaEntity, kv map[string]float64) {
	t.Helper()
	e := kadm.AlterClientQuotaEntry{Entity: entity}
	for k, v := range kv {
		e.Ops = append(e.Ops, kadm.AlterClientQuotaOp{Key: k, Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{e})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("alter %v: %v %s", r.Entity, r.Err, r.ErrMessage)
		}
	}
}

// describeAll returns every entity's quotas as "entity: values" strings.
func describeAll(t testing.TB, adm *kadm.Client) map[string]map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	out := map[string]map[string]float64{}
	for _, typ := range []string{"user", "client-id", "ip"} {
		d, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: typ, MatchType: 2}})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range d {
			m := map[string]float64{}
			for _, v := range q.Values {
				m[v.Key] = v.Value
			}
			out[q.Entity.String()] = m
		}
	}
	return out
}
