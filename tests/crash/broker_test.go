// Package crash kills a real `gregor server` process with SIGKILL while
// producers write to it with acks=all, restarts it on the same port and
// log dir, and checks that no acknowledged record was lost and that every
// partition stays in order. It then shuts the broker down cleanly
// (SIGTERM) and checks that the restart after a clean shutdown trusts the
// log instead of recovering it.
//
// TestMain builds the gregor binary once (with -race when the test binary
// has it, so that the broker's own races are caught too). The broker's
// stderr (slog text) is kept per run and checked: no level=ERROR line, no
// race report.
//
// The run is seeded; the seed is logged, and CRASH_SEED replays a run's
// kill schedule (the interleaving with the producers still varies).
package crash

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/testnet"
	"github.com/gregor-streaming/gregor/internal/testproc"
)

// gregorBin is the binary TestMain built.
var gregorBin string

func TestMain(m *testing.M) {
	testproc.Main(m, "crash", testproc.Binary{Name: "gregor-crashtest", Package: testproc.GregorPackage, Path: &gregorBin})
}

// startDeadline bounds how long a start may take before the test gives
// up; it is a safety net, not a timing assertion.
const startDeadline = 90 * time.Second

// broker is a gregor server process that can be killed and restarted on
// the same port and log dir.
type broker struct {
	t      *testing.T
	logDir string
	props  string
	addr   string
	runs   []*run
}

// run is one process of the broker, named "run <n>".
type run struct {
	*testproc.Process
	n int
}

// newBroker writes the props file for a broker on a free loopback port
// with a new log dir. It does not start it.
func newBroker(t *testing.T) *broker {
	t.Helper()
	addr := freeAddr(t)
	dir := t.TempDir()
	b := &broker{t: t, logDir: filepath.Join(dir, "logs"), props: filepath.Join(dir, "server.properties"), addr: addr}
	props := fmt.Sprintf("node.id=1\nprocess.roles=broker,controller\nlisteners=PLAINTEXT://%s\nlog.dirs=%s\n", addr, b.logDir)
	if err := os.WriteFile(b.props, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r := b.current(); r != nil {
			r.Close()
		}
		if t.Failed() {
			b.dumpLogs()
		}
	})
	return b
}

// freeAddr returns a free loopback address whose port lies below the
// kernel's ephemeral range when it can: while the broker is down between
// a kill and its restart, a port from the ephemeral range could be handed
// to another process's connection (go test runs packages in parallel),
// and the restart would fail to bind it.
func freeAddr(t *testing.T) string {
	addr, err := testnet.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func (b *broker) current() *run {
	if len(b.runs) == 0 {
		return nil
	}
	return b.runs[len(b.runs)-1]
}

var addressRE = regexp.MustCompile(`\baddress=(\S+)`)

// start starts a new process and waits until it listens on the broker's
// address.
func (b *broker) start() *run {
	b.t.Helper()
	var listening string // set before Ready is closed
	r := &run{n: len(b.runs)}
	r.Process = testproc.Start(b.t, fmt.Sprintf("run %d", r.n), exec.Command(gregorBin, "server", b.props), func(line string) bool {
		if strings.Contains(line, "msg=listening") {
			if m := addressRE.FindStringSubmatch(line); m != nil {
				listening = m[1]
				return true
			}
		}
		return false
	})
	b.runs = append(b.runs, r)
	r.AwaitReady(b.t, startDeadline)
	if listening != b.addr {
		b.t.Fatalf("run %d listens on %s, want %s", r.n, listening, b.addr)
	}
	return r
}

// kill sends SIGKILL and waits for the process to die of it.
func (b *broker) kill() {
	b.t.Helper()
	b.current().Kill(b.t)
}

// term sends SIGTERM and waits for a clean exit (status 0).
func (b *broker) term() {
	b.t.Helper()
	b.current().Term(b.t, startDeadline)
}

// dumpLogs logs the tail of every run's stderr.
func (b *broker) dumpLogs() {
	for _, r := range b.runs {
		r.Dump(b.t, 40)
	}
}

// checkLog fails the test on lines of r's log that no healthy run may
// have: errors, and the race detector's reports.
func checkLog(t *testing.T, r *run) {
	t.Helper()
	for _, l := range r.Lines() {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "DATA RACE") || strings.HasPrefix(l, "panic:") {
			t.Errorf("run %d logged: %s", r.n, l)
		}
	}
}

// grepLog returns r's log lines that contain s.
func grepLog(r *run, s string) []string {
	var out []string
	for _, l := range r.Lines() {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// Files of Kafka's log dir layout.
const (
	cleanShutdownFile = ".kafka_cleanshutdown"
	recoveryPointFile = "recovery-point-offset-checkpoint"
)

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readCheckpoint parses an offset checkpoint file: a version line (0), a
// count line, then "topic partition offset" lines.
func readCheckpoint(path string) (map[string]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) < 2 || lines[0] != "0" {
		return nil, fmt.Errorf("%s: bad header %q", path, lines)
	}
	var n int
	if _, err := fmt.Sscan(lines[1], &n); err != nil || n != len(lines)-2 {
		return nil, fmt.Errorf("%s: count %q for %d entries", path, lines[1], len(lines)-2)
	}
	out := map[string]int64{}
	for _, l := range lines[2:] {
		var topic string
		var part int32
		var off int64
		if _, err := fmt.Sscan(l, &topic, &part, &off); err != nil {
			return nil, fmt.Errorf("%s: entry %q: %w", path, l, err)
		}
		out[fmt.Sprintf("%s-%d", topic, part)] = off
	}
	if len(out) != n {
		return nil, errors.New(path + ": duplicate entries")
	}
	return out, nil
}

// appendTornBatch appends the first bytes of a batch header to the active
// (last) segment of dir: what a crash of the machine in the middle of a
// write leaves. SIGKILL alone cannot tear a write (the page cache
// survives), so the test adds one to see the recovery at work.
func appendTornBatch(t *testing.T, dir string) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segment in %s: %v", dir, err)
	}
	sort.Strings(segs) // 20-digit zero-padded base offsets sort as numbers
	active := segs[len(segs)-1]
	f, err := os.OpenFile(active, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	torn := binary.BigEndian.AppendUint64(nil, 1<<40) // base offset
	torn = binary.BigEndian.AppendUint32(torn, 1000)  // batch length
	torn = append(torn, 0xff, 0xff, 0xff, 0xff, 2)    // leader epoch, magic
	if _, err := f.Write(torn); err != nil {
		t.Fatal(err)
	}
	return active
}
