package server

// Envelope (key 58), version 0 (KIP-590): a broker relays a client's
// request to the active controller together with the client's principal
// and address, and the controller answers it as if that client had sent
// it on its own listener. Gregor forwards most admin requests bare
// (forward.go), because the broker has authorized them; it uses the
// Envelope for the requests whose outcome depends on who asks: the
// delegation token requests CreateDelegationToken (38),
// RenewDelegationToken (39) and ExpireDelegationToken (40).
//
//	EnvelopeRequest   request_data        = request header + request body
//	                  request_principal   = DefaultPrincipalData v0
//	                                        {type, name, token_authenticated}
//	                  client_host_address = the client's IP, 4 or 16 bytes
//	EnvelopeResponse  response_data       = response header + response body
//	                  error_code          = NOT_CONTROLLER when the inner
//	                                        response says so (the broker retries)
//
// Served on controller listeners only, to principals with CLUSTER_ACTION
// on the CLUSTER; an inner request of another API, or that does not
// decode, is INVALID_REQUEST, one at a version the controller does not
// serve UNSUPPORTED_VERSION.

import (
	"context"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/protocol"
	"github.com/gregor-streaming/gregor/internal/security"
)

const envelopeKey = 58

func init() {
	registerController(handler{key: envelopeKey, min: 0, max: 0, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleEnvelope(r.(*kmsg.EnvelopeRequest)), nil
	}})
}

// envelopedKeys are the requests a controller answers inside an
// Envelope, each with the handler that decides it for a requester.
var envelopedKeys = map[int16]func(s *Server, who tokenRequester, req kmsg.Request) kmsg.Response{
	38: func(s *Server, who tokenRequester, req kmsg.Request) kmsg.Response {
		return s.createDelegationToken(who, req.(*kmsg.CreateDelegationTokenRequest))
	},
	39: func(s *Server, who tokenRequester, req kmsg.Request) kmsg.Response {
		return s.renewDelegationToken(who, req.(*kmsg.RenewDelegationTokenRequest))
	},
	40: func(s *Server, who tokenRequester, req kmsg.Request) kmsg.Response {
		return s.expireDelegationToken(who, req.(*kmsg.ExpireDelegationTokenRequest))
	},
}

func (s *Server) handleEnvelope(env *kmsg.EnvelopeRequest) kmsg.Response {
	resp := env.ResponseKind().(*kmsg.EnvelopeResponse)
	req, corr, err := decodeEnveloped(env.RequestData)
	var pd kmsg.DefaultPrincipalData
	if err == nil {
		err = pd.ReadFrom(env.RequestPrincipal)
	}
	var decide func(*Server, tokenRequester, kmsg.Request) kmsg.Response
	if err == nil {
		if decide = envelopedKeys[req.Key()]; decide == nil {
			err = fmt.Errorf("server: %s cannot be enveloped", kmsg.NameForKey(req.Key()))
		} else if h := controllerHandlers[req.Key()]; h == nil || req.GetVersion() < h.min || req.GetVersion() > h.max {
			s.log.Info("refusing an envelope", "api", kmsg.NameForKey(req.Key()), "version", req.GetVersion())
			resp.ErrorCode = kerr.UnsupportedVersion.Code
			return resp
		}
	}
	if err != nil {
		s.log.Info("refusing an envelope", "err", err)
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	// The broker has checked that the client authenticated with SASL.
	who := tokenRequester{principal: security.Principal{Type: pd.Type, Name: pd.Name}, tokenAuthenticated: pd.TokenAuthenticated, sasl: true}
	inner := decide(s, who, req)
	if innerNotController(inner) {
		resp.ErrorCode = kerr.NotController.Code
	}
	b := protocol.AppendResponseHeader(nil, corr, inner.IsFlexible())
	resp.ResponseData = inner.AppendTo(b)[4:] // no size prefix
	return resp
}

// innerNotController reports whether a delegation token response says
// this controller is not the active one.
func innerNotController(resp kmsg.Response) bool {
	nc := kerr.NotController.Code
	switch r := resp.(type) {
	case *kmsg.CreateDelegationTokenResponse:
		return r.ErrorCode == nc
	case *kmsg.RenewDelegationTokenResponse:
		return r.ErrorCode == nc
	case *kmsg.ExpireDelegationTokenResponse:
		return r.ErrorCode == nc
	}
	return false
}

// decodeEnveloped decodes an Envelope's request data: a request header
// and body.
func decodeEnveloped(data []byte) (kmsg.Request, int32, error) {
	h, err := protocol.PeekHeader(data)
	if err != nil {
		return nil, 0, err
	}
	req := kmsg.RequestForKey(h.APIKey)
	if req == nil {
		return nil, 0, fmt.Errorf("server: enveloped request of unknown key %d", h.APIKey)
	}
	req.SetVersion(h.APIVersion)
	_, body, err := protocol.ParseHeader(data, req.IsFlexible())
	if err != nil {
		return nil, 0, err
	}
	if err := req.ReadFrom(body); err != nil {
		return nil, 0, fmt.Errorf("server: enveloped %s: %w", kmsg.NameForKey(h.APIKey), err)
	}
	return req, h.CorrelationID, nil
}

// forwardEnveloped relays req, sent by who from addr, to the active
// controller in an Envelope (forwardWithin) and returns the
// controller's response to req; after Config.ForwardTimeout without an
// answer it returns timedOut(). Only for a server for which
// forwardsToController is true.
func (s *Server) forwardEnveloped(ctx context.Context, who tokenRequester, addr net.Addr, req kmsg.Request, timedOut func() kmsg.Response) kmsg.Response {
	env := kmsg.NewPtrEnvelopeRequest()
	env.RequestData = kmsg.NewRequestFormatter(kmsg.FormatterClientID("gregor-broker")).AppendRequest(nil, req, 0)[4:]
	pd := kmsg.DefaultPrincipalData{Type: who.principal.Type, Name: who.principal.Name, TokenAuthenticated: who.tokenAuthenticated}
	env.RequestPrincipal = pd.AppendTo(nil)
	if ta, ok := addr.(*net.TCPAddr); ok {
		if ip4 := ta.IP.To4(); ip4 != nil {
			env.ClientHostAddress = ip4
		} else {
			env.ClientHostAddress = ta.IP
		}
	}
	failed := false
	out := s.forwardWithin(ctx, env, s.cfg.ForwardTimeout, func() kmsg.Response {
		failed = true
		return nil
	})
	if failed {
		return timedOut()
	}
	er := out.(*kmsg.EnvelopeResponse)
	if er.ErrorCode != 0 {
		s.log.Warn("the controller refused an envelope", "api", kmsg.NameForKey(req.Key()), "err", kerr.ErrorForCode(er.ErrorCode))
		return timedOut()
	}
	resp := req.ResponseKind()
	body := er.ResponseData
	skip := 4 // correlation id
	if resp.IsFlexible() {
		skip++ // empty tag section
	}
	if len(body) < skip {
		s.log.Warn("short enveloped response", "api", kmsg.NameForKey(req.Key()))
		return timedOut()
	}
	if err := resp.ReadFrom(body[skip:]); err != nil {
		s.log.Warn("bad enveloped response", "api", kmsg.NameForKey(req.Key()), "err", err)
		return timedOut()
	}
	return resp
}
