package quota

import (
	"sync"
	"time"
)

// sensorIdle is how long a rate nothing recorded into is kept (Kafka's
// quota sensors expire after an hour of inactivity).
const sensorIdle = time.Hour

// Manager measures the clients' rates of the byte-rate and
// request-percentage quotas (Kafka's ClientQuotaManager and
// ClientRequestQuotaManager). Safe for concurrent use.
type Manager struct {
	window Window

	mu struct {
		sync.Mutex
		// rates holds a rate per quota key and Tags.
		rates map[rateKey]*sensor
		// lastSweepMs is when idle rates were last dropped.
		lastSweepMs int64
	}
}

type rateKey struct {
	key  string
	tags Tags
}

type sensor struct {
	rate       *Rate
	lastUsedMs int64
}

// NewManager returns a Manager sampling rates by w.
func NewManager(w Window) *Manager {
	m := &Manager{window: w.withDefaults()}
	m.mu.rates = map[rateKey]*sensor{}
	return m
}

// Window returns the sampling of the manager's rates.
func (m *Manager) Window() Window { return m.window }

// Record adds value to the rate of key the client (user, clientID) is
// measured in, as of now, and returns how long the client must be
// throttled: 0 within its quota (QuotaUtils.throttleTime; for
// request_percentage at most one window, as ClientRequestQuotaManager).
// The value is recorded whether or not the quota is violated (KIP-219).
func (m *Manager) Record(look Lookup, key, user, clientID string, value float64, now time.Time) time.Duration {
	tags, bound, ok := Resolve(look, key, user, clientID)
	nowMs := now.UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sensorLocked(rateKey{key: key, tags: tags}, nowMs)
	s.rate.Record(value, nowMs)
	if !ok {
		return 0
	}
	observed := s.rate.Measure(nowMs)
	if observed <= bound {
		return 0
	}
	ms := ThrottleMs(observed, bound, s.rate.WindowSize(nowMs))
	if bound <= 0 {
		ms = m.window.sizeMs()
	}
	if key == RequestPercentage {
		ms = min(ms, m.window.sizeMs())
	}
	return time.Duration(ms) * time.Millisecond
}

// Unrecord takes value back out of the client's rate (a fetch that was
// throttled and answered empty, as Kafka's unrecordQuotaSensor).
func (m *Manager) Unrecord(look Lookup, key, user, clientID string, value float64, now time.Time) {
	tags, _, _ := Resolve(look, key, user, clientID)
	nowMs := now.UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sensorLocked(rateKey{key: key, tags: tags}, nowMs).rate.Record(-value, nowMs)
}

// MaxValueInWindow is the most a client may take in one quota window
// span, bound × (samples-1) × window (Kafka's getMaxValueInQuotaWindow,
// which caps a fetch's max bytes); ok is false without a quota.
func (m *Manager) MaxValueInWindow(look Lookup, key, user, clientID string) (float64, bool) {
	_, bound, ok := Resolve(look, key, user, clientID)
	if !ok {
		return 0, false
	}
	return bound * float64(m.window.Samples-1) * m.window.Size.Seconds(), true
}

// Measure returns the client's current rate of key (for tests and
// metrics).
func (m *Manager) Measure(look Lookup, key, user, clientID string, now time.Time) float64 {
	tags, _, _ := Resolve(look, key, user, clientID)
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.mu.rates[rateKey{key: key, tags: tags}]
	if !ok {
		return 0
	}
	return s.rate.Measure(now.UnixMilli())
}

func (m *Manager) sensorLocked(k rateKey, nowMs int64) *sensor {
	if nowMs-m.mu.lastSweepMs >= sensorIdle.Milliseconds() {
		for rk, s := range m.mu.rates {
			if nowMs-s.lastUsedMs >= sensorIdle.Milliseconds() {
				delete(m.mu.rates, rk)
			}
		}
		m.mu.lastSweepMs = nowMs
	}
	s, ok := m.mu.rates[k]
	if !ok {
		s = &sensor{rate: NewRate(m.window)}
		m.mu.rates[k] = s
	}
	s.lastUsedMs = nowMs
	return s
}
