package coordinator

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gregor-streaming/gregor/internal/record"
)

// Config configures a Runtime.
type Config[S StateMachine] struct {
	// NewShard returns the empty state machine of a partition's shard;
	// it must schedule its timers on timers.
	NewShard func(partition int32, timers *Timers[S]) S
	// Codec compresses the batches written (offsets.topic.compression.codec).
	Codec record.Codec
	// LoadBufferBytes is how much one read asks for while loading
	// (offsets.load.buffer.size); default 5 MiB.
	LoadBufferBytes int
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Runtime runs the shards of one coordinator. Safe for concurrent use.
//
// Lock order: Runtime.mu, then shard.mu. Neither is held while an
// operation runs.
type Runtime[S StateMachine] struct {
	cfg Config[S]
	log *slog.Logger
	wg  sync.WaitGroup

	mu struct {
		sync.Mutex
		shards map[int32]*shard[S]
		closed bool
	}
}

// NewRuntime returns a Runtime with no shards; Sync starts them.
func NewRuntime[S StateMachine](cfg Config[S]) *Runtime[S] {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LoadBufferBytes <= 0 {
		cfg.LoadBufferBytes = 5 << 20
	}
	r := &Runtime[S]{cfg: cfg, log: cfg.Logger}
	r.mu.shards = map[int32]*shard[S]{}
	return r
}

type shardState int

const (
	shardLoading shardState = iota
	shardActive
	shardStopped
)

type event[S any] struct {
	op    Op[S]
	abort func(error)
}

// shard is one partition's state machine and the goroutine that runs it.
type shard[S StateMachine] struct {
	rt        *Runtime[S]
	partition int32
	log       Log
	prev      *shard[S] // a shard of the same partition still stopping
	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}

	mu struct {
		sync.Mutex
		state shardState
		queue []event[S]
	}
}

// Sync makes the running shards match logs, the partitions this node
// leads: it starts a shard (which loads) for each new partition or new
// Log, and unloads shards of partitions no longer listed. It does not
// wait for loads or unloads.
func (r *Runtime[S]) Sync(logs map[int32]Log) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.closed {
		return
	}
	for p, sh := range r.mu.shards {
		if l, ok := logs[p]; !ok || l != sh.log {
			sh.halt()
			delete(r.mu.shards, p)
			if ok {
				r.startLocked(p, l, sh)
			}
		}
	}
	for p, l := range logs {
		if _, ok := r.mu.shards[p]; !ok {
			r.startLocked(p, l, nil)
		}
	}
}

func (r *Runtime[S]) startLocked(p int32, l Log, prev *shard[S]) {
	sh := &shard[S]{
		rt: r, partition: p, log: l, prev: prev,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	r.mu.shards[p] = sh
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		sh.run()
	}()
}

// Do runs op on the shard of partition. Exactly one of op and abort is
// called: abort (possibly on the calling goroutine) with ErrNotCoordinator,
// ErrLoadInProgress or ErrClosed when the shard cannot run it.
func (r *Runtime[S]) Do(partition int32, op Op[S], abort func(error)) {
	r.mu.Lock()
	if r.mu.closed {
		r.mu.Unlock()
		abort(ErrClosed)
		return
	}
	sh, ok := r.mu.shards[partition]
	r.mu.Unlock()
	if !ok {
		abort(ErrNotCoordinator)
		return
	}
	sh.mu.Lock()
	switch sh.mu.state {
	case shardLoading:
		sh.mu.Unlock()
		abort(ErrLoadInProgress)
		return
	case shardStopped:
		sh.mu.Unlock()
		abort(ErrNotCoordinator)
		return
	}
	sh.mu.queue = append(sh.mu.queue, event[S]{op: op, abort: abort})
	sh.mu.Unlock()
	select {
	case sh.wake <- struct{}{}:
	default:
	}
}

// Partitions returns the partitions that have a shard (loading or
// active).
func (r *Runtime[S]) Partitions() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int32, 0, len(r.mu.shards))
	for p := range r.mu.shards {
		out = append(out, p)
	}
	return out
}

