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
// Two ways to commit, one set of decisions:
//
//	single node (Open)       metadata.Journal (a FileJournal): plan, append,
//	                         apply, publish, all under the lock. The only
//	                         broker is this node until brokers register.
//	quorum (OpenQuorum,      a raft.Journal: plan against the latest applied
//	quorum.go)               image, append through Raft, answer once the
//	                         batch is committed and applied here. Every
//	                         member applies the committed log to its image
//	                         (raft.Listener); only the Raft leader decides,
//	                         the others answer NOT_CONTROLLER.
//
// Broker registrations, heartbeats, AlterPartition, elections and
// reassignments (clusterops.go) go through the same lock and commit path,
// deciding with a Cluster built from the image whenever this node becomes
// the active controller.
package controller

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gregor-streaming/gregor/internal/apierror"
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
	// Cluster configures the decisions about brokers and leadership
	// (broker.session.timeout.ms, unclean.leader.election.enable, ...).
	// The zero value means DefaultClusterConfig().
	Cluster ClusterConfig
	// Now is the clock of broker sessions. Default time.Now.
	Now func() time.Time
	// DelegationTokens configures delegation tokens
	// (delegation_tokens.go); the zero value disables them.
	DelegationTokens DelegationTokenConfig
	// BootstrapDir is the metadata log dir holding the bootstrap.checkpoint
	// that kafka-storage format wrote (bootstrap.go): its records are
	// written when this controller first finds the metadata log empty.
	// Empty, or no file there: no bootstrap records.
	BootstrapDir string
}

// Controller is the active controller (or, in a quorum, a member that
// may become it). Safe for concurrent use.
type Controller struct {
	cfg     Config
	commits committer
	publish func(*metadata.Image)
	image   atomic.Pointer[metadata.Image]
	// quorum is the Raft side (quorum.go); nil on a single node.
	quorum *quorum
	// observer is set on a broker-only node's Controller (observer.go).
	observer bool
	// sweeper removes expired delegation tokens (delegation_tokens.go);
	// nil when tokens are disabled.
	sweeper *tokenSweeper
	// bootstrap is read from Config.BootstrapDir when the controller
	// opens (bootstrap.go); read-only afterwards.
	bootstrap BootstrapMetadata

	// pubMu makes the publisher see images one at a time, in log order.
	// Taken after mu, never before it.
	pubMu sync.Mutex

	// mu serializes decisions and commits.
	mu struct {
		sync.Mutex
		// cluster decides about brokers and leadership; nil until this
		// node is the active controller (and after a failed commit, which
		// may have left its soft state ahead of the log).
		cluster *Cluster
		// clusterTerm is the Raft term cluster was built in (quorum).
		clusterTerm uint64
	}
}

// committer makes a planned batch durable and visible in Image. Both
// methods are called with Controller.mu held.
type committer interface {
	// ready returns the term in which this node may decide (0 on a
	// single node), or an *apierror.Error (NOT_CONTROLLER) if it may not.
	ready() (uint64, error)
	// commit commits recs, planned against Image(), as one batch. When it
	// returns nil, Image() includes them. Errors are *apierror.Error when
	// the client should see a specific code (NOT_CONTROLLER,
	// REQUEST_TIMED_OUT).
	commit(recs []metadata.Record) error
}

