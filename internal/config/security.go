package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gregor-streaming/gregor/internal/security"
)

// Listener-prefixed security configs, as Kafka's ListenerName.configPrefix
// and saslMechanismConfigPrefix:
//
//	listener.name.<listener>.<config>                   ssl.*, sasl.enabled.mechanisms,
//	                                                    sasl.server.max.receive.size,
//	                                                    connections.max.reauth.ms,
//	                                                    ssl.principal.mapping.rules
//	listener.name.<listener>.<mechanism>.<config>       sasl.jaas.config,
//	                                                    connections.max.reauth.ms
//
// <listener> and <mechanism> are lower case ("listener.name.sasl_ssl.
// scram-sha-256.sasl.jaas.config"). A prefixed value wins over the plain
// one for that listener.

const listenerPrefix = "listener.name."

// listenerConfigs are the configs a listener prefix may carry.
var listenerConfigs = map[string]bool{}

// mechanismConfigs are the configs a listener and mechanism prefix may
// carry.
var mechanismConfigs = map[string]bool{"sasl.jaas.config": true, "connections.max.reauth.ms": true, "sasl.server.callback.handler.class": true}

func init() {
	for _, d := range securityBrokerDefs {
		listenerConfigs[d.Name] = true
	}
	delete(listenerConfigs, "sasl.mechanism.inter.broker.protocol")
	delete(listenerConfigs, "sasl.mechanism.controller.protocol")
	// Connection limits per listener (KIP-402, KIP-612).
	listenerConfigs["max.connections"] = true
	listenerConfigs["max.connection.creation.rate"] = true
}

// prefixedDef returns the definition of a listener-prefixed config name,
// renamed to it.
func prefixedDef(name string) (BrokerConfigDef, bool) {
	rest, ok := strings.CutPrefix(name, listenerPrefix)
	if !ok {
		return BrokerConfigDef{}, false
	}
	listener, cfg, ok := strings.Cut(rest, ".")
	if !ok || listener == "" {
		return BrokerConfigDef{}, false
	}
	base := cfg
	if !listenerConfigs[cfg] || cfg == "sasl.jaas.config" {
		mech, c, ok := strings.Cut(cfg, ".")
		if !ok || mech == "" || !mechanismConfigs[c] {
			return BrokerConfigDef{}, false
		}
		base = c
	}
	d, ok := brokerDefs[base]
	if !ok {
		return BrokerConfigDef{}, false
	}
	d.Name = name
	return d, true
}

// lookupDef finds a broker config definition by name, listener-prefixed
// names included.
func lookupDef(name string) (BrokerConfigDef, bool) {
	if d, ok := brokerDefs[name]; ok {
		return d, true
	}
	return prefixedDef(name)
}

// ListenerSecurity is the security of one listener: its protocol and the
// settings that apply to it, listener-prefixed values over plain ones.
// Only what the protocol uses is filled in.
type ListenerSecurity struct {
	Name     string
	Protocol security.Protocol
	// TLS are the ssl.* settings (SSL, SASL_SSL).
	TLS security.TLSSettings
	// PrincipalMappingRules is ssl.principal.mapping.rules.
	PrincipalMappingRules string
	// Mechanisms is sasl.enabled.mechanisms (SASL_PLAINTEXT, SASL_SSL).
	Mechanisms []string
	// JAAS maps an enabled mechanism to its
	// listener.name.<l>.<mechanism>.sasl.jaas.config text ("" if unset).
	JAAS map[string]string
	// ReauthMs maps an enabled mechanism to connections.max.reauth.ms.
	ReauthMs map[string]int64
	// MaxReceiveBytes is sasl.server.max.receive.size.
	MaxReceiveBytes int32
	// OAuthBearer are the OAUTHBEARER settings when it is enabled.
	OAuthBearer security.OAuthBearerSettings
	// FailedAuthenticationDelayMs is
	// connection.failed.authentication.delay.ms.
	FailedAuthenticationDelayMs int32
}

