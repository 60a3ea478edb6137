package replica

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// pending reports whether a DelayedProduce has not completed.
func pending(d *DelayedProduce) bool {
	select {
	case <-d.Done():
		return false
	default:
		return true
	}
}

func hw(c *cluster, id int32) int64 { return c.partition(id).Log().HighWatermark() }

func TestHighWatermarkAndAcksAll(t *testing.T) {
	c := newCluster(t)
	c.minISR = 2
	c.start(1, 2, 3)
	c.apply(reg(1, 1, 0, []int32{1, 2, 3}, []int32{1, 2, 3}))

	res, err := c.produce(1, 3, "a", -1)
	must(t, err)
	if res.BaseOffset != 0 || res.LastOffset != 2 {
		t.Fatalf("append = %+v", res)
	}
	d := c.nodes[1].m.Purgatory().Add([]PendingAck{{c.partition(1), res.LastOffset + 1}}, 30*time.Second)
	if !pending(d) || hw(c, 1) != 0 {
		t.Fatalf("acked before replication (HW %d)", hw(c, 1))
	}
	// Round 1: the followers fetch at 0 and get the batch; the leader only
	// learns they have it from their next fetch offset.
	c.fetchOnce(2, 1)
	c.fetchOnce(3, 1)
	if got := c.partition(2).Log().LogEndOffset(); got != 3 {
		t.Fatalf("follower LEO %d, want 3", got)
	}
	if !pending(d) || hw(c, 1) != 0 {
		t.Fatalf("HW %d before any follower reported", hw(c, 1))
	}
	// Round 2: follower 2 reports 3; 3 still at 0 holds the HW.
	c.fetchOnce(2, 1)
	if !pending(d) || hw(c, 1) != 0 {
		t.Fatalf("HW %d with follower 3 at 0", hw(c, 1))
	}
	c.fetchOnce(3, 1)
	if pending(d) || hw(c, 1) != 3 {
		t.Fatalf("HW %d after the whole ISR has 3; pending %v", hw(c, 1), pending(d))
	}
	if errs := d.Errors(); errs[0] != nil {
		t.Fatalf("ack error %v", errs[0])
	}
	if c.nodes[1].m.Purgatory().Len() != 0 {
		t.Fatal("completed request still in the purgatory")
	}
	// Followers take the leader's HW with their next fetch.
	if hw(c, 2) != 0 {
		t.Fatalf("follower HW %d before hearing of it", hw(c, 2))
	}
	c.fetchOnce(2, 1)
	if hw(c, 2) != 3 {
		t.Fatalf("follower HW %d, want 3", hw(c, 2))
	}
	if got, want := batchesOf(t, c.logBytes(2)), batchesOf(t, c.logBytes(1)); !slices.Equal(got, want) {
		t.Fatalf("follower log %v, leader %v", got, want)
	}
}

