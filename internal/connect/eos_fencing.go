package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// Zombie fencing (KIP-618). A source connector's tasks of one generation
// (one commit record of task configurations) may still be running
// somewhere when the next generation starts — a worker cut off from the
// group does not know it lost them. Task i's transactional producer fences
// its own predecessor, but a generation with fewer tasks has no producer
// for the ids of the missing ones. So before a new generation's
// exactly-once task starts, its worker asks the leader to fence
// (Kafka's DistributedHerder.fenceZombieSourceTasks):
//
//	worker (task starting)                   leader
//	  │ PUT /connectors/<name>/fence ──────────▶│ read the config topic to the end
//	  │   (signed under "sessioned")            │ pending? (commit-<name> after tasks-fencing-<name>)
//	  │                                         │ InitProducerId for <group.id>-<name>-0 … -(N-1),
//	  │                                         │   N = the last task-count record (skipped when
//	  │                                         │   N = 1 and the new generation has 1 task)
//	  │                                         │ write tasks-fencing-<name> {"task-count": <new count>}
//	  │◀──────────────────────────── 204 ───────│
//	  │ read the config topic: no longer pending → start the producer
//
// InitProducerId on a transactional id bumps its epoch and aborts its open
// transaction, so a zombie's next send or commit fails with a fencing
// error (Kafka's Admin.fenceProducers). The first generation of a
// connector (no task-count record yet) has nothing to fence; its record is
// still written.

// taskCountKeyPrefix is the key prefix of task-count records (Kafka's
// KafkaConfigBackingStore.TASK_COUNT_RECORD_PREFIX).
const taskCountKeyPrefix = "tasks-fencing-"

type taskCountValue struct {
	TaskCount int `json:"task-count"`
}

// fencingState is the config store's view of the task-count records;
// guarded by KafkaConfigStore.mu. The zero value is ready to use.
type fencingState struct {
	counts map[string]int // connector -> its latest task-count record
	// pending holds connectors whose latest commit record follows their
	// latest task-count record: their current generation is not fenced.
	pending map[string]bool
	// generation counts each connector's commit records.
	generation map[string]int
}

func newFencingState() fencingState {
	return fencingState{counts: map[string]int{}, pending: map[string]bool{}, generation: map[string]int{}}
}

func (f *fencingState) init() {
	if f.counts == nil {
		*f = newFencingState()
	}
}

func (f *fencingState) applyTaskCount(log *slog.Logger, name string, value []byte) {
	f.init()
	if value == nil {
		delete(f.counts, name)
		return
	}
	var v taskCountValue
	if err := json.Unmarshal(value, &v); err != nil {
		log.Error("Invalid task count record", "connector", name, "err", err)
		return
	}
	f.counts[name] = v.TaskCount
	delete(f.pending, name)
}

func (f *fencingState) committed(name string) {
	f.init()
	f.pending[name] = true
	f.generation[name]++
}

func (f *fencingState) forget(name string) {
	delete(f.counts, name)
	delete(f.pending, name)
}

// TaskCountRecord returns the connector's latest task-count record.
func (s *KafkaConfigStore) TaskCountRecord(name string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.mu.fencing.counts[name]
	return n, ok
}

// PendingFencing reports whether the connector's latest task
// configurations were committed after its latest task-count record (Kafka's
// ClusterConfigState.pendingFencing).
func (s *KafkaConfigStore) PendingFencing(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.fencing.pending[name]
}

func (s *KafkaConfigStore) taskGeneration(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.fencing.generation[name]
}

// PutTaskCountRecord writes tasks-fencing-<name> {"task-count":n}; the
// leader only.
func (s *KafkaConfigStore) PutTaskCountRecord(name string, n int) error {
	v, _ := json.Marshal(taskCountValue{TaskCount: n})
	return s.write(&kgo.Record{Key: []byte(taskCountKeyPrefix + name), Value: v})
}

