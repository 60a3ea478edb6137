package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseDeleteRecordsJSON(t *testing.T) {
	got, err := parseDeleteRecordsJSON([]byte(`{"partitions":[{"topic":"t","partition":0,"offset":3},{"topic":"u","partition":2,"offset":-1}],"version":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []recordsToDelete{{"t", 0, 3}, {"u", 2, -1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	// version defaults to 1.
	if got, err := parseDeleteRecordsJSON([]byte(`{"partitions":[]}`)); err != nil || len(got) != 0 {
		t.Errorf("no version: %v %v", got, err)
	}
	for in, want := range map[string]string{
		`not json`:                      "The input string is not a valid JSON",
		`{"version":1}`:                 "Missing partitions field",
		`{"version":2,"partitions":[]}`: "Not supported version field value 2",
		`{"partitions":[{"topic":"t","partition":0}]}`: "No such field exists: `offset`",
		`{"partitions":[{"topic":"t","partition":0,"offset":1},{"topic":"t","partition":0,"offset":2},{"topic":"t","partition":1,"offset":2},{"topic":"t","partition":1,"offset":3}]}`: "Offset json file contains duplicate topic partitions: t-0,t-1",
	} {
		if _, err := parseDeleteRecordsJSON([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func writeOffsetJSON(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "offsets.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDeleteRecordsArgumentErrors(t *testing.T) {
	const run = "\nRun 'kafka-delete-records --help' for its options.\n"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--offset-json-file", "f"}, "kafka-delete-records: Missing required argument \"[bootstrap-server]\"" + run},
		{[]string{"--bootstrap-server", "h:1"}, "kafka-delete-records: Missing required argument \"[offset-json-file]\"" + run},
		{[]string{"--bootstrap-server", "h:1", "--offset-json-file", writeOffsetJSON(t, `{"version":1}`)}, "kafka-delete-records: Missing partitions field\n"},
	} {
		r := runTool(t, append([]string{"kafka-delete-records"}, c.args...)...)
		if r.code != 1 || !sameStderr(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("%q: code %d stdout %q stderr\n%s\nwant\n%s", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
}

func TestDeleteRecords(t *testing.T) {
	addr := startTestBroker(t)
	mustRun(t, "kafka-topics", "--bootstrap-server", addr, "--create", "--topic", "events", "--partitions", "3")
	produceTo(t, addr, "events", 0, 5, 1000)
	produceTo(t, addr, "events", 1, 2, 1000)

	path := writeOffsetJSON(t, `{"partitions": [
		{"topic": "events", "partition": 1, "offset": -1},
		{"topic": "events", "partition": 0, "offset": 3},
		{"topic": "events", "partition": 2, "offset": 7}
	], "version": 1}`)
	got := mustRun(t, "kafka-delete-records", "--bootstrap-server", addr, "--offset-json-file", path)
	want := "Executing records delete operation\n" +
		"Records delete operation completed:\n" +
		"partition: events-0\tlow_watermark: 3\n" +
		"partition: events-1\tlow_watermark: 2\n" +
		"partition: events-2\terror: org.apache.kafka.common.errors.OffsetOutOfRangeException: The requested offset is not within the range of offsets maintained by the server.\n"
	if got != want {
		t.Errorf("delete-records =\n%s\nwant\n%s", got, want)
	}
	if got := mustRun(t, "kafka-get-offsets", "--bootstrap-server", addr, "--topic", "events", "--time", "earliest"); got != "events:0:3\nevents:1:2\nevents:2:0\n" {
		t.Errorf("earliest after delete = %q", got)
	}
	if got := mustRun(t, "kafka-get-offsets", "--bootstrap-server", addr, "--topic", "events"); got != "events:0:5\nevents:1:2\nevents:2:0\n" {
		t.Errorf("latest after delete = %q", got)
	}
}
