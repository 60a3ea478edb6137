// Package oauth tests SASL/OAUTHBEARER (KIP-255) end to end: franz-go's
// sasl/oauth mechanism with JWTs signed in the test and checked against
// a JWKS (KIP-768), refused tokens (expired, wrong audience, bad
// signature) answered with Kafka's error and no reason, the session
// lifetime taken from the token's exp (KIP-368), and librdkafka (kcat)
// with unsecured tokens against the unsecured validator.
package oauth

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/gregor-streaming/gregor/internal/security/securitytest"
	"github.com/gregor-streaming/gregor/kafkatest"
)

const testTimeout = 30 * time.Second

const plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret";`

// startBroker starts a broker whose only client listener is
// SASL_PLAINTEXT with PLAIN (for the broker itself) and OAUTHBEARER.
func startBroker(t *testing.T, opts ...kafkatest.Opt) *kafkatest.Cluster {
	t.Helper()
	return kafkatest.Start(t, append([]kafkatest.Opt{
		kafkatest.Config("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN,OAUTHBEARER"),
		kafkatest.Config("inter.broker.listener.name", "SASL_PLAINTEXT"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("listener.name.sasl_plaintext.plain.sasl.jaas.config", plainJAAS),
	}, opts...)...)
}

func tokenClient(t *testing.T, addr, token string, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr),
		kgo.SASL(oauth.Auth{Token: token}.AsMechanism()),
		kgo.RequestRetries(0), kgo.RetryTimeout(time.Second)}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestOAuthBearerJWT: signed tokens (RSA and ECDSA keys of a JWKS file)
// produce and consume; bad tokens are refused with
// SASL_AUTHENTICATION_FAILED and {"status":"invalid_token"}, saying
// nothing of why.
func TestOAuthBearerJWT(t *testing.T) {
	is := securitytest.NewIssuer(t)
	c := startBroker(t,
		kafkatest.Config("listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class", "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"),
		kafkatest.Config("sasl.oauthbearer.jwks.endpoint.url", is.WriteJWKS(t, t.TempDir())),
		kafkatest.Config("sasl.oauthbearer.expected.audience", "kafka"),
		kafkatest.Config("sasl.oauthbearer.expected.issuer", "https://issuer.example"),
	)
	now := time.Now()
	good := securitytest.Claims{Subject: "alice", Issuer: "https://issuer.example", Audience: []string{"kafka"}, IssuedAt: now, Expiry: now.Add(time.Hour)}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	for _, kid := range []string{"rsa", "ec"} {
		topic := "oauth-" + kid
		cl := tokenClient(t, c.Addr(), is.Token(t, kid, good), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(topic),
			kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hello " + kid)}).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", kid, err)
		}
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil || fs.NumRecords() != 1 {
			t.Fatalf("%s: consume: %v, %d records", kid, err, fs.NumRecords())
		}
	}

	other := securitytest.NewIssuer(t)
	for _, tc := range []struct {
		name, token string
	}{
		{"expired", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.Expiry = now.Add(-time.Hour) }))},
		{"wrong audience", is.Token(t, "rsa", with(good, func(c *securitytest.Claims) { c.Audience = []string{"web"} }))},
		{"bad signature", other.Token(t, "rsa", good)},
		{"unsigned", securitytest.UnsecuredToken(t, good)},
	} {
		cl := tokenClient(t, c.Addr(), tc.token)
		err := cl.Ping(ctx)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, `{"status":"invalid_token"}`) {
			t.Errorf("%s: %v, want Kafka's invalid_token error", tc.name, err)
		}
		for _, leak := range []string{"expire", "audience", "aud", "signature", "issuer", "alg"} {
			if strings.Contains(strings.ToLower(strings.ReplaceAll(msg, `"status"`, "")), leak) {
				t.Errorf("%s: the client is told %q: %v", tc.name, leak, err)
			}
		}
	}

	// The session ends when the token expires (KIP-368): the lifetime
	// SaslAuthenticate reports is the token's time left.
	short := is.Token(t, "ec", with(good, func(c *securitytest.Claims) { c.Expiry = now.Add(2 * time.Minute) }))
	lifetime, code := rawAuthenticate(t, c.Addr(), short)
	if code != 0 || lifetime <= 0 || lifetime > 2*time.Minute {
		t.Errorf("session lifetime %v (error %d), want (0, 2m]", lifetime, code)
	}
	_, code = rawAuthenticate(t, c.Addr(), is.Token(t, "ec", with(good, func(c *securitytest.Claims) { c.Audience = []string{"web"} })))
	if code != kerr.SaslAuthenticationFailed.Code {
		t.Errorf("wrong audience, raw: error %d, want SASL_AUTHENTICATION_FAILED", code)
	}

	// PLAIN still works beside it.
	pc, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.Ping(ctx); err != nil {
		t.Fatalf("PLAIN: %v", err)
	}
}

