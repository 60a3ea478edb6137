package acl

import (
	"math/rand/v2"
	"testing"
)

// TestAuthorizeMatchesModel checks the indexed Authorize against the
// scan of naiveAuthorize on random ACL sets (STYLE.md: property-test
// optimised code against a naive model).
func TestAuthorizeMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "ab", "abc", "b", "*", "abd"}
	principals := []string{"User:x", "User:y", WildcardPrincipal}
	hosts := []string{"*", "1.1.1.1", "2.2.2.2"}
	ops := []Operation{OpAll, OpRead, OpWrite, OpDescribe, OpAlter, OpAlterConfigs, OpDescribeConfigs}
	for iter := 0; iter < 2000; iter++ {
		var acls []Binding
		for n := rng.IntN(6); n > 0; n-- {
			acls = append(acls, Binding{
				ResourceType: ResourceTopic,
				ResourceName: names[rng.IntN(len(names))],
				PatternType:  []PatternType{PatternLiteral, PatternPrefixed}[rng.IntN(2)],
				Principal:    principals[rng.IntN(len(principals))],
				Host:         hosts[rng.IntN(len(hosts))],
				Operation:    ops[rng.IntN(len(ops))],
				Permission:   []Permission{Allow, Deny}[rng.IntN(2)],
			})
		}
		everyone := rng.IntN(2) == 0
		a := New(&Config{AllowEveryoneIfNoACL: everyone})
		s := setOf(acls...)
		for _, name := range []string{"a", "ab", "abc", "abcd", "b", "c"} {
			for _, op := range ops[1:] {
				p, h := principals[rng.IntN(2)], hosts[1+rng.IntN(2)]
				if got, want := a.Authorize(s, p, h, op, ResourceTopic, name), naiveAuthorize(acls, nil, everyone, p, h, op, ResourceTopic, name); got != want {
					t.Fatalf("acls %v: %s %s %s %s: got %v, model %v", acls, p, h, op, name, got, want)
				}
			}
		}
	}
}
