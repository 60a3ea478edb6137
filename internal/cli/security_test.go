package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/internal/security/securitytest"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestConfigsUsersAndCommandConfig drives kafka-configs against a broker
// with only a SASL_SSL listener: the admin logs in with PLAIN through
// --command-config, sets alice's SCRAM credentials, and alice's own
// --command-config (SCRAM-SHA-256) then works.
func TestConfigsUsersAndCommandConfig(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	keystore := ca.Issue(t, "CN=broker", "127.0.0.1", "localhost").WriteKeystore(t, dir, "broker")
	truststore := ca.WriteTruststore(t, dir, "ca")
	c := kafkatest.Start(t,
		kafkatest.Config("listeners", "SASL_SSL://127.0.0.1:0"),
		kafkatest.Config("ssl.keystore.type", "PEM"),
		kafkatest.Config("ssl.keystore.location", keystore),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"),
		kafkatest.Config("inter.broker.listener.name", "SASL_SSL"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("listener.name.sasl_ssl.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret";`),
	)
	props := func(name, mech, user, pass string) string {
		p := filepath.Join(dir, name)
		text := fmt.Sprintf("security.protocol=SASL_SSL\nsasl.mechanism=%s\nssl.truststore.type=PEM\nssl.truststore.location=%s\n"+
			"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"%s\" password=\"%s\";\n", mech, truststore, user, pass)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	admin := props("admin.properties", "PLAIN", "admin", "admin-secret")
	cfg := func(conf string, args ...string) []string {
		return append([]string{"kafka-configs", "--bootstrap-server", c.Addr(), "--command-config", conf}, args...)
	}
	if got := mustRun(t, cfg(admin, "--alter", "--entity-type", "users", "--entity-name", "alice",
		"--add-config", "SCRAM-SHA-256=[iterations=8192,password=alice-secret]")...); got != "Completed updating config for user alice.\n" {
		t.Errorf("alter = %q", got)
	}
	mustRun(t, cfg(admin, "--alter", "--user", "alice", "--add-config", "SCRAM-SHA-512=[password=alice-512]")...)
	mustRun(t, cfg(admin, "--alter", "--user", "bob", "--add-config", "SCRAM-SHA-512=[password=bob-secret]")...)
	want := "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096\n"
	if got := mustRun(t, cfg(admin, "--describe", "--entity-type", "users", "--entity-name", "alice")...); got != want {
		t.Errorf("describe alice = %q, want %q", got, want)
	}
	if got := mustRun(t, cfg(admin, "--describe", "--entity-type", "users")...); got != want+"SCRAM credential configs for user-principal 'bob' are SCRAM-SHA-512=iterations=4096\n" {
		t.Errorf("describe users = %q", got)
	}
	// A user without credentials prints nothing.
	if got := mustRun(t, cfg(admin, "--describe", "--user", "nobody")...); got != "" {
		t.Errorf("describe nobody = %q", got)
	}

	// alice logs in with SCRAM through her own command config.
	alice := props("alice.properties", "SCRAM-SHA-256", "alice", "alice-secret")
	if got := mustRun(t, cfg(alice, "--describe", "--user", "bob")...); !strings.Contains(got, "'bob'") {
		t.Errorf("alice describing bob = %q", got)
	}
	wrong := props("wrong.properties", "SCRAM-SHA-256", "alice", "nope")
	if r := runTool(t, cfg(wrong, "--describe", "--user", "bob")...); r.code == 0 || !strings.Contains(r.stderr, "SASL") {
		t.Errorf("wrong password: %+v", r)
	}

	mustRun(t, cfg(admin, "--alter", "--user", "alice", "--delete-config", "SCRAM-SHA-512")...)
	if got := mustRun(t, cfg(admin, "--describe", "--user", "alice")...); got != "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192\n" {
		t.Errorf("describe after delete = %q", got)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--alter", "--user", "alice", "--add-config", "SCRAM-SHA-256=[iterations=100,password=x]"}, "Iterations 100 is less than the minimum 4096 required for SCRAM-SHA-256"},
		{[]string{"--alter", "--user", "alice", "--add-config", "SCRAM-SHA-256=[secret=x]"}, "Invalid credential property SCRAM-SHA-256=secret=x"},
		{[]string{"--alter", "--user", "alice", "--add-config", "colour=blue"}, "Only quota and SCRAM credential configs can be added for 'users' using --bootstrap-server. Unexpected config names: Set(colour)"},
		{[]string{"--alter", "--user-defaults", "--add-config", "SCRAM-SHA-256=[password=x]"}, "The use of --entity-default or --user-defaults is not allowed with User SCRAM Credentials using --bootstrap-server."},
		{[]string{"--alter", "--user", "alice", "--add-config", "SCRAM-SHA-256=[iterations=20000,password=x]"}, "UnacceptableCredentialException: Too many iterations"},
		{[]string{"--alter", "--user", "carol", "--delete-config", "SCRAM-SHA-256"}, "ResourceNotFoundException: Attempt to delete a user credential that does not exist"},
	} {
		r := runTool(t, cfg(admin, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: code %d stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
