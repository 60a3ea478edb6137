package coordinator

import (
	"container/heap"
	"time"
)

// Timers is a shard's timer queue: operations keyed by name, each due at
// a time. Scheduling a key that is already scheduled replaces it, as
// Kafka's CoordinatorTimer does. Due operations come out in deadline
// order, ties in the order they were scheduled.
//
// Timers is not safe for concurrent use: the shard goroutine (or a test)
// owns it.
type Timers[S any] struct {
	h     timerHeap[S]
	byKey map[string]*timerEntry[S]
	seq   uint64
}

type timerEntry[S any] struct {
	key   string
	at    time.Time
	seq   uint64
	op    Op[S]
	index int
}

// NewTimers returns an empty queue.
func NewTimers[S any]() *Timers[S] {
	return &Timers[S]{byKey: map[string]*timerEntry[S]{}}
}

// Schedule runs op at (or after) at, replacing any timer with the same key.
func (t *Timers[S]) Schedule(key string, at time.Time, op Op[S]) {
	t.Cancel(key)
	t.seq++
	e := &timerEntry[S]{key: key, at: at, seq: t.seq, op: op}
	t.byKey[key] = e
	heap.Push(&t.h, e)
}

// Cancel removes the timer with key, if any.
func (t *Timers[S]) Cancel(key string) {
	e, ok := t.byKey[key]
	if !ok {
		return
	}
	delete(t.byKey, key)
	heap.Remove(&t.h, e.index)
}

// Deadline returns when the timer with key is due, if it is scheduled.
func (t *Timers[S]) Deadline(key string) (time.Time, bool) {
	e, ok := t.byKey[key]
	if !ok {
		return time.Time{}, false
	}
	return e.at, true
}

// Next returns the earliest deadline, if any timer is scheduled.
func (t *Timers[S]) Next() (time.Time, bool) {
	if len(t.h) == 0 {
		return time.Time{}, false
	}
	return t.h[0].at, true
}

// PopDue removes and returns the earliest timer due at now, if any.
func (t *Timers[S]) PopDue(now time.Time) (Op[S], bool) {
	if len(t.h) == 0 || t.h[0].at.After(now) {
		return nil, false
	}
	e := heap.Pop(&t.h).(*timerEntry[S])
	delete(t.byKey, e.key)
	return e.op, true
}

// Len returns how many timers are scheduled.
func (t *Timers[S]) Len() int { return len(t.h) }

// Clear drops every timer.
func (t *Timers[S]) Clear() {
	t.h = nil
	clear(t.byKey)
}

type timerHeap[S any] []*timerEntry[S]

func (h timerHeap[S]) Len() int { return len(h) }
func (h timerHeap[S]) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap[S]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap[S]) Push(x any) {
	e := x.(*timerEntry[S])
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *timerHeap[S]) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	e.index = -1
	return e
}
