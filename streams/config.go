package streams

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Guarantee is processing.guarantee.
type Guarantee string

const (
	// AtLeastOnce commits input offsets after flushing outputs and
	// state: after a crash records may be processed twice, never lost.
	AtLeastOnce Guarantee = "at_least_once"
	// ExactlyOnceV2 runs each commit interval's consume-transform-
	// produce cycle in one Kafka transaction with the offset commit
	// (KIP-447): outputs, state changes and offsets are all or nothing.
	// Input is read with isolation.level=read_committed.
	ExactlyOnceV2 Guarantee = "exactly_once_v2"
)

// Opt configures an App (and a TestDriver, which reads the options that
// apply to it: ApplicationID, StateDir, the handlers, the timestamp
// extractor, DeadLetterQueueTopic and Logger).
type Opt interface{ apply(*cfg) }

type optFunc func(*cfg)

func (f optFunc) apply(c *cfg) { f(c) }

type cfg struct {
	appID             string
	seeds             []string
	stateDir          string
	stateDirSet       bool
	guarantee         Guarantee
	commitInterval    time.Duration
	replicationFactor int16
	logger            *slog.Logger
	clock             func() time.Time
	deser             DeserializationHandler
	prod              ProductionHandler
	proc              ProcessingHandler
	extractor         TimestampExtractor
	dlq               string
	clientOpts        []kgo.Opt
	maxPollRecords    int
	purgeInterval     time.Duration
	txnTimeout        time.Duration
	onState           func(old, new State)
}

// ApplicationID sets application.id (required): the consumer group, the
// prefix of internal topics and the state directory's name.
func ApplicationID(id string) Opt { return optFunc(func(c *cfg) { c.appID = id }) }

// BootstrapServers sets bootstrap.servers (required): host:port seeds.
func BootstrapServers(seeds ...string) Opt {
	return optFunc(func(c *cfg) { c.seeds = append(c.seeds, seeds...) })
}

// StateDir sets state.dir, under which each application keeps its
// stores in <dir>/<application.id> (default: <os.TempDir()>/kafka-streams,
// as Kafka's). Two instances of one application on one machine need
// different state dirs.
func StateDir(dir string) Opt { return optFunc(func(c *cfg) { c.stateDir = dir }) }

// ProcessingGuarantee sets processing.guarantee (default AtLeastOnce).
func ProcessingGuarantee(g Guarantee) Opt { return optFunc(func(c *cfg) { c.guarantee = g }) }

// CommitInterval sets commit.interval.ms (default 30 s, or 100 ms under
// ExactlyOnceV2, as Kafka's).
func CommitInterval(d time.Duration) Opt { return optFunc(func(c *cfg) { c.commitInterval = d }) }

// ReplicationFactor sets replication.factor of the internal topics
// (default -1: the broker's default.replication.factor).
func ReplicationFactor(n int16) Opt { return optFunc(func(c *cfg) { c.replicationFactor = n }) }

// Logger sets the logger (default: slog.Default()).
func Logger(l *slog.Logger) Opt { return optFunc(func(c *cfg) { c.logger = l }) }

// Clock sets the wall clock that processors see (default time.Now).
func Clock(now func() time.Time) Opt { return optFunc(func(c *cfg) { c.clock = now }) }

// DeserializationExceptionHandler sets the deserialization handler
// (default LogAndFail).
func DeserializationExceptionHandler(h DeserializationHandler) Opt {
	return optFunc(func(c *cfg) { c.deser = h })
}

// ProductionExceptionHandler sets the production handler (default
// DefaultProduction, which fails).
func ProductionExceptionHandler(h ProductionHandler) Opt {
	return optFunc(func(c *cfg) { c.prod = h })
}

// ProcessingExceptionHandler sets the processing handler (default
// LogAndFailProcessing).
func ProcessingExceptionHandler(h ProcessingHandler) Opt {
	return optFunc(func(c *cfg) { c.proc = h })
}

// DefaultTimestampExtractor sets default.timestamp.extractor (default
// FailOnInvalidTimestamp).
func DefaultTimestampExtractor(x TimestampExtractor) Opt {
	return optFunc(func(c *cfg) { c.extractor = x })
}

// DeadLetterQueueTopic sets errors.dead.letter.queue.topic.name: every
// record that an error handler sees is also written there, as it was
// read (or as it failed to be sent), with the __streams.errors.* headers
// (KIP-1034). The application does not create the topic.
func DeadLetterQueueTopic(topic string) Opt { return optFunc(func(c *cfg) { c.dlq = topic }) }

// ClientOpts adds franz-go options to every client the App makes
// (after its own, so they win): TLS, SASL, a Dialer, timeouts.
func ClientOpts(opts ...kgo.Opt) Opt {
	return optFunc(func(c *cfg) { c.clientOpts = append(c.clientOpts, opts...) })
}

// MaxPollRecords sets max.poll.records (default 1000).
func MaxPollRecords(n int) Opt { return optFunc(func(c *cfg) { c.maxPollRecords = n }) }

// RepartitionPurgeInterval sets repartition.purge.interval.ms: how often
// records of repartition topics that are committed get deleted (default
// 30 s).
func RepartitionPurgeInterval(d time.Duration) Opt {
	return optFunc(func(c *cfg) { c.purgeInterval = d })
}

