package acl

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/acl"
)

// librdkafka (kcat) sees Kafka's behaviour: a produce the ACLs refuse
// fails with "Topic authorization failed", and metadata lists only the
// topics the user may describe.
func TestKcat(t *testing.T) {
	kcat := requireTool(t, "kcat", "-V")
	b := startBroker(t, nil)
	admin := b.client("admin")
	createTopic(t, admin, "allowed")
	createTopic(t, admin, "other")
	createACLs(t, admin, allow(rTopic, "allowed", "User:alice", acl.OpWrite))
	args := []string{"-b", b.addr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=alice", "-X", "sasl.password=alice-secret"}
	if out, err := runTool(kcat, "one\n", append(args, "-P", "-t", "allowed")...); err != nil {
		t.Fatalf("kcat produce to allowed: %v\n%s", err, out)
	}
	out, err := runTool(kcat, "one\n", append(args, "-P", "-t", "other")...)
	if err == nil || !strings.Contains(out, "Topic authorization failed") {
		t.Fatalf("kcat produce to other: %v\n%s", err, out)
	}
	if off := endOffset(t, admin, "other"); off != 0 {
		t.Fatalf("other has %d records", off)
	}
	out, err = runTool(kcat, "", append(args, "-L")...)
	if err != nil || !strings.Contains(out, `topic "allowed"`) || strings.Contains(out, `topic "other"`) {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
}

// requireTool returns the path of a third-party client, or fails t
// (skips with GREGOR_COMPAT_OPTIONAL=1), as tests/compat does.
func requireTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
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

// runTool runs a command with stdin and returns its combined output.
func runTool(name, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
