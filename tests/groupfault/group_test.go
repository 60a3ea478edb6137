// Package groupfault runs a consumer group whose members are separate OS
// processes (consumer/, built with franz-go's kgo) against one real
// `gregor server` process, under steady acks=all production into a
// 12-partition topic. One member is killed with SIGKILL, a new one joins
// later, and the test checks from the members' event streams:
//
//   - after each rebalance settles, every partition is owned by exactly one
//     live member, and at no moment (events ordered by their wall-clock
//     stamps) do two live members own the same partition;
//   - committed offsets never go backwards per partition, in the commit
//     events and finally as the broker reports them (kadm FetchOffsets);
//   - every produced record was consumed by some member at least once,
//     with the value produced at that offset (nothing skipped).
//
// Duplicates are expected around the kill and are reported, not failed.
// The kill schedule is seeded; the seed is logged and GROUPFAULT_SEED
// replays it. No timing is asserted; waits have generous safety bounds.
package groupfault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	topic      = "T"
	group      = "G"
	partitions = 12
	// settleBound is a safety net for waits on the group; the session
	// timeout the members use is 6 s.
	settleBound = 40 * time.Second
)

// producer writes sequenced values ("p-seq") to every partition in turn
// until stopped, and records the offset each value was acknowledged at.
type producer struct {
	cl   *kgo.Client
	stop chan struct{}
	done chan struct{}

	mu struct {
		sync.Mutex
		acked map[int32]map[int64]string // partition -> offset -> value
		err   error
	}
}

func startProducer(t *testing.T, addr string) *producer {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	p := &producer{cl: cl, stop: make(chan struct{}), done: make(chan struct{})}
	p.mu.acked = map[int32]map[int64]string{}
	go p.run()
	t.Cleanup(p.Close)
	return p
}

