package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/protocol"
	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// A connection's life, by listener security protocol (Kafka's
// SocketServer with its SslTransportLayer and SaslServerAuthenticator):
//
//	accept ─▶ [SSL, SASL_SSL] TLS handshake; a client certificate names
//	   │      the principal, else User:ANONYMOUS
//	   ▼
//	[SASL_*] not authenticated: ApiVersions (once, first), SaslHandshake,
//	   │      then SaslAuthenticate until the mechanism is done
//	   │      (17_sasl_handshake.go, 36_sasl_authenticate.go); any other
//	   │      request closes the connection. A failure is answered after
//	   │      connection.failed.authentication.delay.ms, then the
//	   │      connection closes.
//	   ▼
//	requests, each run with c.session final: the principal, listener,
//	protocol and address an authorizer decides on (the seam: handle,
//	after checkSASL). With connections.max.reauth.ms the session expires;
//	the client re-authenticates with SaslHandshake + SaslAuthenticate
//	(KIP-368), and any other request after expiry closes the connection.

// conn is one client connection. serve runs the read-handle loop on the
// connection's goroutine and owns a writer goroutine that writes
// responses in order.
type conn struct {
	s *Server
	// nc is the accepted connection; Server.Close closes it. rw is what
	// requests are read from and responses written to: nc, or the TLS
	// connection over it. Only serve's goroutines use rw.
	nc       net.Conn
	rw       net.Conn
	listener boundListener
	log      *slog.Logger
	ctx      context.Context

	// Set from the request being handled, for logs and quotas.
	clientID        string
	clientSoftware  string
	clientSWVersion string

	// session is who the client is, final once authentication is done;
	// only the connection's goroutine touches it.
	session security.Session
	// sasl is the SASL authentication state of a SASL listener's
	// connection (17_sasl_handshake.go).
	sasl saslState
	// closeAfter and delay are set by a handler: hold the response back
	// for delay (a failed authentication), and close the connection once
	// it is written.
	closeAfter bool
	delay      time.Duration
	// mute is how long to stop reading requests after this response is
	// queued: the client is over a quota (quotas.go); mutationThrottle
	// is the controller_mutation_rate throttle of the request being
	// handled (quotas_mutations.go).
	mute             time.Duration
	mutationThrottle time.Duration
}

func newConn(s *Server, nc net.Conn, l boundListener) *conn {
	c := &conn{
		s:        s,
		nc:       nc,
		rw:       nc,
		listener: l,
		ctx:      s.ctx,
		log:      s.log.With("remote", nc.RemoteAddr().String(), "listener", l.Name),
	}
	c.session = security.Session{
		Principal:     security.Anonymous,
		Listener:      l.Name,
		Protocol:      security.Plaintext,
		ClientAddress: nc.RemoteAddr(),
	}
	if l.Security != nil {
		c.session.Protocol = l.Security.Protocol
	}
	return c
}

// Session returns who is on the other end of the connection. It is
// final for every request a handler sees (authentication is done).
func (c *conn) Session() security.Session { return c.session }

// tlsHandshakeTimeout bounds a TLS handshake, so a silent client cannot
// hold a connection open before it has said anything.
const tlsHandshakeTimeout = 10 * time.Second

// startTLS runs the TLS handshake of an SSL or SASL_SSL listener and
// sets the principal from the client certificate. A connection whose
// TLS the listener already terminated (the controller listener's shared
// port, node/mux.go) is used as is.
func (c *conn) startTLS() error {
	sec := c.listener.Security
	var cs tls.ConnectionState
	if t, ok := c.nc.(interface{ ConnectionState() tls.ConnectionState }); ok && t.ConnectionState().HandshakeComplete {
		cs = t.ConnectionState()
	} else {
		tc := tls.Server(c.nc, sec.TLS.Config())
		ctx, cancel := context.WithTimeout(c.ctx, tlsHandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return err
		}
		c.rw = tc
		cs = tc.ConnectionState()
	}
	if sec.Protocol.UsesSASL() {
		// SASL_SSL: the principal comes from SASL (Kafka's
		// DefaultKafkaPrincipalBuilder), whatever certificate the
		// client presented.
		c.log.Debug("TLS connection", "tls_version", tls.VersionName(cs.Version))
		return nil
	}
	p, err := sec.CertificatePrincipal(cs)
	if err != nil {
		return err
	}
	c.session.Principal = p
	if p != security.Anonymous {
		c.log = c.log.With("principal", p.String())
	}
	c.log.Debug("TLS connection", "tls_version", tls.VersionName(cs.Version), "client_principal", p.String())
	return nil
}

// writeQueue bounds how many responses may wait for the writer; the reader
// stops reading new requests while it is full.
const writeQueue = 64

