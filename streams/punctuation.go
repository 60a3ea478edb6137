package streams

import (
	"fmt"
	"runtime/debug"
	"sort"
	"time"
)

// Punctuation (Kafka's ProcessorContext.schedule): a processor asks for a
// function to be called periodically, by stream time or by wall-clock
// time.
//
//	func (p *emitter) Init(ctx streams.ProcessorContext[string, int64]) error {
//		p.ctx = ctx
//		p.cancel = ctx.Schedule(time.Minute, streams.PunctuationStreamTime, p.flush)
//		return nil
//	}
//
// Stream-time schedules are aligned to the epoch: a schedule of one
// minute is due at every whole minute of stream time. The first one fires
// as soon as the task has a stream time (after its first record); each
// later one when the stream time reaches the next boundary. However many
// boundaries one advance of the stream time passes, the punctuator runs
// once, and the next boundary is the first one after the stream time
// (Kafka's PunctuationSchedule.next). Stream time moves only with
// records: a task that reads nothing never punctuates by stream time.
//
// Wall-clock schedules are due interval after Schedule and then every
// interval; the runtime checks them between batches (an App), or on
// TestDriver.AdvanceWallClockTime, so a punctuation may come late, and
// missed ones are skipped in the same way.
//
// The punctuator receives the time that made it due: the task's stream
// time, or the wall-clock time of the check. It runs on the task's
// goroutine and may use the processor's stores and Forward; what it
// forwards has no input record (RecordMetadata reports false), so the
// records it makes carry the timestamps it gives them. Under
// exactly_once_v2 its outputs and store updates commit in the task's
// transaction. A panic in the punctuator, or an error a child returns
// from its Forward, goes to the processing handler as a processing error
// of the node (with nil key and value).

// PunctuationType says which clock drives a schedule (Kafka's
// PunctuationType).
type PunctuationType int

const (
	// PunctuationStreamTime fires as the task's stream time (the
	// largest timestamp of the records it has processed) passes each
	// interval boundary (Kafka's STREAM_TIME).
	PunctuationStreamTime PunctuationType = iota
	// PunctuationWallClockTime fires as the runtime's wall clock passes
	// each interval (Kafka's WALL_CLOCK_TIME).
	PunctuationWallClockTime
)

func (p PunctuationType) String() string {
	switch p {
	case PunctuationStreamTime:
		return "STREAM_TIME"
	case PunctuationWallClockTime:
		return "WALL_CLOCK_TIME"
	}
	return fmt.Sprintf("PunctuationType(%d)", int(p))
}

// Punctuator is called by a schedule with the time that made it due.
type Punctuator func(timestamp time.Time)

// Cancellable cancels a schedule (Kafka's Cancellable). Cancel may be
// called more than once, also from inside the punctuator.
type Cancellable interface {
	Cancel()
}

// punctuationSchedule is one schedule of a task.
type punctuationSchedule struct {
	node      string
	next      time.Time // when it is due
	interval  time.Duration
	run       func(now time.Time) error
	cancelled bool
}

// Cancel implements Cancellable.
func (s *punctuationSchedule) Cancel() { s.cancelled = true }

// advance moves the schedule past now (Kafka's PunctuationSchedule.next):
// to the boundary after the one that fired, or, if now is past that one
// too, to the first boundary after now.
func (s *punctuationSchedule) advance(now time.Time) {
	next := s.next.Add(s.interval)
	if !now.Before(next) {
		missed := now.Sub(s.next) / s.interval
		next = s.next.Add((missed + 1) * s.interval)
	}
	s.next = next
}

// punctuationQueue holds a task's schedules of one type. It is used from
// the task's goroutine only.
type punctuationQueue struct {
	scheds []*punctuationSchedule
}

func (q *punctuationQueue) add(s *punctuationSchedule) { q.scheds = append(q.scheds, s) }

// nextDue returns the earliest due time of a live schedule.
func (q *punctuationQueue) nextDue() (time.Time, bool) {
	var out time.Time
	found := false
	for _, s := range q.scheds {
		if !s.cancelled && (!found || s.next.Before(out)) {
			out, found = s.next, true
		}
	}
	return out, found
}

