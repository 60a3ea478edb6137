package node

// A broker-only node (process.roles=broker with controller.quorum.voters
// or controller.quorum.bootstrap.servers) is a KRaft observer: it does not vote, and learns the metadata log by
// fetching it from the quorum's leader over the controller listener, as
// Kafka's brokers do (KIP-595):
//
//	metadataObserver.run ──Fetch __cluster_metadata-0 from next──▶ leader's
//	      ▲  (long poll, 500 ms)                                  controller listener
//	      │                                                            │
//	      │◀── NOT_LEADER_OR_FOLLOWER + current leader: ask it ────────┤
//	      │◀── snapshot id: FetchSnapshot in chunks, image := snapshot ┤
//	      │◀── record batches: image := image.Apply(batch) ...  ───────┘
//	      │
//	      └──▶ controller.Observe(image) ──publish──▶ replicas, groups,
//	                                                 broker server
//
// The image lives in memory only: a restarted broker fetches the log
// again, from offset 0, or the leader's snapshot when the log has been
// compacted. New waits until the observer has caught up with the leader's
// high watermark (bounded by initial.broker.registration.timeout.ms)
// before partitions are opened, because applying an image that lacks the
// broker's topics would delete their logs. Batches apply in log order,
// and a batch that does not apply is skipped, as on every quorum member
// (controller.quorum.HandleCommit), so the observer's image and its
// Offset (the broker's metadata offset in heartbeats) equal the
// controllers'.
//
// The leader is whichever voter answers the fetch; with none known the
// observer walks the voters in id order, and a voter that does not lead
// names the leader it knows in current_leader. In a dynamic quorum
// (controller.quorum.bootstrap.servers, KIP-853) the controllers' ids are
// not configured: the observer walks the bootstrap servers (under pseudo
// ids below -1) and learns the leader's id from current_leader and
// other controllers' endpoints from node_endpoints (Fetch v16+), as
// Kafka's brokers do. Registrations, heartbeats,
// AlterPartition and forwarded admin requests go to that leader
// (controllerChannel), since the leader of the metadata log is the active
// controller.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
)

// Metadata fetch settings (Kafka's KafkaRaftClient constants).
const (
	// observerFetchVersion is the Fetch version sent: replica_state and
	// node endpoints (v17, Kafka 4's).
	observerFetchVersion         = 17
	observerFetchSnapshotVersion = 1
	// observerMaxWait is a fetch's long poll (FETCH_MAX_WAIT_MS).
	observerMaxWait = 500 * time.Millisecond
	// observerMaxBytes bounds a fetch's and a snapshot chunk's bytes
	// (MAX_FETCH_SIZE_BYTES).
	observerMaxBytes = 8 << 20
	// observerBackoff and observerBackoffMax bound the wait after a
	// failed fetch (retry.backoff.ms, doubling to
	// controller.quorum.retry.backoff.ms' order of a second).
	observerBackoff    = 50 * time.Millisecond
	observerBackoffMax = time.Second
)

// errObserverStopped is returned by waitCaughtUp once the observer stops.
var errObserverStopped = errors.New("node: metadata fetcher stopped")

// observerConfig configures a metadataObserver.
type observerConfig struct {
	NodeID    int32
	ClusterID string
	// Voters are controller.quorum.voters: id to host:port; in a dynamic
	// quorum, the bootstrap servers under pseudo ids (bootstrapPseudoID).
	Voters map[int32]string
	// Dynamic makes the observer learn controller endpoints from the
	// answers (a static quorum's addresses are the configured ones, which
	// may be proxies).
	Dynamic bool
	// Dial connects to voter id's controller endpoint.
	Dial func(ctx context.Context, id int32) (replica.Conn, error)
	// Install receives every new image, in log order (controller.Observe).
	Install func(*metadata.Image)
	// RequestTimeout bounds a request beyond its long poll
	// (controller.quorum.request.timeout.ms).
	RequestTimeout time.Duration
	Logger         *slog.Logger
}

