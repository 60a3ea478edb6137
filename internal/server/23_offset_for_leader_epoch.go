package server

// OffsetForLeaderEpoch (key 23), versions 2-4 (Kafka 4.0 removed 0-1,
// KIP-896).
//
//	v2: current_leader_epoch (KIP-320).   v3: replica_id (followers).
//	v4: flexible.
//
// Answers the end offset of the asked leader epoch: the start offset of
// the next larger epoch, or the log end offset for the latest (KIP-101,
// KIP-279).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
)

func init() {
	register(handler{key: 23, min: 2, max: 4, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleOffsetForLeaderEpoch(c, r.(*kmsg.OffsetForLeaderEpochRequest)), nil
	}})
}

func (s *Server) handleOffsetForLeaderEpoch(c *conn, req *kmsg.OffsetForLeaderEpochRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	im := s.image()
	// KafkaApis.handleOffsetForLeaderEpochRequest: a follower needs
	// CLUSTER_ACTION on the cluster, a consumer DESCRIBE on the topic.
	mayDescribe := c.authorizedTopics(acl.OpDescribe)
	if req.ReplicaID >= 0 {
		clusterAction := c.authorizedCluster(acl.OpClusterAction)
		mayDescribe = func(string) bool { return clusterAction }
	}
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			if !mayDescribe(rt.Topic) {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			p, err := s.hostedPartition(im, rt.Topic, rp.Partition)
			if err == nil {
				sp.LeaderEpoch, sp.EndOffset, err = p.EndOffsetForEpoch(rp.LeaderEpoch, rp.CurrentLeaderEpoch)
			}
			sp.ErrorCode = codeOf(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
