package streams

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/gregor-streaming/gregor/streams/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// globalStores are the open global stores of a runtime (Kafka's
// GlobalStateManager). The global thread (or the TestDriver) writes them
// through writer; tasks read them through reader, which refuses writes.
// The byte stores are locked, so that both may run at once.
type globalStores struct {
	env *taskEnv
	dir string // <state.dir>/<application.id>/global
	all []*globalStore
	// byTopic maps a global topic to its store.
	byTopic map[string]*globalStore
	// positions holds the offset after the last applied record of
	// each partition. Written by one goroutine at a time: Start's
	// restore, then the global thread; read by close once that has
	// stopped.
	positions map[topicPartition]int64
}

type globalStore struct {
	spec   *globalSpec
	inner  *lockedStore
	writer StateStore
	reader StateStore
}

// openGlobalStores opens the topology's global stores under
// <stateDir>/global; wipe empties them first. It returns nil if the
// topology has no global table.
func openGlobalStores(env *taskEnv, wipe bool) (*globalStores, error) {
	topo := env.topo
	if len(topo.globals) == 0 {
		return nil, nil
	}
	g := &globalStores{
		env:       env,
		dir:       filepath.Join(env.stateDir, "global"),
		byTopic:   map[string]*globalStore{},
		positions: map[topicPartition]int64{},
	}
	cp, err := readCheckpoint(g.dir)
	if err != nil || wipe {
		if err != nil {
			env.log.Warn("streams: ignoring unreadable global checkpoint", "err", err)
		}
		cp = map[topicPartition]int64{}
	}
	for _, spec := range topo.globals {
		sup := spec.builder.supplier()
		dir := filepath.Join(g.dir, "pebble", spec.store)
		checkpointed := false
		for tp := range cp {
			checkpointed = checkpointed || tp.topic == spec.topic
		}
		if !sup.Persistent() || !checkpointed {
			// Its contents are unknown: start over from the topic.
			if err := os.RemoveAll(dir); err != nil {
				g.close()
				return nil, fmt.Errorf("streams: global store %s: %w", spec.store, err)
			}
		} else {
			for tp, off := range cp {
				if tp.topic == spec.topic {
					g.positions[tp] = off
				}
			}
		}
		inner, err := sup.Open(dir)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("streams: global store %s: %w", spec.store, err)
		}
		locked := &lockedStore{inner: inner}
		gs := &globalStore{
			spec:   spec,
			inner:  locked,
			writer: spec.builder.wrap(locked, spec.topic),
			reader: spec.builder.wrap(readOnlyStore{locked}, spec.topic),
		}
		g.all = append(g.all, gs)
		g.byTopic[spec.topic] = gs
	}
	return g, nil
}

// apply writes a record of a global topic into its store.
func (g *globalStores) apply(r *kgo.Record) error {
	gs := g.byTopic[r.Topic]
	if gs == nil {
		return fmt.Errorf("streams: %s is not a global topic", r.Topic)
	}
	if r.Attrs.IsControl() {
		return nil
	}
	return gs.spec.apply(gs.writer, r, func(err error) error {
		ec := ErrorContext{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
			ProcessorNode: gs.spec.processor, Logger: g.env.log}
		if g.env.deserHandler(ec, r, err) == HandlerResume {
			return nil
		}
		return fmt.Errorf("%w: global table %s, %s-%d@%d: %w", ErrDeserialization, gs.spec.store, r.Topic, r.Partition, r.Offset, err)
	})
}

