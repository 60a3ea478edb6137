package security_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/security/securitytest"
)

// Reference: RFC 7628 section 3.1 and Kafka's
// OAuthBearerClientInitialResponse.
func TestParseOAuthBearerClientFirst(t *testing.T) {
	for _, tc := range []struct {
		msg   string
		authz string
		token string
		ext   map[string]string
		bad   bool
	}{
		{msg: "n,,\x01auth=Bearer abc.def.ghi\x01\x01", token: "abc.def.ghi"},
		{msg: "n,a=alice,\x01auth=bearer abc\x01traceId=123\x01\x01", authz: "alice", token: "abc", ext: map[string]string{"traceId": "123"}},
		{msg: "n,a=a=2Cb,\x01auth=Bearer x_y-z.\x01\x01", authz: "a,b", token: "x_y-z."},
		{msg: "n,,\x01auth=Basic abc\x01\x01", bad: true},
		{msg: "n,,\x01traceId=1\x01\x01", bad: true},
		{msg: "y,,\x01auth=Bearer abc\x01\x01", bad: true},
		{msg: "n,,\x01auth=Bearer abc\x01", bad: true},
		{msg: "n,,\x01auth=Bearer a b\x01\x01", bad: true},
		{msg: "", bad: true},
	} {
		got, err := security.ParseOAuthBearerClientFirst([]byte(tc.msg))
		if tc.bad {
			if err == nil {
				t.Errorf("%q parsed: %+v", tc.msg, got)
			}
			continue
		}
		if err != nil || got.AuthorizationID != tc.authz || got.Token != tc.token || len(got.Extensions) != len(tc.ext) {
			t.Errorf("%q = %+v, %v", tc.msg, got, err)
		}
		for k, v := range tc.ext {
			if got.Extensions[k] != v {
				t.Errorf("%q: extension %s = %q", tc.msg, k, got.Extensions[k])
			}
		}
	}
}

func clientFirst(authz, token string) []byte {
	a := ""
	if authz != "" {
		a = "a=" + authz
	}
	return []byte("n," + a + ",\x01auth=Bearer " + token + "\x01\x01")
}

