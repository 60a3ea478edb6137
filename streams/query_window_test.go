package streams_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Interactive queries of window and session stores (Kafka's
// QueryableStoreTypes.windowStore(), timestampedWindowStore(),
// sessionStore()) against two instances on one broker: each key's
// windows and sessions are read on the instance QueryMetadataForKey
// names (with the un-windowed key), the other instance refuses the key
// with ErrStoreNotLocal, and FetchAll over both instances is the whole
// truth.

const (
	iqWindowSize = 10 * time.Second
	iqSessionGap = 5 * time.Second
	iqKeys       = 16
)

func windowQueryApp(t *testing.T, addr, dir, endpoint string) *streams.App {
	t.Helper()
	b := streams.NewBuilder()
	s := streams.Stream(b, "iq-clicks", serde.String(), serde.String())
	// Grace of an hour: no record of the test is late.
	streams.WindowedBy(s.GroupByKey(), streams.TimeWindowsOfSizeAndGrace(iqWindowSize, time.Hour)).
		Count(streams.As("clicks-store")).ToStream().To("iq-window-updates")
	streams.SessionWindowedBy(s.GroupByKey(), streams.SessionWindowsOfInactivityGapAndGrace(iqSessionGap, time.Hour)).
		Count(streams.As("sessions-store"))
	topo, err := b.Build()
	must(t, err)
	app, err := streams.New(topo,
		streams.ApplicationID("iq-windows"), streams.BootstrapServers(addr), streams.StateDir(dir),
		streams.CommitInterval(100*time.Millisecond), streams.Logger(quiet),
		streams.ApplicationServer(endpoint),
		streams.ClientOpts(kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(200*time.Millisecond)))
	must(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		app.Shutdown(ctx)
	})
	return app
}

func iqEq(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s:\n got  %s\n want %s", what, got, want)
	}
}

// iqEvent is click i of key k at ms.
type iqEvent struct {
	key string
	ms  int64
}

// iqInput returns the clicks, in time order, and the truth: the count of
// every window ("key@start") and of every session ("key@start/end").
func iqInput() ([]iqEvent, map[string]int64, map[string]int64) {
	var evs []iqEvent
	for _, base := range []int64{1000, 3000, 12000, 25000} {
		for i := range iqKeys {
			if base == 25000 && i%2 == 1 {
				continue
			}
			evs = append(evs, iqEvent{key: fmt.Sprintf("k%02d", i), ms: base + int64(i)})
		}
	}
	windows := map[string]int64{}
	for _, e := range evs {
		start := e.ms - e.ms%iqWindowSize.Milliseconds()
		windows[fmt.Sprintf("%s@%d", e.key, start)]++
	}
	// Sessions by hand: 1000 and 3000 are within the gap, 12000 and
	// 25000 are not.
	sessions := map[string]int64{}
	for i := range iqKeys {
		k := fmt.Sprintf("k%02d", i)
		sessions[fmt.Sprintf("%s@%d/%d", k, 1000+i, 3000+i)] = 2
		sessions[fmt.Sprintf("%s@%d/%d", k, 12000+i, 12000+i)] = 1
		if i%2 == 0 {
			sessions[fmt.Sprintf("%s@%d/%d", k, 25000+i, 25000+i)] = 1
		}
	}
	return evs, windows, sessions
}

