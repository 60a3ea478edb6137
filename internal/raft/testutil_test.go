package raft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitTimeout bounds every poll. Polls are not timing assertions: they
// only fail when something never happens.
const waitTimeout = 30 * time.Second

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testLogger logs warnings and errors to the test log; RAFT_TEST_LOG=debug
// shows everything.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("RAFT_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// testNet is a loopback network with logical addresses ("node-1") and
// partitions. Listen ignores the logical address and listens on
// 127.0.0.1:0; Dial resolves the logical address, refuses to connect
// across a partition and wraps the connection so that a write across a
// partition closes it. Connections are real TCP.
type testNet struct {
	mu struct {
		sync.Mutex
		addrs   map[string]string // logical → real
		blocked map[[2]int32]bool // from, to
		conns   map[*testConn]struct{}
	}
}

func newTestNet() *testNet {
	n := &testNet{}
	n.mu.addrs = map[string]string{}
	n.mu.blocked = map[[2]int32]bool{}
	n.mu.conns = map[*testConn]struct{}{}
	return n
}

func logicalAddr(id int32) string { return fmt.Sprintf("node-%d", id) }

func (tn *testNet) listen(network, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tn.mu.Lock()
	tn.mu.addrs[addr] = ln.Addr().String()
	tn.mu.Unlock()
	return ln, nil
}

func (tn *testNet) dialer(from int32) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var to int32
		if _, err := fmt.Sscanf(addr, "node-%d", &to); err != nil {
			return nil, err
		}
		tn.mu.Lock()
		real, ok := tn.mu.addrs[addr]
		blocked := tn.mu.blocked[[2]int32{from, to}]
		tn.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("testnet: %s not listening", addr)
		}
		if blocked {
			return nil, fmt.Errorf("testnet: %d -> %d partitioned", from, to)
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, real)
		if err != nil {
			return nil, err
		}
		tc := &testConn{Conn: c, net: tn, from: from, to: to}
		tn.mu.Lock()
		tn.mu.conns[tc] = struct{}{}
		tn.mu.Unlock()
		return tc, nil
	}
}

// isolate cuts id off from every other node, both ways.
func (tn *testNet) isolate(id int32, others []int32) {
	tn.mu.Lock()
	for _, o := range others {
		if o != id {
			tn.mu.blocked[[2]int32{id, o}] = true
			tn.mu.blocked[[2]int32{o, id}] = true
		}
	}
	var cut []*testConn
	for c := range tn.mu.conns {
		if tn.mu.blocked[[2]int32{c.from, c.to}] {
			cut = append(cut, c)
		}
	}
	tn.mu.Unlock()
	for _, c := range cut {
		c.Close()
	}
}

func (tn *testNet) heal() {
	tn.mu.Lock()
	clear(tn.mu.blocked)
	tn.mu.Unlock()
}

type testConn struct {
	net.Conn
	net      *testNet
	from, to int32
}

func (c *testConn) Write(p []byte) (int, error) {
	c.net.mu.Lock()
	blocked := c.net.mu.blocked[[2]int32{c.from, c.to}]
	c.net.mu.Unlock()
	if blocked {
		c.Conn.Close()
		return 0, errors.New("testnet: partitioned")
	}
	return c.Conn.Write(p)
}

func (c *testConn) Close() error {
	c.net.mu.Lock()
	delete(c.net.mu.conns, c)
	c.net.mu.Unlock()
	return c.Conn.Close()
}

// testTicker forwards a real ticker's ticks unless paused, so a test can
// freeze one node's clock.
type testTicker struct {
	c      chan time.Time
	paused atomic.Bool
	stopc  chan struct{}
	done   chan struct{}
}

func newTestTicker(d time.Duration) *testTicker {
	tt := &testTicker{c: make(chan time.Time, 1), stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tt.done)
		tk := time.NewTicker(d)
		defer tk.Stop()
		for {
			select {
			case now := <-tk.C:
				if tt.paused.Load() {
					continue
				}
				select {
				case tt.c <- now:
				default:
				}
			case <-tt.stopc:
				return
			}
		}
	}()
	return tt
}

func (tt *testTicker) C() <-chan time.Time { return tt.c }
func (tt *testTicker) Stop()               { close(tt.stopc); <-tt.done }

// testSM is a StateMachine whose state is the list of applied payloads.
// Its snapshot is that list in JSON.
type testSM struct {
	mu       sync.Mutex
	data     []string // state: every applied payload, in order
	applied  uint64   // last applied index
	lastTerm uint64   // term of the last applied entry
	restores []Snapshot
	leaders  []leaderEvent
	failOn   string // Apply fails when it sees this payload
}

type leaderEvent struct {
	leader      int32
	term        uint64
	appliedTerm uint64 // lastTerm when the event arrived
}

func (s *testSM) Restore(snap Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var data []string
	if err := json.Unmarshal(snap.Data, &data); err != nil {
		return err
	}
	s.data = data
	s.applied = snap.Index
	s.lastTerm = snap.Term
	s.restores = append(s.restores, snap)
	return nil
}

func (s *testSM) Apply(ents []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range ents {
		if e.Index != s.applied+1 {
			return fmt.Errorf("testSM: entry %d after %d", e.Index, s.applied)
		}
		if s.failOn != "" && string(e.Data) == s.failOn {
			return errors.New("testSM: told to fail")
		}
		s.applied = e.Index
		s.lastTerm = e.Term
		if e.Data != nil {
			s.data = append(s.data, string(e.Data))
		}
	}
	return nil
}

func (s *testSM) LeaderChange(leader int32, term uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaders = append(s.leaders, leaderEvent{leader: leader, term: term, appliedTerm: s.lastTerm})
}

func (s *testSM) state() (data []string, applied uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.data), s.applied
}

