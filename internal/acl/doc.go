// Package acl is Kafka's authorization model: ACL bindings, filters, an
// indexed immutable Set of them, and the Authorizer that decides a
// request against a Set with the semantics of Kafka's StandardAuthorizer
// (deny wins, implied DESCRIBE, prefixed patterns, super users,
// allow.everyone.if.no.acl.found). It does no I/O and keeps no state
// that changes: the ACLs live in the cluster metadata
// (AccessControlEntryRecord, internal/metadata/acls.go), every node's
// image carries its Set, and the server asks the Authorizer with the
// Set of the image it is serving from:
//
//	cfg, err := acl.ParseConfig(className, superUsers, allowEveryone) // nil cfg: authorization off
//	a := acl.New(cfg)                                                  // nil *Authorizer allows all
//	if !a.Authorize(image.ACLs(), "User:alice", "10.0.0.7", acl.OpWrite, acl.ResourceTopic, "orders") {
//		// TOPIC_AUTHORIZATION_FAILED
//	}
//
// A binding is Kafka's AclBinding, written as kafka-acls prints it:
//
//	ResourcePattern(resourceType=TOPIC, name=orders, patternType=PREFIXED)
//	   (principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)
//
// The enum values are Kafka's wire codes (ResourceType 2 TOPIC, 3 GROUP,
// 4 CLUSTER, 5 TRANSACTIONAL_ID, 6 DELEGATION_TOKEN, 7 USER; PatternType
// 3 LITERAL, 4 PREFIXED; Operation 2 ALL ... 14 DESCRIBE_TOKENS;
// Permission 2 DENY, 3 ALLOW), as CreateAcls, DescribeAcls and
// DeleteAcls carry them.
package acl
