package server

// DescribeTopicPartitions (key 75), version 0 (KIP-966): topic and
// partition metadata with eligible leader replicas, paged by a cursor.
//
// Topics are answered in name order (all topics when none are named),
// starting at the cursor's topic and partition, and at most
// response_partition_limit partitions (capped by
// max.request.partition.size.limit, 2000) per response; next_cursor names
// where the next page starts.

import (
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	register(handler{key: 75, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeTopicPartitions(c, r.(*kmsg.DescribeTopicPartitionsRequest)), nil
	}})
}

// maxRequestPartitionSizeLimit is max.request.partition.size.limit.
const maxRequestPartitionSizeLimit = 2000

func (s *Server) handleDescribeTopicPartitions(c *conn, req *kmsg.DescribeTopicPartitionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	listener := c.listener.Name
	// Topics the principal may not DESCRIBE: left out of "all topics",
	// TOPIC_AUTHORIZATION_FAILED when named, whether they exist or not.
	mayDescribe := c.authorizedTopics(acl.OpDescribe)
	im := s.image()
	limit := int(req.ResponsePartitionLimit)
	if limit <= 0 || limit > maxRequestPartitionSizeLimit {
		limit = maxRequestPartitionSizeLimit
	}
	var names []string
	if len(req.Topics) == 0 {
		names = slices.DeleteFunc(im.TopicNames(), func(n string) bool { return !mayDescribe(n) })
	} else {
		seen := map[string]bool{}
		for _, t := range req.Topics {
			if !seen[t.Topic] {
				seen[t.Topic] = true
				names = append(names, t.Topic)
			}
		}
		sort.Strings(names)
	}
	startPartition := int32(0)
	if req.Cursor != nil {
		i := sort.SearchStrings(names, req.Cursor.Topic)
		names = names[i:]
		if len(names) > 0 && names[0] == req.Cursor.Topic {
			startPartition = req.Cursor.Partition
		}
	}
	for ti, name := range names {
		topicName := name
		t, ok := im.Topic(name)
		if !ok || !mayDescribe(name) {
			rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
			rt.Topic = &topicName
			rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if !mayDescribe(name) {
				rt.ErrorCode = kerr.TopicAuthorizationFailed.Code
			}
			rt.AuthorizedOperations = authorizedOpsUnset
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
		rt.Topic = &topicName
		rt.TopicID = t.ID
		rt.IsInternal = isInternalTopic(name)
		rt.AuthorizedOperations = c.authorizedOperations(acl.ResourceTopic, name)
		first := int32(0)
		if ti == 0 {
			first = startPartition
		}
		for p := first; p < int32(len(t.Partitions)); p++ {
			if limit == 0 {
				resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: p}
				break
			}
			rt.Partitions = append(rt.Partitions, s.describeTopicPartition(im, listener, p, t.Partitions[p]))
			limit--
		}
		resp.Topics = append(resp.Topics, rt)
		if resp.NextCursor != nil {
			break
		}
		if limit == 0 && ti+1 < len(names) {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: names[ti+1], Partition: 0}
			break
		}
	}
	return resp
}

// describeTopicPartition answers one partition. Its offline replicas are
// those whose broker is unregistered, fenced or has no endpoint on the
// request's listener, as Kafka's KRaftMetadataCache.getOfflineReplicas.
func (s *Server) describeTopicPartition(im *metadata.Image, listener string, index int32, p metadata.Partition) kmsg.DescribeTopicPartitionsResponseTopicPartition {
	rp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
	rp.Partition = index
	rp.LeaderID = p.Leader
	rp.LeaderEpoch = p.LeaderEpoch
	rp.Replicas = p.Replicas
	rp.ISR = p.ISR
	rp.EligibleLeaderReplicas = []int32{}
	rp.LastKnownELR = []int32{}
	rp.OfflineReplicas = []int32{}
	for _, id := range p.Replicas {
		if _, ok := s.aliveBroker(im, id, listener); !ok {
			rp.OfflineReplicas = append(rp.OfflineReplicas, id)
		}
	}
	if p.Leader < 0 {
		rp.ErrorCode = kerr.LeaderNotAvailable.Code
	}
	return rp
}
