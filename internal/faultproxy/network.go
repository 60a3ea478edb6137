package faultproxy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Direction says which of a node's links an isolation cuts. A link's
// direction is that of its connections' dials (who connects to whom),
// not of the bytes: a cut connection stops in both directions.
type Direction int

// The directions of an isolation.
const (
	// Both cuts the links from the node and to it: a full isolation.
	Both Direction = iota + 1
	// Outbound cuts the links from the node: the connections it opens
	// to its peers.
	Outbound
	// Inbound cuts the links to the node: the connections its peers
	// open to it.
	Inbound
)

// String returns the direction's name.
func (d Direction) String() string {
	switch d {
	case Both:
		return "both ways"
	case Outbound:
		return "outbound"
	case Inbound:
		return "inbound"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Network is the proxies between numbered nodes: one per link, a link
// being the connections node From opens to Target, an address of node
// To. A node may have several addresses (a controller and a broker
// listener), so one pair of nodes may have several links. Link creates
// them on first use. Cuts are kept per pair of nodes and per isolated
// node, so a link created later starts in the state its pair is in.
//
//	nw := faultproxy.NewNetwork(faultproxy.Config{})
//	p, _ := nw.Link(1, 2, node2ControllerAddr) // node 1 dials p.Addr()
//	nw.Isolate(2, faultproxy.Both, faultproxy.Stall)
//	nw.HealAll()
//
// A Network is safe for concurrent use; Close closes every proxy.
type Network struct {
	template Config

	mu struct {
		sync.Mutex
		links    map[LinkKey]*Proxy
		pairs    map[[2]int32]Mode   // cut pairs: from, to
		isolated map[int32]isolation // isolated nodes
		closed   bool
	}
}

// LinkKey names one link of a Network.
type LinkKey struct {
	From, To int32
	Target   string
}

type isolation struct {
	dir  Direction
	mode Mode
}

// NewNetwork returns an empty network. The proxies it creates take their
// settings from template (Latency, DialTimeout, Listen, Dial, Logger,
// ListenAddr; Target is each link's own).
func NewNetwork(template Config) *Network {
	nw := &Network{template: template}
	nw.mu.links = map[LinkKey]*Proxy{}
	nw.mu.pairs = map[[2]int32]Mode{}
	nw.mu.isolated = map[int32]isolation{}
	return nw
}

// Link returns the proxy of the connections node from opens to target
// (an address of node to), creating it, in the state the pair's cuts
// give it, on first use.
func (nw *Network) Link(from, to int32, target string) (*Proxy, error) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.mu.closed {
		return nil, ErrClosed
	}
	k := LinkKey{From: from, To: to, Target: target}
	if p, ok := nw.mu.links[k]; ok {
		return p, nil
	}
	cfg := nw.template
	cfg.Target = target
	if cfg.Logger != nil {
		cfg.Logger = cfg.Logger.With("from", from, "to", to)
	}
	p, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: link %d→%d (%s): %w", from, to, target, err)
	}
	if m := nw.modeLocked(from, to); m != 0 {
		p.Cut(m)
	}
	nw.mu.links[k] = p
	return p, nil
}

// Links returns every link created so far, sorted.
func (nw *Network) Links() []LinkKey {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return slices.SortedFunc(maps.Keys(nw.mu.links), func(a, b LinkKey) int {
		switch {
		case a.From != b.From:
			return int(a.From - b.From)
		case a.To != b.To:
			return int(a.To - b.To)
		case a.Target < b.Target:
			return -1
		case a.Target > b.Target:
			return 1
		}
		return 0
	})
}

// Cut cuts every link from node from to node to (one direction of the
// pair; cut the other with Cut(to, from, mode)).
func (nw *Network) Cut(from, to int32, mode Mode) {
	nw.update(func() { nw.mu.pairs[[2]int32{from, to}] = mode })
}

// Heal heals the links from node from to node to that Cut cut; an
// isolation of either node still applies.
func (nw *Network) Heal(from, to int32) {
	nw.update(func() { delete(nw.mu.pairs, [2]int32{from, to}) })
}

// Isolate cuts node id's links in dir with mode, those created later
// included, until Rejoin or HealAll.
func (nw *Network) Isolate(id int32, dir Direction, mode Mode) {
	if dir < Both || dir > Inbound {
		panic(fmt.Sprintf("faultproxy: Isolate with invalid direction %d", dir))
	}
	nw.update(func() { nw.mu.isolated[id] = isolation{dir: dir, mode: mode} })
}

// Rejoin ends node id's isolation; cuts made with Cut still apply.
func (nw *Network) Rejoin(id int32) {
	nw.update(func() { delete(nw.mu.isolated, id) })
}

// HealAll ends every cut and isolation.
func (nw *Network) HealAll() {
	nw.update(func() {
		clear(nw.mu.pairs)
		clear(nw.mu.isolated)
	})
}

// Mode returns the mode the links from node from to node to are cut
// with, 0 when they are healthy.
func (nw *Network) Mode(from, to int32) Mode {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.modeLocked(from, to)
}

// modeLocked is the mode the pair's cuts give its links: the strongest
// (Refuse over Blackhole over Stall) of the pair's own cut and its
// nodes' isolations.
func (nw *Network) modeLocked(from, to int32) Mode {
	m := nw.mu.pairs[[2]int32{from, to}]
	if iso, ok := nw.mu.isolated[from]; ok && iso.dir != Inbound {
		m = max(m, iso.mode)
	}
	if iso, ok := nw.mu.isolated[to]; ok && iso.dir != Outbound {
		m = max(m, iso.mode)
	}
	return m
}

// update changes the cuts with change and brings every link to its new
// state.
func (nw *Network) update(change func()) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	change()
	for k, p := range nw.mu.links {
		switch m := nw.modeLocked(k.From, k.To); {
		case m == 0:
			p.Heal()
		case p.Mode() != m:
			p.Cut(m)
		}
	}
}

// Close closes every proxy (and waits for them); Link fails afterwards.
func (nw *Network) Close() error {
	nw.mu.Lock()
	nw.mu.closed = true
	links := slices.Collect(maps.Values(nw.mu.links))
	clear(nw.mu.links)
	nw.mu.Unlock()
	var errs []error
	for _, p := range links {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}
