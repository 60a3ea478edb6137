package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// Worker runs connector and task instances (Kafka's Worker). It does not
// decide what runs — the Herder does — and reports every state change to
// the StatusStore.
//
// Methods are called by the herder, one at a time; tasks run in goroutines
// of their own, which the Worker owns: Close stops them and waits.
type Worker struct {
	cfg      *Config
	workerID string
	log      *slog.Logger
	offsets  OffsetStore
	statuses StatusStore
	// adminClient serves sink connector offsets (kadm over one kgo
	// client).
	adminClient *kgo.Client
	admin       *kadm.Client

	mu struct {
		sync.Mutex
		connectors map[string]*workerConnector
		tasks      map[TaskID]taskRunner
		closed     bool
		eos        *exactlyOnceSource // nil: source tasks run at least once
	}
	wg sync.WaitGroup // task goroutines
}

// taskRunner is a running source or sink task.
type taskRunner interface {
	base() *taskBase
}

// newWorker returns a Worker; it opens an admin client to the brokers
// (the worker's admin.* settings over its unprefixed ones, clients.go).
func newWorker(cfg *Config, workerID string, log *slog.Logger, offsets OffsetStore, statuses StatusStore) (*Worker, error) {
	opts, _, err := cfg.taskClientOpts(adminClient, nil, "connect-admin", nil, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	w := &Worker{cfg: cfg, workerID: workerID, log: log, offsets: offsets, statuses: statuses, adminClient: cl, admin: kadm.NewClient(cl)}
	w.mu.connectors = map[string]*workerConnector{}
	w.mu.tasks = map[TaskID]taskRunner{}
	return w, nil
}

func clientID(cfg *Config, id string) string {
	if cfg.ClientID != "" {
		return cfg.ClientID + "-" + id
	}
	return id
}

// workerConnector is a connector instance.
type workerConnector struct {
	name    string
	plugin  sdk.Plugin
	conn    sdk.Connector
	config  map[string]string
	hooks   connectorHooks
	started bool
	failed  bool
	// used is set once Start was called: the next start uses a new
	// instance, as the SDK promises.
	used bool
	// log is the connector's logger, named by its class
	// (rest_loggers.go).
	log *slog.Logger
}

func (wc *workerConnector) isSink() bool { return wc.plugin.Type == sdk.PluginSink }

// connectorHooks are the herder's handlers for a connector's requests.
type connectorHooks struct {
	reconfigure func()
	raiseError  func(error)
}

type connectorContext struct{ hooks connectorHooks }

func (c connectorContext) RequestTaskReconfiguration() { c.hooks.reconfigure() }
func (c connectorContext) RaiseError(err error)        { c.hooks.raiseError(err) }

// startConnector creates a connector instance and moves it to target.
func (w *Worker) startConnector(name string, config map[string]string, target TargetState, hooks connectorHooks) error {
	w.mu.Lock()
	if w.mu.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if _, ok := w.mu.connectors[name]; ok {
		w.mu.Unlock()
		return fmt.Errorf("connector %s is already running on this worker", name)
	}
	w.mu.Unlock()

	p, err := lookupConnector(config[connectorClassConfig])
	if err != nil {
		w.putConnectorStatus(name, StateFailed, err)
		return err
	}
	conn, ok := p.New().(sdk.Connector)
	if !ok {
		err := fmt.Errorf("plugin %s is not a connector", p.Class)
		w.putConnectorStatus(name, StateFailed, err)
		return err
	}
	if init, ok := conn.(sdk.ConnectorInitializer); ok {
		init.Initialize(connectorContext{hooks})
	}
	wc := &workerConnector{name: name, plugin: p, conn: conn, config: maps.Clone(config), hooks: hooks, log: w.log.With(LoggerKey, p.Class)}
	w.mu.Lock()
	w.mu.connectors[name] = wc
	w.mu.Unlock()
	wc.log.Info("Creating connector", "connector", name, "class", p.Class)
	return w.transitionConnector(wc, target)
}

// transitionConnector starts or stops a connector instance for target
// (Kafka's WorkerConnector.doTransitionTo): STARTED starts it; PAUSED and
// STOPPED stop it.
func (w *Worker) transitionConnector(wc *workerConnector, target TargetState) error {
	switch target {
	case TargetStarted:
		if wc.started {
			w.putConnectorStatus(wc.name, StateRunning, nil)
			return nil
		}
		if wc.used {
			conn, ok := wc.plugin.New().(sdk.Connector)
			if !ok {
				return fmt.Errorf("plugin %s is not a connector", wc.plugin.Class)
			}
			if init, ok := conn.(sdk.ConnectorInitializer); ok {
				init.Initialize(connectorContext{wc.hooks})
			}
			wc.conn = conn
		}
		wc.used = true
		if err := safeCall(func() error { return wc.conn.Start(maps.Clone(wc.config)) }); err != nil {
			wc.failed = true
			wc.log.Error("Failed to start connector", "connector", wc.name, "err", err)
			w.putConnectorStatus(wc.name, StateFailed, err)
			return fmt.Errorf("Failed to start connector %s: %w", wc.name, err)
		}
		wc.started, wc.failed = true, false
		w.putConnectorStatus(wc.name, StateRunning, nil)
	case TargetPaused, TargetStopped:
		if wc.started {
			if err := safeCall(wc.conn.Stop); err != nil {
				wc.log.Error("Failed to stop connector", "connector", wc.name, "err", err)
			}
			wc.started = false
		}
		state := StatePaused
		if target == TargetStopped {
			state = StateStopped
		}
		w.putConnectorStatus(wc.name, state, nil)
	}
	return nil
}

// setConnectorTarget moves a running connector instance to target.
func (w *Worker) setConnectorTarget(name string, target TargetState) error {
	wc := w.connector(name)
	if wc == nil {
		return nil
	}
	return w.transitionConnector(wc, target)
}

// failConnector marks a connector instance failed and stops it (its
// context's RaiseError).
func (w *Worker) failConnector(name string, cause error) {
	wc := w.connector(name)
	if wc == nil {
		return
	}
	if wc.started {
		if err := safeCall(wc.conn.Stop); err != nil {
			wc.log.Error("Failed to stop connector", "connector", name, "err", err)
		}
		wc.started = false
	}
	wc.failed = true
	w.putConnectorStatus(name, StateFailed, cause)
}

// stopConnector stops and forgets a connector instance.
func (w *Worker) stopConnector(name string) {
	w.mu.Lock()
	wc := w.mu.connectors[name]
	delete(w.mu.connectors, name)
	w.mu.Unlock()
	if wc == nil {
		return
	}
	wc.log.Info("Stopping connector", "connector", name)
	if wc.started {
		if err := safeCall(wc.conn.Stop); err != nil {
			wc.log.Error("Failed to stop connector", "connector", name, "err", err)
		}
	}
	if st, ok := w.statuses.Connector(name); ok && st.State != StateFailed {
		w.putConnectorStatus(name, StateUnassigned, nil)
	}
}

func (w *Worker) connector(name string) *workerConnector {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.connectors[name]
}

// isRunning reports whether a connector instance is started.
func (w *Worker) isRunning(name string) bool {
	wc := w.connector(name)
	return wc != nil && wc.started
}

// connectorTaskConfigs asks a started connector for its task
// configurations, adding task.class and the sink topics as Kafka's
// Worker.connectorTaskConfigs does, and enforcing tasks.max.
func (w *Worker) connectorTaskConfigs(name string) ([]map[string]string, error) {
	wc := w.connector(name)
	if wc == nil || !wc.started {
		return nil, fmt.Errorf("connector %s is not running", name)
	}
	maxTasks := 1
	if s, ok := wc.config[tasksMaxConfig]; ok {
		if n, err := strconv.Atoi(trimmed(s)); err == nil && n > 0 {
			maxTasks = n
		}
	}
	var configs []map[string]string
	err := safeCall(func() error {
		var err error
		configs, err = wc.conn.TaskConfigs(maxTasks)
		return err
	})
	if err != nil {
		return nil, err
	}
	enforce := trimmed(wc.config[tasksMaxEnforceConfig]) != "false"
	if len(configs) > maxTasks && enforce {
		return nil, fmt.Errorf("The connector %s has generated %d tasks, which is greater than %d, the maximum number of tasks it is configured to create. This behaviour should be considered a bug and is disallowed. If necessary, it can be permitted by reconfiguring the connector with '%s' set to false; however, this option will be removed in a future release of Kafka Connect.", name, len(configs), maxTasks, tasksMaxEnforceConfig)
	}
	out := make([]map[string]string, len(configs))
	for i, c := range configs {
		tc := maps.Clone(c)
		if tc == nil {
			tc = map[string]string{}
		}
		taskClass := wc.plugin.TaskClass
		if taskClass == "" {
			taskClass = wc.plugin.Class + "Task"
		}
		tc[taskClassConfig] = taskClass
		if wc.isSink() {
			if t, ok := wc.config[topicsConfig]; ok {
				tc[topicsConfig] = t
			}
			if t, ok := wc.config[topicsRegexConfig]; ok {
				tc[topicsRegexConfig] = t
			}
		}
		out[i] = tc
	}
	return out, nil
}

// startTask starts one task. Failures to build it are reported as a
// FAILED status and returned.
func (w *Worker) startTask(id TaskID, connConfig, taskConfig map[string]string, target TargetState) error {
	w.mu.Lock()
	if w.mu.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if _, ok := w.mu.tasks[id]; ok {
		w.mu.Unlock()
		return fmt.Errorf("task %s is already running on this worker", id)
	}
	w.mu.Unlock()

	fail := func(err error) error {
		w.log.Error("Failed to start task", "task", id.String(), "err", err)
		w.putTaskStatus(id, StateFailed, err)
		return fmt.Errorf("Failed to start task %s: %w", id, err)
	}
	p, err := lookupConnector(connConfig[connectorClassConfig])
	if err != nil {
		return fail(err)
	}
	convs, err := w.newConverters(connConfig)
	if err != nil {
		return fail(err)
	}
	errCfg, err := parseErrorConfig(connConfig)
	if err != nil {
		return fail(err)
	}
	chain, err := newTransformChain(connConfig)
	if err != nil {
		return fail(err)
	}
	var reporters []errorReporter
	if errCfg.logEnable {
		reporters = append(reporters, logReporter{log: w.log, task: id, includeMessages: errCfg.logIncludeMessages})
	}
	w.putTaskStatus(id, StateUnassigned, nil)
	base := newTaskBase(w, id, target)
	base.log = base.log.With(LoggerKey, taskLoggerName(p)) // rest_loggers.go
	var r taskRunner
	switch conn := p.New().(type) {
	case sdk.SourceConnector:
		var eos *eosTask
		if e := w.exactlyOnce(); e != nil {
			if eos, err = w.newEOSTask(e, id, connConfig); err != nil {
				chain.Close()
				return fail(err)
			}
		}
		st, err := newSourceTask(base, conn.NewTask(), connConfig, taskConfig, convs, chain, newErrorHandler(errCfg, reporters...), eos)
		if err != nil {
			chain.Close()
			return fail(err)
		}
		r = st
		w.wg.Go(st.run)
	case sdk.SinkConnector:
		var dlq *dlqReporter
		if errCfg.dlqTopic != "" {
			if dlq, err = w.newDLQReporter(id, connConfig, errCfg); err != nil {
				chain.Close()
				return fail(err)
			}
			reporters = append(reporters, dlq)
		}
		st, err := newSinkTask(base, conn.NewTask(), connConfig, taskConfig, convs, chain, newErrorHandler(errCfg, reporters...), dlq)
		if err != nil {
			chain.Close()
			if dlq != nil {
				dlq.close()
			}
			return fail(err)
		}
		r = st
		w.wg.Go(st.run)
	default:
		chain.Close()
		return fail(fmt.Errorf("plugin %s is neither a source nor a sink connector", p.Class))
	}
	w.mu.Lock()
	w.mu.tasks[id] = r
	w.mu.Unlock()
	w.log.Info("Starting task", "task", id.String())
	return nil
}

// setTaskTarget pauses or resumes a running task.
func (w *Worker) setTaskTarget(id TaskID, target TargetState) {
	w.mu.Lock()
	r := w.mu.tasks[id]
	w.mu.Unlock()
	if r != nil {
		r.base().setTarget(target)
	}
}

// stopTasks stops tasks and waits for them, at most
// task.shutdown.graceful.timeout.ms in total.
func (w *Worker) stopTasks(ids []TaskID) {
	var running []*taskBase
	w.mu.Lock()
	for _, id := range ids {
		if r, ok := w.mu.tasks[id]; ok {
			running = append(running, r.base())
			delete(w.mu.tasks, id)
		}
	}
	w.mu.Unlock()
	for _, t := range running {
		w.log.Info("Stopping task", "task", t.id.String())
		t.stop()
	}
	deadline := time.Now().Add(w.cfg.TaskShutdownTimeout)
	for _, t := range running {
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-t.done:
		case <-timer.C:
			// The task may still report later; its reports no longer
			// describe the task (a restarted one may be running).
			t.detached.Store(true)
			w.log.Error("Graceful stop of task failed", "task", t.id.String())
		}
		timer.Stop()
	}
}

