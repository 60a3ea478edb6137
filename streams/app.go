package streams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is the state of an App (Kafka's KafkaStreams.State).
type State int

// The states of an App. An App starts in StateCreated; Start moves it to
// StateRebalancing, and it is StateRunning once every assigned task is
// restored. A group rebalance takes it back to StateRebalancing. Close
// goes through StatePendingShutdown to StateNotRunning; a fatal error
// through StatePendingError to StateError.
const (
	StateCreated State = iota
	StateRebalancing
	StateRunning
	StatePendingShutdown
	StateNotRunning
	StatePendingError
	StateError
)

func (s State) String() string {
	switch s {
	case StateCreated:
		return "CREATED"
	case StateRebalancing:
		return "REBALANCING"
	case StateRunning:
		return "RUNNING"
	case StatePendingShutdown:
		return "PENDING_SHUTDOWN"
	case StateNotRunning:
		return "NOT_RUNNING"
	case StatePendingError:
		return "PENDING_ERROR"
	case StateError:
		return "ERROR"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// commitTimeout bounds one commit (flush + offset commit, or the end of
// a transaction). Commits do not see Close's cancellation: an end of
// transaction cut short leaves the transaction's outcome unknown.
const commitTimeout = time.Minute

// App runs a Topology against a Kafka cluster (Kafka's KafkaStreams):
// one stream thread that polls a consumer group named by the
// application.id, runs the tasks assigned to this instance, and commits
// every commit interval. Start as many instances as you like, anywhere:
// the group spreads the tasks among them, and a task that moves restores
// its stores from their changelog topics first.
//
//	app, err := streams.New(topo,
//		streams.ApplicationID("wordcount"),
//		streams.BootstrapServers("localhost:9092"))
//	if err := app.Start(); err != nil { ... }
//	defer app.Close()
//
// Its methods are safe for concurrent use. After Close the App cannot be
// started again.
type App struct {
	topo      *Topology
	cfg       cfg
	log       *slog.Logger
	env       *taskEnv
	eos       bool
	processID string
	// stateLock holds <state.dir>/<application.id>/.lock locked from New
	// until the App has stopped (statedir_unix.go).
	stateLock *os.File
	realSub   map[string]*subtopology // real source topic → sub-topology

	// Set by Start.
	cl    *kgo.Client
	sess  *kgo.GroupTransactSession // exactly_once_v2 only
	admCl *kgo.Client
	adm   *kadm.Client
	rstCl *kgo.Client
	rst   *restorer

	// Standbys and interactive queries (standby.go, query.go).
	acfg     appCfg
	assignor *taskAssignor
	sbyCl    *kgo.Client // standby changelogs; nil without standbys
	// global runs the global tables' consumer (global_state.go).
	global *globalThread

	ctx    context.Context // cancelled by Shutdown
	cancel context.CancelFunc
	done   chan struct{} // closed when the stream thread has stopped

	// tm holds the tasks. The stream thread takes it while it
	// restores and processes, the group callbacks while they assign
	// and revoke; kgo never runs both at once (BlockRebalanceOnPoll),
	// the lock only makes that visible.
	tm struct {
		sync.Mutex
		tasks   map[TaskID]*task
		byTP    map[topicPartition]*task
		pending []*task // assigned, not restored yet
		// needReset is set under exactly_once_v2 when partitions
		// were revoked or lost: the transact session must forget it
		// before the next transaction (see resetSession).
		needReset bool
		// lost is set when the partitions were lost (the member fell
		// out of the group); the stream thread then waits for a newer
		// generation than lostGen before it reports RUNNING.
		lost    bool
		lostGen int32
		// standbys are the standby tasks (standby.go).
		standbys map[TaskID]*task
	}

	// Owned by the stream thread.
	inTxn      bool
	lastCommit time.Time
	lastPurge  time.Time
	committed  map[topicPartition]int64 // last committed offsets of repartition topics

	mu struct {
		sync.Mutex
		state   State
		err     error
		started bool
		tasks   []TaskID
		// standbys is the standby task list for StandbyTasks.
		standbys []TaskID
	}
}

// New returns an App for topo; it does not connect until Start.
// ApplicationID and BootstrapServers are required.
func New(topo *Topology, opts ...Opt) (*App, error) {
	c := newCfg(opts)
	if err := c.validate(); err != nil {
		return nil, err
	}
	a := &App{
		topo:      topo,
		cfg:       c,
		log:       c.logger.With("application.id", c.appID),
		eos:       c.guarantee == ExactlyOnceV2,
		realSub:   map[string]*subtopology{},
		done:      make(chan struct{}),
		committed: map[topicPartition]int64{},
	}
	for topic, g := range topo.sourceSub {
		a.realSub[topo.topicName(c.appID, topic)] = g
	}
	a.tm.tasks = map[TaskID]*task{}
	a.tm.byTP = map[topicPartition]*task{}
	a.tm.standbys = map[TaskID]*task{}
	for _, o := range opts {
		if o, ok := o.(appOpt); ok {
			o(&a.acfg)
		}
	}
	if err := a.acfg.validate(); err != nil {
		return nil, err
	}
	a.assignor = &taskAssignor{
		tasks:    func(counts map[string]int32) map[TaskID][]topicPartition { return a.topo.tasksFor(a.cfg.appID, counts) },
		local:    a.localTasks,
		stateful: a.isStateful,
		standbys: a.acfg.standbys,
		endpoint: a.acfg.endpoint,
	}
	a.env = &taskEnv{
		topo:         topo,
		appID:        c.appID,
		stateDir:     filepath.Join(c.stateDir, c.appID),
		log:          a.log,
		clock:        c.clock,
		eos:          a.eos,
		deserHandler: c.deser,
		prodHandler:  c.prod,
		procHandler:  c.proc,
		extractor:    c.extractor,
		dlq:          c.dlq,
	}
	if err := os.MkdirAll(a.env.stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("streams: state dir: %w", err)
	}
	lock, err := lockStateDir(a.env.stateDir)
	if err != nil {
		return nil, err
	}
	a.stateLock = lock
	id, err := processID(a.env.stateDir)
	if err != nil {
		a.unlockStateDir()
		return nil, err
	}
	a.processID = id
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a, nil
}

// processID reads the instance's id from its state dir, or makes one
// (Kafka's kafka-streams-process-metadata file): a restarted instance
// keeps its transactional.id and so fences its former self.
func processID(dir string) (string, error) {
	path := filepath.Join(dir, "kafka-streams-process-metadata")
	var meta struct {
		ProcessID string `json:"processId"`
	}
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &meta) == nil && meta.ProcessID != "" {
		return meta.ProcessID, nil
	}
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", err
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	meta.ProcessID = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	b, _ := json.Marshal(meta)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("streams: write process metadata: %w", err)
	}
	return meta.ProcessID, nil
}

// State returns the App's state.
func (a *App) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mu.state
}

