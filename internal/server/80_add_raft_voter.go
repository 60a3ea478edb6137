package server

// AddRaftVoter (key 80), versions 0-1 (KIP-853; kafka-metadata-quorum.sh
// add-controller): the Raft leader adds a controller to a dynamic
// quorum's voters (controller.AddRaftVoter: learner, caught up,
// promoted) and answers once the change is committed.
//
//	v0: cluster_id, timeout_ms, voter id, directory id and listeners.
//	v1: ack_when_committed (KIP-1186): false lets the leader answer once
//	    the change is written locally. Gregor always answers after the
//	    commit, which satisfies both.
//
// Of the voter's listeners the quorum keeps the one named like the
// controller listener the request came in on (Kafka: the leader's
// controller listener); none such is INVALID_REQUEST. Served on
// controller listeners, and on broker listeners of a quorum node, which
// forward it to the active controller (Kafka's KafkaApis forwards it):
// retried while no controller answers or the one asked does not lead,
// until the request's timeout.

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	registerController(handler{key: 80, min: 0, max: 1, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAddRaftVoter(c, r.(*kmsg.AddRaftVoterRequest)), nil
	}})
	register(handler{key: 80, min: 0, max: 1, quorumOnly: true, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		req := r.(*kmsg.AddRaftVoterRequest)
		return s.forwardRaftVoter(c.ctx, req, voterTimeout(req.TimeoutMillis)), nil
	}})
}

// defaultVoterTimeout bounds a voter change whose request names no
// timeout (AddRaftVoter's timeout_ms default).
const defaultVoterTimeout = 15 * time.Second

func voterTimeout(ms int32) time.Duration {
	if ms <= 0 {
		return defaultVoterTimeout
	}
	return time.Duration(ms) * time.Millisecond
}

func (s *Server) handleAddRaftVoter(c *conn, req *kmsg.AddRaftVoterRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AddRaftVoterResponse)
	if req.ClusterID != nil && *req.ClusterID != s.cfg.ClusterID {
		resp.ErrorCode = kerr.InconsistentClusterID.Code
		return resp
	}
	name := s.controllerListenerName(c)
	v := controller.Voter{ID: req.VoterID, DirectoryID: req.VoterDirectoryID, Listener: name}
	for _, l := range req.Listeners {
		if l.Name == name {
			v.Addr = net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
			break
		}
	}
	if v.Addr == "" {
		resp.ErrorCode = kerr.InvalidRequest.Code
		msg := "Provided listeners " + listenerNames(req.Listeners) + " do not contain a listener for " + name
		resp.ErrorMessage = &msg
		return resp
	}
	ctx, cancel := context.WithTimeout(c.ctx, voterTimeout(req.TimeoutMillis))
	defer cancel()
	if err := s.deps.Controller.AddRaftVoter(ctx, v); err != nil {
		resp.ErrorCode, resp.ErrorMessage = codeOf(err), messageOf(err)
	}
	return resp
}

func listenerNames(ls []kmsg.AddRaftVoterRequestListener) string {
	out := "["
	for i, l := range ls {
		if i > 0 {
			out += ", "
		}
		out += l.Name + "://" + net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
	}
	return out + "]"
}

// forwardRaftVoter relays AddRaftVoter or RemoveRaftVoter from a broker
// listener to the active controller, retrying while none answers or the
// one asked is not the Raft leader, for at most timeout (no less than
// Config.ForwardTimeout); then REQUEST_TIMED_OUT (forward.go).
func (s *Server) forwardRaftVoter(ctx context.Context, req kmsg.Request, timeout time.Duration) kmsg.Response {
	return s.forwardWithin(ctx, req, max(timeout, s.cfg.ForwardTimeout), func() kmsg.Response {
		return failedResponse(req, kerr.RequestTimedOut)
	})
}
