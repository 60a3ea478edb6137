package node

// A node in a cluster with a controller quorum (controller.quorum.voters
// set), in one of three roles (process.roles):
//
//	broker,controller  a Raft voter and a broker (combined)
//	controller         a Raft voter only: controller listener, metadata
//	                   log, no broker listeners, partitions or groups
//	broker             an observer (observer.go): it fetches the metadata
//	                   log from the voters' leader instead of voting
//
// A voter binds its controller listener, shares that port between the
// Raft transport and the controller APIs (mux.go), follows the metadata
// log into its image, and, while it is the Raft leader, is the active
// controller. A broker registers with the active controller and
// heartbeats (lifecycle.go); its broker listeners forward admin requests
// there.
//
// Startup (New, then Start):
//
//	voter:    bind controller listener ─▶ listenerMux ─▶ controller.OpenQuorum
//	          (raft WAL replayed into the image)
//	observer: metadata fetcher caught up with the leader (observer.go)
//	broker:   ─▶ storage, replicas, groups ─▶ broker server (with a
//	          Forwarder)
//	Start:    controller server (voters) ─▶ broker listeners ─▶ broker
//	          lifecycle: register, heartbeat, unfence
//
// Shutdown reverses it: controlled shutdown (the lifecycle asks to shut
// down and waits for the controller's go-ahead), broker listeners,
// controller server or metadata fetcher, Raft, storage.

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/raft"
	"github.com/gregor-streaming/gregor/internal/server"
)

// quorumNode is what a node adds in a cluster with a controller quorum.
// A voter has mux and ctlServer, an observer has observer; a broker has
// the controller channels and the lifecycle.
type quorumNode struct {
	mux *listenerMux
	// ctlServer serves the controller listener's Kafka side.
	ctlServer *server.Server
	// observer fetches the metadata log on a broker-only node.
	observer *metadataObserver
	// voters are the controller endpoints by node id.
	voters map[int32]string
	// forwarder carries admin requests from broker listeners;
	// heartbeats and alterPartition are the lifecycle's and the
	// replica manager's channels (separate connections, so a slow
	// CreateTopics never delays a heartbeat).
	forwarder      *controllerChannel
	heartbeats     *controllerChannel
	alterPartition *controllerChannel
	lifecycle      *brokerLifecycle
}

// Errors of a quorum node's configuration.
var (
	errBootstrapServers = errors.New("node: controller.quorum.bootstrap.servers (dynamic quorum, KIP-853) is not supported yet; use controller.quorum.voters")
)

