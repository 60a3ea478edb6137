// Package testpg starts throwaway PostgreSQL servers for tests: initdb
// into a t.TempDir(), then the postgres server on a free loopback port,
// owned by the test and stopped (SIGINT: a fast shutdown) when it ends.
// It never touches the system cluster or a fixed port.
//
//	srv := testpg.Start(t)            // skips (with why) if PostgreSQL is absent
//	url := srv.CreateDatabase(t)      // a fresh, empty database for this test
//	conn, _ := pgx.Connect(ctx, url)  // postgres://postgres@127.0.0.1:PORT/DB
//
// The server binaries are looked up on PATH (initdb, postgres) and in
// /usr/lib/postgresql/*/bin, the newest version first; Debian's
// "postgresql" package provides them (scripts/install-test-deps.sh
// installs it). initdb refuses to run as root, so when the test runs as
// root the server runs as the "postgres" user, or "nobody", with its data
// directory handed over to that user. Without the binaries Start skips
// the test with a message saying so; with GREGOR_TEST_REQUIRE_POSTGRES=1
// or CI set in the environment it fails it instead, so that CI cannot
// pass by silently skipping.
//
// A package whose tests share one server keeps a Shared, started on
// first use and closed from TestMain:
//
//	var pg testpg.Shared
//	func TestMain(m *testing.M) { code := m.Run(); pg.Close(); os.Exit(code) }
//	func TestX(t *testing.T) { url := pg.Get(t).CreateDatabase(t) … }
//
// Authentication is "trust" for the superuser "postgres" on 127.0.0.1
// only (replication connections included); fsync is off; wal_level is
// logical, for change data capture tests. Servers are independent: each Start makes a new
// cluster (about a second), so a package that wants many databases
// should share one Server and call CreateDatabase per test.
package testpg

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Errors of testpg.
var (
	// ErrNoBinaries is returned by New when initdb or postgres cannot be
	// found.
	ErrNoBinaries = errors.New("testpg: PostgreSQL server binaries (initdb, postgres) not found; install Debian's postgresql package (scripts/install-test-deps.sh does)")
	// ErrNotReady is returned by New when the server did not accept
	// connections in time.
	ErrNotReady = errors.New("testpg: server did not become ready")
)

// Server is a running PostgreSQL server. Its methods are safe for
// concurrent use.
type Server struct {
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Dir is the data directory.
	Dir string

	bin  string
	cmd  *exec.Cmd
	cred *syscall.Credential
	logs *bytes.Buffer // server output; guarded by logMu
	dbs  atomic.Int64

	logMu   sync.Mutex
	stopped chan struct{} // closed when the server process exited
	waitErr error         // set before stopped is closed
}

// Start starts a server for t and stops it when t ends. It skips t when
// PostgreSQL is not installed (fails it under CI or
// GREGOR_TEST_REQUIRE_POSTGRES=1) and fails t on any other error.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New(t.TempDir())
	if errors.Is(err, ErrNoBinaries) {
		if os.Getenv("GREGOR_TEST_REQUIRE_POSTGRES") == "1" || os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("testpg: stop server: %v", err)
		}
	})
	return s
}

// Shared is a server shared by the tests of one test binary, started by
// the first Get. The zero Shared is ready to use; Close it from TestMain.
type Shared struct {
	mu  sync.Mutex
	srv *Server
	dir string
	err error
}

// Get returns the shared server, starting it on first use. Like Start it
// skips t when PostgreSQL is not installed (fails it under CI or
// GREGOR_TEST_REQUIRE_POSTGRES=1) and fails t if the server cannot start.
func (s *Shared) Get(t testing.TB) *Server {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil && s.err == nil {
		s.dir, s.err = os.MkdirTemp("", "testpg-")
		if s.err == nil {
			s.srv, s.err = New(s.dir)
		}
	}
	if errors.Is(s.err, ErrNoBinaries) {
		if os.Getenv("GREGOR_TEST_REQUIRE_POSTGRES") == "1" || os.Getenv("CI") != "" {
			t.Fatal(s.err)
		}
		t.Skip(s.err.Error())
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.srv
}

// Close stops the server, if it was started, and removes its directory.
func (s *Shared) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.srv != nil {
		err = s.srv.Close()
		s.srv = nil
	}
	if s.dir != "" {
		if rerr := os.RemoveAll(s.dir); err == nil {
			err = rerr
		}
		s.dir = ""
	}
	s.err = errors.New("testpg: shared server closed")
	return err
}

