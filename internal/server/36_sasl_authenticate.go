package server

// SaslAuthenticate (key 36), versions 0-2 (KIP-152, KIP-368).
//
//	v0: one SASL message each way.
//	v1: session_lifetime_ms in the response (KIP-368): the client must
//	    re-authenticate within it.
//	v2: flexible.
//
// Each request carries the client's next message of the mechanism chosen
// by SaslHandshake; the response carries the server's. When the
// mechanism is done the connection's principal is User:<authorization
// id>. A failure answers SASL_AUTHENTICATION_FAILED, after
// connection.failed.authentication.delay.ms, with a message that never
// says whether the user or the password was wrong, logs the client's
// address, and closes the connection. A re-authentication must keep the
// principal and the mechanism.
//
// Raw tokens (after SaslHandshake v0) go through handleRawToken: each
// message in a bare 4-byte size frame, a failure closes the connection
// without an answer, as Kafka does for those clients.

import (
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/security"
)

func init() {
	h := handler{key: saslAuthenticateKey, min: 0, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return c.handleSaslAuthenticate(r.(*kmsg.SASLAuthenticateRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (c *conn) handleSaslAuthenticate(req *kmsg.SASLAuthenticateRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	st := &c.sasl
	if !st.required || st.stage != saslAuthenticate {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate request received after successful authentication")
		if !st.required {
			resp.ErrorMessage = kmsg.StringPtr("Unexpected SaslAuthenticate request with listener not using SASL")
		}
		return resp
	}
	if req.Version > 0 {
		st.supportsReauth = true
	}
	out, lifetime, err := c.saslStep(req.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(security.ClientMessage(err, c.saslMechanismName(), st.reauth))
		c.failAuthentication(err)
		return resp
	}
	resp.SASLAuthBytes = out
	resp.SessionLifetimeMillis = lifetime.Milliseconds()
	return resp
}

// saslMechanismName is the mechanism of the exchange under way.
func (c *conn) saslMechanismName() string {
	if c.sasl.server != nil {
		return c.sasl.server.Mechanism()
	}
	return c.sasl.mechanism
}

// saslStep feeds one client message to the mechanism; when that
// completes the authentication it sets the session and returns its
// lifetime (0: none).
func (c *conn) saslStep(msg []byte) (out []byte, lifetime time.Duration, err error) {
	st := &c.sasl
	if st.badMechanism != "" {
		return nil, 0, &security.AuthError{Client: st.badMechanism}
	}
	out, done, err := st.server.Step(msg)
	if err != nil {
		return nil, 0, err
	}
	if !done {
		return out, 0, nil
	}
	p := security.User(st.server.AuthorizationID())
	ta, _ := st.server.(security.TokenAuthenticator)
	var tokenExpiry time.Time
	tokenAuth := false
	if ta != nil {
		var owner security.Principal
		if owner, tokenExpiry, tokenAuth = ta.TokenOwner(); tokenAuth {
			p = owner // KIP-48: a delegation token acts as its owner
		}
	}
	if st.reauth && p != c.session.Principal {
		return nil, 0, &security.AuthError{Client: "Cannot change principals during re-authentication from " +
			c.session.Principal.Type + "." + c.session.Principal.Name + ": " + p.Type + "." + p.Name}
	}
	sasl := c.listener.Security.SASL
	lifetime = sasl.Lifetime(st.mechanism)
	if ce, ok := st.server.(security.CredentialExpirer); ok {
		// KIP-368: a token's session ends when the token expires, or
		// earlier with connections.max.reauth.ms.
		left := max(ce.CredentialExpiry().Sub(c.s.cfg.Now()), time.Millisecond)
		if lifetime <= 0 || left < lifetime {
			lifetime = left
		}
	}
	if tokenAuth {
		// KIP-368: a token's session ends when the token expires too.
		left := max(tokenExpiry.Sub(c.s.cfg.Now()), time.Millisecond)
		if lifetime <= 0 || left < lifetime {
			lifetime = left
		}
	}
	st.expiry = time.Time{}
	if lifetime > 0 {
		st.expiry = c.s.cfg.Now().Add(lifetime)
	}
	c.session.Principal = p
	c.session.SASLMechanism = st.mechanism
	c.session.TokenAuthenticated = tokenAuth
	st.server = nil
	st.stage = saslDone
	st.raw = false
	if st.reauth {
		c.log.Debug("re-authenticated", "principal", p.String(), "mechanism", st.mechanism, "session_lifetime", lifetime)
	} else {
		st.authenticated = true
		c.log = c.log.With("principal", p.String())
		c.log.Debug("authenticated", "mechanism", st.mechanism, "session_lifetime", lifetime)
	}
	st.reauth = false
	return out, lifetime, nil
}

// failAuthentication logs a failed authentication and arranges for the
// answer to be delayed and the connection closed after it.
func (c *conn) failAuthentication(err error) {
	st := &c.sasl
	what := "authentication"
	if st.reauth {
		what = "re-authentication"
	}
	c.log.Info("failed "+what, "mechanism", c.saslMechanismName(), "err", err)
	st.server = nil
	c.closeAfter = true
	c.delay = c.listener.Security.SASL.FailedAuthenticationDelay
}

// handleRawToken handles a raw SASL token (after SaslHandshake v0): the
// answer is the server's token in a bare size frame; a failure closes
// the connection.
func (c *conn) handleRawToken(frame []byte) ([]byte, error) {
	out, _, err := c.saslStep(frame)
	if err != nil {
		c.failAuthentication(err)
		if d := c.delay; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
			}
		}
		return nil, &authCloseError{reason: "failed authentication"}
	}
	b := getFrame(4 + len(out))
	b = binary.BigEndian.AppendUint32(b, uint32(len(out)))
	return append(b, out...), nil
}
