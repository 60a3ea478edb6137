package controller

import (
	"reflect"
	"slices"
	"testing"

	"github.com/gregor-streaming/gregor/internal/metadata"
)

// TestPartitionChange checks the PartitionChangeBuilder rules one case at
// a time (cf. Kafka's PartitionChangeBuilderTest).
func TestPartitionChange(t *testing.T) {
	part := func(replicas, isr []int32, leader int32) metadata.Partition {
		return metadata.Partition{Replicas: replicas, ISR: isr, Leader: leader, LeaderEpoch: 5, PartitionEpoch: 9}
	}
	alive := func(ids ...int32) func(int32) bool {
		return func(id int32) bool { return slices.Contains(ids, id) }
	}
	type want struct {
		ok                  bool
		leader, leaderEpoch int32
		isr, replicas       []int32
		adding, removing    []int32
	}
	for _, tc := range []struct {
		name   string
		cur    metadata.Partition
		alive  func(int32) bool
		el     election
		isr    []int32 // target ISR, nil: unchanged
		adding []int32 // target adding, with replicas
		remove []int32
		reps   []int32
		want   want
	}{
		{name: "nothing to do", cur: part([]int32{1, 2, 3}, []int32{1, 2, 3}, 1), alive: alive(1, 2, 3),
			want: want{ok: false}},
		{name: "ISR shrink keeps the leader and its epoch", cur: part([]int32{1, 2, 3}, []int32{1, 2, 3}, 1), alive: alive(1, 2, 3),
			isr: []int32{1, 2}, want: want{ok: true, leader: 1, leaderEpoch: 5, isr: []int32{1, 2}}},
		{name: "leader out: next ISR member in replica order, epoch bump", cur: part([]int32{1, 2, 3}, []int32{1, 3, 2}, 1), alive: alive(2, 3),
			isr: []int32{3, 2}, want: want{ok: true, leader: 2, leaderEpoch: 6, isr: []int32{3, 2}}},
		{name: "leader not acceptable but still in ISR moves", cur: part([]int32{1, 2}, []int32{1, 2}, 1), alive: alive(2),
			want: want{ok: true, leader: 2, leaderEpoch: 6}},
		{name: "last ISR member goes: ISR kept, leaderless", cur: part([]int32{1, 2}, []int32{1}, 1), alive: alive(2),
			isr: []int32{}, want: want{ok: true, leader: -1, leaderEpoch: 6}},
		{name: "no unclean election without the flag", cur: part([]int32{1, 2}, []int32{1}, -1), alive: alive(2),
			want: want{ok: false}},
		{name: "unclean election: ISR becomes the new leader", cur: part([]int32{1, 2}, []int32{1}, -1), alive: alive(2), el: electUnclean,
			want: want{ok: true, leader: 2, leaderEpoch: 6, isr: []int32{2}}},
		{name: "unclean prefers a clean leader", cur: part([]int32{1, 2, 3}, []int32{3}, -1), alive: alive(2, 3), el: electUnclean,
			want: want{ok: true, leader: 3, leaderEpoch: 6}},
		{name: "preferred election moves to replicas[0]", cur: part([]int32{1, 2}, []int32{2, 1}, 2), alive: alive(1, 2), el: electPreferred,
			want: want{ok: true, leader: 1, leaderEpoch: 6}},
		{name: "preferred not in ISR: keep the leader", cur: part([]int32{1, 2}, []int32{2}, 2), alive: alive(1, 2), el: electPreferred,
			want: want{ok: false}},
		{name: "preferred down, leader down: next replica", cur: part([]int32{1, 2, 3}, []int32{1, 2, 3}, 2), alive: alive(3), el: electPreferred,
			want: want{ok: true, leader: 3, leaderEpoch: 6}},
		{name: "reassignment waits for adding replicas in the ISR", cur: metadata.Partition{Replicas: []int32{4, 2, 1}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 5, PartitionEpoch: 9, AddingReplicas: []int32{4}, RemovingReplicas: []int32{1}},
			alive: alive(1, 2, 4), isr: []int32{1, 2}, want: want{ok: false}},
		{name: "reassignment completes: removing leader replaced by the first new replica, epoch bump", cur: metadata.Partition{Replicas: []int32{4, 2, 1}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 5, PartitionEpoch: 9, AddingReplicas: []int32{4}, RemovingReplicas: []int32{1}},
			alive: alive(1, 2, 4), isr: []int32{1, 2, 4},
			want: want{ok: true, leader: 4, leaderEpoch: 6, isr: []int32{2, 4}, replicas: []int32{4, 2}, adding: []int32{}, removing: []int32{}}},
		{name: "removing a follower bumps the leader epoch", cur: part([]int32{1, 2, 3}, []int32{1, 2, 3}, 1), alive: alive(1, 2, 3),
			reps: []int32{1, 2, 3}, remove: []int32{3},
			want: want{ok: true, leader: 1, leaderEpoch: 6, isr: []int32{1, 2}, replicas: []int32{1, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newPartitionChange(metadata.TopicID{1}, 0, tc.cur, tc.alive)
			b.election = tc.el
			if tc.isr != nil {
				b.isr = tc.isr
			}
			if tc.reps != nil {
				b.replicas, b.adding, b.removing = tc.reps, tc.adding, tc.remove
			}
			rec, ok := b.build()
			if ok != tc.want.ok {
				t.Fatalf("build: %v, want %v (%+v)", ok, tc.want.ok, rec)
			}
			if !ok {
				return
			}
			got := want{ok: true, leader: rec.Leader, leaderEpoch: rec.LeaderEpoch, isr: rec.ISR, replicas: rec.Replicas, adding: rec.AddingReplicas, removing: rec.RemovingReplicas}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("record %+v\n got %+v\nwant %+v", rec, got, tc.want)
			}
			if rec.PartitionEpoch != tc.cur.PartitionEpoch+1 {
				t.Fatalf("partition epoch %d, want %d", rec.PartitionEpoch, tc.cur.PartitionEpoch+1)
			}
		})
	}
}
