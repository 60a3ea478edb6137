package faultproxy

import (
	"errors"
	"fmt"
	"testing"
)

// TestNetworkModes checks which links an isolation and a pair cut reach,
// for links made before and after the cut, against a direct statement
// of the rule.
func TestNetworkModes(t *testing.T) {
	type cut struct {
		iso  map[int32]isolation
		pair map[[2]int32]Mode
	}
	// want is the rule, written out independently of modeLocked.
	want := func(c cut, from, to int32) Mode {
		var m Mode
		if pm, ok := c.pair[[2]int32{from, to}]; ok {
			m = pm
		}
		if i, ok := c.iso[from]; ok && (i.dir == Both || i.dir == Outbound) && i.mode > m {
			m = i.mode
		}
		if i, ok := c.iso[to]; ok && (i.dir == Both || i.dir == Inbound) && i.mode > m {
			m = i.mode
		}
		return m
	}
	cases := []cut{
		{},
		{iso: map[int32]isolation{2: {Both, Stall}}},
		{iso: map[int32]isolation{2: {Outbound, Blackhole}}},
		{iso: map[int32]isolation{2: {Inbound, Refuse}}},
		{pair: map[[2]int32]Mode{{1, 3}: Stall}},
		{iso: map[int32]isolation{1: {Both, Stall}, 3: {Inbound, Refuse}}, pair: map[[2]int32]Mode{{2, 3}: Blackhole}},
	}
	s := newEchoServer(t)
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			for _, early := range []bool{true, false} {
				nw := NewNetwork(Config{})
				link := func(from, to int32) *Proxy {
					p, err := nw.Link(from, to, s.addr())
					if err != nil {
						t.Fatal(err)
					}
					return p
				}
				ids := []int32{1, 2, 3}
				if early {
					for _, a := range ids {
						for _, b := range ids {
							if a != b {
								link(a, b)
							}
						}
					}
				}
				for id, iso := range c.iso {
					nw.Isolate(id, iso.dir, iso.mode)
				}
				for pr, m := range c.pair {
					nw.Cut(pr[0], pr[1], m)
				}
				for _, a := range ids {
					for _, b := range ids {
						if a == b {
							continue
						}
						w := want(c, a, b)
						if got := link(a, b).Mode(); got != w {
							t.Errorf("links made early %v: %d→%d is %v, want %v", early, a, b, got, w)
						}
						if got := nw.Mode(a, b); got != w {
							t.Errorf("Network.Mode(%d, %d) = %v, want %v", a, b, got, w)
						}
					}
				}
				nw.HealAll()
				for _, k := range nw.Links() {
					if m := link(k.From, k.To).Mode(); m != 0 {
						t.Errorf("after HealAll %d→%d is %v", k.From, k.To, m)
					}
				}
				if err := nw.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestNetworkRejoinKeepsPairCuts(t *testing.T) {
	s := newEchoServer(t)
	nw := NewNetwork(Config{})
	defer nw.Close()
	p12, _ := nw.Link(1, 2, s.addr())
	p21, _ := nw.Link(2, 1, s.addr())
	nw.Cut(1, 2, Refuse)
	nw.Isolate(2, Both, Stall)
	if p12.Mode() != Refuse || p21.Mode() != Stall {
		t.Fatalf("modes %v %v, want refuse, stall", p12.Mode(), p21.Mode())
	}
	nw.Rejoin(2)
	if p12.Mode() != Refuse || p21.Mode() != 0 {
		t.Fatalf("after Rejoin: modes %v %v, want refuse, healed", p12.Mode(), p21.Mode())
	}
	nw.Heal(1, 2)
	if p12.Mode() != 0 {
		t.Fatalf("after Heal: %v", p12.Mode())
	}
}

func TestNetworkLinkIsShared(t *testing.T) {
	s := newEchoServer(t)
	nw := NewNetwork(Config{})
	a, err := nw.Link(1, 2, s.addr())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := nw.Link(1, 2, s.addr())
	c, _ := nw.Link(2, 1, s.addr())
	if a != b || a == c {
		t.Fatalf("Link returned %p %p %p: want the same proxy per (from, to, target) only", a, b, c)
	}
	// Traffic goes through the link.
	conn, br := dial(t, a.Addr())
	roundTrip(t, conn, br, "via link")
	if err := nw.Close(); err != nil {
		t.Fatal(err)
	}
	if a.running.Load() != 0 || c.running.Load() != 0 {
		t.Fatalf("goroutines left after Network.Close")
	}
	if _, err := nw.Link(1, 3, s.addr()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Link after Close: %v", err)
	}
}
