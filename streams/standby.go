package streams

import (
	"fmt"
	"net"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Standby replicas (Kafka's num.standby.replicas): copies of a task's
// stores on other instances, kept up to date by reading the stores'
// changelogs, so that the task moves to them with little to restore.
//
// The leader assigns each stateful task up to n standby instances besides
// its active one (assignor.go). An instance opens a standby task's stores
// in the task's own state directory, from their checkpoint (or empty),
// and the stream thread reads the changelog partitions with a consumer of
// its own (read_committed under exactly_once_v2) between batches,
// writing every record into the stores without processing anything. At
// each commit the standby's stores are flushed and its checkpoint
// written, so that the instance reports local state for the task when it
// next joins the group, and the leader gives it the task first if its
// active instance goes away.
//
// When the task comes to this instance as active, its standby is
// recycled into the active task: the stores stay open and restoration
// reads the changelog from the standby's position, not from the start.
// When the task stops being a standby here, the standby closes cleanly
// (checkpoint written) and its state stays on disk.

// appOpt is an option that New reads itself, besides the options of cfg.
type appOpt func(*appCfg)

func (appOpt) apply(*cfg) {}

// appCfg holds the options of standbys and interactive queries.
type appCfg struct {
	standbys int
	endpoint string
}

func (c *appCfg) validate() error {
	if c.standbys < 0 {
		return fmt.Errorf("%w: num.standby.replicas must not be negative", errConfig)
	}
	if c.endpoint != "" {
		host, port, err := net.SplitHostPort(c.endpoint)
		if err == nil && host == "" {
			err = fmt.Errorf("no host")
		}
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil {
			return fmt.Errorf("%w: application.server %q is not host:port: %v", errConfig, c.endpoint, err)
		}
	}
	return nil
}

// NumStandbyReplicas sets num.standby.replicas (default 0): how many
// other instances keep a standby copy of each stateful task's stores.
func NumStandbyReplicas(n int) Opt { return appOpt(func(c *appCfg) { c.standbys = n }) }

// RestoreMetrics are an App's state counters (Kafka's state-store
// metrics restore-total and update-total, KIP-869).
type RestoreMetrics struct {
	// RestoredRecords counts the changelog records written into the
	// stores of active tasks by restoration since Start.
	RestoredRecords int64
	// StandbyUpdatedRecords counts the changelog records written into
	// the stores of standby tasks since Start.
	StandbyUpdatedRecords int64
}

// RestoreMetrics returns the App's restoration counters.
func (a *App) RestoreMetrics() RestoreMetrics {
	return RestoreMetrics{
		RestoredRecords:       a.env.metrics.restored.Load(),
		StandbyUpdatedRecords: a.env.metrics.standbyUpdated.Load(),
	}
}

// StandbyTasks returns the standby tasks of this instance, sorted.
func (a *App) StandbyTasks() []TaskID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]TaskID(nil), a.mu.standbys...)
}

// isStateful reports whether a task has a logged store: one a standby
// can follow.
func (a *App) isStateful(id TaskID) bool {
	if id.Subtopology < 0 || id.Subtopology >= len(a.topo.subtopologies) {
		return false
	}
	for _, name := range a.topo.subtopologies[id.Subtopology].stores {
		if a.topo.stores[name].builder.LoggingEnabled() {
			return true
		}
	}
	return false
}

// newStandbyClient makes the consumer of standby changelogs.
func (a *App) newStandbyClient(base []kgo.Opt) error {
	if a.acfg.standbys == 0 {
		return nil
	}
	opts := append(append([]kgo.Opt{}, base...),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if a.eos {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(append(opts, a.cfg.clientOpts...)...)
	if err != nil {
		return fmt.Errorf("streams: standby client: %w", err)
	}
	a.sbyCl = cl
	return nil
}

// maintainStandbysLocked opens and closes standby tasks to match the last
// assignment, and applies what the standby consumer has fetched; a.tm
// is held, on the stream thread.
func (a *App) maintainStandbysLocked() error {
	if a.sbyCl == nil {
		return nil
	}
	want := map[TaskID]bool{}
	if info := a.assignor.assignment(); info != nil {
		for _, id := range info.standbys {
			// A task active here (not revoked yet) is not also a
			// standby: they would share the stores.
			if a.tm.tasks[id] == nil && id.Subtopology < len(a.topo.subtopologies) {
				want[id] = true
			}
		}
	}
	changed := false
	for _, id := range sortedTaskIDs(a.tm.standbys) {
		if !want[id] {
			a.closeStandbyLocked(a.tm.standbys[id], true)
			changed = true
		}
	}
	for _, id := range sortedTaskIDs(want) {
		if a.tm.standbys[id] != nil {
			continue
		}
		if err := a.openStandbyLocked(id); err != nil {
			return err
		}
		changed = true
	}
	if changed {
		a.publishStandbysLocked()
	}
	if len(a.tm.standbys) == 0 {
		return nil
	}
	fetches := a.sbyCl.PollFetches(nil) // what is buffered; never waits
	if fetches.IsClientClosed() {
		return nil
	}
	var err error
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if err != nil || len(p.Records) == 0 {
			return
		}
		err = a.updateStandbyLocked(topicPartition{p.Topic, p.Partition}, p.Records)
	})
	return err
}

