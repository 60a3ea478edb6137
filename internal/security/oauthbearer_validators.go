package security

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The OAUTHBEARER token validators a listener may use, chosen by
// listener.name.<l>.oauthbearer.sasl.server.callback.handler.class:
//
//	OAuthBearerValidatorCallbackHandler (KIP-768)   JWTs signed with a key of the
//	   sasl.oauthbearer.jwks.endpoint.url            JWKS (https:// or file://), with exp,
//	                                                 iat, the expected audience and issuer
//	OAuthBearerUnsecuredValidatorCallbackHandler    unsigned JWTs (alg "none"), for tests
//	                                                 and development only
//
// Unlike Kafka, no class means the KIP-768 validator when a JWKS endpoint
// is set, and is refused otherwise: the unsecured validator must be
// asked for by name.

// Kafka's callback handler classes.
const (
	OAuthBearerValidatorClass   = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
	oauthBearerValidatorClass3  = "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler"
	OAuthBearerUnsecuredClass   = "org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler"
	OAuthBearerLoginModuleClass = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
)

// OAuthBearerSettings are a listener's OAUTHBEARER settings, Kafka's
// names.
type OAuthBearerSettings struct {
	// CallbackHandlerClass is
	// listener.name.<l>.oauthbearer.sasl.server.callback.handler.class.
	CallbackHandlerClass string
	// JAAS is the listener's OAUTHBEARER sasl.jaas.config (the unsecured
	// validator's unsecuredValidator* options).
	JAAS string
	// JWKSEndpointURL is sasl.oauthbearer.jwks.endpoint.url (https:// or
	// file://).
	JWKSEndpointURL string
	// JWKSRefresh is sasl.oauthbearer.jwks.endpoint.refresh.ms (default
	// one hour).
	JWKSRefresh time.Duration
	// ExpectedAudience is sasl.oauthbearer.expected.audience: a token's
	// aud must name one of them (none: aud is not checked).
	ExpectedAudience []string
	// ExpectedIssuer is sasl.oauthbearer.expected.issuer ("": any).
	ExpectedIssuer string
	// SubClaimName and ScopeClaimName are sasl.oauthbearer.sub.claim.name
	// ("sub") and sasl.oauthbearer.scope.claim.name ("scope").
	SubClaimName   string
	ScopeClaimName string
	// ClockSkew is sasl.oauthbearer.clock.skew.seconds (default 30 s).
	ClockSkew time.Duration
	// HTTPClient fetches an https JWKS (default: http.DefaultClient).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewOAuthBearerValidator returns the validator s configures. Errors
// wrap ErrBadConfig.
func NewOAuthBearerValidator(s OAuthBearerSettings, log *slog.Logger) (OAuthBearerValidator, error) {
	if s.Now == nil {
		s.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch s.CallbackHandlerClass {
	case OAuthBearerUnsecuredClass:
		return newUnsecuredValidator(s)
	case OAuthBearerValidatorClass, oauthBearerValidatorClass3:
	case "":
		if s.JWKSEndpointURL == "" {
			return nil, configErrorf("OAUTHBEARER needs sasl.oauthbearer.jwks.endpoint.url (signed tokens, %s), or listener.name.<listener>.oauthbearer.sasl.server.callback.handler.class=%s for unsigned tokens in tests", OAuthBearerValidatorClass, OAuthBearerUnsecuredClass)
		}
	default:
		return nil, configErrorf("unsupported sasl.server.callback.handler.class %s for OAUTHBEARER (supported: %s, %s)", s.CallbackHandlerClass, OAuthBearerValidatorClass, OAuthBearerUnsecuredClass)
	}
	return newJWTValidator(s, log)
}

// jwtAlgorithms are the signature algorithms accepted (Kafka disallows
// "none"; HMAC needs a shared secret, which a JWKS does not carry).
var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// jwtValidator is Kafka's OAuthBearerValidatorCallbackHandler with its
// ValidatorAccessTokenValidator (KIP-768).
type jwtValidator struct {
	s    OAuthBearerSettings
	log  *slog.Logger
	file string // the JWKS path of a file:// endpoint

	mu struct {
		sync.Mutex
		keys jose.JSONWebKeySet
		// loaded is when keys were last read; tried when a read was
		// last attempted (a failed one too).
		loaded time.Time
		tried  time.Time
	}
}

// jwksMinRetry bounds how often an unknown key id makes the validator
// read the JWKS again (Kafka's jwks.endpoint.retry.backoff.max.ms).
const jwksMinRetry = 10 * time.Second

func newJWTValidator(s OAuthBearerSettings, log *slog.Logger) (*jwtValidator, error) {
	if s.SubClaimName == "" {
		s.SubClaimName = "sub"
	}
	if s.ScopeClaimName == "" {
		s.ScopeClaimName = "scope"
	}
	if s.ClockSkew < 0 {
		s.ClockSkew = 30 * time.Second
	}
	if s.JWKSRefresh <= 0 {
		s.JWKSRefresh = time.Hour
	}
	if s.HTTPClient == nil {
		s.HTTPClient = http.DefaultClient
	}
	v := &jwtValidator{s: s, log: log}
	u, err := url.Parse(s.JWKSEndpointURL)
	if err != nil {
		return nil, configErrorf("sasl.oauthbearer.jwks.endpoint.url %q: %v", s.JWKSEndpointURL, err)
	}
	switch u.Scheme {
	case "file":
		v.file = u.Path
	case "https", "http":
	default:
		return nil, configErrorf("sasl.oauthbearer.jwks.endpoint.url %q: the scheme must be https or file", s.JWKSEndpointURL)
	}
	// A file JWKS must be readable at startup, as Kafka's
	// JwksFileVerificationKeyResolver; an endpoint is read at the first
	// token.
	if v.file != "" {
		keys, err := v.read(context.Background())
		if err != nil {
			return nil, configErrorf("sasl.oauthbearer.jwks.endpoint.url: %v", err)
		}
		v.mu.keys, v.mu.loaded, v.mu.tried = keys, s.Now(), s.Now()
	}
	return v, nil
}

// read reads the JWKS.
func (v *jwtValidator) read(ctx context.Context) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	var b []byte
	var err error
	if v.file != "" {
		b, err = os.ReadFile(v.file)
	} else {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var req *http.Request
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, v.s.JWKSEndpointURL, nil); err == nil {
			var resp *http.Response
			if resp, err = v.s.HTTPClient.Do(req); err == nil {
				b, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("HTTP %s", resp.Status)
				}
			}
		}
	}
	if err != nil {
		return set, fmt.Errorf("read the JWKS %s: %w", v.s.JWKSEndpointURL, err)
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return set, fmt.Errorf("parse the JWKS %s: %w", v.s.JWKSEndpointURL, err)
	}
	return set, nil
}

