package connect

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DistributedHerder runs one worker of a Kafka Connect cluster (Kafka's
// DistributedHerder). Workers with the same group.id form a group; the
// group's leader assigns connectors and tasks (group_assign.go); every
// worker runs what it is assigned. Configurations live in the config
// topic and are written by the leader only: a worker that is not the
// leader answers a write with a forwardError, which the REST layer turns
// into a request to the leader's URL, as Kafka forwards.
//
// The herder's loop goroutine owns the group membership: it joins,
// applies assignments, heartbeats, and reconciles what runs with the
// config topic whenever the config store reports a change:
//
//	config topic ─▶ KafkaConfigStore ─▶ poke ─┐
//	                                          ▼
//	 JoinGroup/SyncGroup ◀──────────────── loop ──▶ Worker: start/stop connectors and tasks
//	 Heartbeat (heartbeat.interval.ms)        │
//	                                          └──▶ running connector's task configs ─▶ leader ─▶ config topic
//
// It embeds the standalone Herder for what does not differ (reads,
// offsets, validation); the Herder's stores are the Kafka-backed ones.
//
// Lock order: Herder.mu, then DistributedHerder.mu, then the Worker's
// and the stores' locks. Herder.mu guards the loop's record of what runs
// (started, tasks) and every call into the Worker.
type DistributedHerder struct {
	*Herder
	dcfg         *DistributedConfig
	url          string // advertised REST URL
	configStore  *KafkaConfigStore
	statusStore  *KafkaStatusStore
	memberClient *kgo.Client
	member       *groupMember // loop goroutine only
	httpc        *http.Client
	wake         chan struct{} // buffered 1: the config changed or a request is queued
	ctx          context.Context
	cancel       context.CancelFunc
	done         chan struct{} // closed when the loop returns
	generation   atomic.Int32
	closeOnce    sync.Once
	fenceMu      sync.Mutex // one zombie fencing round at a time (eos_fencing.go)

	mu struct {
		sync.Mutex
		joined     bool // an assignment of the current generation is in force
		isLeader   bool
		sessioned  bool // the group speaks "sessioned": internal requests are signed
		leaderURL  string
		assignment connectorsAndTasks
		// owners maps a connector or task (TaskID.String()) to the URL
		// of the worker assigned it; the leader's, from its last round.
		owners      map[string]string
		restarts    []RestartRequest
		reconfigure map[string]bool
		raised      map[string]error
		// fencedFromConfigTopic: a privileged write failed or write
		// privileges could not be claimed (configwriter.go); the loop
		// reclaims them while this worker leads (Kafka's
		// fencedFromConfigTopic).
		fencedFromConfigTopic bool
	}

	// Guarded by Herder.mu.
	started        map[string]map[string]string // connector -> configuration it runs with
	startedTargets map[string]TargetState
	tasks          map[TaskID]map[string]string // task -> configuration it runs with
	taskTargets    map[TaskID]TargetState
	publishPending map[string]bool // connectors whose task configurations to send

	// Loop goroutine only.
	assignor  assignorMemory
	joinedSig string
}

// forwardError tells the REST layer to send the request to another
// worker: the leader (Kafka's NotLeaderException) or the worker running
// a task (NotAssignedException).
type forwardError struct {
	url string
	msg string
}

func (e *forwardError) Error() string { return e.msg }

// Messages of Kafka's distributed herder and REST layer.
const (
	msgRebalanceExpected = "Request cannot be completed because a rebalance is expected"
	msgConflictingOp     = "Cannot complete request because of a conflicting operation (e.g. worker rebalance)"
)

// DistributedHerderOptions are what NewDistributedHerder needs besides
// its configuration.
type DistributedHerderOptions struct {
	// URL is the worker's advertised REST URL; WorkerID its host:port.
	URL      string
	WorkerID string
	// ClusterID is the Kafka cluster's id.
	ClusterID string
	// Logger receives the logs (default: discarded).
	Logger *slog.Logger
	// HTTPClient sends requests to other workers (default: plain HTTP
	// only; StartDistributed passes the REST server's, rest_tls.go).
	HTTPClient *http.Client
	// Loggers receives the cluster logger levels read from the config
	// topic (KIP-976); nil: they are ignored.
	Loggers *Loggers
}

// NewDistributedHerder opens the Kafka-backed stores (creating the topics
// if needed and reading them to the end) and starts the group loop. The
// caller must Close it.
func NewDistributedHerder(ctx context.Context, cfg *DistributedConfig, opts DistributedHerderOptions) (*DistributedHerder, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &DistributedHerder{
		dcfg: cfg, url: opts.URL, wake: make(chan struct{}, 1), done: make(chan struct{}),
		httpc:   &http.Client{Timeout: 90 * time.Second},
		started: map[string]map[string]string{}, startedTargets: map[string]TargetState{},
		tasks: map[TaskID]map[string]string{}, taskTargets: map[TaskID]TargetState{}, publishPending: map[string]bool{},
	}
	if opts.HTTPClient != nil {
		d.httpc = opts.HTTPClient
	}
	d.mu.reconfigure = map[string]bool{}
	d.mu.raised = map[string]error{}
	d.generation.Store(-1)
	eos, err := exactlyOnceSourceFor(cfg) // exactly.once.source.support (eos_distributed.go)
	if err != nil {
		return nil, err
	}
	offsets, err := OpenKafkaOffsetStore(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("offset store: %w", err)
	}
	statuses, err := OpenKafkaStatusStore(ctx, cfg, log, d.generation.Load)
	if err != nil {
		offsets.Close()
		return nil, fmt.Errorf("status store: %w", err)
	}
	configs, err := OpenKafkaConfigStore(ctx, cfg, log, d.poke, d.queueRestart)
	if err != nil {
		offsets.Close()
		statuses.Close()
		return nil, fmt.Errorf("config store: %w", err)
	}
	mopts, err := cfg.workerClientOpts("connect-" + cfg.GroupID)
	var mc *kgo.Client
	if err == nil {
		mc, err = kgo.NewClient(mopts...)
	}
	if err != nil {
		offsets.Close()
		statuses.Close()
		configs.Close()
		return nil, err
	}
	h, err := NewHerder(cfg.Config, HerderOptions{WorkerID: opts.WorkerID, ClusterID: opts.ClusterID, Logger: log,
		Offsets: offsets, Configs: configs, Statuses: statuses})
	if err != nil {
		mc.Close()
		offsets.Close()
		statuses.Close()
		configs.Close()
		return nil, err
	}
	d.Herder, d.configStore, d.statusStore, d.memberClient = h, configs, statuses, mc
	if ls := opts.Loggers; ls != nil {
		configs.SetLoggerLevelListener(func(namespace, level string) {
			names, err := ls.SetLevel(namespace, level)
			if err != nil {
				log.Error("Ignoring invalid cluster logging level", "namespace", namespace, "level", level, "err", err)
				return
			}
			log.Info("Set level of loggers from the config topic", "namespace", namespace, "level", strings.ToUpper(level), "loggers", len(names))
		})
	}
	configs.onPrivilegedWriteFailed = func() {
		d.log.Warn("Failed to write to config topic as leader; will rejoin group if necessary and, if still leader, attempt to reclaim write privileges for the config topic")
		d.fencedFromConfigTopic()
	}
	if eos != nil {
		eos.fence = d.fenceBeforeStart // eos_fencing.go
	}
	h.worker.setExactlyOnceSource(eos)
	d.member = newGroupMember(mc, cfg, log.With("group", cfg.GroupID))
	d.ctx, d.cancel = context.WithCancel(context.Background())
	go d.run()
	return d, nil
}

// poke wakes the loop.
func (d *DistributedHerder) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *DistributedHerder) queueRestart(req RestartRequest) {
	d.mu.Lock()
	d.mu.restarts = append(d.mu.restarts, req)
	d.mu.Unlock()
	d.poke()
}

