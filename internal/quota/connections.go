package quota

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// ErrTooManyConnections refuses a connection over max.connections.per.ip
// (Kafka's TooManyConnectionsException: the connection is closed at
// once).
var ErrTooManyConnections = errors.New("quota: too many connections")

// ConnectionLimits are a broker's connection limits (KIP-402, KIP-612).
// A zero or negative limit is none.
type ConnectionLimits struct {
	// MaxConnections is max.connections, across listeners; the
	// protected (inter-broker) listener is not held back by it.
	MaxConnections int
	// MaxConnectionsPerIP is max.connections.per.ip.
	MaxConnectionsPerIP int
	// OnlyOverriddenIPs is max.connections.per.ip=0: only the IPs of
	// PerIPOverrides may connect.
	OnlyOverriddenIPs bool
	// PerIPOverrides is max.connections.per.ip.overrides, by IP.
	PerIPOverrides map[string]int
	// MaxConnectionCreationRate is max.connection.creation.rate,
	// connections/s across the listeners but the protected one.
	MaxConnectionCreationRate float64
	// Listeners are the listener.name.<l>.max.connections and
	// .max.connection.creation.rate limits, by listener name.
	Listeners map[string]ListenerLimits
	// ProtectedListener is inter.broker.listener.name.
	ProtectedListener string
}

// ListenerLimits are one listener's connection limits.
type ListenerLimits struct {
	MaxConnections            int
	MaxConnectionCreationRate float64
}

// unlimitedRate is Kafka's Int.MaxValue default of the rate limits.
const unlimitedRate = math.MaxInt32

func rateLimited(r float64) bool { return r > 0 && r < unlimitedRate }

// ConnectionQuotas is Kafka's ConnectionQuotas: it counts the open
// connections by IP and listener, and measures the connection creation
// rates of the broker, each listener and each IP. Safe for concurrent
// use.
//
// The accept loop asks, for each accepted connection (Acquire does the
// waiting):
//
//	RecordCreation   listener and broker rates take the connection; over
//	                 a rate the listener stops accepting for the returned
//	                 throttle (ConnectionQuotas.waitForConnectionSlot)
//	SlotAvailable    false while the listener or the broker is at its
//	                 max.connections: wait for a Release
//	Register         the IP's connection_creation_rate (over it: close
//	                 the connection after the returned delay, uncounted)
//	                 and max.connections.per.ip (ErrTooManyConnections:
//	                 close now); else the connection is counted
//	Release          when a counted connection closes
type ConnectionQuotas struct {
	window Window
	limits func() ConnectionLimits
	look   func() Lookup
	now    func() time.Time

	mu struct {
		sync.Mutex
		total      int
		byIP       map[string]int
		byListener map[string]int
		broker     *Rate
		listeners  map[string]*Rate
		ips        map[string]*sensor
		// released is closed and replaced when a connection is
		// released, waking waiters.
		released chan struct{}
	}
}

// NewConnectionQuotas returns connection quotas sampled by w, reading the
// limits and the IP quotas of the moment through limits and look; now is
// the clock (time.Now if nil).
func NewConnectionQuotas(w Window, limits func() ConnectionLimits, look func() Lookup, now func() time.Time) *ConnectionQuotas {
	if now == nil {
		now = time.Now
	}
	q := &ConnectionQuotas{window: w.withDefaults(), limits: limits, look: look, now: now}
	q.mu.byIP = map[string]int{}
	q.mu.byListener = map[string]int{}
	q.mu.broker = NewRate(q.window)
	q.mu.listeners = map[string]*Rate{}
	q.mu.ips = map[string]*sensor{}
	q.mu.released = make(chan struct{})
	return q
}

// throttle records one connection in r and returns the throttle of a
// rate over bound, at most one window (ConnectionQuotas'
// maxThrottleTimeMs).
func (q *ConnectionQuotas) throttle(r *Rate, bound float64, nowMs int64) int64 {
	r.Record(1, nowMs)
	if !rateLimited(bound) {
		return 0
	}
	ms := ThrottleMs(r.Measure(nowMs), bound, r.WindowSize(nowMs))
	return min(ms, q.window.sizeMs())
}