func TestInteractiveQueriesWindowAndSessionStores(t *testing.T) {
	t.Parallel()
	c := startBroker(t)
	createTopic(t, c.Addr(), "iq-clicks", 4)
	const tasks = 4
	a := windowQueryApp(t, c.Addr(), t.TempDir(), "host-a:7001")
	b := windowQueryApp(t, c.Addr(), t.TempDir(), "host-b:7002")

	// Before Start there is nothing to read; unknown stores fail at once.
	wa, err := streams.QueryWindowStore[string, int64](a, "clicks-store")
	must(t, err)
	if _, _, err := wa.FetchWindow("k00", time.UnixMilli(0)); !errors.Is(err, streams.ErrInvalidStateStore) {
		t.Fatalf("FetchWindow before Start: %v", err)
	}
	if _, err := wa.FetchAll(time.UnixMilli(0), time.UnixMilli(1e6)); !errors.Is(err, streams.ErrInvalidStateStore) {
		t.Fatalf("FetchAll before Start: %v", err)
	}
	if _, err := streams.QueryWindowStore[string, int64](a, "no-such-store"); !errors.Is(err, streams.ErrUnknownStore) {
		t.Fatalf("unknown window store: %v", err)
	}
	if _, err := streams.QuerySessionStore[string, int64](a, "no-such-store"); !errors.Is(err, streams.ErrUnknownStore) {
		t.Fatalf("unknown session store: %v", err)
	}

	must(t, a.Start())
	must(t, b.Start())
	waitFor(t, "the tasks to split", split(tasks, a, b))
	waitFor(t, "both instances running", running(a, b))

	evs, wantWindows, wantSessions := iqInput()
	var recs []*kgo.Record
	for _, e := range evs {
		recs = append(recs, clickAt(e.key, e.ms))
	}
	apps := map[string]*streams.App{"host-a:7001": a, "host-b:7002": b}
	wins := map[string]streams.ReadOnlyWindowStore[string, int64]{}
	sess := map[string]streams.ReadOnlySessionStore[string, int64]{}
	for host, app := range apps {
		w, err := streams.QueryWindowStore[string, int64](app, "clicks-store")
		must(t, err)
		wins[host] = w
		s, err := streams.QuerySessionStore[string, int64](app, "sessions-store")
		must(t, err)
		sess[host] = s
	}

	// Queries run while the stream threads write (for the race
	// detector): they may fail as tasks move, never see a count <= 0.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopQueries := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopQueries()
	for host := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if it, err := wins[host].All(); err == nil {
					for it.Next() {
						if it.Value() <= 0 {
							t.Errorf("count %d for %v", it.Value(), it.Key())
						}
					}
				}
				if it, err := sess[host].Fetch("k00"); err == nil {
					for it.Next() {
						if it.Value() <= 0 {
							t.Errorf("session count %d for %v", it.Value(), it.Key())
						}
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	produceAt(t, c.Addr(), "iq-clicks", recs...)

	// FetchAll over [0, 15000] on both instances is every window that
	// starts in it, each on one instance only; All is every window.
	inRange := map[string]int64{}
	for k, n := range wantWindows {
		_, at, _ := strings.Cut(k, "@")
		if start, err := strconv.ParseInt(at, 10, 64); err == nil && start <= 15000 {
			inRange[k] = n
		}
	}
	union := func(scan func(streams.ReadOnlyWindowStore[string, int64]) (streams.KeyValueIterator[streams.Windowed[string], int64], error)) (map[string]int64, error) {
		got := map[string]int64{}
		for host, w := range wins {
			it, err := scan(w)
			if err != nil {
				return nil, err
			}
			for it.Next() {
				k := fmt.Sprintf("%s@%d", it.Key().Key, it.Key().Window.Start.UnixMilli())
				if _, dup := got[k]; dup {
					return nil, fmt.Errorf("window %s on two instances (again on %s)", k, host)
				}
				if end := it.Key().Window.End.Sub(it.Key().Window.Start); end != iqWindowSize {
					return nil, fmt.Errorf("window %s is %v long", k, end)
				}
				got[k] = it.Value()
			}
			if err := it.Err(); err != nil {
				return nil, err
			}
		}
		return got, nil
	}
	fetchAll := func(w streams.ReadOnlyWindowStore[string, int64]) (streams.KeyValueIterator[streams.Windowed[string], int64], error) {
		return w.FetchAll(time.UnixMilli(0), time.UnixMilli(15000))
	}
	var got map[string]int64
	waitFor(t, "every window counted", func() bool {
		all, err := union(func(w streams.ReadOnlyWindowStore[string, int64]) (streams.KeyValueIterator[streams.Windowed[string], int64], error) {
			return w.All()
		})
		return err == nil && fmt.Sprint(all) == fmt.Sprint(wantWindows)
	})
	stopQueries()
	got, err = union(fetchAll)
	must(t, err)
	assertExact(t, got, inRange)

	owners := map[string]int{}
	for i := range iqKeys {
		key := fmt.Sprintf("k%02d", i)
		ma, err := streams.QueryMetadataForKey(a, "clicks-store", key, serde.String())
		must(t, err)
		mb, err := streams.QueryMetadataForKey(b, "clicks-store", key, serde.String())
		must(t, err)
		ms, err := streams.QueryMetadataForKey(a, "sessions-store", key, serde.String())
		must(t, err)
		if ma.Active != mb.Active || ma.Partition != mb.Partition || ms.Active != ma.Active {
			t.Fatalf("%q: a says %+v, b says %+v, sessions-store %+v", key, ma, mb, ms)
		}
		owner := ma.Active.String()
		owners[owner]++

		// Each window on the owner.
		w := wins[owner]
		for _, start := range []int64{0, 10000, 20000} {
			want, exists := wantWindows[fmt.Sprintf("%s@%d", key, start)]
			n, ok, err := w.FetchWindow(key, time.UnixMilli(start))
			if err != nil || ok != exists || n != want {
				t.Fatalf("%s@%d on its owner %s: %d %v %v, want %d %v", key, start, owner, n, ok, err, want, exists)
			}
		}
		it, err := w.Fetch(key, time.UnixMilli(0), time.UnixMilli(15000))
		must(t, err)
		var starts []int64
		for it.Next() {
			starts = append(starts, it.Key().UnixMilli())
			if want := wantWindows[fmt.Sprintf("%s@%d", key, it.Key().UnixMilli())]; it.Value() != want {
				t.Fatalf("%s@%v: %d, want %d", key, it.Key(), it.Value(), want)
			}
		}
		must(t, it.Err())
		iqEq(t, key+" windows in [0, 15000]", fmt.Sprint(starts), "[0 10000]")

		// The timestamped view: the value's timestamp is that of the
		// window's last click.
		tw, err := streams.QueryTimestampedWindowStore[string, int64](apps[owner], "clicks-store")
		must(t, err)
		vt, ok, err := tw.FetchWindow(key, time.UnixMilli(0))
		if err != nil || !ok || vt.Value != 2 || vt.Timestamp.UnixMilli() != 3000+int64(i) {
			t.Fatalf("%s@0 timestamped: %+v %v %v", key, vt, ok, err)
		}

		// Its sessions on the owner, by end time.
		s := sess[owner]
		sit, err := s.Fetch(key)
		must(t, err)
		var got []string
		for sit.Next() {
			k := fmt.Sprintf("%s@%d/%d", sit.Key().Key, sit.Key().Window.Start.UnixMilli(), sit.Key().Window.End.UnixMilli())
			if sit.Value() != wantSessions[k] {
				t.Fatalf("session %s: %d, want %d", k, sit.Value(), wantSessions[k])
			}
			got = append(got, k)
		}
		must(t, sit.Err())
		want := []string{fmt.Sprintf("%s@%d/%d", key, 1000+i, 3000+i), fmt.Sprintf("%s@%d/%d", key, 12000+i, 12000+i)}
		if i%2 == 0 {
			want = append(want, fmt.Sprintf("%s@%d/%d", key, 25000+i, 25000+i))
		}
		iqEq(t, key+" sessions", fmt.Sprint(got), fmt.Sprint(want))
		fit, err := s.FindSessions(key, time.UnixMilli(5000), time.UnixMilli(20000))
		must(t, err)
		got = got[:0]
		for fit.Next() {
			got = append(got, fmt.Sprintf("%d/%d", fit.Key().Window.Start.UnixMilli(), fit.Key().Window.End.UnixMilli()))
		}
		iqEq(t, key+" sessions ending >= 5000 and starting <= 20000", fmt.Sprint(got), fmt.Sprintf("[%d/%d]", 12000+i, 12000+i))
		n, ok, err := s.FetchSession(key, time.UnixMilli(1000+int64(i)), time.UnixMilli(3000+int64(i)))
		if err != nil || !ok || n != 2 {
			t.Fatalf("%s session [1000, 3000]: %d %v %v", key, n, ok, err)
		}
		if _, ok, err := s.FetchSession(key, time.UnixMilli(1000+int64(i)), time.UnixMilli(2000)); err != nil || ok {
			t.Fatalf("%s: session that does not exist: %v %v", key, ok, err)
		}

		// The other instance refuses the key.
		for host := range apps {
			if host == owner {
				continue
			}
			if _, _, err := wins[host].FetchWindow(key, time.UnixMilli(0)); !errors.Is(err, streams.ErrStoreNotLocal) {
				t.Fatalf("%s FetchWindow on %s (not its owner): %v", key, host, err)
			}
			if _, err := wins[host].Fetch(key, time.UnixMilli(0), time.UnixMilli(1e6)); !errors.Is(err, streams.ErrStoreNotLocal) {
				t.Fatalf("%s Fetch on %s (not its owner): %v", key, host, err)
			}
			if _, err := sess[host].Fetch(key); !errors.Is(err, streams.ErrStoreNotLocal) || !errors.Is(err, streams.ErrInvalidStateStore) {
				t.Fatalf("%s session Fetch on %s (not its owner): %v", key, host, err)
			}
			if _, _, err := sess[host].FetchSession(key, time.UnixMilli(0), time.UnixMilli(1)); !errors.Is(err, streams.ErrStoreNotLocal) {
				t.Fatalf("%s FetchSession on %s (not its owner): %v", key, host, err)
			}
		}
	}
	if len(owners) != 2 {
		t.Fatalf("every key on one host: %v", owners)
	}

	// A store queried as the wrong kind fails, and not as "not local".
	wrong, err := streams.QuerySessionStore[string, int64](a, "clicks-store")
	must(t, err)
	if _, err := wrong.Fetch("k00"); err == nil || errors.Is(err, streams.ErrInvalidStateStore) {
		t.Fatalf("session query of a window store: %v", err)
	}

	// After Close the stores of b are no longer available.
	must(t, b.Close())
	if _, err := wins["host-b:7002"].FetchAll(time.UnixMilli(0), time.UnixMilli(1e6)); !errors.Is(err, streams.ErrInvalidStateStore) {
		t.Fatalf("FetchAll after Close: %v", err)
	}
	if _, err := sess["host-b:7002"].Fetch("k00"); !errors.Is(err, streams.ErrInvalidStateStore) {
		t.Fatalf("session Fetch after Close: %v", err)
	}
}
