package server

// DescribeUserScramCredentials (key 50), version 0 (KIP-554): the SCRAM
// mechanisms and iteration counts of users, never the credentials. No
// users (null or empty) describes every user with a credential. A user
// named twice gets DUPLICATE_RESOURCE, a user without credentials
// RESOURCE_NOT_FOUND (Kafka's ScramImage.describe). Answered by brokers
// from their metadata image.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(handler{key: 50, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeUserScramCredentials(r.(*kmsg.DescribeUserSCRAMCredentialsRequest)), nil
	}})
}

func (s *Server) handleDescribeUserScramCredentials(req *kmsg.DescribeUserSCRAMCredentialsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	im := s.image()
	var users []string
	dup := map[string]bool{}
	if len(req.Users) == 0 {
		users = im.ScramUsers()
	} else {
		for _, u := range req.Users {
			if _, seen := dup[u.Name]; seen {
				dup[u.Name] = true
				continue
			}
			dup[u.Name] = false
			users = append(users, u.Name)
		}
	}
	for _, u := range users {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = u
		mechs, iters := im.ScramMechanisms(u)
		switch {
		case dup[u]:
			r.ErrorCode = kerr.DuplicateResource.Code
			r.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + u)
		case len(mechs) == 0:
			r.ErrorCode = kerr.ResourceNotFound.Code
			r.ErrorMessage = kmsg.StringPtr("Attempt to describe a user credential that does not exist: " + u)
		default:
			for i, m := range mechs {
				ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				ci.Mechanism, ci.Iterations = m, iters[i]
				r.CredentialInfos = append(r.CredentialInfos, ci)
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return resp
}
