package security_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gregor-streaming/gregor/internal/security"
)

// Reference: the HMAC-SHA512 example of RFC 2104's Wikipedia page (key
// "key"), which Kafka's createHmac computes the same way.
func TestDelegationTokenHMAC(t *testing.T) {
	got := hex.EncodeToString(security.DelegationTokenHMAC("key", "The quick brown fox jumps over the lazy dog"))
	want := "b42af09057bac1e2d41708e48a902e09b5ff7f12ab428a4fe86653c73dd248fb82f948a549f7b791a5b41915ee4d1ec3935357e4e2317250d0372afa2ebeeb3a"
	if got != want {
		t.Fatalf("hmac %s, want %s", got, want)
	}
}

// scramExchange runs a whole SCRAM exchange of auth against a new
// server session of mech.
func scramExchange(t *testing.T, mech string, creds security.Credentials, auth scram.Auth) (security.ServerSession, error) {
	t.Helper()
	srv, err := security.NewServerSession(mech, creds)
	if err != nil {
		t.Fatal(err)
	}
	m := auth.AsSha256Mechanism()
	if mech == security.MechanismScramSHA512 {
		m = auth.AsSha512Mechanism()
	}
	sess, first, err := m.Authenticate(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	serverFirst, _, err := srv.Step(first)
	if err != nil {
		return srv, err
	}
	_, final, err := sess.Challenge(serverFirst)
	if err != nil {
		t.Fatal(err)
	}
	serverFinal, done, err := srv.Step(final)
	if err != nil {
		return srv, err
	}
	if !done {
		t.Fatal("not done after the client-final message")
	}
	if _, _, err := sess.Challenge(serverFinal); err != nil {
		t.Fatalf("client rejects the server signature: %v", err)
	}
	return srv, nil
}

// A delegation token authenticates with SCRAM and tokenauth=true: user
// name the token id, password the base64 HMAC; the principal is the
// token's owner (KIP-48).
func TestScramDelegationToken(t *testing.T) {
	expiry := time.UnixMilli(1_700_000_000_000)
	hmac := security.DelegationTokenHMAC("secret", "tok1")
	creds := testCreds(t)
	creds.DelegationToken = func(id string) (security.DelegationToken, bool) {
		return security.DelegationToken{Owner: security.User("alice"), HMAC: hmac, Expiry: expiry}, id == "tok1"
	}
	pass := base64.StdEncoding.EncodeToString(hmac)
	for _, mech := range []string{security.MechanismScramSHA256, security.MechanismScramSHA512} {
		srv, err := scramExchange(t, mech, creds, scram.Auth{User: "tok1", Pass: pass, IsToken: true})
		if err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		if got := srv.AuthorizationID(); got != "alice" {
			t.Errorf("%s: authorization id %q", mech, got)
		}
		owner, exp, ok := srv.(security.TokenAuthenticator).TokenOwner()
		if !ok || owner != security.User("alice") || !exp.Equal(expiry) {
			t.Errorf("%s: token owner %v %v %v", mech, owner, exp, ok)
		}
		for name, bad := range map[string]scram.Auth{
			"wrong hmac":                 {User: "tok1", Pass: base64.StdEncoding.EncodeToString(security.DelegationTokenHMAC("other", "tok1")), IsToken: true},
			"unknown token":              {User: "tok2", Pass: pass, IsToken: true},
			"token id without tokenauth": {User: "tok1", Pass: pass},
			"user password as a token":   {User: "bob", Pass: "bob-secret", IsToken: true},
		} {
			if _, err := scramExchange(t, mech, creds, bad); !errors.Is(err, security.ErrAuthenticationFailed) {
				t.Errorf("%s %s: err %v", mech, name, err)
			}
		}
	}
	// A user's own SCRAM login is not token-authenticated.
	srv, err := scramExchange(t, security.MechanismScramSHA256, creds, scram.Auth{User: "bob", Pass: "bob-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := srv.(security.TokenAuthenticator).TokenOwner(); ok {
		t.Error("a user login says it authenticated a token")
	}
}