func (d *DistributedHerder) hooksFor(name string) connectorHooks {
	return connectorHooks{
		reconfigure: func() {
			d.mu.Lock()
			d.mu.reconfigure[name] = true
			d.mu.Unlock()
			d.poke()
		},
		raiseError: func(err error) {
			d.mu.Lock()
			d.mu.raised[name] = err
			d.mu.Unlock()
			d.poke()
		},
	}
}

// Close stops the worker's connectors and tasks (committing offsets),
// leaves the group, and closes the stores.
func (d *DistributedHerder) Close() {
	d.closeOnce.Do(func() {
		d.cancel()
		<-d.done
		d.statusStore.Close()
		d.configStore.Close()
		d.memberClient.Close()
	})
}

// run is the loop goroutine.
func (d *DistributedHerder) run() {
	defer close(d.done)
	ctx := d.ctx
	needJoin := true
	hb := time.NewTicker(d.dcfg.HeartbeatInterval)
	defer hb.Stop()
	rejoin := time.NewTimer(time.Hour)
	rejoin.Stop()
	defer rejoin.Stop()
	for ctx.Err() == nil {
		if needJoin {
			a, err := d.joinAndApply(ctx)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("Failed to join the worker group", "err", err)
					sleepCtx(ctx, 500*time.Millisecond)
				}
				continue
			}
			needJoin = !a.Revoked.empty() || a.Error != assignmentNoError
			d.reclaimWritePrivileges(ctx)
			d.maybeRotateSessionKey()
			if a.Delay > 0 {
				rejoin.Reset(time.Duration(a.Delay) * time.Millisecond)
			}
			hb.Reset(d.dcfg.HeartbeatInterval)
			continue
		}
		d.reclaimWritePrivileges(ctx)
		select {
		case <-ctx.Done():
		case <-hb.C:
			if err := d.member.heartbeat(ctx); err != nil {
				switch {
				case errors.Is(err, errRejoin):
					needJoin = true
				case errors.Is(err, errFenced):
					d.log.Warn("Worker was removed from the group; stopping its connectors and tasks", "err", err)
					d.loseAssignment()
					needJoin = true
				case ctx.Err() == nil:
					d.log.Warn("Heartbeat failed", "err", err)
				}
			}
			d.maybeRotateSessionKey()
			d.reconcile()
		case <-d.wake:
			if d.configSignature(d.configStore.Snapshot()) != d.joinedSig {
				needJoin = true
			}
			d.reconcile()
		case <-rejoin.C:
			needJoin = true
		}
	}
	d.shutdown()
}

