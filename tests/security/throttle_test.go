package security

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Repeated authentication failures are throttled: the broker holds back
// the answer to a failed SaslAuthenticate (and the close of a failed raw
// token exchange, after SaslHandshake v0) for
// connection.failed.authentication.delay.ms, then closes the connection
// (KIP-306; Kafka's SocketServer delays the close of a connection that
// failed authentication). A client that retries as fast as it can thus
// fails at most once per delay: the test counts the failures a tight
// loop gets within a window and bounds them by window/delay, which only
// the delay can enforce (an undelayed failure takes about a
// millisecond on loopback).
func TestFailedAuthenticationDelay(t *testing.T) {
	t.Parallel()
	const (
		delay  = 300 * time.Millisecond
		window = 1200 * time.Millisecond
		// Attempts start at least delay apart, so at most window/delay
		// start inside the window; one more for the edge.
		most = int(window/delay) + 1
	)
	p := newPKI(t)
	b := saslBroker(t, p, "PLAIN", map[string]string{"connection.failed.authentication.delay.ms": fmt.Sprint(delay.Milliseconds())})
	addr := b.addrs["SASL_PLAINTEXT"]

	failures := func(name string, attempt func() bool) {
		t.Helper()
		n := 0
		for start := time.Now(); time.Since(start) < window; n++ {
			if !attempt() {
				t.Fatalf("%s: attempt %d did not fail as it should", name, n)
			}
		}
		if n > most {
			t.Errorf("%s: %d failed authentications within %v, want at most %d with a %v delay", name, n, window, most, delay)
		}
		t.Logf("%s: %d failures in %v", name, n, window)
	}

	// SaslHandshake v1 + SaslAuthenticate: the error answer is delayed,
	// and the connection is closed after it.
	failures("SaslAuthenticate", func() bool {
		r := newRawConn(t, addr)
		r.must(handshake(1, "PLAIN"))
		ar := r.must(authenticate(1, []byte("\x00alice\x00guess"))).(*kmsg.SASLAuthenticateResponse)
		if ar.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			return false
		}
		_, err := r.req(metadataReq())
		r.nc.Close()
		return err != nil // closed after the failure
	})

	// SaslHandshake v0 + a raw PLAIN token: no answer, the connection is
	// closed after the delay.
	failures("raw token", func() bool {
		r := newRawConn(t, addr)
		r.must(handshake(0, "PLAIN"))
		token := []byte("\x00alice\x00guess")
		if _, err := r.nc.Write(append([]byte{0, 0, 0, byte(len(token))}, token...)); err != nil {
			return false
		}
		r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		var buf [4]byte
		_, err := io.ReadFull(r.nc, buf[:])
		r.nc.Close()
		return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
	})

	if n := b.logs.count("failed authentication", "remote=127.0.0.1:", "mechanism=PLAIN"); n < 2 {
		t.Errorf("%d failed authentications logged with the client address:\n%s", n, tail(b.logs.String()))
	}
}
