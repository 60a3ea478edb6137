package server

// DescribeClientQuotas (key 48), versions 0-1 (KIP-546): the quota
// configs of the entities that match a filter, answered by brokers (and
// the controller listener) from their metadata image (Kafka's
// ClientQuotasImage.describe).
//
//	v0: initial.   v1: flexible.
//
// A filter component names an entity type and matches an exact name
// (match_type 0), the <default> entity (1) or any entity that has the
// type (2); strict also requires the entity to have no other types. A
// malformed filter answers INVALID_REQUEST (or UNSUPPORTED_VERSION for an
// unknown entity type or match type) with no entries.

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/quota"
)

func init() {
	h := handler{key: 48, min: 0, max: 1, fn: func(s *Server, c *conn, r kmsg.Request) (kmsg.Response, error) {
		return describeClientQuotas(s.image(), r.(*kmsg.DescribeClientQuotasRequest)), nil
	}}
	register(h)
	registerController(h) // kafka-configs --bootstrap-controller
}

// Match types of a DescribeClientQuotas filter component.
const (
	quotaMatchExact     = 0
	quotaMatchDefault   = 1
	quotaMatchSpecified = 2
)

func describeClientQuotas(im *metadata.Image, req *kmsg.DescribeClientQuotasRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	fail := func(code *kerr.Error, msg string) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = code.Code, kmsg.StringPtr(msg)
		resp.Entries = nil
		return resp
	}
	exact := map[string]*string{} // entity type → name (nil: <default>)
	typed := map[string]bool{}
	for _, c := range req.Components {
		t := c.EntityType
		if t == "" {
			return fail(kerr.InvalidRequest, "Invalid empty entity type.")
		}
		if _, dup := exact[t]; dup || typed[t] {
			return fail(kerr.InvalidRequest, "Entity type "+t+" cannot appear more than once in the filter.")
		}
		if t != quota.EntityUser && t != quota.EntityClientID && t != quota.EntityIP {
			return fail(kerr.UnsupportedVersion, "Unsupported entity type "+t)
		}
		switch c.MatchType {
		case quotaMatchExact:
			if c.Match == nil {
				return fail(kerr.InvalidRequest, "Request specified MATCH_TYPE_EXACT, but set match string to null.")
			}
			exact[t] = c.Match
		case quotaMatchDefault:
			if c.Match != nil {
				return fail(kerr.InvalidRequest, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
			}
			exact[t] = nil
		case quotaMatchSpecified:
			if c.Match != nil {
				return fail(kerr.InvalidRequest, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
			}
			typed[t] = true
		default:
			return fail(kerr.UnsupportedVersion, "Unknown match type "+sprintf("%d", c.MatchType))
		}
	}
	has := func(t string) bool { _, ok := exact[t]; return ok || typed[t] }
	if has(quota.EntityIP) && (has(quota.EntityUser) || has(quota.EntityClientID)) {
		return fail(kerr.InvalidRequest, "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
	}
	for _, e := range im.QuotaEntities() {
		if !quotaEntityMatches(e, exact, typed, req.Strict) {
			continue
		}
		entry := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, c := range e.Components() {
			en := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			en.Type, en.Name = c.Type, c.Name
			entry.Entity = append(entry.Entity, en)
		}
		values := im.ClientQuotas(e)
		for _, k := range slices.Sorted(maps.Keys(values)) {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, values[k]
			entry.Values = append(entry.Values, v)
		}
		resp.Entries = append(resp.Entries, entry)
	}
	return resp
}

// quotaEntityMatches is ClientQuotasImage.matches.
func quotaEntityMatches(e quota.Entity, exact map[string]*string, typed map[string]bool, strict bool) bool {
	parts := map[string]quota.Part{}
	for t, p := range map[string]quota.Part{quota.EntityUser: e.User, quota.EntityClientID: e.ClientID, quota.EntityIP: e.IP} {
		if p.Present {
			parts[t] = p
		}
	}
	if strict && len(parts) != len(exact)+len(typed) {
		return false
	}
	for t, name := range exact {
		p, ok := parts[t]
		if !ok {
			return false
		}
		if name == nil {
			if !p.Default {
				return false
			}
		} else if p.Default || p.Name != *name {
			return false
		}
	}
	for t := range typed {
		if _, ok := parts[t]; !ok {
			return false
		}
	}
	return true
}
