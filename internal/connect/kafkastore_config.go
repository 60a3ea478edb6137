package connect

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The config topic (config.storage.topic, one partition, compacted) holds
// what Kafka's KafkaConfigBackingStore writes, with the same keys and the
// same JSON values (the worker's internal JsonConverter, schemas off):
//
//	key                        value
//	connector-<name>           {"properties":{"connector.class":"…",…}}     null: deleted
//	target-state-<name>        {"state":"PAUSED","state.v2":"STOPPED"}      "state" is STARTED or PAUSED
//	task-<name>-<n>            {"properties":{"task.class":"…",…}}
//	commit-<name>              {"tasks":3}                                   makes tasks 0..2 visible
//	restart-connector-<name>   {"include-tasks":true,"only-failed":false}
//	session-key                {"key":"<base64>","algorithm":"HmacSHA256","creation-timestamp":1700000000000}
//	tasks-fencing-<name>       {"task-count":3}                              KIP-618: the generation of 3 tasks was fenced
//	logger-cluster-<namespace> {"level":"DEBUG"}                             KIP-976: every worker sets the level
//
// Task configurations are written first and become visible together
// when their commit record is read, so that a worker never runs half of a
// connector's new tasks. The session key (KIP-507) signs the requests
// workers send each other under the "sessioned" protocol. A task-count
// record written after a connector's latest commit record says that the
// older generations of its exactly-once source tasks are fenced
// (eos_fencing.go). A logger level record (PUT
// /admin/loggers/{namespace}?scope=cluster) is applied by every worker
// that reads it after it opened the store; older ones, read while the
// store opens, are skipped, so a worker that joins later keeps its own
// levels (Kafka's KIP-976).
//
// With exactly.once.source.support=preparing or enabled, the leader sends
// the privileged records (everything above but target states written
// alone) in transactions of a fencable producer (configwriter.go), and
// every worker reads the topic read_committed, so that a fenced leader's
// aborted writes are never applied. The config log's consumer reads
// read_committed in every mode (kafkastore.go): without transactions on
// the topic that reads the same records.

// Prefixes of the config topic's keys.
const (
	connectorKeyPrefix   = "connector-"
	targetStateKeyPrefix = "target-state-"
	taskKeyPrefix        = "task-"
	commitKeyPrefix      = "commit-"
	restartKeyPrefix     = "restart-connector-"
	sessionKeyKey        = "session-key"
	loggerClusterPrefix  = "logger-cluster-" // Kafka's LOGGER_CLUSTER_PREFIX
)

type loggerLevelValue struct {
	Level string `json:"level"`
}

// SessionKey is the key that signs internal requests (Kafka's
// SessionKey, KIP-507).
type SessionKey struct {
	Key       []byte
	Algorithm string
	Created   time.Time
}

type sessionKeyValue struct {
	Key               string `json:"key"` // base64
	Algorithm         string `json:"algorithm"`
	CreationTimestamp int64  `json:"creation-timestamp"`
}

// storeTimeout bounds a write to a store's topic and its read back
// (Kafka's READ_WRITE_TOTAL_TIMEOUT_MS).
const storeTimeout = 30 * time.Second

type propertiesValue struct {
	Properties map[string]*string `json:"properties"`
}

type commitValue struct {
	Tasks int `json:"tasks"`
}

type targetStateValue struct {
	State   string `json:"state"`
	StateV2 string `json:"state.v2,omitempty"`
}

type restartValue struct {
	IncludeTasks bool `json:"include-tasks"`
	OnlyFailed   bool `json:"only-failed"`
}

// RestartRequest is a restart request read from the config topic
// (KIP-745).
type RestartRequest struct {
	Connector    string
	OnlyFailed   bool
	IncludeTasks bool
}

