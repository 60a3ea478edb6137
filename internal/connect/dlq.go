package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// The headers a sink's dead letter queue adds to a failed record when
// errors.deadletterqueue.context.headers.enable is true (Kafka's
// DeadLetterQueueReporter). Values are UTF-8 strings; numbers in decimal.
//
//	__connect.errors.topic                 the record's topic      ┐ where it
//	__connect.errors.partition             its partition           │ was read
//	__connect.errors.offset                its offset              ┘
//	__connect.errors.connector.name        the connector
//	__connect.errors.task.id               the task number
//	__connect.errors.stage                 KEY_CONVERTER, VALUE_CONVERTER, HEADER_CONVERTER, TRANSFORMATION
//	__connect.errors.class.name            the converter or transformation class
//	__connect.errors.exception.class.name  Kafka's exception class for the error (DataException, …)
//	__connect.errors.exception.message     the error's message
//	__connect.errors.exception.stacktrace  the error chain (Go has no Java stack trace)
const (
	dlqHeaderPrefix         = "__connect.errors."
	dlqHeaderTopic          = dlqHeaderPrefix + "topic"
	dlqHeaderPartition      = dlqHeaderPrefix + "partition"
	dlqHeaderOffset         = dlqHeaderPrefix + "offset"
	dlqHeaderConnectorName  = dlqHeaderPrefix + "connector.name"
	dlqHeaderTaskID         = dlqHeaderPrefix + "task.id"
	dlqHeaderStage          = dlqHeaderPrefix + "stage"
	dlqHeaderExecutingClass = dlqHeaderPrefix + "class.name"
	dlqHeaderException      = dlqHeaderPrefix + "exception.class.name"
	dlqHeaderExceptionMsg   = dlqHeaderPrefix + "exception.message"
	dlqHeaderStackTrace     = dlqHeaderPrefix + "exception.stacktrace"
)

// dlqTopicPartitions is the partition count of a DLQ topic the worker
// creates (Kafka's DLQ_NUM_DESIRED_PARTITIONS).
const dlqTopicPartitions = 1

// dlqReporter sends the original bytes of each failed record, with its
// headers (and the context headers if enabled), to the dead letter queue
// topic through its own producer (Kafka's DeadLetterQueueReporter).
// Sends are asynchronous; flush waits for them before the sink task
// commits offsets, so a committed offset never skips a record that is
// neither delivered nor in the DLQ.
type dlqReporter struct {
	topic          string
	contextHeaders bool
	task           TaskID
	producer       *kgo.Client
	log            *slog.Logger
}

// newDLQReporter creates the DLQ topic if it does not exist, with one
// partition and the configured replication factor, and a producer for it.
// The admin client and the producer take the connector's admin and
// producer settings (clients.go).
func (w *Worker) newDLQReporter(id TaskID, connConfig map[string]string, cfg errorConfig) (*dlqReporter, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, closeAdmin, err := w.connectorAdmin(id.Connector, connConfig)
	if err != nil {
		return nil, fmt.Errorf("dead letter queue admin client: %w", err)
	}
	defer closeAdmin()
	topics, err := admin.ListTopics(ctx, cfg.dlqTopic)
	if err != nil {
		return nil, fmt.Errorf("list dead letter queue topic %s: %w", cfg.dlqTopic, err)
	}
	if !topics.Has(cfg.dlqTopic) {
		resp, err := admin.CreateTopic(ctx, dlqTopicPartitions, cfg.dlqReplication, nil, cfg.dlqTopic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("create dead letter queue topic %s: %w", cfg.dlqTopic, err)
		}
		w.log.Info("Created dead letter queue topic", "topic", cfg.dlqTopic, "task", id.String())
	}
	opts, _, err := w.cfg.taskClientOpts(producerClient, connConfig, "connector-dlq-producer-"+id.String(), nil,
		[]kgo.Opt{kgo.ProducerBatchCompression(kgo.NoCompression())}, nil)
	if err != nil {
		return nil, fmt.Errorf("dead letter queue producer: %w", err)
	}
	producer, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(cfg.dlqTopic))...)
	if err != nil {
		return nil, fmt.Errorf("dead letter queue producer: %w", err)
	}
	return &dlqReporter{topic: cfg.dlqTopic, contextHeaders: cfg.dlqContextHeaders, task: id, producer: producer,
		log: w.log.With("task", id.String())}, nil
}

func (r *dlqReporter) report(pc *processingContext) {
	orig := pc.consumed
	if orig == nil {
		return // only records read from Kafka have bytes to send
	}
	rec := &kgo.Record{Topic: r.topic, Key: orig.Key, Value: orig.Value, Timestamp: orig.Timestamp}
	rec.Headers = append(rec.Headers, orig.Headers...)
	if r.contextHeaders {
		add := func(k, v string) { rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)}) }
		add(dlqHeaderTopic, orig.Topic)
		add(dlqHeaderPartition, strconv.Itoa(int(orig.Partition)))
		add(dlqHeaderOffset, strconv.FormatInt(orig.Offset, 10))
		add(dlqHeaderConnectorName, r.task.Connector)
		add(dlqHeaderTaskID, strconv.Itoa(r.task.Task))
		add(dlqHeaderStage, string(pc.stage))
		add(dlqHeaderExecutingClass, pc.class)
		if pc.err != nil {
			add(dlqHeaderException, javaExceptionClass(pc.err))
			add(dlqHeaderExceptionMsg, pc.err.Error())
			add(dlqHeaderStackTrace, javaExceptionClass(pc.err)+": "+pc.err.Error())
		}
	}
	r.producer.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
		if err != nil {
			r.log.Error("Could not produce message to dead letter queue. topic="+r.topic, "err", err)
		}
	})
}

// flush waits until every record reported so far is acknowledged or
// failed, or ctx is done.
func (r *dlqReporter) flush(ctx context.Context) error {
	return r.producer.Flush(ctx)
}

func (r *dlqReporter) close() { r.producer.Close() }

// connectorAdmin returns the admin client for a connector's requests: the
// worker's, unless the connector overrides admin settings
// (admin.override.*), when it is a new client that release closes.
func (w *Worker) connectorAdmin(connector string, connConfig map[string]string) (admin *kadm.Client, release func(), err error) {
	if len(sdk.WithPrefix(connConfig, AdminOverridePrefix)) == 0 {
		return w.admin, func() {}, nil
	}
	opts, _, err := w.cfg.taskClientOpts(adminClient, connConfig, "connector-adminclient-"+connector, nil, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}