func (c *conn) serve() {
	defer c.nc.Close()
	if sec := c.listener.Security; sec != nil && sec.Protocol.UsesTLS() {
		if err := c.startTLS(); err != nil {
			if c.ctx.Err() == nil {
				c.log.Info("closing connection: TLS handshake failed", "err", err)
			}
			return
		}
	}
	if sec := c.listener.Security; sec != nil && sec.Protocol.UsesSASL() {
		c.sasl.required = true
	}
	out := make(chan []byte, writeQueue)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(out)
	}()
	defer func() {
		close(out)
		<-writerDone
	}()

	r := bufio.NewReaderSize(c.rw, 64<<10)
	var frame []byte
	for {
		var err error
		frame, err = protocol.ReadFrame(r, frame[:0], c.maxFrameBytes())
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && c.ctx.Err() == nil {
				c.log.Debug("closing connection", "err", err)
				if errors.Is(err, protocol.ErrFrameTooLarge) || errors.Is(err, protocol.ErrBadFrame) {
					c.log.Warn("closing connection after a bad frame", "err", err)
				}
			}
			return
		}
		var resp []byte
		if c.sasl.raw {
			resp, err = c.handleRawToken(frame) // 36_sasl_authenticate.go
		} else {
			resp, err = c.handle(frame)
		}
		if err != nil {
			var ae *authCloseError
			if errors.As(err, &ae) {
				c.log.Info("closing connection", "reason", ae.reason)
			} else {
				c.log.Warn("closing connection after a bad request", "client_id", c.clientID, "err", err)
			}
			return
		}
		if resp == nil {
			if !c.waitMute() { // quotas.go
				return
			}
			continue // acks=0 produce: no response
		}
		if c.delay > 0 {
			// A failed authentication: answer late, to slow down
			// password guessing (Kafka's delayed close).
			t := time.NewTimer(c.delay)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return
			}
			c.delay = 0
		}
		select {
		case out <- resp:
		case <-writerDone:
			return
		}
		if c.closeAfter {
			return // the writer flushes what is queued first
		}
		if !c.waitMute() { // a throttled client (quotas.go)
			return
		}
	}
}

// maxFrameBytes is the largest request accepted now: before a SASL
// client has authenticated, sasl.server.max.receive.size.
func (c *conn) maxFrameBytes() int32 {
	max := c.s.cfg.MaxRequestBytes
	if c.sasl.required && !c.sasl.authenticated {
		if m := c.listener.Security.SASL.MaxReceiveBytes; m > 0 && m < max {
			max = m
		}
	}
	return max
}

func (c *conn) writeLoop(out <-chan []byte) {
	w := bufio.NewWriterSize(c.rw, 64<<10)
	for b := range out {
		_, err := w.Write(b)
		putFrame(b) // bufio has copied b or written it through
		if err != nil {
			c.nc.Close()
			for range out {
			}
			return
		}
		if len(out) == 0 {
			if err := w.Flush(); err != nil {
				c.nc.Close()
				for range out {
				}
				return
			}
		}
	}
}

// handle decodes and runs one request, returning the framed response (nil
// for none) or an error that closes the connection.
func (c *conn) handle(frame []byte) ([]byte, error) {
	hdr, err := protocol.PeekHeader(frame)
	if err != nil {
		return nil, err
	}
	if c.sasl.required {
		// Before authentication only the SASL exchange; after it, an
		// expired session only re-authenticates (17_sasl_handshake.go).
		if err := c.checkSASL(hdr.APIKey); err != nil {
			return nil, err
		}
	}
	// From here on c.session is final: the authorizer checks
	// c.session.Principal against the request (serveAuthorized).
	h := c.s.lookupHandler(hdr.APIKey)
	if h == nil {
		return nil, errorf("unknown api key %d", hdr.APIKey)
	}
	if hdr.APIVersion < h.min || hdr.APIVersion > h.max {
		if hdr.APIKey == apiVersionsKey {
			// KIP-511: answer in v0 with UNSUPPORTED_VERSION and our
			// versions, so the client can pick one.
			return c.s.unsupportedAPIVersions(hdr.CorrelationID), nil
		}
		return nil, errorf("unsupported version %d of api key %d", hdr.APIVersion, hdr.APIKey)
	}
	req := kmsg.RequestForKey(hdr.APIKey)
	req.SetVersion(hdr.APIVersion)
	full, body, err := protocol.ParseHeader(frame, req.IsFlexible())
	if err != nil {
		return nil, err
	}
	if err := req.ReadFrom(body); err != nil {
		return nil, errorf("decode %s v%d: %v", kmsg.NameForKey(hdr.APIKey), hdr.APIVersion, err)
	}
	if full.ClientID != nil {
		c.clientID = *full.ClientID
	} else {
		c.clientID = ""
	}
	var resp kmsg.Response
	c.capFetchToQuota(req) // client quotas (quotas.go)
	started := time.Now()
	served, addThrottled := c.throttleMutations(req) // quotas_mutations.go
	// Authorized, then forwarded to the active controller (forward.go)
	// or handled (authorize_split.go).
	resp, err = c.serveAuthorized(h, served)
	if err == nil {
		if resp != nil {
			resp = addThrottled(resp)
		}
		resp = c.throttle(hdr, req, resp, len(frame), time.Since(started)) // quotas.go
	}
	if err != nil || resp == nil {
		return nil, err
	}
	if hdr.APIKey == 33 || hdr.APIKey == 44 {
		c.s.maybeReloadTLS(req, resp)
	}
	resp.SetVersion(hdr.APIVersion)
	// ApiVersions responses always use header v0 (KIP-511).
	flexible := req.IsFlexible() && hdr.APIKey != apiVersionsKey
	b := protocol.AppendResponseHeader(getFrame(responseSizeHint(resp)), hdr.CorrelationID, flexible)
	b = resp.AppendTo(b)
	protocol.FinishFrame(b, 0)
	releaseResponse(resp)
	return b, nil
}