// ListenerSecurity returns the security settings of the named listener
// (any case); the protocol is PLAINTEXT for a listener not in
// listener.security.protocol.map.
func (b *Broker) ListenerSecurity(name string) ListenerSecurity {
	name = strings.ToUpper(name)
	ls := ListenerSecurity{Name: name, Protocol: security.Protocol(b.ListenerSecurityProtocolMap[name])}
	if ls.Protocol == "" {
		ls.Protocol = security.Plaintext
	}
	prefix := listenerPrefix + strings.ToLower(name) + "."
	get := func(cfg string) any {
		if v, ok := b.values[prefix+cfg]; ok {
			return v
		}
		return b.values.get(cfg)
	}
	str := func(cfg string) string {
		if v, _ := get(cfg).(string); v != "" {
			return v
		}
		return ""
	}
	list := func(cfg string) []string {
		v, _ := get(cfg).([]string)
		return v
	}
	ls.FailedAuthenticationDelayMs = b.values.i32("connection.failed.authentication.delay.ms")
	if ls.Protocol.UsesTLS() {
		ls.TLS = security.TLSSettings{
			KeystoreType:                    str("ssl.keystore.type"),
			KeystoreLocation:                str("ssl.keystore.location"),
			KeystoreKey:                     str("ssl.keystore.key"),
			KeystoreCertificateChain:        str("ssl.keystore.certificate.chain"),
			KeystorePassword:                str("ssl.keystore.password"),
			KeyPassword:                     str("ssl.key.password"),
			TruststoreType:                  str("ssl.truststore.type"),
			TruststoreLocation:              str("ssl.truststore.location"),
			TruststoreCertificates:          str("ssl.truststore.certificates"),
			TruststorePassword:              str("ssl.truststore.password"),
			ClientAuth:                      str("ssl.client.auth"),
			EndpointIdentificationAlgorithm: str("ssl.endpoint.identification.algorithm"),
			EnabledProtocols:                list("ssl.enabled.protocols"),
			CipherSuites:                    list("ssl.cipher.suites"),
		}
		ls.PrincipalMappingRules = str("ssl.principal.mapping.rules")
	}
	if ls.Protocol.UsesSASL() {
		ls.Mechanisms = list("sasl.enabled.mechanisms")
		ls.MaxReceiveBytes = get("sasl.server.max.receive.size").(int32)
		ls.JAAS = map[string]string{}
		ls.ReauthMs = map[string]int64{}
		for _, m := range ls.Mechanisms {
			mp := prefix + strings.ToLower(m) + "."
			if v, ok := b.values[mp+"sasl.jaas.config"].(string); ok {
				ls.JAAS[m] = v
			}
			reauth := get("connections.max.reauth.ms").(int64)
			if v, ok := b.values[mp+"connections.max.reauth.ms"].(int64); ok {
				reauth = v
			}
			ls.ReauthMs[m] = reauth
		}
		if slices.Contains(ls.Mechanisms, security.MechanismOAuthBearer) {
			ls.OAuthBearer = b.oauthBearerSettings(prefix, get, str, list, ls.JAAS[security.MechanismOAuthBearer])
		}
	}
	return ls
}

// oauthBearerSettings reads a listener's OAUTHBEARER settings (KIP-768).
func (b *Broker) oauthBearerSettings(prefix string, get func(string) any, str func(string) string, list func(string) []string, jaas string) security.OAuthBearerSettings {
	s := security.OAuthBearerSettings{
		JAAS:             jaas,
		JWKSEndpointURL:  str("sasl.oauthbearer.jwks.endpoint.url"),
		ExpectedAudience: list("sasl.oauthbearer.expected.audience"),
		ExpectedIssuer:   str("sasl.oauthbearer.expected.issuer"),
		SubClaimName:     str("sasl.oauthbearer.sub.claim.name"),
		ScopeClaimName:   str("sasl.oauthbearer.scope.claim.name"),
	}
	if v, ok := b.values[prefix+"oauthbearer.sasl.server.callback.handler.class"].(string); ok {
		s.CallbackHandlerClass = v
	}
	if v, ok := get("sasl.oauthbearer.jwks.endpoint.refresh.ms").(int64); ok {
		s.JWKSRefresh = time.Duration(v) * time.Millisecond
	}
	if v, ok := get("sasl.oauthbearer.clock.skew.seconds").(int32); ok {
		s.ClockSkew = time.Duration(v) * time.Second
	}
	return s
}

