// Package delegationtokens tests delegation tokens (KIP-48, KIP-373) end
// to end: real brokers with a SASL_PLAINTEXT listener, franz-go clients
// that create, renew, expire and describe tokens, and clients that log
// in with a token (SCRAM with tokenauth=true) and act as its owner,
// under the owner's ACLs, on one node, across a restart and on every
// node of a three-node cluster.
package delegationtokens

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/node"
)

// secret is delegation.token.secret.key of the test brokers.
const secret = "test-secret-key"

// users is the PLAIN JAAS config of every test broker: admin (a super
// user), alice, bob and carol, each with password "<user>-secret".
var users = func() string {
	s := `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret"`
	for _, u := range []string{"admin", "alice", "bob", "carol"} {
		s += fmt.Sprintf(` user_%s="%s-secret"`, u, u)
	}
	return s + ";"
}()

func logger() *slog.Logger {
	if os.Getenv("KAFKATEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// broker is one in-process node (both roles) with a SASL_PLAINTEXT
// listener serving PLAIN and both SCRAM mechanisms.
type broker struct {
	t     *testing.T
	n     *node.Node
	addr  string
	props map[string]string
}

func startBroker(t *testing.T, extra map[string]string) *broker {
	t.Helper()
	props := map[string]string{
		"node.id":                              "1",
		"process.roles":                        "broker,controller",
		"log.dirs":                             t.TempDir(),
		"listeners":                            "SASL_PLAINTEXT://127.0.0.1:0",
		"inter.broker.listener.name":           "SASL_PLAINTEXT",
		"sasl.enabled.mechanisms":              "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol": "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": users,
		"offsets.topic.replication.factor":                    "1",
		"offsets.topic.num.partitions":                        "1",
		"transaction.state.log.replication.factor":            "1",
		"transaction.state.log.num.partitions":                "1",
		"transaction.state.log.min.isr":                       "1",
		"auto.create.topics.enable":                           "false",
		"authorizer.class.name":                               acl.StandardAuthorizer,
		"super.users":                                         "User:admin",
		"delegation.token.secret.key":                         secret,
	}
	maps.Copy(props, extra)
	for k, v := range props {
		if v == "" {
			delete(props, k)
		}
	}
	b := &broker{t: t, props: props}
	b.start()
	return b
}

func (b *broker) start() {
	b.t.Helper()
	cfg, err := config.NewBroker(b.props)
	if err != nil {
		b.t.Fatal(err)
	}
	n, err := node.New(cfg, node.Options{Logger: logger()})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		n.Close()
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { n.Close() })
	b.n, b.addr = n, n.Addrs()[0].String()
}

func (b *broker) restart() {
	b.t.Helper()
	if err := b.n.Close(); err != nil {
		b.t.Fatal(err)
	}
	b.start()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newClient is a kgo client for seeds logging in with mech.
func newClient(t *testing.T, seeds []string, mech sasl.Mechanism, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RetryTimeout(5 * time.Second), kgo.SASL(mech)}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// plainUser logs in as user with PLAIN.
func plainUser(user string) sasl.Mechanism {
	return plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism()
}

// tokenAuth logs in with a delegation token: SCRAM-SHA-512, tokenauth.
func tokenAuth(id string, hmac []byte) sasl.Mechanism {
	return scram.Auth{User: id, Pass: base64.StdEncoding.EncodeToString(hmac), IsToken: true}.AsSha512Mechanism()
}

// setScram gives user the SCRAM-SHA-512 password "<user>-scram", as
// admin.
func setScram(t *testing.T, admin *kgo.Client, user string) {
	t.Helper()
	rs, err := kadm.NewClient(admin).AlterUserSCRAMs(ctxT(t), nil, []kadm.UpsertSCRAM{
		{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: user + "-scram"}})
	if err == nil {
		err = rs.Error()
	}
	if err != nil {
		t.Fatalf("alter SCRAM credentials: %v", err)
	}
}

func scramUser(user string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: user + "-scram"}.AsSha512Mechanism()
}

// createToken asks for a token for owner ("" = the caller) that
// renewers may renew.
func createToken(t *testing.T, cl *kgo.Client, owner string, maxLifetimeMs int64, renewers ...string) *kmsg.CreateDelegationTokenResponse {
	t.Helper()
	req := kmsg.NewPtrCreateDelegationTokenRequest()
	if owner != "" {
		req.OwnerPrincipalType, req.OwnerPrincipalName = kmsg.StringPtr("User"), kmsg.StringPtr(owner)
	}
	for _, r := range renewers {
		rr := kmsg.NewCreateDelegationTokenRequestRenewer()
		rr.PrincipalType, rr.PrincipalName = "User", r
		req.Renewers = append(req.Renewers, rr)
	}
	req.MaxLifetimeMillis = maxLifetimeMs
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func renewToken(t *testing.T, cl *kgo.Client, hmac []byte, periodMs int64) *kmsg.RenewDelegationTokenResponse {
	t.Helper()
	req := kmsg.NewPtrRenewDelegationTokenRequest()
	req.HMAC, req.RenewTimeMillis = hmac, periodMs
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func expireToken(t *testing.T, cl *kgo.Client, hmac []byte, periodMs int64) *kmsg.ExpireDelegationTokenResponse {
	t.Helper()
	req := kmsg.NewPtrExpireDelegationTokenRequest()
	req.HMAC, req.ExpiryPeriodMillis = hmac, periodMs
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// describeTokens lists the token ids cl may see among those of owners
// (nil: all).
func describeTokens(t *testing.T, cl *kgo.Client, owners ...string) ([]string, int16) {
	t.Helper()
	req := kmsg.NewPtrDescribeDelegationTokenRequest()
	for _, o := range owners {
		ro := kmsg.NewDescribeDelegationTokenRequestOwner()
		ro.PrincipalType, ro.PrincipalName = "User", o
		req.Owners = append(req.Owners, ro)
	}
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range resp.TokenDetails {
		ids = append(ids, d.TokenID)
	}
	return ids, resp.ErrorCode
}

// createTopic creates a one-partition topic as admin.
func createTopic(t *testing.T, admin *kgo.Client, name string) {
	t.Helper()
	resp, err := kadm.NewClient(admin).CreateTopic(ctxT(t), 1, -1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// allowWrite lets principal WRITE topic.
func allowWrite(t *testing.T, admin *kgo.Client, topic, principal string) {
	t.Helper()
	b := kadm.NewACLs().Allow(principal).Topics(topic).Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)
	rs, err := kadm.NewClient(admin).CreateACLs(ctxT(t), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
}

// produce writes one record to topic and returns the error.
func produce(t *testing.T, cl *kgo.Client, topic string) error {
	t.Helper()
	return cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
}

func code(c int16) error { return kerr.ErrorForCode(c) }
