package controller

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/security"
)

// openTokens opens a single-node controller with delegation tokens
// (secret "key", max lifetime 10 s, expiry time 2 s) on a clock the
// test moves.
func openTokens(t *testing.T, j *memJournal, secret string) (*Controller, *atomic.Int64) {
	t.Helper()
	var now atomic.Int64
	now.Store(1_000_000)
	c, err := Open(Config{NodeID: 1, NumPartitions: 1, DefaultReplicationFactor: 1,
		Now: func() time.Time { return time.UnixMilli(now.Load()) },
		DelegationTokens: DelegationTokenConfig{
			SecretKey: secret, MaxLifetime: 10 * time.Second, ExpiryTime: 2 * time.Second, ExpiryCheckInterval: time.Hour,
		},
	}, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, &now
}

// Reference: KIP-48 and Kafka's DelegationTokenControlManager: expiry
// = min(now + expiry time, max), renewals capped by the max timestamp,
// renew and expire by the owner or a renewer only.
func TestDelegationTokenLifecycle(t *testing.T) {
	j := &memJournal{}
	c, now := openTokens(t, j, "key")
	created, err := c.CreateDelegationToken("User:alice", "User:admin", []string{"User:bob"}, 60_000)
	if err != nil {
		t.Fatal(err)
	}
	tok := created.Token
	if tok.IssueTimestamp != 1_000_000 || tok.MaxTimestamp != 1_010_000 || tok.ExpirationTimestamp != 1_002_000 {
		t.Errorf("timestamps %+v (max lifetime must cap the request's 60 s)", tok)
	}
	if !bytes.Equal(created.HMAC, security.DelegationTokenHMAC("key", tok.TokenID)) {
		t.Error("hmac is not HMAC-SHA512(key, token id)")
	}
	if got, ok := c.Image().DelegationToken(tok.TokenID); !ok || got.Owner != "User:alice" || got.Requester != "User:admin" {
		t.Errorf("image %+v %v", got, ok)
	}

	// A renewer renews; a stranger may not; an unknown hmac is not found.
	now.Store(1_001_000)
	if exp, err := c.RenewDelegationToken(created.HMAC, "User:bob", 5_000); err != nil || exp != 1_006_000 {
		t.Errorf("renew by renewer: %d %v", exp, err)
	}
	if _, err := c.RenewDelegationToken(created.HMAC, "User:eve", 5_000); code(err) != kerr.DelegationTokenOwnerMismatch.Code {
		t.Errorf("renew by stranger: %v", err)
	}
	if _, err := c.RenewDelegationToken([]byte("nope"), "User:alice", 5_000); code(err) != kerr.DelegationTokenNotFound.Code {
		t.Errorf("renew unknown: %v", err)
	}
	// The max timestamp caps a renewal; -1 means the expiry time.
	if exp, err := c.RenewDelegationToken(created.HMAC, "User:alice", 60_000); err != nil || exp != 1_010_000 {
		t.Errorf("renew past max: %d %v", exp, err)
	}
	if exp, err := c.RenewDelegationToken(created.HMAC, "User:alice", -1); err != nil || exp != 1_003_000 {
		t.Errorf("renew default period: %d %v", exp, err)
	}
	// Expire with a positive period moves the expiry.
	if exp, err := c.ExpireDelegationToken(created.HMAC, "User:alice", 500); err != nil || exp != 1_001_500 {
		t.Errorf("expire later: %d %v", exp, err)
	}
	if _, err := c.ExpireDelegationToken(created.HMAC, "User:eve", -1); code(err) != kerr.DelegationTokenOwnerMismatch.Code {
		t.Errorf("expire by stranger: %v", err)
	}
	// Once expired it can be neither renewed nor expired, and the sweep
	// removes it.
	now.Store(1_002_000)
	if _, err := c.RenewDelegationToken(created.HMAC, "User:alice", 1000); code(err) != kerr.DelegationTokenExpired.Code {
		t.Errorf("renew expired: %v", err)
	}
	if _, err := c.ExpireDelegationToken(created.HMAC, "User:alice", -1); code(err) != kerr.DelegationTokenExpired.Code {
		t.Errorf("expire expired: %v", err)
	}
	if n, err := c.SweepDelegationTokens(); n != 1 || err != nil {
		t.Errorf("sweep: %d %v", n, err)
	}
	if _, ok := c.Image().DelegationToken(tok.TokenID); ok {
		t.Error("token still there after the sweep")
	}

	// A negative expiry period removes a token at once.
	other, err := c.CreateDelegationToken("User:alice", "User:alice", nil, 0)
	if err != nil || other.Token.MaxTimestamp != 1_012_000 {
		t.Fatalf("create with the default max lifetime: %+v %v", other.Token, err)
	}
	if exp, err := c.ExpireDelegationToken(other.HMAC, "User:alice", -1); err != nil || exp != 1_002_000 {
		t.Errorf("expire now: %d %v", exp, err)
	}
	if len(c.Image().DelegationTokens()) != 0 {
		t.Error("token not removed")
	}
	// The records survive a restart from the journal.
	third, _ := c.CreateDelegationToken("User:carol", "User:carol", nil, 0)
	c2, _ := openTokens(t, j, "key")
	if got, ok := c2.Image().DelegationToken(third.Token.TokenID); !ok || got.Owner != "User:carol" {
		t.Errorf("after replay %+v %v", got, ok)
	}
	last := j.batches[len(j.batches)-1]
	if len(last) != 1 || last[0].Type != metadata.TypeDelegationToken {
		t.Errorf("create wrote %+v", last)
	}
}

func TestDelegationTokensDisabled(t *testing.T) {
	c, _ := openTokens(t, &memJournal{}, "")
	if _, err := c.CreateDelegationToken("User:alice", "User:alice", nil, 0); code(err) != kerr.DelegationTokenAuthDisabled.Code {
		t.Errorf("create: %v", err)
	}
	if _, err := c.RenewDelegationToken([]byte("x"), "User:alice", 0); code(err) != kerr.DelegationTokenAuthDisabled.Code {
		t.Errorf("renew: %v", err)
	}
	if _, err := c.ExpireDelegationToken([]byte("x"), "User:alice", 0); code(err) != kerr.DelegationTokenAuthDisabled.Code {
		t.Errorf("expire: %v", err)
	}
}
