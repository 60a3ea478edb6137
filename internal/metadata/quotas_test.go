package metadata

import (
	"testing"

	"github.com/gregor-streaming/gregor/internal/quota"
)

func TestClientQuotaRecords(t *testing.T) {
	alice := quota.Entity{User: quota.Named("alice")}
	aliceApp := quota.Entity{User: quota.Named("alice"), ClientID: quota.Named("app")}
	defClient := quota.Entity{ClientID: quota.Default()}
	ip := quota.Entity{IP: quota.Named("10.0.0.1")}
	im, err := Empty.Apply([]Record{
		NewClientQuotaRecord(alice, quota.ProducerByteRate, 1024, false),
		NewClientQuotaRecord(alice, quota.ConsumerByteRate, 2048, false),
		NewClientQuotaRecord(aliceApp, quota.RequestPercentage, 12.5, false),
		NewClientQuotaRecord(defClient, quota.ProducerByteRate, 100, false),
		NewClientQuotaRecord(ip, quota.ConnectionCreationRate, 5, false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := im.ClientQuotas(alice); got[quota.ProducerByteRate] != 1024 || got[quota.ConsumerByteRate] != 2048 {
		t.Errorf("alice %v", got)
	}
	if n := len(im.QuotaEntities()); n != 4 {
		t.Errorf("%d entities, want 4", n)
	}
	// The lookup resolves through the image.
	if _, bound, ok := quota.Resolve(im.QuotaLookup(), quota.ProducerByteRate, "bob", "x"); !ok || bound != 100 {
		t.Errorf("bob resolves to %v %v, want the default client's 100", bound, ok)
	}
	// Removing the last key drops the entity; the old image is untouched.
	next, err := im.Apply([]Record{
		NewClientQuotaRecord(aliceApp, quota.RequestPercentage, 0, true),
		NewClientQuotaRecord(alice, quota.ProducerByteRate, 0, true),
		NewClientQuotaRecord(alice, quota.ConsumerByteRate, 4096, false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if next.ClientQuotas(aliceApp) != nil {
		t.Error("alice/app still has quotas")
	}
	if got := next.ClientQuotas(alice); len(got) != 1 || got[quota.ConsumerByteRate] != 4096 {
		t.Errorf("alice after change %v", got)
	}
	if got := im.ClientQuotas(alice); got[quota.ProducerByteRate] != 1024 || got[quota.ConsumerByteRate] != 2048 {
		t.Errorf("old image changed: %v", got)
	}
	if Empty.HasClientQuotas() || !next.HasClientQuotas() {
		t.Errorf("HasClientQuotas: empty image %v, with quotas %v", Empty.HasClientQuotas(), next.HasClientQuotas())
	}
	var all []Record
	for _, e := range next.QuotaEntities() {
		for k := range next.ClientQuotas(e) {
			all = append(all, NewClientQuotaRecord(e, k, 0, true))
		}
	}
	if none, err := next.Apply(all); err != nil {
		t.Error(err)
	} else if none.HasClientQuotas() {
		t.Error("every quota removed, HasClientQuotas is still true")
	}
	if _, err := next.Apply([]Record{{Type: TypeClientQuota}}); err == nil {
		t.Error("a record without a quota applied")
	}
	bad := NewClientQuotaRecord(ip, quota.ConnectionCreationRate, 1, false)
	bad.ClientQuota.Entity = append(bad.ClientQuota.Entity, QuotaEntityData{EntityType: "user"})
	if _, err := next.Apply([]Record{bad}); err == nil {
		t.Error("an ip+user entity applied")
	}
	// Snapshots keep the quotas, defaults included.
	b, err := EncodeImage(next)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range next.QuotaEntities() {
		want, got := next.ClientQuotas(e), back.ClientQuotas(e)
		if len(want) != len(got) {
			t.Errorf("%s after a snapshot: %v, want %v", e, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s %s after a snapshot: %v, want %v", e, k, got[k], v)
			}
		}
	}
	if len(back.QuotaEntities()) != 3 {
		t.Errorf("entities after a snapshot: %v", back.QuotaEntities())
	}
}
