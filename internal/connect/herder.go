package connect

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// Herder decides which connectors and tasks run and answers the REST API
// (Kafka's StandaloneHerder): it keeps configurations in a ConfigStore,
// statuses in a StatusStore, and tells the Worker what to start and stop.
//
// Operations are serialized by mu, as Kafka's herder methods are
// synchronized, and complete before they return: a connector created
// with PutConnectorConfig is running (or FAILED) with its tasks started.
// Requests a connector makes through its context (reconfiguration, an
// error) are handled in goroutines the herder owns. Close stops
// everything.
//
// Lock order: Herder.mu, then Worker.mu, then the stores' and tasks'
// own locks. Connector code runs with Herder.mu held, never Worker.mu.
type Herder struct {
	cfg       *Config
	log       *slog.Logger
	workerID  string
	clusterID string
	configs   ConfigStore
	statuses  StatusStore
	offsets   OffsetStore
	worker    *Worker

	mu     sync.Mutex // serializes operations
	closed bool       // under mu

	// async guards the start of request goroutines against Close.
	async struct {
		sync.Mutex
		closing bool
	}
	wg sync.WaitGroup // request goroutines
}

// HerderOptions are what a Herder needs besides its Config.
type HerderOptions struct {
	// WorkerID names this worker in statuses (host:port of its REST API).
	WorkerID string
	// ClusterID is the Kafka cluster's id, for GET /.
	ClusterID string
	// Logger receives the herder's and the tasks' logs.
	Logger *slog.Logger
	// Offsets stores source offsets; the herder closes it.
	Offsets OffsetStore
	// Configs and Statuses default to the memory stores.
	Configs  ConfigStore
	Statuses StatusStore
}

// NewHerder returns a standalone Herder with no connectors.
func NewHerder(cfg *Config, opts HerderOptions) (*Herder, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Configs == nil {
		opts.Configs = NewMemoryConfigStore()
	}
	if opts.Statuses == nil {
		opts.Statuses = NewMemoryStatusStore()
	}
	if opts.Offsets == nil {
		return nil, fmt.Errorf("connect: herder needs an offset store")
	}
	w, err := newWorker(cfg, opts.WorkerID, opts.Logger, opts.Offsets, opts.Statuses)
	if err != nil {
		return nil, err
	}
	return &Herder{
		cfg: cfg, log: opts.Logger, workerID: opts.WorkerID, clusterID: opts.ClusterID,
		configs: opts.Configs, statuses: opts.Statuses, offsets: opts.Offsets, worker: w,
	}, nil
}

// ClusterID returns the Kafka cluster's id.
func (h *Herder) ClusterID() string { return h.clusterID }

// WorkerID returns this worker's id.
func (h *Herder) WorkerID() string { return h.workerID }

// Close stops every task and connector (committing offsets), waits for
// them and closes the offset store. Operations after Close fail with
// ErrClosed.
func (h *Herder) Close() {
	h.async.Lock()
	h.async.closing = true
	h.async.Unlock()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.log.Info("Herder stopping")
	h.worker.Close()
	h.mu.Unlock()
	h.wg.Wait()
	h.offsets.Close()
	h.log.Info("Herder stopped")
}

// lock takes mu unless the herder is closed.
func (h *Herder) lock() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// goAsync runs f in a goroutine the herder owns, unless it is closing.
func (h *Herder) goAsync(f func()) {
	h.async.Lock()
	defer h.async.Unlock()
	if h.async.closing {
		return
	}
	h.wg.Go(f)
}

func (h *Herder) hooks(name string) connectorHooks {
	return connectorHooks{
		reconfigure: func() {
			h.goAsync(func() {
				if h.lock() != nil {
					return
				}
				defer h.mu.Unlock()
				if !h.worker.isRunning(name) {
					h.log.Error("Task that requested reconfiguration does not exist", "connector", name)
					return
				}
				h.updateConnectorTasksLocked(name)
			})
		},
		raiseError: func(err error) {
			h.goAsync(func() {
				if h.lock() != nil {
					return
				}
				defer h.mu.Unlock()
				h.log.Error("Connector raised an error", "connector", name, "err", err)
				h.worker.failConnector(name, err)
			})
		},
	}
}

