package testproc

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MaxLogLines bounds the stderr lines a Process keeps: past it the
// older half is dropped (and counted), so that a process logging in a
// loop cannot eat the machine's memory.
const MaxLogLines = 200000

// Process is one run of a program whose stderr is kept, line by line.
// Its methods are safe for concurrent use.
//
//	Start ──▶ Ready closed at the first line ready accepts
//	      ──▶ Done closed once the process exited and stderr is drained;
//	          State is set from then on
type Process struct {
	// Name names the process in failure messages.
	Name string
	// Cmd is the command, started by Start; use it for what Process
	// does not wrap (its pid, its environment).
	Cmd *exec.Cmd

	ready chan struct{}
	done  chan struct{}
	state *os.ProcessState // written before done is closed

	mu struct {
		sync.Mutex
		lines   []string // the newest lines of stderr, at most MaxLogLines
		dropped int      // older lines dropped from lines
	}
}

// Start starts cmd, whose Stderr must be unset, and reads its stderr in
// a goroutine that ends when the process has exited (Done). ready, if
// not nil, is called from that goroutine with each line until it
// returns true, and then Ready is closed; what ready writes before it
// returns true may be read once Ready is closed. Start fails t if cmd
// cannot start. The caller must reap the process (Close, Kill, Term or
// Stop), typically in t.Cleanup.
func Start(t testing.TB, name string, cmd *exec.Cmd, ready func(line string) bool) *Process {
	t.Helper()
	p := &Process{Name: name, Cmd: cmd, ready: make(chan struct{}), done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := ready == nil
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			if len(p.mu.lines) >= MaxLogLines {
				p.mu.lines = append(p.mu.lines[:0], p.mu.lines[MaxLogLines/2:]...)
				p.mu.dropped += MaxLogLines / 2
			}
			p.mu.lines = append(p.mu.lines, line)
			p.mu.Unlock()
			if !sent && ready(line) {
				close(p.ready)
				sent = true
			}
		}
		cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	return p
}

// Ready is closed at the first line of stderr that Start's ready
// accepted; never if there was none.
func (p *Process) Ready() <-chan struct{} { return p.ready }

// Done is closed once the process has exited and its stderr is drained.
func (p *Process) Done() <-chan struct{} { return p.done }

// State is how the process ended; nil until Done is closed.
func (p *Process) State() *os.ProcessState {
	select {
	case <-p.done:
		return p.state
	default:
		return nil
	}
}

// Exited reports whether Done is closed.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Lines returns a copy of the stderr lines kept so far (the newest
// MaxLogLines at most); the caller owns it.
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.mu.lines)
}

// Tail returns a copy of the last n lines kept and the number of lines
// stderr had in all (kept or dropped).
func (p *Process) Tail(n int) (lines []string, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	from := max(0, len(p.mu.lines)-n)
	return slices.Clone(p.mu.lines[from:]), len(p.mu.lines) + p.mu.dropped
}

// Dump logs the last n lines of stderr to t under a header with the
// name, the counts and how the process ended.
func (p *Process) Dump(t testing.TB, n int) {
	t.Helper()
	lines, total := p.Tail(n)
	t.Logf("--- %s: last %d of %d log lines, %v", p.Name, len(lines), total, p.State())
	for _, l := range lines {
		t.Log(l)
	}
}

// AwaitReady waits until Ready is closed, and fails t if the process
// exits without having been ready or within passes first (a liveness bound, not a timing
// assertion).
func (p *Process) AwaitReady(t testing.TB, within time.Duration) {
	t.Helper()
	select {
	case <-p.ready:
	case <-p.done:
		// ready is closed before done: a process that was ready and
		// then exited is ready.
		select {
		case <-p.ready:
		default:
			t.Fatalf("%s exited before it was ready: %v", p.Name, p.state)
		}
	case <-time.After(within):
		t.Fatalf("%s was not ready within %v", p.Name, within)
	}
}

// Signal sends sig (SIGSTOP, SIGCONT, ...) to the running process; it
// fails t if the process has exited.
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if p.Exited() {
		t.Fatalf("%s exited by itself before %v: %v", p.Name, sig, p.state)
	}
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v %s: %v", sig, p.Name, err)
	}
}

// Kill sends SIGKILL and waits for the process to die of it; it fails t
// if the process had already exited or ended otherwise.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	p.Signal(t, syscall.SIGKILL)
	<-p.done
	ws, ok := p.state.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s ended with %v, want death by SIGKILL", p.Name, p.state)
	}
}

// Term sends SIGTERM and waits for a clean exit (status 0); it fails t
// if the process had already exited, does not exit within, or exits
// otherwise.
func (p *Process) Term(t testing.TB, within time.Duration) {
	t.Helper()
	p.Signal(t, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s did not exit within %v of SIGTERM", p.Name, within)
	}
	if !p.state.Success() {
		t.Fatalf("%s exited with %v after SIGTERM, want status 0", p.Name, p.state)
	}
}

// Stop asks a running process to stop (SIGTERM) and waits for it to
// exit, whatever its status; if it has not within, Stop kills it, waits
// and returns false. It returns true at once if the process has exited.
func (p *Process) Stop(within time.Duration) bool {
	if p.Exited() {
		return true
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(within):
		p.Close()
		return false
	}
}

// Close kills the process if it still runs (SIGKILL works on a stopped
// one too) and waits until Done is closed. It is for cleanups: it checks
// nothing and may be called more than once.
func (p *Process) Close() {
	if !p.Exited() {
		p.Cmd.Process.Kill()
	}
	<-p.done
}
