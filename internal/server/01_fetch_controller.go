package server

// Fetch (key 1) on controller listeners, versions 4-17: observers
// (broker-only nodes, KIP-595) fetch the committed metadata log,
// __cluster_metadata-0, from the Raft leader. Each entry of the log is a
// RecordBatch at offset "Raft index - 1" (metadata/logbatch.go draws the
// format); controller.FetchMetadata describes the offsets. The broker
// listeners' Fetch is 01_fetch.go.
//
//	v4-11: the partition by name; a fetch below the log start answers
//	       OFFSET_OUT_OF_RANGE (no snapshot id field).
//	v12:   flexible; snapshot_id (KIP-630: load it with FetchSnapshot,
//	       then fetch from its end offset), current_leader (who to ask
//	       instead after NOT_LEADER_OR_FOLLOWER), cluster_id (another
//	       cluster's fetch gets INCONSISTENT_CLUSTER_ID).
//	v13:   the topic by id (AAAAAAAAAAAAAAAAAAAAAQ).
//	v15:   replica_state carries the observer's id (KIP-903).
//	v16:   node_endpoints: the leader's controller endpoint (KIP-951).
//	v17:   replica directory id (KIP-853; ignored).
//
// A fetch with nothing new parks until an entry commits or max_wait_ms
// passes (min_bytes 0: no wait). Sessions are not used (session id 0),
// as Kafka's Raft fetches do not use them. The leader records each
// observer's fetch offset for DescribeQuorum.

import (
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	registerController(handler{key: 1, min: 4, max: 17, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleControllerFetch(c, r.(*kmsg.FetchRequest)), nil
	}})
}

func (s *Server) handleControllerFetch(c *conn, req *kmsg.FetchRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.ClusterID != nil && *req.ClusterID != s.cfg.ClusterID {
		resp.ErrorCode = kerr.InconsistentClusterID.Code
		return resp
	}
	replicaID := req.ReplicaID
	if req.Version >= 15 {
		replicaID = req.ReplicaState.ID
	}
	maxWait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	if req.MinBytes <= 0 {
		maxWait = 0
	}
	leaders := map[int32]bool{}
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		isLog := rt.Topic == metadata.LogTopic
		if req.Version >= 13 {
			isLog = metadata.TopicID(rt.TopicID) == metadata.LogTopicID
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case !isLog || rp.Partition != 0:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if req.Version >= 13 {
					sp.ErrorCode = kerr.UnknownTopicID.Code
				}
			case rp.FetchOffset < 0:
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
			default:
				maxBytes := rp.PartitionMaxBytes
				if req.MaxBytes > 0 && req.MaxBytes < maxBytes {
					maxBytes = req.MaxBytes
				}
				res := s.deps.Controller.FetchMetadata(c.ctx, controller.MetadataFetch{
					ReplicaID:   replicaID,
					FetchOffset: rp.FetchOffset,
					MaxBytes:    int(maxBytes),
					MaxWait:     maxWait,
				})
				s.fillMetadataFetch(&sp, req.Version, res)
				if res.Leader >= 0 && res.Leader != s.cfg.NodeID {
					leaders[res.Leader] = true
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Version >= 16 {
		resp.Brokers = s.controllerEndpoints(leaders)
	}
	return resp
}

// fillMetadataFetch writes a metadata log fetch's result into sp.
func (s *Server) fillMetadataFetch(sp *kmsg.FetchResponseTopicPartition, version int16, res controller.MetadataFetchResult) {
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = res.HighWatermark, res.HighWatermark, res.LogStartOffset
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = res.Leader, res.Epoch
	if res.Err != nil {
		sp.ErrorCode = codeOf(res.Err)
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
		return
	}
	if res.Snapshot != nil {
		if version < 12 {
			sp.ErrorCode = kerr.OffsetOutOfRange.Code
			return
		}
		sp.SnapshotID.EndOffset, sp.SnapshotID.Epoch = res.Snapshot.EndOffset, res.Snapshot.Epoch
		return
	}
	var data []byte
	for _, b := range res.Batches {
		var err error
		if data, err = metadata.AppendLogBatch(data, b); err != nil {
			s.log.Error("encoding the metadata log for an observer", "offset", b.Offset, "err", err)
			sp.ErrorCode = kerr.UnknownServerError.Code
			return
		}
	}
	sp.RecordBatches = data
}

// controllerEndpoints returns the controller endpoints (from
// controller.quorum.voters) of the given voters, for node_endpoints.
func (s *Server) controllerEndpoints(ids map[int32]bool) []kmsg.FetchResponseBroker {
	voters := s.deps.Controller.QuorumVoters()
	var out []kmsg.FetchResponseBroker
	for id := range ids {
		host, port, err := net.SplitHostPort(voters[id])
		if err != nil {
			continue
		}
		p, _ := strconv.Atoi(port)
		b := kmsg.NewFetchResponseBroker()
		b.NodeID, b.Host, b.Port = id, host, int32(p)
		out = append(out, b)
	}
	return out
}