// KafkaConfigStore is a ConfigStore over the config topic (Kafka's
// KafkaConfigBackingStore). Writes wait until they have been read back, so
// a Snapshot taken after a write returns shows it. It is safe for
// concurrent use; Close stops the consuming goroutine.
type KafkaConfigStore struct {
	kl  *kafkaLog
	log *slog.Logger
	// writer is the fencable writer of privileged records; nil unless
	// exactly.once.source.support is preparing or enabled.
	writer *configWriter
	// onPrivilegedWriteFailed is called, without locks held, when a
	// privileged write through writer failed (the leader was fenced).
	// Set before the first write; may be nil.
	onPrivilegedWriteFailed func()
	// onUpdate and onRestart are called from the consuming goroutine
	// after a change was applied, without locks held.
	onUpdate  func()
	onRestart func(RestartRequest)

	mu struct {
		sync.Mutex
		started    bool  // restart requests and logger levels are only passed on once started
		offset     int64 // offset of the last record applied
		connectors map[string]map[string]string
		targets    map[string]TargetState
		tasks      map[string][]map[string]string // committed
		deferred   map[string]map[int]map[string]string
		sessionKey *SessionKey
		// fencing holds the task-count records (KIP-618, eos_fencing.go).
		fencing fencingState
		// onLoggerLevel applies a cluster logger level (KIP-976); nil
		// until SetLoggerLevelListener. Called without locks held.
		onLoggerLevel func(namespace, level string)
	}
}

// OpenKafkaConfigStore opens the config store of cfg, creating its topic
// if needed and reading it to the end. onUpdate is called after each
// change read from the topic; onRestart for each restart request read
// after the store opened. Both may be nil.
func OpenKafkaConfigStore(ctx context.Context, cfg *DistributedConfig, log *slog.Logger, onUpdate func(), onRestart func(RestartRequest)) (*KafkaConfigStore, error) {
	s := &KafkaConfigStore{onUpdate: onUpdate, onRestart: onRestart, log: log.With("topic", cfg.ConfigTopic)}
	s.mu.offset = -1
	s.mu.connectors = map[string]map[string]string{}
	s.mu.targets = map[string]TargetState{}
	s.mu.tasks = map[string][]map[string]string{}
	s.mu.deferred = map[string]map[int]map[string]string{}
	s.mu.fencing = newFencingState()
	logID := "connect-" + cfg.GroupID + "-configs"
	if usesFencableWriter(cfg) {
		s.writer = newConfigWriter(cfg, logID, s.log)
	}
	kl, err := openKafkaLog(ctx, cfg.Config, logID,
		topicSpec{name: cfg.ConfigTopic, partitions: 1, replicas: cfg.ConfigReplicationFactor}, log, s.apply)
	if err != nil {
		return nil, err
	}
	s.kl = kl
	if n, err := kl.partitionCount(ctx); err != nil || n != 1 {
		kl.Close()
		if err == nil {
			err = fmt.Errorf("%w: Topic '%s' supplied via the '%s' property is required to have a single partition in order to guarantee consistency of connector configurations, but found %d partitions.", ErrWorkerConfig, cfg.ConfigTopic, ConfigTopicConfig, n)
		}
		return nil, err
	}
	s.mu.Lock()
	s.mu.started = true
	s.mu.Unlock()
	return s, nil
}

// Offset returns the offset of the last record read (-1 for none): the
// config offset workers compare when they join the group.
func (s *KafkaConfigStore) Offset() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.offset
}

// ReadToEnd waits until the store has read every record written before
// the call.
func (s *KafkaConfigStore) ReadToEnd(ctx context.Context) error { return s.kl.readToEnd(ctx) }

func decodeProperties(b []byte) (map[string]string, error) {
	var v propertiesValue
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(v.Properties))
	for k, p := range v.Properties {
		if p != nil {
			out[k] = *p
		}
	}
	return out, nil
}

func encodeProperties(m map[string]string) []byte {
	v := propertiesValue{Properties: make(map[string]*string, len(m))}
	for k, s := range m {
		v.Properties[k] = &s
	}
	b, _ := json.Marshal(v)
	return b
}

