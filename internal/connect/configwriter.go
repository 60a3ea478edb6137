package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The fencable config-topic writer (KIP-618, Kafka's
// KafkaConfigBackingStore "fencable producer"). With
// exactly.once.source.support=preparing or enabled, the leader writes its
// privileged records to the config topic through a transactional producer
// whose transactional.id is the same for every worker of the cluster:
//
//	transactional.id = "connect-cluster-" + group.id     (DistributedConfig.transactionalProducerId)
//	client.id        = <the config log's client id> + "-leader"
//
//	becoming leader ──▶ claim: InitProducerId ──▶ bumps the epoch: an older leader's
//	                                              producer is fenced
//	privileged write ──▶ BeginTransaction, produce, EndTransaction(commit)
//	                      │ fails (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, …)
//	                      └──▶ relinquish (close the producer); the request fails with
//	                           "Failed to write to config topic; …"; the herder
//	                           reclaims on its next iteration if it still leads
//	no longer leader ──▶ relinquish
//
// Privileged records are exactly those Kafka sends with sendPrivileged:
// connector configurations (and the target state written with a new
// one), their tombstones, task configurations and commit records,
// task-count records, session keys and restart requests. Target states
// written alone (pause, resume, stop) and cluster logger levels are
// written by any worker through the config log's own producer. Without a
// fencable writer (exactly.once.source.support=disabled) every record
// goes through the config log's producer, as before.

// Errors of the fencable config-topic writer.
var (
	// ErrPrivilegedWrite wraps a failed privileged write through the
	// fencable producer (Kafka's PrivilegedWriteException): the leader
	// was fenced or the transaction failed; its write privileges were
	// relinquished. The request can be retried.
	ErrPrivilegedWrite = errors.New("connect: failed to perform fencable send to config topic")
	// ErrNoWritePrivileges: a privileged write without claimed write
	// privileges (Kafka's IllegalStateException).
	ErrNoWritePrivileges = errors.New("connect: cannot produce to config topic without claiming write privileges first")
)

// msgPrivilegedWriteFailed is what Kafka's DistributedHerder answers when
// a leader's privileged write fails.
const msgPrivilegedWriteFailed = "Failed to write to config topic; this may be due to a transient error and the request can be safely retried"

// usesFencableWriter reports whether a distributed worker writes the
// config topic through a transactional producer as leader: in the
// "preparing" and "enabled" modes of exactly.once.source.support (Kafka's
// DistributedConfig.transactionalLeaderEnabled).
func usesFencableWriter(cfg *DistributedConfig) bool {
	switch strings.ToLower(trimmed(cfg.Props[ExactlyOnceSourceSupportConfig])) {
	case "preparing", "enabled":
		return true
	}
	return false
}

// TransactionalProducerID returns the transactional.id of a Connect
// cluster's leader for the config topic (Kafka's
// DistributedConfig.transactionalProducerId).
func TransactionalProducerID(groupID string) string { return "connect-cluster-" + groupID }

// configWriter is the fencable writer of the config topic. It is safe for
// concurrent use; one transaction runs at a time.
type configWriter struct {
	cfg      *DistributedConfig
	topic    string
	clientID string // the config log's client id; the producer's is this + "-leader"
	log      *slog.Logger

	mu struct {
		sync.Mutex
		// cl is the transactional producer; nil without write
		// privileges. Held during a whole transaction.
		cl     *kgo.Client
		closed bool
	}
}

func newConfigWriter(cfg *DistributedConfig, clientID string, log *slog.Logger) *configWriter {
	return &configWriter{cfg: cfg, topic: cfg.ConfigTopic, clientID: clientID, log: log}
}

// claim creates the transactional producer and initializes it, which
// fences any older producer with the same transactional.id (Kafka's
// claimWritePrivileges). It does nothing when privileges are held.
func (w *configWriter) claim(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return ErrClosed
	}
	if w.mu.cl != nil {
		return nil
	}
	base, err := w.cfg.workerClientOpts(w.clientID + "-leader")
	if err != nil {
		return fmt.Errorf("Failed to create and initialize fencable producer for config topic: %w", err)
	}
	id := TransactionalProducerID(w.cfg.GroupID)
	cl, err := kgo.NewClient(append(base,
		kgo.TransactionalID(id),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.DefaultProduceTopic(w.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), // the topic's one partition
	)...)
	if err != nil {
		return fmt.Errorf("Failed to create and initialize fencable producer for config topic: %w", err)
	}
	pid, epoch, err := cl.ProducerID(ctx) // InitProducerId: fences the previous holder
	if err != nil {
		cl.Close()
		return fmt.Errorf("Failed to create and initialize fencable producer for config topic: %w", err)
	}
	w.log.Info("Claimed write privileges for the config topic", "transactional.id", id, "producer.id", pid, "epoch", epoch)
	w.mu.cl = cl
	return nil
}

// relinquish closes the transactional producer (Kafka's
// relinquishWritePrivileges).
func (w *configWriter) relinquish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.relinquishLocked()
}

func (w *configWriter) relinquishLocked() {
	if w.mu.cl == nil {
		return
	}
	w.mu.cl.Close()
	w.mu.cl = nil
	w.log.Info("Relinquished write privileges for the config topic")
}

// claimed reports whether write privileges are held.
func (w *configWriter) claimed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.cl != nil
}

// send writes recs in one transaction and returns the offset after the
// last one (Kafka's sendPrivileged). Without privileges it fails with
// ErrNoWritePrivileges; when the transaction fails it relinquishes the
// privileges and returns an error wrapping ErrPrivilegedWrite.
func (w *configWriter) send(ctx context.Context, recs ...*kgo.Record) (map[int32]int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cl := w.mu.cl
	if cl == nil {
		return nil, ErrNoWritePrivileges
	}
	after, err := w.transact(ctx, cl, recs)
	if err != nil {
		w.log.Warn("Failed to perform fencable send to config topic", "err", err)
		w.relinquishLocked()
		return nil, fmt.Errorf("%w: %w", ErrPrivilegedWrite, err)
	}
	return after, nil
}

func (w *configWriter) transact(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) (map[int32]int64, error) {
	if err := cl.BeginTransaction(); err != nil {
		return nil, err
	}
	for _, r := range recs {
		r.Topic, r.Partition = w.topic, 0
	}
	results := cl.ProduceSync(ctx, recs...)
	if err := results.FirstErr(); err != nil {
		// The commit would fail; abort what can be aborted.
		return nil, errors.Join(err, cl.EndTransaction(ctx, kgo.TryAbort))
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return nil, err
	}
	after := map[int32]int64{}
	for _, r := range results {
		after[r.Record.Partition] = max(after[r.Record.Partition], r.Record.Offset+1)
	}
	return after, nil
}

// close relinquishes the privileges for good.
func (w *configWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mu.closed = true
	w.relinquishLocked()
}
