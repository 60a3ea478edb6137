package streams

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/gregor-streaming/gregor/streams/serde"
)

// Window is a time interval of a windowed aggregation (Kafka's Window).
// Time windows (tumbling and hopping) are [Start, End); sliding windows
// and sessions include both ends, as in Kafka. Times have millisecond
// precision.
type Window struct {
	Start, End time.Time
}

// String prints the window as Kafka does: "Window{startMs=0, endMs=10}".
func (w Window) String() string {
	return fmt.Sprintf("Window{startMs=%d, endMs=%d}", w.Start.UnixMilli(), w.End.UnixMilli())
}

func windowMs(startMs, endMs int64) Window {
	return Window{Start: time.UnixMilli(startMs), End: time.UnixMilli(endMs)}
}

// Windowed is the key of a windowed aggregation's table: the record key
// and the window (Kafka's Windowed<K>).
type Windowed[K any] struct {
	Key    K
	Window Window
}

// String prints "[key@start/end]", as Kafka's Windowed.toString does.
func (w Windowed[K]) String() string {
	return fmt.Sprintf("[%v@%d/%d]", w.Key, w.Window.Start.UnixMilli(), w.Window.End.UnixMilli())
}

// windowEndMs lets suppression find the window of a key of any type.
func (w Windowed[K]) windowEndMs() int64 { return w.Window.End.UnixMilli() }

type windowedKey interface{ windowEndMs() int64 }

// TimeWindowedSerde is Kafka's TimeWindowedSerde: the serialized key
// followed by the window start,
//
//	+----------------+-------------------------+
//	| serialized key | window start (8, BE ms) |
//	+----------------+-------------------------+
//
// Deserializing sets the end to start + windowSize (for sliding windows,
// the time difference), as Kafka's TimeWindowedDeserializer does.
func TimeWindowedSerde[K any](inner serde.Serde[K], windowSize time.Duration) serde.Serde[Windowed[K]] {
	size := windowSize.Milliseconds()
	return serde.New(
		func(topic string, w Windowed[K]) ([]byte, error) {
			b, err := inner.Serialize(topic, w.Key)
			if err != nil {
				return nil, err
			}
			out := make([]byte, len(b), len(b)+8)
			copy(out, b)
			return binary.BigEndian.AppendUint64(out, uint64(w.Window.Start.UnixMilli())), nil
		},
		func(topic string, b []byte) (Windowed[K], error) {
			if len(b) < 8 {
				return Windowed[K]{}, fmt.Errorf("%w: time-windowed key of %d bytes", serde.ErrSize, len(b))
			}
			n := len(b) - 8
			k, err := inner.Deserialize(topic, b[:n:n])
			if err != nil {
				return Windowed[K]{}, err
			}
			start := int64(binary.BigEndian.Uint64(b[n:]))
			end := start + size
			if end < start { // overflow, as Kafka caps it
				end = math.MaxInt64
			}
			return Windowed[K]{Key: k, Window: windowMs(start, end)}, nil
		},
	)
}

// SessionWindowedSerde is Kafka's SessionWindowedSerde: the serialized
// key, the session's end, then its start.
//
//	+----------------+------------------------+--------------------------+
//	| serialized key | session end (8, BE ms) | session start (8, BE ms) |
//	+----------------+------------------------+--------------------------+
func SessionWindowedSerde[K any](inner serde.Serde[K]) serde.Serde[Windowed[K]] {
	return serde.New(
		func(topic string, w Windowed[K]) ([]byte, error) {
			b, err := inner.Serialize(topic, w.Key)
			if err != nil {
				return nil, err
			}
			out := make([]byte, len(b), len(b)+16)
			copy(out, b)
			out = binary.BigEndian.AppendUint64(out, uint64(w.Window.End.UnixMilli()))
			return binary.BigEndian.AppendUint64(out, uint64(w.Window.Start.UnixMilli())), nil
		},
		func(topic string, b []byte) (Windowed[K], error) {
			if len(b) < 16 {
				return Windowed[K]{}, fmt.Errorf("%w: session-windowed key of %d bytes", serde.ErrSize, len(b))
			}
			n := len(b) - 16
			k, err := inner.Deserialize(topic, b[:n:n])
			if err != nil {
				return Windowed[K]{}, err
			}
			end := int64(binary.BigEndian.Uint64(b[n:]))
			start := int64(binary.BigEndian.Uint64(b[n+8:]))
			return Windowed[K]{Key: k, Window: windowMs(start, end)}, nil
		},
	)
}

