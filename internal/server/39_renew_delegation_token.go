package server

// RenewDelegationToken (key 39), versions 1-2 (Kafka 4.0 removed v0,
// KIP-896).
//
//	v1: throttles after the response (KIP-219).
//	v2: flexible.
//
// The token's owner or a renewer extends the token named by its HMAC by
// renew_period_ms (-1: delegation.token.expiry.time.ms), never past its
// max timestamp; the response carries the new expiry. Errors:
// DELEGATION_TOKEN_NOT_FOUND, DELEGATION_TOKEN_EXPIRED,
// DELEGATION_TOKEN_OWNER_MISMATCH, and those of
// 38_create_delegation_token.go for who may ask.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	h := handler{key: 39, min: 1, max: 2, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleRenewDelegationToken(c, r.(*kmsg.RenewDelegationTokenRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (s *Server) handleRenewDelegationToken(c *conn, req *kmsg.RenewDelegationTokenRequest) kmsg.Response {
	who := c.tokenRequester()
	if !who.allowed() {
		return renewTokenError(req, kerr.DelegationTokenRequestNotAllowed)
	}
	if s.forwardsToController() {
		return s.forwardEnveloped(c.ctx, who, c.session.ClientAddress, req, func() kmsg.Response {
			return renewTokenError(req, kerr.RequestTimedOut)
		})
	}
	return s.renewDelegationToken(who, req)
}

// renewDelegationToken has the controller renew the token.
func (s *Server) renewDelegationToken(who tokenRequester, req *kmsg.RenewDelegationTokenRequest) kmsg.Response {
	if who.tokenAuthenticated {
		return renewTokenError(req, kerr.DelegationTokenRequestNotAllowed)
	}
	resp := req.ResponseKind().(*kmsg.RenewDelegationTokenResponse)
	expiry, err := s.deps.Controller.RenewDelegationToken(req.HMAC, who.principal.String(), req.RenewTimeMillis)
	resp.ErrorCode, resp.ExpiryTimestamp = codeOf(err), expiry
	return resp
}

func renewTokenError(req *kmsg.RenewDelegationTokenRequest, code *kerr.Error) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.RenewDelegationTokenResponse)
	resp.ErrorCode = code.Code
	return resp
}
