package groupfault

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a reporter that keeps the errors.
type recorder struct{ errs []string }

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}

// fakeMember is a member with a recorded history and no process.
func fakeMember(name string, killedAt int64, evs ...event) *member {
	m := &member{name: name}
	for _, ev := range evs {
		ev.member = name
		m.mu.events = append(m.mu.events, ev)
	}
	m.mu.killedAt = killedAt
	return m
}

func assigned(ts int64, parts ...int32) event { return event{Ev: "assigned", TS: ts, Parts: parts} }
func revoked(ts int64, parts ...int32) event  { return event{Ev: "revoked", TS: ts, Parts: parts} }
func commit(ts int64, p string, o int64) event {
	return event{Ev: "commit", TS: ts, Offsets: map[string]int64{p: o}}
}
func record(ts int64, p int32, o int64) event {
	return event{Ev: "record", TS: ts, P: p, O: o, V: fmt.Sprintf("%d-%d", p, o)}
}

// The checks must pass good histories and catch bad ones; otherwise the
// multi-process test could not fail.
func TestChecksCatchBadHistories(t *testing.T) {
	for _, tc := range []struct {
		name    string
		check   func(reporter, []*member)
		members []*member
		want    string // substring of an error; "" for none
	}{
		{"handover", checkOwnership, []*member{
			fakeMember("a", 0, assigned(1, 0, 1), revoked(3, 1)),
			fakeMember("b", 0, assigned(4, 1)),
		}, ""},
		{"overlap", checkOwnership, []*member{
			fakeMember("a", 0, assigned(1, 0, 1), revoked(5, 1)),
			fakeMember("b", 0, assigned(4, 1)),
		}, "while live member a still owns it"},
		{"killed owner", checkOwnership, []*member{
			fakeMember("a", 3, assigned(1, 0, 1)),
			fakeMember("b", 0, assigned(4, 0, 1)),
		}, ""},
		{"revoke unowned", checkOwnership, []*member{
			fakeMember("a", 0, assigned(1, 0), revoked(2, 1)),
		}, "did not own"},
		{"commits forward", checkCommits, []*member{
			fakeMember("a", 0, commit(1, "0", 5), commit(2, "0", 9)),
			fakeMember("b", 0, commit(3, "0", 9), commit(4, "0", 12)),
		}, ""},
		{"resume at commit", checkResume, []*member{
			fakeMember("a", 0, assigned(1, 0), record(2, 0, 0), commit(3, "0", 1), revoked(4, 0)),
			fakeMember("b", 0, assigned(5, 0), record(6, 0, 1)),
		}, ""},
		{"resume below commit", checkResume, []*member{
			fakeMember("a", 0, assigned(1, 0), record(2, 0, 0), record(3, 0, 1), commit(4, "0", 2), revoked(5, 0)),
			fakeMember("b", 0, assigned(6, 0), record(7, 0, 1)),
		}, "started partition 0 at offset 1, below the committed offset 2"},
		{"commit backwards", checkCommits, []*member{
			fakeMember("a", 0, commit(1, "0", 5), commit(2, "0", 9)),
			fakeMember("b", 0, commit(3, "0", 7)),
		}, "committed 7 after a committed 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			tc.check(r, tc.members)
			checkWant(t, r.errs, tc.want)
		})
	}

	acked := map[int32]map[int64]string{0: {0: "0-0", 1: "0-1", 2: "0-2"}}
	end := map[int32]int64{0: 3}
	for _, tc := range []struct {
		name    string
		members []*member
		want    string
	}{
		{"all once", []*member{fakeMember("a", 0, record(1, 0, 0), record(2, 0, 1), record(3, 0, 2))}, ""},
		{"duplicates", []*member{
			fakeMember("a", 0, record(1, 0, 0), record(2, 0, 1)),
			fakeMember("b", 0, record(3, 0, 1), record(4, 0, 2)),
		}, ""},
		{"skipped", []*member{fakeMember("a", 0, record(1, 0, 0), record(3, 0, 2))}, "offset 1 (\"0-1\") was never consumed"},
		{"wrong value", []*member{fakeMember("a", 0, record(1, 0, 0), record(2, 0, 1),
			event{Ev: "record", TS: 3, P: 0, O: 2, V: "0-7"})}, "value \"0-7\", produced \"0-2\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			checkRecords(r, tc.members, acked, end)
			checkWant(t, r.errs, tc.want)
		})
	}
}

func checkWant(t *testing.T, errs []string, want string) {
	t.Helper()
	if want == "" {
		if len(errs) > 0 {
			t.Errorf("good history reported: %q", errs)
		}
		return
	}
	for _, e := range errs {
		if strings.Contains(e, want) {
			return
		}
	}
	t.Errorf("bad history not caught: want an error containing %q, got %q", want, errs)
}
