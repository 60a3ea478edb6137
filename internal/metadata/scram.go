package metadata

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// SCRAM credentials in the metadata log (KIP-554): one record per user and
// mechanism, as Kafka's UserScramCredentialRecord, holding what a server
// needs to check a SCRAM client and never the password:
//
//	UserScramCredentialRecord        {name, mechanism, salt, storedKey, serverKey, iterations}
//	RemoveUserScramCredentialRecord  {name, mechanism}
//
// Mechanism is Kafka's ScramMechanism type: 1 SCRAM-SHA-256, 2
// SCRAM-SHA-512. A remove of a credential that does not exist does not
// apply, as in Kafka's ScramControlManager.replay.

// ScramCredentialRecord carries the fields of both SCRAM record types
// (the remove record sets Name and Mechanism only).
type ScramCredentialRecord struct {
	Name       string `json:"name"`
	Mechanism  int8   `json:"mechanism"`
	Salt       []byte `json:"salt,omitempty"`
	StoredKey  []byte `json:"storedKey,omitempty"`
	ServerKey  []byte `json:"serverKey,omitempty"`
	Iterations int32  `json:"iterations,omitempty"`
}

// ScramKey names one credential: a user and a mechanism.
type ScramKey struct {
	User      string
	Mechanism int8
}

// ScramCredential is a stored SCRAM credential. Callers must not modify
// its slices.
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// ScramCredential returns user's credential for mechanism.
func (im *Image) ScramCredential(user string, mechanism int8) (ScramCredential, bool) {
	c, ok := im.scram[ScramKey{User: user, Mechanism: mechanism}]
	return c, ok
}

// ScramUsers returns the users with at least one SCRAM credential,
// sorted.
func (im *Image) ScramUsers() []string {
	var users []string
	for k := range im.scram {
		if !slices.Contains(users, k.User) {
			users = append(users, k.User)
		}
	}
	slices.Sort(users)
	return users
}

// ScramMechanisms returns the mechanisms user has credentials for, in
// mechanism order, with their iteration counts.
func (im *Image) ScramMechanisms(user string) (mechanisms []int8, iterations []int32) {
	for _, k := range im.sortedScramKeys() {
		if k.User == user {
			mechanisms = append(mechanisms, k.Mechanism)
			iterations = append(iterations, im.scram[k].Iterations)
		}
	}
	return mechanisms, iterations
}

func (im *Image) sortedScramKeys() []ScramKey {
	return slices.SortedFunc(maps.Keys(im.scram), func(a, b ScramKey) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Mechanism, b.Mechanism))
	})
}

// applyScram applies a SCRAM record to an image being built by Apply
// (whose scram map is its own).
func (im *Image) applyScram(r Record) error {
	if r.Scram == nil || r.Scram.Name == "" {
		return fmt.Errorf("%s without a user name", r.Type)
	}
	key := ScramKey{User: r.Scram.Name, Mechanism: r.Scram.Mechanism}
	switch r.Type {
	case TypeUserScramCredential:
		if im.scram == nil {
			im.scram = map[ScramKey]ScramCredential{}
		}
		im.scram[key] = ScramCredential{Salt: r.Scram.Salt, StoredKey: r.Scram.StoredKey, ServerKey: r.Scram.ServerKey, Iterations: r.Scram.Iterations}
	case TypeRemoveUserScramCredential:
		if _, ok := im.scram[key]; !ok {
			return fmt.Errorf("no SCRAM credential of mechanism %d for user %q to remove", key.Mechanism, key.User)
		}
		delete(im.scram, key)
	}
	return nil
}

// scramRecords returns the records that rebuild the credentials, by user
// then mechanism.
func (im *Image) scramRecords() []Record {
	var recs []Record
	for _, k := range im.sortedScramKeys() {
		c := im.scram[k]
		recs = append(recs, Record{Type: TypeUserScramCredential, Scram: &ScramCredentialRecord{
			Name: k.User, Mechanism: k.Mechanism, Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations,
		}})
	}
	return recs
}
