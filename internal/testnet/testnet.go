// Package testnet gives tests TCP ports that stay theirs across a restart.
//
// A port taken with "127.0.0.1:0" comes from the kernel's ephemeral range,
// the same range every outgoing connection's local port comes from. A test
// that stops a broker and starts it again on the same port can lose the
// port in between to a client's connection (or to another test binding
// port 0) and fail with "address already in use". The ports handed out
// here lie below the ephemeral range, where the kernel never picks, so
// only another caller of this package could take one, and it picks at
// random from thousands.
package testnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lowest is the lowest port handed out: well above the ports services
// listen on by convention.
const lowest = 10000

// Listen binds a TCP listener on 127.0.0.1 at a port outside the kernel's
// ephemeral range. Where the range leaves no room it binds port 0.
func Listen() (net.Listener, error) {
	lo, hi := portRange()
	if hi <= lo {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	var err error
	for range 100 {
		port := lo + rand.IntN(hi-lo)
		var ln net.Listener
		ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("testnet: no free port in %d-%d: %w", lo, hi-1, err)
}

// Port returns a port on 127.0.0.1 that was free a moment ago and lies
// outside the ephemeral range, for a process the test starts itself.
func Port() (int, error) {
	ln, err := Listen()
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Addr is Port as "127.0.0.1:PORT".
func Addr() (string, error) {
	p, err := Port()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

// Rebind listens on addr again, for a server restarting on its port,
// retrying for up to within while the address is in use (a connection
// still holding it as its local port, or a listener closing).
func Rebind(network, addr string, within time.Duration) (net.Listener, error) {
	deadline := time.Now().Add(within)
	for {
		ln, err := net.Listen(network, addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// portRange returns [lo, hi): the ports from lowest up to the start of
// the kernel's ephemeral range (Linux's default starts at 32768).
func portRange() (int, int) {
	ephemeral := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				ephemeral = v
			}
		}
	}
	return lowest, ephemeral
}