// Err returns the error that stopped the App, if any.
func (a *App) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mu.err
}

// Done is closed once the App has stopped (after Close, or on a fatal
// error).
func (a *App) Done() <-chan struct{} { return a.done }

// Tasks returns the tasks assigned to this instance, sorted.
func (a *App) Tasks() []TaskID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]TaskID(nil), a.mu.tasks...)
}

func (a *App) setState(s State) {
	a.mu.Lock()
	old := a.mu.state
	switch {
	case old == s,
		old == StateError || old == StateNotRunning,
		(old == StatePendingShutdown || old == StatePendingError) && s != StateNotRunning && s != StateError:
		a.mu.Unlock()
		return
	}
	a.mu.state = s
	a.mu.Unlock()
	a.log.Info("streams: state", "from", old, "to", s)
	if a.cfg.onState != nil {
		a.cfg.onState(old, s)
	}
}

// publishTasksLocked copies the task list for Tasks; a.tm is held.
func (a *App) publishTasksLocked() {
	ids := make([]TaskID, 0, len(a.tm.tasks))
	for id := range a.tm.tasks {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].less(ids[j]) })
	a.mu.Lock()
	a.mu.tasks = ids
	a.mu.Unlock()
}

// Start creates the internal topics that are missing, joins the group
// and starts the stream thread. It returns ErrMissingSourceTopic if a
// source topic does not exist.
func (a *App) Start() error {
	a.mu.Lock()
	switch {
	case a.mu.started && a.mu.state != StateNotRunning && a.mu.state != StateError:
		a.mu.Unlock()
		return ErrAlreadyStarted
	case a.mu.started || a.mu.state != StateCreated:
		a.mu.Unlock()
		return ErrClosed
	}
	a.mu.started = true
	a.mu.Unlock()
	if err := a.start(); err != nil {
		a.closeClients()
		a.mu.Lock()
		a.mu.state, a.mu.err = StateError, err
		a.mu.Unlock()
		a.unlockStateDir()
		close(a.done)
		return err
	}
	return nil
}

