package security_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/security/securitytest"
)

// trusts reports whether pool verifies leaf.
func trusts(pool *x509.CertPool, leaf *securitytest.Leaf) bool {
	_, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}

// wantConfigError checks that err is a configuration error whose text
// holds every one of words.
func wantConfigError(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	if !errors.Is(err, security.ErrBadConfig) {
		t.Errorf("%s: %v does not wrap ErrBadConfig", what, err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %q does not say %q", what, err, w)
		}
	}
}

// A JKS key store is Kafka's default type: read with no
// ssl.keystore.type, its key protected by ssl.key.password, different
// from the store's password (DefaultSslEngineFactory.FileBasedStore).
func TestJKSKeystore(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	leaf := ca.Issue(t, "CN=broker", "localhost")
	path := securitytest.WriteJKSKeystore(t, dir, "broker", "store-secret",
		securitytest.JKSKeyEntry{Alias: "broker", Leaf: leaf, Password: "key-secret"})

	for _, typ := range []string{"", "JKS", "jks"} {
		cert, err := security.TLSSettings{KeystoreType: typ, KeystoreLocation: path,
			KeystorePassword: "store-secret", KeyPassword: "key-secret"}.Keystore()
		if err != nil {
			t.Fatalf("type %q: %v", typ, err)
		}
		if !cert.Leaf.Equal(leaf.Cert) || len(cert.Certificate) != 2 {
			t.Fatalf("type %q: leaf %v, %d certificates", typ, cert.Leaf.Subject, len(cert.Certificate))
		}
		if c, err := x509.ParseCertificate(cert.Certificate[1]); err != nil || !c.Equal(ca.Cert) {
			t.Fatalf("type %q: second certificate is not the CA (%v)", typ, err)
		}
	}

	ok := security.TLSSettings{KeystoreLocation: path, KeystorePassword: "store-secret", KeyPassword: "key-secret"}
	bad := ok
	bad.KeystorePassword = "wrong"
	_, err := bad.Keystore()
	wantConfigError(t, "wrong store password", err, "ssl.keystore.password", path, "JKS")
	bad = ok
	bad.KeyPassword = ""
	_, err = bad.Keystore()
	wantConfigError(t, "key password unset (store password tried)", err, "ssl.key.password", `"broker"`)
	bad = ok
	bad.KeyPassword = "wrong"
	_, err = bad.Keystore()
	wantConfigError(t, "wrong key password", err, "ssl.key.password")
	bad = ok
	bad.KeystorePassword = ""
	_, err = bad.Keystore()
	wantConfigError(t, "no store password", err, "key store password is not specified", "ssl.keystore.password")
	bad = ok
	bad.KeystoreLocation = ""
	_, err = bad.Keystore()
	wantConfigError(t, "password without a store", err, "key store password is specified", "ssl.keystore.location")

	// Without ssl.key.password, the store's password opens the key.
	same := securitytest.WriteJKSKeystore(t, dir, "same", "secret", securitytest.JKSKeyEntry{Alias: "k", Leaf: leaf})
	if _, err := (security.TLSSettings{KeystoreLocation: same, KeystorePassword: "secret"}).Keystore(); err != nil {
		t.Fatalf("key password defaulting to the store password: %v", err)
	}
}

// Of several private-key entries the first alias in sorted order is
// used; trusted-certificate entries are skipped.
func TestJKSKeystoreSeveralEntries(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	zeta, alpha, mid := ca.Issue(t, "CN=zeta"), ca.Issue(t, "CN=alpha"), ca.Issue(t, "CN=mid")
	path := securitytest.WriteJKSKeystore(t, dir, "multi", "secret",
		securitytest.JKSKeyEntry{Alias: "zeta", Leaf: zeta},
		securitytest.JKSKeyEntry{Alias: "mid", Leaf: mid},
		securitytest.JKSKeyEntry{Alias: "alpha", Leaf: alpha})
	cert, err := security.TLSSettings{KeystoreLocation: path, KeystorePassword: "secret"}.Keystore()
	if err != nil {
		t.Fatal(err)
	}
	if cert.Leaf.Subject.CommonName != "alpha" {
		t.Fatalf("picked %s, want alpha", cert.Leaf.Subject.CommonName)
	}
	// A store of trusted certificates only has no key to serve with.
	trust := securitytest.WriteJKSTruststore(t, dir, "trust", "secret", ca)
	_, err = security.TLSSettings{KeystoreLocation: trust, KeystorePassword: "secret"}.Keystore()
	wantConfigError(t, "no key entry", err, "no private key entry")
}

