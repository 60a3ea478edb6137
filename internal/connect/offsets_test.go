package connect

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The offsets file keeps Kafka's connect-offsets keys and values, survives
// reopening, and is replaced atomically.
func TestFileOffsetStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connect.offsets")
	s, err := OpenFileOffsetStore(path)
	if err != nil {
		t.Fatal(err)
	}
	w := newOffsetWriter("local-file-source")
	if err := w.offset(map[string]any{"filename": "test.txt"}, map[string]any{"position": int64(8)}); err != nil {
		t.Fatal(err)
	}
	if err := w.offset(map[string]any{"filename": "test.txt"}, map[string]any{"position": int64(20)}); err != nil {
		t.Fatal(err)
	}
	if err := w.offset(map[string]any{"filename": "other.txt"}, map[string]any{"position": 3, "inode": "x"}); err != nil {
		t.Fatal(err)
	}
	entries := w.take()
	if len(entries) != 2 {
		t.Fatalf("pending %d entries, want the latest per partition", len(entries))
	}
	if string(entries[0].Key) != `["local-file-source",{"filename":"test.txt"}]` || string(entries[0].Value) != `{"position":20}` {
		t.Fatalf("entry %s = %s", entries[0].Key, entries[0].Value)
	}
	if err := s.Set(entries); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format":"gregor-connect-offsets","version":1,"offsets":[` + "\n" +
		`{"key":["local-file-source",{"filename":"other.txt"}],"value":{"inode":"x","position":3}},` + "\n" +
		`{"key":["local-file-source",{"filename":"test.txt"}],"value":{"position":20}}` + "\n]}\n"
	if string(b) != want {
		t.Fatalf("file\n%s\nwant\n%s", b, want)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}

	s2, err := OpenFileOffsetStore(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := offsetReader{connector: "local-file-source", store: s2}.Offset(map[string]any{"filename": "test.txt"})
	if err != nil || !reflect.DeepEqual(got, map[string]any{"position": int64(20)}) {
		t.Fatalf("reopened offset %v %v", got, err)
	}
	if got, _ := (offsetReader{connector: "other", store: s2}).Offset(map[string]any{"filename": "test.txt"}); got != nil {
		t.Fatalf("another connector's offset leaked: %v", got)
	}
	parts, offs, err := connectorOffsets(s2, "local-file-source")
	if err != nil || len(parts) != 2 || offs[1]["position"] != int64(20) {
		t.Fatalf("%v %v %v", parts, offs, err)
	}

	// A tombstone removes the partition.
	key, _ := encodeOffsetKey("local-file-source", map[string]any{"filename": "other.txt"})
	if err := s2.Set([]OffsetEntry{{Key: key}}); err != nil {
		t.Fatal(err)
	}
	if parts, _, _ := connectorOffsets(s2, "local-file-source"); len(parts) != 1 {
		t.Fatalf("after tombstone: %v", parts)
	}
	s2.Close()
	if err := s2.Set(nil); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}

	// Non-primitive offset values are refused, as Kafka's OffsetUtils.
	if err := w.offset(map[string]any{"f": []any{1}}, nil); err == nil {
		t.Fatal("list in a source partition accepted")
	}
}

func TestFileOffsetStoreCorrupt(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbage":      "not json",
		"wrong format": `{"format":"x","version":1,"offsets":[]}`,
		"truncated":    `{"format":"gregor-connect-offsets","version":1,"offsets":[{"key":["a",{}],"value":{"p":`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(path, []byte(content), 0o644)
		if _, err := OpenFileOffsetStore(path); !errors.Is(err, ErrOffsetsFile) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A commit that fails puts its offsets back unless newer ones arrived.
func TestOffsetWriterRestore(t *testing.T) {
	w := newOffsetWriter("c")
	w.offset(map[string]any{"p": "a"}, map[string]any{"o": int64(1)})
	w.offset(map[string]any{"p": "b"}, map[string]any{"o": int64(1)})
	taken := w.take()
	w.offset(map[string]any{"p": "a"}, map[string]any{"o": int64(2)})
	w.restore(taken)
	got := map[string]string{}
	for _, e := range w.take() {
		got[string(e.Key)] = string(e.Value)
	}
	want := map[string]string{`["c",{"p":"a"}]`: `{"o":2}`, `["c",{"p":"b"}]`: `{"o":1}`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
}

func TestParseConfig(t *testing.T) {
	base := map[string]string{
		KeyConverterConfig:      "org.apache.kafka.connect.json.JsonConverter",
		ValueConverterConfig:    "JsonConverter",
		OffsetStorageFileConfig: "/tmp/x.offsets",
	}
	cfg, err := ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.BootstrapServers, []string{"localhost:9092"}) || cfg.OffsetFlushInterval.Milliseconds() != 60000 ||
		cfg.Listeners[0].String() != "http://:8083" || cfg.HeaderConverter != "org.apache.kafka.connect.storage.SimpleHeaderConverter" ||
		!cfg.TopicTracking {
		t.Fatalf("defaults %+v", cfg)
	}
	cases := map[string]string{
		KeyConverterConfig:        `Missing required configuration "key.converter" which has no default value.`,
		OffsetStorageFileConfig:   `Missing required configuration "offset.storage.file.filename" which has no default value.`,
		OffsetFlushIntervalConfig: "Invalid value 0 for configuration offset.flush.interval.ms: Value must be at least 1",
		ListenersConfig:           "Invalid value ftp://:8443 for configuration listeners: listener must be http://host:port or https://host:port",
		ValueConverterConfig:      "Invalid value com.example.Avro for configuration value.converter: Class com.example.Avro could not be found.",
	}
	for key, want := range cases {
		props := map[string]string{}
		for k, v := range base {
			props[k] = v
		}
		switch key {
		case KeyConverterConfig, OffsetStorageFileConfig:
			delete(props, key)
		case OffsetFlushIntervalConfig:
			props[key] = "0"
		case ListenersConfig:
			props[key] = "ftp://:8443"
		case ValueConverterConfig:
			props[key] = "com.example.Avro"
		}
		_, err := ParseConfig(props)
		if !errors.Is(err, ErrWorkerConfig) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%s: %v, want ...%s", key, err, want)
		}
	}
}
