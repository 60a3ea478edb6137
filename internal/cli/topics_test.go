package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicID returns the Kafka text form of a topic's ID, read with Metadata.
func topicID(t *testing.T, addr, topic string) string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := metadataTopics(context.Background(), cl, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, lt := range topics {
		if lt.name == topic {
			return formatKafkaUUID(lt.id)
		}
	}
	t.Fatalf("topic %s not found", topic)
	return ""
}

// brokerSupportsAPI reports whether the broker at addr lists API key in
// its ApiVersions answer.
func brokerSupportsAPI(t *testing.T, addr string, key int16) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == key {
			return true
		}
	}
	return false
}

func TestJavaHashMapOrder(t *testing.T) {
	// Expected orders printed by Java 17's HashMap for the same keys
	// inserted in this order (values() of a HashMap<String,Integer>).
	keys := []string{"cleanup.policy", "compression.gzip.level", "compression.lz4.level", "compression.type",
		"compression.zstd.level", "delete.retention.ms", "diskless.enable", "file.delete.delay.ms", "flush.messages",
		"flush.ms", "follower.replication.throttled.replicas", "index.interval.bytes",
		"leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
		"max.compaction.lag.ms", "max.message.bytes", "message.downconversion.enable",
		"message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.type",
		"min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
		"remote.log.copy.disable", "remote.log.delete.on.disable", "remote.storage.enable", "retention.bytes",
		"retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms",
		"unclean.leader.election.enable", "message.format.version", "héllo", "Aa", "BB"}
	for n, want := range map[int][]int{
		len(keys): {3, 37, 38, 26, 12, 27, 17, 23, 32, 25, 14, 0, 9, 10, 2, 1, 29, 30, 4, 8, 35, 7, 15, 16, 22, 20, 13, 24, 36, 6, 11, 21, 34, 5, 28, 18, 19, 33, 31},
		5:         {3, 0, 2, 1, 4},
		13:        {3, 7, 12, 6, 11, 5, 0, 9, 10, 2, 1, 4, 8},
		25:        {3, 12, 17, 23, 14, 0, 9, 10, 2, 1, 4, 8, 7, 15, 16, 22, 20, 13, 24, 6, 11, 21, 5, 18, 19},
	} {
		if got := javaHashMapOrder(keys[:n]); !reflect.DeepEqual(got, want) {
			t.Errorf("%d keys: %v\nwant %v", n, got, want)
		}
	}
	if javaStringHash("hello") != 99162322 || javaStringHash("Aa") != javaStringHash("BB") {
		t.Error("javaStringHash differs from String.hashCode")
	}
}

func TestTopicFilter(t *testing.T) {
	for _, c := range []struct {
		re, topic string
		exclude   bool
		want      bool
	}{
		{"orders", "orders", false, true},
		{"orders", "orders-v2", false, false}, // whole name must match
		{"ord.*", "orders-v2", false, true},
		{"a,b", "b", false, true}, // ',' is '|'
		{`"orders"`, "orders", false, true},
		{" orders ", "orders", false, true},
		{".*", "__consumer_offsets", false, true},
		{".*", "__consumer_offsets", true, false},
		{".*", "__transaction_state", true, false},
		{"__.*", "__my_topic", true, true}, // not a Kafka internal topic
	} {
		f, err := newTopicFilter(c.re)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.allowed(c.topic, c.exclude); got != c.want {
			t.Errorf("%q on %q (exclude %v) = %v", c.re, c.topic, c.exclude, got)
		}
	}
	if _, err := newTopicFilter("a("); err == nil || err.Error() != "a( is an invalid regex." {
		t.Errorf("bad regex: %v", err)
	}
}

