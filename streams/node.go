package streams

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// nodeRuntime is one node of the topology instantiated for one task.
type nodeRuntime interface {
	// wire gives the node its task and its children (in the order of
	// the node's spec); it checks the children's types.
	wire(t *task, children []nodeRuntime) error
	// init runs after the task's stores are restored.
	init() error
	close() error
}

// inputNode is a node that takes records of type (K, V).
type inputNode[K, V any] interface {
	nodeRuntime
	process(rec Record[K, V]) error
}

// rawSource is a source node: it takes records as fetched.
type rawSource interface {
	nodeRuntime
	processRaw(r *kgo.Record) error
}

func wireChildren[K, V any](node string, children []nodeRuntime) ([]inputNode[K, V], error) {
	out := make([]inputNode[K, V], len(children))
	for i, c := range children {
		in, ok := c.(inputNode[K, V])
		if !ok {
			return nil, fmt.Errorf("%w: child %d of %q (%T) does not take the records it emits", ErrTopology, i, node, c)
		}
		out[i] = in
	}
	return out, nil
}

// sourceNode deserializes fetched records and forwards them.
type sourceNode[K, V any] struct {
	name       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	t          *task
	children   []inputNode[K, V]
}

func (n *sourceNode[K, V]) wire(t *task, children []nodeRuntime) (err error) {
	n.t = t
	n.children, err = wireChildren[K, V](n.name, children)
	return err
}

func (n *sourceNode[K, V]) init() error  { return nil }
func (n *sourceNode[K, V]) close() error { return nil }

func (n *sourceNode[K, V]) processRaw(r *kgo.Record) error {
	rec := Record[K, V]{Timestamp: n.t.rc.timestamp, Headers: r.Headers}
	if r.Key == nil {
		rec.nullKey = true
	} else {
		k, err := n.keySerde.Deserialize(r.Topic, r.Key)
		if err != nil {
			return n.t.deserializationError(n.name, r, fmt.Errorf("key: %w", err))
		}
		rec.Key = k
	}
	if r.Value == nil {
		rec.nullValue = true
	} else {
		v, err := n.valueSerde.Deserialize(r.Topic, r.Value)
		if err != nil {
			return n.t.deserializationError(n.name, r, fmt.Errorf("value: %w", err))
		}
		rec.Value = v
	}
	for _, c := range n.children {
		if err := c.process(rec); err != nil {
			return err
		}
	}
	return nil
}

// sinkNode serializes records and sends them to a topic.
type sinkNode[K, V any] struct {
	name        string
	topic       string // as in the topology; resolved at wire
	keySerde    serde.Serde[K]
	valueSerde  serde.Serde[V]
	partitioner StreamPartitioner[K, V]
	t           *task
	realTopic   string
}

func (n *sinkNode[K, V]) wire(t *task, children []nodeRuntime) error {
	n.t = t
	n.realTopic = t.env.topo.topicName(t.env.appID, n.topic)
	return nil
}

func (n *sinkNode[K, V]) init() error  { return nil }
func (n *sinkNode[K, V]) close() error { return nil }

func (n *sinkNode[K, V]) process(rec Record[K, V]) error {
	r := &kgo.Record{Topic: n.realTopic, Timestamp: rec.Timestamp, Headers: rec.Headers}
	if !rec.nullKey {
		k, err := n.keySerde.Serialize(n.realTopic, rec.Key)
		if err != nil {
			return n.t.serializationError(n.name, r, fmt.Errorf("key: %w", err))
		}
		r.Key = k
	}
	if !rec.nullValue {
		v, err := n.valueSerde.Serialize(n.realTopic, rec.Value)
		if err != nil {
			return n.t.serializationError(n.name, r, fmt.Errorf("value: %w", err))
		}
		r.Value = v
	}
	var part func(int) int
	if n.partitioner != nil {
		p, key, value := n.partitioner, rec.Key, rec.Value
		topic := n.realTopic
		part = func(num int) int { return p(topic, key, value, num) }
	}
	n.t.send(r, part)
	return nil
}

// processorNode runs a Processor and is its ProcessorContext.
type processorNode[KIn, VIn, KOut, VOut any] struct {
	name       string
	proc       Processor[KIn, VIn, KOut, VOut]
	stores     []string
	t          *task
	children   []inputNode[KOut, VOut]
	childNames []string
	// err is the first error of a child during the current Process.
	err error
}

func (n *processorNode[KIn, VIn, KOut, VOut]) wire(t *task, children []nodeRuntime) (err error) {
	n.t = t
	spec := t.env.topo.byName[n.name]
	n.childNames, n.stores = spec.children, spec.stores
	n.children, err = wireChildren[KOut, VOut](n.name, children)
	return err
}

func (n *processorNode[KIn, VIn, KOut, VOut]) init() error {
	if err := n.proc.Init(n); err != nil {
		return fmt.Errorf("init processor %s: %w", n.name, err)
	}
	return nil
}

func (n *processorNode[KIn, VIn, KOut, VOut]) close() error { return n.proc.Close() }

func (n *processorNode[KIn, VIn, KOut, VOut]) process(rec Record[KIn, VIn]) error {
	n.err = nil
	err := n.safeProcess(rec)
	if n.err != nil {
		// A child's error has been through the child's handler
		// already: pass it up as it is.
		return n.err
	}
	if err != nil {
		return n.t.processingError(n.name, rec.Key, rec.Value, err)
	}
	return nil
}

func (n *processorNode[KIn, VIn, KOut, VOut]) safeProcess(rec Record[KIn, VIn]) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: string(debug.Stack())}
		}
	}()
	return n.proc.Process(rec)
}

// Forward implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) Forward(rec Record[KOut, VOut]) {
	for _, c := range n.children {
		if n.err != nil {
			return
		}
		n.err = c.process(rec)
	}
}

// ForwardTo implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) ForwardTo(child string, rec Record[KOut, VOut]) {
	if n.err != nil {
		return
	}
	for i, name := range n.childNames {
		if name == child {
			n.err = n.children[i].process(rec)
			return
		}
	}
	n.err = fmt.Errorf("%w: %q is not a child of %q", ErrUnknownChild, child, n.name)
}

// StateStore implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) StateStore(name string) StateStore {
	for _, s := range n.stores {
		if s == name {
			if ts := n.t.stores[name]; ts != nil {
				return ts.typed
			}
		}
	}
	return nil
}

// ApplicationID implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) ApplicationID() string { return n.t.env.appID }

// TaskID implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) TaskID() TaskID { return n.t.id }

// RecordMetadata implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) RecordMetadata() (RecordMetadata, bool) {
	rc := n.t.rc
	if !rc.valid {
		return RecordMetadata{}, false
	}
	return RecordMetadata{Topic: rc.topic, Partition: rc.partition, Offset: rc.offset}, true
}

// StreamTime implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) StreamTime() time.Time { return n.t.streamTime }

// WallClockTime implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) WallClockTime() time.Time { return n.t.env.clock() }

// Commit implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) Commit() { n.t.commitRequested = true }

// Logger implements ProcessorContext.
func (n *processorNode[KIn, VIn, KOut, VOut]) Logger() *slog.Logger { return n.t.log }
