package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer is a target that echoes each line back and counts what it
// accepted and read.
type echoServer struct {
	ln       net.Listener
	accepted atomic.Int64
	read     atomic.Int64 // bytes
	eofs     atomic.Int64 // connections whose client half closed
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadBytes('\n')
					s.read.Add(int64(len(line)))
					if len(line) > 0 {
						if _, err := c.Write(line); err != nil {
							return
						}
					}
					if err != nil {
						if errors.Is(err, io.EOF) {
							s.eofs.Add(1)
						}
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

func newProxy(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		if n := p.running.Load(); n != 0 {
			t.Errorf("%d proxy goroutines still running after Close", n)
		}
	})
	return p
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// roundTrip writes line and reads its echo.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, line string) {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatalf("write %q: %v", line, err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a safety net
	got, err := br.ReadString('\n')
	c.SetReadDeadline(time.Time{})
	if err != nil || got != line+"\n" {
		t.Fatalf("echo of %q: got %q, %v", line, got, err)
	}
}

// waitFor polls cond, failing the test after a generous safety net.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// quiet is how long a test watches for bytes that must not move. A
// check after it cannot fail spuriously; it only needs long enough to
// catch a broken cut on a loaded machine most of the time.
const quiet = 100 * time.Millisecond

// expectBroken fails unless reading c ends in an error or EOF (a reset or
// closed connection) rather than data.
func expectBroken(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	n, err := c.Read(b[:])
	if n != 0 || err == nil {
		t.Fatalf("read on a cut connection: %d bytes, %v; want an error", n, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read on a cut connection timed out; want a reset or EOF")
	}
}

func TestForward(t *testing.T) {
	s := newEchoServer(t)
	p := newProxy(t, Config{Target: s.addr()})
	c, br := dial(t, p.Addr())
	roundTrip(t, c, br, "hello")
	roundTrip(t, c, br, "again")
	// A half close reaches the target, whose close comes back.
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after half close: %q, %v; want EOF", rest, err)
	}
	waitFor(t, "the target to see EOF", func() bool { return s.eofs.Load() == 1 })
	waitFor(t, "the connection to close", func() bool { return p.Stats().Open == 0 })
	st := p.Stats()
	if want := int64(2 * len("hello\nagain\n")); st.Forwarded != want || st.Accepted != 1 || st.Held != 0 {
		t.Fatalf("stats %+v, want forwarded %d, accepted 1, held 0", st, want)
	}
}

func TestStallHoldsOpenAndNewConnections(t *testing.T) {
	s := newEchoServer(t)
	p := newProxy(t, Config{Target: s.addr()})
	c, br := dial(t, p.Addr())
	roundTrip(t, c, br, "before")

	p.Cut(Stall)
	if p.Mode() != Stall {
		t.Fatalf("mode %v after Cut(Stall)", p.Mode())
	}
	readBefore := s.read.Load()
	if _, err := io.WriteString(c, "during\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the proxy to read the held bytes", func() bool { return p.Stats().Held == int64(len("during\n")) })
	// A new connection is accepted but never reaches the target.
	c2, br2 := dial(t, p.Addr())
	if _, err := io.WriteString(c2, "new\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second accept", func() bool { return p.Stats().Accepted == 2 })
	time.Sleep(quiet)
	if got := s.read.Load(); got != readBefore {
		t.Fatalf("target read %d bytes during the stall", got-readBefore)
	}
	if got := s.accepted.Load(); got != 1 {
		t.Fatalf("target accepted %d connections during the stall, want only the first", got)
	}
	if st := p.Stats(); st.Dropped != 0 || st.Open != 2 {
		t.Fatalf("stats %+v during the stall: want nothing dropped, two open", st)
	}

	p.Heal()
	for _, x := range []struct {
		br   *bufio.Reader
		want string
	}{{br, "during\n"}, {br2, "new\n"}} {
		got, err := x.br.ReadString('\n')
		if err != nil || got != x.want {
			t.Fatalf("after heal: %q, %v; want %q", got, err, x.want)
		}
	}
	roundTrip(t, c, br, "after")
	roundTrip(t, c2, br2, "after2")
}

func TestStallHoldsClose(t *testing.T) {
	s := newEchoServer(t)
	p := newProxy(t, Config{Target: s.addr()})
	c, br := dial(t, p.Addr())
	roundTrip(t, c, br, "x")
	p.Cut(Stall)
	c.(*net.TCPConn).CloseWrite()
	time.Sleep(quiet)
	if s.eofs.Load() != 0 {
		t.Fatalf("the target saw the half close during the stall")
	}
	p.Heal()
	waitFor(t, "the target to see EOF", func() bool { return s.eofs.Load() == 1 })
}

