package server

// Metadata (key 3), versions 0-13.
//
//	v1: controller_id, is_internal, rack; null topics = all.
//	v2: cluster_id.   v3: throttle.   v4: allow_auto_topic_creation.
//	v5: offline_replicas.   v7: leader_epoch (KIP-320).
//	v8: authorized operations (KIP-430).   v9: flexible.
//	v10: topic ids (KIP-516).   v11: cluster authorized ops removed.
//	v12: topics may be requested by id only.   v13: top-level error code.
//
// Kafka 4.0 keeps all versions (KIP-896 removed none for Metadata).
//
// Brokers are those a client can reach on the listener the request came
// in on (cluster.go): in a cluster, every unfenced registered broker with
// an endpoint there; on a single node, this node. Per partition: the
// image's leader (-1 with LEADER_NOT_AVAILABLE when it is not registered,
// or LISTENER_NOT_FOUND from v6 when it has no endpoint on this
// listener), replicas and ISR as registered (v0 lists only the reachable
// ones and answers REPLICA_NOT_AVAILABLE), and as offline replicas those
// on fenced, unregistered or listener-less brokers (Kafka's
// KRaftMetadataCache.getTopicMetadata).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	register(handler{key: 3, min: 0, max: 13, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleMetadata(c, r.(*kmsg.MetadataRequest)), nil
	}})
}

// authorizedOpsUnset is Kafka's Integer.MIN_VALUE "not requested" value.
const authorizedOpsUnset = -2147483648

// topicAuthorizedOps is every topic operation (READ, WRITE, CREATE,
// DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS) while there
// is no authorizer.
const topicAuthorizedOps = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11

