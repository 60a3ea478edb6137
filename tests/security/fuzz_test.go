package security

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/replica"
)

// alive checks that the broker still answers ApiVersions on addr (over
// TLS when tc is set).
func alive(t *testing.T, addr string, tc *tls.Config) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("the broker stopped accepting: %v", err)
	}
	defer nc.Close()
	if tc != nil {
		tc = tc.Clone()
		tc.ServerName = "127.0.0.1"
		c := tls.Client(nc, tc)
		if err := c.Handshake(); err != nil {
			t.Fatalf("TLS handshake after fuzzed input: %v", err)
		}
		nc = c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := replica.NewConn(nc, "alive", 0).Request(ctx, kmsg.NewPtrApiVersionsRequest()); err != nil {
		t.Fatalf("the broker does not answer ApiVersions after fuzzed input: %v", err)
	}
}

// FuzzSaslAuthenticate sends arbitrary SaslAuthenticate payloads after
// a SaslHandshake for each mechanism. Invariants: the broker answers or
// closes the connection, never crashes, keeps serving, and never
// authenticates a payload that does not carry a real credential.
func FuzzSaslAuthenticate(f *testing.F) {
	p := newPKI(f)
	b := saslBroker(f, p, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", map[string]string{"connection.failed.authentication.delay.ms": "0"})
	f.Add(uint8(0), []byte("\x00alice\x00alice-secret"), []byte{})
	f.Add(uint8(0), []byte("alice\x00alice\x00wrong"), []byte("x"))
	f.Add(uint8(1), []byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc,p=AAAA"))
	f.Add(uint8(2), []byte("n,,n=bob,r=x,m=y"), []byte{0xff, 0xfe})
	f.Add(uint8(1), []byte{}, []byte{})
	f.Add(uint8(2), []byte("y,a=bob,n=bob,r=\x00"), []byte("c=,r=,p="))
	mechs := []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
	f.Fuzz(func(t *testing.T, which uint8, first, second []byte) {
		mech := mechs[int(which)%len(mechs)]
		nc, err := net.DialTimeout("tcp", b.addrs["SASL_PLAINTEXT"], 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c := replica.NewConn(nc, "fuzz", 0)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.Request(ctx, handshake(1, mech)); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		for i, payload := range [][]byte{first, second} {
			resp, err := c.Request(ctx, authenticate(2, payload))
			if err != nil {
				break // closed: fine
			}
			ar := resp.(*kmsg.SASLAuthenticateResponse)
			if ar.ErrorCode != 0 {
				break
			}
			done := mech == "PLAIN" || i == 1
			if done && !(mech == "PLAIN" && validPlain(first)) {
				t.Fatalf("%s authenticated fuzzed input %q %q", mech, first, second)
			}
			if done {
				break
			}
		}
		alive(t, b.addrs["PLAINTEXT"], nil)
	})
}

// validPlain reports whether a PLAIN message carries alice's or
// admin's real password.
func validPlain(m []byte) bool {
	for _, ok := range []string{"\x00alice\x00alice-secret", "alice\x00alice\x00alice-secret", "\x00admin\x00admin-secret", "admin\x00admin\x00admin-secret"} {
		if string(m) == ok {
			return true
		}
	}
	return false
}

// FuzzTLSHandshake writes arbitrary bytes to an SSL listener (as a
// broken or hostile TLS client would). Invariant: the broker drops the
// connection and keeps serving TLS clients.
func FuzzTLSHandshake(f *testing.F) {
	p := newPKI(f)
	b := startBroker(f, p, map[string]string{
		"listeners":                  "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
		"inter.broker.listener.name": "PLAINTEXT",
	})
	// A real ClientHello's start, then garbage.
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03})
	f.Add([]byte{0x16, 0x03, 0x03, 0xff, 0xff})
	f.Add([]byte{0x00, 0x00, 0x00, 0x14, 0x00, 0x12, 0x00, 0x03}) // a Kafka ApiVersions frame
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}) // an alert
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.DialTimeout("tcp", b.addrs["SSL"], 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// Write, half-close, and read until the broker closes too.
		nc.Write(data)
		nc.(*net.TCPConn).CloseWrite()
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		var buf [512]byte
		for {
			if _, err := nc.Read(buf[:]); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("the broker kept a connection open after %x and EOF", data)
				}
				break
			}
		}
		nc.Close()
		alive(t, b.addrs["SSL"], p.clientTLS(false))
	})
}
