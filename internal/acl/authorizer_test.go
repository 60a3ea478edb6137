package acl

import (
	"errors"
	"fmt"
	"testing"
)

func bind(t ResourceType, name string, p PatternType, principal, host string, op Operation, perm Permission) Binding {
	return Binding{ResourceType: t, ResourceName: name, PatternType: p, Principal: principal, Host: host, Operation: op, Permission: perm}
}

func setOf(bs ...Binding) *Set {
	m := map[ID]Binding{}
	for i, b := range bs {
		m[ID{byte(i + 1)}] = b
	}
	return NewSet(m)
}

// The cases follow Kafka's documented authorizer semantics (the
// "Authorization and ACLs" section of the security docs, KIP-290 for
// prefixed patterns) and StandardAuthorizerTest.
func TestAuthorize(t *testing.T) {
	const alice, bob = "User:alice", "User:bob"
	allowAliceWriteT := bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpWrite, Allow)
	tests := []struct {
		name          string
		acls          []Binding
		super         []string
		allowEveryone bool
		principal     string
		host          string
		op            Operation
		resource      ResourceType
		resourceName  string
		want          bool
	}{
		{"no acls, closed", nil, nil, false, alice, "1.2.3.4", OpRead, ResourceTopic, "t", false},
		{"no acls, allow.everyone", nil, nil, true, alice, "1.2.3.4", OpRead, ResourceTopic, "t", true},
		{"super user without acls", nil, []string{alice}, false, alice, "1.2.3.4", OpAlter, ResourceCluster, ClusterName, true},
		{"super user despite deny", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpAll, Deny)}, []string{alice}, false, alice, "h", OpWrite, ResourceTopic, "t", true},
		{"literal allow", []Binding{allowAliceWriteT}, nil, false, alice, "h", OpWrite, ResourceTopic, "t", true},
		{"literal allow, other topic closed", []Binding{allowAliceWriteT}, nil, false, alice, "h", OpWrite, ResourceTopic, "u", false},
		{"literal allow, other principal", []Binding{allowAliceWriteT}, nil, false, bob, "h", OpWrite, ResourceTopic, "t", false},
		{"acl on resource closes it even with allow.everyone", []Binding{allowAliceWriteT}, nil, true, bob, "h", OpWrite, ResourceTopic, "t", false},
		{"allow.everyone opens resources without acls", []Binding{allowAliceWriteT}, nil, true, bob, "h", OpWrite, ResourceTopic, "u", true},
		{"other operation", []Binding{allowAliceWriteT}, nil, false, alice, "h", OpRead, ResourceTopic, "t", false},
		{"write implies describe", []Binding{allowAliceWriteT}, nil, false, alice, "h", OpDescribe, ResourceTopic, "t", true},
		{"read implies describe", []Binding{bind(ResourceGroup, "g", PatternLiteral, alice, "*", OpRead, Allow)}, nil, false, alice, "h", OpDescribe, ResourceGroup, "g", true},
		{"delete implies describe", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpDelete, Allow)}, nil, false, alice, "h", OpDescribe, ResourceTopic, "t", true},
		{"alter implies describe", []Binding{bind(ResourceCluster, ClusterName, PatternLiteral, alice, "*", OpAlter, Allow)}, nil, false, alice, "h", OpDescribe, ResourceCluster, ClusterName, true},
		{"create does not imply describe", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpCreate, Allow)}, nil, false, alice, "h", OpDescribe, ResourceTopic, "t", false},
		{"alter_configs implies describe_configs", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpAlterConfigs, Allow)}, nil, false, alice, "h", OpDescribeConfigs, ResourceTopic, "t", true},
		{"describe does not imply read", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpDescribe, Allow)}, nil, false, alice, "h", OpRead, ResourceTopic, "t", false},
		{"all allows everything", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpAll, Allow)}, nil, false, alice, "h", OpAlterConfigs, ResourceTopic, "t", true},
		{"deny wins over allow", []Binding{allowAliceWriteT, bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpWrite, Deny)}, nil, false, alice, "h", OpWrite, ResourceTopic, "t", false},
		{"deny all wins over allow", []Binding{allowAliceWriteT, bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpAll, Deny)}, nil, false, alice, "h", OpWrite, ResourceTopic, "t", false},
		{"deny read does not deny describe", []Binding{allowAliceWriteT, bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpRead, Deny)}, nil, false, alice, "h", OpDescribe, ResourceTopic, "t", true},
		{"wildcard principal deny wins", []Binding{allowAliceWriteT, bind(ResourceTopic, "t", PatternLiteral, WildcardPrincipal, "*", OpWrite, Deny)}, nil, false, alice, "h", OpWrite, ResourceTopic, "t", false},
		{"wildcard principal allow", []Binding{bind(ResourceTopic, "t", PatternLiteral, WildcardPrincipal, "*", OpRead, Allow)}, nil, false, bob, "h", OpRead, ResourceTopic, "t", true},
		{"wildcard resource allow", []Binding{bind(ResourceTopic, "*", PatternLiteral, alice, "*", OpRead, Allow)}, nil, false, alice, "h", OpRead, ResourceTopic, "anything", true},
		{"wildcard resource deny wins over literal allow", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpRead, Allow), bind(ResourceTopic, "*", PatternLiteral, alice, "*", OpRead, Deny)}, nil, false, alice, "h", OpRead, ResourceTopic, "t", false},
		{"prefixed allow", []Binding{bind(ResourceTopic, "orders-", PatternPrefixed, alice, "*", OpWrite, Allow)}, nil, false, alice, "h", OpWrite, ResourceTopic, "orders-eu", true},
		{"prefixed does not match shorter name", []Binding{bind(ResourceTopic, "orders-", PatternPrefixed, alice, "*", OpWrite, Allow)}, nil, false, alice, "h", OpWrite, ResourceTopic, "orders", false},
		{"prefixed matches equal name", []Binding{bind(ResourceTopic, "orders", PatternPrefixed, alice, "*", OpWrite, Allow)}, nil, false, alice, "h", OpWrite, ResourceTopic, "orders", true},
		{"prefixed star is not a wildcard", []Binding{bind(ResourceTopic, "*", PatternPrefixed, alice, "*", OpWrite, Allow)}, nil, false, alice, "h", OpWrite, ResourceTopic, "orders", false},
		{"prefixed deny wins over literal allow", []Binding{bind(ResourceTopic, "orders-eu", PatternLiteral, alice, "*", OpWrite, Allow), bind(ResourceTopic, "orders-", PatternPrefixed, alice, "*", OpWrite, Deny)}, nil, false, alice, "h", OpWrite, ResourceTopic, "orders-eu", false},
		{"literal acl is not a prefix", []Binding{bind(ResourceTopic, "orders", PatternLiteral, alice, "*", OpWrite, Allow)}, nil, false, alice, "h", OpWrite, ResourceTopic, "orders-eu", false},
		{"host matches", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "10.0.0.1", OpRead, Allow)}, nil, false, alice, "10.0.0.1", OpRead, ResourceTopic, "t", true},
		{"host differs", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "10.0.0.1", OpRead, Allow)}, nil, false, alice, "10.0.0.2", OpRead, ResourceTopic, "t", false},
		{"deny from one host only", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpRead, Allow), bind(ResourceTopic, "t", PatternLiteral, alice, "10.0.0.1", OpRead, Deny)}, nil, false, alice, "10.0.0.2", OpRead, ResourceTopic, "t", true},
		{"resource types are apart", []Binding{bind(ResourceGroup, "t", PatternLiteral, alice, "*", OpRead, Allow)}, nil, false, alice, "h", OpRead, ResourceTopic, "t", false},
		{"transactional id write", []Binding{bind(ResourceTransactionalID, "tx", PatternLiteral, alice, "*", OpWrite, Allow)}, nil, false, alice, "h", OpWrite, ResourceTransactionalID, "tx", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := New(&Config{SuperUsers: tc.super, AllowEveryoneIfNoACL: tc.allowEveryone})
			if got := a.Authorize(setOf(tc.acls...), tc.principal, tc.host, tc.op, tc.resource, tc.resourceName); got != tc.want {
				t.Fatalf("Authorize(%s %s %s %s/%s) = %v, want %v", tc.principal, tc.host, tc.op, tc.resource, tc.resourceName, got, tc.want)
			}
			// The unindexed model: the same decision from a scan of
			// every binding.
			if got := naiveAuthorize(tc.acls, tc.super, tc.allowEveryone, tc.principal, tc.host, tc.op, tc.resource, tc.resourceName); got != tc.want {
				t.Fatalf("model disagrees with the table: %v", got)
			}
		})
	}
}