func (s *Server) handleMetadata(c *conn, req *kmsg.MetadataRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	im := s.image()
	listener := c.listener.Name
	nodes, _ := s.aliveBrokers(im, listener, false)
	for _, n := range nodes {
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = n.id, n.host, n.port, n.rack
		resp.Brokers = append(resp.Brokers, b)
	}
	clusterID := s.cfg.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = s.controllerID(im, nodes)
	if req.Version >= 8 && req.Version <= 10 {
		resp.AuthorizedOperations = authorizedOpsUnset
		if req.IncludeClusterAuthorizedOperations {
			resp.AuthorizedOperations = c.clusterAuthorizedOperations()
		}
	}
	// Topics the principal may not DESCRIBE are left out of "all
	// topics" and answered TOPIC_AUTHORIZATION_FAILED when named, whether
	// they exist or not (KafkaApis.handleTopicMetadataRequest).
	mayDescribe := c.authorizedTopics(acl.OpDescribe)
	defer s.metadataAuthorizedOps(c, req, resp)

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, name := range im.TopicNames() {
			if !mayDescribe(name) {
				continue
			}
			t, _ := im.Topic(name)
			resp.Topics = append(resp.Topics, s.metadataTopic(req, im, listener, t))
		}
		return resp
	}
	autoCreate := s.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	var create []controller.CreateTopic
	var createIdx []int
	for _, rt := range req.Topics {
		var t *metadata.Topic
		var ok bool
		switch {
		case rt.Topic != nil:
			t, ok = im.Topic(*rt.Topic)
		case rt.TopicID != [16]byte{}:
			t, ok = im.TopicByID(metadata.TopicID(rt.TopicID))
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				mt.AuthorizedOperations = authorizedOpsUnset
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		default:
			mt := kmsg.NewMetadataResponseTopic()
			mt.ErrorCode = kerr.InvalidRequest.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		name := topicName(t)
		if rt.Topic != nil {
			name = *rt.Topic
		}
		if !mayDescribe(name) {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID // by id: no name, as Kafka
			mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
			mt.AuthorizedOperations = authorizedOpsUnset
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		if ok {
			resp.Topics = append(resp.Topics, s.metadataTopic(req, im, listener, t))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = rt.Topic
		mt.AuthorizedOperations = authorizedOpsUnset
		if err := controller.ValidateTopicName(*rt.Topic); err != nil {
			mt.ErrorCode = kerr.InvalidTopicException.Code
		} else if autoCreate && !c.authorizedCluster(acl.OpCreate) && !c.authorized(acl.OpCreate, acl.ResourceTopic, *rt.Topic) {
			// Auto-creation needs CREATE on the cluster or the topic.
			mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
		} else if autoCreate {
			np, rf := s.deps.Configs.TopicDefaults()
			create = append(create, controller.CreateTopic{Name: *rt.Topic, NumPartitions: np, ReplicationFactor: rf})
			createIdx = append(createIdx, len(resp.Topics))
			mt.ErrorCode = kerr.LeaderNotAvailable.Code
		} else {
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		resp.Topics = append(resp.Topics, mt)
	}
	if len(create) > 0 {
		// As in Kafka, a topic created here is answered with
		// LEADER_NOT_AVAILABLE… unless it is ready at once, which on a
		// single node it is: answer its full metadata.
		results := s.CreateTopics(create, false)
		im = s.image()
		for i, r := range results {
			idx := createIdx[i]
			if r.Err != nil {
				if kerr.TopicAlreadyExists.Code == codeOf(r.Err) {
					if t, ok := im.Topic(r.Name); ok {
						resp.Topics[idx] = s.metadataTopic(req, im, listener, t)
					}
					continue
				}
				resp.Topics[idx].ErrorCode = codeOf(r.Err)
				continue
			}
			if t, ok := im.Topic(r.Name); ok {
				resp.Topics[idx] = s.metadataTopic(req, im, listener, t)
			}
		}
	}
	return resp
}

// metadataAuthorizedOps fills the authorized operations of the topics
// answered without an error when the client asked for them (v8+).
func (s *Server) metadataAuthorizedOps(c *conn, req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) {
	if !req.IncludeTopicAuthorizedOperations {
		return
	}
	for i := range resp.Topics {
		if t := &resp.Topics[i]; t.Topic != nil && t.ErrorCode != kerr.TopicAuthorizationFailed.Code && t.AuthorizedOperations != authorizedOpsUnset {
			t.AuthorizedOperations = c.authorizedOperations(acl.ResourceTopic, *t.Topic)
		}
	}
}

func (s *Server) metadataTopic(req *kmsg.MetadataRequest, im *metadata.Image, listener string, t *metadata.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = isInternalTopic(t.Name)
	mt.AuthorizedOperations = authorizedOpsUnset
	if req.IncludeTopicAuthorizedOperations {
		mt.AuthorizedOperations = topicAuthorizedOps
	}
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(t.Partitions))
	for i, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(i)
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		mp.OfflineReplicas = []int32{}
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		if clusterImage(im) {
			s.clusterPartition(req, im, listener, p, &mp)
		}
		mt.Partitions[i] = mp
	}
	return mt
}

// clusterPartition fills a partition's leader, replicas and errors from
// the broker registrations of a cluster's image (see the top of the file).
func (s *Server) clusterPartition(req *kmsg.MetadataRequest, im *metadata.Image, listener string, p metadata.Partition, mp *kmsg.MetadataResponseTopicPartition) {
	reachable := func(id int32) bool {
		_, ok := s.aliveBroker(im, id, listener)
		return ok
	}
	for _, id := range p.Replicas {
		if !reachable(id) {
			mp.OfflineReplicas = append(mp.OfflineReplicas, id)
		}
	}
	unavailable := false
	if req.Version == 0 {
		// v0 answered an error when a replica's broker was down; later
		// versions list every replica and leave the broker out.
		filter := func(ids []int32) []int32 {
			out := make([]int32, 0, len(ids))
			for _, id := range ids {
				if reachable(id) {
					out = append(out, id)
				}
			}
			unavailable = unavailable || len(out) < len(ids)
			return out
		}
		mp.Replicas, mp.ISR = filter(p.Replicas), filter(p.ISR)
	}
	if p.Leader < 0 {
		return // LEADER_NOT_AVAILABLE
	}
	b, registered := im.Broker(p.Leader)
	if registered {
		if _, ok := b.Endpoint(listener); ok {
			// Kafka names a registered leader even when fenced:
			// the controller moves leadership off fenced brokers.
			if unavailable {
				mp.ErrorCode = kerr.ReplicaNotAvailable.Code
			}
			return
		}
	}
	mp.Leader = -1
	mp.ErrorCode = kerr.LeaderNotAvailable.Code
	if registered && req.Version >= 6 {
		mp.ErrorCode = kerr.ListenerNotFound.Code
	}
}

// isInternalTopic reports whether Kafka treats the topic as internal.
func isInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state" || name == "__share_group_state"
}
