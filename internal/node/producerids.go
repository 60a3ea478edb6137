package node

// Producer ids for InitProducerId (KIP-730): a broker hands them out from
// blocks of controller.ProducerIDBlockSize that the active controller
// allocates, as Kafka's RPCProducerIdManager does.
//
//	InitProducerId ─▶ producerIDManager.NextProducerID ─▶ id from the
//	current block; at 90% of it, fetch the next block in the background
//	                     │ current block used up
//	                     ▼
//	switch to the fetched block, or wait for the fetch (at most the
//	request's deadline, then COORDINATOR_LOAD_IN_PROGRESS)
//
// A single node asks its in-process controller (no socket); a broker in
// a quorum sends AllocateProducerIds over its own controller channel with
// its broker epoch, which the controller checks. A failed allocation is
// retried after allocateBackoff (Kafka's RETRY_BACKOFF_MS).

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/controller"
)

// allocateBackoff is the wait after a failed block allocation.
const allocateBackoff = 50 * time.Millisecond

// prefetchPercent is how much of a block is used before the next one is
// fetched (Kafka's PID_PREFETCH_THRESHOLD, 0.90).
const prefetchPercent = 90

// producerIDManager hands out producer ids from allocated blocks. Safe for
// concurrent use; close stops the allocation in flight and waits for it.
type producerIDManager struct {
	// allocate asks the active controller for the next block.
	allocate func(ctx context.Context) (controller.ProducerIDsBlock, error)
	log      *slog.Logger
	// closeChannel closes the controller channel of a quorum broker.
	closeChannel func()

	ctx    context.Context // ends with close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the allocation goroutine

	mu struct {
		sync.Mutex
		current controller.ProducerIDsBlock // Size 0 until the first block
		nextID  int64                       // the next id of current to hand out
		fetched *controller.ProducerIDsBlock
		// inflight is set while an allocation runs; done is closed
		// when it ends (successfully or not).
		inflight bool
		done     chan struct{}
		failures int // allocations failed in a row
		closed   bool
	}
}

func newProducerIDManager(allocate func(ctx context.Context) (controller.ProducerIDsBlock, error), log *slog.Logger) *producerIDManager {
	m := &producerIDManager{allocate: allocate, log: log}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.done = make(chan struct{})
	return m
}

// errNoProducerIDs answers an InitProducerId that found no id in time
// (Kafka: "Producer ID block is full. Waiting for next block").
var errNoProducerIDs = apierror.New(kerr.CoordinatorLoadInProgress, "Producer ID block is full. Waiting for next block")

// NextProducerID implements server.ProducerIDs.
func (m *producerIDManager) NextProducerID(ctx context.Context) (int64, error) {
	for {
		m.mu.Lock()
		if m.mu.closed {
			m.mu.Unlock()
			return -1, apierror.New(kerr.CoordinatorNotAvailable, "The broker is shutting down.")
		}
		cur := m.mu.current
		if m.mu.nextID < cur.NextBlockFirstID() {
			id := m.mu.nextID
			m.mu.nextID++
			if id == cur.FirstProducerID+int64(cur.Size)*prefetchPercent/100 {
				m.fetchLocked()
			}
			m.mu.Unlock()
			return id, nil
		}
		if b := m.mu.fetched; b != nil {
			m.mu.current, m.mu.nextID, m.mu.fetched = *b, b.FirstProducerID, nil
			m.mu.Unlock()
			continue
		}
		m.fetchLocked()
		done := m.mu.done
		m.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return -1, errNoProducerIDs
		}
	}
}

// GenerateProducerID returns an id without waiting, as Kafka's
// RPCProducerIdManager.generateProducerId: when none is at hand it starts
// fetching a block and answers COORDINATOR_LOAD_IN_PROGRESS, which clients
// retry. It is the form a coordinator running on its own goroutine needs
// (the transaction coordinator's producer id source).
func (m *producerIDManager) GenerateProducerID() (int64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return m.NextProducerID(ctx)
}

