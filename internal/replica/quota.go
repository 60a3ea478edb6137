package replica

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Replication quotas (KIP-73): Kafka's ReplicationQuotaManager, one for
// the leader side and one for the follower side of this broker.
//
// A quota throttles only the partitions its topic lists name for this
// broker, and only while the measured byte rate of those partitions is
// above the broker's rate:
//
//	topic:  leader.replication.throttled.replicas    "0:1,1:2" (partition:broker) or "*"
//	        follower.replication.throttled.replicas  (dynamic topic configs)
//	broker: leader.replication.throttled.rate        bytes/s (dynamic, ClusterWide;
//	        follower.replication.throttled.rate      default Long.MAX: none)
//
// The leader quota is applied when answering a follower's Fetch: a
// partition that is throttled here, whose fetching follower is not in the
// ISR, gets no records while the quota is exceeded (Kafka's
// ReplicaManager.shouldLeaderThrottle: "To avoid ISR thrashing, we only
// throttle a replica on the leader if it's in the throttled replica list,
// the quota is exceeded and the replica is not in sync"). The follower
// quota is applied when building a Fetch: a throttled partition that is
// not caught up (its lag to the leader's high watermark, as of its last
// fetch with records, is not zero) is left out of the request while the
// quota is exceeded (ReplicaFetcherThread.shouldFollowerThrottle). Both
// sides record the bytes of every throttled partition, in sync or not.
//
// The rate is Kafka's SimpleRate over a sampled window
// (replication.quota.window.num samples of
// replication.quota.window.size.seconds each):
//
//	samples  [ s0 | s1 | ... | s10 ]   each: start time, bytes
//	record(n, now): the current sample takes n, or a new one starts
//	                when the current one is a window old (the oldest is
//	                reused once there are window.num of them)
//	rate(now)     = sum(bytes of live samples) / max(now - oldest start, window)
//	                a sample older than window.num windows is reset first
//	exceeded(now) = rate(now) > bound

// QuotaConfig is the sampling of the replication quotas.
type QuotaConfig struct {
	// Samples is replication.quota.window.num (default 11).
	Samples int
	// WindowMs is replication.quota.window.size.seconds in milliseconds
	// (default 1000).
	WindowMs int64
}

func (c *QuotaConfig) setDefaults() {
	if c.Samples <= 0 {
		c.Samples = 11
	}
	if c.WindowMs <= 0 {
		c.WindowMs = 1000
	}
}

// Unthrottled is the default replication rate (Kafka's Long.MAX_VALUE):
// the quota is never exceeded.
const Unthrottled = math.MaxInt64

// ThrottledReplicas is the set of a topic's partitions a quota throttles
// on this broker.
type ThrottledReplicas struct {
	// All is the wildcard "*": every partition.
	All bool
	// Partitions are the throttled partitions when not All.
	Partitions []int32
}

// ParseThrottledReplicas reads a throttled-replicas topic config (Kafka's
// TopicConfigHandler.parseThrottledPartitions): "*" throttles every
// partition; otherwise the partitions of the "partition:broker" pairs that
// name broker are throttled. Malformed pairs (which config validation
// rejects) are skipped. ok is false when nothing is throttled.
func ParseThrottledReplicas(list []string, broker int32) (t ThrottledReplicas, ok bool) {
	for _, e := range list {
		e = strings.TrimSpace(e)
		if e == "*" {
			return ThrottledReplicas{All: true}, true
		}
		part, b, found := strings.Cut(e, ":")
		if !found {
			continue
		}
		pn, err1 := strconv.ParseInt(strings.TrimSpace(part), 10, 32)
		bn, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if err1 != nil || err2 != nil || int32(bn) != broker {
			continue
		}
		if !slices.Contains(t.Partitions, int32(pn)) {
			t.Partitions = append(t.Partitions, int32(pn))
		}
	}
	return t, t.All || len(t.Partitions) > 0
}

