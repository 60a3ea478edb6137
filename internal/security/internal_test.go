package security

import "testing"

// Reference: RFC 2253 section 2.4 (escaped characters).
func TestEscapeDNValue(t *testing.T) {
	for in, want := range map[string]string{
		"plain":      "plain",
		"a,b":        `a\,b`,
		`q"u+o;t<e>`: `q\"u\+o\;t\<e\>`,
		"#lead":      `\#lead`,
		" lead":      `\ lead`,
		"trail ":     `trail\ `,
		`back\`:      `back\\`,
	} {
		if got := escapeDNValue(in); got != want {
			t.Errorf("escapeDNValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSaslName(t *testing.T) {
	for in, want := range map[string]string{"alice": "alice", "a=2Cb": "a,b", "a=3Db": "a=b", "=3D=2C": "=,"} {
		got, err := saslName(in)
		if err != nil || got != want {
			t.Errorf("saslName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"a=b", "a=", "=2"} {
		if _, err := saslName(bad); err == nil {
			t.Errorf("saslName(%q) succeeded", bad)
		}
	}
}
