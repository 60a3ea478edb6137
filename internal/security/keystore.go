package security

// Java key stores, as Kafka's DefaultSslEngineFactory reads them
// (FileBasedStore): ssl.keystore.type and ssl.truststore.type are JKS
// (Kafka's default), PKCS12 or PEM, in any case. The JKS format is read
// by github.com/pavlo-v-chernykh/keystore-go, PKCS12 by
// software.sslmate.com/src/go-pkcs12; this file only picks entries and
// applies Kafka's password rules.
//
// A JKS file (all integers big-endian; Java's sun.security.provider.
// JavaKeyStore):
//
//	+------------+---------+---------+--------------------------------+--------------+
//	| FEEDFEED   | version | count   | entries: tag 1 = private key   | SHA-1 digest |
//	| magic (4)  | 1|2 (4) | (4)     | (alias, time, protected PKCS#8,| of password, |
//	|            |         |         | chain) or tag 2 = trusted cert | "Mighty      |
//	|            |         |         | (alias, time, certificate)     | Aphrodite",  |
//	|            |         |         |                                | the body(20) |
//	+------------+---------+---------+--------------------------------+--------------+
//
// A PKCS12 file is DER: PFX { version 3, authSafe (safe bags: shrouded
// PKCS#8 key bags, certificate bags), macData keyed by the password }.
// keytool marks the certificates of a trust store with Java's
// trusted-key-usage attribute (OID 2.16.840.1.113894.746875.1.1).
//
// Which format a file is in is read from its first bytes, as Java's
// default keystore.type.compat=true does: a JKS store accepts a PKCS12
// file and the other way round (keytool has written PKCS12 by default
// since Java 9, whatever the file is called).
//
// Passwords (Kafka's rules):
//   - A JKS or PKCS12 key store needs ssl.keystore.password ("SSL key
//     store is specified, but key store password is not specified.");
//     the private key is decrypted with ssl.key.password, or with the
//     store password when that is not set. A PKCS12 store has one
//     password for all (keytool does not let them differ), so its key is
//     decrypted with ssl.keystore.password.
//   - A key store entry: the private-key entry; of several, the first
//     alias in sorted order (Java's key manager chooses by alias at each
//     handshake, Gregor once at load). A PKCS12 key store must hold one
//     key.
//   - A trust store's password is optional: without it a JKS store is
//     read without checking its digest, as Java does, and a PKCS12 store
//     is read only if it is not password protected. All its trusted
//     certificates, and the first certificate of any private-key entry
//     of a JKS store (as Java's TrustStoreUtil does), become roots.
//
// Before a file reaches the libraries, two checks keep a damaged one from
// exhausting the broker: every length in a JKS file must fit in what
// follows it (jksLengthsFit), and a PKCS12 MAC iteration count must not
// exceed Java's 5,000,000 (pkcs12MACIterationsFit).

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Store types of ssl.keystore.type and ssl.truststore.type.
const (
	StoreTypeJKS    = "JKS"
	StoreTypePKCS12 = "PKCS12"
	StoreTypePEM    = "PEM"
)

// jksMagic starts every JKS file.
var jksMagic = []byte{0xFE, 0xED, 0xFE, 0xED}

// storeType returns the store type setting in upper case; empty is JKS,
// Kafka's default.
func storeType(setting, typ string) (string, error) {
	t := strings.ToUpper(strings.TrimSpace(typ))
	switch t {
	case "":
		return StoreTypeJKS, nil
	case StoreTypeJKS, StoreTypePKCS12, StoreTypePEM:
		return t, nil
	}
	return "", configErrorf("%s %s cannot be read: Gregor reads JKS, PKCS12 and PEM stores", setting, typ)
}

// storeFormat tells the format of a store file from its first bytes:
// JKS, PKCS12 (DER) or PEM (text, which Kafka reads only with type
// PEM).
func storeFormat(data []byte) string {
	switch {
	case bytes.HasPrefix(data, jksMagic):
		return StoreTypeJKS
	case len(data) > 0 && data[0] == 0x30: // a DER SEQUENCE
		return StoreTypePKCS12
	case bytes.Contains(data[:min(len(data), 4096)], []byte("-----BEGIN ")):
		return StoreTypePEM
	}
	return StoreTypePKCS12
}

