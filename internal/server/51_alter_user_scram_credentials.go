package server

// AlterUserScramCredentials (key 51), version 0 (KIP-554): set or delete
// users' SCRAM credentials. The client salts the password
// (salted_password = Hi(password, salt, iterations)); the controller
// derives the stored and server keys and commits them to the metadata
// log (controller/scram.go), so every broker can authenticate the user.
// A broker of a controller quorum forwards the request to the active
// controller, retrying while results say NOT_CONTROLLER (as forward.go
// does for the other admin requests); the controller listener serves it
// too.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	h := handler{key: 51, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAlterUserScramCredentials(c.ctx, r.(*kmsg.AlterUserSCRAMCredentialsRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (s *Server) handleAlterUserScramCredentials(ctx context.Context, req *kmsg.AlterUserSCRAMCredentialsRequest) kmsg.Response {
	if s.deps.Forwarder != nil && !s.cfg.ControllerEndpoint {
		return s.forwardScram(ctx, req)
	}
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	dels := make([]controller.ScramDeletion, 0, len(req.Deletions))
	for _, d := range req.Deletions {
		dels = append(dels, controller.ScramDeletion{User: d.Name, Mechanism: d.Mechanism})
	}
	ups := make([]controller.ScramUpsertion, 0, len(req.Upsertions))
	for _, u := range req.Upsertions {
		ups = append(ups, controller.ScramUpsertion{User: u.Name, Mechanism: u.Mechanism, Iterations: u.Iterations, Salt: u.Salt, SaltedPassword: u.SaltedPassword})
	}
	for _, r := range s.deps.Controller.AlterUserScramCredentials(dels, ups) {
		rr := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		rr.User, rr.ErrorCode, rr.ErrorMessage = r.User, codeOf(r.Err), messageOf(r.Err)
		resp.Results = append(resp.Results, rr)
	}
	return resp
}

// forwardScram relays req to the active controller until a response
// without NOT_CONTROLLER arrives or Config.ForwardTimeout passes (then
// every user gets REQUEST_TIMED_OUT).
func (s *Server) forwardScram(ctx context.Context, req *kmsg.AlterUserSCRAMCredentialsRequest) kmsg.Response {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ForwardTimeout)
	defer cancel()
	backoff := forwardBackoff
	for {
		resp, err := s.deps.Forwarder.Forward(ctx, req)
		if err == nil {
			r := resp.(*kmsg.AlterUserSCRAMCredentialsResponse)
			retry := false
			for _, res := range r.Results {
				retry = retry || res.ErrorCode == kerr.NotController.Code
			}
			if !retry {
				return r
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			s.log.Warn("no active controller answered a forwarded request", "api", "AlterUserScramCredentials")
			out := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
			seen := map[string]bool{}
			add := func(user string) {
				if !seen[user] {
					seen[user] = true
					rr := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
					rr.User, rr.ErrorCode = user, kerr.RequestTimedOut.Code
					out.Results = append(out.Results, rr)
				}
			}
			for _, d := range req.Deletions {
				add(d.Name)
			}
			for _, u := range req.Upsertions {
				add(u.Name)
			}
			return out
		case <-t.C:
		}
		backoff = min(2*backoff, forwardBackoffMax)
	}
}