func (a *App) start() error {
	a.setState(StateRebalancing)
	// fetch.max.wait.ms is 500 ms in Kafka's consumer (kgo: 5 s).
	base := []kgo.Opt{kgo.SeedBrokers(a.cfg.seeds...), kgo.WithLogger(kgoLogger{a.log}), kgo.FetchMaxWait(500 * time.Millisecond)}
	var err error
	a.admCl, err = kgo.NewClient(append(append([]kgo.Opt{}, base...), a.cfg.clientOpts...)...)
	if err != nil {
		return fmt.Errorf("streams: admin client: %w", err)
	}
	a.adm = kadm.NewClient(a.admCl)
	ctx, cancel := context.WithTimeout(a.ctx, time.Minute)
	_, err = ensureTopics(ctx, a.adm, a.topo, a.cfg.appID, a.cfg.replicationFactor)
	cancel()
	if err != nil {
		return err
	}
	if err := a.startGlobal(base); err != nil {
		return err
	}

	rstOpts := append(append([]kgo.Opt{}, base...),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if a.eos {
		rstOpts = append(rstOpts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	a.rstCl, err = kgo.NewClient(append(rstOpts, a.cfg.clientOpts...)...)
	if err != nil {
		return fmt.Errorf("streams: restore client: %w", err)
	}
	a.rst = &restorer{cl: a.rstCl, adm: a.adm, eos: a.eos, log: a.log}

	var topics []string
	for topic := range a.realSub {
		topics = append(topics, topic)
	}
	sort.Strings(topics)
	if err := a.newStandbyClient(base); err != nil {
		return err
	}
	assignor := a.assignor
	opts := append(append([]kgo.Opt{}, base...),
		kgo.ConsumerGroup(a.cfg.appID),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(assignor),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(a.onAssigned),
		kgo.OnPartitionsRevoked(a.onRevoked),
		kgo.OnPartitionsLost(a.onLost),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(newStreamsPartitioner()),
		kgo.AllowAutoTopicCreation(),
	)
	if a.eos {
		opts = append(opts,
			kgo.TransactionalID(a.cfg.appID+"-"+a.processID+"-1"),
			kgo.TransactionTimeout(a.cfg.txnTimeout),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.RequireStableFetchOffsets(),
		)
	}
	opts = append(opts, a.cfg.clientOpts...)
	if a.eos {
		a.sess, err = kgo.NewGroupTransactSession(opts...)
		if err == nil {
			a.cl = a.sess.Client()
		}
	} else {
		a.cl, err = kgo.NewClient(opts...)
	}
	if err != nil {
		return fmt.Errorf("streams: group client: %w", err)
	}
	if a.eos {
		// A commit during a rebalance waits for it, and a rebalance
		// waits up to the session timeout for a dead member: a
		// transaction timeout below that gets live instances fenced.
		if st, ok := a.cl.OptValue(kgo.SessionTimeout).(time.Duration); ok && st >= a.cfg.txnTimeout {
			a.log.Warn("streams: the transaction timeout is not above the session timeout; an instance that dies can get the others fenced",
				"transaction.timeout", a.cfg.txnTimeout, "session.timeout", st)
		}
	}
	a.env.collector = kgoCollector{cl: a.cl}
	go a.run()
	return nil
}

// localTasks lists the task directories that hold a checkpoint: tasks
// this instance can restore cheaply.
func (a *App) localTasks() []TaskID {
	entries, err := os.ReadDir(a.env.stateDir)
	if err != nil {
		return nil
	}
	var out []TaskID
	for _, e := range entries {
		id, err := ParseTaskID(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(a.env.stateDir, e.Name(), checkpointFile)); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// Run starts the App and runs it until ctx ends or the App fails, then
// closes it. It returns the error that stopped the App, or nil.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-a.done:
	}
	return a.Close()
}

// Close stops the App cleanly: it processes nothing more, commits what
// was processed (flushing outputs and stores, writing checkpoints), and
// leaves the group. It returns the error that had stopped the App, if
// any. It waits at most two minutes; use Shutdown for another bound.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*commitTimeout)
	defer cancel()
	return a.Shutdown(ctx)
}

// Shutdown is Close with a deadline for the wait.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	started := a.mu.started
	if !started {
		a.mu.started = true
		a.mu.Unlock()
		a.setState(StateNotRunning)
		a.cancel()
		a.unlockStateDir()
		close(a.done)
		return nil
	}
	a.mu.Unlock()
	a.setState(StatePendingShutdown)
	a.cancel()
	select {
	case <-a.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return a.Err()
}

func (a *App) closeClients() {
	a.stopGlobal()
	if a.sess != nil {
		a.sess.Close()
	} else if a.cl != nil {
		a.cl.Close()
	}
	if a.rstCl != nil {
		a.rstCl.Close()
	}
	if a.sbyCl != nil {
		a.sbyCl.Close()
	}
	if a.admCl != nil {
		a.admCl.Close()
	}
}

// unlockStateDir releases the state directory lock taken by New.
func (a *App) unlockStateDir() {
	if a.stateLock != nil {
		a.stateLock.Close()
		a.stateLock = nil
	}
}

// run is the stream thread.
func (a *App) run() {
	defer close(a.done)
	defer a.unlockStateDir()
	err := a.loop()
	if err != nil && a.ctx.Err() == nil {
		a.log.Error("streams: stopping on error", "err", err)
		a.setState(StatePendingError)
	}
	a.shutdown(err)
}

func (a *App) loop() error {
	a.lastCommit = time.Now()
	a.lastPurge = a.lastCommit
	for {
		if a.ctx.Err() != nil {
			return nil
		}
		wait := min(max(a.cfg.commitInterval-time.Since(a.lastCommit), 5*time.Millisecond), time.Second)
		wait = a.punctuationWait(wait)
		pctx, cancel := context.WithTimeout(a.ctx, wait)
		fetches := a.cl.PollRecords(pctx, a.cfg.maxPollRecords)
		cancel()
		if fetches.IsClientClosed() || a.ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				a.log.Warn("streams: fetch", "topic", topic, "partition", p, "err", err)
			}
		})

		a.tm.Lock()
		reset := a.eos && a.tm.needReset && !a.inTxn
		if reset {
			a.tm.needReset = false
		}
		a.tm.Unlock()
		if reset {
			if err := a.resetSession(fetches); err != nil {
				return err
			}
			a.cl.AllowRebalance()
			continue
		}

		if err := a.processFetches(fetches); err != nil {
			if a.ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := a.punctuateWallClock(); err != nil {
			if a.ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := a.env.fatal(); err != nil {
			return err
		}
		if a.commitDue() {
			if err := a.commit(); err != nil {
				return err
			}
		}
		if !a.inTxn {
			a.cl.AllowRebalance()
		}
	}
}

// processFetches restores newly assigned tasks, queues the records and
// processes them all.
func (a *App) processFetches(fetches kgo.Fetches) error {
	a.tm.Lock()
	defer a.tm.Unlock()
	if len(a.tm.pending) > 0 {
		if err := a.restorePendingLocked(); err != nil {
			return err
		}
	}
	got := false
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		tp := topicPartition{p.Topic, p.Partition}
		t := a.tm.byTP[tp]
		if t == nil {
			a.log.Error("streams: dropping records of a partition without a task", "partition", tp)
			return
		}
		t.addRecords(tp, p.Records)
		got = true
	})
	if got && a.eos && !a.inTxn {
		if err := a.sess.Begin(); err != nil {
			return fmt.Errorf("streams: begin transaction: %w", err)
		}
		a.inTxn = true
	}
	for _, t := range a.sortedTasksLocked() {
		if t.state == taskRunning && t.buffered() {
			if err := t.process(); err != nil {
				return err
			}
		}
	}
	if err := a.maintainStandbysLocked(); err != nil {
		return err
	}
	_, gen := a.cl.GroupMetadata()
	if a.tm.lost {
		a.tm.lost, a.tm.lostGen = false, max(gen, a.tm.lostGen)
	}
	if gen > 0 && gen > a.tm.lostGen && len(a.tm.pending) == 0 {
		a.setState(StateRunning)
	}
	return nil
}

