package controller

import (
	"crypto/subtle"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/security"
	"github.com/gregor-streaming/gregor/internal/uuid"
)

// Delegation tokens (KIP-48, KIP-373), decided as Kafka's
// DelegationTokenControlManager does. Tokens are metadata: every node
// learns them from the log, and derives a token's HMAC from its id and
// delegation.token.secret.key, which must be the same on every node.
//
//	create  {owner, requester, renewers,     DelegationTokenRecord, new random id;
//	         max lifetime}                   expiry = min(now+expiry.time, max)
//	renew   {hmac, principal, period}        DelegationTokenRecord with
//	                                         expiry = min(now+period, max)
//	expire  {hmac, principal, period}        period < 0: RemoveDelegationTokenRecord;
//	                                         else as renew
//	sweep   every expiry.check.interval      RemoveDelegationTokenRecord of each
//	                                         token past its expiry or max
//
// A period below 0 in a renew means delegation.token.expiry.time.ms.
// Only the owner or a renewer may renew or expire a token
// (DELEGATION_TOKEN_OWNER_MISMATCH); an expired token can be neither
// (DELEGATION_TOKEN_EXPIRED). Which clients may ask at all (SASL, not
// token-authenticated) and CREATE_TOKENS for another owner are checked
// where the request arrives (internal/server).

// DelegationTokenConfig configures delegation tokens. The zero value
// disables them.
type DelegationTokenConfig struct {
	// SecretKey is delegation.token.secret.key (or the deprecated
	// delegation.token.master.key); "" disables delegation tokens.
	SecretKey string
	// MaxLifetime is delegation.token.max.lifetime.ms: no renewal takes
	// a token past its issue time plus this. Default 7 days.
	MaxLifetime time.Duration
	// ExpiryTime is delegation.token.expiry.time.ms: how long a new or
	// renewed token lives when the request says no period. Default 1
	// day.
	ExpiryTime time.Duration
	// ExpiryCheckInterval is delegation.token.expiry.check.interval.ms:
	// how often the active controller removes expired tokens. Default 1
	// hour.
	ExpiryCheckInterval time.Duration
}

// Enabled reports whether delegation tokens are served.
func (d DelegationTokenConfig) Enabled() bool { return d.SecretKey != "" }

func (d DelegationTokenConfig) withDefaults() DelegationTokenConfig {
	if d.MaxLifetime <= 0 {
		d.MaxLifetime = 7 * 24 * time.Hour
	}
	if d.ExpiryTime <= 0 {
		d.ExpiryTime = 24 * time.Hour
	}
	if d.ExpiryCheckInterval <= 0 {
		d.ExpiryCheckInterval = time.Hour
	}
	return d
}

// CreatedDelegationToken is a new token and its HMAC.
type CreatedDelegationToken struct {
	Token metadata.DelegationToken
	HMAC  []byte
}

