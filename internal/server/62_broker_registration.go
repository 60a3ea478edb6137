package server

// BrokerRegistration (key 62), versions 0-4, controller listeners only
// (KIP-631): a broker announces itself to the active controller, which
// answers with its broker epoch.
//
//	v0: broker id, cluster id, incarnation id, listeners, features, rack.
//	v1: is_migrating_zk_broker (KIP-866; Kafka 4 refuses true).
//	v2: log_dirs (KIP-858; not modelled here).
//	v3: previous_broker_epoch (KIP-966).
//	v4: no change for a KRaft broker.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

func init() {
	registerController(handler{key: 62, min: 0, max: 4, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleBrokerRegistration(r.(*kmsg.BrokerRegistrationRequest)), nil
	}})
}

func (s *Server) handleBrokerRegistration(req *kmsg.BrokerRegistrationRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.BrokerRegistrationResponse)
	resp.BrokerEpoch = -1
	if req.IsMigratingZkBroker {
		resp.ErrorCode = kerr.BrokerIDNotRegistered.Code
		return resp
	}
	creq := controller.BrokerRegistration{
		BrokerID:            req.BrokerID,
		ClusterID:           req.ClusterID,
		IncarnationID:       metadata.IncarnationID(req.IncarnationID),
		PreviousBrokerEpoch: -1,
	}
	if req.Version >= 3 {
		creq.PreviousBrokerEpoch = req.PreviousBrokerEpoch
	}
	if req.Rack != nil {
		creq.Rack = *req.Rack
	}
	for _, l := range req.Listeners {
		creq.Listeners = append(creq.Listeners, metadata.Endpoint{Listener: l.Name, Host: l.Host, Port: int32(l.Port), SecurityProtocol: l.SecurityProtocol})
	}
	reply := s.deps.Controller.RegisterBroker(creq)
	resp.ErrorCode, resp.BrokerEpoch = codeOf(reply.Err), reply.BrokerEpoch
	if reply.Err != nil {
		resp.BrokerEpoch = -1
	}
	return resp
}
