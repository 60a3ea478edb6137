// Package converter holds Kafka Connect's converters, under Kafka's class
// names, and registers them with the connect package:
//
//	org.apache.kafka.connect.storage.StringConverter        StringConverter
//	org.apache.kafka.connect.converters.ByteArrayConverter  ByteArrayConverter
//	org.apache.kafka.connect.json.JsonConverter             JsonConverter
//	org.apache.kafka.connect.storage.SimpleHeaderConverter  SimpleHeaderConverter
//
// The first three also serve as header converters. A worker configures a
// converter from the key.converter.* (or value.converter.*,
// header.converter.*) properties with the prefix removed, so
// value.converter.schemas.enable=false reaches JsonConverter as
// schemas.enable=false.
//
// JsonConverter's envelope, as Kafka's quickstart shows it for a line read
// by FileStreamSource:
//
//	{"schema":{"type":"string","optional":false},"payload":"foo"}
package converter
