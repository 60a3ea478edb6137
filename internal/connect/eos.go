package connect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Exactly-once source support (KIP-618). With it enabled on the worker,
// every source task produces through a transactional producer whose
// transactional.id is "<group.id>-<connector>-<task>" (Kafka's
// Worker.taskTransactionalId) and writes its offsets, as records of the
// offsets topic, in the same transaction as the records they follow:
//
//	BeginTransaction
//	  Produce record …  (the task's topics)          ┐ one transaction per
//	  Produce offset …  (offsets topic, key = ["<connector>",{<partition>}])  ┘ boundary
//	Flush; EndTransaction(commit)
//
// A consumer reading with isolation.level=read_committed — the offsets
// store included — therefore sees a batch of records exactly when it sees
// their offsets: after a crash the restarted task resumes right after the
// last committed record. Starting the task's producer (InitProducerId with
// its transactional.id) fences a zombie instance of the same task and
// aborts its open transaction.
//
// transaction.boundary picks when transactions commit: "poll" (default)
// after each batch Poll returns, "interval" every
// transaction.boundary.interval.ms (default offset.flush.interval.ms),
// "connector" when the task asks through its sdk.TransactionContext
// (eos_txncontext.go), which can also abort a transaction. A failed send
// or commit aborts the transaction and fails the task; a clean stop
// commits the open transaction.
//
// With the connector's own offsets.storage.topic, offsets are written
// there and read back from it first, from the worker's offsets topic
// when it has none for a partition (connectorOffsetStore).
//
// Before a task's producer starts, its worker has the leader fence the
// connector's older task generations (eos_fencing.go).
//
// A distributed worker enables it when its exactly.once.source.support is
// "enabled" (exactlyOnceSourceFor, eos_distributed.go; Kafka's standalone mode does not
// support it), through setExactlyOnceSource before tasks start. Its
// offsets store then reads the offsets topic read_committed (kafkaLog
// reads every internal topic that way), so a task never resumes from the
// offsets of an aborted or still open transaction.

// Property names of exactly-once sources: the worker's (Kafka's
// DistributedConfig; read by exactlyOnceSourceFor, eos_distributed.go)
// and the connector's (SourceConnectorConfig).
const (
	ExactlyOnceSourceSupportConfig = "exactly.once.source.support"
	transactionBoundaryInterval    = "transaction.boundary.interval.ms"
)

// exactlyOnceSource is a worker's exactly-once source configuration.
type exactlyOnceSource struct {
	// GroupID is the worker group's group.id, the transactional ids'
	// prefix.
	GroupID string
	// OffsetsTopic is the worker's offset.storage.topic, where offsets
	// go unless a connector sets offsets.storage.topic.
	OffsetsTopic string
	// fence, if set, runs before a task's producer starts: it returns
	// once the connector's older task generations are fenced
	// (DistributedHerder.fenceBeforeStart, eos_fencing.go).
	fence func(ctx context.Context, connector string) error
}

// setExactlyOnceSource makes the worker run source tasks started from now
// on with exactly-once support (nil: at least once).
func (w *Worker) setExactlyOnceSource(e *exactlyOnceSource) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mu.eos = e
}

func (w *Worker) exactlyOnce() *exactlyOnceSource {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.eos
}

// transactionalID is a source task's transactional.id (Kafka's
// Worker.taskTransactionalId).
func transactionalID(groupID string, id TaskID) string {
	return groupID + "-" + id.Connector + "-" + strconv.Itoa(id.Task)
}

// eosTask is one source task's exactly-once settings.
type eosTask struct {
	transactionalID string
	offsetsTopic    string
	// interval is the commit interval of transaction.boundary=interval;
	// 0 commits after every poll.
	interval time.Duration
	// txnCtx is the task's TransactionContext with
	// transaction.boundary=connector (eos_txncontext.go), else nil.
	txnCtx *txnContext
	// preflight, if set, fences zombies before the producer starts.
	preflight func(ctx context.Context) error
	// offsets is the connector's own offsets topic (offsets.storage.topic)
	// read back, with the worker's store as fallback; nil without one.
	// The task closes it.
	offsets *connectorOffsetStore
}