// Reference: KIP-768 (OAuthBearerValidatorCallbackHandler,
// ValidatorAccessTokenValidator): signature by a JWKS key, exp and iat
// required, expected audience and issuer, the subject claim.
func TestJWTValidator(t *testing.T) {
	is := securitytest.NewIssuer(t)
	now := time.Now()
	v, err := security.NewOAuthBearerValidator(security.OAuthBearerSettings{
		JWKSEndpointURL:  is.WriteJWKS(t, t.TempDir()),
		ExpectedAudience: []string{"kafka"},
		ExpectedIssuer:   "https://issuer.example",
		ClockSkew:        30 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := securitytest.Claims{Subject: "alice", Issuer: "https://issuer.example", Audience: []string{"kafka", "other"},
		Scope: "read write", IssuedAt: now, Expiry: now.Add(time.Hour)}
	other := securitytest.NewIssuer(t)
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"rsa", is.Token(t, "rsa", good), true},
		{"ecdsa", is.Token(t, "ec", good), true},
		{"expired", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.Expiry = now.Add(-time.Minute) })), false},
		{"expired within the skew", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.Expiry = now.Add(-10 * time.Second) })), true},
		{"no exp", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.Expiry = time.Time{} })), false},
		{"no iat", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.IssuedAt = time.Time{} })), false},
		{"wrong audience", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.Audience = []string{"web"} })), false},
		{"no audience", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.Audience = nil })), false},
		{"wrong issuer", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.Issuer = "https://evil.example" })), false},
		{"no subject", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.Subject = "" })), false},
		{"another issuer's key", other.Token(t, "rsa", good), false},
		{"unsigned", securitytest.UnsecuredToken(t, good), false},
		{"tampered", tamper(is.Token(t, "ec", good)), false},
		{"garbage", "a.b.c", false},
	} {
		tok, status, _, err := v.Validate(tc.token)
		if tc.ok != (err == nil) {
			t.Errorf("%s: %+v %v, want ok %v", tc.name, tok, err, tc.ok)
			continue
		}
		if tc.ok && (tok.Principal != "alice" || strings.Join(tok.Scopes, " ") != "read write" || tok.Expiry.Before(now.Add(-time.Minute))) {
			t.Errorf("%s: token %+v", tc.name, tok)
		}
		if !tc.ok && status != "" && status != "invalid_token" {
			t.Errorf("%s: status %q", tc.name, status)
		}
	}

	// Another subject claim name.
	v2, err := security.NewOAuthBearerValidator(security.OAuthBearerSettings{
		CallbackHandlerClass: security.OAuthBearerValidatorClass,
		JWKSEndpointURL:      is.WriteJWKS(t, t.TempDir()),
		SubClaimName:         "client_id",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _, err := v2.Validate(is.Token(t, "ec", with(good, func(c *securitytest.Claims) { c.Extra = map[string]any{"client_id": "svc"} })))
	if err != nil || tok.Principal != "svc" {
		t.Errorf("client_id subject: %+v %v", tok, err)
	}
}

func with(c securitytest.Claims, f func(*securitytest.Claims)) securitytest.Claims {
	f(&c)
	return c
}

// tamper changes the payload of a signed token.
func tamper(tok string) string {
	p := strings.Split(tok, ".")
	b := []byte(p[1])
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	p[1] = string(b)
	return strings.Join(p, ".")
}

func TestOAuthBearerValidatorConfig(t *testing.T) {
	for _, s := range []security.OAuthBearerSettings{
		{}, // neither a JWKS nor the unsecured class
		{CallbackHandlerClass: "com.example.Custom", JWKSEndpointURL: "file:///x"},
		{JWKSEndpointURL: "ftp://x/jwks"}, // scheme
		{JWKSEndpointURL: "file:///nonexistent/jwks.json"},
		{CallbackHandlerClass: security.OAuthBearerUnsecuredClass, JAAS: "m required unsecuredValidatorAllowableClockSkewMs=x;"},
	} {
		if _, err := security.NewOAuthBearerValidator(s, nil); !errors.Is(err, security.ErrBadConfig) {
			t.Errorf("%+v: %v, want ErrBadConfig", s, err)
		}
	}
}

// Reference: Kafka's OAuthBearerUnsecuredValidatorCallbackHandler and
// OAuthBearerValidationUtils.
func TestUnsecuredValidator(t *testing.T) {
	v, err := security.NewOAuthBearerValidator(security.OAuthBearerSettings{
		CallbackHandlerClass: security.OAuthBearerUnsecuredClass,
		JAAS:                 security.OAuthBearerLoginModuleClass + ` required unsecuredValidatorRequiredScope="produce" unsecuredValidatorAllowableClockSkewMs="1000";`,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := securitytest.Claims{Subject: "bob", Scope: "produce consume", IssuedAt: now, Expiry: now.Add(time.Minute)}
	if tok, _, _, err := v.Validate(securitytest.UnsecuredToken(t, good)); err != nil || tok.Principal != "bob" {
		t.Fatalf("good: %+v %v", tok, err)
	}
	if _, status, scope, err := v.Validate(securitytest.UnsecuredToken(t, with(good, func(c *securitytest.Claims) { c.Scope = "consume" }))); err == nil || status != "insufficient_scope" || scope != "produce" {
		t.Errorf("missing scope: %q %q %v", status, scope, err)
	}
	if _, _, _, err := v.Validate(securitytest.UnsecuredToken(t, with(good, func(c *securitytest.Claims) { c.Expiry = now.Add(-time.Minute) }))); err == nil {
		t.Error("expired token accepted")
	}
	is := securitytest.NewIssuer(t)
	if _, _, _, err := v.Validate(is.Token(t, "rsa", good)); err == nil {
		t.Error("a signed token accepted by the unsecured validator")
	}
}

// The exchange: a good token completes with the subject as the
// principal and the token's expiry; a bad one gets the RFC 7628 error
// challenge, and the client's %x01 fails with it: the client learns
// nothing of why.
func TestOAuthBearerSession(t *testing.T) {
	is := securitytest.NewIssuer(t)
	v, err := security.NewOAuthBearerValidator(security.OAuthBearerSettings{JWKSEndpointURL: is.WriteJWKS(t, t.TempDir())}, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds := security.Credentials{OAuthBearer: v}
	now := time.Now()
	good := securitytest.Claims{Subject: "alice", IssuedAt: now, Expiry: now.Add(time.Hour)}

	s, _ := security.NewServerSession(security.MechanismOAuthBearer, creds)
	out, done, err := s.Step(clientFirst("", is.Token(t, "rsa", good)))
	if err != nil || !done || len(out) != 0 || s.AuthorizationID() != "alice" {
		t.Fatalf("good token: %q %v %v %q", out, done, err, s.AuthorizationID())
	}
	if exp := s.(security.CredentialExpirer).CredentialExpiry(); exp.Unix() != good.Expiry.Unix() {
		t.Errorf("expiry %v, want %v", exp, good.Expiry)
	}
	if _, _, err := s.Step([]byte("again")); !errors.Is(err, security.ErrIllegalState) {
		t.Errorf("step after done: %v", err)
	}

	s, _ = security.NewServerSession(security.MechanismOAuthBearer, creds)
	out, done, err = s.Step(clientFirst("", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.Expiry = now.Add(-time.Hour) }))))
	if err != nil || done || string(out) != `{"status":"invalid_token"}` {
		t.Fatalf("expired token: %q %v %v", out, done, err)
	}
	_, done, err = s.Step([]byte{1})
	if !done || !errors.Is(err, security.ErrAuthenticationFailed) || security.ClientMessage(err, "OAUTHBEARER", false) != `{"status":"invalid_token"}` {
		t.Fatalf("after the challenge: %v %v", done, err)
	}
	if s.AuthorizationID() != "" {
		t.Error("authorization id after a failure")
	}

	// An authorization id other than the subject.
	s, _ = security.NewServerSession(security.MechanismOAuthBearer, creds)
	if _, _, err := s.Step(clientFirst("bob", is.Token(t, "rsa", good))); err == nil ||
		!strings.Contains(security.ClientMessage(err, "OAUTHBEARER", false), "different from the token's principal name") {
		t.Errorf("authzid bob: %v", err)
	}
	// A malformed message fails with the generic message.
	s, _ = security.NewServerSession(security.MechanismOAuthBearer, creds)
	if _, _, err := s.Step([]byte("n,,auth")); err == nil || security.ClientMessage(err, "OAUTHBEARER", false) !=
		"Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER" {
		t.Errorf("malformed: %v", err)
	}
	// Without a validator nothing passes.
	s, _ = security.NewServerSession(security.MechanismOAuthBearer, security.Credentials{})
	if _, _, err := s.Step(clientFirst("", is.Token(t, "rsa", good))); err == nil {
		t.Error("no validator: accepted")
	}
}

// FuzzOAuthBearerClientFirst: parsing never panics, and a parsed message
// has a token of Kafka's token characters and extension names of
// letters.
func FuzzOAuthBearerClientFirst(f *testing.F) {
	f.Add([]byte("n,,\x01auth=Bearer abc.def.ghi\x01\x01"))
	f.Add([]byte("n,a=alice,\x01auth=bearer abc\x01traceId=123\x01\x01"))
	f.Add([]byte("n,a==3D,\x01auth=Bearer =\x01\x01"))
	f.Add([]byte("n,,\x01\x01"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		got, err := security.ParseOAuthBearerClientFirst(msg)
		if err != nil {
			return
		}
		if got.Token == "" || strings.ContainsFunc(got.Token, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			t.Fatalf("token %q", got.Token)
		}
		for k := range got.Extensions {
			if k == "" || k == "auth" {
				t.Fatalf("extension %q", k)
			}
		}
	})
}
