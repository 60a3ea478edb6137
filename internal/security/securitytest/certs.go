// Package securitytest makes certificates for tests: a CA, and server and
// client certificates it signs, written as the PEM files Kafka's ssl.*
// settings name. Nothing here is fit for production use.
//
//	ca := securitytest.NewCA(t, "Test CA")
//	srv := ca.Issue(t, "CN=broker", "localhost", "127.0.0.1")
//	keystore := srv.WriteKeystore(t, dir)   // key + chain, ssl.keystore.location
//	truststore := ca.WriteTruststore(t, dir) // ssl.truststore.location
package securitytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  []byte
}

var serial atomic.Int64

func nextSerial() *big.Int { return big.NewInt(serial.Add(1) + time.Now().UnixNano()) }

// NewCA makes a self-signed CA named cn.
func NewCA(tb testing.TB, cn string) *CA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// Leaf is a certificate the CA issued, with its key.
type Leaf struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte // leaf, then the CA
	KeyPEM  []byte // PKCS#8
}

// Issue issues a certificate for both server and client use. subject is
// "CN=x,OU=y,O=z" (RFC 2253 order, most specific first); hosts become DNS
// names or IP addresses.
func (ca *CA) Issue(tb testing.TB, subject string, hosts ...string) *Leaf {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		RawSubject:   SubjectDER(tb, subject),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.PEM...)
	return &Leaf{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})}
}

// SubjectDER encodes "CN=a,OU=b,O=c,C=d" as a certificate subject whose
// encoding lists the attributes in reverse (C first), as RFC 2253 strings
// are written from the last relative name.
func SubjectDER(tb testing.TB, s string) []byte {
	tb.Helper()
	var rdns pkix.RDNSequence
	for _, part := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		var oid asn1.ObjectIdentifier
		switch strings.ToUpper(k) {
		case "CN":
			oid = asn1.ObjectIdentifier{2, 5, 4, 3}
		case "OU":
			oid = asn1.ObjectIdentifier{2, 5, 4, 11}
		case "O":
			oid = asn1.ObjectIdentifier{2, 5, 4, 10}
		case "L":
			oid = asn1.ObjectIdentifier{2, 5, 4, 7}
		case "ST":
			oid = asn1.ObjectIdentifier{2, 5, 4, 8}
		case "C":
			oid = asn1.ObjectIdentifier{2, 5, 4, 6}
		default:
			tb.Fatalf("securitytest: unsupported attribute %q", k)
		}
		rdns = append(pkix.RDNSequence{{{Type: oid, Value: v}}}, rdns...)
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// TLSCertificate returns the leaf as a tls.Certificate.
func (l *Leaf) TLSCertificate(tb testing.TB) tls.Certificate {
	tb.Helper()
	c, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// WriteKeystore writes the PEM key store (key, then chain) to
// dir/<name>.pem and returns its path.
func (l *Leaf) WriteKeystore(tb testing.TB, dir, name string) string {
	tb.Helper()
	return write(tb, dir, name+".pem", append(append([]byte{}, l.KeyPEM...), l.CertPEM...))
}

// WriteTruststore writes the CA certificate to dir/<name>.pem and
// returns its path.
func (ca *CA) WriteTruststore(tb testing.TB, dir, name string) string {
	tb.Helper()
	return write(tb, dir, name+".pem", ca.PEM)
}

// Pool returns a pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func write(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		tb.Fatal(err)
	}
	return p
}
