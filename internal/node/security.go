package node

// Security of the connections a node accepts and makes: each listener's
// TLS and SASL (listener.security.protocol.map), and the client side of
// the same protocols for the connections nodes make to one another, as
// Kafka's inter-broker and controller channel builders:
//
//	who dials                        listener             SASL mechanism
//	replica fetchers, txn markers    inter.broker.listener.name   sasl.mechanism.inter.broker.protocol
//	controller channels, observer    controller.listener.names[0] sasl.mechanism.controller.protocol
//	Raft transport                   controller.listener.names[0] sasl.mechanism.controller.protocol
//
// A node logs in with the username and password of the JAAS config of
// that listener and mechanism (listener.name.<l>.<mech>.sasl.jaas.config),
// and trusts the listener's trust store; its key store is its client
// certificate for mutual TLS.
//
// The controller listener carries both the controller APIs and the Raft
// transport on one port (mux.go). On a TLS listener the mux's connections
// are TLS connections (the handshake runs when the mux reads the first
// bytes); on a SASL listener a Raft connection authenticates first, in
// Kafka's SaslHandshake/SaslAuthenticate frames, after a preamble of its
// own:
//
//	raft, PLAINTEXT/SSL:   [TLS] "GRFT" hello, frames ...              (raft/transport.go)
//	raft, SASL_*:          [TLS] "GRFS" SaslHandshake v1 ⇄ SaslAuthenticate v1 ...
//	                             then "GRFT" hello, frames ...
//	Kafka clients:         [TLS] Kafka requests (SASL in them, server/conn.go)
//
// A Raft connection without the preamble is refused on a SASL listener.
// Client connections that carry Kafka requests re-authenticate before
// their SASL session expires (KIP-368, reauthConn).

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/protocol"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/server"
)

type dialFunc = func(ctx context.Context, network, address string) (net.Conn, error)

// raftSASLMagic starts a Raft connection that authenticates with SASL
// before its hello.
const raftSASLMagic = "GRFS"

// securityTimeout bounds the TLS handshake and SASL exchange of a
// connection a node makes.
const securityTimeout = 10 * time.Second

// controllerCell holds a controller once it exists, for the credential
// lookups of listeners that accept connections before (the controller
// listener, while Raft opens).
type controllerCell struct {
	p atomic.Pointer[controller.Controller]
}

func (c *controllerCell) image() *metadata.Image {
	if ctl := c.p.Load(); ctl != nil {
		return ctl.Image()
	}
	return nil
}

// currentListener returns a listener's security settings with the
// dynamic broker configs of im (static ones without an image).
func (n *Node) currentListener(name string, im *metadata.Image) config.ListenerSecurity {
	b := n.cfg
	if im != nil && n.adapter != nil {
		b = n.adapter.observe(im)
	}
	return b.ListenerSecurity(name)
}

// listenerSecurity builds the server side of listener name: nil for
// PLAINTEXT. image returns the latest metadata image (nil before there
// is one): the source of SCRAM credentials and dynamic configs.
func (n *Node) listenerSecurity(name string, image func() *metadata.Image) (*security.ListenerConfig, error) {
	static := n.cfg.ListenerSecurity(name)
	if static.Protocol == security.Plaintext {
		return nil, nil
	}
	current := func() config.ListenerSecurity { return n.currentListener(name, image()) }
	lc := &security.ListenerConfig{Protocol: static.Protocol}
	log := n.log.With("component", "security", "listener", name)
	if static.Protocol.UsesTLS() {
		t, err := security.NewServerTLS(func() security.TLSSettings { return current().TLS }, log)
		if err != nil {
			return nil, fmt.Errorf("node: listener %s: %w", name, err)
		}
		lc.TLS = t
		if lc.PrincipalMapper, err = security.ParseSSLPrincipalMappingRules(static.PrincipalMappingRules); err != nil {
			return nil, fmt.Errorf("node: listener %s: %w", name, err)
		}
	}
	if static.Protocol.UsesSASL() {
		users := &plainUsers{}
		var oauth security.OAuthBearerValidator
		if (security.SASLConfig{Mechanisms: static.Mechanisms}).Enabled(security.MechanismOAuthBearer) {
			v, err := security.NewOAuthBearerValidator(static.OAuthBearer, log)
			if err != nil {
				return nil, fmt.Errorf("node: listener %s: %w", name, err)
			}
			oauth = v
		}
		lc.SASL = security.SASLConfig{
			Mechanisms: static.Mechanisms,
			Credentials: security.Credentials{
				PlainPassword: func(user string) (string, bool) {
					return users.lookup(current().JAAS[security.MechanismPlain], user)
				},
				Scram: func(m security.ScramMechanism, user string) (security.ScramCredential, bool) {
					im := image()
					if im == nil {
						return security.ScramCredential{}, false
					}
					c, ok := im.ScramCredential(user, int8(m))
					return security.ScramCredential{Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations}, ok
				},
				OAuthBearer: oauth, // KIP-255, KIP-768
				DelegationToken: func(id string) (security.DelegationToken, bool) {
					return n.delegationToken(image(), id) // KIP-48
				},
			},
			SessionLifetime: func(mech string) time.Duration {
				return time.Duration(current().ReauthMs[mech]) * time.Millisecond
			},
			FailedAuthenticationDelay: time.Duration(static.FailedAuthenticationDelayMs) * time.Millisecond,
			MaxReceiveBytes:           static.MaxReceiveBytes,
		}
	}
	if err := lc.Validate(); err != nil {
		return nil, fmt.Errorf("node: listener %s: %w", name, err)
	}
	return lc, nil
}

