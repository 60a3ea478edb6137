package server

// CreateDelegationToken (key 38), versions 1-3 (Kafka 4.0 removed v0,
// KIP-896).
//
//	v1: throttles after the response (KIP-219).
//	v2: flexible.
//	v3: owner_principal_type/name in the request: create for another
//	    owner with CREATE_TOKENS on that User (KIP-373); the token
//	    requester in the response.
//
// Only a client that authenticated with SASL, and not with a delegation
// token, may ask (else DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, Kafka's
// KafkaApis.allowTokenRequests); with delegation.token.secret.key unset
// the answer is DELEGATION_TOKEN_AUTH_DISABLED. The active controller
// decides (controller/delegation_tokens.go); a broker of a controller
// quorum relays the request to it in an Envelope that carries the
// client's principal (58_envelope.go). The same rules apply to
// RenewDelegationToken (39), ExpireDelegationToken (40) and
// DescribeDelegationToken (41).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/security"
)

func init() {
	h := handler{key: 38, min: 1, max: 3, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleCreateDelegationToken(c, r.(*kmsg.CreateDelegationTokenRequest)), nil
	}}
	register(h)
	registerController(h)
}

// tokenRequester is who asks for a delegation token operation: a
// connection's session, or the principal an Envelope carries.
type tokenRequester struct {
	principal          security.Principal
	tokenAuthenticated bool
	// sasl: the client authenticated with SASL.
	sasl bool
}

func (c *conn) tokenRequester() tokenRequester {
	return tokenRequester{principal: c.session.Principal, tokenAuthenticated: c.session.TokenAuthenticated, sasl: c.session.Protocol.UsesSASL()}
}

// allowed is Kafka's allowTokenRequests: SASL, and not with a token.
func (w tokenRequester) allowed() bool { return w.sasl && !w.tokenAuthenticated }

// requestPrincipal is a principal a request names; an empty type means
// User.
func requestPrincipal(typ *string, name string) security.Principal {
	if typ == nil || *typ == "" {
		return security.User(name)
	}
	return security.Principal{Type: *typ, Name: name}
}

func (s *Server) handleCreateDelegationToken(c *conn, req *kmsg.CreateDelegationTokenRequest) kmsg.Response {
	who := c.tokenRequester()
	owner := createTokenOwner(who, req)
	if !who.allowed() {
		return createTokenError(req, owner, who.principal, kerr.DelegationTokenRequestNotAllowed)
	}
	if owner != who.principal && !c.authorized(acl.OpCreateTokens, acl.ResourceUser, owner.String()) {
		return createTokenError(req, owner, who.principal, kerr.DelegationTokenAuthorizationFailed)
	}
	if s.forwardsToController() {
		return s.forwardEnveloped(c.ctx, who, c.session.ClientAddress, req, func() kmsg.Response {
			return createTokenError(req, owner, who.principal, kerr.RequestTimedOut)
		})
	}
	return s.createDelegationToken(who, req)
}

// createTokenOwner is the owner the request names (v3), else the
// requester.
func createTokenOwner(who tokenRequester, req *kmsg.CreateDelegationTokenRequest) security.Principal {
	if req.OwnerPrincipalName != nil && *req.OwnerPrincipalName != "" {
		return requestPrincipal(req.OwnerPrincipalType, *req.OwnerPrincipalName)
	}
	return who.principal
}

// createDelegationToken has the controller create the token.
func (s *Server) createDelegationToken(who tokenRequester, req *kmsg.CreateDelegationTokenRequest) kmsg.Response {
	owner := createTokenOwner(who, req)
	if who.tokenAuthenticated {
		return createTokenError(req, owner, who.principal, kerr.DelegationTokenRequestNotAllowed)
	}
	renewers := make([]string, 0, len(req.Renewers))
	for _, r := range req.Renewers {
		renewers = append(renewers, requestPrincipal(&r.PrincipalType, r.PrincipalName).String())
	}
	created, err := s.deps.Controller.CreateDelegationToken(owner.String(), who.principal.String(), renewers, req.MaxLifetimeMillis)
	resp := createTokenError(req, owner, who.principal, nil)
	if err != nil {
		resp.ErrorCode = codeOf(err)
		return resp
	}
	t := created.Token
	resp.IssueTimestamp, resp.ExpiryTimestamp, resp.MaxTimestamp = t.IssueTimestamp, t.ExpirationTimestamp, t.MaxTimestamp
	resp.TokenID, resp.HMAC = t.TokenID, created.HMAC
	return resp
}

// createTokenError is a response with the owner and requester and code
// (nil: none), as Kafka's CreateDelegationTokenResponse.prepareResponse.
func createTokenError(req *kmsg.CreateDelegationTokenRequest, owner, requester security.Principal, code *kerr.Error) *kmsg.CreateDelegationTokenResponse {
	resp := req.ResponseKind().(*kmsg.CreateDelegationTokenResponse)
	if code != nil {
		resp.ErrorCode = code.Code
	}
	resp.PrincipalType, resp.PrincipalName = owner.Type, owner.Name
	resp.TokenRequesterPrincipalType, resp.TokenRequesterPrincipalName = requester.Type, requester.Name
	resp.HMAC = []byte{}
	return resp
}