// checkpoint makes the persistent global stores durable and records the
// positions they hold.
func (g *globalStores) checkpoint() error {
	offsets := map[topicPartition]int64{}
	for _, gs := range g.all {
		if !gs.inner.Persistent() {
			continue
		}
		if err := gs.inner.Flush(); err != nil {
			return fmt.Errorf("streams: global store %s: %w", gs.spec.store, err)
		}
		for tp, off := range g.positions {
			if tp.topic == gs.spec.topic {
				offsets[tp] = off
			}
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		return err
	}
	return writeCheckpoint(g.dir, offsets)
}

func (g *globalStores) close() error {
	var errs []error
	for _, gs := range g.all {
		if err := gs.inner.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// attachGlobalStores gives every processor of the task access to the
// global stores (Kafka connects global stores to every task).
func (t *task) attachGlobalStores() {
	g := t.env.globals
	if g == nil {
		return
	}
	names := make([]string, 0, len(g.all))
	for _, gs := range g.all {
		names = append(names, gs.spec.store)
		t.stores[gs.spec.store] = &taskStore{
			spec:  &storeSpec{name: gs.spec.store, builder: gs.spec.builder},
			inner: taskView{gs.inner},
			typed: gs.reader,
		}
	}
	for _, n := range t.nodes {
		if c, ok := n.(interface{ addStores([]string) }); ok {
			c.addStores(names)
		}
	}
}

// addStores lets the processor reach more stores (the global ones).
func (n *processorNode[KIn, VIn, KOut, VOut]) addStores(names []string) {
	n.stores = append(slices.Clip(n.stores), names...)
}

// lockedStore serializes the calls to a byte store shared by the global
// thread and the stream thread. Iterators are made under the lock and
// read snapshots (as both byte stores' iterators do).
type lockedStore struct {
	mu    sync.Mutex
	inner state.KeyValueStore
}

func (l *lockedStore) Name() string     { return l.inner.Name() }
func (l *lockedStore) Persistent() bool { return l.inner.Persistent() }

func (l *lockedStore) Get(key []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.Get(key)
}

func (l *lockedStore) Put(key, value []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.Put(key, value)
}

func (l *lockedStore) Delete(key []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.Delete(key)
}

func (l *lockedStore) PutAll(entries []state.KeyValue) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.PutAll(entries)
}

func (l *lockedStore) Range(from, to []byte) (state.Iterator, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.Range(from, to)
}

func (l *lockedStore) ApproximateNumEntries() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.ApproximateNumEntries()
}

func (l *lockedStore) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.Flush()
}

func (l *lockedStore) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.Close()
}

// errGlobalReadOnly is returned by writes to a global store from a task.
var errGlobalReadOnly = errors.New("streams: global stores are read-only for processors")

// readOnlyStore is the tasks' view of a global store.
type readOnlyStore struct{ *lockedStore }

func (readOnlyStore) Put(_, _ []byte) error           { return errGlobalReadOnly }
func (readOnlyStore) Delete([]byte) error             { return errGlobalReadOnly }
func (readOnlyStore) PutAll(_ []state.KeyValue) error { return errGlobalReadOnly }

// taskView is a global store as a task holds it: the task neither
// flushes nor closes it.
type taskView struct{ *lockedStore }

func (taskView) Flush() error { return nil }
func (taskView) Close() error { return nil }

// globalThread keeps an App's global stores up to date (Kafka's
// GlobalStreamThread): Start restores them, then the thread's goroutine
// applies new records until the App closes.
type globalThread struct {
	stores *globalStores
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
}

