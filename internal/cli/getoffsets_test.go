package cli

import (
	"strings"
	"testing"
)

func TestParseOffsetTime(t *testing.T) {
	for in, want := range map[string]int64{
		"latest": -1, "earliest": -2, "max-timestamp": -3, "earliest-local": -4, "latest-tiered": -5,
		"earliest-pending-upload": -6, "-1": -1, "-2": -2, "-3": -3, "1700000000000": 1700000000000,
	} {
		if got, err := parseOffsetTime(in); err != nil || got != want {
			t.Errorf("%q = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseOffsetTime("yesterday"); err == nil || !strings.HasPrefix(err.Error(), "Error occurred: Malformed time argument yesterday. Please use -1 or latest") {
		t.Errorf("bad time: %v", err)
	}
}

func TestParseTopicPartitionRules(t *testing.T) {
	rules, err := parseTopicPartitionRules("orders:1,logs.*:2-4,:7-,audit,x:-2")
	if err != nil {
		t.Fatal(err)
	}
	allowed := func(topic string, p int32) bool {
		for _, r := range rules {
			if r.topic.allowed(topic, false) && r.partition(p) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		topic string
		p     int32
		want  bool
	}{
		{"orders", 1, true}, {"orders", 0, false}, {"orders", 7, true}, // ":7-" matches any topic
		{"logs-a", 2, true}, {"logs-a", 3, true}, {"logs-a", 4, false},
		{"audit", 0, true}, {"audit", 99, true},
		{"x", 1, true}, {"x", 2, false},
		{"other", 6, false}, {"other", 100, true},
	} {
		if got := allowed(c.topic, c.p); got != c.want {
			t.Errorf("%s-%d = %v", c.topic, c.p, got)
		}
	}
	if _, err := parseTopicPartitionRules("a:b"); err == nil || err.Error() != "Error occurred: Invalid rule specification: a:b" {
		t.Errorf("bad rule: %v", err)
	}
}

func TestGetOffsetsArgumentErrors(t *testing.T) {
	const run = "\nRun 'kafka-get-offsets --help' for its options.\n"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic", "t"}, "kafka-get-offsets: Missing required argument \"[bootstrap-server]\"" + run},
		{[]string{"--bootstrap-server", "nohost"}, "kafka-get-offsets: Please provide valid host:port like host1:9091,host2:9092" + run},
		{[]string{"--bootstrap-server", "h:1", "--topic-partitions", "t:0", "--topic", "t"}, "kafka-get-offsets: Error occurred: --topic-partitions cannot be used with --topic or --partitions\n"},
		{[]string{"--bootstrap-server", "h:1", "--partitions", "0,x"}, "kafka-get-offsets: Error occurred: --partitions expects a comma separated list of numeric partition ids, but received: 0,x\n"},
		{[]string{"--bootstrap-server", "h:1", "--time", "noon"}, "kafka-get-offsets: Error occurred: Malformed time argument noon. Please use -1 or latest / -2 or earliest / -3 or max-timestamp / -4 or earliest-local / -5 or latest-tiered / -6 or earliest-pending-upload, or a specified long format timestamp\n"},
	} {
		r := runTool(t, append([]string{"kafka-get-offsets"}, c.args...)...)
		if r.code != 1 || !sameStderr(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("%q: code %d stdout %q stderr\n%s\nwant\n%s", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
}

func TestGetOffsets(t *testing.T) {
	addr := startTestBroker(t)
	mustRun(t, "kafka-topics", "--bootstrap-server", addr, "--create", "--topic", "clicks", "--partitions", "11")
	mustRun(t, "kafka-topics", "--bootstrap-server", addr, "--create", "--topic", "views", "--partitions", "1")
	produceTo(t, addr, "clicks", 0, 5, 1000) // timestamps 1000..1004
	produceTo(t, addr, "clicks", 1, 2, 1000) // 1000..1001
	produceTo(t, addr, "clicks", 10, 3, 2000)
	produceTo(t, addr, "views", 0, 1, 5000)

	get := func(args ...string) string {
		return mustRun(t, append([]string{"kafka-get-offsets", "--bootstrap-server", addr}, args...)...)
	}
	// Sorted by "topic-partition" as a string, as GetOffsetShell does:
	// clicks-10 comes before clicks-2.
	want := "clicks:0:5\nclicks:1:2\nclicks:10:3\nclicks:2:0\nclicks:3:0\nclicks:4:0\nclicks:5:0\nclicks:6:0\nclicks:7:0\nclicks:8:0\nclicks:9:0\n"
	if got := get("--topic", "clicks"); got != want {
		t.Errorf("latest =\n%s\nwant\n%s", got, want)
	}
	if got := get("--topic", "clicks", "--time", "-1"); got != want {
		t.Errorf("-1 =\n%s", got)
	}
	if got := get("--topic", "clicks", "--partitions", "0,10,1", "--time", "earliest"); got != "clicks:0:0\nclicks:1:0\nclicks:10:0\n" {
		t.Errorf("earliest = %q", got)
	}
	if got := get("--time", "-2", "--topic-partitions", "views,clicks:1-3"); got != "clicks:1:0\nclicks:2:0\nviews:0:0\n" {
		t.Errorf("topic-partitions = %q", got)
	}
	// A timestamp: the first offset at or after it; partitions with no
	// such record are left out.
	if got := get("--topic", "clicks", "--time", "1003"); got != "clicks:0:3\nclicks:10:0\n" {
		t.Errorf("time 1003 = %q", got)
	}
	if got := get("--topic", "clicks", "--time", "1700000000000"); got != "" {
		t.Errorf("future time = %q", got)
	}
	// max-timestamp: the offset of the record with the largest timestamp.
	if got := get("--topic", "clicks|views", "--time", "max-timestamp", "--partitions", "0,1"); got != "clicks:0:4\nclicks:1:1\nviews:0:0\n" {
		t.Errorf("max-timestamp = %q", got)
	}
	if got := get(); !strings.HasSuffix(got, "views:0:1\n") || !strings.HasPrefix(got, "clicks:0:5\n") {
		t.Errorf("all topics:\n%s", got)
	}

	r := runTool(t, "kafka-get-offsets", "--bootstrap-server", addr, "--topic", "nothing.*")
	if r.code != 1 || !sameStderr(r.stderr, "kafka-get-offsets: Error occurred: Could not match any topic-partitions with the specified filters\n") {
		t.Errorf("no match: %+v", r)
	}
}