// apply applies one record of the config topic.
func (s *KafkaConfigStore) apply(r *kgo.Record) {
	key := string(r.Key)
	var restart *RestartRequest
	var applyLevel func()
	s.mu.Lock()
	s.mu.offset = r.Offset
	switch {
	case strings.HasPrefix(key, loggerClusterPrefix):
		namespace := strings.TrimPrefix(key, loggerClusterPrefix)
		var v loggerLevelValue
		if r.Value == nil || json.Unmarshal(r.Value, &v) != nil || v.Level == "" {
			s.log.Error("Ignoring invalid logging level record", "namespace", namespace)
			break
		}
		if !s.mu.started {
			s.log.Debug("Ignoring old logging level that was written to the config topic before this worker completed startup", "namespace", namespace, "level", v.Level)
			break
		}
		if f := s.mu.onLoggerLevel; f != nil {
			applyLevel = func() { f(namespace, v.Level) }
		}
	case strings.HasPrefix(key, taskCountKeyPrefix): // before "task-"
		s.mu.fencing.applyTaskCount(s.log, strings.TrimPrefix(key, taskCountKeyPrefix), r.Value)
	case key == sessionKeyKey:
		if r.Value == nil {
			break
		}
		var v sessionKeyValue
		k, err := []byte(nil), json.Unmarshal(r.Value, &v)
		if err == nil {
			k, err = base64.StdEncoding.DecodeString(v.Key)
		}
		if err != nil {
			s.log.Error("Invalid session key record", "err", err)
			break
		}
		s.mu.sessionKey = &SessionKey{Key: k, Algorithm: v.Algorithm, Created: time.UnixMilli(v.CreationTimestamp)}
	case strings.HasPrefix(key, targetStateKeyPrefix):
		name := strings.TrimPrefix(key, targetStateKeyPrefix)
		if r.Value == nil {
			delete(s.mu.targets, name)
			break
		}
		var v targetStateValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.log.Error("Invalid target state record", "key", key, "err", err)
			break
		}
		state := v.StateV2
		if state == "" {
			state = v.State
		}
		switch TargetState(state) {
		case TargetStarted, TargetPaused, TargetStopped:
			s.mu.targets[name] = TargetState(state)
		default:
			s.log.Error("Invalid target state", "key", key, "state", state)
		}
	case strings.HasPrefix(key, connectorKeyPrefix):
		name := strings.TrimPrefix(key, connectorKeyPrefix)
		if r.Value == nil {
			delete(s.mu.connectors, name)
			delete(s.mu.targets, name)
			delete(s.mu.tasks, name)
			delete(s.mu.deferred, name)
			s.mu.fencing.forget(name)
			break
		}
		props, err := decodeProperties(r.Value)
		if err != nil {
			s.log.Error("Invalid connector configuration record", "key", key, "err", err)
			break
		}
		s.mu.connectors[name] = props
	case strings.HasPrefix(key, taskKeyPrefix):
		id, ok := parseTaskKey(strings.TrimPrefix(key, taskKeyPrefix))
		if !ok || r.Value == nil {
			break
		}
		props, err := decodeProperties(r.Value)
		if err != nil {
			s.log.Error("Invalid task configuration record", "key", key, "err", err)
			break
		}
		if s.mu.deferred[id.Connector] == nil {
			s.mu.deferred[id.Connector] = map[int]map[string]string{}
		}
		s.mu.deferred[id.Connector][id.Task] = props
	case strings.HasPrefix(key, commitKeyPrefix):
		name := strings.TrimPrefix(key, commitKeyPrefix)
		if r.Value == nil {
			break
		}
		var v commitValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.log.Error("Invalid task commit record", "key", key, "err", err)
			break
		}
		deferred := s.mu.deferred[name]
		tasks := make([]map[string]string, v.Tasks)
		complete := true
		for i := range tasks {
			if tc, ok := deferred[i]; ok {
				tasks[i] = tc
			} else if old := s.mu.tasks[name]; i < len(old) {
				tasks[i] = old[i] // written by an earlier commit
			} else {
				complete = false
			}
		}
		if !complete {
			s.log.Error("Ignoring task commit with missing task configurations", "connector", name, "tasks", v.Tasks)
			break
		}
		s.mu.tasks[name] = tasks
		delete(s.mu.deferred, name)
		s.mu.fencing.committed(name) // a new generation: it needs fencing
	case strings.HasPrefix(key, restartKeyPrefix):
		if r.Value == nil || !s.mu.started {
			break
		}
		var v restartValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.log.Error("Invalid restart request record", "key", key, "err", err)
			break
		}
		restart = &RestartRequest{Connector: strings.TrimPrefix(key, restartKeyPrefix), OnlyFailed: v.OnlyFailed, IncludeTasks: v.IncludeTasks}
	}
	s.mu.Unlock()
	if applyLevel != nil {
		applyLevel()
	}
	if restart != nil && s.onRestart != nil {
		s.onRestart(*restart)
	}
	if s.onUpdate != nil {
		s.onUpdate()
	}
}

