package security

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"strings"
	"time"
)

// Delegation tokens (KIP-48) authenticate with SCRAM: the client sends
// the extension tokenauth=true in its client-first message (RFC 5802
// section 5.1 extensions, Kafka's ScramExtensions), the token id as the
// user name, and the token's HMAC, base64-encoded, as the password:
//
//	n,,n=<token id>,r=<client nonce>,tokenauth=true
//
// The server takes the token from Credentials.DelegationToken, derives
// a SCRAM credential from its HMAC for this exchange, and on success
// the session's principal is the token's owner, token-authenticated
// (Kafka's KafkaPrincipal.tokenAuthenticated), until the token's expiry
// at most (KIP-368).

// DelegationTokenHMAC returns HMAC-SHA512 of tokenID under secretKey,
// both as UTF-8 bytes: the token's password, as Kafka's
// DelegationTokenManager.createHmac computes it.
func DelegationTokenHMAC(secretKey, tokenID string) []byte {
	h := hmac.New(sha512.New, []byte(secretKey))
	h.Write([]byte(tokenID))
	return h.Sum(nil)
}

// DelegationToken is what token authentication needs of a token.
type DelegationToken struct {
	// Owner is the principal a client authenticated with the token
	// becomes.
	Owner Principal
	// HMAC is the token's secret; a client's password is its base64.
	HMAC []byte
	// Expiry is when the token expires; the session ends then.
	Expiry time.Time
}

// TokenAuthenticator is a ServerSession that may have authenticated a
// delegation token (SCRAM with tokenauth=true).
type TokenAuthenticator interface {
	// TokenOwner returns the owner of the token the session
	// authenticated and the token's expiry; ok is false when the
	// session did not authenticate a token (or is not done).
	TokenOwner() (owner Principal, expiry time.Time, ok bool)
}

// TokenOwner implements TokenAuthenticator.
func (s *scramServer) TokenOwner() (Principal, time.Time, bool) {
	if s.state != scramDone || !s.tokenAuth {
		return Principal{}, time.Time{}, false
	}
	return s.tokenOwner, s.tokenExpiry, true
}

// tokenAuthExtension reports whether a client-first extension asks for
// token authentication (Kafka reads its value with
// Boolean.parseBoolean).
func tokenAuthExtension(key, value string) bool {
	return key == "tokenauth" && strings.EqualFold(value, "true")
}

// lookupToken sets s.cred from the delegation token named tokenID, as
// the credential of the password base64(HMAC): known stays false for a
// token the server does not have.
func (s *scramServer) lookupToken(tokenID string) {
	if s.creds.DelegationToken == nil {
		return
	}
	t, ok := s.creds.DelegationToken(tokenID)
	if !ok {
		return
	}
	cred, err := NewScramCredential(s.mech, base64.StdEncoding.EncodeToString(t.HMAC), nil, ScramMinIterations)
	if err != nil {
		return
	}
	s.cred, s.known = cred, true
	s.tokenOwner, s.tokenExpiry = t.Owner, t.Expiry
}
