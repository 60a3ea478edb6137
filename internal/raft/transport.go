package raft

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The transport moves raftpb.Messages between members over TCP. Each node
// dials every other member once and only writes on that connection; it
// only reads on the connections it accepts. A connection starts with a
// hello and then carries length-prefixed frames (see doc.go).
//
// Sending never blocks the Ready loop: send marshals each message (on the
// Ready loop, as etcd raft requires) and offers it to the peer's bounded
// queue, dropping it when the queue is full. A per-peer goroutine dials
// (lazily, with backoff), writes the queue and reports failures back
// through takeReports: raft is told the peer is unreachable, and whether
// each MsgSnap was sent or lost.

const (
	helloMagic = "GRFT"
	// helloVersion 1 is a static quorum's hello; 2 (a dynamic quorum's)
	// adds the sender's address.
	helloVersion        = 1
	helloVersionAddress = 2
	// helloFixedLen is magic + version uint16 + from int32 + to int32 +
	// cluster id length uint16.
	helloFixedLen = 4 + 2 + 4 + 4 + 2
)

var (
	errBadHello   = errors.New("raft: bad transport hello")
	errFrameLarge = errors.New("raft: frame too large")
)

// outMsg is one marshalled message waiting in a peer's queue.
type outMsg struct {
	data []byte
	snap bool // a MsgSnap: raft must hear whether it was sent
}

type reportKind uint8

const (
	reportSnapFinish reportKind = iota + 1
	reportSnapFailure
)

type snapReport struct {
	to   uint64
	kind reportKind
}

type peer struct {
	id     uint64
	queue  chan outMsg
	ctx    context.Context // cancelled when the peer is removed or the transport closes
	cancel context.CancelFunc

	mu struct {
		sync.Mutex
		addr string
	}
}

func (p *peer) addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.addr
}

type transport struct {
	cfg     *Config
	self    uint64
	log     *slog.Logger
	ln      net.Listener
	deliver func(*pb.Message) bool // false once the node stops

	// notify has a value when reports are waiting (capacity 1).
	notify chan struct{}
	ctx    context.Context // cancelled by close; bounds dials
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		// peers are the members this node sends to. A static quorum's
		// are fixed at construction; a dynamic quorum's follow the
		// membership (setPeer, removePeer).
		peers       map[uint64]*peer
		unreachable map[uint64]struct{}
		snaps       []snapReport
		conns       map[net.Conn]struct{} // accepted and dialed, closed by close
		closed      bool
	}
}

func newTransport(cfg *Config, deliver func(*pb.Message) bool) (*transport, error) {
	ln, err := cfg.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("raft: listen on %s: %w", cfg.ListenAddr, err)
	}
	t := &transport{
		cfg:     cfg,
		self:    raftID(cfg.NodeID),
		log:     cfg.Logger,
		ln:      ln,
		deliver: deliver,
		notify:  make(chan struct{}, 1),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.mu.peers = map[uint64]*peer{}
	t.mu.unreachable = map[uint64]struct{}{}
	t.mu.conns = map[net.Conn]struct{}{}
	if !cfg.Dynamic {
		for id, addr := range cfg.peerAddrs() {
			t.setPeer(id, addr)
		}
	}
	t.goAsync(t.acceptLoop)
	return t, nil
}

// setPeer adds peer id at addr, or moves it there. Safe for concurrent
// use; a no-op once closed and for this node itself.
func (t *transport) setPeer(id uint64, addr string) {
	if id == t.self || addr == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return
	}
	if p := t.mu.peers[id]; p != nil {
		p.mu.Lock()
		moved := p.mu.addr != addr
		p.mu.addr = addr
		p.mu.Unlock()
		if moved {
			t.log.Info("raft: peer address changed", "peer", nodeID(id), "addr", addr)
		}
		return
	}
	p := &peer{id: id, queue: make(chan outMsg, t.cfg.SendQueueLength)}
	p.mu.addr = addr
	p.ctx, p.cancel = context.WithCancel(t.ctx)
	t.mu.peers[id] = p
	t.goAsync(func() { t.runPeer(p) })
}

