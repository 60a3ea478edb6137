package clientconfig_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/cli"
	"github.com/gregor-streaming/gregor/internal/clientconfig"
	"github.com/gregor-streaming/gregor/internal/security/securitytest"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// writeProps writes a client.properties file and returns its path.
func writeProps(t *testing.T, dir, name string, props map[string]string) string {
	t.Helper()
	var b strings.Builder
	for k, v := range props {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runTool runs a gregor tool in process.
func runTool(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = cli.Run(ctx, &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}, args)
	return out.String(), errOut.String(), code
}

// A broker configured as Kafka users' server.properties usually are: an
// SSL listener with a JKS key store and no ssl.keystore.type (Kafka's
// default, JKS), the key under its own ssl.key.password, a JKS trust
// store and ssl.client.auth=required. kafka-topics --command-config with
// a JKS trust store and a PKCS12 key store creates and lists a topic; a
// franz-go producer and consumer made by Options from the same
// properties write and read it; a client with a wrong key store password
// or without a key store is refused.
func TestJavaKeystoresEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "Test CA")
	broker := ca.Issue(t, "CN=broker", "127.0.0.1", "localhost")
	alice := ca.Issue(t, "CN=alice")
	c := kafkatest.Start(t, kafkatest.Dir(t.TempDir()),
		kafkatest.Config("listeners", "SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0"),
		kafkatest.Config("inter.broker.listener.name", "PLAINTEXT"),
		kafkatest.Config("ssl.keystore.location", securitytest.WriteJKSKeystore(t, dir, "kafka.server.keystore", "server-store-pw",
			securitytest.JKSKeyEntry{Alias: "localhost", Leaf: broker, Password: "server-key-pw"})),
		kafkatest.Config("ssl.keystore.password", "server-store-pw"),
		kafkatest.Config("ssl.key.password", "server-key-pw"),
		kafkatest.Config("ssl.truststore.location", securitytest.WriteJKSTruststore(t, dir, "kafka.server.truststore", "server-trust-pw", ca)),
		kafkatest.Config("ssl.truststore.password", "server-trust-pw"),
		kafkatest.Config("ssl.client.auth", "required"),
	)
	addr := c.Addr() // the SSL listener, listed first

	props := map[string]string{
		"security.protocol":       "SSL",
		"ssl.truststore.location": securitytest.WriteJKSTruststore(t, dir, "kafka.client.truststore", "client-trust-pw", ca),
		"ssl.truststore.password": "client-trust-pw",
		"ssl.keystore.type":       "PKCS12",
		"ssl.keystore.location":   alice.WritePKCS12Keystore(t, dir, "kafka.client.keystore", "client-store-pw"),
		"ssl.keystore.password":   "client-store-pw",
	}
	conf := writeProps(t, dir, "client.properties", props)
	topics := func(conf string, args ...string) (string, string, int) {
		return runTool(t, append([]string{"kafka-topics", "--bootstrap-server", addr, "--command-config", conf}, args...)...)
	}
	if out, errOut, code := topics(conf, "--create", "--topic", "jks-topic", "--partitions", "2", "--replication-factor", "1"); code != 0 || out != "Created topic jks-topic.\n" {
		t.Fatalf("create: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, errOut, code := topics(conf, "--list"); code != 0 || !strings.Contains(out, "jks-topic\n") {
		t.Fatalf("list: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// A wrong key store password is a configuration error naming it.
	wrong := map[string]string{}
	for k, v := range props {
		wrong[k] = v
	}
	wrong["ssl.keystore.password"] = "nope"
	if out, errOut, code := topics(writeProps(t, dir, "wrong.properties", wrong), "--list"); code == 0 || !strings.Contains(errOut, "ssl.keystore.password") {
		t.Errorf("wrong key store password: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, _, err := clientconfig.Options(wrong, clientconfig.Admin); !errors.Is(err, clientconfig.ErrInvalidConfig) {
		t.Errorf("Options with a wrong key store password: %v", err)
	}

	// franz-go through Options: produce and consume over mutual TLS.
	newClient := func(role clientconfig.Role, props map[string]string, extra ...kgo.Opt) *kgo.Client {
		t.Helper()
		opts, _, err := clientconfig.Options(props, role)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...), extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	producer := newClient(clientconfig.Producer, props, kgo.DefaultProduceTopic("jks-topic"))
	const n = 10
	for i := range n {
		if err := producer.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("v%d", i))).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	consumer := newClient(clientconfig.Consumer, props, kgo.ConsumeTopics("jks-topic"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]bool{}
	for len(seen) < n {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(seen), n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}

	// Without a key store, ssl.client.auth=required refuses the client.
	noCert := map[string]string{}
	for k, v := range props {
		if !strings.HasPrefix(k, "ssl.keystore.") {
			noCert[k] = v
		}
	}
	short, cancelShort := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelShort()
	if err := newClient(clientconfig.Admin, noCert, kgo.RequestRetries(0)).Ping(short); err == nil {
		t.Error("a client without a certificate connected to a broker requiring one")
	}
}

// Options reads JKS and PKCS12 stores for the client side alone: JKS is
// the default type, the trust store password is optional for JKS, and
// store errors are ConfigExceptions naming the setting.
func TestOptionsJavaStores(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	leaf := ca.Issue(t, "CN=client")
	jksTrust := securitytest.WriteJKSTruststore(t, dir, "trust", "changeit", ca)
	p12Trust := securitytest.WritePKCS12Truststore(t, dir, "trust", "changeit", ca)
	jksKeys := securitytest.WriteJKSKeystore(t, dir, "keys", "store-pw", securitytest.JKSKeyEntry{Alias: "client", Leaf: leaf, Password: "key-pw"})
	for name, c := range map[string]struct {
		props map[string]string
		err   string // "" for success
	}{
		"jks trust, default type":  {map[string]string{"ssl.truststore.location": jksTrust, "ssl.truststore.password": "changeit"}, ""},
		"jks trust, no password":   {map[string]string{"ssl.truststore.location": jksTrust}, ""},
		"pkcs12 trust":             {map[string]string{"ssl.truststore.type": "pkcs12", "ssl.truststore.location": p12Trust, "ssl.truststore.password": "changeit"}, ""},
		"pkcs12 trust, wrong pw":   {map[string]string{"ssl.truststore.type": "PKCS12", "ssl.truststore.location": p12Trust, "ssl.truststore.password": "x"}, "ssl.truststore.password"},
		"jks key store":            {map[string]string{"ssl.keystore.location": jksKeys, "ssl.keystore.password": "store-pw", "ssl.key.password": "key-pw"}, ""},
		"jks key store, no key pw": {map[string]string{"ssl.keystore.location": jksKeys, "ssl.keystore.password": "store-pw"}, "ssl.key.password"},
		"jks key store, no pw":     {map[string]string{"ssl.keystore.location": jksKeys}, "ssl.keystore.password"},
		"pem file as default type": {map[string]string{"ssl.truststore.location": ca.WriteTruststore(t, dir, "ca")}, "ssl.truststore.type=PEM"},
	} {
		c.props["security.protocol"] = "SSL"
		_, _, err := clientconfig.Options(c.props, clientconfig.Admin)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.err != "" && (err == nil || !errors.Is(err, clientconfig.ErrInvalidConfig) || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: err %v, want a ConfigException saying %q", name, err, c.err)
		}
	}
}

// A JKS key store renewed in place is read again when its location is set
// again with AlterConfigs (kafka-configs --alter --add-config
// listener.name.ssl.ssl.keystore.location=...), as PEM stores are; a new
// file with a new password may be set in the same request.
func TestJKSKeystoreDynamicUpdate(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	write := func(name, cn, pw string) string {
		return securitytest.WriteJKSKeystore(t, dir, name, pw,
			securitytest.JKSKeyEntry{Alias: "broker", Leaf: ca.Issue(t, "CN="+cn, "127.0.0.1")})
	}
	ks := write("kafka.server.keystore", "first", "pw1")
	c := kafkatest.Start(t, kafkatest.Dir(t.TempDir()),
		kafkatest.Config("listeners", "SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0"),
		kafkatest.Config("inter.broker.listener.name", "PLAINTEXT"),
		kafkatest.Config("ssl.keystore.location", ks),
		kafkatest.Config("ssl.keystore.password", "pw1"),
	)
	props := map[string]string{
		"security.protocol":       "SSL",
		"ssl.truststore.location": securitytest.WriteJKSTruststore(t, dir, "kafka.client.truststore", "changeit", ca),
	}
	conf := writeProps(t, dir, "client.properties", props)
	served := func() string {
		t.Helper()
		opts, _, err := clientconfig.Options(props, clientconfig.Admin)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Addr())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		tc, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config)
		conn, err := tls.Dial("tcp", c.Addr(), tc)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	alter := func(configs string) {
		t.Helper()
		if out, errOut, code := runTool(t, "kafka-configs", "--bootstrap-server", c.Addr(), "--command-config", conf,
			"--entity-type", "brokers", "--entity-name", "1", "--alter", "--add-config", configs); code != 0 {
			t.Fatalf("kafka-configs --add-config %s: exit %d, stdout %q, stderr %q", configs, code, out, errOut)
		}
	}
	if got := served(); got != "first" {
		t.Fatalf("serving %q", got)
	}
	write("kafka.server.keystore", "second", "pw1")
	if got := served(); got != "first" {
		t.Fatalf("serving %q before the update", got)
	}
	alter("listener.name.ssl.ssl.keystore.location=" + ks)
	if got := served(); got != "second" {
		t.Fatalf("serving %q after the location was set again", got)
	}
	third := write("third.keystore", "third", "pw3")
	alter("listener.name.ssl.ssl.keystore.location=" + third + ",listener.name.ssl.ssl.keystore.password=pw3")
	if got := served(); got != "third" {
		t.Fatalf("serving %q after a new store and password", got)
	}
}
