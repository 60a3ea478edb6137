package cli

import (
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// aclBroker is a single node with the StandardAuthorizer, where the
// PLAINTEXT principal User:ANONYMOUS is the super user.
func aclBroker(t *testing.T) string {
	return kafkatest.Start(t, kafkatest.Config("authorizer.class.name", acl.StandardAuthorizer),
		kafkatest.Config("super.users", "User:ANONYMOUS")).Addr()
}

// Golden outputs: the lines AclCommand prints (its println of
// s"Adding ACLs for resource `$resource`: $Newline ${acls.map("\t" + _).mkString(Newline)} $Newline").
func TestACLsAddListRemove(t *testing.T) {
	addr := aclBroker(t)
	acls := func(args ...string) toolResult {
		t.Helper()
		r := runTool(t, append([]string{"kafka-acls", "--bootstrap-server", addr}, args...)...)
		if r.code != 0 {
			t.Fatalf("kafka-acls %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
		return r
	}
	const topicT = "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)"
	aliceWrite := "(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)"
	r := acls("--add", "--allow-principal", "User:alice", "--operation", "Write", "--topic", "t")
	want := "Adding ACLs for resource `" + topicT + "`: \n \t" + aliceWrite + " \n\n" +
		"Current ACLs for resource `" + topicT + "`: \n \t" + aliceWrite + " \n\n"
	if r.stdout != want {
		t.Fatalf("--add:\n%q\nwant\n%q", r.stdout, want)
	}

	// --producer: WRITE, DESCRIBE and CREATE on the topics; here a
	// prefixed pattern.
	r = acls("--add", "--allow-principal", "User:bob", "--producer", "--topic", "orders-", "--resource-pattern-type", "prefixed")
	const orders = "ResourcePattern(resourceType=TOPIC, name=orders-, patternType=PREFIXED)"
	bob := func(op string) string {
		return "(principal=User:bob, host=*, operation=" + op + ", permissionType=ALLOW)"
	}
	want = "Adding ACLs for resource `" + orders + "`: \n \t" + bob("WRITE") + "\n\t" + bob("CREATE") + "\n\t" + bob("DESCRIBE") + " \n\n" +
		"Current ACLs for resource `" + orders + "`: \n \t" + bob("WRITE") + "\n\t" + bob("CREATE") + "\n\t" + bob("DESCRIBE") + " \n\n"
	if r.stdout != want {
		t.Fatalf("--add --producer:\n%q\nwant\n%q", r.stdout, want)
	}

	// A deny entry from one host, on a group.
	acls("--add", "--deny-principal", "User:carol", "--deny-host", "10.0.0.1", "--operation", "Read", "--group", "g")

	// --list: every ACL, by resource pattern.
	const groupG = "ResourcePattern(resourceType=GROUP, name=g, patternType=LITERAL)"
	carol := "(principal=User:carol, host=10.0.0.1, operation=READ, permissionType=DENY)"
	r = acls("--list")
	want = "Current ACLs for resource `" + topicT + "`: \n \t" + aliceWrite + " \n\n" +
		"Current ACLs for resource `" + orders + "`: \n \t" + bob("WRITE") + "\n\t" + bob("CREATE") + "\n\t" + bob("DESCRIBE") + " \n\n" +
		"Current ACLs for resource `" + groupG + "`: \n \t" + carol + " \n\n"
	if r.stdout != want {
		t.Fatalf("--list:\n%q\nwant\n%q", r.stdout, want)
	}
	// --list of a topic with 'match': the ACLs that apply to it.
	r = acls("--list", "--topic", "orders-eu", "--resource-pattern-type", "match")
	want = "Current ACLs for resource `" + orders + "`: \n \t" + bob("WRITE") + "\n\t" + bob("CREATE") + "\n\t" + bob("DESCRIBE") + " \n\n"
	if r.stdout != want {
		t.Fatalf("--list match:\n%q\nwant\n%q", r.stdout, want)
	}
	// --list --principal.
	r = acls("--list", "--principal", "User:carol")
	want = "ACLs for principal `User:carol`\nCurrent ACLs for resource `" + groupG + "`: \n \t" + carol + " \n\n"
	if r.stdout != want {
		t.Fatalf("--list --principal:\n%q\nwant\n%q", r.stdout, want)
	}

	// --remove one entry, then every ACL of a resource.
	r = acls("--remove", "--force", "--allow-principal", "User:bob", "--operation", "Create", "--topic", "orders-", "--resource-pattern-type", "prefixed")
	want = "Current ACLs for resource `" + orders + "`: \n \t" + bob("WRITE") + "\n\t" + bob("DESCRIBE") + " \n\n"
	if r.stdout != want {
		t.Fatalf("--remove one:\n%q\nwant\n%q", r.stdout, want)
	}
	r = acls("--remove", "--force", "--topic", "t")
	if r.stdout != "" {
		t.Fatalf("--remove all of t:\n%q", r.stdout)
	}
	r = acls("--list")
	if strings.Contains(r.stdout, topicT) || !strings.Contains(r.stdout, orders) || !strings.Contains(r.stdout, groupG) {
		t.Fatalf("after the removals:\n%s", r.stdout)
	}
}

// Without --force, --remove asks, and does nothing unless told y.
func TestACLsRemoveAsks(t *testing.T) {
	addr := aclBroker(t)
	r := runTool(t, "kafka-acls", "--bootstrap-server", addr, "--add", "--allow-principal", "User:alice", "--topic", "t")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	r = runTool(t, "kafka-acls", "--bootstrap-server", addr, "--remove", "--topic", "t") // stdin is empty: no
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Are you sure you want to delete all ACLs for resource filter `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`? (y/n)\n") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`") {
		t.Fatalf("the ACL went without a yes:\n%s", r.stdout)
	}
}

func TestACLsUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bootstrap-server", "x:1", "--topic", "t"}, "Command must include exactly one action: --list, --add, --remove."},
		{[]string{"--bootstrap-server", "x:1", "--add", "--list"}, "Command must include exactly one action"},
		{[]string{"--bootstrap-server", "x:1", "--add", "--topic", "t"}, "You must specify one of: --allow-principal, --deny-principal when trying to add ACLs."},
		{[]string{"--bootstrap-server", "x:1", "--add", "--allow-principal", "User:a"}, "You must provide at least one resource"},
		{[]string{"--bootstrap-server", "x:1", "--add", "--allow-principal", "User:a", "--topic", "t", "--resource-pattern-type", "match"}, "A '--resource-pattern-type' value of 'MATCH' is not valid when adding acls."},
		{[]string{"--bootstrap-server", "x:1", "--add", "--allow-principal", "alice", "--topic", "t"}, "expected a string in format principalType:principalName but got alice"},
		{[]string{"--bootstrap-server", "x:1", "--add", "--allow-principal", "User:a", "--group", "g", "--operation", "Write"}, "ResourceType GROUP only supports operations ALL,READ,DESCRIBE,DELETE,DESCRIBE_CONFIGS,ALTER_CONFIGS"},
		{[]string{"--bootstrap-server", "x:1", "--add", "--allow-principal", "User:a", "--topic", "t", "--operation", "Fly"}, "Unknown operation name Fly"},
		{[]string{"--bootstrap-server", "x:1", "--add", "--allow-principal", "User:a", "--producer"}, "With --producer you must specify a --topic"},
		{[]string{"--bootstrap-server", "x:1", "--add", "--allow-principal", "User:a", "--consumer", "--topic", "t"}, "With --consumer you must specify a --topic and a --group"},
		{[]string{"--bootstrap-server", "x:1", "--add", "--allow-principal", "User:a", "--topic", "t", "--idempotent"}, "The --idempotent option is only available if --producer is set"},
		{[]string{"--bootstrap-server", "x:1", "--list", "--allow-principal", "User:a"}, "can't be used with option"},
		{[]string{"--bootstrap-server", "x:1", "--add", "--principal", "User:a", "--topic", "t"}, "The --principal option is only available if --list is set"},
		{[]string{"--list"}, "One of --bootstrap-server or --bootstrap-controller must be specified"},
	} {
		r := runTool(t, append([]string{"kafka-acls"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// A broker without an authorizer: Kafka's error line, on stdout.
func TestACLsSecurityDisabled(t *testing.T) {
	addr := startTestBroker(t)
	r := runTool(t, "kafka-acls", "--bootstrap-server", addr, "--list")
	want := "Error while executing ACL command: org.apache.kafka.common.errors.SecurityDisabledException: No Authorizer is configured.\n"
	if r.code != 1 || r.stdout != want {
		t.Fatalf("exit %d, stdout %q, want %q", r.code, r.stdout, want)
	}
}
