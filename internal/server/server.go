// Package server is the network edge of a node: it accepts connections on
// the configured listeners, decodes Kafka requests with kmsg, runs each
// through the handler registered for its API key, and writes responses in
// request order.
//
// Each API key has one file, named by its number (00_produce.go,
// 01_fetch.go, …), that declares the versions it serves next to its
// handler; ApiVersions is built from those declarations, so it advertises
// exactly what is implemented.
//
// Connections are handled like Kafka's: requests on one connection are
// processed one at a time, in order (clients may pipeline; the next
// request is read while the previous response is written). A request that
// cannot be parsed, an unknown API key or an unsupported version (other
// than ApiVersions, which answers UNSUPPORTED_VERSION) closes the
// connection, as Kafka does; other connections are unaffected.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/group"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/quota"
	"github.com/gregor-streaming/gregor/internal/replica"
	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/storage"
	"github.com/gregor-streaming/gregor/internal/txn"
)

// Listener is one configured listener.
type Listener struct {
	// Name is the listener name (PLAINTEXT, …).
	Name string
	// Address is host:port to bind; port 0 picks a free port.
	Address string
	// AdvertisedHost and AdvertisedPort are what Metadata tells clients;
	// a zero port advertises the bound port.
	AdvertisedHost string
	AdvertisedPort int32
	// Security authenticates the listener's connections (TLS, SASL;
	// conn.go); nil is PLAINTEXT.
	Security *security.ListenerConfig
}

// Config configures a Server. Units are in the field names.
type Config struct {
	NodeID    int32
	ClusterID string
	Rack      *string
	Listeners []Listener
	// MaxRequestBytes is socket.request.max.bytes.
	MaxRequestBytes int32
	// AutoCreateTopics is auto.create.topics.enable.
	AutoCreateTopics bool
	// DeleteTopicEnable is delete.topic.enable.
	DeleteTopicEnable bool
	// FetchMaxBytes is fetch.max.bytes, the cap of a fetch response.
	FetchMaxBytes int32
	// MaxIncrementalFetchSessions is max.incremental.fetch.session.cache.slots.
	MaxIncrementalFetchSessions int
	// ControllerEndpoint makes this server serve controller listeners
	// (controller.listener.names) with the controller's handler set
	// instead of the broker's (handlers.go).
	ControllerEndpoint bool
	// ControllerListenerName is the first of controller.listener.names,
	// the name of the voters' endpoints in DescribeQuorum responses.
	ControllerListenerName string
	// ForwardTimeout bounds how long a request forwarded to the active
	// controller is retried (request.timeout.ms; default 30 s).
	ForwardTimeout time.Duration
	// ReplicaSelectorClass is replica.selector.class: "" (consumers read
	// from the leader) or RackAwareReplicaSelector (replica_selector.go).
	ReplicaSelectorClass string
	// NoTxnPartitionVerification is transaction.partition.verification.enable
	// =false (read at startup): Produce below v12 appends a transactional
	// batch without asking the coordinator whether its partition is in
	// the transaction (KIP-890 part 1). Produce v12+ (transaction version
	// 2) always adds the partition through the coordinator.
	NoTxnPartitionVerification bool
	// QuotaWindow is quota.window.num and quota.window.size.seconds,
	// the sampling of the client quotas and connection rates
	// (quotas.go); zero fields take Kafka's defaults.
	QuotaWindow quota.Window
	// ControllerQuotaWindow is controller.quota.window.num and
	// controller.quota.window.size.seconds, the burst of
	// controller_mutation_rate (quotas_mutations.go).
	ControllerQuotaWindow quota.Window
	// ConnectionLimits returns the connection limits of the moment
	// (max.connections, max.connections.per.ip[.overrides],
	// max.connection.creation.rate, per listener too); nil is none.
	ConnectionLimits func() quota.ConnectionLimits
	// Listen opens a listener; nil means net.Listen. Tests may pass their
	// own.
	Listen func(network, address string) (net.Listener, error)
	Logger *slog.Logger
	Now    func() time.Time
}

// Configs is what the config handlers need from the node's config layer.
type Configs interface {
	// DescribeTopic lists a topic's effective configs with sources and
	// synonyms, given its overrides.
	DescribeTopic(overrides map[string]string) []ConfigEntry
	// DescribeBroker lists a broker's configs, given the dynamic ones
	// (per-broker and cluster default).
	DescribeBroker(perBroker, clusterDefault map[string]string) []ConfigEntry
	// ValidateTopic checks a full set of topic overrides.
	ValidateTopic(overrides map[string]string) error
	// IsTopicConfig and IsBrokerConfig tell whether a name is known.
	IsTopicConfig(name string) bool
	IsBrokerConfig(name string) bool
	// IsList tells whether a config is a list (for APPEND/SUBTRACT).
	IsList(name string) bool
	// TopicDefaults are the broker's defaults for new topics.
	TopicDefaults() (numPartitions int32, replicationFactor int16)
}

