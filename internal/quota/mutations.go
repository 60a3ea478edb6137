package quota

import (
	"math"
	"sync"
	"time"
)

// Controller mutation quotas (KIP-599): controller_mutation_rate limits
// the partitions a client creates or deletes per second (CreateTopics,
// CreatePartitions, DeleteTopics). The rate is Kafka's TokenBucket, not a
// sampled rate, so a client may burst:
//
//	burst  = rate × controller.quota.window.num × controller.quota.window.size.seconds
//	tokens = min(burst, tokens + rate × elapsed)      refilled at each use
//	record(n): tokens -= n                            (may go below zero)
//	exceeded  = tokens < 0; throttle = -tokens / rate seconds
//
// Strict mode (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+)
// refuses a topic with THROTTLING_QUOTA_EXCEEDED while the bucket is
// exceeded, before recording it, so one request may take the bucket below
// zero but the next waits; permissive mode (older versions) records
// everything and only throttles.

// TokenBucket is Kafka's TokenBucket stat. It is a value owned by its
// caller and not safe for concurrent use; times are milliseconds.
type TokenBucket struct {
	tokens  float64
	lastMs  int64
	started bool
	window  Window
}

// NewTokenBucket returns a full bucket sampled by w.
func NewTokenBucket(w Window) *TokenBucket { return &TokenBucket{window: w.withDefaults()} }

func (b *TokenBucket) burst(rate float64) float64 {
	return float64(b.window.Samples) * b.window.Size.Seconds() * rate
}

func (b *TokenBucket) refill(rate float64, nowMs int64) {
	burst := b.burst(rate)
	if !b.started {
		b.tokens, b.started = burst, true
	} else {
		b.tokens = math.Min(burst, b.tokens+rate*float64(nowMs-b.lastMs)/1000)
	}
	b.lastMs = nowMs
}

// Tokens returns the tokens left at nowMs for a bucket of rate.
func (b *TokenBucket) Tokens(rate float64, nowMs int64) float64 {
	b.refill(rate, nowMs)
	return b.tokens
}

// Record takes n tokens at nowMs.
func (b *TokenBucket) Record(rate, n float64, nowMs int64) {
	b.refill(rate, nowMs)
	b.tokens = math.Min(b.burst(rate), b.tokens-n)
}

// ThrottleMs is how long the bucket needs to be back at zero tokens
// (ControllerMutationQuotaManager.throttleTimeMs); 0 when not exceeded.
func (b *TokenBucket) ThrottleMs(rate float64, nowMs int64) int64 {
	t := b.Tokens(rate, nowMs)
	if t >= 0 || rate <= 0 {
		return 0
	}
	return int64(math.Round(-t / rate * 1000))
}

// MutationQuotas are the clients' controller_mutation_rate buckets.
// Safe for concurrent use.
type MutationQuotas struct {
	window Window
	mu     struct {
		sync.Mutex
		buckets map[Tags]*TokenBucket
	}
}

// NewMutationQuotas returns buckets sampled by w
// (controller.quota.window.*).
func NewMutationQuotas(w Window) *MutationQuotas {
	m := &MutationQuotas{window: w.withDefaults()}
	m.mu.buckets = map[Tags]*TokenBucket{}
	return m
}

// Admit decides one topic of permits partitions for a client: in strict
// mode a client whose bucket is exceeded is refused (ok false) with the
// throttle, else the permits are taken and ok is true. limited is false
// when the client has no controller_mutation_rate (nothing is recorded).
func (m *MutationQuotas) Admit(look Lookup, user, clientID string, permits float64, strict bool, now time.Time) (ok bool, throttle time.Duration, limited bool) {
	tags, rate, limited := Resolve(look, ControllerMutationRate, user, clientID)
	if !limited {
		return true, 0, false
	}
	nowMs := now.UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	b, found := m.mu.buckets[tags]
	if !found {
		b = NewTokenBucket(m.window)
		m.mu.buckets[tags] = b
	}
	if strict {
		if ms := b.ThrottleMs(rate, nowMs); ms > 0 {
			return false, time.Duration(ms) * time.Millisecond, true
		}
	}
	b.Record(rate, permits, nowMs)
	return true, time.Duration(b.ThrottleMs(rate, nowMs)) * time.Millisecond, true
}