// close releases what the task's exactly-once settings hold.
func (e *eosTask) close() {
	if e != nil && e.offsets != nil {
		e.offsets.primary.Close()
	}
}

// newEOSTask reads a connector's exactly-once settings.
func (w *Worker) newEOSTask(e *exactlyOnceSource, id TaskID, connConfig map[string]string) (*eosTask, error) {
	t := &eosTask{transactionalID: transactionalID(e.GroupID, id), offsetsTopic: e.OffsetsTopic}
	if e.fence != nil {
		t.preflight = func(ctx context.Context) error { return e.fence(ctx, id.Connector) }
	}
	switch strings.ToLower(trimmed(connConfig[transactionBoundary])) {
	case "", "poll":
	case "interval":
		t.interval = w.cfg.OffsetFlushInterval
		if s := trimmed(connConfig[transactionBoundaryInterval]); s != "" {
			ms, err := strconv.ParseInt(s, 10, 64)
			if err != nil || ms < 0 {
				return nil, fmt.Errorf("invalid %s %q", transactionBoundaryInterval, s)
			}
			t.interval = time.Duration(ms) * time.Millisecond
		}
		if t.interval == 0 {
			t.interval = time.Nanosecond // every poll, through the interval path
		}
	case "connector":
		t.txnCtx = newTxnContext()
	default:
		return nil, fmt.Errorf("invalid %s %q", transactionBoundary, connConfig[transactionBoundary])
	}
	if t.offsetsTopic == "" {
		return nil, errors.New("exactly-once source support needs an offsets topic")
	}
	if topic := trimmed(connConfig[offsetsStorageTopicConf]); topic != "" && topic != e.OffsetsTopic {
		t.offsetsTopic = topic
		store, err := w.openConnectorOffsets(id, topic)
		if err != nil {
			return nil, err
		}
		t.offsets = store
	}
	return t, nil
}

// connectorOffsetStore is the offset store of a connector with its own
// offsets.storage.topic (Kafka's ConnectorOffsetBackingStore): an offset
// read from the connector's topic takes precedence, the worker's global
// offsets topic is the fallback (offsets written before the connector had
// a topic of its own). Writes go to the connector's topic, in the task's
// transactions; Set and Entries are the connector topic's.
type connectorOffsetStore struct {
	primary  *KafkaOffsetStore
	fallback OffsetStore
}

// openConnectorOffsets creates a connector's offsets topic, compacted,
// unless it exists, and reads it (read_committed) to the end.
func (w *Worker) openConnectorOffsets(id TaskID, topic string) (*connectorOffsetStore, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	s := &KafkaOffsetStore{}
	s.mu.data = map[string][]byte{}
	kl, err := openKafkaLog(ctx, w.cfg, "connector-offsets-"+id.String(), topicSpec{name: topic, partitions: -1, replicas: -1}, w.log, s.apply)
	if err != nil {
		return nil, fmt.Errorf("offsets topic %s: %w", topic, err)
	}
	s.kl = kl
	return &connectorOffsetStore{primary: s, fallback: w.offsets}, nil
}

// Get implements OffsetStore.
func (c *connectorOffsetStore) Get(key []byte) ([]byte, error) {
	v, err := c.primary.Get(key)
	if err != nil || v != nil || c.fallback == nil {
		return v, err
	}
	return c.fallback.Get(key)
}

// Set implements OffsetStore.
func (c *connectorOffsetStore) Set(entries []OffsetEntry) error { return c.primary.Set(entries) }

// Entries implements OffsetStore.
func (c *connectorOffsetStore) Entries() ([]OffsetEntry, error) { return c.primary.Entries() }