// New runs initdb in dir/data and starts the server. The caller must
// Close it.
func New(dir string) (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, Dir: filepath.Join(dir, "data"), logs: new(bytes.Buffer), stopped: make(chan struct{})}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return nil, err
		}
		s.cred = cred
		// The server's user must reach dir: open the path to it for
		// traversal and hand dir itself over.
		for p := dir; p != "/" && p != "."; p = filepath.Dir(p) {
			fi, err := os.Stat(p)
			if err != nil {
				return nil, err
			}
			if fi.Mode().Perm()&0o001 == 0 {
				if err := os.Chmod(p, fi.Mode().Perm()|0o011); err != nil {
					return nil, err
				}
			}
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.Dir, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	s.prepare(initdb)
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testpg: initdb: %w\n%s", err, out)
	}
	// A free port can be taken by someone else before the server binds
	// it; try a few.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		err = s.start(port)
		if err == nil {
			return s, nil
		}
		if attempt == 4 || !strings.Contains(s.Logs(), "could not bind") {
			return nil, err
		}
		s.logMu.Lock()
		s.logs.Reset()
		s.logMu.Unlock()
		s.stopped = make(chan struct{})
	}
}

// prepare makes cmd run as the server's user, in a clean environment.
func (s *Server) prepare(cmd *exec.Cmd) {
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC", "HOME=" + s.Dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
}

type logWriter struct{ s *Server }

func (w logWriter) Write(p []byte) (int, error) {
	w.s.logMu.Lock()
	defer w.s.logMu.Unlock()
	return w.s.logs.Write(p)
}

// start starts postgres on port and waits until it accepts connections.
func (s *Server) start(port int) error {
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.Dir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=50", "-c", "shared_buffers=16MB",
		"-c", "wal_level=logical", "-c", "max_wal_senders=10", "-c", "max_replication_slots=10",
		"-c", "log_min_messages=warning")
	s.prepare(cmd)
	cmd.Stdout, cmd.Stderr = logWriter{s}, logWriter{s}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testpg: start postgres: %w", err)
	}
	s.cmd, s.Port = cmd, port
	stopped := s.stopped
	go func() {
		s.waitErr = cmd.Wait()
		close(stopped)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			c.Close()
			// Accepting TCP is not accepting sessions: wait for the
			// startup to finish ("ready to accept connections" is
			// logged at LOG level, which we do not print), by
			// checking that the pid file says "ready".
			if s.ready() {
				return nil
			}
		}
		select {
		case <-stopped:
			return fmt.Errorf("testpg: postgres exited: %v\n%s", s.waitErr, s.Logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Close()
			return fmt.Errorf("%w after 60s\n%s", ErrNotReady, s.Logs())
		}
	}
}

// ready reports whether postmaster.pid's status line says "ready".
func (s *Server) ready() bool {
	b, err := os.ReadFile(filepath.Join(s.Dir, "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	return len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready"
}

// Addr returns "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL returns the URL of database db as the superuser "postgres".
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", s.Addr(), db)
}

// JDBCURL returns the JDBC URL of database db ("jdbc:postgresql://…").
func (s *Server) JDBCURL(db string) string {
	return fmt.Sprintf("jdbc:postgresql://%s/%s", s.Addr(), db)
}

// CreateDatabase creates a new empty database and returns its URL. The
// database is dropped with the server.
func (s *Server) CreateDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test%d", s.dbs.Add(1))
	if out, err := s.Psql("postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testpg: create database: %v\n%s", err, out)
	}
	return s.URL(name)
}

// Psql runs SQL in database db with psql and returns its output (rows
// unaligned, without headers, fields separated by "|").
func (s *Server) Psql(db, sql string) (string, error) {
	cmd := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "postgres", "-d", db, "-c", sql)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "PGCONNECT_TIMEOUT=10"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Logs returns what the server printed (warnings and errors).
func (s *Server) Logs() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.logs.String()
}

// Close stops the server with a fast shutdown and waits for it.
func (s *Server) Close() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.stopped:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.stopped:
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.stopped
		return errors.New("testpg: postgres did not stop in 30s; killed")
	}
}

// findBinaries returns the directory holding initdb, postgres and psql.
func findBinaries() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres", "psql"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// unprivileged returns the credentials to run the server with as root:
// the "postgres" user if there is one, else "nobody".
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("testpg: running as root and there is neither a postgres nor a nobody user to run PostgreSQL as (initdb refuses root)")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