// metadataObserver fetches the metadata log into an image. One goroutine
// (run) owns the fetch state; the mutex guards what others read.
type metadataObserver struct {
	cfg observerConfig
	ids []int32 // the controllers to walk, sorted: keys of mu.addrs (under mu)

	// Owned by the run goroutine (or a test driving fetchOnce).
	image     *metadata.Image
	next      int64 // the next offset to fetch
	lastEpoch int32 // the epoch of the entry before next, -1 if none
	conn      replica.Conn
	connTo    int32
	nextVoter int
	backoff   time.Duration

	ctx      context.Context
	cancel   context.CancelFunc
	donec    chan struct{}
	caughtUp chan struct{} // closed once next reached a high watermark
	once     sync.Once

	mu struct {
		sync.Mutex
		leader    int32 // -1: none known
		epoch     int32
		hw        int64
		next      int64 // a copy of next, for status
		snapshots int   // snapshots loaded
		started   bool
		// addrs are the controllers' endpoints: Voters, and in a dynamic
		// quorum those learned since; addrsChanged is closed and
		// replaced when one is learned.
		addrs        map[int32]string
		addrsChanged chan struct{}
	}
}

func newMetadataObserver(cfg observerConfig) *metadataObserver {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 2 * time.Second
	}
	o := &metadataObserver{
		cfg:       cfg,
		ids:       slices.Sorted(maps.Keys(cfg.Voters)),
		image:     metadata.Empty,
		lastEpoch: -1,
		connTo:    -1,
		donec:     make(chan struct{}),
		caughtUp:  make(chan struct{}),
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	o.mu.leader, o.mu.epoch, o.mu.hw = -1, -1, -1
	o.mu.addrs = maps.Clone(cfg.Voters)
	o.mu.addrsChanged = make(chan struct{})
	return o
}

// addr returns controller id's endpoint ("" if unknown). Safe for
// concurrent use.
func (o *metadataObserver) addr(id int32) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mu.addrs[id]
}

// endpoints returns the known controller endpoints and a channel closed
// when one is learned. The caller owns the map.
func (o *metadataObserver) endpoints() (map[int32]string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.mu.addrs), o.mu.addrsChanged
}

// learn records controller id's endpoint (dynamic quorums only).
func (o *metadataObserver) learn(id int32, addr string) {
	if !o.cfg.Dynamic || id < 0 || addr == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mu.addrs[id] == addr {
		return
	}
	o.mu.addrs[id] = addr
	o.ids = slices.Sorted(maps.Keys(o.mu.addrs))
	close(o.mu.addrsChanged)
	o.mu.addrsChanged = make(chan struct{})
	o.cfg.Logger.Info("learned a controller endpoint", "controller", id, "endpoint", addr)
}

// start starts the fetching goroutine; close stops it.
func (o *metadataObserver) start() {
	o.mu.Lock()
	o.mu.started = true
	o.mu.Unlock()
	go o.run()
}

// close stops fetching and waits for the goroutine. Safe to call more
// than once, and without start.
func (o *metadataObserver) close() {
	o.cancel()
	o.mu.Lock()
	started := o.mu.started
	o.mu.Unlock()
	if started {
		<-o.donec
	}
}

func (o *metadataObserver) run() {
	defer close(o.donec)
	defer func() {
		if o.conn != nil {
			o.conn.Close()
		}
	}()
	for o.ctx.Err() == nil {
		wait := o.fetchOnce(o.ctx)
		if wait <= 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-o.ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// waitCaughtUp waits until the image has reached the leader's high
// watermark once, the observer stops, or timeout passes.
func (o *metadataObserver) waitCaughtUp(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-o.caughtUp:
		return nil
	case <-o.ctx.Done():
		return errObserverStopped
	case <-t.C:
		leader, _ := o.leader()
		return fmt.Errorf("node: the metadata log was not caught up after %v (leader %d): is a majority of controller.quorum.voters running?", timeout, leader)
	}
}

// leader returns the metadata log's leader as last heard (-1: none) and
// its epoch. Safe for concurrent use.
func (o *metadataObserver) leader() (int32, int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mu.leader, o.mu.epoch
}

// activeController is leader's id alone (controllerChannel's target).
func (o *metadataObserver) activeController() int32 {
	id, _ := o.leader()
	return id
}

// ObserverStatus is a broker-only node's view of the metadata log.
type ObserverStatus struct {
	// Leader is the metadata log's leader (the active controller) last
	// heard from, -1 if none; Epoch its leader epoch.
	Leader int32
	Epoch  int32
	// FetchOffset is the offset of the next entry to fetch: every entry
	// before it is in the image.
	FetchOffset int64
	// HighWatermark is the leader's, as of the last fetch (-1: none yet).
	HighWatermark int64
	// SnapshotsLoaded counts the snapshots loaded with FetchSnapshot.
	SnapshotsLoaded int
}

func (o *metadataObserver) status() ObserverStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	return ObserverStatus{Leader: o.mu.leader, Epoch: o.mu.epoch, FetchOffset: o.mu.next, HighWatermark: o.mu.hw, SnapshotsLoaded: o.mu.snapshots}
}

