package streams

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gregor-streaming/gregor/streams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicPartition names a partition by its real topic name.
type topicPartition struct {
	topic     string
	partition int32
}

func (tp topicPartition) String() string { return tp.topic + "-" + strconv.Itoa(int(tp.partition)) }

// collector sends records for tasks: the producer under an App, a
// recorder under the TestDriver.
type collector interface {
	// send produces r. part, if not nil, picks the partition from the
	// topic's partition count; otherwise the default partitioner does.
	// done is called once with the outcome, possibly on another
	// goroutine.
	send(r *kgo.Record, part func(numPartitions int) int, done func(*kgo.Record, error))
}

// taskEnv is what all the tasks of one runtime share. Its fields are set
// before the first task is made and never change, except fatal.
type taskEnv struct {
	topo         *Topology
	appID        string
	stateDir     string // <state.dir>/<application.id>
	log          *slog.Logger
	clock        func() time.Time
	eos          bool
	deserHandler DeserializationHandler
	prodHandler  ProductionHandler
	procHandler  ProcessingHandler
	extractor    TimestampExtractor
	dlq          string
	collector    collector

	// metrics count restored records (standby.go).
	metrics struct {
		restored       atomic.Int64
		standbyUpdated atomic.Int64
	}

	// globals are the global stores, shared by every task (nil
	// without global tables); set before the first task is made.
	globals *globalStores

	mu struct {
		sync.Mutex
		// fatal is the first error that must stop the runtime.
		fatal error
	}
}

// setFatal records err as the runtime's fatal error, unless one is
// recorded already.
func (e *taskEnv) setFatal(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.fatal == nil {
		e.mu.fatal = err
	}
}

func (e *taskEnv) fatal() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mu.fatal
}

// recordContext is the input record being processed.
type recordContext struct {
	valid     bool
	topic     string
	partition int32
	offset    int64
	timestamp time.Time
	raw       *kgo.Record
}

type queuedRecord struct {
	r   *kgo.Record
	ts  time.Time
	err error // from the timestamp extractor
}

type partitionQueue struct {
	recs []queuedRecord
	// partitionTime is the largest timestamp extracted so far.
	partitionTime time.Time
}

// taskStore is one state store of a task, at its layers.
type taskStore struct {
	spec      *storeSpec
	inner     state.KeyValueStore
	logged    *loggedStore // nil without a changelog
	typed     StateStore
	changelog topicPartition
	dir       string
}

type taskState int

const (
	taskCreated   taskState = iota // stores not open
	taskRestoring                  // stores open, changelogs being read
	taskRunning                    // processors initialized
	taskClosed
)

// task runs one sub-topology for one partition number. It is driven by
// one goroutine (the stream thread or the test driver); only the
// changelog offsets are written from the producer's goroutines, under mu.
type task struct {
	id         TaskID
	env        *taskEnv
	sub        *subtopology
	log        *slog.Logger
	dir        string
	partitions []topicPartition

	state   taskState
	nodes   []nodeRuntime
	sources map[string]rawSource // by real topic name
	stores  map[string]*taskStore
	queues  map[topicPartition]*partitionQueue

	rc              recordContext
	streamTime      time.Time
	commitNeeded    bool
	commitRequested bool
	// consumed holds the offset after the last processed record of
	// each input partition.
	consumed map[topicPartition]kgo.EpochOffset

	// The punctuation schedules (punctuation.go).
	streamPunctuation punctuationQueue
	wallPunctuation   punctuationQueue
	// standby is set for a standby task (standby.go): its stores
	// follow their changelogs; it processes nothing.
	standby bool

	mu struct {
		sync.Mutex
		// changelogOffsets is the offset after the last acknowledged
		// write of each changelog partition.
		changelogOffsets map[topicPartition]int64
	}
}

func newTask(env *taskEnv, sub *subtopology, id TaskID, partitions []topicPartition) *task {
	t := &task{
		id:         id,
		env:        env,
		sub:        sub,
		log:        env.log.With("task", id.String()),
		dir:        filepath.Join(env.stateDir, id.String()),
		partitions: partitions,
		stores:     map[string]*taskStore{},
		queues:     map[topicPartition]*partitionQueue{},
		consumed:   map[topicPartition]kgo.EpochOffset{},
	}
	t.mu.changelogOffsets = map[topicPartition]int64{}
	for _, tp := range partitions {
		t.queues[tp] = &partitionQueue{}
	}
	return t
}

// restoreSpec is a changelog partition to read into a store, from
// offset start.
type restoreSpec struct {
	t     *task
	store *taskStore
	tp    topicPartition
	start int64
}

