package cli

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// toolResult is what one command run printed and returned.
type toolResult struct {
	stdout, stderr string
	code           int
}

// runTool runs a gregor subcommand through Run with buffers.
func runTool(t *testing.T, args ...string) toolResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Logger: nil}
	code := Run(context.Background(), env, args)
	return toolResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// startTestBroker starts an in-process single-node Gregor (node.id 1) for
// the test and returns its host:port.
func startTestBroker(t *testing.T) string {
	t.Helper()
	return kafkatest.Start(t).Addr()
}

// produceTo writes n records with values "v0", "v1", ... and timestamps
// baseMs, baseMs+1, ... to one partition and waits for them to be acked.
func produceTo(t *testing.T, addr, topic string, partition int32, n int, baseMs int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: partition, Value: []byte("v" + string(rune('0'+i%10))),
			Timestamp: time.UnixMilli(baseMs + int64(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s-%d: %v", topic, partition, err)
		}
	}
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := runTool(t, args...)
	if r.code != 0 {
		t.Fatalf("%q: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// sameStderr compares a command's stderr with the expected one, ignoring
// the "<command>: " prefix with which Run introduces an error message, so
// that the tests hold whether Run prints Kafka-worded errors (kafkaError)
// with or without it.
func sameStderr(got, want string) bool {
	strip := func(s string) string {
		if i := strings.Index(s, ": "); i > 0 && strings.HasPrefix(s, "kafka-") && !strings.Contains(s[:i], " ") {
			return s[i+2:]
		}
		return s
	}
	return strip(got) == strip(want)
}

// hasLine reports whether out (stdout and stderr together) contains line
// as a whole line, after an optional "<command>: " prefix that Run adds to
// errors.
func hasLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			return true
		}
		if _, rest, ok := strings.Cut(l, ": "); ok && rest == line {
			return true
		}
	}
	return false
}

func newTestFlags() (*FlagSet, *string, *int64, *bool, *[]string) {
	fs := newFlagSet("tool", "A test tool.")
	s := fs.String("bootstrap-server", "server", "REQUIRED: The server.")
	n := fs.Int("partitions", "n", "Partitions.")
	b := fs.Bool("list", "List.")
	kv := fs.Strings("config", "name=value", "A config.")
	fs.String("cluster-id", "id", "Cluster.")
	fs.Alias("t", "cluster-id")
	return fs, s, n, b, kv
}

func TestFlagSetParse(t *testing.T) {
	fs, s, n, b, kv := newTestFlags()
	env := &Env{Stdout: &bytes.Buffer{}}
	args := []string{"--bootstrap-server", "h:1", "--partitions=-3", "--list", "--config", "a=1",
		"--config=b=2", "pos", "-t", "-abc", "--", "--list"}
	help, err := fs.Parse(env, args)
	if help || err != nil {
		t.Fatalf("Parse = %v, %v", help, err)
	}
	if *s != "h:1" || *n != -3 || !*b {
		t.Errorf("values: %q %d %v", *s, *n, *b)
	}
	if want := []string{"a=1", "b=2"}; !reflect.DeepEqual(*kv, want) {
		t.Errorf("config = %q, want %q", *kv, want)
	}
	if got := *fs.byName["cluster-id"].stringValue; got != "-abc" {
		t.Errorf("-t took %q, want -abc (a value option consumes the next argument)", got)
	}
	if want := []string{"pos", "--list"}; !reflect.DeepEqual(fs.Args(), want) {
		t.Errorf("Args = %q, want %q", fs.Args(), want)
	}
	if !fs.Changed("cluster-id") || fs.Changed("help") {
		t.Error("Changed wrong")
	}
	if got := fs.Given("list", "help", "config"); !reflect.DeepEqual(got, []string{"list", "config"}) {
		t.Errorf("Given = %q", got)
	}
}

func TestFlagSetPrefix(t *testing.T) {
	fs, s, _, _, _ := newTestFlags()
	if _, err := fs.Parse(&Env{}, []string{"--bootstrap", "x:1"}); err != nil {
		t.Fatal(err)
	}
	if *s != "x:1" {
		t.Errorf("prefix did not resolve: %q", *s)
	}
}

func TestFlagSetErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "--nope is not a recognized option"},
		{[]string{"--partitions"}, "option --partitions requires an argument"},
		{[]string{"--partitions", "x"}, "cannot parse argument 'x' of option --partitions"},
		{[]string{"--list=yes"}, "option --list does not take an argument"},
		{[]string{"--bootstrap-server", "a", "--bootstrap-server", "b"}, "found multiple arguments for option --bootstrap-server, but it takes only one"},
		{[]string{"--c"}, "--c is ambiguous: it could be --config, --cluster-id"},
		{[]string{"-x"}, "-x is not a recognized option"},
	} {
		fs, _, _, _, _ := newTestFlags()
		_, err := fs.Parse(&Env{}, tc.args)
		var ue *UsageError
		if !errors.As(err, &ue) || err.Error() != tc.want {
			t.Errorf("%q: err = %v, want usage error %q", tc.args, err, tc.want)
		}
	}
}

