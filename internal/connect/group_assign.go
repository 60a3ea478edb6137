package connect

import (
	"cmp"
	"slices"
	"sort"
	"time"
)

// The leader's assignor: incremental cooperative assignment (Kafka's
// IncrementalCooperativeAssignor, KIP-415), as a deterministic function
// of the members' reported assignments, the configured connectors and
// tasks, the leader's memory of the previous round, and the time.
//
// Each round:
//
//  1. What a member runs and is no longer configured (deleted connectors,
//     tasks gone after a reconfiguration) is revoked; so is what two
//     members both claim, from all but the first.
//  2. Work held in the previous round by a worker that has left is lost.
//     If scheduled.rebalance.max.delay.ms > 0 the leader waits for the
//     worker to come back: it holds the lost work unassigned and tells
//     every member the remaining delay, after which they rejoin. A new
//     worker that joins meanwhile gets the lost work at once; when the
//     delay has passed, the lost work goes to the remaining workers.
//  3. Unassigned connectors and tasks go to the workers with the fewest
//     (connectors and tasks are balanced separately).
//  4. If the workers are still imbalanced (most and fewest differ by more
//     than one), the excess is revoked from the busiest; it is assigned in
//     the next round, which the revoking workers start by rejoining.
//
// Only what moves is revoked; everything else keeps running.

// memberState is one member as the leader sees it in JoinGroup.
type memberState struct {
	ID  string
	URL string
	// ConfigOffset is how far the member had read the config topic.
	ConfigOffset int64
	// Running is what the member reported it runs.
	Running connectorsAndTasks
}

// assignorMemory is what the leader remembers between rounds.
type assignorMemory struct {
	// previous is each member's assignment of the last round.
	previous map[string]connectorsAndTasks
	// held is the lost work held back for a departed worker.
	held connectorsAndTasks
	// delayUntil is when held work is given to the remaining workers
	// (zero: no delay scheduled).
	delayUntil time.Time
}

// assignResult is a round's outcome for one member.
type assignResult struct {
	Assigned connectorsAndTasks // everything it runs after revoking
	Revoked  connectorsAndTasks
}

// assignRound computes one round. connectors and tasks are everything
// configured. It returns each member's result, the delay to announce, and
// updates mem.
func assignRound(mem *assignorMemory, now time.Time, maxDelay time.Duration, members []memberState, connectors []string, tasks []TaskID) (map[string]*assignResult, time.Duration) {
	slices.SortFunc(members, func(a, b memberState) int { return cmp.Compare(a.ID, b.ID) })
	cfgConn := setOf(connectors)
	cfgTask := setOf(tasks)
	out := map[string]*assignResult{}
	heldConn := map[string]string{} // connector -> member
	heldTask := map[TaskID]string{}
	present := map[string]bool{}
	for _, m := range members {
		present[m.ID] = true
		r := &assignResult{}
		out[m.ID] = r
		for _, c := range uniqueSorted(m.Running.Connectors) {
			if _, dup := heldConn[c]; !cfgConn[c] || dup {
				r.Revoked.Connectors = append(r.Revoked.Connectors, c)
				continue
			}
			heldConn[c] = m.ID
			r.Assigned.Connectors = append(r.Assigned.Connectors, c)
		}
		for _, t := range uniqueSortedTasks(m.Running.Tasks) {
			if _, dup := heldTask[t]; !cfgTask[t] || dup {
				r.Revoked.Tasks = append(r.Revoked.Tasks, t)
				continue
			}
			heldTask[t] = m.ID
			r.Assigned.Tasks = append(r.Assigned.Tasks, t)
		}
	}

	// Lost work: assigned before (or held back) and not running now.
	lost := connectorsAndTasks{}
	departed := false
	for id, prev := range mem.previous {
		if present[id] {
			continue
		}
		departed = true
		lost.Connectors = append(lost.Connectors, prev.Connectors...)
		lost.Tasks = append(lost.Tasks, prev.Tasks...)
	}
	lost.Connectors = append(lost.Connectors, mem.held.Connectors...)
	lost.Tasks = append(lost.Tasks, mem.held.Tasks...)
	lostConn := map[string]bool{}
	for _, c := range lost.Connectors {
		if _, running := heldConn[c]; cfgConn[c] && !running {
			lostConn[c] = true
		}
	}
	lostTask := map[TaskID]bool{}
	for _, t := range lost.Tasks {
		if _, running := heldTask[t]; cfgTask[t] && !running {
			lostTask[t] = true
		}
	}
	newWorkers := []string{}
	if mem.previous != nil {
		for _, m := range members {
			if _, known := mem.previous[m.ID]; !known && m.Running.empty() {
				newWorkers = append(newWorkers, m.ID)
			}
		}
	}
	var delay time.Duration
	holdBack := false
	if (len(lostConn) > 0 || len(lostTask) > 0) && maxDelay > 0 && len(newWorkers) == 0 {
		if mem.delayUntil.IsZero() && departed {
			mem.delayUntil = now.Add(maxDelay)
		}
		if !mem.delayUntil.IsZero() && now.Before(mem.delayUntil) {
			holdBack = true
			delay = mem.delayUntil.Sub(now)
		}
	}
	mem.held = connectorsAndTasks{}
	if holdBack {
		mem.held.Connectors = sortedKeys(lostConn)
		mem.held.Tasks = sortedTaskKeys(lostTask)
	} else {
		mem.delayUntil = time.Time{}
	}

	// Unassigned work, except what is held back.
	var newConn []string
	for _, c := range uniqueSorted(connectors) {
		if _, running := heldConn[c]; !running && !(holdBack && lostConn[c]) {
			newConn = append(newConn, c)
		}
	}
	var newTask []TaskID
	for _, t := range uniqueSortedTasks(tasks) {
		if _, running := heldTask[t]; !running && !(holdBack && lostTask[t]) {
			newTask = append(newTask, t)
		}
	}
	if len(members) > 0 {
		// Lost work goes to new workers first, when there are any.
		targets := members
		if len(newWorkers) > 0 && (len(lostConn) > 0 || len(lostTask) > 0) {
			targets = nil
			for _, m := range members {
				if slices.Contains(newWorkers, m.ID) {
					targets = append(targets, m)
				}
			}
		}
		distribute(out, targets, newConn,
			func(r *assignResult) int { return len(r.Assigned.Connectors) },
			func(r *assignResult, c string) { r.Assigned.Connectors = append(r.Assigned.Connectors, c) })
		distribute(out, targets, newTask,
			func(r *assignResult) int { return len(r.Assigned.Tasks) },
			func(r *assignResult, t TaskID) { r.Assigned.Tasks = append(r.Assigned.Tasks, t) })
		if !holdBack {
			rebalance(out, members, len(newConn) > 0, func(r *assignResult) *[]string { return &r.Assigned.Connectors },
				func(r *assignResult, c string) { r.Revoked.Connectors = append(r.Revoked.Connectors, c) })
			rebalance(out, members, len(newTask) > 0, func(r *assignResult) *[]TaskID { return &r.Assigned.Tasks },
				func(r *assignResult, t TaskID) { r.Revoked.Tasks = append(r.Revoked.Tasks, t) })
		}
	}
	mem.previous = map[string]connectorsAndTasks{}
	for id, r := range out {
		sort.Strings(r.Assigned.Connectors)
		sortTasks(r.Assigned.Tasks)
		sort.Strings(r.Revoked.Connectors)
		sortTasks(r.Revoked.Tasks)
		mem.previous[id] = connectorsAndTasks{Connectors: slices.Clone(r.Assigned.Connectors), Tasks: slices.Clone(r.Assigned.Tasks)}
	}
	return out, delay
}

