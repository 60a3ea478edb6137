package quotas

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// dialFrom connects to addr from a loopback source address, so the
// broker sees the test's own IP apart from its internal connections.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: testTimeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// served sends ApiVersions v0 and reports whether a response came back
// (false: the broker closed the connection).
func served(t *testing.T, nc net.Conn) bool {
	t.Helper()
	clientID := "conn-test"
	req := binary.BigEndian.AppendUint32(nil, uint32(2+2+4+2+len(clientID)))
	req = binary.BigEndian.AppendUint16(req, 18) // ApiVersions
	req = binary.BigEndian.AppendUint16(req, 0)
	req = binary.BigEndian.AppendUint32(req, 7)
	req = binary.BigEndian.AppendUint16(req, uint16(len(clientID)))
	req = append(req, clientID...)
	nc.SetDeadline(time.Now().Add(testTimeout))
	if _, err := nc.Write(req); err != nil {
		return false
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		return false
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(nc, body)
	return err == nil && binary.BigEndian.Uint32(body) == 7
}

// TestMaxConnectionsPerIP: a connection over max.connections.per.ip (here
// an override for one IP) is closed at once, and a freed slot is usable
// again (Kafka's ConnectionQuotas, TooManyConnectionsException).
func TestMaxConnectionsPerIP(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Config("max.connections.per.ip.overrides", "127.0.0.2:2"))
	a := dialFrom(t, "127.0.0.2", c.Addr())
	b := dialFrom(t, "127.0.0.2", c.Addr())
	if !served(t, a) || !served(t, b) {
		t.Fatal("connections within the limit not served")
	}
	if served(t, dialFrom(t, "127.0.0.2", c.Addr())) {
		t.Fatal("a third connection from 127.0.0.2 was served; the override allows 2")
	}
	if !served(t, dialFrom(t, "127.0.0.4", c.Addr())) {
		t.Fatal("another IP refused")
	}
	a.Close()
	deadline := time.Now().Add(testTimeout)
	for !served(t, dialFrom(t, "127.0.0.2", c.Addr())) {
		if time.Now().After(deadline) {
			t.Fatal("a closed connection's slot was not freed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIPConnectionCreationRate: connections from an IP over its
// connection_creation_rate quota are closed unserved (KIP-612), others
// are not affected.
func TestIPConnectionCreationRate(t *testing.T) {
	c := kafkatest.Start(t)
	adm := admin(t, c.Addr())
	// 1 connection/s over the default window (11 samples of 1 s, at
	// least 10 s): about ten connections at once, then throttled.
	setQuotas(t, adm, kadm.ClientQuotaEntity{{Type: "ip", Name: sp("127.0.0.3")}}, map[string]float64{"connection_creation_rate": 1})
	var ok, refused int
	for range 12 {
		if served(t, dialFrom(t, "127.0.0.3", c.Addr())) {
			ok++
		} else {
			refused++
		}
	}
	if ok == 0 || refused == 0 || ok > 11 {
		t.Fatalf("%d served, %d refused: want about 10 served, the rest refused", ok, refused)
	}
	for range 5 {
		if !served(t, dialFrom(t, "127.0.0.5", c.Addr())) {
			t.Fatal("an IP without a quota refused")
		}
	}
}
