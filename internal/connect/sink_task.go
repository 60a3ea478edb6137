package connect

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/connect/transform"
	"github.com/gregor-streaming/gregor/internal/clientconfig"
)

// sinkTask runs a SinkTask (Kafka's WorkerSinkTask): a kgo consumer in
// the group "connect-<connector>" polls records, which are converted and
// transformed (failures go through the error handler: skipped, and sent
// to the dead letter queue, or failing the task) and Put; every
// offset.flush.interval.ms (and when the task asks, before partitions are
// revoked, and on stop) the task is flushed and the next offsets of what
// it was given are committed to the group. An error the consumer reports
// that Kafka's consumer throws from poll (no READ on a topic or on the
// group, a failed login: clientconfig.IsFatalConsumerError) fails the
// task with Kafka's exception as the trace; retriable ones are logged.
//
// The consumer blocks rebalances while a polled batch is processed
// (kgo.BlockRebalanceOnPoll), so the rebalance callbacks (Open, Close and
// the commit before a revocation) never run concurrently with Put. All
// calls into the task hold mu.
type sinkTask struct {
	*taskBase
	task    sdk.SinkTask
	config  map[string]string
	convs   converters
	chain   *transform.Chain
	errs    *errorHandler
	dlq     *dlqReporter // nil without errors.deadletterqueue.topic.name
	client  *kgo.Client  // created by run once the task started
	opts    []kgo.Opt
	maxPoll int
	parts   sdk.SinkTaskPartitions   // nil if the task is not one
	pre     sdk.SinkTaskPreCommitter // nil if the task is not one

	mu struct {
		sync.Mutex
		assigned  map[sdk.TopicPartition]bool
		current   map[sdk.TopicPartition]int64 // next offset after the records Put
		committed map[sdk.TopicPartition]int64 // last committed next offset
		paused    bool                         // the connector is paused
		closed    bool                         // final commit done; callbacks do nothing
		started   bool                         // task.Start succeeded
	}
	// ctxMu guards what the task sets through its context; the task calls
	// the context from Put, with mu held.
	ctxMu struct {
		sync.Mutex
		resets          map[sdk.TopicPartition]int64
		timeout         time.Duration
		userPaused      map[sdk.TopicPartition]bool
		commitRequested bool
		assignment      []sdk.TopicPartition // a copy of mu.assigned
	}
	topics map[string]bool // topics reported active; run goroutine only
}

// newSinkTask returns a sink task for the task configuration config of
// the connector configured by connConfig; its consumer takes the worker's
// and the connector's consumer settings (clients.go).
func newSinkTask(base *taskBase, task sdk.SinkTask, connConfig, config map[string]string, convs converters, chain *transform.Chain, errs *errorHandler, dlq *dlqReporter) (*sinkTask, error) {
	w := base.w
	t := &sinkTask{taskBase: base, task: task, config: maps.Clone(config), convs: convs, chain: chain, errs: errs, dlq: dlq, maxPoll: 500, topics: map[string]bool{}}
	t.parts, _ = task.(sdk.SinkTaskPartitions)
	t.pre, _ = task.(sdk.SinkTaskPreCommitter)
	t.mu.assigned = map[sdk.TopicPartition]bool{}
	t.mu.current = map[sdk.TopicPartition]int64{}
	t.mu.committed = map[sdk.TopicPartition]int64{}
	t.ctxMu.resets = map[sdk.TopicPartition]int64{}
	t.ctxMu.userPaused = map[sdk.TopicPartition]bool{}

	// Kafka's sink consumer defaults (Worker.baseConsumerConfigs): read
	// from the earliest offset; the worker's consumer.* settings and the
	// connector's consumer.override.* win over them. The group is always
	// the connector's (the offsets REST API reads it).
	opts, props, err := w.cfg.taskClientOpts(consumerClient, connConfig, "connector-consumer-"+base.id.String(), base.log,
		[]kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(time.Second)},
		map[string]string{"group.id": groupID(base.id.Connector)}, // so that the group settings apply
		"max.poll.records", "key.deserializer", "value.deserializer", "allow.auto.create.topics")
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	if t.maxPoll, err = clientconfig.MaxPollRecords(props); err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	// What Connect itself needs: the connector's group, commits only
	// after the task's flush, and the rebalance callbacks.
	opts = append(opts,
		kgo.ConsumerGroup(groupID(base.id.Connector)),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(t.onAssigned),
		kgo.OnPartitionsRevoked(t.onRevoked),
		kgo.OnPartitionsLost(t.onLost),
	)
	if re := trimmed(config[topicsRegexConfig]); re != "" {
		// Java's Pattern.matches matches the whole topic name.
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+re+")$"))
	} else {
		var topics []string
		for _, s := range strings.Split(config[topicsConfig], ",") {
			if s = trimmed(s); s != "" {
				topics = append(topics, s)
			}
		}
		if len(topics) == 0 {
			return nil, errors.New("Must configure one of topics or topics.regex")
		}
		// Kafka's consumer creates a missing topic it subscribes to
		// (allow.auto.create.topics defaults to true).
		opts = append(opts, kgo.ConsumeTopics(topics...), kgo.AllowAutoTopicCreation())
	}
	t.opts = opts
	return t, nil
}