// ReplicationQuota is Kafka's ReplicationQuotaManager: the throttled
// partitions of one side (leader or follower) and the byte rate measured
// over them against the broker's bound. Safe for concurrent use.
type ReplicationQuota struct {
	cfg QuotaConfig
	now func() time.Time

	mu struct {
		sync.Mutex
		// bound is the rate in bytes/s (Unthrottled: none).
		bound int64
		// throttled is, by topic, the partitions throttled here.
		throttled map[string]ThrottledReplicas
		// samples is the sampled window; current indexes the sample
		// being filled.
		samples []quotaSample
		current int
	}
}

type quotaSample struct {
	startMs int64
	bytes   float64
}

// NewReplicationQuota returns an unthrottled quota with no throttled
// partitions; now is its clock (time.Now if nil).
func NewReplicationQuota(cfg QuotaConfig, now func() time.Time) *ReplicationQuota {
	cfg.setDefaults()
	if now == nil {
		now = time.Now
	}
	q := &ReplicationQuota{cfg: cfg, now: now}
	q.mu.bound = Unthrottled
	q.mu.throttled = map[string]ThrottledReplicas{}
	return q
}

// SetRate sets the bound in bytes/s (Kafka's updateQuota). The samples
// are kept, so a lower bound applies to what was already recorded.
func (q *ReplicationQuota) SetRate(bytesPerSecond int64) {
	q.mu.Lock()
	q.mu.bound = bytesPerSecond
	q.mu.Unlock()
}

// Rate returns the bound in bytes/s (Kafka's upperBound).
func (q *ReplicationQuota) Rate() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.bound
}

// SetThrottled replaces the throttled partitions of every topic: topics
// not in byTopic are not throttled. The caller must not modify byTopic
// afterwards.
func (q *ReplicationQuota) SetThrottled(byTopic map[string]ThrottledReplicas) {
	if byTopic == nil {
		byTopic = map[string]ThrottledReplicas{}
	}
	q.mu.Lock()
	q.mu.throttled = byTopic
	q.mu.Unlock()
}

// IsThrottled reports whether the quota throttles topic's partition.
func (q *ReplicationQuota) IsThrottled(topic string, partition int32) bool {
	q.mu.Lock()
	t, ok := q.mu.throttled[topic]
	q.mu.Unlock()
	return ok && (t.All || slices.Contains(t.Partitions, partition))
}

// Record adds bytes replicated of throttled partitions to the measured
// rate, whether or not the quota is exceeded.
func (q *ReplicationQuota) Record(bytes int) {
	if bytes <= 0 {
		return
	}
	nowMs := q.now().UnixMilli()
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.currentLocked(nowMs)
	if nowMs-s.startMs >= q.cfg.WindowMs {
		s = q.advanceLocked(nowMs)
	}
	s.bytes += float64(bytes)
}

// IsQuotaExceeded reports whether the measured rate is above the bound
// (Kafka's Sensor.checkQuotas).
func (q *ReplicationQuota) IsQuotaExceeded() bool {
	nowMs := q.now().UnixMilli()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.bound == Unthrottled {
		return false
	}
	return q.rateLocked(nowMs) > float64(q.mu.bound)
}

// ByteRate returns the measured rate of throttled bytes in bytes/s.
func (q *ReplicationQuota) ByteRate() float64 {
	nowMs := q.now().UnixMilli()
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.rateLocked(nowMs)
}

// currentLocked returns the sample being filled, starting the first one.
func (q *ReplicationQuota) currentLocked(nowMs int64) *quotaSample {
	if len(q.mu.samples) == 0 {
		q.mu.samples = append(q.mu.samples, quotaSample{startMs: nowMs})
		q.mu.current = 0
	}
	return &q.mu.samples[q.mu.current]
}

