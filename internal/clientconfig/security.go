package clientconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"regexp"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gregor-streaming/gregor/internal/security"
)

// securityOpts maps security.protocol, ssl.* and sasl.* properties.
func securityOpts(p *propReader) ([]kgo.Opt, error) {
	proto := "PLAINTEXT"
	if v, ok := p.get("security.protocol"); ok {
		proto = strings.ToUpper(strings.TrimSpace(v))
	}
	var useTLS, useSASL bool
	switch proto {
	case "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		return nil, InvalidValue("security.protocol", proto, "String must be one of: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL")
	}
	// Mark the settings of the other protocols as known either way.
	sslKeys := []string{"ssl.truststore.type", "ssl.truststore.location", "ssl.truststore.certificates",
		"ssl.truststore.password", "ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.password",
		"ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.key.password",
		"ssl.endpoint.identification.algorithm", "ssl.protocol", "ssl.enabled.protocols"}
	saslKeys := []string{"sasl.mechanism", "sasl.jaas.config"}
	var opts []kgo.Opt
	if useTLS {
		tc, err := tlsConfig(p)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if useSASL {
		mech := "GSSAPI"
		if v, ok := p.get("sasl.mechanism"); ok {
			mech = strings.ToUpper(strings.TrimSpace(v))
		}
		switch mech {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			return nil, InvalidValue("sasl.mechanism", mech, "supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
		}
		jaas, set := p.get("sasl.jaas.config")
		if err := checkJAAS(jaas, set); err != nil {
			return nil, err
		}
		user, pass := JAASCredentials(jaas)
		// A delegation token logs in over SCRAM with the token id and
		// HMAC and the tokenauth=true extension (KIP-48), which
		// Kafka's ScramLoginModule sends when its tokenauth option is
		// "true".
		token := jaasTokenAuth(jaas)
		switch mech {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass, IsToken: token}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass, IsToken: token}.AsSha512Mechanism()))
		}
	}
	for _, k := range append(sslKeys, saslKeys...) {
		p.get(k)
	}
	return opts, nil
}

var jaasOption = regexp.MustCompile(`(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"`)

// JAASCredentials extracts username and password from a sasl.jaas.config
// value such as `org.apache.kafka.common.security.plain.PlainLoginModule
// required username="alice" password="secret";`, parsed as Kafka's
// JaasConfig does; text that does not parse is searched for the two
// options.
func JAASCredentials(jaas string) (user, pass string) {
	if m, err := security.ParseJAASModule(jaas); err == nil {
		return m.Username(), m.Password()
	}
	for _, m := range jaasOption.FindAllStringSubmatch(jaas, -1) {
		v := strings.ReplaceAll(strings.ReplaceAll(m[2], `\"`, `"`), `\\`, `\`)
		switch m[1] {
		case "username":
			user = v
		case "password":
			pass = v
		}
	}
	return user, pass
}

// jaasTokenAuth reports whether a sasl.jaas.config sets the
// ScramLoginModule option tokenauth="true" (any case, as Kafka compares
// it), which makes the SCRAM login a delegation token's.
func jaasTokenAuth(jaas string) bool {
	if m, err := security.ParseJAASModule(jaas); err == nil {
		return strings.EqualFold(m.Options["tokenauth"], "true")
	}
	for _, m := range jaasOption.FindAllStringSubmatch(jaas, -1) {
		if m[1] == "tokenauth" && strings.EqualFold(m[2], "true") {
			return true
		}
	}
	return false
}

// tlsConfig builds a client TLS config from the ssl.* properties, read
// as Kafka's client reads them (through package security):
// ssl.truststore.type and ssl.keystore.type are JKS (the default),
// PKCS12 or PEM, in any case. A JKS or PKCS12 key store needs
// ssl.keystore.password, and its key is opened with ssl.key.password
// (else the store password); a trust store's ssl.truststore.password is
// optional. Inline PEM (ssl.truststore.certificates, ssl.keystore.key
// with ssl.keystore.certificate.chain) is read as PEM when the type is
// not set.
func tlsConfig(p *propReader) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	get := func(k string) string { v, _ := p.get(k); return v }
	for _, k := range []string{"ssl.truststore.type", "ssl.keystore.type"} {
		if typ, ok := p.get(k); ok {
			switch strings.ToUpper(strings.TrimSpace(typ)) {
			case security.StoreTypeJKS, security.StoreTypePKCS12, security.StoreTypePEM:
			default:
				return nil, InvalidValue(k, typ, "supported key store types: JKS, PKCS12, PEM")
			}
		}
	}
	if inline := get("ssl.truststore.certificates"); inline != "" {
		if typ, ok := p.get("ssl.truststore.type"); ok && !strings.EqualFold(strings.TrimSpace(typ), "PEM") {
			return nil, InvalidValue("ssl.truststore.type", typ, "ssl.truststore.certificates can be specified only for PEM; set ssl.truststore.type=PEM")
		}
		if get("ssl.truststore.location") != "" {
			return nil, configError("ssl.truststore.location must not be set with ssl.truststore.certificates")
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(inline)) {
			return nil, configError("ssl.truststore: no PEM certificates found")
		}
		tc.RootCAs = pool
	} else if loc, pw := get("ssl.truststore.location"), get("ssl.truststore.password"); loc != "" || pw != "" {
		pool, err := security.TLSSettings{TruststoreType: get("ssl.truststore.type"), TruststoreLocation: loc, TruststorePassword: pw}.Truststore()
		if err != nil {
			return nil, wrapError("ssl.truststore", err)
		}
		tc.RootCAs = pool
	}
	// The key store (mutual TLS).
	ks := security.TLSSettings{
		KeystoreType:             get("ssl.keystore.type"),
		KeystoreLocation:         get("ssl.keystore.location"),
		KeystorePassword:         get("ssl.keystore.password"),
		KeystoreKey:              get("ssl.keystore.key"),
		KeystoreCertificateChain: get("ssl.keystore.certificate.chain"),
		KeyPassword:              get("ssl.key.password"),
	}
	if ks.KeystoreKey != "" || ks.KeystoreCertificateChain != "" {
		if _, ok := p.get("ssl.keystore.type"); !ok {
			ks.KeystoreType = security.StoreTypePEM
		}
		cert, err := ks.Keystore()
		if err != nil {
			return nil, wrapError("ssl.keystore.certificate.chain/key", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	} else if ks.KeystoreLocation != "" || ks.KeystorePassword != "" {
		cert, err := ks.Keystore()
		if err != nil {
			return nil, wrapError("ssl.keystore", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if alg, ok := p.get("ssl.endpoint.identification.algorithm"); ok && strings.TrimSpace(alg) == "" {
		// Kafka's empty value turns off host name verification but
		// still verifies the chain.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: no peer certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: tc.RootCAs, Intermediates: inter})
			return err
		}
	}
	return tc, nil
}
