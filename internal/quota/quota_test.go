package quota

import (
	"errors"
	"math"
	"testing"
	"time"
)

// Reference: Kafka's SampledStat/Rate (windowSize keeps at least
// samples-1 full windows) and QuotaUtils.throttleTime.
func TestRate(t *testing.T) {
	type rec struct {
		atMs  int64
		value float64
	}
	for _, tc := range []struct {
		name       string
		w          Window
		recs       []rec
		atMs       int64
		wantWindow int64
		wantRate   float64
	}{
		{name: "young rate is spread over samples-1 windows", w: Window{Samples: 11, Size: time.Second},
			recs: []rec{{0, 1000}}, atMs: 0, wantWindow: 10000, wantRate: 100},
		{name: "half a window in", w: Window{Samples: 11, Size: time.Second},
			recs: []rec{{0, 500}, {500, 500}}, atMs: 500, wantWindow: 10500, wantRate: 1000 / 10.5},
		{name: "full span", w: Window{Samples: 3, Size: time.Second},
			recs: []rec{{0, 100}, {1000, 100}, {2000, 100}}, atMs: 2500, wantWindow: 2500, wantRate: 300 / 2.5},
		{name: "oldest sample reused", w: Window{Samples: 3, Size: time.Second},
			recs: []rec{{0, 100}, {1000, 100}, {2000, 100}, {3000, 100}}, atMs: 3000, wantWindow: 2000, wantRate: 300 / 2.0},
		{name: "expired samples are reset", w: Window{Samples: 3, Size: time.Second},
			recs: []rec{{0, 100}, {1000, 100}}, atMs: 10000, wantWindow: 2000, wantRate: 0},
		{name: "negative value unrecords", w: Window{Samples: 2, Size: time.Second},
			recs: []rec{{0, 100}, {10, -40}}, atMs: 10, wantWindow: 1010, wantRate: 60 / 1.01},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRate(tc.w)
			for _, x := range tc.recs {
				r.Record(x.value, x.atMs)
			}
			if got := r.WindowSize(tc.atMs); got != tc.wantWindow {
				t.Errorf("WindowSize = %d, want %d", got, tc.wantWindow)
			}
			if got := r.Measure(tc.atMs); math.Abs(got-tc.wantRate) > 1e-9 {
				t.Errorf("Measure = %v, want %v", got, tc.wantRate)
			}
		})
	}
}

func TestThrottleMs(t *testing.T) {
	for _, tc := range []struct {
		observed, bound float64
		windowMs, want  int64
	}{
		{16.5, 16.5, 1000, 0},
		{10, 20, 1000, 0},
		{20, 10, 1000, 1000},
		{15, 10, 11000, 5500},
		{10.001, 10, 1000, 0}, // rounds
	} {
		if got := ThrottleMs(tc.observed, tc.bound, tc.windowMs); got != tc.want {
			t.Errorf("ThrottleMs(%v, %v, %d) = %d, want %d", tc.observed, tc.bound, tc.windowMs, got, tc.want)
		}
	}
}

func lookupOf(m map[Entity]map[string]float64) Lookup {
	return func(e Entity) map[string]float64 { return m[e] }
}