// openStores opens the task's stores and returns the changelogs to
// restore. A persistent store whose changelog position is not in the
// checkpoint file is wiped first: its contents cannot be trusted (under
// exactly_once_v2 the file exists only between a clean close and the
// next open, so a crash always wipes).
func (t *task) openStores() ([]restoreSpec, error) {
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return nil, fmt.Errorf("streams: task %s: %w", t.id, err)
	}
	cp, err := readCheckpoint(t.dir)
	if err != nil {
		t.log.Warn("streams: ignoring unreadable checkpoint", "err", err)
		cp = map[topicPartition]int64{}
	}
	// A standby reads committed changelog data only: its checkpoint
	// stays valid under exactly_once_v2 (standby.go).
	if t.env.eos && !t.standby {
		if err := removeCheckpoint(t.dir); err != nil {
			return nil, err
		}
	}
	var restores []restoreSpec
	for _, name := range t.sub.stores {
		spec := t.env.topo.stores[name]
		sb := spec.builder
		sup := sb.supplier()
		ts := &taskStore{spec: spec, dir: filepath.Join(t.dir, "pebble", name)}
		logging := sb.LoggingEnabled()
		if logging {
			ts.changelog = topicPartition{changelogTopic(t.env.appID, name), t.id.Partition}
		}
		start, checkpointed := cp[ts.changelog]
		if sup.Persistent() && logging && !checkpointed {
			if err := os.RemoveAll(ts.dir); err != nil {
				t.closeStores()
				return nil, fmt.Errorf("streams: task %s: wipe store %s: %w", t.id, name, err)
			}
		}
		if !sup.Persistent() {
			start = 0
		}
		inner, err := sup.Open(ts.dir)
		if err != nil {
			t.closeStores()
			return nil, fmt.Errorf("streams: task %s: %w", t.id, err)
		}
		ts.inner = inner
		if logging {
			ts.logged = &loggedStore{KeyValueStore: inner, t: t, topic: ts.changelog.topic, partition: t.id.Partition, timestamped: sb.timestamped()}
			ts.typed = sb.wrap(ts.logged, ts.changelog.topic)
			t.mu.changelogOffsets[ts.changelog] = start
			restores = append(restores, restoreSpec{t: t, store: ts, tp: ts.changelog, start: start})
		} else {
			ts.typed = sb.wrap(inner, name)
		}
		t.stores[name] = ts
	}
	t.state = taskRestoring
	return restores, nil
}

// restoreBatch writes changelog records into a store, bypassing the
// changelog.
func (t *task) restoreBatch(ts *taskStore, recs []*kgo.Record) error {
	entries := make([]state.KeyValue, 0, len(recs))
	for _, r := range recs {
		if r.Key == nil {
			continue
		}
		entries = append(entries, restoreEntry(ts.spec.builder.timestamped(), r.Key, r.Value, r.Timestamp))
	}
	if err := ts.inner.PutAll(entries); err != nil {
		return fmt.Errorf("streams: task %s: restore %s: %w", t.id, ts.spec.name, err)
	}
	if t.standby {
		t.env.metrics.standbyUpdated.Add(int64(len(recs)))
	} else {
		t.env.metrics.restored.Add(int64(len(recs)))
	}
	return nil
}

// advanceChangelog records that a changelog partition holds the store's
// writes up to next (restored, or acknowledged by the broker).
func (t *task) advanceChangelog(tp topicPartition, next int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if next > t.mu.changelogOffsets[tp] {
		t.mu.changelogOffsets[tp] = next
	}
}

// initTopology instantiates the sub-topology's nodes and initializes
// them (after restoration, as Kafka does).
func (t *task) initTopology() error {
	topo := t.env.topo
	t.sources = map[string]rawSource{}
	byName := map[string]nodeRuntime{}
	t.nodes = make([]nodeRuntime, len(t.sub.nodes))
	for i, spec := range t.sub.nodes {
		t.nodes[i] = spec.make()
		byName[spec.name] = t.nodes[i]
	}
	for i, spec := range t.sub.nodes {
		children := make([]nodeRuntime, len(spec.children))
		for j, c := range spec.children {
			children[j] = byName[c]
		}
		if err := t.nodes[i].wire(t, children); err != nil {
			return err
		}
		if spec.kind == kindSource {
			src := t.nodes[i].(rawSource)
			for _, topic := range spec.topics {
				t.sources[topo.topicName(t.env.appID, topic)] = src
			}
		}
	}
	t.attachGlobalStores()
	for _, n := range t.nodes {
		if err := n.init(); err != nil {
			return fmt.Errorf("streams: task %s: %w", t.id, err)
		}
	}
	t.state = taskRunning
	return nil
}