// delegationToken returns the unexpired delegation token id of im for
// SCRAM token authentication, with its HMAC under
// delegation.token.secret.key.
func (n *Node) delegationToken(im *metadata.Image, id string) (security.DelegationToken, bool) {
	if im == nil || n.cfg.DelegationTokenSecretKey == "" {
		return security.DelegationToken{}, false
	}
	t, ok := im.DelegationToken(id)
	if !ok {
		return security.DelegationToken{}, false
	}
	expiry := time.UnixMilli(min(t.ExpirationTimestamp, t.MaxTimestamp))
	owner, ok := security.ParsePrincipal(t.Owner)
	if !ok || time.Now().After(expiry) {
		return security.DelegationToken{}, false
	}
	return security.DelegationToken{Owner: owner, HMAC: security.DelegationTokenHMAC(n.cfg.DelegationTokenSecretKey, id), Expiry: expiry}, true
}

// plainUsers caches the users parsed from a PLAIN JAAS text.
type plainUsers struct {
	mu struct {
		sync.Mutex
		text  string
		users map[string]string
	}
}

func (p *plainUsers) lookup(jaas, user string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.users == nil || p.mu.text != jaas {
		p.mu.text, p.mu.users = jaas, map[string]string{}
		if m, err := security.ParseJAASModule(jaas); err == nil {
			p.mu.users = m.PlainUsers()
		}
	}
	pw, ok := p.mu.users[user]
	return pw, ok
}

// secureBrokerListeners sets the security of the broker server's
// listeners.
func (n *Node) secureBrokerListeners(ls []server.Listener) error {
	for i := range ls {
		sec, err := n.listenerSecurity(ls[i].Name, func() *metadata.Image { return n.controller.Image() })
		if err != nil {
			return err
		}
		ls[i].Security = sec
	}
	return nil
}

// clientSecurity is the client side of one listener's protocol.
type clientSecurity struct {
	listener string
	protocol security.Protocol
	tls      security.TLSSettings
	mech     sasl.Mechanism // nil without SASL
	clientID string
}

// clientSecurityOf returns how to connect to listener with mechanism;
// nil for PLAINTEXT.
func (n *Node) clientSecurityOf(listener, mechanism string) *clientSecurity {
	ls := n.cfg.ListenerSecurity(listener)
	if ls.Protocol == security.Plaintext {
		return nil
	}
	cs := &clientSecurity{listener: listener, protocol: ls.Protocol, tls: ls.TLS, clientID: fmt.Sprintf("gregor-%d-sasl", n.cfg.NodeID)}
	if ls.Protocol.UsesSASL() {
		mod, _ := security.ParseJAASModule(ls.JAAS[mechanism]) // checked by config
		user, pass := mod.Username(), mod.Password()
		switch mechanism {
		case security.MechanismPlain:
			cs.mech = plain.Auth{User: user, Pass: pass}.AsMechanism()
		case security.MechanismScramSHA256:
			cs.mech = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
		case security.MechanismScramSHA512:
			cs.mech = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
		}
	}
	return cs
}

