package metadata

import (
	"testing"

	"github.com/gregor-streaming/gregor/internal/acl"
)

func TestACLRecords(t *testing.T) {
	w := acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: "t", PatternType: acl.PatternLiteral, Principal: "User:a", Host: "*", Operation: acl.OpWrite, Permission: acl.Allow}
	p := acl.Binding{ResourceType: acl.ResourceGroup, ResourceName: "g-", PatternType: acl.PatternPrefixed, Principal: "User:*", Host: "*", Operation: acl.OpRead, Permission: acl.Deny}
	im, err := Empty.Apply([]Record{ACLAddRecord(acl.ID{1}, w), ACLAddRecord(acl.ID{2}, p)})
	if err != nil {
		t.Fatal(err)
	}
	if im.ACLs().Len() != 2 {
		t.Fatalf("acls %d", im.ACLs().Len())
	}
	next, err := im.Apply([]Record{ACLRemoveRecord(acl.ID{1})})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := next.ACLs().Find(w); ok || next.ACLs().Len() != 1 {
		t.Fatal("removed ACL still there")
	}
	if im.ACLs().Len() != 2 {
		t.Fatal("the old image changed")
	}
	// Removing what is not there, adding an id twice, or an invalid
	// binding does not apply.
	for name, recs := range map[string][]Record{
		"missing remove": {ACLRemoveRecord(acl.ID{9})},
		"duplicate id":   {ACLAddRecord(acl.ID{2}, w)},
		"no id":          {ACLAddRecord(acl.ID{}, w)},
		"invalid":        {ACLAddRecord(acl.ID{3}, acl.Binding{ResourceType: acl.ResourceAny, ResourceName: "x", PatternType: acl.PatternLiteral, Principal: "User:a", Host: "*", Operation: acl.OpRead, Permission: acl.Allow})},
		"no body":        {{Type: TypeAccessControlEntry}},
	} {
		if _, err := next.Apply(recs); err == nil {
			t.Errorf("%s applied", name)
		}
	}
	// Snapshots keep the ACLs, ids included.
	b, err := EncodeImage(im)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		id acl.ID
		b  acl.Binding
	}{{acl.ID{1}, w}, {acl.ID{2}, p}} {
		if got, ok := back.ACLs().Get(want.id); !ok || got != want.b {
			t.Errorf("after a snapshot %x: %v %v", want.id, got, ok)
		}
	}
}
