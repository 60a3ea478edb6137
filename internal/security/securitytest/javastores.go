package securitytest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// JKSKeyEntry is one private-key entry of a JKS key store.
type JKSKeyEntry struct {
	Alias string
	Leaf  *Leaf
	// Password protects the key; empty: the store's password.
	Password string
}

// WriteJKSKeystore writes a JKS key store of the given entries (key,
// then the chain: leaf and CA) under storePassword to dir/<name>.jks, as
// keytool -genkeypair/-importcert would, and returns its path.
func WriteJKSKeystore(tb testing.TB, dir, name, storePassword string, entries ...JKSKeyEntry) string {
	tb.Helper()
	ks := keystore.New()
	for _, e := range entries {
		p8, err := x509.MarshalPKCS8PrivateKey(e.Leaf.Key)
		if err != nil {
			tb.Fatal(err)
		}
		pw := e.Password
		if pw == "" {
			pw = storePassword
		}
		var chain []keystore.Certificate
		for _, c := range e.Leaf.chain(tb) {
			chain = append(chain, keystore.Certificate{Type: "X.509", Content: c.Raw})
		}
		err = ks.SetPrivateKeyEntry(e.Alias, keystore.PrivateKeyEntry{
			CreationTime: time.Now(), PrivateKey: p8, CertificateChain: chain,
		}, []byte(pw))
		if err != nil {
			tb.Fatal(err)
		}
	}
	return storeJKS(tb, ks, dir, name, storePassword)
}

// WriteJKSTruststore writes a JKS trust store holding the CAs as
// trusted-certificate entries (keytool -importcert) to dir/<name>.jks.
func WriteJKSTruststore(tb testing.TB, dir, name, storePassword string, cas ...*CA) string {
	tb.Helper()
	ks := keystore.New()
	for _, ca := range cas {
		err := ks.SetTrustedCertificateEntry(ca.Cert.Subject.CommonName, keystore.TrustedCertificateEntry{
			CreationTime: time.Now(), Certificate: keystore.Certificate{Type: "X.509", Content: ca.Cert.Raw},
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return storeJKS(tb, ks, dir, name, storePassword)
}

func storeJKS(tb testing.TB, ks keystore.KeyStore, dir, name, password string) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(password)); err != nil {
		tb.Fatal(err)
	}
	return write(tb, dir, name+".jks", buf.Bytes())
}

// WritePKCS12Keystore writes a PKCS12 key store (the key, the leaf and
// its CA) encrypted as Java 12+ keytool does (PBES2 with AES-256,
// HMAC-SHA-256 MAC) to dir/<name>.p12.
func (l *Leaf) WritePKCS12Keystore(tb testing.TB, dir, name, password string) string {
	tb.Helper()
	data, err := pkcs12.Modern2023.Encode(l.Key, l.Cert, l.chain(tb)[1:], password)
	if err != nil {
		tb.Fatal(err)
	}
	return write(tb, dir, name+".p12", data)
}

// WritePKCS12Truststore writes a PKCS12 trust store whose certificates
// carry Java's trusted-key-usage attribute (keytool -importcert
// -storetype PKCS12) to dir/<name>.p12.
func WritePKCS12Truststore(tb testing.TB, dir, name, password string, cas ...*CA) string {
	tb.Helper()
	var certs []*x509.Certificate
	for _, ca := range cas {
		certs = append(certs, ca.Cert)
	}
	data, err := pkcs12.Modern2023.EncodeTrustStore(certs, password)
	if err != nil {
		tb.Fatal(err)
	}
	return write(tb, dir, name+".p12", data)
}

// chain returns the leaf's certificates, leaf first, from CertPEM.
func (l *Leaf) chain(tb testing.TB) []*x509.Certificate {
	tb.Helper()
	var certs []*x509.Certificate
	for rest := l.CertPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return certs
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			tb.Fatal(err)
		}
		certs = append(certs, c)
	}
}
