package metadata

import (
	"bytes"
	"slices"
	"testing"
)

func scramRec(user string, mech int8, iter int32) Record {
	return Record{Type: TypeUserScramCredential, Scram: &ScramCredentialRecord{
		Name: user, Mechanism: mech, Salt: []byte("salt-" + user), StoredKey: []byte{1, 2}, ServerKey: []byte{3, 4}, Iterations: iter,
	}}
}

func TestScramRecords(t *testing.T) {
	im, err := Empty.Apply([]Record{scramRec("bob", 1, 4096), scramRec("alice", 2, 8192), scramRec("alice", 1, 4096)})
	if err != nil {
		t.Fatal(err)
	}
	if got := im.ScramUsers(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("users %v", got)
	}
	mechs, iters := im.ScramMechanisms("alice")
	if !slices.Equal(mechs, []int8{1, 2}) || !slices.Equal(iters, []int32{4096, 8192}) {
		t.Errorf("alice: %v %v", mechs, iters)
	}
	// An upsert replaces; a remove removes; the old image is untouched.
	next, err := im.Apply([]Record{scramRec("bob", 1, 10000), {Type: TypeRemoveUserScramCredential, Scram: &ScramCredentialRecord{Name: "alice", Mechanism: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := next.ScramCredential("bob", 1); c.Iterations != 10000 {
		t.Errorf("bob after upsert: %+v", c)
	}
	if _, ok := next.ScramCredential("alice", 2); ok {
		t.Error("alice SHA-512 still there")
	}
	if c, ok := im.ScramCredential("alice", 2); !ok || c.Iterations != 8192 {
		t.Error("the old image changed")
	}
	// Removing what is not there does not apply.
	if _, err := next.Apply([]Record{{Type: TypeRemoveUserScramCredential, Scram: &ScramCredentialRecord{Name: "alice", Mechanism: 2}}}); err == nil {
		t.Error("removing a missing credential applied")
	}
	if _, err := next.Apply([]Record{{Type: TypeUserScramCredential}}); err == nil {
		t.Error("a record without a credential applied")
	}
	// Snapshots keep the credentials.
	b, err := EncodeImage(next)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := back.ScramCredential("bob", 1)
	if !ok || c.Iterations != 10000 || !bytes.Equal(c.Salt, []byte("salt-bob")) || !bytes.Equal(c.StoredKey, []byte{1, 2}) {
		t.Errorf("bob after a snapshot: %+v %v", c, ok)
	}
	if got := back.ScramUsers(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("users after a snapshot %v", got)
	}
}