// shutdown stops everything this worker runs, then leaves the group, so
// that the next owner of a task starts after its offsets were committed.
func (d *DistributedHerder) shutdown() {
	d.mu.Lock()
	d.mu.joined = false
	d.mu.Unlock()
	d.Herder.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.member.leave(ctx)
}

// configSignature names the connectors and their task counts: a change
// needs a rebalance.
func (d *DistributedHerder) configSignature(snap ConfigSnapshot) string {
	names := make([]string, 0, len(snap))
	for n := range snap {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(strconv.Quote(n))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(len(snap[n].Tasks)))
		b.WriteByte(',')
	}
	return b.String()
}

// currentAssignment returns what this worker runs by assignment.
func (d *DistributedHerder) currentAssignment() connectorsAndTasks {
	d.mu.Lock()
	defer d.mu.Unlock()
	return connectorsAndTasks{Connectors: append([]string(nil), d.mu.assignment.Connectors...), Tasks: append([]TaskID(nil), d.mu.assignment.Tasks...)}
}

// joinAndApply joins the group, stops what is revoked and starts what is
// assigned.
func (d *DistributedHerder) joinAndApply(ctx context.Context) (*connectAssignment, error) {
	d.mu.Lock()
	d.mu.joined = false
	d.mu.Unlock()
	readCtx, cancel := context.WithTimeout(ctx, storeTimeout)
	err := d.configStore.ReadToEnd(readCtx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("read the config topic: %w", err)
	}
	current := d.currentAssignment()
	metadata := func(version int16) []byte {
		return encodeWorkerState(workerState{Version: version, URL: d.url, ConfigOffset: d.configStore.Offset(),
			Assignment: &connectAssignment{Version: version, ConfigOffset: d.configStore.Offset(), Connectors: current.Connectors, Tasks: current.Tasks}})
	}
	raw, err := d.member.join(ctx, metadata, d.assign)
	if err != nil {
		return nil, err
	}
	a, err := decodeAssignment(raw)
	if err != nil {
		return nil, fmt.Errorf("assignment: %w", err)
	}
	if a.Error == assignmentConfigMismatch || d.configStore.Offset() < a.ConfigOffset {
		readCtx, cancel := context.WithTimeout(ctx, storeTimeout)
		d.configStore.ReadToEnd(readCtx)
		cancel()
	}
	if a.Error != assignmentNoError {
		d.log.Info("Leader reported a config mismatch; rejoining after reading the config topic", "leader", a.LeaderURL)
		return a, nil
	}
	d.generation.Store(d.member.generation)
	revokedConn := setOf(a.Revoked.Connectors)
	revokedTask := setOf(a.Revoked.Tasks)
	next := connectorsAndTasks{}
	for _, c := range current.Connectors {
		if !revokedConn[c] {
			next.Connectors = append(next.Connectors, c)
		}
	}
	for _, t := range current.Tasks {
		if !revokedTask[t] {
			next.Tasks = append(next.Tasks, t)
		}
	}
	next.Connectors = uniqueSorted(append(next.Connectors, a.Connectors...))
	next.Tasks = uniqueSortedTasks(append(next.Tasks, a.Tasks...))
	d.log.Info("Joined the worker group", "generation", d.member.generation, "leader", a.LeaderURL,
		"assigned.connectors", a.Connectors, "assigned.tasks", taskNames(a.Tasks),
		"revoked.connectors", a.Revoked.Connectors, "revoked.tasks", taskNames(a.Revoked.Tasks), "delay.ms", a.Delay)
	leader := a.Leader == d.member.memberID
	if leader {
		// Before any privileged write of this generation (KIP-618):
		// fences the producer of an older leader.
		claimCtx, cancel := context.WithTimeout(ctx, storeTimeout)
		err := d.configStore.ClaimWritePrivileges(claimCtx)
		cancel()
		if err != nil {
			d.log.Warn("Unable to claim write privileges for config topic. Will backoff and possibly retry if still the leader", "err", err)
			d.fencedFromConfigTopic()
		}
	} else {
		d.configStore.RelinquishWritePrivileges()
	}
	d.mu.Lock()
	d.mu.assignment = next
	d.mu.leaderURL = a.LeaderURL
	d.mu.isLeader = leader
	d.mu.sessioned = d.member.protocol == ProtocolSessioned
	d.mu.joined = true
	d.mu.Unlock()
	d.joinedSig = d.configSignature(d.configStore.Snapshot())
	d.reconcile()
	return a, nil
}

