package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// TopicConfig is what the replica layer needs of a topic's effective
// configuration. Units are in the field names.
type TopicConfig struct {
	Log                  storage.Config
	MaxMessageBytes      int32
	LogAppendTime        bool // message.timestamp.type=LogAppendTime
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64
	Compacted            bool // cleanup.policy contains compact
	MinInsyncReplicas    int32
	// CompressionType is compression.type: "producer" keeps the batch's
	// codec, a codec name recompresses to it.
	CompressionType string
}

// Config configures a Manager.
type Config struct {
	NodeID int32
	// TopicConfig returns the effective config of a topic in an image.
	TopicConfig func(im *metadata.Image, topic string) TopicConfig
	Logger      *slog.Logger
	Now         func() time.Time
}

// TopicPartition names a partition.
type TopicPartition = storage.TopicPartition

// Manager is the set of partitions hosted on this node. Safe for
// concurrent use.
type Manager struct {
	cfg  Config
	logs *storage.Manager

	mu struct {
		sync.RWMutex
		partitions map[TopicPartition]*Partition
	}
}

// Errors answered to clients.
var (
	errUnknownTopicOrPartition = apierror.New(kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")
)

// New returns a Manager over logs. Call ApplyImage before serving.
func New(cfg Config, logs *storage.Manager) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{cfg: cfg, logs: logs}
	m.mu.partitions = map[TopicPartition]*Partition{}
	return m
}

// Partition returns a hosted partition.
func (m *Manager) Partition(topic string, partition int32) (*Partition, error) {
	m.mu.RLock()
	p, ok := m.mu.partitions[TopicPartition{Topic: topic, Partition: partition}]
	m.mu.RUnlock()
	if !ok {
		return nil, errUnknownTopicOrPartition
	}
	return p, nil
}

// ApplyImage makes the hosted partitions match im: it opens logs for new
// partitions this node replicates, sets leader epochs and configs, and
// deletes the logs of partitions no longer in the image (or whose topic
// was recreated under a new id).
func (m *Manager) ApplyImage(im *metadata.Image) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	want := map[TopicPartition]bool{}
	for _, name := range im.TopicNames() {
		t, _ := im.Topic(name)
		tc := m.cfg.TopicConfig(im, name)
		for i, reg := range t.Partitions {
			if !contains(reg.Replicas, m.cfg.NodeID) {
				continue
			}
			tp := TopicPartition{Topic: name, Partition: int32(i)}
			want[tp] = true
			p, ok := m.mu.partitions[tp]
			if ok && p.TopicID != t.ID {
				m.deleteLocked(p)
				ok = false
			}
			if !ok {
				var err error
				p, err = m.openLocked(tp, t.ID, tc)
				if err != nil {
					errs = append(errs, err)
					continue
				}
			}
			p.update(reg, tc, m.cfg.NodeID)
		}
	}
	for tp, p := range m.mu.partitions {
		if !want[tp] {
			m.deleteLocked(p)
		}
	}
	// Logs on disk that no image topic claims (a topic deleted while the
	// node was down, or a recreated one) are removed too.
	for tp, l := range m.logs.Logs() {
		if _, ok := m.mu.partitions[tp]; ok {
			continue
		}
		m.cfg.Logger.Info("deleting log of a partition not in metadata", "topic", tp.Topic, "partition", tp.Partition, "dir", l.Dir())
		if err := m.logs.Delete(tp.Topic, tp.Partition); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) openLocked(tp TopicPartition, id metadata.TopicID, tc TopicConfig) (*Partition, error) {
	if l, ok := m.logs.Get(tp.Topic, tp.Partition); ok {
		if have, ok := l.TopicID(); ok && metadata.TopicID(have) != id {
			m.cfg.Logger.Info("deleting log of a recreated topic", "topic", tp.Topic, "partition", tp.Partition)
			if err := m.logs.Delete(tp.Topic, tp.Partition); err != nil {
				return nil, err
			}
		}
	}
	l, err := m.logs.GetOrCreate(tp.Topic, tp.Partition, id, tc.Log)
	if err != nil {
		return nil, fmt.Errorf("replica: open %s-%d: %w", tp.Topic, tp.Partition, err)
	}
	p := newPartition(tp, id, l, m.cfg.Now)
	m.mu.partitions[tp] = p
	return p, nil
}

func (m *Manager) deleteLocked(p *Partition) {
	delete(m.mu.partitions, TopicPartition{Topic: p.Topic, Partition: p.Index})
	p.close()
	if err := m.logs.Delete(p.Topic, p.Index); err != nil {
		m.cfg.Logger.Error("delete partition log", "topic", p.Topic, "partition", p.Index, "err", err)
	}
}

// Partitions returns a snapshot of the hosted partitions.
func (m *Manager) Partitions() []*Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Partition, 0, len(m.mu.partitions))
	for _, p := range m.mu.partitions {
		out = append(out, p)
	}
	return out
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