// Reference: Kafka's replica.lag.time.max.ms ISR shrink (maybeShrinkIsr
// via the isr-expiration task) and ISR expansion in
// updateFollowerFetchState; KIP-497 AlterPartition.
func TestISRShrinkOnStuckFollowerAndExpandOnCatchUp(t *testing.T) {
	c := newCluster(t)
	c.minISR = 2
	c.start(1, 2, 3)
	replicas := []int32{1, 2, 3}
	c.apply(reg(1, 1, 0, replicas, replicas))
	c.nodes[1].m.Start()
	leader := c.partition(1)

	_, err := c.produce(1, 1, "a", 1)
	must(t, err)
	for range 2 {
		c.fetchOnce(2, 1)
		c.fetchOnce(3, 1)
	}
	if hw(c, 1) != 1 {
		t.Fatalf("HW %d", hw(c, 1))
	}
	// Follower 3 gets stuck. An acks=all produce waits for it...
	res, err := c.produce(1, 1, "b", -1)
	must(t, err)
	d := c.nodes[1].m.Purgatory().Add([]PendingAck{{leader, res.LastOffset + 1}}, 120*time.Second)
	// ...while follower 2 keeps fetching and the ISR expiration task runs
	// every 15 s.
	for range 4 {
		c.fetchOnce(2, 1)
		c.clock.Advance(7500 * time.Millisecond)
	}
	if alters := c.takeAlters(); len(alters) != 0 {
		t.Fatalf("ISR change within replica.lag.time.max.ms: %v", alters[0].ISR())
	}
	if !pending(d) {
		t.Fatal("acked without follower 3")
	}
	c.fetchOnce(2, 1)
	c.clock.Advance(15 * time.Second) // 45 s since 3 caught up
	alters := c.takeAlters()
	if len(alters) != 1 || !slices.Equal(alters[0].ISR(), []int32{1, 2}) {
		t.Fatalf("alters = %v, want one shrink to [1 2]", alters)
	}
	req := alters[0]
	if req.Topic != testTopic || req.TopicID != testTopicID || req.LeaderEpoch != 1 || req.PartitionEpoch != 0 {
		t.Fatalf("request = %+v", req)
	}
	if req.NewISR[1].BrokerEpoch != c.nodes[2].epoch || req.NewISR[0].BrokerEpoch != c.nodes[1].epoch {
		t.Fatalf("broker epochs in the request: %+v", req.NewISR)
	}
	// Not committed yet: the maximal ISR still has 3, the ack waits.
	if isr, maximal, _, inflight, _ := leader.ISRState(); !inflight || !slices.Equal(isr, replicas) || !slices.Equal(maximal, replicas) {
		t.Fatalf("ISR %v maximal %v inflight %v", isr, maximal, inflight)
	}
	if !pending(d) {
		t.Fatal("acked on an uncommitted shrink")
	}
	// The controller commits it: the HW moves and the produce is acked.
	r1 := c.commit(req, 1, replicas)
	if pending(d) || hw(c, 1) != 2 {
		t.Fatalf("after the shrink: HW %d pending %v", hw(c, 1), pending(d))
	}
	if errs := d.Errors(); errs[0] != nil {
		t.Fatalf("ack error %v", errs[0])
	}
	c.apply(r1) // the same change arrives as metadata: nothing moves
	if isr, _, pe, inflight, _ := leader.ISRState(); inflight || !slices.Equal(isr, []int32{1, 2}) || pe != 1 {
		t.Fatalf("ISR %v epoch %d inflight %v", isr, pe, inflight)
	}
	if _, isr := leader.Replicas(); !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("Replicas() ISR %v", isr)
	}

	// Follower 3 comes back. Its first fetch (at 1) brings it to the HW
	// (2) only at its second fetch, which proposes adding it.
	c.fetchOnce(3, 1)
	if alters := c.takeAlters(); len(alters) != 0 {
		t.Fatalf("expanded before reaching the HW: %v", alters[0].ISR())
	}
	c.fetchOnce(3, 1)
	alters = c.takeAlters()
	if len(alters) != 1 || !slices.Equal(alters[0].ISR(), replicas) || alters[0].PartitionEpoch != 1 {
		t.Fatalf("alters = %v, want one expansion to [1 2 3] at partition epoch 1", alters)
	}
	// KIP-497: the maximal ISR counts 3 at once, so an acks=all produce
	// waits for it even before the expansion is committed.
	res, err = c.produce(1, 1, "c", -1)
	must(t, err)
	d = c.nodes[1].m.Purgatory().Add([]PendingAck{{leader, res.LastOffset + 1}}, 120*time.Second)
	c.fetchOnce(2, 1)
	c.fetchOnce(2, 1)
	if !pending(d) || hw(c, 1) != 2 {
		t.Fatalf("HW %d moved without follower 3 in the maximal ISR", hw(c, 1))
	}
	c.fetchOnce(3, 1)
	c.fetchOnce(3, 1)
	if pending(d) || hw(c, 1) != 3 {
		t.Fatalf("HW %d after 3 caught up; pending %v", hw(c, 1), pending(d))
	}
	// This time the commit arrives only as metadata.
	c.apply(reg(1, 1, 2, replicas, replicas))
	if isr, _, pe, inflight, _ := leader.ISRState(); inflight || !slices.Equal(isr, replicas) || pe != 2 {
		t.Fatalf("ISR %v epoch %d inflight %v", isr, pe, inflight)
	}
	// A late answer to the expansion changes nothing.
	c.nodes[1].m.HandleAlterPartitionResponse(alters[0], AlterPartitionResult{LeaderEpoch: 1, PartitionEpoch: 2, ISR: []int32{1}})
	if isr, _, _, _, _ := leader.ISRState(); !slices.Equal(isr, replicas) {
		t.Fatalf("stale answer applied: ISR %v", isr)
	}
}

