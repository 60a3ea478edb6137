package badinput

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// env is an in-process broker with a franz-go admin client, which checks
// the broker's state independently of the raw connections under test.
type env struct {
	t   *testing.T
	c   *kafkatest.Cluster
	adm *kadm.Client
}

func newEnv(t *testing.T, opts ...kafkatest.Opt) *env {
	t.Helper()
	c := kafkatest.Start(t, opts...)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &env{t: t, c: c, adm: kadm.NewClient(cl)}
}

// sub returns e for use in the subtest t (failures must be reported on
// the test whose goroutine runs).
func (e *env) sub(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// createTopic creates a topic and returns its id.
func (e *env) createTopic(name string, partitions int32, configs map[string]*string) [16]byte {
	e.t.Helper()
	resp, err := e.adm.CreateTopic(e.ctx(), partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		e.t.Fatalf("create topic %s: %v", name, err)
	}
	return resp.ID
}

// endOffsets returns ListOffsets latest of every partition of topic.
func (e *env) endOffsets(topic string) map[int32]int64 {
	e.t.Helper()
	listed, err := e.adm.ListEndOffsets(e.ctx(), topic)
	if err != nil {
		e.t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	for _, ps := range listed {
		for p, o := range ps {
			if o.Err != nil {
				e.t.Fatalf("list end offset of %s-%d: %v", topic, p, o.Err)
			}
			out[p] = o.Offset
		}
	}
	if len(out) == 0 {
		e.t.Fatalf("list end offsets of %s: no partitions", topic)
	}
	return out
}

// expectEmpty asserts that nothing was ever appended to topic.
func (e *env) expectEmpty(topic string) {
	e.t.Helper()
	for p, o := range e.endOffsets(topic) {
		if o != 0 {
			e.t.Fatalf("%s-%d: log end offset %d, want 0 (a bad request was appended)", topic, p, o)
		}
	}
}

// withWitness runs bad with a connection of its own while a witness
// connection, opened and served before it, stays open; afterwards the
// witness and a new connection must both still be served.
func (e *env) withWitness(bad func(c *conn)) {
	e.t.Helper()
	w := dial(e.t, e.c.Addr(), "witness")
	defer w.Close()
	checkServing(e.t, w)
	c := dial(e.t, e.c.Addr(), "bad")
	bad(c)
	c.Close()
	checkServing(e.t, w)
	fresh := dial(e.t, e.c.Addr(), "fresh")
	defer fresh.Close()
	checkServing(e.t, fresh)
}
