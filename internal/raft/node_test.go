package raft

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		return Config{NodeID: 1, Voters: map[int32]string{1: "a:1", 2: "b:1", 3: "c:1"}, Dir: "/d"}
	}
	for name, c := range map[string]struct {
		edit func(*Config)
		ok   bool
	}{
		"defaults":          {func(*Config) {}, true},
		"learner node":      {func(c *Config) { c.NodeID = 4; c.Learners = map[int32]string{4: "d:1"} }, true},
		"node 0":            {func(c *Config) { c.NodeID = 0; c.Voters[0] = "z:1" }, true},
		"negative id":       {func(c *Config) { c.NodeID = -1 }, false},
		"no voters":         {func(c *Config) { c.Voters = nil }, false},
		"not a member":      {func(c *Config) { c.NodeID = 9 }, false},
		"voter and learner": {func(c *Config) { c.Learners = map[int32]string{2: "b:1"} }, false},
		"empty address":     {func(c *Config) { c.Voters[2] = "" }, false},
		"no dir":            {func(c *Config) { c.Dir = "" }, false},
		"election too short": {func(c *Config) {
			c.TickInterval = 100 * time.Millisecond
			c.ElectionTimeout = 150 * time.Millisecond
		}, false},
		"heartbeat below a tick": {func(c *Config) {
			c.TickInterval = 100 * time.Millisecond
			c.HeartbeatInterval = 50 * time.Millisecond
		}, false},
		"frame below message": {func(c *Config) { c.MaxFrameBytes = 10 }, false},
	} {
		cfg := base()
		c.edit(&cfg)
		cfg.EnsureDefaults()
		err := cfg.Validate()
		if c.ok && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !c.ok && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}

	// Kafka's defaults: 1000 ms election timeout over 100 ms ticks.
	cfg := base()
	cfg.EnsureDefaults()
	if cfg.electionTicks() != 10 || cfg.heartbeatTicks() != 1 || cfg.ListenAddr != "a:1" {
		t.Fatalf("defaults: election %d ticks, heartbeat %d, listen %q", cfg.electionTicks(), cfg.heartbeatTicks(), cfg.ListenAddr)
	}
}

func TestIDMapping(t *testing.T) {
	for _, id := range []int32{0, 1, 7, 1 << 30} {
		if raftID(id) == 0 || nodeID(raftID(id)) != id {
			t.Errorf("node %d ↔ raft %d", id, raftID(id))
		}
	}
	if nodeID(0) != -1 {
		t.Errorf("raft none maps to %d", nodeID(0))
	}
}

func TestTag(t *testing.T) {
	d := tagData(5, 42, []byte("payload"))
	node, seq, p, ok := untag(d)
	if !ok || node != 5 || seq != 42 || !bytes.Equal(p, []byte("payload")) {
		t.Fatalf("untag: %d %d %q %v", node, seq, p, ok)
	}
	if _, _, p, ok := untag(tagData(0, 1, nil)); !ok || len(p) != 0 {
		t.Fatal("empty payload")
	}
	for _, bad := range [][]byte{nil, {tagVersion}, append([]byte{9}, d[1:]...)} {
		if _, _, _, ok := untag(bad); ok {
			t.Errorf("untag(%x) accepted", bad)
		}
	}
}

// proposalOutcome follows from Raft's Log Matching property (§5.3).
func TestProposalOutcome(t *testing.T) {
	for _, c := range []struct {
		name                         string
		index, term, atIndex, atTerm uint64
		snap                         bool
		want                         error
	}{
		{"entry, same term", 5, 3, 5, 3, false, nil},
		{"entry, later term", 5, 3, 5, 4, false, ErrProposalDropped},
		{"entry, earlier term", 5, 3, 5, 2, false, ErrProposalDropped},
		{"snapshot at it, same term", 5, 3, 5, 3, true, nil},
		{"snapshot at it, other term", 5, 3, 5, 4, true, ErrProposalDropped},
		{"snapshot after it, same term", 5, 3, 9, 3, true, nil},
		{"snapshot after it, earlier term", 5, 3, 9, 2, true, ErrProposalDropped},
		{"snapshot after it, later term", 5, 3, 9, 4, true, ErrProposalUnknown},
	} {
		if got := proposalOutcome(c.index, c.term, c.atIndex, c.atTerm, c.snap); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNotLeaderError(t *testing.T) {
	err := error(&NotLeaderError{Leader: 2, Term: 7})
	if !errors.Is(err, ErrNotLeader) || !strings.Contains(err.Error(), "leader 2") {
		t.Fatalf("%v", err)
	}
	if s := (&NotLeaderError{Leader: -1}).Error(); !strings.Contains(s, "no leader") {
		t.Fatal(s)
	}
}

// Every goroutine a node starts (Ready loop, apply, transport readers and
// writers) is gone after Close.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newTestCluster(t, 3)
	c.startAll()
	c.propose("x")
	for _, id := range c.ids {
		c.stop(id)
	}
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}