// wrap returns base (a net.Dialer when nil) with the listener's
// security; base itself when there is none. raft connections send the
// SASL preamble and do not re-authenticate.
func (cs *clientSecurity) wrap(base dialFunc, raft bool) dialFunc {
	if base == nil {
		base = (&net.Dialer{Timeout: securityTimeout}).DialContext
	}
	if cs == nil {
		return base
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		nc, err := base(ctx, network, address)
		if err != nil {
			return nil, err
		}
		c, err := cs.secure(ctx, nc, address, raft)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("node: connect to %s over %s (%s): %w", address, cs.listener, cs.protocol, err)
		}
		return c, nil
	}
}

func (cs *clientSecurity) secure(ctx context.Context, nc net.Conn, address string, raft bool) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, securityTimeout)
	defer cancel()
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	if cs.protocol.UsesTLS() {
		tc, err := cs.tls.ClientConfig(host)
		if err != nil {
			return nil, err
		}
		t := tls.Client(nc, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = t
	}
	if !cs.protocol.UsesSASL() {
		return nc, nil
	}
	if raft {
		if err := writeWithContext(ctx, nc, []byte(raftSASLMagic)); err != nil {
			return nil, err
		}
	}
	lifetime, err := saslClientExchange(ctx, nc, cs.mech, host, cs.clientID)
	if err != nil {
		return nil, err
	}
	if raft {
		return nc, nil
	}
	rc := &reauthConn{Conn: nc, cs: cs, host: host}
	rc.setExpiry(lifetime)
	return rc, nil
}

func writeWithContext(ctx context.Context, nc net.Conn, b []byte) error {
	if d, ok := ctx.Deadline(); ok {
		nc.SetWriteDeadline(d)
		defer nc.SetWriteDeadline(time.Time{})
	}
	_, err := nc.Write(b)
	return err
}

// saslClientExchange authenticates nc with mech in Kafka's frames
// (SaslHandshake v1, then SaslAuthenticate v1 until done) and returns the
// session lifetime the server gave (0: none).
func saslClientExchange(ctx context.Context, nc net.Conn, mech sasl.Mechanism, host, clientID string) (time.Duration, error) {
	c := replica.NewConn(nc, clientID, 1<<20) // not closed: nc lives on
	defer nc.SetDeadline(time.Time{})
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version = 1
	hs.Mechanism = mech.Name()
	resp, err := c.Request(ctx, hs)
	if err != nil {
		return 0, fmt.Errorf("SaslHandshake: %w", err)
	}
	if code := resp.(*kmsg.SASLHandshakeResponse).ErrorCode; code != 0 {
		return 0, fmt.Errorf("SaslHandshake %s: %w", mech.Name(), kerr.ErrorForCode(code))
	}
	sess, msg, err := mech.Authenticate(ctx, host)
	if err != nil {
		return 0, err
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version = 1
		req.SASLAuthBytes = msg
		r, err := c.Request(ctx, req)
		if err != nil {
			return 0, fmt.Errorf("SaslAuthenticate: %w", err)
		}
		ar := r.(*kmsg.SASLAuthenticateResponse)
		if ar.ErrorCode != 0 {
			text := ""
			if ar.ErrorMessage != nil {
				text = ": " + *ar.ErrorMessage
			}
			return 0, fmt.Errorf("SaslAuthenticate %s: %w%s", mech.Name(), kerr.ErrorForCode(ar.ErrorCode), text)
		}
		done, next, err := sess.Challenge(ar.SASLAuthBytes)
		if err != nil {
			return 0, err
		}
		if done {
			return time.Duration(ar.SessionLifetimeMillis) * time.Millisecond, nil
		}
		msg = next
	}
}

// reauthConn re-authenticates a connection that carries Kafka requests
// before its SASL session expires (KIP-368). It relies on how
// replica.Conn uses a connection: one whole request per Write, its
// response read before the next Write; so at a Write nothing is in
// flight, and the SASL exchange can run there first.
type reauthConn struct {
	net.Conn
	cs   *clientSecurity
	host string

	mu       sync.Mutex
	expiry   time.Time // zero: never
	deadline time.Time // the last SetDeadline, restored after an exchange
}

// setExpiry schedules the next re-authentication ahead of the session's
// end: by a tenth of its lifetime, at least a second (half the lifetime
// when that is shorter).
func (c *reauthConn) setExpiry(lifetime time.Duration) {
	if lifetime <= 0 {
		c.expiry = time.Time{}
		return
	}
	margin := max(lifetime/10, time.Second)
	if margin >= lifetime {
		margin = lifetime / 2
	}
	c.expiry = time.Now().Add(lifetime - margin)
}

