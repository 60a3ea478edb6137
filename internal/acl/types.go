package acl

import (
	"fmt"
	"strings"
)

// ResourceType is Kafka's ResourceType, with its wire codes.
type ResourceType int8

// Resource types. Any is for filters only.
const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

// ClusterName is the name of the one CLUSTER resource.
const ClusterName = "kafka-cluster"

// Wildcard is the resource name, principal name and host that match all.
const Wildcard = "*"

// WildcardPrincipal matches every User principal.
const WildcardPrincipal = "User:*"

var resourceNames = map[ResourceType]string{
	ResourceUnknown: "UNKNOWN", ResourceAny: "ANY", ResourceTopic: "TOPIC", ResourceGroup: "GROUP",
	ResourceCluster: "CLUSTER", ResourceTransactionalID: "TRANSACTIONAL_ID",
	ResourceDelegationToken: "DELEGATION_TOKEN", ResourceUser: "USER",
}

// String returns Kafka's name of the type ("TOPIC").
func (t ResourceType) String() string {
	if s, ok := resourceNames[t]; ok {
		return s
	}
	return "UNKNOWN"
}

// PatternType is Kafka's PatternType (KIP-290). Any and Match are for
// filters only.
type PatternType int8

// Pattern types.
const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1
	PatternMatch    PatternType = 2
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

var patternNames = map[PatternType]string{
	PatternUnknown: "UNKNOWN", PatternAny: "ANY", PatternMatch: "MATCH", PatternLiteral: "LITERAL", PatternPrefixed: "PREFIXED",
}

// String returns Kafka's name of the pattern type ("LITERAL").
func (p PatternType) String() string {
	if s, ok := patternNames[p]; ok {
		return s
	}
	return "UNKNOWN"
}

// Operation is Kafka's AclOperation. Any is for filters only.
type Operation int8

// Operations.
const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

var operationNames = map[Operation]string{
	OpUnknown: "UNKNOWN", OpAny: "ANY", OpAll: "ALL", OpRead: "READ", OpWrite: "WRITE", OpCreate: "CREATE",
	OpDelete: "DELETE", OpAlter: "ALTER", OpDescribe: "DESCRIBE", OpClusterAction: "CLUSTER_ACTION",
	OpDescribeConfigs: "DESCRIBE_CONFIGS", OpAlterConfigs: "ALTER_CONFIGS", OpIdempotentWrite: "IDEMPOTENT_WRITE",
	OpCreateTokens: "CREATE_TOKENS", OpDescribeTokens: "DESCRIBE_TOKENS",
}

// String returns Kafka's name of the operation ("WRITE").
func (o Operation) String() string {
	if s, ok := operationNames[o]; ok {
		return s
	}
	return "UNKNOWN"
}

// Permission is Kafka's AclPermissionType. Any is for filters only.
type Permission int8

// Permission types.
const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1
	Deny              Permission = 2
	Allow             Permission = 3
)

// String returns Kafka's name of the permission ("ALLOW").
func (p Permission) String() string {
	switch p {
	case PermissionAny:
		return "ANY"
	case Deny:
		return "DENY"
	case Allow:
		return "ALLOW"
	}
	return "UNKNOWN"
}

// ParseResourceType, ParsePatternType, ParseOperation and
// ParsePermission read Kafka's names, case-insensitively, as the Java
// enums' fromString do; an unknown name is the Unknown value.
func ParseResourceType(s string) ResourceType { return parseEnum(resourceNames, s, ResourceUnknown) }

// ParsePatternType: see ParseResourceType.
func ParsePatternType(s string) PatternType { return parseEnum(patternNames, s, PatternUnknown) }

// ParseOperation: see ParseResourceType. Kafka's tools also accept the
// CamelCase names ("IdempotentWrite", "ClusterAction").
func ParseOperation(s string) Operation {
	return parseEnum(operationNames, camelToSnake(s), OpUnknown)
}

// ParsePermission: see ParseResourceType.
func ParsePermission(s string) Permission {
	switch strings.ToUpper(s) {
	case "ANY":
		return PermissionAny
	case "DENY":
		return Deny
	case "ALLOW":
		return Allow
	}
	return PermissionUnknown
}

func parseEnum[T comparable](names map[T]string, s string, unknown T) T {
	for v, n := range names {
		if strings.EqualFold(n, s) {
			return v
		}
	}
	return unknown
}

