package group

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
	"github.com/gregor-streaming/gregor/internal/record"
)

// TopicName is the internal topic holding group state and offsets.
const TopicName = "__consumer_offsets"

// Options are a Coordinator's dependencies.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Codec compresses what the coordinator writes
	// (offsets.topic.compression.codec).
	Codec record.Codec
	// LoadBufferBytes is offsets.load.buffer.size.
	LoadBufferBytes int
	// CreateTopic creates __consumer_offsets; FindCoordinator calls it
	// (through Coordinator.CreateTopic) when the topic does not exist.
	CreateTopic func() error
	// Topics returns the cluster's current topics (for KIP-848 groups);
	// nil means none.
	Topics func() Topics
}

// Coordinator is the group coordinator of a node: it maps each group to
// its __consumer_offsets partition and runs the request on that
// partition's Shard. Safe for concurrent use. Requests for a partition
// this node does not lead answer NOT_COORDINATOR; for one still loading,
// COORDINATOR_LOAD_IN_PROGRESS.
type Coordinator struct {
	cfg           Config
	createTopic   func() error
	rt            *coordinator.Runtime[*Shard]
	numPartitions atomic.Int32
}

// New returns a Coordinator with no partitions; Sync gives it some.
func New(cfg Config, opts Options) *Coordinator {
	cfg.topics = opts.Topics
	cfg = cfg.withDefaults()
	c := &Coordinator{cfg: cfg, createTopic: opts.CreateTopic}
	c.numPartitions.Store(cfg.NumPartitions)
	shardCfg := &c.cfg
	c.rt = coordinator.NewRuntime(coordinator.Config[*Shard]{
		NewShard: func(p int32, timers *coordinator.Timers[*Shard]) *Shard {
			return NewShard(shardCfg, p, timers)
		},
		Codec:           opts.Codec,
		LoadBufferBytes: opts.LoadBufferBytes,
		Now:             opts.Now,
		Logger:          cfg.Logger,
	})
	return c
}

// Sync sets the partition count of __consumer_offsets and the partitions
// this node leads (their logs); shards load and unload accordingly.
func (c *Coordinator) Sync(numPartitions int32, leaders map[int32]coordinator.Log) {
	if numPartitions > 0 {
		c.numPartitions.Store(numPartitions)
	}
	c.rt.Sync(leaders)
}

// CreateTopic creates __consumer_offsets (a no-op without
// Options.CreateTopic).
func (c *Coordinator) CreateTopic() error {
	if c.createTopic == nil {
		return nil
	}
	return c.createTopic()
}

// Close unloads every shard.
func (c *Coordinator) Close() { c.rt.Close() }

// PartitionFor returns the __consumer_offsets partition of a group:
// abs(Java String.hashCode(group)) mod the partition count, as Kafka.
func (c *Coordinator) PartitionFor(group string) int32 {
	return PartitionFor(group, c.numPartitions.Load())
}

// PartitionFor maps a group id to one of n partitions as Kafka does.
func PartitionFor(group string, n int32) int32 {
	var h int32
	for _, r := range utf16Units(group) {
		h = 31*h + int32(r)
	}
	// Kafka's Utils.abs: Integer.MIN_VALUE maps to 0.
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

// utf16Units returns s as Java chars.
func utf16Units(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

// run submits op to the shard of partition and waits for its reply; a
// shard that cannot run it (or ctx ending) answers fail(code).
func run[T any](ctx context.Context, c *Coordinator, partition int32, op func(s *Shard, now time.Time, res *coordinator.Result, reply func(T)), fail func(code int16) T) T {
	ch := make(chan T, 1)
	reply := func(v T) {
		select {
		case ch <- v:
		default: // answered already
		}
	}
	c.rt.Do(partition, func(s *Shard, now time.Time, res *coordinator.Result) {
		op(s, now, res, reply)
	}, func(err error) { reply(fail(coordinator.Code(err))) })
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		return fail(kerr.CoordinatorNotAvailable.Code)
	}
}

// JoinGroup handles a JoinGroup request; it returns when the member's
// join completes (possibly after a rebalance). req's byte slices are
// copied; the caller may reuse them afterwards.
func (c *Coordinator) JoinGroup(ctx context.Context, req JoinRequest) JoinResponse {
	fail := func(code int16) JoinResponse {
		return JoinResponse{MemberID: req.MemberID, Generation: -1, ErrorCode: code}
	}
	switch {
	case req.Group == "":
		return fail(kerr.InvalidGroupID.Code)
	case req.SessionTimeoutMs < c.cfg.MinSessionTimeoutMs || req.SessionTimeoutMs > c.cfg.MaxSessionTimeoutMs:
		return fail(kerr.InvalidSessionTimeout.Code)
	}
	// The group keeps the metadata: copy it out of the request (whose
	// bytes may alias the connection's read buffer).
	protocols := make([]Protocol, 0, len(req.Protocols))
	seen := map[string]bool{}
	for _, p := range req.Protocols {
		if !seen[p.Name] { // a protocol named twice counts once, the first
			seen[p.Name] = true
			protocols = append(protocols, Protocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)})
		}
	}
	req.Protocols = protocols
	return run(ctx, c, c.PartitionFor(req.Group), func(s *Shard, now time.Time, res *coordinator.Result, reply func(JoinResponse)) {
		s.JoinGroup(now, req, reply, res)
	}, fail)
}