// removePeer stops sending to peer id (a removed member).
func (t *transport) removePeer(id uint64) {
	t.mu.Lock()
	p := t.mu.peers[id]
	delete(t.mu.peers, id)
	t.mu.Unlock()
	if p != nil {
		p.cancel()
	}
}

func (t *transport) peer(id uint64) *peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.peers[id]
}

// goAsync starts a goroutine that close waits for.
func (t *transport) goAsync(fn func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		fn()
	}()
}

// addr is the listener's address.
func (t *transport) addr() net.Addr { return t.ln.Addr() }

// close stops every goroutine and closes every connection.
func (t *transport) close() {
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		return
	}
	t.mu.closed = true
	for c := range t.mu.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.cancel()
	t.ln.Close()
	t.wg.Wait()
}

func (t *transport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return false
	}
	t.mu.conns[c] = struct{}{}
	return true
}

func (t *transport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.mu.conns, c)
	t.mu.Unlock()
	c.Close()
}

// send queues msgs. Called on the Ready loop only; never blocks.
func (t *transport) send(msgs []*pb.Message) {
	for _, m := range msgs {
		p := t.peer(m.GetTo())
		if p == nil {
			t.log.Debug("raft: message to unknown member dropped", "to", nodeID(m.GetTo()), "type", m.GetType().String())
			continue
		}
		data, err := proto.Marshal(m)
		if err != nil {
			t.log.Error("raft: encode message", "to", nodeID(p.id), "err", err)
			continue
		}
		om := outMsg{data: data, snap: m.GetType() == pb.MsgSnap}
		select {
		case p.queue <- om:
		default:
			t.dropped(p.id, om)
		}
	}
}

// dropped records that om never reached peer id.
func (t *transport) dropped(id uint64, om outMsg) {
	t.mu.Lock()
	t.mu.unreachable[id] = struct{}{}
	if om.snap {
		t.mu.snaps = append(t.mu.snaps, snapReport{to: id, kind: reportSnapFailure})
	}
	t.mu.Unlock()
	t.signal()
}

func (t *transport) reportUnreachable(id uint64) {
	t.mu.Lock()
	t.mu.unreachable[id] = struct{}{}
	t.mu.Unlock()
	t.signal()
}

func (t *transport) reportSnaps(id uint64, n int, kind reportKind) {
	if n == 0 {
		return
	}
	t.mu.Lock()
	for range n {
		t.mu.snaps = append(t.mu.snaps, snapReport{to: id, kind: kind})
	}
	t.mu.Unlock()
	t.signal()
}

func (t *transport) signal() {
	select {
	case t.notify <- struct{}{}:
	default:
	}
}

// takeReports returns and clears the waiting reports.
func (t *transport) takeReports() (unreachable []uint64, snaps []snapReport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id := range t.mu.unreachable {
		unreachable = append(unreachable, id)
	}
	clear(t.mu.unreachable)
	snaps, t.mu.snaps = t.mu.snaps, nil
	return unreachable, snaps
}

// runPeer owns the outbound connection to p.
func (t *transport) runPeer(p *peer) {
	backoff := t.cfg.ReconnectBackoff
	for {
		// Dial lazily: only once there is something to send.
		var first outMsg
		select {
		case first = <-p.queue:
		case <-p.ctx.Done():
			return
		}
		conn, err := t.dial(p)
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			t.log.Debug("raft: dial peer", "peer", nodeID(p.id), "addr", p.addr(), "err", err)
			t.dropped(p.id, first)
			t.drain(p)
			if !t.sleep(p.ctx, backoff) {
				return
			}
			backoff = min(backoff*2, t.cfg.MaxReconnectBackoff)
			continue
		}
		sent, err := t.stream(p, conn, first)
		t.untrack(conn)
		if p.ctx.Err() != nil {
			return
		}
		t.log.Debug("raft: peer connection lost", "peer", nodeID(p.id), "err", err)
		t.reportUnreachable(p.id)
		t.drain(p)
		if sent {
			backoff = t.cfg.ReconnectBackoff
		}
		if !t.sleep(p.ctx, backoff) {
			return
		}
		backoff = min(backoff*2, t.cfg.MaxReconnectBackoff)
	}
}

