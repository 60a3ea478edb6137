package security_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/internal/security"
)

// Reference: Kafka's JaasConfig (the sasl.jaas.config syntax) and the
// broker examples of its security documentation.
func TestParseJAAS(t *testing.T) {
	tests := []struct {
		text   string
		module string
		flag   string
		opts   map[string]string
	}{
		{
			text:   `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`,
			module: security.PlainLoginModule, flag: "required",
			opts: map[string]string{"username": "admin", "password": "admin-secret", "user_admin": "admin-secret", "user_alice": "alice-secret"},
		},
		{
			text:   "org.apache.kafka.common.security.scram.ScramLoginModule REQUIRED\n  username='bob'\n  password=\"p\\\"q\\\\r\";",
			module: security.ScramLoginModule, flag: "required",
			opts: map[string]string{"username": "bob", "password": `p"q\r`},
		},
		{
			text:   "// a comment\nx.Y optional /* inline */ key=value-1.2_$;",
			module: "x.Y", flag: "optional",
			opts: map[string]string{"key": "value-1.2_$"},
		},
		{text: "m sufficient;", module: "m", flag: "sufficient", opts: map[string]string{}},
	}
	for _, tt := range tests {
		m, err := security.ParseJAASModule(tt.text)
		if err != nil {
			t.Errorf("%q: %v", tt.text, err)
			continue
		}
		if m.LoginModule != tt.module || m.Flag != tt.flag || !maps.Equal(m.Options, tt.opts) {
			t.Errorf("%q = %+v, want %s %s %v", tt.text, m, tt.module, tt.flag, tt.opts)
		}
	}
}

func TestParseJAASErrors(t *testing.T) {
	for _, text := range []string{
		"",
		"m required",                  // no ';'
		"m mandatory;",                // bad flag
		"m required user;",            // no value
		"m required user=;",           // no value
		`m required user="open;`,      // unterminated quote
		"m required /* open comment;", // unterminated comment
		"m required; n required;",     // two modules where one is expected
	} {
		_, err := security.ParseJAASModule(text)
		if !errors.Is(err, security.ErrBadConfig) {
			t.Errorf("%q: err %v, want a config error", text, err)
		}
	}
	// Errors never repeat option values: they may be passwords.
	_, err := security.ParseJAASModule(`m required password="s3cret" user`)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err %v", err)
	}
}

func TestJAASPlainUsers(t *testing.T) {
	m, err := security.ParseJAASModule(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a" user_admin="a" user_alice="b";`)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.PlainUsers(); !maps.Equal(got, map[string]string{"admin": "a", "alice": "b"}) {
		t.Errorf("PlainUsers = %v", got)
	}
	if m.Username() != "admin" || m.Password() != "a" {
		t.Errorf("Username, Password = %q, %q", m.Username(), m.Password())
	}
}
