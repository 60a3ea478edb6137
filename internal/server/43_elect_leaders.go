package server

// ElectLeaders (key 43), versions 0-2 (KIP-183; the active controller
// decides; a broker listener in a quorum forwards it, forward.go).
//
//	v0: preferred elections of the listed partitions (null: all).
//	v1: election_type (0 preferred, 1 unclean; KIP-460) and a top-level
//	    error_code.
//	v2: flexible.
//
// With topics null every partition is considered and those needing no
// election are left out of the response, as Kafka's controller does.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	register(handler{key: 43, min: 0, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleElectLeaders(r.(*kmsg.ElectLeadersRequest)), nil
	}})
}

func (s *Server) handleElectLeaders(req *kmsg.ElectLeadersRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	typ := controller.ElectPreferred
	if req.Version >= 1 {
		typ = controller.ElectionType(req.ElectionType)
	}
	var parts []controller.TopicPartitions
	if req.Topics != nil {
		parts = make([]controller.TopicPartitions, 0, len(req.Topics))
		for _, t := range req.Topics {
			parts = append(parts, controller.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	out := s.deps.Controller.ElectLeaders(typ, parts)
	if out.Err != nil {
		// The whole request failed (NOT_CONTROLLER, unknown election
		// type): v1+ says so once; every listed partition carries it too,
		// which is all a v0 client can see.
		resp.ErrorCode = codeOf(out.Err)
		for _, t := range req.Topics {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewElectLeadersResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.ErrorMessage = p, codeOf(out.Err), messageOf(out.Err)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	idx := map[string]int{}
	for _, r := range out.Results {
		i, ok := idx[r.Topic]
		if !ok {
			i = len(resp.Topics)
			idx[r.Topic] = i
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = r.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewElectLeadersResponseTopicPartition()
		rp.Partition, rp.ErrorCode, rp.ErrorMessage = r.Partition, codeOf(r.Err), messageOf(r.Err)
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}