func (c *reauthConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *reauthConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	due := !c.expiry.IsZero() && time.Now().After(c.expiry)
	deadline := c.deadline
	c.mu.Unlock()
	if due {
		ctx, cancel := context.WithTimeout(context.Background(), securityTimeout)
		lifetime, err := saslClientExchange(ctx, c.Conn, c.cs.mech, c.host, c.cs.clientID)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("node: SASL re-authentication: %w", err)
		}
		c.mu.Lock()
		c.setExpiry(lifetime)
		c.mu.Unlock()
		c.Conn.SetDeadline(deadline)
	}
	return c.Conn.Write(b)
}

// interBrokerDial wraps base for connections to other brokers'
// inter.broker.listener.name; nil (the caller's default) when that
// listener is PLAINTEXT and base is nil.
func (n *Node) interBrokerDial(base dialFunc) dialFunc {
	cs := n.clientSecurityOf(n.cfg.InterBrokerListenerName, n.cfg.InterBrokerSASLMechanism())
	if cs == nil {
		return base
	}
	return cs.wrap(base, false)
}

// controllerListenerName is the listener nodes reach controllers on.
func (n *Node) controllerListenerName() string {
	if len(n.cfg.ControllerListenerNames) == 0 {
		return ""
	}
	return n.cfg.ControllerListenerNames[0]
}

// controllerDial wraps base for the connections that carry Kafka requests
// to controllers (controller channels, the metadata observer).
func (n *Node) controllerDial(base dialFunc) dialFunc {
	cs := n.clientSecurityOf(n.controllerListenerName(), n.cfg.ControllerSASLMechanism())
	if cs == nil {
		return base
	}
	return cs.wrap(base, false)
}

// raftDial wraps base (nil: raft's default) for the Raft transport.
func (n *Node) raftDial(base dialFunc) dialFunc {
	cs := n.clientSecurityOf(n.controllerListenerName(), n.cfg.ControllerSASLMechanism())
	if cs == nil {
		return base
	}
	return cs.wrap(base, true)
}

// secureControllerListener wraps the controller listener so that its
// connections are TLS connections (SSL, SASL_SSL) and its Raft
// connections authenticate (SASL_*), and returns the listener's security
// for the controller APIs' server. ctl provides SCRAM credentials once
// the controller exists.
func (n *Node) secureControllerListener(ln net.Listener, name string, ctl *controllerCell) (net.Listener, *security.ListenerConfig, error) {
	sec, err := n.listenerSecurity(name, ctl.image)
	if err != nil || sec == nil {
		return ln, sec, err
	}
	return &controllerListener{Listener: ln, sec: sec, n: n}, sec, nil
}

// controllerListener hands out controllerConns.
type controllerListener struct {
	net.Listener
	sec *security.ListenerConfig
	n   *Node
}

func (l *controllerListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &controllerConn{Conn: nc, raw: nc, sec: l.sec, n: l.n}
	if l.sec.Protocol.UsesTLS() {
		c.Conn = tls.Server(nc, l.sec.TLS.Config())
	}
	return c, nil
}

// controllerConn is a controller listener's connection: TLS (done by the
// first read), and, on a SASL listener, a Raft connection's SASL
// exchange, run at the first read, before the reader (the mux) sees the
// Raft hello.
type controllerConn struct {
	net.Conn // the TLS connection, or raw
	raw      net.Conn
	sec      *security.ListenerConfig
	n        *Node

	once    sync.Once
	err     error
	pending []byte
}

