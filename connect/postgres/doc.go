// Package postgres holds Gregor Connect's PostgreSQL connectors, written
// against the connect SDK: a source that polls tables into topics and a
// sink that writes records into tables. They take the configuration of
// Confluent's JDBC connectors (kafka-connect-jdbc), so existing
// configurations for PostgreSQL work unchanged:
//
//	io.gregor.connect.postgres.PostgresSourceConnector  (aliases PostgresSource, PostgresSourceConnector)
//	io.gregor.connect.postgres.PostgresSinkConnector    (aliases PostgresSink, PostgresSinkConnector)
//	io.confluent.connect.jdbc.JdbcSourceConnector       (same source; connection.url must be jdbc:postgresql://)
//	io.confluent.connect.jdbc.JdbcSinkConnector         (same sink; likewise)
//	io.gregor.connect.postgres.PostgresCdcSourceConnector (alias PostgresCdcSource: change data capture)
//	io.debezium.connector.postgresql.PostgresConnector  (same CDC source, Debezium's configuration)
//
// connection.url is a JDBC URL (jdbc:postgresql://host:port/db?user=…)
// or a libpq URL (postgres://user:pass@host:port/db?sslmode=…);
// connection.user and connection.password override the URL's.
//
// # Source
//
// Each table becomes a topic, topic.prefix + table name. A task owns a
// group of tables (tasks.max splits them) and polls them in turn, every
// poll.interval.ms, with one query per table in the configured mode:
//
//	bulk                   SELECT … FROM t                          (whole table, every poll)
//	incrementing           … WHERE inc > $last ORDER BY inc
//	timestamp              … WHERE ts > $last AND ts < now()-delay ORDER BY ts
//	timestamp+incrementing … WHERE ts < now()-delay AND
//	                           ((ts = $ts AND inc > $inc) OR ts > $ts) ORDER BY ts, inc
//
// "ts" is COALESCE of the timestamp.column.name columns; delay is
// timestamp.delay.interval.ms. In query mode the user's query is wrapped
// as a subquery and filtered the same way. Each record's value is a
// STRUCT named after the table with one field per column (optional when
// the column is nullable), typed from PostgreSQL's type:
//
//	int2 INT16   int4 INT32   int8 INT64   float4 FLOAT32   float8 FLOAT64
//	bool BOOLEAN   bytea BYTES   text/varchar/char/name STRING
//	numeric Decimal (or INT8…INT64/FLOAT64, per numeric.mapping)
//	date Date   time/timetz Time   timestamp/timestamptz Timestamp
//	json/jsonb/uuid/xml/enums/inet/interval/arrays/… STRING (PostgreSQL's text form)
//
// Records have no key (use the ValueToKey transformation for one).
// Source offsets are Confluent's, so that offsets can be moved between
// the two: the source partition is {"protocol":"1","table":"db.schema.table"}
// (a query: {"query":"query"}, literally) and the offset {"incrementing":N},
// {"timestamp":MS,"timestamp_nanos":NS} or both; the legacy partition
// {"table":"table"} is read when the new one has no offset. A restarted
// task resumes after the last row Kafka acknowledged.
//
// # Sink
//
// Records of a topic go to the table table.name.format names (${topic}
// replaced by the topic), in one transaction per Put, in record order:
//
//	insert  INSERT INTO t (cols) VALUES (…)
//	upsert  INSERT INTO t (cols) VALUES (…) ON CONFLICT (pk) DO UPDATE SET c = EXCLUDED.c, …
//	update  UPDATE t SET c = $n, … WHERE pk = $m …
//	delete  DELETE FROM t WHERE pk = $m …   (tombstones, with delete.enabled and pk.mode=record_key)
//
// pk.mode picks the primary key: none, kafka (__connect_topic,
// __connect_partition, __connect_offset), record_key (the key, a
// primitive or a struct) or record_value (fields of the value);
// pk.fields names or selects the columns. auto.create creates a missing
// table from the record's schema (with the key as PRIMARY KEY);
// auto.evolve adds columns for new optional fields. Values must be
// structs with schemas, as Kafka's JDBC sink requires: with
// JsonConverter set value.converter.schemas.enable=true.
//
// # Change data capture
//
// The CDC source (cdc.go, cdc_task.go) reads a consistent snapshot of
// the tables, then every insert, update and delete from a logical
// replication slot with PostgreSQL's built-in pgoutput plugin, and
// writes Debezium's change events; see the comment at the top of cdc.go
// for the topics, envelope and offsets.
//
// A PostgreSQL error the sink may get past by retrying (a lost
// connection, a serialization failure, a deadlock) is retried max.retries
// times, retry.backoff.ms apart, before the task fails.
package postgres