// maybeReloadTLS re-reads the key and trust stores of this server's TLS
// listeners after a successful change of a key or trust store config of
// this broker (AlterConfigs, IncrementalAlterConfigs on BROKER
// "<node.id>"), even one that sets the same path again: that is how
// Kafka's operators roll a renewed certificate. A change to another path
// is also picked up by the next handshake once the metadata carries it
// (security.ServerTLS).
func (s *Server) maybeReloadTLS(req kmsg.Request, resp kmsg.Response) {
	self := strconv.Itoa(int(s.cfg.NodeID))
	ours := func(typ int8, name string) bool {
		return typ == int8(kmsg.ConfigResourceTypeBroker) && (name == self || name == "")
	}
	isStore := func(name string) bool {
		return strings.Contains(name, "ssl.keystore.") || strings.Contains(name, "ssl.truststore.") || strings.HasSuffix(name, "ssl.key.password")
	}
	ok := map[string]bool{} // broker resources that succeeded
	changed := false
	switch r := req.(type) {
	case *kmsg.IncrementalAlterConfigsRequest:
		for _, res := range resp.(*kmsg.IncrementalAlterConfigsResponse).Resources {
			ok[res.ResourceName] = ok[res.ResourceName] || (res.ErrorCode == 0 && ours(int8(res.ResourceType), res.ResourceName))
		}
		for _, res := range r.Resources {
			for _, c := range res.Configs {
				changed = changed || (!r.ValidateOnly && ok[res.ResourceName] && ours(int8(res.ResourceType), res.ResourceName) && isStore(c.Name))
			}
		}
	case *kmsg.AlterConfigsRequest:
		for _, res := range resp.(*kmsg.AlterConfigsResponse).Resources {
			ok[res.ResourceName] = ok[res.ResourceName] || (res.ErrorCode == 0 && ours(int8(res.ResourceType), res.ResourceName))
		}
		for _, res := range r.Resources {
			for _, c := range res.Configs {
				changed = changed || (!r.ValidateOnly && ok[res.ResourceName] && ours(int8(res.ResourceType), res.ResourceName) && isStore(c.Name))
			}
		}
	}
	if !changed {
		return
	}
	for _, l := range s.cfg.Listeners {
		if l.Security != nil && l.Security.TLS != nil {
			if err := l.Security.TLS.Reload(); err != nil {
				s.log.Error("reloading the TLS stores of a listener failed", "listener", l.Name, "err", err)
			}
		}
	}
}

// releaseResponse gives back the buffers a response borrowed once it has
// been encoded: the record data a fetch read from the logs.
func releaseResponse(resp kmsg.Response) {
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return
	}
	for i := range fr.Topics {
		for j := range fr.Topics[i].Partitions {
			p := &fr.Topics[i].Partitions[j]
			storage.ReleaseReadData(p.RecordBatches)
			p.RecordBatches = nil
		}
	}
}

// Response frames are pooled: a fetch response holds megabytes of record
// batches, and allocating (and zeroing, and growing) a buffer per response
// would dominate the fetch path. A frame goes back to the pool once the
// writer has written it.
var framePool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledFrame bounds what the pool keeps, so one huge response does not
// pin its buffer.
const maxPooledFrame = 64 << 20

func getFrame(size int) []byte {
	bp := framePool.Get().(*[]byte)
	b := *bp
	*bp = nil
	framePool.Put(bp)
	if cap(b) < size {
		return make([]byte, 0, size)
	}
	return b[:0]
}

func putFrame(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledFrame {
		return
	}
	bp := framePool.Get().(*[]byte)
	*bp = b[:0]
	framePool.Put(bp)
}

// responseSizeHint estimates the encoded size of resp, so its frame is
// allocated once: the record bytes of a fetch response plus room for the
// rest.
func responseSizeHint(resp kmsg.Response) int {
	const base = 512
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return base
	}
	n := base
	for i := range fr.Topics {
		n += 64 + len(fr.Topics[i].Topic)
		for j := range fr.Topics[i].Partitions {
			n += 64 + len(fr.Topics[i].Partitions[j].RecordBatches)
		}
	}
	return n
}

type requestError struct{ msg string }

func (e *requestError) Error() string { return "server: " + e.msg }

func errorf(format string, args ...any) error {
	return &requestError{msg: sprintf(format, args...)}
}
