package streams

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restorer reads changelog partitions into stores (Kafka's
// StoreChangelogReader), with a consumer of its own that keeps control
// records so that it can step over transaction markers, and reads
// committed data only under exactly_once_v2.
type restorer struct {
	cl  *kgo.Client
	adm *kadm.Client
	eos bool
	log interface {
		Info(string, ...any)
		Warn(string, ...any)
	}
}

// restore brings every spec's store up to the end of its changelog
// partition as of now (the last stable offset under exactly_once_v2).
func (r *restorer) restore(ctx context.Context, specs []restoreSpec) error {
	if len(specs) == 0 {
		return nil
	}
	topicSet := map[string]bool{}
	for _, s := range specs {
		topicSet[s.tp.topic] = true
	}
	var topics []string
	for t := range topicSet {
		topics = append(topics, t)
	}
	var ends kadm.ListedOffsets
	var err error
	if r.eos {
		ends, err = r.adm.ListCommittedOffsets(ctx, topics...)
	} else {
		ends, err = r.adm.ListEndOffsets(ctx, topics...)
	}
	if err != nil {
		return fmt.Errorf("streams: list changelog end offsets: %w", err)
	}
	type active struct {
		spec restoreSpec
		pos  int64
		end  int64
	}
	todo := map[topicPartition]*active{}
	add := map[string]map[int32]kgo.Offset{}
	for _, s := range specs {
		lo, ok := ends.Lookup(s.tp.topic, s.tp.partition)
		if !ok || lo.Err != nil {
			return fmt.Errorf("streams: changelog %s: end offset: %v", s.tp, lo.Err)
		}
		end := lo.Offset
		if s.start > end {
			// The changelog is behind our checkpoint (recreated or
			// truncated): rebuild the store from scratch (Kafka's
			// TaskCorruptedException).
			r.log.Warn("streams: checkpoint beyond changelog end; wiping store", "changelog", s.tp, "checkpoint", s.start, "end", end)
			if err := s.t.wipeStore(s.store); err != nil {
				return err
			}
			s.start = 0
		}
		if s.start >= end {
			s.t.advanceChangelog(s.tp, end)
			continue
		}
		todo[s.tp] = &active{spec: s, pos: s.start, end: end}
		if add[s.tp.topic] == nil {
			add[s.tp.topic] = map[int32]kgo.Offset{}
		}
		add[s.tp.topic][s.tp.partition] = kgo.NewOffset().At(s.start)
	}
	if len(todo) == 0 {
		return nil
	}
	started := time.Now()
	r.cl.AddConsumePartitions(add)
	defer func() {
		rm := map[string][]int32{}
		for tp := range todo {
			rm[tp.topic] = append(rm[tp.topic], tp.partition)
		}
		r.cl.RemoveConsumePartitions(rm)
	}()
	// The record before the end offset always exists: compaction never
	// removes the last record of a partition, and a transaction's last
	// offset is its marker, which this consumer keeps. So the loop ends
	// once the broker has served that far; it stops early only when ctx
	// ends (shutdown).
	for len(todo) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := r.cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if fetches.IsClientClosed() {
			return ErrClosed
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				r.log.Warn("streams: restore fetch", "topic", topic, "partition", p, "err", err)
			}
		})
		var restoreErr error
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			tp := topicPartition{p.Topic, p.Partition}
			a := todo[tp]
			if a == nil || restoreErr != nil {
				return
			}
			batch := p.Records[:0:0]
			for _, rec := range p.Records {
				if rec.Offset < a.pos || rec.Offset >= a.end {
					continue
				}
				a.pos = rec.Offset + 1
				if !rec.Attrs.IsControl() {
					batch = append(batch, rec)
				}
			}
			if err := a.spec.t.restoreBatch(a.spec.store, batch); err != nil {
				restoreErr = err
				return
			}
			a.spec.t.advanceChangelog(tp, a.pos)
			if a.pos >= a.end {
				delete(todo, tp)
				r.cl.RemoveConsumePartitions(map[string][]int32{tp.topic: {tp.partition}})
			}
		})
		if restoreErr != nil {
			return restoreErr
		}
	}
	r.log.Info("streams: restored state", "partitions", len(specs), "took", time.Since(started))
	return nil
}

// wipeStore empties a store: a persistent one loses its directory.
func (t *task) wipeStore(ts *taskStore) error {
	if err := ts.inner.Close(); err != nil {
		t.log.Warn("streams: closing store to wipe it", "store", ts.spec.name, "err", err)
	}
	if err := os.RemoveAll(ts.dir); err != nil {
		return fmt.Errorf("streams: task %s: wipe store %s: %w", t.id, ts.spec.name, err)
	}
	inner, err := ts.spec.builder.supplier().Open(ts.dir)
	if err != nil {
		return fmt.Errorf("streams: task %s: %w", t.id, err)
	}
	ts.inner = inner
	if ts.logged != nil {
		ts.logged.KeyValueStore = inner
		ts.typed = ts.spec.builder.wrap(ts.logged, ts.changelog.topic)
	} else {
		ts.typed = ts.spec.builder.wrap(inner, ts.spec.name)
	}
	t.mu.Lock()
	t.mu.changelogOffsets[ts.changelog] = 0
	t.mu.Unlock()
	return nil
}
