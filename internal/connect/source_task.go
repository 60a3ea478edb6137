package connect

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/connect/transform"
	"github.com/gregor-streaming/gregor/internal/clientconfig"
)

// sourceTask runs a SourceTask (Kafka's WorkerSourceTask, at-least-once):
// it polls records, transforms and converts them (each step through the
// error handler) and produces them through its own kgo producer, and
// stores each source partition's latest offset once every record before
// it is acknowledged. With exactly-once support (eos.go, Kafka's
// ExactlyOnceWorkerSourceTask) records and offsets are instead written in
// transactions, and there is no committer goroutine.
//
// Offsets are committed every offset.flush.interval.ms by a committer
// goroutine, while paused, and once more on a clean stop: the committer
// takes the pending offsets, flushes the producer (waiting for every
// record produced so far) and, unless a record failed, writes the offsets
// to the OffsetStore. A failed send fails the task and no offset is
// committed after it, so a restart re-reads from the last stored offset.
type sourceTask struct {
	*taskBase
	task      sdk.SourceTask
	config    map[string]string
	convs     converters
	chain     *transform.Chain
	errs      *errorHandler
	producer  *kgo.Client
	writer    *offsetWriter
	reader    offsetReader
	committer sdk.SourceTaskCommitter // nil if the task is not one

	commitMu sync.Mutex // serializes commits
	sendMu   struct {
		sync.Mutex
		err error // first failed send
	}
	topics map[string]bool // topics reported active; run goroutine only

	// connConfig is the connector's configuration; creation, when not
	// nil, creates the topics the task writes to (topic_creation.go; run
	// goroutine only).
	connConfig map[string]string
	creation   *topicCreation

	// eos is set for exactly-once delivery (eos.go); txnOpen and txnStart
	// describe the open transaction (run goroutine only).
	eos      *eosTask
	txnOpen  bool
	txnStart time.Time
}

// explicitPartition marks records whose partition the task chose.
type explicitPartition struct{}

// sourcePartitioner uses a record's own partition when the task set one
// and Kafka's partitioning otherwise (murmur2 of the key; sticky
// batches for records without one).
type sourcePartitioner struct{ dflt kgo.Partitioner }

type sourceTopicPartitioner struct{ dflt kgo.TopicPartitioner }

func (p sourcePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return sourceTopicPartitioner{p.dflt.ForTopic(topic)}
}

func (p sourceTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Context != nil && r.Context.Value(explicitPartition{}) != nil
}

