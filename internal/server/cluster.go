package server

// The cluster as the handlers see it: which brokers a client may reach
// on the listener it came in on, who leads a partition, which node to
// name as the controller, and what to answer for a partition this node
// does not host. All of it is read from the metadata image.
//
// An image with no registered broker is a single node's (no quorum, no
// registration): this node is then the only broker, on the endpoint it
// bound, and leads every partition. An image with registrations is a
// cluster's: brokers are listed from their registrations (Kafka's
// KRaftMetadataCache).

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/replica"
)

// ControllerLocator tells the handlers which node is the active
// controller of the metadata quorum.
type ControllerLocator interface {
	// ActiveController returns the active controller's node id, or -1
	// while none is known (an election in progress).
	ActiveController() int32
}

// brokerNode is a broker as a response lists it.
type brokerNode struct {
	id   int32
	host string
	port int32
	rack *string
}

// clusterImage reports whether im is a cluster's (brokers registered).
func clusterImage(im *metadata.Image) bool { return im.NumBrokers() > 0 }

// nodeOf returns b's endpoint on listener; ok is false when b has no
// such listener.
func nodeOf(b *metadata.Broker, listener string) (brokerNode, bool) {
	ep, ok := b.Endpoint(listener)
	if !ok {
		return brokerNode{}, false
	}
	n := brokerNode{id: b.ID, host: ep.Host, port: ep.Port}
	if b.Rack != "" {
		rack := b.Rack
		n.rack = &rack
	}
	return n, true
}

// selfNode is this node on listener, as a single node advertises it.
func (s *Server) selfNode(listener string) brokerNode {
	host, port := s.advertised(listener)
	return brokerNode{id: s.cfg.NodeID, host: host, port: port, rack: s.cfg.Rack}
}

// aliveBrokers lists the brokers a client on listener can reach, by id:
// every unfenced registration with an endpoint on it (Kafka's
// getAliveBrokerNodes); in a single node's image, this node. With
// includeFenced, fenced registrations are listed too (DescribeCluster
// v2, KIP-1073), and fenced reports which are.
func (s *Server) aliveBrokers(im *metadata.Image, listener string, includeFenced bool) (nodes []brokerNode, fenced map[int32]bool) {
	if !clusterImage(im) {
		return []brokerNode{s.selfNode(listener)}, nil
	}
	for _, b := range im.Brokers() {
		if b.Fenced && !includeFenced {
			continue
		}
		n, ok := nodeOf(b, listener)
		if !ok {
			continue
		}
		if b.Fenced {
			if fenced == nil {
				fenced = map[int32]bool{}
			}
			fenced[b.ID] = true
		}
		nodes = append(nodes, n)
	}
	return nodes, fenced
}

// aliveBroker returns broker id's endpoint on listener if it is
// registered, unfenced and has one (Kafka's getAliveBrokerNode).
func (s *Server) aliveBroker(im *metadata.Image, id int32, listener string) (brokerNode, bool) {
	if !clusterImage(im) {
		if id == s.cfg.NodeID {
			return s.selfNode(listener), true
		}
		return brokerNode{}, false
	}
	b, ok := im.Broker(id)
	if !ok || b.Fenced {
		return brokerNode{}, false
	}
	return nodeOf(b, listener)
}

// partitionRegistration returns the image's registration of a partition.
func partitionRegistration(im *metadata.Image, topic string, partition int32) (metadata.Partition, bool) {
	t, ok := im.Topic(topic)
	if !ok || partition < 0 || int(partition) >= len(t.Partitions) {
		return metadata.Partition{}, false
	}
	return t.Partitions[partition], true
}

// currentLeader is the leader a NOT_LEADER_OR_FOLLOWER (or
// FENCED_LEADER_EPOCH) answer points the client to (KIP-951, Kafka's
// KafkaApis.getCurrentLeader): the leader and leader epoch of the
// partition in the image (-1, -1 when unknown), and the leader's endpoint
// on listener when it is alive.
type currentLeader struct {
	id, epoch int32
	node      brokerNode
	hasNode   bool
}

func (s *Server) currentLeader(im *metadata.Image, topic string, partition int32, listener string) currentLeader {
	cl := currentLeader{id: -1, epoch: -1}
	reg, ok := partitionRegistration(im, topic, partition)
	if !ok {
		return cl
	}
	cl.id, cl.epoch = reg.Leader, reg.LeaderEpoch
	if reg.Leader >= 0 {
		cl.node, cl.hasNode = s.aliveBroker(im, reg.Leader, listener)
	}
	return cl
}

// hostedPartition returns the partition if this node hosts it. A
// partition the image has but this node does not host answers
// NOT_LEADER_OR_FOLLOWER, so the client refreshes its metadata and goes
// to the leader; one the image lacks, UNKNOWN_TOPIC_OR_PARTITION (Kafka's
// ReplicaManager.getPartitionOrError).
func (s *Server) hostedPartition(im *metadata.Image, topic string, partition int32) (*replica.Partition, error) {
	p, err := s.deps.Replicas.Partition(topic, partition)
	if err == nil {
		return p, nil
	}
	if _, ok := partitionRegistration(im, topic, partition); ok {
		return nil, apierror.New(kerr.NotLeaderForPartition, "This broker does not host %s-%d; it is not one of its replicas.", topic, partition)
	}
	return nil, err
}

// controllerID is the controller_id of Metadata and DescribeCluster. A
// single node is its own controller. In a cluster it is the active
// controller when that is a broker the client can reach on listener,
// since admin requests are not forwarded yet; otherwise this node (or,
// if this node is not listed, the first broker listed), as Kafka's
// brokers name a live broker that forwards to the controller (KIP-590).
func (s *Server) controllerID(im *metadata.Image, listed []brokerNode) int32 {
	if !clusterImage(im) {
		return s.cfg.NodeID
	}
	isListed := func(id int32) bool {
		for _, n := range listed {
			if n.id == id {
				return true
			}
		}
		return false
	}
	if s.deps.ControllerLocator != nil {
		if id := s.deps.ControllerLocator.ActiveController(); id >= 0 && isListed(id) {
			return id
		}
	}
	if isListed(s.cfg.NodeID) || len(listed) == 0 {
		return s.cfg.NodeID
	}
	return listed[0].id
}
