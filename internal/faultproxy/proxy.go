// Package faultproxy injects network faults between processes: a Proxy is
// one TCP link (a listening address that forwards every connection to a
// target address) that a test can cut and heal while traffic flows, and
// slow down with added latency. A Network is a set of proxies, one per
// directed link between numbered nodes, that isolates a node from its
// peers in one call. It is for tests: the harness in tests/fault puts a
// proxy on every inter-node link of real processes, and kafkatest routes
// the dials of in-process nodes through one.
//
//	node A ──dial──▶ Proxy.Addr() ══ accepted conn ══▶ Proxy ──dial──▶ Target (node B)
//	                                 │ per direction:                  │
//	                                 └ read ─▶ [held while cut, ───────┘
//	                                           delayed by latency] ─▶ write
//
// A healthy proxy dials the target for each accepted connection and copies
// bytes both ways (a half close is passed on); a failed dial closes the
// accepted connection. Cut(mode) cuts the link:
//
//	mode       open connections            new connections
//	Stall      stall: nothing moves either  accepted, never reach the target
//	           way (a close neither); Heal  until Heal, which dials and
//	           resumes them                 forwards them
//	Blackhole  dropped (reset)              as Stall
//	Refuse     dropped (reset)              accepted and reset at once
//
// Stall is what a real partition does to TCP: packets vanish, no RST
// arrives, and connections that neither end gave up on carry on once the
// network heals. Blackhole is that partition after the endpoints' TCP
// stacks have given up on the old connections. Refuse is a firewall that
// answers with a reset. Because a proxy accepts before it knows the
// link's fate, a dial through it succeeds even when the target is down: a
// cut shows as a connection that never answers (Stall, Blackhole) or that
// is reset at once (Refuse: the dial itself may see the reset, or the
// first read or write), and a target that is down as a connection closed
// once the proxy's own dial fails.
//
// Usage:
//
//	p, err := faultproxy.New(faultproxy.Config{Target: "127.0.0.1:9093"})
//	defer p.Close()
//	// ... point the client at p.Addr() ...
//	p.Cut(faultproxy.Stall)
//	p.Heal()
//
// A Proxy is safe for concurrent use. Close stops accepting, closes every
// connection and waits for every goroutine the proxy started.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how a cut link treats connections; see the package doc.
type Mode int