// drain drops what is queued for a peer we cannot reach (raft resends).
func (t *transport) drain(p *peer) {
	for {
		select {
		case om := <-p.queue:
			t.dropped(p.id, om)
		default:
			return
		}
	}
}

func (t *transport) sleep(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (t *transport) dial(p *peer) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(p.ctx, t.cfg.DialTimeout)
	defer cancel()
	conn, err := t.cfg.Dial(ctx, "tcp", p.addr())
	if err != nil {
		return nil, err
	}
	if !t.track(conn) {
		conn.Close()
		return nil, ErrStopped
	}
	return conn, nil
}

// stream writes the hello and then queued messages until an error or
// close. sent reports whether anything was flushed.
func (t *transport) stream(p *peer, conn net.Conn, first outMsg) (sent bool, err error) {
	bw := bufio.NewWriterSize(conn, 64<<10)
	var snaps int // MsgSnaps written but not yet flushed
	defer func() { t.reportSnaps(p.id, snaps, reportSnapFailure) }()
	deadline := func() { _ = conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout)) }

	deadline()
	hello := appendHello(nil, t.cfg.NodeID, nodeID(p.id), t.cfg.ClusterID)
	if t.cfg.Dynamic {
		hello = appendHelloAddr(nil, t.cfg.NodeID, nodeID(p.id), t.cfg.ClusterID, t.cfg.AdvertisedAddr)
	}
	if _, err := bw.Write(hello); err != nil {
		if first.snap {
			snaps++
		}
		return false, err
	}
	write := func(om outMsg) error {
		if om.snap {
			snaps++
		}
		deadline()
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(om.data)))
		if _, err := bw.Write(hdr[:]); err != nil {
			return err
		}
		_, err := bw.Write(om.data)
		return err
	}
	if err := write(first); err != nil {
		return sent, err
	}
	for {
		select {
		case om := <-p.queue:
			if err := write(om); err != nil {
				return sent, err
			}
			continue
		default:
		}
		deadline()
		if err := bw.Flush(); err != nil {
			return sent, err
		}
		sent = true
		t.reportSnaps(p.id, snaps, reportSnapFinish)
		snaps = 0
		select {
		case om := <-p.queue:
			if err := write(om); err != nil {
				return sent, err
			}
		case <-p.ctx.Done():
			return sent, nil
		}
	}
}

func (t *transport) acceptLoop() {
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			t.log.Error("raft: accept", "err", err)
			if !t.sleep(t.ctx, t.cfg.ReconnectBackoff) {
				return
			}
			continue
		}
		if !t.track(conn) {
			conn.Close()
			return
		}
		t.goAsync(func() { t.serveConn(conn) })
	}
}