// PKCS12 key stores (keytool's default format since Java 9), encrypted
// as Java 12+ writes them; the type is read in any case, and, as Java's
// keystore.type.compat does, a JKS type reads a PKCS12 file and the other
// way round.
func TestPKCS12Keystore(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	leaf := ca.Issue(t, "CN=client")
	p12 := leaf.WritePKCS12Keystore(t, dir, "client", "p12-secret")
	for _, typ := range []string{"PKCS12", "pkcs12", "JKS"} {
		cert, err := security.TLSSettings{KeystoreType: typ, KeystoreLocation: p12, KeystorePassword: "p12-secret"}.Keystore()
		if err != nil {
			t.Fatalf("type %s: %v", typ, err)
		}
		if !cert.Leaf.Equal(leaf.Cert) || len(cert.Certificate) != 2 {
			t.Fatalf("type %s: leaf %v, %d certificates", typ, cert.Leaf.Subject, len(cert.Certificate))
		}
	}
	_, err := security.TLSSettings{KeystoreType: "PKCS12", KeystoreLocation: p12, KeystorePassword: "nope"}.Keystore()
	wantConfigError(t, "wrong password", err, "ssl.keystore.password", "PKCS12", p12)
	_, err = security.TLSSettings{KeystoreType: "PKCS12", KeystoreLocation: p12}.Keystore()
	wantConfigError(t, "no password", err, "ssl.keystore.password")

	jks := securitytest.WriteJKSKeystore(t, dir, "jks", "secret", securitytest.JKSKeyEntry{Alias: "a", Leaf: leaf})
	if _, err := (security.TLSSettings{KeystoreType: "PKCS12", KeystoreLocation: jks, KeystorePassword: "secret"}).Keystore(); err != nil {
		t.Fatalf("PKCS12 type, JKS file: %v", err)
	}
}