// javaKeystore reads a JKS or PKCS12 key store file.
func (s TLSSettings) javaKeystore(typ string) (tls.Certificate, error) {
	if s.KeystoreKey != "" || s.KeystoreCertificateChain != "" {
		return tls.Certificate{}, configErrorf("SSL private key can be specified only for PEM, but key store type is %s: set ssl.keystore.type=PEM with ssl.keystore.key and ssl.keystore.certificate.chain", typ)
	}
	switch {
	case s.KeystoreLocation == "" && s.KeystorePassword != "":
		return tls.Certificate{}, configErrorf("SSL key store is not specified, but key store password is specified: set ssl.keystore.location")
	case s.KeystoreLocation == "":
		return tls.Certificate{}, configErrorf("no key store: set ssl.keystore.location, or ssl.keystore.key and ssl.keystore.certificate.chain")
	case s.KeystorePassword == "":
		return tls.Certificate{}, configErrorf("SSL key store is specified, but key store password is not specified: set ssl.keystore.password for %s", s.KeystoreLocation)
	}
	data, err := os.ReadFile(s.KeystoreLocation)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%w: read ssl.keystore.location: %w", ErrBadConfig, err)
	}
	keyPassword := s.KeyPassword
	if keyPassword == "" {
		keyPassword = s.KeystorePassword
	}
	var key crypto.PrivateKey
	var chain []*x509.Certificate
	switch storeFormat(data) {
	case StoreTypeJKS:
		key, chain, err = readJKSKeystore(data, s.KeystorePassword, keyPassword)
	case StoreTypePKCS12:
		key, chain, err = readPKCS12Keystore(data, s.KeystorePassword)
	default:
		err = configErrorf("the file is PEM: set ssl.keystore.type=PEM")
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("failed to load SSL keystore %s of type %s (ssl.keystore.location): %w", s.KeystoreLocation, typ, err)
	}
	return certificateOf(key, chain)
}

// readJKSKeystore reads the key and chain of the first private-key
// entry, in sorted alias order, of a JKS key store.
func readJKSKeystore(data []byte, storePassword, keyPassword string) (crypto.PrivateKey, []*x509.Certificate, error) {
	if err := jksLengthsFit(data); err != nil {
		return nil, nil, err
	}
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(data), []byte(storePassword)); err != nil {
		return nil, nil, configErrorf("a wrong ssl.keystore.password or a corrupt file (%v)", err)
	}
	aliases := ks.Aliases()
	slices.Sort(aliases)
	i := slices.IndexFunc(aliases, ks.IsPrivateKeyEntry)
	if i < 0 {
		return nil, nil, configErrorf("the key store holds no private key entry")
	}
	alias := aliases[i]
	entry, err := ks.GetPrivateKeyEntry(alias, []byte(keyPassword))
	if err != nil {
		return nil, nil, configErrorf("cannot recover the private key of entry %q: a wrong ssl.key.password (ssl.keystore.password when unset) (%v)", alias, err)
	}
	key, err := x509.ParsePKCS8PrivateKey(entry.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: private key of entry %q: %w", ErrBadConfig, alias, err)
	}
	var chain []*x509.Certificate
	for _, c := range entry.CertificateChain {
		cert, err := x509.ParseCertificate(c.Content)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: certificate chain of entry %q: %w", ErrBadConfig, alias, err)
		}
		chain = append(chain, cert)
	}
	return key, chain, nil
}

// errJKSCorrupt is jksLengthsFit's error.
var errJKSCorrupt = configErrorf("a corrupt JKS file: a length runs past its end")