// openStandbyLocked opens a standby task's stores and starts reading
// their changelogs from the positions they hold.
func (a *App) openStandbyLocked(id TaskID) error {
	t := newTask(a.env, a.topo.subtopologies[id.Subtopology], id, nil)
	t.standby = true
	specs, err := t.openStores()
	if err != nil {
		return err
	}
	add := map[string]map[int32]kgo.Offset{}
	for _, s := range specs {
		if add[s.tp.topic] == nil {
			add[s.tp.topic] = map[int32]kgo.Offset{}
		}
		add[s.tp.topic][s.tp.partition] = kgo.NewOffset().At(s.start)
	}
	a.sbyCl.AddConsumePartitions(add)
	a.tm.standbys[id] = t
	a.log.Info("streams: standby task opened", "task", id)
	return nil
}

// updateStandbyLocked writes fetched changelog records into the standby
// store they belong to.
func (a *App) updateStandbyLocked(tp topicPartition, recs []*kgo.Record) error {
	for _, t := range a.tm.standbys {
		for _, ts := range t.stores {
			if ts.logged == nil || ts.changelog != tp {
				continue
			}
			t.mu.Lock()
			pos := t.mu.changelogOffsets[tp]
			t.mu.Unlock()
			batch := recs[:0:0]
			next := pos
			for _, r := range recs {
				if r.Offset < pos {
					continue
				}
				next = r.Offset + 1
				if !r.Attrs.IsControl() {
					batch = append(batch, r)
				}
			}
			if err := t.restoreBatch(ts, batch); err != nil {
				return err
			}
			t.advanceChangelog(tp, next)
			return nil
		}
	}
	return nil
}

// stopStandbyConsumeLocked stops reading a standby task's changelogs.
func (a *App) stopStandbyConsumeLocked(t *task) {
	rm := map[string][]int32{}
	for _, ts := range t.stores {
		if ts.logged != nil {
			rm[ts.changelog.topic] = append(rm[ts.changelog.topic], ts.changelog.partition)
		}
	}
	if len(rm) > 0 {
		a.sbyCl.RemoveConsumePartitions(rm)
	}
}

// closeStandbyLocked closes a standby task; clean writes its checkpoint
// first.
func (a *App) closeStandbyLocked(t *task, clean bool) {
	a.stopStandbyConsumeLocked(t)
	if clean {
		if err := t.closeClean(); err != nil {
			a.log.Warn("streams: closing standby task", "task", t.id, "err", err)
		}
	} else {
		t.closeDirty()
	}
	delete(a.tm.standbys, t.id)
	a.log.Info("streams: standby task closed", "task", t.id, "clean", clean)
}

// promoteStandbyLocked turns the standby of a task assigned here as
// active into the active task: its stores stay open, and restoration
// goes on from the positions they hold. Under exactly_once_v2 the
// checkpoint is removed, as an active task's is.
func (a *App) promoteStandbyLocked(t *task, partitions []topicPartition) (*task, error) {
	a.stopStandbyConsumeLocked(t)
	delete(a.tm.standbys, t.id)
	a.publishStandbysLocked()
	if a.eos {
		if err := removeCheckpoint(t.dir); err != nil {
			t.closeDirty()
			return nil, err
		}
	}
	t.standby = false
	t.partitions = partitions
	for _, tp := range partitions {
		t.queues[tp] = &partitionQueue{}
	}
	a.log.Info("streams: standby task promoted to active", "task", t.id)
	return t, nil
}

// resumeRestore returns the changelogs of a promoted standby's stores,
// from the positions they hold.
func (t *task) resumeRestore() []restoreSpec {
	var out []restoreSpec
	names := make([]string, 0, len(t.stores))
	for name := range t.stores {
		names = append(names, name)
	}
	sort.Strings(names)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, name := range names {
		ts := t.stores[name]
		if ts.logged != nil {
			out = append(out, restoreSpec{t: t, store: ts, tp: ts.changelog, start: t.mu.changelogOffsets[ts.changelog]})
		}
	}
	return out
}

// checkpointStandbysLocked makes the standbys' stores durable and
// writes their checkpoints (at each commit).
func (a *App) checkpointStandbysLocked() {
	for _, t := range a.tm.standbys {
		if err := t.checkpoint(); err != nil {
			a.log.Warn("streams: checkpoint standby task", "task", t.id, "err", err)
		}
	}
}

// closeStandbysLocked closes every standby task (at shutdown).
func (a *App) closeStandbysLocked(clean bool) {
	for _, id := range sortedTaskIDs(a.tm.standbys) {
		a.closeStandbyLocked(a.tm.standbys[id], clean)
	}
	a.publishStandbysLocked()
}

// publishStandbysLocked copies the standby list for StandbyTasks.
func (a *App) publishStandbysLocked() {
	ids := sortedTaskIDs(a.tm.standbys)
	a.mu.Lock()
	a.mu.standbys = ids
	a.mu.Unlock()
}

func sortedTaskIDs[T any](m map[TaskID]T) []TaskID {
	out := make([]TaskID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].less(out[j]) })
	return out
}