// fenceProducers fences the transactional ids of tasks 0…n-1 of a
// connector: an InitProducerId for each, as Kafka's Admin.fenceProducers,
// retried while the coordinator is busy (a fenced id with an open
// transaction answers CONCURRENT_TRANSACTIONS until its abort completes).
func (w *Worker) fenceProducers(ctx context.Context, groupID, connector string, n int) error {
	for i := range n {
		id := transactionalID(groupID, TaskID{Connector: connector, Task: i})
		for {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.TransactionalID = &id
			req.TransactionTimeoutMillis = 60000
			req.ProducerID, req.ProducerEpoch = -1, -1
			resp, err := req.RequestWith(ctx, w.adminClient)
			if err == nil {
				err = kerr.ErrorForCode(resp.ErrorCode)
			}
			if err == nil {
				w.log.Debug("Fenced producer", "transactional.id", id, "producer.id", resp.ProducerID, "epoch", resp.ProducerEpoch)
				break
			}
			retry := kerr.IsRetriable(err) || errors.Is(err, kerr.ConcurrentTransactions) ||
				errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.NotCoordinator)
			if !retry || ctx.Err() != nil {
				return fmt.Errorf("fence transactional id %s: %w", id, err)
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
	}
	return nil
}

// FenceZombieSourceTasks handles PUT /connectors/{name}/fence: on the
// leader it fences the connector's previous task generation if that was
// not done yet and records it; elsewhere it is forwarded to the leader.
// Under the "sessioned" protocol the request must be signed. Errors, as
// Kafka: 404 unknown connector, 400 a sink connector, 400/403 a bad
// signature.
func (d *DistributedHerder) FenceZombieSourceTasks(ctx context.Context, name string, sig InternalRequestSignature) error {
	if err := d.leaderOrForward(); err != nil {
		return err
	}
	if d.isSessioned() {
		if err := d.verifySignature(sig); err != nil {
			return err
		}
	}
	return d.fenceZombieSourceTasks(ctx, name)
}

// fenceZombieSourceTasks is the leader's round of zombie fencing (Kafka's
// DistributedHerder.fenceZombieSourceTasks and ZombieFencing).
func (d *DistributedHerder) fenceZombieSourceTasks(ctx context.Context, name string) error {
	if err := d.leaderOrForward(); err != nil {
		return err
	}
	d.fenceMu.Lock()
	defer d.fenceMu.Unlock()
	readCtx, cancel := context.WithTimeout(ctx, storeTimeout)
	err := d.configStore.ReadToEnd(readCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("Failed to read to end of config topic before performing zombie fencing: %w", err)
	}
	c, ok := d.configStore.Snapshot()[name]
	if !ok {
		return notFoundf("Connector %s not found", name)
	}
	if p, err := lookupConnector(c.Config[connectorClassConfig]); err == nil && p.Type == sdk.PluginSink {
		return badRequestf("Connector %s is not a source connector", name)
	}
	if !d.configStore.PendingFencing(name) {
		d.log.Debug("Skipping zombie fencing round: all old task generations are already fenced out", "connector", name)
		return nil
	}
	gen := d.configStore.taskGeneration(name)
	taskCount := len(c.Tasks)
	if prev, ok := d.configStore.TaskCountRecord(name); ok && (prev != 1 || taskCount != 1) {
		d.log.Info("Fencing out zombie source tasks", "connector", name, "previous.task.count", prev, "task.count", taskCount)
		if err := d.worker.fenceProducers(ctx, d.dcfg.GroupID, name, prev); err != nil {
			return fmt.Errorf("Failed to perform zombie fencing: %w", err)
		}
	}
	if d.configStore.taskGeneration(name) != gen {
		return conflictf("Task configurations of connector %s changed during zombie fencing", name)
	}
	if err := d.configStore.PutTaskCountRecord(name, taskCount); err != nil {
		return err
	}
	d.log.Info("Wrote task count record", "connector", name, "task.count", taskCount)
	return nil
}

// fenceBeforeStart runs before an exactly-once source task of connector
// creates its producer: it has the leader fence the connector's older
// task generations (directly, or through PUT /connectors/{name}/fence)
// and waits until this worker reads the task-count record. It retries
// while the group rebalances, and gives up after about a minute (Kafka
// fails the task at once).
func (d *DistributedHerder) fenceBeforeStart(ctx context.Context, connector string) error {
	const attempts = 60
	var err error
	for attempt := 1; ; attempt++ {
		if err = d.requestFencing(ctx, connector); err == nil {
			readCtx, cancel := context.WithTimeout(ctx, storeTimeout)
			err = d.configStore.ReadToEnd(readCtx)
			cancel()
			if err == nil && !d.configStore.PendingFencing(connector) {
				return nil
			}
			if err == nil {
				err = errors.New("the task configurations changed since the fencing")
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == attempts {
			return fmt.Errorf("Failed to perform zombie fencing: %w", err)
		}
		d.log.Debug("Zombie fencing not done yet; retrying", "connector", connector, "err", err)
		sleepCtx(ctx, time.Second)
	}
}

// requestFencing fences on the leader, or sends the leader PUT
// /connectors/{name}/fence.
func (d *DistributedHerder) requestFencing(ctx context.Context, connector string) error {
	err := d.fenceZombieSourceTasks(ctx, connector)
	var fwd *forwardError
	if !errors.As(err, &fwd) {
		return err
	}
	u, err := url.JoinPath(fwd.url, "connectors", url.PathEscape(connector), "fence")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, http.NoBody)
	if err != nil {
		return err
	}
	if d.isSessioned() {
		key := d.configStore.SessionKey()
		if key == nil {
			return errors.New("no session key has been distributed yet")
		}
		req.Header.Set(signatureHeader, signRequest(key.Key, nil))
		req.Header.Set(signatureAlgorithmHeader, key.Algorithm)
	}
	return d.sendToLeader(req, fwd.url)
}

// zombieFencer is the herder of PUT /connectors/{name}/fence: the
// distributed one only.
type zombieFencer interface {
	FenceZombieSourceTasks(ctx context.Context, name string, sig InternalRequestSignature) error
}

// fenceZombies serves PUT /connectors/{name}/fence (Kafka's
// ConnectorsResource.fenceZombies): 204 once fenced.
func fenceZombies(h RESTHerder, r *http.Request, name string) (response, error) {
	f, ok := h.(zombieFencer)
	if !ok {
		return response{}, badRequestf("Zombie fencing of source tasks is only available in distributed mode")
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return response{}, err
	}
	sig := InternalRequestSignature{Body: raw, Algorithm: r.Header.Get(signatureAlgorithmHeader), Signature: r.Header.Get(signatureHeader)}
	return response{status: http.StatusNoContent}, f.FenceZombieSourceTasks(r.Context(), name, sig)
}
