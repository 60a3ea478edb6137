package replica

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/metadata"
)

// Tests of the replication quotas (KIP-73): the sampled rate against a
// manual clock, the throttled-replica lists, and the follower and leader
// throttling decisions.

// manualClock is a clock tests move by hand.
type manualClock struct{ now time.Time }

func (c *manualClock) Now() time.Time { return c.now }

func (c *manualClock) set(ms int64) { c.now = time.UnixMilli(1_700_000_000_000 + ms) }

// TestReplicationQuotaRate checks the sampled rate step by step against
// values worked out by hand from Kafka's SampledStat and SimpleRate:
// samples start when a record finds the current one a window old, samples
// a whole window (samples x window) old are reset, and the rate divides
// by the time since the oldest sample started, at least one window.
func TestReplicationQuotaRate(t *testing.T) {
	clock := &manualClock{}
	clock.set(0)
	q := NewReplicationQuota(QuotaConfig{Samples: 3, WindowMs: 1000}, clock.Now)
	if q.IsQuotaExceeded() || q.Rate() != Unthrottled {
		t.Fatalf("a new quota is throttling: rate %d", q.Rate())
	}
	q.SetRate(300)
	steps := []struct {
		atMs     int64
		record   int
		rate     float64 // bytes/s after the record
		exceeded bool
	}{
		{0, 0, 0, false},
		{0, 300, 300, false},             // 300 B over the minimum window of 1 s
		{500, 300, 600, true},            // same sample: 600 B
		{1000, 0, 600, true},             // 600 B / max(1000 ms, 1000 ms)
		{1200, 100, 700 / 1.2, true},     // a second sample starts at 1200
		{2500, 100, 800 / 2.5, true},     // a third at 2500
		{3000, 0, 200 / 1.8, false},      // the first (at 0) is 3 windows old: reset
		{3700, 50, 250 / 2.5, false},     // the reset slot is reused at 3700
		{4200, 0, 150 / 1.7, false},      // the one at 1200 expires
		{5500, 0, 50 / 1.8, false},       // and the one at 2500
		{6700, 0, 0, false},              // and the one at 3700: nothing left
		{6700, 400, 400 / 2.5, false},    // reset slots keep their start (4200)
		{7699, 0, 400 / 2.199, false},    // the slot reset at 4200 resets again
		{8500, 0, 400 / 1.8, false},      // and the one reset at 5500
		{8500, 200, 600 / 1.8, true},     // a new sample in the oldest slot
		{9700, 0, 200 / 1.2, false},      // the 400 B expire
		{math.MaxInt32, 0, 0, false},     // long after: all reset
		{math.MaxInt32 + 1, 1, 1, false}, // and recording works on
		{math.MaxInt32 + 2, 299, 300, false},
	}
	for _, s := range steps {
		clock.set(s.atMs)
		q.Record(s.record)
		if got := q.ByteRate(); math.Abs(got-s.rate) > 1e-9 {
			t.Fatalf("at %d ms: rate %v, want %v", s.atMs, got, s.rate)
		}
		if got := q.IsQuotaExceeded(); got != s.exceeded {
			t.Fatalf("at %d ms: exceeded %v, want %v (rate %v, bound 300)", s.atMs, got, s.exceeded, q.ByteRate())
		}
	}
	if n := len(q.mu.samples); n != 3 {
		t.Fatalf("%d samples kept, want replication.quota.window.num = 3", n)
	}
}

