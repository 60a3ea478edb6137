package security

import (
	"net"
	"strings"
)

// Principal is an authenticated identity, Kafka's KafkaPrincipal: a type
// and a name, written "User:alice". Authorizers compare principals with ==.
type Principal struct {
	Type string
	Name string
}

// UserType is the principal type Kafka's default principal builder gives
// every identity.
const UserType = "User"

// Anonymous is the principal of a connection nothing authenticated: a
// PLAINTEXT connection, or SSL without a client certificate.
var Anonymous = Principal{Type: UserType, Name: "ANONYMOUS"}

// User returns the User principal of name.
func User(name string) Principal { return Principal{Type: UserType, Name: name} }

// String returns the principal as Kafka writes it, "User:alice".
func (p Principal) String() string { return p.Type + ":" + p.Name }

// ParsePrincipal parses "Type:name" (Kafka's SecurityUtils.parseKafkaPrincipal:
// the type ends at the first colon).
func ParsePrincipal(s string) (Principal, bool) {
	t, n, ok := strings.Cut(s, ":")
	if !ok || t == "" {
		return Principal{}, false
	}
	return Principal{Type: t, Name: n}, true
}

// Session is who is on the other end of a connection, as an authorizer
// needs it (the fields of Kafka's AuthorizableRequestContext that do not
// change per request).
type Session struct {
	Principal Principal
	// Listener is the listener name ("PLAINTEXT", "SASL_SSL", ...).
	Listener string
	// Protocol is the listener's security protocol.
	Protocol Protocol
	// ClientAddress is the peer's address.
	ClientAddress net.Addr
	// SASLMechanism is the mechanism the client authenticated with; ""
	// when it did not use SASL.
	SASLMechanism string
	// TokenAuthenticated is set when the client authenticated with a
	// delegation token (Kafka's KafkaPrincipal.tokenAuthenticated):
	// Principal is then the token's owner.
	TokenAuthenticated bool
}