// Connectors returns the connectors' names, sorted.
func (h *Herder) Connectors() []string {
	snap := h.configs.Snapshot()
	out := make([]string, 0, len(snap))
	for name := range snap {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// connectorType returns a configuration's connector type.
func connectorType(config map[string]string) ConnectorType {
	p, err := sdk.LookupPlugin(config[connectorClassConfig], sdk.PluginSource, sdk.PluginSink)
	if err != nil {
		return "unknown"
	}
	return ConnectorType(p.Type)
}

func infoOf(name string, c ConnectorConfigState) *ConnectorInfo {
	tasks := make([]TaskID, len(c.Tasks))
	for i := range c.Tasks {
		tasks[i] = TaskID{Connector: name, Task: i}
	}
	return &ConnectorInfo{Name: name, Config: c.Config, Tasks: tasks, Type: connectorType(c.Config)}
}

// ConnectorInfo describes a connector.
func (h *Herder) ConnectorInfo(name string) (*ConnectorInfo, error) {
	c, ok := h.configs.Snapshot()[name]
	if !ok {
		return nil, notFoundf("Connector %s not found", name)
	}
	return infoOf(name, c), nil
}

// ConnectorConfig returns a connector's configuration.
func (h *Herder) ConnectorConfig(name string) (map[string]string, error) {
	c, ok := h.configs.Snapshot()[name]
	if !ok {
		return nil, notFoundf("Connector %s not found", name)
	}
	return c.Config, nil
}

// TaskConfigs returns a connector's task configurations.
func (h *Herder) TaskConfigs(name string) ([]TaskInfo, error) {
	c, ok := h.configs.Snapshot()[name]
	if !ok {
		return nil, notFoundf("Connector %s not found", name)
	}
	out := make([]TaskInfo, len(c.Tasks))
	for i, tc := range c.Tasks {
		out[i] = TaskInfo{ID: TaskID{Connector: name, Task: i}, Config: tc}
	}
	return out, nil
}

// ValidateConnectorConfig validates a configuration (PUT
// /connector-plugins/{plugin}/config/validate).
func (h *Herder) ValidateConnectorConfig(config map[string]string, nullKeys []string) (*ConfigInfos, error) {
	return h.cfg.validateConnector(config, nullKeys)
}

// PutConnectorConfig creates a connector, or replaces its configuration
// when allowReplace, and starts it with its tasks. initial is the target
// state of a new connector ("" for STARTED, KIP-980); a replaced connector
// keeps its own. created reports whether the connector is new.
func (h *Herder) PutConnectorConfig(name string, config map[string]string, initial TargetState, allowReplace bool) (created bool, info *ConnectorInfo, err error) {
	infos, err := h.cfg.validateConnector(config, nil)
	if err != nil {
		return false, nil, err
	}
	if err := configErrors(infos); err != nil {
		return false, nil, err
	}
	if err := h.lock(); err != nil {
		return false, nil, err
	}
	defer h.mu.Unlock()
	existing, exists := h.configs.Snapshot()[name]
	target := TargetStarted
	switch {
	case exists && !allowReplace:
		return false, nil, conflictf("Connector %s already exists", name)
	case exists:
		target = existing.Target
		h.removeTasksLocked(name)
		h.worker.stopConnector(name)
	case initial != "":
		target = initial
	}
	if err := h.configs.PutConnectorConfig(name, config, target); err != nil {
		return false, nil, err
	}
	h.log.Info("Connector config written", "connector", name, "target", target)
	if err := h.worker.startConnector(name, config, target, h.hooks(name)); err == nil && target == TargetStarted {
		h.updateConnectorTasksLocked(name)
	}
	c := h.configs.Snapshot()[name]
	return !exists, infoOf(name, c), nil
}

// updateConnectorTasksLocked asks a running connector for its task
// configurations and, if they changed, replaces its tasks.
func (h *Herder) updateConnectorTasksLocked(name string) {
	if !h.worker.isRunning(name) {
		h.log.Info("Skipping update of connector since it is not running", "connector", name)
		return
	}
	configs, err := h.worker.connectorTaskConfigs(name)
	if err != nil {
		h.log.Error("Failed to reconfigure connector's tasks", "connector", name, "err", err)
		h.worker.failConnector(name, err)
		return
	}
	c, ok := h.configs.Snapshot()[name]
	if !ok {
		return
	}
	running := len(h.worker.taskIDs(name)) == len(c.Tasks)
	if running && taskConfigsEqual(c.Tasks, configs) {
		return
	}
	h.removeTasksLocked(name)
	if err := h.configs.PutTaskConfigs(name, configs); err != nil {
		h.log.Error("Failed to store task configurations", "connector", name, "err", err)
		return
	}
	h.startTasksLocked(name, nil)
}

func taskConfigsEqual(a, b []map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !maps.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// startTasksLocked starts a connector's tasks (those in only, or all).
func (h *Herder) startTasksLocked(name string, only []TaskID) {
	c, ok := h.configs.Snapshot()[name]
	if !ok {
		return
	}
	want := map[int]bool{}
	for _, id := range only {
		want[id.Task] = true
	}
	for i, tc := range c.Tasks {
		if only != nil && !want[i] {
			continue
		}
		if err := h.worker.startTask(TaskID{Connector: name, Task: i}, c.Config, tc, c.Target); err != nil {
			h.log.Error("Failed to start task", "task", TaskID{Connector: name, Task: i}.String(), "err", err)
		}
	}
}

// removeTasksLocked stops a connector's tasks and forgets them and their
// statuses.
func (h *Herder) removeTasksLocked(name string) {
	ids := h.worker.taskIDs(name)
	h.worker.stopTasks(ids)
	for _, st := range h.statuses.Tasks(name) {
		h.statuses.DeleteTask(st.ID)
	}
	if _, ok := h.configs.Snapshot()[name]; ok {
		if err := h.configs.PutTaskConfigs(name, nil); err != nil {
			h.log.Error("Failed to remove task configurations", "connector", name, "err", err)
		}
	}
}

// DeleteConnector stops and removes a connector. Its offsets stay.
func (h *Herder) DeleteConnector(name string) error {
	if err := h.lock(); err != nil {
		return err
	}
	defer h.mu.Unlock()
	if _, ok := h.configs.Snapshot()[name]; !ok {
		return notFoundf("Connector %s not found", name)
	}
	h.removeTasksLocked(name)
	h.worker.stopConnector(name)
	if err := h.configs.RemoveConnectorConfig(name); err != nil {
		return err
	}
	h.statuses.DeleteConnector(name)
	h.log.Info("Connector deleted", "connector", name)
	return nil
}

// ConnectorStatus returns a connector's status and its tasks'.
func (h *Herder) ConnectorStatus(name string) (*ConnectorStateInfo, error) {
	st, ok := h.statuses.Connector(name)
	if !ok {
		return nil, notFoundf("No status found for connector %s", name)
	}
	info := &ConnectorStateInfo{
		Name:      name,
		Connector: StateInfo{State: string(st.State), WorkerID: st.WorkerID, Trace: st.Trace},
		Tasks:     []TaskState{},
		Type:      "unknown",
	}
	for _, ts := range h.statuses.Tasks(name) {
		info.Tasks = append(info.Tasks, TaskState{ID: ts.ID.Task, State: string(ts.State), WorkerID: ts.WorkerID, Trace: ts.Trace})
	}
	if c, ok := h.configs.Snapshot()[name]; ok {
		info.Type = connectorType(c.Config)
	}
	return info, nil
}

// TaskStatus returns one task's status.
func (h *Herder) TaskStatus(id TaskID) (*TaskState, error) {
	st, ok := h.statuses.Task(id)
	if !ok {
		return nil, notFoundf("No status found for task %s", id)
	}
	return &TaskState{ID: id.Task, State: string(st.State), WorkerID: st.WorkerID, Trace: st.Trace}, nil
}

// setTargetLocked moves a connector and its tasks to target.
func (h *Herder) setTargetLocked(name string, target TargetState) error {
	if err := h.configs.PutTargetState(name, target); err != nil {
		return err
	}
	switch target {
	case TargetPaused:
		if err := h.worker.setConnectorTarget(name, TargetPaused); err != nil {
			return err
		}
		for _, id := range h.worker.taskIDs(name) {
			h.worker.setTaskTarget(id, TargetPaused)
		}
	case TargetStopped:
		h.removeTasksLocked(name)
		if err := h.worker.setConnectorTarget(name, TargetStopped); err != nil {
			return err
		}
	case TargetStarted:
		if h.worker.connector(name) == nil {
			c := h.configs.Snapshot()[name]
			if err := h.worker.startConnector(name, c.Config, TargetStarted, h.hooks(name)); err != nil {
				return nil // reported as FAILED
			}
		} else if err := h.worker.setConnectorTarget(name, TargetStarted); err != nil {
			return nil // reported as FAILED
		}
		for _, id := range h.worker.taskIDs(name) {
			h.worker.setTaskTarget(id, TargetStarted)
		}
		h.updateConnectorTasksLocked(name)
	}
	return nil
}

func (h *Herder) changeTarget(name string, target TargetState) error {
	if err := h.lock(); err != nil {
		return err
	}
	defer h.mu.Unlock()
	c, ok := h.configs.Snapshot()[name]
	if !ok {
		return notFoundf("Unknown connector %s", name)
	}
	if c.Target == target {
		return nil // idempotent, as Kafka's
	}
	h.log.Info("Changing connector target state", "connector", name, "target", target)
	return h.setTargetLocked(name, target)
}

// PauseConnector pauses a connector and its tasks.
func (h *Herder) PauseConnector(name string) error { return h.changeTarget(name, TargetPaused) }

// ResumeConnector resumes a paused or stopped connector.
func (h *Herder) ResumeConnector(name string) error { return h.changeTarget(name, TargetStarted) }

// StopConnector stops a connector and removes its tasks (KIP-875), so
// that its offsets can be altered.
func (h *Herder) StopConnector(name string) error {
	if err := h.lock(); err != nil {
		return err
	}
	defer h.mu.Unlock()
	if _, ok := h.configs.Snapshot()[name]; !ok {
		return notFoundf("Connector %s not found", name)
	}
	return h.setTargetLocked(name, TargetStopped)
}

// RestartConnector restarts a connector instance (not its tasks).
func (h *Herder) RestartConnector(name string) error {
	if err := h.lock(); err != nil {
		return err
	}
	defer h.mu.Unlock()
	c, ok := h.configs.Snapshot()[name]
	if !ok {
		return notFoundf("Connector %s not found", name)
	}
	h.worker.stopConnector(name)
	if err := h.worker.startConnector(name, c.Config, c.Target, h.hooks(name)); err == nil && c.Target == TargetStarted {
		h.updateConnectorTasksLocked(name)
	}
	return nil
}

// RestartTask restarts one task.
func (h *Herder) RestartTask(id TaskID) error {
	if err := h.lock(); err != nil {
		return err
	}
	defer h.mu.Unlock()
	c, ok := h.configs.Snapshot()[id.Connector]
	if !ok {
		return notFoundf("Connector %s not found", id.Connector)
	}
	if id.Task < 0 || id.Task >= len(c.Tasks) {
		return notFoundf("Task %s not found", id)
	}
	h.worker.stopTasks([]TaskID{id})
	if err := h.worker.startTask(id, c.Config, c.Tasks[id.Task], c.Target); err != nil {
		return fmt.Errorf("Failed to start task: %s", id)
	}
	return nil
}

// RestartConnectorAndTasks restarts a connector and/or its tasks as
// KIP-745 says: the connector unless onlyFailed and it is not FAILED; the
// tasks if includeTasks, only FAILED ones if onlyFailed. It returns the
// status with the instances being restarted marked RESTARTING.
func (h *Herder) RestartConnectorAndTasks(name string, onlyFailed, includeTasks bool) (*ConnectorStateInfo, error) {
	if err := h.lock(); err != nil {
		return nil, err
	}
	defer h.mu.Unlock()
	info, restartConnector, restartTasks, err := h.restartPlan(name, onlyFailed, includeTasks)
	if err != nil {
		return nil, err
	}
	c := h.configs.Snapshot()[name]
	if restartConnector {
		h.worker.stopConnector(name)
		h.worker.putConnectorStatus(name, StateRestarting, nil)
	}
	if len(restartTasks) > 0 {
		h.worker.stopTasks(restartTasks)
		for _, id := range restartTasks {
			h.worker.putTaskStatus(id, StateRestarting, nil)
		}
	}
	if restartConnector {
		if err := h.worker.startConnector(name, c.Config, c.Target, h.hooks(name)); err != nil {
			h.log.Error("Connector restart failed", "connector", name, "err", err)
		}
	}
	if len(restartTasks) > 0 {
		h.startTasksLocked(name, restartTasks)
	}
	return info, nil
}

// restartPlan decides what a KIP-745 restart request restarts, from the
// statuses (Kafka's RestartPlan), and returns the status to answer with.
func (h *Herder) restartPlan(name string, onlyFailed, includeTasks bool) (info *ConnectorStateInfo, restartConnector bool, restartTasks []TaskID, err error) {
	c, ok := h.configs.Snapshot()[name]
	if !ok {
		return nil, false, nil, notFoundf("Unknown connector: %s", name)
	}
	cst, ok := h.statuses.Connector(name)
	if !ok {
		return nil, false, nil, notFoundf("Status for connector %s not found", name)
	}
	restartConnector = !onlyFailed || cst.State == StateFailed
	info = &ConnectorStateInfo{Name: name, Tasks: []TaskState{}, Type: connectorType(c.Config)}
	state := cst.State
	if restartConnector {
		state = StateRestarting
	}
	info.Connector = StateInfo{State: string(state), WorkerID: cst.WorkerID, Trace: cst.Trace}
	for _, ts := range h.statuses.Tasks(name) {
		if ts.ID.Task >= len(c.Tasks) {
			continue
		}
		st := ts.State
		if includeTasks && (!onlyFailed || ts.State == StateFailed) {
			st = StateRestarting
			restartTasks = append(restartTasks, ts.ID)
		}
		info.Tasks = append(info.Tasks, TaskState{ID: ts.ID.Task, State: string(st), WorkerID: ts.WorkerID, Trace: ts.Trace})
	}
	h.log.Info("Received restart request", "connector", name, "onlyFailed", onlyFailed, "includeTasks", includeTasks,
		"restartConnector", restartConnector, "tasks", len(restartTasks))
	return info, restartConnector, restartTasks, nil
}

// PutTaskConfigs is the internal endpoint through which distributed
// workers send task configurations to the leader; standalone mode refuses
// it, as Kafka's StandaloneHerder.
func (h *Herder) PutTaskConfigs(name string, configs []map[string]string, sig InternalRequestSignature) error {
	return errors.New("Kafka Connect in standalone mode does not support externally setting task configurations.")
}

// ActiveTopics returns the topics a connector used (KIP-558).
func (h *Herder) ActiveTopics(name string) ([]string, error) {
	if !h.cfg.TopicTracking {
		return nil, forbiddenf("Topic tracking is disabled.")
	}
	return h.statuses.Topics(name), nil
}

// ResetActiveTopics forgets the topics a connector used.
func (h *Herder) ResetActiveTopics(name string) error {
	if !h.cfg.TopicTracking {
		return forbiddenf("Topic tracking is disabled.")
	}
	if !h.cfg.TopicTrackingAllowReset {
		return forbiddenf("Topic tracking reset is disabled.")
	}
	h.statuses.DeleteTopics(name)
	return nil
}