import (
	"errors"

	"github.com/gregor-streaming/gregor/connect"
)

// Class names of the connectors and their tasks.
const (
	SourceConnectorClass = "io.gregor.connect.postgres.PostgresSourceConnector"
	SinkConnectorClass   = "io.gregor.connect.postgres.PostgresSinkConnector"
	SourceTaskClass      = "io.gregor.connect.postgres.PostgresSourceTask"
	SinkTaskClass        = "io.gregor.connect.postgres.PostgresSinkTask"

	// Confluent's JDBC connector classes, accepted for jdbc:postgresql://
	// URLs so that existing configurations work.
	JdbcSourceConnectorClass = "io.confluent.connect.jdbc.JdbcSourceConnector"
	JdbcSinkConnectorClass   = "io.confluent.connect.jdbc.JdbcSinkConnector"
	JdbcSourceTaskClass      = "io.confluent.connect.jdbc.source.JdbcSourceTask"
	JdbcSinkTaskClass        = "io.confluent.connect.jdbc.sink.JdbcSinkTask"
)

func init() {
	connect.RegisterPlugin(connect.Plugin{Class: SourceConnectorClass, Type: connect.PluginSource, Version: connect.Version,
		TaskClass: SourceTaskClass, New: func() any { return &SourceConnector{} }})
	connect.RegisterPlugin(connect.Plugin{Class: SinkConnectorClass, Type: connect.PluginSink, Version: connect.Version,
		TaskClass: SinkTaskClass, New: func() any { return &SinkConnector{} }})
	connect.RegisterPlugin(connect.Plugin{Class: JdbcSourceConnectorClass, Type: connect.PluginSource, Version: connect.Version,
		TaskClass: JdbcSourceTaskClass, New: func() any { return &SourceConnector{} }})
	connect.RegisterPlugin(connect.Plugin{Class: JdbcSinkConnectorClass, Type: connect.PluginSink, Version: connect.Version,
		TaskClass: JdbcSinkTaskClass, New: func() any { return &SinkConnector{} }})
}

// Errors of the postgres connectors. Errors they return wrap one of these
// where one applies, and say what to do about it.
var (
	// ErrURL is wrapped for a connection.url that is not PostgreSQL's.
	ErrURL = errors.New("postgres: unsupported connection.url")
	// ErrConnect is wrapped when the server cannot be reached or refuses
	// the login.
	ErrConnect = errors.New("postgres: cannot connect to PostgreSQL")
	// ErrPermission is wrapped when PostgreSQL denies the connector's user
	// something it needs.
	ErrPermission = errors.New("postgres: permission denied")
	// ErrTableMissing is wrapped when a table the connector needs does
	// not exist (and, for the sink, auto.create is off).
	ErrTableMissing = errors.New("postgres: table does not exist")
	// ErrTableMismatch is wrapped when a record has fields its table lacks
	// and auto.evolve is off or cannot add them.
	ErrTableMismatch = errors.New("postgres: table does not match the record")
	// ErrRecord is wrapped for a sink record the configuration cannot
	// write: no schema, not a struct, no key where one is needed.
	ErrRecord = errors.New("postgres: record cannot be written")
)
