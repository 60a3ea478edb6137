package security_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gregor-streaming/gregor/internal/security"
)

// testCreds knows PLAIN user alice/alice-secret and SCRAM users
// bob/bob-secret (both mechanisms) and weak (too few iterations).
func testCreds(t testing.TB) security.Credentials {
	t.Helper()
	scramCreds := map[security.ScramMechanism]map[string]security.ScramCredential{}
	for _, m := range []security.ScramMechanism{security.ScramSHA256, security.ScramSHA512} {
		c, err := security.NewScramCredential(m, "bob-secret", nil, 4096)
		if err != nil {
			t.Fatal(err)
		}
		weak, err := security.NewScramCredential(m, "weak-secret", nil, 1024)
		if err != nil {
			t.Fatal(err)
		}
		scramCreds[m] = map[string]security.ScramCredential{"bob": c, "weak": weak}
	}
	return security.Credentials{
		PlainPassword: func(u string) (string, bool) {
			if u == "alice" {
				return "alice-secret", true
			}
			return "", false
		},
		Scram: func(m security.ScramMechanism, u string) (security.ScramCredential, bool) {
			c, ok := scramCreds[m][u]
			return c, ok
		},
	}
}

// exchange runs a franz-go client mechanism against a server session, as
// SaslAuthenticate would carry it.
func exchange(t *testing.T, client sasl.Mechanism, srv security.ServerSession) error {
	t.Helper()
	sess, msg, err := client.Authenticate(context.Background(), "broker:9092")
	if err != nil {
		t.Fatal(err)
	}
	for {
		out, done, err := srv.Step(msg)
		if err != nil {
			return err
		}
		cdone, next, cerr := sess.Challenge(out)
		if cerr != nil {
			return cerr
		}
		if done {
			if !cdone {
				t.Fatal("server done before the client")
			}
			return nil
		}
		msg = next
	}
}

func TestPlain(t *testing.T) {
	creds := testCreds(t)
	tests := []struct {
		user, pass, zid string
		ok              bool
		client          string // the client-visible error message
	}{
		{user: "alice", pass: "alice-secret", ok: true},
		{user: "alice", pass: "alice-secret", zid: "alice", ok: true},
		{user: "alice", pass: "wrong", client: "Authentication failed: Invalid username or password"},
		{user: "mallory", pass: "alice-secret", client: "Authentication failed: Invalid username or password"},
		{user: "alice", pass: "alice-secret", zid: "root", client: "Authentication failed: Client requested an authorization id that is different from username"},
	}
	for _, tt := range tests {
		srv, err := security.NewServerSession(security.MechanismPlain, creds)
		if err != nil {
			t.Fatal(err)
		}
		err = exchange(t, plain.Auth{Zid: tt.zid, User: tt.user, Pass: tt.pass}.AsMechanism(), srv)
		if tt.ok {
			if err != nil || srv.AuthorizationID() != tt.user {
				t.Errorf("%+v: err %v, authorization id %q", tt, err, srv.AuthorizationID())
			}
			continue
		}
		if !errors.Is(err, security.ErrAuthenticationFailed) {
			t.Errorf("%+v: err %v, want authentication failed", tt, err)
		}
		if got := security.ClientMessage(err, "PLAIN", false); got != tt.client {
			t.Errorf("%+v: client message %q, want %q", tt, got, tt.client)
		}
		if srv.AuthorizationID() != "" {
			t.Errorf("%+v: authorization id %q after a failure", tt, srv.AuthorizationID())
		}
	}
	// Malformed messages fail with the generic message.
	for _, msg := range []string{"", "alice", "\x00alice", "\x00\x00pw", "\x00alice\x00", "a\x00b\x00c\x00d"} {
		srv, _ := security.NewServerSession(security.MechanismPlain, creds)
		_, _, err := srv.Step([]byte(msg))
		if !errors.Is(err, security.ErrAuthenticationFailed) {
			t.Errorf("%q: err %v", msg, err)
		}
		if got := security.ClientMessage(err, "PLAIN", false); got != "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN" {
			t.Errorf("%q: client message %q", msg, got)
		}
	}
}

func TestScram(t *testing.T) {
	creds := testCreds(t)
	for _, mech := range []string{security.MechanismScramSHA256, security.MechanismScramSHA512} {
		client := func(user, pass string) sasl.Mechanism {
			a := scram.Auth{User: user, Pass: pass}
			if mech == security.MechanismScramSHA512 {
				return a.AsSha512Mechanism()
			}
			return a.AsSha256Mechanism()
		}
		srv, _ := security.NewServerSession(mech, creds)
		if err := exchange(t, client("bob", "bob-secret"), srv); err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		if srv.AuthorizationID() != "bob" {
			t.Errorf("%s: authorization id %q", mech, srv.AuthorizationID())
		}
		if _, _, err := srv.Step([]byte("again")); !errors.Is(err, security.ErrIllegalState) {
			t.Errorf("%s: step after done: %v", mech, err)
		}
		// A wrong password, an unknown user and a credential with too
		// few iterations fail alike, at the last step, with the same
		// message to the client.
		generic := "Authentication failed during authentication due to invalid credentials with SASL mechanism " + mech
		for _, c := range [][2]string{{"bob", "wrong"}, {"nobody", "bob-secret"}, {"weak", "weak-secret"}} {
			srv, _ := security.NewServerSession(mech, creds)
			sess, first, _ := client(c[0], c[1]).Authenticate(context.Background(), "b")
			serverFirst, done, err := srv.Step(first)
			if err != nil || done {
				t.Fatalf("%s %v: first step: %v %v", mech, c, done, err)
			}
			_, final, err := sess.Challenge(serverFirst)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = srv.Step(final)
			if !errors.Is(err, security.ErrAuthenticationFailed) {
				t.Errorf("%s %v: err %v", mech, c, err)
			}
			if got := security.ClientMessage(err, mech, false); got != generic {
				t.Errorf("%s %v: client message %q", mech, c, got)
			}
		}
	}
}

