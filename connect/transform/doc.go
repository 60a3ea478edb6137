// Package transform is Kafka Connect's single message transforms (SMTs)
// and predicates for Gregor Connect: the Transformation and Predicate
// interfaces, the chain a connector's "transforms" configuration builds,
// and Kafka's built-in transformations, registered under Kafka's class
// names so that connector configurations written for Kafka work
// unchanged:
//
//	transforms=addTopic,route
//	transforms.addTopic.type=org.apache.kafka.connect.transforms.InsertField$Value
//	transforms.addTopic.topic.field=source_topic
//	transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
//	transforms.route.regex=(.*)
//	transforms.route.replacement=copy-$1
//	transforms.route.predicate=isLogs
//	predicates=isLogs
//	predicates.isLogs.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
//	predicates.isLogs.pattern=logs-.*
//
// # The built-in plugins
//
// Transformations (org.apache.kafka.connect.transforms.…; $Key and $Value
// act on the record's key or value):
//
//	InsertField$Key/$Value    topic.field partition.field offset.field timestamp.field static.field static.value
//	ReplaceField$Key/$Value   exclude include renames (deprecated: blacklist whitelist)
//	MaskField$Key/$Value      fields replacement
//	ValueToKey                fields
//	ExtractField$Key/$Value   field
//	HoistField$Key/$Value     field
//	Cast$Key/$Value           spec
//	TimestampRouter           topic.format timestamp.format
//	RegexRouter               regex replacement
//	Filter                    (drops the record; use with a predicate)
//
// Predicates (org.apache.kafka.connect.transforms.predicates.…):
// TopicNameMatches (pattern), HasHeaderKey (name), RecordIsTombstone.
//
// Each behaves as Kafka's does on schemaless records (the key or value is
// a map[string]any) and on records with a schema (a *connect.Struct of a
// STRUCT schema), with Kafka's error messages. Regular expressions use
// Go's RE2 syntax and are matched against whole names, as Java's
// Pattern.matches; RegexRouter's replacement uses Java's syntax ($1,
// ${name}, \$).
//
// # Writing a transformation
//
// Implement Transformation, describe its configuration with a
// connect.ConfigDef, and register it from an init function:
//
//	func init() {
//		connect.RegisterPlugin(connect.Plugin{
//			Class: "com.example.Upper", Type: connect.PluginTransformation, Version: "1.0",
//			New:   func() any { return &Upper{} },
//		})
//	}
//
// A worker makes one instance per task and alias, calls Configure once
// with the alias's properties (without the "transforms.<alias>." prefix),
// then Apply from the task's goroutine only, then Close. Apply must not
// modify the record it is given: it returns a new one (Record.With* help),
// the same one to leave it unchanged, or nil to drop it. Schemas are
// shared and must not be modified either.
package transform