// SyncGroup handles a SyncGroup request; it returns when the member's
// assignment is known. req's byte slices are copied.
func (c *Coordinator) SyncGroup(ctx context.Context, req SyncRequest) SyncResponse {
	fail := func(code int16) SyncResponse { return SyncResponse{ErrorCode: code, Assignment: []byte{}} }
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	assignments := make([]SyncAssignment, len(req.Assignments))
	for i, a := range req.Assignments {
		assignments[i] = SyncAssignment{MemberID: a.MemberID, Assignment: bytes.Clone(a.Assignment)}
	}
	req.Assignments = assignments
	return run(ctx, c, c.PartitionFor(req.Group), func(s *Shard, now time.Time, res *coordinator.Result, reply func(SyncResponse)) {
		s.SyncGroup(now, req, func(r SyncResponse) {
			if r.Assignment == nil {
				r.Assignment = []byte{}
			}
			reply(r)
		}, res)
	}, fail)
}

// Heartbeat handles a Heartbeat request and returns its error code.
func (c *Coordinator) Heartbeat(ctx context.Context, req HeartbeatRequest) int16 {
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	return run(ctx, c, c.PartitionFor(req.Group), func(s *Shard, now time.Time, res *coordinator.Result, reply func(int16)) {
		code := s.Heartbeat(now, req)
		res.Reply(func() { reply(code) })
	}, func(code int16) int16 { return code })
}

// LeaveGroup handles a LeaveGroup request.
func (c *Coordinator) LeaveGroup(ctx context.Context, req LeaveRequest) LeaveResponse {
	fail := func(code int16) LeaveResponse { return LeaveResponse{ErrorCode: code} }
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	return run(ctx, c, c.PartitionFor(req.Group), func(s *Shard, now time.Time, res *coordinator.Result, reply func(LeaveResponse)) {
		resp := s.LeaveGroup(now, req, res)
		res.Reply(func() { reply(resp) })
	}, fail)
}

// CommitOffsets handles an OffsetCommit request (topics already checked
// to exist by the caller).
func (c *Coordinator) CommitOffsets(ctx context.Context, req CommitRequest) CommitResponse {
	fail := func(code int16) CommitResponse { return commitErrorResponse(req, code) }
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	return run(ctx, c, c.PartitionFor(req.Group), func(s *Shard, now time.Time, res *coordinator.Result, reply func(CommitResponse)) {
		s.CommitOffsets(now, req, reply, res)
	}, fail)
}

// FetchOffsets answers OffsetFetch for each group, in order.
func (c *Coordinator) FetchOffsets(ctx context.Context, reqs []FetchRequest) []FetchResponse {
	out := make([]FetchResponse, len(reqs))
	for i, req := range reqs {
		if req.Group == "" {
			out[i] = FetchResponse{Group: req.Group, ErrorCode: kerr.InvalidGroupID.Code}
			continue
		}
		out[i] = run(ctx, c, c.PartitionFor(req.Group), func(s *Shard, now time.Time, res *coordinator.Result, reply func(FetchResponse)) {
			resp := s.FetchOffsets(now, req)
			res.Reply(func() { reply(resp) })
		}, func(code int16) FetchResponse { return FetchResponse{Group: req.Group, ErrorCode: code} })
	}
	return out
}

// ListGroups lists the groups of every loaded partition. A partition
// still loading makes the whole answer COORDINATOR_LOAD_IN_PROGRESS.
func (c *Coordinator) ListGroups(ctx context.Context, req ListRequest) ListResponse {
	type part struct {
		groups []ListedGroup
		code   int16
	}
	var out ListResponse
	parts := c.rt.Partitions()
	slices.Sort(parts)
	for _, p := range parts {
		r := run(ctx, c, p, func(s *Shard, now time.Time, res *coordinator.Result, reply func(part)) {
			groups := s.ListGroups(req)
			res.Reply(func() { reply(part{groups: groups}) })
		}, func(code int16) part { return part{code: code} })
		switch r.code {
		case 0:
			out.Groups = append(out.Groups, r.groups...)
		case kerr.NotCoordinator.Code:
		default:
			return ListResponse{ErrorCode: r.code}
		}
	}
	return out
}

