package security_test

import (
	"errors"
	"testing"

	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/security/securitytest"
)

// Reference: Kafka's ssl.principal.mapping.rules documentation and
// SslPrincipalMapper (rule syntax, first match wins, DEFAULT is the DN).
func TestSSLPrincipalMapping(t *testing.T) {
	const dn = "CN=Duke,OU=ServiceUsers,O=Org,C=US"
	tests := []struct {
		rules string
		dn    string
		want  string
		noneM bool
	}{
		{rules: "", dn: dn, want: dn},
		{rules: "DEFAULT", dn: dn, want: dn},
		{rules: `RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/`, dn: dn, want: "Duke"},
		{rules: `RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L`, dn: dn, want: "duke"},
		{rules: `RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/U`, dn: dn, want: "DUKE"},
		{rules: `RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L`, dn: "CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Santa Clara,ST=CA,C=US", want: "duke@javasoft"},
		// First matching rule wins; non-matching ones are skipped.
		{rules: `RULE:^CN=(.*?),OU=Admins.*$/admin-$1/, RULE:^CN=(.*?),OU=ServiceUsers.*$/svc-$1/, DEFAULT`, dn: dn, want: "svc-Duke"},
		{rules: "RULE:^CN=(.*?),OU=Admins.*$/$1/,\nDEFAULT", dn: dn, want: dn},
		// An escaped slash in the pattern and replacement.
		{rules: `RULE:^CN=(.*?)\/x,.*$/a\/$1/`, dn: "CN=b/x,O=o", want: "a/b"},
		// A reference to a group that does not exist stays literal.
		{rules: `RULE:^CN=([^,]*).*$/$1$2/`, dn: dn, want: "Duke$2"},
		// Greedy group numbers: $12 is group 1 then "2" with one group.
		{rules: `RULE:^CN=([^,]*).*$/$12/`, dn: dn, want: "Duke2"},
		{rules: `RULE:^CN=admin.*$/admin/`, dn: dn, noneM: true},
	}
	for _, tt := range tests {
		m, err := security.ParseSSLPrincipalMappingRules(tt.rules)
		if err != nil {
			t.Fatalf("rules %q: %v", tt.rules, err)
		}
		got, err := m.Name(tt.dn)
		if tt.noneM {
			if !errors.Is(err, security.ErrNoMatchingRule) {
				t.Errorf("rules %q on %q: err %v, want no matching rule", tt.rules, tt.dn, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("rules %q on %q = %q, %v; want %q", tt.rules, tt.dn, got, err, tt.want)
		}
	}
}

func TestSSLPrincipalMappingInvalid(t *testing.T) {
	for _, rules := range []string{
		"DEFAULT, RULE:x",          // not RULE:pattern/replacement/
		"RULE:^CN=(.*)$/$1/X",      // unknown flag
		"RULE:^CN=(.*$/$1/",        // bad regexp
		"NOT_A_RULE",               // neither DEFAULT nor RULE:
		"RULE:^CN=(.*)$/$1/L junk", // trailing text
	} {
		if _, err := security.ParseSSLPrincipalMappingRules(rules); !errors.Is(err, security.ErrBadConfig) {
			t.Errorf("rules %q: err %v, want a config error", rules, err)
		}
	}
}

// SubjectDN writes RFC 2253 as Java's X500Principal.getName() does: the
// last RDN of the encoding first.
func TestSubjectDN(t *testing.T) {
	ca := securitytest.NewCA(t, "ca")
	for _, subject := range []string{
		"CN=alice",
		"CN=Duke,OU=JavaSoft,O=Sun Microsystems,C=US",
		"CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Santa Clara,ST=CA,C=US",
	} {
		leaf := ca.Issue(t, subject)
		if got := security.SubjectDN(leaf.Cert); got != subject {
			t.Errorf("SubjectDN = %q, want %q", got, subject)
		}
	}
}