func (s *testSM) snapshot() (index uint64, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(s.data)
	return s.applied, b
}

// testCluster runs nodes over testNet, each with a Dir that survives
// restarts.
type testCluster struct {
	t        *testing.T
	net      *testNet
	ids      []int32
	voters   map[int32]string
	learners map[int32]string
	dirs     map[int32]string
	nodes    map[int32]*Node
	sms      map[int32]*testSM
	ticks    map[int32]*testTicker
	// configure, if set, adjusts each node's Config before Open.
	configure func(*Config)
	// dynamic clusters take their members from the log (Config.Dynamic).
	dynamic bool
}

// newTestCluster makes a cluster of voters with node ids 0..n-1 (0 checks
// the Kafka id → raft id mapping) without starting them.
func newTestCluster(t *testing.T, n int) *testCluster {
	c := &testCluster{
		t:      t,
		net:    newTestNet(),
		voters: map[int32]string{},
		dirs:   map[int32]string{},
		nodes:  map[int32]*Node{},
		sms:    map[int32]*testSM{},
		ticks:  map[int32]*testTicker{},
	}
	for i := range int32(n) {
		c.ids = append(c.ids, i)
		c.voters[i] = logicalAddr(i)
		c.dirs[i] = t.TempDir()
	}
	t.Cleanup(func() {
		for _, id := range c.ids {
			if c.nodes[id] != nil {
				c.stop(id)
			}
		}
	})
	return c
}

func (c *testCluster) config(id int32) Config {
	cfg := Config{
		NodeID:          id,
		Voters:          c.voters,
		Learners:        c.learners,
		ClusterID:       "test-cluster",
		Dir:             c.dirs[id],
		TickInterval:    10 * time.Millisecond,
		ElectionTimeout: 200 * time.Millisecond,
		Logger:          testLogger(c.t).With("test_node", id),
		Listen:          c.net.listen,
		Dial:            c.net.dialer(id),
		NewTicker: func(d time.Duration) Ticker {
			tt := newTestTicker(d)
			c.ticks[id] = tt
			return tt
		},
	}
	if c.dynamic {
		cfg.Voters, cfg.Learners = nil, nil
		cfg.Dynamic, cfg.ListenAddr = true, logicalAddr(id)
	}
	if c.configure != nil {
		c.configure(&cfg)
	}
	return cfg
}

// addLearner adds a non-voting member; call before starting any node.
func (c *testCluster) addLearner(id int32) {
	if c.learners == nil {
		c.learners = map[int32]string{}
	}
	c.ids = append(c.ids, id)
	c.learners[id] = logicalAddr(id)
	c.dirs[id] = c.t.TempDir()
}

// start opens node id with a fresh state machine.
func (c *testCluster) start(id int32) *Node {
	c.t.Helper()
	sm := &testSM{}
	n, err := Open(c.config(id), sm)
	if err != nil {
		c.t.Fatalf("open node %d: %v", id, err)
	}
	c.nodes[id], c.sms[id] = n, sm
	return n
}

func (c *testCluster) startAll() {
	for _, id := range c.ids {
		c.start(id)
	}
}

func (c *testCluster) stop(id int32) {
	c.t.Helper()
	if err := c.nodes[id].Close(); err != nil {
		c.t.Errorf("close node %d: %v", id, err)
	}
	c.nodes[id] = nil
}

func (c *testCluster) running() []int32 {
	var ids []int32
	for _, id := range c.ids {
		if c.nodes[id] != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// waitLeader waits until every node in among agrees on one leader in
// among, which knows it leads, and returns it and its term.
func (c *testCluster) waitLeader(among []int32) (int32, uint64) {
	c.t.Helper()
	var leader int32
	var term uint64
	waitFor(c.t, fmt.Sprintf("a leader among %v", among), func() bool {
		leader, term = c.nodes[among[0]].Leader()
		if !slices.Contains(among, leader) {
			return false
		}
		for _, id := range among {
			if l, tm := c.nodes[id].Leader(); l != leader || tm != term {
				return false
			}
		}
		return c.nodes[leader].Status().State == "Leader"
	})
	return leader, term
}

// propose proposes on whichever node leads, retrying while leadership
// moves, and returns the index.
func (c *testCluster) propose(data string) uint64 {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		leader, _ := c.waitLeader(c.running())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		idx, err := c.nodes[leader].Propose(ctx, []byte(data))
		cancel()
		if err == nil {
			return idx
		}
		c.t.Logf("propose %q on %d: %v (retrying)", data, leader, err)
	}
	c.t.Fatalf("could not commit %q", data)
	return 0
}

// waitApplied waits until every running node has applied through index.
func (c *testCluster) waitApplied(index uint64) {
	c.t.Helper()
	for _, id := range c.running() {
		waitFor(c.t, fmt.Sprintf("node %d to apply %d", id, index), func() bool {
			_, applied := c.sms[id].state()
			return applied >= index
		})
	}
}

// waitProbe waits until leader treats peer as unreachable (Progress in
// StateProbe, where raft sends one append and then waits for an answer),
// so that a test knows which entries can still reach peer in messages
// queued before it went away: at most those of the next append.
func (c *testCluster) waitProbe(leader, peer int32) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("leader %d to probe %d", leader, peer), func() bool {
		return c.nodes[leader].Status().Progress[peer].State == "Probe"
	})
}

// checkSameState checks that every running node holds want.
func (c *testCluster) checkSameState(want []string) {
	c.t.Helper()
	for _, id := range c.running() {
		got, _ := c.sms[id].state()
		if !slices.Equal(got, want) {
			c.t.Fatalf("node %d state %v, want %v", id, got, want)
		}
	}
}

var _ io.Writer = testWriter{}
