package server

// DescribeQuorum (key 55), versions 0-2 (KIP-595, KIP-836, KIP-853):
// the metadata quorum's leader, epoch, high watermark and each voter's
// replication state, as kafka-metadata-quorum.sh shows them, and the
// observers: the broker-only nodes that fetch the metadata log from the
// leader (01_fetch_controller.go), with their last fetch offsets as log
// end offsets. Nodes (v2) lists the voters' endpoints only, as Kafka
// does. Only the Raft leader knows its voters' progress; other members
// answer NOT_LEADER_OR_FOLLOWER for the partition. Served on controller
// listeners, and on broker listeners of a quorum node by forwarding to
// the active controller (forward.go).
//
// In a dynamic quorum (KIP-853) every voter, and every controller being
// added (a Raft learner, listed with the observers), carries the
// directory id and the endpoint the log's voter set records for it;
// in a static quorum the directory ids are zero and the endpoints are
// controller.quorum.voters'.
//
//	v0: leader id and epoch, high watermark, voters and observers with
//	    their log end offsets.
//	v1: last_fetch_timestamp and last_caught_up_timestamp (KIP-836).
//	v2: error_message, replica directory ids, and the nodes' listeners
//	    (KIP-853).

import (
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

// metadataTopic is the metadata log's topic-partition name.
const metadataTopic = "__cluster_metadata"

func init() {
	h := handler{key: 55, min: 0, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeQuorum(c, r.(*kmsg.DescribeQuorumRequest)), nil
	}}
	registerController(h)
	h.quorumOnly = true
	register(h)
}

func (s *Server) handleDescribeQuorum(c *conn, req *kmsg.DescribeQuorumRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	qs, ok := s.deps.Controller.QuorumStatus()
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeQuorumResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDescribeQuorumResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case rt.Topic != metadataTopic || rp.Partition != 0:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !ok || !qs.IsLeader:
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				sp.LeaderID = qs.Leader
				if !ok {
					sp.LeaderID = -1
				}
				sp.LeaderEpoch = int32(qs.Epoch)
			default:
				sp.LeaderID, sp.LeaderEpoch, sp.HighWatermark = qs.Leader, int32(qs.Epoch), qs.HighWatermark
				sp.CurrentVoters = replicaStates(qs.Voters, req.Version)
				sp.Observers = replicaStates(qs.Observers, req.Version)
			}
			if sp.ErrorCode != 0 && req.Version >= 2 {
				msg := kerr.ErrorForCode(sp.ErrorCode).Error()
				sp.ErrorMessage = &msg
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if ok && qs.IsLeader && req.Version >= 2 {
		for _, v := range qs.Voters {
			host, port, err := net.SplitHostPort(v.Addr)
			if err != nil {
				continue
			}
			n := kmsg.NewDescribeQuorumResponseNode()
			n.NodeID = v.ID
			l := kmsg.NewDescribeQuorumResponseNodeListener()
			p, _ := strconv.Atoi(port)
			l.Name, l.Host, l.Port = v.Listener, host, uint16(p)
			if l.Name == "" {
				l.Name = s.controllerListenerName(c)
			}
			n.Listeners = append(n.Listeners, l)
			resp.Nodes = append(resp.Nodes, n)
		}
	}
	return resp
}

func replicaStates(rs []controller.ReplicaState, version int16) []kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	out := make([]kmsg.DescribeQuorumResponseTopicPartitionReplicaState, 0, len(rs))
	for _, r := range rs {
		v := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		v.ReplicaID, v.LogEndOffset = r.ID, r.LogEndOffset
		if version >= 2 {
			v.ReplicaDirectoryID = r.DirectoryID
		}
		v.LastFetchTimestamp, v.LastCaughtUpTimestamp = -1, -1
		if !r.LastFetch.IsZero() {
			v.LastFetchTimestamp = r.LastFetch.UnixMilli()
		}
		if !r.LastCaughtUp.IsZero() {
			v.LastCaughtUpTimestamp = r.LastCaughtUp.UnixMilli()
		}
		out = append(out, v)
	}
	return out
}

// controllerListenerName names the controller listener the voters'
// addresses belong to: the one the request came in on when it is a
// controller listener, else the server's configured name for them.
func (s *Server) controllerListenerName(c *conn) string {
	if s.cfg.ControllerEndpoint {
		return c.listener.Name
	}
	if s.cfg.ControllerListenerName != "" {
		return s.cfg.ControllerListenerName
	}
	return "CONTROLLER"
}