// Windows are the windows of a WindowedBy aggregation: TimeWindows or
// SlidingWindows.
type Windows interface {
	// GracePeriod is how long after a window's end it still accepts
	// out-of-order records, in stream time.
	GracePeriod() time.Duration
	windowsSpec() windowsSpec
}

type windowsSpec struct {
	sliding       bool
	size, advance int64 // ms; sliding: size is the time difference
	grace         int64
	err           error
}

// TimeWindows are fixed-size windows [start, start+size), tumbling (the
// advance is the size: every record is in exactly one window) or hopping
// (AdvanceBy less than the size: windows overlap). Windows are aligned to
// the epoch: they start at multiples of the advance (Kafka's
// TimeWindows).
type TimeWindows struct {
	spec windowsSpec
}

// TimeWindowsOfSizeWithNoGrace returns tumbling windows of size without
// grace: a record is dropped once stream time has reached its window's
// end (Kafka's TimeWindows.ofSizeWithNoGrace).
func TimeWindowsOfSizeWithNoGrace(size time.Duration) TimeWindows {
	return TimeWindowsOfSizeAndGrace(size, 0)
}

// TimeWindowsOfSizeAndGrace returns tumbling windows of size that accept
// records until stream time passes their end by grace (Kafka's
// TimeWindows.ofSizeAndGrace).
func TimeWindowsOfSizeAndGrace(size, grace time.Duration) TimeWindows {
	s := windowsSpec{size: size.Milliseconds(), advance: size.Milliseconds(), grace: grace.Milliseconds()}
	switch {
	case s.size <= 0:
		s.err = fmt.Errorf("%w: window size must be at least 1ms, is %v", ErrTopology, size)
	case s.grace < 0:
		s.err = fmt.Errorf("%w: grace period must not be negative, is %v", ErrTopology, grace)
	}
	return TimeWindows{spec: s}
}

// AdvanceBy makes the windows hopping: a new window starts every advance
// (Kafka's TimeWindows.advanceBy). advance must be in (0, size].
func (w TimeWindows) AdvanceBy(advance time.Duration) TimeWindows {
	a := advance.Milliseconds()
	if w.spec.err == nil && (a <= 0 || a > w.spec.size) {
		w.spec.err = fmt.Errorf("%w: window advance must be in (0, size=%dms], is %v", ErrTopology, w.spec.size, advance)
	}
	w.spec.advance = a
	return w
}

// Size is the windows' size.
func (w TimeWindows) Size() time.Duration { return time.Duration(w.spec.size) * time.Millisecond }

// Advance is the time between the starts of consecutive windows.
func (w TimeWindows) Advance() time.Duration { return time.Duration(w.spec.advance) * time.Millisecond }

// GracePeriod implements Windows.
func (w TimeWindows) GracePeriod() time.Duration {
	return time.Duration(w.spec.grace) * time.Millisecond
}

func (w TimeWindows) windowsSpec() windowsSpec { return w.spec }

// windowsFor returns the starts of the time windows holding a record at
// ts, in increasing order (Kafka's TimeWindows.windowsFor).
func (s windowsSpec) windowsFor(ts int64) []int64 {
	start := max(0, ts-s.size+s.advance)
	start -= start % s.advance
	var out []int64
	for ; start <= ts; start += s.advance {
		out = append(out, start)
	}
	return out
}

// SlidingWindows are windows of a fixed time difference that move with
// the records: two records are in a common window when their timestamps
// differ by at most the time difference. Windows include both ends; each
// record defines the window ending at it and the one starting just after
// it (Kafka's SlidingWindows, KIP-450).
type SlidingWindows struct {
	spec windowsSpec
}

// SlidingWindowsOfTimeDifferenceWithNoGrace returns sliding windows
// without grace (Kafka's SlidingWindows.ofTimeDifferenceWithNoGrace).
func SlidingWindowsOfTimeDifferenceWithNoGrace(timeDifference time.Duration) SlidingWindows {
	return SlidingWindowsOfTimeDifferenceAndGrace(timeDifference, 0)
}

// SlidingWindowsOfTimeDifferenceAndGrace returns sliding windows whose
// records differ by at most timeDifference, accepting out-of-order
// records for grace (Kafka's SlidingWindows.ofTimeDifferenceAndGrace).
func SlidingWindowsOfTimeDifferenceAndGrace(timeDifference, grace time.Duration) SlidingWindows {
	s := windowsSpec{sliding: true, size: timeDifference.Milliseconds(), grace: grace.Milliseconds()}
	switch {
	case s.size <= 0:
		s.err = fmt.Errorf("%w: sliding window time difference must be at least 1ms, is %v", ErrTopology, timeDifference)
	case s.grace < 0:
		s.err = fmt.Errorf("%w: grace period must not be negative, is %v", ErrTopology, grace)
	}
	return SlidingWindows{spec: s}
}