// jksLengthsFit checks, before keystore-go reads the file, that every
// length and count in it fits in the bytes that follow. keystore-go
// allocates what a length field says before reading (up to 4 GiB for a
// field, 160 GiB for a certificate count), so a corrupt file could
// exhaust memory; Java reads such fields in bounded chunks. It walks the
// framing only (the diagram in the file comment), decoding nothing.
func jksLengthsFit(data []byte) error {
	rest := data
	take := func(n uint64) bool {
		if n > uint64(len(rest)) {
			return false
		}
		rest = rest[n:]
		return true
	}
	u16 := func() (uint64, bool) {
		if len(rest) < 2 {
			return 0, false
		}
		v := uint64(rest[0])<<8 | uint64(rest[1])
		rest = rest[2:]
		return v, true
	}
	u32 := func() (uint64, bool) {
		if len(rest) < 4 {
			return 0, false
		}
		v := uint64(rest[0])<<24 | uint64(rest[1])<<16 | uint64(rest[2])<<8 | uint64(rest[3])
		rest = rest[4:]
		return v, true
	}
	blob16 := func() bool { n, ok := u16(); return ok && take(n) }
	blob32 := func() bool { n, ok := u32(); return ok && take(n) }
	if !take(4) { // magic
		return errJKSCorrupt
	}
	version, ok := u32()
	if !ok {
		return errJKSCorrupt
	}
	certificate := func() bool {
		if version == 2 && !blob16() { // certificate type
			return false
		}
		return blob32()
	}
	entries, ok := u32()
	if !ok {
		return errJKSCorrupt
	}
	for range entries {
		tag, ok := u32()
		if !ok || !blob16() || !take(8) { // tag, alias, creation time
			return errJKSCorrupt
		}
		switch tag {
		case 1: // private key: protected key, certificate chain
			if !blob32() {
				return errJKSCorrupt
			}
			n, ok := u32()
			if !ok || n > uint64(len(rest))/4 {
				return errJKSCorrupt
			}
			for range n {
				if !certificate() {
					return errJKSCorrupt
				}
			}
		case 2: // trusted certificate
			if !certificate() {
				return errJKSCorrupt
			}
		default:
			return nil // keystore-go refuses it without allocating
		}
	}
	return nil
}

// maxPKCS12Iterations is the largest MAC iteration count read, as
// Java's PKCS12KeyStore (MAX_ITERATION_COUNT).
const maxPKCS12Iterations = 5_000_000

// oidPBMAC1 is PBMAC1 (RFC 8018, RFC 9579), whose PBKDF2 parameters
// carry the iteration count.
var oidPBMAC1 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}

