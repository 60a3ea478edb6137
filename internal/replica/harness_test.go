package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/record"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// This file is the test harness: a fake clock, in-process nodes (each a
// storage.Manager and a Manager), the leader side of the inter-broker
// requests a fetcher sends (what internal/server's handlers will do), and
// a fake controller that commits AlterPartition requests.

// fakeClock is a manual clock whose timers fire when it is advanced.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.UnixMilli(1_700_000_000_000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves the clock by d, firing due timers in time order (outside
// the clock's lock).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var due *fakeTimer
		for i, t := range c.timers {
			if t.stopped {
				continue
			}
			if !t.at.After(end) {
				due = t
				c.timers = append(c.timers[:i:i], c.timers[i+1:]...)
			}
			break
		}
		if due == nil {
			c.now = end
			c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return t.stopped })
			c.mu.Unlock()
			return
		}
		due.stopped = true
		if due.at.After(c.now) {
			c.now = due.at
		}
		c.mu.Unlock()
		due.f()
	}
}

// testTopic and testTopicID name the partition most tests replicate.
const testTopic = "orders"

var testTopicID = metadata.TopicID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// cluster is a set of in-process nodes sharing a clock and a controller.
type cluster struct {
	t      testing.TB
	clock  *fakeClock
	nodes  map[int32]*node
	minISR int32
	// fetchVersion is the Fetch version the followers send.
	fetchVersion int16
	// manual: fetchers have no goroutine; tests call doWork.
	manual bool
	// realClock: nodes use time.Now and time.AfterFunc.
	realClock bool
	// longPoll: the leader side waits up to max_wait for data.
	longPoll bool
	// dialer replaces the in-memory dial (c.dial) when set.
	dialer DialFunc

	mu struct {
		sync.Mutex
		alters []*AlterPartitionRequest // proposed, not yet answered
		// down: nodes that refuse connections.
		down map[int32]bool
	}
}

type node struct {
	id   int32
	logs *storage.Manager
	m    *Manager
	// epoch is the node's broker epoch.
	epoch int64
}

// newCluster returns a cluster with manual fetchers and a fake clock;
// set options, then start nodes.
func newCluster(t testing.TB) *cluster {
	c := &cluster{t: t, clock: newFakeClock(), nodes: map[int32]*node{}, minISR: 1, fetchVersion: 17, manual: true}
	c.mu.down = map[int32]bool{}
	return c
}

// start opens the nodes. Options are set on c before.
func (c *cluster) start(ids ...int32) {
	for _, id := range ids {
		c.nodes[id] = c.openNode(id)
	}
}

func (c *cluster) openNode(id int32) *node {
	t := c.t
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("node-%d", id))
	if err := storage.FormatLogDir(dir, "test-cluster", id); err != nil {
		t.Fatal(err)
	}
	now, after := c.clock.Now, c.clock.AfterFunc
	if c.realClock {
		now, after = time.Now, nil
	}
	logs, err := storage.OpenManager([]string{dir}, storage.ManagerOptions{Logger: slog.New(slog.DiscardHandler), Now: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{id: id, logs: logs, epoch: 100 + int64(id)}
	cfg := Config{
		NodeID:      id,
		TopicConfig: func(*metadata.Image, string) TopicConfig { return c.topicConfig() },
		Logger:      slog.New(slog.DiscardHandler),
		Now:         now,
		AfterFunc:   after,
		BrokerEpoch: func() int64 { return n.epoch },
		Brokers: func(b int32) (BrokerInfo, bool) {
			o, ok := c.nodes[b]
			if !ok {
				return BrokerInfo{}, false
			}
			return BrokerInfo{Epoch: o.epoch}, true
		},
		AlterPartition: c.alterPartition,
		Fetch: FetcherConfig{
			Dial:         c.dial,
			FetchVersion: c.fetchVersion,
			MaxWaitMs:    200,
			BackoffMs:    20,
		},
	}
	if c.dialer != nil {
		cfg.Fetch.Dial = c.dialer
	}
	n.m = New(cfg, logs)
	n.m.manualFetch = c.manual
	t.Cleanup(func() {
		n.m.Close()
		_ = logs.Close()
	})
	return n
}

func (c *cluster) topicConfig() TopicConfig {
	return TopicConfig{
		Log:                  storage.DefaultConfig(),
		MaxMessageBytes:      1 << 20,
		TimestampBeforeMaxMs: math.MaxInt64,
		TimestampAfterMaxMs:  math.MaxInt64,
		MinInsyncReplicas:    c.minISR,
		CompressionType:      "producer",
	}
}

func (c *cluster) alterPartition(req *AlterPartitionRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.alters = append(c.mu.alters, req)
}

// takeAlters returns and forgets the AlterPartition requests proposed.
func (c *cluster) takeAlters() []*AlterPartitionRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.mu.alters
	c.mu.alters = nil
	return out
}

