package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/internal/storage"
)

// writeServerConfig writes a server.properties into a temporary directory
// and returns its path and the directory.
func writeServerConfig(t *testing.T, lines ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "server.properties")
	content := strings.ReplaceAll(strings.Join(lines, "\n"), "$DIR", dir) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

func TestStorageRandomUUID(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{21}\n$`)
	seen := map[string]bool{}
	for range 50 {
		r := runTool(t, "kafka-storage", "random-uuid")
		if r.code != 0 || !re.MatchString(r.stdout) {
			t.Fatalf("random-uuid: %+v", r)
		}
		id, err := parseKafkaUUID(strings.TrimSpace(r.stdout))
		if err != nil || id == [16]byte{} {
			t.Fatalf("%q is not a Kafka Uuid: %v", r.stdout, err)
		}
		seen[r.stdout] = true
	}
	if len(seen) != 50 {
		t.Errorf("only %d distinct ids in 50", len(seen))
	}
}

func TestStorageFormatAndInfo(t *testing.T) {
	cfg, dir := writeServerConfig(t,
		"process.roles=broker,controller",
		"node.id=3",
		"log.dirs=$DIR/data2,$DIR/data1",
		"metadata.log.dir=$DIR/meta",
	)
	const id = "q1Sh-9_ISia_zwGINzRvyQ"

	r := runTool(t, "kafka-storage", "info", "-c", cfg)
	want := fmt.Sprintf("Found problems:\n  %[1]s/data1 does not exist\n  %[1]s/data2 does not exist\n  %[1]s/meta does not exist\n\n", dir)
	if r.code != 1 || r.stdout != want {
		t.Errorf("info before format: code %d\n%s\nwant\n%s", r.code, r.stdout, want)
	}

	r = runTool(t, "kafka-storage", "format", "-t", id, "-c", cfg, "--standalone")
	want = fmt.Sprintf("Formatting data directory %[1]s/data1 with metadata.version 4.0-IV3.\n"+
		"Formatting data directory %[1]s/data2 with metadata.version 4.0-IV3.\n"+
		"Formatting dynamic metadata voter directory %[1]s/meta with metadata.version 4.0-IV3.\n", dir)
	if r.code != 0 || r.stdout != want {
		t.Fatalf("format: code %d stderr %q\n%s\nwant\n%s", r.code, r.stderr, r.stdout, want)
	}
	var dirID string
	for _, d := range []string{"data1", "data2", "meta"} {
		m, err := storage.ReadMetaProperties(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		if m.ClusterID != id || m.NodeID != 3 || m.Version != 1 || m.DirectoryID == "" || m.DirectoryID == dirID {
			t.Errorf("%s: %+v", d, m)
		}
		if d == "data1" {
			dirID = m.DirectoryID
		}
	}

	r = runTool(t, "kafka-storage", "format", "--cluster-id", id, "--config", cfg)
	if want := "kafka-storage: Log directory " + dir + "/data1 is already formatted. Use --ignore-formatted to ignore this directory and format the others.\n"; r.code != 1 || !sameStderr(r.stderr, want) {
		t.Errorf("format again: %+v", r)
	}
	r = runTool(t, "kafka-storage", "format", "-t", id, "-c", cfg, "--ignore-formatted")
	if r.code != 0 || r.stdout != "All of the log directories are already formatted.\n" {
		t.Errorf("format -g: %+v", r)
	}
	r = runTool(t, "kafka-storage", "format", "-t", "AAAAAAAAAAAAAAAAAAAAAQ", "-c", cfg, "-g")
	if want := fmt.Sprintf("kafka-storage: Invalid cluster.id in: %s/data1/meta.properties. Expected AAAAAAAAAAAAAAAAAAAAAQ, but read %s\n", dir, id); r.code != 1 || !sameStderr(r.stderr, want) {
		t.Errorf("other cluster: %+v", r)
	}

	r = runTool(t, "kafka-storage", "info", "-c", cfg)
	want = fmt.Sprintf("Found log directories:\n  %[1]s/data1\n  %[1]s/data2\n  %[1]s/meta\n\n"+
		"Found metadata: {cluster.id=%[2]s, directory.id=%[3]s, node.id=3, version=1}\n\n", dir, id, dirID)
	if r.code != 0 || r.stdout != want {
		t.Errorf("info: code %d\n%s\nwant\n%s", r.code, r.stdout, want)
	}
}

func TestStorageFormatPartlyFormatted(t *testing.T) {
	cfg, dir := writeServerConfig(t, "node.id=1", "log.dirs=$DIR/a,$DIR/b")
	const id = "MkU3OEVBNTcwNTJENDM2Qg"
	if err := storage.FormatLogDir(filepath.Join(dir, "a"), id, 1); err != nil {
		t.Fatal(err)
	}
	r := runTool(t, "kafka-storage", "format", "-t", id, "-c", cfg, "-g", "--release-version", "3.7")
	// a is the metadata dir (first of log.dirs) and already formatted.
	want := "Formatting data directory " + dir + "/b with metadata.version 3.7-IV4.\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("format: %+v\nwant %q", r, want)
	}
	r = runTool(t, "kafka-storage", "info", "-c", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "Found metadata: {cluster.id="+id) {
		t.Errorf("info: %+v", r)
	}
}

func TestStorageFormatMetadataDirectoryKinds(t *testing.T) {
	for _, c := range []struct {
		flags []string
		kind  string
	}{
		{nil, "metadata directory"},
		{[]string{"-s"}, "dynamic metadata voter directory"},
		{[]string{"-I", "1@localhost:9093:MvDxzVmcRsaTz33bUuRU6A"}, "dynamic metadata voter directory"},
		{[]string{"--initial-controllers", "2@localhost:9093:MvDxzVmcRsaTz33bUuRU6A"}, "dynamic metadata directory"},
		{[]string{"--no-initial-controllers"}, "metadata directory"},
	} {
		cfg, dir := writeServerConfig(t, "node.id=1", "log.dirs=$DIR/logs")
		args := append([]string{"kafka-storage", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-c", cfg}, c.flags...)
		r := runTool(t, args...)
		want := "Formatting " + c.kind + " " + dir + "/logs with metadata.version 4.0-IV3.\n"
		if r.code != 0 || r.stdout != want {
			t.Errorf("%q: %+v\nwant %q", c.flags, r, want)
		}
	}
}

func TestStorageErrors(t *testing.T) {
	cfg, _ := writeServerConfig(t, "node.id=1", "log.dirs=$DIR/logs")
	brokerCfg, _ := writeServerConfig(t, "process.roles=broker", "node.id=2", "log.dirs=$DIR/logs",
		"controller.quorum.bootstrap.servers=localhost:9093", "controller.listener.names=CONTROLLER",
		"listeners=PLAINTEXT://:9092")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "kafka-storage: usage: kafka-storage [-h] {info,format,random-uuid} ...\nkafka-storage: error: too few arguments\nRun 'kafka-storage --help' for its options.\n"},
		{[]string{"bogus"}, "kafka-storage: usage: kafka-storage [-h] {info,format,random-uuid} ...\nkafka-storage: error: argument {info,format,random-uuid}: invalid choice: 'bogus' (choose from 'info', 'format', 'random-uuid')\nRun 'kafka-storage --help' for its options.\n"},
		{[]string{"format", "-t", "MkU3OEVBNTcwNTJENDM2Qg"}, "kafka-storage: argument --config/-c is required\nRun 'kafka-storage --help' for its options.\n"},
		{[]string{"format", "-c", cfg}, "kafka-storage: argument --cluster-id/-t is required\nRun 'kafka-storage --help' for its options.\n"},
		{[]string{"format", "-c", cfg, "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-s", "-N"}, "kafka-storage: argument --no-initial-controllers: not allowed with argument --standalone\nRun 'kafka-storage --help' for its options.\n"},
		{[]string{"format", "-c", cfg, "-t", "not-a-uuid"}, "kafka-storage: Cluster ID string not-a-uuid does not appear to be a valid UUID: Input string `not-a-uuid` decoded as 7 bytes, which is not equal to the expected 16 bytes of a base64-encoded UUID\n"},
		{[]string{"format", "-c", cfg, "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-r", "9.9"}, "kafka-storage: Unknown metadata.version '9.9'. Supported metadata.version are: " + strings.Join(metadataVersions, ", ") + "\n"},
		{[]string{"format", "-c", cfg, "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-r", "4.0", "-f", "metadata.version=25"}, "kafka-storage: Use --release-version instead of --feature metadata.version=X to avoid ambiguity.\n"},
		{[]string{"format", "-c", brokerCfg, "-t", "MkU3OEVBNTcwNTJENDM2Qg", "--standalone"}, "kafka-storage: You can only use --standalone on a controller.\n"},
		{[]string{"format", "-c", cfg, "-t", "MkU3OEVBNTcwNTJENDM2Qg", "--add-scram", "SCRAM-SHA-512=[name=admin,password=admin-secret]", "-S", "SCRAM-SHA-1=[name=a,password=b]"}, "kafka-storage: The add-scram mechanism SCRAM-SHA-1 is not supported.\n"},
		{[]string{"format", "-c", cfg, "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-r", "3.5-IV1", "--add-scram", "SCRAM-SHA-512=[name=admin,password=admin-secret]"}, "kafka-storage: SCRAM is only supported in metadata.version 3.5-IV2 or later.\n"},
		{[]string{"info", "-c", cfg, "extra"}, "kafka-storage: unrecognized arguments: 'extra'\nRun 'kafka-storage --help' for its options.\n"},
		{[]string{"random-uuid", "--bogus"}, "kafka-storage: --bogus is not a recognized option\nRun 'kafka-storage --help' for its options.\n"},
	} {
		r := runTool(t, append([]string{"kafka-storage"}, c.args...)...)
		if r.code != 1 || !sameStderr(r.stderr, c.want) {
			t.Errorf("%q: code %d stderr\n%s\nwant\n%s", c.args, r.code, r.stderr, c.want)
		}
	}
	// A bad --add-scram is refused before anything is written.
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "logs")); !os.IsNotExist(err) {
		t.Errorf("a refused format wrote the log dir: %v", err)
	}
	if r := runTool(t, "kafka-storage", "format", "-c", filepath.Join(t.TempDir(), "missing"), "-t", "MkU3OEVBNTcwNTJENDM2Qg"); r.code != 1 || !strings.Contains(r.stderr, "missing") {
		t.Errorf("missing config: %+v", r)
	}
}

func TestParseReleaseVersion(t *testing.T) {
	for in, want := range map[string]string{"4.0": "4.0-IV3", "3.7": "3.7-IV4", "3.9-IV0": "3.9-IV0", "3.3": "3.3-IV3"} {
		if got, err := parseReleaseVersion(in); err != nil || got != want {
			t.Errorf("%s: %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"3.2", "4", "4.0-IV9", ""} {
		if _, err := parseReleaseVersion(in); err == nil {
			t.Errorf("%q: want error", in)
		}
	}
}
