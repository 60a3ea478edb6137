package replica

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/metadata"
)

// Tests of the fetchers' side of replication throttling's companions:
// num.replica.fetchers (partitions spread over N fetchers per leader by
// Kafka's getFetcherId, resized at runtime) and the follower's
// incremental fetch sessions (KIP-227).

func TestFetcherID(t *testing.T) {
	// Java: "hello".hashCode() == 99162322 and
	// "polygenelubricants".hashCode() == Integer.MIN_VALUE.
	if h := javaStringHash("hello"); h != 99162322 {
		t.Fatalf(`javaStringHash("hello") = %d`, h)
	}
	if h := javaStringHash("polygenelubricants"); h != math.MinInt32 {
		t.Fatalf(`javaStringHash("polygenelubricants") = %d`, h)
	}
	if h := javaStringHash("topic-ü"); h != -1139260450 {
		t.Fatalf(`javaStringHash("topic-ü") = %d`, h) // UTF-16, not UTF-8
	}
	for _, tc := range []struct {
		topic     string
		partition int32
		n, want   int
	}{
		{"hello", 0, 1, 0},
		{"hello", 0, 3, 0},
		{"hello", 0, 7, 4},
		{"hello", 1, 3, 2},
		{"hello", 1, 7, 3},
		{"hello", 3, 7, 1},
		{"orders", 0, 3, 2}, // 31 * hash is negative: abs
		{"orders", 0, 7, 6},
		{"orders", 2, 7, 4},
		// 31 * MIN_VALUE + 0 wraps to MIN_VALUE; Utils.abs makes it 0.
		{"polygenelubricants", 0, 7, 0},
		{"polygenelubricants", 1, 3, 1},
		{"polygenelubricants", 3, 7, 6},
	} {
		if got := fetcherID(tc.topic, tc.partition, tc.n); got != tc.want {
			t.Errorf("fetcherID(%s, %d, %d) = %d, want %d", tc.topic, tc.partition, tc.n, got, tc.want)
		}
	}
}

