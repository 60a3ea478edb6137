package connect

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadConnectorFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.json")
	os.WriteFile(path, []byte(`{"name":"j","config":{"connector.class":"FileStreamSink","tasks.max":2,"topics":"t"},"initial_state":"PAUSED"}`), 0o644)
	spec, err := ReadConnectorFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "j" || spec.Config["tasks.max"] != "2" || spec.InitialState != TargetPaused {
		t.Fatalf("%+v", spec)
	}
	os.WriteFile(path, []byte(`{"name":"j","config":{"a":[1]}}`), 0o644)
	if _, err := ReadConnectorFile(path); err == nil {
		t.Fatal("a list value was accepted")
	}
	props := filepath.Join(dir, "c.properties")
	os.WriteFile(props, []byte("name=p\nfile=a\\\n  b.txt\n"), 0o644)
	spec, err = ReadConnectorFile(props)
	if err != nil || spec.Config["name"] != "p" || spec.Config["file"] != "ab.txt" {
		t.Fatalf("%+v %v", spec, err)
	}
}
