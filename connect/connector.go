package connect

import (
	"context"
	"time"
)

// Connector is a plugin that copies data between Kafka and another
// system (Kafka's Connector). The worker creates one instance per
// configured connector, starts it with the connector's configuration and
// asks it how to split the work into tasks; the tasks move the data.
//
// The worker calls a connector's methods from one goroutine at a time:
// Start, then TaskConfigs (again after RequestTaskReconfiguration), then
// Stop. A stopped connector is never started again; the worker makes a
// new instance (with the plugin's factory) instead.
//
// Implement SourceConnector or SinkConnector, not Connector alone.
type Connector interface {
	// Version returns the connector's version.
	Version() string
	// Start starts the connector with its configuration: Config's keys
	// and the worker's (name, connector.class, tasks.max, …). An error
	// fails the connector.
	Start(props map[string]string) error
	// TaskConfigs returns one configuration per task to run, at most
	// maxTasks (the worker fails a connector that returns more).
	TaskConfigs(maxTasks int) ([]map[string]string, error)
	// Stop stops the connector and releases what Start acquired.
	Stop() error
	// Config describes the connector's own configuration keys; the
	// worker validates connector configurations against it.
	Config() *ConfigDef
}

// SourceConnector is a Connector whose tasks read from another system and
// produce to Kafka.
type SourceConnector interface {
	Connector
	// NewTask returns a new, unstarted task.
	NewTask() SourceTask
}

// SinkConnector is a Connector whose tasks consume from Kafka and write
// to another system. Its configuration names the topics with "topics" or
// "topics.regex".
type SinkConnector interface {
	Connector
	// NewTask returns a new, unstarted task.
	NewTask() SinkTask
}

// ConnectorContext lets a connector talk to the worker that runs it.
type ConnectorContext interface {
	// RequestTaskReconfiguration asks the worker to call TaskConfigs
	// again (the source's partitions changed); the worker restarts the
	// tasks if their configurations changed.
	RequestTaskReconfiguration()
	// RaiseError fails the connector with err.
	RaiseError(err error)
}

// ConnectorInitializer is implemented by a connector that wants its
// ConnectorContext; the worker calls Initialize before Start.
type ConnectorInitializer interface {
	Initialize(ctx ConnectorContext)
}

// ConfigValidator is implemented by a connector that validates its
// configuration itself (Kafka's Connector.validate). Without it the worker
// validates against Config().
type ConfigValidator interface {
	// Validate returns one ConfigValue per key it checked, with error
	// messages for the invalid ones.
	Validate(props map[string]string) []ConfigValue
}

// SourceOffsetAlterer is implemented by a source connector that checks
// (or applies in its source system) offsets an operator sets through the
// REST API (Kafka's SourceConnector.alterOffsets, KIP-875). offsets maps
// each source partition to its new offset, or to nil to remove it; they
// are given as parallel slices. Returning an error refuses the change;
// returning true says the connector itself needs nothing more.
type SourceOffsetAlterer interface {
	AlterOffsets(config map[string]string, partitions, offsets []map[string]any) (bool, error)
}

// SinkOffsetAlterer is the sink side of SourceOffsetAlterer (Kafka's
// SinkConnector.alterOffsets): offsets maps each partition to its new
// offset, or to -1 to remove it.
type SinkOffsetAlterer interface {
	AlterOffsets(config map[string]string, offsets map[TopicPartition]int64) (bool, error)
}

// SourceTask reads records from a source system (Kafka's SourceTask).
//
// The worker runs each task in a goroutine of its own: Initialize, Start,
// then Poll in a loop until the task is stopped, then Stop once the last
// Poll has returned. The context given to Poll is cancelled when the task
// should stop; a Poll that waits for data must return when it is.
type SourceTask interface {
	// Version returns the task's version.
	Version() string
	// Initialize gives the task its context before Start.
	Initialize(ctx SourceTaskContext)
	// Start starts the task with its configuration (one of
	// Connector.TaskConfigs). An error fails the task.
	Start(props map[string]string) error
	// Poll returns the next records, or none if there are none now
	// (after waiting a little, so that the worker does not spin). An
	// error fails the task.
	Poll(ctx context.Context) ([]*SourceRecord, error)
	// Stop stops the task.
	Stop() error
}