// DescribeGroups describes each group, in order.
func (c *Coordinator) DescribeGroups(ctx context.Context, ids []string, notFoundError bool) []DescribedGroup {
	out := make([]DescribedGroup, len(ids))
	for i, id := range ids {
		if id == "" {
			out[i] = DescribedGroup{Group: id, ErrorCode: kerr.InvalidGroupID.Code}
			continue
		}
		out[i] = run(ctx, c, c.PartitionFor(id), func(s *Shard, now time.Time, res *coordinator.Result, reply func(DescribedGroup)) {
			d := s.DescribeGroup(id, notFoundError)
			res.Reply(func() { reply(d) })
		}, func(code int16) DescribedGroup { return DescribedGroup{Group: id, ErrorCode: code} })
	}
	return out
}

// DeleteGroups deletes groups (Empty ones, with their offsets).
func (c *Coordinator) DeleteGroups(ctx context.Context, ids []string) []DeletedGroup {
	byPartition := map[int32][]string{}
	out := make([]DeletedGroup, 0, len(ids))
	results := map[string]DeletedGroup{}
	for _, id := range ids {
		if id == "" {
			results[id] = DeletedGroup{Group: id, ErrorCode: kerr.InvalidGroupID.Code}
			continue
		}
		p := c.PartitionFor(id)
		byPartition[p] = append(byPartition[p], id)
	}
	for _, p := range slices.Sorted(maps.Keys(byPartition)) {
		group := byPartition[p]
		rs := run(ctx, c, p, func(s *Shard, now time.Time, res *coordinator.Result, reply func([]DeletedGroup)) {
			s.DeleteGroups(now, group, reply, res)
		}, func(code int16) []DeletedGroup {
			r := make([]DeletedGroup, len(group))
			for i, id := range group {
				r[i] = DeletedGroup{Group: id, ErrorCode: code}
			}
			return r
		})
		for _, r := range rs {
			results[r.Group] = r
		}
	}
	for _, id := range ids {
		out = append(out, results[id])
	}
	return out
}

// DeleteOffsets handles an OffsetDelete request.
func (c *Coordinator) DeleteOffsets(ctx context.Context, req OffsetDeleteRequest) OffsetDeleteResponse {
	fail := func(code int16) OffsetDeleteResponse { return OffsetDeleteResponse{ErrorCode: code} }
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	return run(ctx, c, c.PartitionFor(req.Group), func(s *Shard, now time.Time, res *coordinator.Result, reply func(OffsetDeleteResponse)) {
		s.DeleteOffsets(now, req, reply, res)
	}, fail)
}

// DeleteTopicOffsets removes every group's committed offsets of deleted
// topics (Kafka's onPartitionsDeleted). It does not wait.
func (c *Coordinator) DeleteTopicOffsets(topics []string) {
	if len(topics) == 0 {
		return
	}
	for _, p := range c.rt.Partitions() {
		c.rt.Do(p, func(s *Shard, now time.Time, res *coordinator.Result) {
			s.deleteTopicOffsets(topics, res)
		}, func(error) {})
	}
}

// ConsumerGroupHeartbeat handles a KIP-848 ConsumerGroupHeartbeat
// request. req's slices are not kept.
func (c *Coordinator) ConsumerGroupHeartbeat(ctx context.Context, req ConsumerHeartbeatRequest) ConsumerHeartbeatResponse {
	fail := func(code int16) ConsumerHeartbeatResponse {
		msg := kerr.TypedErrorForCode(code).Description
		return ConsumerHeartbeatResponse{ErrorCode: code, ErrorMessage: &msg, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	}
	if req.Group == "" {
		msg := "GroupId can't be empty."
		return ConsumerHeartbeatResponse{ErrorCode: kerr.InvalidRequest.Code, ErrorMessage: &msg, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	}
	return run(ctx, c, c.PartitionFor(req.Group), func(s *Shard, now time.Time, res *coordinator.Result, reply func(ConsumerHeartbeatResponse)) {
		s.ConsumerGroupHeartbeat(now, req, reply, res)
	}, fail)
}

// ConsumerGroupDescribe describes KIP-848 groups, in order.
func (c *Coordinator) ConsumerGroupDescribe(ctx context.Context, ids []string) []DescribedConsumerGroup {
	out := make([]DescribedConsumerGroup, len(ids))
	for i, id := range ids {
		if id == "" {
			out[i] = DescribedConsumerGroup{Group: id, ErrorCode: kerr.InvalidGroupID.Code}
			continue
		}
		out[i] = run(ctx, c, c.PartitionFor(id), func(s *Shard, now time.Time, res *coordinator.Result, reply func(DescribedConsumerGroup)) {
			d := s.DescribeConsumerGroup(id)
			res.Reply(func() { reply(d) })
		}, func(code int16) DescribedConsumerGroup { return DescribedConsumerGroup{Group: id, ErrorCode: code} })
	}
	return out
}