// Close unloads every shard and waits for their goroutines. Operations
// submitted afterwards are refused with ErrClosed.
func (r *Runtime[S]) Close() {
	r.mu.Lock()
	if !r.mu.closed {
		r.mu.closed = true
		for p, sh := range r.mu.shards {
			sh.halt()
			delete(r.mu.shards, p)
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// halt asks the shard goroutine to unload and exit.
func (sh *shard[S]) halt() { close(sh.stop) }

func (sh *shard[S]) run() {
	defer close(sh.done)
	if sh.prev != nil {
		<-sh.prev.done
	}
	r := sh.rt
	log := r.log.With("partition", sh.partition)
	timers := NewTimers[S]()
	sm := r.cfg.NewShard(sh.partition, timers)

	start := r.cfg.Now()
	n, err := load(sh.log, sm, r.cfg.LoadBufferBytes)
	if err != nil {
		log.Error("coordinator shard failed to load; not serving it", "err", err)
		sh.shutdown(sm, timers, false)
		<-sh.stop
		return
	}
	select {
	case <-sh.stop:
		sh.shutdown(sm, timers, false)
		return
	default:
	}
	log.Info("coordinator shard loaded", "records", n, "elapsed", r.cfg.Now().Sub(start))
	sh.mu.Lock()
	sh.mu.state = shardActive
	sh.mu.Unlock()
	res := &Result{}
	now := r.cfg.Now()
	sm.Loaded(now, res)
	sh.complete(sm, now, res, log)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Run every due timer first, then wait for the next event.
		now := r.cfg.Now()
		for {
			op, ok := timers.PopDue(now)
			if !ok {
				break
			}
			res := &Result{}
			op(sm, now, res)
			sh.complete(sm, now, res, log)
		}
		var timerC <-chan time.Time
		if next, ok := timers.Next(); ok {
			// Reset discards a stale expiry (Go 1.23 timers).
			timer.Reset(max(next.Sub(r.cfg.Now()), 0))
			timerC = timer.C
		} else {
			timer.Stop()
		}
		select {
		case <-sh.stop:
			sh.shutdown(sm, timers, true)
			return
		case <-timerC:
		case <-sh.wake:
			for {
				sh.mu.Lock()
				q := sh.mu.queue
				sh.mu.queue = nil
				sh.mu.Unlock()
				if len(q) == 0 {
					break
				}
				for _, ev := range q {
					now := r.cfg.Now()
					res := &Result{}
					ev.op(sm, now, res)
					sh.complete(sm, now, res, log)
				}
			}
		}
	}
}

// complete writes and answers res (see Apply).
func (sh *shard[S]) complete(sm S, now time.Time, res *Result, log *slog.Logger) {
	Apply(sm, now, res, func(b Batch) (int64, error) {
		batch, err := buildBatch(b, now.UnixMilli(), sh.rt.cfg.Codec)
		if err != nil {
			return -1, fmt.Errorf("coordinator: build batch: %w", err)
		}
		base, err := sh.log.Append(batch)
		if err != nil {
			log.Warn("coordinator write failed", "records", len(b.Records), "marker", b.Marker != nil, "err", err)
		}
		return base, err
	}, func(err error) {
		log.Error("coordinator failed to replay its own record", "err", err)
	})
}

// shutdown stops serving: queued operations are refused, the state
// machine answers what it holds, timers are dropped.
func (sh *shard[S]) shutdown(sm S, timers *Timers[S], loaded bool) {
	sh.mu.Lock()
	sh.mu.state = shardStopped
	q := sh.mu.queue
	sh.mu.queue = nil
	sh.mu.Unlock()
	for _, ev := range q {
		ev.abort(ErrNotCoordinator)
	}
	timers.Clear()
	if loaded {
		res := &Result{}
		sm.Unloaded(res)
		// Records of an unloading shard are not written: another node
		// (or a later load) owns the partition now.
		res.Records = nil
		for _, f := range res.Replies {
			f()
		}
	}
}