// OnNewBatch keeps the default partitioner's stickiness.
func (p sourceTopicPartitioner) OnNewBatch() {
	if nb, ok := p.dflt.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

func (p sourceTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Context != nil && r.Context.Value(explicitPartition{}) != nil {
		return int(r.Partition)
	}
	return p.dflt.Partition(r, n)
}

// newSourceTask returns a source task for the task configuration config
// of the connector configured by connConfig; its producer takes the
// worker's and the connector's producer settings (clients.go).
func newSourceTask(base *taskBase, task sdk.SourceTask, connConfig, config map[string]string, convs converters, chain *transform.Chain, errs *errorHandler, eos *eosTask) (*sourceTask, error) {
	w := base.w
	started := false
	defer func() {
		if !started {
			eos.close() // the connector's offsets topic reader (eos.go)
		}
	}()
	// Kafka's producer defaults (compression.type=none), then the
	// worker's producer.* and the connector's producer.override.*.
	opts, _, err := w.cfg.taskClientOpts(producerClient, connConfig, "connector-producer-"+base.id.String(), base.log,
		[]kgo.Opt{kgo.AllowAutoTopicCreation(), kgo.ProducerBatchCompression(kgo.NoCompression())}, nil, "key.serializer", "value.serializer")
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	opts = append(opts, kgo.RecordPartitioner(sourcePartitioner{kgo.StickyKeyPartitioner(nil)}))
	if eos != nil {
		opts = append(opts, eos.producerOpts()...)
	}
	creation, err := newTopicCreation(w.cfg, connConfig)
	if err != nil {
		return nil, err
	}
	producer, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	t := &sourceTask{
		taskBase: base,
		task:     task,
		config:   maps.Clone(config),
		convs:    convs,
		chain:    chain,
		errs:     errs,
		eos:      eos,
		producer: producer,
		writer:   newOffsetWriter(base.id.Connector),
		reader:   offsetReader{connector: base.id.Connector, store: w.offsets},
		topics:   map[string]bool{},
	}
	t.committer, _ = task.(sdk.SourceTaskCommitter)
	t.connConfig, t.creation = maps.Clone(connConfig), creation
	if eos != nil && eos.offsets != nil {
		t.reader.store = eos.offsets // the connector's own offsets topic first (eos.go)
	}
	started = true
	return t, nil
}

// Configs implements sdk.SourceTaskContext.
func (t *sourceTask) Configs() map[string]string { return maps.Clone(t.config) }

// OffsetStorageReader implements sdk.SourceTaskContext.
func (t *sourceTask) OffsetStorageReader() sdk.OffsetStorageReader { return t.reader }

func (t *sourceTask) run() {
	defer close(t.done)
	defer t.producer.Close()
	defer t.chain.Close()
	defer t.eos.close()
	if t.eos != nil && t.eos.preflight != nil { // zombie fencing (eos_fencing.go)
		if err := t.eos.preflight(t.ctx); err != nil {
			if t.ctx.Err() == nil {
				t.fail(err)
			}
			return
		}
	}
	t.task.Initialize(t)
	if err := safeCall(func() error { return t.task.Start(maps.Clone(t.config)) }); err != nil {
		t.fail(err)
		return
	}
	t.log.Info("Source task finished initialization and start")
	target, _ := t.target()
	if target == TargetPaused {
		t.report(StatePaused, nil)
	} else {
		t.report(StateRunning, nil)
	}

	commitCtx, stopCommitter := context.WithCancel(context.Background())
	var committer sync.WaitGroup
	if t.eos == nil {
		committer.Go(func() { t.commitLoop(commitCtx) })
	}

	err := t.loop()
	stopCommitter()
	committer.Wait()
	if err != nil {
		if t.eos != nil {
			t.abortTransaction()
		}
		t.fail(err)
		t.stopTask()
		return
	}
	if err := t.commit(); err != nil {
		t.log.Error("Final offset commit failed", "err", err)
	}
	t.stopTask()
	t.report(StateUnassigned, nil)
}

func (t *sourceTask) stopTask() {
	if err := safeCall(t.task.Stop); err != nil {
		t.log.Warn("Task threw an exception while stopping", "err", err)
	}
}

// loop polls and sends until the task is stopped; it returns the error
// that fails the task.
func (t *sourceTask) loop() error {
	for t.ctx.Err() == nil {
		if target, _ := t.target(); target == TargetPaused {
			if err := t.commit(); err != nil {
				if t.eos != nil {
					return err
				}
				t.log.Error("Offset commit before pausing failed", "err", err)
			}
			t.report(StatePaused, nil)
			if !t.awaitUnpause() {
				return nil
			}
			t.report(StateRunning, nil)
			continue
		}
		var recs []*sdk.SourceRecord
		err := safeCall(func() error {
			var err error
			recs, err = t.task.Poll(t.ctx)
			return err
		})
		if err != nil {
			if t.stopping(err) {
				return nil
			}
			return err
		}
		for _, r := range recs {
			if r == nil {
				continue
			}
			if err := t.send(r); err != nil {
				if t.stopping(err) {
					return nil // interrupted while retrying: not produced, not counted
				}
				return err
			}
			if err := t.afterRecord(r); err != nil { // transaction.boundary=connector (eos_txncontext.go)
				return err
			}
		}
		if err := t.sendError(); err != nil {
			return err
		}
		if t.eos != nil {
			if err := t.maybeCommitTransaction(); err != nil {
				return err
			}
		}
	}
	return nil
}

// commit commits what the task has sent: its transaction with
// exactly-once support, its offsets otherwise.
func (t *sourceTask) commit() error {
	if t.eos != nil {
		return t.commitTransaction()
	}
	return t.commitOffsets()
}

// setSendError records the first failed send.
func (t *sourceTask) setSendError(err error) {
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	if t.sendMu.err == nil {
		t.sendMu.err = err
	}
}

// send transforms, converts and produces one record and notes its
// offset. A record a transformation drops, or one whose transformation or
// conversion failed with errors.tolerance=all, is not produced but its
// offset counts as done, as in Kafka.
func (t *sourceTask) send(r *sdk.SourceRecord) error {
	kr, rec, err := t.transformAndConvert(r)
	if err != nil {
		return err
	}
	if kr == nil {
		if r.SourcePartition != nil {
			return t.writer.offset(r.SourcePartition, r.SourceOffset)
		}
		return nil
	}
	if err := t.maybeCreateTopic(kr.Topic); err != nil {
		return err
	}
	if rec.KafkaPartition != nil {
		kr.Partition = *rec.KafkaPartition
		kr.Context = context.WithValue(context.Background(), explicitPartition{}, true)
	}
	if t.eos != nil {
		if err := t.beginTransaction(); err != nil {
			return err
		}
	}
	src := r
	t.producer.Produce(context.Background(), kr, func(kr *kgo.Record, err error) {
		if err != nil && t.errs.cfg.tolerateAll && t.eos == nil {
			// Kafka's producerSendFailed with errors.tolerance=all: the
			// failure is reported and the record counts as done.
			t.errs.reportFailed(&processingContext{source: src, stage: stageKafkaProduce, class: sourceTaskClass, err: err})
			return
		}
		if err != nil {
			// Kafka's trace: the ConnectException thrown by the task's
			// next poll, caused by the producer's exception, which
			// names the record's topic.
			t.setSendError(fmt.Errorf("org.apache.kafka.connect.errors.ConnectException: Unrecoverable exception from producer send callback\nCaused by: %w",
				clientconfig.ClientException(kr.Topic, "", err)))
			return
		}
		if t.committer != nil {
			md := sdk.RecordMetadata{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Timestamp: kr.Timestamp}
			if err := safeCall(func() error { return t.committer.CommitRecord(src, md) }); err != nil {
				t.log.Warn("Exception thrown while calling task.commitRecord()", "err", err)
			}
		}
	})
	if t.w.cfg.TopicTracking && !t.topics[rec.Topic] {
		t.topics[rec.Topic] = true
		t.w.statuses.PutTopic(t.id.Connector, rec.Topic)
	}
	if r.SourcePartition != nil {
		return t.writer.offset(r.SourcePartition, r.SourceOffset)
	}
	return nil
}

// sourceTaskClass is the class Kafka names for failed sends.
const sourceTaskClass = "org.apache.kafka.connect.runtime.AbstractWorkerSourceTask"

// transformAndConvert runs r through the transformation chain and the
// converters, each step through the error handler. It returns a nil
// record when r is dropped or skipped, and an error that fails the task.
func (t *sourceTask) transformAndConvert(r *sdk.SourceRecord) (*kgo.Record, sdk.Record, error) {
	pc := &processingContext{source: r}
	skip := func(ok bool, err error) bool { return !ok || err != nil }
	tr := &transform.Record{Record: r.Record}
	for _, s := range t.chain.Stages {
		var out *transform.Record
		ok, err := t.errs.execute(t.ctx, pc, stageTransformation, s.Class, func() error {
			var err error
			out, err = s.Apply(tr)
			return err
		})
		if skip(ok, err) {
			return nil, sdk.Record{}, err
		}
		if out == nil {
			return nil, sdk.Record{}, nil
		}
		tr = out
	}
	rec := tr.Record
	kr := &kgo.Record{Topic: rec.Topic, Timestamp: rec.Timestamp}
	ok, err := t.errs.execute(t.ctx, pc, stageKeyConverter, t.convs.keyClass, func() error {
		var err error
		if kr.Key, err = t.convs.key.FromConnectData(rec.Topic, rec.KeySchema, rec.Key); err != nil {
			return fmt.Errorf("key converter failed for topic %s: %w", rec.Topic, err)
		}
		return nil
	})
	if skip(ok, err) {
		return nil, rec, err
	}
	ok, err = t.errs.execute(t.ctx, pc, stageValueConverter, t.convs.valueClass, func() error {
		var err error
		if kr.Value, err = t.convs.value.FromConnectData(rec.Topic, rec.ValueSchema, rec.Value); err != nil {
			return fmt.Errorf("value converter failed for topic %s: %w", rec.Topic, err)
		}
		return nil
	})
	if skip(ok, err) {
		return nil, rec, err
	}
	ok, err = t.errs.execute(t.ctx, pc, stageHeaderConverter, t.convs.headerClass, func() error {
		kr.Headers = kr.Headers[:0]
		for _, h := range rec.Headers {
			hv, err := t.convs.header.FromConnectHeader(rec.Topic, h.Key, h.Schema, h.Value)
			if err != nil {
				return fmt.Errorf("header converter failed for header %s: %w", h.Key, err)
			}
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: hv})
		}
		return nil
	})
	if skip(ok, err) {
		return nil, rec, err
	}
	return kr, rec, nil
}

