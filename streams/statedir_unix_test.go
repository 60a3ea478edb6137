//go:build unix

package streams

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gregor-streaming/gregor/streams/serde"
)

// TestStateDirLockHolder is the other process of TestStateDirLocked: it
// locks the directory named by its environment and waits for stdin to
// close.
func TestStateDirLockHolder(t *testing.T) {
	dir := os.Getenv("GREGOR_STREAMS_LOCK_DIR")
	if dir == "" {
		t.Skip("the helper process of TestStateDirLocked")
	}
	f, err := lockStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	os.Stdout.WriteString("locked\n")
	bufio.NewReader(os.Stdin).ReadString('\n')
}

// TestStateDirLocked: while another process holds an application's state
// directory, New refuses it with ErrStateDirLocked; once that process is
// gone (its lock dies with it) New takes it. Apps of one process may
// share a directory.
func TestStateDirLocked(t *testing.T) {
	b := NewBuilder()
	Stream(b, "in", serde.String(), serde.String()).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	appDir := filepath.Join(base, "locked-app")
	if err := os.MkdirAll(appDir, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := []Opt{ApplicationID("locked-app"), BootstrapServers("127.0.0.1:1"), StateDir(base)}

	cmd := exec.Command(os.Args[0], "-test.run=^TestStateDirLockHolder$")
	cmd.Env = append(os.Environ(), "GREGOR_STREAMS_LOCK_DIR="+appDir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("lock holder printed %q, %v", line, err)
	}

	if _, err := New(topo, opts...); !errors.Is(err, ErrStateDirLocked) {
		t.Fatalf("New with the state dir locked by another process: %v, want ErrStateDirLocked", err)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("lock holder: %v", err)
	}
	a, err := New(topo, opts...)
	if err != nil {
		t.Fatalf("New after the other process ended: %v", err)
	}
	a2, err := New(topo, opts...)
	if err != nil {
		t.Fatalf("a second App of the same process: %v", err)
	}
	for _, app := range []*App{a, a2} {
		if err := app.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
