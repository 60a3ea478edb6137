package node

// The transaction coordinator's wiring (Kafka's TransactionCoordinator
// setup in BrokerServer): its configuration from the broker config, its
// producer ids from the node's blocks (producerids.go), the creation of
// __transaction_state (asked for by FindCoordinator, as Kafka creates it
// on first use), on every metadata image the partitions of it this node
// leads with their leader epochs (their shards load at that coordinator
// epoch), and the marker sender (txnmarkers.go) its decisions go to.
//
//	FindCoordinator(txn) ──no topic──▶ createTxnTopic ──▶ controller
//	image ──syncTxn──▶ txn.Coordinator.Sync(led partitions, epochs)
//	EndTxn ──decision written──▶ WriteMarkers ──▶ markerSender ──▶
//	    WriteTxnMarkers to each partition's leader ──▶ CompleteMarkers
//	produce / TxnOffsetCommit of a partition not yet in the transaction
//	    ──▶ txn.Coordinator.AddPartitionsFromLeader ──▶ the shard here, or
//	    txnVerifier (txnverify.go) ──▶ AddPartitionsToTxn v5 to the
//	    coordinator's broker
//
// Transaction version: the cluster's transaction.version is the level in
// the metadata image (metadata.Image.FeatureLevel; 2 on a cluster whose
// log set none, as Kafka 4.0 formats new clusters; UpdateFeatures moves
// it), which ApiVersions advertises, so clients of a TV2 cluster speak
// transaction version 2 (no AddPartitionsToTxn from the producer, EndTxn
// v5 bumping the epoch). The coordinator writes __transaction_state
// values and starts its own aborts (timeouts, fencing) at that level
// (transactionVersion), read on every use, so a changed level applies to
// the next operation.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/coordinator"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/txn"
)

// newTxn creates the transaction coordinator and its marker sender, and
// loads the partitions of __transaction_state this node leads in im. It
// needs the group coordinator and the producer id manager. The sender
// starts with the node (startTxn); markers asked for before wait.
func (n *Node) newTxn(im *metadata.Image, now func() time.Time) error {
	cfg := n.cfg
	log := n.log.With("component", "transaction-coordinator")
	n.txnMarkers = n.newMarkerSender(log.With("component", "txn-marker-sender"), now)
	verifier := n.newTxnVerifier(log.With("component", "add-partitions-to-txn"), n.txnMarkerConns.verify)
	n.txnMarkerConns.verifier = verifier
	c, err := txn.New(txn.Config{
		NumPartitions:                           cfg.TransactionStateLogNumPartitions,
		TransactionMaxTimeoutMs:                 cfg.TransactionMaxTimeoutMs,
		TransactionalIDExpirationMs:             int64(cfg.TransactionalIDExpirationMs),
		AbortTimedOutTransactionsIntervalMs:     int64(cfg.TransactionAbortTimedOutTransactionCleanupIntervalMs),
		RemoveExpiredTransactionalIDsIntervalMs: int64(cfg.TransactionRemoveExpiredTransactionCleanupIntervalMs),
		TransactionVersion:                      n.transactionVersion,
		GroupPartition:                          n.groups.PartitionFor,
		ProducerIDs:                             txnProducerIDs{n.producerIDs},
		WriteMarkers:                            n.txnMarkers.submit,
		Logger:                                  log,
	}, txn.Options{
		Now:             now,
		LoadBufferBytes: int(cfg.TransactionStateLogLoadBufferSize),
		CreateTopic:     n.createTxnTopic,
		Forward:         verifier.forward,
	})
	if err != nil {
		return fmt.Errorf("node: transaction coordinator: %w", err)
	}
	n.txn = c
	n.txnMarkers.complete = c.CompleteMarkers
	n.txnReady.Store(c)
	n.syncTxn(im)
	return nil
}

// transactionVersion is the cluster's transaction.version level, from
// the metadata image this node applied last (txn.Config's
// TransactionVersion: called from shard goroutines; the image is read
// atomically).
func (n *Node) transactionVersion() int16 {
	return n.controller.Image().FeatureLevel(metadata.FeatureTransactionVersion)
}

// txnProducerIDs is the transaction coordinator's ProducerIDSource over
// the node's producer id blocks. It never waits: without an id at hand
// it answers COORDINATOR_LOAD_IN_PROGRESS (and the next block is
// fetched), which clients retry, as Kafka's RPCProducerIdManager does.
type txnProducerIDs struct{ m *producerIDManager }

func (p txnProducerIDs) GenerateProducerID() (int64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return p.m.NextProducerID(ctx)
}

