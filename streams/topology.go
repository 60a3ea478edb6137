package streams

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Builder builds a Topology, through the DSL (Stream, Table, and the
// operators of KStream, KTable and KGroupedStream) or node by node
// (AddSource, AddProcessor, AddSink, AddStateStore), or both. It plays
// the parts of Kafka's StreamsBuilder and Topology.
//
// Builder methods record the first error and return it from Build, so
// that a chain of operators needs no error checks. A Builder is not safe
// for concurrent use; it is used once.
type Builder struct {
	nodes   []*nodeSpec
	byName  map[string]*nodeSpec
	stores  map[string]*storeSpec
	storeOr []string // store names in order of addition
	// topicSource maps each source topic to its source node.
	topicSource map[string]string
	// internal holds the repartition topics, by name without the
	// application.id prefix.
	internal map[string]*internalTopic
	// copartition lists groups of source topics that must have the
	// same partition count (joins).
	copartition [][]string
	index       int
	err         error
	built       bool

	// globals are the global tables (global.go).
	globals []*globalSpec
}

type nodeKind int

const (
	kindSource nodeKind = iota
	kindProcessor
	kindSink
)

// nodeSpec is one node of the topology, as built; tasks instantiate it.
type nodeSpec struct {
	name     string
	kind     nodeKind
	index    int
	parents  []string
	children []string
	stores   []string
	topics   []string // source: topics read; sink: the one topic written
	// Types of the records the node takes and emits (nil where none).
	inKey, inValue, outKey, outValue reflect.Type
	// make returns a fresh runtime instance for one task.
	make func() nodeRuntime
}

// storeSpec is a state store of the topology.
type storeSpec struct {
	name    string
	builder StoreBuilder
	nodes   []string
}

// internalTopic is a repartition topic the application creates.
type internalTopic struct {
	name       string // without the application.id prefix
	partitions int    // 0: as many as the largest upstream source
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{
		byName:      map[string]*nodeSpec{},
		stores:      map[string]*storeSpec{},
		topicSource: map[string]string{},
		internal:    map[string]*internalTopic{},
	}
}

// fail records the first error.
func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// newName returns Kafka's generated name for a node or store:
// PREFIX-0000000007, numbered in order of creation across the builder.
func (b *Builder) newName(prefix string) string {
	n := fmt.Sprintf("%s%010d", prefix, b.index)
	b.index++
	return n
}

func (b *Builder) addNode(n *nodeSpec) *nodeSpec {
	if b.built {
		b.fail(fmt.Errorf("%w: builder already built", ErrTopology))
		return n
	}
	if n.name == "" {
		b.fail(fmt.Errorf("%w: empty node name", ErrTopology))
		return n
	}
	if _, dup := b.byName[n.name]; dup {
		b.fail(fmt.Errorf("%w: processor %q is already added", ErrTopology, n.name))
		return n
	}
	n.index = len(b.nodes)
	for _, p := range n.parents {
		parent, ok := b.byName[p]
		switch {
		case !ok:
			b.fail(fmt.Errorf("%w: parent processor %q of %q is not added yet", ErrTopology, p, n.name))
			return n
		case parent.kind == kindSink:
			b.fail(fmt.Errorf("%w: sink %q cannot be the parent of %q", ErrTopology, p, n.name))
			return n
		case p == n.name:
			b.fail(fmt.Errorf("%w: %q cannot be its own parent", ErrTopology, p))
			return n
		}
	}
	for _, p := range n.parents {
		b.byName[p].children = append(b.byName[p].children, n.name)
	}
	b.nodes = append(b.nodes, n)
	b.byName[n.name] = n
	return n
}

func (b *Builder) addSourceTopics(node string, topics []string) {
	if len(topics) == 0 {
		b.fail(fmt.Errorf("%w: source %q has no topics", ErrTopology, node))
	}
	for _, t := range topics {
		if prev, dup := b.topicSource[t]; dup {
			b.fail(fmt.Errorf("%w: topic %q is already read by source %q", ErrTopology, t, prev))
			continue
		}
		b.topicSource[t] = node
	}
}

func (b *Builder) addStore(sb StoreBuilder, nodes ...string) {
	name := sb.Name()
	if _, dup := b.stores[name]; dup {
		b.fail(fmt.Errorf("%w: state store %q is already added", ErrTopology, name))
		return
	}
	b.stores[name] = &storeSpec{name: name, builder: sb}
	b.storeOr = append(b.storeOr, name)
	b.connectStore(name, nodes...)
}

func (b *Builder) connectStore(name string, nodes ...string) {
	s, ok := b.stores[name]
	if !ok {
		b.fail(fmt.Errorf("%w: state store %q is not added", ErrTopology, name))
		return
	}
	for _, n := range nodes {
		spec, ok := b.byName[n]
		if !ok || spec.kind != kindProcessor {
			b.fail(fmt.Errorf("%w: cannot connect store %q to %q: no such processor", ErrTopology, name, n))
			continue
		}
		if !slices.Contains(spec.stores, name) {
			spec.stores = append(spec.stores, name)
			s.nodes = append(s.nodes, n)
		}
	}
}

// Topology is a built, immutable processing graph: nodes grouped into
// sub-topologies (Kafka's node groups), each run as one task per
// partition of its source topics. Topology is safe for concurrent use;
// one Topology may back several App instances and test drivers.
type Topology struct {
	nodes         []*nodeSpec
	byName        map[string]*nodeSpec
	stores        map[string]*storeSpec
	internal      map[string]*internalTopic
	copartition   [][]string
	globals       []*globalSpec
	subtopologies []*subtopology
	// sourceSub maps each source topic to its sub-topology.
	sourceSub map[string]*subtopology
}

// subtopology is one connected part of the topology.
type subtopology struct {
	id     int
	nodes  []*nodeSpec // in order of creation: parents before children
	topics []string    // source topics, sorted
	stores []string    // sorted
}

// Build checks the topology and returns it. The Builder cannot be used
// afterwards.
func (b *Builder) Build() (*Topology, error) {
	if b.err != nil {
		return nil, b.err
	}
	if b.built {
		return nil, fmt.Errorf("%w: builder already built", ErrTopology)
	}
	b.built = true
	if len(b.nodes) == 0 {
		return nil, fmt.Errorf("%w: topology has no nodes", ErrTopology)
	}
	var errs []error
	for _, n := range b.nodes {
		for _, c := range n.children {
			child := b.byName[c]
			if child.inKey != n.outKey || child.inValue != n.outValue {
				errs = append(errs, fmt.Errorf("%w: %q emits (%v, %v) but its child %q takes (%v, %v)",
					ErrTopology, n.name, n.outKey, n.outValue, child.name, child.inKey, child.inValue))
			}
		}
		if n.kind == kindProcessor && len(n.parents) == 0 {
			errs = append(errs, fmt.Errorf("%w: processor %q has no parent", ErrTopology, n.name))
		}
	}
	for _, name := range b.storeOr {
		if len(b.stores[name].nodes) == 0 {
			errs = append(errs, fmt.Errorf("%w: state store %q is not connected to any processor", ErrTopology, name))
		}
	}
	for name := range b.internal {
		if _, ok := b.topicSource[name]; !ok {
			errs = append(errs, fmt.Errorf("%w: repartition topic %q has no source", ErrTopology, name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	// Union-find over parent links and shared stores (Kafka's
	// InternalTopologyBuilder.makeNodeGroups).
	parent := make([]int, len(b.nodes))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, c int) {
		ra, rc := find(a), find(c)
		if ra < rc {
			parent[rc] = ra
		} else if rc < ra {
			parent[ra] = rc
		}
	}
	for _, n := range b.nodes {
		for _, p := range n.parents {
			union(n.index, b.byName[p].index)
		}
	}
	for _, name := range b.storeOr {
		s := b.stores[name]
		for _, n := range s.nodes[1:] {
			union(b.byName[s.nodes[0]].index, b.byName[n].index)
		}
	}
	t := &Topology{
		nodes:       b.nodes,
		byName:      b.byName,
		stores:      b.stores,
		internal:    b.internal,
		copartition: b.copartition,
		globals:     b.globals,
		sourceSub:   map[string]*subtopology{},
	}
	groups := map[int]*subtopology{}
	for _, n := range b.nodes { // in index order, so groups number by their first node
		root := find(n.index)
		g, ok := groups[root]
		if !ok {
			g = &subtopology{id: len(t.subtopologies)}
			groups[root] = g
			t.subtopologies = append(t.subtopologies, g)
		}
		g.nodes = append(g.nodes, n)
		if n.kind == kindSource {
			g.topics = append(g.topics, n.topics...)
			for _, topic := range n.topics {
				t.sourceSub[topic] = g
			}
		}
		for _, s := range n.stores {
			if !slices.Contains(g.stores, s) {
				g.stores = append(g.stores, s)
			}
		}
	}
	for _, g := range t.subtopologies {
		sort.Strings(g.topics)
		sort.Strings(g.stores)
		if len(g.topics) == 0 {
			return nil, fmt.Errorf("%w: sub-topology %d (%s) has no source", ErrTopology, g.id, g.nodes[0].name)
		}
	}
	return t, nil
}

// SourceTopics returns every topic the topology reads that is not one of
// its own repartition topics, sorted.
func (t *Topology) SourceTopics() []string {
	var out []string
	for topic := range t.sourceSub {
		if _, internal := t.internal[topic]; !internal {
			out = append(out, topic)
		}
	}
	sort.Strings(out)
	return out
}

// StoreNames returns the names of the topology's state stores, sorted.
func (t *Topology) StoreNames() []string {
	var out []string
	for n := range t.stores {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// isInternal reports whether topic is one of the topology's repartition
// topics (named without the application.id prefix).
func (t *Topology) isInternal(topic string) bool {
	_, ok := t.internal[topic]
	return ok
}

// topicName returns the real name of a topic of the topology: internal
// topics get the application.id prefix.
func (t *Topology) topicName(appID, topic string) string {
	if t.isInternal(topic) {
		return appID + "-" + topic
	}
	return topic
}

// changelogTopic is the changelog topic of store name.
func changelogTopic(appID, store string) string { return appID + "-" + store + "-changelog" }

// Describe prints the topology as Kafka's TopologyDescription does:
//
//	Topologies:
//	   Sub-topology: 0
//	    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
//	      --> KSTREAM-FILTER-0000000001
//	    Processor: KSTREAM-FILTER-0000000001 (stores: [])
//	      --> KSTREAM-SINK-0000000002
//	      <-- KSTREAM-SOURCE-0000000000
//	    Sink: KSTREAM-SINK-0000000002 (topic: output)
//	      <-- KSTREAM-FILTER-0000000001
func (t *Topology) Describe() string {
	var sb strings.Builder
	sb.WriteString("Topologies:\n")
	names := func(s []string) string {
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ", ")
	}
	for _, g := range t.subtopologies {
		fmt.Fprintf(&sb, "   Sub-topology: %d\n", g.id)
		for _, n := range g.nodes {
			switch n.kind {
			case kindSource:
				fmt.Fprintf(&sb, "    Source: %s (topics: [%s])\n", n.name, strings.Join(n.topics, ", "))
			case kindProcessor:
				fmt.Fprintf(&sb, "    Processor: %s (stores: [%s])\n", n.name, strings.Join(n.stores, ", "))
			case kindSink:
				fmt.Fprintf(&sb, "    Sink: %s (topic: %s)\n", n.name, n.topics[0])
			}
			if n.kind != kindSink {
				fmt.Fprintf(&sb, "      --> %s\n", names(n.children))
			}
			if n.kind != kindSource {
				fmt.Fprintf(&sb, "      <-- %s\n", names(n.parents))
			}
		}
		sb.WriteString("\n")
	}
	t.describeGlobals(&sb)
	return sb.String()
}
