package security

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ScramMechanism is a SCRAM mechanism by Kafka's ScramMechanism type id,
// as the metadata log and the SCRAM admin APIs carry it.
type ScramMechanism int8

// Kafka's SCRAM mechanism ids.
const (
	ScramUnknown ScramMechanism = 0
	ScramSHA256  ScramMechanism = 1
	ScramSHA512  ScramMechanism = 2
)

// Iteration bounds: Kafka's ScramMechanism.minIterations (4096 for both)
// and the controller's ScramControlManager.MAX_ITERATIONS.
const (
	ScramMinIterations = 4096
	ScramMaxIterations = 16384
)

// ParseScramMechanism returns the mechanism named "SCRAM-SHA-256" or
// "SCRAM-SHA-512".
func ParseScramMechanism(name string) (ScramMechanism, bool) {
	switch name {
	case MechanismScramSHA256:
		return ScramSHA256, true
	case MechanismScramSHA512:
		return ScramSHA512, true
	}
	return ScramUnknown, false
}

// String returns the mechanism's SASL name, or "UNKNOWN".
func (m ScramMechanism) String() string {
	switch m {
	case ScramSHA256:
		return MechanismScramSHA256
	case ScramSHA512:
		return MechanismScramSHA512
	}
	return "UNKNOWN"
}

// Valid reports whether m is SCRAM-SHA-256 or SCRAM-SHA-512.
func (m ScramMechanism) Valid() bool { return m == ScramSHA256 || m == ScramSHA512 }

func (m ScramMechanism) hash() func() hash.Hash {
	if m == ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// ScramCredential is what a server stores for one user and mechanism.
// The slices are not modified by this package; callers must not modify
// them either.
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// SaltedPassword returns Hi(password, salt, iterations) of RFC 5802: the
// secret the SCRAM admin API (AlterUserScramCredentials) carries.
func SaltedPassword(m ScramMechanism, password string, salt []byte, iterations int) ([]byte, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedMechanism, m)
	}
	return pbkdf2.Key(m.hash(), password, salt, iterations, m.hash()().Size())
}

// CredentialFromSaltedPassword derives the stored credential from a
// salted password, as Kafka's controller does for an upsertion.
func CredentialFromSaltedPassword(m ScramMechanism, salted, salt []byte, iterations int32) ScramCredential {
	clientKey := hmacSum(m, salted, []byte("Client Key"))
	return ScramCredential{
		Salt:       salt,
		StoredKey:  hashSum(m, clientKey),
		ServerKey:  hmacSum(m, salted, []byte("Server Key")),
		Iterations: iterations,
	}
}

// NewScramCredential derives a credential from a password, with a
// random salt when salt is nil.
func NewScramCredential(m ScramMechanism, password string, salt []byte, iterations int32) (ScramCredential, error) {
	if salt == nil {
		salt = make([]byte, 32)
		rand.Read(salt)
	}
	salted, err := SaltedPassword(m, password, salt, int(iterations))
	if err != nil {
		return ScramCredential{}, err
	}
	return CredentialFromSaltedPassword(m, salted, salt, iterations), nil
}

func hmacSum(m ScramMechanism, key, msg []byte) []byte {
	h := hmac.New(m.hash(), key)
	h.Write(msg)
	return h.Sum(nil)
}

func hashSum(m ScramMechanism, b []byte) []byte {
	h := m.hash()()
	h.Write(b)
	return h.Sum(nil)
}

// fakeSaltKey makes the salt shown for an unknown user: stable per user
// within a process, unrelated to any real salt.
var fakeSaltKey = func() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}()

// serverNonce returns the server's part of a SCRAM nonce: 192 random
// bits, printable. A variable for tests (RFC 7677's example).
var serverNonce = func() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type scramState int

const (
	scramClientFirst scramState = iota
	scramClientFinal
	scramDone
	scramFailed
)

// scramServer is the server side of SCRAM (RFC 5802) as Kafka's
// ScramSaslServer runs it, with one difference: an unknown user is
// answered with a made-up salt and fails at the last step, like a wrong
// password, instead of at the first (RFC 5802 section 9), so the exchange
// does not tell which users exist.
type scramServer struct {
	mech  ScramMechanism
	creds Credentials
	state scramState

	user        string
	known       bool
	cred        ScramCredential
	gs2Header   string
	clientBare  string
	serverFirst string
	cnonce      string
	nonce       string

	// tokenAuth is set by the tokenauth=true extension: the user is a
	// delegation token id, and the token's owner and expiry are
	// tokenOwner and tokenExpiry (delegation_token.go).
	tokenAuth   bool
	tokenOwner  Principal
	tokenExpiry time.Time
}

func newScramServer(m ScramMechanism, creds Credentials) *scramServer {
	return &scramServer{mech: m, creds: creds}
}

func (s *scramServer) Mechanism() string { return s.mech.String() }

func (s *scramServer) AuthorizationID() string {
	if s.state != scramDone {
		return ""
	}
	if s.tokenAuth {
		return s.tokenOwner.Name // a token acts as its owner
	}
	return s.user
}

