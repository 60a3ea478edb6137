package config

import "github.com/gregor-streaming/gregor/internal/acl"

// authorizerBrokerDefs are the configs of authorization: Kafka's
// authorizer.class.name, and the StandardAuthorizer's own super.users
// and allow.everyone.if.no.acl.found (which Kafka reads from the broker
// config and which Gregor lists with the broker configs).
var authorizerBrokerDefs = []BrokerConfigDef{
	bdef("authorizer.class.name", TypeString, "", Low, ReadOnly, oneOf("", acl.StandardAuthorizer, acl.AclAuthorizer),
		"The fully qualified name of a class that implements org.apache.kafka.server.authorizer.Authorizer interface, which is used by the broker for authorization. Gregor implements "+acl.StandardAuthorizer+" (ACLs in the cluster metadata) and accepts "+acl.AclAuthorizer+" as its synonym."),
	bdef("super.users", TypeString, "", Medium, ReadOnly, nil,
		"A semicolon-separated list of principals (User:admin;User:broker) allowed every operation on every resource, whatever the ACLs say. Brokers' and controllers' own principals belong here."),
	bdef("allow.everyone.if.no.acl.found", TypeBoolean, "false", Medium, ReadOnly, nil,
		"With true, a resource that no ACL applies to is open to every principal; with false (the default), only super users may use it."),
}

// Authorizer returns the authorization config: nil when
// authorizer.class.name is empty (no authorization).
func (b *Broker) Authorizer() (*acl.Config, error) {
	return acl.ParseConfig(b.values.str("authorizer.class.name"), b.values.str("super.users"), b.values.bool("allow.everyone.if.no.acl.found"))
}
