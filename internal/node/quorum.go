package node

// A node in a cluster with a controller quorum (controller.quorum.voters,
// or controller.quorum.bootstrap.servers for a dynamic quorum, KIP-853),
// in one of three roles (process.roles):
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
//	          (raft WAL replayed into the image; a dynamic quorum's voter
//	          set and endpoints come from that log)
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
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	// voters are the controller endpoints by node id: a static quorum's,
	// or a dynamic quorum's bootstrap servers under pseudo ids.
	voters map[int32]string
	// forwarder carries admin requests from broker listeners;
	// heartbeats and alterPartition are the lifecycle's and the
	// replica manager's channels (separate connections, so a slow
	// CreateTopics never delays a heartbeat).
	forwarder      *controllerChannel
	heartbeats     *controllerChannel
	alterPartition *controllerChannel
	lifecycle      *brokerLifecycle

	// stopc and wg own the goroutine that follows a dynamic quorum's
	// controllers for the channels (watchMembers, or the observer's).
	stopc chan struct{}
	wg    sync.WaitGroup
}

// Errors of a quorum node's configuration.
var (
	errNoQuorum = errors.New("node: neither controller.quorum.voters nor controller.quorum.bootstrap.servers is set")
)

// A quorum is static (controller.quorum.voters: the voters are the
// config's, written into the Raft log at first start) or dynamic
// (controller.quorum.bootstrap.servers only, KIP-853: the voters are in
// the log, which kafka-storage format started with --standalone or
// --initial-controllers; a controller formatted --no-initial-controllers
// starts with an empty log and is added by AddRaftVoter). A dynamic
// voter's Raft address is its advertised controller endpoint, which is
// what the voter set records for it.