func (p *producer) run() {
	defer close(p.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	for seq := 0; ; seq++ {
		select {
		case <-p.stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
		for part := range int32(partitions) {
			v := fmt.Sprintf("%d-%d", part, seq)
			wg.Add(1)
			p.cl.Produce(context.Background(), &kgo.Record{Partition: part, Value: []byte(v)}, func(r *kgo.Record, err error) {
				defer wg.Done()
				p.mu.Lock()
				defer p.mu.Unlock()
				if err != nil {
					if p.mu.err == nil {
						p.mu.err = fmt.Errorf("produce %s: %w", v, err)
					}
					return
				}
				m := p.mu.acked[r.Partition]
				if m == nil {
					m = map[int64]string{}
					p.mu.acked[r.Partition] = m
				}
				m[r.Offset] = v
			})
		}
	}
}

// Close stops production and waits for every outstanding ack.
func (p *producer) Close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	p.cl.Close()
}

func TestGroupMembersKilledAndJoining(t *testing.T) {
	seed := rand.Uint64()
	if s := os.Getenv("GROUPFAULT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("GROUPFAULT_SEED: %v", err)
		}
	}
	t.Logf("seed %d (GROUPFAULT_SEED=%d replays the kill schedule)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	admCl, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}

	prod := startProducer(t, b.addr)

	var members []*member
	start := func() *member {
		m := startMember(t, fmt.Sprintf("c%d", len(members)), b.addr, group, topic)
		members = append(members, m)
		return m
	}
	live := func() []*member {
		var out []*member
		for _, m := range members {
			if m.killedAt() == 0 {
				out = append(out, m)
			}
		}
		return out
	}
	for range 3 {
		start()
	}

	// Settled: the live members' ownership is a partition of all 12,
	// every member named in must owns at least one, and the group has
	// made some progress since the last check.
	waitSettled := func(what string, must []*member, minConsumed int) {
		t.Helper()
		deadline := time.Now().Add(settleBound)
		for {
			ok, why := settled(live(), must)
			total := 0
			for _, m := range members {
				total += m.consumedCount()
			}
			if ok && total >= minConsumed {
				t.Logf("%s: settled (%d records consumed so far)", what, total)
				for _, m := range live() {
					t.Logf("  %s owns %v", m.name, sortedKeys(m.owned()))
				}
				return
			}
			if !ok && time.Now().After(deadline) {
				t.Fatalf("%s: group did not settle within %v: %s", what, settleBound, why)
			}
			if ok && time.Now().After(deadline) {
				t.Fatalf("%s: only %d records consumed within %v", what, total, settleBound)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	consumedTotal := func() int {
		n := 0
		for _, m := range members {
			n += m.consumedCount()
		}
		return n
	}

	waitSettled("three members", members, 200)
	time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
	victim := members[rng.IntN(len(members))]
	t.Logf("SIGKILL %s (owning %v)", victim.name, sortedKeys(victim.owned()))
	victim.kill(t)

	waitSettled("after kill", live(), consumedTotal()+100)
	time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
	joiner := start()
	t.Logf("started %s", joiner.name)
	waitSettled("after join", []*member{joiner}, consumedTotal()+100)
	time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)

	prod.Close()
	prod.mu.Lock()
	perr := prod.mu.err
	acked := prod.mu.acked
	prod.mu.Unlock()
	if perr != nil {
		t.Fatal(perr)
	}
	end := map[int32]int64{}
	produced := 0
	for p := range int32(partitions) {
		n := int64(len(acked[p]))
		for o := range n {
			if _, ok := acked[p][o]; !ok {
				t.Fatalf("partition %d: acked offsets are not 0..%d (missing %d)", p, n-1, o)
			}
		}
		end[p] = n
		produced += int(n)
	}
	t.Logf("produced %d records; end offsets %v", produced, end)

	// Wait until every partition is consumed and committed to its end.
	deadline := time.Now().Add(settleBound)
	for {
		short := progressShort(members, end)
		if short == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumers did not reach the end offsets within %v: %s", settleBound, short)
		}
		time.Sleep(50 * time.Millisecond)
	}

	final := live()
	for _, m := range final {
		m.term(t)
	}
	for _, m := range final {
		m.wait(t)
	}

	// Ownership: replay every member's events in wall-clock order.
	checkOwnership(t, members)
	// Commits: never backwards per partition.
	checkCommits(t, members)
	// Resumes: a new owner starts at the committed offset.
	checkResume(t, members)
	// Records: nothing skipped; count duplicates.
	checkRecords(t, members, acked, end)

	// The broker's view of the group's commits.
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	for p := range int32(partitions) {
		r, ok := offs.Lookup(topic, p)
		switch {
		case !ok:
			t.Errorf("FetchOffsets: no committed offset for partition %d", p)
		case r.Err != nil:
			t.Errorf("FetchOffsets partition %d: %v", p, r.Err)
		case r.At != end[p]:
			t.Errorf("FetchOffsets partition %d: committed %d, want the end offset %d", p, r.At, end[p])
		}
	}
}

// settled reports whether the live members' owned partitions are
// disjoint, cover all partitions, and each member in must owns some.
func settled(live, must []*member) (bool, string) {
	owner := map[int32]string{}
	for _, m := range live {
		for p := range m.owned() {
			if o, dup := owner[p]; dup {
				return false, fmt.Sprintf("partition %d owned by %s and %s", p, o, m.name)
			}
			owner[p] = m.name
		}
	}
	for p := range int32(partitions) {
		if _, ok := owner[p]; !ok {
			return false, fmt.Sprintf("partition %d owned by no live member (owners %v)", p, owner)
		}
	}
	for _, m := range must {
		if len(m.owned()) == 0 {
			return false, m.name + " owns nothing"
		}
	}
	return true, ""
}

// progressShort describes the first partition that is not yet consumed
// and committed up to its end offset, or returns "".
func progressShort(members []*member, end map[int32]int64) string {
	consumed := map[int32]map[int64]bool{}
	committed := map[int32]int64{}
	for _, m := range members {
		for _, ev := range m.events() {
			switch ev.Ev {
			case "record":
				if consumed[ev.P] == nil {
					consumed[ev.P] = map[int64]bool{}
				}
				consumed[ev.P][ev.O] = true
			case "commit":
				for k, o := range ev.Offsets {
					p, _ := strconv.Atoi(k)
					committed[int32(p)] = max(committed[int32(p)], o)
				}
			}
		}
	}
	for p := range int32(partitions) {
		if len(consumed[p]) < int(end[p]) {
			return fmt.Sprintf("partition %d: %d of %d offsets consumed", p, len(consumed[p]), end[p])
		}
		if committed[p] < end[p] {
			return fmt.Sprintf("partition %d: committed %d of %d", p, committed[p], end[p])
		}
	}
	return ""
}

// allEvents merges the members' events in wall-clock order. A member's
// own events keep their order (a stable sort on stamps a member took in
// sequence).
func allEvents(members []*member) []event {
	var all []event
	for _, m := range members {
		all = append(all, m.events()...)
	}
	slices.SortStableFunc(all, func(a, b event) int {
		switch {
		case a.TS < b.TS:
			return -1
		case a.TS > b.TS:
			return 1
		}
		return 0
	})
	return all
}

// checkOwnership replays the assigned/revoked/lost events of all members
// in wall-clock order, dropping a killed member's partitions at its kill,
// and fails on any moment at which two live members own one partition.
// A member revokes (and logs it) before it rejoins, and the new owner
// logs its assignment after the rebalance completes, so in real time the
// revoke always comes first.
func checkOwnership(t reporter, members []*member) {
	t.Helper()
	killed := map[string]int64{}
	for _, m := range members {
		if k := m.killedAt(); k != 0 {
			killed[m.name] = k
		}
	}
	owner := map[int32]string{}
	dropKilled := func(now int64) {
		for name, at := range killed {
			if at <= now {
				for p, o := range owner {
					if o == name {
						delete(owner, p)
					}
				}
				delete(killed, name)
			}
		}
	}
	rebalances := 0
	for _, ev := range allEvents(members) {
		dropKilled(ev.TS)
		switch ev.Ev {
		case "assigned":
			rebalances++
			for _, p := range ev.Parts {
				if o, ok := owner[p]; ok && o != ev.member {
					t.Errorf("partition %d assigned to %s while live member %s still owns it", p, ev.member, o)
				}
				owner[p] = ev.member
			}
		case "revoked", "lost":
			for _, p := range ev.Parts {
				if owner[p] != ev.member {
					t.Errorf("%s %s partition %d it did not own (owner %q)", ev.member, ev.Ev, p, owner[p])
				}
				delete(owner, p)
			}
		}
	}
	t.Logf("ownership: %d assignment events replayed", rebalances)
}

// checkCommits fails if a commit event (in wall-clock order, over all
// members) lowers a partition's committed offset.
func checkCommits(t reporter, members []*member) {
	t.Helper()
	last := map[int32]int64{}
	who := map[int32]string{}
	commits, fails := 0, 0
	for _, ev := range allEvents(members) {
		switch ev.Ev {
		case "commitfail":
			fails++
			t.Logf("%s: commit failed: %s", ev.member, ev.Err)
		case "commit":
			commits++
			for k, o := range ev.Offsets {
				n, err := strconv.Atoi(k)
				if err != nil {
					t.Errorf("%s: bad partition %q in commit event", ev.member, k)
					continue
				}
				p := int32(n)
				if prev, ok := last[p]; ok && o < prev {
					t.Errorf("partition %d: %s committed %d after %s committed %d", p, ev.member, o, who[p], prev)
				}
				last[p] = max(last[p], o)
				who[p] = ev.member
			}
		}
	}
	t.Logf("commits: %d acknowledged, %d failed", commits, fails)
}

// checkResume checks where a member starts on a partition it was just
// assigned: at the group's committed offset, which is the highest offset
// a commit event (in wall-clock order) reported before the assignment. A
// start below it means the coordinator served a stale commit; a start
// above it is possible only after a kill, when the killed member's last
// commit was acknowledged but not logged (the records in the gap were
// then consumed by it, which checkRecords verifies), and is logged.
func checkResume(t reporter, members []*member) {
	t.Helper()
	committed := map[int32]int64{}
	pending := map[string]map[int32]bool{}
	resumes := 0
	for _, ev := range allEvents(members) {
		switch ev.Ev {
		case "commit":
			for k, o := range ev.Offsets {
				if n, err := strconv.Atoi(k); err == nil {
					committed[int32(n)] = max(committed[int32(n)], o)
				}
			}
		case "assigned":
			if pending[ev.member] == nil {
				pending[ev.member] = map[int32]bool{}
			}
			for _, p := range ev.Parts {
				pending[ev.member][p] = true
			}
		case "revoked", "lost":
			for _, p := range ev.Parts {
				delete(pending[ev.member], p)
			}
		case "record":
			if !pending[ev.member][ev.P] {
				continue
			}
			delete(pending[ev.member], ev.P)
			resumes++
			switch c := committed[ev.P]; {
			case ev.O < c:
				t.Errorf("%s started partition %d at offset %d, below the committed offset %d", ev.member, ev.P, ev.O, c)
			case ev.O > c:
				t.Logf("%s started partition %d at offset %d, above the last logged commit %d", ev.member, ev.P, ev.O, c)
			}
		}
	}
	t.Logf("resumes: %d first fetches after an assignment checked", resumes)
}

// checkRecords fails on any produced record no member consumed, and on a
// consumed value that differs from the one produced at that offset; it
// logs duplicate deliveries per partition.
func checkRecords(t reporter, members []*member, acked map[int32]map[int64]string, end map[int32]int64) {
	t.Helper()
	seen := map[int32]map[int64]int{}
	for _, m := range members {
		for _, ev := range m.events() {
			if ev.Ev != "record" {
				continue
			}
			if want, ok := acked[ev.P][ev.O]; !ok || want != ev.V {
				t.Errorf("%s consumed partition %d offset %d value %q, produced %q", m.name, ev.P, ev.O, ev.V, want)
			}
			if seen[ev.P] == nil {
				seen[ev.P] = map[int64]int{}
			}
			seen[ev.P][ev.O]++
		}
	}
	dups := 0
	perPart := map[int32]int{}
	for p := range int32(partitions) {
		missing := 0
		for o := range end[p] {
			switch n := seen[p][o]; {
			case n == 0:
				if missing < 5 {
					t.Errorf("partition %d offset %d (%q) was never consumed", p, o, acked[p][o])
				}
				missing++
			case n > 1:
				dups += n - 1
				perPart[p] += n - 1
			}
		}
		if missing > 0 {
			t.Errorf("partition %d: %d of %d records never consumed", p, missing, end[p])
		}
	}
	t.Logf("duplicates: %d in total, per partition %v", dups, perPart)
}

// reporter is the part of *testing.T the checks use, so that a test can
// feed them histories that must fail.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

func sortedKeys(m map[int32]bool) []int32 {
	out := make([]int32, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
