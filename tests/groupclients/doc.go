// Package groupclients drives third-party Kafka clients' consumer groups
// against an in-process Gregor broker: kcat's balanced consumer (kcat -G,
// librdkafka's high-level consumer), Sarama's ConsumerGroup
// (github.com/IBM/sarama) and segmentio/kafka-go's Reader with a GroupID.
//
// Each test checks what the client saw (every record consumed, each
// partition owned by one member at a time) and what the broker kept (the
// committed offsets, read back with franz-go's kadm). The package has only
// tests.
//
// kcat must be installed (scripts/install-test-deps.sh); without it the
// kcat tests fail, or skip when GREGOR_COMPAT_OPTIONAL=1. Sarama and
// kafka-go are Go modules and are always available.
package groupclients
