package controller

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/security"
)

// Reference: Kafka's ScramControlManager (validation, errors and the
// per-user duplicate rule of AlterUserScramCredentials, KIP-554).
func TestAlterUserScramCredentials(t *testing.T) {
	j := &memJournal{}
	c, _ := open(t, j)
	salt := []byte("salty")
	salted, err := security.SaltedPassword(security.ScramSHA256, "alice-secret", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	up := func(user string, mech int8, iter int32) ScramUpsertion {
		return ScramUpsertion{User: user, Mechanism: mech, Iterations: iter, Salt: salt, SaltedPassword: salted}
	}
	res := c.AlterUserScramCredentials(nil, []ScramUpsertion{up("alice", 1, 4096), up("bob", 2, 8192)})
	if len(res) != 2 || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("upsert: %+v", res)
	}
	cred, ok := c.Image().ScramCredential("alice", 1)
	want := security.CredentialFromSaltedPassword(security.ScramSHA256, salted, salt, 4096)
	if !ok || !bytes.Equal(cred.StoredKey, want.StoredKey) || !bytes.Equal(cred.ServerKey, want.ServerKey) || cred.Iterations != 4096 {
		t.Fatalf("alice's credential %+v", cred)
	}
	batches := len(j.batches)

	for _, tc := range []struct {
		name string
		dels []ScramDeletion
		ups  []ScramUpsertion
		user string
		want *kerr.Error
	}{
		{name: "empty user", ups: []ScramUpsertion{up("", 1, 4096)}, user: "", want: kerr.UnacceptableCredential},
		{name: "unknown mechanism", ups: []ScramUpsertion{up("carol", 3, 4096)}, user: "carol", want: kerr.UnsupportedSaslMechanism},
		{name: "too few", ups: []ScramUpsertion{up("carol", 1, 4095)}, user: "carol", want: kerr.UnacceptableCredential},
		{name: "too many", ups: []ScramUpsertion{up("carol", 1, 16385)}, user: "carol", want: kerr.UnacceptableCredential},
		{name: "delete missing", dels: []ScramDeletion{{User: "alice", Mechanism: 2}}, user: "alice", want: kerr.ResourceNotFound},
		{name: "twice", ups: []ScramUpsertion{up("carol", 1, 4096), up("carol", 2, 4096)}, user: "carol", want: kerr.DuplicateResource},
		{name: "delete and upsert", dels: []ScramDeletion{{User: "alice", Mechanism: 1}}, ups: []ScramUpsertion{up("alice", 2, 4096)}, user: "alice", want: kerr.DuplicateResource},
	} {
		res := c.AlterUserScramCredentials(tc.dels, tc.ups)
		if len(res) != 1 || res[0].User != tc.user || code(res[0].Err) != tc.want.Code {
			t.Errorf("%s: %+v, want %s for %q", tc.name, res, tc.want.Message, tc.user)
		}
	}
	if len(j.batches) != batches {
		t.Fatal("failed requests committed records")
	}

	// One user fails, the others succeed in one batch.
	res = c.AlterUserScramCredentials([]ScramDeletion{{User: "bob", Mechanism: 2}}, []ScramUpsertion{up("dave", 1, 4096), up("", 1, 4096)})
	if len(res) != 3 || res[0].User != "bob" || res[0].Err != nil || res[1].User != "dave" || res[1].Err != nil || code(res[2].Err) != kerr.UnacceptableCredential.Code {
		t.Fatalf("mixed: %+v", res)
	}
	if _, ok := c.Image().ScramCredential("bob", 2); ok {
		t.Error("bob's credential survived its deletion")
	}
	if len(j.batches) != batches+1 {
		t.Errorf("%d batches, want one more", len(j.batches)-batches)
	}

	// A failed commit fails the users that would have changed.
	j.fail = errors.New("disk full")
	res = c.AlterUserScramCredentials(nil, []ScramUpsertion{up("erin", 1, 4096)})
	if len(res) != 1 || res[0].Err == nil {
		t.Errorf("failed commit: %+v", res)
	}
}
