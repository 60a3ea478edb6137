package streams_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streaming/gregor/streams"
	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

func produceKV(t *testing.T, addr, topic string, kvs ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	must(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := 0; i+1 < len(kvs); i += 2 {
		recs = append(recs, &kgo.Record{Key: []byte(kvs[i]), Value: []byte(kvs[i+1])})
	}
	must(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

// TestJoinsWithTablesOnBroker runs a stream-table join, a foreign-key
// join and a join with a global table against a broker: the global table
// is restored before processing starts and kept up to date by the global
// thread; a second start restores it again from its checkpoint.
func TestJoinsWithTablesOnBroker(t *testing.T) {
	c := startBroker(t)
	addr := c.Addr()
	createTopic(t, addr, "clicks", 2)
	createTopic(t, addr, "users", 2)
	createTopic(t, addr, "regions", 3)
	createTopic(t, addr, "region-names", 3)
	produceKV(t, addr, "region-names", "eu", "Old World", "us", "New World")
	produceKV(t, addr, "regions", "eu", "Europe", "us", "Americas", "ap", "Asia")
	produceKV(t, addr, "users", "alice", "eu", "bob", "us")

	b := streams.NewBuilder()
	clicks := streams.Stream(b, "clicks", serde.String(), serde.String())
	users := streams.Table(b, "users", serde.String(), serde.String())
	users.ToStream().To("users-seen")
	// A foreign-key join across tables of 2 and 3 partitions.
	names := streams.Table(b, "region-names", serde.String(), serde.String())
	streams.TableForeignKeyJoin(users, names, func(_ string, region string) string { return region },
		func(_ string, region, name string) string { return region + "@" + name }).
		ToStream().To("user-regions")
	regions := streams.GlobalTable(b, "regions", serde.String(), serde.String())
	withRegion := streams.StreamTableJoin(clicks, users, func(_ string, page, region string) string { return region + "|" + page })
	streams.StreamGlobalTableLeftJoin(withRegion, regions,
		func(_ string, v string) string { return v[:2] },
		func(user string, v string, region *string) string {
			return v[3:] + " by " + user + " in " + str(region)
		}).
		To("out", streams.WithValueSerde(serde.String()))
	topo, err := b.Build()
	must(t, err)

	// A global table whose topic does not exist stops Start.
	nb := streams.NewBuilder()
	missing := streams.GlobalTable(nb, "no-such-topic", serde.String(), serde.String())
	streams.StreamGlobalTableJoin(streams.Stream(nb, "clicks", serde.String(), serde.String()), missing,
		func(k, _ string) string { return k }, func(_ string, v, r string) string { return v + r }).To("nowhere")
	ntopo, err := nb.Build()
	must(t, err)
	napp, err := streams.New(ntopo, streams.ApplicationID("missing"), streams.BootstrapServers(addr),
		streams.StateDir(t.TempDir()), streams.Logger(quiet))
	must(t, err)
	if err := napp.Start(); !errors.Is(err, streams.ErrMissingSourceTopic) {
		t.Fatalf("start with a missing global topic: %v", err)
	}

	dir := t.TempDir()
	start := func() *streams.App {
		app, err := streams.New(topo,
			streams.ApplicationID("joins"),
			streams.BootstrapServers(addr),
			streams.StateDir(dir),
			streams.CommitInterval(100*time.Millisecond),
			streams.Logger(quiet),
			streams.ClientOpts(kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(200*time.Millisecond)))
		must(t, err)
		must(t, app.Start())
		return app
	}
	app := start()
	waitFor(t, "running", running(app))

	out, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("out", "users-seen", "user-regions"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err)
	defer out.Close()
	seen := map[string]bool{}
	// read polls until want is among the outputs.
	read := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !seen[want] {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the output; got %v", want, seen)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			fs := out.PollFetches(ctx)
			cancel()
			fs.EachRecord(func(r *kgo.Record) { seen[r.Topic+":"+string(r.Key)+"="+string(r.Value)] = true })
		}
	}
	// The table has both users before any click is produced.
	read("users-seen:alice=eu")
	read("users-seen:bob=us")
	produceKV(t, addr, "clicks", "alice", "home", "bob", "cart", "carol", "nobody-knows-carol")
	read("out:alice=home by alice in Europe")
	read("out:bob=cart by bob in Americas")
	read("user-regions:alice=eu@Old World")
	read("user-regions:bob=us@New World")
	produceKV(t, addr, "users", "bob", "eu") // bob moves: his row follows
	read("user-regions:bob=eu@Old World")

	// A region changes while the app runs: the global thread applies
	// it, and later clicks see it.
	produceKV(t, addr, "regions", "eu", "EU")
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; !seen["out:alice=again by alice in EU"]; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the global table never saw the update; got %v", seen)
		}
		produceKV(t, addr, "clicks", "alice", "again")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := out.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { seen[r.Topic+":"+string(r.Key)+"="+string(r.Value)] = true })
	}
	for k := range seen {
		if strings.HasPrefix(k, "out:carol=") {
			t.Fatalf("carol has no user row but joined: %s", k)
		}
	}
	must(t, app.Close())

	// Restarted on the same state dir, the global store resumes from its
	// checkpoint and still holds every region.
	app = start()
	defer app.Close()
	waitFor(t, "running again", running(app))
	produceKV(t, addr, "clicks", "bob", "checkout")
	read("out:bob=checkout by bob in EU") // bob moved to eu, renamed EU
}