func (cfg *Config) ensureDefaults() {
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
	if cfg.Cluster == (ClusterConfig{}) {
		cfg.Cluster = DefaultClusterConfig()
	}
	if cfg.Cluster.Logger == nil {
		cfg.Cluster.Logger = cfg.Logger
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

// Open replays the journal into an Image and returns a Controller that
// commits to it. publish is called with every new image, under the
// controller's lock, in order; it must not call back into the Controller.
func Open(cfg Config, journal metadata.Journal, publish func(*metadata.Image)) (*Controller, error) {
	cfg.ensureDefaults()
	if err := cfg.Cluster.Validate(); err != nil {
		return nil, err
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
	c := &Controller{cfg: cfg}
	c.commits = fileCommitter{c: c, journal: journal}
	c.image.Store(im)
	// A new single node's empty log starts with the bootstrap records
	// (bootstrap.go), before the first image is published.
	if err := c.loadBootstrap(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	err = c.bootstrapLocked()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	im = c.image.Load()
	c.publish = publish
	cl, err := NewCluster(cfg.Cluster, im, cfg.Now())
	if err != nil {
		return nil, err
	}
	c.mu.cluster = cl
	cfg.Logger.Info("metadata loaded", "batches", im.Offset, "topics", im.NumTopics())
	if publish != nil {
		publish(im)
	}
	c.startTokenSweeper() // delegation_tokens.go
	return c, nil
}

// Image returns the latest committed image.
func (c *Controller) Image() *metadata.Image { return c.image.Load() }

// Close stops the quorum side of a controller (its Raft node and
// goroutines); decisions fail with NOT_CONTROLLER afterwards. A single
// node's journal belongs to the caller; there Close only stops the
// delegation token sweeper.
func (c *Controller) Close() error {
	if c.quorum == nil {
		c.sweeper.stop()
		return nil
	}
	err := c.quorum.close()
	c.sweeper.stop()
	return err
}

// Republish hands the current image to the publisher again, in order with
// the images the log delivers: a publisher that ignored images while it
// was starting catches up.
func (c *Controller) Republish() {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	if c.publish != nil {
		c.publish(c.image.Load())
	}
}

// install makes im the current image and publishes it.
func (c *Controller) install(im *metadata.Image) {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	c.image.Store(im)
	if c.publish != nil {
		c.publish(im)
	}
}

// readyLocked returns the Cluster to decide with, building it when this
// node has just become the active controller, or NOT_CONTROLLER.
func (c *Controller) readyLocked() (*Cluster, error) {
	term, err := c.commits.ready()
	if err != nil {
		return nil, err
	}
	if c.mu.cluster == nil || c.mu.clusterTerm != term {
		// A new active controller of an empty log writes the
		// bootstrap records first (bootstrap.go).
		if err := c.bootstrapLocked(); err != nil {
			return nil, err
		}
		cl, err := NewCluster(c.cfg.Cluster, c.image.Load(), c.cfg.Now())
		if err != nil {
			return nil, err
		}
		if c.quorum != nil {
			c.cfg.Logger.Info("active controller", "term", term, "metadata_offset", c.image.Load().Offset)
		}
		c.mu.cluster, c.mu.clusterTerm = cl, term
	}
	return c.mu.cluster, nil
}

// commitLocked commits recs through the journal; the image includes them
// when it returns nil. A failed commit drops the Cluster, whose soft
// state may have moved ahead of the log: the next decision rebuilds it.
func (c *Controller) commitLocked(recs []metadata.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := c.commits.commit(recs); err != nil {
		c.mu.cluster = nil
		return err
	}
	if c.quorum != nil {
		c.quorum.kickTicks()
	}
	return nil
}

// fileCommitter commits to a single node's metadata.Journal.
type fileCommitter struct {
	c       *Controller
	journal metadata.Journal
}

func (fileCommitter) ready() (uint64, error) { return 0, nil }

// commit makes recs durable, applies them and publishes the image.
func (f fileCommitter) commit(recs []metadata.Record) error {
	cur := f.c.image.Load()
	next, err := cur.Apply(recs)
	if err != nil {
		// The plan functions check everything Apply checks: this is a bug.
		return invariants.AssertionFailedf("controller: planned records do not apply: %v", err)
	}
	if err := f.journal.Append(recs); err != nil {
		return fmt.Errorf("controller: commit: %w", err)
	}
	f.c.install(next)
	return nil
}

// apiError returns err if it carries a Kafka error code to send (an
// *apierror.Error), else nil.
func apiError(err error) error {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

// placementSelf is the broker replicas go to before any broker has
// registered: this node on a single node, none in a quorum (where every
// broker registers before it gets replicas).
func (c *Controller) placementSelf() int32 {
	if c.quorum != nil {
		return -1
	}
	return c.cfg.NodeID
}

// errNotCommitted wraps a journal failure so handlers answer with a
// retriable error rather than a wrong success.
var errNotCommitted = errors.New("controller: change not committed")
