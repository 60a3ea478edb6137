package security_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/security/securitytest"
)

// handshake runs a TLS handshake between srv and cli over loopback TCP
// and returns what each side saw.
func handshake(t *testing.T, srv, cli *tls.Config) (server, client tls.ConnectionState, serr, cerr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			serr = err
			return
		}
		defer nc.Close()
		s := tls.Server(nc, srv)
		serr = s.Handshake()
		server = s.ConnectionState()
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := tls.Client(nc, cli)
	cerr = c.Handshake()
	client = c.ConnectionState()
	<-done
	return
}

func TestTLSServerAndClient(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	srvLeaf := ca.Issue(t, "CN=broker", "localhost", "127.0.0.1")
	cliLeaf := ca.Issue(t, "CN=alice,OU=eng,O=Example")
	trust := ca.WriteTruststore(t, dir, "truststore")
	for _, auth := range []string{"none", "requested", "required"} {
		srvCfg, err := security.TLSSettings{
			KeystoreType: "PEM", KeystoreLocation: srvLeaf.WriteKeystore(t, dir, "broker"),
			TruststoreType: "PEM", TruststoreLocation: trust, ClientAuth: auth,
		}.ServerConfig()
		if err != nil {
			t.Fatal(err)
		}
		// A client without a certificate.
		noCert, err := security.TLSSettings{TruststoreType: "PEM", TruststoreLocation: trust, EndpointIdentificationAlgorithm: "https"}.ClientConfig("localhost")
		if err != nil {
			t.Fatal(err)
		}
		_, _, serr, cerr := handshake(t, srvCfg, noCert)
		if auth == "required" {
			if serr == nil {
				t.Errorf("%s: a client without a certificate got through", auth)
			}
		} else if serr != nil || cerr != nil {
			t.Errorf("%s: handshake without a client certificate: %v / %v", auth, serr, cerr)
		}
		// A client with one, given inline as Kafka's ssl.keystore.key and
		// ssl.keystore.certificate.chain.
		withCert, err := security.TLSSettings{
			KeystoreType: "PEM", KeystoreKey: string(cliLeaf.KeyPEM), KeystoreCertificateChain: string(cliLeaf.CertPEM),
			TruststoreType: "PEM", TruststoreCertificates: string(ca.PEM), EndpointIdentificationAlgorithm: "https",
		}.ClientConfig("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		st, _, serr, cerr := handshake(t, srvCfg, withCert)
		if serr != nil || cerr != nil {
			t.Fatalf("%s: %v / %v", auth, serr, cerr)
		}
		lc := &security.ListenerConfig{Protocol: security.SSL}
		p, err := lc.CertificatePrincipal(st)
		if err != nil {
			t.Fatal(err)
		}
		want := security.Anonymous
		if auth != "none" {
			want = security.User("CN=alice,OU=eng,O=Example")
		}
		if p != want {
			t.Errorf("%s: principal %v, want %v", auth, p, want)
		}
	}
}

func TestTLSClientChecksHostName(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	srvCfg, err := security.TLSSettings{KeystoreType: "PEM", KeystoreLocation: ca.Issue(t, "CN=broker", "broker.example").WriteKeystore(t, dir, "ks")}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	trust := ca.WriteTruststore(t, dir, "ts")
	strict, _ := security.TLSSettings{TruststoreType: "PEM", TruststoreLocation: trust, EndpointIdentificationAlgorithm: "https"}.ClientConfig("localhost")
	if _, _, _, cerr := handshake(t, srvCfg, strict); cerr == nil {
		t.Error("host name not checked")
	}
	// An empty ssl.endpoint.identification.algorithm checks the chain only.
	loose, _ := security.TLSSettings{TruststoreType: "PEM", TruststoreLocation: trust}.ClientConfig("localhost")
	if _, _, serr, cerr := handshake(t, srvCfg, loose); serr != nil || cerr != nil {
		t.Errorf("chain-only check failed: %v / %v", serr, cerr)
	}
	other := securitytest.NewCA(t, "other")
	wrongCA, _ := security.TLSSettings{TruststoreType: "PEM", TruststoreCertificates: string(other.PEM)}.ClientConfig("localhost")
	if _, _, _, cerr := handshake(t, srvCfg, wrongCA); cerr == nil {
		t.Error("a certificate from an untrusted CA was accepted")
	}
}

func TestTLSSettingsErrors(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	leaf := ca.Issue(t, "CN=x")
	other := ca.Issue(t, "CN=y")
	for name, s := range map[string]security.TLSSettings{
		"jks":          {KeystoreType: "JKS", KeystoreLocation: leaf.WriteKeystore(t, dir, "a")},
		"missing file": {KeystoreType: "PEM", KeystoreLocation: filepath.Join(dir, "nope.pem")},
		"no key":       {KeystoreType: "PEM", KeystoreCertificateChain: string(leaf.CertPEM)},
		"wrong key":    {KeystoreType: "PEM", KeystoreKey: string(other.KeyPEM), KeystoreCertificateChain: string(leaf.CertPEM)},
		"no store":     {KeystoreType: "PEM"},
		"client auth":  {KeystoreType: "PEM", KeystoreLocation: leaf.WriteKeystore(t, dir, "b"), ClientAuth: "always"},
		"protocol":     {KeystoreType: "PEM", KeystoreLocation: leaf.WriteKeystore(t, dir, "c"), EnabledProtocols: []string{"SSLv3"}},
		"cipher":       {KeystoreType: "PEM", KeystoreLocation: leaf.WriteKeystore(t, dir, "d"), CipherSuites: []string{"TLS_NOPE"}},
		"truststore":   {KeystoreType: "PEM", KeystoreLocation: leaf.WriteKeystore(t, dir, "e"), TruststoreType: "JKS", TruststoreLocation: "x"},
	} {
		if _, err := s.ServerConfig(); !errors.Is(err, security.ErrBadConfig) {
			t.Errorf("%s: err %v, want a config error", name, err)
		}
	}
}

// encryptPKCS8 encrypts a PKCS#8 key as "openssl pkcs8 -topk8 -v2
// aes-256-cbc" does (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC).
func encryptPKCS8(t *testing.T, der []byte, password string) []byte {
	t.Helper()
	salt, iv := make([]byte, 16), make([]byte, 16)
	rand.Read(salt)
	rand.Read(iv)
	key, err := pbkdf2.Key(sha256.New, password, salt, 2048, 32)
	if err != nil {
		t.Fatal(err)
	}
	pad := 16 - len(der)%16
	plain := append(append([]byte{}, der...), make([]byte, pad)...)
	for i := len(der); i < len(plain); i++ {
		plain[i] = byte(pad)
	}
	block, _ := aes.NewCipher(key)
	enc := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(enc, plain)
	type kdfParams struct {
		Salt  []byte
		Iter  int
		KeyLn int
		PRF   pkix.AlgorithmIdentifier
	}
	kdf, _ := asn1.Marshal(kdfParams{Salt: salt, Iter: 2048, KeyLn: 32, PRF: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, Parameters: asn1.NullRawValue}})
	ivDER, _ := asn1.Marshal(iv)
	params, _ := asn1.Marshal(struct{ KDF, Enc pkix.AlgorithmIdentifier }{
		KDF: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}, Parameters: asn1.RawValue{FullBytes: kdf}},
		Enc: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	out, err := asn1.Marshal(struct {
		Alg  pkix.AlgorithmIdentifier
		Data []byte
	}{Alg: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}, Parameters: asn1.RawValue{FullBytes: params}}, Data: enc})
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: out})
}