// addRecords queues fetched records of one input partition.
func (t *task) addRecords(tp topicPartition, recs []*kgo.Record) {
	q := t.queues[tp]
	if q == nil {
		q = &partitionQueue{}
		t.queues[tp] = q
	}
	for _, r := range recs {
		ts, err := t.env.extractor(r, q.partitionTime)
		if err == nil && ts.After(q.partitionTime) {
			q.partitionTime = ts
		}
		q.recs = append(q.recs, queuedRecord{r: r, ts: ts, err: err})
	}
}

// buffered reports whether records wait in the queues.
func (t *task) buffered() bool {
	for _, q := range t.queues {
		if len(q.recs) > 0 {
			return true
		}
	}
	return false
}

// process processes every queued record, always taking next the head
// with the smallest timestamp among the task's partitions (Kafka's
// PartitionGroup), ties going to the first partition in order.
func (t *task) process() error {
	order := make([]topicPartition, 0, len(t.queues))
	for tp := range t.queues {
		order = append(order, tp)
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].topic != order[j].topic {
			return order[i].topic < order[j].topic
		}
		return order[i].partition < order[j].partition
	})
	for {
		var best *partitionQueue
		var bestTP topicPartition
		for _, tp := range order {
			q := t.queues[tp]
			if len(q.recs) == 0 {
				continue
			}
			if best == nil || q.recs[0].ts.Before(best.recs[0].ts) {
				best, bestTP = q, tp
			}
		}
		if best == nil {
			return nil
		}
		qr := best.recs[0]
		best.recs[0] = queuedRecord{}
		best.recs = best.recs[1:]
		if err := t.processOne(bestTP, qr); err != nil {
			return err
		}
		if err := t.maybePunctuateStreamTime(); err != nil {
			return err
		}
	}
}

func (t *task) processOne(tp topicPartition, qr queuedRecord) error {
	r := qr.r
	t.consumed[tp] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	t.commitNeeded = true
	if qr.err != nil {
		return fmt.Errorf("streams: task %s: timestamp of %s@%d: %w", t.id, tp, r.Offset, qr.err)
	}
	if qr.ts.UnixMilli() < 0 {
		t.log.Warn("streams: skipping record with negative timestamp", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset)
		return nil
	}
	if qr.ts.After(t.streamTime) {
		t.streamTime = qr.ts
	}
	src := t.sources[r.Topic]
	if src == nil {
		return fmt.Errorf("streams: task %s: no source for topic %s", t.id, r.Topic)
	}
	t.rc = recordContext{valid: true, topic: r.Topic, partition: r.Partition, offset: r.Offset, timestamp: qr.ts, raw: r}
	err := src.processRaw(r)
	t.rc = recordContext{}
	return err
}

func (t *task) errorContext(node string) ErrorContext {
	return ErrorContext{
		Topic:         t.rc.topic,
		Partition:     t.rc.partition,
		Offset:        t.rc.offset,
		Timestamp:     t.rc.timestamp,
		ProcessorNode: node,
		TaskID:        t.id,
		Logger:        t.log,
	}
}

func (t *task) deserializationError(node string, r *kgo.Record, err error) error {
	ec := t.errorContext(node)
	resp := t.env.deserHandler(ec, r, err)
	t.deadLetter(ec, r.Key, r.Value, err)
	if resp == HandlerResume {
		return nil
	}
	return fmt.Errorf("%w: task %s, %s-%d@%d: %w", ErrDeserialization, t.id, r.Topic, r.Partition, r.Offset, err)
}

func (t *task) serializationError(node string, r *kgo.Record, err error) error {
	ec := t.errorContext(node)
	resp := t.env.prodHandler(ec, r, err)
	if t.rc.raw != nil {
		t.deadLetter(ec, t.rc.raw.Key, t.rc.raw.Value, err)
	}
	if resp == HandlerResume {
		return nil
	}
	return fmt.Errorf("%w: task %s, serializing for %s: %w", ErrProduction, t.id, r.Topic, err)
}

func (t *task) processingError(node string, key, value any, err error) error {
	ec := t.errorContext(node)
	resp := t.env.procHandler(ec, key, value, err)
	if t.rc.raw != nil {
		t.deadLetter(ec, t.rc.raw.Key, t.rc.raw.Value, err)
	}
	if resp == HandlerResume {
		return nil
	}
	return fmt.Errorf("%w: task %s, node %s: %w", ErrProcessing, t.id, node, err)
}