// fetchLocked starts fetching the next block unless one is fetched or
// being fetched.
func (m *producerIDManager) fetchLocked() {
	if m.mu.inflight || m.mu.fetched != nil || m.mu.closed {
		return
	}
	m.mu.inflight = true
	m.wg.Add(1)
	go m.fetch()
}

// fetch runs one allocation; after a failure it waits allocateBackoff
// before letting the next one start.
func (m *producerIDManager) fetch() {
	defer m.wg.Done()
	b, err := m.allocate(m.ctx)
	if err == nil && (b.FirstProducerID < 0 || b.Size <= 0) {
		err = fmt.Errorf("node: invalid producer id block %+v", b)
	}
	m.mu.Lock()
	if err == nil {
		m.mu.failures = 0
	} else {
		m.mu.failures++
	}
	failures := m.mu.failures
	m.mu.Unlock()
	if err != nil {
		if m.ctx.Err() == nil {
			// Failures repeat while the broker is not registered yet or
			// the controller moves: only the first of a run is a warning.
			lvl := slog.LevelWarn
			if failures > 1 {
				lvl = slog.LevelDebug
			}
			m.log.Log(m.ctx, lvl, "allocating producer ids failed; retrying", "err", err, "failures", failures)
			select {
			case <-time.After(allocateBackoff):
			case <-m.ctx.Done():
			}
		}
	} else {
		m.log.Info("allocated producer ids", "first", b.FirstProducerID, "size", b.Size)
	}
	m.mu.Lock()
	if err == nil {
		m.mu.fetched = &b
	}
	m.mu.inflight = false
	close(m.mu.done)
	m.mu.done = make(chan struct{})
	m.mu.Unlock()
}

// close stops handing out ids and waits for an allocation in flight.
func (m *producerIDManager) close() {
	m.mu.Lock()
	m.mu.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// newProducerIDs returns the node's producer id manager: on a single node
// it allocates from the in-process controller, in a quorum over a channel
// of its own to the active controller.
func (n *Node) newProducerIDs() *producerIDManager {
	log := n.log.With("component", "producer-ids")
	if n.quorum == nil || n.quorum.forwarder == nil {
		return newProducerIDManager(func(context.Context) (controller.ProducerIDsBlock, error) {
			return n.controller.AllocateProducerIDs(n.cfg.NodeID, -1)
		}, log)
	}
	// The same controller and dialer as the broker's other channels.
	f := n.quorum.forwarder
	ch := newControllerChannel(fmt.Sprintf("gregor-%d-producer-ids", n.cfg.NodeID), f.voters, f.active, f.dial)
	timeout := time.Duration(n.cfg.RequestTimeoutMs) * time.Millisecond
	m := newProducerIDManager(func(ctx context.Context) (controller.ProducerIDsBlock, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req := kmsg.NewPtrAllocateProducerIDsRequest()
		// The epoch of this broker's registration in the image (race-free,
		// unlike the lifecycle's state); the controller checks it.
		req.BrokerID, req.BrokerEpoch = n.cfg.NodeID, -1
		if b, ok := n.controller.Image().Broker(n.cfg.NodeID); ok {
			req.BrokerEpoch = b.Epoch
		}
		resp, err := ch.Request(ctx, req)
		if err != nil {
			return controller.ProducerIDsBlock{}, err
		}
		r := resp.(*kmsg.AllocateProducerIDsResponse)
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return controller.ProducerIDsBlock{}, fmt.Errorf("node: AllocateProducerIds: %w", err)
		}
		return controller.ProducerIDsBlock{BrokerID: n.cfg.NodeID, FirstProducerID: r.ProducerIDStart, Size: r.ProducerIDLen}, nil
	}, log)
	m.closeChannel = ch.Close
	return m
}

// closeProducerIDs stops the producer id manager (after the broker
// server, before the controller side).
func (n *Node) closeProducerIDs() {
	if n.producerIDs == nil {
		return
	}
	n.producerIDs.close()
	if n.producerIDs.closeChannel != nil {
		n.producerIDs.closeChannel()
	}
}