// reg is the partition registration tests apply with c.apply.
func reg(leader, leaderEpoch, partitionEpoch int32, replicas, isr []int32) metadata.Partition {
	return metadata.Partition{Leader: leader, LeaderEpoch: leaderEpoch, PartitionEpoch: partitionEpoch, Replicas: replicas, ISR: isr}
}

// image builds an image holding testTopic with one partition, r.
func image(t testing.TB, r metadata.Partition) *metadata.Image {
	t.Helper()
	im, err := metadata.Empty.Apply([]metadata.Record{
		{Type: metadata.TypeTopic, TopicName: testTopic, TopicID: testTopicID},
		{Type: metadata.TypePartition, TopicID: testTopicID, Partition: 0, Replicas: r.Replicas, ISR: r.ISR,
			Leader: r.Leader, LeaderEpoch: r.LeaderEpoch, PartitionEpoch: r.PartitionEpoch},
	})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// apply applies the registration r on the given nodes (all when none).
func (c *cluster) apply(r metadata.Partition, ids ...int32) {
	c.t.Helper()
	if len(ids) == 0 {
		for id := range c.nodes {
			ids = append(ids, id)
		}
	}
	im := image(c.t, r)
	for _, id := range ids {
		if err := c.nodes[id].m.ApplyImage(im); err != nil {
			c.t.Fatalf("node %d: ApplyImage: %v", id, err)
		}
	}
}

// commit plays the controller for an AlterPartition request: the ISR
// change is committed at the next partition epoch; leaderNode applies the
// answer, and the registration is returned for the test to apply as
// metadata.
func (c *cluster) commit(req *AlterPartitionRequest, leaderNode int32, replicas []int32) metadata.Partition {
	c.t.Helper()
	isr := req.ISR()
	c.nodes[leaderNode].m.HandleAlterPartitionResponse(req, AlterPartitionResult{LeaderEpoch: req.LeaderEpoch, PartitionEpoch: req.PartitionEpoch + 1, ISR: isr})
	return reg(req.LeaderID, req.LeaderEpoch, req.PartitionEpoch+1, replicas, isr)
}

func (c *cluster) partition(id int32) *Partition {
	c.t.Helper()
	p, err := c.nodes[id].m.Partition(testTopic, 0)
	if err != nil {
		c.t.Fatalf("node %d: %v", id, err)
	}
	return p
}

// fetchOnce runs one fetcher round on follower id (whose fetcher fetches
// from leader).
func (c *cluster) fetchOnce(id, leader int32) {
	c.t.Helper()
	f := c.nodes[id].m.fetchers.fetcher(leader)
	if f == nil {
		c.t.Fatalf("node %d has no fetcher for %d", id, leader)
	}
	if _, err := f.doWork(context.Background()); err != nil {
		c.t.Fatalf("node %d fetch from %d: %v", id, leader, err)
	}
}

func (c *cluster) setDown(id int32, down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.down[id] = down
}

// dial connects to a node in process: requests and responses go through
// their wire encoding (kmsg AppendTo/ReadFrom), not just Go values.
func (c *cluster) dial(_ context.Context, id int32) (Conn, error) {
	c.mu.Lock()
	down := c.mu.down[id]
	c.mu.Unlock()
	n, ok := c.nodes[id]
	if !ok || down {
		return nil, fmt.Errorf("node %d unreachable", id)
	}
	return &memConn{c: c, n: n}, nil
}

type memConn struct {
	c *cluster
	n *node
}

func (mc *memConn) Close() error { return nil }

func (mc *memConn) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	mc.c.mu.Lock()
	down := mc.c.mu.down[mc.n.id]
	mc.c.mu.Unlock()
	if down {
		return nil, errors.New("connection reset")
	}
	sreq := kmsg.RequestForKey(req.Key())
	sreq.SetVersion(req.GetVersion())
	if err := sreq.ReadFrom(req.AppendTo(nil)); err != nil {
		return nil, fmt.Errorf("server decode: %w", err)
	}
	sresp := serve(ctx, mc.n.m, sreq, mc.c.longPoll)
	cresp := req.ResponseKind()
	if err := cresp.ReadFrom(sresp.AppendTo(nil)); err != nil {
		return nil, fmt.Errorf("client decode: %w", err)
	}
	return cresp, nil
}