// camelToSnake turns "IdempotentWrite" into "Idempotent_Write"; names
// already in upper snake case are unchanged.
func camelToSnake(s string) string {
	if strings.Contains(s, "_") || strings.ToUpper(s) == s {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Binding is one ACL: a resource pattern and an access control entry
// (Kafka's AclBinding). Principal is "Type:name" ("User:alice",
// "User:*"); Host is an IP address or "*".
type Binding struct {
	ResourceType ResourceType
	ResourceName string
	PatternType  PatternType
	Principal    string
	Host         string
	Operation    Operation
	Permission   Permission
}

// PatternString writes the resource pattern as Kafka's
// ResourcePattern.toString.
func (b Binding) PatternString() string {
	return fmt.Sprintf("ResourcePattern(resourceType=%s, name=%s, patternType=%s)", b.ResourceType, b.ResourceName, b.PatternType)
}

// EntryString writes the entry as kafka-acls prints it.
func (b Binding) EntryString() string {
	return fmt.Sprintf("(principal=%s, host=%s, operation=%s, permissionType=%s)", b.Principal, b.Host, b.Operation, b.Permission)
}

func (b Binding) String() string { return b.PatternString() + " " + b.EntryString() }

// Filter selects bindings (Kafka's AclBindingFilter). A nil name,
// principal or host matches any; Any values match any; PatternType
// Match selects the patterns that would apply to the named resource
// (literal with that name, the literal wildcard, prefixes of the name).
type Filter struct {
	ResourceType ResourceType
	ResourceName *string
	PatternType  PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// Matches reports whether f selects b (ResourcePatternFilter.matches and
// AccessControlEntryFilter.matches).
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType {
		return false
	}
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != b.PatternType {
		return false
	}
	if f.ResourceName != nil {
		name := *f.ResourceName
		if f.PatternType == PatternMatch {
			switch b.PatternType {
			case PatternLiteral:
				if name != b.ResourceName && b.ResourceName != Wildcard {
					return false
				}
			case PatternPrefixed:
				if !strings.HasPrefix(name, b.ResourceName) {
					return false
				}
			default:
				return false
			}
		} else if name != b.ResourceName {
			return false
		}
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != b.Operation {
		return false
	}
	if f.Permission != PermissionAny && f.Permission != b.Permission {
		return false
	}
	return true
}

// supported lists the operations an ACL may name per resource type
// (Kafka's AclEntry.supportedOperations); ALL is valid for every type.
var supported = map[ResourceType][]Operation{
	ResourceTopic:           {OpRead, OpWrite, OpCreate, OpDescribe, OpDelete, OpAlter, OpDescribeConfigs, OpAlterConfigs},
	ResourceGroup:           {OpRead, OpDescribe, OpDelete, OpDescribeConfigs, OpAlterConfigs}, // group configs (KIP-848)
	ResourceCluster:         {OpCreate, OpClusterAction, OpDescribeConfigs, OpAlterConfigs, OpIdempotentWrite, OpAlter, OpDescribe},
	ResourceTransactionalID: {OpDescribe, OpWrite},
	ResourceDelegationToken: {OpDescribe},
	ResourceUser:            {OpCreateTokens, OpDescribeTokens},
}

// SupportedOperations returns the operations an ACL on t may name, ALL
// first. The caller owns the slice.
func SupportedOperations(t ResourceType) []Operation {
	return append([]Operation{OpAll}, supported[t]...)
}

// Validate checks a binding to be created as Kafka's controller and
// broker do (AclControlManager.validateNewAcl, AclApis): a concrete
// resource type, pattern, operation and permission, a non-empty name,
// "kafka-cluster" for the cluster, an operation the resource type
// supports, a parseable principal. The error is ErrInvalid wrapped with
// Kafka's message.
func (b Binding) Validate() error {
	switch b.ResourceType {
	case ResourceTopic, ResourceGroup, ResourceCluster, ResourceTransactionalID, ResourceDelegationToken, ResourceUser:
	default:
		return fmt.Errorf("%w: Invalid resourceType %s", ErrInvalid, b.ResourceType)
	}
	if b.PatternType != PatternLiteral && b.PatternType != PatternPrefixed {
		return fmt.Errorf("%w: Invalid patternType %s", ErrInvalid, b.PatternType)
	}
	if b.Operation == OpAny || b.Operation == OpUnknown || b.Operation.String() == "UNKNOWN" {
		return fmt.Errorf("%w: Invalid operation %s", ErrInvalid, b.Operation)
	}
	if b.Permission != Allow && b.Permission != Deny {
		return fmt.Errorf("%w: Invalid permissionType %s", ErrInvalid, b.Permission)
	}
	if b.ResourceName == "" {
		return fmt.Errorf("%w: Resource name should not be empty", ErrInvalid)
	}
	if b.ResourceType == ResourceCluster && b.ResourceName != ClusterName {
		return fmt.Errorf("%w: The only valid name for the CLUSTER resource is %s", ErrInvalid, ClusterName)
	}
	if t, _, ok := strings.Cut(b.Principal, ":"); !ok || t == "" {
		return fmt.Errorf("%w: Could not parse principal from `%s` (no colon is found separating principal type from name)", ErrInvalid, b.Principal)
	}
	if b.Host == "" {
		return fmt.Errorf("%w: Invalid host: empty", ErrInvalid)
	}
	if b.Operation != OpAll {
		ok := false
		for _, o := range supported[b.ResourceType] {
			ok = ok || o == b.Operation
		}
		if !ok {
			var names []string
			for _, o := range SupportedOperations(b.ResourceType) {
				names = append(names, o.String())
			}
			return fmt.Errorf("%w: ResourceType %s only supports operations %s", ErrInvalid, b.ResourceType, strings.Join(names, ","))
		}
	}
	return nil
}

// ValidateFilter checks a filter of DeleteAcls as Kafka's
// AclControlManager.validateFilter does: no UNKNOWN values.
func (f Filter) ValidateFilter() error {
	switch {
	case f.ResourceType == ResourceUnknown || f.ResourceType.String() == "UNKNOWN":
		return fmt.Errorf("%w: Unknown resourceFilter.", ErrInvalid)
	case f.PatternType == PatternUnknown || f.PatternType.String() == "UNKNOWN":
		return fmt.Errorf("%w: Unknown patternFilter.", ErrInvalid)
	case f.Operation == OpUnknown || f.Operation.String() == "UNKNOWN":
		return fmt.Errorf("%w: Unknown operation type.", ErrInvalid)
	case f.Permission == PermissionUnknown || f.Permission.String() == "UNKNOWN":
		return fmt.Errorf("%w: Unknown permission type.", ErrInvalid)
	}
	return nil
}
