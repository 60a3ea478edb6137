package streams_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/kafkatest"
	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/examples/wordcount"
	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Integration tests against an in-process broker (kafkatest): WordCount
// end to end, two instances sharing the work, instances closed and
// killed, and state restored from the changelog into a new state dir.

func startBroker(t *testing.T) *kafkatest.Cluster {
	t.Helper()
	return kafkatest.Start(t,
		kafkatest.Config("group.initial.rebalance.delay.ms", "0"),
		kafkatest.Config("group.min.session.timeout.ms", "1000"),
		kafkatest.Config("num.partitions", "1"),
		// A killed instance's open transaction is aborted soon after
		// its timeout, not up to 10 s later.
		kafkatest.Config("transaction.abort.timed.out.transaction.cleanup.interval.ms", "500"))
}

func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	must(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	must(t, err)
}

// lines returns n lines over a small vocabulary, and the word counts
// they add up to.
func lines(from, n int) ([]string, map[string]int64) {
	vocab := []string{"alpha", "Bravo", "charlie", "delta", "ECHO", "foxtrot", "golf", "hotel", "india", "juliett", "kilo"}
	counts := map[string]int64{}
	var out []string
	for i := from; i < from+n; i++ {
		line := fmt.Sprintf("%s %s, %s!", vocab[i%len(vocab)], vocab[(i*7+3)%len(vocab)], vocab[(i*i)%len(vocab)])
		out = append(out, line)
		for _, w := range wordcount.Words(line) {
			counts[w]++
		}
	}
	return out, counts
}

func addCounts(a, b map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

func produce(t *testing.T, addr, topic string, values []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	must(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Value: []byte(v)}) // null keys, as the console producer writes
	}
	must(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

// latestCounts reads topic from the start until check accepts the latest
// count of every word and then nothing more arrives for a while (so that
// a later over-count would show), or fails t after a timeout.
func latestCounts(t *testing.T, addr, topic string, committed bool, check func(map[string]int64) bool) map[string]int64 {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	must(t, err)
	defer cl.Close()
	got := map[string]int64{}
	deadline := time.Now().Add(45 * time.Second)
	var quietSince time.Time
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() > 0 || quietSince.IsZero() {
			quietSince = time.Now()
		}
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != 8 {
				t.Errorf("count of %q is %d bytes, want a long", r.Key, len(r.Value))
				return
			}
			got[string(r.Key)] = int64(uint64(r.Value[0])<<56 | uint64(r.Value[1])<<48 | uint64(r.Value[2])<<40 | uint64(r.Value[3])<<32 |
				uint64(r.Value[4])<<24 | uint64(r.Value[5])<<16 | uint64(r.Value[6])<<8 | uint64(r.Value[7]))
		})
		if check(got) && time.Since(quietSince) > 500*time.Millisecond {
			return got
		}
	}
	t.Fatalf("counts in %s never reached what was expected; last seen %v", topic, got)
	return nil
}

// atLeast accepts counts that reached want for every word.
func atLeast(want map[string]int64) func(map[string]int64) bool {
	return func(got map[string]int64) bool {
		for w, n := range want {
			if got[w] < n {
				return false
			}
		}
		return true
	}
}

func assertExact(t *testing.T, got, want map[string]int64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts\n got  %v\n want %v", got, want)
	}
}