// The modes of a cut.
const (
	// Stall holds every byte and close, in open and new connections,
	// until Heal.
	Stall Mode = iota + 1
	// Blackhole resets open connections and stalls new ones.
	Blackhole
	// Refuse resets open connections and new ones.
	Refuse
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case 0:
		return "healed"
	case Stall:
		return "stall"
	case Blackhole:
		return "blackhole"
	case Refuse:
		return "refuse"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Errors.
var (
	// ErrClosed is returned by Network.Link after Network.Close.
	ErrClosed = errors.New("faultproxy: closed")
	// errNoTarget is a Config without a target.
	errNoTarget = errors.New("faultproxy: Config.Target is empty")
)

// Config configures a Proxy.
type Config struct {
	// Target is the host:port connections are forwarded to. Required.
	Target string
	// ListenAddr is the address to accept on. Default "127.0.0.1:0" (a
	// free loopback port; see Proxy.Addr).
	ListenAddr string
	// Latency is added to every chunk of bytes in each direction (so a
	// request/response round trip takes at least twice as long).
	// Default 0. SetLatency changes it.
	Latency time.Duration
	// DialTimeout bounds a dial of the target. Default 5 s.
	DialTimeout time.Duration
	// Listen opens the listener. Default net.Listen.
	Listen func(network, address string) (net.Listener, error)
	// Dial connects to the target. Default (&net.Dialer{}).DialContext.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Logger receives debug lines for cuts, heals and failed dials.
	// Default: discarded.
	Logger *slog.Logger
}

func (c *Config) ensureDefaults() error {
	if c.Target == "" {
		return errNoTarget
	}
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:0"
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.Listen == nil {
		c.Listen = net.Listen
	}
	if c.Dial == nil {
		c.Dial = (&net.Dialer{}).DialContext
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Stats counts what a proxy did since New. All counts are cumulative
// except Open.
type Stats struct {
	// Accepted is the connections accepted, Refused those reset at
	// once (Refuse), Dropped those reset by a Cut, Open those open now.
	Accepted, Refused, Dropped, Open int64
	// Forwarded is the bytes written to either side; Held is the bytes
	// read from one side and not yet written to the other (waiting for
	// a Heal or for the latency to pass).
	Forwarded, Held int64
}

// Proxy forwards connections from its address to a target and cuts,
// heals and delays them on request. Create it with New.
type Proxy struct {
	cfg    Config
	ln     net.Listener
	log    *slog.Logger
	ctx    context.Context // cancelled by Close; bounds dials
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the proxy started
	// running counts those goroutines (for tests).
	running atomic.Int64

	accepted, refused, dropped, forwarded, held atomic.Int64

	mu struct {
		sync.Mutex
		mode    Mode          // 0: healed
		healed  chan struct{} // closed at Heal; nil while healed
		latency time.Duration
		conns   map[*conn]struct{}
		closed  bool
	}
}

// New listens on cfg.ListenAddr and starts forwarding to cfg.Target.
func New(cfg Config) (*Proxy, error) {
	if err := cfg.ensureDefaults(); err != nil {
		return nil, err
	}
	ln, err := cfg.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen on %s: %w", cfg.ListenAddr, err)
	}
	p := &Proxy{cfg: cfg, ln: ln, log: cfg.Logger.With("proxy", ln.Addr().String(), "target", cfg.Target)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.mu.latency = cfg.Latency
	p.mu.conns = map[*conn]struct{}{}
	p.goAsync(p.acceptLoop)
	return p, nil
}

// Addr returns the address the proxy accepts on (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.cfg.Target }

// Cut cuts the link in mode (see the package doc) until Heal. Cutting a
// cut link changes its mode: to Blackhole or Refuse resets the open
// connections, stalled ones included.
func (p *Proxy) Cut(mode Mode) {
	if mode < Stall || mode > Refuse {
		panic(fmt.Sprintf("faultproxy: Cut with invalid mode %d", mode))
	}
	p.mu.Lock()
	if p.mu.healed == nil {
		p.mu.healed = make(chan struct{})
	}
	p.mu.mode = mode
	var drop []*conn
	if mode != Stall {
		for c := range p.mu.conns {
			drop = append(drop, c)
		}
	}
	p.mu.Unlock()
	for _, c := range drop {
		if c.close(true) {
			p.dropped.Add(1)
		}
	}
	p.log.Debug("faultproxy: cut", "mode", mode, "dropped", len(drop))
}

// Heal ends a cut: held bytes and closes flow again, and connections
// accepted during the cut are dialed to the target. A no-op on a healthy
// link.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.healed != nil {
		close(p.mu.healed)
		p.mu.healed = nil
		p.log.Debug("faultproxy: healed", "was", p.mu.mode)
	}
	p.mu.mode = 0
}

// Mode returns the current cut mode, 0 when the link is healthy.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.mode
}

// SetLatency sets the latency added to every chunk read from then on.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.mu.latency = max(d, 0)
	p.mu.Unlock()
}

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	open := int64(len(p.mu.conns))
	p.mu.Unlock()
	return Stats{
		Accepted:  p.accepted.Load(),
		Refused:   p.refused.Load(),
		Dropped:   p.dropped.Load(),
		Open:      open,
		Forwarded: p.forwarded.Load(),
		Held:      p.held.Load(),
	}
}

// Close stops accepting, closes every connection and waits until every
// goroutine of the proxy has returned. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.mu.closed = true
	var all []*conn
	for c := range p.mu.conns {
		all = append(all, c)
	}
	p.mu.Unlock()
	p.cancel()
	err := p.ln.Close()
	for _, c := range all {
		c.close(false)
	}
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// goAsync starts fn on a goroutine that Close waits for.
func (p *Proxy) goAsync(fn func()) {
	p.wg.Add(1)
	p.running.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.running.Add(-1)
		fn()
	}()
}

func (p *Proxy) acceptLoop() {
	var delay time.Duration
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			// A transient failure (EMFILE): back off, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Debug("faultproxy: accept", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-p.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		p.accepted.Add(1)
		p.mu.Lock()
		if p.mu.closed {
			p.mu.Unlock()
			nc.Close()
			return
		}
		if p.mu.mode == Refuse {
			p.mu.Unlock()
			p.refused.Add(1)
			reset(nc)
			continue
		}
		c := &conn{p: p, client: nc, done: make(chan struct{})}
		p.mu.conns[c] = struct{}{}
		p.mu.Unlock()
		p.goAsync(func() { p.serve(c) })
	}
}

