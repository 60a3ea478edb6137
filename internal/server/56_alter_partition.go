package server

// AlterPartition (key 56), versions 2-3, controller listeners only
// (KIP-497): a partition leader asks the active controller to change the
// ISR. Kafka 4.0 removed v0-1 (topics by name).
//
//	v2: topics by id (KIP-841).
//	v3: new_isr_with_epochs, the broker epoch of each ISR member (KIP-903).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	registerController(handler{key: 56, min: 2, max: 3, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAlterPartition(r.(*kmsg.AlterPartitionRequest)), nil
	}})
}

func (s *Server) handleAlterPartition(req *kmsg.AlterPartitionRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	creq := controller.AlterPartitionRequest{BrokerID: req.BrokerID, BrokerEpoch: req.BrokerEpoch}
	for _, t := range req.Topics {
		ct := controller.AlterPartitionTopic{TopicID: metadata.TopicID(t.TopicID)}
		for _, p := range t.Partitions {
			cp := controller.AlterPartitionData{Partition: p.Partition, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch}
			if req.Version >= 3 {
				for _, m := range p.NewEpochISR {
					cp.NewISR = append(cp.NewISR, controller.ISRMember{BrokerID: m.BrokerID, BrokerEpoch: m.BrokerEpoch})
				}
			} else {
				for _, id := range p.NewISR {
					cp.NewISR = append(cp.NewISR, controller.ISRMember{BrokerID: id, BrokerEpoch: -1})
				}
			}
			ct.Partitions = append(ct.Partitions, cp)
		}
		creq.Topics = append(creq.Topics, ct)
	}
	out := s.deps.Controller.AlterPartition(creq)
	if out.Err != nil {
		resp.ErrorCode = codeOf(out.Err)
		return resp
	}
	for _, t := range out.Topics {
		rt := kmsg.NewAlterPartitionResponseTopic()
		rt.TopidID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codeOf(p.Err)
			if p.Err == nil {
				rp.LeaderID, rp.LeaderEpoch, rp.PartitionEpoch, rp.ISR = p.Leader, p.LeaderEpoch, p.PartitionEpoch, p.ISR
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