func newApp(t *testing.T, addr, appID, dir string, opts ...streams.Opt) *streams.App {
	t.Helper()
	topo, err := wordcount.Topology("lines", "counts")
	must(t, err)
	base := []streams.Opt{
		streams.ApplicationID(appID),
		streams.BootstrapServers(addr),
		streams.StateDir(dir),
		streams.CommitInterval(100 * time.Millisecond),
		streams.Logger(quiet),
		streams.ClientOpts(kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(200*time.Millisecond)),
	}
	app, err := streams.New(topo, append(base, opts...)...)
	must(t, err)
	t.Cleanup(func() {
		if app.State() == streams.StatePendingShutdown {
			return // the test closed it already and did not wait
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		app.Shutdown(ctx)
	})
	return app
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func running(apps ...*streams.App) func() bool {
	return func() bool {
		for _, a := range apps {
			if a.State() != streams.StateRunning {
				return false
			}
		}
		return true
	}
}

// split reports whether the apps' tasks are disjoint and cover n tasks.
func split(n int, apps ...*streams.App) func() bool {
	return func() bool {
		seen := map[streams.TaskID]bool{}
		for _, a := range apps {
			if len(a.Tasks()) == 0 {
				return false
			}
			for _, id := range a.Tasks() {
				if seen[id] {
					return false
				}
				seen[id] = true
			}
		}
		return len(seen) == n
	}
}

func TestWordCountOnBroker(t *testing.T) {
	c := startBroker(t)
	createTopic(t, c.Addr(), "lines", 3)
	in, want := lines(0, 120)
	produce(t, c.Addr(), "lines", in)
	app := newApp(t, c.Addr(), "wc", t.TempDir())
	must(t, app.Start())
	got := latestCounts(t, c.Addr(), "counts", false, atLeast(want))
	assertExact(t, got, want)
	waitFor(t, "all 6 tasks", func() bool { return len(app.Tasks()) == 6 })
	must(t, app.Close())
	if app.State() != streams.StateNotRunning {
		t.Fatalf("state after Close: %v", app.State())
	}
	// The internal topics exist with the partition counts Kafka would
	// give them.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	must(t, err)
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), "wc-counts-store-repartition", "wc-counts-store-changelog")
	must(t, err)
	for _, name := range []string{"wc-counts-store-repartition", "wc-counts-store-changelog"} {
		if d, ok := td[name]; !ok || len(d.Partitions) != 3 {
			t.Fatalf("%s: %+v", name, td[name])
		}
	}
	cfgs, err := kadm.NewClient(cl).DescribeTopicConfigs(context.Background(), "wc-counts-store-changelog")
	must(t, err)
	rc, err := cfgs.On("wc-counts-store-changelog", nil)
	must(t, err)
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.MaybeValue() != "compact" {
			t.Fatalf("changelog cleanup.policy = %q", c.MaybeValue())
		}
	}
}

func TestMissingSourceTopic(t *testing.T) {
	c := startBroker(t)
	app := newApp(t, c.Addr(), "nosrc", t.TempDir())
	if err := app.Start(); !errors.Is(err, streams.ErrMissingSourceTopic) {
		t.Fatalf("Start = %v, want ErrMissingSourceTopic", err)
	}
	if app.State() != streams.StateError {
		t.Fatalf("state %v", app.State())
	}
}

func TestRestoreFromChangelogIntoNewStateDir(t *testing.T) {
	c := startBroker(t)
	createTopic(t, c.Addr(), "lines", 2)
	first, want1 := lines(0, 60)
	produce(t, c.Addr(), "lines", first)
	app := newApp(t, c.Addr(), "restore", t.TempDir())
	must(t, app.Start())
	assertExact(t, latestCounts(t, c.Addr(), "counts", false, atLeast(want1)), want1)
	must(t, app.Close())

	// A new instance with an empty state dir must rebuild the counts
	// from the changelog, or the counts below would restart from zero.
	second, want2 := lines(60, 60)
	want := addCounts(want1, want2)
	dir := t.TempDir()
	app2 := newApp(t, c.Addr(), "restore", dir)
	must(t, app2.Start())
	produce(t, c.Addr(), "lines", second)
	assertExact(t, latestCounts(t, c.Addr(), "counts", false, atLeast(want)), want)
	must(t, app2.Close())
	// The clean close left a checkpoint for each task with state.
	entries, err := os.ReadDir(dir + "/restore")
	must(t, err)
	var checkpoints int
	for _, e := range entries {
		if _, err := os.Stat(dir + "/restore/" + e.Name() + "/.checkpoint"); err == nil {
			checkpoints++
		}
	}
	if checkpoints != 2 {
		t.Fatalf("%d task checkpoints, want 2 (entries %v)", checkpoints, entries)
	}

	// Restarting on the same state dir restores from the checkpoint.
	app3 := newApp(t, c.Addr(), "restore", dir)
	must(t, app3.Start())
	third, want3 := lines(120, 30)
	want = addCounts(want, want3)
	produce(t, c.Addr(), "lines", third)
	assertExact(t, latestCounts(t, c.Addr(), "counts", false, atLeast(want)), want)
}

// killSwitch is a dialer whose connections can all be cut at once, to
// kill an instance without any goodbye: no commit, no LeaveGroup.
type killSwitch struct {
	mu    sync.Mutex
	dead  bool
	conns []net.Conn
}

func (k *killSwitch) dial(ctx context.Context, network, host string) (net.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return nil, errors.New("killed")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		k.conns = append(k.conns, c)
	}
	return c, err
}

