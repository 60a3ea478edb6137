package security_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/security/securitytest"
)

// FuzzJKSStores feeds arbitrary bytes, as a JKS file (the magic is
// forced), to the key store and trust store readers, with the store type
// set to JKS and to PKCS12 (the file's format wins). Invariants: no
// panic and no huge allocation (jksLengthsFit); every failure wraps
// ErrBadConfig; a key store that loads has a leaf and a key.
//
// PKCS12 input is not fuzzed: go-pkcs12 runs PBKDF2 for whatever
// iteration count a file states; pkcs12MACIterationsFit caps the MAC's,
// but a file without a MAC can still state a huge count for its
// encrypted contents and spin (docs/security.md, "Not done yet").
func FuzzJKSStores(f *testing.F) {
	dir := f.TempDir()
	ca := securitytest.NewCA(f, "ca")
	leaf := ca.Issue(f, "CN=x")
	for _, p := range []string{
		securitytest.WriteJKSKeystore(f, dir, "ks", "pw", securitytest.JKSKeyEntry{Alias: "a", Leaf: leaf}),
		securitytest.WriteJKSTruststore(f, dir, "ts", "pw", ca),
	} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte{0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		data = append([]byte{0xFE, 0xED, 0xFE, 0xED}, data[min(4, len(data)):]...)
		path := filepath.Join(t.TempDir(), "store")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"JKS", "PKCS12"} {
			cert, err := security.TLSSettings{KeystoreType: typ, KeystoreLocation: path, KeystorePassword: "pw"}.Keystore()
			if err != nil && !errors.Is(err, security.ErrBadConfig) {
				t.Fatalf("key store error %v does not wrap ErrBadConfig", err)
			}
			if err == nil && (cert.Leaf == nil || len(cert.Certificate) == 0 || cert.PrivateKey == nil) {
				t.Fatalf("key store loaded without a leaf or key: %+v", cert)
			}
			for _, pw := range []string{"pw", ""} {
				if _, err := (security.TLSSettings{TruststoreType: typ, TruststoreLocation: path, TruststorePassword: pw}).Truststore(); err != nil && !errors.Is(err, security.ErrBadConfig) {
					t.Fatalf("trust store error %v does not wrap ErrBadConfig", err)
				}
			}
		}
	})
}
