package connect

import (
	"context"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaOffsetStore is an OffsetStore over the offsets topic
// (offset.storage.topic, compacted, offset.storage.partitions partitions;
// Kafka's KafkaOffsetBackingStore). Records are keyed and valued as the
// OffsetStore interface says — the JSON Kafka Connect writes:
//
//	key   ["local-file-source",{"filename":"test.txt"}]
//	value {"position":8}                                  null: removed
//
// and partitioned by the key's murmur2 hash, as Kafka's producer does, so
// that a key always lands in the same partition and compaction keeps its
// latest offset. Get and Entries read the topic to the end first (what
// another worker committed before is seen); Set returns once every entry
// is acknowledged by all in-sync replicas. It is safe for concurrent use.
type KafkaOffsetStore struct {
	kl *kafkaLog
	mu struct {
		sync.Mutex
		data map[string][]byte
	}
}

// OpenKafkaOffsetStore opens the offset store of cfg, creating its topic
// if needed and reading it to the end.
func OpenKafkaOffsetStore(ctx context.Context, cfg *DistributedConfig, log *slog.Logger) (*KafkaOffsetStore, error) {
	s := &KafkaOffsetStore{}
	s.mu.data = map[string][]byte{}
	kl, err := openKafkaLog(ctx, cfg.Config, "connect-"+cfg.GroupID+"-offsets",
		topicSpec{name: cfg.OffsetTopic, partitions: cfg.OffsetPartitions, replicas: cfg.OffsetReplicationFactor}, log, s.apply)
	if err != nil {
		return nil, err
	}
	s.kl = kl
	return s, nil
}

func (s *KafkaOffsetStore) apply(r *kgo.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Value == nil {
		delete(s.mu.data, string(r.Key))
		return
	}
	s.mu.data[string(r.Key)] = r.Value
}

func (s *KafkaOffsetStore) refresh() error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return s.kl.readToEnd(ctx)
}

// Get implements OffsetStore.
func (s *KafkaOffsetStore) Get(key []byte) ([]byte, error) {
	if err := s.refresh(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.data[string(key)], nil
}

// Entries implements OffsetStore.
func (s *KafkaOffsetStore) Entries() ([]OffsetEntry, error) {
	if err := s.refresh(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedEntries(s.mu.data), nil
}

// Set implements OffsetStore. Entries are visible to Get once written.
func (s *KafkaOffsetStore) Set(entries []OffsetEntry) error {
	if len(entries) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(entries))
	for i, e := range entries {
		recs[i] = &kgo.Record{Key: e.Key, Value: e.Value}
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	after, err := s.kl.send(ctx, recs...)
	if err != nil {
		return err
	}
	return s.kl.waitFor(ctx, after)
}

// Close implements OffsetStore: it stops reading the topic.
func (s *KafkaOffsetStore) Close() error {
	s.kl.Close()
	return nil
}
