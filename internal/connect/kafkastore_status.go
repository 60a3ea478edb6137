package connect

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The status topic (status.storage.topic, compacted) holds what Kafka's
// KafkaStatusBackingStore writes:
//
//	key                                      value
//	status-connector-<name>                  {"state":"RUNNING","trace":null,"worker_id":"host:8083","generation":3}
//	status-task-<name>-<n>                   {"state":"FAILED","trace":"…","worker_id":"host:8083","generation":3}
//	status-topic-<topic>:connector-<name>    {"topic":{"name":"t","connector":"c","task":0,"discoverTimestamp":1700000000000}}
//
// A null value deletes. Every worker writes the statuses of what it runs;
// all of them read the whole topic, so that any worker answers GET
// /connectors/{name}/status for the cluster.

// Prefixes of the status topic's keys.
const (
	statusConnectorPrefix = "status-connector-"
	statusTaskPrefix      = "status-task-"
	statusTopicPrefix     = "status-topic-"
)

type statusValue struct {
	State      string  `json:"state"`
	Trace      *string `json:"trace"`
	WorkerID   string  `json:"worker_id"`
	Generation int32   `json:"generation"`
}

type topicStatusValue struct {
	Topic struct {
		Name              string `json:"name"`
		Connector         string `json:"connector"`
		Task              int32  `json:"task"`
		DiscoverTimestamp int64  `json:"discoverTimestamp"`
	} `json:"topic"`
}

// KafkaStatusStore is a StatusStore over the status topic (Kafka's
// KafkaStatusBackingStore). Puts update this worker's view at once and
// are written to the topic in the background; other workers' writes
// arrive through the consuming goroutine. It is safe for concurrent use.
type KafkaStatusStore struct {
	kl  *kafkaLog
	log *slog.Logger
	mem *MemoryStatusStore
	// generation is written with each status (the worker group's
	// generation when it was written).
	generation func() int32
}

// OpenKafkaStatusStore opens the status store of cfg, creating its topic
// if needed and reading it to the end. generation (may be nil) gives the
// group generation written with each status.
func OpenKafkaStatusStore(ctx context.Context, cfg *DistributedConfig, log *slog.Logger, generation func() int32) (*KafkaStatusStore, error) {
	if generation == nil {
		generation = func() int32 { return -1 }
	}
	s := &KafkaStatusStore{mem: NewMemoryStatusStore(), log: log.With("topic", cfg.StatusTopic), generation: generation}
	kl, err := openKafkaLog(ctx, cfg.Config, "connect-"+cfg.GroupID+"-statuses",
		topicSpec{name: cfg.StatusTopic, partitions: cfg.StatusPartitions, replicas: cfg.StatusReplicationFactor}, log, s.apply)
	if err != nil {
		return nil, err
	}
	s.kl = kl
	return s, nil
}