// serveConn reads messages from one accepted connection.
func (t *transport) serveConn(conn net.Conn) {
	defer t.untrack(conn)
	br := bufio.NewReaderSize(conn, 64<<10)
	_ = conn.SetReadDeadline(time.Now().Add(t.cfg.DialTimeout + t.cfg.WriteTimeout))
	from, addr, err := readHello(br, t.cfg.NodeID, t.cfg.ClusterID)
	if err != nil {
		t.log.Warn("raft: refused peer connection", "remote", conn.RemoteAddr().String(), "err", err)
		return
	}
	if t.peer(raftID(from)) == nil {
		if !t.cfg.Dynamic {
			t.log.Warn("raft: refused connection from unknown member", "peer", from, "remote", conn.RemoteAddr().String())
			return
		}
		// A dynamic quorum's member this node has not heard of yet: the
		// leader that has just added it, or a member it has yet to
		// apply. Answer it at the address it announced.
		if addr != "" && from != t.cfg.NodeID {
			t.log.Info("raft: learned peer address from its hello", "peer", from, "addr", addr)
			t.setPeer(raftID(from), addr)
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	for {
		data, err := readFrame(br, t.cfg.MaxFrameBytes)
		if err != nil {
			if t.ctx.Err() == nil && !errors.Is(err, io.EOF) {
				t.log.Debug("raft: read from peer", "peer", from, "err", err)
			}
			return
		}
		m := &pb.Message{}
		if err := proto.Unmarshal(data, m); err != nil {
			t.log.Warn("raft: bad message from peer", "peer", from, "err", err)
			return
		}
		if m.GetFrom() != raftID(from) || m.GetTo() != t.self {
			t.log.Warn("raft: misaddressed message", "peer", from, "from", nodeID(m.GetFrom()), "to", nodeID(m.GetTo()))
			return
		}
		if !t.deliver(m) {
			return
		}
	}
}

// appendHello appends a static quorum's connection preamble (version 1).
func appendHello(buf []byte, from, to int32, clusterID string) []byte {
	buf = append(buf, helloMagic...)
	buf = binary.BigEndian.AppendUint16(buf, helloVersion)
	buf = binary.BigEndian.AppendUint32(buf, uint32(from))
	buf = binary.BigEndian.AppendUint32(buf, uint32(to))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(clusterID)))
	return append(buf, clusterID...)
}

// appendHelloAddr appends a dynamic quorum's preamble (version 2): the
// version 1 fields and the sender's address.
func appendHelloAddr(buf []byte, from, to int32, clusterID, addr string) []byte {
	start := len(buf)
	buf = appendHello(buf, from, to, clusterID)
	binary.BigEndian.PutUint16(buf[start+4:start+6], helloVersionAddress)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(addr)))
	return append(buf, addr...)
}

// readHello reads and checks the preamble and returns the sender's id
// and, in a version 2 hello, its address.
func readHello(r io.Reader, self int32, clusterID string) (int32, string, error) {
	var hdr [helloFixedLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, "", fmt.Errorf("%w: %w", errBadHello, err)
	}
	if string(hdr[0:4]) != helloMagic {
		return 0, "", fmt.Errorf("%w: magic %q", errBadHello, hdr[0:4])
	}
	v := binary.BigEndian.Uint16(hdr[4:6])
	if v != helloVersion && v != helloVersionAddress {
		return 0, "", fmt.Errorf("%w: version %d", errBadHello, v)
	}
	from := int32(binary.BigEndian.Uint32(hdr[6:10]))
	to := int32(binary.BigEndian.Uint32(hdr[10:14]))
	n := binary.BigEndian.Uint16(hdr[14:16])
	cid := make([]byte, n)
	if _, err := io.ReadFull(r, cid); err != nil {
		return 0, "", fmt.Errorf("%w: %w", errBadHello, err)
	}
	var addr []byte
	if v == helloVersionAddress {
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return 0, "", fmt.Errorf("%w: %w", errBadHello, err)
		}
		addr = make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(r, addr); err != nil {
			return 0, "", fmt.Errorf("%w: %w", errBadHello, err)
		}
	}
	if to != self {
		return 0, "", fmt.Errorf("%w: addressed to node %d, this is node %d", errBadHello, to, self)
	}
	if clusterID != "" && string(cid) != clusterID {
		return 0, "", fmt.Errorf("%w: cluster id %q, want %q", errBadHello, cid, clusterID)
	}
	return from, string(addr), nil
}

// readFrame reads one length-prefixed frame of at most max bytes.
func readFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes", errFrameLarge, n)
	}
	return readN(r, int(n))
}
