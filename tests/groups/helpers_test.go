// Package groups runs real Kafka clients (franz-go kgo consumer groups,
// kadm, raw kmsg requests, the console consumer) against an in-process
// Gregor broker to check consumer groups and committed offsets as Kafka
// serves them: the classic rebalance protocol with eager and cooperative
// assignors, static members, group administration, offsets that survive a
// restart, and the wire details of each group API version.
package groups

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

const testTimeout = 60 * time.Second

type env struct {
	t   *testing.T
	ctx context.Context
	c   *kafkatest.Cluster
	cl  *kgo.Client
	adm *kadm.Client
}

// start starts a broker with a small __consumer_offsets (fewer logs to
// open) and no initial rebalance delay unless opts say otherwise.
func start(t *testing.T, opts ...kafkatest.Opt) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	base := []kafkatest.Opt{
		kafkatest.Config("offsets.topic.num.partitions", "4"),
		kafkatest.Config("group.initial.rebalance.delay.ms", "0"),
	}
	e := &env{t: t, ctx: ctx, c: kafkatest.Start(t, append(base, opts...)...)}
	e.cl = e.client()
	e.adm = kadm.NewClient(e.cl)
	return e
}

// restart restarts the broker and replaces the admin client (whose
// connections the restart cut).
func (e *env) restart() {
	e.t.Helper()
	if err := e.c.Restart(); err != nil {
		e.t.Fatal(err)
	}
	e.cl.Close()
	e.cl = e.client()
	e.adm = kadm.NewClient(e.cl)
}

func (e *env) client(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(e.c.Addr()),
		kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MetadataMinAge(50 * time.Millisecond),
		kgo.FetchMaxWait(200 * time.Millisecond),
		// A restart cuts connections mid-request; that is not the
		// misconfiguration a first EOF usually means.
		kgo.AlwaysRetryEOF(),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

func (e *env) createTopic(name string, partitions int32) {
	e.t.Helper()
	resp, err := e.adm.CreateTopic(e.ctx, partitions, 1, nil, name)
	if err != nil || resp.Err != nil {
		e.t.Fatalf("create topic %s: %v %v", name, err, resp.Err)
	}
}

// produce writes n records to each partition of topic, values
// "<partition>-<i>".
func (e *env) produce(topic string, partitions int32, n int) {
	e.t.Helper()
	e.produceFrom(topic, partitions, 0, n)
}

// produceFrom is produce with values numbered from "from".
func (e *env) produceFrom(topic string, partitions int32, from, n int) {
	e.t.Helper()
	var recs []*kgo.Record
	for p := range partitions {
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, i)})
		}
	}
	if err := e.cl.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
		e.t.Fatalf("produce: %v", err)
	}
}

// raw sends req, at the version it is set to, on its own connection
// and decodes the response.
func (e *env) raw(req kmsg.Request) kmsg.Response {
	e.t.Helper()
	nc, err := net.DialTimeout("tcp", e.c.Addr(), 5*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	b := kmsg.NewRequestFormatter(kmsg.FormatterClientID("groups-raw")).AppendRequest(nil, req, 1)
	if _, err := nc.Write(b); err != nil {
		e.t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		e.t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		e.t.Fatal(err)
	}
	body = body[4:] // correlation id
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() {
		body = body[1:] // empty response header tags
	}
	if err := resp.ReadFrom(body); err != nil {
		e.t.Fatalf("decode %s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

// member is one consumer of a group, tracking what it was assigned and
// what it consumed.
type member struct {
	name string
	cl   *kgo.Client

	mu       sync.Mutex
	assigned map[int32]bool
	seen     map[string]bool
}

func (e *env) member(name, group, topic string, opts ...kgo.Opt) *member {
	m := &member{name: name, assigned: map[int32]bool{}, seen: map[string]bool{}}
	base := []kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ClientID(name),
		kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.SessionTimeout(6 * time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			for _, p := range a[topic] {
				m.assigned[p] = true
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			cl.CommitMarkedOffsets(ctx)
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
			m.mu.Unlock()
		}),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(200 * time.Millisecond),
	}
	m.cl = e.client(append(base, opts...)...)
	return m
}

// poll consumes what is available for up to d, marking it for commit.
func (m *member) poll(ctx context.Context, d time.Duration) {
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	fs := m.cl.PollFetches(pctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	fs.EachRecord(func(r *kgo.Record) {
		m.seen[string(r.Value)] = true
		m.cl.MarkCommitRecords(r)
	})
}

func (m *member) assignment() map[int32]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[int32]bool, len(m.assigned))
	for p := range m.assigned {
		out[p] = true
	}
	return out
}

// waitFor polls every member until cond holds, or fails the test.
func (e *env) waitFor(what string, members []*member, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			for _, m := range members {
				e.t.Logf("%s assigned %v", m.name, m.assignment())
			}
			e.t.Fatalf("timed out waiting for %s", what)
		}
		var wg sync.WaitGroup
		for _, m := range members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.poll(e.ctx, 100*time.Millisecond)
			}()
		}
		wg.Wait()
	}
}

// splitExactly reports whether the members' assignments cover partitions
// 0..n-1 exactly once, every member having at least one.
func splitExactly(members []*member, n int32) bool {
	owner := map[int32]int{}
	for _, m := range members {
		a := m.assignment()
		if len(a) == 0 {
			return false
		}
		for p := range a {
			owner[p]++
		}
	}
	if len(owner) != int(n) {
		return false
	}
	for _, c := range owner {
		if c != 1 {
			return false
		}
	}
	return true
}
