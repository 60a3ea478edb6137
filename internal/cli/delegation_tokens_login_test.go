package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestDelegationTokenLoginFromTool logs in with a delegation token the way
// Kafka's documentation shows (docs/security.md, "Delegation tokens"): a
// client properties file whose ScramLoginModule carries the token id, the
// HMAC and tokenauth="true". The console producer must send the SCRAM
// tokenauth extension (KIP-48), or the broker looks the token id up as a
// SCRAM user and refuses the login.
func TestDelegationTokenLoginFromTool(t *testing.T) {
	dir := t.TempDir()
	c := kafkatest.Start(t,
		kafkatest.Config("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
		kafkatest.Config("inter.broker.listener.name", "SASL_PLAINTEXT"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("listener.name.sasl_plaintext.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret" user_alice="alice-secret";`),
		kafkatest.Config("listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config",
			`org.apache.kafka.common.security.scram.ScramLoginModule required;`),
		kafkatest.Config("delegation.token.secret.key", "login-test-secret"),
	)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	alice := write("alice.properties", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";`+"\n")

	out := mustRun(t, "kafka-delegation-tokens", "--bootstrap-server", c.Addr(), "--command-config", alice,
		"--create", "--max-life-time-period", "-1")
	m := regexp.MustCompile(`tokenId : (\S+)\n\n.*\n\n(\S+) +(\S+) `).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] {
		t.Fatalf("create output:\n%s", out)
	}
	id, hmac := m[1], m[3]
	token := write("token.properties", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"+
		fmt.Sprintf(`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s" tokenauth="true";`, id, hmac)+"\n")

	mustRun(t, "kafka-topics", "--bootstrap-server", c.Addr(), "--command-config", alice, "--create", "--topic", "tokens", "--partitions", "1")
	_, stderr, code := runClientTool(t, "by-token\n", "kafka-console-producer", "--bootstrap-server", c.Addr(),
		"--producer.config", token, "--topic", "tokens")
	if code != 0 || stderr != "" {
		t.Fatalf("console producer with the token: exit %d\n%s", code, stderr)
	}

	// The record is there (read as alice).
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()),
		kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()),
		kgo.ConsumeTopics("tokens"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	for len(got) == 0 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if strings.Join(got, ",") != "by-token" {
		t.Fatalf("read back %q, want [by-token]", got)
	}
}

// TestJavaErrorStringBrokerMessage: an error franz-go returns with the
// broker's message after the code prints as Kafka's exception with that
// message (the failed token login of docs/security.md), and a bare code
// with the code's default description.
func TestJavaErrorStringBrokerMessage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: %s", kerr.SaslAuthenticationFailed, "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"),
			"org.apache.kafka.common.errors.SaslAuthenticationException: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"},
		{fmt.Errorf("unable to dial: %w", fmt.Errorf("%w: %s", kerr.SaslAuthenticationFailed, "bad")),
			"org.apache.kafka.common.errors.SaslAuthenticationException: bad"},
		{kerr.SaslAuthenticationFailed, "org.apache.kafka.common.errors.SaslAuthenticationException: SASL Authentication failed."},
		{fmt.Errorf("produce: %w", kerr.TopicAuthorizationFailed),
			"org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [Topic authorization failed.]"},
	} {
		if got := javaErrorString(tc.err); got != tc.want {
			t.Errorf("javaErrorString(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
