package replica

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
)

// PendingAck is one partition of an acks=all produce, appended by the
// leader and waiting for the ISR: it is acknowledged once the partition's
// high watermark reaches RequiredOffset, the appended batch's last offset
// plus one (AppendResult.LastOffset + 1).
type PendingAck struct {
	Partition      *Partition
	RequiredOffset int64
}

// Purgatory holds acks=all produce requests until their records are
// replicated (Kafka's DelayedProduce purgatory). A request completes when
// every partition's high watermark reaches its required offset, when a
// partition answers with an error (this node stopped leading it, or the
// ISR fell below min.insync.replicas), or at its timeout. Partitions call
// into it whenever their high watermark, ISR or leadership changes; no
// goroutine polls. Timeouts run on timers from the Manager's AfterFunc.
//
// Safe for concurrent use. After Close, pending requests complete with
// ErrClosed and new ones complete at once with it.
type Purgatory struct {
	afterFunc func(time.Duration, func()) (stop func() bool)

	mu struct {
		sync.Mutex
		// watchers maps a partition to the requests waiting on it.
		watchers map[*Partition]map[*DelayedProduce]struct{}
		closed   bool
	}
}

// newPurgatory returns a Purgatory whose timeouts use afterFunc (as
// time.AfterFunc: run f once after d unless stopped first).
func newPurgatory(afterFunc func(time.Duration, func()) (stop func() bool)) *Purgatory {
	pg := &Purgatory{afterFunc: afterFunc}
	pg.mu.watchers = map[*Partition]map[*DelayedProduce]struct{}{}
	return pg
}

// DelayedProduce is one acks=all produce request in the Purgatory.
type DelayedProduce struct {
	pg   *Purgatory
	acks []PendingAck
	done chan struct{}

	mu struct {
		sync.Mutex
		// errs[i] is the outcome of acks[i] once it is no longer pending.
		errs      []error
		pending   []bool
		completed bool
		stopTimer func() bool
	}
}

// Add parks an acks=all produce until acks are replicated or timeout
// passes (the produce request's timeout_ms), and returns it. acks must
// not be modified afterwards.
func (pg *Purgatory) Add(acks []PendingAck, timeout time.Duration) *DelayedProduce {
	d := &DelayedProduce{pg: pg, acks: acks, done: make(chan struct{})}
	d.mu.errs = make([]error, len(acks))
	d.mu.pending = make([]bool, len(acks))
	for i := range d.mu.pending {
		d.mu.pending[i] = true
	}
	pg.mu.Lock()
	if pg.mu.closed {
		pg.mu.Unlock()
		d.finish(ErrClosed)
		return d
	}
	for _, a := range acks {
		w := pg.mu.watchers[a.Partition]
		if w == nil {
			w = map[*DelayedProduce]struct{}{}
			pg.mu.watchers[a.Partition] = w
		}
		w[d] = struct{}{}
	}
	pg.mu.Unlock()
	// Watch first, then check: a high watermark that moved in between is
	// seen by this check, one that moves later by the partition's call.
	// The check comes before the timer (Kafka's tryCompleteElseWatch), so
	// a request already satisfied (a single node, or a zero timeout with
	// the ISR caught up) completes without one.
	d.tryComplete()
	select {
	case <-d.done:
		return d
	default:
	}
	stop := pg.afterFunc(timeout, func() { d.finish(apierror.New(kerr.RequestTimedOut, "")) })
	d.mu.Lock()
	d.mu.stopTimer = stop
	completed := d.mu.completed
	d.mu.Unlock()
	if completed {
		stop()
	}
	return d
}

// Done is closed when the request has completed.
func (d *DelayedProduce) Done() <-chan struct{} { return d.done }

// Errors returns, once Done is closed, the outcome of each PendingAck
// given to Add, in order: nil when acknowledged, else an *apierror.Error
// (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS_AFTER_APPEND,
// REQUEST_TIMED_OUT) or ErrClosed. The caller owns the slice.
func (d *DelayedProduce) Errors() []error {
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]error(nil), d.mu.errs...)
}

// Wait blocks until the request completes or ctx ends, and returns
// Errors; on ctx's end it returns ctx's error and leaves the request in
// the purgatory until it completes on its own.
func (d *DelayedProduce) Wait(ctx context.Context) ([]error, error) {
	select {
	case <-d.done:
		return d.Errors(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tryComplete checks every pending partition (Kafka's
// DelayedProduce.tryComplete) and completes the request when none is left.
func (d *DelayedProduce) tryComplete() {
	d.mu.Lock()
	if d.mu.completed {
		d.mu.Unlock()
		return
	}
	left := 0
	for i, a := range d.acks {
		if !d.mu.pending[i] {
			continue
		}
		// Partition.mu is taken under DelayedProduce.mu; never the
		// other way round.
		done, err := a.Partition.checkEnoughReplicasReachOffset(a.RequiredOffset)
		if done || err != nil {
			d.mu.pending[i], d.mu.errs[i] = false, err
			continue
		}
		left++
	}
	d.mu.Unlock()
	if left == 0 {
		d.finish(nil)
	}
}

// finish completes the request: partitions still pending get err.
func (d *DelayedProduce) finish(err error) {
	d.mu.Lock()
	if d.mu.completed {
		d.mu.Unlock()
		return
	}
	d.mu.completed = true
	for i := range d.mu.pending {
		if d.mu.pending[i] {
			d.mu.pending[i], d.mu.errs[i] = false, err
		}
	}
	stop := d.mu.stopTimer
	d.mu.Unlock()
	if stop != nil {
		stop()
	}
	d.pg.unwatch(d)
	close(d.done)
}

func (pg *Purgatory) unwatch(d *DelayedProduce) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	for _, a := range d.acks {
		if w := pg.mu.watchers[a.Partition]; w != nil {
			delete(w, d)
			if len(w) == 0 {
				delete(pg.mu.watchers, a.Partition)
			}
		}
	}
}

// checkPartition retries the requests waiting on p; partitions call it
// after their high watermark, ISR or leadership changed, holding none of
// their locks.
func (pg *Purgatory) checkPartition(p *Partition) {
	pg.mu.Lock()
	w := pg.mu.watchers[p]
	ds := make([]*DelayedProduce, 0, len(w))
	for d := range w {
		ds = append(ds, d)
	}
	pg.mu.Unlock()
	for _, d := range ds {
		d.tryComplete()
	}
}

// Len returns the number of requests waiting.
func (pg *Purgatory) Len() int {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	seen := map[*DelayedProduce]struct{}{}
	for _, w := range pg.mu.watchers {
		for d := range w {
			seen[d] = struct{}{}
		}
	}
	return len(seen)
}

// Close completes every waiting request with ErrClosed and refuses new
// ones.
func (pg *Purgatory) Close() {
	pg.mu.Lock()
	pg.mu.closed = true
	var ds []*DelayedProduce
	for _, w := range pg.mu.watchers {
		for d := range w {
			ds = append(ds, d)
		}
	}
	pg.mu.Unlock()
	for _, d := range ds {
		d.finish(ErrClosed)
	}
}
