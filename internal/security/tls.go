package security

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
)

// TLSSettings are Kafka's ssl.* settings of one listener (or of a
// client), as strings. ssl.keystore.type and ssl.truststore.type are, as
// in Kafka, JKS (the default when empty), PKCS12 or PEM, in any case;
// keystore.go reads the Java stores (JKS and PKCS12) and this file the
// PEM ones.
//
// A PEM key store (ssl.keystore.location, or ssl.keystore.key with
// ssl.keystore.certificate.chain inline) holds the private key, PKCS#8
// (encrypted with ssl.key.password when it reads ENCRYPTED PRIVATE KEY),
// PKCS#1 or SEC 1, and the certificate chain, leaf first. A PEM trust
// store holds CA certificates. The store passwords are not used for PEM
// stores.
type TLSSettings struct {
	KeystoreType             string
	KeystoreLocation         string
	KeystoreKey              string
	KeystoreCertificateChain string
	// KeystorePassword is ssl.keystore.password, the password of a JKS
	// or PKCS12 key store file (required for them).
	KeystorePassword string
	// KeyPassword is ssl.key.password: the private key's password in a
	// JKS key store (ssl.keystore.password when empty) or of an
	// encrypted PEM key.
	KeyPassword string

	TruststoreType         string
	TruststoreLocation     string
	TruststoreCertificates string
	// TruststorePassword is ssl.truststore.password, the password of a
	// JKS or PKCS12 trust store file; without it a JKS store is read
	// without checking its integrity, as Java does.
	TruststorePassword string

	// ClientAuth is ssl.client.auth: none, requested or required.
	ClientAuth string
	// EndpointIdentificationAlgorithm is
	// ssl.endpoint.identification.algorithm: "https" (clients check the
	// server's host name) or "" (they only check the chain).
	EndpointIdentificationAlgorithm string
	// EnabledProtocols is ssl.enabled.protocols (TLSv1.2, TLSv1.3).
	EnabledProtocols []string
	// CipherSuites is ssl.cipher.suites (IANA names); empty: Go's
	// defaults.
	CipherSuites []string
}

// Equal reports whether two settings are the same.
func (s TLSSettings) Equal(o TLSSettings) bool {
	return s.KeystoreType == o.KeystoreType && s.KeystoreLocation == o.KeystoreLocation &&
		s.KeystoreKey == o.KeystoreKey && s.KeystoreCertificateChain == o.KeystoreCertificateChain &&
		s.KeystorePassword == o.KeystorePassword && s.TruststorePassword == o.TruststorePassword &&
		s.KeyPassword == o.KeyPassword && s.TruststoreType == o.TruststoreType &&
		s.TruststoreLocation == o.TruststoreLocation && s.TruststoreCertificates == o.TruststoreCertificates &&
		s.ClientAuth == o.ClientAuth && s.EndpointIdentificationAlgorithm == o.EndpointIdentificationAlgorithm &&
		slices.Equal(s.EnabledProtocols, o.EnabledProtocols) && slices.Equal(s.CipherSuites, o.CipherSuites)
}

// Client authentication modes of ssl.client.auth.
const (
	ClientAuthNone      = "none"
	ClientAuthRequested = "requested"
	ClientAuthRequired  = "required"
)

// HasKeystore reports whether a key store is configured.
func (s TLSSettings) HasKeystore() bool {
	return s.KeystoreLocation != "" || s.KeystoreKey != "" || s.KeystoreCertificateChain != ""
}

// HasTruststore reports whether a trust store is configured.
func (s TLSSettings) HasTruststore() bool {
	return s.TruststoreLocation != "" || s.TruststoreCertificates != ""
}

// Keystore reads the key store: the certificate chain and its key.
func (s TLSSettings) Keystore() (tls.Certificate, error) {
	typ, err := storeType("ssl.keystore.type", s.KeystoreType)
	if err != nil {
		return tls.Certificate{}, err
	}
	if typ != StoreTypePEM {
		return s.javaKeystore(typ)
	}
	var data []byte
	switch {
	case s.KeystoreKey != "" || s.KeystoreCertificateChain != "":
		if s.KeystoreKey == "" || s.KeystoreCertificateChain == "" {
			return tls.Certificate{}, configErrorf("ssl.keystore.key and ssl.keystore.certificate.chain must be set together")
		}
		if s.KeystoreLocation != "" {
			return tls.Certificate{}, configErrorf("ssl.keystore.location must not be set with ssl.keystore.key")
		}
		data = []byte(s.KeystoreKey + "\n" + s.KeystoreCertificateChain)
	case s.KeystoreLocation != "":
		b, err := os.ReadFile(s.KeystoreLocation)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("%w: read ssl.keystore.location: %w", ErrBadConfig, err)
		}
		data = b
	default:
		return tls.Certificate{}, configErrorf("no key store: set ssl.keystore.location, or ssl.keystore.key and ssl.keystore.certificate.chain")
	}
	return parsePEMKeystore(data, s.KeyPassword)
}