// Corrupt files, unknown types and PEM files under a Java type fail with
// errors that name the setting.
func TestJavaKeystoreErrors(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	leaf := ca.Issue(t, "CN=x")
	jks := securitytest.WriteJKSKeystore(t, dir, "ks", "secret", securitytest.JKSKeyEntry{Alias: "a", Leaf: leaf})
	data, err := os.ReadFile(jks)
	if err != nil {
		t.Fatal(err)
	}
	truncated := dir + "/truncated.jks"
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := dir + "/garbage.p12"
	if err := os.WriteFile(garbage, []byte{0x30, 0x03, 0x02, 0x01, 0x07}, 0o600); err != nil {
		t.Fatal(err)
	}
	pemPath := leaf.WriteKeystore(t, dir, "pem")
	for name, c := range map[string]struct {
		s     security.TLSSettings
		words []string
	}{
		"truncated":     {security.TLSSettings{KeystoreLocation: truncated, KeystorePassword: "secret"}, []string{"ssl.keystore.location", truncated}},
		"garbage":       {security.TLSSettings{KeystoreType: "PKCS12", KeystoreLocation: garbage, KeystorePassword: "secret"}, []string{"ssl.keystore.location", "PKCS12"}},
		"missing":       {security.TLSSettings{KeystoreLocation: dir + "/nope.jks", KeystorePassword: "secret"}, []string{"ssl.keystore.location"}},
		"PEM as JKS":    {security.TLSSettings{KeystoreLocation: pemPath, KeystorePassword: "secret"}, []string{"ssl.keystore.type=PEM"}},
		"JCEKS":         {security.TLSSettings{KeystoreType: "JCEKS", KeystoreLocation: jks, KeystorePassword: "secret"}, []string{"ssl.keystore.type", "JCEKS"}},
		"inline as JKS": {security.TLSSettings{KeystoreKey: string(leaf.KeyPEM), KeystoreCertificateChain: string(leaf.CertPEM)}, []string{"only for PEM", "JKS"}},
		"trust JCEKS":   {security.TLSSettings{KeystoreType: "PEM", KeystoreLocation: pemPath, TruststoreType: "JCEKS", TruststoreLocation: jks}, []string{"ssl.truststore.type", "JCEKS"}},
		"trust PEM":     {security.TLSSettings{KeystoreType: "PEM", KeystoreLocation: pemPath, TruststoreLocation: ca.WriteTruststore(t, dir, "ca")}, []string{"ssl.truststore.type=PEM"}},
		"trust inline":  {security.TLSSettings{KeystoreType: "PEM", KeystoreLocation: pemPath, TruststoreType: "JKS", TruststoreCertificates: string(ca.PEM)}, []string{"only for PEM"}},
		"trust garbage": {security.TLSSettings{KeystoreType: "PEM", KeystoreLocation: pemPath, TruststoreType: "PKCS12", TruststoreLocation: garbage}, []string{"ssl.truststore.location", garbage}},
		"trust password, no store": {security.TLSSettings{KeystoreType: "PEM", KeystoreLocation: pemPath, TruststorePassword: "x"},
			[]string{"trust store password is specified"}},
	} {
		_, err := c.s.ServerConfig()
		wantConfigError(t, name, err, c.words...)
	}
}

// JKS and PKCS12 trust stores: all their certificates become roots; the
// password checks the store when given and is optional for a JKS store
// (Java reads it unchecked) and for a PKCS12 one without a MAC.
func TestJavaTruststore(t *testing.T) {
	dir := t.TempDir()
	ca, ca2, other := securitytest.NewCA(t, "ca"), securitytest.NewCA(t, "ca2"), securitytest.NewCA(t, "other")
	leaf, leaf2, stranger := ca.Issue(t, "CN=a"), ca2.Issue(t, "CN=b"), other.Issue(t, "CN=c")
	jks := securitytest.WriteJKSTruststore(t, dir, "trust", "changeit", ca, ca2)
	p12 := securitytest.WritePKCS12Truststore(t, dir, "trust", "changeit", ca, ca2)
	open := securitytest.WritePKCS12Truststore(t, dir, "open", "", ca)

	for name, s := range map[string]security.TLSSettings{
		"jks":                  {TruststoreLocation: jks, TruststorePassword: "changeit"},
		"jks without password": {TruststoreType: "jks", TruststoreLocation: jks},
		"pkcs12":               {TruststoreType: "PKCS12", TruststoreLocation: p12, TruststorePassword: "changeit"},
		"pkcs12 as jks":        {TruststoreType: "JKS", TruststoreLocation: p12, TruststorePassword: "changeit"},
	} {
		pool, err := s.Truststore()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !trusts(pool, leaf) || !trusts(pool, leaf2) || trusts(pool, stranger) {
			t.Errorf("%s: trusts a=%v b=%v stranger=%v, want true true false", name,
				trusts(pool, leaf), trusts(pool, leaf2), trusts(pool, stranger))
		}
	}
	pool, err := security.TLSSettings{TruststoreType: "PKCS12", TruststoreLocation: open}.Truststore()
	if err != nil || !trusts(pool, leaf) {
		t.Fatalf("password-less PKCS12 trust store: %v", err)
	}

	_, err = security.TLSSettings{TruststoreLocation: jks, TruststorePassword: "wrong"}.Truststore()
	wantConfigError(t, "jks wrong password", err, "ssl.truststore.password", jks)
	_, err = security.TLSSettings{TruststoreType: "PKCS12", TruststoreLocation: p12, TruststorePassword: "wrong"}.Truststore()
	wantConfigError(t, "pkcs12 wrong password", err, "ssl.truststore.password", p12)
	_, err = security.TLSSettings{TruststoreType: "PKCS12", TruststoreLocation: p12}.Truststore()
	wantConfigError(t, "pkcs12 no password", err, "set ssl.truststore.password")
	// A key store is no PKCS12 trust store: its certificates are not
	// marked trusted.
	ks := leaf.WritePKCS12Keystore(t, dir, "ks", "changeit")
	_, err = security.TLSSettings{TruststoreType: "PKCS12", TruststoreLocation: ks, TruststorePassword: "changeit"}.Truststore()
	wantConfigError(t, "pkcs12 key store as trust store", err, "ssl.truststore.location")
	// A JKS key store used as a trust store trusts its entries' leaves,
	// as Java's TrustStoreUtil does.
	jksKeys := securitytest.WriteJKSKeystore(t, dir, "keys", "changeit", securitytest.JKSKeyEntry{Alias: "a", Leaf: leaf})
	pool, err = security.TLSSettings{TruststoreLocation: jksKeys, TruststorePassword: "changeit"}.Truststore()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("JKS key entry's certificate not trusted: %v", err)
	}
}

