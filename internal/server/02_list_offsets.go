package server

// ListOffsets (key 2), versions 1-11 (Kafka 4.0 removed v0, KIP-896).
//
//	v1: one offset per partition.   v2: isolation_level.
//	v4: current_leader_epoch, leader_epoch (KIP-320).   v6: flexible.
//	v7: -3 = max timestamp (KIP-734).   v8: -4 = earliest local (KIP-405).
//	v9: -5 = latest tiered (KIP-1005).   v10: timeout_ms.
//	v11: -6 = earliest pending upload (KIP-1023).
//
// Timestamps: -1 latest (high watermark, or last stable offset for
// read_committed: an open transaction holds it back, KIP-98), -2
// earliest, otherwise the first offset whose timestamp is at least the
// one asked for; lookups by timestamp (-3 too) answer only offsets below
// that latest offset, so read_committed never learns of an offset inside
// an undecided transaction. Only the leader answers. A follower
// (replica_id >= 0) gets the log end offset for -1, not the high
// watermark (Kafka's FetchIsolation.LOG_END); a consumer asking a new
// leader whose high watermark has not yet reached its epoch's start gets
// OFFSET_NOT_AVAILABLE (KIP-207) and retries.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/replica"
)

func init() {
	register(handler{key: 2, min: 1, max: 11, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleListOffsets(c, r.(*kmsg.ListOffsetsRequest)), nil
	}})
}

func (s *Server) handleListOffsets(c *conn, req *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	im := s.image()
	isolation := req.IsolationLevel
	if req.ReplicaID >= 0 {
		isolation = replica.IsolationLogEnd
	}
	// Every entry of a partition named more than once is answered
	// INVALID_REQUEST, as Kafka does.
	count := map[string]map[int32]int{}
	for _, rt := range req.Topics {
		if count[rt.Topic] == nil {
			count[rt.Topic] = map[int32]int{}
		}
		for _, rp := range rt.Partitions {
			count[rt.Topic][rp.Partition]++
		}
	}
	mayDescribe := c.authorizedTopics(acl.OpDescribe)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			if count[rt.Topic][rp.Partition] > 1 {
				sp.ErrorCode = kerr.InvalidRequest.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if !mayDescribe(rt.Topic) {
				// KafkaApis.handleListOffsetRequest: DESCRIBE on the topic.
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if !timestampSupported(rp.Timestamp, req.Version) {
				sp.ErrorCode = kerr.UnsupportedVersion.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			p, err := s.hostedPartition(im, rt.Topic, rp.Partition)
			if err != nil {
				sp.ErrorCode = codeOf(err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			ts := rp.Timestamp
			if ts == earliestPendingUploadTimestamp { // nothing is tiered
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			off, fts, epoch, err := p.ListOffset(ts, isolation, rp.CurrentLeaderEpoch)
			if err != nil {
				sp.ErrorCode = codeOf(err)
			} else {
				sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, fts, epoch
				if ts == replica.LatestTimestamp || ts == replica.EarliestTimestamp || ts == replica.EarliestLocalTimestamp {
					sp.Timestamp = -1
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// timestampSupported reports whether a special (negative) timestamp is
// defined at a ListOffsets version; Kafka answers UNSUPPORTED_VERSION for
// a special timestamp newer than the request.
func timestampSupported(ts int64, version int16) bool {
	switch {
	case ts >= 0 || ts == replica.LatestTimestamp || ts == replica.EarliestTimestamp:
		return true
	case ts == replica.MaxTimestamp:
		return version >= 7
	case ts == replica.EarliestLocalTimestamp:
		return version >= 8
	case ts == replica.LatestTieredTimestamp:
		return version >= 9
	case ts == earliestPendingUploadTimestamp:
		return version >= 11
	}
	return false
}

// earliestPendingUploadTimestamp is -6 (KIP-1023), for tiered storage.
const earliestPendingUploadTimestamp = -6
