package connect

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// The worker metadata and assignment layouts round-trip, and match
// Kafka's byte layout (IncrementalCooperativeConnectProtocol).
func TestGroupProtocolRoundTrip(t *testing.T) {
	a := &connectAssignment{
		Version: connectProtocolV2, Leader: "leader-1", LeaderURL: "http://w1:8083/", ConfigOffset: 42,
		Connectors: []string{"a", "b"},
		Tasks:      []TaskID{{"a", 0}, {"a", 2}, {"c", 1}},
		Revoked:    connectorsAndTasks{Connectors: []string{"z"}, Tasks: []TaskID{{"z", 0}}},
		Delay:      1500,
	}
	got, err := decodeAssignment(encodeAssignment(a))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("assignment round trip:\n%+v\nwant\n%+v", got, a)
	}
	ws := workerState{Version: connectProtocolV1, URL: "http://w2:8083/", ConfigOffset: 7, Assignment: a}
	gotWS, err := decodeWorkerState(encodeWorkerState(ws))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotWS, ws) {
		t.Fatalf("worker state round trip:\n%+v\nwant\n%+v", gotWS, ws)
	}
	// A worker with no assignment sends a null allocation.
	empty := encodeWorkerState(workerState{Version: 2, URL: "u", ConfigOffset: -1})
	want := []byte{0, 2, 0, 1, 'u', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if !bytes.Equal(empty, want) {
		t.Fatalf("empty worker state % x, want % x", empty, want)
	}
	// Connector assignments group by connector, -1 standing for the
	// connector instance.
	small := encodeAssignment(&connectAssignment{Version: 1, Leader: "l", LeaderURL: "u", Connectors: []string{"c"}, Tasks: []TaskID{{"c", 0}}})
	wantSmall := []byte{
		0, 1, 0, 0, // version, error
		0, 1, 'l', 0, 1, 'u', // leader, leader url
		0, 0, 0, 0, 0, 0, 0, 0, // config offset
		0, 0, 0, 1, 0, 1, 'c', 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, // [c: -1, 0]
		0, 0, 0, 0, // revoked
		0, 0, 0, 0, // delay
	}
	if !bytes.Equal(small, wantSmall) {
		t.Fatalf("assignment % x\nwant       % x", small, wantSmall)
	}
	// Kafka's eager (version 0) assignment has no revoked list or delay.
	v0, err := decodeAssignment(wantSmall[:len(wantSmall)-8])
	if err != nil || len(v0.Connectors) != 1 || len(v0.Tasks) != 1 || v0.Delay != 0 {
		t.Fatalf("v0 assignment: %+v %v", v0, err)
	}
}

func FuzzDecodeGroupProtocol(f *testing.F) {
	a := &connectAssignment{Version: 2, Leader: "l", LeaderURL: "u", Connectors: []string{"a"}, Tasks: []TaskID{{"a", 0}}, Delay: 5}
	f.Add(encodeAssignment(a))
	f.Add(encodeWorkerState(workerState{Version: 2, URL: "u", Assignment: a}))
	f.Add([]byte{0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Never panics; what decodes re-encodes to what decodes the same.
		if a, err := decodeAssignment(b); err == nil {
			again, err := decodeAssignment(encodeAssignment(a))
			if err != nil {
				t.Fatalf("re-decoding %+v: %v", a, err)
			}
			if len(again.Connectors) != len(uniqueSorted(a.Connectors)) && len(again.Connectors) != len(a.Connectors) {
				t.Fatalf("connectors changed: %v -> %v", a.Connectors, again.Connectors)
			}
		}
		decodeWorkerState(b)
	})
}

func tasksOf(name string, n int) []TaskID {
	out := make([]TaskID, n)
	for i := range out {
		out[i] = TaskID{name, i}
	}
	return out
}

func running(conns []string, tasks []TaskID) connectorsAndTasks {
	return connectorsAndTasks{Connectors: conns, Tasks: tasks}
}

// apply plays a member's side: what it runs after a round.
func applyRound(members []memberState, results map[string]*assignResult) []memberState {
	out := make([]memberState, len(members))
	for i, m := range members {
		out[i] = memberState{ID: m.ID, Running: results[m.ID].Assigned}
	}
	return out
}

