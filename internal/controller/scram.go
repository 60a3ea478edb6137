package controller

import (
	"bytes"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/security"
)

// SCRAM credentials (KIP-554), decided as Kafka's ScramControlManager
// does: a request names users, each at most once (deletions and
// upsertions together); each user either fails alone or has its records
// in the one batch the request commits.
//
//	deletion   {user, mechanism}                       RemoveUserScramCredentialRecord
//	upsertion  {user, mechanism, iterations, salt,     UserScramCredentialRecord with
//	            salted password}                        StoredKey, ServerKey derived here

// ScramDeletion removes a user's credential for one mechanism.
type ScramDeletion struct {
	User      string
	Mechanism int8
}

// ScramUpsertion sets a user's credential for one mechanism. The client
// salted the password (SaltedPassword is Hi(password, Salt, Iterations)).
type ScramUpsertion struct {
	User           string
	Mechanism      int8
	Iterations     int32
	Salt           []byte
	SaltedPassword []byte
}

// ScramResult is the outcome for one user; Err is nil or an
// *apierror.Error.
type ScramResult struct {
	User string
	Err  error
}

// AlterUserScramCredentials applies deletions and upsertions. Results
// list the users that succeeded (deletions, then upsertions, in request
// order) and then those that failed, by name.
func (c *Controller) AlterUserScramCredentials(deletions []ScramDeletion, upsertions []ScramUpsertion) []ScramResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	users := func() []string {
		var us []string
		for _, d := range deletions {
			us = append(us, d.User)
		}
		for _, u := range upsertions {
			us = append(us, u.User)
		}
		slices.Sort(us)
		return slices.Compact(us)
	}
	if _, err := c.readyLocked(); err != nil {
		var out []ScramResult
		for _, u := range users() {
			out = append(out, ScramResult{User: u, Err: asAPIError(err)})
		}
		return out
	}
	im := c.image.Load()
	failed := map[string]error{}
	var delOK []ScramDeletion
	var upOK []ScramUpsertion
	seen := map[string]bool{}
	dup := func(user string) bool {
		if _, bad := failed[user]; bad {
			return true // already failed: keep the first error
		}
		if seen[user] {
			failed[user] = apierror.New(kerr.DuplicateResource, "A user credential cannot be altered twice in the same request")
			delOK = slices.DeleteFunc(delOK, func(d ScramDeletion) bool { return d.User == user })
			upOK = slices.DeleteFunc(upOK, func(u ScramUpsertion) bool { return u.User == user })
			return true
		}
		seen[user] = true
		return false
	}
	for _, d := range deletions {
		if dup(d.User) {
			continue
		}
		if err := validateScramUser(d.User, d.Mechanism); err != nil {
			failed[d.User] = err
			continue
		}
		if _, ok := im.ScramCredential(d.User, d.Mechanism); !ok {
			failed[d.User] = apierror.New(kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist")
			continue
		}
		delOK = append(delOK, d)
	}
	for _, u := range upsertions {
		if dup(u.User) {
			continue
		}
		if err := validateScramUser(u.User, u.Mechanism); err != nil {
			failed[u.User] = err
			continue
		}
		if u.Iterations < security.ScramMinIterations {
			failed[u.User] = apierror.New(kerr.UnacceptableCredential, "Too few iterations")
			continue
		}
		if u.Iterations > security.ScramMaxIterations {
			failed[u.User] = apierror.New(kerr.UnacceptableCredential, "Too many iterations")
			continue
		}
		upOK = append(upOK, u)
	}

	var recs []metadata.Record
	for _, d := range delOK {
		recs = append(recs, metadata.Record{Type: metadata.TypeRemoveUserScramCredential,
			Scram: &metadata.ScramCredentialRecord{Name: d.User, Mechanism: d.Mechanism}})
	}
	for _, u := range upOK {
		// The salt may alias the request's buffer, which is reused: copy it.
		cred := security.CredentialFromSaltedPassword(security.ScramMechanism(u.Mechanism), u.SaltedPassword, bytes.Clone(u.Salt), u.Iterations)
		recs = append(recs, metadata.Record{Type: metadata.TypeUserScramCredential, Scram: &metadata.ScramCredentialRecord{
			Name: u.User, Mechanism: u.Mechanism, Salt: cred.Salt, StoredKey: cred.StoredKey, ServerKey: cred.ServerKey, Iterations: cred.Iterations,
		}})
	}
	var commitErr error
	if err := c.commitLocked(recs); err != nil {
		commitErr = asAPIError(err)
	} else if len(recs) > 0 {
		c.cfg.Logger.Info("altered SCRAM credentials", "deletions", len(delOK), "upsertions", len(upOK))
	}
	var out []ScramResult
	for _, d := range delOK {
		out = append(out, ScramResult{User: d.User, Err: commitErr})
	}
	for _, u := range upOK {
		out = append(out, ScramResult{User: u.User, Err: commitErr})
	}
	for _, u := range users() {
		if err, ok := failed[u]; ok {
			out = append(out, ScramResult{User: u, Err: err})
		}
	}
	return out
}

// validateScramUser is ScramControlManager.validateScramUsernameAndMechanism.
func validateScramUser(user string, mechanism int8) error {
	if user == "" {
		return apierror.New(kerr.UnacceptableCredential, "Username must not be empty")
	}
	if !security.ScramMechanism(mechanism).Valid() {
		return apierror.New(kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
	}
	return nil
}

// asAPIError keeps an *apierror.Error and turns anything else into
// UNKNOWN_SERVER_ERROR.
func asAPIError(err error) error {
	if ae := apiError(err); ae != nil {
		return ae
	}
	return apierror.New(kerr.UnknownServerError, "%v", err)
}