// CreateDelegationToken issues a token owned by owner, asked for by
// requester, which renewers may renew too (principals written
// "User:alice"). maxLifetimeMs <= 0 means delegation.token.max.lifetime.ms,
// and a larger one is capped by it. Errors are *apierror.Error.
func (c *Controller) CreateDelegationToken(owner, requester string, renewers []string, maxLifetimeMs int64) (CreatedDelegationToken, error) {
	cfg := c.cfg.DelegationTokens.withDefaults()
	if !cfg.Enabled() {
		return CreatedDelegationToken{}, errTokensDisabled
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.readyLocked(); err != nil {
		return CreatedDelegationToken{}, asAPIError(err)
	}
	now := c.cfg.Now().UnixMilli()
	maxLifetime := cfg.MaxLifetime.Milliseconds()
	if maxLifetimeMs > 0 {
		maxLifetime = min(maxLifetimeMs, maxLifetime)
	}
	t := metadata.DelegationToken{
		TokenID:        uuid.Format(uuid.New()),
		Owner:          owner,
		Requester:      requester,
		Renewers:       slices.Clone(renewers),
		IssueTimestamp: now,
		MaxTimestamp:   now + maxLifetime,
	}
	t.ExpirationTimestamp = min(t.MaxTimestamp, now+cfg.ExpiryTime.Milliseconds())
	if err := c.commitLocked([]metadata.Record{t.Record()}); err != nil {
		return CreatedDelegationToken{}, asAPIError(err)
	}
	c.cfg.Logger.Info("created delegation token", "token_id", t.TokenID, "owner", owner, "requester", requester)
	return CreatedDelegationToken{Token: t, HMAC: security.DelegationTokenHMAC(cfg.SecretKey, t.TokenID)}, nil
}

// RenewDelegationToken extends the token whose HMAC is hmac by
// periodMs (< 0: delegation.token.expiry.time.ms), up to its max
// timestamp, for principal, its owner or a renewer. It returns the new
// expiry timestamp. Errors are *apierror.Error.
func (c *Controller) RenewDelegationToken(hmac []byte, principal string, periodMs int64) (int64, error) {
	cfg := c.cfg.DelegationTokens.withDefaults()
	if !cfg.Enabled() {
		return 0, errTokensDisabled
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.readyLocked(); err != nil {
		return 0, asAPIError(err)
	}
	now := c.cfg.Now().UnixMilli()
	t, err := c.tokenForLocked(cfg, hmac)
	if err != nil {
		return 0, err
	}
	if tokenExpired(t, now) {
		return 0, errTokenExpired
	}
	if !ownerOrRenewer(t, principal) {
		return 0, errTokenOwnerMismatch
	}
	if periodMs < 0 {
		periodMs = cfg.ExpiryTime.Milliseconds()
	}
	t.ExpirationTimestamp = min(t.MaxTimestamp, now+periodMs)
	if err := c.commitLocked([]metadata.Record{t.Record()}); err != nil {
		return 0, asAPIError(err)
	}
	return t.ExpirationTimestamp, nil
}

// ExpireDelegationToken sets the expiry of the token whose HMAC is hmac
// to periodMs from now (capped by its max timestamp), for principal,
// its owner or a renewer; a negative period removes the token at once.
// It returns the new expiry timestamp. Errors are *apierror.Error.
func (c *Controller) ExpireDelegationToken(hmac []byte, principal string, periodMs int64) (int64, error) {
	cfg := c.cfg.DelegationTokens.withDefaults()
	if !cfg.Enabled() {
		return 0, errTokensDisabled
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.readyLocked(); err != nil {
		return 0, asAPIError(err)
	}
	now := c.cfg.Now().UnixMilli()
	t, err := c.tokenForLocked(cfg, hmac)
	if err != nil {
		return 0, err
	}
	if !ownerOrRenewer(t, principal) {
		return 0, errTokenOwnerMismatch
	}
	if tokenExpired(t, now) {
		return 0, errTokenExpired
	}
	var rec metadata.Record
	if periodMs < 0 {
		rec = metadata.Record{Type: metadata.TypeRemoveDelegationToken, DelegationToken: &metadata.DelegationTokenRecord{TokenID: t.TokenID}}
		t.ExpirationTimestamp = now
	} else {
		t.ExpirationTimestamp = min(t.MaxTimestamp, now+periodMs)
		rec = t.Record()
	}
	if err := c.commitLocked([]metadata.Record{rec}); err != nil {
		return 0, asAPIError(err)
	}
	if periodMs < 0 {
		c.cfg.Logger.Info("expired delegation token", "token_id", t.TokenID, "principal", principal)
	}
	return t.ExpirationTimestamp, nil
}

// Delegation token errors, as Kafka's control manager answers them.
var (
	errTokensDisabled     = apierror.New(kerr.DelegationTokenAuthDisabled, "Delegation Token feature is not enabled.")
	errTokenNotFound      = apierror.New(kerr.DelegationTokenNotFound, "Delegation Token is not found on server.")
	errTokenExpired       = apierror.New(kerr.DelegationTokenExpired, "Delegation Token is expired.")
	errTokenOwnerMismatch = apierror.New(kerr.DelegationTokenOwnerMismatch, "Specified Principal is not valid Owner/Renewer.")
)

// tokenForLocked finds the token of an HMAC (Kafka keeps no index of
// HMACs either: each node derives them).
func (c *Controller) tokenForLocked(cfg DelegationTokenConfig, hmac []byte) (metadata.DelegationToken, error) {
	for _, t := range c.image.Load().DelegationTokens() {
		if subtle.ConstantTimeCompare(security.DelegationTokenHMAC(cfg.SecretKey, t.TokenID), hmac) == 1 {
			return t, nil
		}
	}
	return metadata.DelegationToken{}, errTokenNotFound
}

// tokenExpired reports whether t is past its expiry or max timestamp at
// now (Unix ms).
func tokenExpired(t metadata.DelegationToken, now int64) bool {
	return t.ExpirationTimestamp < now || t.MaxTimestamp < now
}

// ownerOrRenewer is Kafka's TokenInformation.ownerOrRenewer.
func ownerOrRenewer(t metadata.DelegationToken, principal string) bool {
	return t.Owner == principal || slices.Contains(t.Renewers, principal)
}

// SweepDelegationTokens removes the tokens expired at now, if this node
// is the active controller, and returns how many it removed (Kafka's
// sweepExpiredDelegationTokens). The sweeper calls it every
// ExpiryCheckInterval.
func (c *Controller) SweepDelegationTokens() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.readyLocked(); err != nil {
		return 0, err
	}
	now := c.cfg.Now().UnixMilli()
	var recs []metadata.Record
	for _, t := range c.image.Load().DelegationTokens() {
		if tokenExpired(t, now) {
			recs = append(recs, metadata.Record{Type: metadata.TypeRemoveDelegationToken, DelegationToken: &metadata.DelegationTokenRecord{TokenID: t.TokenID}})
		}
	}
	if err := c.commitLocked(recs); err != nil {
		return 0, err
	}
	if len(recs) > 0 {
		c.cfg.Logger.Info("removed expired delegation tokens", "count", len(recs))
	}
	return len(recs), nil
}

// tokenSweeper runs SweepDelegationTokens every ExpiryCheckInterval on
// its own goroutine, from startTokenSweeper until stop.
type tokenSweeper struct {
	stopc chan struct{}
	donec chan struct{}
	once  sync.Once
}

// startTokenSweeper starts the sweeper when delegation tokens are
// enabled; Close stops it.
func (c *Controller) startTokenSweeper() {
	cfg := c.cfg.DelegationTokens.withDefaults()
	if !cfg.Enabled() {
		return
	}
	s := &tokenSweeper{stopc: make(chan struct{}), donec: make(chan struct{})}
	c.sweeper = s
	go func() {
		defer close(s.donec)
		t := time.NewTicker(cfg.ExpiryCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
			if _, err := c.SweepDelegationTokens(); err != nil && c.quorum == nil {
				c.cfg.Logger.Warn("delegation token sweep failed", "err", err)
			}
		}
	}()
}

// stop stops the sweeper and waits for it; safe on a nil sweeper and
// more than once.
func (s *tokenSweeper) stop() {
	if s == nil {
		return
	}
	s.once.Do(func() { close(s.stopc) })
	<-s.donec
}

// DelegationTokens returns the delegation token configuration, with
// its defaults filled in: brokers derive HMACs with its SecretKey.
func (c *Controller) DelegationTokens() DelegationTokenConfig {
	return c.cfg.DelegationTokens.withDefaults()
}
