// Package connect is Gregor Connect's worker: Kafka Connect's runtime,
// running connectors written with the public SDK (package
// github.com/gregor-streaming/gregor/connect) against Kafka's configs,
// REST API and record formats, in standalone mode (`gregor
// connect-standalone`, Kafka's ConnectStandalone) and distributed mode
// (`gregor connect-distributed`, Kafka's ConnectDistributed).
//
// # Using it
//
//	w, err := connect.StartStandalone(ctx, workerProps, []connect.ConnectorSpec{{Config: sourceProps}}, connect.StandaloneOptions{Logger: log})
//	…
//	err = w.Close(ctx) // stops the REST API, then every task, committing offsets
//
// workerProps are Kafka's worker properties (bootstrap.servers,
// key.converter, value.converter, key.converter.*, value.converter.*,
// offset.storage.file.filename, offset.flush.interval.ms, listeners,
// rest.advertised.*, plugin.path accepted and ignored; Kafka's client
// settings security.protocol, ssl.*, sasl.* for every client and
// producer.*, consumer.*, admin.* for the connectors' clients, which a
// connector may override with producer.override.* … as
// connector.client.config.override.policy allows: clients.go). StartStandalone
// binds the REST listeners first, so that the worker id (the advertised
// host:port) is known, looks up the Kafka cluster id, then creates the
// connectors; a connector that cannot be created stops it, as Kafka's
// "Stopping after connector error".
//
// A distributed worker:
//
//	w, err := connect.StartDistributed(ctx, workerProps, connect.DistributedOptions{Logger: log})
//	…                  // connectors are created through the REST API (w.URL())
//	err = w.Close(ctx) // stops its tasks (committing offsets), leaves the group
//
// takes Kafka's DistributedConfig properties besides the worker ones
// (group.id, config.storage.topic, offset.storage.topic,
// status.storage.topic, *.replication.factor, *.partitions,
// heartbeat.interval.ms, session.timeout.ms, rebalance.timeout.ms,
// scheduled.rebalance.max.delay.ms, connect.protocol).
//
// # Structure
//
//	REST API (rest.go, net/http) ──▶ Herder (herder.go): decides what runs;
//	                                   │  ConfigStore: configs, target states, task configs
//	                                   │  StatusStore: connector/task states, active topics
//	                                   ▼
//	                                 Worker (worker.go): connector instances, task goroutines
//	                                   ├─ sourceTask: Poll → transforms → converters → kgo producer
//	                                   │      offsets: offsetWriter → (producer flushed) → OffsetStore
//	                                   └─ sinkTask: kgo group consumer "connect-<name>" → converters
//	                                          → transforms → Put; Flush → commit to the group
//
// The stores are interfaces (store.go, offsets.go) with memory and file
// implementations for standalone mode and Kafka-backed ones for
// distributed mode (kafkastore*.go: the config, status and offset topics,
// each read to the end at start and followed by a goroutine the store
// owns).
//
// In distributed mode the DistributedHerder (distributed_herder.go)
// embeds the Herder for reads and offsets and replaces its writes: the
// workers form a group (protocol type "connect", protocols "sessioned"
// and "compatible", group_protocol.go) whose leader assigns connectors
// and tasks incrementally and cooperatively (KIP-415, group_assign.go);
// configuration writes are made by the leader only, other workers forward
// REST requests to the leader's advertised URL; each worker runs what it
// is assigned and follows the config topic:
//
//	REST ─▶ DistributedHerder ─(leader)─▶ config topic ─▶ every worker's KafkaConfigStore
//	             │ loop goroutine: JoinGroup/SyncGroup/Heartbeat (group_member.go)
//	             ▼
//	           Worker: the assigned connectors and tasks; statuses ─▶ status topic,
//	                   source offsets ─▶ offset topic
//
// The config topic holds Kafka's records and JSON values:
//
//	connector-<name>          {"properties":{…}}
//	task-<name>-<n>           {"properties":{…}}
//	commit-<name>             {"tasks":<n>}               task configs become visible together
//	target-state-<name>       {"state":"PAUSED","state.v2":"STOPPED"}
//	restart-connector-<name>  {"include-tasks":<bool>,"only-failed":<bool>}
//	session-key               {"key":"<base64>","algorithm":"HmacSHA256","creation-timestamp":<ms>}
//
// the status topic status-connector-<name>, status-task-<name>-<n>
// ({"state":…,"trace":…,"worker_id":…,"generation":…}) and
// status-topic-<topic>:connector-<name>; the offset topic the keys and
// values below.
//
// Each task runs its records through the connector's transformation chain
// (package connect/transform, built from "transforms" and "predicates")
// and its converters; every such step goes through the task's
// errorHandler (errors_handler.go, Kafka's RetryWithToleranceOperator),
// which retries retriable failures, reports failures to the log and, for
// sinks, to the dead letter queue (dlq.go), and skips the record
// (errors.tolerance=all) or fails the task (none).
//
// # Delivery
//
// At least once. A source task's offsets are stored only after the
// producer has flushed every record produced before them and none failed;
// a sink task's offsets are committed only after the task's Flush
// returned. A clean stop (Close, SIGINT/SIGTERM in the CLI) commits both,
// so a restart after it neither loses nor repeats records.
//
// With exactly-once source support (eos.go, KIP-618; a distributed
// worker's exactly.once.source.support=enabled) a source task instead
// writes its records and its offsets records in one Kafka transaction per
// transaction.boundary, and the leader writes the config topic's
// privileged records (connector and task configurations, task counts,
// session keys, restart requests) in transactions of the fencable
// producer connect-cluster-<group.id> (configwriter.go), so that a stale
// leader's writes are fenced.
//
// # The offsets file
//
// offset.storage.file.filename holds the source offsets in Gregor's own
// format (Kafka's is a Java-serialized map). Keys and values are the JSON
// Kafka Connect writes to its connect-offsets topic — the key is the
// connector's name and the source partition, the value the source offset
// — so that they can move to distributed mode unchanged:
//
//	{"format":"gregor-connect-offsets","version":1,"offsets":[
//	{"key":["<connector>",{<source partition>}],"value":{<source offset>}},
//	…                                  one entry per line, keys sorted
//	]}
//
// Every commit rewrites the whole file: FILE.tmp is written and synced,
// renamed over FILE, and the directory synced, so a crash leaves either
// the old or the new file.
package connect