func (s *scramServer) Step(client []byte) ([]byte, bool, error) {
	switch s.state {
	case scramClientFirst:
		out, err := s.clientFirst(string(client))
		if err != nil {
			s.state = scramFailed
			return nil, true, err
		}
		s.state = scramClientFinal
		return out, false, nil
	case scramClientFinal:
		out, err := s.clientFinal(string(client))
		if err != nil {
			s.state = scramFailed
			return nil, true, err
		}
		s.state = scramDone
		return out, true, nil
	}
	return nil, true, fmt.Errorf("%w: unexpected SCRAM message after the exchange ended", ErrIllegalState)
}

// clientFirst parses gs2-header client-first-message-bare:
//
//	n,[a=authzid],n=saslname,r=nonce[,ext=value...]
func (s *scramServer) clientFirst(msg string) ([]byte, error) {
	if !utf8.ValidString(msg) {
		return nil, failed("SCRAM client-first message is not UTF-8")
	}
	cbind, rest, ok := strings.Cut(msg, ",")
	if !ok || (cbind != "n" && cbind != "y") {
		return nil, failed("SCRAM client-first message: unsupported channel binding flag %q", cbind)
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, failed("SCRAM client-first message: no gs2 header")
	}
	if authz != "" && !strings.HasPrefix(authz, "a=") {
		return nil, failed("SCRAM client-first message: bad authzid")
	}
	s.gs2Header = cbind + "," + authz + ","
	s.clientBare = bare
	fields := strings.Split(bare, ",")
	if strings.HasPrefix(fields[0], "m=") { // reserved mandatory extension
		return nil, failed("SCRAM client-first message: unsupported mandatory extension")
	}
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "n=") || !strings.HasPrefix(fields[1], "r=") {
		return nil, failed("SCRAM client-first message: expected n= and r=")
	}
	name, err := saslName(fields[0][2:])
	if err != nil || name == "" {
		return nil, failed("SCRAM client-first message: bad user name")
	}
	cnonce := fields[1][2:]
	if cnonce == "" || !printable(cnonce) {
		return nil, failed("SCRAM client-first message: bad nonce")
	}
	for _, ext := range fields[2:] {
		k, v, ok := strings.Cut(ext, "=")
		if !ok || k == "" {
			return nil, failed("SCRAM client-first message: bad extension")
		}
		s.tokenAuth = s.tokenAuth || tokenAuthExtension(k, v) // delegation_token.go
	}
	if authz != "" {
		id, err := saslName(authz[2:])
		if err != nil || id != name {
			return nil, &AuthError{Client: "Authentication failed: Client requested an authorization id that is different from username"}
		}
	}
	s.user = name
	if s.tokenAuth {
		s.lookupToken(name)
	} else if s.creds.Scram != nil {
		s.cred, s.known = s.creds.Scram(s.mech, name)
	}
	if s.known && s.cred.Iterations < ScramMinIterations {
		s.known = false // as Kafka: refuse a credential too weak to use
	}
	if !s.known {
		s.cred = ScramCredential{
			Salt:       hmacSum(ScramSHA256, fakeSaltKey, []byte(s.mech.String()+"\x00"+name))[:20],
			Iterations: ScramMinIterations,
		}
	}
	s.cnonce = cnonce
	s.nonce = cnonce + serverNonce()
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.cred.Salt) + ",i=" + strconv.Itoa(int(s.cred.Iterations))
	return []byte(s.serverFirst), nil
}

// clientFinal checks c=base64(gs2-header),r=nonce[,ext...],p=base64(proof).
func (s *scramServer) clientFinal(msg string) ([]byte, error) {
	withoutProof, proofField, ok := cutLast(msg, ",p=")
	if !ok {
		return nil, failed("SCRAM client-final message: no proof")
	}
	fields := strings.Split(withoutProof, ",")
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "c=") || !strings.HasPrefix(fields[1], "r=") {
		return nil, failed("SCRAM client-final message: expected c= and r=")
	}
	cb, err := base64.StdEncoding.DecodeString(fields[0][2:])
	if err != nil || string(cb) != s.gs2Header {
		return nil, failed("SCRAM client-final message: channel binding does not match the gs2 header")
	}
	// The nonce must be the server-first one. librdkafka (at least to
	// 2.x) sends its own nonce in front of it again; Kafka accepts a
	// nonce that ends with the expected one, so that form is accepted too.
	if n := fields[1][2:]; n != s.nonce && n != s.cnonce+s.nonce {
		return nil, failed("Invalid client nonce in the final client message.")
	}
	proof, err := base64.StdEncoding.DecodeString(proofField)
	if err != nil {
		return nil, failed("SCRAM client-final message: bad proof encoding")
	}
	authMessage := []byte(s.clientBare + "," + s.serverFirst + "," + withoutProof)
	size := s.mech.hash()().Size()
	if !s.known || len(proof) != size || len(s.cred.StoredKey) != size {
		return nil, failed("Authentication failed: Invalid user credentials for %q", s.user)
	}
	sig := hmacSum(s.mech, s.cred.StoredKey, authMessage)
	clientKey := make([]byte, size)
	for i := range clientKey {
		clientKey[i] = proof[i] ^ sig[i]
	}
	if subtle.ConstantTimeCompare(hashSum(s.mech, clientKey), s.cred.StoredKey) != 1 {
		return nil, failed("Invalid client credentials for %q", s.user)
	}
	serverSig := hmacSum(s.mech, s.cred.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), nil
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// printable reports whether s is RFC 5802 "printable": %x21-7E but ','.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}
