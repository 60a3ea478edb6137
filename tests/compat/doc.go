// Package compat runs third-party Kafka clients, as separate processes,
// against a real in-process Gregor broker (kafkatest) and checks that what
// they produce comes back byte for byte:
//
//	kcat (librdkafka)          kcat_test.go     metadata, produce with every
//	                                            codec, consume whole topics, by
//	                                            partition, from offsets and times
//	confluent-kafka (Python)   python_test.go   admin, produce with every
//	                                            codec, assign+consume
//	kafka-python               python_test.go   admin, produce with every
//	                                            codec, assign+consume
//	kafkajs (Node)             kafkajs_test.go  admin, produce, raw fetch
//
// The scripts the tests run live next to them: python/*.py and
// kafkajs/compat.js; each prints one JSON object that the Go test decodes.
// Records are also read back with franz-go, which checks what the broker
// stored (including the batch's compression codec) independently of the
// client that wrote it.
//
// The clients are installed by scripts/install-test-deps.sh (Debian
// packages kcat, python3-confluent-kafka, python3-kafka, and for
// kafka-python's snappy, lz4 and zstd python3-snappy, python3-lz4 and
// python3-zstandard; kafkajs from npm, pinned by kafkajs/package-lock.json).
// A test whose client is missing fails and says so; with
// GREGOR_COMPAT_OPTIONAL=1 it is skipped instead (kafka-python without a
// codec's module is tested with the codecs it has).
// If kafkajs/node_modules is missing, the kafkajs test runs `npm ci` there
// once.
//
// Consumer groups are not implemented yet, so every consumer here assigns
// partitions itself and never commits.
package compat