func taskNames(ids []TaskID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// assign is the leader's part of a rebalance: it decodes every member's
// state and runs the assignor.
func (d *DistributedHerder) assign(protocol string, members []joinedMember) (map[string][]byte, error) {
	readCtx, cancel := context.WithTimeout(d.ctx, storeTimeout)
	err := d.configStore.ReadToEnd(readCtx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("leader: read the config topic: %w", err)
	}
	snap := d.configStore.Snapshot()
	offset := d.configStore.Offset()
	version := protocolVersion(protocol)
	states := make([]memberState, 0, len(members))
	urls := map[string]string{}
	maxOffset := int64(-1)
	for _, m := range members {
		ws, err := decodeWorkerState(m.Metadata)
		if err != nil {
			d.log.Warn("Ignoring a member's malformed state", "member", m.ID, "err", err)
		}
		ms := memberState{ID: m.ID, URL: ws.URL, ConfigOffset: ws.ConfigOffset}
		if ws.Assignment != nil {
			ms.Running = connectorsAndTasks{Connectors: ws.Assignment.Connectors, Tasks: ws.Assignment.Tasks}
		}
		states = append(states, ms)
		urls[m.ID] = ws.URL
		maxOffset = max(maxOffset, ws.ConfigOffset)
	}
	out := map[string][]byte{}
	if maxOffset > offset {
		d.log.Warn("Leader is behind a member's config offset", "leader.offset", offset, "member.offset", maxOffset)
		for _, m := range states {
			out[m.ID] = encodeAssignment(&connectAssignment{Version: version, Error: assignmentConfigMismatch, Leader: d.member.memberID, LeaderURL: d.url, ConfigOffset: offset})
		}
		return out, nil
	}
	var connectors []string
	var tasks []TaskID
	for name, c := range snap {
		connectors = append(connectors, name)
		for i := range c.Tasks {
			tasks = append(tasks, TaskID{Connector: name, Task: i})
		}
	}
	running := map[string]connectorsAndTasks{}
	for _, m := range states {
		running[m.ID] = m.Running
	}
	results, delay := assignRound(&d.assignor, time.Now(), d.dcfg.ScheduledRebalanceMaxDelay, states, connectors, tasks)
	owners := map[string]string{}
	for id, r := range results {
		had := running[id]
		hadConn, hadTask := setOf(had.Connectors), setOf(had.Tasks)
		a := &connectAssignment{Version: version, Leader: d.member.memberID, LeaderURL: d.url, ConfigOffset: offset,
			Revoked: r.Revoked, Delay: int32(delay.Milliseconds())}
		for _, c := range r.Assigned.Connectors {
			owners[c] = urls[id]
			if !hadConn[c] {
				a.Connectors = append(a.Connectors, c)
			}
		}
		for _, t := range r.Assigned.Tasks {
			owners[t.String()] = urls[id]
			if !hadTask[t] {
				a.Tasks = append(a.Tasks, t)
			}
		}
		out[id] = encodeAssignment(a)
	}
	d.mu.Lock()
	d.mu.owners = owners
	d.mu.Unlock()
	return out, nil
}

// configTopicWritePrivilegesBackoff is how long the loop waits after
// failing to reclaim write privileges (Kafka's
// CONFIG_TOPIC_WRITE_PRIVILEGES_BACKOFF_MS).
const configTopicWritePrivilegesBackoff = 500 * time.Millisecond

// fencedFromConfigTopic records that a privileged write failed (the
// store relinquished the privileges) or that they could not be claimed,
// and wakes the loop, which reclaims them if this worker still leads
// (Kafka's writeToConfigTopicAsLeader).
func (d *DistributedHerder) fencedFromConfigTopic() {
	d.mu.Lock()
	d.mu.fencedFromConfigTopic = true
	d.mu.Unlock()
	d.poke()
}

// reclaimWritePrivileges is the loop's part of Kafka's
// fencedFromConfigTopic handling: after a failed privileged write, a
// worker that still leads claims the write privileges again; one that no
// longer leads forgets it was fenced. It returns false when the claim
// failed, after backing off; the loop goes on heartbeating and tries
// again on its next iteration.
func (d *DistributedHerder) reclaimWritePrivileges(ctx context.Context) bool {
	d.mu.Lock()
	fenced, leader := d.mu.fencedFromConfigTopic, d.mu.joined && d.mu.isLeader
	d.mu.Unlock()
	if !fenced {
		return true
	}
	if leader {
		d.log.Debug("Reclaiming write privileges for config topic after being fenced out")
		claimCtx, cancel := context.WithTimeout(ctx, storeTimeout)
		err := d.configStore.ClaimWritePrivileges(claimCtx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("Unable to claim write privileges for config topic. Will backoff and possibly retry if still the leader", "err", err)
				sleepCtx(ctx, configTopicWritePrivilegesBackoff)
			}
			return false
		}
		d.log.Debug("Successfully reclaimed write privileges for config topic after being fenced out")
	} else {
		d.configStore.RelinquishWritePrivileges()
	}
	d.mu.Lock()
	d.mu.fencedFromConfigTopic = false
	d.mu.Unlock()
	return true
}

