// Package controller is the active controller: it decides every change to
// the cluster's metadata (topics, partitions, configs), turns it into
// metadata records, makes them durable through a metadata.Journal, and
// publishes the resulting metadata.Image.
//
// Decisions are pure functions of the current Image and the request
// (plan* functions in this package): they return the records to commit or
// an apierror. The Controller serializes requests under one lock, commits
// the records, applies them and calls the publisher, in that order, so a
// caller that gets a success has a durable change visible in Image().
//
// Single node today: the quorum is this node's journal and the only
// registered broker is this node. The cluster will run the same plan
// functions on the Raft leader.
package controller

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gregor-streaming/gregor/internal/invariants"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// Config configures a Controller.
type Config struct {
	// NodeID is this node's node.id, the only broker replicas go to.
	NodeID int32
	// NumPartitions is num.partitions, used when a create asks for -1.
	NumPartitions int32
	// DefaultReplicationFactor is default.replication.factor, used when a
	// create asks for -1.
	DefaultReplicationFactor int16
	// ValidateTopicConfigs checks topic config overrides; its error text
	// is returned to the client as INVALID_CONFIG.
	ValidateTopicConfigs func(map[string]string) error
	// ValidateBrokerConfig checks a dynamic broker config change.
	ValidateBrokerConfig func(name, value string) error
	// DefaultValue returns the value a config of a resource type has when
	// the resource does not set it (the broker's value for a topic
	// config); APPEND and SUBTRACT start from it, as in Kafka.
	DefaultValue func(resourceType int8, name string) (string, bool)
	// Logger receives the controller's logs.
	Logger *slog.Logger
}

// Controller is the single-node active controller. Safe for concurrent use.
type Controller struct {
	cfg     Config
	journal metadata.Journal
	publish func(*metadata.Image)
	image   atomic.Pointer[metadata.Image]

	// mu serializes decisions and commits.
	mu sync.Mutex
}

// Open replays the journal into an Image and returns a Controller that
// commits to it. publish is called with every new image, under the
// controller's lock, in order; it must not call back into the Controller.
func Open(cfg Config, journal metadata.Journal, publish func(*metadata.Image)) (*Controller, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ValidateTopicConfigs == nil {
		cfg.ValidateTopicConfigs = func(map[string]string) error { return nil }
	}
	if cfg.DefaultValue == nil {
		cfg.DefaultValue = func(int8, string) (string, bool) { return "", false }
	}
	if cfg.ValidateBrokerConfig == nil {
		cfg.ValidateBrokerConfig = func(string, string) error { return nil }
	}
	im := metadata.Empty
	err := journal.Replay(func(recs []metadata.Record) error {
		next, err := im.Apply(recs)
		if err != nil {
			return fmt.Errorf("controller: replay metadata batch %d: %w", im.Offset, err)
		}
		im = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, journal: journal, publish: publish}
	c.image.Store(im)
	cfg.Logger.Info("metadata loaded", "batches", im.Offset, "topics", im.NumTopics())
	if publish != nil {
		publish(im)
	}
	return c, nil
}

// Image returns the latest committed image.
func (c *Controller) Image() *metadata.Image { return c.image.Load() }

// commitLocked makes recs durable, applies them and publishes the image.
func (c *Controller) commitLocked(recs []metadata.Record) error {
	if len(recs) == 0 {
		return nil
	}
	cur := c.image.Load()
	next, err := cur.Apply(recs)
	if err != nil {
		// The plan functions check everything Apply checks: this is a bug.
		return invariants.AssertionFailedf("controller: planned records do not apply: %v", err)
	}
	if err := c.journal.Append(recs); err != nil {
		return fmt.Errorf("controller: commit: %w", err)
	}
	c.image.Store(next)
	if c.publish != nil {
		c.publish(next)
	}
	return nil
}

// errNotCommitted wraps a journal failure so handlers answer with a
// retriable error rather than a wrong success.
var errNotCommitted = errors.New("controller: change not committed")