func TestParseReplicaAssignment(t *testing.T) {
	got, err := parseReplicaAssignment("1:2, 2 :3,3:1")
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int32{{1, 2}, {2, 3}, {3, 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	for in, want := range map[string]string{
		"1:1":     "Partition replica lists may not contain duplicate entries: 1",
		"1:2,3":   "Partition 1 has different replication factor: [3]",
		"1:x":     `For input string: "x"`,
		"1:2:2:1": "Partition replica lists may not contain duplicate entries: 2,1",
	} {
		if _, err := parseReplicaAssignment(in); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestParseTopicConfigs(t *testing.T) {
	got, err := parseTopicConfigs([]string{"retention.ms = 1000", "cleanup.policy=compact"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	for _, bad := range []string{"novalue", "a=", "a=b=c"} {
		_, err := parseTopicConfigs([]string{bad})
		if want := `requirement failed: Invalid topic config: all configs to be added must be in the format "key=val".`; err == nil || err.Error() != want {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestTopicsArgumentErrors(t *testing.T) {
	const run = "\nRun 'kafka-topics --help' for its options.\n"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--list"}, "kafka-topics: --bootstrap-server must be specified\n"},
		{[]string{"--bootstrap-server", "h:1"}, "kafka-topics: Command must include exactly one action: --list, --describe, --create, --alter or --delete" + run},
		{[]string{"--bootstrap-server", "h:1", "--list", "--create"}, "kafka-topics: Command must include exactly one action: --list, --describe, --create, --alter or --delete" + run},
		{[]string{"--bootstrap-server", "h:1", "--create"}, "kafka-topics: Missing required argument \"[topic]\"" + run},
		{[]string{"--bootstrap-server", "h:1", "--alter", "--topic", "t"}, "kafka-topics: Missing required argument \"[partitions]\"" + run},
		{[]string{"--bootstrap-server", "h:1", "--alter", "--topic", "t", "--partitions", "2", "--config", "a=b"},
			"kafka-topics: Option \"[alter]\" can't be used with option \"[config]\" (To alter topic configurations, the kafka-configs tool can be used.)" + run},
		{[]string{"--bootstrap-server", "h:1", "--list", "--partitions", "2"}, "kafka-topics: Option \"[partitions]\" can't be used with option \"[list]\"" + run},
		{[]string{"--bootstrap-server", "h:1", "--describe", "--replication-factor", "2"}, "kafka-topics: Option \"[replication-factor]\" can't be used with option \"[describe]\"" + run},
		{[]string{"--bootstrap-server", "h:1", "--create", "--topic", "t", "--if-exists"}, "kafka-topics: Option \"[if-exists]\" can't be used with option \"[create]\"" + run},
		{[]string{"--bootstrap-server", "h:1", "--delete", "--topic", "t", "--if-not-exists"}, "kafka-topics: Option \"[if-not-exists]\" can't be used with option \"[delete]\"" + run},
		{[]string{"--bootstrap-server", "h:1", "--create", "--topic", "t", "--replica-assignment", "1", "--partitions", "1"},
			"kafka-topics: Option \"[replica-assignment]\" can't be used with option \"[partitions]\"" + run},
		{[]string{"--bootstrap-server", "h:1", "--describe", "--topics-with-overrides", "--under-replicated-partitions"},
			"kafka-topics: Option \"[under-replicated-partitions]\" can't be used with option \"[topics-with-overrides]\"" + run},
		{[]string{"--bootstrap-server", "h:1", "--describe", "--if-exists"}, "kafka-topics: --topic or --topic-id is required to describe a topic" + run},
		{[]string{"--bootstrap-server", "h:1", "--list", "--bogus"}, "kafka-topics: --bogus is not a recognized option" + run},
		{[]string{"--bootstrap-server", "h:1", "--create", "--topic", "t", "--partitions", "many"}, "kafka-topics: cannot parse argument 'many' of option --partitions" + run},
	} {
		r := runTool(t, append([]string{"kafka-topics"}, c.args...)...)
		if r.code != 1 || !sameStderr(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("%q: code %d stdout %q stderr\n%s\nwant\n%s", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
	r := runTool(t, "kafka-topics", "--help")
	helpLine := regexp.MustCompile(`(?m)^--bootstrap-server <String: server to connect to> +REQUIRED: The Kafka server to connect to\.$`)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "This tool helps to create, delete, describe, or change a topic.\n") ||
		!helpLine.MatchString(r.stdout) {
		t.Errorf("--help: %+v", r)
	}
	if r := runTool(t, "kafka-topics"); r.code != 1 || !strings.Contains(r.stderr, "--bootstrap-server") {
		t.Errorf("no args: %+v", r)
	}
}

func TestTopicsLifecycle(t *testing.T) {
	addr := startTestBroker(t)
	bs := []string{"kafka-topics", "--bootstrap-server", addr}
	topics := func(args ...string) []string { return append(append([]string(nil), bs...), args...) }

	if got := mustRun(t, topics("--list")...); got != "\n" {
		t.Errorf("empty list = %q, want one empty line (as Kafka prints)", got)
	}
	if got := mustRun(t, topics("--create", "--topic", "orders", "--partitions", "3", "--replication-factor", "1",
		"--config", "retention.ms=1000", "--config", "cleanup.policy=compact")...); got != "Created topic orders.\n" {
		t.Errorf("create = %q", got)
	}
	want := "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.\nCreated topic my.events.\n"
	if got := mustRun(t, topics("--create", "--topic", "my.events")...); got != want {
		t.Errorf("create my.events = %q", got)
	}

	if got := mustRun(t, topics("--list")...); got != "my.events\norders\n" {
		t.Errorf("list = %q", got)
	}
	if got := mustRun(t, topics("--list", "--topic", "ord.*")...); got != "orders\n" {
		t.Errorf("list regex = %q", got)
	}
	// --command-config: known client properties apply, unknown ones are
	// reported and ignored.
	props := filepath.Join(t.TempDir(), "admin.properties")
	if err := os.WriteFile(props, []byte("client.id=admin-tool\nrequest.timeout.ms=20000\nbogus.setting=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runTool(t, topics("--list", "--command-config", props)...)
	if r.code != 0 || r.stdout != "my.events\norders\n" ||
		r.stderr != "WARN The configuration 'bogus.setting' was supplied but isn't a known config.\n" {
		t.Errorf("--command-config: %+v", r)
	}
	r = runTool(t, topics("--list", "--command-config", props+".missing")...)
	if r.code != 1 || !strings.Contains(r.stderr, "admin.properties.missing") {
		t.Errorf("missing --command-config: %+v", r)
	}

	id := topicID(t, addr, "orders")
	// The overridden configs come in java.util.HashMap order, as in Kafka.
	cfgs := "cleanup.policy=compact,retention.ms=1000"
	if javaHashMapOrder([]string{"retention.ms", "cleanup.policy"})[0] == 0 {
		cfgs = "retention.ms=1000,cleanup.policy=compact"
	}
	// Kafka 4 describes with DescribeTopicPartitions (KIP-966), whose
	// answer carries the (here empty) ELR; against a broker without it the
	// admin client falls back to Metadata and prints "N/A".
	elr := "Elr: \tLastKnownElr: "
	if !brokerSupportsAPI(t, addr, 75) {
		t.Log("broker lacks DescribeTopicPartitions (API 75); expecting the Metadata fallback")
		elr = "Elr: N/A\tLastKnownElr: N/A"
	}
	wantDescribe := "Topic: orders\tTopicId: " + id + "\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: " + cfgs + "\n"
	for p := range 3 {
		wantDescribe += fmt.Sprintf("\tTopic: orders\tPartition: %d\tLeader: 1\tReplicas: 1\tIsr: 1\t%s\n", p, elr)
	}
	if got := mustRun(t, topics("--describe", "--topic", "orders")...); got != wantDescribe {
		t.Errorf("describe =\n%s\nwant\n%s", got, wantDescribe)
	}
	// --topic-id describes through Metadata, which carries no ELR.
	wantByID := strings.ReplaceAll(wantDescribe, elr, "Elr: N/A\tLastKnownElr: N/A")
	if got := mustRun(t, topics("--describe", "--topic-id", id)...); got != wantByID {
		t.Errorf("describe --topic-id =\n%s\nwant\n%s", got, wantByID)
	}

	// Reports: a healthy single node has nothing under-replicated or
	// unavailable; every partition is at min ISR (1).
	for _, report := range []string{"--under-replicated-partitions", "--unavailable-partitions", "--under-min-isr-partitions"} {
		if got := mustRun(t, topics("--describe", report)...); got != "" {
			t.Errorf("%s = %q", report, got)
		}
	}
	atMin := mustRun(t, topics("--describe", "--topic", "orders", "--at-min-isr-partitions")...)
	if want := strings.SplitN(wantDescribe, "\n", 2)[1]; atMin != want {
		t.Errorf("--at-min-isr-partitions =\n%s\nwant\n%s", atMin, want)
	}
	if got, want := mustRun(t, topics("--describe", "--topics-with-overrides")...), strings.SplitN(wantDescribe, "\n", 2)[0]+"\n"; got != want {
		t.Errorf("--topics-with-overrides = %q, want %q", got, want)
	}

	// Alter adds partitions and prints nothing.
	if got := mustRun(t, topics("--alter", "--topic", "orders", "--partitions", "5")...); got != "" {
		t.Errorf("alter = %q", got)
	}
	if got := mustRun(t, topics("--describe", "--topic", "orders")...); !strings.Contains(got, "\tPartitionCount: 5\t") ||
		!strings.Contains(got, "\tTopic: orders\tPartition: 4\tLeader: 1\tReplicas: 1\tIsr: 1\t") {
		t.Errorf("describe after alter:\n%s", got)
	}

	// Delete takes a regex and prints nothing.
	if got := mustRun(t, topics("--delete", "--topic", "my\\..*")...); got != "" {
		t.Errorf("delete = %q", got)
	}
	if got := mustRun(t, topics("--list")...); got != "orders\n" {
		t.Errorf("list after delete = %q", got)
	}
}

func TestTopicsErrors(t *testing.T) {
	addr := startTestBroker(t)
	bs := []string{"kafka-topics", "--bootstrap-server", addr}
	topics := func(args ...string) []string { return append(append([]string(nil), bs...), args...) }
	mustRun(t, topics("--create", "--topic", "t1")...)

	r := runTool(t, topics("--create", "--topic", "t1")...)
	if r.code != 1 || !hasLine(r.stdout+r.stderr, "Error while executing topic command : Topic 't1' already exists.") {
		t.Errorf("create existing: %+v", r)
	}
	if r := runTool(t, topics("--create", "--topic", "t1", "--if-not-exists")...); r.code != 0 || r.stdout != "" {
		t.Errorf("--if-not-exists: %+v", r)
	}
	r = runTool(t, topics("--create", "--topic", "t2", "--partitions", "0")...)
	if r.code != 1 || !hasLine(r.stdout+r.stderr, "The partitions must be greater than 0") {
		t.Errorf("0 partitions: %+v", r)
	}
	r = runTool(t, topics("--create", "--topic", "t2", "--replication-factor", "3")...)
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "Error while executing topic command : ") {
		t.Errorf("replication factor above brokers: %+v", r)
	}
	r = runTool(t, topics("--create", "--topic", "t2", "--config", "no.such.config=1")...)
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "Error while executing topic command : ") {
		t.Errorf("unknown config: %+v", r)
	}
	for _, action := range [][]string{{"--describe"}, {"--delete"}, {"--alter", "--partitions", "3"}} {
		r = runTool(t, topics(append(action, "--topic", "missing")...)...)
		if want := "kafka-topics: Topic 'missing' does not exist as expected\n"; r.code != 1 || !sameStderr(r.stderr, want) {
			t.Errorf("%s missing: %+v", action[0], r)
		}
		r = runTool(t, topics(append(action, "--topic", "missing", "--if-exists")...)...)
		if r.code != 0 || r.stdout != "" {
			t.Errorf("%s missing --if-exists: %+v", action[0], r)
		}
	}
	r = runTool(t, topics("--describe", "--topic-id", "AAAAAAAAAAAAAAAAAAAAAQ")...)
	if want := "kafka-topics: TopicId 'AAAAAAAAAAAAAAAAAAAAAQ' does not exist as expected\n"; r.code != 1 || !sameStderr(r.stderr, want) {
		t.Errorf("missing topic id: %+v", r)
	}
	r = runTool(t, topics("--alter", "--topic", "t1", "--partitions", "1")...)
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "Error while executing topic command : ") {
		t.Errorf("shrinking partitions: %+v", r)
	}
}
