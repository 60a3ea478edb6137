package security

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/replica"
)

// saslBroker starts a node with a PLAINTEXT listener (for setup), a
// SASL_PLAINTEXT and a SASL_SSL one, mechanisms as given, PLAIN users
// admin and alice, and extra props.
func saslBroker(t testing.TB, p *pki, mechanisms string, extra map[string]string) *broker {
	t.Helper()
	props := map[string]string{
		"listeners":                  "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		"inter.broker.listener.name": "PLAINTEXT",
		"sasl.enabled.mechanisms":    mechanisms,
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": plainUsers,
		"listener.name.sasl_ssl.plain.sasl.jaas.config":       plainUsers,
	}
	for k, v := range extra {
		props[k] = v
	}
	return startBroker(t, p, props)
}

// addScramUsers gives alice a SCRAM-SHA-256 and bob a SCRAM-SHA-512
// credential, through the PLAINTEXT listener.
func addScramUsers(t *testing.T, b *broker) {
	t.Helper()
	adm := kadm.NewClient(client(t, b.addrs["PLAINTEXT"]))
	rs, err := adm.AlterUserSCRAMs(ctxT(t), nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "alice-scram"},
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bob-scram"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Err != nil {
			t.Fatalf("alter SCRAM of %s: %v %s", r.User, r.Err, r.ErrMessage)
		}
	}
}

