package server

// BrokerHeartbeat (key 63), versions 0-2, controller listeners only
// (KIP-631): a registered broker keeps its session, reports the metadata
// offset it has applied, and asks to be fenced, unfenced or shut down.
//
//	v0: broker id and epoch, current metadata offset, want_fence,
//	    want_shut_down.
//	v1: offline_log_dirs tag (KIP-858; ignored, no JBOD failure handling).
//	v2: cordoned_log_dirs tag (ignored).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	registerController(handler{key: 63, min: 0, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleBrokerHeartbeat(r.(*kmsg.BrokerHeartbeatRequest)), nil
	}})
}

func (s *Server) handleBrokerHeartbeat(req *kmsg.BrokerHeartbeatRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
	reply := s.deps.Controller.BrokerHeartbeat(controller.BrokerHeartbeat{
		BrokerID:              req.BrokerID,
		BrokerEpoch:           req.BrokerEpoch,
		CurrentMetadataOffset: req.CurrentMetadataOffset,
		WantFence:             req.WantFence,
		WantShutDown:          req.WantShutdown,
	})
	if reply.Err != nil {
		resp.ErrorCode = codeOf(reply.Err)
		resp.IsFenced = true
		return resp
	}
	resp.IsCaughtUp, resp.IsFenced, resp.ShouldShutdown = reply.IsCaughtUp, reply.IsFenced, reply.ShouldShutDown
	return resp
}
