package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The Kafka-backed stores of a distributed worker (Kafka's
// KafkaConfigBackingStore, KafkaOffsetBackingStore and
// KafkaStatusBackingStore) share kafkaLog (Kafka's KafkaBasedLog): a
// compacted topic that the store reads from the beginning to the end when
// it opens and then keeps consuming, in a goroutine the store owns, so
// that every worker's copy follows what any worker writes.
//
//	      Put*/Set ─▶ producer (acks=all) ─▶ topic ─▶ consumer goroutine ─▶ apply ─▶ store state
//	                                                     ▲
//	 readToEnd: ListOffsets(latest), then wait until ────┘ every partition's position reaches it

// topicSpec is how to create a store's topic if it is missing.
type topicSpec struct {
	name       string
	partitions int32 // -1: the broker's default
	replicas   int16 // -1: the broker's default
}

// kafkaLog is a topic read from the beginning and followed (Kafka's
// KafkaBasedLog). It is safe for concurrent use; apply is called from its
// one consuming goroutine, in offset order within each partition.
type kafkaLog struct {
	topic  string
	log    *slog.Logger
	cl     *kgo.Client // produces and consumes
	admin  *kadm.Client
	apply  func(r *kgo.Record)
	cancel context.CancelFunc
	done   chan struct{} // closed when the consuming goroutine returns

	mu struct {
		sync.Mutex
		// positions are the next offsets to read, by partition.
		positions map[int32]int64
		// advanced is closed and replaced whenever positions move.
		advanced chan struct{}
		closed   bool
	}
}

// openKafkaLog creates the topic if it is missing (compacted), starts
// consuming it from the beginning and reads it to the end. apply sees
// every record.
// Its client takes the worker's client settings (Config.workerClientOpts)
// and the id clientID(cfg, id).
func openKafkaLog(ctx context.Context, cfg *Config, id string, spec topicSpec, log *slog.Logger, apply func(*kgo.Record)) (*kafkaLog, error) {
	base, err := cfg.workerClientOpts(id)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", spec.name, err)
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumeTopics(spec.name),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // Kafka's murmur2 of the key
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond),
		// Exactly-once source tasks write offsets in transactions
		// (eos.go): read only committed ones, and see the transaction
		// markers so that positions reach the last stable offset.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", spec.name, err)
	}
	l := &kafkaLog{topic: spec.name, log: log.With("topic", spec.name), cl: cl, admin: kadm.NewClient(cl), apply: apply, done: make(chan struct{})}
	l.mu.positions = map[int32]int64{}
	l.mu.advanced = make(chan struct{})
	if err := l.ensureTopic(ctx, spec); err != nil {
		cl.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(runCtx)
	if err := l.readToEnd(ctx); err != nil {
		l.Close()
		return nil, fmt.Errorf("read %s to the end: %w", spec.name, err)
	}
	return l, nil
}

// ensureTopic creates the topic, compacted, unless it exists (Kafka's
// TopicAdmin.createOrFindTopics), retrying while the cluster is not ready.
func (l *kafkaLog) ensureTopic(ctx context.Context, spec topicSpec) error {
	compact := "compact"
	for {
		resp, err := l.admin.CreateTopic(ctx, spec.partitions, spec.replicas, map[string]*string{"cleanup.policy": &compact}, spec.name)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			l.log.Info("Created topic", "partitions", spec.partitions, "replication.factor", spec.replicas)
			return nil
		case errors.Is(err, kerr.TopicAlreadyExists):
			return nil
		case errors.Is(err, kerr.InvalidReplicationFactor), errors.Is(err, kerr.InvalidPartitions), errors.Is(err, kerr.PolicyViolation), errors.Is(err, kerr.TopicAuthorizationFailed):
			return fmt.Errorf("create topic %s: %w", spec.name, err)
		}
		l.log.Warn("Retrying to create topic", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("create topic %s: %w", spec.name, errors.Join(err, ctx.Err()))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// partitionCount returns the topic's number of partitions.
func (l *kafkaLog) partitionCount(ctx context.Context) (int, error) {
	ends, err := l.endOffsets(ctx)
	if err != nil {
		return 0, err
	}
	return len(ends), nil
}

// run consumes until ctx is cancelled.
func (l *kafkaLog) run(ctx context.Context) {
	defer close(l.done)
	for {
		fs := l.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				l.log.Warn("Error reading the topic", "partition", p, "err", err)
			}
		})
		moved := false
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			for _, r := range p.Records {
				if !r.Attrs.IsControl() {
					l.apply(r)
				}
			}
			l.mu.Lock()
			l.mu.positions[p.Partition] = p.Records[len(p.Records)-1].Offset + 1
			l.mu.Unlock()
			moved = true
		})
		if moved {
			l.mu.Lock()
			close(l.mu.advanced)
			l.mu.advanced = make(chan struct{})
			l.mu.Unlock()
		}
	}
}

// endOffsets returns each partition's end offset, retrying while the
// topic's metadata is not known yet.
func (l *kafkaLog) endOffsets(ctx context.Context) (map[int32]int64, error) {
	for {
		// The last stable offset: as far as a read_committed consumer
		// reads (the high watermark without open transactions).
		listed, err := l.admin.ListCommittedOffsets(ctx, l.topic)
		if err == nil {
			err = listed.Error()
		}
		if err == nil {
			out := map[int32]int64{}
			listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
			if len(out) > 0 {
				return out, nil
			}
			err = kerr.UnknownTopicOrPartition
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readToEnd waits until every record that was in the topic when it was
// called has been applied (Kafka's KafkaBasedLog.readToEnd).
func (l *kafkaLog) readToEnd(ctx context.Context) error {
	ends, err := l.endOffsets(ctx)
	if err != nil {
		return err
	}
	return l.waitFor(ctx, ends)
}

// waitFor waits until each partition's position reaches offsets.
func (l *kafkaLog) waitFor(ctx context.Context, offsets map[int32]int64) error {
	for {
		l.mu.Lock()
		if l.mu.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		reached := true
		for p, end := range offsets {
			if l.mu.positions[p] < end {
				reached = false
				break
			}
		}
		advanced := l.mu.advanced
		l.mu.Unlock()
		if reached {
			return nil
		}
		select {
		case <-advanced:
		case <-l.done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// send produces records (a nil Value is a tombstone), in order, waiting
// for every one to be acknowledged by all in-sync replicas. It returns
// the offset after each partition's last record.
func (l *kafkaLog) send(ctx context.Context, recs ...*kgo.Record) (map[int32]int64, error) {
	for _, r := range recs {
		r.Topic = l.topic
	}
	results := l.cl.ProduceSync(ctx, recs...)
	if err := results.FirstErr(); err != nil {
		return nil, fmt.Errorf("write to %s: %w", l.topic, err)
	}
	after := map[int32]int64{}
	for _, r := range results {
		if r.Record.Offset+1 > after[r.Record.Partition] {
			after[r.Record.Partition] = r.Record.Offset + 1
		}
	}
	return after, nil
}

// sendAsync produces one record without waiting; failures are logged.
func (l *kafkaLog) sendAsync(r *kgo.Record) {
	r.Topic = l.topic
	l.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err != nil && !errors.Is(err, kgo.ErrClientClosed) {
			l.log.Error("Failed to write to the topic", "key", string(r.Key), "err", err)
		}
	})
}

// Close flushes pending writes (for a bounded time), stops consuming and
// closes the client.
func (l *kafkaLog) Close() {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return
	}
	l.mu.closed = true
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	l.cl.Flush(ctx)
	cancel()
	if l.cancel != nil {
		l.cancel()
		<-l.done
	}
	l.cl.Close()
}
