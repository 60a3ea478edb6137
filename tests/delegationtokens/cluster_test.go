package delegationtokens

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/acl"
	"github.com/gregor-streaming/gregor/kafkatest"
)

// In a three-node cluster (SASL_PLAINTEXT everywhere, PLAIN as the
// super user between nodes) a token created through one broker (relayed
// to the active controller in an Envelope) authenticates on every
// broker, is renewed through another and described by each, survives
// a node's restart, and expiring it through a third ends logins everywhere.
func TestClusterTokens(t *testing.T) {
	c := kafkatest.StartCluster(t, 3,
		kafkatest.Logger(logger()),
		kafkatest.Config("listener.security.protocol.map", "PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"),
		kafkatest.Config("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
		kafkatest.Config("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		kafkatest.Config("sasl.mechanism.controller.protocol", "PLAIN"),
		kafkatest.Config("listener.name.plaintext.plain.sasl.jaas.config", users),
		kafkatest.Config("listener.name.controller.plain.sasl.jaas.config", users),
		kafkatest.Config("authorizer.class.name", acl.StandardAuthorizer),
		kafkatest.Config("super.users", "User:admin"),
		kafkatest.Config("auto.create.topics.enable", "false"),
		kafkatest.Config("delegation.token.secret.key", secret),
	)
	ids := c.BrokerIDs()
	var seeds []string
	for _, id := range ids {
		seeds = append(seeds, c.BrokerAddr(id))
	}
	admin := newClient(t, seeds, plainUser("admin"))
	createTopic(t, admin, "alice-topic")
	allowWrite(t, admin, "alice-topic", "User:alice")

	alice := newClient(t, []string{c.BrokerAddr(ids[0])}, plainUser("alice"))
	tok := createToken(t, alice, "", 0, "bob")
	if tok.ErrorCode != 0 || tok.PrincipalName != "alice" || tok.TokenRequesterPrincipalName != "alice" {
		t.Fatalf("create through node %d: %v %+v", ids[0], code(tok.ErrorCode), tok)
	}

	// Every broker learns the token from the metadata log: a client that
	// logs in with it on that broker alone produces as alice.
	for _, id := range ids {
		eventually(t, func() error {
			got, ec := describeTokens(t, newClient(t, []string{c.BrokerAddr(id)}, plainUser("alice")))
			if ec != 0 || !slices.Equal(got, []string{tok.TokenID}) {
				return errors.New("token not described yet")
			}
			return nil
		})
		tc := newClient(t, []string{c.BrokerAddr(id)}, tokenAuth(tok.TokenID, tok.HMAC))
		if err := tc.Ping(ctxT(t)); err != nil {
			t.Fatalf("token login on node %d: %v", id, err)
		}
		if err := produce(t, tc, "alice-topic"); err != nil {
			t.Errorf("produce with the token through node %d: %v", id, err)
		}
	}

	bob := newClient(t, []string{c.BrokerAddr(ids[1])}, plainUser("bob"))
	if r := renewToken(t, bob, tok.HMAC, 3600_000); r.ErrorCode != 0 {
		t.Errorf("renew through node %d: %v", ids[1], code(r.ErrorCode))
	}
	carol := newClient(t, []string{c.BrokerAddr(ids[1])}, plainUser("carol"))
	if r := renewToken(t, carol, tok.HMAC, 3600_000); r.ErrorCode != kerr.DelegationTokenOwnerMismatch.Code {
		t.Errorf("renew by carol: %v", code(r.ErrorCode))
	}
	// A restarted node still has the token (its metadata log).
	if err := c.RestartNode(ids[2]); err != nil {
		t.Fatal(err)
	}
	if err := newClient(t, []string{c.BrokerAddr(ids[2])}, tokenAuth(tok.TokenID, tok.HMAC)).Ping(ctxT(t)); err != nil {
		t.Fatalf("token login on node %d after its restart: %v", ids[2], err)
	}
	alice3 := newClient(t, []string{c.BrokerAddr(ids[2])}, plainUser("alice"))
	if r := expireToken(t, alice3, tok.HMAC, -1); r.ErrorCode != 0 {
		t.Fatalf("expire through node %d: %v", ids[2], code(r.ErrorCode))
	}
	for _, id := range ids {
		eventually(t, func() error {
			err := newClient(t, []string{c.BrokerAddr(id)}, tokenAuth(tok.TokenID, tok.HMAC)).Ping(ctxT(t))
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				return errors.New("token still logs in")
			}
			return nil
		})
	}
}

// eventually polls cond until it returns nil, for up to 30 s.
func eventually(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