// KIP-415's incremental cooperative assignment, round by round.
func TestAssignRound(t *testing.T) {
	now := time.Unix(1000, 0)
	delay := 10 * time.Second
	mem := &assignorMemory{}
	conns := []string{"src", "sink"}
	tasks := append(tasksOf("src", 1), tasksOf("sink", 3)...)

	// One worker gets everything.
	members := []memberState{{ID: "w1"}}
	res, d := assignRound(mem, now, delay, members, conns, tasks)
	if d != 0 || len(res["w1"].Assigned.Connectors) != 2 || len(res["w1"].Assigned.Tasks) != 4 || !res["w1"].Revoked.empty() {
		t.Fatalf("one worker: %+v delay %v", res["w1"], d)
	}
	members = applyRound(members, res)

	// Two more join: nothing is unassigned, so the first worker revokes
	// its excess only, and keeps the rest running.
	members = append(members, memberState{ID: "w2"}, memberState{ID: "w3"})
	res, d = assignRound(mem, now, delay, members, conns, tasks)
	if d != 0 {
		t.Fatalf("delay %v", d)
	}
	if got := res["w1"].Revoked; len(got.Tasks) != 2 || len(got.Connectors) != 1 {
		t.Fatalf("w1 revokes %+v, want 2 tasks and 1 connector", got)
	}
	if !res["w2"].Revoked.empty() || !res["w3"].Revoked.empty() {
		t.Fatalf("new workers revoke: %+v %+v", res["w2"].Revoked, res["w3"].Revoked)
	}
	members = applyRound(members, res)

	// The follow-up round hands the revoked work out.
	res, _ = assignRound(mem, now, delay, members, conns, tasks)
	counts := map[string]int{}
	all := map[TaskID]string{}
	for id, r := range res {
		counts[id] = len(r.Assigned.Tasks)
		if !r.Revoked.empty() {
			t.Fatalf("%s revokes %+v in the follow-up round", id, r.Revoked)
		}
		for _, tk := range r.Assigned.Tasks {
			if other, dup := all[tk]; dup {
				t.Fatalf("%s assigned to %s and %s", tk, other, id)
			}
			all[tk] = id
		}
	}
	if len(all) != 4 || counts["w1"] > 2 || counts["w2"] < 1 || counts["w3"] < 1 {
		t.Fatalf("balanced round: %v", counts)
	}
	members = applyRound(members, res)

	// w3 departs: its work is held back for the scheduled delay, and
	// nothing else moves.
	lostTasks := res["w3"].Assigned.Tasks
	members = members[:2]
	res, d = assignRound(mem, now, delay, members, conns, tasks)
	if d != delay {
		t.Fatalf("delay %v, want %v", d, delay)
	}
	for _, id := range []string{"w1", "w2"} {
		for _, tk := range res[id].Assigned.Tasks {
			for _, lost := range lostTasks {
				if tk == lost {
					t.Fatalf("lost task %s reassigned before the delay", tk)
				}
			}
		}
		if !res[id].Revoked.empty() {
			t.Fatalf("%s revokes %+v during the delay", id, res[id].Revoked)
		}
	}
	members = applyRound(members, res)

	// Halfway, the remaining delay is announced.
	res, d = assignRound(mem, now.Add(4*time.Second), delay, members, conns, tasks)
	if d != 6*time.Second {
		t.Fatalf("remaining delay %v, want 6s", d)
	}
	members = applyRound(members, res)

	// After the delay the lost work goes to the remaining workers.
	res, d = assignRound(mem, now.Add(delay), delay, members, conns, tasks)
	if d != 0 {
		t.Fatalf("delay after expiry %v", d)
	}
	all = map[TaskID]string{}
	for id, r := range res {
		for _, tk := range r.Assigned.Tasks {
			all[tk] = id
		}
	}
	if len(all) != 4 {
		t.Fatalf("after the delay %d of 4 tasks are assigned: %v", len(all), all)
	}
	members = applyRound(members, res)

	// A deleted connector is revoked from whoever runs it.
	res, _ = assignRound(mem, now.Add(delay), delay, members, []string{"sink"}, tasksOf("sink", 3))
	revoked := 0
	for _, r := range res {
		for _, tk := range r.Revoked.Tasks {
			if tk.Connector != "src" {
				t.Fatalf("revoked %s", tk)
			}
			revoked++
		}
		for _, c := range r.Assigned.Connectors {
			if c == "src" {
				t.Fatal("deleted connector still assigned")
			}
		}
	}
	if revoked != 1 {
		t.Fatalf("revoked %d tasks of the deleted connector, want 1", revoked)
	}
}

// With no delay configured, a departed worker's work moves at once; a
// task two members claim stays with one.
func TestAssignRoundNoDelay(t *testing.T) {
	mem := &assignorMemory{}
	tasks := tasksOf("s", 2)
	members := []memberState{{ID: "a"}, {ID: "b"}}
	res, _ := assignRound(mem, time.Unix(0, 0), 0, members, []string{"s"}, tasks)
	members = applyRound(members, res)
	res, d := assignRound(mem, time.Unix(0, 0), 0, members[:1], []string{"s"}, tasks)
	if d != 0 || len(res["a"].Assigned.Tasks) != 2 || len(res["a"].Assigned.Connectors) != 1 {
		t.Fatalf("after b left: %+v delay %v", res["a"], d)
	}
	dup := []memberState{{ID: "a", Running: running(nil, tasks)}, {ID: "b", Running: running(nil, tasks[:1])}}
	res, _ = assignRound(&assignorMemory{}, time.Unix(0, 0), 0, dup, []string{"s"}, tasks)
	// b's claim on s-0 is revoked; a keeps s-0 and, being busier than
	// b by two, revokes s-1 so that it can move to b next round.
	if !reflect.DeepEqual(res["b"].Revoked.Tasks, []TaskID{{"s", 0}}) || !reflect.DeepEqual(res["a"].Assigned.Tasks, []TaskID{{"s", 0}}) ||
		!reflect.DeepEqual(res["a"].Revoked.Tasks, []TaskID{{"s", 1}}) {
		t.Fatalf("duplicate claim: a %+v, b %+v", res["a"], res["b"])
	}
}