func TestSASLPlain(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b := saslBroker(t, p, "PLAIN", nil)
	for _, listener := range []string{"SASL_PLAINTEXT", "SASL_SSL"} {
		t.Run(listener, func(t *testing.T) {
			opts := []kgo.Opt{kgo.SASL(plainAuth("alice", "alice-secret"))}
			if listener == "SASL_SSL" {
				opts = append(opts, kgo.DialTLSConfig(p.clientTLS(false)))
			}
			roundTrip(t, client(t, b.addrs[listener], opts...), "plain-"+strings.ToLower(listener), 10)

			// A wrong password and an unknown user fail alike.
			for _, auth := range [][2]string{{"alice", "wrong"}, {"mallory", "alice-secret"}} {
				opts[0] = kgo.SASL(plainAuth(auth[0], auth[1]))
				err := client(t, b.addrs[listener], opts...).Ping(ctxShort(t))
				if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), "Authentication failed: Invalid username or password") {
					t.Errorf("%v: %v, want SASL_AUTHENTICATION_FAILED with Kafka's message", auth, err)
				}
			}
		})
	}
	// PLAIN users are a per-broker dynamic config: a new user can log in
	// without a restart.
	jaas := strings.Replace(plainUsers, `user_alice="alice-secret"`, `user_alice="alice-secret" user_carol="carol-secret"`, 1)
	adm := kadm.NewClient(client(t, b.addrs["PLAINTEXT"]))
	rs, err := adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: "listener.name.sasl_plaintext.plain.sasl.jaas.config", Value: &jaas}}, 1)
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter the JAAS config: %v %+v", err, rs)
	}
	carol := client(t, b.addrs["SASL_PLAINTEXT"], kgo.SASL(plainAuth("carol", "carol-secret")))
	deadline := time.Now().Add(10 * time.Second)
	for err := carol.Ping(ctxShort(t)); err != nil; err = carol.Ping(ctxShort(t)) {
		if time.Now().After(deadline) {
			t.Fatalf("carol after the JAAS config changed: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b.logs.count("principal=User:alice", "authenticated") == 0 {
		t.Errorf("no log of alice's authentication:\n%s", tail(b.logs.String()))
	}
	// Failures are logged with the client's address.
	if b.logs.count("failed authentication", "remote=127.0.0.1:", "mechanism=PLAIN") < 4 {
		t.Errorf("failed authentications not logged with the client address:\n%s", tail(b.logs.String()))
	}
}

func TestSASLScram(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b := saslBroker(t, p, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", nil)
	addScramUsers(t, b)
	tests := []struct {
		listener, mech, user, pass string
	}{
		{"SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", "alice-scram"},
		{"SASL_SSL", "SCRAM-SHA-256", "alice", "alice-scram"},
		{"SASL_PLAINTEXT", "SCRAM-SHA-512", "bob", "bob-scram"},
		{"SASL_SSL", "SCRAM-SHA-512", "bob", "bob-scram"},
	}
	for i, tt := range tests {
		t.Run(tt.listener+"/"+tt.mech, func(t *testing.T) {
			tls := []kgo.Opt{}
			if tt.listener == "SASL_SSL" {
				tls = append(tls, kgo.DialTLSConfig(p.clientTLS(false)))
			}
			cl := client(t, b.addrs[tt.listener], append(tls, kgo.SASL(scramAuth(tt.mech, tt.user, tt.pass)))...)
			roundTrip(t, cl, fmt.Sprintf("scram-%d", i), 10)
			for _, bad := range []struct{ mech, user, pass string }{
				{tt.mech, tt.user, "wrong"},
				{tt.mech, "nobody", tt.pass},
				{otherScram(tt.mech), tt.user, tt.pass}, // no credential for that mechanism
			} {
				err := client(t, b.addrs[tt.listener], append(tls, kgo.SASL(scramAuth(bad.mech, bad.user, bad.pass)))...).Ping(ctxShort(t))
				want := "Authentication failed during authentication due to invalid credentials with SASL mechanism " + bad.mech
				if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), want) {
					t.Errorf("%+v: %v, want SASL_AUTHENTICATION_FAILED: %s", bad, err, want)
				}
			}
		})
	}

	// DescribeUserScramCredentials, and deleting a credential ends
	// logins with it.
	adm := kadm.NewClient(client(t, b.addrs["PLAINTEXT"]))
	desc, err := adm.DescribeUserSCRAMs(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if d := desc["alice"]; len(d.CredInfos) != 1 || d.CredInfos[0].Mechanism != kadm.ScramSha256 || d.CredInfos[0].Iterations != 8192 {
		t.Errorf("alice: %+v", d)
	}
	if d := desc["bob"]; len(d.CredInfos) != 1 || d.CredInfos[0].Mechanism != kadm.ScramSha512 {
		t.Errorf("bob: %+v", d)
	}
	rs, err := adm.AlterUserSCRAMs(ctxT(t), []kadm.DeleteSCRAM{{User: "alice", Mechanism: kadm.ScramSha256}}, nil)
	if err != nil || rs["alice"].Err != nil {
		t.Fatalf("delete: %v %+v", err, rs)
	}
	err = client(t, b.addrs["SASL_PLAINTEXT"], kgo.SASL(scramAuth("SCRAM-SHA-256", "alice", "alice-scram"))).Ping(ctxShort(t))
	if !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("alice after her credential was deleted: %v", err)
	}
	if d, err := adm.DescribeUserSCRAMs(ctxT(t), "alice"); err != nil || !errors.Is(d["alice"].Err, kerr.ResourceNotFound) {
		t.Errorf("describe deleted alice: %v %+v", err, d)
	}
}

func otherScram(m string) string {
	if m == "SCRAM-SHA-256" {
		return "SCRAM-SHA-512"
	}
	return "SCRAM-SHA-256"
}

// A mechanism the listener does not enable gets UNSUPPORTED_SASL_MECHANISM.
func TestUnsupportedMechanism(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b := saslBroker(t, p, "PLAIN", nil)
	err := client(t, b.addrs["SASL_PLAINTEXT"], kgo.SASL(scramAuth("SCRAM-SHA-256", "alice", "x"))).Ping(ctxShort(t))
	if !errors.Is(err, kerr.UnsupportedSaslMechanism) {
		t.Errorf("SCRAM on a PLAIN-only listener: %v, want UNSUPPORTED_SASL_MECHANISM", err)
	}
	// A client without SASL on a SASL listener is not served.
	if err := client(t, b.addrs["SASL_PLAINTEXT"]).Ping(ctxShort(t)); err == nil {
		t.Error("a client without SASL was served on a SASL listener")
	}
}

