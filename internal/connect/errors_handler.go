package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// Error handling for connectors (KIP-298): failures in the stages that
// convert and transform records are retried while retriable (for
// errors.retry.timeout, backing off up to errors.retry.delay.max.ms),
// then reported — to the log if errors.log.enable, to the dead letter
// queue of a sink if errors.deadletterqueue.topic.name — and either
// tolerated (errors.tolerance=all: the record is skipped) or fail the
// task (none). A sink task's Put and a source task's Poll are not run
// through the handler, as in Kafka: their errors fail the task (Put's
// retriable errors are retried by the sink task).

// Additional connector properties of error handling (Kafka's
// SinkConnectorConfig).
const (
	dlqReplicationFactorConfig = "errors.deadletterqueue.topic.replication.factor"
	dlqContextHeadersConfig    = "errors.deadletterqueue.context.headers.enable"
)

// errorStage names where a record failed (Kafka's Stage enum).
type errorStage string

const (
	stageKeyConverter    errorStage = "KEY_CONVERTER"
	stageValueConverter  errorStage = "VALUE_CONVERTER"
	stageHeaderConverter errorStage = "HEADER_CONVERTER"
	stageTransformation  errorStage = "TRANSFORMATION"
	stageKafkaProduce    errorStage = "KAFKA_PRODUCE"
)

// retriesDelayMin is the first backoff between retries (Kafka's
// RetryWithToleranceOperator.RETRIES_DELAY_MIN_MS).
const retriesDelayMin = 300 * time.Millisecond

// errorConfig is a connector's error handling configuration.
type errorConfig struct {
	tolerateAll        bool
	retryTimeout       time.Duration // <0: retry forever
	maxDelay           time.Duration
	logEnable          bool
	logIncludeMessages bool
	dlqTopic           string
	dlqReplication     int16
	dlqContextHeaders  bool
}

// parseErrorConfig reads the errors.* properties of a connector
// configuration, which validation has checked.
func parseErrorConfig(props map[string]string) (errorConfig, error) {
	c := errorConfig{retryTimeout: 0, maxDelay: 60 * time.Second, dlqReplication: 3}
	num := func(name string, def int64) (int64, error) {
		s := trimmed(props[name])
		if s == "" {
			return def, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, sdk.ConfigError(name, s, "Not a number of type LONG")
		}
		return n, nil
	}
	boolean := func(name string) bool { return strings.EqualFold(trimmed(props[name]), "true") }
	switch strings.ToLower(trimmed(props[errorsToleranceConfig])) {
	case "", "none":
	case "all":
		c.tolerateAll = true
	default:
		return c, sdk.ConfigError(errorsToleranceConfig, props[errorsToleranceConfig], "String must be one of: none, all")
	}
	ms, err := num(errorsRetryTimeout, 0)
	if err != nil {
		return c, err
	}
	c.retryTimeout = time.Duration(ms) * time.Millisecond
	if ms < 0 {
		c.retryTimeout = -1
	}
	if ms, err = num(errorsRetryMaxDelay, 60000); err != nil {
		return c, err
	}
	c.maxDelay = time.Duration(ms) * time.Millisecond
	c.logEnable = boolean(errorsLogEnable)
	c.logIncludeMessages = boolean(errorsLogIncludeMsgs)
	c.dlqTopic = trimmed(props[dlqTopicConfig])
	rf, err := num(dlqReplicationFactorConfig, 3)
	if err != nil {
		return c, err
	}
	c.dlqReplication = int16(rf)
	c.dlqContextHeaders = boolean(dlqContextHeadersConfig)
	return c, nil
}

// processingContext describes the record being processed and, once a
// stage failed, where and why (Kafka's ProcessingContext).
type processingContext struct {
	consumed *kgo.Record       // the record a sink task read, or nil
	source   *sdk.SourceRecord // the record a source task polled, or nil
	stage    errorStage        // the stage that failed
	class    string            // the class running that stage
	err      error             // the failure
}

// String describes the failure as Kafka's ProcessingContext.toString;
// includeMessage adds where the record came from.
func (pc *processingContext) String(includeMessage bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Executing stage '%s' with class '%s'", pc.stage, pc.class)
	switch {
	case includeMessage && pc.source != nil:
		fmt.Fprintf(&b, ", where source record is = %s", sourceRecordString(pc.source))
	case includeMessage && pc.consumed != nil:
		kr := pc.consumed
		fmt.Fprintf(&b, ", where consumed record is {topic='%s', partition=%d, offset=%d, timestamp=%d, timestampType=%s}",
			kr.Topic, kr.Partition, kr.Offset, kr.Timestamp.UnixMilli(), timestampType(kr))
	}
	b.WriteByte('.')
	return b.String()
}

