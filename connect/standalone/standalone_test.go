package standalone

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/kafkatest"
)

func TestUsage(t *testing.T) {
	var stderr bytes.Buffer
	if code := mainWith(nil, &stderr); code != 1 || !strings.Contains(stderr.String(), Usage) {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if err := Run(context.Background(), nil, nil); !errors.Is(err, ErrUsage) {
		t.Fatal(err)
	}
}

// Run starts a worker from files and stops it cleanly when its context
// ends.
func TestRun(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Config("group.initial.rebalance.delay.ms", "0"))
	dir := t.TempDir()
	worker := filepath.Join(dir, "worker.properties")
	os.WriteFile(worker, []byte("bootstrap.servers="+c.Addr()+"\n"+
		"key.converter=org.apache.kafka.connect.json.JsonConverter\n"+
		"value.converter=org.apache.kafka.connect.json.JsonConverter\n"+
		"value.converter.schemas.enable=false\n"+
		"offset.storage.file.filename="+filepath.Join(dir, "offsets")+"\n"+
		"listeners=http://127.0.0.1:0\n"), 0o644)
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	os.WriteFile(in, []byte("x\n"), 0o644)
	src := filepath.Join(dir, "src.properties")
	os.WriteFile(src, []byte("name=src\nconnector.class=FileStreamSource\nfile="+in+"\ntopic=t\n"), 0o644)
	sink := filepath.Join(dir, "sink.properties")
	os.WriteFile(sink, []byte("name=snk\nconnector.class=FileStreamSink\nfile="+out+"\ntopics=t\n"), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, []string{worker, src, sink}, nil) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, _ := os.ReadFile(out); string(b) == "x\n" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the sink file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The source's position was stored at the clean stop.
	b, _ := os.ReadFile(filepath.Join(dir, "offsets"))
	if !strings.Contains(string(b), `{"key":["src",{"filename":"`+in+`"}],"value":{"position":2}}`) {
		t.Fatalf("offsets file:\n%s", b)
	}
}
