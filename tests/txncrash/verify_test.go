package txncrash

import (
	"fmt"
	"strings"
	"testing"
)

// The checkers must catch what they are for: each case breaks one
// property of a good outcome and names the problem expected.

func TestVerifyTransactions(t *testing.T) {
	tr := newTxnTracker()
	// 0:0 committed (p0, p1), 0:1 aborted (p0), 1:0 unknown (p1, p2).
	add := func(k txnKey, o outcome, parts ...int32) []consumed {
		var recs []txnRecord
		for i, p := range parts {
			recs = append(recs, txnRecord{partition: p, value: fmt.Sprintf("%d:%d:%d:%d", k.g, k.n, i, len(parts))})
		}
		tr.begin(k, recs)
		tr.end(k, o, false, nil)
		var out []consumed
		for _, r := range recs {
			out = append(out, consumed{value: r.value})
		}
		return out
	}
	c := add(txnKey{0, 0}, committed, 0, 1)
	a := add(txnKey{0, 1}, aborted, 0)
	u := add(txnKey{1, 0}, unknown, 1, 2)

	// log builds partition logs from records, given as (partition,
	// record) pairs in log order; offsets count from 0 per partition.
	log := func(entries ...any) map[int32][]consumed {
		out := map[int32][]consumed{}
		for i := 0; i < len(entries); i += 2 {
			p := entries[i].(int32)
			r := entries[i+1].(consumed)
			r.offset = int64(len(out[p]))
			out[p] = append(out[p], r)
		}
		return out
	}
	good := log(int32(0), c[0], int32(1), c[1], int32(1), u[0], int32(2), u[1])
	cases := []struct {
		name        string
		final, seen map[int32][]consumed
		want        string // "" for no problem
	}{
		{"good", good, good, ""},
		{"unknown absent", log(int32(0), c[0], int32(1), c[1]), log(int32(0), c[0], int32(1), c[1]), ""},
		{"committed in part", log(int32(0), c[0]), log(int32(0), c[0]), "1 of its records are in the log, want all"},
		{"aborted visible", log(int32(0), c[0], int32(0), a[0], int32(1), c[1]), log(int32(0), c[0], int32(0), a[0], int32(1), c[1]), "want none"},
		{"unknown in part", log(int32(0), c[0], int32(1), c[1], int32(1), u[0]), log(int32(0), c[0], int32(1), c[1], int32(1), u[0]), "want all or none"},
		{"duplicate", log(int32(0), c[0], int32(0), c[0], int32(1), c[1]), log(int32(0), c[0], int32(0), c[0], int32(1), c[1]), "appears twice"},
		{"never produced", log(int32(0), c[0], int32(1), c[1], int32(2), consumed{value: "junk"}), log(int32(0), c[0], int32(1), c[1], int32(2), consumed{value: "junk"}), "never produced"},
		{"wrong partition", log(int32(2), c[0], int32(1), c[1]), log(int32(2), c[0], int32(1), c[1]), "never produced to this partition"},
		{"seen, later absent", log(int32(0), c[0], int32(1), c[1]), log(int32(0), c[0], int32(0), a[0], int32(1), c[1]), "the final log has"},
		{"seen in part", good, log(int32(0), c[0], int32(1), c[1], int32(1), u[0]), "skipped"},
	}
	for _, tc := range cases {
		_, problems := tr.verify(tc.final, tc.seen)
		got := strings.Join(problems, "\n")
		if tc.want == "" && len(problems) > 0 || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want one containing %q", tc.name, problems, tc.want)
		}
	}
}

func TestVerifyCTP(t *testing.T) {
	const n = 2 * ctpPartitions
	good := map[int32][]consumed{}
	for i := range n {
		p := int32(i % ctpPartitions)
		good[p] = append(good[p], consumed{offset: int64(len(good[p])), value: fmt.Sprintf("%d@%d/%d", i, p, i/ctpPartitions)})
	}
	with := func(p int32, values ...string) map[int32][]consumed {
		out := map[int32][]consumed{}
		for q, rs := range good {
			out[q] = rs
		}
		out[p] = nil
		for i, v := range values {
			out[p] = append(out[p], consumed{offset: int64(i), value: v})
		}
		return out
	}
	cases := []struct {
		name        string
		final, seen map[int32][]consumed
		want        string
	}{
		{"good", good, good, ""},
		{"gap", with(1, "7@1/1"), with(1, "7@1/1"), "input record 1 has no output"},
		{"duplicate", with(1, "1@1/0", "1@1/0", "7@1/1"), with(1, "1@1/0", "1@1/0", "7@1/1"), "input record 1 has 2 outputs"},
		{"reordered", with(1, "7@1/1", "1@1/0"), with(1, "7@1/1", "1@1/0"), "first difference at index 0"},
		{"junk", with(1, "1@1/0", "7@1/1", "x"), with(1, "1@1/0", "7@1/1", "x"), "no transform"},
		{"seen differs", good, with(1, "1@1/0"), "the concurrent read_committed consumer saw 1 records"},
	}
	for _, tc := range cases {
		problems := verifyCTP(n, tc.final, tc.seen)
		got := strings.Join(problems, "\n")
		if tc.want == "" && len(problems) > 0 || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want one containing %q", tc.name, problems, tc.want)
		}
	}
}
