package controller

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// ConfigOp is an IncrementalAlterConfigs operation, with Kafka's values.
type ConfigOp int8

// Config operations.
const (
	OpSet      ConfigOp = 0
	OpDelete   ConfigOp = 1
	OpAppend   ConfigOp = 2
	OpSubtract ConfigOp = 3
)

// ConfigChange is one change to one config.
type ConfigChange struct {
	Name  string
	Op    ConfigOp
	Value *string
}

// AlterConfigs changes the configs of one resource. With replace (the
// legacy AlterConfigs API) the resource's configs become exactly the
// OpSet changes; otherwise the changes apply incrementally. list tells
// which configs are lists (for append/subtract).
func (c *Controller) AlterConfigs(res metadata.ConfigResource, changes []ConfigChange, replace, validateOnly bool, isList func(string) bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.readyLocked(); err != nil {
		return err
	}
	im := c.image.Load()
	switch res.Type {
	case metadata.ResourceTopic:
		if _, ok := im.Topic(res.Name); !ok {
			return apierror.New(kerr.UnknownTopicOrPartition, "Topic %s does not exist.", res.Name)
		}
	case metadata.ResourceBroker:
		if c.quorum != nil {
			// The active controller takes any broker's dynamic configs
			// (ControllerConfigurationValidator: a non-negative id).
			if id, err := strconv.Atoi(res.Name); res.Name != "" && (err != nil || id < 0) {
				return apierror.New(kerr.InvalidRequest, "Invalid broker name %s", res.Name)
			}
		} else if res.Name != "" && res.Name != itoa(c.cfg.NodeID) {
			return apierror.New(kerr.InvalidRequest, "Unexpected broker id, expected %d or empty string, but received %s", c.cfg.NodeID, res.Name)
		}
	default:
		return apierror.New(kerr.InvalidRequest, "Unexpected resource type %d", res.Type)
	}
	cur := im.Configs(res)
	next := maps.Clone(cur)
	if replace {
		next = map[string]string{}
	}
	for _, ch := range changes {
		switch ch.Op {
		case OpSet:
			if ch.Value == nil {
				return apierror.New(kerr.InvalidRequest, "Null value not supported for : %s", ch.Name)
			}
			next[ch.Name] = *ch.Value
		case OpDelete:
			delete(next, ch.Name)
		case OpAppend, OpSubtract:
			if isList == nil || !isList(ch.Name) {
				return apierror.New(kerr.InvalidConfig, "Config value append/subtract is not allowed for config key %s", ch.Name)
			}
			v, ok := next[ch.Name]
			if !ok {
				v, _ = c.cfg.DefaultValue(res.Type, ch.Name)
			}
			have := splitList(v)
			var vals []string
			if ch.Value != nil && *ch.Value != "" {
				vals = splitList(*ch.Value)
			}
			if ch.Op == OpAppend {
				for _, v := range vals {
					if !slices.Contains(have, v) {
						have = append(have, v)
					}
				}
			} else {
				have = slices.DeleteFunc(have, func(s string) bool { return slices.Contains(vals, s) })
			}
			next[ch.Name] = joinList(have)
		default:
			return apierror.New(kerr.InvalidRequest, "Unknown alter config operation %d", ch.Op)
		}
	}
	switch res.Type {
	case metadata.ResourceTopic:
		if err := c.cfg.ValidateTopicConfigs(next); err != nil {
			return apierror.New(kerr.InvalidConfig, "%v", err)
		}
	case metadata.ResourceBroker:
		for k, v := range next {
			if old, ok := cur[k]; ok && old == v {
				continue
			}
			if err := c.cfg.ValidateBrokerConfig(k, v); err != nil {
				return apierror.New(kerr.InvalidConfig, "%v", err)
			}
		}
	}
	if validateOnly {
		return nil
	}
	var recs []metadata.Record
	for _, k := range slices.Sorted(maps.Keys(next)) {
		v := next[k]
		if old, ok := cur[k]; ok && old == v {
			continue
		}
		recs = append(recs, metadata.Record{Type: metadata.TypeConfig, ResourceType: res.Type, ResourceName: res.Name, Name: k, Value: &v})
	}
	for _, k := range slices.Sorted(maps.Keys(cur)) {
		if _, ok := next[k]; !ok {
			recs = append(recs, metadata.Record{Type: metadata.TypeConfig, ResourceType: res.Type, ResourceName: res.Name, Name: k})
		}
	}
	if err := c.commitLocked(recs); err != nil {
		if aerr := apiError(err); aerr != nil {
			return aerr
		}
		return apierror.New(kerr.UnknownServerError, "%v", err)
	}
	if len(recs) > 0 {
		c.cfg.Logger.Info("altered configs", "resource_type", res.Type, "resource", res.Name, "changes", len(recs))
	}
	return nil
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func joinList(vals []string) string { return strings.Join(vals, ",") }
