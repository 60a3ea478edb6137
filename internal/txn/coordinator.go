package txn

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/coordinator"
	"github.com/gregor-streaming/gregor/internal/record"
)

// Options are a Coordinator's dependencies besides Config's.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LoadBufferBytes is transaction.state.log.load.buffer.size.
	LoadBufferBytes int
	// CreateTopic creates __transaction_state; FindCoordinator calls it
	// (through Coordinator.CreateTopic) when the topic does not exist.
	CreateTopic func() error
	// Forward sends an AddPartitionsToTxn of the broker form (one
	// transaction of a v4+ request) to the coordinator of
	// __transaction_state partition txnPartition, which this node does
	// not lead, and returns its answer (AddPartitionsFromLeader). It is
	// called from request goroutines, concurrently, and may block until
	// ctx ends. Nil: such requests answer NOT_COORDINATOR.
	Forward func(ctx context.Context, txnPartition int32, req AddPartitionsRequest) AddPartitionsResponse
}

// Leader is a __transaction_state partition this node leads: its log
// and its leader epoch (the coordinator epoch of its markers).
type Leader struct {
	Log   coordinator.Log
	Epoch int32
}

// Coordinator is the transaction coordinator of a node: it maps each
// transactional id to its __transaction_state partition and runs the
// request on that partition's Shard. Safe for concurrent use. Requests
// for a partition this node does not lead answer NOT_COORDINATOR; for
// one still loading, COORDINATOR_LOAD_IN_PROGRESS.
type Coordinator struct {
	cfg           Config
	createTopic   func() error
	forward       func(ctx context.Context, txnPartition int32, req AddPartitionsRequest) AddPartitionsResponse
	rt            *coordinator.Runtime[*Shard]
	numPartitions atomic.Int32
	mu            struct {
		sync.Mutex
		epochs map[int32]int32 // leader epoch of each led partition
	}
}

// New returns a Coordinator with no partitions; Sync gives it some. It
// fails if cfg lacks a dependency (Config.Validate).
func New(cfg Config, opts Options) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Coordinator{cfg: cfg, createTopic: opts.CreateTopic, forward: opts.Forward}
	c.mu.epochs = map[int32]int32{}
	c.numPartitions.Store(cfg.NumPartitions)
	shardCfg := &c.cfg
	c.rt = coordinator.NewRuntime(coordinator.Config[*Shard]{
		NewShard: func(p int32, timers *coordinator.Timers[*Shard]) *Shard {
			c.mu.Lock()
			epoch := c.mu.epochs[p]
			c.mu.Unlock()
			return NewShard(shardCfg, p, epoch, timers)
		},
		// __transaction_state is never compressed (Kafka's
		// TransactionLog.ENFORCED_COMPRESSION).
		Codec:           record.CodecNone,
		LoadBufferBytes: opts.LoadBufferBytes,
		Now:             opts.Now,
		Logger:          cfg.Logger,
	})
	return c, nil
}

// Sync sets the partition count of __transaction_state and the
// partitions this node leads; shards load and unload accordingly. A
// partition whose leadership changed must come with a new Log value, so
// that its shard reloads at the new epoch.
func (c *Coordinator) Sync(numPartitions int32, leaders map[int32]Leader) {
	if numPartitions > 0 {
		c.numPartitions.Store(numPartitions)
	}
	logs := make(map[int32]coordinator.Log, len(leaders))
	c.mu.Lock()
	clear(c.mu.epochs)
	for p, l := range leaders {
		logs[p] = l.Log
		c.mu.epochs[p] = l.Epoch
	}
	c.mu.Unlock()
	c.rt.Sync(logs)
}

// CreateTopic creates __transaction_state (a no-op without
// Options.CreateTopic).
func (c *Coordinator) CreateTopic() error {
	if c.createTopic == nil {
		return nil
	}
	return c.createTopic()
}

// Close unloads every shard.
func (c *Coordinator) Close() { c.rt.Close() }

