package securitytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer signs OAUTHBEARER tokens (JWTs) with keys generated for the
// test and publishes them as a JWKS, as an OAuth provider does.
type Issuer struct {
	keys []issuerKey
}

type issuerKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

// NewIssuer returns an issuer with an RSA (RS256, kid "rsa") and an
// ECDSA P-256 (ES256, kid "ec") key.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Issuer{keys: []issuerKey{{kid: "rsa", alg: jose.RS256, priv: rk}, {kid: "ec", alg: jose.ES256, priv: ek}}}
}

// JWKS returns the public keys as a JWKS document.
func (is *Issuer) JWKS(t testing.TB) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range is.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteJWKS writes the JWKS to dir and returns its file:// URL.
func (is *Issuer) WriteJWKS(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(p, is.JWKS(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + p
}

// Claims are a token's claims; zero fields are left out.
type Claims struct {
	Subject  string
	Issuer   string
	Audience []string
	Scope    string
	IssuedAt time.Time
	Expiry   time.Time
	// Extra are more claims (another subject claim name, …).
	Extra map[string]any
}

func (c Claims) jwt() map[string]any {
	m := map[string]any{}
	if c.Subject != "" {
		m["sub"] = c.Subject
	}
	if c.Issuer != "" {
		m["iss"] = c.Issuer
	}
	if len(c.Audience) > 0 {
		m["aud"] = c.Audience
	}
	if c.Scope != "" {
		m["scope"] = c.Scope
	}
	if !c.IssuedAt.IsZero() {
		m["iat"] = c.IssuedAt.Unix()
	}
	if !c.Expiry.IsZero() {
		m["exp"] = c.Expiry.Unix()
	}
	for k, v := range c.Extra {
		m[k] = v
	}
	return m
}

// Token signs claims with the key kid ("rsa" or "ec").
func (is *Issuer) Token(t testing.TB, kid string, c Claims) string {
	t.Helper()
	for _, k := range is.keys {
		if k.kid != kid {
			continue
		}
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(sig).Claims(c.jwt()).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	t.Fatalf("no key %q", kid)
	return ""
}

// UnsecuredToken is an unsigned JWS (alg "none") of claims, as Kafka's
// unsecured login module makes.
func UnsecuredToken(t testing.TB, c Claims) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none"}) + "." + enc(c.jwt()) + "."
}
