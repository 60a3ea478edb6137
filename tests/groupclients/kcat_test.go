package groupclients

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kcatLine is one record as `kcat -f '%p %o %s\n'` prints it.
type kcatLine struct {
	partition int32
	offset    int64
	value     string
}

// parseKcat parses kcat's output lines. kcat may be caught mid-write, so text after the last newline is an
// unfinished line and is left for the next look.
func parseKcat(t *testing.T, who, out string) []kcatLine {
	t.Helper()
	var lines []kcatLine
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[:i]
	} else {
		out = ""
	}
	for _, s := range strings.Split(out, "\n") {
		if s == "" {
			continue
		}
		f := strings.SplitN(s, " ", 3)
		if len(f) != 3 {
			t.Fatalf("%s printed %q: want \"partition offset value\"", who, s)
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s printed %q: bad partition or offset", who, s)
		}
		lines = append(lines, kcatLine{partition: int32(p), offset: o, value: f[2]})
	}
	return lines
}

// kcatPartition matches a partition in kcat's rebalance log:
// "% Group g rebalanced (memberid m): assigned: topic [0], topic [2]".
var kcatPartition = regexp.MustCompile(`\[(\d+)\]`)

// kcatAssignment returns the partitions kcat's latest rebalance log line
// says it owns (none after "revoked:"), and whether it logged any.
func kcatAssignment(stderr string) (parts []int32, ok bool) {
	for _, l := range strings.Split(stderr, "\n") {
		if !strings.Contains(l, "rebalanced") {
			continue
		}
		ok = true
		parts = nil
		if _, after, found := strings.Cut(l, "assigned:"); found {
			for _, m := range kcatPartition.FindAllStringSubmatch(after, -1) {
				p, _ := strconv.ParseInt(m[1], 10, 32)
				parts = append(parts, int32(p))
			}
		}
	}
	slices.Sort(parts)
	return parts, ok
}

// TestKcatBalancedConsumers runs two `kcat -G` processes (librdkafka's
// high-level balanced consumer, classic protocol) in one group on a
// 4-partition topic: once they have split the partitions, every keyed
// record produced is consumed, each partition by the one member that owns
// it; after both stop (SIGTERM: leave the group, commit) the group's
// committed offsets are the end offsets.
func TestKcatBalancedConsumers(t *testing.T) {
	t.Parallel()
	kcat := requireKcat(t)
	ctx := testContext(t)
	c := start(t)
	cl := client(t, c)
	adm := kadmClient(cl)
	const topic, group, n = "kcat-balanced", "kcat-group", 200
	createTopic(ctx, t, adm, topic, 4)

	members := make([]*proc, 2)
	for i := range members {
		members[i] = startProc(ctx, t, kcat, "-b", c.Addr(), "-G", group, "-u",
			"-f", `%p %o %s\n`,
			"-X", "auto.offset.reset=earliest",
			"-X", "auto.commit.interval.ms=200",
			topic)
	}

	// Wait for the group to settle: the two members' latest assignments
	// split partitions 0-3 between them, neither empty.
	var assigned [2][]int32
	for {
		settled := true
		var all []int32
		for i, m := range members {
			parts, _ := kcatAssignment(m.stderr.String())
			assigned[i] = parts
			if len(parts) == 0 {
				settled = false
			}
			all = append(all, parts...)
		}
		slices.Sort(all)
		if settled && slices.Equal(all, []int32{0, 1, 2, 3}) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the two kcat -G members never split the 4 partitions (latest: %v and %v)\n%v\n%v", assigned[0], assigned[1], members[0], members[1])
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("assignment: %v and %v", assigned[0], assigned[1])

	vals := produce(ctx, t, cl, topic, "v", n)
	ends := endOffsets(ctx, t, adm, topic)

	// Wait until every record has been printed by one of them.
	var got [2][]kcatLine
	for {
		seen := map[string]bool{}
		for i, m := range members {
			got[i] = parseKcat(t, fmt.Sprintf("kcat member %d", i), m.stdout.String())
			for _, l := range got[i] {
				seen[l.value] = true
			}
		}
		if len(seen) >= n {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kcat -G members consumed %d of %d records\n%v\n%v", len(seen), n, members[0], members[1])
		case <-time.After(50 * time.Millisecond):
		}
	}

	// Each record is consumed at least once, each partition by its owner
	// only, at offsets within the partition.
	count := map[string]int{}
	for i := range members {
		for _, l := range got[i] {
			count[l.value]++
			if !slices.Contains(assigned[i], l.partition) {
				t.Errorf("kcat member %d (assigned %v) consumed %d@%d %q from a partition it does not own", i, assigned[i], l.partition, l.offset, l.value)
			}
			if l.offset < 0 || l.offset >= ends[l.partition] {
				t.Errorf("kcat member %d consumed %d@%d, beyond the end offset %d", i, l.partition, l.offset, ends[l.partition])
			}
		}
	}
	for _, v := range vals {
		if count[v] == 0 {
			t.Errorf("record %q was not consumed", v)
		}
	}

	for _, m := range members {
		m.stop(ctx, t)
	}
	if got := committed(ctx, t, adm, group, topic); !sameOffsets(got, ends) {
		t.Errorf("after both members stopped, group %s's committed offsets are %v, want the end offsets %v", group, got, ends)
	}
	checkGroupEmpty(ctx, t, adm, group)
}