// TestReplicationQuotaBound checks the bound: Unthrottled never throttles
// however much is recorded, 0 throttles as soon as anything is, and a
// new bound applies to what was recorded before (Kafka's updateQuota
// keeps the sensor's samples).
func TestReplicationQuotaBound(t *testing.T) {
	clock := &manualClock{}
	clock.set(0)
	q := NewReplicationQuota(QuotaConfig{}, clock.Now) // 11 x 1 s
	q.Record(1 << 30)
	if q.IsQuotaExceeded() {
		t.Fatal("Unthrottled quota exceeded")
	}
	q.SetRate(1 << 31)
	if q.IsQuotaExceeded() {
		t.Fatal("1 GiB/s exceeds 2 GiB/s")
	}
	q.SetRate(1 << 29)
	if !q.IsQuotaExceeded() {
		t.Fatal("1 GiB in the first second does not exceed 512 MiB/s")
	}
	clock.set(1999)
	if !q.IsQuotaExceeded() {
		t.Fatal("1 GiB over 1.999 s does not exceed 512 MiB/s")
	}
	clock.set(2000)
	if q.IsQuotaExceeded() {
		t.Fatal("1 GiB over 2 s exceeds 512 MiB/s")
	}
	clock.set(11_000) // 11 windows: the sample is gone
	if q.ByteRate() != 0 {
		t.Fatalf("rate %v after the window", q.ByteRate())
	}

	q.SetRate(0)
	if q.IsQuotaExceeded() {
		t.Fatal("a bound of 0 is exceeded with nothing recorded")
	}
	q.Record(1)
	if !q.IsQuotaExceeded() {
		t.Fatal("a bound of 0 is not exceeded by one byte")
	}
	q.Record(0) // records nothing, starts nothing
	q.Record(-5)
	if q.ByteRate() != 1 {
		t.Fatalf("rate %v after recording nothing", q.ByteRate())
	}
}

func TestParseThrottledReplicas(t *testing.T) {
	for _, tc := range []struct {
		list   []string
		broker int32
		want   ThrottledReplicas
		ok     bool
	}{
		{nil, 1, ThrottledReplicas{}, false},
		{[]string{""}, 1, ThrottledReplicas{}, false},
		{[]string{"*"}, 7, ThrottledReplicas{All: true}, true},
		{[]string{"0:1", "1:2", "2:1"}, 1, ThrottledReplicas{Partitions: []int32{0, 2}}, true},
		{[]string{"0:1", "1:2", "2:1"}, 2, ThrottledReplicas{Partitions: []int32{1}}, true},
		{[]string{"0:1", "1:2", "2:1"}, 3, ThrottledReplicas{}, false},
		{[]string{" 3:1 ", "3:1", "4:10"}, 1, ThrottledReplicas{Partitions: []int32{3}}, true},
		{[]string{"x:1", "5", "6:1"}, 1, ThrottledReplicas{Partitions: []int32{6}}, true},
	} {
		got, ok := ParseThrottledReplicas(tc.list, tc.broker)
		if ok != tc.ok || got.All != tc.want.All || !slices.Equal(got.Partitions, tc.want.Partitions) {
			t.Errorf("ParseThrottledReplicas(%q, %d) = %+v, %v; want %+v, %v", tc.list, tc.broker, got, ok, tc.want, tc.ok)
		}
	}

	q := NewReplicationQuota(QuotaConfig{}, nil)
	q.SetThrottled(map[string]ThrottledReplicas{"a": {All: true}, "b": {Partitions: []int32{2}}})
	for _, tc := range []struct {
		topic     string
		partition int32
		want      bool
	}{{"a", 0, true}, {"a", 99, true}, {"b", 2, true}, {"b", 1, false}, {"c", 0, false}} {
		if got := q.IsThrottled(tc.topic, tc.partition); got != tc.want {
			t.Errorf("IsThrottled(%s, %d) = %v", tc.topic, tc.partition, got)
		}
	}
	q.SetThrottled(nil)
	if q.IsThrottled("a", 0) {
		t.Error("throttled after SetThrottled(nil)")
	}
}

