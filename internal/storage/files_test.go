package storage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/internal/uuid"
)

func TestUUIDText(t *testing.T) {
	var zero [16]byte
	if got := uuid.Format(zero); got != "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatalf("zero uuid %q", got)
	}
	// A topic ID as Kafka prints it (kafka-topics --describe).
	const s = "LxoZYmB_QRuILdGQYMONVw"
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if uuid.Format(id) != s {
		t.Fatalf("round trip %q", uuid.Format(id))
	}
	if id2, err := uuid.Parse(s + "=="); err != nil || id2 != id {
		t.Fatalf("padded form: %v", err)
	}
	for _, bad := range []string{"", "abc", s + "A", "LxoZYmB/QRuILdGQYMONVw", s + "==="} {
		if _, err := uuid.Parse(bad); err == nil {
			t.Errorf("uuid.Parse(%q) succeeded", bad)
		}
	}
	for range 200 {
		id := uuid.New()
		txt := uuid.Format(id)
		if len(txt) != 22 || strings.HasPrefix(txt, "-") || id[6]>>4 != 4 || id[8]>>6 != 2 {
			t.Fatalf("NewUUID %x (%s)", id, txt)
		}
	}
}

func TestMetaProperties(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	_, err := ReadMetaProperties(dir)
	wantErr(t, err, ErrNotFormatted)
	if err := FormatLogDir(dir, "MkU3OEVBNTcwNTJENDM2Qk", 3); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMetaProperties(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.ClusterID != "MkU3OEVBNTcwNTJENDM2Qk" || m.NodeID != 3 || m.DirectoryID == "" {
		t.Fatalf("read %+v", m)
	}
	data, _ := os.ReadFile(filepath.Join(dir, MetaPropertiesFile))
	lines := strings.Split(string(data), "\n")
	if lines[0] != "#" || !strings.HasPrefix(lines[1], "#") ||
		!strings.Contains(string(data), "\ncluster.id=MkU3OEVBNTcwNTJENDM2Qk\n") ||
		!strings.Contains(string(data), "\nnode.id=3\n") || !strings.Contains(string(data), "\nversion=1\n") ||
		!strings.Contains(string(data), "\ndirectory.id="+m.DirectoryID+"\n") {
		t.Fatalf("meta.properties:\n%s", data)
	}
	// Formatting again for the same cluster keeps the directory id.
	if err := FormatLogDir(dir, "MkU3OEVBNTcwNTJENDM2Qk", 3); err != nil {
		t.Fatal(err)
	}
	if m2, _ := ReadMetaProperties(dir); m2.DirectoryID != m.DirectoryID {
		t.Fatal("reformat changed directory.id")
	}
	wantErr(t, FormatLogDir(dir, "other", 3), ErrInconsistentClusterID)
	if err := FormatLogDir(dir, "MkU3OEVBNTcwNTJENDM2Qk", 4); err == nil {
		t.Fatal("node id change accepted")
	}

	// A file as Kafka writes it.
	kafka := "#\n#Thu Jan 09 10:00:00 UTC 2025\nnode.id=1\ndirectory.id=ZAIlZzk-RMuyKeVTfnGzQg\nversion=1\ncluster.id=4L6g3nShT-eMCtK--X86sw\n"
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, MetaPropertiesFile), []byte(kafka), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err = ReadMetaProperties(dir2)
	if err != nil || m.NodeID != 1 || m.ClusterID != "4L6g3nShT-eMCtK--X86sw" || m.DirectoryID != "ZAIlZzk-RMuyKeVTfnGzQg" {
		t.Fatalf("kafka file: %+v, %v", m, err)
	}
}

func TestOffsetCheckpointFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), RecoveryPointCheckpointFile)
	offsets := map[TopicPartition]int64{{"b", 1}: 20, {"a", 10}: 5, {"a", 2}: 7}
	if err := writeOffsetCheckpoint(path, offsets); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != "0\n3\na 2 7\na 10 5\nb 1 20\n" {
		t.Fatalf("checkpoint %q", data)
	}
	got, err := readOffsetCheckpoint(path)
	if err != nil || len(got) != 3 || got[TopicPartition{"a", 10}] != 5 {
		t.Fatalf("read back %v, %v", got, err)
	}
	if got, err := readOffsetCheckpoint(path + ".missing"); err != nil || len(got) != 0 {
		t.Fatalf("missing file: %v, %v", got, err)
	}
	for _, bad := range []string{"1\n0\n", "0\n2\na 1 1\n", "0\n1\na 1\n", "0\n1\na x 1\n", "0\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readOffsetCheckpoint(path); !IsCorruption(err) {
			t.Errorf("%q: %v, want corruption", bad, err)
		}
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("tmp file left behind")
	}
}

func TestCleanShutdownFile(t *testing.T) {
	dir := t.TempDir()
	if ok, _ := readCleanShutdownFile(dir); ok {
		t.Fatal("marker found in an empty dir")
	}
	if err := writeCleanShutdownFile(dir, 42); err != nil {
		t.Fatal(err)
	}
	if ok, epoch := readCleanShutdownFile(dir); !ok || epoch != 42 {
		t.Fatalf("marker: %v, %d", ok, epoch)
	}
	// Older brokers wrote an empty marker.
	if err := os.WriteFile(filepath.Join(dir, CleanShutdownFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, epoch := readCleanShutdownFile(dir); !ok || epoch != -1 {
		t.Fatalf("empty marker: %v, %d", ok, epoch)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mut := range []func(*Config){
		func(c *Config) { c.SegmentBytes = 10 },
		func(c *Config) { c.SegmentBytes = 1 << 31 },
		func(c *Config) { c.SegmentMs = 0 },
		func(c *Config) { c.IndexIntervalBytes = -1 },
		func(c *Config) { c.SegmentIndexBytes = 3 },
		func(c *Config) { c.RetentionMs = -2 },
		func(c *Config) { c.RetentionBytes = -2 },
		func(c *Config) { c.FlushMessages = 0 },
		func(c *Config) { c.FlushMs = -1 },
		func(c *Config) { c.FileDeleteDelayMs = -1 },
	} {
		c := DefaultConfig()
		mut(&c)
		wantErr(t, c.Validate(), ErrInvalidConfig)
	}
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	bad := testConfig()
	bad.SegmentBytes = 1
	l.SetConfig(bad)
	if l.Config().SegmentBytes == 1 {
		t.Fatal("invalid config applied")
	}
	good := testConfig()
	good.RetentionMs = 5
	l.SetConfig(good)
	if l.Config().RetentionMs != 5 {
		t.Fatal("config not applied")
	}
}

func TestParseTopicPartition(t *testing.T) {
	for name, want := range map[string]bool{
		"orders-0": true, "my-topic-12": true, "__consumer_offsets-49": true,
		"orders": false, "orders-": false, "-1": false, "orders-x": false,
		"orders-0.0123456789abcdef0123456789abcdef-delete": false, "orders-3.abc-future": false,
	} {
		if _, ok := parseTopicPartition(name); ok != want {
			t.Errorf("parseTopicPartition(%q) ok = %v", name, ok)
		}
	}
	if tp, _ := parseTopicPartition("my-topic-12"); tp != (TopicPartition{"my-topic", 12}) {
		t.Errorf("got %v", tp)
	}
}

func TestCorruptionMarking(t *testing.T) {
	if MarkCorruption(nil) != nil {
		t.Fatal("MarkCorruption(nil) != nil")
	}
	err := MarkCorruption(os.ErrNotExist)
	if !IsCorruption(err) || !IsCorruption(MarkCorruption(err)) {
		t.Fatal("not marked")
	}
	if IsCorruption(os.ErrNotExist) {
		t.Fatal("unmarked error is corruption")
	}
	if err.Error() != "storage: corruption: file does not exist" {
		t.Fatalf("message %q", err)
	}
}