func (a *App) sortedTasksLocked() []*task {
	out := make([]*task, 0, len(a.tm.tasks))
	for _, t := range a.tm.tasks {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id.less(out[j].id) })
	return out
}

func (a *App) restorePendingLocked() error {
	var specs []restoreSpec
	for _, t := range a.tm.pending {
		if t.state == taskRestoring {
			// A promoted standby: on from where it is.
			specs = append(specs, t.resumeRestore()...)
			continue
		}
		if t.state != taskCreated {
			continue
		}
		s, err := t.openStores()
		if err != nil {
			return err
		}
		specs = append(specs, s...)
	}
	if err := a.rst.restore(a.ctx, specs); err != nil {
		return err
	}
	for _, t := range a.tm.pending {
		if err := t.initTopology(); err != nil {
			return err
		}
	}
	a.tm.pending = nil
	return nil
}

func (a *App) commitDue() bool {
	if time.Since(a.lastCommit) >= a.cfg.commitInterval {
		return true
	}
	a.tm.Lock()
	defer a.tm.Unlock()
	for _, t := range a.tm.tasks {
		if t.commitRequested {
			return true
		}
	}
	return false
}

// commit commits every task: under at_least_once it flushes the
// producer, commits the input offsets and checkpoints the stores; under
// exactly_once_v2 it ends the transaction, which carries the offsets.
func (a *App) commit() error {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	a.lastCommit = time.Now()
	if a.eos {
		if !a.inTxn {
			return nil
		}
		a.tm.Lock()
		offsets := a.offsetsLocked(a.sortedTasksLocked())
		a.tm.Unlock()
		committed, err := a.sess.End(ctx, kgo.TryCommit)
		a.inTxn = false
		if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
			// The coordinator aborted the transaction: it outlived
			// the transaction timeout (a commit waits out a
			// rebalance), or an instance with this state dir's
			// process id started.
			return fmt.Errorf("streams: commit transaction (aborted by the coordinator: open longer than the transaction timeout %v, or fenced by a newer instance with this transactional id): %w",
				a.cfg.txnTimeout, err)
		}
		if err != nil {
			return fmt.Errorf("streams: commit transaction: %w", err)
		}
		if !committed {
			a.log.Warn("streams: transaction aborted (the group rebalanced); reprocessing from the last commit")
			a.reviveAll()
			return nil
		}
		a.tm.Lock()
		for _, t := range a.tm.tasks {
			t.markCommitted()
		}
		a.checkpointStandbysLocked()
		a.tm.Unlock()
		a.afterCommit(ctx, offsets)
		return nil
	}
	if err := a.cl.Flush(ctx); err != nil {
		return fmt.Errorf("streams: flush: %w", err)
	}
	if err := a.env.fatal(); err != nil {
		return err
	}
	a.tm.Lock()
	tasks := a.sortedTasksLocked()
	offsets := a.offsetsLocked(tasks)
	a.tm.Unlock()
	if len(offsets) > 0 {
		if err := a.commitOffsets(ctx, offsets); err != nil {
			if isRebalanceError(err) {
				// Kafka's TaskMigratedException: the revocation
				// that follows closes the tasks.
				a.log.Warn("streams: commit failed during a rebalance", "err", err)
				return nil
			}
			return err
		}
	}
	a.tm.Lock()
	defer a.tm.Unlock()
	for _, t := range tasks {
		if a.tm.tasks[t.id] != t {
			continue
		}
		t.markCommitted()
		if err := t.checkpoint(); err != nil {
			return err
		}
	}
	a.checkpointStandbysLocked()
	a.afterCommit(ctx, offsets)
	return nil
}