// Reference: Kafka's docs "Quotas" precedence list and
// DefaultQuotaCallback (quotaMetricTags, quotaLimit).
func TestResolvePrecedence(t *testing.T) {
	u, c, d := Named("alice"), Named("app"), Default()
	all := []struct {
		e     Entity
		bound float64
		tags  Tags
	}{
		{Entity{User: u, ClientID: c}, 1, Tags{"alice", "app"}},
		{Entity{User: u, ClientID: d}, 2, Tags{"alice", "app"}},
		{Entity{User: u}, 3, Tags{"alice", ""}},
		{Entity{User: d, ClientID: c}, 4, Tags{"alice", "app"}},
		{Entity{User: d, ClientID: d}, 5, Tags{"alice", "app"}},
		{Entity{User: d}, 6, Tags{"alice", ""}},
		{Entity{ClientID: c}, 7, Tags{"", "app"}},
		{Entity{ClientID: d}, 8, Tags{"", "app"}},
	}
	// With entities i..8 configured, entity i wins.
	for i := range all {
		m := map[Entity]map[string]float64{}
		for _, x := range all[i:] {
			m[x.e] = map[string]float64{ProducerByteRate: x.bound}
		}
		tags, bound, ok := Resolve(lookupOf(m), ProducerByteRate, "alice", "app")
		if !ok || bound != all[i].bound || tags != all[i].tags {
			t.Errorf("with %s first: tags %+v bound %v ok %v, want %+v %v", all[i].e, tags, bound, ok, all[i].tags, all[i].bound)
		}
		// Another quota type is not affected.
		if _, _, ok := Resolve(lookupOf(m), ConsumerByteRate, "alice", "app"); ok {
			t.Errorf("consumer_byte_rate resolved from producer_byte_rate entities")
		}
	}
	if _, _, ok := Resolve(lookupOf(nil), ProducerByteRate, "alice", "app"); ok {
		t.Error("no quotas: limited")
	}
	// A user quota is shared by the user's clients; a default user
	// quota gives each user its own rate.
	m := map[Entity]map[string]float64{{User: d}: {ProducerByteRate: 10}}
	t1, _, _ := Resolve(lookupOf(m), ProducerByteRate, "bob", "x")
	t2, _, _ := Resolve(lookupOf(m), ProducerByteRate, "bob", "y")
	t3, _, _ := Resolve(lookupOf(m), ProducerByteRate, "carol", "x")
	if t1 != t2 || t1 == t3 {
		t.Errorf("tags %v %v %v: want bob's clients to share, carol apart", t1, t2, t3)
	}
}

func str(s string) *string { return &s }

func TestNewEntityAndValidate(t *testing.T) {
	for _, tc := range []struct {
		cs      []Component
		want    string // entity String, or error message
		wantErr bool
	}{
		{cs: []Component{{EntityUser, str("alice")}, {EntityClientID, nil}}, want: "users/alice/clients/<default>"},
		{cs: []Component{{EntityIP, str("10.0.0.1")}}, want: "ips/10.0.0.1"},
		{cs: []Component{{EntityIP, nil}}, want: "ips/<default>"},
		{cs: nil, wantErr: true, want: "Invalid empty client quota entity"},
		{cs: []Component{{EntityUser, str("a")}, {EntityUser, str("b")}}, wantErr: true, want: "Invalid client quota entity, duplicate entity entry user"},
		{cs: []Component{{"group", str("a")}}, wantErr: true, want: "Unhandled client quota entity type: group"},
		{cs: []Component{{EntityClientID, str("")}}, wantErr: true, want: "Empty client-id not supported"},
		{cs: []Component{{EntityIP, str("1.2.3.4")}, {EntityUser, str("a")}}, wantErr: true, want: "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId"},
		{cs: []Component{{EntityIP, str("not-an-ip")}}, wantErr: true, want: "not-an-ip is not a valid IP or resolvable host."},
	} {
		e, err := NewEntity(tc.cs)
		switch {
		case tc.wantErr && (err == nil || !errors.Is(err, ErrInvalidEntity) || Message(err) != tc.want):
			t.Errorf("NewEntity(%v) = %v, want error %q", tc.cs, err, tc.want)
		case !tc.wantErr && (err != nil || e.String() != tc.want):
			t.Errorf("NewEntity(%v) = %v, %v, want %s", tc.cs, e, err, tc.want)
		}
	}
	user := Entity{User: Named("a")}
	ip := Entity{IP: Default()}
	for _, tc := range []struct {
		e     Entity
		key   string
		value float64
		want  string
	}{
		{user, ProducerByteRate, 1024, ""},
		{user, RequestPercentage, 12.5, ""},
		{user, ProducerByteRate, 10.5, "Configuration producer_byte_rate must be a Long value"},
		{user, ConnectionCreationRate, 10, "Invalid configuration key connection_creation_rate"},
		{ip, ConnectionCreationRate, 10, ""},
		{ip, ProducerByteRate, 10, "Invalid configuration key producer_byte_rate"},
		{user, "bogus", 1, "Invalid configuration key bogus"},
	} {
		err := ValidateValue(tc.e, tc.key, tc.value)
		if (err == nil) != (tc.want == "") || (err != nil && Message(err) != tc.want) {
			t.Errorf("ValidateValue(%s, %s, %v) = %v, want %q", tc.e, tc.key, tc.value, err, tc.want)
		}
	}
}