// serve dials the target for c (once the link is healthy) and forwards
// both ways until both directions end or c is closed.
func (p *Proxy) serve(c *conn) {
	defer c.close(false)
	if !p.wait(c, time.Time{}) {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.DialTimeout)
	target, err := p.cfg.Dial(ctx, "tcp", p.cfg.Target)
	cancel()
	if err != nil {
		p.log.Debug("faultproxy: dial target", "err", err)
		return
	}
	if !c.setTarget(target) {
		target.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	p.goAsync(func() { defer wg.Done(); p.pump(c, c.client, target) })
	p.goAsync(func() { defer wg.Done(); p.pump(c, target, c.client) })
	wg.Wait()
}

// chunk is bytes read from one side, waiting to be written to the other;
// a nil data with err set is the end of the stream.
type chunk struct {
	data []byte
	at   time.Time // when it was read
	err  error
}

// chunkQueue bounds the chunks read ahead of the writer in one direction.
const (
	chunkQueue = 16
	chunkBytes = 32 << 10
)

// pump forwards src to dst: a reader goroutine reads chunks as they come
// and this goroutine writes each once the link is healthy and the
// latency has passed since it was read. The end of src is passed on as a
// half close (CloseWrite) when dst supports it; an error ends c.
func (p *Proxy) pump(c *conn, src, dst net.Conn) {
	q := make(chan chunk, chunkQueue)
	p.goAsync(func() {
		defer close(q)
		buf := make([]byte, chunkBytes)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.held.Add(int64(n))
				data := append([]byte(nil), buf[:n]...)
				select {
				case q <- chunk{data: data, at: time.Now()}:
				case <-c.done:
					p.held.Add(-int64(n))
					return
				}
			}
			if err != nil {
				select {
				case q <- chunk{at: time.Now(), err: err}:
				case <-c.done:
				}
				return
			}
		}
	})
	for ch := range q {
		if !p.wait(c, ch.at) {
			p.held.Add(-int64(len(ch.data)))
			break
		}
		if ch.err != nil {
			if errors.Is(ch.err, io.EOF) {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
					break
				}
			}
			c.close(!errors.Is(ch.err, io.EOF))
			break
		}
		_, err := dst.Write(ch.data)
		p.held.Add(-int64(len(ch.data)))
		if err != nil {
			c.close(true)
			break
		}
		p.forwarded.Add(int64(len(ch.data)))
	}
	// Let the reader return (c may stay open for the other direction
	// after a half close: the reader has returned already then).
	for ch := range q {
		p.held.Add(-int64(len(ch.data)))
	}
}

// wait blocks until the link is healthy and the latency has passed since
// at (zero: no latency wait). It returns false once c is closed.
func (p *Proxy) wait(c *conn, at time.Time) bool {
	for {
		p.mu.Lock()
		healed, latency := p.mu.healed, p.mu.latency
		p.mu.Unlock()
		if healed != nil {
			select {
			case <-healed:
				continue
			case <-c.done:
				return false
			}
		}
		if !at.IsZero() {
			if d := time.Until(at.Add(latency)); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-c.done:
					t.Stop()
					return false
				}
				continue // a cut may have come meanwhile
			}
		}
		select {
		case <-c.done:
			return false
		default:
			return true
		}
	}
}

// conn is one accepted connection and, once dialed, its target side.
type conn struct {
	p      *Proxy
	client net.Conn
	done   chan struct{} // closed by close

	// closeMu guards target and closed.
	closeMu sync.Mutex
	target  net.Conn
	closed  bool
}

// setTarget records the dialed target; false if c was closed meanwhile.
func (c *conn) setTarget(t net.Conn) bool {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return false
	}
	c.target = t
	return true
}

// close closes both sides (with a reset when rst) and forgets c. It
// reports whether this call closed c.
func (c *conn) close(rst bool) bool {
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		return false
	}
	c.closed = true
	target := c.target
	c.closeMu.Unlock()
	close(c.done)
	if rst {
		reset(c.client)
		if target != nil {
			reset(target)
		}
	} else {
		c.client.Close()
		if target != nil {
			target.Close()
		}
	}
	c.p.mu.Lock()
	delete(c.p.mu.conns, c)
	c.p.mu.Unlock()
	return true
}

// reset closes nc with a TCP reset rather than a FIN, where it can.
func reset(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	nc.Close()
}