func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dead = true
	for _, c := range k.conns {
		c.Close()
	}
}

func killable(k *killSwitch) streams.Opt {
	return streams.ClientOpts(kgo.Dialer(k.dial), kgo.RetryTimeout(time.Second), kgo.RecordDeliveryTimeout(2*time.Second), kgo.RebalanceTimeout(3*time.Second), kgo.RequestRetries(1))
}

func TestTwoInstancesAtLeastOnce(t *testing.T) {
	twoInstances(t, streams.AtLeastOnce)
}

func TestTwoInstancesExactlyOnce(t *testing.T) {
	twoInstances(t, streams.ExactlyOnceV2)
}

// twoInstances runs WordCount on one instance, adds a second (the tasks
// split), closes the second (its tasks move back), adds a third and
// kills it. Counts stay exact through the clean moves; after the kill
// they are never below the truth under at_least_once, and exact under
// exactly_once_v2.
func twoInstances(t *testing.T, g streams.Guarantee) {
	c := startBroker(t)
	if g == streams.ExactlyOnceV2 {
		requireTransactions(t, c.Addr())
	}
	createTopic(t, c.Addr(), "lines", 4)
	const tasks = 8 // 2 sub-topologies × 4 partitions
	eos := g == streams.ExactlyOnceV2
	opt := streams.ProcessingGuarantee(g)

	batch, want := lines(0, 80)
	produce(t, c.Addr(), "lines", batch)
	a := newApp(t, c.Addr(), "two", t.TempDir(), opt)
	must(t, a.Start())
	assertExact(t, latestCounts(t, c.Addr(), "counts", eos, atLeast(want)), want)

	b := newApp(t, c.Addr(), "two", t.TempDir(), opt)
	must(t, b.Start())
	waitFor(t, "the tasks to split between two instances", split(tasks, a, b))
	waitFor(t, "both instances running", running(a, b))
	batch, more := lines(80, 80)
	want = addCounts(want, more)
	produce(t, c.Addr(), "lines", batch)
	assertExact(t, latestCounts(t, c.Addr(), "counts", eos, atLeast(want)), want)

	// A clean close: b commits and leaves; a takes everything back.
	must(t, b.Close())
	waitFor(t, "a to own every task", split(tasks, a))
	batch, more = lines(160, 80)
	want = addCounts(want, more)
	produce(t, c.Addr(), "lines", batch)
	assertExact(t, latestCounts(t, c.Addr(), "counts", eos, atLeast(want)), want)

	// A kill: k vanishes mid-stream without committing or leaving. Its
	// long commit interval makes sure it dies with processed but
	// uncommitted work (under exactly_once_v2: an open transaction,
	// which its short transaction timeout lets the broker abort soon).
	ks := &killSwitch{}
	k := newApp(t, c.Addr(), "two", t.TempDir(), opt, killable(ks),
		streams.CommitInterval(3*time.Second), streams.TransactionTimeout(3*time.Second))
	must(t, k.Start())
	waitFor(t, "the tasks to split again", split(tasks, a, k))
	waitFor(t, "both instances running", running(a, k))
	batch, more = lines(240, 200)
	want = addCounts(want, more)
	before := changelogEnd(t, c.Addr(), "two-counts-store-changelog")
	produce(t, c.Addr(), "lines", batch)
	// Kill k once the counts have moved (k owns some count tasks): it
	// then dies with state changes it never committed.
	waitFor(t, "counts to move", func() bool { return changelogEnd(t, c.Addr(), "two-counts-store-changelog") > before })
	ks.kill()
	waitFor(t, "a to own every task after the kill", split(tasks, a))
	waitFor(t, "a to restore the tasks", running(a))
	got := latestCounts(t, c.Addr(), "counts", eos, atLeast(want))
	if eos {
		assertExact(t, got, want)
	} else if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Logf("at_least_once after a kill: some records counted twice, as allowed: %v (truth %v)", got, want)
	}
	for w, n := range want {
		if got[w] < n {
			t.Fatalf("%s under-counted: %d < %d", w, got[w], n)
		}
	}
	// Closing the dead instance stops it, though its clients take a
	// while to give up on the network: do not wait for them.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := k.Shutdown(ctx); err == nil && !slices.Contains([]streams.State{streams.StateError, streams.StateNotRunning}, k.State()) {
		t.Fatalf("killed instance state %v", k.State())
	}
}

