package replica

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestReadReplicas: the leader offers a consumer the in-sync followers
// whose log holds the fetch offset, with their progress (Kafka's
// findPreferredReadReplica); a follower offers nothing.
func TestReadReplicas(t *testing.T) {
	c := newCluster(t)
	c.start(1, 2, 3)
	c.apply(reg(1, 1, 0, []int32{1, 2, 3}, []int32{1, 2, 3}))
	_, err := c.produce(1, 3, "a", 1)
	must(t, err)
	// 2 fetches twice (reports 3), 3 once (reports 0).
	c.fetchOnce(2, 1)
	c.fetchOnce(2, 1)
	c.fetchOnce(3, 1)
	c.clock.Advance(time.Second)

	leader, followers, ok := c.partition(1).ReadReplicas(2)
	if !ok || leader.BrokerID != 1 || leader.LogEndOffset != 3 {
		t.Fatalf("leader view %+v ok %v", leader, ok)
	}
	if len(followers) != 1 || followers[0].BrokerID != 2 || followers[0].LogEndOffset != 3 || followers[0].TimeSinceLastCaughtUpMs != 1000 {
		t.Fatalf("followers holding offset 2: %+v, want broker 2 at 3, caught up 1 s ago", followers)
	}
	if _, followers, _ := c.partition(1).ReadReplicas(0); len(followers) != 2 {
		t.Fatalf("followers holding offset 0: %+v, want 2 and 3", followers)
	}
	if _, _, ok := c.partition(2).ReadReplicas(0); ok {
		t.Fatal("a follower offered read replicas")
	}
}

// TestReadFromReplica: a follower serves consumers up to its own high
// watermark after checking their leader epoch (KIP-392, KIP-320); Read
// stays leader-only.
func TestReadFromReplica(t *testing.T) {
	c := newCluster(t)
	c.start(1, 2)
	c.apply(reg(1, 4, 0, []int32{1, 2}, []int32{1, 2}))
	_, err := c.produce(1, 2, "a", 1)
	must(t, err)
	c.fetchOnce(2, 1) // gets the records
	c.fetchOnce(2, 1) // reports them: the leader's HW is 2
	f := c.partition(2)
	if res, err := f.ReadFromReplica(0, 1<<20, ReadUncommitted, 4, true); err != nil || res.HighWatermark != 0 || len(res.Data) != 0 {
		t.Fatalf("before the follower learns the HW: %+v, %v; want nothing", res, err)
	}
	c.fetchOnce(2, 1) // learns HW 2
	res, err := f.ReadFromReplica(0, 1<<20, ReadUncommitted, 4, true)
	if err != nil || res.HighWatermark != 2 || len(batchesOf(t, res.Data)) != 1 {
		t.Fatalf("follower read: %+v, %v", res, err)
	}
	for _, tc := range []struct {
		epoch int32
		want  *kerr.Error
	}{{-1, nil}, {3, kerr.FencedLeaderEpoch}, {5, kerr.UnknownLeaderEpoch}} {
		if _, err := f.ReadFromReplica(0, 1<<20, ReadUncommitted, tc.epoch, true); code(err) != tc.want {
			t.Errorf("current leader epoch %d: %v, want %v", tc.epoch, err, tc.want)
		}
	}
	if _, err := f.Read(0, 1<<20, ReadUncommitted, 4, true); code(err) != kerr.NotLeaderForPartition {
		t.Fatalf("Read on a follower: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	if res, err := c.partition(1).ReadFromReplica(0, 1<<20, ReadUncommitted, 4, true); err != nil || res.HighWatermark != 2 {
		t.Fatalf("leader read: %+v, %v", res, err)
	}
}