// taskIDs returns the ids of a connector's running tasks.
func (w *Worker) taskIDs(connector string) []TaskID {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []TaskID
	for id := range w.mu.tasks {
		if id.Connector == connector {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Task < out[j].Task })
	return out
}

// Close stops every task and connector and waits for the task goroutines.
func (w *Worker) Close() {
	w.mu.Lock()
	w.mu.closed = true
	var ids []TaskID
	for id := range w.mu.tasks {
		ids = append(ids, id)
	}
	var names []string
	for name := range w.mu.connectors {
		names = append(names, name)
	}
	w.mu.Unlock()
	w.stopTasks(ids)
	for _, name := range names {
		w.stopConnector(name)
	}
	w.wg.Wait()
	w.adminClient.Close()
}

func (w *Worker) putConnectorStatus(name string, state State, err error) {
	w.statuses.PutConnector(ConnectorStatus{Name: name, State: state, Trace: trace(err), WorkerID: w.workerID})
}

func (w *Worker) putTaskStatus(id TaskID, state State, err error) {
	w.statuses.PutTask(TaskStatus{ID: id, State: state, Trace: trace(err), WorkerID: w.workerID})
}

// trace renders an error as a status trace (Kafka gives a Java stack
// trace; Gregor the error chain's text).
func trace(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// safeCall runs connector or task code, turning a panic into an error.
func safeCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// taskBase is what source and sink tasks share: identity, lifecycle and
// the target state.
type taskBase struct {
	w      *Worker
	id     TaskID
	log    *slog.Logger
	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	done   chan struct{} // closed when the task's goroutine returns
	// detached is set when the worker stopped waiting for the task to
	// stop; its status reports are dropped from then on.
	detached atomic.Bool

	mu struct {
		sync.Mutex
		target  TargetState
		changed chan struct{} // closed and replaced on each change
	}
}

func newTaskBase(w *Worker, id TaskID, target TargetState) *taskBase {
	ctx, cancel := context.WithCancel(context.Background())
	t := &taskBase{w: w, id: id, log: w.log.With("task", id.String()), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	t.mu.target = target
	t.mu.changed = make(chan struct{})
	return t
}

func (t *taskBase) base() *taskBase { return t }

func (t *taskBase) stop() { t.cancel() }

func (t *taskBase) setTarget(target TargetState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.target == target {
		return
	}
	t.mu.target = target
	close(t.mu.changed)
	t.mu.changed = make(chan struct{})
}

func (t *taskBase) target() (TargetState, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.target, t.mu.changed
}

// awaitUnpause blocks while the task is paused; it returns false if the
// task is stopped meanwhile.
func (t *taskBase) awaitUnpause() bool {
	for {
		target, changed := t.target()
		if target != TargetPaused {
			return true
		}
		select {
		case <-t.ctx.Done():
			return false
		case <-changed:
		}
	}
}

func (t *taskBase) report(state State, err error) {
	if !t.detached.Load() {
		t.w.putTaskStatus(t.id, state, err)
	}
}

// fail reports the task failed.
func (t *taskBase) fail(err error) {
	t.log.Error("Task threw an uncaught and unrecoverable exception. Task is being killed and will not recover until manually restarted", "err", err)
	t.report(StateFailed, err)
}

// stopping reports whether err is the task being stopped.
func (t *taskBase) stopping(err error) bool {
	return t.ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled))
}