// distribute gives each item to the member with the fewest, ties to the
// lowest member id.
func distribute[T any](out map[string]*assignResult, members []memberState, items []T, count func(*assignResult) int, add func(*assignResult, T)) {
	if len(members) == 0 {
		return
	}
	for _, it := range items {
		best := members[0].ID
		for _, m := range members[1:] {
			if count(out[m.ID]) < count(out[best]) {
				best = m.ID
			}
		}
		add(out[best], it)
	}
}

// rebalance revokes from the busiest members when most and fewest differ
// by more than one: down to the ceiling of the mean, then, while a
// member is still below its floor, down to the floor. Items assigned
// this round are never revoked in it, so it skips when work was just
// handed out.
func rebalance[T any](out map[string]*assignResult, members []memberState, justAssigned bool, items func(*assignResult) *[]T, revoke func(*assignResult, T)) {
	if justAssigned || len(members) < 2 {
		return
	}
	total, most, fewest := 0, 0, -1
	for _, m := range members {
		n := len(*items(out[m.ID]))
		total += n
		most = max(most, n)
		if fewest < 0 || n < fewest {
			fewest = n
		}
	}
	if most-fewest <= 1 {
		return
	}
	floor := total / len(members)
	ceil := floor
	if total%len(members) != 0 {
		ceil++
	}
	deficit := 0 // what members below the floor lack, after revoking to ceil
	for _, m := range members {
		if n := len(*items(out[m.ID])); n < floor {
			deficit += floor - n
		}
	}
	revoked := 0
	trim := func(limit int, budget func() bool) {
		for _, m := range members {
			r := out[m.ID]
			l := items(r)
			for len(*l) > limit && budget() {
				last := (*l)[len(*l)-1]
				*l = (*l)[:len(*l)-1]
				revoke(r, last)
				revoked++
			}
		}
	}
	trim(ceil, func() bool { return true })
	trim(floor, func() bool { return revoked < deficit })
}

func setOf[T comparable](items []T) map[T]bool {
	m := make(map[T]bool, len(items))
	for _, it := range items {
		m[it] = true
	}
	return m
}

func uniqueSorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

func uniqueSortedTasks(s []TaskID) []TaskID {
	out := slices.Clone(s)
	sortTasks(out)
	return slices.Compact(out)
}

func sortTasks(s []TaskID) {
	slices.SortFunc(s, func(a, b TaskID) int {
		if c := cmp.Compare(a.Connector, b.Connector); c != 0 {
			return c
		}
		return cmp.Compare(a.Task, b.Task)
	})
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedTaskKeys(m map[TaskID]bool) []TaskID {
	out := make([]TaskID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortTasks(out)
	return out
}
