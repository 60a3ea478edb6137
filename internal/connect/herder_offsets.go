package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// Keys of a sink connector's offsets in the REST API (KIP-875).
const (
	sinkTopicKey     = "kafka_topic"
	sinkPartitionKey = "kafka_partition"
	sinkOffsetKey    = "kafka_offset"
)

// ConnectorOffsets returns a connector's offsets: a source connector's
// stored source offsets, or a sink connector's committed consumer group
// offsets.
func (h *Herder) ConnectorOffsets(ctx context.Context, name string) (*ConnectorOffsets, error) {
	c, ok := h.configs.Snapshot()[name]
	if !ok {
		return nil, notFoundf("Connector %s not found", name)
	}
	out := &ConnectorOffsets{Offsets: []ConnectorOffset{}}
	if connectorType(c.Config) == "sink" {
		resps, err := h.worker.admin.FetchOffsets(ctx, groupID(name))
		if err != nil {
			if errors.Is(err, kerr.GroupIDNotFound) {
				return out, nil
			}
			return nil, fmt.Errorf("Failed to retrieve consumer group offsets for sink connector %s: %w", name, err)
		}
		resps.Each(func(r kadm.OffsetResponse) {
			if r.Err != nil || r.At < 0 {
				return
			}
			out.Offsets = append(out.Offsets, ConnectorOffset{
				Partition: map[string]any{sinkTopicKey: r.Topic, sinkPartitionKey: r.Partition},
				Offset:    map[string]any{sinkOffsetKey: r.At},
			})
		})
		sort.Slice(out.Offsets, func(i, j int) bool {
			a, b := out.Offsets[i].Partition, out.Offsets[j].Partition
			if a[sinkTopicKey] != b[sinkTopicKey] {
				return a[sinkTopicKey].(string) < b[sinkTopicKey].(string)
			}
			return a[sinkPartitionKey].(int32) < b[sinkPartitionKey].(int32)
		})
		return out, nil
	}
	partitions, offsets, err := connectorOffsets(h.offsets, name)
	if err != nil {
		return nil, err
	}
	for i := range partitions {
		if offsets[i] == nil {
			continue
		}
		out.Offsets = append(out.Offsets, ConnectorOffset{Partition: partitions[i], Offset: offsets[i]})
	}
	return out, nil
}

// AlterConnectorOffsets sets a stopped connector's offsets; an offset of
// nil removes the partition's.
func (h *Herder) AlterConnectorOffsets(ctx context.Context, name string, offsets []ConnectorOffset) (*Message, error) {
	if len(offsets) == 0 {
		return nil, badRequestf("Partitions / offsets need to be provided for an alter offsets request")
	}
	return h.modifyOffsets(ctx, name, offsets, false)
}

// ResetConnectorOffsets removes all of a stopped connector's offsets.
func (h *Herder) ResetConnectorOffsets(ctx context.Context, name string) (*Message, error) {
	return h.modifyOffsets(ctx, name, nil, true)
}

func (h *Herder) modifyOffsets(ctx context.Context, name string, offsets []ConnectorOffset, reset bool) (*Message, error) {
	if err := h.lock(); err != nil {
		return nil, err
	}
	defer h.mu.Unlock()
	c, ok := h.configs.Snapshot()[name]
	if !ok {
		return nil, notFoundf("Connector %s not found", name)
	}
	if c.Target != TargetStopped || len(c.Tasks) != 0 {
		return nil, badRequestf("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	p, err := lookupConnector(c.Config[connectorClassConfig])
	if err != nil {
		return nil, err
	}
	var handled bool
	if p.Type == sdk.PluginSink {
		handled, err = h.modifySinkOffsets(ctx, name, p, c.Config, offsets, reset)
	} else {
		handled, err = h.modifySourceOffsets(name, p, c.Config, offsets, reset)
	}
	if err != nil {
		return nil, err
	}
	kind := "altered"
	if reset {
		kind = "reset"
	}
	if handled {
		return &Message{Message: "The offsets for this connector have been " + kind + " successfully"}, nil
	}
	return &Message{Message: "The Connect framework-managed offsets for this connector have been " + kind +
		" successfully. However, if this connector manages offsets externally, they will need to be manually " + kind +
		" in the system that the connector uses."}, nil
}

func (h *Herder) modifySourceOffsets(name string, p sdk.Plugin, config map[string]string, offsets []ConnectorOffset, reset bool) (bool, error) {
	var partitions, values []map[string]any
	if reset {
		stored, _, err := connectorOffsets(h.offsets, name)
		if err != nil {
			return false, err
		}
		partitions = stored
		values = make([]map[string]any, len(stored))
	} else {
		for _, o := range offsets {
			if o.Partition == nil {
				return false, badRequestf("The partition for a source connector offset cannot be null or missing")
			}
			part, err := normalizeOffsetMap(o.Partition)
			if err != nil {
				return false, badRequestf("Invalid source partition %v: %v", o.Partition, err)
			}
			off, err := normalizeOffsetMap(o.Offset)
			if err != nil {
				return false, badRequestf("Invalid source offset %v: %v", o.Offset, err)
			}
			partitions = append(partitions, part)
			values = append(values, off)
		}
	}
	handled := false
	if a, ok := p.New().(sdk.SourceOffsetAlterer); ok {
		var err error
		if err = safeCall(func() error {
			var aerr error
			handled, aerr = a.AlterOffsets(config, partitions, values)
			return aerr
		}); err != nil {
			return false, fmt.Errorf("%w", err)
		}
	}
	entries := make([]OffsetEntry, 0, len(partitions))
	for i := range partitions {
		key, err := encodeOffsetKey(name, partitions[i])
		if err != nil {
			return false, badRequestf("%v", err)
		}
		value, err := encodeOffsetValue(values[i])
		if err != nil {
			return false, badRequestf("%v", err)
		}
		entries = append(entries, OffsetEntry{Key: key, Value: value})
	}
	if err := h.offsets.Set(entries); err != nil {
		return false, fmt.Errorf("Failed to write offsets for source connector %s: %w", name, err)
	}
	return handled, nil
}

// normalizeOffsetMap turns a JSON-decoded map into the values a task sees
// after a restart: integers as int64, other numbers as float64.
func normalizeOffsetMap(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case json.Number:
			if n, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
				out[k] = n
			} else if f, err := strconv.ParseFloat(x.String(), 64); err == nil {
				out[k] = f
			} else {
				return nil, fmt.Errorf("invalid number %s", x)
			}
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				out[k] = int64(x)
			} else {
				out[k] = x
			}
		case nil, string, bool, int64, int32:
			out[k] = x
		default:
			return nil, fmt.Errorf("%s may only contain primitive types as values, but contains %T", k, v)
		}
	}
	return out, nil
}