// rawConn speaks Kafka frames on a connection, for the exchanges kgo
// never makes.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	c  replica.Conn
}

func newRawConn(t *testing.T, addr string) *rawConn {
	nc := dialRaw(t, addr, nil)
	return &rawConn{t: t, nc: nc, c: replica.NewConn(nc, "raw", 0)}
}

func (r *rawConn) req(req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.c.Request(ctx, req)
}

func (r *rawConn) must(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	resp, err := r.req(req)
	if err != nil {
		r.t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

func handshake(version int16, mech string) *kmsg.SASLHandshakeRequest {
	r := kmsg.NewPtrSASLHandshakeRequest()
	r.Version, r.Mechanism = version, mech
	return r
}

func authenticate(version int16, b []byte) *kmsg.SASLAuthenticateRequest {
	r := kmsg.NewPtrSASLAuthenticateRequest()
	r.Version, r.SASLAuthBytes = version, b
	return r
}

func metadataReq() *kmsg.MetadataRequest {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = 12
	return r
}

// Before authentication a SASL listener answers only ApiVersions,
// SaslHandshake and SaslAuthenticate, in that order; anything else
// closes the connection (Kafka's SaslServerAuthenticator).
func TestSASLStateMachine(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b := saslBroker(t, p, "PLAIN", nil)
	addr := b.addrs["SASL_PLAINTEXT"]
	closed := func(r *rawConn, req kmsg.Request, what string) {
		t.Helper()
		if _, err := r.req(req); err == nil {
			t.Errorf("%s: answered, want the connection closed", what)
		}
	}

	closed(newRawConn(t, addr), metadataReq(), "Metadata before authentication")
	r := newRawConn(t, addr)
	r.must(kmsg.NewPtrApiVersionsRequest())
	closed(r, metadataReq(), "Metadata after ApiVersions")
	closed(newRawConn(t, addr), authenticate(1, []byte("\x00alice\x00alice-secret")), "SaslAuthenticate before SaslHandshake")

	// A second SaslHandshake during the authentication: ILLEGAL_SASL_STATE.
	r = newRawConn(t, addr)
	if hs := r.must(handshake(1, "PLAIN")).(*kmsg.SASLHandshakeResponse); hs.ErrorCode != 0 || len(hs.SupportedMechanisms) != 1 || hs.SupportedMechanisms[0] != "PLAIN" {
		t.Fatalf("handshake: %+v", hs)
	}
	if hs := r.must(handshake(1, "PLAIN")).(*kmsg.SASLHandshakeResponse); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("second handshake: %+v", hs)
	}
	closed(r, metadataReq(), "the connection after ILLEGAL_SASL_STATE")

	// The full exchange, then requests.
	r = newRawConn(t, addr)
	r.must(kmsg.NewPtrApiVersionsRequest())
	r.must(handshake(1, "PLAIN"))
	if ar := r.must(authenticate(2, []byte("\x00alice\x00alice-secret"))).(*kmsg.SASLAuthenticateResponse); ar.ErrorCode != 0 || ar.SessionLifetimeMillis != 0 {
		t.Fatalf("authenticate: %+v", ar)
	}
	r.must(metadataReq())
	// Without a session lifetime there is no re-authentication.
	if hs := r.must(handshake(1, "PLAIN")).(*kmsg.SASLHandshakeResponse); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("handshake after authentication: %+v", hs)
	}
	if ar := r.must(authenticate(1, nil)).(*kmsg.SASLAuthenticateResponse); ar.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("authenticate after authentication: %+v", ar)
	}
	r.must(metadataReq())

	// On a listener without SASL both answer ILLEGAL_SASL_STATE.
	r = newRawConn(t, b.addrs["PLAINTEXT"])
	if hs := r.must(handshake(1, "PLAIN")).(*kmsg.SASLHandshakeResponse); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("handshake on PLAINTEXT: %+v", hs)
	}
	r.must(metadataReq())

	// SaslHandshake v0: the PLAIN message follows as a raw token, and
	// the server's (empty) answer too.
	r = newRawConn(t, addr)
	r.must(handshake(0, "PLAIN"))
	token := []byte("\x00alice\x00alice-secret")
	frame := append([]byte{0, 0, 0, byte(len(token))}, token...)
	if _, err := r.nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.nc.Read(size[:]); err != nil || size != [4]byte{} {
		t.Fatalf("raw token answer %v %v", size, err)
	}
	r.must(metadataReq())
}

