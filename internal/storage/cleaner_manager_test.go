package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/internal/record"
)

func compactConfig() Config {
	cfg := testConfig()
	cfg.Compact = true
	cfg.SegmentBytes = 1000
	cfg.MinCleanableDirtyRatio = 0.1
	return cfg
}

// openCleanerManager opens a Manager whose "compacted" topic is compacted.
func openCleanerManager(t *testing.T, dirs []string, opts ManagerOptions) *Manager {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	m, err := OpenManager(dirs, opts, func(topic string) Config {
		if topic == "compacted" {
			return compactConfig()
		}
		return testConfig()
	})
	if err != nil {
		t.Fatalf("OpenManager: %v", err)
	}
	return m
}

// appendUpdates appends n single-record batches cycling over keys keys,
// and makes them all committed.
func appendUpdates(t *testing.T, l *Log, n, keys int, ts int64) {
	t.Helper()
	for i := range n {
		r := cleanRecord{key: fmt.Appendf(nil, "key-%d", i%keys), value: fmt.Appendf(nil, "value-%d", i), ts: ts}
		mustAppend(t, l, keyedBatch(t, record.CodecNone, ts, []cleanRecord{r}), 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
}

// TestManagerCleanNow: CleanNow cleans the compacted logs that qualify,
// writes cleaner-offset-checkpoint in Kafka's format, leaves other logs
// alone, and the checkpoint survives a restart.
func TestManagerCleanNow(t *testing.T) {
	dirs := formatDirs(t, 1)
	clock := newFakeClock()
	m := openCleanerManager(t, dirs, ManagerOptions{Now: clock.Now})
	compacted, err := m.GetOrCreate("compacted", 0, [16]byte{}, compactConfig())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := m.GetOrCreate("plain", 0, [16]byte{}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	appendUpdates(t, compacted, 200, 5, clock.Ms())
	appendUpdates(t, plain, 200, 5, clock.Ms())
	sizeBefore := compacted.Size()

	n, err := m.CleanNow()
	if err != nil || n != 1 {
		t.Fatalf("CleanNow = %d, %v; want 1 cleaning", n, err)
	}
	active := compacted.mu.segments[len(compacted.mu.segments)-1].base
	if cp, ok := m.CleanerCheckpoint("compacted", 0); !ok || cp != active {
		t.Fatalf("checkpoint %d %v, want the active segment's base %d", cp, ok, active)
	}
	if _, ok := m.CleanerCheckpoint("plain", 0); ok {
		t.Fatal("a checkpoint for a log that is not compacted")
	}
	data, err := os.ReadFile(filepath.Join(dirs[0], CleanerCheckpointFile))
	if want := fmt.Sprintf("0\n1\ncompacted 0 %d\n", active); err != nil || string(data) != want {
		t.Fatalf("%s = %q, %v; want %q", CleanerCheckpointFile, data, err, want)
	}
	seen := map[string]int{}
	for _, r := range logRecords(t, compacted) {
		if r.offset < active {
			seen[string(r.key)]++
		}
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("key %s %d times below the checkpoint", k, c)
		}
	}
	if compacted.Size() >= sizeBefore/2 || len(logRecords(t, plain)) != 200 {
		t.Fatalf("size %d -> %d; plain log has %d records", sizeBefore, compacted.Size(), len(logRecords(t, plain)))
	}
	mt := m.CleanerMetrics()
	if mt.Cleanings != 1 || mt.BytesRead == 0 || mt.BytesWritten >= mt.BytesRead || mt.LastRun.IsZero() {
		t.Fatalf("metrics %+v", mt)
	}

	// Nothing dirty: nothing to do.
	if n, err := m.CleanNow(); err != nil || n != 0 {
		t.Fatalf("second CleanNow = %d, %v", n, err)
	}
	// Below min.cleanable.dirty.ratio: nothing either.
	cfg := compactConfig()
	cfg.MinCleanableDirtyRatio = 0.99
	compacted.SetConfig(cfg)
	appendUpdates(t, compacted, 30, 5, clock.Ms())
	if n, err := m.CleanNow(); err != nil || n != 0 {
		t.Fatalf("CleanNow below the ratio = %d, %v", n, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CleanNow(); err == nil {
		t.Fatal("CleanNow after Close")
	}

	m = openCleanerManager(t, dirs, ManagerOptions{Now: clock.Now})
	defer m.Close()
	if cp, ok := m.CleanerCheckpoint("compacted", 0); !ok || cp != active {
		t.Fatalf("checkpoint after restart %d %v, want %d", cp, ok, active)
	}
	if n, err := m.CleanNow(); err != nil || n != 1 {
		t.Fatalf("CleanNow after restart = %d, %v", n, err)
	}
	// Deleting the log drops its checkpoint.
	if err := m.Delete("compacted", 0); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dirs[0], CleanerCheckpointFile)); string(data) != "0\n0\n" {
		t.Fatalf("checkpoint after delete: %q", data)
	}
}

// TestManagerCheckpointOutsideLog: a checkpoint beyond the log end (a
// truncated log) is reset to the log start, as Kafka does.
func TestManagerCheckpointOutsideLog(t *testing.T) {
	dirs := formatDirs(t, 1)
	tp := TopicPartition{Topic: "compacted", Partition: 0}
	if err := writeOffsetCheckpoint(filepath.Join(dirs[0], CleanerCheckpointFile), map[TopicPartition]int64{tp: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	m := openCleanerManager(t, dirs, ManagerOptions{})
	defer m.Close()
	l, err := m.GetOrCreate("compacted", 0, [16]byte{}, compactConfig())
	if err != nil {
		t.Fatal(err)
	}
	appendUpdates(t, l, 100, 3, time.Now().UnixMilli())
	if n, err := m.CleanNow(); err != nil || n != 1 {
		t.Fatalf("CleanNow = %d, %v", n, err)
	}
	if cp, _ := m.CleanerCheckpoint("compacted", 0); cp >= 1<<40 || cp == 0 {
		t.Fatalf("checkpoint %d", cp)
	}
}

// TestManagerCleanerThread: with log.cleaner.enable the cleaner goroutine
// cleans on its own, and Close stops it.
func TestManagerCleanerThread(t *testing.T) {
	dirs := formatDirs(t, 1)
	m := openCleanerManager(t, dirs, ManagerOptions{Cleaner: CleanerConfig{Enable: true, Threads: 2, Backoff: 5 * time.Millisecond}})
	l, err := m.GetOrCreate("compacted", 0, [16]byte{}, compactConfig())
	if err != nil {
		t.Fatal(err)
	}
	appendUpdates(t, l, 200, 5, time.Now().UnixMilli())
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, ok := m.CleanerCheckpoint("compacted", 0); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cleaner goroutine never cleaned the log")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestManagerDeleteAbortsCleaning: deleting a partition while it is being
// cleaned aborts the cleaning and waits for it (Kafka's
// abortAndPauseCleaning), then removes the log.
func TestManagerDeleteAbortsCleaning(t *testing.T) {
	dirs := formatDirs(t, 1)
	m := openCleanerManager(t, dirs, ManagerOptions{})
	defer m.Close()
	l, err := m.GetOrCreate("compacted", 0, [16]byte{}, compactConfig())
	if err != nil {
		t.Fatal(err)
	}
	appendUpdates(t, l, 200, 5, time.Now().UnixMilli())

	cand, st, ok := m.cleaner.grab()
	if !ok {
		t.Fatal("nothing to clean")
	}
	c := testCleaner()
	inHook, release := make(chan struct{}), make(chan struct{})
	var hooked atomic.Bool
	c.hook = func(step string) error {
		if step == stepCreated && hooked.CompareAndSwap(false, true) {
			close(inHook)
			<-release
		}
		return nil
	}
	cleaned := make(chan error, 1)
	go func() {
		stats, err := c.clean(cand.ml.log, cand.rng, time.Now().UnixMilli(), func() error {
			if st.aborted.Load() {
				return errCleaningAborted
			}
			return nil
		})
		m.cleaner.doneCleaning(cand, st, stats, err)
		cleaned <- err
	}()
	<-inHook
	deleted := make(chan error, 1)
	go func() { deleted <- m.Delete("compacted", 0) }()
	for !st.aborted.Load() {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-cleaned; err != errCleaningAborted {
		t.Fatalf("cleaning ended with %v, want it aborted", err)
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "compacted-0")); !os.IsNotExist(err) {
		t.Fatalf("log dir still there: %v", err)
	}
	if mt := m.CleanerMetrics(); mt.UncleanablePartitions != 0 {
		t.Fatalf("metrics %+v", mt)
	}
}
