package txn

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// TopicName is the internal topic holding transaction state.
const TopicName = "__transaction_state"

// offsetsTopic is the topic of a group's offsets (AddOffsetsToTxn).
const offsetsTopic = "__consumer_offsets"

// Errors.
var (
	// ErrNoProducerIDs: Config.ProducerIDs is nil.
	ErrNoProducerIDs = errors.New("txn: no producer id source")
	// ErrNoMarkerWriter: Config.WriteMarkers is nil.
	ErrNoMarkerWriter = errors.New("txn: no marker writer")

	errUnknownKey   = errors.New("txn: unknown transaction log key version")
	errUnknownValue = errors.New("txn: unknown transaction log value version")
)

// ProducerIDSource hands out producer ids (Kafka's ProducerIdManager;
// brokers get blocks of them from the controller).
type ProducerIDSource interface {
	// GenerateProducerID returns an id no producer had. It runs on a
	// shard's goroutine and must not block: when no id is at hand it
	// returns an error with Kafka's code (package apierror), such as
	// COORDINATOR_LOAD_IN_PROGRESS, which the client retries.
	GenerateProducerID() (int64, error)
}

// Config is the transaction coordinator's configuration (Kafka's
// TransactionConfig) and its dependencies. Units are in the field names.
type Config struct {
	// NumPartitions is transaction.state.log.num.partitions, used to map
	// an id to its partition until __transaction_state exists.
	NumPartitions int32
	// TransactionMaxTimeoutMs is transaction.max.timeout.ms.
	TransactionMaxTimeoutMs int32
	// TransactionalIDExpirationMs is transactional.id.expiration.ms.
	TransactionalIDExpirationMs int64
	// AbortTimedOutTransactionsIntervalMs is
	// transaction.abort.timed.out.transaction.cleanup.interval.ms.
	AbortTimedOutTransactionsIntervalMs int64
	// RemoveExpiredTransactionalIDsIntervalMs is
	// transaction.remove.expired.transaction.cleanup.interval.ms.
	RemoveExpiredTransactionalIDsIntervalMs int64
	// TransactionVersion returns the cluster's finalized
	// transaction.version feature level: the value version written, and
	// the transaction version of aborts the coordinator starts itself
	// (timeouts, fencing). Nil means TV2, Kafka 4's default. Called from
	// every shard's goroutine: it must be safe for concurrent use (as
	// must GroupPartition, ProducerIDs and WriteMarkers).
	TransactionVersion func() int16
	// GroupPartition returns the __consumer_offsets partition of a group
	// (group.Coordinator.PartitionFor). Nil maps with 50 partitions.
	GroupPartition func(group string) int32
	// ProducerIDs allocates producer ids. Required.
	ProducerIDs ProducerIDSource
	// WriteMarkers takes the markers of decided transactions. It runs on
	// a shard's goroutine, after the decision is written, and must not
	// block. Required.
	WriteMarkers func(MarkerRequest)
	Logger       *slog.Logger
}

// Validate reports a missing dependency.
func (c *Config) Validate() error {
	if c.ProducerIDs == nil {
		return ErrNoProducerIDs
	}
	if c.WriteMarkers == nil {
		return ErrNoMarkerWriter
	}
	return nil
}