// The server's first message must be answered by the same session: a
// client-final with another nonce, a forged proof or a changed channel
// binding fails.
func TestScramTampered(t *testing.T) {
	creds := testCreds(t)
	for _, tamper := range []func(string) string{
		func(s string) string { return strings.Replace(s, "r=", "r=x", 1) },
		func(s string) string { return s[:len(s)-4] + "AAA=" },
		func(s string) string { return strings.Replace(s, "c=biws", "c=eSws", 1) },
		func(s string) string { return strings.Replace(s, ",p=", ",q=", 1) },
	} {
		srv, _ := security.NewServerSession(security.MechanismScramSHA256, creds)
		sess, first, _ := scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha256Mechanism().Authenticate(context.Background(), "b")
		serverFirst, _, err := srv.Step(first)
		if err != nil {
			t.Fatal(err)
		}
		_, final, _ := sess.Challenge(serverFirst)
		if _, _, err := srv.Step([]byte(tamper(string(final)))); !errors.Is(err, security.ErrAuthenticationFailed) {
			t.Errorf("tampered %q: err %v", tamper(string(final)), err)
		}
	}
	for _, first := range []string{"", "p=tls-unique,,n=bob,r=abc", "n,,n=,r=abc", "n,,n=bob", "n,,r=abc,n=bob", "n,,n=bob,r=a,b", "n,a=eve,n=bob,r=abc", "n,,m=x,n=bob,r=abc"} {
		srv, _ := security.NewServerSession(security.MechanismScramSHA256, creds)
		if _, _, err := srv.Step([]byte(first)); !errors.Is(err, security.ErrAuthenticationFailed) {
			t.Errorf("client-first %q: err %v", first, err)
		}
	}
}

// Reference: RFC 7677 section 3, the SCRAM-SHA-256 example exchange
// (user "user", password "pencil").
func TestScramRFC7677Vector(t *testing.T) {
	restore := security.SetScramNonceForTest("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
	defer restore()
	salt := []byte{0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81}
	cred, err := security.NewScramCredential(security.ScramSHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := security.NewServerSession(security.MechanismScramSHA256, security.Credentials{
		Scram: func(m security.ScramMechanism, u string) (security.ScramCredential, bool) { return cred, u == "user" },
	})
	first, _, err := srv.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"; string(first) != want {
		t.Fatalf("server-first %q, want %q", first, want)
	}
	final, done, err := srv.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil || !done {
		t.Fatalf("client-final: %v %v", done, err)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(final) != want {
		t.Errorf("server-final %q, want %q", final, want)
	}
}

func TestUnsupportedMechanism(t *testing.T) {
	for _, m := range []string{"GSSAPI", "oauthbearer", "XOAUTH2", "scram-sha-256", ""} {
		if _, err := security.NewServerSession(m, security.Credentials{}); !errors.Is(err, security.ErrUnsupportedMechanism) {
			t.Errorf("%q: err %v", m, err)
		}
	}
}

// librdkafka sends its client nonce in front of the server-first nonce
// again in its client-final message; Kafka accepts that (its check is
// endsWith), and so does Gregor, with the proof computed over what the
// client sent.
func TestScramLibrdkafkaNonce(t *testing.T) {
	creds := testCreds(t)
	cred, _ := creds.Scram(security.ScramSHA256, "bob")
	for _, doubled := range []bool{false, true} {
		srv, _ := security.NewServerSession(security.MechanismScramSHA256, creds)
		bare := "n=bob,r=cnonce123"
		serverFirst, _, err := srv.Step([]byte("n,," + bare))
		if err != nil {
			t.Fatal(err)
		}
		nonce := strings.TrimPrefix(strings.Split(string(serverFirst), ",")[0], "r=")
		if doubled {
			nonce = "cnonce123" + nonce
		}
		withoutProof := "c=biws,r=" + nonce
		salted, _ := security.SaltedPassword(security.ScramSHA256, "bob-secret", cred.Salt, int(cred.Iterations))
		mac := func(key []byte, msg string) []byte {
			h := hmac.New(sha256.New, key)
			h.Write([]byte(msg))
			return h.Sum(nil)
		}
		clientKey := mac(salted, "Client Key")
		stored := sha256.Sum256(clientKey)
		sig := mac(stored[:], bare+","+string(serverFirst)+","+withoutProof)
		proof := make([]byte, len(sig))
		for i := range proof {
			proof[i] = clientKey[i] ^ sig[i]
		}
		_, done, err := srv.Step([]byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)))
		if err != nil || !done || srv.AuthorizationID() != "bob" {
			t.Errorf("doubled=%v: %v %v %q", doubled, done, err, srv.AuthorizationID())
		}
	}
}