// ConfigEntry is one config as DescribeConfigs reports it.
type ConfigEntry struct {
	Name          string
	Value         *string
	Source        int8
	ReadOnly      bool
	Sensitive     bool
	Type          int8
	Documentation *string
	Synonyms      []ConfigSynonym
}

// ConfigSynonym is one synonym of a ConfigEntry.
type ConfigSynonym struct {
	Name   string
	Value  *string
	Source int8
}

// Deps are the parts of the node the handlers call.
type Deps struct {
	Controller *controller.Controller
	Replicas   *replica.Manager
	Logs       *storage.Manager
	Configs    Configs
	// ControllerLocator names the active controller in Metadata and
	// DescribeCluster; nil: this node (no quorum).
	ControllerLocator ControllerLocator
	// Groups is the group coordinator; nil answers group requests
	// COORDINATOR_NOT_AVAILABLE.
	Groups *group.Coordinator
	// Forwarder reaches the active controller of a controller quorum;
	// with it, broker listeners forward the admin requests (forward.go).
	// nil on a single node, whose controller runs in-process.
	Forwarder Forwarder
	// ProducerIDs hands out producer ids for InitProducerId
	// (22_init_producer_id.go); nil answers COORDINATOR_NOT_AVAILABLE.
	ProducerIDs ProducerIDs
	// Txn is the transaction coordinator (InitProducerId with a
	// transactional id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
	// DescribeTransactions, ListTransactions); nil answers
	// COORDINATOR_NOT_AVAILABLE.
	Txn *txn.Coordinator
	// Authorizer decides requests against the image's ACLs
	// (authorize.go); nil (authorizer.class.name unset) allows all.
	Authorizer *acl.Authorizer
}

// Server serves the Kafka protocol. Create with New, then Start; Close
// stops it.
type Server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	sessions *fetchSessions
	// quotas are the client and connection quotas (quotas.go).
	quotas *serverQuotas

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		listeners []net.Listener
		bound     []boundListener
		conns     map[*conn]struct{}
		closed    bool
	}
}

type boundListener struct {
	Listener
	port int32
}

// New returns a Server; it does not listen until Start.
func New(cfg Config, deps Deps) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Listen == nil {
		cfg.Listen = net.Listen
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 100 << 20
	}
	if cfg.FetchMaxBytes <= 0 {
		cfg.FetchMaxBytes = 55 << 20
	}
	if cfg.MaxIncrementalFetchSessions <= 0 {
		cfg.MaxIncrementalFetchSessions = 1000
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 30 * time.Second
	}
	s := &Server{cfg: cfg, deps: deps, log: cfg.Logger}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.conns = map[*conn]struct{}{}
	s.sessions = newFetchSessions(cfg.MaxIncrementalFetchSessions, cfg.Now)
	s.quotas = newServerQuotas(s)
	return s
}

// Start binds every listener and starts accepting. On error nothing is
// left listening.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.cfg.Listeners {
		ln, err := s.cfg.Listen("tcp", l.Address)
		if err != nil {
			for _, o := range s.mu.listeners {
				o.Close()
			}
			s.mu.listeners = nil
			return fmt.Errorf("server: listen on %s (%s): %w", l.Address, l.Name, err)
		}
		port := int32(ln.Addr().(*net.TCPAddr).Port)
		b := boundListener{Listener: l, port: port}
		s.mu.listeners = append(s.mu.listeners, ln)
		s.mu.bound = append(s.mu.bound, b)
		s.log.Info("listening", "listener", l.Name, "address", ln.Addr().String())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.accept(ln, b)
		}()
	}
	return nil
}

// Addrs returns the bound address of each listener, in config order.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.mu.listeners))
	for i, l := range s.mu.listeners {
		out[i] = l.Addr()
	}
	return out
}

func (s *Server) accept(ln net.Listener, l boundListener) {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failure (too many open files…): back off.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			s.log.Warn("accept failed", "listener", l.Name, "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		if !s.acquireConnection(nc, l) { // connection limits (quotas.go)
			continue
		}
		c := newConn(s, nc, l)
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			nc.Close()
			s.releaseConnection(nc, l)
			return
		}
		s.mu.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.releaseConnection(nc, l)
			c.serve()
			s.mu.Lock()
			delete(s.mu.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops listening, closes every connection (ending long polls) and
// waits for their goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.mu.closed = true
	s.cancel()
	for _, l := range s.mu.listeners {
		l.Close()
	}
	for c := range s.mu.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// image returns the latest metadata image.
func (s *Server) image() *metadata.Image { return s.deps.Controller.Image() }

// advertised returns the endpoint of this node on the named listener.
func (s *Server) advertised(listener string) (host string, port int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.mu.bound {
		if b.Name != listener {
			continue
		}
		host, port = b.AdvertisedHost, b.AdvertisedPort
		if port == 0 {
			port = b.port
		}
		if host == "" {
			host = "localhost"
		}
		return host, port
	}
	return "localhost", 0
}