// SourceTaskCommitter is implemented by a source task that wants to know
// when the worker has stored offsets (Kafka's SourceTask.commit and
// commitRecord).
type SourceTaskCommitter interface {
	// CommitRecord is called for each record once Kafka has acknowledged
	// it.
	CommitRecord(rec *SourceRecord, md RecordMetadata) error
	// Commit is called after the worker has stored the offsets of the
	// acknowledged records.
	Commit() error
}

// SourceTaskContext lets a source task talk to the worker.
type SourceTaskContext interface {
	// Configs returns the task's configuration.
	Configs() map[string]string
	// OffsetStorageReader reads the offsets the worker stored for this
	// connector.
	OffsetStorageReader() OffsetStorageReader
}

// OffsetStorageReader reads stored source offsets (Kafka's
// OffsetStorageReader).
type OffsetStorageReader interface {
	// Offset returns the stored offset of a source partition, or nil.
	Offset(partition map[string]any) (map[string]any, error)
	// Offsets returns the stored offsets of several source partitions,
	// in the same order (nil where none is stored).
	Offsets(partitions []map[string]any) ([]map[string]any, error)
}

// SinkTask writes records to a sink system (Kafka's SinkTask).
//
// The worker runs each task in a goroutine of its own and calls its
// methods from that goroutine only: Initialize, Start, Open for the
// partitions it is assigned, Put with each batch of records, Flush
// before it commits their offsets to Kafka, Close for partitions it
// loses, and Stop. Offsets are committed only after Flush returns
// without error, so a task that writes synchronously in Put or
// completely in Flush gets at-least-once delivery.
type SinkTask interface {
	// Version returns the task's version.
	Version() string
	// Initialize gives the task its context before Start.
	Initialize(ctx SinkTaskContext)
	// Start starts the task with its configuration. An error fails the
	// task.
	Start(props map[string]string) error
	// Put delivers records. An error wrapping ErrRetriable makes the
	// worker deliver the same records again after the context's timeout;
	// any other error fails the task.
	Put(records []*SinkRecord) error
	// Flush makes everything Put so far durable. offsets are the next
	// offsets to consume per partition, which the worker commits next.
	Flush(offsets map[TopicPartition]int64) error
	// Stop stops the task.
	Stop() error
}

// SinkTaskPartitions is implemented by a sink task that wants to know its
// partitions (Kafka's SinkTask.open and close).
type SinkTaskPartitions interface {
	// Open is called with newly assigned partitions before their
	// records are Put.
	Open(partitions []TopicPartition) error
	// Close is called with partitions the task loses, after their
	// offsets are flushed and committed.
	Close(partitions []TopicPartition) error
}

// SinkTaskPreCommitter is implemented by a sink task that commits offsets
// other than those it was given (Kafka's SinkTask.preCommit). The worker
// calls PreCommit instead of Flush and commits what it returns.
type SinkTaskPreCommitter interface {
	PreCommit(offsets map[TopicPartition]int64) (map[TopicPartition]int64, error)
}

// SinkTaskContext lets a sink task talk to the worker.
type SinkTaskContext interface {
	// Configs returns the task's configuration.
	Configs() map[string]string
	// Offset rewinds (or forwards) consumption of tp to offset.
	Offset(tp TopicPartition, offset int64)
	// Timeout sets how long the worker waits before delivering again
	// records whose Put returned a retriable error.
	Timeout(d time.Duration)
	// Assignment returns the task's current partitions.
	Assignment() []TopicPartition
	// Pause stops consumption of partitions until Resume.
	Pause(partitions ...TopicPartition)
	// Resume resumes consumption of paused partitions.
	Resume(partitions ...TopicPartition)
	// RequestCommit asks the worker to flush and commit offsets soon.
	RequestCommit()
}