// TestNumReplicaFetchers: with num.replica.fetchers = 3 a follower's
// partitions of one leader are spread over the fetchers getFetcherId
// names, each replicating its own; lowering it back to 1 moves them all,
// with their fetch positions, to fetcher 0 and stops the others.
func TestNumReplicaFetchers(t *testing.T) {
	const numPartitions = 8
	c := newCluster(t)
	c.start(1, 2)
	recs := []metadata.Record{{Type: metadata.TypeTopic, TopicName: testTopic, TopicID: testTopicID}}
	for i := range numPartitions {
		recs = append(recs, metadata.Record{Type: metadata.TypePartition, TopicID: testTopicID, Partition: int32(i),
			Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 1})
	}
	im, err := metadata.Empty.Apply(recs)
	if err != nil {
		t.Fatal(err)
	}
	follower := c.nodes[2]
	numFetchers := 3
	follower.m.cfg.Dynamic = func(*metadata.Image) DynamicConfig {
		return DynamicConfig{LeaderReplicationThrottledRate: Unthrottled, FollowerReplicationThrottledRate: Unthrottled, NumReplicaFetchers: numFetchers}
	}
	applyAll(t, c, im)
	partitions := func(id int32) []*Partition {
		var out []*Partition
		for i := range numPartitions {
			p, err := c.nodes[id].m.Partition(testTopic, int32(i))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	for _, p := range partitions(1) {
		if _, err := p.Append(batch(t, 5, "v"), 1); err != nil {
			t.Fatal(err)
		}
	}
	fetchers := func() map[int]*fetcher {
		fm := follower.m.fetchers
		fm.mu.Lock()
		defer fm.mu.Unlock()
		out := map[int]*fetcher{}
		for k, f := range fm.mu.fetchers {
			if k.source != 1 {
				t.Fatalf("fetcher for broker %d", k.source)
			}
			out[k.id] = f
		}
		return out
	}
	runAll := func() {
		for _, f := range fetchers() {
			if _, err := f.doWork(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}

	ids := map[int]bool{}
	for i, p := range partitions(2) {
		want := fetcherID(testTopic, int32(i), numFetchers)
		ids[want] = true
		f := follower.m.fetchers.fetcherFor(p)
		if f == nil || f.key.id != want {
			t.Fatalf("partition %d: fetcher %v, want id %d", i, f, want)
		}
	}
	if got := fetchers(); len(got) != len(ids) {
		t.Fatalf("%d fetchers for ids %v", len(got), ids)
	}
	runAll()
	for i, p := range partitions(2) {
		if p.Log().LogEndOffset() != 5 {
			t.Fatalf("partition %d: follower LEO %d", i, p.Log().LogEndOffset())
		}
	}

	numFetchers = 1
	applyAll(t, c, im)
	got := fetchers()
	if len(got) != 1 || got[0] == nil {
		t.Fatalf("fetchers after resizing to 1: %v", got)
	}
	for i, p := range partitions(2) {
		st, ok := got[0].state(p)
		if !ok || st.fetchOffset != 5 || st.mode != modeFetching {
			t.Fatalf("partition %d on fetcher 0: %+v %v", i, st, ok)
		}
	}
	for _, p := range partitions(1) {
		if _, err := p.Append(batch(t, 5, "w"), 1); err != nil {
			t.Fatal(err)
		}
	}
	runAll()
	for i, p := range partitions(2) {
		if p.Log().LogEndOffset() != 10 {
			t.Fatalf("partition %d after the resize: follower LEO %d", i, p.Log().LogEndOffset())
		}
	}

	// A fetcher whose partitions all leave stops.
	c.apply(reg(2, 2, 1, []int32{1, 2}, []int32{1, 2}))
	if got := fetchers(); len(got) != 0 {
		t.Fatalf("fetchers once node 2 leads everything: %v", got)
	}
}

// TestFetchSessionHandler walks the follower's side of a fetch session
// (Kafka's FetchSessionHandler) through its transitions.
func TestFetchSessionHandler(t *testing.T) {
	key := func(p int32) fetchKey { return fetchKey{topicID: testTopicID, partition: p} }
	data := func(offset int64) sessionPartitionData {
		return sessionPartitionData{fetchOffset: offset, logStartOffset: 0, maxBytes: 100, currentLeaderEpoch: 1, lastFetchedEpoch: 1}
	}
	names := func(ks []fetchKey) string {
		var out []int32
		for _, k := range ks {
			out = append(out, k.partition)
		}
		slices.Sort(out)
		return fmt.Sprint(out)
	}
	var h fetchSessionHandler
	step := func(want map[fetchKey]sessionPartitionData, id, epoch int32, send, forget string) {
		t.Helper()
		gotID, gotEpoch, gotSend, gotForget := h.build(want)
		if gotID != id || gotEpoch != epoch || names(gotSend) != send || names(gotForget) != forget {
			t.Fatalf("build = session %d epoch %d send %s forget %s; want %d %d %s %s",
				gotID, gotEpoch, names(gotSend), names(gotForget), id, epoch, send, forget)
		}
	}
	ok := func(code int16, session int32, want bool) {
		t.Helper()
		if got := h.handleResponse(code, session); got != want {
			t.Fatalf("handleResponse(%d, %d) = %v", code, session, got)
		}
	}

	// A full fetch asks for a session; the answer opens it at epoch 1.
	step(map[fetchKey]sessionPartitionData{key(0): data(10), key(1): data(20)}, 0, 0, "[0 1]", "[]")
	ok(0, 77, true)
	// Incremental: only the changed and the new partitions.
	step(map[fetchKey]sessionPartitionData{key(0): data(10), key(1): data(25), key(2): data(0)}, 77, 1, "[1 2]", "[]")
	ok(0, 77, true)
	// Nothing changed: an empty incremental fetch; then one leaves.
	step(map[fetchKey]sessionPartitionData{key(0): data(10), key(1): data(25), key(2): data(0)}, 77, 2, "[]", "[]")
	ok(0, 77, true)
	step(map[fetchKey]sessionPartitionData{key(0): data(10), key(2): data(0)}, 77, 3, "[]", "[1]")
	// The leader rejects the epoch: close the session, full fetch.
	ok(kerr.InvalidFetchSessionEpoch.Code, 0, false)
	step(map[fetchKey]sessionPartitionData{key(0): data(10), key(2): data(0)}, 77, 0, "[0 2]", "[]")
	ok(0, 88, true)
	step(map[fetchKey]sessionPartitionData{key(0): data(11), key(2): data(0)}, 88, 1, "[0]", "[]")
	// The leader lost it: start over without an id.
	ok(kerr.FetchSessionIDNotFound.Code, 0, false)
	step(map[fetchKey]sessionPartitionData{key(0): data(11)}, 0, 0, "[0]", "[]")
	// No free slot on the leader: full fetches, asking again each time.
	ok(0, 0, true)
	step(map[fetchKey]sessionPartitionData{key(0): data(11)}, 0, 0, "[0]", "[]")
	ok(0, 5, true)
	step(map[fetchKey]sessionPartitionData{key(0): data(11)}, 5, 1, "[]", "[]")
	// No answer: close the session with the next (full) request.
	h.handleError()
	step(map[fetchKey]sessionPartitionData{key(0): data(11)}, 5, 0, "[0]", "[]")
	// Epochs wrap to 1.
	ok(0, 5, true)
	h.epoch = math.MaxInt32
	ok(0, 5, true)
	if h.epoch != 1 {
		t.Fatalf("epoch after MaxInt32: %d", h.epoch)
	}

	// Fetch below v7: no sessions.
	d := fetchSessionHandler{disabled: true}
	id, epoch, send, forget := d.build(map[fetchKey]sessionPartitionData{key(0): data(1), key(1): data(2)})
	if id != 0 || epoch != -1 || names(send) != "[0 1]" || len(forget) != 0 {
		t.Fatalf("sessionless build = %d %d %v %v", id, epoch, send, forget)
	}
	if !d.handleResponse(0, 0) || d.handleResponse(kerr.UnknownServerError.Code, 0) {
		t.Fatal("sessionless handleResponse")
	}
}