// TransactionTimeout sets the producer's transaction.timeout.ms under
// ExactlyOnceV2: how long the open transaction of a crashed instance can
// hold up read_committed readers of what it wrote, unless the instance
// restarts with the same state dir first (its transactional id comes
// from the process id kept there, so the restart fences and aborts it).
//
// The default is DefaultTransactionTimeout, 60 s, not Kafka Streams'
// 10 s: here a commit that coincides with a rebalance waits for the
// rebalance to end (franz-go forces a heartbeat before EndTxn), and a
// rebalance waits up to the group's session timeout (45 s by default)
// for a member that died without leaving. A transaction that outlives
// its timeout is aborted by the coordinator and the App stops with
// PRODUCER_FENCED, so keep this above the session timeout set with
// ClientOpts(kgo.SessionTimeout(...)); Start logs a warning otherwise.
func TransactionTimeout(d time.Duration) Opt { return optFunc(func(c *cfg) { c.txnTimeout = d }) }

// DefaultTransactionTimeout is the transaction timeout under
// ExactlyOnceV2 unless TransactionTimeout sets one: longer than
// franz-go's default session timeout (45 s), as TransactionTimeout
// explains.
const DefaultTransactionTimeout = 60 * time.Second

// OnStateChange registers a listener of the App's state (Kafka's
// KafkaStreams.setStateListener). It is called from the App's
// goroutines, without locks held; it must not block.
func OnStateChange(fn func(old, new State)) Opt { return optFunc(func(c *cfg) { c.onState = fn }) }

func newCfg(opts []Opt) cfg {
	c := cfg{
		guarantee:         AtLeastOnce,
		replicationFactor: -1,
		maxPollRecords:    1000,
		purgeInterval:     30 * time.Second,
		txnTimeout:        DefaultTransactionTimeout,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	c.stateDirSet = c.stateDir != ""
	if c.stateDir == "" {
		c.stateDir = filepath.Join(os.TempDir(), "kafka-streams")
	}
	if c.commitInterval == 0 {
		c.commitInterval = 30 * time.Second
		if c.guarantee == ExactlyOnceV2 {
			c.commitInterval = 100 * time.Millisecond
		}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.deser == nil {
		c.deser = LogAndFail
	}
	if c.prod == nil {
		c.prod = DefaultProduction
	}
	if c.proc == nil {
		c.proc = LogAndFailProcessing
	}
	if c.extractor == nil {
		c.extractor = FailOnInvalidTimestamp
	}
	return c
}

// validate checks what an App (not a TestDriver) needs.
func (c *cfg) validate() error {
	switch {
	case c.appID == "":
		return fmt.Errorf("%w: application.id is required", errConfig)
	case len(c.seeds) == 0:
		return fmt.Errorf("%w: bootstrap.servers is required", errConfig)
	case c.guarantee != AtLeastOnce && c.guarantee != ExactlyOnceV2:
		return fmt.Errorf("%w: processing.guarantee %q (want %s or %s)", errConfig, c.guarantee, AtLeastOnce, ExactlyOnceV2)
	case c.commitInterval < 0:
		return fmt.Errorf("%w: negative commit interval", errConfig)
	case c.maxPollRecords <= 0:
		return fmt.Errorf("%w: max.poll.records must be positive", errConfig)
	}
	return nil
}

// TimestampExtractor gives a fetched record its timestamp for processing
// (Kafka's TimestampExtractor); partitionTime is the largest timestamp
// extracted so far in the record's partition. A record given a negative
// timestamp is skipped with a warning; an error stops the application.
type TimestampExtractor func(rec *kgo.Record, partitionTime time.Time) (time.Time, error)

// FailOnInvalidTimestamp uses the record's timestamp and fails on a
// negative one (Kafka's default extractor).
func FailOnInvalidTimestamp(rec *kgo.Record, _ time.Time) (time.Time, error) {
	if rec.Timestamp.UnixMilli() < 0 {
		return rec.Timestamp, fmt.Errorf("%w: %d at %s-%d@%d", ErrInvalidTimestamp, rec.Timestamp.UnixMilli(), rec.Topic, rec.Partition, rec.Offset)
	}
	return rec.Timestamp, nil
}

// LogAndSkipOnInvalidTimestamp uses the record's timestamp; a record with a
// negative one is skipped.
func LogAndSkipOnInvalidTimestamp(rec *kgo.Record, _ time.Time) (time.Time, error) {
	return rec.Timestamp, nil
}

// UsePartitionTimeOnInvalidTimestamp uses the record's timestamp, or the
// partition time for a negative one.
func UsePartitionTimeOnInvalidTimestamp(rec *kgo.Record, partitionTime time.Time) (time.Time, error) {
	if rec.Timestamp.UnixMilli() < 0 {
		return partitionTime, nil
	}
	return rec.Timestamp, nil
}

// WallclockTimestampExtractor stamps each record with the current time.
func WallclockTimestampExtractor(*kgo.Record, time.Time) (time.Time, error) {
	return time.Now(), nil
}
