package group

import (
	"cmp"
	"slices"
)

// Server-side assignors of KIP-848 consumer groups. Both are pure
// functions of the members' subscriptions and the previous target
// assignment; they only differ in how they spread partitions.

// topicRef is a subscribed topic that exists.
type topicRef struct {
	name       string
	id         [16]byte
	partitions int32
}

type assignorInput struct {
	// members in member id order.
	members []string
	// subscriptions of each member, in topic name order.
	subscriptions map[string][]topicRef
	// current is the previous target assignment.
	current map[string]assignment
}

type topicPartition struct {
	topic [16]byte
	p     int32
}

func cmpTP(a, b topicPartition) int {
	if c := slices.Compare(a.topic[:], b.topic[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.p, b.p)
}

// assignUniform spreads every subscribed partition over the members
// subscribed to its topic so that their partition counts differ by at
// most one where subscriptions allow, keeping partitions where they were
// (Kafka's "uniform" assignor is sticky and balanced in the same sense).
//
// It keeps each member's previous partitions it still subscribes to,
// gives the rest to the least loaded eligible member, then moves
// partitions from the most to the least loaded eligible member while
// that narrows the gap by two or more.
func assignUniform(in assignorInput) map[string]assignment {
	out := make(map[string]assignment, len(in.members))
	eligible := map[[16]byte][]string{} // topic → subscribed members
	var all []topicPartition
	seenTopic := map[[16]byte]bool{}
	for _, m := range in.members {
		out[m] = assignment{}
		for _, t := range in.subscriptions[m] {
			eligible[t.id] = append(eligible[t.id], m)
			if !seenTopic[t.id] {
				seenTopic[t.id] = true
				for p := range t.partitions {
					all = append(all, topicPartition{t.id, p})
				}
			}
		}
	}
	slices.SortFunc(all, cmpTP)
	owner := map[topicPartition]string{}
	count := map[string]int{}
	// Sticky: keep what each member had, if still valid.
	for _, m := range in.members {
		for _, tp := range sortedPartitions(in.current[m]) {
			if _, taken := owner[tp]; taken || !slices.Contains(eligible[tp.topic], m) || !hasPartition(all, tp) {
				continue
			}
			owner[tp] = m
			count[m]++
		}
	}
	leastLoaded := func(ms []string) string {
		best := ""
		for _, m := range ms {
			if best == "" || count[m] < count[best] {
				best = m
			}
		}
		return best
	}
	for _, tp := range all {
		if _, ok := owner[tp]; ok {
			continue
		}
		m := leastLoaded(eligible[tp.topic])
		owner[tp] = m
		count[m]++
	}
	// Balance: move a partition from a member to an eligible one with at
	// least two fewer, until none can move. Each move lowers the sum of
	// squared counts, so this ends.
	for moved := true; moved; {
		moved = false
		for _, tp := range all {
			from := owner[tp]
			to := leastLoaded(eligible[tp.topic])
			if count[to]+1 < count[from] {
				owner[tp] = to
				count[from]--
				count[to]++
				moved = true
			}
		}
	}
	for tp, m := range owner {
		out[m].add(tp.topic, tp.p)
	}
	return out
}

// assignRange gives each member subscribed to a topic a contiguous range
// of its partitions, members in member id order, the first ones one more
// when the partitions do not divide evenly (the classic range assignor's
// layout, done by the coordinator).
func assignRange(in assignorInput) map[string]assignment {
	out := make(map[string]assignment, len(in.members))
	byTopic := map[[16]byte][]string{}
	refs := map[[16]byte]topicRef{}
	for _, m := range in.members {
		out[m] = assignment{}
		for _, t := range in.subscriptions[m] {
			byTopic[t.id] = append(byTopic[t.id], m)
			refs[t.id] = t
		}
	}
	for id, ms := range byTopic {
		n := int32(len(ms))
		total := refs[id].partitions
		per, extra := total/n, total%n
		next := int32(0)
		for i, m := range ms {
			k := per
			if int32(i) < extra {
				k++
			}
			for p := next; p < next+k; p++ {
				out[m].add(id, p)
			}
			next += k
		}
	}
	return out
}

func sortedPartitions(a assignment) []topicPartition {
	var out []topicPartition
	for t, ps := range a {
		for p := range ps {
			out = append(out, topicPartition{t, p})
		}
	}
	slices.SortFunc(out, cmpTP)
	return out
}

func hasPartition(sorted []topicPartition, tp topicPartition) bool {
	_, ok := slices.BinarySearchFunc(sorted, tp, cmpTP)
	return ok
}