// advance makes im, with everything before next, the image, and installs
// it.
func (o *metadataObserver) advance(im *metadata.Image, next int64, epoch int32) {
	o.image, o.next, o.lastEpoch = im, next, epoch
	o.mu.Lock()
	o.mu.next = next
	o.mu.Unlock()
	o.cfg.Install(im)
}

// setLeader records who leads (-1: unknown) and forgets a connection to
// anyone else.
func (o *metadataObserver) setLeader(id, epoch int32) {
	o.mu.Lock()
	was := o.mu.leader
	o.mu.leader = id
	if epoch >= 0 {
		o.mu.epoch = epoch
	}
	o.mu.Unlock()
	if id != was && id >= 0 {
		o.cfg.Logger.Info("metadata log leader", "leader", id, "epoch", epoch)
	}
}

// target returns the voter to fetch from: the leader, or the next voter
// in turn while none is known.
func (o *metadataObserver) target() int32 {
	if id, _ := o.leader(); id >= 0 {
		if o.addr(id) != "" {
			return id
		}
	}
	o.mu.Lock()
	ids := o.ids
	o.mu.Unlock()
	id := ids[o.nextVoter%len(ids)]
	o.nextVoter++
	return id
}

// fail forgets the connection and the leader and returns the backoff
// before the next attempt.
func (o *metadataObserver) fail(what string, err error) time.Duration {
	o.dropConn()
	o.setLeader(-1, -1)
	o.backoff = min(max(2*o.backoff, observerBackoff), observerBackoffMax)
	o.cfg.Logger.Debug("metadata fetch failed; retrying", "what", what, "err", err, "retry_in", o.backoff)
	return o.backoff
}

func (o *metadataObserver) dropConn() {
	if o.conn != nil {
		o.conn.Close()
		o.conn, o.connTo = nil, -1
	}
}

// request sends req to voter id, connecting first if needed.
func (o *metadataObserver) request(ctx context.Context, id int32, req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	if o.conn != nil && o.connTo != id {
		o.dropConn()
	}
	if o.conn == nil {
		dctx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
		c, err := o.cfg.Dial(dctx, id)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("dial controller %d: %w", id, err)
		}
		o.conn, o.connTo = c, id
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := o.conn.Request(rctx, req)
	if err != nil {
		o.dropConn()
		return nil, err
	}
	return resp, nil
}

