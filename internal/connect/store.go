package connect

import (
	"maps"
	"sort"
	"strconv"
	"sync"
)

// The stores are where a worker keeps what Kafka Connect keeps in its
// backing stores: connector configurations and target states
// (ConfigStore, Kafka's ConfigBackingStore), the status of connectors and
// tasks (StatusStore, StatusBackingStore) and source offsets (OffsetStore,
// OffsetBackingStore). Standalone mode keeps configurations and statuses
// in memory and offsets in a file; distributed mode implements the same
// interfaces over the config, status and offset topics (kafkastore*.go).

// TargetState is what an operator wants a connector to do.
type TargetState string

// The target states (Kafka's TargetState; KIP-875 added STOPPED).
const (
	TargetStarted TargetState = "STARTED"
	TargetPaused  TargetState = "PAUSED"
	TargetStopped TargetState = "STOPPED"
)

// TaskID names one task of a connector (Kafka's ConnectorTaskId).
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// String formats id as Kafka does: "connector-task".
func (id TaskID) String() string { return id.Connector + "-" + strconv.Itoa(id.Task) }

// ConnectorConfigState is one connector's entry in a ConfigSnapshot.
type ConnectorConfigState struct {
	// Config is the connector's configuration as submitted.
	Config map[string]string
	// Target is the connector's target state.
	Target TargetState
	// Tasks are the task configurations, by task number.
	Tasks []map[string]string
}

// ConfigSnapshot is a consistent copy of a ConfigStore (Kafka's
// ClusterConfigState). It is the caller's to keep.
type ConfigSnapshot map[string]ConnectorConfigState

// ConfigStore keeps connector configurations, target states and task
// configurations. Implementations are safe for concurrent use.
type ConfigStore interface {
	// Snapshot returns a copy of the whole state.
	Snapshot() ConfigSnapshot
	// PutConnectorConfig creates or replaces a connector's configuration,
	// setting its target state ("" keeps the current one, STARTED for a
	// new connector); a replaced connector keeps its tasks until
	// PutTaskConfigs.
	PutConnectorConfig(name string, config map[string]string, target TargetState) error
	// RemoveConnectorConfig removes a connector and its tasks.
	RemoveConnectorConfig(name string) error
	// PutTaskConfigs replaces a connector's task configurations.
	PutTaskConfigs(name string, tasks []map[string]string) error
	// PutTargetState changes a connector's target state.
	PutTargetState(name string, target TargetState) error
}

// MemoryConfigStore is a ConfigStore in memory (Kafka's
// MemoryConfigBackingStore), for standalone mode.
type MemoryConfigStore struct {
	mu struct {
		sync.Mutex
		connectors ConfigSnapshot
	}
}

// NewMemoryConfigStore returns an empty MemoryConfigStore.
func NewMemoryConfigStore() *MemoryConfigStore {
	s := &MemoryConfigStore{}
	s.mu.connectors = ConfigSnapshot{}
	return s
}

// Snapshot implements ConfigStore.
func (s *MemoryConfigStore) Snapshot() ConfigSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(ConfigSnapshot, len(s.mu.connectors))
	for name, c := range s.mu.connectors {
		out[name] = c.clone()
	}
	return out
}

func (c ConnectorConfigState) clone() ConnectorConfigState {
	tasks := make([]map[string]string, len(c.Tasks))
	for i, t := range c.Tasks {
		tasks[i] = maps.Clone(t)
	}
	return ConnectorConfigState{Config: maps.Clone(c.Config), Target: c.Target, Tasks: tasks}
}

// PutConnectorConfig implements ConfigStore.
func (s *MemoryConfigStore) PutConnectorConfig(name string, config map[string]string, target TargetState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, exists := s.mu.connectors[name]
	c.Config = maps.Clone(config)
	switch {
	case target != "":
		c.Target = target
	case !exists:
		c.Target = TargetStarted
	}
	s.mu.connectors[name] = c
	return nil
}

// RemoveConnectorConfig implements ConfigStore.
func (s *MemoryConfigStore) RemoveConnectorConfig(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.connectors, name)
	return nil
}

// PutTaskConfigs implements ConfigStore.
func (s *MemoryConfigStore) PutTaskConfigs(name string, tasks []map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.mu.connectors[name]
	if !ok {
		return notFoundf("Connector %s not found", name)
	}
	c.Tasks = make([]map[string]string, len(tasks))
	for i, t := range tasks {
		c.Tasks[i] = maps.Clone(t)
	}
	s.mu.connectors[name] = c
	return nil
}

