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
)

// sourceTask runs a SourceTask (Kafka's WorkerSourceTask, at-least-once):
// it polls records, converts them and produces them through its own kgo
// producer, and stores each source partition's latest offset once every
// record before it is acknowledged.
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
	chain     transformChain
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

func newSourceTask(base *taskBase, task sdk.SourceTask, config map[string]string, convs converters, chain transformChain) (*sourceTask, error) {
	w := base.w
	producer, err := kgo.NewClient(
		kgo.SeedBrokers(w.cfg.BootstrapServers...),
		kgo.ClientID(clientID(w.cfg, "connector-producer-"+base.id.String())),
		kgo.AllowAutoTopicCreation(),
		kgo.RecordPartitioner(sourcePartitioner{kgo.StickyKeyPartitioner(nil)}),
	)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	t := &sourceTask{
		taskBase: base,
		task:     task,
		config:   maps.Clone(config),
		convs:    convs,
		chain:    chain,
		producer: producer,
		writer:   newOffsetWriter(base.id.Connector),
		reader:   offsetReader{connector: base.id.Connector, store: w.offsets},
		topics:   map[string]bool{},
	}
	t.committer, _ = task.(sdk.SourceTaskCommitter)
	return t, nil
}

// Configs implements sdk.SourceTaskContext.
func (t *sourceTask) Configs() map[string]string { return maps.Clone(t.config) }

// OffsetStorageReader implements sdk.SourceTaskContext.
func (t *sourceTask) OffsetStorageReader() sdk.OffsetStorageReader { return t.reader }

func (t *sourceTask) run() {
	defer close(t.done)
	defer t.producer.Close()
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
	committer.Go(func() { t.commitLoop(commitCtx) })

	err := t.loop()
	stopCommitter()
	committer.Wait()
	if err != nil {
		t.fail(err)
		t.stopTask()
		return
	}
	if err := t.commitOffsets(); err != nil {
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
			if err := t.commitOffsets(); err != nil {
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
				return err
			}
		}
		if err := t.sendError(); err != nil {
			return err
		}
	}
	return nil
}

// send converts and produces one record and notes its offset.
func (t *sourceTask) send(r *sdk.SourceRecord) error {
	rec, keep, err := t.chain.apply(r.Record)
	if err != nil {
		return err
	}
	if !keep {
		return t.writer.offset(r.SourcePartition, r.SourceOffset)
	}
	key, err := t.convs.key.FromConnectData(rec.Topic, rec.KeySchema, rec.Key)
	if err != nil {
		return fmt.Errorf("key converter failed for topic %s: %w", rec.Topic, err)
	}
	value, err := t.convs.value.FromConnectData(rec.Topic, rec.ValueSchema, rec.Value)
	if err != nil {
		return fmt.Errorf("value converter failed for topic %s: %w", rec.Topic, err)
	}
	kr := &kgo.Record{Topic: rec.Topic, Key: key, Value: value, Timestamp: rec.Timestamp}
	for _, h := range rec.Headers {
		hv, err := t.convs.header.FromConnectHeader(rec.Topic, h.Key, h.Schema, h.Value)
		if err != nil {
			return fmt.Errorf("header converter failed for header %s: %w", h.Key, err)
		}
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: hv})
	}
	if rec.KafkaPartition != nil {
		kr.Partition = *rec.KafkaPartition
		kr.Context = context.WithValue(context.Background(), explicitPartition{}, true)
	}
	src := r
	t.producer.Produce(context.Background(), kr, func(kr *kgo.Record, err error) {
		if err != nil {
			t.sendMu.Lock()
			if t.sendMu.err == nil {
				t.sendMu.err = fmt.Errorf("send to %s failed: %w", kr.Topic, err)
			}
			t.sendMu.Unlock()
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
	}
	if t.committer != nil {
		if err := safeCall(t.committer.Commit); err != nil {
			t.log.Warn("Exception thrown while calling task.commit()", "err", err)
		}
	}
	return nil
}