// RecordCreation records a new connection on listener in the listener's
// and (unless it is the protected listener) the broker's creation rates
// and returns how long the listener must wait before taking it.
func (q *ConnectionQuotas) RecordCreation(lim ConnectionLimits, listener string, now time.Time) time.Duration {
	nowMs := now.UnixMilli()
	q.mu.Lock()
	defer q.mu.Unlock()
	lr, ok := q.mu.listeners[listener]
	if !ok {
		lr = NewRate(q.window)
		q.mu.listeners[listener] = lr
	}
	ms := q.throttle(lr, lim.Listeners[listener].MaxConnectionCreationRate, nowMs)
	if listener != lim.ProtectedListener {
		ms = max(ms, q.throttle(q.mu.broker, lim.MaxConnectionCreationRate, nowMs))
	}
	return time.Duration(ms) * time.Millisecond
}

// SlotAvailable reports whether listener may take one more connection
// (ConnectionQuotas.connectionSlotAvailable).
func (q *ConnectionQuotas) SlotAvailable(lim ConnectionLimits, listener string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.slotAvailableLocked(lim, listener)
}

func (q *ConnectionQuotas) slotAvailableLocked(lim ConnectionLimits, listener string) bool {
	if m := lim.Listeners[listener].MaxConnections; m > 0 && q.mu.byListener[listener] >= m {
		return false
	}
	if listener == lim.ProtectedListener {
		return true
	}
	return lim.MaxConnections <= 0 || q.mu.total < lim.MaxConnections
}

// Register counts a connection from ip on listener, or refuses it: a
// positive closeAfter means the IP is over its connection_creation_rate
// (close the connection after that long, Kafka's
// ConnectionThrottledException; it is not counted and the rate forgets
// it), ErrTooManyConnections that the IP has max.connections.per.ip
// open. ipRate is the IP's connection_creation_rate (0: none).
func (q *ConnectionQuotas) Register(lim ConnectionLimits, ipRate float64, listener, ip string, now time.Time) (closeAfter time.Duration, err error) {
	nowMs := now.UnixMilli()
	q.mu.Lock()
	defer q.mu.Unlock()
	if rateLimited(ipRate) {
		s, ok := q.mu.ips[ip]
		if !ok || nowMs-s.lastUsedMs >= sensorIdle.Milliseconds() {
			s = &sensor{rate: NewRate(q.window)}
			q.mu.ips[ip] = s
		}
		s.lastUsedMs = nowMs
		if ms := q.throttle(s.rate, ipRate, nowMs); ms > 0 {
			s.rate.Record(-1, nowMs)
			return time.Duration(ms) * time.Millisecond, nil
		}
	}
	limit := lim.MaxConnectionsPerIP
	if lim.OnlyOverriddenIPs {
		limit = 0
	}
	if o, ok := lim.PerIPOverrides[ip]; ok {
		limit = o
	}
	if (limit > 0 || lim.OnlyOverriddenIPs) && limit < math.MaxInt32 && q.mu.byIP[ip] >= limit {
		return 0, fmt.Errorf("%w: %d connections from %s (max.connections.per.ip %d)", ErrTooManyConnections, q.mu.byIP[ip], ip, limit)
	}
	q.mu.byIP[ip]++
	q.mu.byListener[listener]++
	q.mu.total++
	return 0, nil
}

// Release uncounts a connection Register counted.
func (q *ConnectionQuotas) Release(listener, ip string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.byIP[ip]--; q.mu.byIP[ip] <= 0 {
		delete(q.mu.byIP, ip)
	}
	q.mu.byListener[listener]--
	q.mu.total--
	close(q.mu.released)
	q.mu.released = make(chan struct{})
}

// Count returns the connections counted from ip and in total.
func (q *ConnectionQuotas) Count(ip string) (fromIP, total int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.byIP[ip], q.mu.total
}

// Acquire runs the steps above for a connection accepted from ip on
// listener, waiting as they say (the accept loop does not accept
// meanwhile, as Kafka's acceptor). A nil error with closeAfter 0 means
// the connection is counted: call Release when it closes. Otherwise
// nothing is counted; err is ErrTooManyConnections or ctx's error.
func (q *ConnectionQuotas) Acquire(ctx context.Context, listener, ip string) (closeAfter time.Duration, err error) {
	lim := q.limits()
	if wait := q.RecordCreation(lim, listener, q.now()); wait > 0 {
		if err := sleep(ctx, wait); err != nil {
			return 0, err
		}
	}
	for {
		lim = q.limits()
		q.mu.Lock()
		ok := q.slotAvailableLocked(lim, listener)
		released := q.mu.released
		q.mu.Unlock()
		if ok {
			break
		}
		t := time.NewTimer(time.Second) // limits may change meanwhile
		select {
		case <-released:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		}
		t.Stop()
	}
	var ipRate float64
	if r, ok := IPConnectionRate(q.look(), ip); ok {
		ipRate = r
	}
	return q.Register(lim, ipRate, listener, ip, q.now())
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
