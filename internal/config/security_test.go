package config

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/gregor-streaming/gregor/internal/security"
)

// kafkaSecurityDefaults are the TLS and SASL broker configs with Kafka
// 4.0's defaults, types and update modes (security_defs.go).
var kafkaSecurityDefaults = []struct {
	name, dflt string
	typ        Type
	mode       UpdateMode
}{
	// authorizer_defs.go
	{"authorizer.class.name", "", TypeString, ReadOnly},
	{"super.users", "", TypeString, ReadOnly},                          // gregor: the StandardAuthorizer's own config
	{"allow.everyone.if.no.acl.found", "false", TypeBoolean, ReadOnly}, // gregor: as super.users
	{"ssl.protocol", "TLSv1.3", TypeString, PerBroker},
	{"ssl.enabled.protocols", "TLSv1.2,TLSv1.3", TypeList, PerBroker},
	{"ssl.cipher.suites", "", TypeList, PerBroker},
	{"ssl.keystore.type", "JKS", TypeString, PerBroker},
	{"ssl.keystore.location", "null", TypeString, PerBroker},
	{"ssl.keystore.password", "null", TypePassword, PerBroker},
	{"ssl.key.password", "null", TypePassword, PerBroker},
	{"ssl.keystore.key", "null", TypePassword, PerBroker},
	{"ssl.keystore.certificate.chain", "null", TypePassword, PerBroker},
	{"ssl.truststore.type", "JKS", TypeString, PerBroker},
	{"ssl.truststore.location", "null", TypeString, PerBroker},
	{"ssl.truststore.password", "null", TypePassword, PerBroker},
	{"ssl.truststore.certificates", "null", TypePassword, PerBroker},
	{"ssl.client.auth", "none", TypeString, PerBroker},
	{"ssl.endpoint.identification.algorithm", "https", TypeString, PerBroker},
	{"ssl.principal.mapping.rules", "DEFAULT", TypeString, ReadOnly},
	{"sasl.enabled.mechanisms", "GSSAPI", TypeList, PerBroker},
	{"sasl.server.callback.handler.class", "null", TypeClass, ReadOnly},
	{"sasl.oauthbearer.jwks.endpoint.url", "null", TypeString, ReadOnly},
	{"sasl.oauthbearer.jwks.endpoint.refresh.ms", "3600000", TypeLong, ReadOnly},
	{"sasl.oauthbearer.expected.audience", "null", TypeList, ReadOnly},
	{"sasl.oauthbearer.expected.issuer", "null", TypeString, ReadOnly},
	{"sasl.oauthbearer.sub.claim.name", "sub", TypeString, ReadOnly},
	{"sasl.oauthbearer.scope.claim.name", "scope", TypeString, ReadOnly},
	{"sasl.oauthbearer.clock.skew.seconds", "30", TypeInt, ReadOnly},
	{"sasl.mechanism.inter.broker.protocol", "GSSAPI", TypeString, PerBroker},
	{"sasl.mechanism.controller.protocol", "GSSAPI", TypeString, ReadOnly},
	{"sasl.jaas.config", "null", TypePassword, PerBroker},
	{"sasl.server.max.receive.size", "524288", TypeInt, ReadOnly},
	{"connections.max.reauth.ms", "0", TypeLong, ReadOnly},
	{"delegation.token.secret.key", "null", TypePassword, ReadOnly},
	{"delegation.token.master.key", "null", TypePassword, ReadOnly},
	{"delegation.token.max.lifetime.ms", "604800000", TypeLong, ReadOnly},
	{"delegation.token.expiry.time.ms", "86400000", TypeLong, ReadOnly},
	{"delegation.token.expiry.check.interval.ms", "3600000", TypeLong, ReadOnly},
}

const plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`

// secureProps is a single node with a PLAINTEXT, an SSL and a SASL_SSL
// listener.
func secureProps() map[string]string {
	return map[string]string{
		"listeners":                                                      "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		"ssl.keystore.type":                                              "PEM",
		"ssl.keystore.location":                                          "/etc/gregor/broker.pem",
		"listener.name.ssl.ssl.client.auth":                              "required",
		"listener.name.ssl.ssl.keystore.location":                        "/etc/gregor/ssl-listener.pem",
		"ssl.principal.mapping.rules":                                    "RULE:^CN=(.*?),.*$/$1/L,DEFAULT",
		"sasl.enabled.mechanisms":                                        "PLAIN,SCRAM-SHA-256",
		"listener.name.sasl_ssl.plain.sasl.jaas.config":                  plainJAAS,
		"connections.max.reauth.ms":                                      "60000",
		"listener.name.sasl_ssl.scram-sha-256.connections.max.reauth.ms": "30000",
		"log.dirs": "/tmp/x",
	}
}

func TestListenerSecurity(t *testing.T) {
	b, err := NewBroker(secureProps())
	if err != nil {
		t.Fatal(err)
	}
	pt := b.ListenerSecurity("PLAINTEXT")
	if pt.Protocol != security.Plaintext || pt.TLS.HasKeystore() || pt.Mechanisms != nil {
		t.Errorf("PLAINTEXT: %+v", pt)
	}
	ssl := b.ListenerSecurity("ssl")
	if ssl.Protocol != security.SSL || ssl.TLS.KeystoreLocation != "/etc/gregor/ssl-listener.pem" || ssl.TLS.ClientAuth != "required" ||
		ssl.TLS.KeystoreType != "PEM" || ssl.PrincipalMappingRules != "RULE:^CN=(.*?),.*$/$1/L,DEFAULT" ||
		!slices.Equal(ssl.TLS.EnabledProtocols, []string{"TLSv1.2", "TLSv1.3"}) || ssl.TLS.EndpointIdentificationAlgorithm != "https" {
		t.Errorf("SSL: %+v", ssl)
	}
	sasl := b.ListenerSecurity("SASL_SSL")
	if sasl.Protocol != security.SASLSSL || sasl.TLS.KeystoreLocation != "/etc/gregor/broker.pem" || sasl.TLS.ClientAuth != "none" ||
		!slices.Equal(sasl.Mechanisms, []string{"PLAIN", "SCRAM-SHA-256"}) || sasl.MaxReceiveBytes != 524288 || sasl.FailedAuthenticationDelayMs != 100 {
		t.Errorf("SASL_SSL: %+v", sasl)
	}
	if !maps.Equal(sasl.JAAS, map[string]string{"PLAIN": plainJAAS}) {
		t.Errorf("SASL_SSL JAAS: %v", sasl.JAAS)
	}
	if !maps.Equal(sasl.ReauthMs, map[string]int64{"PLAIN": 60000, "SCRAM-SHA-256": 30000}) {
		t.Errorf("SASL_SSL reauth: %v", sasl.ReauthMs)
	}
}

func TestSecurityConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]string
		want string
	}{
		{"unsupported mechanism", map[string]string{"sasl.enabled.mechanisms": "GSSAPI"}, "GSSAPI is not supported"},
		{"no PLAIN users", map[string]string{"listener.name.sasl_ssl.plain.sasl.jaas.config": ""}, "PLAIN users"},
		{"bad JAAS", map[string]string{"listener.name.sasl_ssl.plain.sasl.jaas.config": "Broken required x"}, "Invalid JAAS config"},
		{"bad rules", map[string]string{"ssl.principal.mapping.rules": "RULE:oops"}, "Invalid rule"},
		{"inter-broker mechanism", map[string]string{"inter.broker.listener.name": "SASL_SSL"}, "sasl.mechanism.inter.broker.protocol must be included"},
		{"bad client auth", map[string]string{"ssl.client.auth": "always"}, "ssl.client.auth"},
		{"unknown prefixed", map[string]string{"listener.name.ssl.sasl.jaas.config": "x"}, "listener.name.ssl.sasl.jaas.config"},
	} {
		props := secureProps()
		for k, v := range tc.set {
			if v == "" {
				delete(props, k)
			} else {
				props[k] = v
			}
		}
		_, err := NewBroker(props)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	// The inter-broker mechanism, enabled and with login credentials.
	props := secureProps()
	props["inter.broker.listener.name"] = "SASL_SSL"
	props["sasl.mechanism.inter.broker.protocol"] = "PLAIN"
	if _, err := NewBroker(props); err != nil {
		t.Errorf("PLAIN inter-broker: %v", err)
	}
	props["sasl.mechanism.inter.broker.protocol"] = "SCRAM-SHA-256"
	if _, err := NewBroker(props); err == nil || !strings.Contains(err.Error(), "scram-sha-256.sasl.jaas.config must give the username") {
		t.Errorf("SCRAM inter-broker without credentials: %v", err)
	}
}

// Key stores may change per broker without a restart (KIP-226); the
// mapping rules may not.
func TestSecurityDynamic(t *testing.T) {
	for _, name := range []string{"ssl.keystore.location", "listener.name.ssl.ssl.keystore.location", "listener.name.sasl_ssl.plain.sasl.jaas.config"} {
		if err := ValidateBrokerDynamic(name, "x"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := ValidateBrokerDynamicDefault(name, "x"); !errors.Is(err, ErrNotDynamic) {
			t.Errorf("%s at the cluster default: %v", name, err)
		}
	}
	if err := ValidateBrokerDynamic("ssl.principal.mapping.rules", "DEFAULT"); !errors.Is(err, ErrNotDynamic) {
		t.Errorf("ssl.principal.mapping.rules: %v", err)
	}
	b, err := NewBroker(secureProps())
	if err != nil {
		t.Fatal(err)
	}
	nb, err := b.WithDynamic(map[string]string{"listener.name.ssl.ssl.keystore.location": "/new.pem"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := nb.ListenerSecurity("SSL").TLS.KeystoreLocation; got != "/new.pem" {
		t.Errorf("dynamic key store %q", got)
	}
	if d, ok := LookupBrokerConfig("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"); !ok || !d.Sensitive() {
		t.Errorf("prefixed JAAS config: %+v %v", d, ok)
	}
}