// startGlobal opens and restores the global stores and starts the global
// thread. It returns when the stores hold their topics up to their end
// offsets as of the call (the last stable offsets under exactly_once_v2).
func (a *App) startGlobal(base []kgo.Opt) error {
	if len(a.topo.globals) == 0 {
		return nil
	}
	ctx := a.ctx
	var topics []string
	for _, spec := range a.topo.globals {
		topics = append(topics, spec.topic)
	}
	var ends kadm.ListedOffsets
	var err error
	if a.eos {
		ends, err = a.adm.ListCommittedOffsets(ctx, topics...)
	} else {
		ends, err = a.adm.ListEndOffsets(ctx, topics...)
	}
	if err != nil {
		return fmt.Errorf("streams: list global topic offsets: %w", err)
	}
	var missing []string
	for _, topic := range topics {
		if _, ok := ends[topic]; !ok {
			missing = append(missing, topic)
		}
	}
	ends.Each(func(lo kadm.ListedOffset) {
		if lo.Err != nil && !slices.Contains(missing, lo.Topic) {
			missing = append(missing, lo.Topic)
		}
	})
	if len(missing) > 0 {
		return fmt.Errorf("%w: global %v", ErrMissingSourceTopic, missing)
	}
	starts, err := a.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("streams: list global topic offsets: %w", err)
	}
	g, err := openGlobalStores(a.env, false)
	if err != nil {
		return err
	}
	restart := false
	ends.Each(func(lo kadm.ListedOffset) {
		if g.positions[topicPartition{lo.Topic, lo.Partition}] > lo.Offset {
			// The topic is behind the checkpoint (recreated): the
			// store cannot be trusted.
			restart = true
		}
	})
	if restart {
		a.log.Warn("streams: global checkpoint beyond the topics' end; restoring the global stores from scratch")
		g.close()
		if g, err = openGlobalStores(a.env, true); err != nil {
			return err
		}
	}
	start := map[string]map[int32]kgo.Offset{}
	pending := map[topicPartition]int64{}
	ends.Each(func(lo kadm.ListedOffset) {
		tp := topicPartition{lo.Topic, lo.Partition}
		pos := g.positions[tp]
		if start[lo.Topic] == nil {
			start[lo.Topic] = map[int32]kgo.Offset{}
		}
		start[lo.Topic][lo.Partition] = kgo.NewOffset().At(pos)
		if so, ok := starts.Lookup(lo.Topic, lo.Partition); ok && so.Offset > pos {
			pos = so.Offset
		}
		if pos < lo.Offset {
			pending[tp] = lo.Offset
		}
	})
	opts := append(slices.Clone(base),
		kgo.ConsumePartitions(start),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords(),
	)
	if a.eos {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(append(opts, a.cfg.clientOpts...)...)
	if err != nil {
		g.close()
		return fmt.Errorf("streams: global consumer: %w", err)
	}
	gt := &globalThread{stores: g, cl: cl, done: make(chan struct{})}
	began := time.Now()
	// Restore: up to the end offsets taken above. The record before an
	// end offset always exists (see restore.go), so this ends.
	for len(pending) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			cl.Close()
			g.close()
			return err
		}
		if err := gt.applyFetches(fetches, a); err != nil {
			cl.Close()
			g.close()
			return err
		}
		for tp, end := range pending {
			if g.positions[tp] >= end {
				delete(pending, tp)
			}
		}
	}
	a.log.Info("streams: restored global stores", "stores", len(g.all), "took", time.Since(began))
	a.env.globals = g
	a.global = gt
	var tctx context.Context
	tctx, gt.cancel = context.WithCancel(context.Background())
	go gt.run(tctx, a)
	return nil
}

// applyFetches applies fetched records and advances the positions.
func (gt *globalThread) applyFetches(fetches kgo.Fetches, a *App) error {
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			a.log.Warn("streams: global fetch", "topic", topic, "partition", p, "err", err)
		}
	})
	var err error
	fetches.EachRecord(func(r *kgo.Record) {
		if err != nil {
			return
		}
		if err = gt.stores.apply(r); err == nil {
			gt.stores.positions[topicPartition{r.Topic, r.Partition}] = r.Offset + 1
		}
	})
	return err
}

// run is the global thread: it applies new records until ctx ends; an
// error stops the App.
func (gt *globalThread) run(ctx context.Context, a *App) {
	defer close(gt.done)
	for {
		fetches := gt.cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		if err := gt.applyFetches(fetches, a); err != nil {
			a.log.Error("streams: global thread stopping", "err", err)
			a.env.setFatal(err)
			return
		}
	}
}

// stopGlobal stops the global thread, checkpoints and closes the global
// stores. It is idempotent.
func (a *App) stopGlobal() {
	gt := a.global
	if gt == nil {
		return
	}
	a.global = nil
	gt.cancel()
	<-gt.done
	gt.cl.Close()
	if err := gt.stores.checkpoint(); err != nil {
		a.log.Warn("streams: global checkpoint", "err", err)
	}
	if err := gt.stores.close(); err != nil {
		a.log.Warn("streams: closing global stores", "err", err)
	}
}
