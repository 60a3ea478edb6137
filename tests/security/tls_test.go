package security

import (
	"crypto/tls"
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/security/securitytest"
)

// An SSL listener serves kgo over TLS next to a PLAINTEXT one; a client
// that does not trust the broker's CA cannot connect.
func TestSSLListener(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b := startBroker(t, p, map[string]string{
		"listeners":                  "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
		"inter.broker.listener.name": "PLAINTEXT",
	})
	cl := client(t, b.addrs["SSL"], kgo.DialTLSConfig(p.clientTLS(false)))
	roundTrip(t, cl, "tls", 20)
	// Metadata over SSL names the SSL listener's endpoint.
	md, err := kadm.NewClient(cl).BrokerMetadata(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 1 || md.Brokers[0].Port != int32(portOf(t, b.addrs["SSL"])) {
		t.Errorf("brokers over SSL: %+v", md.Brokers)
	}
	if b.logs.count("client_principal=User:ANONYMOUS") == 0 || b.logs.count("client_principal=User:") != b.logs.count("client_principal=User:ANONYMOUS") {
		t.Errorf("an SSL client without a certificate is not anonymous; logs:\n%s", tail(b.logs.String()))
	}

	other := securitytest.NewCA(t, "other")
	bad := client(t, b.addrs["SSL"], kgo.DialTLSConfig(&tls.Config{RootCAs: other.Pool()}))
	if err := bad.Ping(ctxShort(t)); err == nil {
		t.Fatal("a client that does not trust the broker's CA connected")
	}
	// A PLAINTEXT client on the SSL port fails too (its ApiVersions is
	// not a TLS handshake).
	plain := client(t, b.addrs["SSL"])
	if err := plain.Ping(ctxShort(t)); err == nil {
		t.Fatal("a PLAINTEXT client connected to the SSL listener")
	}
}

// With ssl.client.auth=required a client needs a certificate the trust
// store accepts; its subject, mapped by ssl.principal.mapping.rules, is
// the connection's principal.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b := startBroker(t, p, map[string]string{
		"listeners":                         "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
		"inter.broker.listener.name":        "PLAINTEXT",
		"listener.name.ssl.ssl.client.auth": "required",
		"ssl.principal.mapping.rules":       "RULE:^CN=([^,]*),OU=Engineering.*$/$1/L,DEFAULT",
	})
	noCert := client(t, b.addrs["SSL"], kgo.DialTLSConfig(p.clientTLS(false)))
	if err := noCert.Ping(ctxShort(t)); err == nil {
		t.Fatal("a client without a certificate connected")
	}
	cl := client(t, b.addrs["SSL"], kgo.DialTLSConfig(p.clientTLS(true)))
	roundTrip(t, cl, "mtls", 10)
	if b.logs.count("client_principal=User:alice") == 0 {
		t.Errorf("no log line names principal User:alice; logs:\n%s", tail(b.logs.String()))
	}

	// A certificate from another CA is refused.
	other := securitytest.NewCA(t, "other").Issue(t, "CN=mallory")
	tc := p.clientTLS(false)
	tc.Certificates = []tls.Certificate{other.TLSCertificate(t)}
	if err := client(t, b.addrs["SSL"], kgo.DialTLSConfig(tc)).Ping(ctxShort(t)); err == nil {
		t.Fatal("a certificate from an untrusted CA was accepted")
	}
}

// The key store can be replaced without a restart: setting
// ssl.keystore.location again (here to the same path, as operators roll
// a renewed certificate) makes new connections see the new certificate.
func TestKeystoreReload(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	ks := p.ca.Issue(t, "CN=first", "127.0.0.1").WriteKeystore(t, p.dir, "reload")
	b := startBroker(t, p, map[string]string{
		"listeners":                               "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
		"inter.broker.listener.name":              "PLAINTEXT",
		"listener.name.ssl.ssl.keystore.location": ks,
	})
	served := func() string {
		t.Helper()
		c := dialRaw(t, b.addrs["SSL"], p.clientTLS(false))
		defer c.Close()
		return c.(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("serving %q", got)
	}
	p.ca.Issue(t, "CN=second", "127.0.0.1").WriteKeystore(t, p.dir, "reload")
	adm := kadm.NewClient(client(t, b.addrs["PLAINTEXT"]))
	set := func(name, value string) {
		t.Helper()
		v := value
		rs, err := adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: name, Value: &v}}, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Err != nil {
				t.Fatalf("alter %s: %v %s", name, r.Err, r.ErrMessage)
			}
		}
	}
	set("listener.name.ssl.ssl.keystore.location", ks)
	if got := served(); got != "second" {
		t.Fatalf("serving %q after the key store was set again", got)
	}

	// A new path takes effect as well.
	third := p.ca.Issue(t, "CN=third", "127.0.0.1").WriteKeystore(t, p.dir, "third")
	set("listener.name.ssl.ssl.keystore.location", third)
	if got := served(); got != "third" {
		t.Fatalf("serving %q after the key store moved", got)
	}
	// A broken store is refused by the reload and the old one stays.
	os.WriteFile(third, []byte("not a key store"), 0o600)
	set("listener.name.ssl.ssl.keystore.location", third)
	if got := served(); got != "third" {
		t.Fatalf("serving %q after a broken key store", got)
	}
	if b.logs.count("reloading TLS key or trust store failed") == 0 {
		t.Error("the failed reload was not logged")
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	n := 0
	for _, c := range addr[i+1:] {
		n = n*10 + int(c-'0')
	}
	return n
}

// tail returns the last lines of a log, for failure messages.
func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