// groupID is a sink connector's consumer group (Kafka's
// SinkUtils.consumerGroupId).
func groupID(connector string) string { return "connect-" + connector }

func (t *sinkTask) run() {
	defer close(t.done)
	defer t.chain.Close()
	if t.dlq != nil {
		defer t.dlq.close()
	}
	t.task.Initialize(t)
	if err := safeCall(func() error { return t.task.Start(maps.Clone(t.config)) }); err != nil {
		t.fail(err)
		return
	}
	t.mu.Lock()
	t.mu.started = true
	t.mu.Unlock()
	// The consumer joins the group as soon as it exists, so it is created
	// after Start: partitions are never assigned (Open) before it (Kafka
	// subscribes after SinkTask.start too).
	cl, err := kgo.NewClient(t.opts...)
	if err != nil {
		t.fail(fmt.Errorf("consumer: %w", err))
		t.stopTask()
		return
	}
	t.client = cl
	t.log.Info("Sink task finished initialization and start")
	err = t.loop()
	if err != nil {
		t.fail(err)
	}
	t.mu.Lock()
	if err == nil {
		if cerr := t.commitLocked(nil, true); cerr != nil {
			t.log.Error("Final offset commit failed", "err", cerr)
		}
		t.closePartitionsLocked(t.assignedLocked())
	}
	t.mu.closed = true
	t.mu.Unlock()
	t.stopTask()
	t.closeClient()
	if err == nil {
		t.report(StateUnassigned, nil)
	}
}

// stopTask calls the task's Stop under mu.
func (t *sinkTask) stopTask() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if serr := safeCall(t.task.Stop); serr != nil {
		t.log.Warn("Task threw an exception while stopping", "err", serr)
	}
}

// closeClient leaves the group and closes the consumer.
func (t *sinkTask) closeClient() {
	if t.client == nil {
		return
	}
	t.mu.Lock()
	t.mu.closed = true
	t.mu.Unlock()
	t.client.Close()
}

// loop polls and delivers until the task is stopped; it returns the error
// that fails the task.
func (t *sinkTask) loop() error {
	nextCommit := time.Now().Add(t.w.cfg.OffsetFlushInterval)
	running := false
	for t.ctx.Err() == nil {
		target, changed := t.target()
		if target == TargetPaused {
			t.setPaused(true)
			t.report(StatePaused, nil)
			running = false
			t.client.AllowRebalance()
			select {
			case <-t.ctx.Done():
				return nil
			case <-changed:
			}
			continue
		}
		if !running {
			t.setPaused(false)
			t.report(StateRunning, nil)
			running = true
		}
		pollCtx, cancel := context.WithDeadline(t.ctx, nextCommit)
		fetches := t.client.PollRecords(pollCtx, t.maxPoll)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		fetchErr := t.pollError(fetches)
		if fetchErr == nil {
			fetchErr = t.deliver(fetches.Records())
		}
		if fetchErr == nil && (time.Now().After(nextCommit) || t.takeCommitRequest()) {
			t.mu.Lock()
			if err := t.commitLocked(nil, false); err != nil {
				t.log.Error("Offset commit failed", "err", err)
			}
			t.mu.Unlock()
			nextCommit = time.Now().Add(t.w.cfg.OffsetFlushInterval)
		}
		t.client.AllowRebalance()
		if fetchErr != nil {
			return fetchErr
		}
	}
	return nil
}