// fetchOnce sends one Fetch and applies its answer; it returns how long
// to wait before the next (0: at once).
func (o *metadataObserver) fetchOnce(ctx context.Context) time.Duration {
	target := o.target()
	req := kmsg.NewPtrFetchRequest()
	req.Version = observerFetchVersion
	req.ClusterID = &o.cfg.ClusterID
	req.ReplicaID = -1
	req.ReplicaState.ID, req.ReplicaState.Epoch = o.cfg.NodeID, -1
	req.MaxWaitMillis = int32(observerMaxWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = observerMaxBytes
	req.SessionEpoch = -1 // no fetch session
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = metadata.LogTopic, metadata.LogTopicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.LastFetchedEpoch = 0, o.next, o.lastEpoch
	_, rp.CurrentLeaderEpoch = o.leader()
	rp.LogStartOffset, rp.PartitionMaxBytes = -1, observerMaxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	r, err := o.request(ctx, target, req, observerMaxWait+o.cfg.RequestTimeout)
	if err != nil {
		return o.fail("fetch", err)
	}
	resp := r.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		err := kerr.ErrorForCode(resp.ErrorCode)
		if resp.ErrorCode == kerr.InconsistentClusterID.Code {
			o.cfg.Logger.Warn("a controller in controller.quorum.voters belongs to another cluster", "controller", target, "err", err)
		}
		return o.fail("fetch", err)
	}
	sp, ok := metadataPartition(resp)
	if !ok {
		return o.fail("fetch", errors.New("the response lacks __cluster_metadata-0"))
	}
	for _, b := range resp.Brokers {
		o.learn(b.NodeID, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
	}
	if sp.ErrorCode != 0 {
		err := kerr.ErrorForCode(sp.ErrorCode)
		if sp.ErrorCode == kerr.NotLeaderForPartition.Code {
			if l := sp.CurrentLeader.LeaderID; l >= 0 && l != target {
				if o.addr(l) != "" {
					o.setLeader(l, sp.CurrentLeader.LeaderEpoch)
					return 0 // ask the leader at once
				}
			}
		}
		return o.fail("fetch", err)
	}
	o.backoff = 0
	leader := target
	if l := sp.CurrentLeader.LeaderID; target < -1 && l >= 0 {
		// A bootstrap server answered as the leader: now its id is known.
		o.learn(l, o.addr(target))
		leader = l
	}
	o.setLeader(leader, sp.CurrentLeader.LeaderEpoch)

	if sp.SnapshotID.EndOffset >= 0 {
		if err := o.loadSnapshot(ctx, target, sp.SnapshotID.EndOffset, sp.SnapshotID.Epoch); err != nil {
			return o.fail("fetch snapshot", err)
		}
		return 0
	}
	im, next, epoch, err := applyLogBatches(o.image, o.next, sp.RecordBatches, o.cfg.Logger)
	if err != nil {
		return o.fail("apply", err)
	}
	if next != o.next {
		o.advance(im, next, epoch)
	}
	o.noteHighWatermark(sp.HighWatermark)
	return 0
}

// noteHighWatermark records the leader's high watermark and marks the
// observer caught up once it has everything below it.
func (o *metadataObserver) noteHighWatermark(hw int64) {
	o.mu.Lock()
	o.mu.hw = hw
	o.mu.Unlock()
	if o.next >= hw {
		o.once.Do(func() {
			o.cfg.Logger.Info("metadata log caught up", "offset", o.next, "batches", o.image.Offset, "topics", o.image.NumTopics(), "brokers", o.image.NumBrokers())
			close(o.caughtUp)
		})
	}
}

// metadataPartition finds __cluster_metadata-0 in resp.
func metadataPartition(resp *kmsg.FetchResponse) (*kmsg.FetchResponseTopicPartition, bool) {
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if metadata.TopicID(t.TopicID) != metadata.LogTopicID && t.Topic != metadata.LogTopic {
			continue
		}
		for j := range t.Partitions {
			if t.Partitions[j].Partition == 0 {
				return &t.Partitions[j], true
			}
		}
	}
	return nil, false
}

// applyLogBatches applies the metadata log batches in data, which start
// at offset next, to im, and returns the new image, the next offset and
// the epoch of the last batch (epoch -1 when data holds none). A batch
// before next is skipped (already applied); a gap is an error. A batch
// whose records do not apply is logged and skipped, as every quorum
// member skips it.
func applyLogBatches(im *metadata.Image, next int64, data []byte, log *slog.Logger) (*metadata.Image, int64, int32, error) {
	epoch := int32(-1)
	err := metadata.ReadLogBatches(data, func(b metadata.LogBatch) error {
		switch {
		case b.Offset < next:
			return nil
		case b.Offset > next:
			return fmt.Errorf("node: metadata log batch at offset %d, expected %d", b.Offset, next)
		}
		if !b.Control {
			applied, err := im.Apply(b.Records)
			if err != nil {
				log.Error("skipping a committed metadata batch that does not apply", "offset", b.Offset, "epoch", b.Epoch, "err", err)
			} else {
				im = applied
			}
		}
		next, epoch = b.Offset+1, b.Epoch
		return nil
	})
	return im, next, epoch, err
}

// loadSnapshot fetches snapshot (endOffset, epoch) from the leader in
// chunks and makes it the image.
func (o *metadataObserver) loadSnapshot(ctx context.Context, leader int32, endOffset int64, epoch int32) error {
	var data []byte
	for {
		req := kmsg.NewPtrFetchSnapshotRequest()
		req.Version = observerFetchSnapshotVersion
		req.ClusterID = &o.cfg.ClusterID
		req.ReplicaID = o.cfg.NodeID
		req.MaxBytes = observerMaxBytes
		rt := kmsg.NewFetchSnapshotRequestTopic()
		rt.Topic = metadata.LogTopic
		rp := kmsg.NewFetchSnapshotRequestTopicPartition()
		rp.Partition, rp.Position = 0, int64(len(data))
		_, rp.CurrentLeaderEpoch = o.leader()
		rp.SnapshotID.EndOffset, rp.SnapshotID.Epoch = endOffset, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		r, err := o.request(ctx, leader, req, o.cfg.RequestTimeout)
		if err != nil {
			return err
		}
		resp := r.(*kmsg.FetchSnapshotResponse)
		if resp.ErrorCode != 0 {
			return kerr.ErrorForCode(resp.ErrorCode)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return errors.New("the FetchSnapshot response lacks __cluster_metadata-0")
		}
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 {
			return kerr.ErrorForCode(sp.ErrorCode)
		}
		if sp.Position != int64(len(data)) {
			return fmt.Errorf("snapshot chunk at %d, asked for %d", sp.Position, len(data))
		}
		data = append(data, sp.Bytes...)
		if int64(len(data)) >= sp.Size {
			break
		}
		if len(sp.Bytes) == 0 {
			return fmt.Errorf("empty snapshot chunk at %d of %d", len(data), sp.Size)
		}
	}
	im, err := metadata.DecodeImage(data)
	if err != nil {
		return fmt.Errorf("snapshot at %d: %w", endOffset, err)
	}
	o.mu.Lock()
	o.mu.snapshots++
	o.mu.Unlock()
	o.cfg.Logger.Info("metadata snapshot loaded", "end_offset", endOffset, "epoch", epoch, "bytes", len(data), "batches", im.Offset)
	o.advance(im, endOffset, epoch)
	return nil
}

