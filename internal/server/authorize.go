package server

// Authorization (Kafka's AuthHelper): every handler asks, with the
// connection's principal and client address, whether the request may
// perform an operation on a resource, following the "Operations and
// Resources on Protocols" table of Kafka's documentation. The ACLs are
// those of the metadata image the request is served from; with
// authorizer.class.name unset (Deps.Authorizer nil) everything is
// allowed.
//
// A request forwarded to the active controller (forward.go) is
// authorized here, at the broker that received it, with the client's
// principal; the controller authorizes the forwarding broker's
// principal again, as for any request on its listener, so a broker's
// principal must be a super user (Kafka's rule for inter-broker and
// controller principals).

import (
	"net"

	"github.com/gregor-streaming/gregor/internal/acl"
)

// host returns the client's IP address as ACL hosts name it.
func (c *conn) host() string {
	switch a := c.session.ClientAddress.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case nil:
		return ""
	default:
		h, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		return h
	}
}

// authorized reports whether the connection's principal may perform op
// on the named resource.
func (c *conn) authorized(op acl.Operation, t acl.ResourceType, name string) bool {
	a := c.s.deps.Authorizer
	if a == nil {
		return true
	}
	ok := a.Authorize(c.s.image().ACLs(), c.session.Principal.String(), c.host(), op, t, name)
	if !ok {
		c.log.Debug("authorization denied", "principal", c.session.Principal.String(), "operation", op.String(), "resource_type", t.String(), "resource", name)
	}
	return ok
}

// authorizedCluster is authorized on the CLUSTER resource.
func (c *conn) authorizedCluster(op acl.Operation) bool {
	return c.authorized(op, acl.ResourceCluster, acl.ClusterName)
}

// authorizedAny reports whether the principal may perform op on some
// resource of type t (Kafka's authorizeByResourceType).
func (c *conn) authorizedAny(op acl.Operation, t acl.ResourceType) bool {
	a := c.s.deps.Authorizer
	if a == nil {
		return true
	}
	return a.AuthorizeAny(c.s.image().ACLs(), c.session.Principal.String(), c.host(), op, t)
}

// authorizedOperations is the authorized-operations bit field of a
// resource for this connection's principal.
func (c *conn) authorizedOperations(t acl.ResourceType, name string) int32 {
	return c.s.deps.Authorizer.AuthorizedOperations(c.s.image().ACLs(), c.session.Principal.String(), c.host(), t, name)
}

// clusterAuthorizedOperations is the cluster's authorized-operations
// field: 0 unless the principal may DESCRIBE the cluster (Kafka's
// AuthHelper.computeDescribeClusterResponse and Metadata v8-10).
func (c *conn) clusterAuthorizedOperations() int32 {
	if !c.authorizedCluster(acl.OpDescribe) {
		return 0
	}
	return c.authorizedOperations(acl.ResourceCluster, acl.ClusterName)
}

// authorizedTopics returns a memo of the topic decisions for op, so a
// request naming a topic in many places asks once per topic.
func (c *conn) authorizedTopics(op acl.Operation) func(name string) bool {
	if c.s.deps.Authorizer == nil {
		return func(string) bool { return true }
	}
	seen := map[string]bool{}
	return func(name string) bool {
		ok, done := seen[name]
		if !done {
			ok = c.authorized(op, acl.ResourceTopic, name)
			seen[name] = ok
		}
		return ok
	}
}
