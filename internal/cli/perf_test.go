package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// clientToolsBroker starts an in-process broker for the console and perf
// tool tests and returns its address.
func clientToolsBroker(t *testing.T) string {
	t.Helper()
	return kafkatest.Start(t).Addr()
}

// createToolsTopic creates topic with the given number of partitions.
func createToolsTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// runClientTool runs a gregor command with stdin and returns its output
// and exit code.
func runClientTool(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Logger: nil}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code = Run(ctx, env, args)
	return out.String(), errb.String(), code
}

func TestNargsPlus(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"--producer-props", "a=1", "b=2", "--topic", "t"},
			[]string{"--producer-props", "a=1", "--producer-props", "b=2", "--topic", "t"}},
		{[]string{"--producer-props", "a=1"}, []string{"--producer-props", "a=1"}},
		{[]string{"--topic", "t", "--producer-props", "a=1", "b=2", "c=3"},
			[]string{"--topic", "t", "--producer-props", "a=1", "--producer-props", "b=2", "--producer-props", "c=3"}},
		{[]string{"--producer-props", "a=1", "--", "b=2"}, []string{"--producer-props", "a=1", "--", "b=2"}},
	} {
		if got := nargsPlus(tc.in, "producer-props"); !slices.Equal(got, tc.want) {
			t.Errorf("nargsPlus(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatSimpleDate(t *testing.T) {
	tm := time.Date(2024, time.March, 5, 14, 7, 9, 45_000_000, time.UTC)
	for _, tc := range []struct{ pattern, want string }{
		{"yyyy-MM-dd HH:mm:ss:SSS", "2024-03-05 14:07:09:045"},
		{"yy/M/d h:m:s a", "24/3/5 2:7:9 PM"},
		{"EEE, d MMM yyyy", "Tue, 5 Mar 2024"},
		{"EEEE MMMM", "Tuesday March"},
		{"'at' HH 'o''clock' ''", "at 14 o'clock '"},
		{"yyyy-MM-dd'T'HH:mm:ssXXX", "2024-03-05T14:07:09Z"},
		{"Z z D k K u", "+0000 UTC 65 14 2 2"},
	} {
		got, err := formatSimpleDate(tm, tc.pattern)
		if err != nil || got != tc.want {
			t.Errorf("formatSimpleDate(%q) = %q, %v; want %q", tc.pattern, got, err, tc.want)
		}
	}
	if _, err := formatSimpleDate(tm, "yyyy-bb"); err == nil {
		t.Error("pattern letter b accepted")
	}
	if _, err := formatSimpleDate(tm, "'open"); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestPercentiles(t *testing.T) {
	lat := []int{9, 1, 8, 2, 7, 3, 6, 4, 5, 10}
	got := percentiles(lat, 0.5, 0.95, 0.99, 0.999)
	if want := []int{6, 10, 10, 10}; !slices.Equal(got, want) {
		t.Errorf("percentiles = %v, want %v", got, want)
	}
	if got := percentiles(nil, 0.5); !slices.Equal(got, []int{0}) {
		t.Errorf("percentiles(nil) = %v", got)
	}
}

func TestPerfStatsWindow(t *testing.T) {
	var out bytes.Buffer
	s := newPerfStats(10, false, &out)
	start := s.mu.start
	s.record(4, 100, start.Add(time.Second))
	s.record(6, 100, start.Add(2*time.Second))
	if out.Len() != 0 {
		t.Fatalf("window printed early: %q", out.String())
	}
	s.record(8, 100, start.Add(5*time.Second))
	line := out.String()
	if !regexp.MustCompile(`^3 records sent, [0-9.]+ records/sec \([0-9.]+ MB/sec\), 6\.0 ms avg latency, 8\.0 ms max latency\.\n$`).MatchString(line) {
		t.Errorf("window line %q", line)
	}
	out.Reset()
	s.printTotal()
	// All three were recorded in the same millisecond as the start, so
	// the rates may be Java's Infinity.
	if !regexp.MustCompile(`^3 records sent, ([0-9.]+|Infinity) records/sec \(([0-9.]+|Infinity) MB/sec\), 6\.00 ms avg latency, 8\.00 ms max latency, 6 ms 50th, 8 ms 95th, 8 ms 99th, 8 ms 99\.9th\.\n$`).MatchString(out.String()) {
		t.Errorf("total line %q", out.String())
	}
}

func TestThrottler(t *testing.T) {
	start := time.Now()
	th := newThrottler(-1, start)
	if th.shouldThrottle(1e9, start.Add(time.Millisecond)) {
		t.Error("unlimited throughput throttled")
	}
	th = newThrottler(100, start)
	if th.shouldThrottle(50, start.Add(time.Second)) {
		t.Error("50 records in 1 s throttled at 100/s")
	}
	if !th.shouldThrottle(500, start.Add(time.Second)) {
		t.Error("500 records in 1 s not throttled at 100/s")
	}
}

func TestParsePerfProduce(t *testing.T) {
	env := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	cfg, _, err := parsePerfProduce(env, []string{"--topic", "t", "--num-records", "10", "--record-size", "5",
		"--throughput", "-1", "--producer-props", "bootstrap.servers=h:1", "acks=1", "linger.ms=5"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.bootstrap != "h:1" || cfg.props["acks"] != "1" || cfg.props["linger.ms"] != "5" ||
		cfg.props["client.id"] != "perf-producer-client" || cfg.throughput != -1 || cfg.recordSize != 5 {
		t.Errorf("cfg = %+v", cfg)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--num-records", "1", "--record-size", "1", "--throughput", "1", "--bootstrap-server", "h:1"}, "argument --topic is required"},
		{[]string{"--topic", "t", "--num-records", "0", "--record-size", "1", "--throughput", "1", "--bootstrap-server", "h:1"}, "--num-records should be greater than zero"},
		{[]string{"--topic", "t", "--num-records", "1", "--throughput", "1", "--bootstrap-server", "h:1"}, "exactly one of --record-size"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--payload-monotonic", "--throughput", "1", "--bootstrap-server", "h:1"}, "exactly one of --record-size"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "1"}, "Either --producer-props or --producer.config must be specified."},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "x", "--bootstrap-server", "h:1"}, "could not convert 'x'"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "1", "--producer-props", "novalue"}, "Invalid property: novalue"},
		{[]string{"--topic", "t", "--num-records", "5", "--warmup-records", "5", "--record-size", "1", "--throughput", "1", "--bootstrap-server", "h:1"}, "--warmup-records must be strictly fewer"},
	} {
		if _, _, err := parsePerfProduce(env, tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.args, err, tc.want)
		}
	}
}

var (
	produceTotalRE = regexp.MustCompile(`^(\d+)( steady state)? records sent, ([0-9.]+|Infinity) records/sec \(([0-9.]+|Infinity) MB/sec\), [0-9.]+ ms avg latency, [0-9.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$`)
	consumeHeader  = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
)

func TestPerfProduceConsume(t *testing.T) {
	addr := clientToolsBroker(t)
	createToolsTopic(t, addr, "perf", 3)

	out, errOut, code := runClientTool(t, "", "perf-produce", "--topic", "perf", "--num-records", "500",
		"--record-size", "64", "--throughput", "-1", "--producer-props", "bootstrap.servers="+addr, "acks=all", "linger.ms=5")
	if code != 0 {
		t.Fatalf("perf-produce exit %d: %s", code, errOut)
	}
	m := produceTotalRE.FindStringSubmatch(strings.TrimSpace(out))
	if m == nil || m[1] != "500" {
		t.Fatalf("perf-produce output %q", out)
	}

	// The same command through `perf consume`; 500 records of 64 bytes
	// are 0.0305 MB.
	out, errOut, code = runClientTool(t, "", "perf", "consume", "--bootstrap-server", addr, "--topic", "perf",
		"--messages", "500", "--timeout", "20000")
	if code != 0 {
		t.Fatalf("perf consume exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != consumeHeader {
		t.Fatalf("perf consume output %q", out)
	}
	fields := strings.Split(lines[1], ", ")
	if len(fields) != 10 || fields[2] != "0.0305" || fields[4] != "500" || fields[6] != "0" {
		t.Errorf("perf consume line %q", lines[1])
	}
	if _, err := time.ParseInLocation("2006-01-02 15:04:05.000", fixDate(fields[0]), time.Local); err != nil {
		t.Errorf("start time %q: %v", fields[0], err)
	}

	// Asking for more than there is ends at --timeout with Kafka's
	// warning. The timeout counts from the start too (Kafka's
	// ConsumerPerformance), so it must outlast the first fetch on a
	// loaded machine or fewer than 500 are read.
	out, _, code = runClientTool(t, "", "perf-consume", "--bootstrap-server", addr, "--topic", "perf",
		"--messages", "501", "--timeout", "3000", "--hide-header")
	if code != 0 || !strings.HasPrefix(out, "WARNING: Exiting before consuming the expected number of messages: timeout (3000 ms) exceeded.") {
		t.Errorf("perf-consume short: exit %d, %q", code, out)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], ", 500, ") {
		t.Errorf("perf-consume short output %q", out)
	}
}

// fixDate turns Kafka's default "yyyy-MM-dd HH:mm:ss:SSS" into a layout
// time.Parse understands (the last colon becomes a dot).
func fixDate(s string) string {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return s
	}
	return s[:i] + "." + s[i+1:]
}

func TestPerfProduceWarmupAndPayloads(t *testing.T) {
	addr := clientToolsBroker(t)

	out, errOut, code := runClientTool(t, "", "perf", "produce", "--topic", "warm", "--num-records", "300",
		"--warmup-records", "100", "--payload-monotonic", "--throughput", "100000", "--bootstrap-server", addr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "Warmup first 100 records. Steady state results will print after the complete test summary." {
		t.Fatalf("output %q", out)
	}
	if m := produceTotalRE.FindStringSubmatch(lines[1]); m == nil || m[1] != "300" || m[2] != "" {
		t.Errorf("total line %q", lines[1])
	}
	if m := produceTotalRE.FindStringSubmatch(lines[2]); m == nil || m[1] != "200" || m[2] != " steady state" {
		t.Errorf("steady state line %q", lines[2])
	}
	// Monotonic payloads are the record numbers.
	cout, _, _ := runClientTool(t, "", "kafka-console-consumer", "--bootstrap-server", addr, "--topic", "warm",
		"--from-beginning", "--max-messages", "300", "--timeout-ms", "20000")
	got := strings.Split(strings.TrimSpace(cout), "\n")
	want := make([]string, 300)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	if !slices.Equal(got, want) {
		t.Errorf("monotonic payloads: got %d records, first %q", len(got), got[:min(3, len(got))])
	}

	// --payload-file picks among the file's payloads.
	path := filepath.Join(t.TempDir(), "payloads.txt")
	if err := os.WriteFile(path, []byte("alpha\nbeta\ngamma\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runClientTool(t, "", "perf-produce", "--topic", "files", "--num-records", "50",
		"--payload-file", path, "--throughput", "-1", "--bootstrap-server", addr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "Reading payloads from: "+path+"\nNumber of messages read: 3\n") {
		t.Errorf("output %q", out)
	}
	cout, _, _ = runClientTool(t, "", "kafka-console-consumer", "--bootstrap-server", addr, "--topic", "files",
		"--from-beginning", "--max-messages", "50", "--timeout-ms", "20000")
	vals := strings.Split(strings.TrimSpace(cout), "\n")
	if len(vals) != 50 {
		t.Fatalf("consumed %d payloads", len(vals))
	}
	for _, v := range vals {
		if v != "alpha" && v != "beta" && v != "gamma" {
			t.Fatalf("unexpected payload %q", v)
		}
	}
}

func TestPerfSubcommand(t *testing.T) {
	_, errOut, code := runClientTool(t, "", "perf", "bogus")
	if code == 0 || !strings.Contains(errOut, "expected a subcommand: produce or consume") {
		t.Errorf("exit %d, %q", code, errOut)
	}
	out, _, code := runClientTool(t, "", "perf", "--help")
	if code != 0 || !strings.Contains(out, "gregor perf produce") {
		t.Errorf("help: exit %d, %q", code, out)
	}
	out, _, code = runClientTool(t, "", "perf-consume", "--help")
	if code != 0 || !strings.Contains(out, "--show-detailed-stats") {
		t.Errorf("perf-consume --help: exit %d, %q", code, out)
	}
}