// InterBrokerSASLMechanism is sasl.mechanism.inter.broker.protocol.
func (b *Broker) InterBrokerSASLMechanism() string {
	return b.values.str("sasl.mechanism.inter.broker.protocol")
}

// ControllerSASLMechanism is sasl.mechanism.controller.protocol.
func (b *Broker) ControllerSASLMechanism() string {
	return b.values.str("sasl.mechanism.controller.protocol")
}

// resolveSecurity checks the security configs of every listener, as
// Kafka's KafkaConfig.validateValues and its channel builders do at
// startup: mechanisms Gregor serves, the inter-broker and controller
// mechanisms enabled on their listeners, JAAS text that parses, with the
// credentials a node logs in to other nodes with, and mapping rules
// that parse. Key stores are read when the listener starts (a missing
// one fails the start, as Kafka's SslFactory does).
func (b *Broker) resolveSecurity() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for _, l := range b.Listeners {
		ls := b.ListenerSecurity(l.Name)
		lower := strings.ToLower(l.Name)
		if ls.Protocol.UsesTLS() {
			if _, err := security.ParseSSLPrincipalMappingRules(ls.PrincipalMappingRules); err != nil {
				bad("ssl.principal.mapping.rules: %v", err)
			}
		}
		if !ls.Protocol.UsesSASL() {
			continue
		}
		if len(ls.Mechanisms) == 0 {
			bad("listener %s (%s) has no SASL mechanism: set sasl.enabled.mechanisms", l.Name, ls.Protocol)
		}
		for _, m := range ls.Mechanisms {
			if !security.Supported(m) {
				bad("sasl.enabled.mechanisms of listener %s: %s is not supported (Gregor serves %s)", l.Name, m, strings.Join(security.Mechanisms, ", "))
				continue
			}
			if m == security.MechanismOAuthBearer {
				// The validator's settings (a file JWKS is read here).
				if _, err := security.NewOAuthBearerValidator(ls.OAuthBearer, nil); err != nil {
					bad("listener %s: %v", l.Name, err)
				}
			}
			jaas := ls.JAAS[m]
			key := fmt.Sprintf("listener.name.%s.%s.sasl.jaas.config", lower, strings.ToLower(m))
			if jaas == "" {
				if m == security.MechanismPlain {
					bad("%s must be set: PLAIN users are the user_<name>=\"<password>\" options of its %s", key, security.PlainLoginModule)
				}
				continue
			}
			if _, err := security.ParseJAASModule(jaas); err != nil {
				bad("%s: %v", key, err)
			}
		}
	}
	// The mechanisms this node logs in to other nodes with.
	client := func(listener, mechProp, mech string) {
		ls := b.ListenerSecurity(listener)
		if !ls.Protocol.UsesSASL() {
			return
		}
		if !slices.Contains(ls.Mechanisms, mech) {
			bad("%s must be included in sasl.enabled.mechanisms of listener %s when SASL is used for it (%s is not)", mechProp, listener, mech)
			return
		}
		mod, err := security.ParseJAASModule(ls.JAAS[mech])
		if err != nil || mod.Username() == "" {
			bad("listener.name.%s.%s.sasl.jaas.config must give the username and password this node logs in with over %s", strings.ToLower(listener), strings.ToLower(mech), listener)
		}
	}
	if b.HasRole("broker") {
		client(b.InterBrokerListenerName, "sasl.mechanism.inter.broker.protocol", b.InterBrokerSASLMechanism())
	}
	if len(b.ControllerListenerNames) > 0 && !b.SingleNode() {
		client(b.ControllerListenerNames[0], "sasl.mechanism.controller.protocol", b.ControllerSASLMechanism())
	}
	if len(errs) > 0 {
		return conflict("listener.security.protocol.map", "%s", strings.Join(errs, "; "))
	}
	return nil
}