func TestFlagSetHelp(t *testing.T) {
	fs, _, _, _, _ := newTestFlags()
	var out bytes.Buffer
	help, err := fs.Parse(&Env{Stdout: &out}, []string{"--list", "--help"})
	if !help || err != nil {
		t.Fatalf("Parse = %v, %v", help, err)
	}
	want := `A test tool.
Option                       Description
------                       -----------
--bootstrap-server <server>  REQUIRED: The server.
-t, --cluster-id <id>        Cluster.
--config <name=value>        A config.
--help                       Print usage information.
--list                       List.
--partitions <n>             Partitions.
`
	if out.String() != want {
		t.Errorf("usage:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestParseProperties(t *testing.T) {
	in := `# comment
! another
bootstrap.servers = h1:9092,h2:9092
client.id:tool
  sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
      username="u" \
      password="p";
key\ with\ space=v\u0041\tx
empty=
bare
`
	got, err := parseProperties(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"bootstrap.servers": "h1:9092,h2:9092",
		"client.id":         "tool",
		"sasl.jaas.config":  `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`,
		"key with space":    "vA\tx",
		"empty":             "",
		"bare":              "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestParseKeyValues(t *testing.T) {
	got, err := parseKeyValues("--property", []string{"a=1", "b=x=y", "a=2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "2", "b": "x=y"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	if _, err := parseKeyValues("--property", []string{"novalue"}); err == nil || err.Error() != "invalid --property 'novalue': expected key=value" {
		t.Errorf("err = %v", err)
	}
}

func TestKafkaUUID(t *testing.T) {
	id := [16]byte{0xfb, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	s := formatKafkaUUID(id)
	if s != "-_8BAgMEBQYHCAkKCwwNDg" {
		t.Errorf("format = %q", s)
	}
	for _, in := range []string{s, s + "=="} {
		got, err := parseKafkaUUID(in)
		if err != nil || got != id {
			t.Errorf("parse %q = %v, %v", in, got, err)
		}
	}
	for in, want := range map[string]string{
		"abc":                           "Input string `abc` decoded as 2 bytes, which is not equal to the expected 16 bytes of a base64-encoded UUID",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAA": "Input string with prefix `AAAAAAAAAAAAAAAAAAAAAAAA` is too long to be decoded as a base64 UUID",
	} {
		if _, err := parseKafkaUUID(in); err == nil || err.Error() != want {
			t.Errorf("parse %q: err = %v, want %q", in, err, want)
		}
	}
}

func TestJavaExceptionClass(t *testing.T) {
	for code, want := range map[int16]string{
		kerr.TopicAlreadyExists.Code:           "org.apache.kafka.common.errors.TopicExistsException",
		kerr.UnknownTopicOrPartition.Code:      "org.apache.kafka.common.errors.UnknownTopicOrPartitionException",
		kerr.OffsetOutOfRange.Code:             "org.apache.kafka.common.errors.OffsetOutOfRangeException",
		kerr.InvalidConfig.Code:                "org.apache.kafka.common.errors.InvalidConfigurationException",
		kerr.TopicAuthorizationFailed.Code:     "org.apache.kafka.common.errors.TopicAuthorizationException",
		kerr.PolicyViolation.Code:              "org.apache.kafka.common.errors.PolicyViolationException",
		kerr.InvalidReplicationFactor.Code:     "org.apache.kafka.common.errors.InvalidReplicationFactorException",
		kerr.RequestTimedOut.Code:              "org.apache.kafka.common.errors.TimeoutException",
		kerr.UnknownServerError.Code:           "org.apache.kafka.common.errors.UnknownServerException",
		kerr.ClusterAuthorizationFailed.Code:   "org.apache.kafka.common.errors.ClusterAuthorizationException",
		kerr.InvalidTopicException.Code:        "org.apache.kafka.common.errors.InvalidTopicException",
		kerr.NotLeaderForPartition.Code:        "org.apache.kafka.common.errors.NotLeaderOrFollowerException",
		kerr.InvalidPartitions.Code:            "org.apache.kafka.common.errors.InvalidPartitionsException",
		kerr.SaslAuthenticationFailed.Code:     "org.apache.kafka.common.errors.SaslAuthenticationException",
		kerr.ThrottlingQuotaExceeded.Code:      "org.apache.kafka.common.errors.ThrottlingQuotaExceededException",
		kerr.InvalidReplicaAssignment.Code:     "org.apache.kafka.common.errors.InvalidReplicaAssignmentException",
		kerr.UnsupportedVersion.Code:           "org.apache.kafka.common.errors.UnsupportedVersionException",
		kerr.GroupAuthorizationFailed.Code:     "org.apache.kafka.common.errors.GroupAuthorizationException",
		kerr.NotEnoughReplicasAfterAppend.Code: "org.apache.kafka.common.errors.NotEnoughReplicasAfterAppendException",
	} {
		if got := javaExceptionClass(code); got != want {
			t.Errorf("code %d: %s, want %s", code, got, want)
		}
	}
	be := newBrokerError(kerr.TopicAlreadyExists.Code, nil)
	if !errors.Is(be, kerr.TopicAlreadyExists) {
		t.Error("brokerError does not unwrap to kerr")
	}
	if got, want := javaErrorString(be), "org.apache.kafka.common.errors.TopicExistsException: Topic with this name already exists."; got != want {
		t.Errorf("javaErrorString = %q, want %q", got, want)
	}
	msg := "Topic 'x' already exists."
	if got := newBrokerError(kerr.TopicAlreadyExists.Code, &msg).Error(); got != msg {
		t.Errorf("broker message not used: %q", got)
	}
	if newBrokerError(0, nil) != nil {
		t.Error("code 0 is not an error")
	}
}