// twoTopics is an image with testTopic and "free", one partition each,
// both led by leader with replicas and isr.
func twoTopics(t *testing.T, leader, leaderEpoch, partitionEpoch int32, replicas, isr []int32) *metadata.Image {
	t.Helper()
	freeID := metadata.TopicID{9, 9, 9}
	im, err := metadata.Empty.Apply([]metadata.Record{
		{Type: metadata.TypeTopic, TopicName: testTopic, TopicID: testTopicID},
		{Type: metadata.TypePartition, TopicID: testTopicID, Partition: 0, Replicas: replicas, ISR: isr,
			Leader: leader, LeaderEpoch: leaderEpoch, PartitionEpoch: partitionEpoch},
		{Type: metadata.TypeTopic, TopicName: "free", TopicID: freeID},
		{Type: metadata.TypePartition, TopicID: freeID, Partition: 0, Replicas: replicas, ISR: isr,
			Leader: leader, LeaderEpoch: leaderEpoch, PartitionEpoch: partitionEpoch},
	})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func applyAll(t *testing.T, c *cluster, im *metadata.Image) {
	t.Helper()
	for id, n := range c.nodes {
		if err := n.m.ApplyImage(im); err != nil {
			t.Fatalf("node %d: %v", id, err)
		}
	}
}

func mustPartition(t *testing.T, n *node, topic string) *Partition {
	t.Helper()
	p, err := n.m.Partition(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFollowerQuota: while the follower quota is exceeded, a throttled
// partition that has not caught up is left out of the follower's Fetch
// requests and the unthrottled partition still replicates; once the
// samples expire, or the throttle is removed, it catches up
// (ReplicaFetcherThread.shouldFollowerThrottle). A throttled partition
// that has caught up is fetched whatever the quota.
func TestFollowerQuota(t *testing.T) {
	c := newCluster(t)
	rec := &recordingDialer{dial: c.dial}
	c.dialer = rec.dialFn
	c.start(1, 2)
	// Node 2 is out of the ISR: the leader's HW does not wait for it.
	applyAll(t, c, twoTopics(t, 1, 1, 0, []int32{1, 2}, []int32{1}))
	leader, follower := c.nodes[1], c.nodes[2]
	slow, free := mustPartition(t, follower, testTopic), mustPartition(t, follower, "free")
	for range 3 {
		for _, topic := range []string{testTopic, "free"} {
			if _, err := mustPartition(t, leader, topic).Append(batch(t, 10, "v"), 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One batch per partition per fetch.
	follower.m.fetchers.cfg.MaxBytes = int32(len(batch(t, 10, "v")))
	q := follower.m.FollowerQuota()
	q.SetThrottled(map[string]ThrottledReplicas{testTopic: {All: true}})
	q.SetRate(1)

	// The quota is not exceeded yet: both partitions are fetched, and the
	// throttled one's bytes are recorded.
	c.fetchOnce(2, 1)
	if slow.Log().LogEndOffset() != 10 || free.Log().LogEndOffset() != 10 {
		t.Fatalf("first fetch: LEO %d / %d, want 10 / 10", slow.Log().LogEndOffset(), free.Log().LogEndOffset())
	}
	if !q.IsQuotaExceeded() {
		t.Fatalf("quota not exceeded after %v B/s", q.ByteRate())
	}
	rec.take()
	for i := range 2 {
		c.fetchOnce(2, 1)
		if got := rec.take(); len(got) != 1 || slices.Contains(got[0], testTopicID) {
			t.Fatalf("fetch %d while exceeded: requests for topics %v", i, got)
		}
	}
	if slow.Log().LogEndOffset() != 10 || free.Log().LogEndOffset() != 30 {
		t.Fatalf("while exceeded: LEO %d / %d, want 10 / 30", slow.Log().LogEndOffset(), free.Log().LogEndOffset())
	}

	// The samples expire after replication.quota.window.num windows.
	c.clock.Advance(11 * time.Second)
	c.fetchOnce(2, 1)
	if got := rec.take(); len(got) != 1 || !slices.Contains(got[0], testTopicID) {
		t.Fatalf("fetch after the window: requests for topics %v", got)
	}
	if slow.Log().LogEndOffset() != 20 {
		t.Fatalf("after the window: LEO %d, want 20", slow.Log().LogEndOffset())
	}

	// Removing the throttle lets it catch up; a caught-up partition is
	// not throttled even though the quota is exceeded again.
	q.SetThrottled(nil)
	c.fetchOnce(2, 1)
	if slow.Log().LogEndOffset() != 30 {
		t.Fatalf("unthrottled: LEO %d, want 30", slow.Log().LogEndOffset())
	}
	q.SetThrottled(map[string]ThrottledReplicas{testTopic: {Partitions: []int32{0}}})
	q.Record(1 << 20)
	if _, err := mustPartition(t, leader, testTopic).Append(batch(t, 10, "w"), 1); err != nil {
		t.Fatal(err)
	}
	c.fetchOnce(2, 1)
	if slow.Log().LogEndOffset() != 40 {
		t.Fatalf("caught-up throttled partition: LEO %d, want 40", slow.Log().LogEndOffset())
	}
}

// TestLeaderThrottleDecision checks Manager.ShouldLeaderThrottle, which
// the Fetch handler asks for each partition of a follower's fetch: only a
// throttled partition, with the quota exceeded, for a follower outside
// the ISR.
func TestLeaderThrottleDecision(t *testing.T) {
	c := newCluster(t)
	c.start(1, 2, 3)
	applyAll(t, c, twoTopics(t, 1, 1, 0, []int32{1, 2, 3}, []int32{1, 2}))
	m := c.nodes[1].m
	slow, free := mustPartition(t, c.nodes[1], testTopic), mustPartition(t, c.nodes[1], "free")
	q := m.LeaderQuota()
	q.SetThrottled(map[string]ThrottledReplicas{testTopic: {All: true}})
	check := func(what string, p *Partition, replica int32, want bool) {
		t.Helper()
		if got := m.ShouldLeaderThrottle(p, replica); got != want {
			t.Errorf("%s: ShouldLeaderThrottle(%s, %d) = %v", what, p.Topic, replica, got)
		}
	}
	check("unthrottled rate", slow, 3, false)
	q.SetRate(10)
	q.Record(1000)
	check("out of the ISR", slow, 3, true)
	check("in the ISR", slow, 2, false)
	check("not a throttled partition", free, 3, false)
	q.SetRate(Unthrottled)
	check("rate raised", slow, 3, false)

	// The topic lists reach the quotas through ApplyImage, filtered by
	// this node's id; the rates through Config.Dynamic.
	m.cfg.TopicConfig = func(_ *metadata.Image, topic string) TopicConfig {
		tc := c.topicConfig()
		if topic == testTopic {
			tc.LeaderThrottledReplicas = []string{"0:1"}
			tc.FollowerThrottledReplicas = []string{"0:2", "0:3"}
		}
		return tc
	}
	m.cfg.Dynamic = func(*metadata.Image) DynamicConfig {
		return DynamicConfig{LeaderReplicationThrottledRate: 5, FollowerReplicationThrottledRate: 6, NumReplicaFetchers: 1}
	}
	applyAll(t, c, twoTopics(t, 1, 1, 0, []int32{1, 2, 3}, []int32{1, 2}))
	if !m.LeaderQuota().IsThrottled(testTopic, 0) || m.FollowerQuota().IsThrottled(testTopic, 0) {
		t.Error("node 1: leader list 0:1 not applied, or follower list 0:2,0:3 applied to it")
	}
	if m.LeaderQuota().Rate() != 5 || m.FollowerQuota().Rate() != 6 {
		t.Errorf("rates %d / %d, want 5 / 6", m.LeaderQuota().Rate(), m.FollowerQuota().Rate())
	}
	if m.LeaderQuota().IsThrottled("free", 0) {
		t.Error("free is throttled")
	}
	check("from the image", slow, 3, true)
}

// recordingDialer wraps a DialFunc and keeps the topics of every Fetch
// sent through its connections.
type recordingDialer struct {
	dial DialFunc
	mu   sync.Mutex
	// fetches lists, per Fetch request, its topic ids.
	fetches [][]metadata.TopicID
}

func (r *recordingDialer) dialFn(ctx context.Context, id int32) (Conn, error) {
	c, err := r.dial(ctx, id)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, r: r}, nil
}

// take returns and forgets the Fetch requests recorded.
func (r *recordingDialer) take() [][]metadata.TopicID {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.fetches
	r.fetches = nil
	return out
}

type recordingConn struct {
	Conn
	r *recordingDialer
}

func (c *recordingConn) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if f, ok := req.(*kmsg.FetchRequest); ok {
		var ids []metadata.TopicID
		for _, t := range f.Topics {
			ids = append(ids, t.TopicID)
		}
		c.r.mu.Lock()
		c.r.fetches = append(c.r.fetches, ids)
		c.r.mu.Unlock()
	}
	return c.Conn.Request(ctx, req)
}