// A client producing at twice its quota is throttled so that, waiting out
// each throttle, it gets its quota (KIP-219).
func TestManagerThrottlesToQuota(t *testing.T) {
	m := NewManager(Window{Samples: 11, Size: time.Second})
	look := lookupOf(map[Entity]map[string]float64{{ClientID: Named("app")}: {ProducerByteRate: 1000}})
	start := time.Unix(1000, 0)
	now := start
	var sent float64
	for now.Sub(start) < 60*time.Second {
		sent += 500
		d := m.Record(look, ProducerByteRate, "ANONYMOUS", "app", 500, now)
		now = now.Add(250*time.Millisecond + d) // wants 2000 B/s
	}
	got := sent / now.Sub(start).Seconds()
	if got < 900 || got > 1100 {
		t.Fatalf("throttled rate %.0f B/s, want within 10%% of 1000", got)
	}
	// Another client is not throttled.
	if d := m.Record(look, ProducerByteRate, "ANONYMOUS", "other", 500, now); d != 0 {
		t.Fatalf("unlimited client throttled %v", d)
	}
	if v, ok := m.MaxValueInWindow(look, ProducerByteRate, "x", "app"); !ok || v != 10000 {
		t.Fatalf("MaxValueInWindow = %v, %v", v, ok)
	}
}

func TestManagerRequestPercentageCapped(t *testing.T) {
	m := NewManager(Window{Samples: 11, Size: time.Second})
	look := lookupOf(map[Entity]map[string]float64{{User: Default()}: {RequestPercentage: 1}})
	d := m.Record(look, RequestPercentage, "alice", "c", 1e6, time.Unix(0, 0))
	if d != time.Second {
		t.Fatalf("request_percentage throttle %v, want capped at one window", d)
	}
	d = m.Record(look, ProducerByteRate, "alice", "c", 1e6, time.Unix(0, 0))
	if d != 0 {
		t.Fatalf("no byte-rate quota, throttled %v", d)
	}
}

func TestConnectionQuotas(t *testing.T) {
	lim := ConnectionLimits{
		MaxConnections:      2,
		MaxConnectionsPerIP: 1,
		PerIPOverrides:      map[string]int{"10.0.0.9": 3},
		Listeners:           map[string]ListenerLimits{"EXTERNAL": {MaxConnectionCreationRate: 1}},
		ProtectedListener:   "INTERNAL",
	}
	q := NewConnectionQuotas(Window{Samples: 2, Size: time.Second}, func() ConnectionLimits { return lim }, func() Lookup { return lookupOf(nil) }, nil)
	now := time.Unix(100, 0)
	if _, err := q.Register(lim, 0, "PLAINTEXT", "10.0.0.1", now); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Register(lim, 0, "PLAINTEXT", "10.0.0.1", now); !errors.Is(err, ErrTooManyConnections) {
		t.Fatalf("second connection from one IP: %v, want ErrTooManyConnections", err)
	}
	if _, err := q.Register(lim, 0, "PLAINTEXT", "10.0.0.9", now); err != nil {
		t.Fatalf("override: %v", err)
	}
	if q.SlotAvailable(lim, "PLAINTEXT") {
		t.Fatal("max.connections reached, slot available")
	}
	if !q.SlotAvailable(lim, "INTERNAL") {
		t.Fatal("protected listener held back by max.connections")
	}
	q.Release("PLAINTEXT", "10.0.0.1")
	if !q.SlotAvailable(lim, "PLAINTEXT") {
		t.Fatal("slot not freed")
	}
	if n, total := q.Count("10.0.0.1"); n != 0 || total != 1 {
		t.Fatalf("counts %d %d", n, total)
	}
	// Listener rate 1/s over 2 samples: the first is fine, the second
	// at once throttles.
	if d := q.RecordCreation(lim, "EXTERNAL", now); d != 0 {
		t.Fatalf("first creation throttled %v", d)
	}
	if d := q.RecordCreation(lim, "EXTERNAL", now); d <= 0 || d > time.Second {
		t.Fatalf("second creation throttle %v, want (0, 1s]", d)
	}
	// IP rate: over it, close after a delay and do not count.
	if d, err := q.Register(lim, 1, "PLAINTEXT", "10.0.0.2", now); d != 0 || err != nil {
		t.Fatal(d, err)
	}
	q.Release("PLAINTEXT", "10.0.0.2")
	d, err := q.Register(lim, 1, "PLAINTEXT", "10.0.0.2", now)
	if err != nil || d <= 0 {
		t.Fatalf("over the IP rate: %v %v, want a delayed close", d, err)
	}
	if n, _ := q.Count("10.0.0.2"); n != 0 {
		t.Fatal("throttled connection counted")
	}
}

