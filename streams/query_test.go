package streams_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
)

// Interactive queries against two WordCount instances on one broker: the
// metadata of every key points at the instance whose local store has it,
// both instances agree, and the other instance refuses the key with
// ErrStoreNotLocal (Kafka's InvalidStateStoreException family).

func TestInteractiveQueries(t *testing.T) {
	t.Parallel()
	c := startBroker(t)
	createTopic(t, c.Addr(), "lines", 4)
	const tasks = 8
	a := newApp(t, c.Addr(), "iq", t.TempDir(), streams.ApplicationServer("host-a:7001"))
	b := newApp(t, c.Addr(), "iq", t.TempDir(), streams.ApplicationServer("host-b:7002"))

	// Before Start there is nothing to ask.
	if _, err := a.AllMetadata(); !errors.Is(err, streams.ErrMetadataUnavailable) {
		t.Fatalf("AllMetadata before Start: %v", err)
	}
	store, err := streams.QueryKeyValueStore[string, int64](a, "counts-store")
	must(t, err)
	if _, _, err := store.Get("alpha"); !errors.Is(err, streams.ErrInvalidStateStore) {
		t.Fatalf("Get before Start: %v", err)
	}
	if _, err := streams.QueryKeyValueStore[string, int64](a, "no-such-store"); !errors.Is(err, streams.ErrUnknownStore) {
		t.Fatalf("unknown store: %v", err)
	}

	must(t, a.Start())
	must(t, b.Start())
	waitFor(t, "the tasks to split", split(tasks, a, b))
	waitFor(t, "both instances running", running(a, b))
	// Queries run while the stream threads write (for the race
	// detector): they may fail as tasks move, never tear.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, app := range []*streams.App{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _ := streams.QueryKeyValueStore[string, int64](app, "counts-store")
			for {
				select {
				case <-stop:
					return
				default:
				}
				if it, err := s.All(); err == nil {
					for it.Next() {
						if it.Value() <= 0 {
							t.Errorf("count %d for %q", it.Value(), it.Key())
						}
					}
				}
				s.Get("alpha")
				time.Sleep(time.Millisecond)
			}
		}()
	}
	in, want := lines(0, 100)
	produce(t, c.Addr(), "lines", in)
	assertExact(t, latestCounts(t, c.Addr(), "counts", false, atLeast(want)), want)
	close(stop)
	wg.Wait()

	// AllMetadata: both hosts, their tasks as the instances see them.
	var md []streams.StreamsMetadata
	waitFor(t, "metadata of both hosts", func() bool {
		md, err = a.AllMetadata()
		return err == nil && len(md) == 2 && len(md[0].Tasks)+len(md[1].Tasks) == tasks
	})
	apps := map[string]*streams.App{"host-a:7001": a, "host-b:7002": b}
	for _, m := range md {
		app := apps[m.Host.String()]
		if app == nil {
			t.Fatalf("unknown host %v", m.Host)
		}
		if !slices.Equal(m.Tasks, app.Tasks()) {
			t.Fatalf("%v: metadata tasks %v, instance runs %v", m.Host, m.Tasks, app.Tasks())
		}
		if !slices.Contains(m.StateStoreNames, "counts-store") || len(m.TopicPartitions["lines"]) == 0 {
			t.Fatalf("%v: stores %v, partitions %v", m.Host, m.StateStoreNames, m.TopicPartitions)
		}
	}
	if mb, err := b.AllMetadata(); err != nil || len(mb) != 2 {
		t.Fatalf("b's metadata: %v, %v", mb, err)
	}

	stores := map[string]streams.ReadOnlyKeyValueStore[string, int64]{}
	for host, app := range apps {
		s, err := streams.QueryKeyValueStore[string, int64](app, "counts-store")
		must(t, err)
		stores[host] = s
	}
	owners := map[string]int{}
	for word, n := range want {
		ma, err := streams.QueryMetadataForKey(a, "counts-store", word, serde.String())
		must(t, err)
		mb, err := streams.QueryMetadataForKey(b, "counts-store", word, serde.String())
		must(t, err)
		if ma.Active != mb.Active || ma.Partition != mb.Partition {
			t.Fatalf("%q: a says %+v, b says %+v", word, ma, mb)
		}
		owner := ma.Active.String()
		owners[owner]++
		got, ok, err := stores[owner].Get(word)
		if err != nil || !ok || got != n {
			t.Fatalf("%q on its owner %s: %d %v %v, want %d", word, owner, got, ok, err, n)
		}
		for host, s := range stores {
			if host == owner {
				continue
			}
			if _, _, err := s.Get(word); !errors.Is(err, streams.ErrStoreNotLocal) || !errors.Is(err, streams.ErrInvalidStateStore) {
				t.Fatalf("%q on %s (not its owner): %v", word, host, err)
			}
		}
	}
	if len(owners) != 2 {
		t.Fatalf("every word on one host: %v", owners)
	}

	// All over both instances is the whole table, each word once.
	union := map[string]int64{}
	var total int64
	for host, s := range stores {
		it, err := s.All()
		must(t, err)
		for it.Next() {
			if _, dup := union[it.Key()]; dup {
				t.Fatalf("%q on both instances", it.Key())
			}
			union[it.Key()] = it.Value()
		}
		must(t, it.Err())
		must(t, it.Close())
		n, err := s.ApproximateNumEntries()
		must(t, err)
		total += n
		_ = host
	}
	assertExact(t, union, want)
	if total < int64(len(want)) {
		t.Fatalf("ApproximateNumEntries sum %d < %d keys", total, len(want))
	}
	// The timestamped view has the values and their timestamps.
	ts, err := streams.QueryTimestampedKeyValueStore[string, int64](a, "counts-store")
	must(t, err)
	it, err := ts.Range("a", "z")
	must(t, err)
	for it.Next() {
		if it.Value().Value != want[it.Key()] || it.Value().Timestamp.IsZero() {
			t.Fatalf("%q: %+v", it.Key(), it.Value())
		}
	}
	must(t, it.Err())

	// After Close the store is no longer available.
	must(t, b.Close())
	if _, _, err := stores["host-b:7002"].Get("alpha"); !errors.Is(err, streams.ErrInvalidStateStore) {
		t.Fatalf("Get after Close: %v", err)
	}
	// a takes every task back; its store then answers every key.
	waitFor(t, "a to own every task", split(tasks, a))
	waitFor(t, "a running", running(a))
	for word, n := range want {
		got, ok, err := stores["host-a:7001"].Get(word)
		if err != nil || !ok || got != n {
			t.Fatalf("%q after b left: %d %v %v", word, got, ok, err)
		}
		md, err := streams.QueryMetadataForKey(a, "counts-store", word, serde.String())
		if err != nil || md.Active.String() != "host-a:7001" {
			t.Fatalf("%q metadata after b left: %+v %v", word, md, err)
		}
	}
}

func TestApplicationServerValidation(t *testing.T) {
	topo := punctuationTopology(t, func() *punctuator { return &punctuator{interval: 1e9} })
	for _, bad := range []string{"nohost", ":80", "h:notaport", "h:70000"} {
		if _, err := streams.New(topo, streams.ApplicationID("x"), streams.BootstrapServers("x:1"), streams.StateDir(t.TempDir()), streams.ApplicationServer(bad)); err == nil {
			t.Fatalf("application.server %q accepted", bad)
		}
	}
	if _, err := streams.New(topo, streams.ApplicationID("x"), streams.BootstrapServers("x:1"), streams.StateDir(t.TempDir()), streams.NumStandbyReplicas(-1)); err == nil {
		t.Fatal("negative num.standby.replicas accepted")
	}
}