// PutTargetState implements ConfigStore.
func (s *MemoryConfigStore) PutTargetState(name string, target TargetState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.mu.connectors[name]
	if !ok {
		return notFoundf("Connector %s not found", name)
	}
	c.Target = target
	s.mu.connectors[name] = c
	return nil
}

// State is the state of a connector or task instance (Kafka's
// AbstractStatus.State).
type State string

// The states, as the REST API writes them.
const (
	StateUnassigned State = "UNASSIGNED"
	StateRunning    State = "RUNNING"
	StatePaused     State = "PAUSED"
	StateFailed     State = "FAILED"
	StateRestarting State = "RESTARTING"
	StateStopped    State = "STOPPED"
)

// ConnectorStatus is the status of a connector instance.
type ConnectorStatus struct {
	Name     string
	State    State
	Trace    string
	WorkerID string
}

// TaskStatus is the status of a task instance.
type TaskStatus struct {
	ID       TaskID
	State    State
	Trace    string
	WorkerID string
}

// StatusStore keeps the status of connectors and tasks and the topics
// each connector uses (KIP-558). Implementations are safe for concurrent
// use.
type StatusStore interface {
	PutConnector(st ConnectorStatus)
	PutTask(st TaskStatus)
	Connector(name string) (ConnectorStatus, bool)
	Task(id TaskID) (TaskStatus, bool)
	// Tasks returns a connector's task statuses ordered by task number.
	Tasks(connector string) []TaskStatus
	// DeleteConnector removes a connector's status, its tasks' and its
	// topics.
	DeleteConnector(name string)
	DeleteTask(id TaskID)
	// PutTopic records that connector used topic.
	PutTopic(connector, topic string)
	// Topics returns the topics connector used, sorted.
	Topics(connector string) []string
	DeleteTopics(connector string)
}

// MemoryStatusStore is a StatusStore in memory (Kafka's
// MemoryStatusBackingStore).
type MemoryStatusStore struct {
	mu struct {
		sync.Mutex
		connectors map[string]ConnectorStatus
		tasks      map[TaskID]TaskStatus
		topics     map[string]map[string]bool
	}
}

// NewMemoryStatusStore returns an empty MemoryStatusStore.
func NewMemoryStatusStore() *MemoryStatusStore {
	s := &MemoryStatusStore{}
	s.mu.connectors = map[string]ConnectorStatus{}
	s.mu.tasks = map[TaskID]TaskStatus{}
	s.mu.topics = map[string]map[string]bool{}
	return s
}

// PutConnector implements StatusStore.
func (s *MemoryStatusStore) PutConnector(st ConnectorStatus) {
	s.mu.Lock()
	s.mu.connectors[st.Name] = st
	s.mu.Unlock()
}

// PutTask implements StatusStore.
func (s *MemoryStatusStore) PutTask(st TaskStatus) {
	s.mu.Lock()
	s.mu.tasks[st.ID] = st
	s.mu.Unlock()
}

// Connector implements StatusStore.
func (s *MemoryStatusStore) Connector(name string) (ConnectorStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.mu.connectors[name]
	return st, ok
}

// Task implements StatusStore.
func (s *MemoryStatusStore) Task(id TaskID) (TaskStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.mu.tasks[id]
	return st, ok
}

// Tasks implements StatusStore.
func (s *MemoryStatusStore) Tasks(connector string) []TaskStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TaskStatus
	for id, st := range s.mu.tasks {
		if id.Connector == connector {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.Task < out[j].ID.Task })
	return out
}

// DeleteConnector implements StatusStore.
func (s *MemoryStatusStore) DeleteConnector(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.connectors, name)
	for id := range s.mu.tasks {
		if id.Connector == name {
			delete(s.mu.tasks, id)
		}
	}
	delete(s.mu.topics, name)
}

// DeleteTask implements StatusStore.
func (s *MemoryStatusStore) DeleteTask(id TaskID) {
	s.mu.Lock()
	delete(s.mu.tasks, id)
	s.mu.Unlock()
}

// PutTopic implements StatusStore.
func (s *MemoryStatusStore) PutTopic(connector, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.topics[connector] == nil {
		s.mu.topics[connector] = map[string]bool{}
	}
	s.mu.topics[connector][topic] = true
}

// Topics implements StatusStore.
func (s *MemoryStatusStore) Topics(connector string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.mu.topics[connector]))
	for t := range s.mu.topics[connector] {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// DeleteTopics implements StatusStore.
func (s *MemoryStatusStore) DeleteTopics(connector string) {
	s.mu.Lock()
	delete(s.mu.topics, connector)
	s.mu.Unlock()
}
