package testproc

import (
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bound is a liveness guard for the waits below, not a timing assertion.
const bound = 30 * time.Second

func TestProcessReadyLinesKill(t *testing.T) {
	var word string
	p := Start(t, "sh", exec.Command("sh", "-c", "echo one >&2; echo ready=yes >&2; exec sleep 60"), func(line string) bool {
		if v, ok := strings.CutPrefix(line, "ready="); ok {
			word = v
			return true
		}
		return false
	})
	t.Cleanup(p.Close)
	p.AwaitReady(t, bound)
	if word != "yes" {
		t.Fatalf("ready saw %q, want yes", word)
	}
	if got := p.Lines(); !slices.Equal(got, []string{"one", "ready=yes"}) {
		t.Fatalf("lines %q", got)
	}
	if p.Exited() || p.State() != nil {
		t.Fatal("exited before the kill")
	}
	p.Kill(t)
	ws := p.State().Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("state %v", p.State())
	}
	if tail, total := p.Tail(1); !slices.Equal(tail, []string{"ready=yes"}) || total != 2 {
		t.Fatalf("tail %q of %d", tail, total)
	}
	p.AwaitReady(t, bound) // ready, then exited: still ready
	p.Close()              // after the exit: returns at once
}

func TestProcessTermAndStop(t *testing.T) {
	script := `trap 'echo bye >&2; exit 0' TERM; echo up >&2; while :; do sleep 0.05; done`
	up := func(l string) bool { return l == "up" }
	p := Start(t, "clean", exec.Command("sh", "-c", script), up)
	t.Cleanup(p.Close)
	p.AwaitReady(t, bound)
	p.Term(t, bound)
	if !p.State().Success() || !slices.Contains(p.Lines(), "bye") {
		t.Fatalf("state %v, lines %q", p.State(), p.Lines())
	}
	if !p.Stop(bound) {
		t.Fatal("Stop of an exited process is not true")
	}

	// A process that ignores SIGTERM is killed by Stop.
	q := Start(t, "stubborn", exec.Command("sh", "-c", `trap '' TERM; echo up >&2; while :; do sleep 0.05; done`), up)
	t.Cleanup(q.Close)
	q.AwaitReady(t, bound)
	if q.Stop(100 * time.Millisecond) {
		t.Fatalf("Stop reports a clean stop of a process that ignores SIGTERM: %v", q.State())
	}
	if !q.Exited() {
		t.Fatal("Stop returned before the process exited")
	}
}

func TestProcessExitsBeforeReady(t *testing.T) {
	ft := &fakeT{TB: t}
	p := Start(t, "short", exec.Command("sh", "-c", "echo nope >&2; exit 3"), func(string) bool { return false })
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.AwaitReady(ft, bound)
	}()
	<-done
	if !strings.Contains(ft.fatal, "short exited before it was ready") {
		t.Fatalf("AwaitReady failed with %q", ft.fatal)
	}
	if p.State().ExitCode() != 3 {
		t.Fatalf("state %v", p.State())
	}
}

// fakeT records a Fatalf and ends the goroutine, as testing.T does.
type fakeT struct {
	testing.TB
	fatal string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