// pkcs12MACIterationsFit reads the MAC parameters of a PKCS12 file
// (PFX { version, authSafe, macData { mac, macSalt, iterations } }, or
// the PBKDF2 parameters of a PBMAC1 mac) and refuses an iteration count
// over maxPKCS12Iterations before go-pkcs12, which has no limit, runs
// PBKDF2 for it: the MAC is checked before anything else is derived, so
// a damaged file cannot make the load spin. A file without a MAC is not
// checked. A file that does not parse is left to go-pkcs12 to refuse.
func pkcs12MACIterationsFit(data []byte) error {
	type algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	var pfx struct {
		Version  int
		AuthSafe asn1.RawValue
		MacData  struct {
			Mac struct {
				Algorithm algorithm
				Digest    []byte
			}
			MacSalt    []byte
			Iterations int `asn1:"optional,default:1"`
		} `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(data, &pfx); err != nil {
		if strings.Contains(err.Error(), "integer too large") {
			return configErrorf("MAC iteration count too large")
		}
		return nil
	}
	n := pfx.MacData.Iterations
	if alg := pfx.MacData.Mac.Algorithm; alg.Algorithm.Equal(oidPBMAC1) {
		var params struct {
			KDF struct {
				Algorithm asn1.ObjectIdentifier
				Params    struct {
					Salt       asn1.RawValue
					Iterations int
					KeyLength  int           `asn1:"optional"`
					PRF        asn1.RawValue `asn1:"optional"`
				}
			}
		}
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err != nil {
			return configErrorf("bad PBMAC1 parameters (%v)", err)
		}
		n = params.KDF.Params.Iterations
	}
	if n > maxPKCS12Iterations || n < 0 {
		return configErrorf("MAC iteration count too large: %d", n)
	}
	return nil
}

// readPKCS12Keystore reads the key and certificates of a PKCS12 key
// store.
func readPKCS12Keystore(data []byte, password string) (crypto.PrivateKey, []*x509.Certificate, error) {
	if err := pkcs12MACIterationsFit(data); err != nil {
		return nil, nil, err
	}
	key, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption) {
			return nil, nil, configErrorf("a wrong ssl.keystore.password (%v)", err)
		}
		return nil, nil, configErrorf("not a PKCS12 key store with one private key, or a corrupt file (%v)", err)
	}
	return key, append([]*x509.Certificate{leaf}, cas...), nil
}

// certificateOf returns the tls.Certificate of a key and its chain: the
// certificate whose public key is the key's first (keytool and openssl
// write it first, but a PKCS12 store does not promise it), then the
// others in their order.
func certificateOf(key crypto.PrivateKey, chain []*x509.Certificate) (tls.Certificate, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, configErrorf("unsupported private key type %T", key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return tls.Certificate{}, configErrorf("unsupported public key type %T", signer.Public())
	}
	i := slices.IndexFunc(chain, func(c *x509.Certificate) bool { return pub.Equal(c.PublicKey) })
	if i < 0 {
		return tls.Certificate{}, configErrorf("the key store holds no certificate for its private key")
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[i]}
	cert.Certificate = append(cert.Certificate, chain[i].Raw)
	for j, c := range chain {
		if j != i {
			cert.Certificate = append(cert.Certificate, c.Raw)
		}
	}
	return cert, nil
}

// javaTruststore reads a JKS or PKCS12 trust store file.
func (s TLSSettings) javaTruststore(typ string) (*x509.CertPool, error) {
	if s.TruststoreCertificates != "" {
		return nil, configErrorf("SSL trust store certs can be specified only for PEM, but trust store type is %s: set ssl.truststore.type=PEM with ssl.truststore.certificates", typ)
	}
	data, err := os.ReadFile(s.TruststoreLocation)
	if err != nil {
		return nil, fmt.Errorf("%w: read ssl.truststore.location: %w", ErrBadConfig, err)
	}
	var certs []*x509.Certificate
	switch storeFormat(data) {
	case StoreTypeJKS:
		certs, err = readJKSTruststore(data, s.TruststorePassword)
	case StoreTypePKCS12:
		certs, err = readPKCS12Truststore(data, s.TruststorePassword)
	default:
		err = configErrorf("the file is PEM: set ssl.truststore.type=PEM")
	}
	if err == nil && len(certs) == 0 {
		err = configErrorf("the trust store holds no certificate")
	}
	if err != nil {
		return nil, fmt.Errorf("failed to load SSL truststore %s of type %s (ssl.truststore.location): %w", s.TruststoreLocation, typ, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// errJKSDigest is keystore-go's message for a digest that does not match
// the password; its entries are read by then.
const errJKSDigest = "got invalid digest"

// readJKSTruststore returns the certificates a JKS trust store trusts:
// its trusted-certificate entries and the first certificate of its
// private-key entries. Without a password the digest is not checked.
func readJKSTruststore(data []byte, password string) ([]*x509.Certificate, error) {
	if err := jksLengthsFit(data); err != nil {
		return nil, err
	}
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		// keystore-go checks the digest after reading every entry, and
		// has no way to skip it: without a password (Java's null), a
		// digest mismatch is the expected outcome, and the entries
		// read are used.
		if password != "" || err.Error() != errJKSDigest {
			return nil, configErrorf("a wrong ssl.truststore.password or a corrupt file (%v)", err)
		}
	}
	aliases := ks.Aliases()
	slices.Sort(aliases)
	var certs []*x509.Certificate
	for _, alias := range aliases {
		var der []byte
		switch {
		case ks.IsTrustedCertificateEntry(alias):
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return nil, fmt.Errorf("%w: entry %q: %w", ErrBadConfig, alias, err)
			}
			der = e.Certificate.Content
		case ks.IsPrivateKeyEntry(alias):
			chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
			if err != nil || len(chain) == 0 {
				continue
			}
			der = chain[0].Content
		default:
			continue
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate of entry %q: %w", ErrBadConfig, alias, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// readPKCS12Truststore returns the certificates of a PKCS12 trust store,
// all marked trusted by Java's attribute.
func readPKCS12Truststore(data []byte, password string) ([]*x509.Certificate, error) {
	if err := pkcs12MACIterationsFit(data); err != nil {
		return nil, err
	}
	certs, err := pkcs12.DecodeTrustStore(data, password)
	if err != nil {
		switch {
		case (errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption)) && password == "":
			return nil, configErrorf("the store is password protected: set ssl.truststore.password (%v)", err)
		case errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption):
			return nil, configErrorf("a wrong ssl.truststore.password (%v)", err)
		}
		return nil, configErrorf("not a PKCS12 trust store of trusted certificates (as keytool -importcert writes), or a corrupt file (%v)", err)
	}
	return certs, nil
}
