// Package security tests Gregor's TLS and SASL listeners end to end:
// franz-go's kgo, kcat (librdkafka), python's confluent-kafka and kafkajs against
// SSL, mutual TLS, SASL_PLAINTEXT and SASL_SSL with PLAIN and
// SCRAM-SHA-256/512, re-authentication (KIP-368), a three-node cluster
// whose brokers and controllers talk SASL_SSL to each other, dynamic
// key store reloads, and fuzzed authentication and TLS input.
package security

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/node"
	"github.com/gregor-streaming/gregor/internal/security/securitytest"
)

// testTimeout bounds each test's client operations.
const testTimeout = 60 * time.Second

// plainUsers is the JAAS text of the PLAIN users every test broker knows;
// admin is also the broker's own login.
const plainUsers = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`

// pki is a CA with a broker certificate (for 127.0.0.1 and localhost)
// and a client certificate for alice, written as PEM files.
type pki struct {
	dir        string
	ca         *securitytest.CA
	keystore   string // the broker's key store
	truststore string // the CA
	client     *securitytest.Leaf
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "Gregor Test CA")
	return &pki{
		dir:        dir,
		ca:         ca,
		keystore:   ca.Issue(t, "CN=broker,O=Gregor", "127.0.0.1", "localhost").WriteKeystore(t, dir, "broker"),
		truststore: ca.WriteTruststore(t, dir, "ca"),
		client:     ca.Issue(t, "CN=Alice,OU=Engineering,O=Example"),
	}
}

// clientTLS trusts the CA; with a client certificate when mutual.
func (p *pki) clientTLS(mutual bool) *tls.Config {
	tc := &tls.Config{RootCAs: p.ca.Pool(), MinVersion: tls.VersionTLS12}
	if mutual {
		tc.Certificates = []tls.Certificate{p.clientCert()}
	}
	return tc
}

func (p *pki) clientCert() tls.Certificate {
	c, err := tls.X509KeyPair(p.client.CertPEM, p.client.KeyPEM)
	if err != nil {
		panic(err)
	}
	return c
}

// logBuffer collects a node's logs for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// count returns how many log lines contain every one of parts.
func (l *logBuffer) count(parts ...string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// broker is a single in-process node.
type broker struct {
	n     *node.Node
	addrs map[string]string // listener name → host:port
	logs  *logBuffer
}

// startBroker starts a single node with props over a base config
// (node.id 1, both roles, one partition per topic) and PKI p's key store
// for every TLS listener. Listeners bind 127.0.0.1:0.
func startBroker(t testing.TB, p *pki, props map[string]string) *broker {
	t.Helper()
	all := map[string]string{
		"node.id":                          "1",
		"process.roles":                    "broker,controller",
		"log.dirs":                         t.TempDir(),
		"offsets.topic.replication.factor": "1",
		"group.initial.rebalance.delay.ms": "0",
		"ssl.keystore.type":                "PEM",
		"ssl.keystore.location":            p.keystore,
		"ssl.truststore.type":              "PEM",
		"ssl.truststore.location":          p.truststore,
	}
	maps.Copy(all, props)
	cfg, err := config.NewBroker(all)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	handlers := []slog.Handler{slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})}
	if os.Getenv("KAFKATEST_LOG") != "" {
		handlers = append(handlers, slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	logger := slog.New(slog.NewMultiHandler(handlers...))
	n, err := node.New(cfg, node.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		n.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	b := &broker{n: n, addrs: map[string]string{}, logs: logs}
	for i, l := range cfg.BrokerListeners() {
		b.addrs[l.Name] = n.Addrs()[i].String()
	}
	return b
}

// client returns a kgo client for addr with opts, closed at cleanup.
func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(10 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ctxShort bounds an operation that is expected to fail.
func ctxShort(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func plainAuth(user, pass string) sasl.Mechanism {
	return plain.Auth{User: user, Pass: pass}.AsMechanism()
}

func scramAuth(mech, user, pass string) sasl.Mechanism {
	a := scram.Auth{User: user, Pass: pass}
	if mech == "SCRAM-SHA-512" {
		return a.AsSha512Mechanism()
	}
	return a.AsSha256Mechanism()
}

// roundTrip creates topic, produces n records and consumes them back
// with cl, failing t on any error.
func roundTrip(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	ctx := ctxT(t)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%d", i))}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	consume(t, cl, topic, n)
}

// consume reads n records of topic from the start.
func consume(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	ctx := ctxT(t)
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})
	defer cl.RemoveConsumePartitions(map[string][]int32{topic: {0}})
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", got, n, topic, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch %s: %v", topic, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("v%d", got); string(r.Value) != want {
				t.Fatalf("record %d of %s = %q, want %q", got, topic, r.Value, want)
			}
			got++
		})
	}
}

// requireTool returns the path of a third-party client or skips/fails t
// as tests/compat does (GREGOR_COMPAT_OPTIONAL=1 skips).
func requireTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil && len(args) > 0 {
		err = exec.Command(p, args...).Run()
	}
	if err != nil {
		msg := fmt.Sprintf("%s is not usable (%v); run scripts/install-test-deps.sh (as root)", name, err)
		if os.Getenv("GREGOR_COMPAT_OPTIONAL") == "1" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	return p
}

// run runs a command with a timeout and returns its stdout, failing t
// with its output on error.
func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// dialRaw opens a TCP connection (TLS when tc is set) to addr.
func dialRaw(t *testing.T, addr string, tc *tls.Config) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if tc != nil {
		tc = tc.Clone()
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(addr)
		}
		c := tls.Client(nc, tc)
		if err := c.Handshake(); err != nil {
			nc.Close()
			t.Fatal(err)
		}
		nc = c
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// runErr runs a command that may fail and returns its combined output.
func runErr(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
