package server

// AlterUserScramCredentials (key 51), version 0 (KIP-554): set or delete
// users' SCRAM credentials. The client salts the password
// (salted_password = Hi(password, salt, iterations)); the controller
// derives the stored and server keys and commits them to the metadata
// log (controller/scram.go), so every broker can authenticate the user.
// A broker of a controller quorum forwards the request to the active
// controller, retrying while results say NOT_CONTROLLER (forward.go);
// the controller listener serves it too.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
)

func init() {
	h := handler{key: 51, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAlterUserScramCredentials(r.(*kmsg.AlterUserSCRAMCredentialsRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (s *Server) handleAlterUserScramCredentials(req *kmsg.AlterUserSCRAMCredentialsRequest) kmsg.Response {
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
