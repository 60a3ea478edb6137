package server

// UnregisterBroker (key 64), version 0 (KIP-1073; kafka-cluster.sh
// unregister): the active controller removes a broker's registration
// (UnregisterBrokerRecord) after moving its leaderships and taking it
// out of every ISR; its replica assignments stay. A broker that is still
// running registers again at its next heartbeat. Unknown ids answer
// BROKER_ID_NOT_REGISTERED.
//
// Served on controller listeners, and on broker listeners of a quorum
// node, which forward it to the active controller: retried, like the
// requests of forward.go, while no controller answers or the one asked
// is not active (NOT_CONTROLLER), until the forwarding timeout; then
// REQUEST_TIMED_OUT.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	registerController(handler{key: 64, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleUnregisterBroker(r.(*kmsg.UnregisterBrokerRequest)), nil
	}})
	register(handler{key: 64, min: 0, max: 0, quorumOnly: true, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.forward(c.ctx, r), nil // forward.go
	}})
}

func (s *Server) handleUnregisterBroker(req *kmsg.UnregisterBrokerRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.UnregisterBrokerResponse)
	if err := s.deps.Controller.UnregisterBroker(req.BrokerID); err != nil {
		resp.ErrorCode, resp.ErrorMessage = codeOf(err), messageOf(err)
	}
	return resp
}