// TimeDifference is the largest difference between records of a window.
func (w SlidingWindows) TimeDifference() time.Duration {
	return time.Duration(w.spec.size) * time.Millisecond
}

// GracePeriod implements Windows.
func (w SlidingWindows) GracePeriod() time.Duration {
	return time.Duration(w.spec.grace) * time.Millisecond
}

func (w SlidingWindows) windowsSpec() windowsSpec { return w.spec }

// SessionWindows group a key's records into sessions: records less than
// the inactivity gap apart (inclusive) share a session, and a record
// that bridges two sessions merges them. A session [start, end] runs from
// its first record to its last (Kafka's SessionWindows).
type SessionWindows struct {
	gap, grace int64 // ms
	err        error
}

// SessionWindowsOfInactivityGapWithNoGrace returns session windows
// without grace (Kafka's SessionWindows.ofInactivityGapWithNoGrace).
func SessionWindowsOfInactivityGapWithNoGrace(gap time.Duration) SessionWindows {
	return SessionWindowsOfInactivityGapAndGrace(gap, 0)
}

// SessionWindowsOfInactivityGapAndGrace returns session windows that
// accept records until stream time passes a session's end by grace
// (Kafka's SessionWindows.ofInactivityGapAndGrace).
func SessionWindowsOfInactivityGapAndGrace(gap, grace time.Duration) SessionWindows {
	w := SessionWindows{gap: gap.Milliseconds(), grace: grace.Milliseconds()}
	switch {
	case w.gap <= 0:
		w.err = fmt.Errorf("%w: session inactivity gap must be at least 1ms, is %v", ErrTopology, gap)
	case w.grace < 0:
		w.err = fmt.Errorf("%w: grace period must not be negative, is %v", ErrTopology, grace)
	}
	return w
}

// InactivityGap is the largest gap between records of one session.
func (w SessionWindows) InactivityGap() time.Duration { return time.Duration(w.gap) * time.Millisecond }

// GracePeriod is how long after a session's end it still accepts records.
func (w SessionWindows) GracePeriod() time.Duration { return time.Duration(w.grace) * time.Millisecond }

// JoinWindows say which records of two streams join: a left record at
// time t joins the right records in [t - before, t + after] (Kafka's
// JoinWindows). Both bounds start as the time difference.
type JoinWindows struct {
	before, after, grace int64 // ms
	err                  error
}

// JoinWindowsOfTimeDifferenceWithNoGrace returns join windows of
// ±timeDifference without grace (Kafka's
// JoinWindows.ofTimeDifferenceWithNoGrace).
func JoinWindowsOfTimeDifferenceWithNoGrace(timeDifference time.Duration) JoinWindows {
	return JoinWindowsOfTimeDifferenceAndGrace(timeDifference, 0)
}

// JoinWindowsOfTimeDifferenceAndGrace returns join windows of
// ±timeDifference that accept out-of-order records for grace (Kafka's
// JoinWindows.ofTimeDifferenceAndGrace).
func JoinWindowsOfTimeDifferenceAndGrace(timeDifference, grace time.Duration) JoinWindows {
	d := timeDifference.Milliseconds()
	w := JoinWindows{before: d, after: d, grace: grace.Milliseconds()}
	switch {
	case d < 0:
		w.err = fmt.Errorf("%w: join time difference must not be negative, is %v", ErrTopology, timeDifference)
	case w.grace < 0:
		w.err = fmt.Errorf("%w: grace period must not be negative, is %v", ErrTopology, grace)
	}
	return w
}

// Before sets how far before a left record right records join it (Kafka's
// JoinWindows.before); it may be negative as long as before + after is
// not.
func (w JoinWindows) Before(d time.Duration) JoinWindows {
	w.before = d.Milliseconds()
	if w.err == nil && w.before+w.after < 0 {
		w.err = fmt.Errorf("%w: join window size (before + after) must not be negative", ErrTopology)
	}
	return w
}

// After sets how far after a left record right records join it (Kafka's
// JoinWindows.after).
func (w JoinWindows) After(d time.Duration) JoinWindows {
	w.after = d.Milliseconds()
	if w.err == nil && w.before+w.after < 0 {
		w.err = fmt.Errorf("%w: join window size (before + after) must not be negative", ErrTopology)
	}
	return w
}

// GracePeriod is how long after a window's end it still accepts records.
func (w JoinWindows) GracePeriod() time.Duration { return time.Duration(w.grace) * time.Millisecond }

// Size is before + after.
func (w JoinWindows) Size() time.Duration { return time.Duration(w.before+w.after) * time.Millisecond }
