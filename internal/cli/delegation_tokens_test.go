package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestDelegationTokensTool drives kafka-delegation-tokens against a
// broker with a SASL_PLAINTEXT listener and ACLs, and compares its output with
// Kafka's DelegationTokenCommand's, the token id, HMAC and dates
// replaced by placeholders (each checked to be what the broker made).
func TestDelegationTokensTool(t *testing.T) {
	dir := t.TempDir()
	c := kafkatest.Start(t,
		kafkatest.Config("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN"),
		kafkatest.Config("inter.broker.listener.name", "SASL_PLAINTEXT"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("listener.name.sasl_plaintext.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret" user_alice="alice-secret" user_bob="bob-secret" user_carol="carol-secret";`),
		kafkatest.Config("delegation.token.secret.key", "tool-test-secret"),
		kafkatest.Config("authorizer.class.name", acl.StandardAuthorizer),
		kafkatest.Config("super.users", "User:admin"),
	)
	props := func(user string) string {
		p := filepath.Join(dir, user+".properties")
		text := fmt.Sprintf("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
			"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"%s\" password=\"%s-secret\";\n", user, user)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tool := func(user string, args ...string) []string {
		return append([]string{"kafka-delegation-tokens", "--bootstrap-server", c.Addr(), "--command-config", props(user)}, args...)
	}

	out := mustRun(t, tool("alice", "--create", "--max-life-time-period", "-1", "--renewer-principal", "User:bob")...)
	m := regexp.MustCompile(`tokenId : (\S+)\n\n.*\n\n(\S+) +(\S+) `).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] {
		t.Fatalf("create output:\n%s", out)
	}
	id, hmac := m[1], m[3]
	dates := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d`)
	mask := func(s string) string {
		s = strings.ReplaceAll(s, id, "<ID>")
		s = strings.ReplaceAll(s, hmac, "<HMAC>")
		return dates.ReplaceAllString(s, "<DATE>")
	}
	header := "\nTOKENID         HMAC                           OWNER           REQUESTER       RENEWERS                  ISSUEDATE       EXPIRYDATE      MAXDATE        \n"
	row := "\n<ID> <HMAC> User:alice      User:alice      [User:bob]                <DATE> <DATE> <DATE>\n"
	want := "Calling create token operation with renewers :[User:bob] , max-life-time-period :-1\n" +
		"Created delegation token with tokenId : <ID>\n" + header + row
	if got := mask(out); got != want {
		t.Errorf("create:\n%q\nwant\n%q", got, want)
	}

	// describe as the owner, as the renewer with an owner filter, and as
	// someone who may see nothing.
	want = "Calling describe token operation for current user.\nTotal number of tokens : 1" + header + row
	if got := mask(mustRun(t, tool("alice", "--describe")...)); got != want {
		t.Errorf("describe:\n%q\nwant\n%q", got, want)
	}
	want = "Calling describe token operation for owners: [User:bob]\nTotal number of tokens : 1" + header + row
	if got := mask(mustRun(t, tool("bob", "--describe", "--owner-principal", "User:bob")...)); got != want {
		t.Errorf("describe by owner:\n%q\nwant\n%q", got, want)
	}
	want = "Calling describe token operation for current user.\nTotal number of tokens : 0" + header
	if got := mustRun(t, tool("carol", "--describe")...); got != want {
		t.Errorf("describe as carol:\n%q\nwant\n%q", got, want)
	}

	// renew by the renewer; by carol it fails as Kafka's tool does.
	want = "Calling renew token operation with hmac :<HMAC> , renew-time-period :-1\nCompleted renew operation. New expiry date : <DATE>"
	if got := mask(mustRun(t, tool("bob", "--renew", "--hmac", hmac, "--renew-time-period", "-1")...)); got != want {
		t.Errorf("renew:\n%q\nwant\n%q", got, want)
	}
	r := runTool(t, tool("carol", "--renew", "--hmac", hmac, "--renew-time-period", "-1")...)
	if r.code == 0 || !strings.Contains(r.stderr, "org.apache.kafka.common.errors.DelegationTokenOwnerMismatchException") {
		t.Errorf("renew by carol: %+v", r)
	}

	// expire now; the token is gone.
	want = "Calling expire token operation with hmac :<HMAC> , expire-time-period :-1\nCompleted expire operation. New expiry date : <DATE>"
	if got := mask(mustRun(t, tool("alice", "--expire", "--hmac", hmac, "--expiry-time-period", "-1")...)); got != want {
		t.Errorf("expire:\n%q\nwant\n%q", got, want)
	}
	want = "Calling describe token operation for current user.\nTotal number of tokens : 0" + header
	if got := mustRun(t, tool("alice", "--describe")...); got != want {
		t.Errorf("describe after expire:\n%q", got)
	}

	// Usage errors, in Kafka's words.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--create", "--describe"}, "Command must include exactly one action: --create, --renew, --expire or --describe"},
		{[]string{"--create"}, `Missing required argument "[max-life-time-period]"`},
		{[]string{"--renew", "--hmac", hmac}, `Missing required argument "[renew-time-period]"`},
		{[]string{"--describe", "--hmac", hmac}, `Option "[describe]" can't be used with option "[hmac]"`},
	} {
		r := runTool(t, tool("alice", tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: %+v, want %q", tc.args, r, tc.want)
		}
	}
}
