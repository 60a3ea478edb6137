package node

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// listenerMux shares a controller listener's port between the two
// protocols a controller speaks there, as Kafka's controller listener
// carries both its Raft RPCs and the controller APIs:
//
//	accepted conn ──first 4 bytes──▶ "GRFT" (raft transport hello) ──▶ raft side
//	                              └▶ anything else (a Kafka frame's   ──▶ kafka side
//	                                 size, < 1 GiB)
//
// The peeked bytes are replayed to whichever side takes the connection.
// A Kafka request's size prefix can never read "GRFT" (0x47524654 is over
// a gigabyte, beyond socket.request.max.bytes). Each side is a
// net.Listener; closing one refuses the connections routed to it, and
// Close stops the accept loop and closes both.
type listenerMux struct {
	ln    net.Listener
	log   *slog.Logger
	raft  *muxSide
	kafka *muxSide
	wg    sync.WaitGroup // the accept loop and the sniffing goroutines

	mu struct {
		sync.Mutex
		closed  bool
		pending map[net.Conn]struct{} // being sniffed
	}
}

// raftMagic starts every raft transport connection (internal/raft).
const raftMagic = "GRFT"

// sniffTimeout bounds how long a new connection may take to send its
// first 4 bytes.
const sniffTimeout = 10 * time.Second

func newListenerMux(ln net.Listener, log *slog.Logger) *listenerMux {
	m := &listenerMux{ln: ln, log: log}
	m.raft = newMuxSide(ln.Addr())
	m.kafka = newMuxSide(ln.Addr())
	m.mu.pending = map[net.Conn]struct{}{}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.acceptLoop()
	}()
	return m
}

func (m *listenerMux) acceptLoop() {
	var delay time.Duration
	for {
		nc, err := m.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || m.isClosed() {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			m.log.Warn("controller listener accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		m.mu.Lock()
		if m.mu.closed {
			m.mu.Unlock()
			nc.Close()
			return
		}
		m.mu.pending[nc] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go func() {
			defer m.wg.Done()
			m.route(nc)
		}()
	}
}

// route reads the first bytes of nc and hands it to a side.
func (m *listenerMux) route(nc net.Conn) {
	var head [len(raftMagic)]byte
	_ = nc.SetReadDeadline(time.Now().Add(sniffTimeout))
	_, err := io.ReadFull(nc, head[:])
	_ = nc.SetReadDeadline(time.Time{})
	m.mu.Lock()
	delete(m.mu.pending, nc)
	closed := m.mu.closed
	m.mu.Unlock()
	if err != nil || closed {
		nc.Close()
		return
	}
	side := m.kafka
	if string(head[:]) == raftMagic {
		side = m.raft
	}
	side.deliver(&prefixConn{Conn: nc, prefix: head[:]})
}

func (m *listenerMux) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.closed
}

// Close closes the listener, both sides and the connections still being
// sniffed, and waits for the mux's goroutines.
func (m *listenerMux) Close() error {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return nil
	}
	m.mu.closed = true
	for nc := range m.mu.pending {
		nc.Close()
	}
	m.mu.Unlock()
	err := m.ln.Close()
	m.raft.Close()
	m.kafka.Close()
	m.wg.Wait()
	return err
}

// muxSide is one protocol's view of a listenerMux: a net.Listener whose
// Accept returns the connections routed to it.
type muxSide struct {
	addr   net.Addr
	connc  chan net.Conn
	closec chan struct{}
	once   sync.Once
}

func newMuxSide(addr net.Addr) *muxSide {
	return &muxSide{addr: addr, connc: make(chan net.Conn), closec: make(chan struct{})}
}

// deliver hands nc to Accept, or closes it if the side is closed.
func (s *muxSide) deliver(nc net.Conn) {
	select {
	case s.connc <- nc:
	case <-s.closec:
		nc.Close()
	}
}

// Accept implements net.Listener.
func (s *muxSide) Accept() (net.Conn, error) {
	select {
	case nc := <-s.connc:
		return nc, nil
	case <-s.closec:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener. It does not close the shared listener.
func (s *muxSide) Close() error {
	s.once.Do(func() { close(s.closec) })
	return nil
}

// Addr implements net.Listener.
func (s *muxSide) Addr() net.Addr { return s.addr }

// prefixConn replays bytes already read from a connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