// parseTaskKey parses "<connector>-<n>"; the connector's name may hold
// dashes.
func parseTaskKey(s string) (TaskID, bool) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return TaskID{}, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 0 {
		return TaskID{}, false
	}
	return TaskID{Connector: s[:i], Task: n}, true
}

// Snapshot implements ConfigStore.
func (s *KafkaConfigStore) Snapshot() ConfigSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(ConfigSnapshot, len(s.mu.connectors))
	for name, config := range s.mu.connectors {
		target, ok := s.mu.targets[name]
		if !ok {
			target = TargetStarted
		}
		c := ConnectorConfigState{Config: maps.Clone(config), Target: target, Tasks: []map[string]string{}}
		for _, tc := range s.mu.tasks[name] {
			c.Tasks = append(c.Tasks, maps.Clone(tc))
		}
		out[name] = c
	}
	return out
}

// UsesFencableWriter reports whether privileged records go through a
// transactional producer (exactly.once.source.support=preparing or
// enabled; Kafka's usesFencableWriter).
func (s *KafkaConfigStore) UsesFencableWriter() bool { return s.writer != nil }

// ClaimWritePrivileges initializes the fencable producer, fencing any
// other worker's (Kafka's claimWritePrivileges); the leader calls it
// before privileged writes. It does nothing without a fencable writer or
// when the privileges are held.
func (s *KafkaConfigStore) ClaimWritePrivileges(ctx context.Context) error {
	if s.writer == nil {
		return nil
	}
	return s.writer.claim(ctx)
}

// RelinquishWritePrivileges closes the fencable producer, if any.
func (s *KafkaConfigStore) RelinquishWritePrivileges() {
	if s.writer != nil {
		s.writer.relinquish()
	}
}

// HasWritePrivileges reports whether privileged writes may be sent: always
// without a fencable writer, else once claimed and until fenced.
func (s *KafkaConfigStore) HasWritePrivileges() bool {
	return s.writer == nil || s.writer.claimed()
}