// PartitionFor returns the __transaction_state partition of an id.
func (c *Coordinator) PartitionFor(transactionalID string) int32 {
	return PartitionFor(transactionalID, c.numPartitions.Load())
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

// InitProducerID handles InitProducerId. Without a transactional id it
// only hands out a new producer id at epoch 0, as Kafka does for an
// idempotent producer.
func (c *Coordinator) InitProducerID(ctx context.Context, req InitProducerIDRequest) InitProducerIDResponse {
	fail := func(code int16) InitProducerIDResponse {
		return InitProducerIDResponse{ErrorCode: code, ProducerID: NoProducerID, ProducerEpoch: NoProducerEpoch}
	}
	if req.TransactionalID == nil {
		id, err := c.cfg.ProducerIDs.GenerateProducerID()
		if err != nil {
			return fail(apierror.Code(err))
		}
		return InitProducerIDResponse{ProducerID: id, ProducerEpoch: 0}
	}
	return run(ctx, c, c.PartitionFor(*req.TransactionalID), func(s *Shard, now time.Time, res *coordinator.Result, reply func(InitProducerIDResponse)) {
		s.InitProducerID(now, req, reply, res)
	}, fail)
}

// AddPartitionsToTxn handles one transaction of AddPartitionsToTxn.
func (c *Coordinator) AddPartitionsToTxn(ctx context.Context, req AddPartitionsRequest) AddPartitionsResponse {
	fail := func(code int16) AddPartitionsResponse {
		resp := AddPartitionsResponse{TransactionalID: req.TransactionalID}
		for _, tp := range distinct(req.Partitions) {
			resp.Partitions = append(resp.Partitions, PartitionResult{TopicPartition: tp, ErrorCode: code})
		}
		return resp
	}
	return run(ctx, c, c.PartitionFor(req.TransactionalID), func(s *Shard, now time.Time, res *coordinator.Result, reply func(AddPartitionsResponse)) {
		s.AddPartitionsToTxn(now, req, reply, res)
	}, fail)
}

// AddPartitionsFromLeader is AddPartitionsToTxn as a partition leader
// sends it before appending a transactional batch of a partition not yet
// in the producer's transaction (KIP-890; Kafka's
// AddPartitionsToTxnManager): req is of the broker form (Version 4 or
// 5), with VerifyOnly for producers of transaction versions 0 and 1 (is
// the partition in the transaction?) and without it for transaction
// version 2 (add it). The shard of the id answers if this node leads its
// __transaction_state partition, else the coordinator Options.Forward
// reaches.
func (c *Coordinator) AddPartitionsFromLeader(ctx context.Context, req AddPartitionsRequest) AddPartitionsResponse {
	p := c.PartitionFor(req.TransactionalID)
	c.mu.Lock()
	_, local := c.mu.epochs[p]
	c.mu.Unlock()
	if local || c.forward == nil {
		return c.AddPartitionsToTxn(ctx, req)
	}
	return c.forward(ctx, p, req)
}

// AddOffsetsToTxn handles AddOffsetsToTxn and returns its error code.
func (c *Coordinator) AddOffsetsToTxn(ctx context.Context, req AddOffsetsRequest) int16 {
	return run(ctx, c, c.PartitionFor(req.TransactionalID), func(s *Shard, now time.Time, res *coordinator.Result, reply func(int16)) {
		s.AddOffsetsToTxn(now, req, reply, res)
	}, func(code int16) int16 { return code })
}

// EndTxn handles EndTxn; it returns once the decision is written (the
// markers follow).
func (c *Coordinator) EndTxn(ctx context.Context, req EndTxnRequest) EndTxnResponse {
	return run(ctx, c, c.PartitionFor(req.TransactionalID), func(s *Shard, now time.Time, res *coordinator.Result, reply func(EndTxnResponse)) {
		s.EndTxn(now, req, reply, res)
	}, func(code int16) EndTxnResponse {
		return EndTxnResponse{ErrorCode: code, ProducerID: NoProducerID, ProducerEpoch: NoProducerEpoch}
	})
}

// CompleteMarkers reports markers written, to the shard that asked for
// them (MarkerRequest.TxnPartition). It does not wait; a shard no longer
// here ignores it (its next coordinator asks for the markers again).
func (c *Coordinator) CompleteMarkers(txnPartition int32, done MarkersDone) {
	c.rt.Do(txnPartition, func(s *Shard, now time.Time, res *coordinator.Result) {
		s.CompleteMarkers(now, done, res)
	}, func(error) {})
}

// DescribeTransactions describes each id, in order.
func (c *Coordinator) DescribeTransactions(ctx context.Context, ids []string) []DescribedTransaction {
	out := make([]DescribedTransaction, len(ids))
	for i, id := range ids {
		if id == "" {
			out[i] = DescribedTransaction{TransactionalID: id, ErrorCode: kerr.InvalidRequest.Code, Topics: []DescribedTopic{}}
			continue
		}
		out[i] = run(ctx, c, c.PartitionFor(id), func(s *Shard, _ time.Time, res *coordinator.Result, reply func(DescribedTransaction)) {
			d := s.DescribeTransaction(id)
			res.Reply(func() { reply(d) })
		}, func(code int16) DescribedTransaction {
			return DescribedTransaction{TransactionalID: id, ErrorCode: code, Topics: []DescribedTopic{}}
		})
	}
	return out
}

// ListTransactions lists the ids of every partition led here (Kafka's
// listTransactionStates). A partition still loading makes the answer
// COORDINATOR_LOAD_IN_PROGRESS.
func (c *Coordinator) ListTransactions(ctx context.Context, req ListRequest) ListResponse {
	f, code := CompileListFilter(req)
	if code != 0 {
		return ListResponse{ErrorCode: code, UnknownStateFilters: []string{}, Transactions: []ListedTransaction{}}
	}
	out := ListResponse{UnknownStateFilters: f.Unknown, Transactions: []ListedTransaction{}}
	if out.UnknownStateFilters == nil {
		out.UnknownStateFilters = []string{}
	}
	type part struct {
		txns []ListedTransaction
		code int16
	}
	parts := c.rt.Partitions()
	slices.Sort(parts)
	for _, p := range parts {
		r := run(ctx, c, p, func(s *Shard, now time.Time, res *coordinator.Result, reply func(part)) {
			txns := s.ListTransactions(now, f)
			res.Reply(func() { reply(part{txns: txns}) })
		}, func(code int16) part { return part{code: code} })
		switch r.code {
		case 0:
			out.Transactions = append(out.Transactions, r.txns...)
		case kerr.NotCoordinator.Code: // unloaded meanwhile
		default:
			return ListResponse{ErrorCode: r.code, UnknownStateFilters: out.UnknownStateFilters, Transactions: []ListedTransaction{}}
		}
	}
	return out
}