// loseAssignment stops everything: the worker is out of the group.
func (d *DistributedHerder) loseAssignment() {
	d.mu.Lock()
	d.mu.assignment = connectorsAndTasks{}
	d.mu.joined = false
	d.mu.Unlock()
	d.reconcile()
}

// reconcile makes what runs match the assignment and the config topic.
func (d *DistributedHerder) reconcile() {
	if err := d.Herder.lock(); err != nil {
		return
	}
	defer d.Herder.mu.Unlock()
	snap := d.configStore.Snapshot()
	d.mu.Lock()
	mine := d.mu.assignment
	restarts := d.mu.restarts
	d.mu.restarts = nil
	reconfigure := d.mu.reconfigure
	d.mu.reconfigure = map[string]bool{}
	raised := d.mu.raised
	d.mu.raised = map[string]error{}
	d.mu.Unlock()
	mineConn, mineTask := setOf(mine.Connectors), setOf(mine.Tasks)
	w := d.worker

	// Stop what is no longer ours, deleted, or reconfigured.
	for name := range d.started {
		if _, ok := snap[name]; ok && mineConn[name] {
			continue
		}
		w.stopConnector(name)
		delete(d.started, name)
		delete(d.startedTargets, name)
		delete(d.publishPending, name)
		if _, ok := snap[name]; !ok {
			d.statuses.DeleteConnector(name)
		}
	}
	var stop []TaskID
	var gone []TaskID
	for id, tc := range d.tasks {
		c, ok := snap[id.Connector]
		configured := ok && id.Task < len(c.Tasks)
		if configured && mineTask[id] && maps.Equal(c.Tasks[id.Task], tc) && c.Target != TargetStopped {
			continue
		}
		stop = append(stop, id)
		if !configured {
			gone = append(gone, id)
		}
	}
	if len(stop) > 0 {
		w.stopTasks(stop)
		for _, id := range stop {
			delete(d.tasks, id)
			delete(d.taskTargets, id)
		}
		for _, id := range gone {
			d.statuses.DeleteTask(id)
		}
	}

	// Start or update our connectors.
	for _, name := range mine.Connectors {
		c, ok := snap[name]
		if !ok {
			continue
		}
		if cfg, running := d.started[name]; running && !maps.Equal(cfg, c.Config) {
			w.stopConnector(name)
			delete(d.started, name)
		}
		if _, running := d.started[name]; !running {
			d.started[name], d.startedTargets[name] = c.Config, c.Target
			if err := w.startConnector(name, c.Config, c.Target, d.hooksFor(name)); err == nil && c.Target == TargetStarted {
				d.publishPending[name] = true
			}
			continue
		}
		if d.startedTargets[name] != c.Target {
			d.startedTargets[name] = c.Target
			if err := w.setConnectorTarget(name, c.Target); err == nil && c.Target == TargetStarted {
				d.publishPending[name] = true
			}
		}
	}
	for name, err := range raised {
		if _, ok := d.started[name]; ok {
			d.log.Error("Connector raised an error", "connector", name, "err", err)
			w.failConnector(name, err)
		}
	}
	for name := range reconfigure {
		if _, ok := d.started[name]; ok {
			d.publishPending[name] = true
		}
	}

	// Start our tasks.
	for _, id := range mine.Tasks {
		c, ok := snap[id.Connector]
		if !ok || id.Task >= len(c.Tasks) || c.Target == TargetStopped {
			continue
		}
		if _, running := d.tasks[id]; running {
			if d.taskTargets[id] != c.Target {
				d.taskTargets[id] = c.Target
				w.setTaskTarget(id, c.Target)
			}
			continue
		}
		d.tasks[id], d.taskTargets[id] = c.Tasks[id.Task], c.Target
		if err := w.startTask(id, c.Config, c.Tasks[id.Task], c.Target); err != nil {
			d.log.Error("Failed to start task", "task", id.String(), "err", err)
		}
	}

	// Restart requests (KIP-745) for what runs here.
	for _, req := range restarts {
		d.restartLocked(snap, req)
	}

	// Task configurations of our running connectors go to the leader.
	for name := range d.publishPending {
		if !w.isRunning(name) {
			delete(d.publishPending, name)
			continue
		}
		configs, err := w.connectorTaskConfigs(name)
		if err != nil {
			d.log.Error("Failed to reconfigure connector's tasks", "connector", name, "err", err)
			w.failConnector(name, err)
			delete(d.publishPending, name)
			continue
		}
		if c, ok := snap[name]; ok && taskConfigsEqual(c.Tasks, configs) {
			delete(d.publishPending, name)
			continue
		}
		if err := d.sendTaskConfigs(name, configs); err != nil {
			d.log.Warn("Failed to send task configurations to the leader; will retry", "connector", name, "err", err)
			continue
		}
		delete(d.publishPending, name)
	}
}

