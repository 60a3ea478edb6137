// Package connect is Gregor Connect's SDK: the Go counterpart of Kafka
// Connect's connect-api. Write a connector with it, register it, and a
// Gregor Connect worker (gregor connect-standalone) runs it exactly as
// Kafka Connect runs a Java connector: same configuration keys, same REST
// API, same record formats in Kafka.
//
// # Writing a connector
//
// A source connector reads from another system into Kafka. Implement
// SourceConnector (configuration, version, how to split the work into
// task configurations) and SourceTask (Poll returns SourceRecords, each
// with a source partition and offset the worker stores once Kafka has
// the record). A sink connector writes Kafka records elsewhere:
// SinkConnector and SinkTask (Put receives SinkRecords; Flush must make
// them durable before the worker commits their offsets). Register the
// connector from an init function:
//
//	func init() {
//		connect.RegisterPlugin(connect.Plugin{
//			Class:   "com.example.MySourceConnector",
//			Type:    connect.PluginSource,
//			Version: "1.0",
//			New:     func() any { return &MySourceConnector{} },
//		})
//	}
//
// Configurations then name it by class ("com.example.MySourceConnector")
// or alias ("MySourceConnector", "MySource"). Package connect/file holds
// the FileStream connectors, a complete small example of each side.
//
// # Data
//
// Records carry keys and values described by a Schema (Kafka's
// org.apache.kafka.connect.data): primitive types INT8 … BYTES, ARRAY, MAP
// and STRUCT, optional or required, with defaults, names, versions, docs
// and parameters; Struct holds a STRUCT's values. Logical types (Decimal,
// Date, Time, Timestamp) are named schemas over primitives. The worker
// turns Connect data into bytes with the configured Converter
// (connect/converter: StringConverter, ByteArrayConverter, JsonConverter
// with Kafka's {"schema":…,"payload":…} envelope).
//
// # Configuration
//
// ConfigDef defines configuration keys with types, defaults, validators
// and documentation, as Kafka's ConfigDef; the worker validates connector
// configurations against a connector's ConfigDef and reports errors
// through PUT /connector-plugins/{plugin}/config/validate.
//
// Differences from Kafka's Java API: Poll takes a context that is
// cancelled when the task must stop, and Stop is only called after the
// last Poll returned (Kafka calls stop concurrently with poll); maps are
// map[string]any (or map[any]any for non-string keys); Struct.Put
// records errors instead of throwing.
package connect

// Version is the Kafka Connect version Gregor Connect implements; the
// built-in plugins report it as theirs and GET / reports it as the
// worker's.
const Version = "4.1.0"
