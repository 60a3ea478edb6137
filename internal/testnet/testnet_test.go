package testnet

import (
	"net"
	"testing"
	"time"
)

func TestListenIsOutsideTheEphemeralRange(t *testing.T) {
	lo, hi := portRange()
	for range 20 {
		ln, err := Listen()
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if hi > lo && (p < lo || p >= hi) {
			t.Fatalf("port %d outside [%d, %d)", p, lo, hi)
		}
	}
}

func TestRebindWaitsForTheAddress(t *testing.T) {
	ln, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if _, err := Rebind("tcp", addr, 0); err == nil {
		t.Fatal("Rebind of a held address succeeded")
	}
	time.AfterFunc(200*time.Millisecond, func() { ln.Close() })
	again, err := Rebind("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("Rebind after the holder closed: %v", err)
	}
	again.Close()
}
