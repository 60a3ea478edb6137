package cli

import (
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// TestConfigsQuotas is kafka-configs on users, clients and ips quotas
// against a broker, with Kafka's outputs (ConfigCommand
// alterQuotaConfigs, describeQuotaConfigs).
func TestConfigsQuotas(t *testing.T) {
	c := kafkatest.Start(t)
	cfg := func(args ...string) []string {
		return append([]string{"kafka-configs", "--bootstrap-server", c.Addr()}, args...)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--alter", "--entity-type", "users", "--entity-name", "alice", "--add-config", "producer_byte_rate=1024,consumer_byte_rate=2048"},
			"Completed updating config for user alice.\n"},
		{[]string{"--alter", "--user", "alice", "--client", "app", "--add-config", "request_percentage=12.5"},
			"Completed updating config for client app.\n"}, // ConfigCommand's entity flags: client before user
		{[]string{"--alter", "--entity-type", "users", "--entity-default", "--entity-type", "clients", "--entity-name", "app", "--add-config", "producer_byte_rate=10485760"},
			"Completed updating default config for users in the cluster.\n"},
		{[]string{"--alter", "--entity-type", "clients", "--entity-default", "--add-config", "consumer_byte_rate=4096"},
			"Completed updating default config for clients in the cluster.\n"},
		{[]string{"--alter", "--entity-type", "ips", "--entity-name", "10.1.2.3", "--add-config", "connection_creation_rate=5"},
			"Completed updating config for ip 10.1.2.3.\n"},
		{[]string{"--alter", "--ip-defaults", "--add-config", "connection_creation_rate=100"},
			"Completed updating default config for ips in the cluster.\n"},
		{[]string{"--describe", "--entity-type", "users", "--entity-name", "alice"},
			"Quota configs for user-principal 'alice' are consumer_byte_rate=2048.0, producer_byte_rate=1024.0\n"},
		{[]string{"--describe", "--user", "alice", "--client", "app"},
			"Quota configs for user-principal 'alice', client-id 'app' are request_percentage=12.5\n"},
		{[]string{"--describe", "--entity-type", "users", "--entity-default", "--entity-type", "clients", "--entity-name", "app"},
			"Quota configs for the default user-principal, client-id 'app' are producer_byte_rate=1.048576E7\n"},
		{[]string{"--describe", "--client-defaults"},
			"Quota configs for the default client-id are consumer_byte_rate=4096.0\n"},
		{[]string{"--describe", "--entity-type", "ips", "--entity-name", "10.1.2.3"},
			"Quota configs for ip '10.1.2.3' are connection_creation_rate=5.0\n"},
		{[]string{"--describe", "--entity-type", "ips"},
			"Quota configs for ip '10.1.2.3' are connection_creation_rate=5.0\nQuota configs for the default ip are connection_creation_rate=100.0\n"},
		{[]string{"--describe", "--user", "nobody"}, ""},
		// The README's example.
		{[]string{"--alter", "--entity-type", "clients", "--entity-name", "perf", "--add-config", "producer_byte_rate=1048576,consumer_byte_rate=2097152"},
			"Completed updating config for client perf.\n"},
		{[]string{"--describe", "--entity-type", "clients", "--entity-name", "perf"},
			"Quota configs for client-id 'perf' are consumer_byte_rate=2097152.0, producer_byte_rate=1048576.0\n"},
		{[]string{"--alter", "--user", "alice", "--delete-config", "producer_byte_rate"},
			"Completed updating config for user alice.\n"},
		{[]string{"--describe", "--user", "alice"},
			"Quota configs for user-principal 'alice' are consumer_byte_rate=2048.0\n"},
	} {
		if got := mustRun(t, cfg(tc.args...)...); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.args, got, tc.want)
		}
	}
	// Quotas and SCRAM credentials of one user describe together.
	mustRun(t, cfg("--alter", "--user", "alice", "--add-config", "SCRAM-SHA-256=[iterations=4096,password=x]")...)
	want := "Quota configs for user-principal 'alice' are consumer_byte_rate=2048.0\nSCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=4096\n"
	if got := mustRun(t, cfg("--describe", "--user", "alice")...); got != want {
		t.Errorf("describe alice = %q, want %q", got, want)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--alter", "--user", "alice", "--delete-config", "request_percentage"}, "Invalid config(s): request_percentage"},
		{[]string{"--alter", "--client", "app", "--add-config", "colour=blue"}, "Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected config names: Set(colour)"},
		{[]string{"--alter", "--ip", "10.0.0.1", "--add-config", "producer_byte_rate=1"}, "Only connection quota configs can be added for 'ips' using --bootstrap-server. Unexpected config names: producer_byte_rate"},
		{[]string{"--alter", "--user", "alice", "--add-config", "producer_byte_rate=1,SCRAM-SHA-512=[password=x]"}, "Cannot alter both quota and SCRAM credential configs simultaneously for 'users' using --bootstrap-server."},
		{[]string{"--alter", "--user", "alice", "--add-config", "producer_byte_rate=fast"}, "Cannot parse quota configuration value for producer_byte_rate: fast"},
		{[]string{"--alter", "--user", "alice", "--add-config", "producer_byte_rate=10.5"}, "InvalidRequestException: Configuration producer_byte_rate must be a Long value"},
		{[]string{"--alter", "--ip", "not-an-ip", "--add-config", "connection_creation_rate=1"}, "InvalidRequestException: not-an-ip is not a valid IP or resolvable host."},
	} {
		r := runTool(t, cfg(tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: code %d stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
