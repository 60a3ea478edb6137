package server

// ExpireDelegationToken (key 40), versions 1-2 (Kafka 4.0 removed v0,
// KIP-896).
//
//	v1: throttles after the response (KIP-219).
//	v2: flexible.
//
// The token's owner or a renewer sets the expiry of the token named by
// its HMAC to expiry_time_period_ms from now (capped by its max
// timestamp); a negative period expires it at once, and the controller
// removes it. Errors as RenewDelegationToken (39).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	h := handler{key: 40, min: 1, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleExpireDelegationToken(c, r.(*kmsg.ExpireDelegationTokenRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (s *Server) handleExpireDelegationToken(c *conn, req *kmsg.ExpireDelegationTokenRequest) kmsg.Response {
	who := c.tokenRequester()
	if !who.allowed() {
		return expireTokenError(req, kerr.DelegationTokenRequestNotAllowed)
	}
	if s.forwardsToController() {
		return s.forwardEnveloped(c.ctx, who, c.session.ClientAddress, req, func() kmsg.Response {
			return expireTokenError(req, kerr.RequestTimedOut)
		})
	}
	return s.expireDelegationToken(who, req)
}

// expireDelegationToken has the controller expire the token.
func (s *Server) expireDelegationToken(who tokenRequester, req *kmsg.ExpireDelegationTokenRequest) kmsg.Response {
	if who.tokenAuthenticated {
		return expireTokenError(req, kerr.DelegationTokenRequestNotAllowed)
	}
	resp := req.ResponseKind().(*kmsg.ExpireDelegationTokenResponse)
	expiry, err := s.deps.Controller.ExpireDelegationToken(req.HMAC, who.principal.String(), req.ExpiryPeriodMillis)
	resp.ErrorCode, resp.ExpiryTimestamp = codeOf(err), expiry
	return resp
}

func expireTokenError(req *kmsg.ExpireDelegationTokenRequest, code *kerr.Error) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ExpireDelegationTokenResponse)
	resp.ErrorCode = code.Code
	return resp
}
