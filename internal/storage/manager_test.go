package storage

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/uuid"
)

const testCluster = "MkU3OEVBNTcwNTJENDM2Qk"

func formatDirs(t *testing.T, n int) []string {
	t.Helper()
	root := t.TempDir()
	var dirs []string
	for i := range n {
		d := filepath.Join(root, "logs"+string(rune('a'+i)))
		if err := FormatLogDir(d, testCluster, 1); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}

func openManager(t *testing.T, dirs []string, opts ManagerOptions) *Manager {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	m, err := OpenManager(dirs, opts, func(string) Config { return testConfig() })
	if err != nil {
		t.Fatalf("OpenManager: %v", err)
	}
	return m
}

func TestManagerLifecycle(t *testing.T) {
	dirs := formatDirs(t, 2)
	m := openManager(t, dirs, ManagerOptions{BrokerEpoch: func() int64 { return 77 }})
	if m.ClusterID() != testCluster || m.NodeID() != 1 {
		t.Fatalf("cluster %q node %d", m.ClusterID(), m.NodeID())
	}
	if _, ok := m.PreviousBrokerEpoch(); ok {
		t.Fatal("previous broker epoch on a fresh dir")
	}
	id := uuid.New()
	var created []*Log
	for p := range int32(4) {
		l, err := m.GetOrCreate("orders", p, id, testConfig())
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, l)
	}
	// Partitions are spread over the dirs with the fewest partitions.
	for _, d := range dirs {
		entries, _ := os.ReadDir(d)
		n := 0
		for _, e := range entries {
			if e.IsDir() {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%s has %d partitions", d, n)
		}
	}
	again, err := m.GetOrCreate("orders", 0, id, testConfig())
	if err != nil || again != created[0] {
		t.Fatalf("GetOrCreate existing: %v", err)
	}
	_, err = m.GetOrCreate("orders", 0, uuid.New(), testConfig())
	wantErr(t, err, ErrInconsistentTopicID)
	if _, err := m.GetOrCreate("../evil", 0, id, testConfig()); err == nil {
		t.Fatal("bad topic name accepted")
	}
	l0 := created[0]
	for range 5 {
		mustAppend(t, l0, simpleBatch(2, 0, 10), 0)
	}
	l0.SetHighWatermark(8)
	if _, err := l0.DeleteRecordsBefore(3); err != nil {
		t.Fatal(err)
	}
	if got, ok := m.Get("orders", 0); !ok || got != l0 {
		t.Fatal("Get")
	}
	if _, ok := m.Get("orders", 9); ok {
		t.Fatal("Get unknown")
	}
	if len(m.Logs()) != 4 {
		t.Fatalf("Logs() has %d", len(m.Logs()))
	}
	infos := m.Dirs()
	if len(infos) != 2 || infos[0].Err != nil || infos[0].TotalBytes <= 0 || infos[0].UsableBytes <= 0 || infos[0].DirectoryID == "" {
		t.Fatalf("Dirs() = %+v", infos)
	}
	dirOf, _ := m.DirOf("orders", 0)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.GetOrCreate("orders", 9, id, testConfig()); !errors.Is(err, ErrClosed) {
		t.Fatalf("GetOrCreate after Close: %v", err)
	}

	// Checkpoints and the clean shutdown marker are in Kafka's formats.
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dirOf, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := read(RecoveryPointCheckpointFile); !strings.HasPrefix(got, "0\n2\n") || !strings.Contains(got, "\norders 0 10\n") {
		t.Fatalf("recovery point checkpoint %q", got)
	}
	if got := read(ReplicationCheckpointFile); !strings.Contains(got, "\norders 0 8\n") {
		t.Fatalf("replication checkpoint %q", got)
	}
	if got := read(LogStartOffsetCheckpointFile); got != "0\n1\norders 0 3\n" {
		t.Fatalf("log start offset checkpoint %q", got)
	}
	if got := read(CleanShutdownFile); !strings.Contains(got, `"broker_epoch":"77"`) {
		t.Fatalf("clean shutdown marker %q", got)
	}

	m = openManager(t, dirs, ManagerOptions{})
	defer m.Close()
	if e, ok := m.PreviousBrokerEpoch(); !ok || e != 77 {
		t.Fatalf("PreviousBrokerEpoch = %d, %v", e, ok)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, CleanShutdownFile)); !os.IsNotExist(err) {
			t.Fatal("clean shutdown marker not removed on open")
		}
	}
	l0, ok := m.Get("orders", 0)
	if !ok {
		t.Fatal("log not loaded")
	}
	if l0.LogEndOffset() != 10 || l0.HighWatermark() != 8 || l0.LogStartOffset() != 3 || l0.RecoveryPoint() != 10 {
		t.Fatalf("reloaded [%d, %d) HW %d RP %d", l0.LogStartOffset(), l0.LogEndOffset(), l0.HighWatermark(), l0.RecoveryPoint())
	}
	if got, ok := l0.TopicID(); !ok || got != id {
		t.Fatal("topic id lost")
	}
	if err := m.Delete("orders", 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get("orders", 0); ok {
		t.Fatal("deleted log still there")
	}
	if _, err := os.Stat(dirOf + "/orders-0"); !os.IsNotExist(err) {
		t.Fatal("partition dir still there")
	}
	if got := read(RecoveryPointCheckpointFile); strings.Contains(got, "orders 0 ") {
		t.Fatalf("deleted partition still checkpointed: %q", got)
	}
	if err := m.Delete("orders", 0); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}

