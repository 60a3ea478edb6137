// Package connect is Gregor Connect's worker: Kafka Connect's runtime,
// running connectors written with the public SDK (package
// github.com/gregor-streaming/gregor/connect) against Kafka's configs,
// REST API and record formats. This part is standalone mode
// (`gregor connect-standalone`, Kafka's ConnectStandalone).
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
// rest.advertised.*, plugin.path accepted and ignored). StartStandalone
// binds the REST listeners first, so that the worker id (the advertised
// host:port) is known, looks up the Kafka cluster id, then creates the
// connectors; a connector that cannot be created stops it, as Kafka's
// "Stopping after connector error".
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
// implementations; distributed mode will implement them over Kafka's
// connect-configs, connect-status and connect-offsets topics and replace
// the Herder's single lock with a worker-group protocol. The
// transformation chain (convert.go, transformChain) is where single
// message transforms will run; it is empty today and validation refuses
// a non-empty "transforms".
//
// # Delivery
//
// At least once. A source task's offsets are stored only after the
// producer has flushed every record produced before them and none failed;
// a sink task's offsets are committed only after the task's Flush
// returned. A clean stop (Close, SIGINT/SIGTERM in the CLI) commits both,
// so a restart after it neither loses nor repeats records.
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