// Acquire waits while max.connections is reached and takes the slot a
// Release frees (the acceptor blocking in Kafka's waitForConnectionSlot).
func TestConnectionQuotasAcquireWaitsForSlot(t *testing.T) {
	lim := ConnectionLimits{MaxConnections: 1}
	q := NewConnectionQuotas(Window{}, func() ConnectionLimits { return lim }, func() Lookup { return lookupOf(nil) }, nil)
	ctx := t.Context()
	if d, err := q.Acquire(ctx, "PLAINTEXT", "10.0.0.1"); d != 0 || err != nil {
		t.Fatal(d, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := q.Acquire(ctx, "PLAINTEXT", "10.0.0.2")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("acquired past max.connections: %v", err)
	default:
	}
	q.Release("PLAINTEXT", "10.0.0.1")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, total := q.Count(""); total != 1 {
		t.Fatalf("total %d, want 1", total)
	}
}

// Reference: Kafka's TokenBucket and KIP-599 (strict mode refuses while
// the bucket is below zero; one request may take it below).
func TestMutationQuotas(t *testing.T) {
	m := NewMutationQuotas(Window{Samples: 2, Size: time.Second}) // burst 2 s of rate
	look := lookupOf(map[Entity]map[string]float64{{User: Named("alice")}: {ControllerMutationRate: 5}})
	now := time.Unix(100, 0)
	// Burst of 10 tokens: 12 partitions at once pass, leaving -2.
	ok, d, limited := m.Admit(look, "alice", "c", 12, true, now)
	if !ok || !limited || d != 400*time.Millisecond {
		t.Fatalf("first: %v %v %v, want admitted with a 400ms throttle", ok, d, limited)
	}
	// Exceeded: refused in strict mode with the time to get back to 0.
	ok, d, _ = m.Admit(look, "alice", "c", 1, true, now.Add(100*time.Millisecond))
	if ok || d != 300*time.Millisecond {
		t.Fatalf("second: %v %v, want refused, 300ms", ok, d)
	}
	// Permissive mode records anyway.
	ok, d, _ = m.Admit(look, "alice", "c", 1, false, now.Add(100*time.Millisecond))
	if !ok || d != 500*time.Millisecond {
		t.Fatalf("permissive: %v %v", ok, d)
	}
	// Refilled: admitted again.
	if ok, _, _ = m.Admit(look, "alice", "c", 1, true, now.Add(2*time.Second)); !ok {
		t.Fatal("not refilled")
	}
	if ok, d, limited = m.Admit(look, "bob", "c", 1000, true, now); !ok || d != 0 || limited {
		t.Fatal("a client without a quota limited")
	}
}