// keysFor returns the keys of kid, reading the JWKS first when it is due
// (refresh.ms passed) or does not know kid (at most every jwksMinRetry).
// No lock is held while reading.
func (v *jwtValidator) keysFor(kid string) []jose.JSONWebKey {
	now := v.s.Now()
	v.mu.Lock()
	keys := v.mu.keys.Key(kid)
	if kid == "" {
		keys = v.mu.keys.Keys
	}
	due := v.mu.loaded.IsZero() || now.Sub(v.mu.loaded) >= v.s.JWKSRefresh
	if (due || len(keys) == 0) && now.Sub(v.mu.tried) >= jwksMinRetry || v.mu.tried.IsZero() {
		v.mu.tried = now
		v.mu.Unlock()
		set, err := v.read(context.Background())
		v.mu.Lock()
		if err != nil {
			v.log.Warn("OAUTHBEARER: reading the JWKS failed; keeping the keys read before", "err", err)
		} else {
			v.mu.keys, v.mu.loaded = set, now
		}
		keys = v.mu.keys.Key(kid)
		if kid == "" {
			keys = v.mu.keys.Keys
		}
	}
	v.mu.Unlock()
	return keys
}

// Validate checks a signed JWT as Kafka's ValidatorAccessTokenValidator.
func (v *jwtValidator) Validate(token string) (OAuthBearerToken, string, string, error) {
	tok, err := jwt.ParseSigned(token, jwtAlgorithms)
	if err != nil {
		return OAuthBearerToken{}, "", "", fmt.Errorf("malformed JWT: %w", err)
	}
	kid := ""
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	var claims jwt.Claims
	var raw map[string]any
	verified := false
	for _, k := range v.keysFor(kid) {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if err = tok.Claims(k.Key, &claims, &raw); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		if err == nil {
			err = fmt.Errorf("no key with id %q in the JWKS", kid)
		}
		return OAuthBearerToken{}, "", "", fmt.Errorf("signature not verified: %w", err)
	}
	if claims.Expiry == nil {
		return OAuthBearerToken{}, "", "", errors.New("no exp claim")
	}
	if claims.IssuedAt == nil {
		return OAuthBearerToken{}, "", "", errors.New("no iat claim")
	}
	exp := jwt.Expected{Issuer: v.s.ExpectedIssuer, Time: v.s.Now()}
	if len(v.s.ExpectedAudience) > 0 {
		if len(claims.Audience) == 0 {
			return OAuthBearerToken{}, "", "", errors.New("no aud claim")
		}
		exp.AnyAudience = v.s.ExpectedAudience
	}
	if err := claims.ValidateWithLeeway(exp, v.s.ClockSkew); err != nil {
		return OAuthBearerToken{}, "", "", err
	}
	sub, _ := raw[v.s.SubClaimName].(string)
	if strings.TrimSpace(sub) == "" {
		return OAuthBearerToken{}, "", "", fmt.Errorf("no %s claim (sasl.oauthbearer.sub.claim.name)", v.s.SubClaimName)
	}
	return OAuthBearerToken{Principal: sub, Scopes: scopes(raw[v.s.ScopeClaimName]), Expiry: claims.Expiry.Time()}, "", "", nil
}

