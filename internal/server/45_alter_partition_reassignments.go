package server

// AlterPartitionReassignments (key 45), versions 0-1 (KIP-455; the active
// controller decides; a broker listener in a quorum forwards it).
//
//	v0: flexible; per partition the target replicas, null to cancel.
//	v1: allow_replication_factor_change (default true; KIP-860), echoed
//	    in the response.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	register(handler{key: 45, min: 0, max: 1, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAlterPartitionReassignments(r.(*kmsg.AlterPartitionAssignmentsRequest)), nil
	}})
}

func (s *Server) handleAlterPartitionReassignments(req *kmsg.AlterPartitionAssignmentsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	allow := req.Version < 1 || req.AllowReplicationFactorChange
	resp.AllowReplicationFactorChange = allow
	creq := controller.ReassignmentsRequest{DisallowReplicationFactorChange: !allow}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			creq.Partitions = append(creq.Partitions, controller.PartitionReassignment{Topic: t.Topic, Partition: p.Partition, Replicas: p.Replicas})
		}
	}
	results, err := s.deps.Controller.AlterPartitionReassignments(creq)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = codeOf(err), messageOf(err)
		return resp
	}
	idx := map[string]int{}
	for _, r := range results {
		i, ok := idx[r.Topic]
		if !ok {
			i = len(resp.Topics)
			idx[r.Topic] = i
			rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			rt.Topic = r.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
		rp.Partition, rp.ErrorCode, rp.ErrorMessage = r.Partition, codeOf(r.Err), messageOf(r.Err)
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}