// openQuorum opens the controller side of a voter (combined or
// controller-only): the controller listener and the Raft log, replayed
// into the controller's image.
func (n *Node) openQuorum(ccfg controller.Config, metaDir string, opts Options) (*controller.Controller, error) {
	cfg := n.cfg
	dynamic := len(cfg.ControllerQuorumVoters) == 0
	if dynamic && len(cfg.ControllerQuorumBootstrapServers) == 0 {
		return nil, errNoQuorum
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
	if !dynamic && !ok {
		return nil, fmt.Errorf("node: node.id %d is not in controller.quorum.voters", cfg.NodeID)
	}
	if _, port, _ := net.SplitHostPort(self); !dynamic && port != strconv.Itoa(cl.Port) {
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
	ctlCell := &controllerCell{} // TLS and SASL of the listener (security.go)
	ln, ctlSec, err := n.secureControllerListener(ln, cl.Name, ctlCell)
	if err != nil {
		ln.Close()
		return nil, err
	}
	q := &quorumNode{mux: newListenerMux(ln, n.log.With("component", "controller-listener")), voters: voters, stopc: make(chan struct{})}
	n.quorum = q
	if dynamic {
		self = advertisedControllerAddr(cfg, cl, ln.Addr())
	}

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
	rc := raft.Config{
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
		Dial: n.raftDial(opts.Dial), // security.go
	}
	if dynamic {
		rc.Voters, rc.Dynamic, rc.AdvertisedAddr = nil, true, self
	}
	c, err := controller.OpenQuorum(ccfg, controller.QuorumConfig{
		Raft:          rc,
		SnapshotBytes: cfg.MetadataLogMaxRecordBytesBetweenSnapshots,
		AppendTimeout: time.Duration(cfg.RequestTimeoutMs) * time.Millisecond,
	}, n.publish)
	if err != nil {
		return nil, err
	}
	ctlCell.p.Store(c)
	if dynamic {
		n.checkDynamicMembership(c, self)
	}
	if cfg.HasRole("broker") {
		active := func() int32 { id, _ := c.ActiveController(); return id }
		if !dynamic {
			n.openControllerChannels(voters, active, nil, opts)
		} else {
			dir := newControllerDirectory(cfg.ControllerQuorumBootstrapServers)
			n.openControllerChannels(dir.voters(), func() int32 { return dir.slot(active()) }, dir, opts)
			q.wg.Add(1)
			go func() { defer q.wg.Done(); n.watchMembers(c, dir) }()
		}
	}

	q.ctlServer = server.New(server.Config{
		NodeID:             cfg.NodeID,
		ClusterID:          n.clusterID,
		Listeners:          []server.Listener{{Name: cl.Name, Address: cl.Addr(), Security: ctlSec}},
		MaxRequestBytes:    cfg.SocketRequestMaxBytes,
		DeleteTopicEnable:  cfg.DeleteTopicEnable,
		ControllerEndpoint: true,
		Listen: func(string, string) (net.Listener, error) {
			return q.mux.kafka, nil
		},
		Logger: n.log.With("component", "controller-server"),
		Now:    opts.Now,
	}, server.Deps{Controller: c, Configs: n.adapter, Authorizer: n.authorizer})
	return c, nil
}

// advertisedControllerAddr is the endpoint a dynamic voter is known by:
// its controller listener as advertised (advertised.listeners, else
// listeners), "localhost" for an empty host as kafka-storage format
// --standalone writes it, and the bound port for port 0.
func advertisedControllerAddr(cfg *config.Broker, cl config.Listener, bound net.Addr) string {
	host, port := cl.Host, cl.Port
	for _, a := range cfg.AdvertisedControllerListeners {
		if a.Name == cl.Name {
			host, port = a.Host, a.Port
		}
	}
	if host == "" {
		host = "localhost"
	}
	if port == 0 {
		if ta, ok := bound.(*net.TCPAddr); ok {
			port = ta.Port
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// checkDynamicMembership logs where this controller stands in a dynamic
// quorum's voter set.
func (n *Node) checkDynamicMembership(c *controller.Controller, self string) {
	members, _ := c.QuorumMembers()
	for _, m := range members {
		if m.ID != n.cfg.NodeID {
			continue
		}
		if m.Addr != self {
			n.log.Warn("the metadata quorum knows this controller at another endpoint; update it (UpdateRaftVoter) or fix advertised.listeners",
				"known", m.Addr, "advertised", self)
		}
		return
	}
	n.log.Info("this controller is not a member of the metadata quorum yet; add it with kafka-metadata-quorum add-controller",
		"voters", len(members))
}

// bootstrapPseudoID is the id the metadata fetcher gives
// controller.quorum.bootstrap.servers entry i while the controllers' ids
// are unknown: below -1, which means "none".
func bootstrapPseudoID(i int) int32 { return int32(-2 - i) }

// bootstrapEndpoints maps controller.quorum.bootstrap.servers to pseudo
// ids.
func bootstrapEndpoints(cfg *config.Broker) map[int32]string {
	out := map[int32]string{}
	for i, a := range cfg.ControllerQuorumBootstrapServers {
		out[bootstrapPseudoID(i)] = a
	}
	return out
}

// controllerSlots bounds the controllers a dynamic quorum's channels
// tell apart (raft.MaxBootstrapVoters is the same order).
const controllerSlots = 64

// controllerDirectory aims the controller channels of a node in a
// dynamic quorum, whose controllers' ids and endpoints are learned while
// it runs (from the Raft log on a voter, from Fetch answers on a
// broker). A channel's voter map never changes, and other channels copy
// it (producer ids), so the channels get a fixed map of slots instead,
// -2 down to -(controllerSlots+1), whose values are placeholders; the
// directory's active function names the slot of the active controller
// (assigned on first sight) and its dial function turns a slot into that
// controller's current endpoint, or a bootstrap server for a slot not
// assigned yet (so walking the slots while no leader is known walks the
// bootstrap servers). Safe for concurrent use.
type controllerDirectory struct {
	bootstrap []string

	mu struct {
		sync.Mutex
		addrs  map[int32]string // controller id → endpoint
		slotOf map[int32]int32  // controller id → slot
		idOf   map[int32]int32  // slot → controller id
	}
}

func newControllerDirectory(bootstrap []string) *controllerDirectory {
	d := &controllerDirectory{bootstrap: bootstrap}
	d.mu.addrs, d.mu.slotOf, d.mu.idOf = map[int32]string{}, map[int32]int32{}, map[int32]int32{}
	return d
}

const slotPrefix = "controller-slot:"

// voters is the fixed slot map the channels are given.
func (d *controllerDirectory) voters() map[int32]string {
	out := map[int32]string{}
	for i := range controllerSlots {
		out[int32(-2-i)] = slotPrefix + strconv.Itoa(-2-i)
	}
	return out
}

// setAddrs records the controllers' endpoints (ids >= 0).
func (d *controllerDirectory) setAddrs(addrs map[int32]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, a := range addrs {
		if id >= 0 && a != "" {
			d.mu.addrs[id] = a
		}
	}
}

// slot returns the slot of controller id, -1 when id is -1 or its
// endpoint is unknown (the channel then walks the slots).
func (d *controllerDirectory) slot(id int32) int32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id < 0 || d.mu.addrs[id] == "" {
		return -1
	}
	if s, ok := d.mu.slotOf[id]; ok {
		return s
	}
	for i := range controllerSlots {
		s := int32(-2 - i)
		if _, taken := d.mu.idOf[s]; !taken {
			d.mu.slotOf[id], d.mu.idOf[s] = s, id
			return s
		}
	}
	return -1 // more controllers than slots: walk
}

// resolve turns a slot placeholder into an endpoint.
func (d *controllerDirectory) resolve(addr string) string {
	n, err := strconv.Atoi(strings.TrimPrefix(addr, slotPrefix))
	if !strings.HasPrefix(addr, slotPrefix) || err != nil {
		return addr
	}
	s := int32(n)
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.mu.idOf[s]; ok {
		return d.mu.addrs[id]
	}
	if len(d.bootstrap) == 0 {
		return ""
	}
	return d.bootstrap[int(-2-s)%len(d.bootstrap)]
}

// dialer wraps dial to resolve slots.
func (d *controllerDirectory) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dial(ctx, network, d.resolve(addr))
	}
}

// watchMembers keeps dir current with a dynamic voter's membership.
func (n *Node) watchMembers(c *controller.Controller, dir *controllerDirectory) {
	q := n.quorum
	for {
		members, changed := c.QuorumMembers()
		addrs := map[int32]string{}
		for _, m := range members {
			addrs[m.ID] = m.Addr
		}
		dir.setAddrs(addrs)
		select {
		case <-changed:
		case <-q.stopc:
			return
		}
	}
}

// openControllerChannels opens a broker's channels to the active
// controller, which active names; dir, in a dynamic quorum, resolves the
// slots that voters and active name.
func (n *Node) openControllerChannels(voters map[int32]string, active func() int32, dir *controllerDirectory, opts Options) {
	q, cfg := n.quorum, n.cfg
	dial := (&net.Dialer{Timeout: time.Duration(cfg.ControllerQuorumRequestTimeoutMs) * time.Millisecond}).DialContext
	if opts.Dial != nil {
		dial = opts.Dial
	}
	dial = n.controllerDial(dial) // TLS, SASL (security.go)
	if dir != nil {
		dial = dir.dialer(dial)
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
	if q.stopc != nil {
		close(q.stopc)
		q.wg.Wait()
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
