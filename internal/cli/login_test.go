package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/security/securitytest"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// runBounded runs a tool with a generous deadline and fails the test if
// the tool was ended by that deadline rather than by itself: the tools
// must fail on a refused login, not hang until interrupted.
func runBounded(t *testing.T, stdin string, args ...string) toolResult {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := Run(ctx, env, args)
	if ctx.Err() != nil {
		t.Fatalf("%q did not end by itself (hung until the test's deadline)\nstderr: %s", args, errb.String())
	}
	return toolResult{stdout: out.String(), stderr: errb.String(), code: code}
}

func writeLoginProps(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConsoleToolsFailOnRefusedLogin: with a wrong SASL password the
// console consumer (without a group, with one, with --partition) stops
// at once with Kafka's "Error processing message, terminating consumer
// process" and the SaslAuthenticationException, the console producer
// fails each record through ErrorLoggingCallback (exit 0, as Kafka's
// ConsoleProducer) or, with --sync, ends with the exception (exit 1),
// and the perf tools report it too. The right password still works.
func TestConsoleToolsFailOnRefusedLogin(t *testing.T) {
	dir := t.TempDir()
	c := kafkatest.Start(t,
		kafkatest.Config("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256"),
		kafkatest.Config("inter.broker.listener.name", "SASL_PLAINTEXT"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("listener.name.sasl_plaintext.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret" user_alice="alice-secret";`),
	)
	props := func(name, pass string) string {
		return writeLoginProps(t, dir, name, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
			fmt.Sprintf(`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="%s";`, pass)+"\n")
	}
	right, wrong := props("right.properties", "alice-secret"), props("wrong.properties", "wrong")
	mustRun(t, "kafka-topics", "--bootstrap-server", c.Addr(), "--command-config", right, "--create", "--topic", "logins", "--partitions", "1")
	if r := runBounded(t, "hello\n", "kafka-console-producer", "--bootstrap-server", c.Addr(), "--producer.config", right, "--topic", "logins"); r.code != 0 || r.stderr != "" {
		t.Fatalf("producer with the right password: %+v", r)
	}

	const exception = "org.apache.kafka.common.errors.SaslAuthenticationException: Authentication failed: Invalid username or password"
	consumerFailed := func(t *testing.T, r toolResult) {
		t.Helper()
		want := " ERROR Error processing message, terminating consumer process:  (org.apache.kafka.tools.consumer.ConsoleConsumer)\n" + exception + "\n"
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, want) ||
			!strings.HasSuffix(r.stderr, "Processed a total of 0 messages\n") {
			t.Errorf("code %d\nstdout: %q\nstderr: %q\nwant stderr with %q", r.code, r.stdout, r.stderr, want)
		}
	}
	consume := []string{"kafka-console-consumer", "--bootstrap-server", c.Addr(), "--consumer.config", wrong, "--topic", "logins"}
	t.Run("consumer", func(t *testing.T) {
		consumerFailed(t, runBounded(t, "", append(consume, "--from-beginning")...))
	})
	t.Run("consumer-group", func(t *testing.T) {
		consumerFailed(t, runBounded(t, "", append(consume, "--group", "refused")...))
	})
	t.Run("consumer-partition", func(t *testing.T) {
		consumerFailed(t, runBounded(t, "", append(consume, "--partition", "0", "--offset", "earliest")...))
	})

	// Retries and the delivery timeout are set beyond the test's
	// deadline (a tool that waited for them would fail runBounded): a
	// refused login fails the records regardless, as in Kafka.
	produce := []string{"kafka-console-producer", "--bootstrap-server", c.Addr(), "--producer.config", wrong, "--topic", "logins",
		"--message-send-max-retries", "2147483647", "--producer-property", "delivery.timeout.ms=90000"}
	t.Run("producer", func(t *testing.T) {
		r := runBounded(t, "a\nbb\n", produce...)
		for _, want := range []string{
			" ERROR Error when sending message to topic logins with key: null, value: 1 bytes with error: (org.apache.kafka.clients.producer.internals.ErrorLoggingCallback)\n" + exception + "\n",
			" ERROR Error when sending message to topic logins with key: null, value: 2 bytes with error: (org.apache.kafka.clients.producer.internals.ErrorLoggingCallback)\n" + exception + "\n",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr %q\nwant %q", r.stderr, want)
			}
		}
		if r.code != 0 {
			t.Errorf("exit %d, want 0 (ConsoleProducer exits 0 after logging failed sends)", r.code)
		}
	})
	t.Run("producer-sync", func(t *testing.T) {
		r := runBounded(t, "a\n", append(produce, "--sync")...)
		if r.code != 1 || !strings.Contains(r.stderr, exception) {
			t.Errorf("code %d stderr %q, want exit 1 with %q", r.code, r.stderr, exception)
		}
	})
	t.Run("perf", func(t *testing.T) {
		r := runBounded(t, "", "perf-consume", "--bootstrap-server", c.Addr(), "--consumer.config", wrong,
			"--topic", "logins", "--messages", "1", "--timeout", "50000")
		if r.code != 1 || !strings.Contains(r.stderr, exception) {
			t.Errorf("consumer perf: code %d stderr %q", r.code, r.stderr)
		}
		r = runBounded(t, "", "perf-produce", "--topic", "logins", "--num-records", "3", "--record-size", "10",
			"--throughput", "-1", "--producer.config", wrong, "--producer-props", "bootstrap.servers="+c.Addr(), "retries=2147483647", "delivery.timeout.ms=90000")
		if got := strings.Count(r.stderr, exception+"\n"); got != 3 {
			t.Errorf("producer perf: %d failures printed, want 3\nstderr: %q", got, r.stderr)
		}
	})

	t.Run("right-password", func(t *testing.T) {
		r := runBounded(t, "", "kafka-console-consumer", "--bootstrap-server", c.Addr(), "--consumer.config", right,
			"--topic", "logins", "--from-beginning", "--max-messages", "1")
		if r.code != 0 || r.stdout != "hello\n" || !strings.Contains(r.stderr, "Processed a total of 1 messages") {
			t.Errorf("%+v", r)
		}
	})
}

// TestConsoleConsumerRefusedTLS: a broker certificate the client cannot
// verify (ssl.truststore of another CA), and a broker that requires a
// client certificate the client does not have (ssl.client.auth=required),
// end the consumer with Kafka's SslAuthenticationException instead of
// retrying forever.
func TestConsoleConsumerRefusedTLS(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	keystore := ca.Issue(t, "CN=broker", "127.0.0.1", "localhost").WriteKeystore(t, dir, "broker")
	truststore := ca.WriteTruststore(t, dir, "ca")
	other := securitytest.NewCA(t, "other").WriteTruststore(t, dir, "other")
	c := kafkatest.Start(t,
		kafkatest.Config("listeners", "SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0"),
		kafkatest.Config("inter.broker.listener.name", "PLAINTEXT"),
		kafkatest.Config("ssl.keystore.type", "PEM"),
		kafkatest.Config("ssl.keystore.location", keystore),
		kafkatest.Config("ssl.truststore.type", "PEM"),
		kafkatest.Config("ssl.truststore.location", truststore),
		kafkatest.Config("listener.name.ssl.ssl.client.auth", "required"),
	)
	for _, tc := range []struct {
		name, truststore, cause string
	}{
		{"untrusted-broker", other, "certificate signed by unknown authority"},
		{"no-client-certificate", truststore, "remote error: tls: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := writeLoginProps(t, dir, tc.name+".properties", "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location="+tc.truststore+"\n")
			r := runBounded(t, "", "kafka-console-consumer", "--bootstrap-server", c.Addr(), "--consumer.config", conf, "--topic", "t")
			want := " ERROR Error processing message, terminating consumer process:  (org.apache.kafka.tools.consumer.ConsoleConsumer)\n" +
				"org.apache.kafka.common.errors.SslAuthenticationException: SSL handshake failed\nCaused by: "
			if r.code != 0 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, tc.cause) {
				t.Errorf("code %d stderr %q, want %q and %q", r.code, r.stderr, want, tc.cause)
			}
		})
	}
}

// TestAsLoginError: which client errors end a tool as a refused login.
// Network errors, which Kafka's clients retry, must not.
func TestAsLoginError(t *testing.T) {
	verify := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	for _, tc := range []struct {
		err  error
		want string // "" not fatal
	}{
		{fmt.Errorf("%w: %s", kerr.SaslAuthenticationFailed, "Authentication failed: Invalid username or password"),
			"org.apache.kafka.common.errors.SaslAuthenticationException: Authentication failed: Invalid username or password"},
		{fmt.Errorf("unable to dial: %w", kerr.UnsupportedSaslMechanism),
			"org.apache.kafka.common.errors.UnsupportedSaslMechanismException: " + kerr.UnsupportedSaslMechanism.Description},
		{kerr.IllegalSaslState, "org.apache.kafka.common.errors.IllegalSaslStateException: " + kerr.IllegalSaslState.Description},
		{verify, "org.apache.kafka.common.errors.SslAuthenticationException: SSL handshake failed\nCaused by: " + verify.Error()},
		{x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}, "org.apache.kafka.common.errors.SslAuthenticationException: SSL handshake failed\nCaused by: " +
			x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}.Error()},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"},
			"org.apache.kafka.common.errors.SslAuthenticationException: SSL handshake failed\nCaused by: tls: first record does not look like a TLS handshake"},
		{&net.OpError{Op: "remote error", Err: tlsAlertText("tls: certificate required")},
			"org.apache.kafka.common.errors.SslAuthenticationException: SSL handshake failed\nCaused by: remote error: tls: certificate required"},

		{nil, ""},
		{context.Canceled, ""},
		{context.DeadlineExceeded, ""},
		{io.EOF, ""},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, ""},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, ""},
		{&net.OpError{Op: "remote error", Err: errors.New("something else")}, ""},
		{kerr.TopicAuthorizationFailed, ""},
		{kerr.RequestTimedOut, ""},
	} {
		le := asLoginError(tc.err)
		switch {
		case tc.want == "" && le != nil:
			t.Errorf("asLoginError(%v) = %q, want not fatal", tc.err, le)
		case tc.want != "" && le == nil:
			t.Errorf("asLoginError(%v) = nil, want %q", tc.err, tc.want)
		case le != nil && le.Error() != tc.want:
			t.Errorf("asLoginError(%v) = %q, want %q", tc.err, le, tc.want)
		case le != nil && !errors.Is(le, tc.err):
			t.Errorf("asLoginError(%v) does not unwrap to it", tc.err)
		}
	}
}

// tlsAlertText stands for crypto/tls's unexported alert type.
type tlsAlertText string

func (a tlsAlertText) Error() string { return string(a) }

// TestWatchLoginStop: stop ends the watch and cancels its context
// without a login error, also when the broker is not reachable (the
// watch keeps retrying until then).
func TestWatchLoginStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: dials are refused
	cl, err := newClient(addr, map[string]string{}, roleConsumer)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, stop := watchLogin(context.Background(), cl)
	select {
	case <-ctx.Done():
		t.Fatalf("watch ended on a refused dial: %v", context.Cause(ctx))
	case <-time.After(300 * time.Millisecond):
	}
	stop()
	stop() // a second call is harmless
	if ctx.Err() == nil {
		t.Fatal("context not cancelled by stop")
	}
	if err := loginFailure(ctx); err != nil {
		t.Fatalf("loginFailure after stop = %v", err)
	}
}