func (a *App) offsetsLocked(tasks []*task) map[topicPartition]kgo.EpochOffset {
	out := map[topicPartition]kgo.EpochOffset{}
	for _, t := range tasks {
		for tp, eo := range t.offsetsToCommit() {
			out[tp] = eo
		}
	}
	return out
}

func isRebalanceError(err error) bool {
	return errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.IllegalGeneration) ||
		errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.FencedInstanceID) ||
		errors.Is(err, kerr.StaleMemberEpoch)
}

// commitOffsets commits offsets synchronously.
func (a *App) commitOffsets(ctx context.Context, offsets map[topicPartition]kgo.EpochOffset) error {
	m := map[string]map[int32]kgo.EpochOffset{}
	for tp, eo := range offsets {
		if m[tp.topic] == nil {
			m[tp.topic] = map[int32]kgo.EpochOffset{}
		}
		m[tp.topic][tp.partition] = eo
	}
	var errs []error
	a.cl.CommitOffsetsSync(ctx, m, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, err))
				}
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("streams: commit offsets: %w", err)
	}
	return nil
}

// afterCommit purges committed records of repartition topics every
// repartition.purge.interval.ms (Kafka deletes them with DeleteRecords).
func (a *App) afterCommit(ctx context.Context, offsets map[topicPartition]kgo.EpochOffset) {
	for tp, eo := range offsets {
		if _, ok := a.realSub[tp.topic]; ok && a.isRepartition(tp.topic) {
			a.committed[tp] = eo.Offset
		}
	}
	if time.Since(a.lastPurge) < a.cfg.purgeInterval || len(a.committed) == 0 {
		return
	}
	a.lastPurge = time.Now()
	var purge kadm.Offsets
	for tp, off := range a.committed {
		purge.AddOffset(tp.topic, tp.partition, off, -1)
	}
	clear(a.committed)
	if _, err := a.adm.DeleteRecords(ctx, purge); err != nil {
		a.log.Warn("streams: purge repartition topics", "err", err)
	}
}

