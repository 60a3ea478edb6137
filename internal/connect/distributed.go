package connect

import (
	"context"
	"log/slog"
	"net/url"
	"time"
)

// DistributedOptions configure StartDistributed.
type DistributedOptions struct {
	// Logger receives the worker's logs (default: discarded).
	Logger *slog.Logger
	// ClusterIDTimeout bounds the lookup of the Kafka cluster's id at
	// startup (default 60s).
	ClusterIDTimeout time.Duration
}

// Distributed is a running distributed worker (Kafka's ConnectDistributed):
// a REST server and a DistributedHerder.
type Distributed struct {
	log    *slog.Logger
	rest   *RESTServer
	herder *DistributedHerder
}

// StartDistributed starts a distributed worker: it parses the worker
// properties, binds the REST listeners (the advertised URL is the
// worker's id), looks up the Kafka cluster's id, opens the offset, status
// and config stores (creating their topics if needed), joins the worker
// group and serves the REST API. Connectors are created through the REST
// API on any worker. The caller must Close the worker.
func StartDistributed(ctx context.Context, workerProps map[string]string, opts DistributedOptions) (*Distributed, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.ClusterIDTimeout == 0 {
		opts.ClusterIDTimeout = 60 * time.Second
	}
	cfg, err := ParseDistributedConfig(workerProps)
	if err != nil {
		return nil, err
	}
	log.Info("Kafka Connect distributed worker initializing", "group.id", cfg.GroupID)
	if len(cfg.PluginPath) > 0 {
		log.Info("Ignoring plugin.path: Gregor Connect's plugins are compiled into the gregor binary", "plugin.path", cfg.PluginPath)
	}
	rest, err := NewRESTServer(cfg.Config, log)
	if err != nil {
		return nil, err
	}
	log = rest.Logger() // leveled by /admin/loggers (rest_loggers.go)
	clusterID, err := lookupClusterID(ctx, cfg.Config, opts.ClusterIDTimeout)
	if err != nil {
		rest.Shutdown(context.Background())
		return nil, err
	}
	log.Info("Kafka cluster ID", "cluster.id", clusterID)
	h, err := NewDistributedHerder(ctx, cfg, DistributedHerderOptions{
		URL: rest.AdvertisedURL().String(), WorkerID: rest.WorkerID(), ClusterID: clusterID, Logger: log,
		HTTPClient: rest.handler.client, // https to other workers (rest_tls.go)
		Loggers:    rest.Loggers(),      // cluster logger levels (KIP-976)
	})
	if err != nil {
		rest.Shutdown(context.Background())
		return nil, err
	}
	rest.Start(h)
	log.Info("Kafka Connect started", "url", rest.AdvertisedURL().String())
	return &Distributed{log: log, rest: rest, herder: h}, nil
}

// Herder returns the worker's herder.
func (d *Distributed) Herder() *DistributedHerder { return d.herder }

// URL returns the worker's advertised REST URL.
func (d *Distributed) URL() *url.URL { return d.rest.AdvertisedURL() }

// REST returns the REST server.
func (d *Distributed) REST() *RESTServer { return d.rest }

// Close stops the REST API, then every connector and task (committing
// their offsets), leaves the group and closes the stores.
func (d *Distributed) Close(ctx context.Context) error {
	d.log.Info("Kafka Connect stopping")
	err := d.rest.Shutdown(ctx)
	d.herder.Close()
	d.log.Info("Kafka Connect stopped")
	return err
}