// restartLocked restarts what req names among what runs here.
func (d *DistributedHerder) restartLocked(snap ConfigSnapshot, req RestartRequest) {
	c, ok := snap[req.Connector]
	if !ok {
		return
	}
	w := d.worker
	if _, running := d.started[req.Connector]; running {
		st, _ := d.statuses.Connector(req.Connector)
		if !req.OnlyFailed || st.State == StateFailed {
			w.stopConnector(req.Connector)
			w.putConnectorStatus(req.Connector, StateRestarting, nil)
			d.started[req.Connector], d.startedTargets[req.Connector] = c.Config, c.Target
			if err := w.startConnector(req.Connector, c.Config, c.Target, d.hooksFor(req.Connector)); err == nil && c.Target == TargetStarted {
				d.publishPending[req.Connector] = true
			}
		}
	}
	if !req.IncludeTasks {
		return
	}
	for id, tc := range d.tasks {
		if id.Connector != req.Connector {
			continue
		}
		if st, _ := d.statuses.Task(id); req.OnlyFailed && st.State != StateFailed {
			continue
		}
		w.stopTasks([]TaskID{id})
		w.putTaskStatus(id, StateRestarting, nil)
		if err := w.startTask(id, c.Config, tc, c.Target); err != nil {
			d.log.Error("Failed to restart task", "task", id.String(), "err", err)
		}
	}
}

// sendTaskConfigs writes a connector's task configurations: directly on
// the leader, else through the leader's REST API (Kafka's internal POST
// /connectors/{name}/tasks).
func (d *DistributedHerder) sendTaskConfigs(name string, configs []map[string]string) error {
	d.mu.Lock()
	joined, leader, leaderURL := d.mu.joined, d.mu.isLeader, d.mu.leaderURL
	d.mu.Unlock()
	if !joined {
		return errors.New(msgRebalanceExpected)
	}
	if leader {
		return d.configStore.PutTaskConfigs(name, configs)
	}
	body, err := json.Marshal(configs)
	if err != nil {
		return err
	}
	var sig InternalRequestSignature
	if d.isSessioned() {
		key := d.configStore.SessionKey()
		if key == nil {
			return errors.New("no session key has been distributed yet")
		}
		sig = InternalRequestSignature{Algorithm: key.Algorithm, Signature: signRequest(key.Key, body)}
	}
	u, err := url.JoinPath(leaderURL, "connectors", url.PathEscape(name), "tasks")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, u+"?forward=false", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if sig.Algorithm != "" {
		req.Header.Set(signatureHeader, sig.Signature)
		req.Header.Set(signatureAlgorithmHeader, sig.Algorithm)
	}
	return d.sendToLeader(req, leaderURL)
}

// sendToLeader sends an internal request to the leader at leaderURL and
// fails unless it answers 2xx, with the start of the leader's answer.
func (d *DistributedHerder) sendToLeader(req *http.Request, leaderURL string) error {
	resp, err := d.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("leader %s answered %d: %s", leaderURL, resp.StatusCode, b)
	}
	return nil
}

// leaderOrForward returns nil on the leader, a forwardError to the leader
// elsewhere, and a conflict during a rebalance.
func (d *DistributedHerder) leaderOrForward() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.mu.joined {
		return conflictf(msgRebalanceExpected)
	}
	if d.mu.isLeader {
		return nil
	}
	return &forwardError{url: d.mu.leaderURL, msg: "Cannot complete request because this worker is not the leader of the Connect cluster (leader: " + d.mu.leaderURL + ")"}
}

