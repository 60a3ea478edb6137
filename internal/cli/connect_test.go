package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConnectStandaloneUsage(t *testing.T) {
	r := runTool(t, "connect-standalone")
	if r.code == 0 || !strings.Contains(r.stderr, "Usage: ConnectStandalone worker.properties [connector1.properties connector2.json ...]") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = runTool(t, "connect-standalone", "--nope", "w.properties")
	if r.code == 0 || !strings.Contains(r.stderr, "unknown option --nope") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = runTool(t, "connect-standalone", filepath.Join(t.TempDir(), "missing.properties"))
	if r.code == 0 || !strings.Contains(r.stderr, "read worker config") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// gregor connect-standalone runs until its context ends (SIGINT/SIGTERM in
// Main) and exits 0 after a clean stop; connectors come from .properties
// and .json files.
func TestConnectStandaloneRuns(t *testing.T) {
	addr := startTestBroker(t)
	dir := t.TempDir()
	worker := filepath.Join(dir, "worker.properties")
	os.WriteFile(worker, []byte("bootstrap.servers="+addr+"\n"+
		"key.converter=org.apache.kafka.connect.storage.StringConverter\n"+
		"value.converter=org.apache.kafka.connect.storage.StringConverter\n"+
		"offset.storage.file.filename="+filepath.Join(dir, "offsets")+"\n"+
		"listeners=http://127.0.0.1:0\n"), 0o644)
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	os.WriteFile(in, []byte("x\ny\n"), 0o644)
	source := filepath.Join(dir, "source.properties")
	os.WriteFile(source, []byte("name=src\nconnector.class=FileStreamSource\nfile="+in+"\ntopic=cli-test\n"), 0o644)
	sink := filepath.Join(dir, "sink.json")
	os.WriteFile(sink, []byte(`{"name":"snk","config":{"connector.class":"FileStreamSink","file":"`+out+`","topics":"cli-test"}}`), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan toolResult, 1)
	go func() {
		var stdout, stderr strings.Builder
		env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
		code := Run(ctx, env, []string{"connect-standalone", worker, source, sink})
		done <- toolResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, _ := os.ReadFile(out); string(b) == "x\ny\n" {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("exited early: %d %s", r.code, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the sink file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if r := <-done; r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}
