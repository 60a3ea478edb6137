package acl

import (
	"fmt"
	"strings"
)

// Authorizer class names that enable authorization (authorizer.class.name).
const (
	StandardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
	AclAuthorizer      = "kafka.security.authorizer.AclAuthorizer"
)

// Config configures an Authorizer.
type Config struct {
	// SuperUsers are the principals allowed everything, whatever the
	// ACLs say (super.users).
	SuperUsers []string
	// AllowEveryoneIfNoACL is allow.everyone.if.no.acl.found: a resource
	// no ACL applies to is open to all.
	AllowEveryoneIfNoACL bool
}

// ParseConfig reads the broker configs of authorization. It returns a
// nil *Config when className is empty (no authorization, Kafka's
// default), and an error for a class Gregor does not implement.
// superUsers is semicolon separated ("User:admin;User:broker"), as in
// Kafka.
func ParseConfig(className, superUsers string, allowEveryoneIfNoACL bool) (*Config, error) {
	switch strings.TrimSpace(className) {
	case "":
		return nil, nil
	case StandardAuthorizer, AclAuthorizer:
	default:
		return nil, fmt.Errorf("%w: authorizer.class.name %q: Gregor implements %s", ErrConfig, className, StandardAuthorizer)
	}
	cfg := &Config{AllowEveryoneIfNoACL: allowEveryoneIfNoACL}
	for _, u := range strings.Split(superUsers, ";") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if t, _, ok := strings.Cut(u, ":"); !ok || t == "" {
			return nil, fmt.Errorf("%w: super.users: %q is not a principal (Type:name)", ErrConfig, u)
		}
		cfg.SuperUsers = append(cfg.SuperUsers, u)
	}
	return cfg, nil
}

// Authorizer decides whether a principal may perform an operation on a
// resource, given a Set of ACLs, with the semantics of Kafka's
// StandardAuthorizer:
//
//   - super users may do everything;
//   - the ACLs that apply to a resource are those of its literal name,
//     of the literal wildcard "*" and of every prefixed pattern that is
//     a prefix of the name (KIP-290); of those, an entry applies to a
//     request when its principal is the request's or User:*, and its
//     host the client's or "*";
//   - a DENY entry for the operation (or ALL) wins over any ALLOW;
//   - an ALLOW entry for the operation or ALL allows it; ALLOW READ,
//     WRITE, DELETE or ALTER also allow DESCRIBE, and ALLOW
//     ALTER_CONFIGS allows DESCRIBE_CONFIGS (DENY implies nothing);
//   - a resource no ACL at all applies to (for any principal) is open
//     to everyone with allow.everyone.if.no.acl.found, else to super
//     users only.
//
// A nil *Authorizer (authorization off) allows everything. An
// Authorizer is immutable and safe for concurrent use; it has no I/O:
// the ACLs are the Set the caller passes, the metadata image's.
type Authorizer struct {
	cfg   Config
	super map[string]bool
}

// New returns an Authorizer; a nil cfg returns nil (authorization off).
func New(cfg *Config) *Authorizer {
	if cfg == nil {
		return nil
	}
	a := &Authorizer{cfg: *cfg, super: map[string]bool{}}
	for _, u := range cfg.SuperUsers {
		a.super[u] = true
	}
	return a
}

// Enabled reports whether authorization is on.
func (a *Authorizer) Enabled() bool { return a != nil }

// IsSuperUser reports whether principal is in super.users.
func (a *Authorizer) IsSuperUser(principal string) bool { return a != nil && a.super[principal] }

// Authorize reports whether principal, connected from host (an IP
// address), may perform op on the resource of type t named name.
func (a *Authorizer) Authorize(s *Set, principal, host string, op Operation, t ResourceType, name string) bool {
	if a == nil || a.super[principal] {
		return true
	}
	found, allowed, denied := false, false, false
	s.each(t, name, func(es []entry) bool {
		found = true
		for _, e := range es {
			if !matchesPrincipal(e.principal, principal) || (e.host != Wildcard && e.host != host) {
				continue
			}
			if e.permission == Deny {
				if e.operation == OpAll || e.operation == op {
					denied = true
					return false
				}
				continue
			}
			allowed = allowed || implies(e.operation, op)
		}
		return true
	})
	switch {
	case denied:
		return false
	case !found:
		return a.cfg.AllowEveryoneIfNoACL
	}
	return allowed
}

// AuthorizeAny reports whether principal may perform op on at least one
// resource of type t (Kafka's Authorizer.authorizeByResourceType, used
// for the idempotent producer's WRITE on any topic): a super user, or
// op allowed on a resource no ACL applies to, or an ALLOW entry for op
// (or ALL) whose pattern no DENY entry covers entirely.
func (a *Authorizer) AuthorizeAny(s *Set, principal, host string, op Operation, t ResourceType) bool {
	// Kafka asks about a made-up name first: super users, and
	// allow.everyone.if.no.acl.found without ACLs that apply.
	if a.Authorize(s, principal, host, op, t, "hardcode") {
		return true
	}
	if s == nil {
		return false
	}
	var denyLiteral, denyPrefix, allowLiteral, allowPrefix []string
	for k, es := range s.byPattern {
		if k.resourceType != t {
			continue
		}
		for _, e := range es {
			if !matchesPrincipal(e.principal, principal) || (e.host != Wildcard && e.host != host) {
				continue
			}
			if e.operation != op && e.operation != OpAll {
				continue
			}
			switch {
			case e.permission == Deny && k.patternType == PatternLiteral:
				denyLiteral = append(denyLiteral, k.name)
			case e.permission == Deny:
				denyPrefix = append(denyPrefix, k.name)
			case k.patternType == PatternLiteral:
				allowLiteral = append(allowLiteral, k.name)
			default:
				allowPrefix = append(allowPrefix, k.name)
			}
		}
	}
	for _, d := range denyLiteral {
		if d == Wildcard {
			return false
		}
	}
	prefixDenied := func(name string) bool {
		for _, d := range denyPrefix {
			if strings.HasPrefix(name, d) {
				return true
			}
		}
		return false
	}
	for _, n := range allowPrefix {
		if !prefixDenied(n) {
			return true
		}
	}
	for _, n := range allowLiteral {
		if n == Wildcard {
			return true
		}
		denied := prefixDenied(n)
		for _, d := range denyLiteral {
			denied = denied || d == n
		}
		if !denied {
			return true
		}
	}
	return false
}

// AuthorizedOperations returns the operations principal may perform on
// the resource, as the 32-bit field of Kafka's authorized-operations
// response fields (bit 1<<code for each operation the resource type
// supports, ALL excluded). With authorization off, every supported
// operation.
func (a *Authorizer) AuthorizedOperations(s *Set, principal, host string, t ResourceType, name string) int32 {
	var bits int32
	for _, op := range supported[t] {
		if a.Authorize(s, principal, host, op, t, name) {
			bits |= 1 << op
		}
	}
	return bits
}

func matchesPrincipal(acl, principal string) bool {
	return acl == principal || (acl == WildcardPrincipal && strings.HasPrefix(principal, "User:"))
}

// implies reports whether an ALLOW entry for granted allows op.
func implies(granted, op Operation) bool {
	switch {
	case granted == OpAll || granted == op:
		return true
	case op == OpDescribe:
		return granted == OpRead || granted == OpWrite || granted == OpDelete || granted == OpAlter
	case op == OpDescribeConfigs:
		return granted == OpAlterConfigs
	}
	return false
}
