package server

// DescribeCluster (key 60) on controller listeners, versions 0-2
// (KIP-919): with endpoint_type 2 (controller) the "brokers" are the
// quorum's voters at their controller endpoints and controller_id is the
// active controller, as kafka-metadata-quorum.sh --bootstrap-controller
// and Admin clients with bootstrap.controllers see them. The broker
// listeners' DescribeCluster is 60_describe_cluster.go.
//
//	v0: brokers, cluster id, controller id (KIP-700); a v0 request asks
//	    for brokers, which a controller endpoint does not serve.
//	v1: endpoint_type.
//	v2: include_fenced_brokers, is_fenced (KIP-1073).

import (
	"net"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// endpointTypeController is DescribeCluster's endpoint_type for controllers.
const endpointTypeController = 2

func init() {
	registerController(handler{key: 60, min: 0, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeClusterController(c, r.(*kmsg.DescribeClusterRequest)), nil
	}})
}

func (s *Server) handleDescribeClusterController(c *conn, req *kmsg.DescribeClusterRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = req.EndpointType
	if req.Version < 1 || req.EndpointType != endpointTypeController {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := "The request was sent to an endpoint of type CONTROLLER, but we wanted an endpoint of type BROKER"
		resp.ErrorMessage = &msg
		return resp
	}
	resp.ClusterID = s.cfg.ClusterID
	resp.ControllerID, _ = s.deps.Controller.ActiveController()
	resp.ClusterAuthorizedOperations = authorizedOpsUnset
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = c.clusterAuthorizedOperations()
	}
	voters := s.deps.Controller.QuorumVoters()
	ids := make([]int32, 0, len(voters))
	for id := range voters {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		host, port, err := net.SplitHostPort(voters[id])
		if err != nil {
			continue
		}
		p, _ := strconv.Atoi(port)
		b := kmsg.NewDescribeClusterResponseBroker()
		b.NodeID, b.Host, b.Port = id, host, int32(p)
		resp.Brokers = append(resp.Brokers, b)
	}
	return resp
}