// PutConnectorConfig creates a connector, or replaces its configuration
// when allowReplace, on the leader (elsewhere: forwarded). initial is a
// new connector's target state ("" for STARTED).
func (d *DistributedHerder) PutConnectorConfig(name string, config map[string]string, initial TargetState, allowReplace bool) (bool, *ConnectorInfo, error) {
	infos, err := d.ValidateConnectorConfig(config, nil) // with the exactly-once checks (eos_validate.go)
	if err != nil {
		return false, nil, err
	}
	if err := configErrors(infos); err != nil {
		return false, nil, err
	}
	if err := d.leaderOrForward(); err != nil {
		return false, nil, err
	}
	_, exists := d.configStore.Snapshot()[name]
	if exists && !allowReplace {
		return false, nil, conflictf("Connector %s already exists", name)
	}
	var target TargetState // a replaced connector keeps its own
	if !exists {
		target = TargetStarted
		if initial != "" {
			target = initial
		}
	}
	if err := d.configStore.PutConnectorConfig(name, config, target); err != nil {
		return false, nil, err
	}
	d.log.Info("Connector config written", "connector", name, "created", !exists)
	c, ok := d.configStore.Snapshot()[name]
	if !ok {
		return false, nil, conflictf(msgConflictingOp)
	}
	return !exists, infoOf(name, c), nil
}

// PutTaskConfigs writes task configurations sent by the worker running
// the connector; the leader only.
func (d *DistributedHerder) PutTaskConfigs(name string, configs []map[string]string, sig InternalRequestSignature) error {
	if err := d.leaderOrForward(); err != nil {
		return err
	}
	if d.isSessioned() {
		if err := d.verifySignature(sig); err != nil {
			return err
		}
	}
	if _, ok := d.configStore.Snapshot()[name]; !ok {
		return notFoundf("Connector %s not found", name)
	}
	return d.configStore.PutTaskConfigs(name, configs)
}

// DeleteConnector removes a connector from the config topic; the workers
// running it and its tasks stop them.
func (d *DistributedHerder) DeleteConnector(name string) error {
	if err := d.leaderOrForward(); err != nil {
		return err
	}
	if _, ok := d.configStore.Snapshot()[name]; !ok {
		return notFoundf("Connector %s not found", name)
	}
	if err := d.configStore.RemoveConnectorConfig(name); err != nil {
		return err
	}
	d.statuses.DeleteConnector(name)
	d.log.Info("Connector deleted", "connector", name)
	return nil
}

func (d *DistributedHerder) putTarget(name string, target TargetState) error {
	if err := d.leaderOrForward(); err != nil {
		return err
	}
	c, ok := d.configStore.Snapshot()[name]
	if !ok {
		return notFoundf("Unknown connector %s", name)
	}
	if target == TargetStopped {
		// Kafka's stopConnector: no tasks, then the target state.
		if err := d.configStore.PutTaskConfigs(name, nil); err != nil {
			return err
		}
	} else if c.Target == target {
		return nil
	}
	d.log.Info("Changing connector target state", "connector", name, "target", target)
	return d.configStore.PutTargetState(name, target)
}

// PauseConnector pauses a connector and its tasks.
func (d *DistributedHerder) PauseConnector(name string) error { return d.putTarget(name, TargetPaused) }

// ResumeConnector resumes a paused or stopped connector.
func (d *DistributedHerder) ResumeConnector(name string) error {
	return d.putTarget(name, TargetStarted)
}

// StopConnector stops a connector and removes its tasks (KIP-875).
func (d *DistributedHerder) StopConnector(name string) error { return d.putTarget(name, TargetStopped) }

// RestartConnector restarts a connector instance, wherever it runs: the
// leader writes a restart request to the config topic.
func (d *DistributedHerder) RestartConnector(name string) error {
	if err := d.leaderOrForward(); err != nil {
		return err
	}
	if _, ok := d.configStore.Snapshot()[name]; !ok {
		return notFoundf("Connector %s not found", name)
	}
	return d.configStore.PutRestartRequest(RestartRequest{Connector: name})
}

// RestartConnectorAndTasks restarts a connector and/or its tasks
// (KIP-745): the leader plans from the statuses and writes a restart
// request to the config topic; each worker restarts its part.
func (d *DistributedHerder) RestartConnectorAndTasks(name string, onlyFailed, includeTasks bool) (*ConnectorStateInfo, error) {
	if err := d.leaderOrForward(); err != nil {
		return nil, err
	}
	info, _, _, err := d.restartPlan(name, onlyFailed, includeTasks)
	if err != nil {
		return nil, err
	}
	if err := d.configStore.PutRestartRequest(RestartRequest{Connector: name, OnlyFailed: onlyFailed, IncludeTasks: includeTasks}); err != nil {
		return nil, err
	}
	return info, nil
}