// pollError returns the error Kafka's consumer would throw from this
// poll, which fails the task: a non-retriable one such as a
// TopicAuthorizationException (no READ on a topic) or a
// GroupAuthorizationException (no READ on the connector's group), as
// Kafka's exception (clientconfig.ClientException). The poll's records
// are then not delivered, as Kafka's poll returns none when it throws.
// Retriable errors are logged and the consumer keeps retrying them.
func (t *sinkTask) pollError(fetches kgo.Fetches) error {
	var fatal error
	fetches.EachError(func(topic string, p int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if clientconfig.IsFatalConsumerError(err) {
			if fatal == nil {
				fatal = clientconfig.ClientException(topic, groupID(t.id.Connector), err)
			}
			return
		}
		t.log.Warn("Fetch error", "topic", topic, "partition", p, "err", err)
	})
	return fatal
}

func (t *sinkTask) takeCommitRequest() bool {
	t.ctxMu.Lock()
	defer t.ctxMu.Unlock()
	r := t.ctxMu.commitRequested
	t.ctxMu.commitRequested = false
	return r
}

// deliver converts records and Puts them, retrying a retriable failure.
func (t *sinkTask) deliver(recs []*kgo.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.applyResetsLocked()
	if len(recs) == 0 {
		return nil
	}
	batch := make([]*sdk.SinkRecord, 0, len(recs))
	next := map[sdk.TopicPartition]int64{}
	for _, kr := range recs {
		tp := sdk.TopicPartition{Topic: kr.Topic, Partition: kr.Partition}
		if !t.mu.assigned[tp] {
			continue // revoked meanwhile
		}
		next[tp] = kr.Offset + 1
		sr, keep, err := t.convert(kr)
		if err != nil {
			if t.stopping(err) {
				return nil // stopping: nothing was committed for this batch
			}
			return err
		}
		if keep {
			batch = append(batch, sr)
		}
		if t.w.cfg.TopicTracking && !t.topics[kr.Topic] {
			t.topics[kr.Topic] = true
			t.w.statuses.PutTopic(t.id.Connector, kr.Topic)
		}
	}
	for {
		err := safeCall(func() error { return t.task.Put(batch) })
		if err == nil {
			break
		}
		if !errors.Is(err, sdk.ErrRetriable) {
			return err
		}
		t.log.Warn("RetriableException from SinkTask; will retry", "err", err)
		timer := time.NewTimer(t.retryTimeout())
		select {
		case <-t.ctx.Done():
			timer.Stop()
			return nil // stopping: nothing was committed for this batch
		case <-timer.C:
		}
	}
	for tp, off := range next {
		t.mu.current[tp] = off
	}
	t.applyResetsLocked()
	return nil
}

func (t *sinkTask) retryTimeout() time.Duration {
	t.ctxMu.Lock()
	defer t.ctxMu.Unlock()
	if t.ctxMu.timeout > 0 {
		return t.ctxMu.timeout
	}
	return 100 * time.Millisecond
}