// Truststore reads the trust store; nil without one (the system's
// roots).
func (s TLSSettings) Truststore() (*x509.CertPool, error) {
	if !s.HasTruststore() {
		if s.TruststorePassword != "" {
			return nil, configErrorf("SSL trust store is not specified, but trust store password is specified: set ssl.truststore.location or remove ssl.truststore.password")
		}
		return nil, nil
	}
	typ, err := storeType("ssl.truststore.type", s.TruststoreType)
	if err != nil {
		return nil, err
	}
	if typ != StoreTypePEM {
		return s.javaTruststore(typ)
	}
	data := []byte(s.TruststoreCertificates)
	if s.TruststoreLocation != "" {
		if s.TruststoreCertificates != "" {
			return nil, configErrorf("ssl.truststore.location must not be set with ssl.truststore.certificates")
		}
		b, err := os.ReadFile(s.TruststoreLocation)
		if err != nil {
			return nil, fmt.Errorf("%w: read ssl.truststore.location: %w", ErrBadConfig, err)
		}
		data = b
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, configErrorf("the trust store holds no PEM certificate")
	}
	return pool, nil
}

// parsePEMKeystore reads a private key and a certificate chain from PEM
// blocks in any order.
func parsePEMKeystore(data []byte, password string) (tls.Certificate, error) {
	var cert tls.Certificate
	var keyBlock *pem.Block
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			cert.Certificate = append(cert.Certificate, b.Bytes)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if keyBlock != nil {
				return cert, configErrorf("the key store holds more than one private key")
			}
			keyBlock = b
		}
	}
	if len(cert.Certificate) == 0 {
		return cert, configErrorf("the key store holds no PEM certificate")
	}
	if keyBlock == nil {
		return cert, configErrorf("the key store holds no PEM private key")
	}
	der := keyBlock.Bytes
	if keyBlock.Type == "ENCRYPTED PRIVATE KEY" {
		if password == "" {
			return cert, configErrorf("the private key is encrypted: set ssl.key.password")
		}
		var err error
		if der, err = decryptPKCS8(der, []byte(password)); err != nil {
			return cert, err
		}
	}
	key, err := parsePrivateKey(der)
	if err != nil {
		return cert, err
	}
	cert.PrivateKey = key
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return cert, fmt.Errorf("%w: key store certificate: %w", ErrBadConfig, err)
	}
	cert.Leaf = leaf
	// Check that the key belongs to the leaf certificate.
	pub, ok := key.(crypto.Signer)
	if !ok {
		return cert, configErrorf("unsupported private key type %T", key)
	}
	if eq, ok := pub.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(leaf.PublicKey) {
		return cert, configErrorf("the private key does not match the first certificate of the chain")
	}
	return cert, nil
}

func parsePrivateKey(der []byte) (any, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, configErrorf("cannot parse the private key (PKCS#8, PKCS#1 or SEC 1 expected; a wrong ssl.key.password?)")
}

// tlsVersions maps Java's protocol names to Go's versions.
var tlsVersions = map[string]uint16{
	"TLSv1":   tls.VersionTLS10,
	"TLSv1.1": tls.VersionTLS11,
	"TLSv1.2": tls.VersionTLS12,
	"TLSv1.3": tls.VersionTLS13,
}

// base returns the parts of a tls.Config both sides share.
func (s TLSSettings) base() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(s.EnabledProtocols) > 0 {
		var lo, hi uint16
		for _, p := range s.EnabledProtocols {
			v, ok := tlsVersions[strings.TrimSpace(p)]
			if !ok {
				return nil, configErrorf("ssl.enabled.protocols: unsupported protocol %s (TLSv1.2 and TLSv1.3 are)", p)
			}
			if lo == 0 || v < lo {
				lo = v
			}
			hi = max(hi, v)
		}
		tc.MinVersion, tc.MaxVersion = lo, hi
	}
	if len(s.CipherSuites) > 0 {
		byName := map[string]uint16{}
		for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
			byName[cs.Name] = cs.ID
		}
		for _, n := range s.CipherSuites {
			id, ok := byName[strings.TrimSpace(n)]
			if !ok {
				return nil, configErrorf("ssl.cipher.suites: unknown cipher suite %s", n)
			}
			tc.CipherSuites = append(tc.CipherSuites, id)
		}
	}
	return tc, nil
}

