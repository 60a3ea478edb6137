package security

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SASL mechanism names.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// Mechanisms are the SASL mechanisms this package serves.
var Mechanisms = []string{MechanismPlain, MechanismScramSHA256, MechanismScramSHA512, MechanismOAuthBearer}

// Supported reports whether mechanism is one this package serves.
func Supported(mechanism string) bool { return slices.Contains(Mechanisms, mechanism) }

// Credentials is where a server finds the secrets it checks clients
// against. Either function may be nil (no such users).
type Credentials struct {
	// PlainPassword returns the password of a PLAIN user (on a broker,
	// the user_<name> options of the listener's PlainLoginModule).
	PlainPassword func(user string) (string, bool)
	// Scram returns a user's SCRAM credential for mechanism (from the
	// cluster metadata).
	Scram func(mechanism ScramMechanism, user string) (ScramCredential, bool)
	// DelegationToken returns the delegation token of an id, for SCRAM
	// token authentication (delegation_token.go); nil refuses every
	// token. It must not return an expired token.
	DelegationToken func(tokenID string) (DelegationToken, bool)
	// OAuthBearer validates OAUTHBEARER tokens (oauthbearer.go); nil
	// refuses every token.
	OAuthBearer OAuthBearerValidator
}

// ServerSession is the server side of one SASL authentication: feed it
// each message of the client in turn; it returns the message to send
// back, and whether the exchange is over. Once done without error,
// AuthorizationID names the user. A session is not safe for concurrent
// use and cannot be reused.
type ServerSession interface {
	// Mechanism returns the mechanism's name.
	Mechanism() string
	// Step consumes the client's next message. An error means the
	// authentication failed (ErrAuthenticationFailed), or the session
	// was stepped after it finished (ErrIllegalState).
	Step(client []byte) (server []byte, done bool, err error)
	// AuthorizationID returns the authenticated user, "" before done.
	AuthorizationID() string
}

// CredentialExpirer is a ServerSession whose credential expires (an
// OAUTHBEARER token): the session must end by then (KIP-368), whatever
// connections.max.reauth.ms says.
type CredentialExpirer interface {
	CredentialExpiry() time.Time
}

// NewServerSession starts the server side of mechanism, which must be one
// of Mechanisms (else ErrUnsupportedMechanism).
func NewServerSession(mechanism string, creds Credentials) (ServerSession, error) {
	switch mechanism {
	case MechanismPlain:
		return &plainServer{creds: creds}, nil
	case MechanismScramSHA256, MechanismScramSHA512:
		m, _ := ParseScramMechanism(mechanism)
		return newScramServer(m, creds), nil
	case MechanismOAuthBearer:
		return &oauthBearerServer{validator: creds.OAuthBearer}, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedMechanism, mechanism)
}

// plainServer is SASL/PLAIN (RFC 4616) with Kafka's PlainSaslServer
// checks. One message: [authzid] NUL authcid NUL passwd.
type plainServer struct {
	creds Credentials
	user  string
	done  bool
}

func (p *plainServer) Mechanism() string { return MechanismPlain }

func (p *plainServer) AuthorizationID() string { return p.user }

func (p *plainServer) Step(client []byte) ([]byte, bool, error) {
	if p.done {
		return nil, true, fmt.Errorf("%w: PLAIN authentication already completed", ErrIllegalState)
	}
	p.done = true // one message, success or not
	parts := bytes.Split(client, []byte{0})
	if len(parts) != 3 {
		return nil, true, failed("Invalid SASL/PLAIN response: expected 3 tokens, got %d", len(parts))
	}
	authzid, user, pass := string(parts[0]), string(parts[1]), parts[2]
	if user == "" {
		return nil, true, failed("Authentication failed: username not specified")
	}
	if len(pass) == 0 {
		return nil, true, failed("Authentication failed: password not specified")
	}
	if authzid != "" && authzid != user {
		return nil, true, &AuthError{Client: "Authentication failed: Client requested an authorization id that is different from username"}
	}
	want, ok := "", false
	if p.creds.PlainPassword != nil {
		want, ok = p.creds.PlainPassword(user)
	}
	// Compare even for an unknown user, so timing says nothing about
	// which part was wrong.
	eq := subtle.ConstantTimeCompare(pass, []byte(want)) == 1
	if !ok || !eq {
		why := "wrong password"
		if !ok {
			why = "unknown user"
		}
		return nil, true, &AuthError{
			Client: "Authentication failed: Invalid username or password",
			Cause:  fmt.Errorf("PLAIN user %q: %s", user, why),
		}
	}
	p.user = user
	return []byte{}, true, nil
}

// saslName decodes a SCRAM saslname (RFC 5802 section 5.1): "=2C" is a
// comma and "=3D" an equals sign; any other '=' is an error.
func saslName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", fmt.Errorf("invalid username: %q", s)
		}
		i += 2
	}
	return b.String(), nil
}
