package connect

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// txnContext is the sdk.TransactionContext of an exactly-once source task
// with transaction.boundary=connector (Kafka's WorkerTransactionContext).
// The task records requests from any goroutine; the task's run goroutine
// takes them as it dispatches each record (takeRecord) and after each
// batch (takeBatch). It is safe for concurrent use.
type txnContext struct {
	mu struct {
		sync.Mutex
		commit, abort           bool // for the current batch
		commitAfter, abortAfter map[*sdk.SourceRecord]bool
	}
}

// Errors of Kafka's WorkerTransactionContext.
var (
	errCommitAndAbortRecord = errors.New("Connector requested both commit and abort of same record")
	errCommitAndAbortBatch  = errors.New("Connector requested both commit and abort of same transaction")
)

var _ sdk.TransactionContext = (*txnContext)(nil)

func newTxnContext() *txnContext {
	c := &txnContext{}
	c.mu.commitAfter = map[*sdk.SourceRecord]bool{}
	c.mu.abortAfter = map[*sdk.SourceRecord]bool{}
	return c
}

// CommitTransaction implements sdk.TransactionContext.
func (c *txnContext) CommitTransaction() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.commit = true
}

// CommitTransactionAfter implements sdk.TransactionContext.
func (c *txnContext) CommitTransactionAfter(rec *sdk.SourceRecord) {
	if rec == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.commitAfter[rec] = true
}

// AbortTransaction implements sdk.TransactionContext.
func (c *txnContext) AbortTransaction() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.abort = true
}

// AbortTransactionAfter implements sdk.TransactionContext.
func (c *txnContext) AbortTransactionAfter(rec *sdk.SourceRecord) {
	if rec == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.abortAfter[rec] = true
}

// takeRecord returns and forgets the requests made for rec.
func (c *txnContext) takeRecord(rec *sdk.SourceRecord) (commit, abort bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	commit, abort = c.mu.commitAfter[rec], c.mu.abortAfter[rec]
	delete(c.mu.commitAfter, rec)
	delete(c.mu.abortAfter, rec)
	if commit && abort {
		return false, false, errCommitAndAbortRecord
	}
	return commit, abort, nil
}

// takeBatch returns and forgets the requests made for the batch.
func (c *txnContext) takeBatch() (commit, abort bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	commit, abort = c.mu.commit, c.mu.abort
	c.mu.commit, c.mu.abort = false, false
	if commit && abort {
		return false, false, errCommitAndAbortBatch
	}
	return commit, abort, nil
}

// TransactionContext implements sdk.TransactionContextProvider: nil unless
// the task runs exactly once with transaction.boundary=connector.
func (t *sourceTask) TransactionContext() sdk.TransactionContext {
	if t.eos == nil || t.eos.txnCtx == nil {
		return nil
	}
	return t.eos.txnCtx
}

// afterRecord applies the connector's requests for a dispatched record.
func (t *sourceTask) afterRecord(rec *sdk.SourceRecord) error {
	if t.eos == nil || t.eos.txnCtx == nil {
		return nil
	}
	return t.applyTransactionRequest(t.eos.txnCtx.takeRecord(rec))
}

// abortRequestedTransaction aborts the open transaction as the connector
// asked: its records and their offsets are dropped. It waits for the
// records sent so far first, so that a failed send still fails the task.
func (t *sourceTask) abortRequestedTransaction() error {
	t.commitMu.Lock()
	defer t.commitMu.Unlock()
	dropped := t.writer.take()
	if !t.txnOpen {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.w.cfg.OffsetFlushTimeout+30*time.Second)
	defer cancel()
	if err := t.flushTransaction(ctx); err != nil {
		return err
	}
	t.txnOpen = false
	if err := t.producer.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("abort transaction: %w", err)
	}
	t.log.Info("Aborted transaction as requested by the connector", "offsets.dropped", len(dropped))
	return nil
}