// ServerConfig builds a server's tls.Config: the key store's
// certificate, and client certificates checked against the trust store
// as ssl.client.auth says.
func (s TLSSettings) ServerConfig() (*tls.Config, error) {
	tc, err := s.base()
	if err != nil {
		return nil, err
	}
	cert, err := s.Keystore()
	if err != nil {
		return nil, err
	}
	tc.Certificates = []tls.Certificate{cert}
	pool, err := s.Truststore()
	if err != nil {
		return nil, err
	}
	tc.ClientCAs = pool
	switch strings.ToLower(strings.TrimSpace(s.ClientAuth)) {
	case "", ClientAuthNone:
		tc.ClientAuth = tls.NoClientCert
	case ClientAuthRequested:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthRequired:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, configErrorf("ssl.client.auth: %s is not one of none, requested, required", s.ClientAuth)
	}
	return tc, nil
}

// ClientConfig builds a client's tls.Config for a server at host: the
// trust store's CAs (else the system's), the key store's certificate for
// mutual TLS if there is one, and host name verification unless
// ssl.endpoint.identification.algorithm is empty.
func (s TLSSettings) ClientConfig(host string) (*tls.Config, error) {
	tc, err := s.base()
	if err != nil {
		return nil, err
	}
	if s.HasKeystore() {
		cert, err := s.Keystore()
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if tc.RootCAs, err = s.Truststore(); err != nil {
		return nil, err
	}
	tc.ServerName = host
	switch strings.ToLower(strings.TrimSpace(s.EndpointIdentificationAlgorithm)) {
	case "https":
	case "":
		// Kafka's empty value checks the chain but not the host name.
		roots := tc.RootCAs
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	default:
		return nil, configErrorf("ssl.endpoint.identification.algorithm: %s is not https or empty", s.EndpointIdentificationAlgorithm)
	}
	return tc, nil
}

// ServerTLS is a listener's TLS, reloadable without a restart: Config
// returns a tls.Config that, on every handshake, uses the latest loaded
// key and trust stores. Settings are read from current on each handshake;
// when they changed (a dynamic broker config), the stores are read
// again. Reload reads the files again even if the settings did not
// change (a certificate renewed in place). A store that fails to load
// leaves the previous one in use and is logged. Safe for concurrent use.
type ServerTLS struct {
	current func() TLSSettings
	log     *slog.Logger
	outer   *tls.Config

	mu struct {
		sync.Mutex
		settings TLSSettings
		config   *tls.Config
	}
}

// NewServerTLS loads the stores current names. It fails if they cannot be
// read: a broker must not start with a listener it cannot serve.
func NewServerTLS(current func() TLSSettings, log *slog.Logger) (*ServerTLS, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &ServerTLS{current: current, log: log}
	s := current()
	cfg, err := s.ServerConfig()
	if err != nil {
		return nil, err
	}
	t.mu.settings, t.mu.config = s, cfg
	t.outer = &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return t.config(), nil },
	}
	return t, nil
}

// Config returns the tls.Config to serve with.
func (t *ServerTLS) Config() *tls.Config { return t.outer }

// config returns the loaded config, first reloading it if the settings
// changed.
func (t *ServerTLS) config() *tls.Config {
	s := t.current()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !s.Equal(t.mu.settings) {
		t.reloadLocked(s)
	}
	return t.mu.config
}

// Reload reads the stores again.
func (t *ServerTLS) Reload() error {
	s := t.current()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reloadLocked(s)
}

func (t *ServerTLS) reloadLocked(s TLSSettings) error {
	cfg, err := s.ServerConfig()
	if err != nil {
		t.log.Error("reloading TLS key or trust store failed; keeping the previous ones", "err", err)
		t.mu.settings = s // do not retry on every handshake
		return err
	}
	t.mu.settings, t.mu.config = s, cfg
	subject := ""
	if leaf := cfg.Certificates[0].Leaf; leaf != nil {
		subject = SubjectDN(leaf)
	}
	t.log.Info("TLS key and trust stores loaded", "certificate", subject)
	return nil
}

// Certificate returns the certificate the listener currently presents.
func (t *ServerTLS) Certificate() *x509.Certificate {
	return t.config().Certificates[0].Leaf
}
