package metadata

import (
	"fmt"
	"maps"
	"slices"
)

// Delegation tokens in the metadata log (KIP-48, KIP-373), as Kafka's
// DelegationTokenRecord and RemoveDelegationTokenRecord: the token's
// information and never its HMAC, which every node derives from the
// token id and delegation.token.secret.key (the same key on every node):
//
//	DelegationTokenRecord        {tokenId, owner, requester, renewers,
//	                              issueTimestamp, maxTimestamp,
//	                              expirationTimestamp}
//	RemoveDelegationTokenRecord  {tokenId}
//
// Principals are written "User:alice"; timestamps are Unix milliseconds.
// A create and a renew both write a DelegationTokenRecord (the renew
// with the new expiration timestamp), which replaces the token of that
// id; an expire, and the controller's sweep of expired tokens, write
// the remove.

// DelegationTokenRecord carries the fields of both delegation token
// record types (the remove record sets TokenID only).
type DelegationTokenRecord struct {
	TokenID             string   `json:"tokenId"`
	Owner               string   `json:"owner,omitempty"`
	Requester           string   `json:"requester,omitempty"`
	Renewers            []string `json:"renewers,omitempty"`
	IssueTimestamp      int64    `json:"issueTimestamp,omitempty"`
	MaxTimestamp        int64    `json:"maxTimestamp,omitempty"`
	ExpirationTimestamp int64    `json:"expirationTimestamp,omitempty"`
}

// DelegationToken is a token's information, Kafka's TokenInformation.
// Callers must not modify Renewers.
type DelegationToken struct {
	TokenID string
	// Owner, Requester and Renewers are principals, "User:alice".
	Owner     string
	Requester string
	Renewers  []string
	// IssueTimestamp, MaxTimestamp and ExpirationTimestamp are Unix
	// milliseconds.
	IssueTimestamp      int64
	MaxTimestamp        int64
	ExpirationTimestamp int64
}

// DelegationToken returns the token with id.
func (im *Image) DelegationToken(id string) (DelegationToken, bool) {
	t, ok := im.tokens[id]
	return t, ok
}

// DelegationTokens returns every token, by token id. The caller owns
// the slice.
func (im *Image) DelegationTokens() []DelegationToken {
	out := make([]DelegationToken, 0, len(im.tokens))
	for _, id := range slices.Sorted(maps.Keys(im.tokens)) {
		out = append(out, im.tokens[id])
	}
	return out
}

// applyDelegationToken applies a delegation token record to an image
// being built by Apply (whose tokens map is its own).
func (im *Image) applyDelegationToken(r Record) error {
	if r.DelegationToken == nil || r.DelegationToken.TokenID == "" {
		return fmt.Errorf("%s without a token id", r.Type)
	}
	d := r.DelegationToken
	switch r.Type {
	case TypeDelegationToken:
		if im.tokens == nil {
			im.tokens = map[string]DelegationToken{}
		}
		im.tokens[d.TokenID] = DelegationToken{
			TokenID: d.TokenID, Owner: d.Owner, Requester: d.Requester, Renewers: d.Renewers,
			IssueTimestamp: d.IssueTimestamp, MaxTimestamp: d.MaxTimestamp, ExpirationTimestamp: d.ExpirationTimestamp,
		}
	case TypeRemoveDelegationToken:
		if _, ok := im.tokens[d.TokenID]; !ok {
			return fmt.Errorf("no delegation token %q to remove", d.TokenID)
		}
		delete(im.tokens, d.TokenID)
	}
	return nil
}

// delegationTokenRecords returns the records that rebuild the tokens, by
// token id.
func (im *Image) delegationTokenRecords() []Record {
	var recs []Record
	for _, t := range im.DelegationTokens() {
		recs = append(recs, t.Record())
	}
	return recs
}

// Record returns the DelegationTokenRecord that sets t.
func (t DelegationToken) Record() Record {
	return Record{Type: TypeDelegationToken, DelegationToken: &DelegationTokenRecord{
		TokenID: t.TokenID, Owner: t.Owner, Requester: t.Requester, Renewers: t.Renewers,
		IssueTimestamp: t.IssueTimestamp, MaxTimestamp: t.MaxTimestamp, ExpirationTimestamp: t.ExpirationTimestamp,
	}}
}
