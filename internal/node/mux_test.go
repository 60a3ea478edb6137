package node

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestListenerMuxRoutesByFirstBytes checks that one port serves both
// protocols of a controller listener: a connection starting with the raft
// transport's hello goes to the raft side, anything else (a Kafka frame)
// to the Kafka side, each with its first bytes intact.
func TestListenerMuxRoutesByFirstBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newListenerMux(ln, slog.New(slog.DiscardHandler))
	defer m.Close()

	send := func(payload string) {
		nc, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		if _, err := nc.Write([]byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(side net.Listener, want string) {
		t.Helper()
		nc, err := side.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(nc, got); err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	send("GRFT\x00\x01hello raft")
	recv(m.raft, "GRFT\x00\x01hello raft")
	send("\x00\x00\x00\x0ckafka frame!")
	recv(m.kafka, "\x00\x00\x00\x0ckafka frame!")
	// A short first read still routes once four bytes are in.
	send("GR")
	time.Sleep(10 * time.Millisecond)
	send("\x00\x00\x00\x01x")
	recv(m.kafka, "\x00\x00\x00\x01x")

	if m.raft.Addr().String() != ln.Addr().String() || m.kafka.Addr().String() != ln.Addr().String() {
		t.Errorf("sides report %v and %v, want %v", m.raft.Addr(), m.kafka.Addr(), ln.Addr())
	}
	// Closing one side refuses its connections; the other keeps serving.
	m.raft.Close()
	if _, err := m.raft.Accept(); err == nil {
		t.Fatal("Accept on a closed side succeeded")
	}
	send("GRFT\x00\x01")
	send("\x00\x00\x00\x02ok")
	recv(m.kafka, "\x00\x00\x00\x02ok")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.kafka.Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
}