func TestMinInsyncReplicas(t *testing.T) {
	c := newCluster(t)
	c.minISR = 2
	c.start(1, 2, 3)
	replicas := []int32{1, 2, 3}

	t.Run("not enough replicas before append", func(t *testing.T) {
		c.apply(reg(1, 1, 0, replicas, []int32{1}))
		_, err := c.produce(1, 1, "x", -1)
		if code(err) != kerr.NotEnoughReplicas {
			t.Fatalf("acks=all with ISR [1]: %v", err)
		}
		if got := c.partition(1).Log().LogEndOffset(); got != 0 {
			t.Fatalf("refused produce appended: LEO %d", got)
		}
		// acks=1 is taken, but under min ISR the HW does not move
		// (KIP-966, KAFKA-15583).
		_, err = c.produce(1, 1, "y", 1)
		must(t, err)
		if hw(c, 1) != 0 {
			t.Fatalf("HW %d under min ISR", hw(c, 1))
		}
		if _, _, _, err := c.partition(1).ListOffset(LatestTimestamp, ReadUncommitted, -1); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("not enough replicas after append", func(t *testing.T) {
		c.apply(reg(1, 1, 1, replicas, []int32{1, 2}))
		c.fetchOnce(2, 1)
		c.fetchOnce(2, 1)
		if hw(c, 1) != 1 {
			t.Fatalf("HW %d", hw(c, 1))
		}
		res, err := c.produce(1, 1, "z", -1)
		must(t, err)
		c.fetchOnce(2, 1)
		c.fetchOnce(2, 1)
		if hw(c, 1) != 2 {
			t.Fatalf("HW %d", hw(c, 1))
		}
		// The ISR shrinks below min.insync.replicas before the produce
		// handler parks the request (Kafka's checkEnoughReplicasReachOffset:
		// "appended locally and then added to the purgatory before the ISR
		// was shrunk").
		c.apply(reg(1, 1, 2, replicas, []int32{1}))
		d := c.nodes[1].m.Purgatory().Add([]PendingAck{{c.partition(1), res.LastOffset + 1}}, time.Minute)
		if pending(d) {
			t.Fatal("not completed")
		}
		if errs := d.Errors(); code(errs[0]) != kerr.NotEnoughReplicasAfterAppend {
			t.Fatalf("error %v, want NOT_ENOUGH_REPLICAS_AFTER_APPEND", errs[0])
		}
	})
}

// Reference: KIP-101 (the "leader change with a divergent uncommitted
// tail" scenario) and KIP-279; KIP-320 for the Fetch v12+ variant.
func TestLeaderChangeTruncatesDivergentTail(t *testing.T) {
	for _, v := range []int16{17, 11} {
		name := "diverging epoch in fetch (v17)"
		if v < 12 {
			name = "OffsetForLeaderEpoch (v11)"
		}
		t.Run(name, func(t *testing.T) {
			c := newCluster(t)
			c.fetchVersion = v
			c.start(1, 2)
			replicas := []int32{1, 2}
			c.apply(reg(1, 1, 0, replicas, replicas))
			_, err := c.produce(1, 1, "a", 1)
			must(t, err)
			c.fetchOnce(2, 1)
			c.fetchOnce(2, 1)
			// "b" reaches only the leader, which then fails.
			_, err = c.produce(1, 1, "b", 1)
			must(t, err)
			c.setDown(1, true)
			c.apply(reg(2, 2, 1, replicas, []int32{2}), 2)
			_, err = c.produce(2, 1, "c", 1)
			must(t, err)
			_, err = c.produce(2, 1, "d", 1)
			must(t, err)
			// Node 1 comes back as a follower of 2 and must drop "b".
			c.setDown(1, false)
			c.apply(reg(2, 2, 1, replicas, []int32{2}), 1)
			for range 3 {
				c.fetchOnce(1, 2)
			}
			want := []string{"0@e1:a", "1@e2:c", "2@e2:d"}
			if got := batchesOf(t, c.logBytes(1)); !slices.Equal(got, want) {
				t.Fatalf("old leader's log %v, want %v", got, want)
			}
			if got := batchesOf(t, c.logBytes(2)); !slices.Equal(got, want) {
				t.Fatalf("new leader's log %v, want %v", got, want)
			}
			if e := c.partition(1).Log().Epochs(); len(e) != 2 || e[1].Epoch != 2 || e[1].StartOffset != 1 {
				t.Fatalf("old leader's epoch cache %v", e)
			}
		})
	}
}

// Reference: KIP-279: the follower does not know the leader's epoch and
// truncates in several steps.
func TestTruncationAcrossUnknownEpochs(t *testing.T) {
	for _, v := range []int16{17, 11} {
		t.Run(map[bool]string{true: "v17", false: "v11"}[v >= 12], func(t *testing.T) {
			c := newCluster(t)
			c.fetchVersion = v
			c.start(1, 2)
			replicas := []int32{1, 2}
			c.apply(reg(1, 1, 0, replicas, replicas))
			_, err := c.produce(1, 1, "a", 1)
			must(t, err)
			c.fetchOnce(2, 1)
			c.fetchOnce(2, 1)
			// Epoch 2: node 2 leads alone and writes x.
			c.setDown(1, true)
			c.apply(reg(2, 2, 1, replicas, []int32{2}), 2)
			_, err = c.produce(2, 1, "x", 1)
			must(t, err)
			// Epoch 3: node 1 (which never heard of epoch 2) leads alone.
			c.setDown(1, false)
			c.setDown(2, true)
			c.apply(reg(1, 3, 2, replicas, []int32{1}), 1)
			_, err = c.produce(1, 1, "y", 1)
			must(t, err)
			_, err = c.produce(1, 1, "z", 1)
			must(t, err)
			// Epoch 4: node 2 again, and node 1 follows.
			c.setDown(2, false)
			c.setDown(1, true)
			c.apply(reg(2, 4, 3, replicas, []int32{2}), 2)
			_, err = c.produce(2, 1, "w", 1)
			must(t, err)
			c.setDown(1, false)
			c.apply(reg(2, 4, 3, replicas, []int32{2}), 1)
			for range 4 {
				c.fetchOnce(1, 2)
			}
			want := []string{"0@e1:a", "1@e2:x", "2@e4:w"}
			if got := batchesOf(t, c.logBytes(1)); !slices.Equal(got, want) {
				t.Fatalf("follower's log %v, want %v", got, want)
			}
		})
	}
}

func TestOffsetOutOfRangeStartsOverAtLeaderLogStart(t *testing.T) {
	c := newCluster(t)
	c.start(1, 2)
	replicas := []int32{1, 2}
	// Node 2 is out of the ISR, so the leader's HW does not wait for it.
	c.apply(reg(1, 1, 0, replicas, []int32{1}))
	_, err := c.produce(1, 3, "a", 1) // offsets 0-2
	must(t, err)
	_, err = c.produce(1, 2, "b", 1) // 3-4
	must(t, err)
	if hw(c, 1) != 5 {
		t.Fatalf("HW %d", hw(c, 1))
	}
	// The leader's log start moves past node 2's log end, into the
	// middle of the second batch.
	lso, err := c.partition(1).DeleteRecords(4)
	must(t, err)
	if lso != 4 {
		t.Fatalf("log start %d", lso)
	}
	c.fetchOnce(2, 1) // OFFSET_OUT_OF_RANGE at 0
	f := c.nodes[2].m.fetchers.fetcher(1)
	if st, _ := f.state(c.partition(2)); st.mode != modeResetting {
		t.Fatalf("mode %d after OFFSET_OUT_OF_RANGE", st.mode)
	}
	c.fetchOnce(2, 1) // ListOffsets, start over at 4, fetch
	l := c.partition(2).Log()
	if l.LogStartOffset() != 4 || l.LogEndOffset() != 5 {
		t.Fatalf("follower log [%d, %d), want [4, 5)", l.LogStartOffset(), l.LogEndOffset())
	}
	if got := batchesOf(t, c.logBytes(2)); !slices.Equal(got, []string{"3@e1:b"}) {
		t.Fatalf("follower batches %v", got)
	}
	// And it joins the ISR once it reports the HW.
	c.fetchOnce(2, 1)
	if alters := c.takeAlters(); len(alters) != 1 || !slices.Equal(alters[0].ISR(), replicas) {
		t.Fatalf("alters %v", alters)
	}
}

func TestFencedAndUnknownLeaderEpoch(t *testing.T) {
	c := newCluster(t)
	c.start(1, 2)
	replicas := []int32{1, 2}
	c.apply(reg(1, 1, 0, replicas, replicas))
	p2 := c.partition(2)
	f := c.nodes[2].m.fetchers.fetcher(1)

	// The leader moved to epoch 2; the follower has not heard.
	c.apply(reg(1, 2, 1, replicas, replicas), 1)
	c.fetchOnce(2, 1)
	if _, ok := f.state(p2); ok {
		t.Fatal("fenced partition still fetched; it must wait for metadata")
	}
	c.apply(reg(1, 2, 1, replicas, replicas), 2)
	if st, ok := f.state(p2); !ok || st.leaderEpoch != 2 {
		t.Fatalf("not fetching again at epoch 2: %+v %v", st, ok)
	}
	_, err := c.produce(1, 1, "a", 1)
	must(t, err)
	c.fetchOnce(2, 1)
	if p2.Log().LogEndOffset() != 1 {
		t.Fatal("not replicating at the new epoch")
	}

	// The follower is ahead (epoch 3) of the leader (still 2): the leader
	// answers UNKNOWN_LEADER_EPOCH and the follower backs off.
	c.apply(reg(1, 3, 2, replicas, replicas), 2)
	c.fetchOnce(2, 1)
	st, ok := f.state(p2)
	if !ok || st.delayUntilMs <= c.clock.Now().UnixMilli() {
		t.Fatalf("not backing off: %+v %v", st, ok)
	}
	wait, err := f.doWork(t.Context())
	if err != nil || wait <= 0 {
		t.Fatalf("doWork while backing off: wait %v err %v", wait, err)
	}
	c.apply(reg(1, 3, 2, replicas, replicas), 1)
	c.clock.Advance(wait)
	_, err = c.produce(1, 1, "b", 1)
	must(t, err)
	c.fetchOnce(2, 1)
	if p2.Log().LogEndOffset() != 2 {
		t.Fatalf("follower LEO %d after the backoff", p2.Log().LogEndOffset())
	}
}

func TestReadForFollowerChecks(t *testing.T) {
	c := newCluster(t)
	c.start(1, 2, 3)
	c.apply(reg(1, 1, 0, []int32{1, 2}, []int32{1, 2}), 1)
	p := c.partition(1)
	_, err := c.produce(1, 1, "a", 1)
	must(t, err)
	ff := func(mut func(*FollowerFetch)) error {
		f := FollowerFetch{ReplicaID: 2, BrokerEpoch: c.nodes[2].epoch, CurrentLeaderEpoch: 1, LastFetchedEpoch: -1, LogStartOffset: 0, MaxBytes: 1 << 20, MinOneBatch: true}
		mut(&f)
		_, err := p.ReadForFollower(f)
		return err
	}
	for _, tc := range []struct {
		name string
		mut  func(*FollowerFetch)
		want *kerr.Error
	}{
		{"ok", func(*FollowerFetch) {}, nil},
		{"replica not assigned, epoch given", func(f *FollowerFetch) { f.ReplicaID = 3 }, kerr.UnknownLeaderEpoch},
		{"replica not assigned, no epoch", func(f *FollowerFetch) { f.ReplicaID, f.CurrentLeaderEpoch = 3, -1 }, kerr.NotLeaderForPartition},
		{"older leader epoch", func(f *FollowerFetch) { f.CurrentLeaderEpoch = 0 }, kerr.FencedLeaderEpoch},
		{"newer leader epoch", func(f *FollowerFetch) { f.CurrentLeaderEpoch = 2 }, kerr.UnknownLeaderEpoch},
		{"stale broker epoch", func(f *FollowerFetch) { f.BrokerEpoch = c.nodes[2].epoch - 1 }, kerr.NotLeaderForPartition},
		{"past the log end", func(f *FollowerFetch) { f.FetchOffset = 5 }, kerr.OffsetOutOfRange},
		{"last fetched epoch above every leader epoch", func(f *FollowerFetch) { f.FetchOffset, f.LastFetchedEpoch = 1, 9 }, kerr.OffsetOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ff(tc.mut); code(err) != tc.want {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	// Diverging: the follower fetches at 3 having epoch 1 up to there,
	// but the leader's epoch 1 ends at 1.
	r, err := p.ReadForFollower(FollowerFetch{ReplicaID: 2, BrokerEpoch: -1, CurrentLeaderEpoch: 1, FetchOffset: 3, LastFetchedEpoch: 1, MaxBytes: 1 << 20})
	if err != nil || r.DivergingEpoch != 1 || r.DivergingEndOffset != 1 || len(r.Data) != 0 {
		t.Fatalf("diverging: %+v %v", r, err)
	}
	// Followers read past the HW.
	c.apply(reg(1, 1, 0, []int32{1, 2}, []int32{1, 2}), 1)
	if hw(c, 1) != 0 {
		t.Fatalf("HW %d", hw(c, 1))
	}
	r, err = p.ReadForFollower(FollowerFetch{ReplicaID: 2, BrokerEpoch: -1, CurrentLeaderEpoch: 1, FetchOffset: 0, LastFetchedEpoch: -1, MaxBytes: 1 << 20, MinOneBatch: true})
	if err != nil || len(r.Data) == 0 || r.LogEndOffset != 1 || r.HighWatermark != 0 {
		t.Fatalf("read past the HW: %+v %v", r, err)
	}
	// On a follower.
	c.apply(reg(2, 2, 1, []int32{1, 2}, []int32{2}), 1)
	if _, err := p.ReadForFollower(FollowerFetch{ReplicaID: 2, BrokerEpoch: -1, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1, MaxBytes: 100}); code(err) != kerr.NotLeaderForPartition {
		t.Fatalf("on a follower: %v", err)
	}
}

// Reference: KIP-207: a new leader's offsets are not served while its HW
// is below the start of its epoch.
func TestListOffsetsWhileHighWatermarkLagsEpochStart(t *testing.T) {
	c := newCluster(t)
	c.start(1, 2)
	replicas := []int32{1, 2}
	c.apply(reg(1, 1, 0, replicas, replicas))
	_, err := c.produce(1, 1, "a", 1)
	must(t, err)
	c.fetchOnce(2, 1) // node 2 has offset 0, its HW is still 0
	if hw(c, 2) != 0 {
		t.Fatalf("follower HW %d", hw(c, 2))
	}
	c.apply(reg(2, 2, 1, replicas, replicas))
	p := c.partition(2)
	if start, ok := p.EpochStartOffset(); !ok || start != 1 {
		t.Fatalf("epoch start %d %v", start, ok)
	}
	if _, _, _, err := p.ListOffset(LatestTimestamp, ReadUncommitted, 2); code(err) != kerr.OffsetNotAvailable {
		t.Fatalf("latest offset with a lagging HW: %v", err)
	}
	if off, _, _, err := p.ListOffset(LatestTimestamp, IsolationLogEnd, 2); err != nil || off != 1 {
		t.Fatalf("latest offset for a replica: %d %v", off, err)
	}
	c.fetchOnce(1, 2)
	c.fetchOnce(1, 2)
	if off, _, _, err := p.ListOffset(LatestTimestamp, ReadUncommitted, 2); err != nil || off != 1 {
		t.Fatalf("latest offset once the HW caught up: %d %v", off, err)
	}
}

func TestPurgatory(t *testing.T) {
	c := newCluster(t)
	c.minISR = 2
	c.start(1, 2)
	replicas := []int32{1, 2}
	c.apply(reg(1, 1, 0, replicas, replicas))
	pg := c.nodes[1].m.Purgatory()
	p := c.partition(1)

	t.Run("timeout", func(t *testing.T) {
		res, err := c.produce(1, 1, "a", -1)
		must(t, err)
		d := pg.Add([]PendingAck{{p, res.LastOffset + 1}}, 5*time.Second)
		c.clock.Advance(5*time.Second - time.Millisecond)
		if !pending(d) {
			t.Fatal("timed out early")
		}
		c.clock.Advance(time.Millisecond)
		if errs, err := d.Wait(t.Context()); err != nil || code(errs[0]) != kerr.RequestTimedOut {
			t.Fatalf("errors %v %v, want REQUEST_TIMED_OUT", errs, err)
		}
		if pg.Len() != 0 {
			t.Fatal("timed-out request still watched")
		}
	})

	t.Run("several partitions complete together", func(t *testing.T) {
		res, err := c.produce(1, 1, "b", -1)
		must(t, err)
		// The same partition twice, at two offsets, stands for two.
		d := pg.Add([]PendingAck{{p, res.LastOffset}, {p, res.LastOffset + 1}}, time.Minute)
		c.fetchOnce(2, 1)
		c.fetchOnce(2, 1)
		if errs, err := d.Wait(t.Context()); err != nil || errs[0] != nil || errs[1] != nil {
			t.Fatalf("errors %v %v", errs, err)
		}
	})

	t.Run("leadership lost", func(t *testing.T) {
		res, err := c.produce(1, 1, "c", -1)
		must(t, err)
		d := pg.Add([]PendingAck{{p, res.LastOffset + 1}}, time.Minute)
		c.apply(reg(2, 2, 1, replicas, replicas))
		if errs := d.Errors(); code(errs[0]) != kerr.NotLeaderForPartition {
			t.Fatalf("error %v, want NOT_LEADER_OR_FOLLOWER", errs[0])
		}
		if _, err := c.produce(1, 1, "d", -1); code(err) != kerr.NotLeaderForPartition {
			t.Fatalf("produce on a follower: %v", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		c.apply(reg(1, 3, 2, replicas, replicas))
		res, err := c.produce(1, 1, "e", -1)
		must(t, err)
		d := pg.Add([]PendingAck{{p, res.LastOffset + 1}}, time.Minute)
		c.nodes[1].m.Close()
		if errs := d.Errors(); !errors.Is(errs[0], ErrClosed) {
			t.Fatalf("error %v, want ErrClosed", errs[0])
		}
		if errs := pg.Add([]PendingAck{{p, 1}}, time.Minute).Errors(); !errors.Is(errs[0], ErrClosed) {
			t.Fatalf("after close: %v", errs[0])
		}
	})
}
