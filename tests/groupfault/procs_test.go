package groupfault

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/testnet"
	"github.com/gregor-streaming/gregor/internal/testproc"
)

// Binaries TestMain built.
var (
	gregorBin   string
	consumerBin string
)

func TestMain(m *testing.M) {
	testproc.Main(m, "groupfault",
		testproc.Binary{Name: "gregor-groupfaulttest", Package: testproc.GregorPackage, Path: &gregorBin},
		testproc.Binary{Name: "groupfault-consumer", Package: "github.com/gregor-streaming/gregor/tests/groupfault/consumer", Path: &consumerBin})
}

// startDeadline bounds process starts; a safety net, not an assertion.
const startDeadline = 90 * time.Second

var addressRE = regexp.MustCompile(`\baddress=(\S+)`)

// broker is one gregor server process.
type broker struct {
	*testproc.Process
	addr string
}

// startBroker starts a single-node broker+controller on a free port and
// waits for its "listening" log line. Cleanup stops it with SIGTERM and
// fails the test on error lines or race reports in its log.
func startBroker(t *testing.T) *broker {
	t.Helper()
	addr, err := testnet.Addr()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	props := filepath.Join(dir, "server.properties")
	text := fmt.Sprintf("node.id=1\nprocess.roles=broker,controller\nlisteners=PLAINTEXT://%s\nlog.dirs=%s\n"+
		"offsets.topic.replication.factor=1\ngroup.initial.rebalance.delay.ms=0\n", addr, filepath.Join(dir, "logs"))
	if err := os.WriteFile(props, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var listening string // set before Ready is closed
	b := &broker{addr: addr}
	b.Process = testproc.Start(t, "broker", exec.Command(gregorBin, "server", props), func(line string) bool {
		if strings.Contains(line, "msg=listening") {
			if m := addressRE.FindStringSubmatch(line); m != nil {
				listening = m[1]
				return true
			}
		}
		return false
	})
	t.Cleanup(func() {
		b.Stop(startDeadline)
		for _, l := range b.Lines() {
			if strings.Contains(l, "level=ERROR") || strings.Contains(l, "DATA RACE") || strings.HasPrefix(l, "panic:") {
				t.Errorf("broker logged: %s", l)
			}
		}
		if t.Failed() {
			b.Dump(t, 60)
		}
	})
	b.AwaitReady(t, startDeadline)
	if listening != addr {
		t.Fatalf("broker listens on %s, want %s", listening, addr)
	}
	return b
}

// event is one line of a consumer's stdout (see consumer/main.go).
type event struct {
	Ev      string           `json:"ev"`
	TS      int64            `json:"ts"`
	Parts   []int32          `json:"parts"`
	P       int32            `json:"p"`
	O       int64            `json:"o"`
	V       string           `json:"v"`
	Offsets map[string]int64 `json:"offsets"`
	Err     string           `json:"err"`

	member string // set by the reader
}

// member is one consumer process.
type member struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once exited and stdout drained

	mu struct {
		sync.Mutex
		events   []event
		owned    map[int32]bool
		consumed int
		killedAt int64 // ts of the SIGKILL; 0 while alive
		stderr   strings.Builder
	}
}

// startMember starts a consumer process and reads its events.
func startMember(t *testing.T, name, addr, group, topic string) *member {
	t.Helper()
	m := &member{name: name, done: make(chan struct{})}
	m.mu.owned = map[int32]bool{}
	m.cmd = exec.Command(consumerBin, "-brokers", addr, "-group", group, "-topic", topic)
	m.cmd.Stderr = &lockedWriter{m: m}
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				// A SIGKILL can cut the last line short.
				continue
			}
			ev.member = name
			m.mu.Lock()
			m.mu.events = append(m.mu.events, ev)
			switch ev.Ev {
			case "assigned":
				for _, p := range ev.Parts {
					m.mu.owned[p] = true
				}
			case "revoked", "lost":
				for _, p := range ev.Parts {
					delete(m.mu.owned, p)
				}
			case "record":
				m.mu.consumed++
			}
			m.mu.Unlock()
		}
		m.cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() {
		select {
		case <-m.done:
		default:
			m.cmd.Process.Kill()
			<-m.done
		}
		if t.Failed() {
			m.mu.Lock()
			if s := m.mu.stderr.String(); s != "" {
				t.Logf("--- %s stderr:\n%s", name, s)
			}
			m.mu.Unlock()
		}
	})
	return m
}

type lockedWriter struct{ m *member }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.m.mu.stderr.Len() < 64<<10 {
		w.m.mu.stderr.Write(p)
	}
	return len(p), nil
}

func (m *member) owned() map[int32]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[int32]bool, len(m.mu.owned))
	for p := range m.mu.owned {
		out[p] = true
	}
	return out
}

func (m *member) consumedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.consumed
}

func (m *member) events() []event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.mu.events)
}

// kill sends SIGKILL and waits for the process to die of it.
func (m *member) kill(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	m.mu.killedAt = time.Now().UnixNano()
	m.mu.Unlock()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", m.name, err)
	}
	<-m.done
	ws, ok := m.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s ended with %v, want death by SIGKILL", m.name, m.cmd.ProcessState)
	}
}

func (m *member) killedAt() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.killedAt
}

// term sends SIGTERM; wait reports the exit.
func (m *member) term(t *testing.T) {
	t.Helper()
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM %s: %v", m.name, err)
	}
}

func (m *member) wait(t *testing.T) {
	t.Helper()
	select {
	case <-m.done:
	case <-time.After(startDeadline):
		t.Fatalf("%s did not exit within %v of SIGTERM", m.name, startDeadline)
	}
	if !m.cmd.ProcessState.Success() {
		t.Errorf("%s exited with %v after SIGTERM, want status 0", m.name, m.cmd.ProcessState)
	}
}
