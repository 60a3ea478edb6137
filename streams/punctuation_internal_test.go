package streams

import (
	"testing"
	"time"
)

// TestPunctuationScheduleNext is Kafka's PunctuationSchedule.next: the
// boundary after the one that fired, or, when the time that fired it is
// past that one too, the first boundary after that time.
func TestPunctuationScheduleNext(t *testing.T) {
	ms := func(n int64) time.Time { return time.UnixMilli(n) }
	for _, tc := range []struct {
		next, now, interval, want int64
	}{
		{0, 1000, 10000, 10000},
		{10000, 10000, 10000, 20000},
		{10000, 19999, 10000, 20000},
		{20000, 45000, 10000, 50000},
		{20000, 50000, 10000, 60000},
		{100, 100, 1, 101},
	} {
		s := &punctuationSchedule{next: ms(tc.next), interval: time.Duration(tc.interval) * time.Millisecond}
		s.advance(ms(tc.now))
		if got := s.next.UnixMilli(); got != tc.want {
			t.Errorf("next %d, fired at %d, interval %d: next due %d, want %d", tc.next, tc.now, tc.interval, got, tc.want)
		}
	}
}

func TestPunctuationQueueOrder(t *testing.T) {
	var q punctuationQueue
	var ran []string
	add := func(name string, next int64, cancelOther *punctuationSchedule) *punctuationSchedule {
		s := &punctuationSchedule{node: name, next: time.UnixMilli(next), interval: time.Second}
		s.run = func(time.Time) error {
			ran = append(ran, name)
			if cancelOther != nil {
				cancelOther.Cancel()
			}
			return nil
		}
		q.add(s)
		return s
	}
	c := add("c", 300, nil)
	add("b", 200, c)
	add("a", 100, nil)
	add("late", 5000, nil)
	if ran2, err := q.mayPunctuate(time.UnixMilli(1000)); err != nil || !ran2 {
		t.Fatal(ran2, err)
	}
	// In order of due time; b cancelled c before c's turn.
	if got := ran; len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("ran %v", got)
	}
	if len(q.scheds) != 4 {
		t.Fatalf("cancelled schedule dropped too early: %d", len(q.scheds))
	}
	ran = nil
	// a is due again at 1100, b at 1200.
	q.mayPunctuate(time.UnixMilli(1200))
	if len(q.scheds) != 3 || len(ran) != 2 {
		t.Fatalf("after the next round: %d schedules, ran %v", len(q.scheds), ran)
	}
	if next, ok := q.nextDue(); !ok || next.UnixMilli() != 2100 {
		t.Fatalf("next due %v %v", next, ok)
	}
}
