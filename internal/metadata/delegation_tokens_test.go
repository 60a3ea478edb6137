package metadata

import (
	"reflect"
	"testing"
)

func tokenRec(id, owner string, expiry int64) Record {
	return DelegationToken{
		TokenID: id, Owner: owner, Requester: owner, Renewers: []string{"User:renewer"},
		IssueTimestamp: 1000, MaxTimestamp: 5000, ExpirationTimestamp: expiry,
	}.Record()
}

func TestDelegationTokenRecords(t *testing.T) {
	im, err := Empty.Apply([]Record{tokenRec("t2", "User:bob", 2000), tokenRec("t1", "User:alice", 2000)})
	if err != nil {
		t.Fatal(err)
	}
	if got := im.DelegationTokens(); len(got) != 2 || got[0].TokenID != "t1" || got[1].TokenID != "t2" {
		t.Fatalf("tokens %+v", got)
	}
	// A renew writes the record again; a remove removes; the old image
	// is untouched.
	next, err := im.Apply([]Record{tokenRec("t1", "User:alice", 3000),
		{Type: TypeRemoveDelegationToken, DelegationToken: &DelegationTokenRecord{TokenID: "t2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if tok, ok := next.DelegationToken("t1"); !ok || tok.ExpirationTimestamp != 3000 {
		t.Errorf("t1 after renew: %+v %v", tok, ok)
	}
	if _, ok := next.DelegationToken("t2"); ok {
		t.Error("t2 still there")
	}
	if tok, ok := im.DelegationToken("t1"); !ok || tok.ExpirationTimestamp != 2000 {
		t.Error("the old image changed")
	}
	if _, err := next.Apply([]Record{{Type: TypeRemoveDelegationToken, DelegationToken: &DelegationTokenRecord{TokenID: "t2"}}}); err == nil {
		t.Error("removing a missing token applied")
	}
	if _, err := next.Apply([]Record{{Type: TypeDelegationToken}}); err == nil {
		t.Error("a record without a token applied")
	}
	// Snapshots keep the tokens.
	b, err := EncodeImage(next)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.DelegationTokens(), next.DelegationTokens(); !reflect.DeepEqual(got, want) {
		t.Errorf("after a snapshot %+v, want %+v", got, want)
	}
}
