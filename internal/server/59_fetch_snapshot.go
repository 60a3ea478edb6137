package server

// FetchSnapshot (key 59), versions 0-1, controller listeners only
// (KIP-630): an observer whose fetch offset is below the metadata log's
// start loads the snapshot the Fetch answer named (snapshot_id), in
// chunks of at most max_bytes from position, and then fetches the log
// from the snapshot's end offset. The snapshot's bytes are the encoded
// metadata image (metadata.EncodeImage), not Kafka's record-based
// snapshot format; only Gregor brokers read them.
//
//	v0: snapshot id, position, size, bytes; current_leader (tag).
//	v1: replica directory id, node_endpoints (KIP-853).
//
// Only the leader serves snapshots (NOT_LEADER_OR_FOLLOWER elsewhere,
// with the leader it knows); a snapshot id that is no longer the latest
// answers SNAPSHOT_NOT_FOUND (fetch again for the new one), a position
// past the end POSITION_OUT_OF_RANGE.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	registerController(handler{key: 59, min: 0, max: 1, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleFetchSnapshot(r.(*kmsg.FetchSnapshotRequest)), nil
	}})
}

func (s *Server) handleFetchSnapshot(req *kmsg.FetchSnapshotRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FetchSnapshotResponse)
	if req.ClusterID != nil && *req.ClusterID != s.cfg.ClusterID {
		resp.ErrorCode = kerr.InconsistentClusterID.Code
		return resp
	}
	maxBytes := int64(req.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = 1 << 31
	}
	leaders := map[int32]bool{}
	for _, rt := range req.Topics {
		st := kmsg.NewFetchSnapshotResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchSnapshotResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.SnapshotID.EndOffset, sp.SnapshotID.Epoch = rp.SnapshotID.EndOffset, rp.SnapshotID.Epoch
			if rt.Topic != metadata.LogTopic || rp.Partition != 0 {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			data, leader, epoch, err := s.deps.Controller.MetadataSnapshot(controller.SnapshotID{EndOffset: rp.SnapshotID.EndOffset, Epoch: rp.SnapshotID.Epoch})
			sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = leader, epoch
			if leader >= 0 && leader != s.cfg.NodeID {
				leaders[leader] = true
			}
			size := int64(len(data))
			switch {
			case err != nil:
				sp.ErrorCode = codeOf(err)
			case rp.Position < 0 || rp.Position > size:
				sp.ErrorCode = kerr.PositionOutOfRange.Code
			default:
				sp.Size, sp.Position = size, rp.Position
				sp.Bytes = data[rp.Position:min(size, rp.Position+maxBytes)]
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Version >= 1 {
		for _, b := range s.controllerEndpoints(leaders) {
			e := kmsg.NewFetchSnapshotResponseNodeEndpoint()
			e.NodeID, e.Host, e.Port = b.NodeID, b.Host, uint16(b.Port)
			resp.NodeEndpoints = append(resp.NodeEndpoints, e)
		}
	}
	return resp
}