func (t *sourceTask) sendError() error {
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	return t.sendMu.err
}

// commitLoop commits offsets every offset.flush.interval.ms until ctx is
// done.
func (t *sourceTask) commitLoop(ctx context.Context) {
	ticker := time.NewTicker(t.w.cfg.OffsetFlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := t.commitOffsets(); err != nil {
				t.log.Error("Offset commit failed", "err", err)
			}
		}
	}
}

// commitOffsets stores the offsets of the records produced so far once
// they are all acknowledged (Kafka's WorkerSourceTask.commitOffsets).
func (t *sourceTask) commitOffsets() error {
	t.commitMu.Lock()
	defer t.commitMu.Unlock()
	entries := t.writer.take()
	ctx, cancel := context.WithTimeout(context.Background(), t.w.cfg.OffsetFlushTimeout)
	defer cancel()
	if err := t.producer.Flush(ctx); err != nil {
		t.writer.restore(entries)
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("timed out while waiting for producer to flush outstanding messages: %w", err)
		}
		return fmt.Errorf("flush producer: %w", err)
	}
	if err := t.sendError(); err != nil {
		return fmt.Errorf("not committing offsets after a failed send: %w", err)
	}
	if len(entries) > 0 {
		if err := t.w.offsets.Set(entries); err != nil {
			t.writer.restore(entries)
			return fmt.Errorf("store offsets: %w", err)
		}
		t.log.Debug("Finished committing offsets", "partitions", len(entries))
	} else {
		t.log.Debug("Either no records were produced by the task since the last offset commit, or every record has been filtered out by a transformation or dropped due to transformation or conversion errors.")
	}
	if t.committer != nil {
		if err := safeCall(t.committer.Commit); err != nil {
			t.log.Warn("Exception thrown while calling task.commit()", "err", err)
		}
	}
	return nil
}