// advanceLocked starts a new sample at nowMs, reusing the oldest slot
// once there are cfg.Samples of them.
func (q *ReplicationQuota) advanceLocked(nowMs int64) *quotaSample {
	q.mu.current = (q.mu.current + 1) % q.cfg.Samples
	if q.mu.current >= len(q.mu.samples) {
		q.mu.samples = append(q.mu.samples, quotaSample{startMs: nowMs})
	} else {
		q.mu.samples[q.mu.current] = quotaSample{startMs: nowMs}
	}
	return &q.mu.samples[q.mu.current]
}

// rateLocked is Kafka's SimpleRate.measure: the samples older than the
// whole window are reset to empty samples starting now, then the sum is
// divided by the time since the oldest sample started, at least one
// window.
func (q *ReplicationQuota) rateLocked(nowMs int64) float64 {
	expireMs := int64(q.cfg.Samples) * q.cfg.WindowMs
	var total float64
	oldest := int64(-1)
	for i := range q.mu.samples {
		s := &q.mu.samples[i]
		if nowMs-s.startMs >= expireMs {
			*s = quotaSample{startMs: nowMs}
		}
		total += s.bytes
		if oldest < 0 || s.startMs < oldest {
			oldest = s.startMs
		}
	}
	elapsed := q.cfg.WindowMs
	if oldest >= 0 && nowMs-oldest > elapsed {
		elapsed = nowMs - oldest
	}
	return total / (float64(elapsed) / 1000)
}

// ShouldLeaderThrottle reports whether the leader leaves p's records out
// of its answer to follower replicaID (Kafka's shouldLeaderThrottle): p is
// throttled by the leader quota, the quota is exceeded, and the follower
// is not in p's ISR. Unthrottled partitions are never held back.
func (m *Manager) ShouldLeaderThrottle(p *Partition, replicaID int32) bool {
	q := m.leaderQuota
	return q.IsThrottled(p.Topic, p.Index) && !p.inSyncReplica(replicaID) && q.IsQuotaExceeded()
}

// LeaderQuota returns the leader-side replication quota: the Fetch
// handler records the bytes of throttled partitions it sends to
// followers there.
func (m *Manager) LeaderQuota() *ReplicationQuota { return m.leaderQuota }

// FollowerQuota returns the follower-side replication quota, which this
// node's fetchers apply.
func (m *Manager) FollowerQuota() *ReplicationQuota { return m.followerQuota }

// inSyncReplica reports whether id is in the committed ISR while this
// node leads p (Kafka's Partition.inSyncReplicaIds).
func (p *Partition) inSyncReplica(id int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.leader != nil && slices.Contains(p.mu.leader.isr, id)
}

// shouldFollowerThrottle is Kafka's ReplicaFetcherThread
// shouldFollowerThrottle: a partition not caught up, throttled by the
// follower quota while it is exceeded, is left out of the next Fetch.
func shouldFollowerThrottle(q *ReplicationQuota, p *Partition, st *fetchState) bool {
	return q != nil && !st.inSync() && q.IsThrottled(p.Topic, p.Index) && q.IsQuotaExceeded()
}

// applyQuotasLocked sets both quotas from an image's configs: the
// throttled-replica lists of topics (by name) as they name this broker
// and, when d is not nil (Config.Dynamic), the broker's rates. Manager.mu
// must be held.
func (m *Manager) applyQuotasLocked(topics map[string]TopicConfig, d *DynamicConfig) {
	leader := map[string]ThrottledReplicas{}
	follower := map[string]ThrottledReplicas{}
	for name, tc := range topics {
		if t, ok := ParseThrottledReplicas(tc.LeaderThrottledReplicas, m.cfg.NodeID); ok {
			leader[name] = t
		}
		if t, ok := ParseThrottledReplicas(tc.FollowerThrottledReplicas, m.cfg.NodeID); ok {
			follower[name] = t
		}
	}
	m.leaderQuota.SetThrottled(leader)
	m.followerQuota.SetThrottled(follower)
	if d != nil {
		m.leaderQuota.SetRate(d.LeaderReplicationThrottledRate)
		m.followerQuota.SetRate(d.FollowerReplicationThrottledRate)
	}
}
