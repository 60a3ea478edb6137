package streams

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Repartition topic configs, as Kafka's RepartitionTopicConfig: records
// are kept until the application purges them after committing.
var repartitionTopicConfig = map[string]string{
	"cleanup.policy": "delete",
	"retention.ms":   "-1",
	"segment.bytes":  "52428800",
}

// topicPlan is the partition count of every topic an App reads or
// creates, by real name.
type topicPlan struct {
	// counts has every source topic (external and repartition) and
	// every changelog.
	counts map[string]int32
	// create lists the internal topics with their configs.
	create map[string]map[string]string
}

// planTopics computes the partition counts of the internal topics from
// those of the external source topics (Kafka's RepartitionTopics and
// CopartitionedTopicsEnforcer): a repartition topic without a set count
// gets the largest count among the source topics of the sub-topologies
// that write to it, repartition topics in a co-partition group get the
// group's count, and a changelog gets its sub-topology's task count.
func planTopics(t *Topology, appID string, external map[string]int32) (*topicPlan, error) {
	counts := map[string]int32{} // by topology name
	for topic := range t.sourceSub {
		if t.isInternal(topic) {
			continue
		}
		n, ok := external[topic]
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrMissingSourceTopic, topic)
		}
		counts[topic] = n
	}
	for name, it := range t.internal {
		if it.partitions > 0 {
			counts[name] = int32(it.partitions)
		}
	}
	// A repartition topic co-partitioned with external topics takes
	// their count (the subscription and response topics of foreign-key
	// joins, whose writers read each other's topics, need it).
	for _, group := range t.copartition {
		for _, topic := range group {
			if n, ok := counts[topic]; ok && !t.isInternal(topic) {
				for _, it := range group {
					if _, set := counts[it]; !set && t.isInternal(it) {
						counts[it] = n
					}
				}
				break
			}
		}
	}
	// writers[topic] lists the sub-topologies that write to it.
	writers := map[string][]*subtopology{}
	for _, g := range t.subtopologies {
		for _, n := range g.nodes {
			if n.kind == kindSink && t.isInternal(n.topics[0]) {
				writers[n.topics[0]] = append(writers[n.topics[0]], g)
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for name := range t.internal {
			if _, ok := counts[name]; ok {
				continue
			}
			var max int32
			known := true
			for _, g := range writers[name] {
				for _, src := range g.topics {
					n, ok := counts[src]
					if !ok {
						known = false
					}
					if n > max {
						max = n
					}
				}
			}
			if known && max > 0 {
				counts[name] = max
				changed = true
			}
		}
	}
	for name := range t.internal {
		if _, ok := counts[name]; !ok {
			return nil, fmt.Errorf("%w: cannot derive the partition count of repartition topic %s", ErrTopology, name)
		}
	}
	for _, group := range t.copartition {
		var max int32
		var externalCount int32
		for _, topic := range group {
			n := counts[topic]
			if !t.isInternal(topic) {
				if externalCount != 0 && n != externalCount {
					return nil, fmt.Errorf("%w: %v have partition counts that differ (%s has %d, another %d); repartition one side to join them", ErrCopartition, group, topic, n, externalCount)
				}
				externalCount = n
			}
			if n > max {
				max = n
			}
		}
		if externalCount != 0 {
			max = externalCount
		}
		for _, topic := range group {
			if it, ok := t.internal[topic]; ok {
				if it.partitions > 0 && int32(it.partitions) != max {
					return nil, fmt.Errorf("%w: repartition topic %s is set to %d partitions but must have %d", ErrCopartition, topic, it.partitions, max)
				}
				counts[topic] = max
			}
		}
	}
	p := &topicPlan{counts: map[string]int32{}, create: map[string]map[string]string{}}
	for topic, n := range counts {
		p.counts[t.topicName(appID, topic)] = n
		if t.isInternal(topic) {
			p.create[t.topicName(appID, topic)] = repartitionTopicConfig
		}
	}
	for _, g := range t.subtopologies {
		var tasks int32
		for _, topic := range g.topics {
			if counts[topic] > tasks {
				tasks = counts[topic]
			}
		}
		for _, s := range g.stores {
			sb := t.stores[s].builder
			if !sb.LoggingEnabled() {
				continue
			}
			cl := changelogTopic(appID, s)
			p.counts[cl] = tasks
			cfg := map[string]string{"cleanup.policy": "compact"}
			for k, v := range sb.ChangelogConfig() {
				cfg[k] = v
			}
			p.create[cl] = cfg
		}
	}
	return p, nil
}

// ensureTopics describes the source topics, plans the internal topics,
// creates the missing ones and checks the partition counts of those that
// exist.
func ensureTopics(ctx context.Context, adm *kadm.Client, t *Topology, appID string, rf int16) (*topicPlan, error) {
	sources := t.SourceTopics()
	details, err := adm.ListTopics(ctx, sources...)
	if err != nil {
		return nil, fmt.Errorf("streams: describe source topics: %w", err)
	}
	external := map[string]int32{}
	for _, d := range details {
		if d.Err == nil {
			external[d.Topic] = int32(len(d.Partitions))
		}
	}
	var missing []string
	for _, s := range sources {
		if _, ok := external[s]; !ok {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrMissingSourceTopic, missing)
	}
	plan, err := planTopics(t, appID, external)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(plan.create))
	for n := range plan.create {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		cfg := map[string]*string{}
		for k, v := range plan.create[name] {
			cfg[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctx, plan.counts[name], rf, cfg, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("streams: create internal topic %s: %w", name, err)
		}
	}
	if len(names) == 0 {
		return plan, nil // (ListTopics without names lists every topic)
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("streams: describe internal topics: %w", err)
	}
	for _, d := range existing {
		if d.Err == nil && int32(len(d.Partitions)) != plan.counts[d.Topic] {
			return nil, fmt.Errorf("%w: internal topic %s has %d partitions, want %d", ErrCopartition, d.Topic, len(d.Partitions), plan.counts[d.Topic])
		}
	}
	return plan, nil
}

// tasksFor returns the tasks for the given partition counts (Kafka's
// DefaultPartitionGrouper): sub-topology s has as many tasks as its
// largest source topic has partitions, and task s_p reads partition p of
// each of its source topics that has one.
func (t *Topology) tasksFor(appID string, counts map[string]int32) map[TaskID][]topicPartition {
	out := map[TaskID][]topicPartition{}
	for _, g := range t.subtopologies {
		for _, topic := range g.topics {
			real := t.topicName(appID, topic)
			n := counts[real]
			for p := int32(0); p < n; p++ {
				id := TaskID{Subtopology: g.id, Partition: p}
				out[id] = append(out[id], topicPartition{real, p})
			}
		}
	}
	return out
}
