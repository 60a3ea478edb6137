package streams

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Interactive queries (Kafka's KafkaStreams.store, queryMetadataForKey,
// metadataForAllStreamsClients): reading an App's state stores from
// outside the topology, and finding which instance holds a key.
//
// A store is split among the tasks of its sub-topology, one per
// partition; an instance holds the tasks assigned to it. A key belongs to
// the partition Kafka's default partitioner gives its serialized bytes
// (murmur2) among the sub-topology's tasks, so a key lookup goes to the
// local task of that partition. Reads see what the stream thread has
// written so far, including what is not committed yet (Kafka's IQ reads
// the same way).
//
// With ApplicationServer set on every instance, each instance learns
// from every rebalance where all tasks (active and standby) live, so any
// instance can tell a client which host:port to ask for a key:
//
//	md, err := streams.QueryMetadataForKey(app, "counts-store", "kafka", serde.String())
//	if md.Active.String() == myEndpoint {
//		store, _ := streams.QueryKeyValueStore[string, int64](app, "counts-store")
//		n, ok, err := store.Get("kafka")
//	} else {
//		// forward the request to md.Active (an RPC of your own)
//	}

// Errors of interactive queries (Kafka's InvalidStateStoreException and
// its subclasses). ErrStoreRebalancing and ErrStoreNotLocal wrap
// ErrInvalidStateStore.
var (
	// ErrInvalidStateStore is returned when a store cannot be read
	// here now: the App is not running, or the store or the key's
	// partition is not (or no longer) on this instance. Retry, or ask
	// the instance QueryMetadataForKey names.
	ErrInvalidStateStore = errors.New("streams: state store is not available")
	// ErrStoreRebalancing is returned while the App has no assignment
	// yet or the task holding the data is restoring (Kafka's
	// StreamsRebalancingException).
	ErrStoreRebalancing = fmt.Errorf("%w: the application is rebalancing or restoring", ErrInvalidStateStore)
	// ErrStoreNotLocal is returned for a key whose partition is not
	// hosted by this instance, or a store no local task has (Kafka's
	// InvalidStateStorePartitionException, "may have migrated").
	ErrStoreNotLocal = fmt.Errorf("%w: not hosted by this instance (it may have migrated)", ErrInvalidStateStore)
	// ErrMetadataUnavailable is returned by the metadata queries before
	// the first assignment, or when no instance holds the key's
	// partition at the moment (a rebalance moves it).
	ErrMetadataUnavailable = errors.New("streams: streams metadata not available")
)

// ApplicationServer sets application.server: the host:port at which this
// instance answers its own interactive queries (an endpoint of the
// application's, not one Gregor Streams serves). Every instance's
// endpoint travels in the group's assignment, so that AllMetadata and
// QueryMetadataForKey can name the instance of any task.
func ApplicationServer(hostPort string) Opt { return appOpt(func(c *appCfg) { c.endpoint = hostPort }) }

// HostInfo is an instance's application.server (Kafka's HostInfo).
type HostInfo struct {
	Host string
	Port int
}

// String returns host:port.
func (h HostInfo) String() string { return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)) }

func parseHostInfo(endpoint string) HostInfo {
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return HostInfo{Host: endpoint}
	}
	p, _ := strconv.Atoi(port)
	return HostInfo{Host: host, Port: p}
}

// KeyQueryMetadata says where a key lives (Kafka's KeyQueryMetadata).
type KeyQueryMetadata struct {
	// Active is the instance running the key's task.
	Active HostInfo
	// Standbys are the instances with a standby of it.
	Standbys []HostInfo
	// Partition is the key's partition: the task's partition number.
	Partition int32
}

// StreamsMetadata describes one instance of the application (Kafka's
// StreamsMetadata).
type StreamsMetadata struct {
	Host HostInfo
	// StateStoreNames are the stores of its active tasks.
	StateStoreNames []string
	// Tasks are its active tasks; TopicPartitions their source
	// partitions, by topic.
	Tasks           []TaskID
	TopicPartitions map[string][]int32
	// StandbyStateStoreNames, StandbyTasks and StandbyTopicPartitions
	// are the same for its standby tasks.
	StandbyStateStoreNames []string
	StandbyTasks           []TaskID
	StandbyTopicPartitions map[string][]int32
}

// AllMetadata lists the instances that have an application.server, with
// their tasks and stores, as of the last rebalance (Kafka's
// metadataForAllStreamsClients).
func (a *App) AllMetadata() ([]StreamsMetadata, error) {
	info, err := a.assignmentForQuery()
	if err != nil {
		return nil, err
	}
	out := make([]StreamsMetadata, 0, len(info.hosts))
	for _, h := range info.hosts {
		md := StreamsMetadata{Host: parseHostInfo(h.endpoint), Tasks: h.active, StandbyTasks: h.standby}
		md.StateStoreNames, md.TopicPartitions = a.describeTasks(h.active)
		md.StandbyStateStoreNames, md.StandbyTopicPartitions = a.describeTasks(h.standby)
		out = append(out, md)
	}
	return out, nil
}

