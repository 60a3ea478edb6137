package config

// securityBrokerDefs are the broker's TLS and SASL configs (Kafka 4.0's
// BrokerSecurityConfigs, SslConfigs and SaslConfigs as KafkaConfig
// defines them). Every one may also be given per listener with the prefix
// listener.name.<listener name, lower case>. (listeners.go,
// ListenerSecurity); sasl.jaas.config and connections.max.reauth.ms
// take the mechanism too: listener.name.<listener>.<mechanism, lower
// case>.sasl.jaas.config.
var securityBrokerDefs = []BrokerConfigDef{
	// ---- TLS ----
	bdef("ssl.protocol", TypeString, "TLSv1.3", Medium, PerBroker, nil,
		"The SSL protocol used to generate the SSLContext. The default is 'TLSv1.3', which should be fine for most use cases. Gregor negotiates the versions of ssl.enabled.protocols."),
	bdef("ssl.enabled.protocols", TypeList, "TLSv1.2,TLSv1.3", Medium, PerBroker, listOf("TLSv1.2", "TLSv1.3", "TLSv1.1", "TLSv1"),
		"The list of protocols enabled for SSL connections. The default is 'TLSv1.2,TLSv1.3'."),
	bdef("ssl.cipher.suites", TypeList, "", Low, PerBroker, nil,
		"A list of cipher suites (IANA names). By default all the available cipher suites are supported."),
	bdef("ssl.keystore.type", TypeString, "JKS", Medium, PerBroker, nil,
		"The file format of the key store file. The values currently supported are [JKS, PKCS12, PEM], in any case; JKS, the default, also reads a PKCS12 file, as Java's keystore.type.compat does."),
	bdef("ssl.keystore.location", TypeString, nullDefault, High, PerBroker, nil,
		"The location of the key store file: a JKS or PKCS12 store (its first private-key entry by alias), or a PEM file holding the private key and the certificate chain. Changing it, or setting it again with kafka-configs, re-reads the file without a restart."),
	bdef("ssl.keystore.password", TypePassword, nullDefault, High, PerBroker, nil,
		"The store password for the key store file; required for JKS and PKCS12 key stores. Not used for PEM files, whose key is decrypted with ssl.key.password."),
	bdef("ssl.key.password", TypePassword, nullDefault, High, PerBroker, nil,
		"The password of the private key in the key store file or the PEM key specified in 'ssl.keystore.key'. For a JKS key store, ssl.keystore.password is used when this is not set."),
	bdef("ssl.keystore.key", TypePassword, nullDefault, High, PerBroker, nil,
		"Private key in the format specified by 'ssl.keystore.type'. Default SSL engine factory supports only PEM format with PKCS#8 keys. If the key is encrypted, key password must be specified using 'ssl.key.password'"),
	bdef("ssl.keystore.certificate.chain", TypePassword, nullDefault, High, PerBroker, nil,
		"Certificate chain in the format specified by 'ssl.keystore.type'. Default SSL engine factory supports only PEM format with a list of X.509 certificates"),
	bdef("ssl.truststore.type", TypeString, "JKS", Medium, PerBroker, nil,
		"The file format of the trust store file. The values currently supported are [JKS, PKCS12, PEM], in any case; JKS, the default, also reads a PKCS12 file."),
	bdef("ssl.truststore.location", TypeString, nullDefault, High, PerBroker, nil,
		"The location of the trust store file: a JKS or PKCS12 store of trusted certificates, or PEM certificates."),
	bdef("ssl.truststore.password", TypePassword, nullDefault, High, PerBroker, nil,
		"The password for the trust store file. If a password is not set, a JKS trust store is still used, but integrity checking is disabled. Not used for PEM files."),
	bdef("ssl.truststore.certificates", TypePassword, nullDefault, High, PerBroker, nil,
		"Trusted certificates in the format specified by 'ssl.truststore.type'. Default SSL engine factory supports only PEM format with X.509 certificates."),
	bdef("ssl.client.auth", TypeString, "none", Medium, PerBroker, oneOf("required", "requested", "none"),
		"Configures kafka broker to request client authentication. ssl.client.auth=required: client authentication is required. ssl.client.auth=requested: client authentication is optional; unlike required, a client without a certificate may connect. ssl.client.auth=none: client authentication is not needed."),
	bdef("ssl.endpoint.identification.algorithm", TypeString, "https", Low, PerBroker, nil,
		"The endpoint identification algorithm to validate server hostname using server certificate. 'https' or empty (no host name check)."),
	bdef("ssl.principal.mapping.rules", TypeString, "DEFAULT", Low, ReadOnly, nil,
		"A list of rules for mapping from distinguished name from the client certificate to short name. The rules are evaluated in order and the first rule that matches a principal name is used to map it to a short name. Any later rules in the list are ignored. By default, distinguished name of the X.500 certificate will be the principal. Format: RULE:pattern/replacement/[LU], or DEFAULT."),

	// ---- SASL ----
	bdef("sasl.enabled.mechanisms", TypeList, "GSSAPI", Medium, PerBroker, nil,
		"The list of SASL mechanisms enabled in the Kafka server. The list may contain any mechanism for which a security provider is available. Gregor serves PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER; Kafka's default is GSSAPI."),
	bdef("sasl.mechanism.inter.broker.protocol", TypeString, "GSSAPI", Medium, PerBroker, nil,
		"SASL mechanism used for inter-broker communication. Default is GSSAPI."),
	bdef("sasl.mechanism.controller.protocol", TypeString, "GSSAPI", High, ReadOnly, nil,
		"SASL mechanism used for communication with controllers. Default is GSSAPI."),
	bdef("sasl.jaas.config", TypePassword, nullDefault, Medium, PerBroker, nil,
		"JAAS login context parameters for SASL connections in the format used by JAAS configuration files. The format for the value is: loginModuleClass controlFlag (optionName=optionValue)*;. For brokers, the config must be prefixed with listener prefix and SASL mechanism name in lower-case. For example, listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=com.example.ScramLoginModule required;"),
	bdef("sasl.server.max.receive.size", TypeInt, "524288", Low, ReadOnly, nil,
		"The maximum receive size allowed before and during initial SASL authentication. Default receive size is 512KB."),
	bdef("connections.max.reauth.ms", TypeLong, "0", Medium, ReadOnly, nil,
		"When explicitly set to a positive number (the default is 0, not a positive number), a session lifetime that will not exceed the configured value will be communicated to v2.2.0 or later clients when they authenticate. The broker will disconnect any such connection that is not re-authenticated within the session lifetime and that is then subsequently used for any purpose other than re-authentication. Configuration names can optionally be prefixed with listener prefix and SASL mechanism name in lower-case. For example, listener.name.sasl_ssl.oauthbearer.connections.max.reauth.ms=3600000"),

	// ---- Delegation tokens (KIP-48) ----
	bdef("delegation.token.secret.key", TypePassword, nullDefault, Medium, ReadOnly, nil,
		"Secret key to generate and verify delegation tokens. The same key must be configured across all the brokers. If using Kafka with KRaft, the key must also be set across all controllers. If the key is not set or set to empty string, brokers will disable the delegation token support."),
	bdef("delegation.token.master.key", TypePassword, nullDefault, Medium, ReadOnly, nil,
		"DEPRECATED: An alias for delegation.token.secret.key, which should be used instead of this config."),
	bdef("delegation.token.max.lifetime.ms", TypeLong, "604800000", Medium, ReadOnly, atLeast(1),
		"The token has a maximum lifetime beyond which it cannot be renewed anymore. Default value 7 days."),
	bdef("delegation.token.expiry.time.ms", TypeLong, "86400000", Medium, ReadOnly, atLeast(1),
		"The token validity time in milliseconds before the token needs to be renewed. Default value 1 day."),
	bdef("delegation.token.expiry.check.interval.ms", TypeLong, "3600000", Low, ReadOnly, atLeast(1),
		"Scan interval to remove expired delegation tokens."),

	// ---- SASL/OAUTHBEARER (KIP-255, KIP-768) ----
	bdef("sasl.server.callback.handler.class", TypeClass, nullDefault, Medium, ReadOnly, nil,
		"The fully qualified name of a SASL server callback handler class. For brokers, the config must be prefixed with listener prefix and SASL mechanism name in lower-case. Gregor knows OAUTHBEARER's org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler and org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler."),
	bdef("sasl.oauthbearer.jwks.endpoint.url", TypeString, nullDefault, Medium, ReadOnly, nil,
		"The OAuth/OIDC provider URL from which the provider's JWKS (JSON Web Key Set) can be retrieved. The URL can be HTTP(S)-based or file-based."),
	bdef("sasl.oauthbearer.jwks.endpoint.refresh.ms", TypeLong, "3600000", Low, ReadOnly, nil,
		"The (optional) value in milliseconds for the broker to wait between refreshing its JWKS (JSON Web Key Set) cache that contains the keys to verify the signature of the JWT."),
	bdef("sasl.oauthbearer.expected.audience", TypeList, nullDefault, Low, ReadOnly, nil,
		"The (optional) comma-delimited setting for the broker to use to verify that the JWT was issued for one of the expected audiences. The JWT will be inspected for the standard OAuth \"aud\" claim."),
	bdef("sasl.oauthbearer.expected.issuer", TypeString, nullDefault, Low, ReadOnly, nil,
		"The (optional) setting for the broker to use to verify that the JWT was created by the expected issuer. The JWT will be inspected for the standard OAuth \"iss\" claim."),
	bdef("sasl.oauthbearer.sub.claim.name", TypeString, "sub", Low, ReadOnly, nil,
		"The OAuth claim for the subject is often named \"sub\", but this (optional) setting can provide a different name to use for the subject included in the JWT payload's claims."),
	bdef("sasl.oauthbearer.scope.claim.name", TypeString, "scope", Low, ReadOnly, nil,
		"The OAuth claim for the scope is often named \"scope\", but this (optional) setting can provide a different name to use for the scope included in the JWT payload's claims."),
	bdef("sasl.oauthbearer.clock.skew.seconds", TypeInt, "30", Low, ReadOnly, nil,
		"The (optional) value in seconds to allow for differences between the time of the OAuth/OIDC identity provider and the broker."),
}