// serve answers the inter-broker requests of a fetcher as the server's
// handlers will: Fetch from a replica, OffsetForLeaderEpoch and
// ListOffsets with a replica id.
func serve(ctx context.Context, m *Manager, req kmsg.Request, longPoll bool) kmsg.Response {
	switch req := req.(type) {
	case *kmsg.FetchRequest:
		return serveFetch(ctx, m, req, longPoll)
	case *kmsg.OffsetForLeaderEpochRequest:
		resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetForLeaderEpochResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				sp.Partition, sp.LeaderEpoch, sp.EndOffset = rp.Partition, -1, -1
				p, err := m.Partition(rt.Topic, rp.Partition)
				if err == nil {
					sp.LeaderEpoch, sp.EndOffset, err = p.EndOffsetForEpoch(rp.LeaderEpoch, rp.CurrentLeaderEpoch)
				}
				sp.ErrorCode = apierror.Code(err)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.ListOffsetsRequest:
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		isolation := req.IsolationLevel
		if req.ReplicaID >= 0 {
			isolation = IsolationLogEnd
		}
		for _, rt := range req.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				p, err := m.Partition(rt.Topic, rp.Partition)
				if err == nil {
					sp.Offset, sp.Timestamp, sp.LeaderEpoch, err = p.ListOffset(rp.Timestamp, isolation, rp.CurrentLeaderEpoch)
				}
				sp.ErrorCode = apierror.Code(err)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	panic(fmt.Sprintf("unexpected request %T", req))
}

func serveFetch(ctx context.Context, m *Manager, req *kmsg.FetchRequest, longPoll bool) *kmsg.FetchResponse {
	replicaID, brokerEpoch := req.ReplicaID, int64(-1)
	if req.Version >= 15 {
		replicaID, brokerEpoch = req.ReplicaState.ID, req.ReplicaState.Epoch
	}
	type part struct {
		p   *Partition
		err error
		rp  kmsg.FetchRequestTopicPartition
	}
	var parts [][]part
	var watch []*Partition
	for _, rt := range req.Topics {
		var ps []part
		for _, rp := range rt.Partitions {
			name := rt.Topic
			if req.Version >= 13 {
				name = ""
				for _, p := range m.Partitions() {
					if p.TopicID == rt.TopicID {
						name = p.Topic
					}
				}
			}
			p, err := m.Partition(name, rp.Partition)
			ps = append(ps, part{p: p, err: err, rp: rp})
			if p != nil {
				watch = append(watch, p)
			}
		}
		parts = append(parts, ps)
	}
	read := func(skipUpdate bool) (*kmsg.FetchResponse, int) {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		total := 0
		for i, rt := range req.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, pt := range parts[i] {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = pt.rp.Partition
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				err := pt.err
				if err == nil {
					var r FollowerReadResult
					r, err = pt.p.ReadForFollower(FollowerFetch{
						ReplicaID: replicaID, BrokerEpoch: brokerEpoch,
						CurrentLeaderEpoch: pt.rp.CurrentLeaderEpoch, FetchOffset: pt.rp.FetchOffset,
						LastFetchedEpoch: pt.rp.LastFetchedEpoch, LogStartOffset: pt.rp.LogStartOffset,
						MaxBytes: int(pt.rp.PartitionMaxBytes), MinOneBatch: total == 0,
						SkipStateUpdate: skipUpdate,
					})
					if err == nil {
						sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = r.HighWatermark, r.HighWatermark, r.LogStartOffset
						sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = r.DivergingEpoch, r.DivergingEndOffset
						sp.RecordBatches = r.Data
						total += len(r.Data)
						if r.DivergingEpoch >= 0 {
							total += int(req.MinBytes) // answer at once
						}
					}
				}
				sp.ErrorCode = apierror.Code(err)
				if err != nil {
					total += int(req.MinBytes)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, total
	}
	resp, total := read(false)
	if !longPoll || total >= int(req.MinBytes) || req.MaxWaitMillis <= 0 || len(watch) == 0 {
		return resp
	}
	w := m.Watch(watch)
	defer w.Close()
	t := time.NewTimer(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	defer t.Stop()
	for {
		if resp, total = read(true); total >= int(req.MinBytes) {
			return resp
		}
		select {
		case <-w.C:
		case <-t.C:
			return resp
		case <-ctx.Done():
			return resp
		}
	}
}

// batch builds a batch of n records with value v, as a producer would.
func batch(t testing.TB, n int, v string) []byte {
	t.Helper()
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(v)}
	}
	b, err := record.Build(record.BuildOptions{
		PartitionLeaderEpoch: -1, BaseTimestamp: 1_700_000_000_000,
		ProducerID: record.NoProducerID, ProducerEpoch: record.NoProducerEpoch, BaseSequence: record.NoSequence,
	}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// produce appends a batch of n records on node id with acks.
func (c *cluster) produce(id int32, n int, v string, acks int16) (AppendResult, error) {
	return c.partition(id).Append(batch(c.t, n, v), acks)
}

// logBytes returns the whole log of node id's partition.
func (c *cluster) logBytes(id int32) []byte {
	c.t.Helper()
	l := c.partition(id).Log()
	var out []byte
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		info, err := l.Read(off, 1<<20, math.MaxInt64, true)
		if err != nil {
			c.t.Fatalf("node %d read at %d: %v", id, off, err)
		}
		if len(info.Data) == 0 {
			break
		}
		out = append(out, info.Data...)
		last := int64(-1)
		if err := record.Batches(info.Data, func(h record.Header, _ []byte) error { last = h.LastOffset(); return nil }); err != nil {
			c.t.Fatal(err)
		}
		off = last + 1
	}
	return out
}

// batchesOf lists (base offset, epoch, value of first record) of a log.
func batchesOf(t testing.TB, b []byte) []string {
	t.Helper()
	var out []string
	err := record.Batches(b, func(h record.Header, batch []byte) error {
		v := ""
		if err := record.Records(batch, func(r record.Record) error {
			if v == "" {
				v = string(r.Value)
			}
			return nil
		}); err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%d@e%d:%s", h.BaseOffset, h.PartitionLeaderEpoch, v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// code returns the Kafka error of err (nil for none).
func code(err error) *kerr.Error {
	if err == nil {
		return nil
	}
	ke, _ := kerr.ErrorForCode(apierror.Code(err)).(*kerr.Error)
	return ke
}