// write sends records that only the leader writes (Kafka's
// sendPrivileged) and waits until the store has read them back: in one
// transaction of the fencable writer if there is one, else as
// writeAnyWorker. A failed transaction returns Kafka's message, wrapping
// ErrPrivilegedWrite; the privileges are then relinquished.
func (s *KafkaConfigStore) write(recs ...*kgo.Record) error {
	if s.writer == nil {
		return s.writeAnyWorker(recs...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	after, err := s.writer.send(ctx, recs...)
	if errors.Is(err, ErrPrivilegedWrite) {
		if s.onPrivilegedWriteFailed != nil {
			s.onPrivilegedWriteFailed()
		}
		return &restError{class: err, message: msgPrivilegedWriteFailed}
	}
	if err != nil {
		return fmt.Errorf("Error writing connector configuration to Kafka: %w", err)
	}
	return s.kl.waitFor(ctx, after)
}

// writeAnyWorker sends records through the config log's producer and
// waits until the store has read them back: the records any worker may
// write (target states), and every record without a fencable writer.
func (s *KafkaConfigStore) writeAnyWorker(recs ...*kgo.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	after, err := s.kl.send(ctx, recs...)
	if err != nil {
		return fmt.Errorf("Error writing connector configuration to Kafka: %w", err)
	}
	return s.kl.waitFor(ctx, after)
}

func targetRecord(name string, target TargetState) *kgo.Record {
	v1 := target
	if target == TargetStopped {
		v1 = TargetPaused // what workers before KIP-875 understand
	}
	b, _ := json.Marshal(targetStateValue{State: string(v1), StateV2: string(target)})
	return &kgo.Record{Key: []byte(targetStateKeyPrefix + name), Value: b}
}

// PutConnectorConfig implements ConfigStore: it writes the target state,
// then the configuration.
func (s *KafkaConfigStore) PutConnectorConfig(name string, config map[string]string, target TargetState) error {
	recs := []*kgo.Record{}
	if target != "" {
		recs = append(recs, targetRecord(name, target))
	}
	recs = append(recs, &kgo.Record{Key: []byte(connectorKeyPrefix + name), Value: encodeProperties(config)})
	return s.write(recs...)
}

// RemoveConnectorConfig implements ConfigStore: tombstones for the
// configuration and the target state.
func (s *KafkaConfigStore) RemoveConnectorConfig(name string) error {
	return s.write(&kgo.Record{Key: []byte(connectorKeyPrefix + name)}, &kgo.Record{Key: []byte(targetStateKeyPrefix + name)})
}

// PutTaskConfigs implements ConfigStore: each task's configuration, then
// the commit record.
func (s *KafkaConfigStore) PutTaskConfigs(name string, tasks []map[string]string) error {
	s.mu.Lock()
	_, ok := s.mu.connectors[name]
	s.mu.Unlock()
	if !ok {
		return notFoundf("Connector %s not found", name)
	}
	recs := make([]*kgo.Record, 0, len(tasks)+1)
	for i, tc := range tasks {
		recs = append(recs, &kgo.Record{Key: []byte(taskKeyPrefix + TaskID{Connector: name, Task: i}.String()), Value: encodeProperties(tc)})
	}
	b, _ := json.Marshal(commitValue{Tasks: len(tasks)})
	recs = append(recs, &kgo.Record{Key: []byte(commitKeyPrefix + name), Value: b})
	return s.write(recs...)
}

// PutTargetState implements ConfigStore. Any worker may write a target
// state: it is not a privileged write.
func (s *KafkaConfigStore) PutTargetState(name string, target TargetState) error {
	s.mu.Lock()
	_, ok := s.mu.connectors[name]
	s.mu.Unlock()
	if !ok {
		return notFoundf("Connector %s not found", name)
	}
	return s.writeAnyWorker(targetRecord(name, target))
}

// PutRestartRequest writes a restart request (KIP-745); every worker
// restarts the instances it runs that the request names.
func (s *KafkaConfigStore) PutRestartRequest(req RestartRequest) error {
	b, _ := json.Marshal(restartValue{IncludeTasks: req.IncludeTasks, OnlyFailed: req.OnlyFailed})
	return s.write(&kgo.Record{Key: []byte(restartKeyPrefix + req.Connector), Value: b})
}

// PutLoggerLevel writes logger-cluster-<namespace> {"level":level}
// (KIP-976); any worker may write it, and every worker applies it when
// it reads it (SetLoggerLevelListener).
func (s *KafkaConfigStore) PutLoggerLevel(namespace, level string) error {
	b, _ := json.Marshal(loggerLevelValue{Level: level})
	if err := s.writeAnyWorker(&kgo.Record{Key: []byte(loggerClusterPrefix + namespace), Value: b}); err != nil {
		return fmt.Errorf("Error writing logger level to Kafka: %w", err)
	}
	return nil
}

// SetLoggerLevelListener sets the function that applies the logger level
// records read from now on (without locks held, from the consuming
// goroutine).
func (s *KafkaConfigStore) SetLoggerLevelListener(f func(namespace, level string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.onLoggerLevel = f
}

// SessionKey returns the last session key read (nil for none).
func (s *KafkaConfigStore) SessionKey() *SessionKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.sessionKey == nil {
		return nil
	}
	k := *s.mu.sessionKey
	return &k
}

// PutSessionKey writes a new session key; the leader only.
func (s *KafkaConfigStore) PutSessionKey(k SessionKey) error {
	b, _ := json.Marshal(sessionKeyValue{Key: base64.StdEncoding.EncodeToString(k.Key), Algorithm: k.Algorithm, CreationTimestamp: k.Created.UnixMilli()})
	return s.write(&kgo.Record{Key: []byte(sessionKeyKey), Value: b})
}

// Close relinquishes the write privileges and stops reading the topic.
func (s *KafkaConfigStore) Close() {
	if s.writer != nil {
		s.writer.close()
	}
	s.kl.Close()
}
