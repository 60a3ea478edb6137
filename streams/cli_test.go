package streams_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/gregor-streaming/gregor/internal/cli"
)

// syncBuffer is a bytes.Buffer safe for the command's goroutine and the
// test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStreamsWordCountCommand runs `gregor streams wordcount` as the
// README's quickstart does, until its context ends (SIGINT/SIGTERM in
// the real binary).
func TestStreamsWordCountCommand(t *testing.T) {
	c := startBroker(t)
	createTopic(t, c.Addr(), "quickstart-events", 1)
	in, want := lines(0, 40)
	produce(t, c.Addr(), "quickstart-events", in)

	var out, errOut syncBuffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Logger: quiet}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, env, []string{"streams", "wordcount", "--bootstrap-server", c.Addr(), "--state-dir", t.TempDir()})
	}()
	got := latestCounts(t, c.Addr(), "output-topic", false, atLeast(want))
	assertExact(t, got, want)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "quickstart-events into output-topic") {
		t.Fatalf("stderr %q", errOut.String())
	}
}

func TestStreamsCommandUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"streams"}, "missing application"},
		{[]string{"streams", "nope"}, `unknown application "nope"`},
		{[]string{"streams", "wordcount"}, "missing required argument \"[bootstrap-server]\""},
		{[]string{"streams", "wordcount", "--bootstrap-server", "x:1", "--processing-guarantee", "exactly_once"}, "--processing-guarantee must be"},
	} {
		var out, errOut syncBuffer
		env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Logger: quiet}
		if code := cli.Run(context.Background(), env, c.args); code != 1 || !strings.Contains(errOut.String(), c.want) {
			t.Fatalf("%v: exit %d, stderr %q; want %q", c.args, code, errOut.String(), c.want)
		}
	}
	var out syncBuffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Logger: quiet}
	if code := cli.Run(context.Background(), env, []string{"streams", "wordcount", "--help"}); code != 0 || !strings.Contains(out.String(), "--input-topic") {
		t.Fatalf("help: %d %q", code, out.String())
	}
}
