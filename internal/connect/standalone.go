package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	// The built-in plugins: Kafka's converters and FileStream connectors.
	_ "github.com/gregor-streaming/gregor/connect/converter"
	_ "github.com/gregor-streaming/gregor/connect/file"
	"github.com/gregor-streaming/gregor/internal/clientconfig"
)

var osHostname = os.Hostname

// ConnectorSpec is a connector to create at startup: a connector
// properties file, or a JSON file in POST /connectors' format.
type ConnectorSpec struct {
	// Name is the connector's name; "" takes it from Config["name"].
	Name string
	// Config is the connector's configuration.
	Config map[string]string
	// InitialState is the new connector's target state ("" for
	// STARTED).
	InitialState TargetState
}

// StandaloneOptions configure StartStandalone.
type StandaloneOptions struct {
	// Logger receives the worker's logs (default: discarded).
	Logger *slog.Logger
	// ClusterIDTimeout bounds the lookup of the Kafka cluster's id at
	// startup (default 60s, Kafka's default.api.timeout.ms).
	ClusterIDTimeout time.Duration
}

// Standalone is a running standalone worker (Kafka's ConnectStandalone):
// a REST server, a herder and its worker.
type Standalone struct {
	log    *slog.Logger
	rest   *RESTServer
	herder *Herder
}

// StartStandalone starts a standalone worker: it parses the worker
// properties, opens the offsets file, binds the REST listeners, looks up
// the Kafka cluster's id, starts the REST API and creates the given
// connectors, in order. A connector that cannot be created stops the
// worker with its error, as Kafka's "Stopping after connector error".
// The caller must Close the worker.
func StartStandalone(ctx context.Context, workerProps map[string]string, connectors []ConnectorSpec, opts StandaloneOptions) (*Standalone, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.ClusterIDTimeout == 0 {
		opts.ClusterIDTimeout = 60 * time.Second
	}
	cfg, err := ParseConfig(workerProps)
	if err != nil {
		return nil, err
	}
	log.Info("Kafka Connect standalone worker initializing")
	if len(cfg.PluginPath) > 0 {
		log.Info("Ignoring plugin.path: Gregor Connect's plugins are compiled into the gregor binary", "plugin.path", cfg.PluginPath)
	}
	offsets, err := OpenFileOffsetStore(cfg.OffsetsFile)
	if err != nil {
		return nil, err
	}
	rest, err := NewRESTServer(cfg, log)
	if err != nil {
		offsets.Close()
		return nil, err
	}
	log = rest.Logger() // leveled by /admin/loggers (rest_loggers.go)
	clusterID, err := lookupClusterID(ctx, cfg, opts.ClusterIDTimeout)
	if err != nil {
		rest.Shutdown(context.Background())
		offsets.Close()
		return nil, err
	}
	log.Info("Kafka cluster ID", "cluster.id", clusterID)
	h, err := NewHerder(cfg, HerderOptions{WorkerID: rest.WorkerID(), ClusterID: clusterID, Logger: log, Offsets: offsets})
	if err != nil {
		rest.Shutdown(context.Background())
		offsets.Close()
		return nil, err
	}
	s := &Standalone{log: log, rest: rest, herder: h}
	rest.Start(h)
	log.Info("Kafka Connect started", "url", rest.AdvertisedURL().String())
	for _, c := range connectors {
		name := c.Name
		if name == "" {
			name = c.Config[nameConfig]
		}
		config := make(map[string]string, len(c.Config)+1)
		for k, v := range c.Config {
			config[k] = v
		}
		if err := checkAndPutName(name, config); err != nil {
			s.Close(context.Background())
			return nil, err
		}
		created, _, err := h.PutConnectorConfig(name, config, c.InitialState, false)
		if err != nil {
			log.Error("Stopping after connector error", "connector", name, "err", err)
			s.Close(context.Background())
			return nil, fmt.Errorf("connector %s: %w", name, err)
		}
		if created {
			log.Info("Created connector", "connector", name)
		}
	}
	return s, nil
}

// lookupClusterID asks the brokers for the cluster's id (Kafka's
// ConnectUtils.lookupKafkaClusterId).
func lookupClusterID(ctx context.Context, cfg *Config, timeout time.Duration) (string, error) {
	opts, err := cfg.workerClientOpts("connect-cluster-id")
	if err != nil {
		return "", err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
		if err == nil {
			return md.Cluster, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("Failed to connect to and describe Kafka cluster (bootstrap.servers=%v): %w", cfg.BootstrapServers, errors.Join(err, ctx.Err()))
		}
		if clientconfig.IsLoginFailure(err) {
			// Retrying cannot help: Kafka's lookupKafkaClusterId
			// fails at once on an authentication error too.
			return "", fmt.Errorf("Failed to connect to and describe Kafka cluster (bootstrap.servers=%v). Check worker's broker connection and security properties: %w", cfg.BootstrapServers, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Herder returns the worker's herder.
func (s *Standalone) Herder() *Herder { return s.herder }

// URL returns the worker's advertised REST URL.
func (s *Standalone) URL() *url.URL { return s.rest.AdvertisedURL() }

// REST returns the REST server.
func (s *Standalone) REST() *RESTServer { return s.rest }

// Close stops the REST API, then every connector and task (committing
// their offsets), as Kafka's Connect.stop.
func (s *Standalone) Close(ctx context.Context) error {
	s.log.Info("Kafka Connect stopping")
	err := s.rest.Shutdown(ctx)
	s.herder.Close()
	s.log.Info("Kafka Connect stopped")
	return err
}
