package connect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	sdk "github.com/gregor-streaming/gregor/connect"
)

type recordingReporter struct{ got []processingContext }

func (r *recordingReporter) report(pc *processingContext) { r.got = append(r.got, *pc) }

func TestParseErrorConfig(t *testing.T) {
	c, err := parseErrorConfig(map[string]string{})
	if err != nil || c.tolerateAll || c.retryTimeout != 0 || c.maxDelay != time.Minute || c.dlqReplication != 3 || c.dlqTopic != "" {
		t.Fatalf("defaults %+v %v", c, err)
	}
	c, err = parseErrorConfig(map[string]string{errorsToleranceConfig: "ALL", errorsRetryTimeout: "-1", errorsRetryMaxDelay: "10",
		errorsLogEnable: "true", errorsLogIncludeMsgs: "true", dlqTopicConfig: " dlq ", dlqReplicationFactorConfig: "1", dlqContextHeadersConfig: "true"})
	if err != nil || !c.tolerateAll || c.retryTimeout >= 0 || c.maxDelay != 10*time.Millisecond || !c.logEnable || !c.logIncludeMessages ||
		c.dlqTopic != "dlq" || c.dlqReplication != 1 || !c.dlqContextHeaders {
		t.Fatalf("parsed %+v %v", c, err)
	}
	if _, err := parseErrorConfig(map[string]string{errorsToleranceConfig: "some"}); err == nil {
		t.Fatal("errors.tolerance=some accepted")
	}
}

// KIP-298: retriable failures are retried with exponential backoff from
// 300 ms, capped by errors.retry.delay.max.ms, until errors.retry.timeout.
func TestErrorHandlerRetries(t *testing.T) {
	rep := &recordingReporter{}
	h := newErrorHandler(errorConfig{retryTimeout: time.Hour, maxDelay: time.Second}, rep)
	var waits []time.Duration
	h.sleep = func(_ context.Context, d time.Duration) bool { waits = append(waits, d); return true }
	calls := 0
	ok, err := h.execute(context.Background(), &processingContext{}, stageValueConverter, "conv", func() error {
		calls++
		if calls < 5 {
			return fmt.Errorf("flaky: %w", sdk.ErrRetriable)
		}
		return nil
	})
	if !ok || err != nil || calls != 5 || len(rep.got) != 0 {
		t.Fatalf("ok=%v err=%v calls=%d reports=%d", ok, err, calls, len(rep.got))
	}
	want := []time.Duration{300 * time.Millisecond, 600 * time.Millisecond, time.Second, time.Second}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("backoff %v, want %v", waits, want)
	}

	// Without a retry timeout nothing is retried; a non-retriable error
	// is never retried.
	for _, cfg := range []errorConfig{{}, {retryTimeout: time.Hour}} {
		h := newErrorHandler(cfg, rep)
		h.sleep = func(context.Context, time.Duration) bool { t.Fatal("slept"); return false }
		calls = 0
		ok, err = h.execute(context.Background(), &processingContext{}, stageKeyConverter, "conv", func() error {
			calls++
			if cfg.retryTimeout == 0 {
				return sdk.ErrRetriable
			}
			return sdk.ErrData
		})
		if ok || err == nil || calls != 1 || !strings.HasPrefix(err.Error(), errToleranceExceeded) {
			t.Fatalf("cfg %+v: ok=%v err=%v calls=%d", cfg, ok, err, calls)
		}
	}

	// A stop during the backoff ends the retries with the context's
	// error and reports nothing.
	ctx, cancel := context.WithCancel(context.Background())
	h = newErrorHandler(errorConfig{retryTimeout: -1, maxDelay: time.Second}, rep)
	h.sleep = func(context.Context, time.Duration) bool { cancel(); return false }
	before := len(rep.got)
	ok, err = h.execute(ctx, &processingContext{}, stageTransformation, "t", func() error { return sdk.ErrRetriable })
	if ok || !errors.Is(err, context.Canceled) || len(rep.got) != before {
		t.Fatalf("stopped: ok=%v err=%v", ok, err)
	}
}

// errors.tolerance=all skips the record after reporting it; none fails
// the task with "Tolerance exceeded in error handler", also reporting it.
func TestErrorHandlerTolerance(t *testing.T) {
	kr := &kgo.Record{Topic: "in", Partition: 2, Offset: 7, Timestamp: time.UnixMilli(1000)}
	for _, all := range []bool{true, false} {
		rep := &recordingReporter{}
		h := newErrorHandler(errorConfig{tolerateAll: all}, rep)
		pc := &processingContext{consumed: kr}
		ok, err := h.execute(context.Background(), pc, stageValueConverter, "org.apache.kafka.connect.json.JsonConverter", func() error {
			return fmt.Errorf("bad json: %w", sdk.ErrData)
		})
		if ok || (err == nil) == !all {
			t.Fatalf("all=%v: ok=%v err=%v", all, ok, err)
		}
		if len(rep.got) != 1 || rep.got[0].stage != stageValueConverter || rep.got[0].class != "org.apache.kafka.connect.json.JsonConverter" ||
			!errors.Is(rep.got[0].err, sdk.ErrData) || h.total != 1 {
			t.Fatalf("all=%v: reports %+v", all, rep.got)
		}
	}
}

// LogReporter's message (Kafka's ProcessingContext.toString): the record's
// coordinates only with errors.log.include.messages.
func TestLogReporter(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	pc := &processingContext{consumed: &kgo.Record{Topic: "in", Partition: 2, Offset: 7, Timestamp: time.UnixMilli(1000)},
		stage: stageValueConverter, class: "org.apache.kafka.connect.json.JsonConverter", err: errors.New("boom")}
	logReporter{log: log, task: TaskID{"c", 0}}.report(pc)
	if !strings.Contains(buf.String(), "Error encountered in task c-0. Executing stage 'VALUE_CONVERTER' with class 'org.apache.kafka.connect.json.JsonConverter'.") {
		t.Fatalf("log %s", buf.String())
	}
	buf.Reset()
	logReporter{log: log, task: TaskID{"c", 0}, includeMessages: true}.report(pc)
	if !strings.Contains(buf.String(), ", where consumed record is {topic='in', partition=2, offset=7, timestamp=1000, timestampType=CreateTime}.") {
		t.Fatalf("log %s", buf.String())
	}
}