func TestNilAuthorizerAllows(t *testing.T) {
	var a *Authorizer
	if !a.Authorize(nil, "User:x", "h", OpAlter, ResourceCluster, ClusterName) || !a.AuthorizeAny(nil, "User:x", "h", OpWrite, ResourceTopic) {
		t.Fatal("nil authorizer denied")
	}
	if got := a.AuthorizedOperations(nil, "User:x", "h", ResourceGroup, "g"); got != 1<<OpRead|1<<OpDescribe|1<<OpDelete|1<<OpDescribeConfigs|1<<OpAlterConfigs {
		t.Fatalf("authorized operations %b", got)
	}
}

// TestAuthorizeAny follows Kafka's AuthorizerTest
// testAuthorizeByResourceType* cases.
func TestAuthorizeAny(t *testing.T) {
	const alice = "User:alice"
	tests := []struct {
		name          string
		acls          []Binding
		allowEveryone bool
		want          bool
	}{
		{"no acls", nil, false, false},
		{"no acls, allow.everyone", nil, true, true},
		{"literal allow", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpWrite, Allow)}, false, true},
		{"literal allow denied by same literal", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpWrite, Allow), bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpWrite, Deny)}, false, false},
		{"literal allow denied by prefix", []Binding{bind(ResourceTopic, "t1", PatternLiteral, alice, "*", OpWrite, Allow), bind(ResourceTopic, "t", PatternPrefixed, alice, "*", OpWrite, Deny)}, false, false},
		{"prefix allow denied by shorter prefix", []Binding{bind(ResourceTopic, "ab", PatternPrefixed, alice, "*", OpWrite, Allow), bind(ResourceTopic, "a", PatternPrefixed, alice, "*", OpAll, Deny)}, false, false},
		{"prefix allow, longer prefix denied", []Binding{bind(ResourceTopic, "a", PatternPrefixed, alice, "*", OpWrite, Allow), bind(ResourceTopic, "ab", PatternPrefixed, alice, "*", OpWrite, Deny)}, false, true},
		{"wildcard deny", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpWrite, Allow), bind(ResourceTopic, "*", PatternLiteral, alice, "*", OpWrite, Deny)}, false, false},
		{"other op", []Binding{bind(ResourceTopic, "t", PatternLiteral, alice, "*", OpRead, Allow)}, false, false},
		{"other principal", []Binding{bind(ResourceTopic, "t", PatternLiteral, "User:bob", "*", OpWrite, Allow)}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := New(&Config{AllowEveryoneIfNoACL: tc.allowEveryone})
			if got := a.AuthorizeAny(setOf(tc.acls...), alice, "h", OpWrite, ResourceTopic); got != tc.want {
				t.Fatalf("AuthorizeAny = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAuthorizedOperations(t *testing.T) {
	s := setOf(bind(ResourceTopic, "t", PatternLiteral, "User:a", "*", OpWrite, Allow),
		bind(ResourceTopic, "t", PatternLiteral, "User:a", "*", OpAlterConfigs, Allow))
	got := New(&Config{}).AuthorizedOperations(s, "User:a", "h", ResourceTopic, "t")
	want := int32(1<<OpWrite | 1<<OpDescribe | 1<<OpAlterConfigs | 1<<OpDescribeConfigs)
	if got != want {
		t.Fatalf("got %b, want %b", got, want)
	}
}

func TestParseConfig(t *testing.T) {
	if c, err := ParseConfig("", "User:a", true); c != nil || err != nil {
		t.Fatalf("empty class: %v %v", c, err)
	}
	c, err := ParseConfig(StandardAuthorizer, "User:admin; User:broker;", false)
	if err != nil || fmt.Sprint(c.SuperUsers) != "[User:admin User:broker]" {
		t.Fatalf("%v %v", c, err)
	}
	if _, err := ParseConfig(AclAuthorizer, "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseConfig("com.example.Mine", "", false); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown class: %v", err)
	}
	if _, err := ParseConfig(StandardAuthorizer, "admin", false); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad super user: %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := bind(ResourceTopic, "t", PatternLiteral, "User:a", "*", OpWrite, Allow)
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]Binding{
		"Invalid resourceType ANY":      bind(ResourceAny, "t", PatternLiteral, "User:a", "*", OpWrite, Allow),
		"Invalid patternType MATCH":     bind(ResourceTopic, "t", PatternMatch, "User:a", "*", OpWrite, Allow),
		"Invalid operation ANY":         bind(ResourceTopic, "t", PatternLiteral, "User:a", "*", OpAny, Allow),
		"Invalid permissionType ANY":    bind(ResourceTopic, "t", PatternLiteral, "User:a", "*", OpWrite, PermissionAny),
		"Resource name should not be":   bind(ResourceTopic, "", PatternLiteral, "User:a", "*", OpWrite, Allow),
		"only valid name for the CLUS":  bind(ResourceCluster, "c", PatternLiteral, "User:a", "*", OpAlter, Allow),
		"Could not parse principal":     bind(ResourceTopic, "t", PatternLiteral, "alice", "*", OpWrite, Allow),
		"GROUP only supports operation": bind(ResourceGroup, "g", PatternLiteral, "User:a", "*", OpWrite, Allow),
		"TRANSACTIONAL_ID only suppor":  bind(ResourceTransactionalID, "x", PatternLiteral, "User:a", "*", OpRead, Allow),
	}
	for want, b := range bad {
		err := b.Validate()
		if !errors.Is(err, ErrInvalid) || !contains(err.Error(), want) {
			t.Errorf("%v: got %v, want %q", b, err, want)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

// TestFilterMatches follows ResourcePatternFilterTest and
// AclBindingFilterTest.
func TestFilterMatches(t *testing.T) {
	str := func(s string) *string { return &s }
	lit := bind(ResourceTopic, "orders", PatternLiteral, "User:a", "*", OpWrite, Allow)
	pre := bind(ResourceTopic, "ord", PatternPrefixed, "User:a", "*", OpWrite, Allow)
	wild := bind(ResourceTopic, "*", PatternLiteral, "User:a", "*", OpWrite, Allow)
	any := Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}
	tests := []struct {
		name string
		f    func(Filter) Filter
		b    Binding
		want bool
	}{
		{"any matches", func(f Filter) Filter { return f }, lit, true},
		{"type", func(f Filter) Filter { f.ResourceType = ResourceGroup; return f }, lit, false},
		{"literal name", func(f Filter) Filter { f.PatternType, f.ResourceName = PatternLiteral, str("orders"); return f }, lit, true},
		{"literal filter skips prefixed", func(f Filter) Filter { f.PatternType, f.ResourceName = PatternLiteral, str("ord"); return f }, pre, false},
		{"any pattern, exact name", func(f Filter) Filter { f.ResourceName = str("ord"); return f }, pre, true},
		{"any pattern is not match", func(f Filter) Filter { f.ResourceName = str("orders"); return f }, pre, false},
		{"match prefixed", func(f Filter) Filter { f.PatternType, f.ResourceName = PatternMatch, str("orders"); return f }, pre, true},
		{"match literal", func(f Filter) Filter { f.PatternType, f.ResourceName = PatternMatch, str("orders"); return f }, lit, true},
		{"match wildcard", func(f Filter) Filter { f.PatternType, f.ResourceName = PatternMatch, str("orders"); return f }, wild, true},
		{"match other", func(f Filter) Filter { f.PatternType, f.ResourceName = PatternMatch, str("x"); return f }, pre, false},
		{"principal", func(f Filter) Filter { f.Principal = str("User:b"); return f }, lit, false},
		{"host", func(f Filter) Filter { f.Host = str("*"); return f }, lit, true},
		{"operation", func(f Filter) Filter { f.Operation = OpRead; return f }, lit, false},
		{"permission", func(f Filter) Filter { f.Permission = Deny; return f }, lit, false},
	}
	for _, tc := range tests {
		if got := tc.f(any).Matches(tc.b); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}

func TestSetApply(t *testing.T) {
	b1 := bind(ResourceTopic, "t", PatternLiteral, "User:a", "*", OpWrite, Allow)
	s, err := (*Set)(nil).Apply([]Change{{ID: ID{1}, Binding: b1}})
	if err != nil || s.Len() != 1 {
		t.Fatal(s, err)
	}
	if id, ok := s.Find(b1); !ok || id != (ID{1}) {
		t.Fatal("find")
	}
	if _, err := s.Apply([]Change{{ID: ID{1}, Binding: b1}}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, err := s.Apply([]Change{{ID: ID{2}, Remove: true}}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown remove: %v", err)
	}
	s2, err := s.Apply([]Change{{ID: ID{1}, Remove: true}})
	if err != nil || s2.Len() != 0 || s.Len() != 1 {
		t.Fatal("remove changed the old set or failed", err)
	}
}

func TestParseNames(t *testing.T) {
	if ParseOperation("IdempotentWrite") != OpIdempotentWrite || ParseOperation("describe_configs") != OpDescribeConfigs || ParseOperation("Read") != OpRead {
		t.Fatal("operation names")
	}
	if ParseResourceType("transactional_id") != ResourceTransactionalID || ParsePatternType("Prefixed") != PatternPrefixed || ParsePermission("deny") != Deny {
		t.Fatal("names")
	}
}

// naiveAuthorize is the model TestAuthorize and the property test check
// the index against: a scan of every binding.
func naiveAuthorize(acls []Binding, super []string, allowEveryone bool, principal, host string, op Operation, rt ResourceType, name string) bool {
	for _, s := range super {
		if s == principal {
			return true
		}
	}
	found, allowed := false, false
	for _, b := range acls {
		if b.ResourceType != rt {
			continue
		}
		applies := (b.PatternType == PatternLiteral && (b.ResourceName == name || b.ResourceName == "*")) ||
			(b.PatternType == PatternPrefixed && len(name) >= len(b.ResourceName) && name[:len(b.ResourceName)] == b.ResourceName)
		if !applies {
			continue
		}
		found = true
		if b.Principal != principal && b.Principal != WildcardPrincipal || b.Host != "*" && b.Host != host {
			continue
		}
		if b.Permission == Deny && (b.Operation == OpAll || b.Operation == op) {
			return false
		}
		if b.Permission == Allow && implies(b.Operation, op) {
			allowed = true
		}
	}
	if !found {
		return allowEveryone
	}
	return allowed
}