// deadLetter sends a failed record to the dead-letter topic, if one is
// configured (KIP-1034's headers).
func (t *task) deadLetter(ec ErrorContext, key, value []byte, err error) {
	if t.env.dlq == "" {
		return
	}
	var stack string
	var pe *panicError
	if errors.As(err, &pe) {
		stack = pe.stack
	}
	h := func(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }
	r := &kgo.Record{
		Topic:     t.env.dlq,
		Key:       key,
		Value:     value,
		Timestamp: ec.Timestamp,
		Headers: []kgo.RecordHeader{
			h(HeaderErrorsException, fmt.Sprintf("%T", errors.Unwrap(err))),
			h(HeaderErrorsStacktrace, stack),
			h(HeaderErrorsMessage, err.Error()),
			h(HeaderErrorsTopic, ec.Topic),
			h(HeaderErrorsPartition, strconv.Itoa(int(ec.Partition))),
			h(HeaderErrorsOffset, strconv.FormatInt(ec.Offset, 10)),
		},
	}
	log := t.log
	t.env.collector.send(r, nil, func(_ *kgo.Record, err error) {
		if err != nil {
			log.Error("streams: failed to send to the dead-letter topic", "topic", r.Topic, "err", err)
		}
	})
}

// send produces a record of a sink; a failure goes to the production
// handler.
func (t *task) send(r *kgo.Record, part func(int) int) {
	ec := t.errorContext("")
	env := t.env
	env.collector.send(r, part, func(r *kgo.Record, err error) {
		if err == nil {
			return
		}
		resp := env.prodHandler(ec, r, err)
		t.deadLetter(ec, r.Key, r.Value, err)
		if resp == HandlerResume {
			return
		}
		env.setFatal(fmt.Errorf("%w: task %s, sending to %s: %w", ErrProduction, ec.TaskID, r.Topic, err))
	})
}

// sendChangelog writes a store update to its changelog partition. A
// failure is always fatal: a lost changelog write would make a later
// restore wrong.
func (t *task) sendChangelog(topic string, partition int32, key, value []byte, ts time.Time) {
	tp := topicPartition{topic, partition}
	r := &kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value, Timestamp: ts}
	t.env.collector.send(r, func(int) int { return int(partition) }, func(r *kgo.Record, err error) {
		if err != nil {
			t.env.setFatal(fmt.Errorf("%w: changelog %s: %w", ErrProduction, tp, err))
			return
		}
		t.advanceChangelog(tp, r.Offset+1)
	})
}

// offsetsToCommit returns the positions to commit, if anything was
// processed since the last commit.
func (t *task) offsetsToCommit() map[topicPartition]kgo.EpochOffset {
	if !t.commitNeeded {
		return nil
	}
	out := make(map[topicPartition]kgo.EpochOffset, len(t.consumed))
	for tp, eo := range t.consumed {
		out[tp] = eo
	}
	return out
}

func (t *task) markCommitted() {
	t.commitNeeded = false
	t.commitRequested = false
}

// checkpoint makes the persistent stores durable and writes the
// changelog positions they hold to the checkpoint file. Call it only
// when the producer has been flushed.
func (t *task) checkpoint() error {
	if t.state != taskRunning && t.state != taskRestoring {
		return nil
	}
	offsets := map[topicPartition]int64{}
	t.mu.Lock()
	for _, ts := range t.stores {
		if ts.logged != nil && ts.inner.Persistent() {
			offsets[ts.changelog] = t.mu.changelogOffsets[ts.changelog]
		}
	}
	t.mu.Unlock()
	for _, ts := range t.stores {
		if err := ts.inner.Flush(); err != nil {
			return fmt.Errorf("streams: task %s: %w", t.id, err)
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	return writeCheckpoint(t.dir, offsets)
}

// closeClean checkpoints the task (the caller has committed it) and
// closes it.
func (t *task) closeClean() error {
	err := t.checkpoint()
	if cerr := t.closeAll(); err == nil {
		err = cerr
	}
	return err
}

// closeDirty closes the task without checkpointing: its stores may hold
// writes that were never committed.
func (t *task) closeDirty() {
	if err := t.closeAll(); err != nil {
		t.log.Warn("streams: closing task dirty", "err", err)
	}
}

func (t *task) closeAll() error {
	var errs []error
	if t.state == taskRunning {
		for _, n := range t.nodes {
			if err := n.close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := t.closeStores(); err != nil {
		errs = append(errs, err)
	}
	t.state = taskClosed
	return errors.Join(errs...)
}

func (t *task) closeStores() error {
	var errs []error
	for name, ts := range t.stores {
		if ts.inner != nil {
			if err := ts.inner.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		delete(t.stores, name)
	}
	return errors.Join(errs...)
}