// A key store whose key is encrypted needs ssl.key.password.
func TestEncryptedKey(t *testing.T) {
	ca := securitytest.NewCA(t, "ca")
	leaf := ca.Issue(t, "CN=broker")
	der, _ := x509.MarshalPKCS8PrivateKey(leaf.Key)
	encrypted := string(encryptPKCS8(t, der, "key-secret"))
	ok := security.TLSSettings{KeystoreType: "PEM", KeystoreKey: encrypted, KeystoreCertificateChain: string(leaf.CertPEM), KeyPassword: "key-secret"}
	if _, err := ok.ServerConfig(); err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", "wrong"} {
		bad := ok
		bad.KeyPassword = pw
		if _, err := bad.ServerConfig(); !errors.Is(err, security.ErrBadConfig) {
			t.Errorf("password %q: err %v", pw, err)
		}
	}

	// And one openssl encrypted, if openssl is here.
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl to encrypt a key with")
	}
	dir := t.TempDir()
	plainKey := filepath.Join(dir, "key.pem")
	os.WriteFile(plainKey, leaf.KeyPEM, 0o600)
	for _, cipherName := range []string{"aes-256-cbc", "aes-128-cbc", "des3"} {
		out, err := exec.Command(openssl, "pkcs8", "-topk8", "-v2", cipherName, "-in", plainKey, "-passout", "pass:key-secret").Output()
		if err != nil {
			t.Fatalf("openssl %s: %v", cipherName, err)
		}
		s := security.TLSSettings{KeystoreType: "PEM", KeystoreKey: string(out), KeystoreCertificateChain: string(leaf.CertPEM), KeyPassword: "key-secret"}
		if _, err := s.ServerConfig(); err != nil {
			t.Errorf("openssl %s key: %v", cipherName, err)
		}
	}
}

// servedCN is the common name of the certificate st serves to a client
// with cli, after a handshake that must succeed.
func servedCN(t *testing.T, st *security.ServerTLS, cli *tls.Config) string {
	t.Helper()
	_, cs, serr, cerr := handshake(t, st.Config(), cli)
	if serr != nil || cerr != nil {
		t.Fatalf("handshake: %v / %v", serr, cerr)
	}
	return cs.PeerCertificates[0].Subject.CommonName
}

// A ServerTLS picks up a changed key store on Reload, and on the next
// handshake after its settings change.
func TestServerTLSReload(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	path := ca.Issue(t, "CN=first", "localhost").WriteKeystore(t, dir, "ks")
	var settings atomic.Pointer[security.TLSSettings]
	settings.Store(&security.TLSSettings{KeystoreType: "PEM", KeystoreLocation: path})
	st, err := security.NewServerTLS(func() security.TLSSettings { return *settings.Load() }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	subject := func() string { t.Helper(); return servedCN(t, st, cli) }
	if got := subject(); got != "first" {
		t.Fatalf("serving %q", got)
	}
	// Renewed in place: only Reload sees it.
	ca.Issue(t, "CN=second", "localhost").WriteKeystore(t, dir, "ks")
	if got := subject(); got != "first" {
		t.Fatalf("serving %q before Reload", got)
	}
	if err := st.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := subject(); got != "second" {
		t.Fatalf("serving %q after Reload", got)
	}
	// A new location (a dynamic config change) is read at the next
	// handshake.
	third := ca.Issue(t, "CN=third", "localhost").WriteKeystore(t, dir, "ks3")
	settings.Store(&security.TLSSettings{KeystoreType: "PEM", KeystoreLocation: third})
	if got := subject(); got != "third" {
		t.Fatalf("serving %q after the settings changed", got)
	}
	// A broken store leaves the previous one in use.
	os.WriteFile(third, []byte("garbage"), 0o600)
	if err := st.Reload(); err == nil {
		t.Error("Reload of a broken store succeeded")
	}
	if got := subject(); got != "third" {
		t.Fatalf("serving %q after a failed reload", got)
	}
}