// mayPunctuate runs every schedule due at now, each once, in order of
// due time (ties in order of scheduling), and drops cancelled ones
// (Kafka's PunctuationQueue.mayPunctuate). It reports whether any ran,
// and stops at the first error.
func (q *punctuationQueue) mayPunctuate(now time.Time) (bool, error) {
	var due []*punctuationSchedule
	live := q.scheds[:0]
	for _, s := range q.scheds {
		if s.cancelled {
			continue
		}
		live = append(live, s)
		if !s.next.After(now) {
			due = append(due, s)
		}
	}
	clear(q.scheds[len(live):])
	q.scheds = live
	sort.SliceStable(due, func(i, j int) bool { return due[i].next.Before(due[j].next) })
	ran := false
	for _, s := range due {
		if s.cancelled { // by an earlier punctuator
			continue
		}
		ran = true
		err := s.run(now)
		if !s.cancelled {
			s.advance(now)
		}
		if err != nil {
			return ran, err
		}
	}
	return ran, nil
}

// schedule adds a schedule of node's punctuator to the task (see
// ProcessorContext.Schedule).
func (t *task) schedule(node string, interval time.Duration, typ PunctuationType, run func(time.Time) error) Cancellable {
	if interval < time.Millisecond {
		panic(fmt.Sprintf("streams: punctuation interval %v of %s is below 1ms", interval, node))
	}
	s := &punctuationSchedule{node: node, interval: interval, run: run}
	switch typ {
	case PunctuationStreamTime:
		// Aligned to the epoch: due as soon as the task has a
		// stream time.
		s.next = time.UnixMilli(0)
		t.streamPunctuation.add(s)
	case PunctuationWallClockTime:
		s.next = t.env.clock().Add(interval)
		t.wallPunctuation.add(s)
	default:
		panic(fmt.Sprintf("streams: unknown punctuation type %v", typ))
	}
	return s
}

// maybePunctuateStreamTime runs the stream-time schedules that the
// task's stream time has reached (Kafka's
// StreamTask.maybePunctuateStreamTime).
func (t *task) maybePunctuateStreamTime() error {
	if t.streamTime.IsZero() || len(t.streamPunctuation.scheds) == 0 {
		return nil
	}
	ran, err := t.streamPunctuation.mayPunctuate(t.streamTime)
	if ran {
		t.commitNeeded = true
	}
	return err
}

// maybePunctuateWallClock runs the wall-clock schedules due at now
// (Kafka's StreamTask.maybePunctuateSystemTime).
func (t *task) maybePunctuateWallClock(now time.Time) (bool, error) {
	if t.state != taskRunning || len(t.wallPunctuation.scheds) == 0 {
		return false, nil
	}
	ran, err := t.wallPunctuation.mayPunctuate(now)
	if ran {
		t.commitNeeded = true
	}
	return ran, err
}

// nextWallPunctuation returns when the task's next wall-clock punctuation
// is due.
func (t *task) nextWallPunctuation() (time.Time, bool) {
	if t.state != taskRunning {
		return time.Time{}, false
	}
	return t.wallPunctuation.nextDue()
}

// Schedule implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) Cancellable {
	return n.t.schedule(n.name, interval, typ, func(now time.Time) error {
		n.err = nil
		err := safePunctuate(fn, now)
		if n.err != nil {
			// A child's error, through its handler already.
			return n.err
		}
		if err != nil {
			return n.t.processingError(n.name, nil, nil, err)
		}
		return nil
	})
}

func safePunctuate(fn Punctuator, now time.Time) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: string(debug.Stack())}
		}
	}()
	fn(now)
	return nil
}

// punctuateWallClock runs the wall-clock punctuations that are due, on
// the stream thread between batches. Under exactly_once_v2 it opens the
// transaction first, so that what the punctuators write commits with the
// task's next commit.
func (a *App) punctuateWallClock() error {
	a.tm.Lock()
	defer a.tm.Unlock()
	now := a.env.clock()
	for _, t := range a.sortedTasksLocked() {
		at, ok := t.nextWallPunctuation()
		if !ok || at.After(now) {
			continue
		}
		if a.eos && !a.inTxn {
			if err := a.sess.Begin(); err != nil {
				return fmt.Errorf("streams: begin transaction: %w", err)
			}
			a.inTxn = true
		}
		if _, err := t.maybePunctuateWallClock(now); err != nil {
			return err
		}
	}
	return nil
}

// punctuationWait shortens the stream thread's poll so that it wakes up
// for the next wall-clock punctuation.
func (a *App) punctuationWait(wait time.Duration) time.Duration {
	a.tm.Lock()
	defer a.tm.Unlock()
	now := a.env.clock()
	for _, t := range a.tm.tasks {
		if at, ok := t.nextWallPunctuation(); ok {
			wait = min(wait, max(at.Sub(now), 5*time.Millisecond))
		}
	}
	return wait
}