// changelogEnd returns the sum of the end offsets of topic.
func changelogEnd(t *testing.T, addr, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	must(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	must(t, err)
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

// requireTransactions skips the test when the broker cannot run a
// transaction yet.
func requireTransactions(t *testing.T, addr string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("probe"), kgo.DefaultProduceTopic("txn-probe"),
		kgo.AllowAutoTopicCreation(), kgo.RetryTimeout(10*time.Second))
	must(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = cl.BeginTransaction()
	if err == nil {
		err = cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	if err == nil {
		err = cl.Flush(ctx)
	}
	if err == nil {
		err = cl.EndTransaction(ctx, kgo.TryCommit)
	}
	if err != nil {
		t.Skipf("the broker does not run transactions yet (%v); exactly_once_v2 is untested against it", err)
	}
}

// TestPartitionerOnBroker checks that a sink's StreamPartitioner decides
// the partition, given the topic's real partition count, and that
// records without one follow Kafka's default partitioner.
func TestPartitionerOnBroker(t *testing.T) {
	c := startBroker(t)
	createTopic(t, c.Addr(), "pin", 1)
	createTopic(t, c.Addr(), "pout", 3)
	createTopic(t, c.Addr(), "pdefault", 3)
	b := streams.NewBuilder()
	s := streams.Stream(b, "pin", serde.String(), serde.String())
	s.To("pout", streams.WithPartitioner(func(topic, k, _ string, n int) int {
		if topic != "pout" || n != 3 {
			return 0
		}
		return len(k) % n
	}))
	s.To("pdefault")
	topo, err := b.Build()
	must(t, err)
	var states []string
	var mu sync.Mutex
	app, err := streams.New(topo, streams.ApplicationID("parts"), streams.BootstrapServers(c.Addr()),
		streams.StateDir(t.TempDir()), streams.Logger(quiet),
		streams.OnStateChange(func(old, new streams.State) {
			mu.Lock()
			states = append(states, new.String())
			mu.Unlock()
		}))
	must(t, err)
	must(t, app.Start())
	defer app.Close()

	keys := []string{"a", "bb", "ccc", "dddd", "eeeee"}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.DefaultProduceTopic("pin"))
	must(t, err)
	defer pcl.Close()
	for _, k := range keys {
		must(t, pcl.ProduceSync(context.Background(), &kgo.Record{Key: []byte(k), Value: []byte("v")}).FirstErr())
	}
	// What Kafka's default partitioner (and so kgo's) picks for a key.
	def := kgo.StickyKeyPartitioner(nil).ForTopic("pdefault")
	ccl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ConsumeTopics("pout", "pdefault"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err)
	defer ccl.Close()
	seen := 0
	deadline := time.Now().Add(30 * time.Second)
	for seen < 2*len(keys) && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := ccl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			want := int32(len(r.Key) % 3)
			if r.Topic == "pdefault" {
				want = int32(def.Partition(r, 3))
			}
			if r.Partition != want {
				t.Errorf("%s: key %q in partition %d, want %d", r.Topic, r.Key, r.Partition, want)
			}
		})
	}
	if seen != 2*len(keys) {
		t.Fatalf("read %d records", seen)
	}
	must(t, app.Close())
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(states, "RUNNING") || states[len(states)-1] != "NOT_RUNNING" {
		t.Fatalf("state changes %v", states)
	}
}

func TestAppLifecycleErrors(t *testing.T) {
	topo, err := wordcount.Topology("lines", "counts")
	must(t, err)
	if _, err := streams.New(topo, streams.BootstrapServers("x:1")); err == nil {
		t.Fatal("New without application.id")
	}
	if _, err := streams.New(topo, streams.ApplicationID("x")); err == nil {
		t.Fatal("New without bootstrap.servers")
	}
	if _, err := streams.New(topo, streams.ApplicationID("x"), streams.BootstrapServers("x:1"), streams.ProcessingGuarantee("exactly_once")); err == nil {
		t.Fatal("New with an unknown guarantee")
	}
	c := startBroker(t)
	createTopic(t, c.Addr(), "lines", 1)
	app := newApp(t, c.Addr(), "life", t.TempDir())
	must(t, app.Start())
	if err := app.Start(); !errors.Is(err, streams.ErrAlreadyStarted) {
		t.Fatalf("second Start = %v", err)
	}
	must(t, app.Close())
	must(t, app.Close())
	if err := app.Start(); !errors.Is(err, streams.ErrClosed) {
		t.Fatalf("Start after Close = %v", err)
	}
	select {
	case <-app.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
}