// Mutual TLS with Java stores on both sides: a broker with a JKS key
// store (no type set) and a JKS trust store requiring client
// certificates; a client with a PKCS12 key store and a PKCS12 trust
// store.
func TestJavaStoresMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	srv := ca.Issue(t, "CN=broker", "localhost")
	cli := ca.Issue(t, "CN=alice,OU=eng")
	srvCfg, err := security.TLSSettings{
		KeystoreType: "", KeystoreLocation: securitytest.WriteJKSKeystore(t, dir, "server.keystore", "ks-pw",
			securitytest.JKSKeyEntry{Alias: "localhost", Leaf: srv, Password: "key-pw"}),
		KeystorePassword: "ks-pw", KeyPassword: "key-pw",
		TruststoreLocation: securitytest.WriteJKSTruststore(t, dir, "server.truststore", "ts-pw", ca), TruststorePassword: "ts-pw",
		ClientAuth: security.ClientAuthRequired,
	}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	client := security.TLSSettings{
		KeystoreType: "PKCS12", KeystoreLocation: cli.WritePKCS12Keystore(t, dir, "client.keystore", "c-pw"), KeystorePassword: "c-pw",
		TruststoreType: "PKCS12", TruststoreLocation: securitytest.WritePKCS12Truststore(t, dir, "client.truststore", "ts-pw", ca), TruststorePassword: "ts-pw",
		EndpointIdentificationAlgorithm: "https",
	}
	cliCfg, err := client.ClientConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	server, _, serr, cerr := handshake(t, srvCfg, cliCfg)
	if serr != nil || cerr != nil {
		t.Fatalf("handshake: server %v, client %v", serr, cerr)
	}
	if len(server.PeerCertificates) == 0 || security.SubjectDN(server.PeerCertificates[0]) != "CN=alice,OU=eng" {
		t.Fatalf("server saw %v", server.PeerCertificates)
	}
	// Without its key store the client is refused.
	client.KeystoreLocation, client.KeystorePassword = "", ""
	noCert, err := client.ClientConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, serr, _ := handshake(t, srvCfg, noCert); serr == nil {
		t.Fatal("server accepted a client without a certificate")
	}
}

