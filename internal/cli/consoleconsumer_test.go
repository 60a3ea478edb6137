package cli

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// formatterRecord is the record the formatter golden tests print.
func formatterRecord() *kgo.Record {
	return &kgo.Record{
		Topic:     "t",
		Partition: 3,
		Offset:    42,
		Timestamp: time.UnixMilli(1700000000123),
		Key:       []byte("k"),
		Value:     []byte("v"),
		Headers: []kgo.RecordHeader{
			{Key: "h1", Value: []byte("x")},
			{Key: "h2", Value: nil},
		},
	}
}

func formatOne(t *testing.T, props map[string]string, r *kgo.Record, tsType int8) (string, string, error) {
	t.Helper()
	var warn bytes.Buffer
	f := newMessageFormatter(props, &warn)
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	err := f.write(w, r, tsType)
	w.Flush()
	return out.String(), warn.String(), err
}

// Expected output follows Kafka 4's DefaultMessageFormatter: fields in
// the order timestamp, partition, offset, delivery, headers, key, value.
func TestMessageFormatterGolden(t *testing.T) {
	all := map[string]string{
		"print.timestamp": "true", "print.partition": "true", "print.offset": "true",
		"print.headers": "true", "print.key": "true",
	}
	with := func(extra ...string) map[string]string {
		m := map[string]string{}
		for k, v := range all {
			m[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		props  map[string]string
		tsType int8
		mod    func(r *kgo.Record)
		want   string
	}{
		{"default", nil, 0, nil, "v\n"},
		{"print.key", map[string]string{"print.key": "true"}, 0, nil, "k\tv\n"},
		{"print.key upper case TRUE", map[string]string{"print.key": " TRUE "}, 0, nil, "k\tv\n"},
		{"print.key not true", map[string]string{"print.key": "yes"}, 0, nil, "v\n"},
		{"print.timestamp create", map[string]string{"print.timestamp": "true"}, 0, nil, "CreateTime:1700000000123\tv\n"},
		{"print.timestamp log append", map[string]string{"print.timestamp": "true"}, 1, nil, "LogAppendTime:1700000000123\tv\n"},
		{"print.timestamp none", map[string]string{"print.timestamp": "true"}, -1, nil, "NO_TIMESTAMP\tv\n"},
		{"print.partition", map[string]string{"print.partition": "true"}, 0, nil, "Partition:3\tv\n"},
		{"print.offset", map[string]string{"print.offset": "true"}, 0, nil, "Offset:42\tv\n"},
		{"print.delivery", map[string]string{"print.delivery": "true"}, 0, nil, "Delivery:NONE\tv\n"},
		{"print.headers", map[string]string{"print.headers": "true"}, 0, nil, "h1:x,h2:null\tv\n"},
		{"print.headers none", map[string]string{"print.headers": "true"}, 0,
			func(r *kgo.Record) { r.Headers = nil }, "NO_HEADERS\tv\n"},
		{"all fields in order", all, 0, nil,
			"CreateTime:1700000000123\tPartition:3\tOffset:42\th1:x,h2:null\tk\tv\n"},
		{"print.value false ends with the line separator", with("print.value", "false"), 0, nil,
			"CreateTime:1700000000123\tPartition:3\tOffset:42\th1:x,h2:null\tk\n"},
		{"only timestamp", map[string]string{"print.timestamp": "true", "print.value": "false"}, 0, nil,
			"CreateTime:1700000000123\n"},
		{"nothing printed", map[string]string{"print.value": "false"}, 0, nil, ""},
		{"key.separator", with("key.separator", " | "), 0, nil,
			"CreateTime:1700000000123 | Partition:3 | Offset:42 | h1:x,h2:null | k | v\n"},
		{"line.separator", map[string]string{"line.separator": "<EOL>", "print.key": "true"}, 0, nil, "k\tv<EOL>"},
		{"headers.separator", map[string]string{"print.headers": "true", "headers.separator": ";"}, 0, nil, "h1:x;h2:null\tv\n"},
		{"null.literal", map[string]string{"print.key": "true", "print.headers": "true", "null.literal": "<nil>"}, 0,
			func(r *kgo.Record) { r.Key, r.Value = nil, nil }, "h1:x,h2:<nil>\t<nil>\t<nil>\n"},
		{"null key default literal", map[string]string{"print.key": "true"}, 0,
			func(r *kgo.Record) { r.Key = nil }, "null\tv\n"},
		{"empty value is not null", map[string]string{"print.key": "true"}, 0,
			func(r *kgo.Record) { r.Value = []byte{} }, "k\t\n"},
		{"key.deserializer", map[string]string{"print.key": "true",
			"key.deserializer": "org.apache.kafka.common.serialization.LongDeserializer"}, 0,
			func(r *kgo.Record) { r.Key = be64(-5) }, "-5\tv\n"},
		{"value.deserializer integer", map[string]string{
			"value.deserializer": "org.apache.kafka.common.serialization.IntegerDeserializer"}, 0,
			func(r *kgo.Record) { r.Value = be32(65536) }, "65536\n"},
		{"value.deserializer short", map[string]string{
			"value.deserializer": "org.apache.kafka.common.serialization.ShortDeserializer"}, 0,
			func(r *kgo.Record) { r.Value = be16(-300) }, "-300\n"},
		{"value.deserializer double", map[string]string{
			"value.deserializer": "org.apache.kafka.common.serialization.DoubleDeserializer"}, 0,
			func(r *kgo.Record) { r.Value = f64(2.5e-7) }, "2.5E-7\n"},
		{"value.deserializer float", map[string]string{
			"value.deserializer": "org.apache.kafka.common.serialization.FloatDeserializer"}, 0,
			func(r *kgo.Record) { r.Value = f32(0.25) }, "0.25\n"},
		{"value.deserializer uuid", map[string]string{
			"value.deserializer": "org.apache.kafka.common.serialization.UUIDDeserializer"}, 0,
			func(r *kgo.Record) { r.Value = []byte("00112233-4455-6677-8899-AABBCCDDEEFF") },
			"00112233-4455-6677-8899-aabbccddeeff\n"},
		{"value.deserializer string decodes UTF-8", map[string]string{
			"value.deserializer": "org.apache.kafka.common.serialization.StringDeserializer"}, 0,
			func(r *kgo.Record) { r.Value = []byte{'o', 0xff, 'k'} }, "o\uFFFDk\n"},
		{"no deserializer prints raw bytes", nil, 0,
			func(r *kgo.Record) { r.Value = []byte{'o', 0xff, 'k'} }, "o\xffk\n"},
		{"value.deserializer bytearray", map[string]string{
			"value.deserializer": "org.apache.kafka.common.serialization.ByteArrayDeserializer"}, 0,
			func(r *kgo.Record) { r.Value = []byte{0, 1} }, "\x00\x01\n"},
		{"value.deserializer bytes", map[string]string{
			"value.deserializer": "org.apache.kafka.common.serialization.BytesDeserializer"}, 0, nil, "v\n"},
		{"headers.deserializer", map[string]string{"print.headers": "true", "print.value": "false",
			"headers.deserializer": "org.apache.kafka.common.serialization.IntegerDeserializer"}, 0,
			func(r *kgo.Record) { r.Headers = []kgo.RecordHeader{{Key: "n", Value: be32(7)}} }, "n:7\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := formatterRecord()
			if tc.mod != nil {
				tc.mod(r)
			}
			got, warn, err := formatOne(t, tc.props, r, tc.tsType)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if warn != "" {
				t.Errorf("unexpected warning %q", warn)
			}
		})
	}
}

func TestMessageFormatterErrors(t *testing.T) {
	// A null value goes through the deserializer as null.literal.
	r := formatterRecord()
	r.Value = nil
	_, _, err := formatOne(t, map[string]string{
		"value.deserializer": "org.apache.kafka.common.serialization.LongDeserializer"}, r, 0)
	if err == nil || err.Error() != "Size of data received by LongDeserializer is not 8" {
		t.Errorf("err = %v", err)
	}

	// An unknown deserializer class is logged and the bytes are printed.
	got, warn, err := formatOne(t, map[string]string{"value.deserializer": "com.example.Nope"}, formatterRecord(), 0)
	if err != nil || got != "v\n" {
		t.Errorf("got %q, %v", got, err)
	}
	if !strings.Contains(warn, "ERROR Unable to instantiate a deserializer from com.example.Nope") {
		t.Errorf("warning %q", warn)
	}
}

func TestParseConsoleConsumer(t *testing.T) {
	parse := func(args ...string) (*consoleConsumerConfig, error) {
		env := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		cfg, _, err := parseConsoleConsumer(env, args)
		return cfg, err
	}
	base := []string{"--bootstrap-server", "127.0.0.1:1"}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--topic", "t"}, ""},
		{[]string{}, "Exactly one of these options is required: --topic, --include"},
		{[]string{"--topic", "t", "--include", "x.*"}, "Exactly one of these options is required"},
		{[]string{"--include", "x", "--partition", "0"}, "The topic is required when partition is specified."},
		{[]string{"--topic", "t", "--offset", "5"}, "The partition is required when offset is specified."},
		{[]string{"--topic", "t", "--partition", "0", "--offset", "5", "--from-beginning"}, "Options from-beginning and offset cannot be specified together."},
		{[]string{"--topic", "t", "--partition", "0", "--offset", "-3"}, "The provided offset value '-3' is incorrect."},
		{[]string{"--topic", "t", "--partition", "0", "--offset", "soon"}, "The provided offset value 'soon' is incorrect."},
		{[]string{"--topic", "t", "--group", "a", "--consumer-property", "group.id=b"}, "do not match"},
		{[]string{"--topic", "t", "--group", "a", "--partition", "0"}, "Options group and partition cannot be specified together."},
		{[]string{"--topic", "t", "--from-beginning", "--consumer-property", "auto.offset.reset=latest"}, "Can't simultaneously specify --from-beginning and 'auto.offset.reset=latest'"},
		{[]string{"--topic", "t", "--property", "a=b", "--formatter-property", "c=d"}, "cannot be specified together"},
		{[]string{"--topic", "t", "--formatter", "com.example.Fmt"}, "com.example.Fmt"},
	} {
		_, err := parse(append(append([]string(nil), base...), tc.args...)...)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.wantErr)
		}
	}
	if _, err := parse("--topic", "t"); err == nil || !strings.Contains(err.Error(), "bootstrap-server") {
		t.Errorf("missing bootstrap: %v", err)
	}

	cfg, err := parse("--bootstrap-server", "h:1", "--topic", "t", "--from-beginning", "--isolation-level", "read_committed",
		"--consumer-property", "client.id=me", "--max-messages", "7", "--timeout-ms", "1500", "--group", "g")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"auto.offset.reset": "earliest", "isolation.level": "read_committed", "client.id": "me", "group.id": "g",
	} {
		if cfg.props[k] != want {
			t.Errorf("props[%s] = %q, want %q", k, cfg.props[k], want)
		}
	}
	if cfg.maxMessages != 7 || cfg.timeout != 1500*time.Millisecond || cfg.group != "g" {
		t.Errorf("cfg = %+v", cfg)
	}

	cfg, err = parse("--bootstrap-server", "h:1", "--topic", "t", "--consumer-property", "isolation.level=read_committed")
	if err != nil {
		t.Fatal(err)
	}
	// The option's default does not override a property; latest is the
	// default start; no group without --group.
	if cfg.props["isolation.level"] != "read_committed" || cfg.props["auto.offset.reset"] != "latest" ||
		cfg.props["client.id"] != "console-consumer" || cfg.group != "" {
		t.Errorf("props = %v", cfg.props)
	}
}