// AllMetadataForStore lists the instances with an active task of store
// (Kafka's streamsMetadataForStore).
func (a *App) AllMetadataForStore(store string) ([]StreamsMetadata, error) {
	if _, err := a.storeSubtopology(store); err != nil {
		return nil, err
	}
	all, err := a.AllMetadata()
	if err != nil {
		return nil, err
	}
	var out []StreamsMetadata
	for _, md := range all {
		for _, s := range md.StateStoreNames {
			if s == store {
				out = append(out, md)
				break
			}
		}
	}
	return out, nil
}

// QueryMetadataForKey returns the instances that hold key of store: the
// one running its task and those with a standby of it (Kafka's
// queryMetadataForKey). keySerde must be the store's key serde. It needs
// ApplicationServer on the instances; it returns ErrMetadataUnavailable
// while the key's task has no active instance (during a rebalance).
func QueryMetadataForKey[K any](a *App, store string, key K, keySerde serde.Serde[K]) (KeyQueryMetadata, error) {
	sub, err := a.storeSubtopology(store)
	if err != nil {
		return KeyQueryMetadata{}, err
	}
	kb, err := keySerde.Serialize(a.topo.topicName(a.cfg.appID, sub.topics[0]), key)
	if err != nil {
		return KeyQueryMetadata{}, fmt.Errorf("streams: serialize key for %s: %w", store, err)
	}
	info, err := a.assignmentForQuery()
	if err != nil {
		return KeyQueryMetadata{}, err
	}
	n := info.taskCounts[sub.id]
	if n == 0 {
		return KeyQueryMetadata{}, ErrMetadataUnavailable
	}
	id := TaskID{Subtopology: sub.id, Partition: keyPartition(kb, n)}
	md := KeyQueryMetadata{Partition: id.Partition}
	found := false
	for _, h := range info.hosts {
		if containsTask(h.active, id) {
			md.Active, found = parseHostInfo(h.endpoint), true
		}
		if containsTask(h.standby, id) {
			md.Standbys = append(md.Standbys, parseHostInfo(h.endpoint))
		}
	}
	if !found {
		return KeyQueryMetadata{}, fmt.Errorf("%w: no instance runs task %s of store %s", ErrMetadataUnavailable, id, store)
	}
	return md, nil
}

// keyPartition is where Kafka's default partitioner puts a record with
// key kb among n partitions: murmur2, as kgo's sticky key partitioner.
func keyPartition(kb []byte, n int32) int32 {
	if kb == nil {
		kb = []byte{}
	}
	return int32(kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: kb}, int(n)))
}

