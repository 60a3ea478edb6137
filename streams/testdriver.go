package streams

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDriver runs a Topology without a broker, for unit tests (Kafka's
// TopologyTestDriver):
//
//	d, err := streams.NewTestDriver(topo)
//	defer d.Close()
//	in := streams.CreateInputTopic(d, "input", serde.String(), serde.String())
//	out := streams.CreateOutputTopic(d, "output", serde.String(), serde.Int64())
//	in.PipeInput("k", "hello world")
//	kv, err := out.ReadKeyValue()
//
// Every topic has one partition, and each sub-topology one task (its
// partition 0). Piping a record processes it at once, and with it every
// record it causes in the topology's repartition topics (and in any topic
// the topology both writes and reads), before the Pipe call returns.
// Everything the topology writes, changelogs included, can be read with
// CreateOutputTopic. Stores are real (Pebble ones live under a temporary
// state dir, or StateDir) and start empty.
//
// A TestDriver is not safe for concurrent use.
type TestDriver struct {
	topo    *Topology
	env     *taskEnv
	tasks   []*task
	byTopic map[string]*task // real source topic → task
	dir     string
	ownDir  bool
	clock   time.Time
	closed  bool

	// mu guards the records written, which the collector appends.
	mu struct {
		sync.Mutex
		outputs map[string][]*kgo.Record
		read    map[string]int
		offsets map[string]int64
		pending []*kgo.Record
	}
}

// NewTestDriver starts a driver for topo. It reads these options:
// ApplicationID (default "topology-test-driver"), StateDir (default: a
// new temporary directory, removed by Close), the three error handlers,
// DefaultTimestampExtractor, DeadLetterQueueTopic, Logger, and Clock's
// value at start as the initial wall-clock time.
func NewTestDriver(topo *Topology, opts ...Opt) (*TestDriver, error) {
	c := newCfg(opts)
	if c.appID == "" {
		c.appID = "topology-test-driver"
	}
	d := &TestDriver{topo: topo, byTopic: map[string]*task{}, clock: c.clock()}
	d.mu.outputs = map[string][]*kgo.Record{}
	d.mu.read = map[string]int{}
	d.mu.offsets = map[string]int64{}
	if c.stateDirSet {
		d.dir = c.stateDir
	} else {
		dir, err := os.MkdirTemp("", "streams-test-driver-")
		if err != nil {
			return nil, fmt.Errorf("streams: test driver: %w", err)
		}
		d.dir, d.ownDir = dir, true
	}
	d.env = &taskEnv{
		topo:         topo,
		appID:        c.appID,
		stateDir:     filepath.Join(d.dir, c.appID),
		log:          c.logger,
		clock:        func() time.Time { return d.clock },
		deserHandler: c.deser,
		prodHandler:  c.prod,
		procHandler:  c.proc,
		extractor:    c.extractor,
		dlq:          c.dlq,
		collector:    (*driverCollector)(d),
	}
	globals, err := openGlobalStores(d.env, true)
	if err != nil {
		d.Close()
		return nil, err
	}
	d.env.globals = globals
	for _, sub := range topo.subtopologies {
		var tps []topicPartition
		for _, topic := range sub.topics {
			tps = append(tps, topicPartition{topo.topicName(c.appID, topic), 0})
		}
		t := newTask(d.env, sub, TaskID{Subtopology: sub.id}, tps)
		d.tasks = append(d.tasks, t)
		for _, tp := range tps {
			d.byTopic[tp.topic] = t
		}
		if _, err := t.openStores(); err != nil {
			d.Close()
			return nil, err
		}
		if err := t.initTopology(); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// driverCollector records what tasks send and queues what the topology
// reads back.
type driverCollector TestDriver

func (c *driverCollector) send(r *kgo.Record, _ func(int) int, done func(*kgo.Record, error)) {
	d := (*TestDriver)(c)
	d.mu.Lock()
	r.Partition = 0
	r.Offset = d.mu.offsets[r.Topic]
	d.mu.offsets[r.Topic]++
	d.mu.outputs[r.Topic] = append(d.mu.outputs[r.Topic], r)
	if _, ok := d.byTopic[r.Topic]; ok {
		d.mu.pending = append(d.mu.pending, r)
	}
	d.mu.Unlock()
	done(r, nil)
}

// pipe processes r (a record of a source topic) and everything it leads
// to.
func (d *TestDriver) pipe(r *kgo.Record) error {
	if d.closed {
		return ErrClosed
	}
	if g := d.env.globals; g != nil && g.byTopic[r.Topic] != nil {
		return g.apply(r) // a global table's topic: applied at once
	}
	if _, ok := d.byTopic[r.Topic]; !ok {
		return fmt.Errorf("streams: test driver: topic %q is not a source of the topology", r.Topic)
	}
	d.mu.Lock()
	r.Offset = d.mu.offsets[r.Topic]
	d.mu.offsets[r.Topic]++
	d.mu.Unlock()
	for r != nil {
		t := d.byTopic[r.Topic]
		// Pass a copy: the task keeps its own view of the record.
		in := *r
		t.addRecords(topicPartition{r.Topic, 0}, []*kgo.Record{&in})
		if err := t.process(); err != nil {
			return err
		}
		if err := d.env.fatal(); err != nil {
			return err
		}
		d.mu.Lock()
		r = nil
		if len(d.mu.pending) > 0 {
			r = d.mu.pending[0]
			d.mu.pending = d.mu.pending[1:]
		}
		d.mu.Unlock()
	}
	for _, t := range d.tasks {
		t.markCommitted()
	}
	return nil
}

// AdvanceWallClockTime moves the driver's wall clock forward and runs the
// wall-clock punctuations that are now due, each once, with everything
// their output causes in the topology (Kafka's advanceWallClockTime). It
// returns the error that a punctuation failed with.
func (d *TestDriver) AdvanceWallClockTime(by time.Duration) error {
	if d.closed {
		return ErrClosed
	}
	d.clock = d.clock.Add(by)
	for _, t := range d.tasks {
		if _, err := t.maybePunctuateWallClock(d.clock); err != nil {
			return err
		}
		if err := d.env.fatal(); err != nil {
			return err
		}
		if err := d.processPending(); err != nil {
			return err
		}
	}
	for _, t := range d.tasks {
		t.markCommitted()
	}
	return nil
}

// processPending processes the records that tasks wrote to topics the
// topology reads (a punctuator's output), until there are none.
func (d *TestDriver) processPending() error {
	for {
		d.mu.Lock()
		if len(d.mu.pending) == 0 {
			d.mu.Unlock()
			return nil
		}
		r := d.mu.pending[0]
		d.mu.pending = d.mu.pending[1:]
		d.mu.Unlock()
		in := *r
		t := d.byTopic[r.Topic]
		t.addRecords(topicPartition{r.Topic, 0}, []*kgo.Record{&in})
		if err := t.process(); err != nil {
			return err
		}
		if err := d.env.fatal(); err != nil {
			return err
		}
	}
}

// StateStore returns the named store, to be asserted to its type, or nil.
func (d *TestDriver) StateStore(name string) StateStore {
	for _, t := range d.tasks {
		if ts := t.stores[name]; ts != nil {
			return ts.typed
		}
	}
	return nil
}

// GetKeyValueStore returns the named store as a KeyValueStore[K, V].
func GetKeyValueStore[K, V any](d *TestDriver, name string) (KeyValueStore[K, V], error) {
	s := d.StateStore(name)
	if s == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownStore, name)
	}
	kv, ok := s.(KeyValueStore[K, V])
	if !ok {
		return nil, fmt.Errorf("streams: store %q is a %T", name, s)
	}
	return kv, nil
}

// GetTimestampedKeyValueStore returns the named store of a table or
// aggregation.
func GetTimestampedKeyValueStore[K, V any](d *TestDriver, name string) (TimestampedKeyValueStore[K, V], error) {
	return GetKeyValueStore[K, ValueAndTimestamp[V]](d, name)
}

// ProducedTopicNames returns every topic the topology wrote to, sorted.
func (d *TestDriver) ProducedTopicNames() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for t := range d.mu.outputs {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Close closes the tasks (checkpointing their stores) and removes the
// temporary state dir.
func (d *TestDriver) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	for _, t := range d.tasks {
		if err := t.closeClean(); err != nil {
			errs = append(errs, err)
		}
	}
	if g := d.env.globals; g != nil {
		if err := g.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if d.ownDir {
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TestInputTopic pipes records into a topic of a TestDriver (Kafka's
// TestInputTopic). Records get the topic's current time, which starts at
// the driver's wall-clock time and moves by the auto-advance step after
// each record.
type TestInputTopic[K, V any] struct {
	d          *TestDriver
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	now        time.Time
	step       time.Duration
}

// CreateInputTopic returns an input topic of d.
func CreateInputTopic[K, V any](d *TestDriver, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *TestInputTopic[K, V] {
	return &TestInputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde, now: d.clock}
}

// AutoAdvance sets the step by which the topic's time moves after each
// record.
func (in *TestInputTopic[K, V]) AutoAdvance(step time.Duration) { in.step = step }

// AdvanceTime moves the topic's time.
func (in *TestInputTopic[K, V]) AdvanceTime(by time.Duration) { in.now = in.now.Add(by) }

// PipeInput pipes key and value at the topic's current time.
func (in *TestInputTopic[K, V]) PipeInput(key K, value V) error {
	return in.PipeRecord(Record[K, V]{Key: key, Value: value, Timestamp: in.next()})
}

// PipeInputAt pipes key and value with timestamp ts.
func (in *TestInputTopic[K, V]) PipeInputAt(key K, value V, ts time.Time) error {
	return in.PipeRecord(Record[K, V]{Key: key, Value: value, Timestamp: ts})
}

// PipeValue pipes value with a null key.
func (in *TestInputTopic[K, V]) PipeValue(value V) error {
	return in.PipeRecord(Record[K, V]{Value: value, Timestamp: in.next(), nullKey: true})
}

// PipeTombstone pipes key with a null value.
func (in *TestInputTopic[K, V]) PipeTombstone(key K) error {
	return in.PipeRecord(Tombstone[K, V](key, in.next()))
}

// PipeKeyValues pipes each pair in order.
func (in *TestInputTopic[K, V]) PipeKeyValues(kvs ...KeyValue[K, V]) error {
	for _, kv := range kvs {
		if err := in.PipeInput(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// PipeRecord pipes rec as it is (its timestamp, headers and nullness).
func (in *TestInputTopic[K, V]) PipeRecord(rec Record[K, V]) error {
	r := &kgo.Record{Topic: in.topic, Timestamp: rec.Timestamp, Headers: rec.Headers}
	if !rec.nullKey {
		b, err := in.keySerde.Serialize(in.topic, rec.Key)
		if err != nil {
			return err
		}
		r.Key = nonNil(b)
	}
	if !rec.nullValue {
		b, err := in.valueSerde.Serialize(in.topic, rec.Value)
		if err != nil {
			return err
		}
		r.Value = nonNil(b)
	}
	return in.d.pipe(r)
}

// PipeRaw pipes key and value bytes as they are (nil for null), to test
// deserialization failures.
func (in *TestInputTopic[K, V]) PipeRaw(key, value []byte) error {
	return in.d.pipe(&kgo.Record{Topic: in.topic, Key: key, Value: value, Timestamp: in.next()})
}

func (in *TestInputTopic[K, V]) next() time.Time {
	t := in.now
	in.now = in.now.Add(in.step)
	return t
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// TestOutputTopic reads what the topology wrote to a topic (Kafka's
// TestOutputTopic). Each record is read once.
type TestOutputTopic[K, V any] struct {
	d          *TestDriver
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// CreateOutputTopic returns a reader of topic. For a repartition or
// changelog topic, give its full name
// (<application.id>-<name>-repartition / -changelog).
func CreateOutputTopic[K, V any](d *TestDriver, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *TestOutputTopic[K, V] {
	return &TestOutputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde}
}

// QueueSize returns the number of records not read yet.
func (o *TestOutputTopic[K, V]) QueueSize() int {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	return len(o.d.mu.outputs[o.topic]) - o.d.mu.read[o.topic]
}

// IsEmpty reports whether every record has been read.
func (o *TestOutputTopic[K, V]) IsEmpty() bool { return o.QueueSize() == 0 }

// ReadRecord reads the next record.
func (o *TestOutputTopic[K, V]) ReadRecord() (Record[K, V], error) {
	o.d.mu.Lock()
	recs, i := o.d.mu.outputs[o.topic], o.d.mu.read[o.topic]
	if i >= len(recs) {
		o.d.mu.Unlock()
		return Record[K, V]{}, fmt.Errorf("%w: %s", ErrNoRecord, o.topic)
	}
	r := recs[i]
	o.d.mu.read[o.topic] = i + 1
	o.d.mu.Unlock()
	rec := Record[K, V]{Timestamp: r.Timestamp, Headers: r.Headers}
	if r.Key == nil {
		rec.nullKey = true
	} else {
		k, err := o.keySerde.Deserialize(o.topic, r.Key)
		if err != nil {
			return rec, err
		}
		rec.Key = k
	}
	if r.Value == nil {
		rec.nullValue = true
	} else {
		v, err := o.valueSerde.Deserialize(o.topic, r.Value)
		if err != nil {
			return rec, err
		}
		rec.Value = v
	}
	return rec, nil
}

// ReadKeyValue reads the next record's key and value.
func (o *TestOutputTopic[K, V]) ReadKeyValue() (KeyValue[K, V], error) {
	r, err := o.ReadRecord()
	return KeyValue[K, V]{Key: r.Key, Value: r.Value}, err
}

// ReadValue reads the next record's value.
func (o *TestOutputTopic[K, V]) ReadValue() (V, error) {
	r, err := o.ReadRecord()
	return r.Value, err
}

// ReadRecordsToList reads every remaining record.
func (o *TestOutputTopic[K, V]) ReadRecordsToList() ([]Record[K, V], error) {
	var out []Record[K, V]
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ReadKeyValuesToList reads every remaining key and value.
func (o *TestOutputTopic[K, V]) ReadKeyValuesToList() ([]KeyValue[K, V], error) {
	recs, err := o.ReadRecordsToList()
	out := make([]KeyValue[K, V], len(recs))
	for i, r := range recs {
		out[i] = KeyValue[K, V]{Key: r.Key, Value: r.Value}
	}
	return out, err
}

// ReadValuesToList reads every remaining value.
func (o *TestOutputTopic[K, V]) ReadValuesToList() ([]V, error) {
	recs, err := o.ReadRecordsToList()
	out := make([]V, len(recs))
	for i, r := range recs {
		out[i] = r.Value
	}
	return out, err
}

// ReadKeyValuesToMap reads every remaining record into a map of the last
// value of each key; a null value removes the key (Kafka's
// readKeyValuesToMap).
func ReadKeyValuesToMap[K comparable, V any](o *TestOutputTopic[K, V]) (map[K]V, error) {
	out := map[K]V{}
	recs, err := o.ReadRecordsToList()
	for _, r := range recs {
		if r.nullValue {
			delete(out, r.Key)
		} else {
			out[r.Key] = r.Value
		}
	}
	return out, err
}
