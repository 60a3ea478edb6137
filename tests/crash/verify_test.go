package crash

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestVerify checks that verify finds each kind of damage the crash test
// looks for, so that a passing crash run means something.
func TestVerify(t *testing.T) {
	rec := func(g, p, seq int) stored {
		return stored{value: fmt.Sprintf("%d:%d:%d", g, p, seq), key: key(g, seq)}
	}
	at := func(off int64, s stored) stored { s.offset = off; return s }
	// Three records of producer 0 to partition 0, acked at offsets 0-2;
	// in flight at no kill unless inKill.
	setup := func(inKill bool) *tracker {
		tr := newTracker()
		for seq := range 3 {
			tr.produce(0, 0)
			if inKill && seq == 1 {
				tr.killsStarted.Add(1)
			}
			tr.done(0, 0, seq, int64(seq), nil)
		}
		return tr
	}
	good := []stored{at(0, rec(0, 0, 0)), at(1, rec(0, 0, 1)), at(2, rec(0, 0, 2))}
	for _, tc := range []struct {
		name   string
		inKill bool
		log    []stored
		want   string // "" for no problem
	}{
		{name: "intact", log: good},
		{name: "duplicate of a record in flight at a kill", inKill: true, log: append(good[:3:3], at(3, rec(0, 0, 1))), want: "appended again"},
		{name: "duplicate without a kill", log: append(good[:3:3], at(3, rec(0, 0, 1))), want: "appended again"},
		{name: "acked record lost", log: good[:2], want: "acked record 0:0:2 lost"},
		{name: "acked record overwritten", log: []stored{good[0], good[1], at(2, rec(0, 0, 1))}, want: "acked record 0:0:2 lost"},
		{name: "out of order", log: []stored{at(0, rec(0, 0, 1)), at(1, rec(0, 0, 0)), good[2]}, want: "out of order"},
		{name: "never produced", log: append(good[:3:3], at(3, rec(0, 0, 7))), want: "never produced"},
		{name: "wrong partition", log: append(good[:3:3], at(3, rec(0, 1, 0))), want: "never produced"},
		{name: "garbage value", log: append(good[:3:3], stored{offset: 3, value: "x"}), want: "never produced"},
		{name: "wrong key", log: []stored{good[0], {offset: 1, value: "0:0:1", key: []byte("other")}, good[2]}, want: "has key"},
		{name: "gap over an acked record", log: []stored{good[0], at(2, rec(0, 0, 2))}, want: "is missing before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := setup(tc.inKill)
			_, problems := tr.verify(map[int32][]stored{0: tc.log})
			joined := strings.Join(problems, "\n")
			if tc.want == "" && len(problems) > 0 {
				t.Fatalf("unexpected problems:\n%s", joined)
			}
			if tc.want != "" && !strings.Contains(joined, tc.want) {
				t.Fatalf("want a problem containing %q, got:\n%s", tc.want, joined)
			}
		})
	}
	t.Run("failed record may be missing", func(t *testing.T) {
		tr := newTracker()
		for seq := range 3 {
			tr.produce(0, 0)
			var err error
			if seq == 1 {
				err = errors.New("boom")
			}
			tr.done(0, 0, seq, int64(seq/2), err)
		}
		if _, problems := tr.verify(map[int32][]stored{0: {good[0], at(1, rec(0, 0, 2))}}); len(problems) > 0 {
			t.Fatalf("unexpected problems: %v", problems)
		}
	})
}