func containsTask(ids []TaskID, id TaskID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// assignmentForQuery returns the last assignment info, or an error if the
// App is not running or has none yet.
func (a *App) assignmentForQuery() (*assignmentInfo, error) {
	if s := a.State(); s != StateRunning && s != StateRebalancing {
		return nil, fmt.Errorf("%w: the application is %v", ErrMetadataUnavailable, s)
	}
	if a.assignor == nil {
		return nil, ErrMetadataUnavailable
	}
	info := a.assignor.assignment()
	if info == nil {
		return nil, ErrMetadataUnavailable
	}
	return info, nil
}

// storeSubtopology returns the sub-topology that holds store.
func (a *App) storeSubtopology(store string) (*subtopology, error) {
	for _, sub := range a.topo.subtopologies {
		for _, s := range sub.stores {
			if s == store {
				return sub, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownStore, store)
}

// describeTasks returns the stores and source partitions of tasks.
func (a *App) describeTasks(ids []TaskID) ([]string, map[string][]int32) {
	stores := map[string]bool{}
	parts := map[string][]int32{}
	for _, id := range ids {
		if id.Subtopology < 0 || id.Subtopology >= len(a.topo.subtopologies) {
			continue
		}
		sub := a.topo.subtopologies[id.Subtopology]
		for _, s := range sub.stores {
			stores[s] = true
		}
		for _, topic := range sub.topics {
			real := a.topo.topicName(a.cfg.appID, topic)
			parts[real] = append(parts[real], id.Partition)
		}
	}
	names := make([]string, 0, len(stores))
	for s := range stores {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, p := range parts {
		sort.Slice(p, func(i, j int) bool { return p[i] < p[j] })
	}
	return names, parts
}

// ReadOnlyKeyValueStore reads a key-value store of a running App (Kafka's
// ReadOnlyKeyValueStore). It is safe for concurrent use; each call reads
// the local tasks' stores under the App's task lock, so do not call it
// from a processor of the same App. Range and All return the entries of
// each local task in turn, each task's in key order, copied when the call
// is made.
type ReadOnlyKeyValueStore[K, V any] interface {
	// Get returns the value of key from the task of its partition. It
	// fails with ErrStoreNotLocal if that task is not on this
	// instance, and ErrStoreRebalancing if it is still restoring.
	Get(key K) (V, bool, error)
	// Range returns the entries in [from, to] of every local task.
	Range(from, to K) (KeyValueIterator[K, V], error)
	// All returns every entry of every local task.
	All() (KeyValueIterator[K, V], error)
	// ApproximateNumEntries sums the local tasks' estimates.
	ApproximateNumEntries() (int64, error)
}

// QueryKeyValueStore returns the local instances of a key-value store of
// a running App, read-only (Kafka's KafkaStreams.store with
// QueryableStoreTypes.keyValueStore()). For the store of a table or an
// aggregation (timestamped), V is the plain value type: the timestamps
// are dropped, as Kafka does; use QueryTimestampedKeyValueStore to get
// them.
func QueryKeyValueStore[K, V any](a *App, store string) (ReadOnlyKeyValueStore[K, V], error) {
	sub, err := a.storeSubtopology(store)
	if err != nil {
		return nil, err
	}
	return &queryStore[K, V]{a: a, name: store, sub: sub}, nil
}

// QueryTimestampedKeyValueStore returns the local instances of a
// timestamped store (a table's or an aggregation's) with the timestamps
// of the values (Kafka's QueryableStoreTypes.timestampedKeyValueStore()).
func QueryTimestampedKeyValueStore[K, V any](a *App, store string) (ReadOnlyKeyValueStore[K, ValueAndTimestamp[V]], error) {
	return QueryKeyValueStore[K, ValueAndTimestamp[V]](a, store)
}

// kvReader is what a query reads from one task's store.
type kvReader[K, V any] interface {
	Get(key K) (V, bool, error)
	Range(from, to K) (KeyValueIterator[K, V], error)
	All() (KeyValueIterator[K, V], error)
	ApproximateNumEntries() (int64, error)
	key(k K) ([]byte, error)
}

// plainReader reads a timestamped store without the timestamps.
type plainReader[K, V any] struct {
	s *kvStore[K, ValueAndTimestamp[V]]
}

func (p plainReader[K, V]) Get(key K) (V, bool, error) {
	v, ok, err := p.s.Get(key)
	return v.Value, ok, err
}

func (p plainReader[K, V]) Range(from, to K) (KeyValueIterator[K, V], error) {
	it, err := p.s.Range(from, to)
	if err != nil {
		return nil, err
	}
	return plainIterator[K, V]{it}, nil
}

func (p plainReader[K, V]) All() (KeyValueIterator[K, V], error) {
	it, err := p.s.All()
	if err != nil {
		return nil, err
	}
	return plainIterator[K, V]{it}, nil
}

func (p plainReader[K, V]) ApproximateNumEntries() (int64, error) { return p.s.ApproximateNumEntries() }
func (p plainReader[K, V]) key(k K) ([]byte, error)               { return p.s.key(k) }

type plainIterator[K, V any] struct {
	KeyValueIterator[K, ValueAndTimestamp[V]]
}

func (i plainIterator[K, V]) Value() V { return i.KeyValueIterator.Value().Value }

// queryStore is a ReadOnlyKeyValueStore over the App's tasks.
type queryStore[K, V any] struct {
	a    *App
	name string
	sub  *subtopology
}

// reader returns t's store as a kvReader[K, V].
func (q *queryStore[K, V]) reader(t *task) (kvReader[K, V], error) {
	ts := t.stores[q.name]
	if ts == nil {
		return nil, fmt.Errorf("%w: store %q of task %s", ErrStoreNotLocal, q.name, t.id)
	}
	switch s := ts.typed.(type) {
	case *kvStore[K, V]:
		return s, nil
	case *kvStore[K, ValueAndTimestamp[V]]:
		return plainReader[K, V]{s}, nil
	}
	return nil, fmt.Errorf("streams: store %q is a %T, not a key-value store of the queried types", q.name, ts.typed)
}

// checkRunning fails unless the App is running or rebalancing. During
// a (cooperative) rebalance the tasks that keep running answer; those
// restoring fail with ErrStoreRebalancing.
func (q *queryStore[K, V]) checkRunning() error {
	switch s := q.a.State(); s {
	case StateRunning, StateRebalancing:
		return nil
	case StateCreated:
		return fmt.Errorf("%w: the application is not started", ErrStoreRebalancing)
	default:
		return fmt.Errorf("%w: the application is %v", ErrInvalidStateStore, s)
	}
}

// localTasksLocked returns the local active tasks of the store's
// sub-topology, sorted; a.tm is held. It fails if one is restoring, or
// if there is none.
func (q *queryStore[K, V]) localTasksLocked() ([]*task, error) {
	var out []*task
	for _, t := range q.a.sortedTasksLocked() {
		if t.sub != q.sub {
			continue
		}
		if t.state != taskRunning {
			return nil, fmt.Errorf("%w: task %s", ErrStoreRebalancing, t.id)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no local task has store %q", ErrStoreNotLocal, q.name)
	}
	return out, nil
}

func (q *queryStore[K, V]) Get(key K) (V, bool, error) {
	var zero V
	if err := q.checkRunning(); err != nil {
		return zero, false, err
	}
	info := q.a.assignor.assignment()
	if info == nil || info.taskCounts[q.sub.id] == 0 {
		return zero, false, ErrStoreRebalancing
	}
	q.a.tm.Lock()
	defer q.a.tm.Unlock()
	var kb []byte
	for _, t := range q.a.tm.tasks {
		if t.sub == q.sub {
			r, err := q.reader(t)
			if err != nil {
				if errors.Is(err, ErrStoreNotLocal) {
					continue // not open yet
				}
				return zero, false, err
			}
			if kb, err = r.key(key); err != nil {
				return zero, false, err
			}
			break
		}
	}
	if kb == nil {
		return zero, false, fmt.Errorf("%w: no local task has store %q", ErrStoreNotLocal, q.name)
	}
	id := TaskID{Subtopology: q.sub.id, Partition: keyPartition(kb, info.taskCounts[q.sub.id])}
	t := q.a.tm.tasks[id]
	if t == nil {
		return zero, false, fmt.Errorf("%w: the key of store %q is in task %s", ErrStoreNotLocal, q.name, id)
	}
	if t.state != taskRunning {
		return zero, false, fmt.Errorf("%w: task %s", ErrStoreRebalancing, id)
	}
	r, err := q.reader(t)
	if err != nil {
		return zero, false, err
	}
	return r.Get(key)
}

// collect copies the entries of it.
func collect[K, V any](it KeyValueIterator[K, V], into *[]KeyValue[K, V]) error {
	defer it.Close()
	for it.Next() {
		*into = append(*into, KeyValue[K, V]{Key: it.Key(), Value: it.Value()})
	}
	return it.Err()
}

func (q *queryStore[K, V]) scan(open func(kvReader[K, V]) (KeyValueIterator[K, V], error)) (KeyValueIterator[K, V], error) {
	if err := q.checkRunning(); err != nil {
		return nil, err
	}
	q.a.tm.Lock()
	defer q.a.tm.Unlock()
	tasks, err := q.localTasksLocked()
	if err != nil {
		return nil, err
	}
	var out []KeyValue[K, V]
	for _, t := range tasks {
		r, err := q.reader(t)
		if err != nil {
			return nil, err
		}
		it, err := open(r)
		if err != nil {
			return nil, err
		}
		if err := collect(it, &out); err != nil {
			return nil, err
		}
	}
	return &sliceIterator[K, V]{kvs: out, i: -1}, nil
}

func (q *queryStore[K, V]) Range(from, to K) (KeyValueIterator[K, V], error) {
	return q.scan(func(r kvReader[K, V]) (KeyValueIterator[K, V], error) { return r.Range(from, to) })
}

func (q *queryStore[K, V]) All() (KeyValueIterator[K, V], error) {
	return q.scan(func(r kvReader[K, V]) (KeyValueIterator[K, V], error) { return r.All() })
}

func (q *queryStore[K, V]) ApproximateNumEntries() (int64, error) {
	if err := q.checkRunning(); err != nil {
		return 0, err
	}
	q.a.tm.Lock()
	defer q.a.tm.Unlock()
	tasks, err := q.localTasksLocked()
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, t := range tasks {
		r, err := q.reader(t)
		if err != nil {
			return 0, err
		}
		n, err := r.ApproximateNumEntries()
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// sliceIterator iterates copied entries.
type sliceIterator[K, V any] struct {
	kvs []KeyValue[K, V]
	i   int
}

func (s *sliceIterator[K, V]) Next() bool {
	if s.i+1 >= len(s.kvs) {
		s.i = len(s.kvs)
		return false
	}
	s.i++
	return true
}

func (s *sliceIterator[K, V]) Key() K       { return s.kvs[s.i].Key }
func (s *sliceIterator[K, V]) Value() V     { return s.kvs[s.i].Value }
func (s *sliceIterator[K, V]) Err() error   { return nil }
func (s *sliceIterator[K, V]) Close() error { return nil }
