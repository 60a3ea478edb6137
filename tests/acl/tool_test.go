package acl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/cli"
)

// kafka-acls over SASL with --command-config: the super user grants,
// alice (no ALTER on the cluster) gets Kafka's error line, and the grant
// takes effect.
func TestKafkaACLsTool(t *testing.T) {
	b := startBroker(t, nil)
	createTopic(t, b.client("admin"), "t")
	config := func(user string) string {
		p := filepath.Join(t.TempDir(), user+".properties")
		props := "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n" +
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="` + user + `" password="` + user + `-secret";` + "\n"
		if err := os.WriteFile(p, []byte(props), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tool := func(user string, args ...string) (int, string) {
		var out, errOut bytes.Buffer
		env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
		code := cli.Run(context.Background(), env, append([]string{"kafka-acls", "--bootstrap-server", b.addr, "--command-config", config(user)}, args...))
		return code, out.String() + errOut.String()
	}
	code, out := tool("alice", "--add", "--allow-principal", "User:alice", "--operation", "Write", "--topic", "t")
	if want := "Error while executing ACL command: org.apache.kafka.common.errors.ClusterAuthorizationException: Cluster authorization failed.\n"; code != 1 || !strings.HasSuffix(out, want) {
		t.Fatalf("alice --add: exit %d\n%s", code, out)
	}
	if err := produceOne(t, b.client("alice", kgo.RecordRetries(1)), "t"); err == nil {
		t.Fatal("alice produced before the grant")
	}
	if code, out := tool("admin", "--add", "--allow-principal", "User:alice", "--operation", "Write", "--topic", "t"); code != 0 {
		t.Fatalf("admin --add: exit %d\n%s", code, out)
	}
	if err := produceOne(t, b.client("alice", kgo.RecordRetries(2)), "t"); err != nil {
		t.Fatalf("alice after the grant: %v", err)
	}
}
