package security_test

import (
	"testing"

	"github.com/gregor-streaming/gregor/internal/security"
)

// FuzzServerSession feeds arbitrary client messages to every mechanism.
// Invariants: no panic; a session that reports done without an error
// has an authorization id that is a user the credentials know, and never
// for a message sequence the fuzzer made up (it cannot know the
// secrets' proofs, so success is impossible).
func FuzzServerSession(f *testing.F) {
	f.Add(uint8(0), []byte("\x00alice\x00alice-secret"), []byte{})
	f.Add(uint8(1), []byte("n,,n=bob,r=abcdef"), []byte("c=biws,r=abcdef,p=AAAA"))
	f.Add(uint8(2), []byte("n,a=bob,n=bob,r=x,ext=1"), []byte("c=bixhPWJvYiw=,r=x,p="))
	f.Add(uint8(1), []byte("y,,n=b=2Co=3Db,r=\x7f"), []byte(",p=,p=,c="))
	creds := testCreds(f)
	f.Fuzz(func(t *testing.T, which uint8, first, second []byte) {
		mech := security.Mechanisms[int(which)%len(security.Mechanisms)]
		srv, err := security.NewServerSession(mech, creds)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range [][]byte{first, second} {
			_, done, err := srv.Step(msg)
			if err != nil {
				if srv.AuthorizationID() != "" {
					t.Fatalf("authorization id %q after an error", srv.AuthorizationID())
				}
				return
			}
			if done {
				// Only PLAIN can succeed here, and only with the
				// real password.
				if mech != security.MechanismPlain || string(first) != "\x00alice\x00alice-secret" && string(first) != "alice\x00alice\x00alice-secret" {
					t.Fatalf("%s accepted %q", mech, first)
				}
				return
			}
		}
	})
}

// FuzzParseJAAS: no panic, and a parsed module's options are all named.
func FuzzParseJAAS(f *testing.F) {
	f.Add(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a\"b" user_alice='x';`)
	f.Add("m required /* c */ k=v; // x\n n optional;")
	f.Add(`m required k="\101\7777";`)
	f.Fuzz(func(t *testing.T, text string) {
		mods, err := security.ParseJAAS(text)
		if err != nil {
			return
		}
		for _, m := range mods {
			if m.LoginModule == "" || m.Flag == "" || len(m.Keys) != len(m.Options) {
				t.Fatalf("bad module %+v", m)
			}
		}
	})
}

// FuzzMappingRules: parsing and applying rules never panics.
func FuzzMappingRules(f *testing.F) {
	f.Add(`RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L,DEFAULT`, "CN=a,OU=b")
	f.Add(`RULE:(.*)/$9$0\$1\/x/U`, "x")
	f.Fuzz(func(t *testing.T, rules, dn string) {
		m, err := security.ParseSSLPrincipalMappingRules(rules)
		if err != nil {
			return
		}
		m.Name(dn)
	})
}
