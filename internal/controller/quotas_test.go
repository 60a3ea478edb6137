package controller

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/quota"
)

func sp(s string) *string { return &s }

// Reference: Kafka's ClientQuotaControlManager (entity and value
// validation, per-entity failures, records only for changes).
func TestAlterClientQuotas(t *testing.T) {
	j := &memJournal{}
	c, _ := open(t, j)
	alice := []quota.Component{{Type: quota.EntityUser, Name: sp("alice")}}
	defClient := []quota.Component{{Type: quota.EntityClientID, Name: nil}}
	set := func(k string, v float64) QuotaOp { return QuotaOp{Key: k, Value: v} }

	// validate_only commits nothing.
	res := c.AlterClientQuotas([]QuotaAlteration{{Entity: alice, Ops: []QuotaOp{set(quota.ProducerByteRate, 1024)}}}, true)
	if len(res) != 1 || res[0].Err != nil || len(j.batches) != 0 || c.Image().ClientQuotas(quota.Entity{User: quota.Named("alice")}) != nil {
		t.Fatalf("validate only: %+v, %d batches", res, len(j.batches))
	}
	// One bad entity fails alone.
	res = c.AlterClientQuotas([]QuotaAlteration{
		{Entity: alice, Ops: []QuotaOp{set(quota.ProducerByteRate, 1024), set(quota.ConsumerByteRate, 2048)}},
		{Entity: defClient, Ops: []QuotaOp{set(quota.RequestPercentage, 50)}},
		{Entity: []quota.Component{{Type: quota.EntityIP, Name: sp("nope")}}, Ops: []QuotaOp{set(quota.ConnectionCreationRate, 1)}},
	}, false)
	if res[0].Err != nil || res[1].Err != nil || code(res[2].Err) != kerr.InvalidRequest.Code {
		t.Fatalf("mixed: %+v", res)
	}
	if len(j.batches) != 1 {
		t.Fatalf("%d batches, want 1", len(j.batches))
	}
	if q := c.Image().ClientQuotas(quota.Entity{User: quota.Named("alice")}); q[quota.ProducerByteRate] != 1024 || q[quota.ConsumerByteRate] != 2048 {
		t.Fatalf("alice %v", q)
	}
	// The same values again, and removing what is not there, write no
	// records.
	res = c.AlterClientQuotas([]QuotaAlteration{{Entity: alice, Ops: []QuotaOp{set(quota.ProducerByteRate, 1024), {Key: quota.RequestPercentage, Remove: true}}}}, false)
	if res[0].Err != nil || len(j.batches) != 1 {
		t.Fatalf("no-op alteration: %+v, %d batches", res, len(j.batches))
	}
	res = c.AlterClientQuotas([]QuotaAlteration{{Entity: alice, Ops: []QuotaOp{{Key: quota.ProducerByteRate, Remove: true}}}}, false)
	if res[0].Err != nil || len(c.Image().ClientQuotas(quota.Entity{User: quota.Named("alice")})) != 1 {
		t.Fatalf("remove: %+v", res)
	}
	for _, tc := range []struct {
		name string
		a    QuotaAlteration
		msg  string
	}{
		{"not a long", QuotaAlteration{Entity: alice, Ops: []QuotaOp{set(quota.ProducerByteRate, 1.5)}}, "Configuration producer_byte_rate must be a Long value"},
		{"unknown key", QuotaAlteration{Entity: alice, Ops: []QuotaOp{set("bogus", 1)}}, "Invalid configuration key bogus"},
		{"ip key on user", QuotaAlteration{Entity: alice, Ops: []QuotaOp{set(quota.ConnectionCreationRate, 1)}}, "Invalid configuration key connection_creation_rate"},
		{"empty entity", QuotaAlteration{Ops: []QuotaOp{set(quota.ProducerByteRate, 1)}}, "Invalid empty client quota entity"},
		{"unknown type", QuotaAlteration{Entity: []quota.Component{{Type: "group", Name: sp("g")}}}, "Unhandled client quota entity type: group"},
	} {
		res := c.AlterClientQuotas([]QuotaAlteration{tc.a}, false)
		ae, _ := res[0].Err.(*apierror.Error)
		if code(res[0].Err) != kerr.InvalidRequest.Code || ae == nil || ae.Message != tc.msg {
			t.Errorf("%s: %v, want INVALID_REQUEST %q", tc.name, res[0].Err, tc.msg)
		}
	}
}