// KIP-368: with connections.max.reauth.ms the broker gives a session
// lifetime, kgo re-authenticates within it, and a connection that does
// not is closed at its next request.
func TestReauthentication(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b := saslBroker(t, p, "PLAIN,SCRAM-SHA-256", map[string]string{"connections.max.reauth.ms": "2500"})
	addScramUsers(t, b)
	t.Run("kgo", func(t *testing.T) {
		for _, auth := range []struct{ mech, user, pass string }{{"PLAIN", "alice", "alice-secret"}, {"SCRAM-SHA-256", "alice", "alice-scram"}} {
			t.Run(auth.mech, func(t *testing.T) {
				t.Parallel()
				kgoReauth(t, b, auth.mech, auth.user, auth.pass)
			})
		}
	})
	if b.logs.count("re-authenticated", "principal=User:alice", "mechanism=PLAIN") == 0 ||
		b.logs.count("re-authenticated", "principal=User:alice", "mechanism=SCRAM-SHA-256") == 0 {
		t.Errorf("no re-authentication logged:\n%s", tail(b.logs.String()))
	}
	if n := b.logs.count("failed re-authentication"); n > 0 {
		t.Errorf("%d re-authentications failed:\n%s", n, tail(b.logs.String()))
	}

	// A client that lets its session expire is closed at its next
	// request; re-authenticating would have been allowed.
	r := newRawConn(t, b.addrs["SASL_PLAINTEXT"])
	r.must(handshake(1, "PLAIN"))
	ar := r.must(authenticate(1, []byte("\x00alice\x00alice-secret"))).(*kmsg.SASLAuthenticateResponse)
	if ar.SessionLifetimeMillis != 2500 {
		t.Fatalf("session lifetime %d, want 2500", ar.SessionLifetimeMillis)
	}
	r.must(metadataReq())
	time.Sleep(2600 * time.Millisecond)
	if _, err := r.req(metadataReq()); err == nil {
		t.Error("a request after the session expired was answered")
	}
	// Re-authenticating as someone else fails.
	r = newRawConn(t, b.addrs["SASL_PLAINTEXT"])
	r.must(handshake(1, "PLAIN"))
	r.must(authenticate(1, []byte("\x00alice\x00alice-secret")))
	time.Sleep(1100 * time.Millisecond) // re-authentication is allowed once a second
	r.must(handshake(1, "PLAIN"))
	ar = r.must(authenticate(1, []byte("\x00admin\x00admin-secret"))).(*kmsg.SASLAuthenticateResponse)
	if ar.ErrorCode != kerr.SaslAuthenticationFailed.Code || ar.ErrorMessage == nil || *ar.ErrorMessage != "Cannot change principals during re-authentication from User.alice: User.admin" {
		t.Errorf("re-authentication as admin: %d %v", ar.ErrorCode, ar.ErrorMessage)
	}
}

// kgoReauth produces with kgo for longer than a session lifetime and
// reads the records back.
func kgoReauth(t *testing.T, b *broker, mechName, user, pass string) {
	mech := plainAuth(user, pass)
	if mechName != "PLAIN" {
		mech = scramAuth(mechName, user, pass)
	}
	cl := client(t, b.addrs["SASL_PLAINTEXT"], kgo.SASL(mech))
	topic := "reauth-" + strings.ToLower(mechName)
	if _, err := kadm.NewClient(cl).CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	// kgo re-authenticates a second before the lifetime ends.
	n := 0
	for end := time.Now().Add(3500 * time.Millisecond); time.Now().Before(end); n++ {
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%d", n))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	consume(t, cl, topic, n)
}
