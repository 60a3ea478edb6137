// Package config parses broker configuration and resolves topic
// configuration with Kafka's property names, types, defaults, validation
// and error texts, so that a Kafka server.properties file, kafka-configs.sh
// and DescribeConfigs behave as they do against Kafka 4.
//
// # Use
//
// At startup, parse once at the edge:
//
//	b, err := config.Load("config/server.properties", overrides) // --override k=v
//	if err != nil { ... }  // unknown name, bad value or conflicting configs
//	ln, err := net.Listen("tcp", b.Listeners[0].Addr())
//
// A *Broker is immutable. When dynamic broker configs change (metadata
// records for BROKER resources), build a new one and swap it in through
// an atomic.Pointer:
//
//	nb, err := b.WithDynamic(perBroker, clusterDefault)
//
// Before a topic config override is stored (CreateTopics,
// IncrementalAlterConfigs), check it with ValidateTopicConfigs; its error
// text is Kafka's InvalidConfigurationException message. The storage
// layer asks for typed values with b.ResolveTopic(overrides), and the
// DescribeConfigs handler uses DescribeTopicConfig and
// DescribeBrokerConfig. ValidateBrokerDynamic and
// ValidateBrokerDynamicDefault check a dynamic broker config change.
//
// # Where a value comes from
//
// A topic config takes the first of these that sets it (KIP-226):
//
//	topic override           retention.ms=3600000          DYNAMIC_TOPIC_CONFIG (1)
//	   │ else
//	broker synonyms, each in the order below, highest first:
//	   per-broker dynamic    log.retention.ms, log.retention.minutes, log.retention.hours
//	   cluster-default dyn.  (same names)                  DYNAMIC_DEFAULT_BROKER_CONFIG (3)
//	   static (file, --override)                           STATIC_BROKER_CONFIG (4)
//	   broker default        log.retention.hours=168       DEFAULT_CONFIG (5)
//	   │ else (no broker synonym: *.replication.throttled.replicas, remote.*)
//	topic default                                          DEFAULT_CONFIG (5)
//
// Within one layer the synonyms keep their order: log.retention.ms beats
// log.retention.minutes beats log.retention.hours; log.roll.ms beats
// log.roll.hours; log.flush.interval.ms beats log.flush.scheduler.interval.ms.
//
// # The .properties format
//
// ParseProperties reads java.util.Properties syntax:
//
//	# comment            ! comment too
//	key=value            key: value            key value
//	long.value=first,\
//	           second    (continuation: backslash at end, next line's indent dropped)
//	esc=tab\there \u0041 (escapes \t \n \r \f \uXXXX; \x is x)
//
// # Where Gregor differs from Kafka
//
//   - Unknown property names are errors (Kafka only logs a warning); the
//     message names the closest known one. Kafka configs Gregor cannot
//     honour (ZooKeeper, Kerberos, pluggable classes) are unknown.
//   - TLS and SASL configs (security_defs.go, security.go) are Kafka's,
//     listener-prefixed forms included, but key and trust stores must be
//     PEM and the SASL mechanisms are PLAIN and SCRAM-SHA-256/512.
//   - process.roles defaults to broker,controller and node.id to 1, so a
//     node with no configuration is a single-node cluster whose
//     controller runs in-process without a controller listener. As soon
//     as controller.quorum.voters or controller.quorum.bootstrap.servers
//     is set, node.id and a controller listener are required, as in
//     Kafka.
//   - listeners defaults to PLAINTEXT://localhost:9092 (Kafka binds
//     PLAINTEXT://:9092).
//   - The properties file is read as UTF-8, not ISO-8859-1.
//   - remote.log.storage.system.enable must be false and topics cannot
//     enable remote.storage.enable: there is no tiered storage.
package config
