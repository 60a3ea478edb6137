package server

// AllocateProducerIds (key 67), version 0, controller listeners only
// (KIP-730): a broker asks the active controller for its next block of
// producer ids, which it hands out in InitProducerId answers. The
// controller commits the allocation (a ProducerIdsRecord) before
// answering, so a block is never given twice.
//
//	v0: broker id and broker epoch; the block's first id and length.
//
// Errors: NOT_CONTROLLER on a controller that is not the active one,
// STALE_BROKER_EPOCH when the epoch is not the broker's registered one,
// REQUEST_TIMED_OUT when the commit does not complete.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	registerController(handler{key: 67, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAllocateProducerIDs(r.(*kmsg.AllocateProducerIDsRequest)), nil
	}})
}

func (s *Server) handleAllocateProducerIDs(req *kmsg.AllocateProducerIDsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AllocateProducerIDsResponse)
	block, err := s.deps.Controller.AllocateProducerIDs(req.BrokerID, req.BrokerEpoch)
	if err != nil {
		resp.ErrorCode = codeOf(err)
		return resp
	}
	resp.ProducerIDStart, resp.ProducerIDLen = block.FirstProducerID, block.Size
	return resp
}
