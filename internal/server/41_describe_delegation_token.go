package server

// DescribeDelegationToken (key 41), versions 1-3 (Kafka 4.0 removed v0,
// KIP-896).
//
//	v1: throttles after the response (KIP-219).
//	v2: flexible.
//	v3: the token requester in each token (KIP-373).
//
// Answered by brokers from their metadata image, with the HMACs they
// derive from delegation.token.secret.key. owners null lists every token
// the caller may see, an empty list none; otherwise the tokens that one
// of the owners owns or renews. The caller sees the tokens it owns or
// renews, and others with DESCRIBE on the DELEGATION_TOKEN (by token
// id) or DESCRIBE_TOKENS on the owner's USER (KIP-373); the rest are
// left out without an error (Kafka's DelegationTokenManager.filterToken).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/security"
)

func init() {
	register(handler{key: 41, min: 1, max: 3, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleDescribeDelegationToken(c, r.(*kmsg.DescribeDelegationTokenRequest)), nil
	}})
}

func (s *Server) handleDescribeDelegationToken(c *conn, req *kmsg.DescribeDelegationTokenRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeDelegationTokenResponse)
	who := c.tokenRequester()
	cfg := s.deps.Controller.DelegationTokens()
	switch {
	case !who.allowed():
		resp.ErrorCode = kerr.DelegationTokenRequestNotAllowed.Code
		return resp
	case !cfg.Enabled():
		resp.ErrorCode = kerr.DelegationTokenAuthDisabled.Code
		return resp
	case req.Owners != nil && len(req.Owners) == 0:
		return resp
	}
	var owners []string // nil: any
	for _, o := range req.Owners {
		owners = append(owners, requestPrincipal(&o.PrincipalType, o.PrincipalName).String())
	}
	me := who.principal.String()
	for _, t := range s.image().DelegationTokens() {
		if !describable(c, me, owners, t) {
			continue
		}
		d := kmsg.NewDescribeDelegationTokenResponseTokenDetail()
		owner, _ := security.ParsePrincipal(t.Owner)
		requester, _ := security.ParsePrincipal(t.Requester)
		d.PrincipalType, d.PrincipalName = owner.Type, owner.Name
		d.TokenRequesterPrincipalType, d.TokenRequesterPrincipalName = requester.Type, requester.Name
		d.IssueTimestamp, d.ExpiryTimestamp, d.MaxTimestamp = t.IssueTimestamp, t.ExpirationTimestamp, t.MaxTimestamp
		d.TokenID = t.TokenID
		d.HMAC = security.DelegationTokenHMAC(cfg.SecretKey, t.TokenID)
		for _, r := range t.Renewers {
			p, _ := security.ParsePrincipal(r)
			rr := kmsg.NewDescribeDelegationTokenResponseTokenDetailRenewer()
			rr.PrincipalType, rr.PrincipalName = p.Type, p.Name
			d.Renewers = append(d.Renewers, rr)
		}
		resp.TokenDetails = append(resp.TokenDetails, d)
	}
	return resp
}

// describable is Kafka's DelegationTokenManager.filterToken.
func describable(c *conn, me string, owners []string, t metadata.DelegationToken) bool {
	ownerOrRenewer := func(p string) bool { return t.Owner == p || slices.Contains(t.Renewers, p) }
	if owners != nil && !slices.ContainsFunc(owners, ownerOrRenewer) {
		return false
	}
	return ownerOrRenewer(me) ||
		c.authorized(acl.OpDescribe, acl.ResourceDelegationToken, t.TokenID) ||
		c.authorized(acl.OpDescribeTokens, acl.ResourceUser, t.Owner)
}
