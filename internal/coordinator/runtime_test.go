package coordinator

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/record"
)

// memLog is a Log in memory: each Append is one stored batch.
type memLog struct {
	mu      sync.Mutex
	batches [][]byte
	next    int64
	fail    error
	// block, when set, makes Read wait for it (to observe loading).
	block chan struct{}
}

func (l *memLog) Append(batch []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return -1, l.fail
	}
	h, err := record.ParseHeader(batch)
	if err != nil {
		return -1, err
	}
	b := append([]byte(nil), batch...)
	base := l.next
	// Assign offsets as the log does.
	for i := range 8 {
		b[i] = byte(uint64(base) >> (56 - 8*i))
	}
	l.batches = append(l.batches, b)
	l.next += int64(h.LastOffsetDelta) + 1
	return base, nil
}

func (l *memLog) Read(offset int64, maxBytes int) ([]byte, int64, error) {
	if l.block != nil {
		<-l.block
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for _, b := range l.batches {
		h, _ := record.ParseHeader(b)
		if h.NextOffset() <= offset {
			continue
		}
		out = append(out, b...)
	}
	return out, l.next, nil
}

func (l *memLog) LogStartOffset() int64 { return 0 }

func (l *memLog) setFail(err error) {
	l.mu.Lock()
	l.fail = err
	l.mu.Unlock()
}

// counter is a toy state machine: key → sum of values, and a log of what
// timers fired.
type counter struct {
	timers   *Timers[*counter]
	sums     map[string]int
	replayed int
	loaded   bool
	fired    []string
	unloaded bool
}

func (c *counter) Replay(r LoggedRecord) error {
	c.replayed++
	if r.Value == nil {
		delete(c.sums, string(r.Key))
		return nil
	}
	n, err := strconv.Atoi(string(r.Value))
	if err != nil {
		return err
	}
	c.sums[string(r.Key)] += n
	return nil
}
func (c *counter) Loaded(time.Time, *Result) { c.loaded = true }
func (c *counter) Unloaded(*Result)          { c.unloaded = true }

func newRuntime(t *testing.T) (*Runtime[*counter], *[]*counter) {
	var mu sync.Mutex
	var shards []*counter
	rt := NewRuntime(Config[*counter]{
		NewShard: func(p int32, timers *Timers[*counter]) *counter {
			c := &counter{timers: timers, sums: map[string]int{}}
			mu.Lock()
			shards = append(shards, c)
			mu.Unlock()
			return c
		},
	})
	t.Cleanup(rt.Close)
	return rt, &shards
}

// do runs op on partition 0 and waits; it returns the abort error.
func do(rt *Runtime[*counter], op Op[*counter]) error {
	done := make(chan error, 1)
	rt.Do(0, func(c *counter, now time.Time, res *Result) {
		op(c, now, res)
		res.Reply(func() { done <- nil })
	}, func(err error) { done <- err })
	return <-done
}

// waitActive retries until the shard serves.
func waitActive(t *testing.T, rt *Runtime[*counter]) {
	t.Helper()
	for i := 0; ; i++ {
		err := do(rt, func(*counter, time.Time, *Result) {})
		if err == nil {
			return
		}
		if !errors.Is(err, ErrLoadInProgress) || i > 10000 {
			t.Fatalf("shard not active: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRuntimeWritesReplaysAndReloads(t *testing.T) {
	rt, _ := newRuntime(t)
	if err := do(rt, func(*counter, time.Time, *Result) {}); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("op without a shard: %v, want ErrNotCoordinator", err)
	}
	log := &memLog{}
	rt.Sync(map[int32]Log{0: log})
	waitActive(t, rt)

	var afterErr error
	var afterCalled bool
	err := do(rt, func(c *counter, now time.Time, res *Result) {
		res.Add(Record{Key: []byte("a"), Value: []byte("2")}, Record{Key: []byte("b"), Value: []byte("5")})
		res.Replay = true
		res.AfterAppend = func(_ time.Time, err error, next *Result) { afterCalled, afterErr = true, err }
	})
	if err != nil || !afterCalled || afterErr != nil {
		t.Fatalf("write: %v, after append called %v with %v", err, afterCalled, afterErr)
	}
	var sums map[string]int
	do(rt, func(c *counter, _ time.Time, _ *Result) { sums = map[string]int{"a": c.sums["a"], "b": c.sums["b"]} })
	if sums["a"] != 2 || sums["b"] != 5 {
		t.Fatalf("replayed sums %v", sums)
	}

	// A failed append is reported to AfterAppend and not replayed.
	log.setFail(apierror.New(kerr.NotLeaderForPartition, ""))
	do(rt, func(c *counter, now time.Time, res *Result) {
		res.Add(Record{Key: []byte("a"), Value: []byte("100")})
		res.Replay = true
		res.AfterAppend = func(_ time.Time, err error, _ *Result) { afterErr = err }
	})
	if Code(afterErr) != kerr.NotCoordinator.Code {
		t.Fatalf("append error maps to %d, want NOT_COORDINATOR", Code(afterErr))
	}
	log.setFail(nil)

	// Moving the partition to a new Log (another leadership) reloads.
	rt.Sync(map[int32]Log{})
	if err := do(rt, func(*counter, time.Time, *Result) {}); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("op after unload: %v", err)
	}
	log2 := &memLog{batches: log.batches, next: log.next, block: make(chan struct{})}
	rt.Sync(map[int32]Log{0: log2})
	if err := do(rt, func(*counter, time.Time, *Result) {}); !errors.Is(err, ErrLoadInProgress) {
		t.Fatalf("op while loading: %v, want ErrLoadInProgress", err)
	}
	close(log2.block)
	waitActive(t, rt)
	do(rt, func(c *counter, _ time.Time, _ *Result) {
		sums = map[string]int{"a": c.sums["a"], "b": c.sums["b"], "replayed": c.replayed}
	})
	if sums["a"] != 2 || sums["b"] != 5 || sums["replayed"] != 2 {
		t.Fatalf("reloaded state %v", sums)
	}
}

func TestRuntimeTimers(t *testing.T) {
	rt, _ := newRuntime(t)
	rt.Sync(map[int32]Log{0: &memLog{}})
	waitActive(t, rt)
	fired := make(chan string, 4)
	do(rt, func(c *counter, now time.Time, res *Result) {
		c.timers.Schedule("x", now.Add(time.Hour), func(*counter, time.Time, *Result) { fired <- "replaced" })
		c.timers.Schedule("x", now.Add(time.Millisecond), func(c *counter, _ time.Time, res *Result) {
			res.Add(Record{Key: []byte("t"), Value: []byte("1")})
			res.Replay = true
			res.Reply(func() { fired <- "x" })
		})
		c.timers.Schedule("y", now.Add(time.Millisecond), func(*counter, time.Time, *Result) { fired <- "cancelled" })
		c.timers.Cancel("y")
	})
	if got := <-fired; got != "x" {
		t.Fatalf("fired %q", got)
	}
	var n int
	do(rt, func(c *counter, _ time.Time, _ *Result) { n = c.sums["t"] })
	if n != 1 {
		t.Fatalf("timer's record replayed %d times", n)
	}
	select {
	case got := <-fired:
		t.Fatalf("unexpected timer %q", got)
	default:
	}
}

func TestRuntimeCloseUnloads(t *testing.T) {
	rt, shards := newRuntime(t)
	rt.Sync(map[int32]Log{0: &memLog{}})
	waitActive(t, rt)
	rt.Close()
	if !(*shards)[0].unloaded {
		t.Fatal("shard not unloaded on close")
	}
	if err := do(rt, func(*counter, time.Time, *Result) {}); !errors.Is(err, ErrClosed) || Code(err) != kerr.NotCoordinator.Code {
		t.Fatalf("op after close: %v", err)
	}
}

func TestTimersOrder(t *testing.T) {
	tm := NewTimers[int]()
	base := time.Unix(0, 0)
	var got []string
	add := func(key string, d time.Duration) {
		tm.Schedule(key, base.Add(d), func(int, time.Time, *Result) { got = append(got, key) })
	}
	add("c", 3)
	add("a", 1)
	add("b", 1) // same deadline as a: scheduled later, runs later
	add("d", 2)
	add("d", 5) // replaces
	tm.Cancel("c")
	if at, ok := tm.Deadline("d"); !ok || !at.Equal(base.Add(5)) {
		t.Fatalf("deadline of d %v %v", at, ok)
	}
	for {
		op, ok := tm.PopDue(base.Add(4))
		if !ok {
			break
		}
		op(0, base, nil)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "b" || tm.Len() != 1 {
		t.Fatalf("fired %v, %d left", got, tm.Len())
	}
}