// A JKS key store replaced in place is read again on Reload, and a new
// location or password on the next handshake, as PEM stores are
// (dynamic listener.name.<l>.ssl.* updates).
func TestServerTLSReloadJKS(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	write := func(name, cn, pw string) string {
		return securitytest.WriteJKSKeystore(t, dir, name, pw, securitytest.JKSKeyEntry{Alias: "k", Leaf: ca.Issue(t, "CN="+cn, "localhost")})
	}
	path := write("ks", "first", "pw1")
	var settings atomic.Pointer[security.TLSSettings]
	settings.Store(&security.TLSSettings{KeystoreLocation: path, KeystorePassword: "pw1"})
	st, err := security.NewServerTLS(func() security.TLSSettings { return *settings.Load() }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	subject := func() string { t.Helper(); return servedCN(t, st, cli) }
	if got := subject(); got != "first" {
		t.Fatalf("serving %q", got)
	}
	write("ks", "second", "pw1")
	if err := st.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := subject(); got != "second" {
		t.Fatalf("serving %q after Reload", got)
	}
	// A new file with a new password, set together.
	third := write("ks3", "third", "pw3")
	settings.Store(&security.TLSSettings{KeystoreLocation: third, KeystorePassword: "pw3"})
	if got := subject(); got != "third" {
		t.Fatalf("serving %q after the settings changed", got)
	}
	// A wrong password fails the reload and keeps the store in use.
	settings.Store(&security.TLSSettings{KeystoreLocation: third, KeystorePassword: "wrong"})
	if err := st.Reload(); err == nil || !strings.Contains(err.Error(), "ssl.keystore.password") {
		t.Errorf("Reload with a wrong password: %v", err)
	}
	if got := subject(); got != "third" {
		t.Fatalf("serving %q after a failed reload", got)
	}
}

// PKCS12 stores of every encoding go-pkcs12 writes load: legacy 3DES/RC2
// (older keytool and openssl), AES with an HMAC MAC (Java 12+), AES with
// a PBMAC1 MAC (RFC 9579).
func TestPKCS12Encodings(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	leaf := ca.Issue(t, "CN=x")
	for name, enc := range map[string]*pkcs12.Encoder{
		"legacy DES": pkcs12.LegacyDES, "legacy RC2": pkcs12.LegacyRC2,
		"modern 2023": pkcs12.Modern2023, "modern 2026 (PBMAC1)": pkcs12.Modern2026,
	} {
		data, err := enc.Encode(leaf.Key, leaf.Cert, []*x509.Certificate{ca.Cert}, "pw")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "ks.p12")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cert, err := security.TLSSettings{KeystoreType: "PKCS12", KeystoreLocation: path, KeystorePassword: "pw"}.Keystore()
		if err != nil || !cert.Leaf.Equal(leaf.Cert) {
			t.Errorf("%s: %v", name, err)
		}
		trust, err := enc.EncodeTrustStore([]*x509.Certificate{ca.Cert}, "pw")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, trust, 0o600); err != nil {
			t.Fatal(err)
		}
		pool, err := security.TLSSettings{TruststoreType: "PKCS12", TruststoreLocation: path, TruststorePassword: "pw"}.Truststore()
		if err != nil || !trusts(pool, leaf) {
			t.Errorf("%s trust store: %v", name, err)
		}
	}
}

// A PKCS12 file whose MAC iteration count is over Java's limit
// (5,000,000) is refused before any key is derived from it.
func TestPKCS12IterationLimit(t *testing.T) {
	dir := t.TempDir()
	type digestInfo struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	type macData struct {
		Mac        digestInfo
		MacSalt    []byte
		Iterations int
	}
	type contentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
	}
	type pfx struct {
		Version  int
		AuthSafe contentInfo
		MacData  macData
	}
	for _, n := range []int{5_000_001, 1 << 40} {
		der, err := asn1.Marshal(pfx{
			Version:  3,
			AuthSafe: contentInfo{ContentType: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}},
			MacData: macData{
				Mac:     digestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}}, Digest: make([]byte, 32)},
				MacSalt: make([]byte, 16), Iterations: n,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "slow.p12")
		if err := os.WriteFile(path, der, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = security.TLSSettings{KeystoreType: "PKCS12", KeystoreLocation: path, KeystorePassword: "pw"}.Keystore()
		wantConfigError(t, "key store", err, "MAC iteration count too large")
		_, err = security.TLSSettings{TruststoreType: "PKCS12", TruststoreLocation: path, TruststorePassword: "pw"}.Truststore()
		wantConfigError(t, "trust store", err, "MAC iteration count too large")
	}
}