func (h *Herder) modifySinkOffsets(ctx context.Context, name string, p sdk.Plugin, config map[string]string, offsets []ConnectorOffset, reset bool) (bool, error) {
	group := groupID(name)
	parsed := map[sdk.TopicPartition]int64{}
	if !reset {
		for _, o := range offsets {
			tp, off, err := parseSinkOffset(o)
			if err != nil {
				return false, err
			}
			parsed[tp] = off
		}
	}
	handled := false
	if a, ok := p.New().(sdk.SinkOffsetAlterer); ok {
		if err := safeCall(func() error {
			var aerr error
			handled, aerr = a.AlterOffsets(config, parsed)
			return aerr
		}); err != nil {
			return false, err
		}
	}
	if reset {
		resps, err := h.worker.admin.DeleteGroups(ctx, group)
		if err != nil {
			return false, fmt.Errorf("Failed to delete consumer group %s for sink connector %s: %w", group, name, err)
		}
		for _, r := range resps {
			if r.Err != nil && !errors.Is(r.Err, kerr.GroupIDNotFound) {
				return false, fmt.Errorf("Failed to delete consumer group %s for sink connector %s: %w", group, name, r.Err)
			}
		}
		return handled, nil
	}
	commit := kadm.Offsets{}
	deletes := kadm.TopicsSet{}
	for tp, off := range parsed {
		if off < 0 {
			deletes.Add(tp.Topic, tp.Partition)
			continue
		}
		commit.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: off, LeaderEpoch: -1})
	}
	if len(commit) > 0 {
		resps, err := h.worker.admin.CommitOffsets(ctx, group, commit)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			return false, fmt.Errorf("Failed to alter consumer group offsets for sink connector %s: %w", name, err)
		}
	}
	if len(deletes) > 0 {
		resps, err := h.worker.admin.DeleteOffsets(ctx, group, deletes)
		if err == nil {
			err = resps.Error()
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return false, fmt.Errorf("Failed to delete consumer group offsets for sink connector %s: %w", name, err)
		}
	}
	return handled, nil
}

// parseSinkOffset reads one sink offset of a PATCH body; a nil offset
// gives -1 (remove).
func parseSinkOffset(o ConnectorOffset) (sdk.TopicPartition, int64, error) {
	var tp sdk.TopicPartition
	topic, ok := o.Partition[sinkTopicKey].(string)
	if o.Partition == nil || !ok || topic == "" {
		return tp, 0, badRequestf("The partition for a sink connector offset must contain the keys '%s' and '%s'", sinkTopicKey, sinkPartitionKey)
	}
	part, ok := jsonInt(o.Partition[sinkPartitionKey])
	if !ok {
		return tp, 0, badRequestf("Failed to parse the following Kafka partition value in the provided offsets: '%v'. Partition values for sink connectors need to be integers.", o.Partition[sinkPartitionKey])
	}
	if part < 0 || part > math.MaxInt32 {
		return tp, 0, badRequestf("Kafka partitions must be greater than or equal to 0")
	}
	tp = sdk.TopicPartition{Topic: topic, Partition: int32(part)}
	if o.Offset == nil {
		return tp, -1, nil
	}
	raw, present := o.Offset[sinkOffsetKey]
	if !present {
		return tp, 0, badRequestf("The offset for a sink connector should either be null or contain the key '%s'", sinkOffsetKey)
	}
	off, ok := jsonInt(raw)
	if !ok {
		return tp, 0, badRequestf("Failed to parse the following Kafka offset value in the provided offsets: '%v'. Offset values for sink connectors need to be integers.", raw)
	}
	if off < 0 {
		return tp, 0, badRequestf("Kafka offsets must be greater than or equal to 0")
	}
	return tp, off, nil
}

func jsonInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(x.String(), 10, 64)
		return n, err == nil
	case float64:
		return int64(x), x == math.Trunc(x)
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int:
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}
