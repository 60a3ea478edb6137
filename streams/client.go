package streams

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kgoLogger sends franz-go's warnings and errors to slog.
type kgoLogger struct{ l *slog.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	case kgo.LogLevelInfo:
		l = slog.LevelInfo
	}
	k.l.Log(context.Background(), l, "kgo: "+msg, keyvals...)
}

// partFnKey keys the partition function of a record in its Context.
type partFnKey struct{}

// withPartitionFn attaches part to r for streamsPartitioner.
func withPartitionFn(r *kgo.Record, part func(int) int) {
	r.Context = context.WithValue(context.Background(), partFnKey{}, part)
}

// streamsPartitioner puts a record where its attached partition function
// says (changelogs: the task's partition; sinks with a
// StreamPartitioner), and every other record where Kafka's default
// partitioner would: murmur2 of the key, sticky for null keys.
type streamsPartitioner struct{ def kgo.Partitioner }

func newStreamsPartitioner() kgo.Partitioner {
	return streamsPartitioner{def: kgo.StickyKeyPartitioner(nil)}
}

func (p streamsPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &streamsTopicPartitioner{inner: p.def.ForTopic(topic)}
}

type streamsTopicPartitioner struct{ inner kgo.TopicPartitioner }

func partFn(r *kgo.Record) func(int) int {
	if r.Context == nil {
		return nil
	}
	fn, _ := r.Context.Value(partFnKey{}).(func(int) int)
	return fn
}

func (p *streamsTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return partFn(r) != nil || p.inner.RequiresConsistency(r)
}

func (p *streamsTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if fn := partFn(r); fn != nil {
		if part := fn(n); part >= 0 && part < n {
			return part
		}
	}
	return p.inner.Partition(r, n)
}

func (p *streamsTopicPartitioner) OnNewBatch() {
	if nb, ok := p.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

// kgoCollector sends through a franz-go producer.
type kgoCollector struct{ cl *kgo.Client }

func (c kgoCollector) send(r *kgo.Record, part func(int) int, done func(*kgo.Record, error)) {
	if part != nil {
		withPartitionFn(r, part)
	}
	c.cl.Produce(context.Background(), r, done)
}