// createTxnTopic creates __transaction_state with Kafka's settings
// (TransactionStateManager.transactionTopicConfigs), through the active
// controller (forwarded when this node is not it). Its replication
// factor is transaction.state.log.replication.factor capped at the
// number of live brokers, so that a cluster smaller than the default 3
// (a single node) gets transactions without configuration; Kafka instead
// fails the creation until the cluster is large enough.
func (n *Node) createTxnTopic() error {
	compact, uncompressed, unclean := "compact", "uncompressed", "false"
	segment := strconv.Itoa(int(n.cfg.TransactionStateLogSegmentBytes))
	minISR := strconv.Itoa(int(n.cfg.TransactionStateLogMinISR))
	rf := n.cfg.TransactionStateLogReplicationFactor
	if live := liveBrokers(n.controller.Image()); int(rf) > live {
		n.log.Info("creating "+txn.TopicName+" with fewer replicas than transaction.state.log.replication.factor: not enough live brokers",
			"replication_factor", live, "configured", rf)
		rf = int16(live)
	}
	res := n.createTopics([]controller.CreateTopic{{
		Name:              txn.TopicName,
		NumPartitions:     n.cfg.TransactionStateLogNumPartitions,
		ReplicationFactor: rf,
		Configs: map[string]*string{
			"cleanup.policy":                 &compact,
			"compression.type":               &uncompressed,
			"min.insync.replicas":            &minISR,
			"segment.bytes":                  &segment,
			"unclean.leader.election.enable": &unclean,
		},
	}})
	if err := res[0].Err; err != nil {
		return fmt.Errorf("node: create %s: %w", txn.TopicName, err)
	}
	n.log.Info("created the internal topic "+txn.TopicName, "partitions", n.cfg.TransactionStateLogNumPartitions, "replication_factor", rf)
	return nil
}

// liveBrokers counts the unfenced brokers of im; a single node's image
// has none registered and counts as one.
func liveBrokers(im *metadata.Image) int {
	if im.NumBrokers() == 0 {
		return 1
	}
	live := 0
	for _, b := range im.Brokers() {
		if !b.Fenced {
			live++
		}
	}
	return max(live, 1)
}

// syncTxn tells the transaction coordinator which __transaction_state
// partitions this node leads in im, at which leader epoch, and wakes the
// marker sender (leaders may have moved). It does not block.
func (n *Node) syncTxn(im *metadata.Image) {
	c := n.txnReady.Load()
	r := n.replicasReady.Load()
	if c == nil || r == nil {
		return
	}
	leaders := map[int32]txn.Leader{}
	var numPartitions int32
	if t, ok := im.Topic(txn.TopicName); ok {
		numPartitions = int32(len(t.Partitions))
		for i, p := range t.Partitions {
			if p.Leader != n.cfg.NodeID {
				continue
			}
			rp, err := r.Partition(txn.TopicName, int32(i))
			if err != nil {
				continue // not opened (yet)
			}
			// A new value per leader epoch, so that a new leadership
			// reloads the shard at its coordinator epoch.
			leaders[int32(i)] = txn.Leader{
				Log:   txnLog{partitionLog: partitionLog{p: rp, purgatory: r.Purgatory(), timeout: n.txnWriteTimeout()}, epoch: p.LeaderEpoch},
				Epoch: p.LeaderEpoch,
			}
		}
	}
	c.Sync(numPartitions, leaders)
	n.txnMarkers.wake()
}

// txnWriteTimeout bounds a __transaction_state write's wait for the
// in-sync replicas (Kafka's transaction.state.log write uses
// request.timeout.ms).
func (n *Node) txnWriteTimeout() time.Duration {
	return millis(int64(n.cfg.RequestTimeoutMs))
}

// txnLog is a __transaction_state partition led at one leader epoch.
type txnLog struct {
	partitionLog
	epoch int32
}

var _ coordinator.Log = txnLog{}

// ownsTxnPartition reports whether this node leads __transaction_state
// partition p at leader epoch epoch in the image last applied: markers
// of a shard that no longer does are not sent.
func (n *Node) ownsTxnPartition(p, epoch int32) bool {
	r := n.replicasReady.Load()
	if r == nil || r.Image() == nil {
		return false
	}
	t, ok := r.Image().Topic(txn.TopicName)
	if !ok || p < 0 || int(p) >= len(t.Partitions) {
		return false
	}
	reg := t.Partitions[p]
	return reg.Leader == n.cfg.NodeID && reg.LeaderEpoch == epoch
}

// startTxn starts the marker sender (it calls the broker server).
func (n *Node) startTxn() {
	if n.txnMarkers != nil {
		n.txnMarkers.start()
	}
}

// closeTxn stops the marker sender, then the coordinator's shards.
func (n *Node) closeTxn() {
	if n.txnMarkers != nil {
		n.txnMarkers.close()
	}
	if n.txnMarkerConns != nil {
		n.txnMarkerConns.close()
	}
	if n.txn != nil {
		n.txn.Close()
	}
}