// openObserver makes this node a broker-only node: a Controller that
// only observes, the metadata fetcher, and the channels to the active
// controller; it returns once the image has caught up with the log.
func (n *Node) openObserver(ccfg controller.Config, opts Options) (*controller.Controller, error) {
	cfg := n.cfg
	dynamic := len(cfg.ControllerQuorumVoters) == 0
	if dynamic && len(cfg.ControllerQuorumBootstrapServers) == 0 {
		return nil, errNoQuorum
	}
	voters := map[int32]string{}
	for _, v := range cfg.ControllerQuorumVoters {
		voters[v.ID] = v.Addr()
	}
	if dynamic {
		voters = bootstrapEndpoints(cfg)
	}
	if _, ok := voters[cfg.NodeID]; ok {
		return nil, fmt.Errorf("node: node.id %d is one of controller.quorum.voters, but process.roles has no controller role; give the broker an id of its own", cfg.NodeID)
	}
	c := controller.NewObserver(ccfg, n.publish)
	q := &quorumNode{voters: voters, stopc: make(chan struct{})}
	n.quorum = q
	timeout := millis(int64(cfg.ControllerQuorumRequestTimeoutMs))
	dial := (&net.Dialer{Timeout: timeout}).DialContext
	if opts.Dial != nil {
		dial = opts.Dial
	}
	dial = n.controllerDial(dial) // TLS, SASL (security.go)
	clientID := fmt.Sprintf("gregor-%d-raft-observer", cfg.NodeID)
	q.observer = newMetadataObserver(observerConfig{
		NodeID:    cfg.NodeID,
		ClusterID: n.clusterID,
		Voters:    voters,
		Dynamic:   dynamic,
		Dial: func(ctx context.Context, id int32) (replica.Conn, error) {
			nc, err := dial(ctx, "tcp", q.observer.addr(id))
			if err != nil {
				return nil, err
			}
			return replica.NewConn(nc, clientID, observerMaxBytes+(1<<20)), nil
		},
		Install:        c.Observe,
		RequestTimeout: timeout,
		Logger:         n.log.With("component", "metadata-fetcher"),
	})
	if !dynamic {
		n.openControllerChannels(voters, q.observer.activeController, nil, opts)
	} else {
		// The channels learn the controllers' endpoints as the fetcher
		// does.
		dir := newControllerDirectory(cfg.ControllerQuorumBootstrapServers)
		n.openControllerChannels(dir.voters(), func() int32 { return dir.slot(q.observer.activeController()) }, dir, opts)
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			for {
				addrs, changed := q.observer.endpoints()
				dir.setAddrs(addrs)
				select {
				case <-changed:
				case <-q.stopc:
					return
				}
			}
		}()
	}
	q.observer.start()
	wait := millis(int64(cfg.InitialBrokerRegistrationTimeoutMs))
	if wait <= 0 {
		wait = time.Minute
	}
	if err := q.observer.waitCaughtUp(wait); err != nil {
		return nil, err
	}
	return c, nil
}

// ObserverStatus returns a broker-only node's view of the metadata log;
// false on other nodes, which are quorum members or single nodes.
func (n *Node) ObserverStatus() (ObserverStatus, bool) {
	if n.quorum == nil || n.quorum.observer == nil {
		return ObserverStatus{}, false
	}
	return n.quorum.observer.status(), true
}