func (a *App) isRepartition(real string) bool {
	for name := range a.topo.internal {
		if a.topo.topicName(a.cfg.appID, name) == real {
			return true
		}
	}
	return false
}

// resetSession clears the transact session's memory of a revocation
// (exactly_once_v2). Partitions are revoked only between transactions
// here, so there is nothing to abort; but the session would abort the
// next transaction. Ending with an abort while no transaction is open
// resets it, and rewinds the consumer to the committed offsets; the
// records just polled are dropped and, where no commit exists yet,
// rewound to explicitly, to be fetched again.
func (a *App) resetSession(fetches kgo.Fetches) error {
	first := map[string]map[int32]kgo.EpochOffset{}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		if first[p.Topic] == nil {
			first[p.Topic] = map[int32]kgo.EpochOffset{}
		}
		r := p.Records[0]
		first[p.Topic][p.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}
	})
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	if _, err := a.sess.End(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("streams: reset transaction session: %w", err)
	}
	if len(first) > 0 {
		a.cl.SetOffsets(first)
	}
	return nil
}

// reviveAll closes every task dirty and makes it anew, to be restored
// from its changelogs (after an aborted transaction: the stores hold
// writes that never committed).
func (a *App) reviveAll() {
	a.tm.Lock()
	defer a.tm.Unlock()
	a.tm.pending = nil
	for id, t := range a.tm.tasks {
		t.closeDirty()
		nt := newTask(a.env, t.sub, id, t.partitions)
		a.tm.tasks[id] = nt
		for _, tp := range t.partitions {
			a.tm.byTP[tp] = nt
		}
		a.tm.pending = append(a.tm.pending, nt)
	}
}

// onAssigned makes the tasks of newly assigned partitions; they are
// restored by the stream thread before they process anything.
func (a *App) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	a.setState(StateRebalancing)
	a.tm.Lock()
	defer a.tm.Unlock()
	byTask := map[TaskID][]topicPartition{}
	for topic, parts := range assigned {
		g := a.realSub[topic]
		if g == nil {
			a.log.Warn("streams: assigned a topic the topology does not read", "topic", topic)
			continue
		}
		for _, p := range parts {
			id := TaskID{Subtopology: g.id, Partition: p}
			byTask[id] = append(byTask[id], topicPartition{topic, p})
		}
	}
	for id, tps := range byTask {
		sort.Slice(tps, func(i, j int) bool {
			if tps[i].topic != tps[j].topic {
				return tps[i].topic < tps[j].topic
			}
			return tps[i].partition < tps[j].partition
		})
		if t := a.tm.tasks[id]; t != nil {
			// More partitions of a task we run (a source topic
			// grew): read them too.
			for _, tp := range tps {
				t.partitions = append(t.partitions, tp)
				t.queues[tp] = &partitionQueue{}
				a.tm.byTP[tp] = t
			}
			continue
		}
		t := newTask(a.env, a.realSub[tps[0].topic], id, tps)
		if sb := a.tm.standbys[id]; sb != nil {
			if pt, err := a.promoteStandbyLocked(sb, tps); err != nil {
				a.log.Warn("streams: promoting standby task", "task", id, "err", err)
			} else {
				t = pt
			}
		}
		a.tm.tasks[id] = t
		for _, tp := range tps {
			a.tm.byTP[tp] = t
		}
		a.tm.pending = append(a.tm.pending, t)
		a.log.Info("streams: task assigned", "task", id)
	}
	a.publishTasksLocked()
}