// Close implements OffsetStore: it closes the connector's topic only.
func (c *connectorOffsetStore) Close() error { return c.primary.Close() }

// producerOpts are the producer options of an exactly-once task.
func (e *eosTask) producerOpts() []kgo.Opt {
	return []kgo.Opt{kgo.TransactionalID(e.transactionalID), kgo.RequiredAcks(kgo.AllISRAcks())}
}

// beginTransaction opens the task's transaction if none is open.
func (t *sourceTask) beginTransaction() error {
	if t.txnOpen {
		return nil
	}
	if err := t.producer.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	t.txnOpen, t.txnStart = true, time.Now()
	return nil
}

// commitTransaction writes the pending offsets into the open transaction
// and commits it (Kafka's ExactlyOnceWorkerSourceTask.commitTransaction).
// Any failure aborts the transaction and is returned: it fails the task.
func (t *sourceTask) commitTransaction() error {
	t.commitMu.Lock()
	defer t.commitMu.Unlock()
	entries := t.writer.take()
	if !t.txnOpen && len(entries) == 0 {
		return nil
	}
	if err := t.beginTransaction(); err != nil {
		return err
	}
	for _, e := range entries {
		t.producer.Produce(context.Background(), &kgo.Record{Topic: t.eos.offsetsTopic, Key: e.Key, Value: e.Value}, func(r *kgo.Record, err error) {
			if err != nil {
				t.setSendError(fmt.Errorf("send offsets to %s failed: %w", r.Topic, err))
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.w.cfg.OffsetFlushTimeout+30*time.Second)
	defer cancel()
	if err := t.flushTransaction(ctx); err != nil {
		return err
	}
	if err := t.producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.txnOpen = false
		return fmt.Errorf("commit transaction: %w", err)
	}
	t.txnOpen = false
	t.log.Debug("Committed transaction", "offsets", len(entries))
	if t.committer != nil {
		if err := safeCall(t.committer.Commit); err != nil {
			t.log.Warn("Exception thrown while calling task.commit()", "err", err)
		}
	}
	return nil
}

// flushTransaction waits for every record sent in the open transaction;
// if one failed (or the flush did), it aborts the transaction and returns
// the error, which fails the task.
func (t *sourceTask) flushTransaction(ctx context.Context) error {
	if err := t.producer.Flush(ctx); err != nil {
		t.abortTransaction()
		return fmt.Errorf("flush transaction: %w", err)
	}
	if err := t.sendError(); err != nil {
		t.abortTransaction()
		return fmt.Errorf("aborted transaction after a failed send: %w", err)
	}
	return nil
}

// applyTransactionRequest carries out what the connector asked through
// its TransactionContext (transaction.boundary=connector).
func (t *sourceTask) applyTransactionRequest(commit, abort bool, err error) error {
	switch {
	case err != nil:
		return err
	case abort:
		return t.abortRequestedTransaction()
	case commit:
		return t.commitTransaction()
	}
	return nil
}

// abortTransaction aborts the open transaction, if any (best effort: a
// transaction left open is aborted when the task's next instance starts).
func (t *sourceTask) abortTransaction() {
	if !t.txnOpen {
		return
	}
	t.txnOpen = false
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := t.producer.AbortBufferedRecords(ctx); err != nil {
		t.log.Warn("Abort buffered records failed", "err", err)
	}
	if err := t.producer.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.log.Warn("Abort transaction failed", "err", err)
	}
}

// maybeCommitTransaction commits at the transaction boundary, after a
// poll: always for "poll", once the interval has passed for "interval",
// when the task asked through its TransactionContext for "connector".
func (t *sourceTask) maybeCommitTransaction() error {
	if t.eos.txnCtx != nil {
		return t.applyTransactionRequest(t.eos.txnCtx.takeBatch())
	}
	if t.eos.interval > 0 && t.txnOpen && time.Since(t.txnStart) < t.eos.interval {
		return nil
	}
	return t.commitTransaction()
}
