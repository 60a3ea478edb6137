package server

// SaslHandshake (key 17), versions 0-1 (KIP-43, KIP-152), and the SASL
// state of a connection on a SASL_PLAINTEXT or SASL_SSL listener.
//
//	v0: the mechanism; the authentication that follows is raw SASL
//	    tokens, each in a 4-byte size frame without a Kafka header
//	    (36_sasl_authenticate.go, handleRawToken).
//	v1: the authentication that follows is SaslAuthenticate requests.
//
// The response lists the listener's enabled mechanisms. A mechanism that
// is not enabled gets UNSUPPORTED_SASL_MECHANISM and the connection
// closes. On a listener without SASL, and on an authenticated connection
// that cannot re-authenticate, the answer is ILLEGAL_SASL_STATE (Kafka's
// KafkaApis); a SaslHandshake in the middle of an authentication gets
// ILLEGAL_SASL_STATE and closes the connection.
//
// States of a SASL connection (Kafka's SaslServerAuthenticator.SaslState):
//
//	start ──ApiVersions──▶ handshake ──SaslHandshake──▶ authenticate
//	  └────────────────SaslHandshake──────────────────────▲   │ SaslAuthenticate
//	                                                      │   ▼ (until done)
//	               re-authentication (KIP-368): SaslHandshake  done
//	               while the session has a lifetime, at most once a second
//
// Before done, any other request closes the connection; after done, a
// request on a session whose lifetime (connections.max.reauth.ms) passed
// closes it too, unless it is the SaslHandshake that re-authenticates.

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/security"
)

const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
)

func init() {
	h := handler{key: saslHandshakeKey, min: 0, max: 1, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return c.handleSaslHandshake(r.(*kmsg.SASLHandshakeRequest)), nil
	}}
	register(h)
	registerController(h)
}

type saslStage int8

const (
	saslStart        saslStage = iota // nothing yet: ApiVersions or SaslHandshake
	saslHandshake                     // ApiVersions answered: SaslHandshake
	saslAuthenticate                  // mechanism chosen: its messages
	saslDone                          // authenticated
)

// saslState is a connection's SASL authentication.
type saslState struct {
	// required is set on a SASL listener's connections.
	required bool
	stage    saslStage
	// raw: SaslHandshake v0 chose raw tokens instead of SaslAuthenticate.
	raw       bool
	server    security.ServerSession
	mechanism string
	// authenticated: at least one authentication completed; the
	// session's principal is final.
	authenticated bool
	// reauth: the exchange under way re-authenticates (KIP-368);
	// badMechanism fails it at SaslAuthenticate (Kafka's
	// REAUTH_BAD_MECHANISM).
	reauth       bool
	badMechanism string
	// expiry is when the session ends without re-authentication (zero:
	// never); reauthStart is when the last re-authentication began.
	expiry      time.Time
	reauthStart time.Time
	// supportsReauth: the client sent SaslAuthenticate v1 or later.
	supportsReauth bool
}

// authCloseError closes a connection for a reason of authentication,
// logged at Info (a client's mistake, not a protocol violation).
type authCloseError struct{ reason string }

func (e *authCloseError) Error() string { return "server: " + e.reason }

// checkSASL decides whether a request may be handled in the
// connection's SASL state; an error closes the connection.
func (c *conn) checkSASL(key int16) error {
	st := &c.sasl
	unexpected := func(during string) error {
		return &authCloseError{reason: fmt.Sprintf("Unexpected Kafka request of type %s during SASL %s.", kmsg.NameForKey(key), during)}
	}
	switch st.stage {
	case saslStart:
		switch key {
		case apiVersionsKey:
			st.stage = saslHandshake
			return nil
		case saslHandshakeKey:
			return nil
		}
		return unexpected("handshake")
	case saslHandshake:
		if key == saslHandshakeKey {
			return nil
		}
		return unexpected("handshake")
	case saslAuthenticate:
		if key == saslAuthenticateKey || key == saslHandshakeKey {
			return nil // a second SaslHandshake is answered ILLEGAL_SASL_STATE
		}
		return unexpected("authentication")
	}
	if key == saslHandshakeKey {
		return nil // re-authentication, or ILLEGAL_SASL_STATE
	}
	if !st.expiry.IsZero() && c.s.cfg.Now().After(st.expiry) {
		return &authCloseError{reason: "SASL session expired without re-authentication (connections.max.reauth.ms)"}
	}
	return nil
}

func (c *conn) handleSaslHandshake(req *kmsg.SASLHandshakeRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	st := &c.sasl
	if !st.required {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return resp
	}
	sasl := c.listener.Security.SASL
	resp.SupportedMechanisms = sasl.Mechanisms
	reauth := false
	switch st.stage {
	case saslAuthenticate:
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.closeAfter = true
		c.log.Info("closing connection: SaslHandshake during SASL authentication")
		return resp
	case saslDone:
		now := c.s.cfg.Now()
		if st.expiry.IsZero() || (!st.reauthStart.IsZero() && now.Sub(st.reauthStart) < time.Second) {
			// Not a re-authentication: the session does not expire,
			// or the last one began under a second ago (Kafka's
			// KafkaChannel.maybeBeginServerReauthentication).
			if !st.expiry.IsZero() && now.After(st.expiry) {
				c.closeAfter = true
			}
			resp.ErrorCode = kerr.IllegalSaslState.Code
			return resp
		}
		reauth = true
		st.reauthStart = now
	}
	if !sasl.Enabled(req.Mechanism) {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.closeAfter = true
		c.log.Info("closing connection: SASL mechanism not enabled", "mechanism", req.Mechanism, "enabled", sasl.Mechanisms)
		return resp
	}
	sess, err := security.NewServerSession(req.Mechanism, sasl.Credentials)
	if err != nil {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.closeAfter = true
		return resp
	}
	st.badMechanism = ""
	if reauth && req.Mechanism != st.mechanism {
		st.badMechanism = fmt.Sprintf("SASL mechanism '%s' requested by client is not supported for re-authentication of mechanism '%s'", req.Mechanism, st.mechanism)
	}
	if !reauth {
		st.mechanism = req.Mechanism
	}
	st.reauth = reauth
	st.server = sess
	st.stage = saslAuthenticate
	st.raw = req.Version == 0
	return resp
}
