package server

// DescribeProducers (key 61), version 0 (KIP-664): the producers a
// partition's leader remembers (storage's producer state): id, epoch,
// last sequence and timestamp, the coordinator epoch of its last
// transaction marker and the first offset of its open transaction (-1).
//
//	v0: topics with partition indexes; per partition an error and the
//	    active producers.
//
// Per partition: UNKNOWN_TOPIC_OR_PARTITION for a topic or partition the
// metadata does not have, NOT_LEADER_OR_FOLLOWER unless this broker leads
// the partition, as Kafka's ReplicaManager.activeProducerState.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
)

func init() {
	register(handler{key: 61, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeProducers(c, r.(*kmsg.DescribeProducersRequest)), nil
	}})
}

func (s *Server) handleDescribeProducers(c *conn, req *kmsg.DescribeProducersRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	im := s.image()
	mayRead := c.authorizedTopics(acl.OpRead) // READ on the topic, before its existence
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		_, known := im.Topic(rt.Topic)
		for _, idx := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = idx
			st.Partitions = append(st.Partitions, sp)
			out := &st.Partitions[len(st.Partitions)-1]
			if !mayRead(rt.Topic) {
				out.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			if !known {
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			p, err := s.hostedPartition(im, rt.Topic, idx)
			if err != nil {
				out.ErrorCode, out.ErrorMessage = codeOf(err), messageOf(err)
				continue
			}
			producers, err := p.ActiveProducers()
			if err != nil {
				out.ErrorCode, out.ErrorMessage = codeOf(err), messageOf(err)
				continue
			}
			for _, ps := range producers {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID = ps.ProducerID
				ap.ProducerEpoch = int32(ps.ProducerEpoch)
				ap.LastSequence = ps.LastSequence()
				ap.LastTimestamp = ps.LastTimestamp
				ap.CoordinatorEpoch = ps.CoordinatorEpoch
				ap.CurrentTxnStartOffset = ps.CurrentTxnFirstOffset
				out.ActiveProducers = append(out.ActiveProducers, ap)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