func TestConsoleRoundTrip(t *testing.T) {
	addr := clientToolsBroker(t)
	createToolsTopic(t, addr, "rt", 1)

	stdin := "h1:a,h2:b\tk1\tv1\nNULL\tk2\tv2\r\nh3:NULL\tNULL\tNULL\n"
	out, errOut, code := runClientTool(t, stdin, "kafka-console-producer", "--bootstrap-server", addr, "--topic", "rt",
		"--property", "parse.key=true", "--property", "parse.headers=true", "--property", "null.marker=NULL")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("producer: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	printAll := []string{"--property", "print.key=true", "--property", "print.headers=true",
		"--property", "print.partition=true", "--property", "print.offset=true"}
	consume := func(args ...string) (string, string) {
		t.Helper()
		args = append([]string{"kafka-console-consumer", "--bootstrap-server", addr}, args...)
		out, errOut, code := runClientTool(t, "", args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		return out, errOut
	}

	out, errOut = consume(append([]string{"--topic", "rt", "--from-beginning", "--max-messages", "3"}, printAll...)...)
	want := "Partition:0\tOffset:0\th1:a,h2:b\tk1\tv1\n" +
		"Partition:0\tOffset:1\tNO_HEADERS\tk2\tv2\n" +
		"Partition:0\tOffset:2\th3:null\tnull\tnull\n"
	if out != want {
		t.Errorf("consumer output:\n%q\nwant:\n%q", out, want)
	}
	if errOut != "Processed a total of 3 messages\n" {
		t.Errorf("consumer stderr %q", errOut)
	}

	// --partition with --offset starts there.
	out, _ = consume("--topic", "rt", "--partition", "0", "--offset", "1", "--max-messages", "1", "--property", "print.key=true")
	if out != "k2\tv2\n" {
		t.Errorf("--offset 1: %q", out)
	}

	// --timeout-ms ends the consumer, with Kafka's log line. The timeout
	// also runs before the first record (Kafka's ConsoleConsumer polls
	// with it from the start), so it must outlast the first fetch on a
	// loaded machine: the test waits it out once.
	out, errOut = consume("--topic", "rt", "--partition", "0", "--offset", "earliest", "--timeout-ms", "3000",
		"--property", "print.value=false", "--property", "print.offset=true")
	if out != "Offset:0\nOffset:1\nOffset:2\n" {
		t.Errorf("--timeout-ms output %q", out)
	}
	if !strings.Contains(errOut, "ERROR Error processing message, terminating consumer process:  (org.apache.kafka.tools.consumer.ConsoleConsumer)\norg.apache.kafka.common.errors.TimeoutException\n") ||
		!strings.HasSuffix(errOut, "Processed a total of 3 messages\n") {
		t.Errorf("--timeout-ms stderr %q", errOut)
	}

	// A partition read from its end sees nothing old.
	out, errOut = consume("--topic", "rt", "--partition", "0", "--timeout-ms", "300")
	if out != "" || !strings.HasSuffix(errOut, "Processed a total of 0 messages\n") {
		t.Errorf("latest: %q, %q", out, errOut)
	}

	// --sync and a bare --compression-codec (gzip).
	_, errOut, code = runClientTool(t, "four\nfive", "kafka-console-producer", "--bootstrap-server", addr, "--topic", "rt",
		"--sync", "--compression-codec")
	if code != 0 {
		t.Fatalf("sync producer: exit %d: %s", code, errOut)
	}
	out, _ = consume("--topic", "rt", "--partition", "0", "--offset", "3", "--max-messages", "2")
	if out != "four\nfive\n" {
		t.Errorf("sync records %q", out)
	}

	// --include matches whole topic names.
	out, _ = consume("--include", "r.", "--from-beginning", "--max-messages", "5", "--property", "print.value=false",
		"--property", "print.key=true")
	if out != "k1\nk2\nnull\nnull\nnull\n" {
		t.Errorf("--include output %q", out)
	}

	// A bad line fails the producer after what came before it was sent.
	_, errOut, code = runClientTool(t, "k6\tsix\nbad\n", "kafka-console-producer", "--bootstrap-server", addr,
		"--topic", "rt", "--property", "parse.key=true")
	if code == 0 || !strings.Contains(errOut, "No key separator found on line number 2: 'bad'") {
		t.Errorf("bad line: exit %d, %q", code, errOut)
	}
	out, _ = consume("--topic", "rt", "--partition", "0", "--offset", "5", "--max-messages", "1", "--property", "print.key=true")
	if out != "k6\tsix\n" {
		t.Errorf("record before the bad line: %q", out)
	}
}

func TestConsoleConsumerDeserializeError(t *testing.T) {
	addr := clientToolsBroker(t)
	createToolsTopic(t, addr, "des", 1)
	if _, errOut, code := runClientTool(t, "abc\n", "kafka-console-producer", "--bootstrap-server", addr, "--topic", "des"); code != 0 {
		t.Fatalf("producer: %s", errOut)
	}
	longDeser := "org.apache.kafka.common.serialization.LongDeserializer"
	_, errOut, code := runClientTool(t, "", "kafka-console-consumer", "--bootstrap-server", addr, "--topic", "des",
		"--from-beginning", "--max-messages", "1", "--value-deserializer", longDeser)
	if code == 0 || !strings.Contains(errOut, "Processed a total of 1 messages\n") ||
		!strings.Contains(errOut, "Size of data received by LongDeserializer is not 8") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	// With --skip-message-on-error the record is logged and skipped.
	out, errOut, code := runClientTool(t, "", "kafka-console-consumer", "--bootstrap-server", addr, "--topic", "des",
		"--from-beginning", "--max-messages", "1", "--value-deserializer", longDeser, "--skip-message-on-error")
	if code != 0 || out != "" || !strings.Contains(errOut, "Error processing message, skipping this message: ") {
		t.Errorf("skip: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
