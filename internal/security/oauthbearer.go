package security

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// SASL/OAUTHBEARER (RFC 7628, KIP-255), as Kafka's OAuthBearerSaslServer.
// The client's one message (RFC 7628 section 3.1; ^A is %x01):
//
//	n,[a=authzid],^Aauth=Bearer <token>^A[key=value^A]...^A
//
// The token (a JWT) goes to the listener's OAuthBearerValidator. A valid
// token completes the exchange: the principal is the token's subject and
// the session ends when the token expires (KIP-368). An invalid one gets
// the RFC 7628 error challenge {"status":"invalid_token"}; the client
// answers ^A and the authentication fails with that JSON as the message,
// so the client never learns why the token was refused (the broker's log
// does).

// MechanismOAuthBearer is SASL/OAUTHBEARER.
const MechanismOAuthBearer = "OAUTHBEARER"

// OAuthBearerToken is a validated token (Kafka's OAuthBearerToken).
type OAuthBearerToken struct {
	// Principal is the token's subject: the principal's name.
	Principal string
	// Scopes are the token's scopes.
	Scopes []string
	// Expiry is when the token expires.
	Expiry time.Time
}

// OAuthBearerValidator checks the token of an OAUTHBEARER exchange
// (Kafka's server callback handler). Implementations are safe for
// concurrent use.
type OAuthBearerValidator interface {
	// Validate returns the token's contents, or an error that is
	// logged and never shown to the client. status is the RFC 7628
	// error status the client is told ("invalid_token",
	// "insufficient_scope"); scope, if not empty, goes with it.
	Validate(token string) (t OAuthBearerToken, status, scope string, err error)
}

// Kafka's OAuthBearerClientInitialResponse grammar; a saslname is
// [\x01-\x7F] but '=' and ',' ([\x01-\x7F&&[^=,]] in Java), or =2C, =3D.
var (
	oauthClientFirst = regexp.MustCompile("^n,(?:a=((?:[\x01-\x2B\x2D-\x3C\x3E-\x7F]|=2C|=3D)+))?,\x01((?:[A-Za-z]+=[\x21-\x7E \t\r\n]+\x01)*)\x01$")
	oauthAuth        = regexp.MustCompile(`^(\w+) +([-_.a-zA-Z0-9]+)$`)
	oauthKey         = regexp.MustCompile(`^[A-Za-z]+$`)
)

// OAuthBearerClientFirst is a parsed OAUTHBEARER client message.
type OAuthBearerClientFirst struct {
	// AuthorizationID is the a= of the GS2 header ("" if none).
	AuthorizationID string
	// Token is the bearer token.
	Token string
	// Extensions are the key=value pairs other than auth.
	Extensions map[string]string
}

// ParseOAuthBearerClientFirst parses an OAUTHBEARER client message as
// Kafka's OAuthBearerClientInitialResponse does.
func ParseOAuthBearerClientFirst(msg []byte) (OAuthBearerClientFirst, error) {
	var out OAuthBearerClientFirst
	m := oauthClientFirst.FindSubmatch(msg)
	if m == nil {
		return out, fmt.Errorf("invalid OAUTHBEARER client first message")
	}
	authz, err := saslName(string(m[1]))
	if err != nil {
		return out, fmt.Errorf("invalid OAUTHBEARER client first message: %v", err)
	}
	out.AuthorizationID = authz
	out.Extensions = map[string]string{}
	auth, hasAuth := "", false
	for _, kv := range bytes.Split(m[2], []byte{1}) {
		if len(kv) == 0 {
			continue
		}
		k, v, _ := strings.Cut(string(kv), "=")
		if k == "auth" {
			auth, hasAuth = v, true
			continue
		}
		if !oauthKey.MatchString(k) {
			return out, fmt.Errorf("invalid OAUTHBEARER extension name %q", k)
		}
		out.Extensions[k] = v
	}
	if !hasAuth {
		return out, fmt.Errorf("invalid OAUTHBEARER client first message: 'auth' not specified")
	}
	am := oauthAuth.FindStringSubmatch(auth)
	if am == nil {
		return out, fmt.Errorf("invalid OAUTHBEARER client first message: invalid 'auth' format")
	}
	if !strings.EqualFold(am[1], "bearer") {
		return out, fmt.Errorf("invalid scheme in OAUTHBEARER client first message: %s", am[1])
	}
	out.Token = am[2]
	return out, nil
}

// oauthBearerServer is the server side of one OAUTHBEARER exchange.
type oauthBearerServer struct {
	validator OAuthBearerValidator
	// errorMessage is the JSON error challenge sent; the client's ^A
	// answer then fails the exchange with it.
	errorMessage string
	cause        error
	token        OAuthBearerToken
	done         bool
}

func (o *oauthBearerServer) Mechanism() string { return MechanismOAuthBearer }

func (o *oauthBearerServer) AuthorizationID() string {
	if !o.done {
		return ""
	}
	return o.token.Principal
}

// CredentialExpiry is when the token expires: the session's end
// (KIP-368), whatever connections.max.reauth.ms says if earlier.
func (o *oauthBearerServer) CredentialExpiry() time.Time { return o.token.Expiry }

func (o *oauthBearerServer) Step(client []byte) ([]byte, bool, error) {
	if o.done {
		return nil, true, fmt.Errorf("%w: OAUTHBEARER authentication already completed", ErrIllegalState)
	}
	if o.errorMessage != "" {
		// The client's answer to our error challenge (RFC 7628 3.2.3).
		o.done = true
		if len(client) == 1 && client[0] == 1 {
			return nil, true, &AuthError{Client: o.errorMessage, Cause: o.cause}
		}
		return nil, true, failed("OAUTHBEARER: expected %%x01 after the error challenge")
	}
	first, err := ParseOAuthBearerClientFirst(client)
	if err != nil {
		o.done = true
		return nil, true, failed("%v", err)
	}
	if o.validator == nil {
		o.done = true
		return nil, true, failed("OAUTHBEARER: no token validator configured")
	}
	tok, status, scope, err := o.validator.Validate(first.Token)
	if err != nil {
		if status == "" {
			status = "invalid_token"
		}
		o.errorMessage = fmt.Sprintf(`{"status":"%s"`, status)
		if scope != "" {
			o.errorMessage += fmt.Sprintf(`, "scope":"%s"`, scope)
		}
		o.errorMessage += "}"
		o.cause = fmt.Errorf("OAUTHBEARER token refused: %w", err)
		return []byte(o.errorMessage), false, nil
	}
	o.done = true
	if first.AuthorizationID != "" && first.AuthorizationID != tok.Principal {
		return nil, true, &AuthError{Client: fmt.Sprintf(
			"Authentication failed: Client requested an authorization id (%s) that is different from the token's principal name (%s)",
			first.AuthorizationID, tok.Principal)}
	}
	o.token = tok
	return []byte{}, true, nil
}
