// Package node assembles one Gregor process from its parts, in Kafka's
// order: log dirs are checked (meta.properties), the metadata log is
// replayed into an image, partition logs are opened and recovered, the
// replica manager applies the image, and only then do listeners accept
// clients. Close reverses it: stop accepting, close connections, close the
// logs cleanly (so the next start skips recovery), close the metadata log.
//
//	n, err := node.New(cfg, logger)   // opens and recovers everything
//	err = n.Start()                   // binds listeners
//	...
//	n.Close()
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/gregor-streaming/gregor/internal/uuid"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/group"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/internal/server"
	"github.com/gregor-streaming/gregor/internal/storage"
	"github.com/gregor-streaming/gregor/internal/txn"
)

// Options are the dependencies a Node takes from its caller.
type Options struct {
	Logger *slog.Logger
	// Listen opens listeners; nil means net.Listen.
	Listen func(network, address string) (net.Listener, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Dial opens the connections this node makes to other nodes (Raft,
	// controller channels, replica fetchers); nil means a net.Dialer.
	// kafkatest routes them through fault proxies (isolate.go).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Node is one running Gregor process: a broker, a controller, or both
// (process.roles; quorum.go).
type Node struct {
	cfg       *config.Broker
	log       *slog.Logger
	clusterID string

	journal    metadata.Journal
	controller *controller.Controller
	logs       *storage.Manager
	replicas   *replica.Manager
	server     *server.Server
	adapter    *configAdapter
	// authorizer decides requests on every listener (nil: no
	// authorizer.class.name).
	authorizer *acl.Authorizer

	// published receives images once the replica manager is ready.
	replicasReady atomic.Pointer[replica.Manager]

	// quorum is the controller quorum side (quorum.go, lifecycle.go);
	// nil on a single node.
	quorum *quorumNode
	// repl is the replication wiring (replication.go).
	repl *replication

	// producerIDs hands out producer ids (producerids.go).
	producerIDs *producerIDManager

	// The group coordinator (groups.go).
	groups      *group.Coordinator
	groupsReady atomic.Pointer[group.Coordinator]
	groupsState *groupsState

	// The transaction coordinator and its marker sender (txn.go,
	// txnmarkers.go).
	txn            *txn.Coordinator
	txnReady       atomic.Pointer[txn.Coordinator]
	txnMarkers     *markerSender
	txnMarkerConns *markerConns
}

// metadataDirName is the directory of the metadata log inside the
// metadata log dir, as in Kafka.
const metadataDirName = "__cluster_metadata-0"

// New opens a node's storage and metadata. It does not listen yet.
func New(cfg *config.Broker, opts Options) (_ *Node, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := &Node{cfg: cfg, log: opts.Logger}
	authz, err := cfg.Authorizer()
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.authorizer = acl.New(authz)
	defer func() {
		if err != nil {
			n.closeQuorum() // first: it publishes to what closes next
			n.closeReplication()
			n.closeStorage()
		}
	}()

	clusterID, err := n.checkLogDirs()
	if err != nil {
		return nil, err
	}
	n.clusterID = clusterID

	metaDir := cfg.MetadataLogDir
	if metaDir == "" {
		metaDir = cfg.LogDirs[0]
	}
	adapter := newConfigAdapter(cfg)
	n.adapter = adapter
	ccfg := controller.Config{
		NodeID:                   cfg.NodeID,
		NumPartitions:            cfg.NumPartitions,
		DefaultReplicationFactor: int16(cfg.DefaultReplicationFactor),
		ValidateTopicConfigs:     adapter.ValidateTopic,
		ValidateBrokerConfig:     config.ValidateBrokerDynamic,
		DefaultValue:             adapter.defaultValue,
		Logger:                   opts.Logger.With("component", "controller"),
	}
	ccfg.DelegationTokens = controller.DelegationTokenConfig{ // KIP-48
		SecretKey:           cfg.DelegationTokenSecretKey,
		MaxLifetime:         millis(cfg.DelegationTokenMaxLifetimeMs),
		ExpiryTime:          millis(cfg.DelegationTokenExpiryTimeMs),
		ExpiryCheckInterval: millis(cfg.DelegationTokenExpiryCheckIntervalMs),
	}
	if cfg.HasRole("controller") {
		// kafka-storage format's bootstrap.checkpoint (--add-scram): a
		// controller writes its records into an empty metadata log; a
		// broker-only node ignores it, as in Kafka.
		ccfg.BootstrapDir = metaDir
	}
	if cfg.SingleNode() {
		n.journal, err = metadata.OpenFileJournal(filepath.Join(metaDir, metadataDirName))
		if err != nil {
			return nil, err
		}
		n.controller, err = controller.Open(ccfg, n.journal, n.publish)
	} else if cfg.HasRole("controller") {
		n.controller, err = n.openQuorum(ccfg, metaDir, opts) // quorum.go
	} else {
		n.controller, err = n.openObserver(ccfg, opts) // observer.go: returns caught up
	}
	if err != nil {
		return nil, err
	}
	if !cfg.HasRole("broker") {
		// A controller-only node: no partitions, groups or broker
		// listeners; its controller listener starts in Start.
		return n, nil
	}
	im := n.controller.Image()

	n.logs, err = storage.OpenManager(cfg.LogDirs, storage.ManagerOptions{
		Logger:                 opts.Logger.With("component", "storage"),
		Now:                    opts.Now,
		RetentionCheckInterval: millis(cfg.LogRetentionCheckIntervalMs),
		FlushCheckInterval:     millis(cfg.LogFlushSchedulerIntervalMs),
		CheckpointInterval:     millis(int64(cfg.LogFlushOffsetCheckpointIntervalMs)),
		Cleaner:                cleanerConfig(cfg), // cleaner.go

		ProducerIDExpiration:              millis(int64(cfg.ProducerIDExpirationMs)),
		ProducerIDExpirationCheckInterval: millis(int64(cfg.ProducerIDExpirationCheckIntervalMs)),
	}, func(topic string) storage.Config {
		return adapter.topicConfig(n.controller.Image(), topic).Log
	})
	if err != nil {
		return nil, err
	}
	n.replicas = replica.New(n.replicaConfig(adapter.topicConfig, opts), n.logs)
	if err := n.replicas.ApplyImage(im); err != nil {
		return nil, fmt.Errorf("node: apply metadata: %w", err)
	}
	n.replicasReady.Store(n.replicas)

	var listeners []server.Listener
	for _, l := range cfg.BrokerListeners() {
		sl := server.Listener{Name: l.Name, Address: l.Addr()}
		for _, a := range cfg.AdvertisedListeners {
			if a.Name == l.Name {
				sl.AdvertisedHost, sl.AdvertisedPort = a.Host, int32(a.Port)
			}
		}
		listeners = append(listeners, sl)
	}
	if len(listeners) == 0 {
		return nil, errors.New("node: no broker listener in listeners; add one such as PLAINTEXT://:9092")
	}
	if err := n.secureBrokerListeners(listeners); err != nil { // security.go
		return nil, err
	}
	n.newGroups(n.controller.Image(), opts.Now)
	if n.quorum != nil {
		// Images the quorum applied meanwhile were not published.
		n.controller.Republish()
	}
	n.producerIDs = n.newProducerIDs()
	if err := n.newTxn(n.controller.Image(), opts.Now); err != nil {
		return nil, err
	}
	n.server = server.New(server.Config{
		NodeID:                      cfg.NodeID,
		ClusterID:                   clusterID,
		Rack:                        rack(cfg.BrokerRack),
		Listeners:                   listeners,
		MaxRequestBytes:             cfg.SocketRequestMaxBytes,
		AutoCreateTopics:            cfg.AutoCreateTopicsEnable,
		DeleteTopicEnable:           cfg.DeleteTopicEnable,
		FetchMaxBytes:               cfg.FetchMaxBytes,
		MaxIncrementalFetchSessions: int(cfg.MaxIncrementalFetchSessionCacheSlots),
		ForwardTimeout:              millis(int64(cfg.RequestTimeoutMs)),
		ReplicaSelectorClass:        cfg.ReplicaSelectorClass,
		NoTxnPartitionVerification:  !cfg.TransactionPartitionVerificationEnable,
		Listen:                      opts.Listen,
		QuotaWindow:                 quotaWindow(cfg), // quotas.go
		ControllerQuotaWindow:       controllerQuotaWindow(cfg),
		ConnectionLimits:            n.connectionLimits, // quotas.go
		Logger:                      opts.Logger.With("component", "server"),
		Now:                         opts.Now,
	}, server.Deps{
		Controller: n.controller,
		Replicas:   n.replicas,
		Logs:       n.logs,
		Configs:    adapter,
		Forwarder:  n.forwarder(),
		// The active controller as the quorum knows it (quorum.go).
		ControllerLocator: n.controllerLocator(),
		Groups:            n.groups,
		ProducerIDs:       n.producerIDs,
		Txn:               n.txn,
		Authorizer:        n.authorizer,
	})
	return n, nil
}

// millis converts a Kafka millisecond setting to a Duration; values too
// large to represent (Kafka's Long.MAX_VALUE "never") become 0, which the
// storage manager reads as "never".
func millis(ms int64) time.Duration {
	if ms <= 0 || ms > int64(math.MaxInt64/time.Millisecond) {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

func rack(r string) *string {
	if r == "" {
		return nil
	}
	return &r
}

// publish applies a new metadata image to the replica manager.
func (n *Node) publish(im *metadata.Image) {
	r := n.replicasReady.Load()
	if r == nil {
		return
	}
	if err := r.ApplyImage(im); err != nil {
		n.log.Error("applying metadata image", "offset", im.Offset, "err", err)
	}
	n.syncGroups(im)
	n.syncTxn(im)
}

// checkLogDirs reads meta.properties in every log dir, formatting
// unformatted dirs of a combined single node (as a first start of the
// default configuration may), and returns the cluster id they share.
func (n *Node) checkLogDirs() (string, error) {
	var clusterID string
	var unformatted []string
	for _, d := range n.cfg.LogDirs {
		mp, err := storage.ReadMetaProperties(d)
		if errors.Is(err, storage.ErrNotFormatted) {
			unformatted = append(unformatted, d)
			continue
		}
		if err != nil {
			return "", err
		}
		if mp.NodeID != n.cfg.NodeID {
			return "", fmt.Errorf("node: log dir %s belongs to node.id %d, not %d; point log.dirs elsewhere or fix node.id", d, mp.NodeID, n.cfg.NodeID)
		}
		if clusterID != "" && mp.ClusterID != clusterID {
			return "", fmt.Errorf("node: log dirs disagree on cluster.id (%s vs %s in %s)", clusterID, mp.ClusterID, d)
		}
		clusterID = mp.ClusterID
	}
	if len(unformatted) > 0 {
		if !n.cfg.SingleNode() {
			return "", fmt.Errorf("node: log dir %s is not formatted; with a controller quorum every node needs the same cluster id: run kafka-storage format --cluster-id", unformatted[0])
		}
		if clusterID == "" {
			clusterID = uuid.Format(uuid.New())
		}
		for _, d := range unformatted {
			if err := storage.FormatLogDir(d, clusterID, n.cfg.NodeID); err != nil {
				return "", err
			}
			n.log.Info("formatted log dir", "dir", d, "cluster_id", clusterID)
		}
	}
	return clusterID, nil
}

// Start binds the listeners and starts serving.
func (n *Node) Start() error {
	n.startReplication()
	n.startTxn()
	if n.server != nil {
		if err := n.server.Start(); err != nil {
			return err
		}
	}
	if n.quorum != nil {
		if err := n.startQuorum(); err != nil {
			return err
		}
	}
	n.log.Info("gregor started", "node_id", n.cfg.NodeID, "cluster_id", n.clusterID, "log_dirs", n.cfg.LogDirs)
	return nil
}

// Addrs returns the bound broker listener addresses (none on a
// controller-only node).
func (n *Node) Addrs() []net.Addr {
	if n.server == nil {
		return nil
	}
	return n.server.Addrs()
}

// ClusterID returns the cluster id from meta.properties.
func (n *Node) ClusterID() string { return n.clusterID }

// Close shuts the node down cleanly. It is safe to call more than once.
func (n *Node) Close() error {
	n.stopLifecycle(true) // controlled shutdown first, while serving
	if n.server != nil {
		n.server.Close()
	}
	n.closeTxn()
	n.closeProducerIDs()
	// Stop applying metadata before closing what it is published to.
	qerr := n.closeQuorum()
	if n.groups != nil {
		n.groups.Close()
	}
	n.closeReplication()
	err := errors.Join(qerr, n.closeStorage())
	n.log.Info("gregor stopped", "node_id", n.cfg.NodeID)
	return err
}

func (n *Node) closeStorage() error {
	var errs []error
	errs = append(errs, n.closeQuorum()) // no more images to publish
	if n.logs != nil {
		errs = append(errs, n.logs.Close())
		n.logs = nil
	}
	if n.journal != nil {
		if n.controller != nil {
			errs = append(errs, n.controller.Close()) // its token sweeper
		}
		errs = append(errs, n.journal.Close())
		n.journal = nil
	}
	return errors.Join(errs...)
}

// Run starts a node and serves until ctx is done, then closes it.
func Run(ctx context.Context, cfg *config.Broker, opts Options) error {
	n, err := New(cfg, opts)
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		n.Close()
		return err
	}
	<-ctx.Done()
	opts.Logger.Info("shutting down")
	return n.Close()
}