// onRevoked commits and closes the tasks of revoked partitions, before
// the partitions go to another member.
func (a *App) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	a.setState(StateRebalancing)
	a.tm.Lock()
	defer a.tm.Unlock()
	tasks := a.tasksOfLocked(revoked)
	if a.eos && len(revoked) > 0 {
		a.tm.needReset = true
	}
	if len(tasks) == 0 {
		return
	}
	clean := true
	if !a.eos {
		// Under exactly_once_v2 the stream thread never lets a
		// rebalance in with a transaction open: the tasks are
		// committed already.
		cctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		defer cancel()
		if err := a.cl.Flush(cctx); err != nil {
			clean = false
		} else if err := a.env.fatal(); err != nil {
			clean = false
		} else if offsets := a.offsetsLocked(tasks); len(offsets) > 0 {
			if err := a.commitOffsets(cctx, offsets); err != nil {
				a.log.Warn("streams: commit on revocation", "err", err)
				clean = false
			}
		}
	}
	a.closeTasksLocked(tasks, clean)
}

// onLost closes the tasks of lost partitions without committing: another
// member may own them already.
func (a *App) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	a.setState(StateRebalancing)
	a.tm.Lock()
	defer a.tm.Unlock()
	if a.eos {
		a.tm.needReset = true
	}
	a.tm.lost = true
	a.closeTasksLocked(a.tasksOfLocked(lost), false)
}

func (a *App) tasksOfLocked(parts map[string][]int32) []*task {
	seen := map[TaskID]bool{}
	var out []*task
	for topic, ps := range parts {
		for _, p := range ps {
			if t := a.tm.byTP[topicPartition{topic, p}]; t != nil && !seen[t.id] {
				seen[t.id] = true
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id.less(out[j].id) })
	return out
}

func (a *App) closeTasksLocked(tasks []*task, clean bool) {
	for _, t := range tasks {
		if clean {
			if err := t.closeClean(); err != nil {
				a.log.Warn("streams: closing task", "task", t.id, "err", err)
			}
		} else {
			t.closeDirty()
		}
		delete(a.tm.tasks, t.id)
		for _, tp := range t.partitions {
			if a.tm.byTP[tp] == t {
				delete(a.tm.byTP, tp)
			}
		}
		for i, p := range a.tm.pending {
			if p == t {
				a.tm.pending = append(a.tm.pending[:i], a.tm.pending[i+1:]...)
				break
			}
		}
		a.log.Info("streams: task closed", "task", t.id, "clean", clean)
	}
	a.publishTasksLocked()
}

// shutdown commits (if the App stopped cleanly), closes the tasks and
// the clients, and sets the final state.
func (a *App) shutdown(loopErr error) {
	clean := loopErr == nil && a.env.fatal() == nil
	a.tm.Lock()
	idle := len(a.tm.tasks) == 0
	a.tm.Unlock()
	// With no task left (all revoked or lost) there is nothing to
	// commit; what the producer still buffers belongs to tasks closed
	// dirty, and is dropped with the client.
	if clean && !idle {
		if err := a.commit(); err != nil {
			clean, loopErr = false, err
		}
	}
	if !clean && a.eos && a.inTxn {
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		if _, err := a.sess.End(ctx, kgo.TryAbort); err != nil {
			a.log.Warn("streams: abort transaction", "err", err)
		}
		cancel()
		a.inTxn = false
	}
	if clean {
		if err := a.env.fatal(); err != nil {
			clean, loopErr = false, err
		}
	}
	a.tm.Lock()
	a.closeTasksLocked(a.sortedTasksLocked(), clean)
	a.closeStandbysLocked(true)
	a.tm.pending = nil
	a.tm.Unlock()
	a.cl.AllowRebalance()
	a.closeClients()
	if loopErr == nil {
		loopErr = a.env.fatal()
	}
	a.mu.Lock()
	a.mu.err = loopErr
	a.mu.Unlock()
	if loopErr != nil {
		a.setState(StateError)
	} else {
		a.setState(StateNotRunning)
	}
}