// convert turns a consumed record into a SinkRecord through the
// converters and the transformation chain (Kafka's
// WorkerSinkTask.convertAndTransformRecord), each step through the error
// handler. keep is false when a transformation dropped the record or a
// tolerated error skipped it (after it was reported, to the DLQ too); an
// error fails the task.
func (t *sinkTask) convert(kr *kgo.Record) (*sdk.SinkRecord, bool, error) {
	pc := &processingContext{consumed: kr}
	var key, value sdk.SchemaAndValue
	ok, err := t.errs.execute(t.ctx, pc, stageKeyConverter, t.convs.keyClass, func() error {
		var err error
		if key, err = t.convs.key.ToConnectData(kr.Topic, kr.Key); err != nil {
			return fmt.Errorf("key converter failed for %s-%d at offset %d: %w", kr.Topic, kr.Partition, kr.Offset, err)
		}
		return nil
	})
	if !ok || err != nil {
		return nil, false, err
	}
	ok, err = t.errs.execute(t.ctx, pc, stageValueConverter, t.convs.valueClass, func() error {
		var err error
		if value, err = t.convs.value.ToConnectData(kr.Topic, kr.Value); err != nil {
			return fmt.Errorf("value converter failed for %s-%d at offset %d: %w", kr.Topic, kr.Partition, kr.Offset, err)
		}
		return nil
	})
	if !ok || err != nil {
		return nil, false, err
	}
	var headers sdk.Headers
	ok, err = t.errs.execute(t.ctx, pc, stageHeaderConverter, t.convs.headerClass, func() error {
		headers = nil
		for _, h := range kr.Headers {
			sv, err := t.convs.header.ToConnectHeader(kr.Topic, h.Key, h.Value)
			if err != nil {
				return fmt.Errorf("header converter failed for header %s: %w", h.Key, err)
			}
			headers.Add(h.Key, sv.Schema, sv.Value)
		}
		return nil
	})
	if !ok || err != nil {
		return nil, false, err
	}
	partition := kr.Partition
	tr := &transform.Record{Record: sdk.Record{
		Topic: kr.Topic, KafkaPartition: &partition,
		KeySchema: key.Schema, Key: key.Value,
		ValueSchema: value.Schema, Value: value.Value,
		Timestamp: kr.Timestamp, Headers: headers,
	}, Sink: true, KafkaOffset: kr.Offset}
	for _, s := range t.chain.Stages {
		var out *transform.Record
		ok, err := t.errs.execute(t.ctx, pc, stageTransformation, s.Class, func() error {
			var err error
			out, err = s.Apply(tr)
			return err
		})
		if !ok || err != nil {
			return nil, false, err
		}
		if out == nil {
			return nil, false, nil
		}
		tr = out
	}
	return &sdk.SinkRecord{
		Record: tr.Record, KafkaOffset: kr.Offset, TimestampType: timestampType(kr),
		OriginalTopic: kr.Topic, OriginalKafkaPartition: kr.Partition, OriginalKafkaOffset: kr.Offset,
	}, true, nil
}

// commitLocked flushes the task and commits its offsets for partitions (nil
// for all assigned). A failed flush rewinds the consumer to the last
// committed offsets, as Kafka does, so the records are delivered again.
// final skips the rewind.
func (t *sinkTask) commitLocked(partitions []sdk.TopicPartition, final bool) error {
	if !t.mu.started {
		return nil
	}
	if partitions == nil {
		partitions = t.assignedLocked()
	}
	offsets := map[sdk.TopicPartition]int64{}
	for _, tp := range partitions {
		if off, ok := t.mu.current[tp]; ok {
			offsets[tp] = off
		}
	}
	var commit map[sdk.TopicPartition]int64
	err := safeCall(func() error {
		if t.pre != nil {
			var err error
			commit, err = t.pre.PreCommit(maps.Clone(offsets))
			return err
		}
		commit = offsets
		return t.task.Flush(maps.Clone(offsets))
	})
	if err != nil {
		if !final {
			t.rewindLocked(partitions)
		}
		return fmt.Errorf("offset commit failed, rewinding to last committed offsets: %w", err)
	}
	uncommitted := map[string]map[int32]kgo.EpochOffset{}
	for tp, off := range commit {
		if last, ok := t.mu.committed[tp]; ok && last == off {
			continue
		}
		if uncommitted[tp.Topic] == nil {
			uncommitted[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		uncommitted[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	if len(uncommitted) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.w.cfg.OffsetFlushTimeout)
	defer cancel()
	if t.dlq != nil {
		// Records skipped to the dead letter queue must be in it before
		// their offsets are committed.
		if err := t.dlq.flush(ctx); err != nil {
			return fmt.Errorf("flush dead letter queue producer: %w", err)
		}
	}
	var commitErr error
	t.client.CommitOffsetsSync(ctx, uncommitted, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if e := kerr.ErrorForCode(rp.ErrorCode); e != nil && commitErr == nil {
					commitErr = fmt.Errorf("commit %s-%d: %w", rt.Topic, rp.Partition, e)
				}
			}
		}
	})
	if commitErr != nil {
		return fmt.Errorf("commit offsets: %w", commitErr)
	}
	for topic, ps := range uncommitted {
		for p, eo := range ps {
			t.mu.committed[sdk.TopicPartition{Topic: topic, Partition: p}] = eo.Offset
		}
	}
	t.log.Debug("Committed offsets", "offsets", formatOffsets(commit))
	return nil
}