// scopes reads a scope claim: a space-separated string or a list.
func scopes(c any) []string {
	switch s := c.(type) {
	case string:
		return strings.Fields(s)
	case []any:
		var out []string
		for _, e := range s {
			if str, ok := e.(string); ok && strings.TrimSpace(str) != "" {
				out = append(out, strings.TrimSpace(str))
			}
		}
		return out
	}
	return nil
}

// unsecuredValidator is Kafka's OAuthBearerUnsecuredValidatorCallbackHandler:
// a JWT whose header says alg "none" and whose signature is empty, with
// the options of its JAAS config.
type unsecuredValidator struct {
	principalClaim string
	scopeClaim     string
	requiredScope  []string
	clockSkew      time.Duration
	now            func() time.Time
}

func newUnsecuredValidator(s OAuthBearerSettings) (*unsecuredValidator, error) {
	v := &unsecuredValidator{principalClaim: "sub", scopeClaim: "scope", now: s.Now}
	if s.JAAS == "" {
		return v, nil
	}
	mod, err := ParseJAASModule(s.JAAS)
	if err != nil {
		return nil, err
	}
	opt := func(k string) string { return mod.Options[k] }
	if c := opt("unsecuredValidatorPrincipalClaimName"); strings.TrimSpace(c) != "" {
		v.principalClaim = strings.TrimSpace(c)
	}
	if c := opt("unsecuredValidatorScopeClaimName"); strings.TrimSpace(c) != "" {
		v.scopeClaim = strings.TrimSpace(c)
	}
	for _, sc := range strings.Split(opt("unsecuredValidatorRequiredScope"), ",") {
		if sc = strings.TrimSpace(sc); sc != "" {
			v.requiredScope = append(v.requiredScope, sc)
		}
	}
	if c := opt("unsecuredValidatorAllowableClockSkewMs"); c != "" {
		ms, err := strconv.ParseInt(strings.TrimSpace(c), 10, 64)
		if err != nil || ms < 0 {
			return nil, configErrorf("unsecuredValidatorAllowableClockSkewMs %q: not a non-negative number of milliseconds", c)
		}
		v.clockSkew = time.Duration(ms) * time.Millisecond
	}
	return v, nil
}

// Validate checks an unsecured JWS (OAuthBearerUnsecuredJws and
// OAuthBearerValidationUtils).
func (v *unsecuredValidator) Validate(token string) (OAuthBearerToken, string, string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[2] != "" {
		return OAuthBearerToken{}, "", "", errors.New("not an unsecured JWS: header.payload. with an empty signature")
	}
	var header map[string]any
	var claims map[string]any
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i], "="))
		if err != nil {
			return OAuthBearerToken{}, "", "", fmt.Errorf("bad base64url: %w", err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return OAuthBearerToken{}, "", "", fmt.Errorf("bad JSON: %w", err)
		}
	}
	if alg, _ := header["alg"].(string); alg != "none" {
		return OAuthBearerToken{}, "", "", fmt.Errorf("unsecured JWS with alg %q, want none", alg)
	}
	sub, ok := claims[v.principalClaim].(string)
	if !ok || strings.TrimSpace(sub) == "" {
		return OAuthBearerToken{}, "", "", fmt.Errorf("no string %s claim", v.principalClaim)
	}
	expSec, ok := claims["exp"].(float64)
	if !ok {
		return OAuthBearerToken{}, "", "", errors.New("no exp claim")
	}
	exp := time.UnixMilli(int64(math.Round(expSec * 1000)))
	now := v.now()
	if !now.Before(exp.Add(v.clockSkew)) {
		return OAuthBearerToken{}, "", "", fmt.Errorf("expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if iat, ok := claims["iat"].(float64); ok {
		issued := time.UnixMilli(int64(math.Round(iat * 1000)))
		if issued.After(now.Add(v.clockSkew)) {
			return OAuthBearerToken{}, "", "", errors.New("issued in the future")
		}
		if issued.After(exp) {
			return OAuthBearerToken{}, "", "", errors.New("issued after it expires")
		}
	}
	sc := scopes(claims[v.scopeClaim])
	for _, r := range v.requiredScope {
		if !slices.Contains(sc, r) {
			return OAuthBearerToken{}, "insufficient_scope", strings.Join(v.requiredScope, " "), fmt.Errorf("scope %q required", r)
		}
	}
	return OAuthBearerToken{Principal: sub, Scopes: sc, Expiry: exp}, "", "", nil
}