func with(c securitytest.Claims, f func(*securitytest.Claims)) securitytest.Claims {
	f(&c)
	return c
}

// rawAuthenticate runs SaslHandshake v1 and SaslAuthenticate v1 with a
// token (and the %x01 answer to an error challenge) and returns the
// session lifetime, or the error code.
func rawAuthenticate(t *testing.T, addr, token string) (time.Duration, int16) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(testTimeout))
	corr := int32(0)
	roundTrip := func(req kmsg.Request) kmsg.Response {
		corr++
		body := req.AppendTo(nil)
		b := binary.BigEndian.AppendUint32(nil, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
		b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
		b = binary.BigEndian.AppendUint32(b, uint32(corr))
		b = binary.BigEndian.AppendUint16(b, 4)
		b = append(b, "test"...)
		b = append(b, body...)
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		if _, err := nc.Write(b); err != nil {
			t.Fatal(err)
		}
		var size [4]byte
		if _, err := io.ReadFull(nc, size[:]); err != nil {
			t.Fatal(err)
		}
		resp := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(nc, resp); err != nil {
			t.Fatal(err)
		}
		r := req.ResponseKind()
		r.SetVersion(req.GetVersion())
		if err := r.ReadFrom(resp[4:]); err != nil {
			t.Fatal(err)
		}
		return r
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "OAUTHBEARER"
	if r := roundTrip(hs).(*kmsg.SASLHandshakeResponse); r.ErrorCode != 0 {
		return 0, r.ErrorCode
	}
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version = 1
	au.SASLAuthBytes = []byte("n,,\x01auth=Bearer " + token + "\x01\x01")
	r := roundTrip(au).(*kmsg.SASLAuthenticateResponse)
	if r.ErrorCode == 0 && len(r.SASLAuthBytes) > 0 {
		// The error challenge: answer %x01 (RFC 7628 3.2.3).
		au2 := kmsg.NewPtrSASLAuthenticateRequest()
		au2.Version, au2.SASLAuthBytes = 1, []byte{1}
		r = roundTrip(au2).(*kmsg.SASLAuthenticateResponse)
	}
	if r.ErrorCode != 0 {
		return 0, r.ErrorCode
	}
	return time.Duration(r.SessionLifetimeMillis) * time.Millisecond, 0
}

// TestOAuthBearerUnsecuredKcat: with Kafka's unsecured validator named,
// librdkafka's unsecured tokens (sasl.oauthbearer.config principal=…)
// produce and consume.
func TestOAuthBearerUnsecuredKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed")
	}
	c := startBroker(t,
		kafkatest.Config("listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class",
			"org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler"),
		kafkatest.Config("auto.create.topics.enable", "true"),
	)
	args := []string{"-b", c.Addr(), "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=OAUTHBEARER",
		"-X", "enable.sasl.oauthbearer.unsecure.jwt=true", "-X", "sasl.oauthbearer.config=principal=alice"}
	run := func(stdin string, extra ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, kcat, append(append([]string{}, args...), extra...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			err = errors.New(err.Error() + ": " + errb.String())
		}
		return out.String(), err
	}
	if _, err := run("one\ntwo\n", "-P", "-t", "unsecured"); err != nil {
		t.Fatal(err)
	}
	got, err := run("", "-C", "-t", "unsecured", "-o", "beginning", "-e", "-q")
	if err != nil || got != "one\ntwo\n" {
		t.Fatalf("consumed %q, %v", got, err)
	}
}