// withDefaults fills unset fields with Kafka's defaults.
func (c Config) withDefaults() Config {
	if c.NumPartitions <= 0 {
		c.NumPartitions = 50
	}
	if c.TransactionMaxTimeoutMs <= 0 {
		c.TransactionMaxTimeoutMs = 900000
	}
	if c.TransactionalIDExpirationMs <= 0 {
		c.TransactionalIDExpirationMs = 7 * 24 * 3600 * 1000
	}
	if c.AbortTimedOutTransactionsIntervalMs <= 0 {
		c.AbortTimedOutTransactionsIntervalMs = 10000
	}
	if c.RemoveExpiredTransactionalIDsIntervalMs <= 0 {
		c.RemoveExpiredTransactionalIDsIntervalMs = 3600000
	}
	if c.TransactionVersion == nil {
		c.TransactionVersion = func() int16 { return TV2 }
	}
	if c.GroupPartition == nil {
		c.GroupPartition = func(group string) int32 { return PartitionFor(group, 50) }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Shard is the transaction coordinator state of one __transaction_state
// partition: the metadata of its transactional ids. It is a
// coordinator.StateMachine; every method runs on the shard's goroutine
// (or a test's), with the current time as an argument, and does no I/O:
// what it decides comes out as records and replies in a
// coordinator.Result, and as MarkerRequests to Config.WriteMarkers,
// which the Result's replies hand over once the decision is written.
type Shard struct {
	cfg       *Config
	partition int32
	// coordinatorEpoch is the leader epoch of the partition this shard
	// serves at; it goes into markers, and stale completions from an
	// earlier epoch are ignored.
	coordinatorEpoch int32
	timers           *coordinator.Timers[*Shard]
	log              *slog.Logger

	txns map[string]*txnMetadata
	// observe, if set, sees every transition checked (tests).
	observe func(from, to State)
}

// NewShard returns the empty state of partition, served at leader epoch
// coordinatorEpoch, scheduling its timers on timers. cfg must have its
// dependencies (Validate); the shard keeps a copy with defaults filled.
func NewShard(cfg *Config, partition, coordinatorEpoch int32, timers *coordinator.Timers[*Shard]) *Shard {
	c := cfg.withDefaults()
	return &Shard{
		cfg:              &c,
		partition:        partition,
		coordinatorEpoch: coordinatorEpoch,
		timers:           timers,
		log:              c.Logger.With("partition", partition, "coordinator_epoch", coordinatorEpoch),
		txns:             map[string]*txnMetadata{},
	}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func after(now time.Time, millis int64) time.Time {
	return now.Add(time.Duration(millis) * time.Millisecond)
}

// Timer keys.
const (
	abortKey  = "abort-timed-out-transactions"
	expireKey = "expire-transactional-ids"
)

func completeKey(id string) string { return "complete-" + id }

// completeRetryBackoff is how long a completion whose write found the
// partition unavailable waits before it is written again (Kafka retries
// it on the marker sender's next round).
const completeRetryBackoff = 100 * time.Millisecond

// Replay applies one record of __transaction_state: the latest record of
// an id is its state, a tombstone forgets it. A record that cannot be
// decoded (a client produced to the topic, or a newer version) is logged
// and skipped, so one bad record does not take the partition offline.
func (s *Shard) Replay(rec coordinator.LoggedRecord) error {
	r, err := decodeRecord(rec.Key, rec.Value)
	if err != nil {
		s.log.Warn("skipping a record of "+TopicName+" that cannot be decoded", "offset", rec.Offset, "err", err)
		return nil
	}
	if r.meta == nil || r.meta.state == Dead {
		delete(s.txns, r.id)
		return nil
	}
	if r.meta.state == PrepareEpochFence {
		// Never written by Kafka: the fence is only ever pending.
		s.log.Warn("skipping a "+TopicName+" record in state PrepareEpochFence", "offset", rec.Offset, "transactional_id", r.id)
		return nil
	}
	s.txns[r.id] = r.meta
	return nil
}

// Loaded starts the periodic checks and completes transactions the log
// left decided but not complete: their markers are asked for again
// (Kafka's loadTransactionsForTxnTopicPartition).
func (s *Shard) Loaded(now time.Time, res *coordinator.Result) {
	for _, m := range s.sortedTxns() {
		if !m.markersPending() {
			continue
		}
		c := m.prepareComplete(ms(now))
		if err := s.check(m, c); err != nil {
			s.log.Error("cannot complete a loaded transaction", "transactional_id", m.id, "err", err)
			continue
		}
		m.pendingComplete = c
		s.sendMarkers(m, res)
	}
	s.scheduleAbortCheck(now)
	s.scheduleExpiration(now)
	s.log.Info("loaded transactions", "transactional_ids", len(s.txns))
}

// Unloaded stops serving. Nothing waits on a shard between operations,
// so there is nothing to answer; markers in flight are completed (or
// asked for again) by the partition's next coordinator.
func (s *Shard) Unloaded(*coordinator.Result) {}

func (s *Shard) scheduleAbortCheck(now time.Time) {
	s.timers.Schedule(abortKey, after(now, s.cfg.AbortTimedOutTransactionsIntervalMs), func(s *Shard, now time.Time, res *coordinator.Result) {
		s.abortTimedOut(now, res)
		s.scheduleAbortCheck(now)
	})
}

func (s *Shard) scheduleExpiration(now time.Time) {
	s.timers.Schedule(expireKey, after(now, s.cfg.RemoveExpiredTransactionalIDsIntervalMs), func(s *Shard, now time.Time, res *coordinator.Result) {
		s.expireTransactionalIDs(now, res)
		s.scheduleExpiration(now)
	})
}

// validTimeout is Kafka's validateTransactionTimeoutMs.
func (s *Shard) validTimeout(ms int32) bool {
	return ms > 0 && ms <= s.cfg.TransactionMaxTimeoutMs
}

// serverTV is the cluster's transaction version level.
func (s *Shard) serverTV() int16 { return s.cfg.TransactionVersion() }

// record is the record of transition t of m.
func (s *Shard) record(m *txnMetadata, t *transit) coordinator.Record {
	return txnRecord(m.id, t, s.serverTV())
}

// onAppend adds f to what runs after res is appended.
func onAppend(res *coordinator.Result, f func(now time.Time, err error, next *coordinator.Result)) {
	prev := res.AfterAppend
	if prev == nil {
		res.AfterAppend = f
		return
	}
	res.AfterAppend = func(now time.Time, err error, next *coordinator.Result) {
		prev(now, err, next)
		f(now, err, next)
	}
}

// fencedCode is the code a fenced producer is told: clients before
// KIP-588 (request versions below minVersion) know only
// INVALID_PRODUCER_EPOCH.
func fencedCode(code, version, minVersion int16) int16 {
	if code == kerr.ProducerFenced.Code && version < minVersion {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}

// sortedTxns lists the ids' metadata in id order, for deterministic
// output.
func (s *Shard) sortedTxns() []*txnMetadata {
	out := make([]*txnMetadata, 0, len(s.txns))
	for _, m := range s.txns {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *txnMetadata) int { return strings.Compare(a.id, b.id) })
	return out
}