// openQuorum opens the controller side of a voter (combined or
// controller-only): the controller listener and the Raft log, replayed
// into the controller's image.
func (n *Node) openQuorum(ccfg controller.Config, metaDir string, opts Options) (*controller.Controller, error) {
	cfg := n.cfg
	if len(cfg.ControllerQuorumVoters) == 0 {
		return nil, errBootstrapServers
	}
	cls := cfg.ControllerListeners()
	if len(cls) == 0 {
		return nil, errors.New("node: no controller listener: add one named in controller.listener.names to listeners")
	}
	cl := cls[0]
	voters := map[int32]string{}
	for _, v := range cfg.ControllerQuorumVoters {
		voters[v.ID] = v.Addr()
	}
	self, ok := voters[cfg.NodeID]
	if !ok {
		return nil, fmt.Errorf("node: node.id %d is not in controller.quorum.voters", cfg.NodeID)
	}
	if _, port, _ := net.SplitHostPort(self); port != strconv.Itoa(cl.Port) {
		return nil, fmt.Errorf("node: controller.quorum.voters lists %s for node %d, but its controller listener %s binds port %d; they must be the same endpoint", self, cfg.NodeID, cl.Name, cl.Port)
	}
	listen := opts.Listen
	if listen == nil {
		listen = net.Listen
	}
	ln, err := listen("tcp", cl.Addr())
	if err != nil {
		return nil, fmt.Errorf("node: listen on controller listener %s (%s): %w", cl.Name, cl.Addr(), err)
	}
	q := &quorumNode{mux: newListenerMux(ln, n.log.With("component", "controller-listener")), voters: voters}
	n.quorum = q

	ccfg.Cluster = controller.ClusterConfig{
		ClusterID:                          n.clusterID,
		SessionTimeout:                     time.Duration(cfg.BrokerSessionTimeoutMs) * time.Millisecond,
		UncleanLeaderElection:              cfg.UncleanLeaderElectionEnable,
		AutoLeaderRebalance:                cfg.AutoLeaderRebalanceEnable,
		LeaderImbalancePerBrokerPercentage: int(cfg.LeaderImbalancePerBrokerPercentage),
		LeaderImbalanceCheckInterval:       time.Duration(cfg.LeaderImbalanceCheckIntervalSeconds) * time.Second,
		Logger:                             n.log.With("component", "controller"),
	}
	ccfg.Now = opts.Now
	c, err := controller.OpenQuorum(ccfg, controller.QuorumConfig{
		Raft: raft.Config{
			NodeID:          cfg.NodeID,
			Voters:          voters,
			ClusterID:       n.clusterID,
			Dir:             filepath.Join(metaDir, metadataDirName),
			ListenAddr:      self,
			ElectionTimeout: time.Duration(cfg.ControllerQuorumElectionTimeoutMs) * time.Millisecond,
			Logger:          n.log.With("component", "raft"),
			Listen: func(string, string) (net.Listener, error) {
				return q.mux.raft, nil
			},
			Dial: opts.Dial,
		},
		SnapshotBytes: cfg.MetadataLogMaxRecordBytesBetweenSnapshots,
		AppendTimeout: time.Duration(cfg.RequestTimeoutMs) * time.Millisecond,
	}, n.publish)
	if err != nil {
		return nil, err
	}
	if cfg.HasRole("broker") {
		active := func() int32 { id, _ := c.ActiveController(); return id }
		n.openControllerChannels(voters, active, opts)
	}

	q.ctlServer = server.New(server.Config{
		NodeID:             cfg.NodeID,
		ClusterID:          n.clusterID,
		Listeners:          []server.Listener{{Name: cl.Name, Address: cl.Addr()}},
		MaxRequestBytes:    cfg.SocketRequestMaxBytes,
		DeleteTopicEnable:  cfg.DeleteTopicEnable,
		ControllerEndpoint: true,
		Listen: func(string, string) (net.Listener, error) {
			return q.mux.kafka, nil
		},
		Logger: n.log.With("component", "controller-server"),
		Now:    opts.Now,
	}, server.Deps{Controller: c, Configs: n.adapter})
	return c, nil
}

// openControllerChannels opens a broker's channels to the active
// controller, which active names.
func (n *Node) openControllerChannels(voters map[int32]string, active func() int32, opts Options) {
	q, cfg := n.quorum, n.cfg
	dial := (&net.Dialer{Timeout: time.Duration(cfg.ControllerQuorumRequestTimeoutMs) * time.Millisecond}).DialContext
	if opts.Dial != nil {
		dial = opts.Dial
	}
	clientID := func(purpose string) string { return fmt.Sprintf("gregor-%d-%s", cfg.NodeID, purpose) }
	q.forwarder = newControllerChannel(clientID("forwarding"), voters, active, dial)
	q.heartbeats = newControllerChannel(clientID("heartbeat"), voters, active, dial)
	q.alterPartition = newControllerChannel(clientID("alter-partition"), voters, active, dial)
}

// forwarder returns the Forwarder for the broker server: nil (an untyped
// nil interface) on a single node.
func (n *Node) forwarder() server.Forwarder {
	if n.quorum == nil {
		return nil
	}
	return n.quorum.forwarder
}