func TestBlackholeDropsOpenAndHoldsNew(t *testing.T) {
	s := newEchoServer(t)
	p := newProxy(t, Config{Target: s.addr()})
	c, br := dial(t, p.Addr())
	roundTrip(t, c, br, "before")

	p.Cut(Blackhole)
	expectBroken(t, c)
	if st := p.Stats(); st.Dropped != 1 {
		t.Fatalf("stats %+v, want one dropped", st)
	}
	c2, br2 := dial(t, p.Addr())
	if _, err := io.WriteString(c2, "new\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second accept", func() bool { return p.Stats().Accepted == 2 })
	time.Sleep(quiet)
	if got := s.accepted.Load(); got != 1 {
		t.Fatalf("target accepted %d connections during the blackhole, want only the first", got)
	}
	p.Heal()
	got, err := br2.ReadString('\n')
	if err != nil || got != "new\n" {
		t.Fatalf("after heal: %q, %v", got, err)
	}
	roundTrip(t, c2, br2, "after")
}

func TestRefuse(t *testing.T) {
	s := newEchoServer(t)
	p := newProxy(t, Config{Target: s.addr()})
	c, br := dial(t, p.Addr())
	roundTrip(t, c, br, "before")

	p.Cut(Refuse)
	expectBroken(t, c)
	// The reset may come while the dial completes, or at the first read.
	if c2, err := net.Dial("tcp", p.Addr()); err == nil {
		expectBroken(t, c2)
		c2.Close()
	}
	waitFor(t, "the refused accept", func() bool { return p.Stats().Accepted == 2 })
	if st := p.Stats(); st.Refused != 1 || st.Dropped != 1 || st.Open != 0 {
		t.Fatalf("stats %+v, want one refused, one dropped, none open", st)
	}
	if got := s.accepted.Load(); got != 1 {
		t.Fatalf("target accepted %d connections, want only the first", got)
	}
	p.Heal()
	c3, br3 := dial(t, p.Addr())
	roundTrip(t, c3, br3, "after")
}

func TestCutChangesMode(t *testing.T) {
	s := newEchoServer(t)
	p := newProxy(t, Config{Target: s.addr()})
	c, br := dial(t, p.Addr())
	roundTrip(t, c, br, "x")
	p.Cut(Stall)
	// From Stall to Blackhole: the stalled connection is dropped.
	p.Cut(Blackhole)
	expectBroken(t, c)
	p.Heal()
	if p.Mode() != 0 {
		t.Fatalf("mode %v after Heal", p.Mode())
	}
	p.Heal() // a no-op
}

func TestLatency(t *testing.T) {
	s := newEchoServer(t)
	const latency = 40 * time.Millisecond
	p := newProxy(t, Config{Target: s.addr(), Latency: latency})
	c, br := dial(t, p.Addr())
	start := time.Now()
	roundTrip(t, c, br, "slow")
	// A lower bound: the proxy waits latency in each direction.
	if took := time.Since(start); took < 2*latency {
		t.Fatalf("round trip took %v, want at least %v", took, 2*latency)
	}
	p.SetLatency(0)
	roundTrip(t, c, br, "fast")
}

func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newProxy(t, Config{Target: addr})
	c, _ := dial(t, p.Addr())
	expectBroken(t, c)
	waitFor(t, "the connection to be forgotten", func() bool { return p.Stats().Open == 0 })
}

func TestCloseEndsStalledConnections(t *testing.T) {
	s := newEchoServer(t)
	p, err := New(Config{Target: s.addr()})
	if err != nil {
		t.Fatal(err)
	}
	c, br := dial(t, p.Addr())
	roundTrip(t, c, br, "x")
	p.Cut(Stall)
	io.WriteString(c, "held\n")
	c2, _ := dial(t, p.Addr()) // held before its dial
	waitFor(t, "the second accept", func() bool { return p.Stats().Accepted == 2 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := p.running.Load(); n != 0 {
		t.Fatalf("%d goroutines running after Close", n)
	}
	expectBroken(t, c)
	expectBroken(t, c2)
	if st := p.Stats(); st.Open != 0 || st.Held != 0 {
		t.Fatalf("stats %+v after Close", st)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatalf("dial after Close succeeded")
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, errNoTarget) {
		t.Fatalf("New without a target: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := New(Config{Target: "127.0.0.1:1", ListenAddr: ln.Addr().String()}); err == nil {
		t.Fatalf("New on a taken address succeeded")
	}
}

func TestManyConnectionsConcurrently(t *testing.T) {
	s := newEchoServer(t)
	p := newProxy(t, Config{Target: s.addr()})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for j := range 50 {
				line := string(rune('a'+i)) + string(rune('a'+j%26)) + "\n"
				if _, err := io.WriteString(c, line); err != nil {
					t.Error(err)
					return
				}
				got, err := br.ReadString('\n')
				if err != nil || got != line {
					t.Errorf("conn %d: %q, %v; want %q", i, got, err, line)
					return
				}
			}
		})
	}
	wg.Wait()
}
