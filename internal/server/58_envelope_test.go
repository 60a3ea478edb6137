package server

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/security"
)

// wireForwarder hands an Envelope, encoded and decoded as on the wire,
// to a controller-side Server's handler.
type wireForwarder struct{ ctl *Server }

func (f wireForwarder) Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	env := kmsg.NewPtrEnvelopeRequest()
	if err := env.ReadFrom(req.AppendTo(nil)); err != nil {
		return nil, err
	}
	resp := f.ctl.handleEnvelope(env)
	out := kmsg.NewPtrEnvelopeResponse()
	if err := out.ReadFrom(resp.AppendTo(nil)); err != nil {
		return nil, err
	}
	return out, nil
}

// A broker relays the token requests in an Envelope that carries the
// client's principal (KIP-590): the controller creates the token for
// that principal, and renews and expires it for its owner only.
func TestEnvelopedTokenRequests(t *testing.T) {
	j, err := metadata.OpenFileJournal(filepath.Join(t.TempDir(), "meta"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctl, err := controller.Open(controller.Config{NodeID: 1, DelegationTokens: controller.DelegationTokenConfig{SecretKey: "k"}}, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	log := slog.New(slog.DiscardHandler)
	ctlServer := &Server{log: log, deps: Deps{Controller: ctl}}
	broker := &Server{log: log, cfg: Config{ForwardTimeout: time.Minute}, deps: Deps{Forwarder: wireForwarder{ctlServer}}}
	alice := tokenRequester{principal: security.User("alice"), sasl: true}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}
	timedOut := func() kmsg.Response { t.Fatal("timed out"); return nil }

	for v := int16(1); v <= 3; v++ {
		req := kmsg.NewPtrCreateDelegationTokenRequest()
		req.Version = v
		r := kmsg.NewCreateDelegationTokenRequestRenewer()
		r.PrincipalType, r.PrincipalName = "User", "bob"
		req.Renewers = append(req.Renewers, r)
		resp := broker.forwardEnveloped(t.Context(), alice, addr, req, timedOut).(*kmsg.CreateDelegationTokenResponse)
		if resp.ErrorCode != 0 || resp.PrincipalName != "alice" || resp.TokenID == "" || len(resp.HMAC) != 64 {
			t.Fatalf("v%d create: %+v", v, resp)
		}
		tok, ok := ctl.Image().DelegationToken(resp.TokenID)
		if !ok || tok.Owner != "User:alice" || tok.Requester != "User:alice" || len(tok.Renewers) != 1 || tok.Renewers[0] != "User:bob" {
			t.Fatalf("v%d token %+v %v", v, tok, ok)
		}
		carol := tokenRequester{principal: security.User("carol"), sasl: true}
		renew := kmsg.NewPtrRenewDelegationTokenRequest()
		renew.Version, renew.HMAC, renew.RenewTimeMillis = min(v, 2), resp.HMAC, -1
		if got := broker.forwardEnveloped(t.Context(), carol, addr, renew, timedOut).(*kmsg.RenewDelegationTokenResponse); got.ErrorCode != kerr.DelegationTokenOwnerMismatch.Code {
			t.Errorf("v%d renew by carol: %v", v, kerr.ErrorForCode(got.ErrorCode))
		}
		// The token-authenticated flag travels too.
		asToken := tokenRequester{principal: security.User("bob"), tokenAuthenticated: true, sasl: true}
		if got := broker.forwardEnveloped(t.Context(), asToken, addr, renew, timedOut).(*kmsg.RenewDelegationTokenResponse); got.ErrorCode != kerr.DelegationTokenRequestNotAllowed.Code {
			t.Errorf("v%d renew with a token: %v", v, kerr.ErrorForCode(got.ErrorCode))
		}
		expire := kmsg.NewPtrExpireDelegationTokenRequest()
		expire.Version, expire.HMAC, expire.ExpiryPeriodMillis = min(v, 2), resp.HMAC, -1
		if got := broker.forwardEnveloped(t.Context(), tokenRequester{principal: security.User("bob"), sasl: true}, addr, expire, timedOut).(*kmsg.ExpireDelegationTokenResponse); got.ErrorCode != 0 {
			t.Errorf("v%d expire by the renewer: %v", v, kerr.ErrorForCode(got.ErrorCode))
		}
		if _, ok := ctl.Image().DelegationToken(resp.TokenID); ok {
			t.Errorf("v%d: token not removed", v)
		}
	}

	// Only the token requests may be enveloped.
	env := kmsg.NewPtrEnvelopeRequest()
	env.RequestData = kmsg.NewRequestFormatter().AppendRequest(nil, kmsg.NewPtrMetadataRequest(), 7)[4:]
	env.RequestPrincipal = (&kmsg.DefaultPrincipalData{Type: "User", Name: "alice"}).AppendTo(nil)
	if got := ctlServer.handleEnvelope(env).(*kmsg.EnvelopeResponse); got.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("enveloped Metadata: %v", kerr.ErrorForCode(got.ErrorCode))
	}
	old := kmsg.NewPtrCreateDelegationTokenRequest()
	old.Version = 0 // removed in Kafka 4.0
	env.RequestData = kmsg.NewRequestFormatter().AppendRequest(nil, old, 7)[4:]
	if got := ctlServer.handleEnvelope(env).(*kmsg.EnvelopeResponse); got.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("enveloped CreateDelegationToken v0: %v", kerr.ErrorForCode(got.ErrorCode))
	}
	env.RequestData = []byte{0, 38}
	if got := ctlServer.handleEnvelope(env).(*kmsg.EnvelopeResponse); got.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("truncated request: %v", kerr.ErrorForCode(got.ErrorCode))
	}
}

// FuzzDecodeEnveloped: any request data decodes or fails without
// panicking, and what decodes re-encodes to a request of the same key
// and version.
func FuzzDecodeEnveloped(f *testing.F) {
	for _, r := range []kmsg.Request{kmsg.NewPtrCreateDelegationTokenRequest(), kmsg.NewPtrRenewDelegationTokenRequest(), kmsg.NewPtrMetadataRequest()} {
		r.SetVersion(r.MaxVersion())
		f.Add(kmsg.NewRequestFormatter(kmsg.FormatterClientID("c")).AppendRequest(nil, r, 1)[4:])
	}
	f.Add([]byte{0, 38, 0, 3, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		req, _, err := decodeEnveloped(data)
		if err != nil {
			return
		}
		back, _, err := decodeEnveloped(kmsg.NewRequestFormatter().AppendRequest(nil, req, 0)[4:])
		if err != nil || back.Key() != req.Key() || back.GetVersion() != req.GetVersion() {
			t.Fatalf("re-encoded %s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
		}
	})
}
