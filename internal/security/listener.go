package security

import (
	"crypto/tls"
	"fmt"
	"slices"
	"time"
)

// ListenerConfig is how one listener authenticates its connections.
type ListenerConfig struct {
	Protocol Protocol
	// TLS serves the TLS handshake of SSL and SASL_SSL listeners.
	TLS *ServerTLS
	// PrincipalMapper names the principal of a client certificate
	// (ssl.principal.mapping.rules); nil means DEFAULT.
	PrincipalMapper *SSLPrincipalMapper
	// SASL configures SASL_PLAINTEXT and SASL_SSL listeners.
	SASL SASLConfig
}

// SASLConfig is a SASL listener's authentication.
type SASLConfig struct {
	// Mechanisms are the enabled mechanisms (sasl.enabled.mechanisms),
	// in the order SaslHandshake lists them.
	Mechanisms  []string
	Credentials Credentials
	// SessionLifetime returns connections.max.reauth.ms for a mechanism
	// (KIP-368): a session must re-authenticate within it, or its next
	// request closes the connection. 0: sessions do not expire.
	SessionLifetime func(mechanism string) time.Duration
	// FailedAuthenticationDelay is
	// connection.failed.authentication.delay.ms: how long the response
	// to a failed authentication is held back.
	FailedAuthenticationDelay time.Duration
	// MaxReceiveBytes is sasl.server.max.receive.size: the largest frame
	// accepted before authentication completes.
	MaxReceiveBytes int32
}

// Validate checks that the configuration is complete for its protocol.
func (c *ListenerConfig) Validate() error {
	if !c.Protocol.Valid() {
		return configErrorf("unknown security protocol %q", c.Protocol)
	}
	if c.Protocol.UsesTLS() && c.TLS == nil {
		return configErrorf("listener protocol %s needs a key store", c.Protocol)
	}
	if c.Protocol.UsesSASL() {
		if len(c.SASL.Mechanisms) == 0 {
			return configErrorf("listener protocol %s needs sasl.enabled.mechanisms", c.Protocol)
		}
		for _, m := range c.SASL.Mechanisms {
			if !Supported(m) {
				return fmt.Errorf("%w: %s (supported: %v)", ErrUnsupportedMechanism, m, Mechanisms)
			}
		}
	}
	return nil
}

// Enabled reports whether mechanism is enabled.
func (s SASLConfig) Enabled(mechanism string) bool { return slices.Contains(s.Mechanisms, mechanism) }

// Lifetime returns the session lifetime of mechanism (0: none).
func (s SASLConfig) Lifetime(mechanism string) time.Duration {
	if s.SessionLifetime == nil {
		return 0
	}
	return max(0, s.SessionLifetime(mechanism))
}

// CertificatePrincipal returns the principal of a TLS connection: the
// client certificate's subject DN mapped by the listener's rules, or
// Anonymous without a client certificate (Kafka's
// DefaultKafkaPrincipalBuilder for SSL).
func (c *ListenerConfig) CertificatePrincipal(cs tls.ConnectionState) (Principal, error) {
	if len(cs.PeerCertificates) == 0 {
		return Anonymous, nil
	}
	dn := SubjectDN(cs.PeerCertificates[0])
	m := c.PrincipalMapper
	if m == nil {
		return User(dn), nil
	}
	name, err := m.Name(dn)
	if err != nil {
		return Principal{}, err
	}
	return User(name), nil
}