func (s *KafkaStatusStore) apply(r *kgo.Record) {
	key := string(r.Key)
	switch {
	case strings.HasPrefix(key, statusConnectorPrefix):
		name := strings.TrimPrefix(key, statusConnectorPrefix)
		if r.Value == nil {
			s.mem.mu.Lock()
			delete(s.mem.mu.connectors, name)
			s.mem.mu.Unlock()
			return
		}
		v, ok := s.decode(key, r.Value)
		if ok {
			s.mem.PutConnector(ConnectorStatus{Name: name, State: State(v.State), Trace: deref(v.Trace), WorkerID: v.WorkerID})
		}
	case strings.HasPrefix(key, statusTaskPrefix):
		id, ok := parseTaskKey(strings.TrimPrefix(key, statusTaskPrefix))
		if !ok {
			return
		}
		if r.Value == nil {
			s.mem.DeleteTask(id)
			return
		}
		v, ok := s.decode(key, r.Value)
		if ok {
			s.mem.PutTask(TaskStatus{ID: id, State: State(v.State), Trace: deref(v.Trace), WorkerID: v.WorkerID})
		}
	case strings.HasPrefix(key, statusTopicPrefix):
		rest := strings.TrimPrefix(key, statusTopicPrefix)
		i := strings.Index(rest, ":connector-")
		if i < 0 {
			return
		}
		topic, connector := rest[:i], rest[i+len(":connector-"):]
		if r.Value == nil {
			s.mem.mu.Lock()
			delete(s.mem.mu.topics[connector], topic)
			s.mem.mu.Unlock()
			return
		}
		s.mem.PutTopic(connector, topic)
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *KafkaStatusStore) decode(key string, b []byte) (statusValue, bool) {
	var v statusValue
	if err := json.Unmarshal(b, &v); err != nil {
		s.log.Error("Invalid status record", "key", key, "err", err)
		return v, false
	}
	return v, true
}

func (s *KafkaStatusStore) encode(state State, trace, workerID string) []byte {
	v := statusValue{State: string(state), WorkerID: workerID, Generation: s.generation()}
	if trace != "" {
		v.Trace = &trace
	}
	b, _ := json.Marshal(v)
	return b
}

// PutConnector implements StatusStore.
func (s *KafkaStatusStore) PutConnector(st ConnectorStatus) {
	s.mem.PutConnector(st)
	s.kl.sendAsync(&kgo.Record{Key: []byte(statusConnectorPrefix + st.Name), Value: s.encode(st.State, st.Trace, st.WorkerID)})
}

// PutTask implements StatusStore.
func (s *KafkaStatusStore) PutTask(st TaskStatus) {
	s.mem.PutTask(st)
	s.kl.sendAsync(&kgo.Record{Key: []byte(statusTaskPrefix + st.ID.String()), Value: s.encode(st.State, st.Trace, st.WorkerID)})
}

// Connector implements StatusStore.
func (s *KafkaStatusStore) Connector(name string) (ConnectorStatus, bool) {
	return s.mem.Connector(name)
}

// Task implements StatusStore.
func (s *KafkaStatusStore) Task(id TaskID) (TaskStatus, bool) { return s.mem.Task(id) }

// Tasks implements StatusStore.
func (s *KafkaStatusStore) Tasks(connector string) []TaskStatus { return s.mem.Tasks(connector) }

// DeleteConnector implements StatusStore: tombstones for the connector's
// status, its tasks' and its topics'.
func (s *KafkaStatusStore) DeleteConnector(name string) {
	tasks := s.mem.Tasks(name)
	topics := s.mem.Topics(name)
	s.mem.DeleteConnector(name)
	s.kl.sendAsync(&kgo.Record{Key: []byte(statusConnectorPrefix + name)})
	for _, t := range tasks {
		s.kl.sendAsync(&kgo.Record{Key: []byte(statusTaskPrefix + t.ID.String())})
	}
	for _, t := range topics {
		s.kl.sendAsync(&kgo.Record{Key: []byte(statusTopicPrefix + t + ":connector-" + name)})
	}
}

// DeleteTask implements StatusStore.
func (s *KafkaStatusStore) DeleteTask(id TaskID) {
	s.mem.DeleteTask(id)
	s.kl.sendAsync(&kgo.Record{Key: []byte(statusTaskPrefix + id.String())})
}

// PutTopic implements StatusStore; a topic already recorded is not
// written again.
func (s *KafkaStatusStore) PutTopic(connector, topic string) {
	s.mem.mu.Lock()
	known := s.mem.mu.topics[connector][topic]
	s.mem.mu.Unlock()
	if known {
		return
	}
	s.mem.PutTopic(connector, topic)
	var v topicStatusValue
	v.Topic.Name, v.Topic.Connector, v.Topic.DiscoverTimestamp = topic, connector, time.Now().UnixMilli()
	b, _ := json.Marshal(v)
	s.kl.sendAsync(&kgo.Record{Key: []byte(statusTopicPrefix + topic + ":connector-" + connector), Value: b})
}

// Topics implements StatusStore.
func (s *KafkaStatusStore) Topics(connector string) []string {
	out := s.mem.Topics(connector)
	sort.Strings(out)
	return out
}

// DeleteTopics implements StatusStore.
func (s *KafkaStatusStore) DeleteTopics(connector string) {
	topics := s.mem.Topics(connector)
	s.mem.DeleteTopics(connector)
	for _, t := range topics {
		s.kl.sendAsync(&kgo.Record{Key: []byte(statusTopicPrefix + t + ":connector-" + connector)})
	}
}

// ReadToEnd waits until the store has read every status written before
// the call.
func (s *KafkaStatusStore) ReadToEnd(ctx context.Context) error { return s.kl.readToEnd(ctx) }

// Close flushes pending writes and stops reading the topic.
func (s *KafkaStatusStore) Close() { s.kl.Close() }