func (c *controllerConn) Read(b []byte) (int, error) {
	c.once.Do(c.start)
	if c.err != nil {
		return 0, c.err
	}
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// start reads the first bytes and, for a Raft connection on a SASL
// listener, authenticates it.
func (c *controllerConn) start() {
	if !c.sec.Protocol.UsesSASL() {
		return
	}
	var head [4]byte
	if _, err := io.ReadFull(c.Conn, head[:]); err != nil {
		c.err = err
		return
	}
	switch string(head[:]) {
	case raftSASLMagic:
		p, err := serveSASLExchange(c.Conn, c.sec)
		if err != nil {
			c.n.log.Info("refused a Raft connection: authentication failed", "remote", c.raw.RemoteAddr().String(), "err", err)
			c.err = err
			return
		}
		c.n.log.Debug("Raft connection authenticated", "remote", c.raw.RemoteAddr().String(), "principal", p.String())
	case raftMagic:
		c.n.log.Warn("refused a Raft connection without SASL on a SASL listener", "remote", c.raw.RemoteAddr().String())
		c.err = errors.New("node: Raft connection without SASL on a SASL listener")
	default:
		c.pending = head[:] // a Kafka client: the server authenticates it
	}
}

// ConnectionState reports the TLS state, so the controller APIs' server
// takes the connection as TLS already.
func (c *controllerConn) ConnectionState() tls.ConnectionState {
	if t, ok := c.Conn.(*tls.Conn); ok {
		return t.ConnectionState()
	}
	return tls.ConnectionState{}
}

// ConnectionState passes the TLS state of the connection through the
// mux's replay wrapper.
func (c *prefixConn) ConnectionState() tls.ConnectionState {
	if t, ok := c.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return t.ConnectionState()
	}
	return tls.ConnectionState{}
}

// serveSASLExchange runs the server side of a SASL exchange in Kafka
// frames on rw: a SaslHandshake, then SaslAuthenticate until the
// mechanism is done. It returns the principal.
func serveSASLExchange(rw io.ReadWriter, sec *security.ListenerConfig) (security.Principal, error) {
	var sess security.ServerSession
	var frame []byte
	maxBytes := sec.SASL.MaxReceiveBytes
	if maxBytes <= 0 {
		maxBytes = 512 << 10
	}
	for {
		var err error
		frame, err = protocol.ReadFrame(rw, frame[:0], maxBytes)
		if err != nil {
			return security.Principal{}, err
		}
		hdr, err := protocol.PeekHeader(frame)
		if err != nil {
			return security.Principal{}, err
		}
		req := kmsg.RequestForKey(hdr.APIKey)
		if req == nil || (hdr.APIKey != 17 && hdr.APIKey != 36) || hdr.APIVersion < 1 || hdr.APIVersion > req.MaxVersion() {
			return security.Principal{}, fmt.Errorf("unexpected request %d v%d in a Raft SASL exchange", hdr.APIKey, hdr.APIVersion)
		}
		req.SetVersion(hdr.APIVersion)
		_, body, err := protocol.ParseHeader(frame, req.IsFlexible())
		if err != nil {
			return security.Principal{}, err
		}
		if err := req.ReadFrom(body); err != nil {
			return security.Principal{}, err
		}
		var resp kmsg.Response
		var done bool
		var stepErr error
		switch r := req.(type) {
		case *kmsg.SASLHandshakeRequest:
			hr := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
			hr.SupportedMechanisms = sec.SASL.Mechanisms
			if sess != nil || !sec.SASL.Enabled(r.Mechanism) {
				hr.ErrorCode = kerr.UnsupportedSaslMechanism.Code
				stepErr = fmt.Errorf("%w: %s", security.ErrUnsupportedMechanism, r.Mechanism)
			} else if sess, err = security.NewServerSession(r.Mechanism, sec.SASL.Credentials); err != nil {
				hr.ErrorCode = kerr.UnsupportedSaslMechanism.Code
				stepErr = err
			}
			resp = hr
		case *kmsg.SASLAuthenticateRequest:
			ar := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			if sess == nil {
				return security.Principal{}, errors.New("SaslAuthenticate before SaslHandshake")
			}
			out, d, err := sess.Step(r.SASLAuthBytes)
			if err != nil {
				ar.ErrorCode = kerr.SaslAuthenticationFailed.Code
				ar.ErrorMessage = kmsg.StringPtr(security.ClientMessage(err, sess.Mechanism(), false))
				stepErr = err
			}
			ar.SASLAuthBytes, done = out, d
			resp = ar
		}
		if stepErr != nil && sec.SASL.FailedAuthenticationDelay > 0 {
			time.Sleep(sec.SASL.FailedAuthenticationDelay)
		}
		b := protocol.AppendResponseHeader(nil, hdr.CorrelationID, req.IsFlexible())
		b = resp.AppendTo(b)
		protocol.FinishFrame(b, 0)
		if _, err := rw.Write(b); err != nil {
			return security.Principal{}, err
		}
		if stepErr != nil {
			return security.Principal{}, stepErr
		}
		if done && stepErr == nil {
			return security.User(sess.AuthorizationID()), nil
		}
	}
}
