package server

// AlterClientQuotas (key 49), versions 0-1 (KIP-546): set or remove the
// quota configs of entities (users, client ids, both, IPs, or their
// <default>s). The active controller checks each entity alone and
// commits the changes as ClientQuotaRecords (controller/quotas.go);
// validate_only checks without committing. A broker of a controller
// quorum forwards the request to the active controller, retrying while an
// entry says NOT_CONTROLLER (as forward.go does for the other admin
// requests); the controller listener serves it too.
//
//	v0: initial.   v1: flexible.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/quota"
)

func init() {
	h := handler{key: 49, min: 0, max: 1, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAlterClientQuotas(c.ctx, r.(*kmsg.AlterClientQuotasRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (s *Server) handleAlterClientQuotas(ctx context.Context, req *kmsg.AlterClientQuotasRequest) kmsg.Response {
	if s.deps.Forwarder != nil && !s.cfg.ControllerEndpoint {
		return s.forwardClientQuotas(ctx, req)
	}
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	alts := make([]controller.QuotaAlteration, 0, len(req.Entries))
	for _, e := range req.Entries {
		var a controller.QuotaAlteration
		for _, en := range e.Entity {
			a.Entity = append(a.Entity, quota.Component{Type: en.Type, Name: en.Name})
		}
		for _, op := range e.Ops {
			a.Ops = append(a.Ops, controller.QuotaOp{Key: op.Key, Value: op.Value, Remove: op.Remove})
		}
		alts = append(alts, a)
	}
	for i, r := range s.deps.Controller.AlterClientQuotas(alts, req.ValidateOnly) {
		resp.Entries = append(resp.Entries, alterQuotasEntry(req.Entries[i].Entity, codeOf(r.Err), messageOf(r.Err)))
	}
	return resp
}

func alterQuotasEntry(entity []kmsg.AlterClientQuotasRequestEntryEntity, code int16, msg *string) kmsg.AlterClientQuotasResponseEntry {
	re := kmsg.NewAlterClientQuotasResponseEntry()
	re.ErrorCode, re.ErrorMessage = code, msg
	for _, en := range entity {
		x := kmsg.NewAlterClientQuotasResponseEntryEntity()
		x.Type, x.Name = en.Type, en.Name
		re.Entity = append(re.Entity, x)
	}
	return re
}

// forwardClientQuotas relays req to the active controller until a
// response without NOT_CONTROLLER arrives or Config.ForwardTimeout passes
// (then every entry gets REQUEST_TIMED_OUT).
func (s *Server) forwardClientQuotas(ctx context.Context, req *kmsg.AlterClientQuotasRequest) kmsg.Response {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ForwardTimeout)
	defer cancel()
	backoff := forwardBackoff
	for {
		resp, err := s.deps.Forwarder.Forward(ctx, req)
		if err == nil {
			r := resp.(*kmsg.AlterClientQuotasResponse)
			retry := false
			for _, e := range r.Entries {
				retry = retry || e.ErrorCode == kerr.NotController.Code
			}
			if !retry {
				return r
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			s.log.Warn("no active controller answered a forwarded request", "api", "AlterClientQuotas")
			out := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
			for _, e := range req.Entries {
				out.Entries = append(out.Entries, alterQuotasEntry(e.Entity, kerr.RequestTimedOut.Code, nil))
			}
			return out
		case <-t.C:
		}
		backoff = min(2*backoff, forwardBackoffMax)
	}
}
