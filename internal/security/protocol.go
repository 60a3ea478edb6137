package security

// Protocol is a listener's security protocol, Kafka's SecurityProtocol.
type Protocol string

// Kafka's security protocols.
const (
	Plaintext     Protocol = "PLAINTEXT"
	SSL           Protocol = "SSL"
	SASLPlaintext Protocol = "SASL_PLAINTEXT"
	SASLSSL       Protocol = "SASL_SSL"
)

// Protocols lists the protocols in Kafka's order.
var Protocols = []Protocol{Plaintext, SSL, SASLPlaintext, SASLSSL}

// UsesTLS reports whether connections start with a TLS handshake.
func (p Protocol) UsesTLS() bool { return p == SSL || p == SASLSSL }

// UsesSASL reports whether connections authenticate with SASL before
// any other request.
func (p Protocol) UsesSASL() bool { return p == SASLPlaintext || p == SASLSSL }

// Valid reports whether p is one of Kafka's protocols.
func (p Protocol) Valid() bool {
	for _, q := range Protocols {
		if p == q {
			return true
		}
	}
	return false
}