// RestartTask restarts one task on the worker running it: there, or
// forwarded by the leader to its owner.
func (d *DistributedHerder) RestartTask(id TaskID) error {
	c, ok := d.configStore.Snapshot()[id.Connector]
	if !ok {
		return notFoundf("Connector %s not found", id.Connector)
	}
	if id.Task < 0 || id.Task >= len(c.Tasks) {
		return notFoundf("Task %s not found", id)
	}
	if err := d.Herder.lock(); err != nil {
		return err
	}
	if _, running := d.tasks[id]; running {
		defer d.Herder.mu.Unlock()
		d.worker.stopTasks([]TaskID{id})
		d.tasks[id], d.taskTargets[id] = c.Tasks[id.Task], c.Target
		if err := d.worker.startTask(id, c.Config, c.Tasks[id.Task], c.Target); err != nil {
			return fmt.Errorf("Failed to start task: %s", id)
		}
		return nil
	}
	d.Herder.mu.Unlock()
	if err := d.leaderOrForward(); err != nil {
		return err
	}
	d.mu.Lock()
	owner := d.mu.owners[id.String()]
	d.mu.Unlock()
	if owner == "" || owner == d.url {
		return conflictf(msgConflictingOp)
	}
	return &forwardError{url: owner, msg: "Task " + id.String() + " is not assigned to this worker"}
}

// AlterConnectorOffsets alters a stopped connector's offsets, on the
// leader.
func (d *DistributedHerder) AlterConnectorOffsets(ctx context.Context, name string, offsets []ConnectorOffset) (*Message, error) {
	if err := d.leaderOrForward(); err != nil {
		return nil, err
	}
	return d.Herder.AlterConnectorOffsets(ctx, name, offsets)
}

// ResetConnectorOffsets resets a stopped connector's offsets, on the
// leader.
func (d *DistributedHerder) ResetConnectorOffsets(ctx context.Context, name string) (*Message, error) {
	if err := d.leaderOrForward(); err != nil {
		return nil, err
	}
	return d.Herder.ResetConnectorOffsets(ctx, name)
}

// SetClusterLoggerLevel writes a logger level to the config topic; every
// worker of the cluster, this one included, applies it when it reads it
// (KIP-976, Kafka's DistributedHerder.setClusterLoggerLevel). Any worker
// may write it; it is not forwarded to the leader.
func (d *DistributedHerder) SetClusterLoggerLevel(namespace, level string) error {
	return d.configStore.PutLoggerLevel(namespace, level)
}

// IsLeader reports whether this worker leads the group (for tests and
// tools).
func (d *DistributedHerder) IsLeader() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.joined && d.mu.isLeader
}

// Assignment returns the connectors and tasks assigned to this worker,
// sorted.
func (d *DistributedHerder) Assignment() (connectors []string, tasks []TaskID) {
	a := d.currentAssignment()
	return a.Connectors, a.Tasks
}

func (d *DistributedHerder) isSessioned() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.sessioned
}

// maybeRotateSessionKey writes a new session key when this worker leads a
// "sessioned" group and there is none, or the current one is older than
// inter.worker.key.ttl.ms (Kafka's DistributedHerder key rotation,
// KIP-507).
func (d *DistributedHerder) maybeRotateSessionKey() {
	d.mu.Lock()
	leader := d.mu.joined && d.mu.isLeader && d.mu.sessioned
	d.mu.Unlock()
	if !leader {
		return
	}
	if k := d.configStore.SessionKey(); k != nil && time.Since(k.Created) < d.dcfg.KeyTTL {
		return
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := d.configStore.PutSessionKey(SessionKey{Key: key, Algorithm: hmacSHA256, Created: time.Now()}); err != nil {
		d.log.Warn("Failed to write a new session key", "err", err)
		return
	}
	d.log.Info("Wrote a new session key")
}

// signRequest returns body's HMAC-SHA256 under key, base64.
func signRequest(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// verifySignature checks an internal request's signature against the
// current session key, with Kafka's answers: 400 unsigned or an unknown
// algorithm, 403 a wrong signature.
func (d *DistributedHerder) verifySignature(sig InternalRequestSignature) error {
	if sig.Algorithm == "" || sig.Signature == "" {
		return badRequestf("Internal request missing required signature")
	}
	if sig.Algorithm != hmacSHA256 {
		return badRequestf("This worker does not support the '%s' key signing algorithm used by other workers. This worker is currently configured to use: [%s]. Check that all workers' configuration files permit the same set of signature algorithms, and correct any misconfigured worker and restart it.", sig.Algorithm, hmacSHA256)
	}
	key := d.configStore.SessionKey()
	if key == nil || !hmac.Equal([]byte(signRequest(key.Key, sig.Body)), []byte(sig.Signature)) {
		return forbiddenf("Internal request contained invalid signature.")
	}
	return nil
}
