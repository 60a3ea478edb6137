package delegationtokens

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// alice (SCRAM) creates a token that bob may renew; a client logged in
// with the token produces as alice, under alice's ACLs; the token
// cannot create tokens; bob renews, carol may not; describe shows each
// caller what KIP-373 lets it see; the token survives a restart; once
// alice expires it, logins with it fail.
func TestTokenLifecycle(t *testing.T) {
	b := startBroker(t, nil)
	admin := newClient(t, []string{b.addr}, plainUser("admin"))
	setScram(t, admin, "alice")
	alice := newClient(t, []string{b.addr}, scramUser("alice"))
	bob := newClient(t, []string{b.addr}, plainUser("bob"))
	carol := newClient(t, []string{b.addr}, plainUser("carol"))
	createTopic(t, admin, "alice-topic")
	createTopic(t, admin, "other-topic")
	allowWrite(t, admin, "alice-topic", "User:alice")

	tok := createToken(t, alice, "", 0, "bob")
	if tok.ErrorCode != 0 {
		t.Fatalf("create: %v", code(tok.ErrorCode))
	}
	if tok.PrincipalType != "User" || tok.PrincipalName != "alice" || tok.TokenRequesterPrincipalName != "alice" {
		t.Errorf("owner %s:%s requester %s", tok.PrincipalType, tok.PrincipalName, tok.TokenRequesterPrincipalName)
	}
	if !bytes.Equal(tok.HMAC, security.DelegationTokenHMAC(secret, tok.TokenID)) {
		t.Error("hmac is not HMAC-SHA512(secret key, token id)")
	}
	// Defaults: expiry 1 day after issue, max 7 days.
	if tok.ExpiryTimestamp-tok.IssueTimestamp != 24*3600*1000 || tok.MaxTimestamp-tok.IssueTimestamp != 7*24*3600*1000 {
		t.Errorf("issue %d expiry %d max %d", tok.IssueTimestamp, tok.ExpiryTimestamp, tok.MaxTimestamp)
	}

	// The token acts as alice: it may write alice-topic, not other-topic.
	tc := newClient(t, []string{b.addr}, tokenAuth(tok.TokenID, tok.HMAC))
	if err := produce(t, tc, "alice-topic"); err != nil {
		t.Fatalf("produce with the token: %v", err)
	}
	if err := produce(t, tc, "other-topic"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("produce to other-topic with the token: %v", err)
	}
	// A token-authenticated client cannot create or renew tokens.
	if r := createToken(t, tc, "", 0); r.ErrorCode != kerr.DelegationTokenRequestNotAllowed.Code {
		t.Errorf("create with a token: %v", code(r.ErrorCode))
	}
	if r := renewToken(t, tc, tok.HMAC, -1); r.ErrorCode != kerr.DelegationTokenRequestNotAllowed.Code {
		t.Errorf("renew with a token: %v", code(r.ErrorCode))
	}
	// A wrong password for the token fails to log in.
	bad := newClient(t, []string{b.addr}, tokenAuth(tok.TokenID, []byte("not the hmac")))
	if err := bad.Ping(ctxT(t)); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("login with a wrong hmac: %v", err)
	}

	// Renew: by the renewer, yes; by someone else, no; unknown hmac.
	if r := renewToken(t, bob, tok.HMAC, 3600_000); r.ErrorCode != 0 || r.ExpiryTimestamp <= tok.IssueTimestamp || r.ExpiryTimestamp > tok.MaxTimestamp {
		t.Errorf("renew by bob: %v %d", code(r.ErrorCode), r.ExpiryTimestamp)
	}
	if r := renewToken(t, carol, tok.HMAC, 3600_000); r.ErrorCode != kerr.DelegationTokenOwnerMismatch.Code {
		t.Errorf("renew by carol: %v", code(r.ErrorCode))
	}
	if r := renewToken(t, alice, []byte("unknown"), 3600_000); r.ErrorCode != kerr.DelegationTokenNotFound.Code {
		t.Errorf("renew unknown: %v", code(r.ErrorCode))
	}
	// Creating for another owner needs CREATE_TOKENS on that user.
	if r := createToken(t, carol, "alice", 0); r.ErrorCode != kerr.DelegationTokenAuthorizationFailed.Code {
		t.Errorf("carol creates for alice: %v", code(r.ErrorCode))
	}
	other := createToken(t, admin, "carol", 0)
	if other.ErrorCode != 0 || other.PrincipalName != "carol" || other.TokenRequesterPrincipalName != "admin" {
		t.Fatalf("admin creates for carol: %v %+v", code(other.ErrorCode), other)
	}

	// Describe: own and renewed tokens; a super user sees all; owners
	// filter on owner or renewer; an empty owner list lists nothing.
	for _, c := range []struct {
		name   string
		ids    []string
		owners []string
	}{
		{"alice", []string{tok.TokenID}, nil},
		{"bob", []string{tok.TokenID}, nil},
		{"carol", []string{other.TokenID}, nil},
		{"admin", sorted(tok.TokenID, other.TokenID), nil},
		{"admin", []string{tok.TokenID}, []string{"bob"}},
		{"admin", []string{other.TokenID}, []string{"carol"}},
	} {
		cl := map[string]*kgo.Client{"alice": alice, "bob": bob, "carol": carol, "admin": admin}[c.name]
		got, ec := describeTokens(t, cl, c.owners...)
		if ec != 0 || !slices.Equal(sorted(got...), c.ids) {
			t.Errorf("describe as %s owners %v: %v %v, want %v", c.name, c.owners, got, code(ec), c.ids)
		}
	}

	// The token survives a restart.
	b.restart()
	tc2 := newClient(t, []string{b.addr}, tokenAuth(tok.TokenID, tok.HMAC))
	if err := produce(t, tc2, "alice-topic"); err != nil {
		t.Fatalf("produce with the token after a restart: %v", err)
	}
	alice2 := newClient(t, []string{b.addr}, scramUser("alice"))
	// Expire at once: new logins fail, and the token is gone.
	if r := expireToken(t, alice2, tok.HMAC, -1); r.ErrorCode != 0 {
		t.Fatalf("expire: %v", code(r.ErrorCode))
	}
	tc3 := newClient(t, []string{b.addr}, tokenAuth(tok.TokenID, tok.HMAC))
	if err := tc3.Ping(ctxT(t)); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("login with an expired token: %v", err)
	}
	if r := renewToken(t, alice2, tok.HMAC, -1); r.ErrorCode != kerr.DelegationTokenNotFound.Code {
		t.Errorf("renew an expired token: %v", code(r.ErrorCode))
	}
	if ids, _ := describeTokens(t, alice2); len(ids) != 0 {
		t.Errorf("alice still sees %v", ids)
	}
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Without delegation.token.secret.key every request answers
// DELEGATION_TOKEN_AUTH_DISABLED; on a PLAINTEXT listener (no SASL)
// DELEGATION_TOKEN_REQUEST_NOT_ALLOWED.
func TestTokensDisabledAndNotAllowed(t *testing.T) {
	b := startBroker(t, map[string]string{"delegation.token.secret.key": ""})
	alice := newClient(t, []string{b.addr}, plainUser("alice"))
	if r := createToken(t, alice, "", 0); r.ErrorCode != kerr.DelegationTokenAuthDisabled.Code {
		t.Errorf("create: %v", code(r.ErrorCode))
	}
	if r := renewToken(t, alice, []byte("x"), -1); r.ErrorCode != kerr.DelegationTokenAuthDisabled.Code {
		t.Errorf("renew: %v", code(r.ErrorCode))
	}
	if r := expireToken(t, alice, []byte("x"), -1); r.ErrorCode != kerr.DelegationTokenAuthDisabled.Code {
		t.Errorf("expire: %v", code(r.ErrorCode))
	}
	if _, ec := describeTokens(t, alice); ec != kerr.DelegationTokenAuthDisabled.Code {
		t.Errorf("describe: %v", code(ec))
	}

	plain := kafkatest.Start(t, kafkatest.Config("delegation.token.secret.key", secret))
	cl, err := kgo.NewClient(kgo.SeedBrokers(plain.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if r := createToken(t, cl, "", 0); r.ErrorCode != kerr.DelegationTokenRequestNotAllowed.Code {
		t.Errorf("create over PLAINTEXT: %v", code(r.ErrorCode))
	}
	if _, ec := describeTokens(t, cl); ec != kerr.DelegationTokenRequestNotAllowed.Code {
		t.Errorf("describe over PLAINTEXT: %v", code(ec))
	}
}

// The controller removes expired tokens every
// delegation.token.expiry.check.interval.ms (here 50 ms): a token of
// 200 ms max lifetime disappears without anyone expiring it.
func TestExpiredTokensRemoved(t *testing.T) {
	b := startBroker(t, map[string]string{"delegation.token.expiry.check.interval.ms": "50"})
	alice := newClient(t, []string{b.addr}, plainUser("alice"))
	tok := createToken(t, alice, "", 200)
	if tok.ErrorCode != 0 || tok.MaxTimestamp-tok.IssueTimestamp != 200 || tok.ExpiryTimestamp != tok.MaxTimestamp {
		t.Fatalf("create: %v %+v", code(tok.ErrorCode), tok)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ids, ec := describeTokens(t, alice)
		if ec != 0 {
			t.Fatal(code(ec))
		}
		if len(ids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token %v never removed", ids)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := renewToken(t, alice, tok.HMAC, -1); r.ErrorCode != kerr.DelegationTokenNotFound.Code {
		t.Errorf("renew a removed token: %v", code(r.ErrorCode))
	}
}

// ApiVersions lists the token APIs at the versions Kafka 4.0 serves
// (v0 of each removed by KIP-896).
func TestApiVersions(t *testing.T) {
	b := startBroker(t, nil)
	cl := newClient(t, []string{b.addr}, plainUser("alice"))
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int16][2]int16{38: {1, 3}, 39: {1, 2}, 40: {1, 2}, 41: {1, 3}}
	for _, k := range resp.ApiKeys {
		if w, ok := want[k.ApiKey]; ok {
			if k.MinVersion != w[0] || k.MaxVersion != w[1] {
				t.Errorf("key %d: versions %d-%d, want %d-%d", k.ApiKey, k.MinVersion, k.MaxVersion, w[0], w[1])
			}
			delete(want, k.ApiKey)
		}
		if k.ApiKey == 58 {
			t.Error("a broker listener advertises Envelope")
		}
	}
	if len(want) > 0 {
		t.Errorf("not advertised: %v", want)
	}
}

// KIP-373: a caller sees others' tokens with DESCRIBE on the
// DELEGATION_TOKEN (by token id) or DESCRIBE_TOKENS on the owner's
// USER; it may create tokens for another user with CREATE_TOKENS on
// that USER.
func TestDescribeAndCreateACLs(t *testing.T) {
	b := startBroker(t, nil)
	admin := newClient(t, []string{b.addr}, plainUser("admin"))
	alice := newClient(t, []string{b.addr}, plainUser("alice"))
	bob := newClient(t, []string{b.addr}, plainUser("bob"))
	carol := newClient(t, []string{b.addr}, plainUser("carol"))
	t1 := createToken(t, alice, "", 0)
	t2 := createToken(t, alice, "", 0)
	if t1.ErrorCode != 0 || t2.ErrorCode != 0 {
		t.Fatal(code(t1.ErrorCode), code(t2.ErrorCode))
	}
	if ids, _ := describeTokens(t, carol); len(ids) != 0 {
		t.Fatalf("carol sees %v without ACLs", ids)
	}
	req := kmsg.NewPtrCreateACLsRequest()
	for _, a := range []struct {
		rt        kmsg.ACLResourceType
		name, who string
		op        kmsg.ACLOperation
	}{
		{kmsg.ACLResourceTypeDelegationToken, t1.TokenID, "User:carol", kmsg.ACLOperationDescribe},
		{kmsg.ACLResourceTypeUser, "User:alice", "User:bob", kmsg.ACLOperationDescribeTokens},
		{kmsg.ACLResourceTypeUser, "User:alice", "User:bob", kmsg.ACLOperationCreateTokens},
	} {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = a.rt, a.name, kmsg.ACLResourcePatternTypeLiteral
		c.Principal, c.Host, c.Operation, c.PermissionType = a.who, "*", a.op, kmsg.ACLPermissionTypeAllow
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(ctxT(t), admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Results {
		if r.ErrorCode != 0 {
			t.Fatal(code(r.ErrorCode))
		}
	}
	if ids, _ := describeTokens(t, carol); !slices.Equal(ids, []string{t1.TokenID}) {
		t.Errorf("carol with DESCRIBE on %s sees %v", t1.TokenID, ids)
	}
	if ids, _ := describeTokens(t, bob); !slices.Equal(sorted(ids...), sorted(t1.TokenID, t2.TokenID)) {
		t.Errorf("bob with DESCRIBE_TOKENS on User:alice sees %v", ids)
	}
	if r := createToken(t, bob, "alice", 0); r.ErrorCode != 0 || r.PrincipalName != "alice" || r.TokenRequesterPrincipalName != "bob" {
		t.Errorf("bob creates for alice with CREATE_TOKENS: %v %+v", code(r.ErrorCode), r)
	}
	if r := createToken(t, carol, "alice", 0); r.ErrorCode != kerr.DelegationTokenAuthorizationFailed.Code {
		t.Errorf("carol creates for alice: %v", code(r.ErrorCode))
	}
}