func formatOffsets(m map[sdk.TopicPartition]int64) string {
	parts := make([]string, 0, len(m))
	for tp, off := range m {
		parts = append(parts, tp.String()+"="+strconv.FormatInt(off, 10))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// rewindLocked seeks partitions back to their last committed offsets.
func (t *sinkTask) rewindLocked(partitions []sdk.TopicPartition) {
	set := map[string]map[int32]kgo.EpochOffset{}
	for _, tp := range partitions {
		off, ok := t.mu.committed[tp]
		if !ok {
			continue
		}
		if set[tp.Topic] == nil {
			set[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		t.mu.current[tp] = off
	}
	if len(set) > 0 {
		t.client.SetOffsets(set)
	}
}

// applyResetsLocked applies offsets the task set with Offset.
func (t *sinkTask) applyResetsLocked() {
	t.ctxMu.Lock()
	resets := t.ctxMu.resets
	t.ctxMu.resets = map[sdk.TopicPartition]int64{}
	t.ctxMu.Unlock()
	set := map[string]map[int32]kgo.EpochOffset{}
	for tp, off := range resets {
		if !t.mu.assigned[tp] {
			continue
		}
		if set[tp.Topic] == nil {
			set[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		t.mu.current[tp] = off
	}
	if len(set) > 0 {
		t.client.SetOffsets(set)
	}
}

func (t *sinkTask) assignedLocked() []sdk.TopicPartition {
	out := make([]sdk.TopicPartition, 0, len(t.mu.assigned))
	for tp := range t.mu.assigned {
		out = append(out, tp)
	}
	sortTPs(out)
	return out
}

func sortTPs(tps []sdk.TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

func toTPs(m map[string][]int32) []sdk.TopicPartition {
	var out []sdk.TopicPartition
	for topic, ps := range m {
		for _, p := range ps {
			out = append(out, sdk.TopicPartition{Topic: topic, Partition: p})
		}
	}
	sortTPs(out)
	return out
}

// onAssigned opens newly assigned partitions (kgo callback).
func (t *sinkTask) onAssigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed || !t.mu.started {
		return
	}
	tps := toTPs(assigned)
	for _, tp := range tps {
		t.mu.assigned[tp] = true
	}
	t.publishAssignmentLocked()
	t.log.Info("Partitions assigned", "partitions", fmt.Sprint(tps))
	if t.parts != nil {
		if err := safeCall(func() error { return t.parts.Open(tps) }); err != nil {
			t.log.Error("SinkTask.open failed", "err", err)
		}
	}
	if t.mu.paused {
		cl.PauseFetchPartitions(assigned)
	} else {
		t.ctxMu.Lock()
		paused := map[string][]int32{}
		for tp := range t.ctxMu.userPaused {
			if t.mu.assigned[tp] {
				paused[tp.Topic] = append(paused[tp.Topic], tp.Partition)
			}
		}
		t.ctxMu.Unlock()
		if len(paused) > 0 {
			cl.PauseFetchPartitions(paused)
		}
	}
}

// onRevoked commits and closes revoked partitions (kgo callback).
func (t *sinkTask) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed || !t.mu.started {
		return
	}
	tps := t.ownedLocked(toTPs(revoked))
	if len(tps) == 0 {
		return
	}
	t.log.Info("Partitions revoked", "partitions", fmt.Sprint(tps))
	if err := t.commitLocked(tps, true); err != nil {
		t.log.Error("Commit of offsets before revocation failed", "err", err)
	}
	t.closePartitionsLocked(tps)
}

// onLost closes lost partitions without committing (kgo callback).
func (t *sinkTask) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed || !t.mu.started {
		return
	}
	tps := t.ownedLocked(toTPs(lost))
	t.log.Info("Partitions lost", "partitions", fmt.Sprint(tps))
	t.closePartitionsLocked(tps)
}

func (t *sinkTask) ownedLocked(tps []sdk.TopicPartition) []sdk.TopicPartition {
	var out []sdk.TopicPartition
	for _, tp := range tps {
		if t.mu.assigned[tp] {
			out = append(out, tp)
		}
	}
	return out
}

// closePartitionsLocked tells the task it no longer owns partitions.
func (t *sinkTask) closePartitionsLocked(tps []sdk.TopicPartition) {
	if len(tps) == 0 {
		return
	}
	if t.parts != nil {
		if err := safeCall(func() error { return t.parts.Close(tps) }); err != nil {
			t.log.Error("SinkTask.close failed", "err", err)
		}
	}
	for _, tp := range tps {
		delete(t.mu.assigned, tp)
		delete(t.mu.current, tp)
		delete(t.mu.committed, tp)
	}
	t.publishAssignmentLocked()
}

// setPaused pauses or resumes fetching of every assigned partition for
// the connector's pause.
func (t *sinkTask) setPaused(paused bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.paused = paused
	all := map[string][]int32{}
	for tp := range t.mu.assigned {
		t.ctxMu.Lock()
		userPaused := t.ctxMu.userPaused[tp]
		t.ctxMu.Unlock()
		if paused || !userPaused {
			all[tp.Topic] = append(all[tp.Topic], tp.Partition)
		}
	}
	if len(all) == 0 {
		return
	}
	if paused {
		t.client.PauseFetchPartitions(all)
	} else {
		t.client.ResumeFetchPartitions(all)
	}
}

// Configs implements sdk.SinkTaskContext.
func (t *sinkTask) Configs() map[string]string { return maps.Clone(t.config) }

// Offset implements sdk.SinkTaskContext.
func (t *sinkTask) Offset(tp sdk.TopicPartition, offset int64) {
	t.ctxMu.Lock()
	t.ctxMu.resets[tp] = offset
	t.ctxMu.Unlock()
}

// Timeout implements sdk.SinkTaskContext.
func (t *sinkTask) Timeout(d time.Duration) {
	t.ctxMu.Lock()
	t.ctxMu.timeout = d
	t.ctxMu.Unlock()
}

// Assignment implements sdk.SinkTaskContext. The task calls it from Put,
// Open or Close, when mu is held on its behalf, so it reads the copy kept
// under ctxMu.
func (t *sinkTask) Assignment() []sdk.TopicPartition {
	t.ctxMu.Lock()
	defer t.ctxMu.Unlock()
	return append([]sdk.TopicPartition(nil), t.ctxMu.assignment...)
}

// publishAssignmentLocked copies mu.assigned for Assignment.
func (t *sinkTask) publishAssignmentLocked() {
	a := t.assignedLocked()
	t.ctxMu.Lock()
	t.ctxMu.assignment = a
	t.ctxMu.Unlock()
}

// Pause implements sdk.SinkTaskContext.
func (t *sinkTask) Pause(tps ...sdk.TopicPartition) {
	t.ctxMu.Lock()
	m := map[string][]int32{}
	for _, tp := range tps {
		t.ctxMu.userPaused[tp] = true
		m[tp.Topic] = append(m[tp.Topic], tp.Partition)
	}
	t.ctxMu.Unlock()
	if t.client != nil { // nil during Start: applied on assignment
		t.client.PauseFetchPartitions(m)
	}
}

// Resume implements sdk.SinkTaskContext.
func (t *sinkTask) Resume(tps ...sdk.TopicPartition) {
	t.ctxMu.Lock()
	m := map[string][]int32{}
	for _, tp := range tps {
		delete(t.ctxMu.userPaused, tp)
		m[tp.Topic] = append(m[tp.Topic], tp.Partition)
	}
	t.ctxMu.Unlock()
	if t.client != nil {
		t.client.ResumeFetchPartitions(m)
	}
}

// RequestCommit implements sdk.SinkTaskContext.
func (t *sinkTask) RequestCommit() {
	t.ctxMu.Lock()
	t.ctxMu.commitRequested = true
	t.ctxMu.Unlock()
}