func timestampType(kr *kgo.Record) sdk.TimestampType {
	if kr.Attrs.TimestampType() == 1 {
		return sdk.LogAppendTime
	}
	return sdk.CreateTime
}

func sourceRecordString(r *sdk.SourceRecord) string {
	p := "null"
	if r.KafkaPartition != nil {
		p = strconv.Itoa(int(*r.KafkaPartition))
	}
	return fmt.Sprintf("SourceRecord{sourcePartition=%s, sourceOffset=%s} ConnectRecord{topic='%s', kafkaPartition=%s, key=%s, keySchema=%s, value=%s, valueSchema=%s, timestamp=%d, headers=%d}",
		sdk.FormatValue(r.SourcePartition), sdk.FormatValue(r.SourceOffset), r.Topic, p,
		sdk.FormatValue(r.Key), r.KeySchema, sdk.FormatValue(r.Value), r.ValueSchema, r.Timestamp.UnixMilli(), len(r.Headers))
}

// errorReporter receives every failure of a stage (Kafka's
// ErrorReporter).
type errorReporter interface {
	report(pc *processingContext)
}

// errorHandler runs a task's stages with retries and tolerance (Kafka's
// RetryWithToleranceOperator). It is used by the task's goroutine only.
type errorHandler struct {
	cfg       errorConfig
	reporters []errorReporter
	// sleep waits d or until ctx is done (a hook for tests).
	sleep func(ctx context.Context, d time.Duration) bool
	// total counts failures (tolerated or not).
	total int64
}

func newErrorHandler(cfg errorConfig, reporters ...errorReporter) *errorHandler {
	return &errorHandler{cfg: cfg, reporters: reporters, sleep: backoffSleep}
}

func backoffSleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// errToleranceExceeded is the start of the error that fails a task when
// a stage fails and errors are not tolerated.
const errToleranceExceeded = "Tolerance exceeded in error handler"

// execute runs op as stage of class for the record pc describes. It
// returns ok=false if op failed and the failure is tolerated (skip the
// record), or an error that must fail the task. A stop (ctx done) during
// a retry backoff returns ctx's error.
func (h *errorHandler) execute(ctx context.Context, pc *processingContext, stage errorStage, class string, op func() error) (ok bool, err error) {
	err = h.retry(ctx, op)
	if err == nil {
		return true, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	h.total++
	pc.stage, pc.class, pc.err = stage, class, err
	for _, r := range h.reporters {
		r.report(pc)
	}
	if !h.cfg.tolerateAll {
		return false, fmt.Errorf("%s: %w", errToleranceExceeded, err)
	}
	return false, nil
}

// reportFailed reports a failure that happened outside execute (a
// source task's failed send, on the producer's goroutine). Reporters are
// safe for concurrent use.
func (h *errorHandler) reportFailed(pc *processingContext) {
	for _, r := range h.reporters {
		r.report(pc)
	}
}

// retry runs op, again while it fails with a retriable error and the
// retry timeout allows, with exponential backoff.
func (h *errorHandler) retry(ctx context.Context, op func() error) error {
	deadline := time.Now().Add(h.cfg.retryTimeout)
	delay := retriesDelayMin
	for attempt := 1; ; attempt++ {
		err := safeCall(op)
		if err == nil || !errors.Is(err, sdk.ErrRetriable) || h.cfg.retryTimeout == 0 {
			return err
		}
		wait := min(delay, h.cfg.maxDelay)
		if h.cfg.retryTimeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return err
			}
			wait = min(wait, left)
		}
		if !h.sleep(ctx, wait) {
			return err
		}
		delay *= 2
	}
}

// logReporter writes failures to the log when errors.log.enable is set
// (Kafka's LogReporter).
type logReporter struct {
	log             *slog.Logger
	task            TaskID
	includeMessages bool
}

func (r logReporter) report(pc *processingContext) {
	r.log.Error(fmt.Sprintf("Error encountered in task %s. %s", r.task, pc.String(r.includeMessages)), "err", pc.err)
}

// javaExceptionClass names the Java exception class Kafka would report
// for err, for the DLQ's exception header.
func javaExceptionClass(err error) string {
	switch {
	case errors.Is(err, sdk.ErrRetriable):
		return "org.apache.kafka.connect.errors.RetriableException"
	case errors.Is(err, sdk.ErrData):
		return "org.apache.kafka.connect.errors.DataException"
	case errors.Is(err, sdk.ErrConfig):
		return "org.apache.kafka.common.config.ConfigException"
	}
	return "org.apache.kafka.connect.errors.ConnectException"
}
