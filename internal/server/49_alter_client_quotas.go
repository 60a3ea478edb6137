package server

// AlterClientQuotas (key 49), versions 0-1 (KIP-546): set or remove the
// quota configs of entities (users, client ids, both, IPs, or their
// <default>s). The active controller checks each entity alone and
// commits the changes as ClientQuotaRecords (controller/quotas.go);
// validate_only checks without committing. A broker of a controller
// quorum forwards the request to the active controller, retrying while an
// entry says NOT_CONTROLLER (forward.go); the controller listener serves
// it too.
//
//	v0: initial.   v1: flexible.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/controller"
	"github.com/gregor-streaming/gregor/internal/quota"
)

func init() {
	h := handler{key: 49, min: 0, max: 1, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return s.handleAlterClientQuotas(r.(*kmsg.AlterClientQuotasRequest)), nil
	}}
	register(h)
	registerController(h)
}

func (s *Server) handleAlterClientQuotas(req *kmsg.AlterClientQuotasRequest) kmsg.Response {
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
