package server

// DescribeCluster (key 60), versions 0-2.
//
//	v0: brokers, cluster id, controller id (KIP-700).
//	v1: endpoint_type (1 = brokers; 2 = controllers, KIP-919).
//	v2: include_fenced_brokers, is_fenced (KIP-1073).
//
// Brokers and controller_id are Metadata's (cluster.go): the brokers
// reachable on the request's listener, fenced ones too when v2 asks.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(handler{key: 60, min: 0, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeCluster(c, r.(*kmsg.DescribeClusterRequest)), nil
	}})
}

func (s *Server) handleDescribeCluster(c *conn, req *kmsg.DescribeClusterRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = req.EndpointType
	if req.Version >= 1 && req.EndpointType != 1 {
		// Controllers are reached through controller.listener.names,
		// which clients on a broker listener cannot use.
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
		resp.ErrorMessage = &msg
		return resp
	}
	im := s.image()
	resp.ClusterID = s.cfg.ClusterID
	resp.ClusterAuthorizedOperations = authorizedOpsUnset
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = c.clusterAuthorizedOperations()
	}
	nodes, fenced := s.aliveBrokers(im, c.listener.Name, req.Version >= 2 && req.IncludeFencedBrokers)
	var alive []brokerNode
	for _, n := range nodes {
		b := kmsg.NewDescribeClusterResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = n.id, n.host, n.port, n.rack
		b.IsFenced = fenced[n.id]
		resp.Brokers = append(resp.Brokers, b)
		if !b.IsFenced {
			alive = append(alive, n)
		}
	}
	resp.ControllerID = s.controllerID(im, alive)
	return resp
}