func TestManagerOpenChecks(t *testing.T) {
	root := t.TempDir()
	_, err := OpenManager([]string{filepath.Join(root, "nope")}, ManagerOptions{Logger: quietLogger()}, nil)
	wantErr(t, err, ErrNotFormatted)

	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	if err := FormatLogDir(a, testCluster, 1); err != nil {
		t.Fatal(err)
	}
	if err := FormatLogDir(b, "AnotherClusterIdxxxxxx", 1); err != nil {
		t.Fatal(err)
	}
	_, err = OpenManager([]string{a, b}, ManagerOptions{Logger: quietLogger()}, nil)
	wantErr(t, err, ErrInconsistentClusterID)
}

func TestManagerLoadSkipsAndRemoves(t *testing.T) {
	dirs := formatDirs(t, 1)
	d := dirs[0]
	for _, name := range []string{"orders-0.0123456789abcdef0123456789abcdef-delete", "__cluster_metadata-0", "not a partition"} {
		if err := os.MkdirAll(filepath.Join(d, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := openManager(t, dirs, ManagerOptions{})
	defer m.Close()
	if len(m.Logs()) != 0 {
		t.Fatalf("loaded %v", m.Logs())
	}
	if _, err := os.Stat(filepath.Join(d, "orders-0.0123456789abcdef0123456789abcdef-delete")); !os.IsNotExist(err) {
		t.Fatal("-delete dir not removed")
	}
	if _, err := os.Stat(filepath.Join(d, "__cluster_metadata-0")); err != nil {
		t.Fatal("metadata log dir touched")
	}
}

func TestManagerUncleanOpenRecovers(t *testing.T) {
	dirs := formatDirs(t, 1)
	m := openManager(t, dirs, ManagerOptions{})
	l, err := m.GetOrCreate("t", 0, uuid.New(), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for range 4 {
		b := simpleBatch(1, 0, 20)
		sizes = append(sizes, len(b))
		mustAppend(t, l, b, 0)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash: no marker, a torn tail, stale checkpoints.
	if err := os.Remove(filepath.Join(dirs[0], CleanShutdownFile)); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dirs[0], "t-0", "00000000000000000000.log")
	if err := os.Truncate(seg, int64(sizes[0]+sizes[1]+sizes[2]+5)); err != nil {
		t.Fatal(err)
	}
	if err := writeOffsetCheckpoint(filepath.Join(dirs[0], RecoveryPointCheckpointFile), map[TopicPartition]int64{{"t", 0}: 1}); err != nil {
		t.Fatal(err)
	}
	m = openManager(t, dirs, ManagerOptions{})
	defer m.Close()
	if _, ok := m.PreviousBrokerEpoch(); ok {
		t.Fatal("previous broker epoch after an unclean shutdown")
	}
	l, _ = m.Get("t", 0)
	if l.LogEndOffset() != 3 {
		t.Fatalf("LogEndOffset %d, want 3", l.LogEndOffset())
	}
}

func TestManagerBackgroundRetentionAndFlush(t *testing.T) {
	dirs := formatDirs(t, 1)
	m := openManager(t, dirs, ManagerOptions{
		RetentionCheckInterval: 5 * time.Millisecond,
		FlushCheckInterval:     5 * time.Millisecond,
		CheckpointInterval:     5 * time.Millisecond,
	})
	defer m.Close()
	cfg := testConfig()
	cfg.SegmentBytes = int64(len(simpleBatch(1, 0, 10)))
	cfg.RetentionBytes = 0
	cfg.FlushMs = 0
	l, err := m.GetOrCreate("r", 0, uuid.New(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		mustAppend(t, l, simpleBatch(1, 0, 10), 0)
	}
	l.SetHighWatermark(3)
	deadline := time.Now().Add(20 * time.Second)
	for l.NumSegments() != 1 || l.LogStartOffset() != 3 || l.RecoveryPoint() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("background work not done: %d segments, log start %d, recovery point %d", l.NumSegments(), l.LogStartOffset(), l.RecoveryPoint())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for {
		data, _ := os.ReadFile(filepath.Join(dirs[0], LogStartOffsetCheckpointFile))
		if string(data) == "0\n0\n" || strings.Contains(string(data), "r 0 3") {
			// After deleting all data the log start equals the first
			// segment's base, which Kafka does not checkpoint.
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log start checkpoint %q", data)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := l.Read(3, 100, math.MaxInt64, true); err != nil {
		t.Fatal(err)
	}
}

func TestManagerDirFailureIsShared(t *testing.T) {
	dirs := formatDirs(t, 2)
	m := openManager(t, dirs, ManagerOptions{})
	defer m.Close()
	a, _ := m.GetOrCreate("x", 0, uuid.New(), testConfig())
	b, _ := m.GetOrCreate("x", 1, uuid.New(), testConfig())
	c, _ := m.GetOrCreate("x", 2, uuid.New(), testConfig())
	if filepath.Dir(a.Dir()) != filepath.Dir(c.Dir()) || filepath.Dir(a.Dir()) == filepath.Dir(b.Dir()) {
		t.Fatal("unexpected placement")
	}
	a.mu.Lock()
	_ = a.activeLocked().file.Close()
	a.mu.Unlock()
	_, err := a.Append(simpleBatch(1, 0, 1), 0, -1)
	wantErr(t, err, ErrLogDirOffline)
	// The whole dir is offline: c shares it, b does not.
	_, err = c.Append(simpleBatch(1, 0, 1), 0, -1)
	wantErr(t, err, ErrLogDirOffline)
	mustAppend(t, b, simpleBatch(1, 0, 1), 0)
	var offline int
	for _, d := range m.Dirs() {
		if d.Err != nil {
			offline++
		}
	}
	if offline != 1 {
		t.Fatalf("%d dirs offline", offline)
	}
	// New partitions go to the online dir.
	n, err := m.GetOrCreate("x", 3, uuid.New(), testConfig())
	if err != nil || filepath.Dir(n.Dir()) != filepath.Dir(b.Dir()) {
		t.Fatalf("GetOrCreate with an offline dir: %v", err)
	}
}