// startQuorum starts serving the controller APIs and the broker's
// lifecycle; the broker listeners are bound already (their ports go into
// the registration).
func (n *Node) startQuorum() error {
	q := n.quorum
	if q.ctlServer != nil {
		if err := q.ctlServer.Start(); err != nil {
			return err
		}
	}
	if !n.cfg.HasRole("broker") {
		return nil
	}
	if n.repl != nil {
		n.SetAlterPartitionSender(alterPartitionSender{q.alterPartition})
	}
	q.lifecycle = newBrokerLifecycle(n, q.heartbeats)
	q.lifecycle.start()
	return nil
}

// controllerLocator tells the broker server which node is the active
// controller (Metadata, DescribeCluster): nil (an untyped nil interface)
// on a single node, which names itself.
func (n *Node) controllerLocator() server.ControllerLocator {
	if n.quorum == nil {
		return nil
	}
	return n
}

// closeQuorum shuts the controller side down: the controller APIs, the
// Raft node or the metadata fetcher, the shared listener. The broker
// lifecycle has stopped already (Close).
func (n *Node) closeQuorum() error {
	q := n.quorum
	if q == nil {
		return nil
	}
	var errs []error
	if q.ctlServer != nil {
		errs = append(errs, q.ctlServer.Close())
	}
	if q.observer != nil {
		q.observer.close()
	}
	if n.controller != nil {
		errs = append(errs, n.controller.Close())
	}
	for _, ch := range []*controllerChannel{q.forwarder, q.heartbeats, q.alterPartition} {
		if ch != nil {
			ch.Close()
		}
	}
	if q.mux != nil {
		errs = append(errs, q.mux.Close())
	}
	n.quorum = nil
	return errors.Join(errs...)
}

// brokerEndpoints are this broker's listeners as its registration
// announces them: advertised.listeners (else listeners), with the bound
// port where the configured one is 0.
func (n *Node) brokerEndpoints() []metadata.Endpoint {
	bound := map[string]int32{}
	addrs := n.server.Addrs()
	for i, l := range n.cfg.BrokerListeners() {
		if i < len(addrs) {
			if ta, ok := addrs[i].(*net.TCPAddr); ok {
				bound[l.Name] = int32(ta.Port)
			}
		}
	}
	var out []metadata.Endpoint
	for _, a := range n.cfg.AdvertisedListeners {
		port := int32(a.Port)
		if port == 0 {
			port = bound[a.Name]
		}
		host := a.Host
		if host == "" {
			host = "localhost"
		}
		out = append(out, metadata.Endpoint{Listener: a.Name, Host: host, Port: port, SecurityProtocol: securityProtocolID(a.SecurityProtocol)})
	}
	return out
}

// securityProtocolID is Kafka's SecurityProtocol id of a protocol name.
func securityProtocolID(name string) int16 {
	switch name {
	case "SSL":
		return metadata.ProtocolSSL
	case "SASL_PLAINTEXT":
		return metadata.ProtocolSASLPlaintext
	case "SASL_SSL":
		return metadata.ProtocolSASLSSL
	}
	return metadata.ProtocolPlaintext
}

// The rest is this node's view of the cluster, for tests and tools.

// Image returns the node's latest metadata image.
func (n *Node) Image() *metadata.Image { return n.controller.Image() }

// ControllerAddr returns the bound controller listener address, nil on a
// single node and a broker-only node.
func (n *Node) ControllerAddr() net.Addr {
	if n.quorum == nil || n.quorum.mux == nil {
		return nil
	}
	return n.quorum.mux.ln.Addr()
}

// QuorumStatus returns the metadata quorum as this node sees it; false on
// a single node and a broker-only node (see ObserverStatus).
func (n *Node) QuorumStatus() (controller.QuorumStatus, bool) {
	return n.controller.QuorumStatus()
}

// ActiveController returns the active controller this node knows of (-1:
// none; always -1 on a single node). A broker-only node knows it as the
// metadata log's leader it fetches from.
func (n *Node) ActiveController() int32 {
	if q := n.quorum; q != nil && q.observer != nil {
		return q.observer.activeController()
	}
	id, _ := n.controller.ActiveController()
	return id
}

// Config returns the node's configuration.
func (n *Node) Config() *config.Broker { return n.cfg }
